#!/bin/bash
# vigild speaks systemd's notify protocol (sd_notify(3)) the way a
# Type=notify unit with WatchdogSec= expects: the test plays systemd, with
# a datagram socket of its own as NOTIFY_SOCKET.
#
#  1. WATCHDOG_USEC=200000, WATCHDOG_PID = vigild's pid: READY=1 arrives
#     with a STATUS= line of the instance counts; a sink whose init fails
#     at first (its directory is missing) makes it "2 of 4 running", and
#     once it starts a new STATUS= says "3 of 4 running"; a sensor whose
#     init always fails (no thermal zone) is retried without a STATUS= at
#     each retry; WATCHDOG=1 keeps arriving while vigild runs; SIGTERM
#     brings STOPPING=1, and vigild exits 0.
#  2. WATCHDOG_PID names another process: the keep-alives are not this
#     vigild's to send, and none arrives; READY=1 still does.
#
# The listener writes each datagram as one line, its assignments joined
# by " | ".
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

grep -q '^#define HAVE_SYSTEMD 1' "$VIGIL_BUILDDIR/config.h" 2>/dev/null ||
	skip "vigild is built without libsystemd: it does not notify"

SOCK=$TEST_DIR/notify.sock
MSGS=$TEST_DIR/notify.log
# sun_path holds 108 bytes.
[ ${#SOCK} -lt 100 ] || skip "the test directory's path is too long for a socket: $SOCK"

# start_listener: binds $SOCK and appends each datagram to $MSGS.
start_listener()
{
	rm -f "$SOCK"
	: >"$MSGS"
	"$PYTHON" - "$SOCK" "$MSGS" <<'EOF' &
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        data = sock.recv(65536).decode("utf-8", "replace")
        out.write(" | ".join(data.strip("\n").split("\n")) + "\n")
        out.flush()
EOF
	LISTENER_PID=$!
	track_pid "$LISTENER_PID"
	wait_until 10 "the notify socket $SOCK" test -S "$SOCK"
}

stop_listener()
{
	kill_pid "$LISTENER_PID"
}

# vigild through a wrapper that sets WATCHDOG_PID to the pid it then
# execs vigild with, as systemd does; WATCHDOG_PID_OF=other gives it
# another process's pid (this shell's) instead.
REAL_VIGILD=$VIGILD
VIGILD=$TEST_DIR/vigild-wrapper
cat >"$VIGILD" <<'EOF'
#!/bin/sh
if [ "$WATCHDOG_PID_OF" = other ]; then
	WATCHDOG_PID=$PPID
else
	WATCHDOG_PID=$$
fi
export WATCHDOG_PID
exec "$REAL_VIGILD" "$@"
EOF
chmod +x "$VIGILD"
export REAL_VIGILD NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=200000

LATE_DIR=$TEST_DIR/late
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
sequence = 10 60 10

[rule.hot]
plugin = threshold
match = test.value
warning = 50

; Never starts (no thermal zone under its root): retried after 1s, 2s, 4s.
[sensor.never]
plugin = thermal
root = $TEST_DIR/empty-root

[sink.late]
plugin = file
path = $LATE_DIR/events.jsonl
fsync = always
EOF

count_msgs()
{
	grep -Ec -e "$1" "$MSGS" 2>/dev/null || :
}

# --- 1. notified, and watched
mkdir -p "$TEST_DIR/empty-root"
start_listener
WATCHDOG_PID_OF=self start_vigild "$TEST_DIR/vigil.ini" -v
wait_for "$MSGS" '^READY=1 \| STATUS=' 20
wait_for "$MSGS" '^READY=1 \| STATUS=2 sensors, 1 rule, 0 actions, 1 sink; 2 of 4 running$' 1
wait_for "$VIGILD_LOG" '\[sink\.late\] will retry in' 20
mkdir "$LATE_DIR"
wait_for "$VIGILD_LOG" '\[sink\.late\] started after [0-9]+ failed attempt' 30
wait_for "$MSGS" '^STATUS=2 sensors, 1 rule, 0 actions, 1 sink; 3 of 4 running$' 20
wait_for "$VIGILD_LOG" 'systemd watchdog: a keep-alive every 100 ms' 1
# libsystemd is loaded for each message and unloaded after it (notify.c):
# the keep-alives go every 100 ms here, each load lasting about a
# millisecond, so of 10 looks at the maps 30 ms apart at least one finds
# it gone; kept loaded, none would.
unmapped=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
	grep -q 'libsystemd\.so' "/proc/$VIGILD_PID/maps" ||
		unmapped=$((unmapped + 1))
	sleep 0.03
done
[ "$unmapped" -gt 0 ] ||
	fail "libsystemd stays mapped between notifications"
note "libsystemd unmapped at $unmapped of 10 looks"
n0=$(count_msgs '^WATCHDOG=1$')
several_more_keepalives()
{
	[ "$(count_msgs '^WATCHDOG=1$')" -ge $((n0 + 3)) ]
}
wait_until 20 "3 more WATCHDOG=1 while vigild runs" several_more_keepalives
# Its retries (each a worker that starts, then fails init) came and went
# meanwhile: the one STATUS= update is checked below.
wait_for "$VIGILD_LOG" '\[sensor\.never\] will retry in 2s' 20
note "$(count_msgs '^WATCHDOG=1$') keep-alive(s) so far"
stop_vigild
wait_for "$MSGS" '^STOPPING=1( \||$)' 10
stop_listener
[ "$(count_msgs '^READY=1')" -eq 1 ] || fail "READY=1 was sent $(count_msgs '^READY=1') times, expected once"
# STATUS= is sent when the number running changes, not on every turn.
[ "$(count_msgs '^STATUS=')" -eq 1 ] ||
	fail "expected one STATUS= update (3 of 4 running), got: $(grep -E '^STATUS=' "$MSGS")"
first=$(head -n 1 "$MSGS")
case $first in
READY=1*) ;;
*) fail "the first message is '$first', expected READY=1" ;;
esac
# Nothing follows STOPPING=1: no keep-alive once the loop has stopped.
tail -n 1 "$MSGS" | grep -Eq '^STOPPING=1' ||
	fail "the last message is '$(tail -n 1 "$MSGS")', expected STOPPING=1"
