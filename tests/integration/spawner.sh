#!/bin/bash
# Workers are forked by the spawner (core/spawner.c), a small process the
# core forks once at start, and yet are the core's own children; if the
# spawner dies, the core forks them itself and nothing else changes.
#
# [sensor.crashy] segfaults on its 3rd read (a sanitizer build exits
# instead: any death will do), forever (restarts cheap and
# unlimited); [sensor.synthetic] and the file sink [sink.out] are the
# healthy chain. The test asserts:
#   1. one child of vigild is named vigild-spawner; the workers are
#      children of vigild, not of the spawner, and were forked by it;
#   2. the spawner ignores the terminal's signals (SIGINT, SIGTERM,
#      SIGHUP): the core stops it by closing its socket;
#   3. kill -9 of the spawner: one warning, vigild stays up, the crashing
#      worker is still restarted (forked by the core now) and readings keep
#      arriving;
#   4. a second vigild's spawner is gone (not a zombie) after SIGTERM;
#   5. with two worker processes (a group counted once) there is no
#      spawner: the core forks them.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99

command -v ps >/dev/null || skip "ps (procps) is needed"

OUT=$TEST_DIR/out.jsonl
cat >"$TEST_DIR/vigil.ini" <<EOF
[daemon]
log_level = debug
flush_interval = 100ms

[sensor.crashy]
plugin = crashy
interval = 50ms
mode = segv
after = 3
restart_delay = 20ms
restart_delay_max = 50ms
max_restarts = 64
restart_window = 1s

[sensor.synthetic]
plugin = synthetic
interval = 50ms

[sink.out]
plugin = file
path = $OUT
metrics = yes
fsync = never
EOF

# children PID: "PID COMM" of each child of PID.
children()
{
	ps --ppid "$1" -o pid=,comm= 2>/dev/null | awk '{print $1, $2}'
}

spawner_of()
{
	children "$1" | awk '$2 == "vigild-spawner" {print $1}'
}

crash_count()
{
	grep -Ec '\[sensor\.crashy\] worker [0-9]+ died: ' \
		"$VIGILD_LOG"
}

start_vigild "$TEST_DIR/vigil.ini"
wait_for "$VIGILD_LOG" 'vigild .* running:' 20
wait_for "$VIGILD_LOG" '\[sensor\.crashy\] worker [0-9]+ died: ' 20

# --- 1. one spawner; the workers are the core's children, forked by it
spawners=$(spawner_of "$VIGILD_PID")
[ "$(echo "$spawners" | grep -c .)" -eq 1 ] ||
	fail "expected one vigild-spawner child of vigild, found: '$spawners'"
SPAWNER=$spawners
workers=$(children "$VIGILD_PID" | awk '$2 != "vigild-spawner" {print $1}')
[ "$(echo "$workers" | grep -c .)" -ge 2 ] ||
	fail "expected the workers as children of vigild, found: '$(children "$VIGILD_PID")'"
[ -z "$(children "$SPAWNER")" ] ||
	fail "the spawner has children of its own: '$(children "$SPAWNER")'"
for w in $workers; do
	# The core logs it just after the fork: ps may have seen it first.
	wait_for "$VIGILD_LOG" "worker $w forked by the spawner" 5
done
grep -Eq 'forked by the core' "$VIGILD_LOG" &&
	fail "a worker was forked by the core while the spawner ran"
note "spawner $SPAWNER; workers $(echo $workers)"

# --- 2. the terminal's signals are not its business
sigign=$(awk '/^SigIgn:/ {print $2}' "/proc/$SPAWNER/status")
for sig in 1 2 15; do
	(( (16#$sigign >> (sig - 1)) & 1 )) ||
		fail "the spawner does not ignore signal $sig (SigIgn $sigign)"
done

# --- 3. kill -9 the spawner: vigild goes on, forking workers itself
before=$(crash_count)
kill -KILL "$SPAWNER"
wait_for "$VIGILD_LOG" "worker spawner $SPAWNER died: killed by signal 9 \(SIGKILL\); workers are forked by the core" 20
[ "$(grep -c 'worker spawner .* died' "$VIGILD_LOG")" -eq 1 ] ||
	fail "expected one warning about the spawner's death"
more_crashes()
{
	[ "$(crash_count)" -ge $((before + 3)) ]
}
wait_until 30 "3 more crashes of [sensor.crashy] after the spawner died" more_crashes
wait_for "$VIGILD_LOG" '\[sensor\.crashy\] worker [0-9]+ forked by the core' 5
[ -z "$(spawner_of "$VIGILD_PID")" ] || fail "a spawner still runs after kill -9"
lines=$(count_lines "$OUT")
more_readings()
{
	[ "$(count_lines "$OUT")" -ge $((lines + 20)) ]
}
wait_until 20 "20 more readings at the sink after the spawner died" more_readings
stop_vigild

# --- 4. a clean stop takes the spawner with it
: >"$VIGILD_LOG"
start_vigild "$TEST_DIR/vigil.ini"
wait_for "$VIGILD_LOG" 'vigild .* running:' 20
SPAWNER=$(spawner_of "$VIGILD_PID")
[ -n "$SPAWNER" ] || fail "no spawner in the second run"
stop_vigild
if [ -e "/proc/$SPAWNER" ]; then
	fail "spawner $SPAWNER outlived vigild: $(cat /proc/$SPAWNER/status | head -3 | tr '\n' ' ')"
fi

# --- 5. two worker processes (a group of three counts as one): no
# spawner, the core forks them (it pays for itself from three on).
: >"$VIGILD_LOG"
{
	printf '[daemon]\nlog_level = debug\n\n'
	for s in a b c; do
		printf '[sensor.%s]\nplugin = synthetic\nworker = g\ninterval = 50ms\n\n' "$s"
	done
	printf '[sensor.d]\nplugin = synthetic\ninterval = 50ms\n'
} >"$TEST_DIR/two.ini"
start_vigild "$TEST_DIR/two.ini"
wait_for "$VIGILD_LOG" 'vigild .* running:' 20
for s in a b c d; do
	grep -Eq "\[sensor\.$s\] worker [0-9]+ forked by the core" "$VIGILD_LOG" ||
		fail "[sensor.$s]'s worker was not forked by the core"
done
[ -z "$(spawner_of "$VIGILD_PID")" ] ||
	fail "a spawner runs for two worker processes"
[ "$(children "$VIGILD_PID" | grep -c .)" -eq 2 ] ||
	fail "expected two workers, found: '$(children "$VIGILD_PID")'"
stop_vigild
pass
