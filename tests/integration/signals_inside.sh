#!/bin/bash
# A plugin inside vigild (isolation = none) that upsets the process's
# signals - unblocks SIGTERM, ignores SIGCHLD (the kernel would then reap
# the workers before vigild learns why they died), takes SIGPIPE back -
# has them put back within a second, said once: a worker's crash is
# still reported with its signal, and SIGTERM still stops vigild cleanly.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_fixture rogue_host crashy

cat >"$TEST_DIR/vigil.ini" <<EOF
[sensor.careless]
plugin = rogue_host
isolation = none
signals = yes
interval = 200ms

[sensor.crash]
plugin = crashy
mode = segv
after = 15
interval = 200ms
EOF

start_vigild "$TEST_DIR/vigil.ini"
put_back()
{
	grep -q "a plugin inside vigild (isolation = none) .*: put back; plugins must leave signals alone" "$VIGILD_LOG"
}
wait_until 20 "the signals put back" put_back
# UBSan (a sanitizer build) turns the fault into an exit with status 1.
crash_told()
{
	grep -Eq "\[sensor\.crash\] worker [0-9]+ died: (killed by signal 11 \(SIGSEGV\)|exited with status 1)" "$VIGILD_LOG"
}
wait_until 20 "the worker's crash reported with its cause" crash_told
stop_vigild
grep -q "stopped: " "$VIGILD_LOG" || fail "vigild did not stop through its shutdown (no 'stopped:' line)"
[ "$(grep -c 'put back; plugins must leave signals alone' "$VIGILD_LOG")" -eq 1 ] ||
	fail "the signals were said more than once"

pass "signals upset by a plugin inside vigild put back: crashes still told, SIGTERM still clean"
