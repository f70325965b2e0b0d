#!/usr/bin/env python3
"""isolation_throughput - readings/s through the real vigild, with every
plugin in a worker process of its own (isolation = process) and with every
plugin inside vigild (isolation = none).

Each run starts the real vigild binary on this configuration (the same
pipeline as the in-process benchmark's `rule` scenario, scaled up), the
three instances all in the run's mode:

    synthetic (COUNT series per read, interval 10ms) -> threshold -> counting

COUNT readings per read at a 10 ms interval asks for COUNT * 100 readings/s,
far more than either mode moves, so the loop falls behind and the sensor is
read back to back (vigild does not burst to catch up: a read still running
when the next is due is not doubled; the next starts when it ends). After DURATION seconds vigild gets
SIGTERM; the counting sink (bench/counting_sink.c) writes its totals at
fini to `totals_file`: readings, and the CLOCK_MONOTONIC times of its first
and last write(). Reported per run:

    readings/s = (readings - first batch) / (last write - first write)

i.e. over the time readings flowed, start-up and shutdown left out: what
came out at the end of the pipeline, per second. The whole-run figure
(readings / (SIGTERM - start)) is printed beside it. Checked per run:
vigild exits 0, no worker died, its "stopped:" line says 0 dropped and 0
refused, and the sink counted no more than vigild took in. Run flat out,
the slowest stage sets the pace: in a worker, the batches it cannot take
are dropped from its queue, oldest first (metrics are perishable; vigild
logs "the worker falls behind"). The share of readings vigild took in that
never reached the sink is reported as "lost at a slow worker"; in-process
nothing can be lost, so there it must be 0.

Two scenarios, each judged against the targets on its own:

    quiet   warning = 200: the sine (0 +- 100) never reaches it. Every
            reading is evaluated, none fires: the readings path alone,
            which is what isolation changes.
    storm   warning = 80: every series crosses it at the same tick, so
            100,000 incidents open (and resolve) at once, again and
            again: the incident manager in the core, the same code in
            both modes, takes a share of the loop. Incident events
            delivered to the counting sink, and those given up (a sink's
            queue holds 10000: isolated, a burst of more than that in one
            turn of the loop gives up the oldest), are printed beside.

Modes are interleaved (process, none, process, none, ...) so that a
change in the machine's load does not fall on one mode only.

    bench/isolation_throughput.py [--reps 5] [--duration 10] [--count N]
                                  [--scenarios quiet,storm]

Run through `make bench-isolation` (which sets VIGILD and the plugin path),
or pass --vigild and --plugin-path.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_ABS = 1_000_000  # isolated readings/s (issue)
TARGET_RATIO = 0.5      # isolated / in-process (issue)

CONFIG = """\
[daemon]
log_level = notice
reading_queue = {queue}

[sensor.gen]
plugin = synthetic
isolation = {isolation}
metric = bench.value
unit = %
shape = sine
value = 0
amplitude = 100
period = 1000
count = {count}
interval = {interval}

[rule.hot]
plugin = threshold
isolation = {isolation}
match = bench.*
warning = {warning}
critical = {critical}
hysteresis = 5

