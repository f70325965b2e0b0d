#!/bin/bash
# bench_latency.sh - alert latency of the real vigild: from the reading that
# crosses a threshold to the line the file sink writes for it.
#
#     make bench-latency                              # from a build directory
#     make bench-latency BENCH_LATENCY_ARGS='-n 5000 --strict'
#     VIGILD=... VIGIL_TREE_PLUGIN_PATH=... VIGIL_BUILDDIR=... \
#         bench/bench_latency.sh --help
#
# The bash part only finds a python3; the benchmark is the Python program
# below (fed to it on stdin, so this stays one file). Method, machine and
# results: docs/performance.md, "Alert latency".
set -eu

PYTHON=
for p in /usr/bin/python3 "$(command -v python3 2>/dev/null || true)"; do
	if [ -n "$p" ] && [ -x "$p" ]; then
		PYTHON=$p
		break
	fi
done
if [ -z "$PYTHON" ]; then
	echo "bench_latency: python3 is needed" >&2
	exit 1
fi

exec "$PYTHON" - "$@" <<'PY'
"""bench_latency - latency from a threshold crossing to the file sink's line.

vigild runs one sensor, the `crossing` fixture (bench/crossing.c): each read
emits one reading that crosses 0, up and down in turn, stamped with
CLOCK_REALTIME (ns) just before emit_reading(), and whose value is that
same time in microseconds (positive going up, negative going down). A
`threshold` rule (warning = 0, for = 0, hysteresis = 0) turns every
upward crossing into an `opened` incident event and every downward one
into `resolved`; the `file` sink appends each as a JSON line, its "value"
being the crossing reading's value. So every line says when its reading was
made, and both opened and resolved lines count as crossings.

The end point is the moment the line is in the file. A watcher in this
process waits on inotify (IN_MODIFY) for the events file and takes
CLOCK_REALTIME as soon as poll() returns, before it reads the new bytes:

    latency = wake-up time of the watcher - time in the line's value

This includes the watcher's own wake-up (inotify, scheduling, Python),
measured alone first ("watcher alone": a second process writes lines stamped
just before its write() at the same rate, the same watcher reads them);
nothing is subtracted. The value is truncated to the microsecond, so each
sample may read up to 1 us high. `for` is 0: there is no hold time to
exclude.

The variants (isolation of the rule and the sink; journal_sync, when this
vigild has it) take turns over --rounds rounds, each run getting its share
of --crossings, so that the machine's background load falls on all of them
alike; the watcher's calibration takes its turn too. Each run: a fresh
state directory and events file, vigild started, the first --warmup
crossings dropped (workers starting), its share of crossings kept, then
SIGTERM and a check that vigild exited 0 having dropped no
reading, and that every line is an opened or resolved event in order
(opened #n, resolved #n, opened #n+1, ...), so no crossing's line is
missing. Flap detection is off ([incidents] flap_window = 0): a crossing
every 10 ms is flapping to vigild, which pauses the notifications after the
third incident. The sink's dedupe is 0, so that it cannot hold a line back
either.
"""
import argparse
import ctypes
import gc
import json
import os
import platform
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TARGET_P99_MS = 2.0  # issue

CONFIG = """\
[daemon]
log_level = notice
{journal}
[incidents]
flap_window = 0

[sensor.cross]
plugin = crossing
interval = {interval}
isolation = {sensor_iso}

[rule.cross]
plugin = threshold
match = bench.crossing
direction = above
warning = 0
hysteresis = 0
for = 0
isolation = {rule_iso}

[sink.events]
plugin = file
path = {events}
dedupe = 0
isolation = {sink_iso}
"""

IN_MODIFY = 0x00000002


def default_plugin_path():
    tree = os.environ.get("VIGIL_TREE_PLUGIN_PATH", "")
    build = os.environ.get("VIGIL_BUILDDIR", ".")
    extra = [os.path.join(build, "bench", ".libs")]
    return ":".join(([tree] if tree else []) + extra)