cp "$MSGS" "$TEST_DIR/notify-1.log"

# --- 2. WATCHDOG_PID is another process: no keep-alives
: >"$VIGILD_LOG"
rm -f "$LATE_DIR/events.jsonl"
start_listener
WATCHDOG_PID_OF=other start_vigild "$TEST_DIR/vigil.ini" -v
wait_for "$MSGS" '^READY=1 \| STATUS=2 sensors, 1 rule, 0 actions, 1 sink; 3 of 4 running$' 20
# Let the loop turn a while: until an incident has opened and resolved.
wait_for "$LATE_DIR/events.jsonl" '"event":"resolved"' 20
stop_vigild
wait_for "$MSGS" '^STOPPING=1' 10
stop_listener
[ "$(count_msgs '^WATCHDOG=1$')" -eq 0 ] ||
	fail "WATCHDOG=1 sent although WATCHDOG_PID names another process"
! grep -q 'systemd watchdog' "$VIGILD_LOG" ||
	fail "vigild took WATCHDOG_USEC for itself although WATCHDOG_PID is not its pid"

# --- 3. no systemd to talk to: libsystemd is never loaded
# (core/notify.c dlopen()s it only for NOTIFY_SOCKET or WATCHDOG_USEC.)
maps_of_tree()
{
	cat "/proc/$VIGILD_PID/maps" 2>/dev/null
	for c in $(ps --ppid "$VIGILD_PID" -o pid= 2>/dev/null); do
		cat "/proc/$c/maps" 2>/dev/null
	done
}
: >"$VIGILD_LOG"
rm -f "$LATE_DIR/events.jsonl"
unset NOTIFY_SOCKET WATCHDOG_USEC
WATCHDOG_PID_OF=self start_vigild "$TEST_DIR/vigil.ini"
wait_for "$LATE_DIR/events.jsonl" '"event":"resolved"' 20
maps_of_tree | grep -q 'libsystemd' &&
	fail "vigild mapped libsystemd with no NOTIFY_SOCKET: $(maps_of_tree | grep -m1 libsystemd)"
stop_vigild
export NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=200000

# --- 4. told to notify, but libsystemd.so.0 is unusable: one warning, and
# vigild runs on. A library without sd_notify stands in for it.
other_lib=$(ldd "$REAL_VIGILD" 2>/dev/null | awk '/libinih/ { print $3 }')
if [ -n "$other_lib" ] && [ -e "$other_lib" ]; then
	mkdir -p "$TEST_DIR/badlib"
	ln -sf "$other_lib" "$TEST_DIR/badlib/libsystemd.so.0"
	: >"$VIGILD_LOG"
	rm -f "$LATE_DIR/events.jsonl"
	start_listener
	LD_LIBRARY_PATH=$TEST_DIR/badlib WATCHDOG_PID_OF=self \
		start_vigild "$TEST_DIR/vigil.ini"
	wait_for "$LATE_DIR/events.jsonl" '"event":"resolved"' 20
	[ "$(grep -c 'libsystemd.so.0 cannot be used (sd_notify or sd_watchdog_enabled missing)' "$VIGILD_LOG")" -eq 1 ] ||
		fail "expected one warning about the unusable libsystemd.so.0, log: $(cat "$VIGILD_LOG")"
	stop_vigild
	stop_listener
	[ ! -s "$MSGS" ] || fail "notifications without libsystemd: $(cat "$MSGS")"
	bad_lib="; an unusable libsystemd.so.0: one warning, no notification, vigild runs on"
else
	note "libinih not found with ldd: the unusable-libsystemd case is skipped"
fi

pass "READY=1 with STATUS=, one STATUS= update when a sink started late, $(grep -c '^WATCHDOG=1$' "$TEST_DIR/notify-1.log") keep-alive(s) while running, STOPPING=1 on SIGTERM, exit 0; no keep-alive for another WATCHDOG_PID; libsystemd mapped only while a message is sent, never without NOTIFY_SOCKET${bad_lib:-}"
