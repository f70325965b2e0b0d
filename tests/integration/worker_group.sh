#!/bin/bash
# Instances that name the same `worker = NAME` share one worker process
# (core/worker.c, struct vigil_wgroup). What is asserted:
#  - one process serves them all;
#  - a member that crashes takes the death as its own (restart policy,
#    FAILED) and leaves the group: the others are restarted once, at once,
#    and keep their readings coming while it crash-loops alone;
#  - a member that hangs is blamed, not the member whose call waited
#    behind it (that one's timeout is the shorter); a call that waits
#    behind a slow one (within its own timeout) is no hang;
#  - a member whose init fails leaves without disturbing the others;
#  - passing the memory limit (the process's, the members' limits added)
#    is nobody's in particular: every member takes it and the group ends;
#  - SIGTERM stops a group like single workers, leaving no process, and
#    whole, with its last member (a sensor's stop does not kill the
#    process under a sink), naming only the member stuck; a member whose
#    fini crashes then is said to have, and not restarted;
#  - a member that closes a sibling's socket is blamed, not the sibling;
#  - `worker` with a bad name, on an action or with isolation = none is
#    reported with FILE:LINE; so are a member without a memory limit and
#    a 17th member (warnings).
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_fixture crashy

OUT=$TEST_DIR/out.jsonl

# out_sink FILE: a file sink in the group, writing readings to FILE.
out_sink()
{
	printf '[sink.out]\nplugin = file\nworker = shared\npath = %s\nmetrics = yes\nfsync = never\n' "$1"
}

# pass_part WHAT: one part of the test passed.
pass_part()
{
	note "ok: $1"
}

# not_blamed WHY: fails with WHY if [sensor.synthetic] took a death of
# its own (left its group, or died with a reason) rather than being
# restarted with the member at fault.
not_blamed()
{
	! grep -Eq '\[sensor\.synthetic\] (leaves|worker [0-9]+ died:)' "$VIGILD_LOG" ||
		fail "$1"
}

# start_stop INI: a fresh log, vigild on INI until it runs, SIGTERM.
start_stop()
{
	: >"$VIGILD_LOG"
	start_vigild "$1"
	wait_for "$VIGILD_LOG" 'vigild .* running:' 20
	stop_vigild
}

# ---------------------------------------------------------------- a crash
cat >"$TEST_DIR/crash.ini" <<EOF
[daemon]
log_level = debug
flush_interval = 100ms

[sensor.crashy]
plugin = crashy
worker = shared
mode = segv
after = 5
interval = 50ms
restart_delay = 20ms
restart_delay_max = 40ms
max_restarts = 3
restart_window = 30s

[sensor.synthetic]
plugin = synthetic
worker = shared
interval = 50ms

[sink.out]
plugin = file
worker = shared
path = $OUT
metrics = yes
fsync = never
EOF

# UBSan in crashy.so (a sanitized build) turns its fault into exit 1.
SEGV='killed by signal 11 \(SIGSEGV\)'
fixture_has_ubsan crashy && SEGV='exited with status 1'
start_vigild "$TEST_DIR/crash.ini"
wait_for "$VIGILD_LOG" 'worker [0-9]+ \(shared, 3 instances\) forked by' 20
P=$(grep -Eo 'worker [0-9]+ \(shared, 3 instances\)' "$VIGILD_LOG" | head -1 | awk '{print $2}')
for sec in sensor.crashy sensor.synthetic sink.out; do
	wait_for "$VIGILD_LOG" "\[$sec\] worker $P forked by" 5
done
note "one process, $P, serves the three"

wait_for "$VIGILD_LOG" "\[sensor\.crashy\] worker $P died: $SEGV" 20
grep -Eq '\[sensor\.crashy\] leaves worker shared' "$VIGILD_LOG" ||
	fail "the member that crashed did not leave the group"
for sec in sensor.synthetic sink.out; do
	grep -Eq "\[$sec\] worker $P \(shared\) died with sensor\.crashy: restarting at once \(restart 1\)" "$VIGILD_LOG" ||
		fail "[$sec] was not restarted at once with its worker"
done

wait_for "$VIGILD_LOG" '\[sensor\.crashy\] worker [0-9]+ died: .*FAILED after 3 restarts' 30
before=$(grep -c '"synthetic' "$OUT")
wait_until 10 "synthetic readings after crashy FAILED" \
	eval '[ "$(grep -c "\"synthetic" "$OUT")" -gt $((before + 5)) ]'
