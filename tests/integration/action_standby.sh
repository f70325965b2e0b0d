#!/bin/bash
# An action's worker runs only while there is remediation to do
# (idle_timeout): none at start, started by the first attempt, stopped
# after idle_timeout without one, started again by the next; a stop for
# idle is not a death (no restart counted, no warning).
#
# A synthetic sensor repeats 10 10 10 10 10 95 every 500 ms: the rule
# [rule.hot] opens a critical incident every 3 s, which [action.fix]
# (idle_timeout = 1s, no cooldown) remediates with a script that appends a
# line to runs.txt. The test asserts, with vigilctl and ps:
#   1. after start, [action.fix] is `standby` and has no process;
#   2. each incident gets its run; the worker is started for it ("woken
#      from standby") and stopped 1s later ("stopped (idle_timeout)"),
#      at least twice over;
#   3. no "died" line and 0 restarts for it; vigild stops cleanly.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python
command -v ps >/dev/null || skip "ps (procps) is needed"

VIGILCTL=$VIGIL_BUILDDIR/vigilctl
[ -x "$VIGILCTL" ] || fail "no vigilctl at $VIGILCTL"
RUNS=$TEST_DIR/runs.txt

cat >"$TEST_DIR/fix.sh" <<EOF
#!/bin/sh
echo "run \$VIGIL_KEY" >>"$RUNS"
EOF
chmod +x "$TEST_DIR/fix.sh"

cat >"$TEST_DIR/vigil.ini" <<EOF
[daemon]
log_level = debug
flush_interval = 100ms

[incidents]
flap_window = 0

[sensor.synth]
plugin = synthetic
interval = 500ms
metric = test.value
shape = sequence
sequence = 10 10 10 10 10 95

[rule.hot]
plugin = threshold
match = test.value
critical = 90

[action.fix]
plugin = exec
on = hot
command = /bin/sh $TEST_DIR/fix.sh
attempts = 1
cooldown = 0
idle_timeout = 1s

[sink.out]
plugin = file
path = $TEST_DIR/events.jsonl
EOF

# state SECTION: its state in `vigilctl status --json`.
state()
{
	"$VIGILCTL" -s "$TEST_DIR/control.sock" --json status |
		"$PYTHON" -c '
import json, sys
for p in json.load(sys.stdin)["plugins"]:
    if p["section"] == sys.argv[1]:
        print(p["state"], p["restarts"])' "$1"
}

workers()
{
	ps --ppid "$VIGILD_PID" -o comm= 2>/dev/null | grep -cx vigild
}

start_vigild "$TEST_DIR/vigil.ini"
wait_for "$VIGILD_LOG" 'vigild .* running:' 20

# --- 1. at start: standby, and no worker for it (sensor, rule, sink: 3)
st=$(state action.fix)
[ "${st%% *}" = standby ] || fail "[action.fix] is '$st' at start, expected standby"
n=$(workers)
[ "$n" -eq 3 ] || fail "expected 3 workers at start (no action worker), found $n"

# --- 2. runs, each in a worker started for it and stopped after
two_cycles()
{
	[ "$(grep -c 'action\.fix\] worker [0-9]* stopped (idle_timeout)' "$VIGILD_LOG")" -ge 2 ] &&
	[ "$(grep -c 'action\.fix\] worker [0-9]* running (woken from standby)' "$VIGILD_LOG")" -ge 3 ]
}
wait_until 30 "the action's worker started and stopped for idle twice" two_cycles
# The third start is logged before its command has run and written.
three_runs()
{
	[ "$(count_lines "$RUNS")" -ge 3 ]
}
wait_until 10 "3 runs in $RUNS after 3 starts of the worker" three_runs
grep -qvx 'run hot' "$RUNS" && fail "unexpected lines in $RUNS: $(sort -u "$RUNS")"

# Between incidents it is standby again, with no process.
standby_again()
{
	local s

	s=$(state action.fix)
	[ "${s%% *}" = standby ] && [ "$(workers)" -eq 3 ]
}
wait_until 10 "[action.fix] back in standby without a process" standby_again

# --- 3. not deaths
grep -E '\[action\.fix\] .*died' "$VIGILD_LOG" &&
	fail "a stop for idle_timeout was taken for a death"
st=$(state action.fix)
[ "${st#* }" = 0 ] || fail "[action.fix] counts restarts: $st"
stop_vigild
pass "action worker: started per attempt, stopped after idle_timeout"
