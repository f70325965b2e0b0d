#!/bin/bash
# SIGTERM with many workers that will not stop: each ignores SIGTERM and
# sleeps in fini (crashy, mode stubborn). vigild asks them all to stop at
# once, SIGTERMs all those still there halfway through one grace, and
# SIGKILLs them at its end, naming each: so every SIGTERM line comes
# before the first SIGKILL line (one by one, they alternated, and ten
# such plugins held the shutdown for 20 s). vigild exits 0 and leaves no
# process behind. A worker that crashes in fini is said to have.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_fixture crashy

N=6
for i in $(seq "$N"); do
	printf '[sensor.stubborn%d]\nplugin = crashy\nmode = stubborn\ninterval = 200ms\n\n' "$i"
done >"$TEST_DIR/vigil.ini"
printf '[sensor.finicrash]\nplugin = crashy\nmode = fini_segv\ninterval = 200ms\n' \
	>>"$TEST_DIR/vigil.ini"

start_vigild "$TEST_DIR/vigil.ini"
children()
{
	[ "$(ps -o pid= --ppid "$VIGILD_PID" | wc -l)" -ge $((N + 2)) ]
}
wait_until 20 "$N + 1 workers and the spawner" children
KIDS=$(ps -o pid= --ppid "$VIGILD_PID" | tr -d ' ')
stop_vigild

for i in $(seq "$N"); do
	for sig in SIGTERM SIGKILL; do
		grep -Eq "\[sensor\.stubborn$i\] worker [0-9]+ did not .*: $sig\$" "$VIGILD_LOG" ||
			fail "[sensor.stubborn$i]: no line saying it got $sig"
	done
done
last_term=$(grep -n ': SIGTERM$' "$VIGILD_LOG" | tail -1 | cut -d: -f1)
first_kill=$(grep -n ': SIGKILL$' "$VIGILD_LOG" | head -1 | cut -d: -f1)
[ "$last_term" -lt "$first_kill" ] ||
	fail "the workers were stopped one after another (a SIGKILL at line $first_kill before the last SIGTERM at line $last_term)"
# UBSan (a sanitizer build) turns the fault into an exit with status 1.
grep -Eq "\[sensor\.finicrash\] worker [0-9]+ died while stopping: (killed by signal 11 \(SIGSEGV\)|exited with status 1)" "$VIGILD_LOG" ||
	fail "no line for the worker that crashed in fini"
for pid in $KIDS; do
	kill -0 "$pid" 2>/dev/null && fail "process $pid outlived vigild"
done

pass "$N workers that ignore SIGTERM and hang in fini stopped together, each named, none left; a crash in fini said"