n=$(grep -Ec 'died with sensor\.crashy' "$VIGILD_LOG")
[ "$n" -eq 2 ] ||
	fail "expected the two others restarted once each with crashy (2 lines), got $n"
# Its later deaths were in a worker of its own: not the others'.
Q=$(grep -Eo '\[sensor\.synthetic\] worker [0-9]+ running again' "$VIGILD_LOG" | tail -1 | awk '{print $3}')
[ -n "$Q" ] && [ "$Q" != "$P" ] || fail "synthetic's second worker not found"
grep -Eq "\[sink\.out\] worker $Q running again" "$VIGILD_LOG" ||
	fail "the sink and synthetic do not share worker $Q after the crash"
grep -E '\[sensor\.crashy\] worker [0-9]+ died' "$VIGILD_LOG" | grep -v "worker $P died" |
	grep -q "worker $Q died" && fail "crashy died in worker $Q, which it had left"
stop_vigild
grep -q 'did not finish' "$VIGILD_LOG" && fail "a worker did not stop when asked"
kill -0 "$Q" 2>/dev/null && fail "the group's worker $Q outlived vigild"
pass_part "a crash is its member's; the others restart once and go on"

# ---------------------------------------------------------------- a hang
: >"$VIGILD_LOG"
cat >"$TEST_DIR/hang.ini" <<EOF
[daemon]
log_level = debug

[sensor.crashy]
plugin = crashy
worker = shared
mode = sleep
after = 3
interval = 100ms
timeout = 600ms
restart_delay = 10s

[sensor.synthetic]
plugin = synthetic
worker = shared
interval = 50ms
timeout = 100ms
EOF
start_vigild "$TEST_DIR/hang.ini"
wait_for "$VIGILD_LOG" '\[sensor\.crashy\] worker [0-9]+ died: missed its 600ms deadline in read' 20
grep -Eq '\[sensor\.synthetic\] worker [0-9]+ \(shared\) died with sensor\.crashy: restarting at once' "$VIGILD_LOG" ||
	fail "synthetic was not restarted with the hung member"
not_blamed "synthetic, whose read waited behind the hung one, was blamed"
stop_vigild
pass_part "a hang is the hung member's, not the one that waited"

# ------------------------------------------- slow, within its own timeout
# synthetic's read (timeout 100ms) waits behind crashy's (300 ms, within
# its 2s): that is nobody's fault, and nothing dies.
: >"$VIGILD_LOG"
cat >"$TEST_DIR/slow.ini" <<EOF
[daemon]
log_level = debug

[sensor.crashy]
plugin = crashy
worker = shared
mode = slow
after = 2
interval = 50ms
timeout = 2s

[sensor.synthetic]
plugin = synthetic
worker = shared
interval = 50ms
timeout = 100ms
EOF
start_vigild "$TEST_DIR/slow.ini"
wait_for "$VIGILD_LOG" 'vigild .* running:' 20
sleep 3
grep -Eq 'died' "$VIGILD_LOG" &&
	fail "a read waiting behind a slow sibling's was taken for a hang"
stop_vigild
pass_part "a call that waits behind a sibling's gets its own time after it"

# ----------------------------------------------------------- init fails
: >"$VIGILD_LOG"
mkdir -p "$TEST_DIR/empty"
cat >"$TEST_DIR/init.ini" <<EOF
[daemon]
log_level = debug

[sensor.temp]
plugin = thermal
root = $TEST_DIR/empty
worker = shared
interval = 100ms

[sensor.synthetic]
plugin = synthetic
worker = shared
interval = 50ms
EOF
start_vigild "$TEST_DIR/init.ini"
wait_for "$VIGILD_LOG" '\[sensor\.temp\] leaves worker shared' 20
wait_for "$VIGILD_LOG" '\[sensor\.temp\] will retry in 1s' 5
wait_for "$VIGILD_LOG" 'vigild .* running:' 5
grep -q 'died with' "$VIGILD_LOG" &&
	fail "a member whose init failed restarted the others"
grep -Eq '\[sensor\.synthetic\] worker [0-9]+ running$' "$VIGILD_LOG" ||
	fail "synthetic did not start in the group"
stop_vigild
pass_part "a failed init leaves quietly"

# ---------------------------------------------------------- memory limit
: >"$VIGILD_LOG"
cat >"$TEST_DIR/mem.ini" <<EOF
[daemon]
log_level = debug

[sensor.crashy]
plugin = crashy
worker = shared
mode = alloc
after = 2
interval = 100ms
memory_limit = 8M
restart_delay = 10s