def pct(xs, p):
    """Linear interpolation between closest ranks, as the other benches."""
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class Watcher:
    """Waits on inotify for a file to grow; stamps each wake-up."""

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.ifd = self.libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.ifd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self.libc.inotify_add_watch(self.ifd, path.encode(),
                                       IN_MODIFY) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.poll = select.poll()
        self.poll.register(self.ifd, select.POLLIN)
        self.chunks = []  # (CLOCK_REALTIME ns at wake-up, bytes)
        self.lines = 0

    def run(self, want_lines, deadline, alive=lambda: True):
        """Collects until want_lines lines, the monotonic deadline or
        alive() is false. Does nothing but stamp and read meanwhile:
        parsing waits until the end."""
        chunks = self.chunks
        gc.disable()
        try:
            while self.lines < want_lines:
                if not self.poll.poll(200):
                    if time.monotonic() > deadline or not alive():
                        return False
                    continue
                t = time.time_ns()
                try:
                    os.read(self.ifd, 65536)
                except BlockingIOError:
                    pass
                while True:
                    b = os.read(self.fd, 1 << 20)
                    if not b:
                        break
                    chunks.append((t, b))
                    self.lines += b.count(b"\n")
        finally:
            gc.enable()
        return True

    def stamped_lines(self):
        """(wake-up ns, line) for each complete line; a line split over two
        reads counts from the wake-up that completed it."""
        out, part = [], b""
        for t, b in self.chunks:
            b = part + b
            *whole, part = b.split(b"\n")
            out.extend((t, ln) for ln in whole if ln)
        return out

    def close(self):
        os.close(self.fd)
        os.close(self.ifd)


def summarize(lat_ns):
    ms = [x / 1e6 for x in lat_ns]
    return {"n": len(ms), "p50": pct(ms, .5), "p90": pct(ms, .9),
            "p99": pct(ms, .99), "max": max(ms), "min": min(ms),
            "mean": sum(ms) / len(ms)}


WRITER = r"""
import os, sys, time
path, n, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
for i in range(n):
    time.sleep(gap)
    t = time.time_ns()
    os.write(fd, b'{"event":"%s","id":%d,"value":%d}\n'
             % (b"opened" if i % 2 == 0 else b"resolved", i // 2 + 1,
                (t // 1000) * (1 if i % 2 == 0 else -1)))
"""


DISK_LOAD = r"""
import os, sys
path = sys.argv[1]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
block = os.urandom(1 << 20)
while True:
    for i in range(32):
        os.write(fd, block)
        os.fsync(fd)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
"""


def calibrate(d, n, gap_s):
    """The watcher alone: another process writes lines stamped just before
    its write(), at the benchmark's rate."""
    path = os.path.join(d, "calibration-%d.jsonl" % len(os.listdir(d)))
    open(path, "w").close()
    w = Watcher(path)
    p = subprocess.Popen([sys.executable, "-c", WRITER, path, str(n),
                          str(gap_s)])
    try:
        w.run(n, time.monotonic() + 30 + n * gap_s * 3,
              lambda: p.poll() is None or w.lines < n)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        w.close()
    lat = [t - abs(json.loads(ln)["value"]) * 1000
           for t, ln in w.stamped_lines()]
    if len(lat) < n:
        sys.exit("calibration: %d of %d lines seen" % (len(lat), n))
    return lat


