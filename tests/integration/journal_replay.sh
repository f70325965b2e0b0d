#!/bin/bash
# The journal in state_dir brings vigild's incidents back across restarts,
# and a damaged journal does not keep vigild from starting.
#
# One state directory throughout; a file sink, "witness", records every
# incident event ever delivered, in order. Three synthetic sensors feed a
# threshold rule each: "a" holds a warning, "b" opens and resolves an
# incident every few readings (history), "c" holds a warning.
#
#  1. Run, stop (SIGTERM), restart with "a" escalating: the incident of
#     "a" escalates and resolves under the id it had, "c" stays open under
#     its id without a word, the replay notice counts the open incidents
#     and the history the witness saw, and every new incident gets an id
#     above every id used before.
#  2. Restart without sensor "c": its restored incident, never seen again,
#     is resolved once restore_grace has passed.
#  3. A record with a bad checksum appended to the journal: cut, logged,
#     and nothing before it lost (open incidents and ids go on).
#  4. The journal cut in the middle of its last record (the delivery of
#     the last event): cut, logged, and that event is delivered again.
#  5. A sink that cannot start (its directory is missing) across a
#     restart: the events it was owed are kept in the journal and
#     delivered, all and in order, once it works.
#  6. A file that is not a journal is moved aside to journal.corrupt-*
#     (a leftover journal.tmp removed), and vigild starts afresh.
#  7. A second vigild on the same state_dir refuses to run; so does one
#     of two started at the same moment on a new state_dir, ten times.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

STATE=$TEST_DIR/state
JOURNAL=$STATE/journal
WITNESS=$TEST_DIR/witness.jsonl
LATE_DIR=$TEST_DIR/late
LATE=$LATE_DIR/events.jsonl

# config FILE A_SEQUENCE [with-c] [with-late]: sensors a and b always,
# c (a constant 60) when asked, and the sink "late" first when asked.
config()
{
	local file=$1 a_seq=$2 with_c=${3:-} with_late=${4:-}

	cat >"$file" <<EOF
[incidents]
flap_window = 0
restore_grace = 2s

[daemon]
flush_interval = 100ms
journal_sync = always

[sensor.a]
plugin = synthetic
interval = 50ms
metric = test.a
shape = sequence
sequence = $a_seq

[sensor.b]
plugin = synthetic
interval = 50ms
metric = test.b
shape = sequence
sequence = 10 60 10

[rule.a]
plugin = threshold
match = test.a
warning = 50
critical = 90

[rule.b]
plugin = threshold
match = test.b
warning = 50
critical = 90

[rule.c]
plugin = threshold
match = test.c
warning = 50
critical = 90
EOF
	if [ "$with_c" = with-c ]; then
		cat >>"$file" <<EOF

[sensor.c]
plugin = synthetic
interval = 50ms
metric = test.c
shape = sequence
sequence = 60
EOF
	fi
	if [ "$with_late" = with-late ]; then
		cat >>"$file" <<EOF

[sink.late]
plugin = file
path = $LATE
fsync = always
EOF
	fi
	cat >>"$file" <<EOF

[sink.witness]
plugin = file
path = $WITNESS
fsync = always
EOF
}

config "$TEST_DIR/hold.ini" "60" with-c
config "$TEST_DIR/escalate.ini" "60 60 60 60 95 95 95 30 10 10" with-c
config "$TEST_DIR/no-c.ini" "60 60 60 60 95 95 95 30 10 10"
config "$TEST_DIR/late.ini" "60 60 60 60 95 95 95 30 10 10" with-c with-late

# witness SCRIPT [ARGS]: runs python on the witness's events, parsed into
# `ev` (a list of dicts), with helpers; exits 1 with what is wrong.
witness()
{
	local script=$1

	shift
	"$PYTHON" - "$WITNESS" "$@" <<EOF
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
args = sys.argv[2:]
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
    return cond
def state_at(n):
    """Open incidents {id: key} and resolved ids after the first n events."""
    opened, resolved = {}, set()
    for e in ev[:n]:
        if e["event"] == "opened":
            opened[e["id"]] = e["key"]
        elif e["event"] == "resolved":
            resolved.add(e["id"])
    return {i: k for i, k in opened.items() if i not in resolved}, resolved
$script
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
}