[sensor.synthetic]
plugin = synthetic
worker = shared
interval = 100ms
memory_limit = 8M
restart_delay = 10s
EOF
start_vigild "$TEST_DIR/mem.ini"
wait_for "$VIGILD_LOG" 'died: exceeded memory_limit \([0-9.]+M > 16M, its worker.s members. added\)' 30
for sec in sensor.crashy sensor.synthetic; do
	grep -Eq "\[$sec\] worker [0-9]+ died: exceeded memory_limit" "$VIGILD_LOG" ||
		fail "[$sec] did not take the memory limit's death"
done
grep -q 'died with' "$VIGILD_LOG" &&
	fail "a death nobody can be blamed for was put on one member"
stop_vigild
pass_part "the memory limit is every member's"

# ------------------------------------------------- a crash in fini, at stop
# The group is stopped whole, with the sink: crashy's fini takes the
# process down. Said as a fini crash, not as a death to restart from.
{
	printf '[sensor.crashy]\nplugin = crashy\nworker = shared\nmode = fini_segv\ninterval = 100ms\n\n'
	out_sink "$TEST_DIR/fini.jsonl"
} >"$TEST_DIR/fini.ini"
start_stop "$TEST_DIR/fini.ini"
grep -Eq '\[sensor\.crashy\] worker [0-9]+ died while stopping: ' "$VIGILD_LOG" ||
	fail "the crash in fini was not said"
grep -Eq '\[sensor\.crashy\] .*restarting' "$VIGILD_LOG" &&
	fail "a member that crashed in fini at shutdown was to be restarted"
# Both members stopped together (two sensors): the process's exit after
# the last fini says the crash.
cat >"$TEST_DIR/fini2.ini" <<EOF
[sensor.crashy]
plugin = crashy
worker = shared
mode = fini_segv
interval = 100ms

[sensor.synthetic]
plugin = synthetic
worker = shared
interval = 100ms
EOF
start_stop "$TEST_DIR/fini2.ini"
grep -Eq "\[sensor\.crashy\] worker [1-9][0-9]* died while stopping: $SEGV" "$VIGILD_LOG" ||
	fail "the crash in fini of a group stopped whole was not said"
pass_part "a crash in fini at shutdown is said, nothing restarted for it"

# ------------------------------------------ stuck in fini, with a sink
# The group is stopped whole, with its last member (the sink): the
# sensors' stop does not SIGTERM the process under the sink. Only the
# member stuck in fini is named.
{
	printf '[daemon]\nflush_interval = 100ms\n\n'
	printf '[sensor.synthetic]\nplugin = synthetic\nworker = shared\ninterval = 50ms\n\n'
	printf '[sensor.crashy]\nplugin = crashy\nworker = shared\nmode = stubborn\ninterval = 50ms\n\n'
	out_sink "$TEST_DIR/stuck.jsonl"
} >"$TEST_DIR/stuck.ini"
start_stop "$TEST_DIR/stuck.ini"
n=$(grep -c 'did not finish' "$VIGILD_LOG")
[ "$n" -eq 1 ] && grep -Eq '\[sensor\.crashy\] worker [0-9]+ did not finish' "$VIGILD_LOG" ||
	fail "expected one 'did not finish' line, naming sensor.crashy; got $n"
grep -Eq '\[sensor\.crashy\] worker [0-9]+ did not stop on SIGTERM: SIGKILL' "$VIGILD_LOG" ||
	fail "the member that ignores SIGTERM was not said to be killed"
grep -Eq '(died|pending)' "$VIGILD_LOG" &&
	fail "a member was said to die, or the drain to stall, at a group's stop"
pass_part "a group stops whole, naming the member that is stuck"

# ------------------------------------------ a sibling's socket closed
# crashy (the second member) closes fd 3, the first member's socket: it
# is caught at the end of its own read, not the first member at its next.
: >"$VIGILD_LOG"
cat >"$TEST_DIR/close.ini" <<EOF
[sensor.synthetic]
plugin = synthetic
worker = shared
interval = 50ms

[sensor.crashy]
plugin = crashy
worker = shared
mode = close_socket
after = 3
interval = 50ms
restart_delay = 10s
EOF
start_vigild "$TEST_DIR/close.ini"
wait_for "$VIGILD_LOG" '\[sensor\.crashy\] worker [0-9]+ died: closed its socket' 20
grep -Eq '\[sensor\.synthetic\] worker [0-9]+ \(shared\) died with sensor\.crashy' "$VIGILD_LOG" ||
	fail "synthetic was not restarted with the member that closed its socket"