def check_config(args, d, journal):
    ini = os.path.join(d, "probe.ini")
    with open(ini, "w") as f:
        f.write(CONFIG.format(journal=journal, interval=args.interval,
                              sensor_iso="process", rule_iso="process",
                              sink_iso="process",
                              events=os.path.join(d, "probe.jsonl")))
    r = subprocess.run([args.vigild, "--check-config", "-c", ini, "-p",
                        args.plugin_path, "-s", os.path.join(d, "probe")],
                       capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def run_variant(args, d, name, iso, journal, crossings, rnd):
    vd = os.path.join(d, "%s-%d" % (name, rnd))
    os.makedirs(os.path.join(vd, "state"))
    events = os.path.join(vd, "events.jsonl")
    open(events, "w").close()
    ini = os.path.join(vd, "vigil.ini")
    with open(ini, "w") as f:
        f.write(CONFIG.format(
            journal="journal_sync = %s\n" % journal if journal else "",
            interval=args.interval, sensor_iso=iso[0], rule_iso=iso[1],
            sink_iso=iso[2], events=events))
    logpath = os.path.join(vd, "vigild.log")
    w = Watcher(events)
    want = args.warmup + crossings
    load = None
    if args.disk_load:
        # On the file system of the state directory and the events file.
        load = subprocess.Popen([sys.executable, "-c", DISK_LOAD,
                                 os.path.join(vd, "disk-load")])
    with open(logpath, "w") as log:
        p = subprocess.Popen([args.vigild, "-c", ini, "-p", args.plugin_path,
                              "-s", os.path.join(vd, "state")],
                             stdout=log, stderr=subprocess.STDOUT)
        try:
            ok = w.run(want, time.monotonic() + 30 + want *
                       args.interval_s * 3, lambda: p.poll() is None)
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            w.close()
            if load is not None:
                load.kill()
                load.wait()
                os.unlink(os.path.join(vd, "disk-load"))
    text = open(logpath).read()
    if rc != 0:
        sys.exit("%s: vigild exited %d; see %s" % (name, rc, logpath))
    if not ok:
        sys.exit("%s: %d of %d lines before the deadline; see %s"
                 % (name, w.lines, want, logpath))

    lines = w.stamped_lines()[:want]
    lat, problems, prev, dump, times = [], [], None, [], []
    by_type = {"opened": [], "resolved": []}
    for i, (t, ln) in enumerate(lines):
        ev = json.loads(ln)
        typ, iid, v = ev.get("event"), ev.get("id"), ev.get("value")
        if typ not in by_type:
            problems.append("line %d: unexpected event %r" % (i + 1, typ))
            continue
        if (typ == "opened") != (v > 0):
            problems.append("line %d: %s with value %r" % (i + 1, typ, v))
        if prev is not None:
            exp = (("resolved", prev[1]) if prev[0] == "opened"
                   else ("opened", prev[1] + 1))
            if (typ, iid) != exp:
                problems.append("line %d: %s #%s after %s #%s (a crossing "
                                "missing?)" % (i + 1, typ, iid, *prev))
        prev = (typ, iid)
        if i < args.warmup:
            continue
        x = t - abs(v) * 1000
        times.append(abs(v) * 1000)
        lat.append(x)
        by_type[typ].append(x)
        dump.append("%d %s %d" % (abs(v) * 1000, typ, x))
    if problems:
        sys.exit("%s: the events are not one line per crossing:\n  %s\n"
                 "see %s" % (name, "\n  ".join(problems[:10]), events))
    stopped = [ln for ln in text.splitlines() if "stopped:" in ln]
    if not stopped or not re.search(r" 0 dropped, 0 refused,", stopped[-1]):
        sys.exit("%s: vigild dropped or refused readings, or did not say; "
                 "see %s" % (name, logpath))
    # Time between successive crossings = between reads of the sensor: a
    # loop held up (in fdatasync, say) reads late, which the latency from
    # the reading does not show.
    gaps = [b - a for a, b in zip(times, times[1:])]
    res = {"all": lat, "opened": by_type["opened"], "gaps": gaps,
           "resolved": by_type["resolved"], "load": os.getloadavg()[0],
           "stopped": stopped[-1].split("stopped: ", 1)[-1]}
    if args.keep:
        with open(os.path.join(vd, "latencies.txt"), "w") as f:
            f.write("# reading time (ns), event, latency (ns)\n")
            f.write("\n".join(dump) + "\n")
    else:
        shutil.rmtree(vd, ignore_errors=True)
    return res


def fs_type(path):
    """The file system type of the mount holding path, from /proc/mounts."""
    path, best, typ = os.path.realpath(path), "", "?"
    try:
        for ln in open("/proc/mounts"):
            f = ln.split()
            mnt = f[1].replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) \
                    and len(mnt) >= len(best):
                best, typ = mnt, f[2]
    except OSError:
        pass
    return typ


