#!/bin/bash
# An incident's whole life, end to end: a synthetic sensor crosses a
# threshold's warning and critical levels and comes back; the file sink must
# show the incident open, escalate, de-escalate and resolve under one id,
# with hysteresis holding it where the value sits between a level and its
# clear point. Beside it, the real memory and load sensors read a fixture
# tree (root = tests/fixtures/root) and their rules must open incidents
# whose values are what the fixture files say.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

FIXTURE_ROOT=$VIGIL_SRCDIR/tests/fixtures/root
EVENTS=$TEST_DIR/events.jsonl

# 88 sits above critical's clear point (90 - 5) and 48 above warning's
# (50 - 5): neither may change the incident. 40 resolves it. The sequence
# cycles, so later incidents follow with new ids.
cat >"$TEST_DIR/vigil.ini" <<EOF
[daemon]
flush_interval = 100ms

[sensor.synth]
plugin = synthetic
interval = 50ms
metric = test.temperature
unit = C
shape = sequence
sequence = 10 60 95 88 60 48 40 10 10 10

[rule.hot]
plugin = threshold
match = test.temperature
direction = above
warning = 50
critical = 90
hysteresis = 5

[sensor.memory]
plugin = memory
interval = 50ms
root = $FIXTURE_ROOT

[rule.memory_used]
plugin = threshold
match = memory.used_percent
warning = 15
critical = 90

[sensor.load]
plugin = load
interval = 50ms
root = $FIXTURE_ROOT

[rule.many_procs]
plugin = threshold
match = load.procs
warning = 200

[sink.events]
plugin = file
path = $EVENTS
fsync = always
EOF

start_vigild "$TEST_DIR/vigil.ini"
wait_for "$EVENTS" '"event":"resolved","id":[0-9]+,"key":"hot"' 20
wait_for "$EVENTS" '"event":"opened","id":[0-9]+,"key":"memory_used"' 20
wait_for "$EVENTS" '"event":"opened","id":[0-9]+,"key":"many_procs"' 20
stop_vigild

"$PYTHON" - "$EVENTS" "$FIXTURE_ROOT" <<'EOF' || fail "the events file is not as expected (see above)"
import json, sys

events_path, root = sys.argv[1], sys.argv[2]
bad = []

def check(cond, what):
    if not cond:
        bad.append(what)
    return cond

with open(events_path) as f:
    lines = f.read().splitlines()
events = [json.loads(l) for l in lines]   # every line is one JSON object
print(f"{len(events)} events")

# --- the synthetic incident: the first one of key "hot"
hot = [e for e in events if e["key"] == "hot"]
first_id = hot[0]["id"]
life = [e for e in hot if e["id"] == first_id]
got = [(e["event"], e["severity"], e["value"]) for e in life]
want = [("opened", "warning", 60), ("escalated", "critical", 95),
        ("deescalated", "warning", 60), ("resolved", "warning", 40)]
check(got == want, f"incident {first_id} went {got}, expected {want}")
if len(life) == 4:
    o, esc, de, res = life
    check(esc.get("previous_severity") == "warning",
          f"escalated: previous_severity {esc.get('previous_severity')!r}")
    check(de.get("previous_severity") == "critical",
          f"deescalated: previous_severity {de.get('previous_severity')!r}")
    check("previous_severity" not in o, "opened has a previous_severity")
    check([e["status"] for e in life] == ["open"] * 3 + ["resolved"],
          f"statuses {[e['status'] for e in life]}")
    check(len({e["created"] for e in life}) == 1,
          "created changed during the incident's life")
    check("resolved" in res and all("resolved" not in e for e in life[:3]),
          "'resolved' time only on the resolution")
    check([e["occurrences"] for e in life] == [1, 2, 3, 3],
          f"occurrences {[e['occurrences'] for e in life]}")
    check(o["type"] == "hot" and o["labels"] == {},
          f"type/labels {o['type']!r} {o['labels']!r}")
    check(o["message"] == "test.temperature is 60 C, above warning threshold 50",
          f"opened message {o['message']!r}")
    check(esc["message"] == "test.temperature is 95 C, above critical threshold 90",
          f"escalated message {esc['message']!r}")
# Hysteresis: 88 and 48 never moved an incident, whichever cycle.
moved = [e for e in hot if e["value"] in (88, 48)]
check(not moved, f"hysteresis did not hold: {moved}")
# Later cycles open new incidents with new ids, never reusing one.
opened_ids = [e["id"] for e in hot if e["event"] == "opened"]
check(len(opened_ids) == len(set(opened_ids)), f"ids reused: {opened_ids}")
# Every event of an id comes after its opening, and nothing follows its
# resolution.
seen_open, seen_resolved = set(), set()
for e in events:
    check(e["id"] not in seen_resolved, f"event after resolution: {e}")
    if e["event"] == "opened":
        check(e["id"] not in seen_open, f"opened twice: {e}")
        seen_open.add(e["id"])
    else:
        check(e["id"] in seen_open, f"event before opening: {e}")
    if e["event"] == "resolved":
        seen_resolved.add(e["id"])

# --- the fixture-rooted sensors
mem = {}
with open(f"{root}/proc/meminfo") as f:
    for line in f:
        k, v = line.split(":", 1)
        mem[k] = int(v.split()[0])
want_used = (mem["MemTotal"] - mem["MemAvailable"]) * 100.0 / mem["MemTotal"]
with open(f"{root}/proc/loadavg") as f:
    want_procs = int(f.read().split()[3].split("/")[1])

for key, want_value in (("memory_used", want_used), ("many_procs", want_procs)):
    inc = [e for e in events if e["key"] == key]
    if not check(inc, f"no incident {key}"):
        continue
    check(inc[0]["event"] == "opened" and inc[0]["severity"] == "warning",
          f"{key}: first event {inc[0]['event']} {inc[0]['severity']}")
    check(abs(inc[0]["value"] - want_value) < 1e-9,
          f"{key}: value {inc[0]['value']}, the fixture says {want_value}")
    # The fixture does not change: one incident, never escalated or
    # resolved while the daemon ran.
    check(all(e["event"] == "opened" for e in inc),
          f"{key}: {[e['event'] for e in inc]}")
print(f"memory_used = {want_used}, many_procs = {want_procs}")

for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF

pass "incident opened, escalated, de-escalated and resolved under one id; fixture sensors' values came through"