# count_events KEY EVENT [FROM_LINE]: events of KEY of that type after
# line FROM_LINE of the witness.
count_events()
{
	tail -n +$((${3:-0} + 1)) "$WITNESS" 2>/dev/null |
		grep -c "\"event\":\"$2\",\"id\":[0-9]*,\"key\":\"$1\""
}

# at_least N KEY EVENT [FROM_LINE]
at_least()
{
	[ "$(count_events "$2" "$3" "${4:-0}")" -ge "$1" ]
}

# journal_tail: "RECORDS OFFSET LENGTH TYPE" of the journal's last
# record (see core/journal.h), or "0 8 0 0" when it holds none.
journal_tail()
{
	"$PYTHON" - "$JOURNAL" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:4] == b"VGLJ", "not a journal"
off, n, last = 8, 0, (8, 0, 0)
while off + 12 <= len(d):
    length, typ = struct.unpack_from("<IB", d, off)
    if off + 12 + length > len(d):
        break
    last = (off, length, typ)
    off += 12 + length
    n += 1
assert off == len(d), f"trailing bytes at {off} of {len(d)}"
print(n, *last)
EOF
}

# The replay notice of the latest start: "OPEN HISTORY NEXT_ID".
replay_notice()
{
	sed -nE 's/.*journal .*: [0-9]+ record\(s\) replayed: ([0-9]+) open incident\(s\), ([0-9]+) in history, [0-9]+ silence\(s\); next incident id ([0-9]+).*/\1 \2 \3/p' \
		"$VIGILD_LOG" | tail -n 1
}

log_mark()
{
	count_lines "$VIGILD_LOG"
}

# new_log_has MARK PATTERN TIMEOUT: PATTERN in the log after line MARK.
new_log_has()
{
	wait_until "$3" "/$2/ in the log" _new_log_has "$1" "$2"
}

_new_log_has()
{
	tail -n +$(($1 + 1)) "$VIGILD_LOG" | grep -Eq -e "$2"
}

# ------------------------------------------------------------------ 1.
note "1. open incidents across a restart"
start_vigild "$TEST_DIR/hold.ini"
wait_until 20 "incidents a and c open, two of b resolved" \
	eval 'at_least 1 a opened && at_least 1 c opened && at_least 2 b resolved'