def parse_duration_s(s):
    for unit, mul in (("ms", 1e-3), ("us", 1e-6), ("s", 1.0)):
        if s.endswith(unit) and s[:-len(unit)].isdigit():
            return int(s[:-len(unit)]) * mul
    sys.exit("--interval: expected e.g. 10ms or 1s, not %r" % s)


def main():
    ap = argparse.ArgumentParser(
        prog="bench_latency.sh",
        description=__doc__.split("\n\n")[0],
        epilog="Run through `make bench-latency`, or set VIGILD, "
               "VIGIL_TREE_PLUGIN_PATH and VIGIL_BUILDDIR (or pass --vigild "
               "and --plugin-path).")
    ap.add_argument("--vigild", default=os.environ.get("VIGILD", "./vigild"))
    ap.add_argument("--plugin-path", default=default_plugin_path(),
                    help="must include bench/.libs (crossing.so)")
    ap.add_argument("-n", "--crossings", type=int, default=2000,
                    help="crossings kept per variant (default 2000)")
    ap.add_argument("--warmup", type=int, default=50,
                    help="first crossings dropped per run of vigild "
                         "(default 50)")
    ap.add_argument("-r", "--rounds", type=int, default=4,
                    help="the crossings of each variant are split over "
                         "this many runs of vigild, the variants taking "
                         "turns (default 4)")
    ap.add_argument("--interval", default="10ms",
                    help="sensor interval = time between crossings "
                         "(default 10ms, vigild's minimum)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only variants whose name contains this "
                         "(repeatable)")
    ap.add_argument("--calibration", type=int, default=1000,
                    help="samples of the watcher alone (0: skip)")
    ap.add_argument("--dir", default=None,
                    help="where the state directories and events files go "
                         "(default $TMPDIR or /tmp): on the disk to "
                         "measure, not a tmpfs, or fsync costs nothing")
    ap.add_argument("--disk-load", action="store_true",
                    help="while each variant runs, another process writes "
                         "and fsyncs 1 MiB at a time on the same file "
                         "system")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run directories, with latencies.txt "
                         "(one line per crossing)")
    ap.add_argument("--strict", action="store_true",
                    help="exit 2 if a variant's p99 is %g ms or more"
                         % TARGET_P99_MS)
    args = ap.parse_args()
    args.interval_s = parse_duration_s(args.interval)
    if args.rounds < 1 or args.crossings < args.rounds or args.warmup < 0 \
            or not 0 <= args.calibration:
        sys.exit("expected --rounds >= 1, --crossings >= --rounds, "
                 "--warmup >= 0 and --calibration >= 0")
    if 0 < args.calibration < args.rounds:
        args.calibration = args.rounds

    d = tempfile.mkdtemp(prefix="vigil-latency-", dir=args.dir)
    rc, out = check_config(args, d, "")
    if rc != 0:
        sys.exit("vigild --check-config refuses the benchmark's "
                 "configuration (is bench/.libs, with crossing.so, in the "
                 "plugin path?):\n" + out)
    journal = check_config(args, d, "journal_sync = never\n")[0] == 0
    syncs = ["always", "never"] if journal else [None]

    variants = []
    for iso_name, iso in (("process", ("process",) * 3),
                          ("none", ("process", "none", "none"))):
        for s in syncs:
            name = "iso-%s" % iso_name + ("-journal-%s" % s if s else "")
            if args.only and not any(o in name for o in args.only):
                continue
            variants.append((name, iso, s))

    print("vigild %s, %s %s, %d CPUs; %d crossings per variant in %d "
          "round(s), each after %d of warm-up, one every %s%s"
          % (args.vigild, platform.system(), platform.release(),
             os.cpu_count(), args.crossings, args.rounds, args.warmup,
             args.interval,
             "; with --disk-load" if args.disk_load else ""))
    print("run directory %s (%s)" % (d, fs_type(d)))
    if not journal:
        print("this vigild has no [daemon] journal_sync: measured as is")
    sys.stdout.flush()

    # Rounds interleave the variants (and the watcher's calibration), so
    # that a change in the machine's background load between them lands on
    # all of them rather than on one.
    cal, loads = [], []
    raw = {name: {"all": [], "opened": [], "resolved": [], "gaps": [],
                  "load": []}
           for name, _, _ in variants}
    for rnd in range(args.rounds):
        share = lambda total: (total // args.rounds +
                               (rnd < total % args.rounds))
        if args.calibration > 0:
            cal += calibrate(d, share(args.calibration), args.interval_s)
            loads.append(os.getloadavg()[0])
        for name, iso, s in variants:
            print("== round %d/%d: %s" % (rnd + 1, args.rounds, name),
                  file=sys.stderr)
            r = run_variant(args, d, name, iso, s, share(args.crossings),
                            rnd)
            for k in ("all", "opened", "resolved", "gaps"):
                raw[name][k] += r[k]
            raw[name]["load"].append(r["load"])
            x = summarize(r["all"])
            print("   p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms; load "
                  "average %.2f; vigild: %s"
                  % (x["p50"], x["p90"], x["p99"], x["max"], r["load"],
                     r["stopped"]), file=sys.stderr)
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    else:
        print("run directories kept in %s" % d)

    results = []
    if cal:
        results.append(("watcher alone (write() to wake-up)", None, None,
                        summarize(cal), loads))
    for name, iso, s in variants:
        r = summarize(raw[name]["all"])
        r["opened"] = summarize(raw[name]["opened"])
        r["resolved"] = summarize(raw[name]["resolved"])
        r["gaps"] = summarize(raw[name]["gaps"])
        results.append((name, iso, s, r, raw[name]["load"]))

    print()
    print("| sensor / rule / sink isolation | journal_sync | crossings | "
          "p50 ms | p90 ms | p99 ms | max ms | p99 < %g ms | load avg |"
          % TARGET_P99_MS)
    print("|---|---|--:|--:|--:|--:|--:|---|---|")
    missed = False
    for name, iso, s, r, ld in results:
        loadtxt = "%.2f–%.2f" % (min(ld), max(ld))
        if iso is None:
            print("| %s | | %d | %.3f | %.3f | %.3f | %.3f | | %s |"
                  % (name, r["n"], r["p50"], r["p90"], r["p99"], r["max"],
                     loadtxt))
            continue
        met = r["p99"] < TARGET_P99_MS
        missed |= not met
        print("| %s | %s | %d | %.3f | %.3f | %.3f | %.3f | %s | %s |"
              % (" / ".join(iso), s or "(none)", r["n"], r["p50"], r["p90"],
                 r["p99"], r["max"], "yes" if met else "**no**", loadtxt))
    print()
    print("load avg: the 1-minute load average after each round's run, "
          "lowest and highest.")
    print("By event type (p50 / p99 ms), and the time between two reads "
          "of the sensor (interval %s; p99 / max ms):" % args.interval)
    for name, iso, s, r, ld in results:
        if iso is not None:
            print("  %-28s opened %.3f / %.3f   resolved %.3f / %.3f   "
                  "reads %.3f / %.3f"
                  % (name, r["opened"]["p50"], r["opened"]["p99"],
                     r["resolved"]["p50"], r["resolved"]["p99"],
                     r["gaps"]["p99"], r["gaps"]["max"]))
    if args.strict and missed:
        sys.exit(2)


main()
PY
