#!/bin/bash
# Rules, sinks and actions run in supervised workers too: one that crashes,
# hangs or fails costs only itself.
#
# Next to a healthy chain (a synthetic sensor whose value goes up and down
# every 50 ms, the threshold rule [rule.hot], the file sink
# [sink.witness]), this configuration has
#   [rule.crashy]  a rule that segfaults on its 5th eval, in every worker
#   [rule.stuck]   a rule that hangs on its 3rd eval (timeout 500ms)
#   [sink.crashy]  a sink that segfaults on its 3rd delivery
#   [sink.stuck]   a sink that hangs on its 2nd delivery (timeout 1s)
#   [sink.flaky]   a sink whose 2nd delivery fails, which writes a line per
#                  event it takes ("TYPE KEY")
#   [action.slow]  an exec action that takes 2s per incident
# The test asserts that each bad instance is killed and restarted for the
# right reason and that the crashing ones reach FAILED, that incident
# events keep reaching the witness meanwhile, that the flaky sink got every
# event the witness got, in the same order, and that vigild stops cleanly.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

require_fixture unruly_rule unruly_sink

WITNESS=$TEST_DIR/witness.jsonl
FLAKY=$TEST_DIR/flaky.txt

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
sequence = 10 95

[rule.hot]
plugin = threshold
match = test.value
warning = 50
critical = 90

[rule.crashy]
plugin = unruly_rule
match = test.value
mode = segv
after = 5
restart_delay = 50ms
restart_delay_max = 100ms
max_restarts = 2

[rule.stuck]
plugin = unruly_rule
match = test.value
mode = hang
after = 3
timeout = 500ms
restart_delay = 50ms

[sink.witness]
plugin = file
path = $WITNESS

[sink.crashy]
plugin = unruly_sink
mode = segv
after = 3
restart_delay = 50ms
restart_delay_max = 100ms
max_restarts = 2

[sink.stuck]
plugin = unruly_sink
mode = hang
after = 2
timeout = 1s
restart_delay = 50ms

[sink.flaky]
plugin = unruly_sink
mode = fail
after = 2
path = $FLAKY

[action.slow]
plugin = exec
on = hot
command = sleep 2
EOF

start_vigild "$TEST_DIR/vigil.ini"

wait_for "$VIGILD_LOG" '\[rule\.crashy\] worker [0-9]+ died: killed by signal 11 \(SIGSEGV\)' 20
wait_for "$VIGILD_LOG" '\[rule\.crashy\] worker [0-9]+ died: .*FAILED after 2 restarts' 20
wait_for "$VIGILD_LOG" '\[rule\.stuck\] worker [0-9]+ died: missed its 500ms deadline in eval' 20
# Its second worker is told the series again (the first took what it was
# told with it): it evaluates twice more, then hangs again.
stuck_twice()
{
	[ "$(grep -cE '\[rule\.stuck\] worker [0-9]+ died: missed its 500ms deadline in eval' "$VIGILD_LOG")" -ge 2 ]
}
wait_until 20 "a restarted [rule.stuck] evaluating until it hangs again" stuck_twice
wait_for "$VIGILD_LOG" '\[sink\.crashy\] worker [0-9]+ died: killed by signal 11 \(SIGSEGV\)' 20
wait_for "$VIGILD_LOG" '\[sink\.crashy\] worker [0-9]+ died: .*FAILED after 2 restarts' 30
wait_for "$VIGILD_LOG" '\[sink\.stuck\] worker [0-9]+ died: missed its 1s deadline in deliver' 20
wait_for "$VIGILD_LOG" '\[sink\.flaky\] could not deliver incident' 20
wait_for "$WITNESS" '"event":"action"' 20
wait_for "$WITNESS" 'plugin_failed\{instance=rule\.crashy\}' 20

# Everything above has happened: the healthy chain must still run.
n=$(count_lines "$WITNESS")
more_events()
{
	[ "$(count_lines "$WITNESS")" -ge $((n + 20)) ]
}
wait_until 20 "20 more events at the witness after the failures" more_events
note "witness: $n events when all had failed, $(count_lines "$WITNESS") later"

stop_vigild

# A worker exits 2 on a frame it cannot read (a reading of a series it was
# never told of, say): the core must never send one.
if grep -E 'died: exited with status 2' "$VIGILD_LOG"; then
	fail "a worker could not read what the core sent it"
fi

"$PYTHON" - "$WITNESS" "$FLAKY" <<'PY' || fail "the flaky sink lost or reordered events"
import json, sys

witness = [json.loads(l) for l in open(sys.argv[1])]
seen = [f'{w["event"]} {w["key"]}' for w in witness]
flaky = open(sys.argv[2]).read().splitlines()
if flaky != seen[:len(flaky)]:
    for i, (a, b) in enumerate(zip(flaky, seen)):
        if a != b:
            print(f"  line {i + 1}: flaky sink has '{a}', witness '{b}'")
            break
    sys.exit(1)
# Shutdown drains what waits for a running sink: all of it arrived.
if len(flaky) != len(seen):
    print(f"  flaky sink has {len(flaky)} events, witness {len(seen)}")
    sys.exit(1)
print(f"  {len(flaky)} events at both, in the same order")
PY

pass "crashing, hanging and failing rules and sinks cost only themselves"
