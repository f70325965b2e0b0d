#!/bin/bash
# The built-in "vigil" sensor reports vigild's own health as readings: a
# crashing sensor's restarts and state, a healthy one's calls and latency,
# the pipeline's counters. They reach a file sink like any metric.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

METRICS=$TEST_DIR/metrics.jsonl

cat >"$TEST_DIR/vigil.ini" <<EOF
[daemon]
flush_interval = 100ms

[sensor.self]
plugin = vigil
interval = 200ms

; Crashes on every second read, restarted quickly, never FAILED.
[sensor.bad]
plugin = crashy
mode = segv
after = 2
interval = 50ms
restart_delay = 20ms
restart_delay_max = 20ms
max_restarts = 64

[sensor.good]
plugin = synthetic
interval = 50ms

[sink.metrics]
plugin = file
path = $METRICS
metrics = yes
metrics_match = vigil.*
events = no
fsync = never
EOF

start_vigild "$TEST_DIR/vigil.ini"

# A report that has seen at least two restarts of the bad sensor.
has_restarts()
{
	"$PYTHON" - "$METRICS" <<'PY'
import json, sys
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    sys.exit(1)
for l in lines:
    try:
        r = json.loads(l)
    except ValueError:
        continue
    if (r.get("metric") == "vigil.plugin.restarts"
            and r["labels"].get("instance") == "sensor.bad"
            and r["value"] >= 2):
        sys.exit(0)
sys.exit(1)
PY
}
wait_until 20 "vigil.plugin.restarts of sensor.bad >= 2" has_restarts
stop_vigild

# What sensor.bad's worker died of (lib.sh: UBSan makes it an exit).
BAD_EXIT='killed by signal 11 (SIGSEGV)'
fixture_has_ubsan crashy && BAD_EXIT='exited with status 1'

"$PYTHON" - "$METRICS" "$BAD_EXIT" <<'PY' || fail "self metrics are not what they should be"
import json, sys
last = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    last[(r["metric"], r["labels"].get("instance"))] = r
def value(metric, inst=None):
    r = last.get((metric, inst))
    if r is None:
        sys.exit("no %s for %s" % (metric, inst))
    return r["value"]
errors = []
if value("vigil.plugin.restarts", "sensor.bad") < 2:
    errors.append("sensor.bad restarts < 2")
if value("vigil.plugin.restarts", "sensor.good") != 0:
    errors.append("sensor.good restarted")
if value("vigil.plugin.up", "sensor.good") != 1:
    errors.append("sensor.good not up")
if value("vigil.plugin.state", "sensor.good") != 2:
    errors.append("sensor.good state is not running (2)")
if value("vigil.plugin.calls", "sensor.good") < 3:
    errors.append("sensor.good made fewer than 3 calls")
if value("vigil.plugin.emitted", "sensor.good") < 3:
    errors.append("sensor.good emitted fewer than 3 readings")
if value("vigil.plugin.queue_drops", "sensor.good") != 0:
    errors.append("sensor.good: queue drops, or none reported")
bad_exit = last.get(("vigil.plugin.last_exit", "sensor.bad"))
if not bad_exit or bad_exit["value"] != 1 or \
        bad_exit["labels"].get("reason") != sys.argv[2]:
    errors.append("sensor.bad: last_exit %r" % (bad_exit,))
if ("vigil.plugin.last_exit", "sensor.good") in last:
    errors.append("sensor.good: a last_exit, but its worker never died")
p50 = value("vigil.plugin.latency_p50_ms", "sensor.good")
p99 = value("vigil.plugin.latency_p99_ms", "sensor.good")
if not (0 < p50 <= p99):
    errors.append("latency p50 %r, p99 %r" % (p50, p99))
if last[("vigil.plugin.up", "sensor.good")]["labels"].get("plugin") != "synthetic":
    errors.append("plugin label missing")
if value("vigil.readings_in") <= 0 or value("vigil.series") <= 0:
    errors.append("pipeline counters are zero")
if value("vigil.readings_dropped") != 0:
    errors.append("readings were dropped")
if errors:
    sys.exit("; ".join(errors))
PY
pass "self metrics: restarts, states, calls, latencies and counters reported"