not_blamed "synthetic, whose socket crashy closed, was blamed"
stop_vigild
pass_part "closing a sibling's socket is caught on the one that did it"

# The same in init, to a member started after it (fd 4, the second's).
cat >"$TEST_DIR/close4.ini" <<EOF
[sensor.crashy]
plugin = crashy
worker = shared
mode = init_close4
interval = 50ms
restart_delay = 10s

[sensor.synthetic]
plugin = synthetic
worker = shared
interval = 50ms
EOF
: >"$VIGILD_LOG"
start_vigild "$TEST_DIR/close4.ini"
wait_for "$VIGILD_LOG" '\[sensor\.crashy\] worker [0-9]+ died: closed its socket' 20
not_blamed "synthetic, whose socket crashy closed in its init, was blamed"
stop_vigild
pass_part "... and in init, to a later member"

# ------------------------------------------------ hung at the stop, a sink
# crashy hangs in a read (timeout 30s) when SIGTERM comes: it is stopped
# with the sink it shares a worker with, but its read may not hold the
# sink's drain: it gets what a worker of its own would (1 s), then the
# others go on in a new process and finish.
{
	printf '[daemon]\nflush_interval = 100ms\n\n'
	printf '[sensor.crashy]\nplugin = crashy\nworker = shared\nmode = sleep\nafter = 3\ninterval = 50ms\ntimeout = 30s\n\n'
	out_sink "$TEST_DIR/hung.jsonl"
} >"$TEST_DIR/hung.ini"
: >"$VIGILD_LOG"
start_vigild "$TEST_DIR/hung.ini"
wait_for "$VIGILD_LOG" 'vigild .* running:' 20
sleep 1 # its third read, which hangs
stop_vigild
grep -Eq '\[sensor\.crashy\] worker [0-9]+ died: was still in read when asked to stop' "$VIGILD_LOG" ||
	fail "the member hung at the stop was not said to be"
grep -q 'still pending after' "$VIGILD_LOG" &&
	fail "the drain waited on a sink held by its hung sibling"
pass_part "a member hung at the stop does not hold its siblings' drain"

# --------------------------------------------------------- configuration
cat >"$TEST_DIR/bad.ini" <<EOF
[sensor.a]
plugin = synthetic
worker = two words

[sensor.b]
plugin = synthetic
isolation = none
worker = io

[action.c]
plugin = exec
command = true
worker = io
EOF
check_config "$TEST_DIR/bad.ini" "$TEST_DIR/bad.out"
[ "$rc" -ne 0 ] || fail "--check-config accepted a bad worker name"
grep -Eq "bad\.ini:3: \[sensor\.a\] worker = 'two words': expected a name" "$TEST_DIR/bad.out" ||
	fail "no FILE:LINE error for a bad worker name: $(cat "$TEST_DIR/bad.out")"
grep -Eq 'bad\.ini:8: \[sensor\.b\] worker has no effect with isolation = none' "$TEST_DIR/bad.out" ||
	fail "no warning for worker with isolation = none: $(cat "$TEST_DIR/bad.out")"
grep -Eq 'bad\.ini:13: \[action\.c\] worker = io: an action cannot share a worker' "$TEST_DIR/bad.out" ||
	fail "no FILE:LINE error for an action's worker: $(cat "$TEST_DIR/bad.out")"

# Warned: a member without a memory limit, a 17th member.
{
	printf '[sensor.nolimit]\nplugin = synthetic\nworker = big\nmemory_limit = 0\n\n'
	for i in $(seq 2 17); do
		printf '[sensor.m%d]\nplugin = synthetic\nworker = big\n\n' "$i"
	done
} >"$TEST_DIR/lint.ini"
check_config "$TEST_DIR/lint.ini" "$TEST_DIR/lint.out"
[ "$rc" -eq 0 ] || fail "--check-config refused what it should only warn about: $(cat "$TEST_DIR/lint.out")"
grep -Eq 'lint\.ini:1: \[sensor\.nolimit\] memory_limit = 0 leaves worker big, which it shares, without a memory limit' "$TEST_DIR/lint.out" ||
	fail "no warning for a shared worker without a memory limit: $(cat "$TEST_DIR/lint.out")"
grep -Eq '\[sensor\.m17\] worker = big: that worker serves 16 instances already' "$TEST_DIR/lint.out" ||
	fail "no warning for a 17th member: $(cat "$TEST_DIR/lint.out")"

pass
