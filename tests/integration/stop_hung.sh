#!/bin/bash
# SIGTERM with many workers that will not stop: each ignores SIGTERM and
# sleeps in fini (crashy, mode stubborn). vigild asks them all to stop at
# once, SIGTERMs all those still there halfway through one grace, and
# SIGKILLs them at its end, naming each: so every SIGTERM line comes
# before the first SIGKILL line (one by one, they alternated, and ten
# such plugins held the shutdown for 20 s). vigild exits 0 and leaves no
# process behind. A worker that crashes in fini is said to have. A worker
# still in init is asked to finish as well.
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

# A worker still in init when SIGTERM comes (init takes 500 ms) is asked
# to finish too: it reads fini when init is done, well within the grace
# (it was left to the SIGTERM at 1 s).
: >"$VIGILD_LOG"
printf '[daemon]\nlog_level = debug\n\n[sensor.slowinit]\nplugin = crashy\nmode = init_slow\ninterval = 100ms\n' \
	>"$TEST_DIR/init.ini"
start_vigild "$TEST_DIR/init.ini"
wait_for "$VIGILD_LOG" '\[sensor\.slowinit\] worker [0-9]+ forked by' 20
stop_vigild
grep -q 'did not finish' "$VIGILD_LOG" &&
	fail "a worker in init was not asked to finish: $(grep 'did not finish' "$VIGILD_LOG")"

pass "$N workers that ignore SIGTERM and hang in fini stopped together, each named, none left; a crash in fini said; one in init asked to finish too"
