#!/usr/bin/env python3
"""isolation_memory - what vigild and its worker processes cost in memory
on the default configuration (etc/vigil.ini).

The real vigild runs etc/vigil.ini as shipped, with -s a fresh state
directory and -p the build tree's plugins, for --settle seconds (default
30). Then, for vigild and each of its children (the spawner and the
workers, found with `ps --ppid`), it reads:

    /proc/PID/smaps_rollup   Pss, Rss
    /proc/PID/status         Threads
    /proc/PID/smaps          Pss by kind of mapping: heap ([heap] and
                             anonymous), stack, vigild's own executable,
                             shared libraries and plugins (.so), other

and prints one line per process and the totals. PSS (proportional set
size) divides each shared page among the processes that map it, so the
PSS of all the processes adds up to what they cost together; RSS counts a
shared page in every process, so the RSS total overstates it.

    bench/isolation_memory.py [--config etc/vigil.ini] [--settle 30]

Run through `make bench-isolation`, or pass --vigild and --plugin-path.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

# collectd 5.12 on the same sensors, measured by the author.
TARGET = {"pss_kb": 2.1 * 1024, "rss_kb": 3.2 * 1024, "threads": 11}


def rollup(pid):
    v = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                v[m.group(1)] = int(m.group(2))
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                v["Threads"] = int(line.split()[1])
    return v


def by_kind(pid, exe):
    kinds = {"heap": 0, "stack": 0, "vigild": 0, "libs": 0, "other": 0}
    name = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split(None, 5)
                name = parts[5].strip() if len(parts) > 5 else ""
                continue
            if not line.startswith("Pss:"):
                continue
            kb = int(line.split()[1])
            if name in ("", "[heap]"):
                kinds["heap"] += kb
            elif name == "[stack]":
                kinds["stack"] += kb
            elif os.path.realpath(name) == exe:
                kinds["vigild"] += kb
            elif ".so" in name:
                kinds["libs"] += kb
            else:
                kinds["other"] += kb
    return kinds


def sos(pid):
    """The shared objects `pid` maps."""
    out = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) > 5 and ".so" in parts[5]:
                out.add(parts[5].strip())
    return out


def main():
    srcdir = os.environ.get("VIGIL_SRCDIR",
                            os.path.join(os.path.dirname(__file__), ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vigild", default=os.environ.get("VIGILD", "./vigild"))
    ap.add_argument("--plugin-path",
                    default=os.environ.get("VIGIL_TREE_PLUGIN_PATH", ""))
    ap.add_argument("-c", "--config",
                    default=os.path.join(srcdir, "etc", "vigil.ini"))
    ap.add_argument("--settle", type=float, default=30.0)
    ap.add_argument("--strict", action="store_true",
                    help="exit 2 if a target is missed")
    args = ap.parse_args()

    d = tempfile.mkdtemp(prefix="vigil-imem-")
    logpath = os.path.join(d, "vigild.log")
    log = open(logpath, "w")
    cmd = [args.vigild, "-c", args.config, "-s", d]
    if args.plugin_path:
        cmd += ["-p", args.plugin_path]
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    exe = os.path.realpath("/proc/%d/exe" % p.pid)
    rows = []
    try:
        time.sleep(args.settle)
        if p.poll() is not None:
            sys.exit("vigild exited early; see %s" % logpath)
        exe = os.path.realpath("/proc/%d/exe" % p.pid)
        kids = subprocess.run(["ps", "--ppid", str(p.pid), "-o", "pid="],
                              capture_output=True, text=True).stdout.split()
        pids = [p.pid] + [int(k) for k in kids]
        core_so = sos(p.pid)
        for pid in pids:
            r = rollup(pid)
            # A worker loads its plugin after the fork: the .so it maps
            # and the core does not.
            r["own"] = sorted(os.path.basename(x) for x in
                              sos(pid) - core_so)
            r.update(by_kind(pid, exe))
            r["pid"] = pid
            with open("/proc/%d/comm" % pid) as f:
                r["comm"] = f.read().strip()
            rows.append(r)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()
    rows[0]["what"] = "vigild (core)"
    for r in rows[1:]:
        if r.get("comm") == "vigild-spawner":
            r["what"] = "spawner (forks the workers)"
        else:
            r["what"] = ("worker (%s)" % ", ".join(r["own"]) if r["own"]
                         else "worker")

    print("vigild on %s after %.0f s; kB; PSS split by mapping from "
          "/proc/PID/smaps" % (os.path.basename(args.config), args.settle))
    print()
    print("| process | PSS | RSS | threads | heap+anon | stack | vigild "
          "binary | .so | other |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    tot = {}
    for r in rows:
        print("| %s | %d | %d | %d | %d | %d | %d | %d | %d |" % (
            r["what"], r["Pss"], r["Rss"], r["Threads"], r["heap"],
            r["stack"], r["vigild"], r["libs"], r["other"]))
        for k in ("Pss", "Rss", "Threads", "heap", "stack", "vigild",
                  "libs", "other", "Private_Clean", "Private_Dirty"):
            tot[k] = tot.get(k, 0) + r.get(k, 0)
    print("| **total (%d processes)** | **%d** | %d | %d | %d | %d | %d | "
          "%d | %d |" % (len(rows), tot["Pss"], tot["Rss"], tot["Threads"],
                          tot["heap"], tot["stack"], tot["vigild"],
                          tot["libs"], tot["other"]))
    print("\nprivate (clean + dirty) total: %d kB" %
          (tot["Private_Clean"] + tot["Private_Dirty"]))
    missed = False
    for key, val, name in (("pss_kb", tot["Pss"], "PSS"),
                           ("rss_kb", tot["Rss"], "RSS"),
                           ("threads", tot["Threads"], "threads")):
        ok = val <= TARGET[key]
        missed |= not ok
        print("%s total %d vs collectd 5.12 %g: %s" % (
            name, val, TARGET[key], "met" if ok else "MISSED"))
    subprocess.call(["rm", "-rf", d])
    return 2 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
