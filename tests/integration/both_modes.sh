#!/bin/bash
# The same plugin binary, inside vigild (isolation = none) and in a worker
# (isolation = process), must be treated the same: the same return values
# from emit_reading, and the same readings at the sink. The odd_readings
# fixture emits what careless plugins do: a NULL label value, labels in
# another order, a NULL label key, an invalid metric name, a NULL metric,
# a NULL unit, a new series per read, a reading with its own time and
# quality, a quality that is none, a label key twice, 300 labels. Each
# instance gets its own metric prefix. The odd_conditions rule, likewise
# in both modes, emits what careless rules do: a NULL label key or value,
# a severity that is none, a 1 MiB message, a 2000-byte key, 100 labels,
# a type with a '/'.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

require_fixture odd_readings odd_conditions

METRICS=$TEST_DIR/metrics.jsonl
EVENTS=$TEST_DIR/events.jsonl

both_modes_ini odd_readings "$METRICS" >"$TEST_DIR/vigil.ini"
for mode in inside:none worker:process; do
	printf '\n[rule.%s_r]\nplugin = odd_conditions\nisolation = %s\nmatch = %s.count\n' \
	       "${mode%%:*}" "${mode#*:}" "${mode%%:*}"
done >>"$TEST_DIR/vigil.ini"
printf '\n[sink.events]\nplugin = file\npath = %s\nevents = yes\n' \
       "$EVENTS" >>"$TEST_DIR/vigil.ini"

start_vigild "$TEST_DIR/vigil.ini"

reads()
{
	[ "$(grep -c "\[${2:-sensor}\.$1\] rc " "$VIGILD_LOG")" -ge 5 ]
}
wait_until 20 "5 reads inside vigild" reads inside
wait_until 20 "5 reads in a worker" reads worker
wait_until 20 "5 evals inside vigild" reads inside_r rule
wait_until 20 "5 evals in a worker" reads worker_r rule
stop_vigild

for inst in inside worker; do
	got=$(grep "\[sensor\.$inst\] rc " "$VIGILD_LOG" | sed 's/.* rc //' |
	      sort -u)
	[ "$got" = "0 0 -22 -22 -22 0 0 -22 -22 -22" ] ||
		fail "[sensor.$inst]: emit_reading returned '$got'," \
		     "expected '0 0 -22 -22 -22 0 0 -22 -22 -22' at every read"
	got=$(grep "\[rule\.${inst}_r\] rc " "$VIGILD_LOG" | sed 's/.* rc //' |
	      sort -u)
	[ "$got" = "-22 0 -22 0 -22 -22 -22" ] ||
		fail "[rule.${inst}_r]: emit_condition returned '$got'," \
		     "expected '-22 0 -22 0 -22 -22 -22' at every eval"
done
# Nothing the plugins emitted cost a worker its life.
if grep -E "protocol error|malformed|exited with|killed" "$VIGILD_LOG"; then
	fail "a worker died of what a plugin emitted"
fi

"$PYTHON" - "$EVENTS" <<'PY' || fail "the incidents differ between the two modes"
import json, sys

opened = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "opened":
        opened[e["key"]] = e
errors = []
for mode in ("inside", "worker"):
    nv = opened.get(mode + "_r-nullvalue")
    if not nv or nv["labels"] != {"k": ""}:
        errors.append(f"{mode}: NULL label value: {nv}")
    lg = opened.get(mode + "_r-long")
    if not lg or len(lg["message"]) != 4096 + 3 or \
            not lg["message"].endswith("m..."):
        errors.append(f"{mode}: 1 MiB message: "
                      f"{len(lg['message']) if lg else 'no incident'}")
others = [k for k in opened if not k.endswith(("-nullvalue", "-long"))]
if others:
    errors.append(f"incidents for refused conditions: {others}")
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
PY

"$PYTHON" - "$METRICS" <<'PY' || fail "the readings differ between the two modes"
import json, sys

seen = {"inside": [], "worker": []}
for line in open(sys.argv[1]):
    r = json.loads(line)
    prefix = r["metric"].partition(".")[0]
    if prefix in seen:
        seen[prefix].append(r)
errors = []
shapes = {}
for prefix, rs in seen.items():
    pairs = [r for r in rs if r["metric"] == prefix + ".pair"]
    counts = [r for r in rs if r["metric"] == prefix + ".count"]
    if not pairs or not counts:
        errors.append(f"{prefix}: {len(pairs)} pair and {len(counts)} "
                      "count readings")
        continue
    for r in pairs:
        if r["labels"] != {"k1": "v1", "k2": ""} or r["unit"] != "u":
            errors.append(f"{prefix}: pair reading {r}")
    timed = [r for r in pairs if r["value"] == 3]
    if not timed or any(r["time"] != "1970-01-01T00:00:01.000Z" or
                        r["quality"] != "uncertain" for r in timed):
        errors.append(f"{prefix}: own time and quality lost: {timed[:1]}")
    if any(r["unit"] != "" for r in counts):
        errors.append(f"{prefix}: a NULL unit is not the empty unit")
    ns = sorted(int(r["labels"]["n"]) for r in counts)
    if ns != list(range(len(ns))):
        errors.append(f"{prefix}: count series n = {ns}")
    # What a read gives: (metric suffix, labels, value, unit, quality).
    shapes[prefix] = sorted({(r["metric"].split(".", 1)[1],
                              json.dumps(r["labels"], sort_keys=True)
                              if r["metric"].endswith(".pair") else "",
                              r["value"], r["unit"], r["quality"])
                             for r in rs})
if not errors and shapes["inside"] != shapes["worker"]:
    errors.append(f"inside {shapes['inside']} != worker {shapes['worker']}")
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
PY

pass "the same readings, conditions and return values inside vigild and in a worker"
