#!/bin/bash
# A plugin that calls the host the ways the plugin guide forbids: emit_reading
# from a thread of its own (while the callbacks run, and between them), and
# host functions with NULL arguments. Inside vigild (isolation = none) the
# thread would race the core's pipeline; in a worker, the worker's batch.
# vigild must refuse every such emit (-EPERM), say so in one line per
# instance, answer the NULL arguments as missing values, keep the plugin's
# own readings (those its read emits) and stay up, in both modes alike.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

require_fixture rogue_host

METRICS=$TEST_DIR/metrics.jsonl

both_modes_ini rogue_host "$METRICS" >"$TEST_DIR/vigil.ini"

start_vigild "$TEST_DIR/vigil.ini"

# Both threads have been refused many times, and read has reported it.
refused_many()
{
	"$PYTHON" - "$METRICS" <<'PY'
import json, sys
last = {}
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        last[r["metric"]] = r["value"]
except (OSError, ValueError):
    sys.exit(1)
sys.exit(0 if all(last.get(p + ".thread_refused", 0) >= 50
                  for p in ("inside", "worker")) else 1)
PY
}
wait_until 30 "both plugin threads refused 50 times" refused_many
kill -0 "$VIGILD_PID" 2>/dev/null || fail "vigild died"
stop_vigild

"$PYTHON" - "$METRICS" <<'PY' || fail "vigild took or lost readings it should not have"
import json, sys

errors = []
rs = [json.loads(line) for line in open(sys.argv[1])]
for p in ("inside", "worker"):
    mine = [r for r in rs if r["metric"].startswith(p + ".")]
    thread = [r for r in mine if r["metric"] == p + ".thread"]
    if thread:
        errors.append(f"{p}: {len(thread)} readings from the plugin's "
                      "own thread reached the sink")
    calls = [r["value"] for r in mine if r["metric"] == p + ".thread_calls"]
    refused = [r["value"] for r in mine
               if r["metric"] == p + ".thread_refused"]
    if not calls or len(calls) != len(refused):
        errors.append(f"{p}: {len(calls)} thread_calls and {len(refused)} "
                      "thread_refused readings")
    elif any(c != f for c, f in zip(calls, refused)):
        errors.append(f"{p}: some emits from the thread were taken: "
                      f"calls {calls[-3:]}, refused {refused[-3:]}")
    nulls = [r["value"] for r in mine if r["metric"] == p + ".null_ok"]
    if not nulls or any(v != 1 for v in nulls):
        errors.append(f"{p}: host calls with NULL arguments: {nulls[:5]}")
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
PY

for inst in inside worker; do
	n=$(grep -c "\[sensor\.$inst\] emit_reading from a thread the plugin started: refused" "$VIGILD_LOG")
	[ "$n" = 1 ] || fail "[sensor.$inst]: $n lines about the refused thread, expected 1"
done
grep -q "an escape ?\[2J and a bell ?" "$VIGILD_LOG" ||
	fail "the plugin's line with control characters is not in the log, '?' in their place"
if LC_ALL=C grep -q "$(printf '\033')" "$VIGILD_LOG"; then
	fail "an escape character from a plugin reached the log"
fi
# The worker was never restarted: refusing is not a fault.
if grep -E "\[sensor\.worker\].*(killed|exited|restart|died|malformed)" "$VIGILD_LOG"; then
	fail "[sensor.worker]'s worker died"
fi

pass "emits from a plugin's own thread refused once-said, NULL arguments answered, in both modes"
