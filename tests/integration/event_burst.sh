#!/bin/bash
# A burst of incident events bigger than a sink's 10000-event queue, all
# made in one turn of vigild's loop, reaches a sink in a worker whole: a
# running sink's worker takes a burst as big as the series vigild can
# have (pipeline.c, queue_cap). 12000 series cross a threshold at the same
# read; the file sink, in its worker, must write all 12000 openings, and
# nothing may be given up.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99

N=12000
EVENTS=$TEST_DIR/events.jsonl

cat >"$TEST_DIR/vigil.ini" <<EOF
[daemon]
flush_interval = 100ms

; Inside vigild, as etc/vigil.ini runs its cpu, memory and load sensors:
; a read's readings all go through the pipeline at once. (A sensor in a
; worker is read 256 KiB of readings per turn, 8192, fewer than the
; queue holds anyway.)
[sensor.many]
plugin = synthetic
isolation = none
interval = 500ms
metric = test.value
shape = sequence
sequence = 10 60 60 60 60 60 60 60 60 60
count = $N

[rule.hot]
plugin = threshold
isolation = none
match = test.value
warning = 50

[sink.events]
plugin = file
path = $EVENTS
fsync = never
EOF

start_vigild "$TEST_DIR/vigil.ini"
all_opened()
{
	local n
	n=$(grep -c '"event":"opened"' "$EVENTS" 2>/dev/null)
	[ "${n:-0}" -ge "$N" ]
}
wait_until 60 "$N incidents opened at the file sink" all_opened
stop_vigild

grep -E 'giving up|gave up' "$VIGILD_LOG" &&
	fail "events were given up in a burst a running sink could take"
grep -qE 'stopped: .*, 0 given up' "$VIGILD_LOG" ||
	fail "the shutdown line does not say 0 given up: $(grep 'stopped:' "$VIGILD_LOG")"
opened=$(grep -c '"event":"opened"' "$EVENTS")
[ "$opened" -eq "$N" ] || fail "$opened incidents opened at the sink, expected $N"

pass "$N incident events in one burst reached a sink in a worker, none given up"
