#!/usr/bin/env python3
"""isolation_recovery - how long a sensor's readings stop when its worker
process dies of SIGSEGV, beyond the restart backoff vigild waits on purpose.

The real vigild runs one isolated sensor, the crashy fixture
(tests/fixtures/plugins/crashy.c) in mode `ok`: each read emits
crashy.value = the number of the call, 1 for the first read of every new
worker. Its interval (10 ms) is no longer than the backoff, so the new
worker's first read is due as soon as it runs. The restart backoff is fixed
(restart_delay = restart_delay_max = BACKOFF) apart from the policy's
jitter of up to 25%, and max_restarts / restart_window let every sample
restart. The counting sink (bench/counting_sink.c) writes every reading's
time (ns, stamped in the worker when the sensor emits it) and value to its
trace_file.

For each sample the script finds the worker (the child of vigild, `ps
--ppid`, that maps crashy.so), waits until it has been running for a while, notes the wall
clock and sends it SIGSEGV. After the run:

    recovery = time of the first reading with value 1 after the signal
               - time the signal was sent
               - the delay of that death's "restarting in Xms" log line

The log line prints the delay truncated to the millisecond, so a sample
may read up to 1 ms high. What is left is noticing the death, the timer,
fork, the worker's set-up, dlopen, init, its reply and the first read.

    bench/isolation_recovery.py [--samples 60] [--backoff 10ms]

Run through `make bench-isolation`, or pass --vigild and --plugin-path.
"""
import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_MS = 20.0  # median (issue)

CONFIG = """\
[daemon]
log_level = notice

[sensor.victim]
plugin = crashy
mode = ok
interval = {interval}
timeout = 2s
restart_delay = {backoff}
restart_delay_max = {backoff}
max_restarts = 64
restart_window = 1s

[sink.count]
plugin = counting
metrics = yes
trace_file = {trace}
"""


def default_plugin_path():
    tree = os.environ.get("VIGIL_TREE_PLUGIN_PATH", "")
    build = os.environ.get("VIGIL_BUILDDIR", ".")
    extra = [os.path.join(build, "bench", ".libs"),
             os.environ.get("VIGIL_FIXTURE_PLUGIN_DIR",
                            os.path.join(build, "tests", "fixtures",
                                         "plugins", ".libs"))]
    return ":".join(([tree] if tree else []) + extra)


def duration_ms(text):
    """'12ms', '1s5ms', '250us' (as vigil_format_duration writes) -> ms."""
    total = 0.0
    units = {"h": 3600e3, "m": 60e3, "s": 1e3, "ms": 1.0, "us": 1e-3,
             "ns": 1e-6}
    for num, unit in re.findall(r"(\d+)(ms|us|ns|h|m|s)", text):
        total += int(num) * units[unit]
    return total


def maps_crashy(pid):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "crashy.so" in f.read()
    except OSError:
        return False


def children(pid):
    """The victim's worker: the child of vigild that maps crashy.so (the
    others are the spawner and the counting sink's worker)."""
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="],
                         capture_output=True, text=True).stdout
    return [int(x) for x in out.split() if maps_crashy(int(x))]


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vigild", default=os.environ.get("VIGILD", "./vigild"))
    ap.add_argument("--plugin-path", default=default_plugin_path())
    ap.add_argument("-n", "--samples", type=int, default=60)
    ap.add_argument("--backoff", default="10ms")
    ap.add_argument("--interval", default="10ms")
    ap.add_argument("--settle", type=float, default=0.15,
                    help="seconds a new worker runs before it is killed "
                         "(plus up to 50 ms at random)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--strict", action="store_true",
                    help="exit 2 if the median misses the target")
    args = ap.parse_args()

    d = tempfile.mkdtemp(prefix="vigil-irecov-")
    os.makedirs(os.path.join(d, "state"))
    trace = os.path.join(d, "trace")
    ini = os.path.join(d, "vigil.ini")
    with open(ini, "w") as f:
        f.write(CONFIG.format(backoff=args.backoff, interval=args.interval,
                              trace=trace))
    logpath = os.path.join(d, "vigild.log")
    log = open(logpath, "w")
    p = subprocess.Popen([args.vigild, "-c", ini, "-p", args.plugin_path,
                          "-s", os.path.join(d, "state")],
                         stdout=log, stderr=subprocess.STDOUT)
    kills = []  # (worker pid, wall ns when signalled)
    last = None
    try:
        deadline = time.monotonic() + 30 + args.samples * 2
        while len(kills) < args.samples:
            if time.monotonic() > deadline or p.poll() is not None:
                sys.exit("vigild stopped or no new worker came up; see %s"
                         % logpath)
            kids = [k for k in children(p.pid) if k != last]
            if len(kids) != 1:
                time.sleep(0.01)
                continue
            # Let it run (and emit) for a while, at a random phase of its
            # interval.
            time.sleep(args.settle + random.uniform(0, 0.05))
            last = kids[0]
            t = time.time_ns()
            try:
                os.kill(last, signal.SIGSEGV)
            except ProcessLookupError:
                continue
            kills.append((last, t))
        time.sleep(0.3)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        log.close()
    text = open(logpath).read()
    if rc != 0:
        sys.exit("vigild exited %d; see %s" % (rc, logpath))

    delays = {}
    for pid, when in re.findall(
            r"worker (\d+) died: killed by signal 11 \(SIGSEGV\); "
            r"restarting in (\S+) ", text):
        delays[int(pid)] = duration_ms(when)
    readings = []
    for line in open(trace):
        t, v = line.split()
        readings.append((int(t), float(v)))
    readings.sort()

    samples = []
    import bisect
    times = [r[0] for r in readings]
    for pid, t in kills:
        if pid not in delays:
            sys.exit("no 'worker %d died: killed by signal 11' line with its "
                     "delay; see %s" % (pid, logpath))
        i = bisect.bisect_right(times, t)
        # The dying worker may stamp one last reading between the clock
        # read and the signal's arrival: it counts on, the new one says 1.
        while i < len(readings) and readings[i][1] != 1 and \
                readings[i][0] - t < 2_000_000:
            i += 1
        if i >= len(readings):
            sys.exit("no reading after the SIGSEGV to worker %d" % pid)
        if readings[i][1] != 1:
            sys.exit("the first reading after the SIGSEGV to worker %d is "
                     "not the new worker's first (value %g)"
                     % (pid, readings[i][1]))
        total = (readings[i][0] - t) / 1e6
        samples.append((total, delays[pid], total - delays[pid]))

    rec = [s[2] for s in samples]
    tot = [s[0] for s in samples]
    dl = [s[1] for s in samples]
    print("%d samples, backoff %s (+ up to 25%% jitter), sensor interval %s"
          % (len(samples), args.backoff, args.interval))
    print()
    print("| ms | median | p90 | max | min |")
    print("|---|--:|--:|--:|--:|")
    for name, xs in (("signal to first reading", tot),
                     ("backoff actually waited (log line)", dl),
                     ("**recovery** (difference)", rec)):
        print("| %s | %.2f | %.2f | %.2f | %.2f |" % (
            name, statistics.median(xs), pct(xs, 0.9), max(xs), min(xs)))
    med = statistics.median(rec)
    ok = med < TARGET_MS
    print("\nmedian recovery < %g ms: %s" % (TARGET_MS,
                                             "met" if ok else "MISSED"))
    if args.keep:
        print("run directory:", d)
    else:
        subprocess.call(["rm", "-rf", d])
    return 2 if not ok and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
