#!/bin/bash
# A sink that fails loses no alert: the core keeps the incident events it
# could not deliver and delivers them later, in order.
#
# Two file sinks get every event: "witness" writes to the test directory
# and never fails; "late" writes into a directory that comes and goes.
#
#  1. The directory does not exist at start: the sink's init fails with
#     ENOENT and the core retries init with backoff, holding the events
#     meanwhile. The directory is created once the witness shows an
#     incident open; "late" must then hold the witness's events from the
#     first, in the same order.
#  2. Mid-run the directory is removed: deliveries fail and the core
#     keeps the events for redelivery with backoff. Once the directory is
#     back, every event from the outage on must arrive, in order.
#
# [sink.late] comes first in the file, so the core hands it each event
# before the witness: by the time the witness shows an event, "late" has
# written it, or is holding it.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

WITNESS=$TEST_DIR/witness.jsonl
LATE_DIR=$TEST_DIR/late
LATE=$LATE_DIR/events.jsonl

cat >"$TEST_DIR/vigil.ini" <<EOF
# The sequence cycles every few hundred ms: flapping, by design, would
# pause its notifications; this test is about delivery.
[incidents]
flap_window = 0

[daemon]
flush_interval = 100ms

[sensor.synth]
plugin = synthetic
interval = 50ms
metric = test.value
shape = sequence
sequence = 10 60 95 95 60 10 10

[rule.hot]
plugin = threshold
match = test.value
warning = 50
critical = 90

[sink.late]
plugin = file
path = $LATE
fsync = always

[sink.witness]
plugin = file
path = $WITNESS
fsync = always
EOF

# is_prefix A B: the lines of A are the first lines of B.
is_prefix()
{
	"$PYTHON" - "$1" "$2" <<'EOF'
import sys
a = open(sys.argv[1]).read().splitlines()
b = open(sys.argv[2]).read().splitlines()
if a != b[:len(a)]:
    print(f"{sys.argv[1]} ({len(a)} lines) is not the start of {sys.argv[2]} ({len(b)} lines)")
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            print(f"line {i + 1}:\n  {x}\n  {y}")
            break
    sys.exit(1)
EOF
}

start_vigild "$TEST_DIR/vigil.ini"

# --- 1. a sink that cannot start
wait_for "$WITNESS" '"event":"opened"' 20
wait_for "$WITNESS" '"event":"escalated"' 20
wait_for "$VIGILD_LOG" '\[sink\.late\] will retry in' 20
[ ! -e "$LATE" ] || fail "$LATE exists before its directory"
mkdir "$LATE_DIR"
wait_for "$VIGILD_LOG" '\[sink\.late\] started after [0-9]+ failed attempt' 30
wait_for "$LATE" '"event":"escalated"' 30
# Copy it now: the directory goes away below. It is compared with the
# witness at the end, when the witness surely has every event it has.
cp "$LATE" "$TEST_DIR/late-1.jsonl"
note "phase 1: $(count_lines "$TEST_DIR/late-1.jsonl") held event(s) delivered after the sink started"

# --- 2. a sink that fails while running
# Every event the witness has now, "late" has written already (and perhaps
# one more).
n_before=$(count_lines "$WITNESS")
rm -rf "$LATE_DIR"
# Events from here on can only be held for redelivery.
n_gone=$(count_lines "$WITNESS")
two_more_events()
{
	[ "$(count_lines "$WITNESS")" -ge $((n_gone + 2)) ]
}
wait_until 30 "two new events during the outage" two_more_events
wait_for "$VIGILD_LOG" '\[sink\.late\] could not deliver incident' 20
n_back=$(count_lines "$WITNESS")
mkdir "$LATE_DIR"
# The second time the sink says so; the first was at the end of phase 1.
redelivered()
{
	[ "$(grep -Ec '\[sink\.late\] delivering again: [0-9]+ delayed' "$VIGILD_LOG")" -ge 2 ]
}
wait_until 30 "the sink to deliver again after the outage" redelivered
n_running=$(count_lines "$LATE")
stop_vigild
is_prefix "$TEST_DIR/late-1.jsonl" "$WITNESS" ||
	fail "events held while the sink could not start were lost or reordered"
note "phase 2: witness had $n_before line(s) before the outage, $n_gone once the directory was gone, $n_back when it was back; $n_running redelivered while running"

"$PYTHON" - "$LATE" "$WITNESS" "$n_before" "$n_gone" "$n_back" "$n_running" <<'EOF' || fail "events were lost or reordered across the outage"
import json, sys

late = open(sys.argv[1]).read().splitlines()
witness = open(sys.argv[2]).read().splitlines()
n_before, n_gone, n_back, n_running = map(int, sys.argv[3:7])
bad = []

# Stopping delivers everything still held: the new file is exactly the
# witness from some line k on. Lines before n_before went to the old
# file; lines from n_gone on were made while the directory was gone,
# except that "late" may have written one event more than the witness
# had when it was counted (it gets each event just before the witness).
k = len(witness) - len(late)
if late != witness[k:]:
    bad.append(f"the new file ({len(late)} lines) is not the end of the witness ({len(witness)} lines)")
if not n_before <= k <= n_gone + 1:
    bad.append(f"the new file starts at witness line {k + 1}, expected between {n_before + 1} and {n_gone + 2}")
if n_back - n_gone < 2:
    bad.append("no events were made during the outage")
# What was held when the directory came back was delivered by the retry
# while vigild ran, not only by the final flush at shutdown.
if n_running < n_back - k:
    bad.append(f"only {n_running} event(s) redelivered while running, expected at least {n_back - k}")
# The redelivered events are the originals: same ids, types and times.
ids = [json.loads(l)["id"] for l in late]
if sorted(ids) != ids:
    bad.append(f"incident ids out of order: {ids}")
for b in bad:
    print("  " + b)
print(f"{len(late)} event(s) in the new file, from witness line {k + 1}")
sys.exit(1 if bad else 0)
EOF

pass "events held while the sink could not start, and during an outage, were all delivered in order"