stop_vigild
[ -f "$JOURNAL" ] || fail "no journal at $JOURNAL"
[ ! -e "$JOURNAL.tmp" ] || fail "$JOURNAL.tmp left behind by a clean stop"
n1=$(count_lines "$WITNESS")
read -r id_a id_c max1 open1 hist1 < <(witness '
op, res = state_at(len(ev))
ids = {e["key"]: e["id"] for e in ev if e["event"] == "opened"}
print(ids["a"], ids["c"], max(e["id"] for e in ev), len(op), len(res))
') || fail "reading the witness"
note "incident a is #$id_a, c is #$id_c; highest id $max1; $open1 open, $hist1 resolved"

mark=$(log_mark)
start_vigild "$TEST_DIR/escalate.ini"
new_log_has "$mark" 'journal .*: [0-9]+ record\(s\) replayed' 20
wait_until 20 "incident a to resolve and a new one of a to open" \
	eval "at_least 1 a resolved $n1 && at_least 1 a opened $n1"
stop_vigild
read -r r_open r_hist r_next < <(replay_notice)
[ "$r_open" = "$open1" ] ||
	fail "replay restored $r_open open incident(s); the witness had $open1"
[ "$r_hist" = "$hist1" ] ||
	fail "replay restored $r_hist resolved incident(s) in history; the witness had $hist1"
[ "$r_next" -gt "$max1" ] ||
	fail "after replay the next incident id is $r_next; $max1 was used already"
witness '
n1, id_a, id_c, max1 = map(int, args)
after = ev[n1:]
a = [e for e in after if e["key"] == "a"]
check(a and a[0]["event"] == "escalated" and a[0]["id"] == id_a,
      f"first event of a after the restart: {a[:1]}, expected escalated #{id_a}")
life = [e["event"] for e in a if e["id"] == id_a]
check(life[-1:] == ["resolved"] and "opened" not in life,
      f"incident #{id_a} after the restart went {life}")
c = [(e["event"], e["id"]) for e in after if e["key"] == "c"]
check(not c, f"incident c (#{id_c}) was restored open; yet after the restart: {c}")
new = [e["id"] for e in after if e["event"] == "opened"]
check(new and min(new) > max1,
      f"incidents opened after the restart got ids {new}; {max1} was used before")
opened = [e["id"] for e in ev if e["event"] == "opened"]
check(opened == sorted(set(opened)), f"opened ids not strictly increasing: {opened}")
' "$n1" "$id_a" "$id_c" "$max1" || fail "incidents were not restored as they were (see above)"
note "a escalated and resolved as #$id_a after the restart; c stayed open as #$id_c; new ids from $r_next"

# ------------------------------------------------------------------ 2.
note "2. a restored incident whose condition never comes back"
n2=$(count_lines "$WITNESS")
mark=$(log_mark)
start_vigild "$TEST_DIR/no-c.ini"
new_log_has "$mark" "incident #$id_c c resolved: its condition was not seen again" 20
wait_for "$WITNESS" "\"event\":\"resolved\",\"id\":$id_c,\"key\":\"c\"" 20
stop_vigild
[ "$(count_events c opened "$n2")" -eq 0 ] || fail "incident c opened again without its sensor"

# ------------------------------------------------------------------ 3.
note "3. a bad record at the end of the journal"
read -r recs _ _ _ < <(journal_tail) || fail "the journal is not whole after a clean stop"
size=$(stat -c %s "$JOURNAL")
read -r _ _ max3 < <(witness 'print(0, 0, max(e["id"] for e in ev))')
# A whole record, 16 bytes of payload, whose checksum is wrong: what a
# flipped bit looks like.
"$PYTHON" -c '
import struct, sys
with open(sys.argv[1], "ab") as f:
    f.write(struct.pack("<IB3xI", 16, 1, 0x12345678) + b"x" * 16)
' "$JOURNAL"
n3=$(count_lines "$WITNESS")
mark=$(log_mark)
start_vigild "$TEST_DIR/escalate.ini"
new_log_has "$mark" "journal $JOURNAL: record $((recs + 1)) at offset $size: stored checksum 0x12345678.*; cut 28 bytes, kept the $recs records before it" 20
new_log_has "$mark" "vigild .* running" 20
wait_until 20 "a new incident of a" at_least 1 a opened "$n3"
stop_vigild
witness '
n3, max3 = map(int, args)
new = [e["id"] for e in ev[n3:] if e["event"] == "opened"]
check(new and min(new) > max3, f"ids {new} after the cut; {max3} was used before")
opened = [e["id"] for e in ev if e["event"] == "opened"]
check(opened == sorted(set(opened)), f"opened ids not strictly increasing: {opened}")
' "$n3" "$max3" || fail "state was lost with the bad record"

# ------------------------------------------------------------------ 4.
note "4. the journal ends in the middle of a record"
read -r recs off len type < <(journal_tail) || fail "the journal is not whole after a clean stop"
cut_at=$((off + 12 + len / 2))
truncate -s "$cut_at" "$JOURNAL"
last_line=$(tail -n 1 "$WITNESS")
n4=$(count_lines "$WITNESS")
mark=$(log_mark)
start_vigild "$TEST_DIR/escalate.ini"
new_log_has "$mark" "journal $JOURNAL: record $recs at offset $off: the file ends inside a record of $((12 + len)) bytes \($((cut_at - off)) of them there\); cut $((cut_at - off)) bytes, kept the $((recs - 1)) records before it" 20
new_log_has "$mark" "vigild .* running" 20
wait_until 20 "an event after the restart" eval '[ "$(count_lines "$WITNESS")" -gt "$n4" ]'
# Type 5 is the pipeline's "delivered" record (core/pipeline.c): at a
# clean stop the last record says the witness took the last event. Cut,
# it was not said: the event is delivered again, before anything new.
if [ "$type" = 5 ]; then
	again=$(sed -n "$((n4 + 1))p" "$WITNESS")
	[ "$again" = "$last_line" ] ||
		fail "the event whose delivery record was cut was not delivered again first: got $again, expected $last_line"
	note "the event whose delivery record was cut was delivered again"
else
	note "the journal's last record was of type $type, not a delivery: not checking redelivery"
fi
stop_vigild

# ------------------------------------------------------------------ 5.
note "5. a sink that is down keeps its events across a restart"
n5=$(count_lines "$WITNESS")
start_vigild "$TEST_DIR/late.ini"
wait_for "$VIGILD_LOG" '\[sink\.late\] will retry in' 20
wait_until 20 "four events for the sink that is down" \
	eval '[ "$(count_lines "$WITNESS")" -ge $((n5 + 4)) ]'
stop_vigild
[ ! -e "$LATE" ] || fail "$LATE exists before its directory"
n5b=$(count_lines "$WITNESS")
mark=$(log_mark)
start_vigild "$TEST_DIR/late.ini"
new_log_has "$mark" "journal: [0-9]+ undelivered incident event\(s\) queued again for delivery" 20
wait_until 20 "two events after the restart" \
	eval '[ "$(count_lines "$WITNESS")" -ge $((n5b + 2)) ]'
mkdir "$LATE_DIR"
new_log_has "$mark" '\[sink\.late\] started after [0-9]+ failed attempt' 30
new_log_has "$mark" '\[sink\.late\] delivering again: [0-9]+ delayed' 30
stop_vigild
"$PYTHON" - "$LATE" "$WITNESS" "$n5" "$n5b" <<'EOF' || fail "events owed to the sink that was down were lost or reordered"
import sys
late = open(sys.argv[1]).read().splitlines()
witness = open(sys.argv[2]).read().splitlines()
n5, n5b = int(sys.argv[3]), int(sys.argv[4])
want = witness[n5:]
print(f"{n5b - n5} event(s) owed across the restart, {len(want)} in all")
if late != want:
    print(f"  the sink got {len(late)} line(s), the witness {len(want)} since it was configured")
    for i, (x, y) in enumerate(zip(late, want)):
        if x != y:
            print(f"  line {i + 1}:\n    {x}\n    {y}")
            break
    sys.exit(1)
EOF

# ------------------------------------------------------------------ 6.
note "6. a journal that is not a journal"
rm -rf "$LATE_DIR"
"$PYTHON" -c '
import os, sys
open(sys.argv[1], "wb").write(b"this is no journal\n" + os.urandom(200))
open(sys.argv[2], "wb").write(b"half a compaction")
' "$JOURNAL" "$JOURNAL.tmp"
cp "$JOURNAL" "$TEST_DIR/not-a-journal"
mark=$(log_mark)
start_vigild "$TEST_DIR/escalate.ini"
new_log_has "$mark" "journal $JOURNAL: not a journal \(a file of 219 bytes starting 74 68 69 73; expected the magic \"VGLJ\"\): moved to $JOURNAL\.corrupt-" 20
new_log_has "$mark" "vigild .* running" 20
new_log_has "$mark" "removed $JOURNAL\.tmp, left by a compaction" 1
n_corrupt=0
for f in "$JOURNAL".corrupt-*; do
	[ -f "$f" ] || continue
	cmp -s "$f" "$TEST_DIR/not-a-journal" || fail "$f is not the file that was moved aside"
	n_corrupt=$((n_corrupt + 1))
done
[ "$n_corrupt" -eq 1 ] || fail "$n_corrupt file(s) $JOURNAL.corrupt-*, expected 1"
[ ! -e "$JOURNAL.tmp" ] || fail "$JOURNAL.tmp is still there"
[ "$(head -c 4 "$JOURNAL")" = VGLJ ] || fail "no new journal at $JOURNAL"

# ------------------------------------------------------------------ 7.
note "7. a second vigild on the same state_dir"
SECOND_LOG=$TEST_DIR/second.log
# (Its own control socket: the journal's lock is what must stop it.)
"$VIGILD" -c "$TEST_DIR/escalate.ini" -p "$VIGIL_TEST_PLUGIN_PATH" \
	-s "$STATE" -S "$TEST_DIR/second.sock" >"$SECOND_LOG" 2>&1 &
second=$!
track_pid "$second"
second_gone()
{
	! kill -0 "$second" 2>/dev/null
}
wait_until 20 "the second vigild to give up" second_gone
wait "$second"
rc=$?
[ "$rc" -ne 0 ] || fail "a second vigild on the same state_dir exited 0"
grep -Eq "$JOURNAL is in use by another vigild" "$SECOND_LOG" || {
	cat "$SECOND_LOG"
	fail "the second vigild did not say that the state_dir is in use"
}
! grep -q "running:" "$SECOND_LOG" || fail "the second vigild ran"
vigild_alive || fail "the first vigild died when the second one started"
note "the second vigild exited with status $rc: $(grep -m1 'in use by another vigild' "$SECOND_LOG")"
stop_vigild

# Two at once, on a state_dir with no journal yet: each would create it,
# compact it, and remove what it takes for the other's leftover journal.tmp.
for ((i = 1; i <= 10; i++)); do
	dir=$TEST_DIR/race-$i
	mkdir "$dir"
	pids=()
	for who in 1 2; do
		"$VIGILD" -c "$TEST_DIR/escalate.ini" -p "$VIGIL_TEST_PLUGIN_PATH" \
			-s "$dir/state" -S "$dir/$who.sock" >"$dir/$who.log" 2>&1 &
		pids+=($!)
		track_pid "$!"
	done
	one_gone()
	{
		! kill -0 "${pids[0]}" 2>/dev/null || ! kill -0 "${pids[1]}" 2>/dev/null
	}
	wait_until 20 "one of two vigild started at once on $dir/state to give up" one_gone
	if kill -0 "${pids[0]}" 2>/dev/null; then
		alive=1 gone=2 alive_pid=${pids[0]} gone_pid=${pids[1]}
	else
		alive=2 gone=1 alive_pid=${pids[1]} gone_pid=${pids[0]}
	fi
	wait "$gone_pid"
	rc=$?
	[ "$rc" -ne 0 ] && grep -q "is in use by another vigild" "$dir/$gone.log" || {
		cat "$dir/$gone.log"
		fail "of two vigild started at once on $dir/state, one exited with status $rc without saying the state_dir is in use"
	}
	running_in_dir()
	{
		grep -q "running:" "$dir/$alive.log"
	}
	wait_until 20 "the other vigild on $dir/state to run" running_in_dir
	! grep -Eq "running without a journal|cannot put|compaction failed|removed .*journal\.tmp" "$dir/$alive.log" || {
		cat "$dir/$alive.log"
		fail "the vigild that ran on $dir/state had trouble with its journal"
	}
	kill -TERM "$alive_pid"
	alive_gone()
	{
		! kill -0 "$alive_pid" 2>/dev/null
	}
	wait_until 20 "vigild on $dir/state to stop" alive_gone
	wait "$alive_pid" || fail "vigild on $dir/state exited with status $? on SIGTERM"
done
note "of two vigild started at once, one refused, ten times out of ten"

pass "incidents, ids and undelivered events survived restarts; a torn tail, a bad record and a foreign file were handled; one vigild per state_dir"