[sink.count]
plugin = counting
isolation = {isolation}
metrics = yes
events = yes
totals_file = {totals}
"""


def default_plugin_path():
    tree = os.environ.get("VIGIL_TREE_PLUGIN_PATH", "")
    build = os.environ.get("VIGIL_BUILDDIR", ".")
    bench = os.path.join(build, "bench", ".libs")
    return tree + ":" + bench if tree else bench


def run_once(args, isolation, workdir, rep):
    d = os.path.join(workdir, "%s-%d" % (isolation, rep))
    os.makedirs(os.path.join(d, "state"), exist_ok=True)
    totals = os.path.join(d, "totals")
    ini = os.path.join(d, "vigil.ini")
    with open(ini, "w") as f:
        f.write(CONFIG.format(isolation=isolation, count=args.count,
                              interval=args.interval, totals=totals,
                              queue=max(65536, 2 * args.count),
                              warning=args.warning,
                              critical=args.warning + 15))
    log = open(os.path.join(d, "vigild.log"), "w")
    t0 = time.monotonic()
    p = subprocess.Popen([args.vigild, "-c", ini, "-p", args.plugin_path,
                          "-s", os.path.join(d, "state")],
                         stdout=log, stderr=subprocess.STDOUT)
    time.sleep(args.duration)
    t1 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        sys.exit("%s: vigild did not stop within 60 s after SIGTERM" % d)
    log.close()
    text = open(os.path.join(d, "vigild.log")).read()
    if rc != 0:
        sys.exit("%s: vigild exited %d\n%s" % (d, rc, text[-2000:]))
    m = re.search(r"stopped: (\d+) readings, (\d+) dropped, (\d+) refused",
                  text)
    g = re.search(r"stopped: .*, (\d+) given up", text)
    if not m:
        sys.exit("%s: no 'stopped:' line in the log\n%s" % (d, text[-2000:]))
    v = {}
    for line in open(totals):
        k, val = line.split()
        v[k] = float(val)
    readings_in, dropped, refused = (int(x) for x in m.groups())
    lost = readings_in - int(v["readings"])
    if dropped or refused or lost < 0 or (isolation == "none" and lost):
        sys.exit("%s: sink counted %d, vigild took %d, dropped %d, refused %d"
                 % (d, v["readings"], readings_in, dropped, refused))
    if lost and "falls behind" not in text:
        sys.exit("%s: %d readings never reached the sink, and vigild did not "
                 "say a worker fell behind\n%s" % (d, lost, text[-2000:]))
    if "died" in text:
        sys.exit("%s: a worker died during the run\n%s" % (d, text[-2000:]))
    span = (v["last_write_ns"] - v["first_write_ns"]) / 1e9
    rate = (v["readings"] - v["first_batch"]) / span if span > 0 else 0
    return {"rate": rate, "whole": v["readings"] / (t1 - t0),
            "readings": int(v["readings"]), "span": span,
            "events": int(v["events"]),
            "given_up": int(g.group(1)) if g else 0,
            "lost": lost / readings_in if readings_in else 0.0}


SCENARIOS = {"quiet": 200.0, "storm": 80.0}


def run_scenario(args, scenario, modes, workdir):
    """Runs every rep of every mode; prints the table; True if missed."""
    res = {m: [] for m in modes}
    print("## %s (warning = %g)" % (scenario, args.warning), flush=True)
    for rep in range(args.reps):
        for m in modes:
            r = run_once(args, m, os.path.join(workdir, scenario), rep)
            res[m].append(r)
            print("# %-7s rep %d: %10.0f readings/s (whole run %10.0f; "
                  "%d readings, %.1f%% lost at a slow worker; %d incident "
                  "events delivered, %d given up)"
                  % (m, rep + 1, r["rate"], r["whole"], r["readings"],
                     100 * r["lost"], r["events"], r["given_up"]),
                  flush=True)

    print()
    print("%s: %d s per run, %d runs per mode, %d readings per read, "
          "interval %s" % (scenario, args.duration, args.reps, args.count,
                           args.interval))
    print()
    print("| isolation | readings/s median | min | max | whole-run median "
          "| lost at a slow worker, median | incident events delivered "
          "/ given up, median |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    med = {}
    for m in modes:
        rates = [r["rate"] for r in res[m]]
        med[m] = statistics.median(rates)
        print("| %s | %.0f | %.0f | %.0f | %.0f | %.1f%% | %d / %d |" % (
            m, med[m], min(rates), max(rates),
            statistics.median(r["whole"] for r in res[m]),
            100 * statistics.median(r["lost"] for r in res[m]),
            statistics.median(r["events"] for r in res[m]),
            statistics.median(r["given_up"] for r in res[m])))
    missed = False
    if "process" in med:
        ok = med["process"] >= TARGET_ABS
        missed |= not ok
        print("\n%s: isolated >= %d readings/s: %s" %
              (scenario, TARGET_ABS, "met" if ok else "MISSED"))
    if "process" in med and "none" in med and med["none"] > 0:
        ratio = med["process"] / med["none"]
        ok = ratio >= TARGET_RATIO
        missed |= not ok
        print("%s: isolated / in-process = %.2f (target >= %.2f): %s" %
              (scenario, ratio, TARGET_RATIO, "met" if ok else "MISSED"))
    print(flush=True)
    return missed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vigild", default=os.environ.get("VIGILD", "./vigild"))
    ap.add_argument("--plugin-path", default=default_plugin_path())
    ap.add_argument("-r", "--reps", type=int, default=5)
    ap.add_argument("-d", "--duration", type=float, default=10.0,
                    help="seconds each run lasts (default 10)")
    ap.add_argument("-n", "--count", type=int, default=100000,
                    help="readings per read (default 100000)")
    ap.add_argument("--interval", default="10ms")
    ap.add_argument("-s", "--scenarios", default="quiet,storm",
                    help="quiet (warning 200: no series ever fires), "
                    "storm (warning 80: every series fires at once)")
    ap.add_argument("-m", "--modes", default="process,none")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run directories (printed)")
    ap.add_argument("--strict", action="store_true",
                    help="exit 2 if a target is missed")
    args = ap.parse_args()

    modes = args.modes.split(",")
    workdir = tempfile.mkdtemp(prefix="vigil-ibench-")
    missed = False
    for scenario in args.scenarios.split(","):
        if scenario not in SCENARIOS:
            sys.exit("unknown scenario %r: expected quiet or storm" % scenario)
        args.warning = SCENARIOS[scenario]
        missed |= run_scenario(args, scenario, modes, workdir)
    if args.keep:
        print("run directories in", workdir)
    else:
        subprocess.call(["rm", "-rf", workdir])
    return 2 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
