#!/usr/bin/env bash
# valgrind.sh - vigild under valgrind's memcheck stays clean: no invalid
# read or write, no use of uninitialised memory, no definite leak, through
# start, readings, incidents opening and resolving, an action, a journal
# replayed by a second run, and shutdown.
#
# The rule and the file sink run inside vigild (isolation = none), so
# their code is checked too; the other instances run in workers, which
# are forks of vigild that valgrind follows silently (a fork exits with
# the core's heap it never frees: not a leak of vigild's). Skipped when
# valgrind is not installed.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

VALGRIND=$(command -v valgrind) || skip "valgrind is not installed (apt-get install valgrind)"

# An ASan build cannot run under valgrind (both replace malloc).
grep -qaF __asan_init "$VIGILD" && skip "vigild is built with ASan (--enable-sanitizers)"

REAL_VIGILD=$VIGILD
VIGILD=$TEST_DIR/vigild-valgrind
cat >"$VIGILD" <<EOF
#!/bin/sh
exec "$VALGRIND" --quiet --error-exitcode=99 --leak-check=full \\
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \\
	--child-silent-after-fork=yes --log-file="$TEST_DIR/valgrind.%p.log" \\
	"$REAL_VIGILD" "\$@"
EOF
chmod +x "$VIGILD"

EVENTS=$TEST_DIR/events.jsonl
cat >"$TEST_DIR/vigil.ini" <<EOF
[incidents]
flap_window = 0

[daemon]
flush_interval = 100ms

[sensor.synth]
plugin = synthetic
interval = 100ms
metric = test.value
shape = sequence
sequence = 10 60 95 95 60 10 10 10

[rule.hot]
plugin = threshold
match = test.value
warning = 50
critical = 90
isolation = none

[action.fix]
plugin = exec
on = hot
command = /bin/echo fixed
verify = 200ms
cooldown = 200ms
attempts = 2

[sink.events]
plugin = file
path = $EVENTS
isolation = none

[sink.log]
plugin = log
EOF

check_valgrind_logs()
{
	local f bad=0
	for f in "$TEST_DIR"/valgrind.*.log; do
		[ -s "$f" ] || continue
		echo "--- $f:"
		cat "$f"
		bad=1
	done
	[ "$bad" -eq 0 ] || fail "valgrind reported errors (above)"
}

start_vigild "$TEST_DIR/vigil.ini"
# Slow under valgrind: generous bounds, no timing asserted.
wait_for "$EVENTS" '"event":"opened"' 60
wait_for "$EVENTS" '"event":"action"' 60
wait_for "$EVENTS" '"event":"resolved"' 60
stop_vigild 60
check_valgrind_logs
note "first run clean: $(count_lines "$EVENTS") events"

# Again on the same state: the journal is replayed and compacted.
start_vigild "$TEST_DIR/vigil.ini"
wait_for "$VIGILD_LOG" 'journal .*replayed' 60
before_restart=$(count_lines "$EVENTS")
more()
{
	[ "$(count_lines "$EVENTS")" -ge $((before_restart + 2)) ]
}
wait_until 60 "two more events after the restart" more
stop_vigild 60
check_valgrind_logs

pass "no memcheck error or definite leak in two runs"
