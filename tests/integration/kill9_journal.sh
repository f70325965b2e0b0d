#!/bin/bash
# kill -9 at random moments loses no incident, acknowledgement or silence,
# and reuses no id.
#
# vigild runs with journal_sync = always while fast synthetic sensors open,
# escalate, de-escalate and resolve incidents several times a second, and
# "steady" holds one incident open throughout. A file sink with fsync =
# always, the witness, records every event delivered. Beside vigild a
# client acknowledges open incidents (steady's first), and adds and
# removes silences (of keys that never occur), with vigilctl; it notes
# each request vigild confirmed (and each removal it attempted).
#
#  A. In a bounded loop vigild is killed with SIGKILL after a random delay
#     (one in five within its first 40 ms, while it replays and compacts
#     the journal) and started again on the same state_dir.
#  B. When strace can inject signals: vigild is killed at its Nth journal
#     write (strace -e inject=pwritev:signal=KILL:when=N), for N at the
#     start, middle and end of the compaction at open and for 20 writes in
#     a row after it: kills between any two records, not only where the
#     clock happens to fall.
#
# After each kill, journal_dump replays a copy of the journal with the
# pipeline's own code (what the next vigild restores) and this must hold:
#   - every incident the witness saw open is in the journal, under its
#     key: open, or resolved with its resolution owed to the witness;
#   - every incident open in the journal was announced: the witness has
#     its "opened", or the journal still owes it to the witness; every
#     resolved one the witness saw opened, the witness saw resolved or is
#     owed that;
#   - the next incident id is above every id the witness saw, the next
#     silence id above every id vigilctl was given;
#   - steady's incident is open under the id it got first, acknowledged
#     once vigilctl acknowledged it;
#   - every silence added (and not since a removal was attempted) is
#     there, none whose removal was confirmed.
# At the end a clean run with every value back to normal resolves what is
# open. Then over the whole witness, duplicates aside (delivery is at
# least once: an event delivered just before a kill may come again):
#   - opened ids strictly increase, across every restart;
#   - an id is one incident: one key, one creation time;
#   - per key, incidents follow each other: no incident opens while
#     another of its key is open, no event names an incident that is not
#     the open one of its key;
#   - every incident opened was resolved, steady's only at the end;
#   - every acknowledgement vigilctl was told of reached the witness;
# and vigilctl lists the silences that should be there.
#
# KILL9_ITERATIONS (20) sets the number of random kills; KILL9_SEED seeds
# the delays (printed, to replay a failing run).
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

DUMP=$VIGIL_BUILDDIR/tests/integration/journal_dump
[ -x "$DUMP" ] || { echo "ERROR: $TEST_NAME: no $DUMP (make check builds it)"; exit 99; }
VIGILCTL=$VIGIL_BUILDDIR/vigilctl
[ -x "$VIGILCTL" ] || { echo "ERROR: $TEST_NAME: no vigilctl at $VIGILCTL"; exit 99; }

ITERATIONS=${KILL9_ITERATIONS:-20}
SEED=${KILL9_SEED:-$$}
RANDOM=$SEED
STATE=$TEST_DIR/state
JOURNAL=$STATE/journal
WITNESS=$TEST_DIR/witness.jsonl
SOCK=$TEST_DIR/control.sock # start_vigild's
CTL_LOG=$TEST_DIR/ctl.log   # what vigild confirmed to the client
: >"$CTL_LOG"

# config FILE STEADY FAST1 FAST2 FAST3: the sequences of the sensors.
config()
{
	cat >"$1" <<EOF
[incidents]
flap_window = 0

[daemon]
flush_interval = 100ms
journal_sync = always

[sensor.steady]
plugin = synthetic
interval = 50ms
metric = test.steady
shape = sequence
sequence = $2

[sensor.fast1]
plugin = synthetic
interval = 20ms
metric = test.fast1
shape = sequence
sequence = $3

[sensor.fast2]
plugin = synthetic
interval = 30ms
metric = test.fast2
shape = sequence
sequence = $4

[sensor.fast3]
plugin = synthetic
interval = 50ms
metric = test.fast3
shape = sequence
sequence = $5

[rule.steady]
plugin = threshold
match = test.steady
warning = 50
critical = 90

[rule.fast1]
plugin = threshold
match = test.fast1
warning = 50
critical = 90

[rule.fast2]
plugin = threshold
match = test.fast2
warning = 50
critical = 90

[rule.fast3]
plugin = threshold
match = test.fast3
warning = 50
critical = 90

[sink.witness]
plugin = file
path = $WITNESS
fsync = always
EOF
}

config "$TEST_DIR/run.ini" "60" "10 60 95 95 60 10" \
	"60 60 95 10 10 10 60 95 95 10" "10 10 60 60 60 10 60 10"
config "$TEST_DIR/clear.ini" "10" "10" "10" "10"

# The client, for one run of vigild: until killed or 10 s have passed,
# every 20 ms: acknowledge the newest incident open for the witness that
# it has not acknowledged (steady's first); every 4th turn add a silence,
# every 6th remove the oldest one. Appends to CTL_LOG "ack ID", "add ID",
# "rm-try ID" (before the request), "rm ID"; one write() each.
cat >"$TEST_DIR/client.py" <<'EOF'
import json, os, re, subprocess, sys, time

ctl, sock, witness, log_path = sys.argv[1:5]
end = time.monotonic() + 10
acked, live = set(), []
for l in open(log_path).read().splitlines():
    what, i = l.split()
    if what == "ack":
        acked.add(int(i))
    elif what == "add":
        live.append(int(i))
    elif what == "rm-try":
        live.remove(int(i))
log = open(log_path, "a")
def note(what, i):
    log.write(f"{what} {i}\n")
    log.flush()
def call(*args):
    p = subprocess.run([ctl, "--socket", sock, "--json", "--timeout", "2s", *args],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p.returncode, p.stdout
ev = re.compile(r'"event":"(\w+)","id":(\d+),"key":"(\w+)"')
turn = 0
while time.monotonic() < end:
    turn += 1
    try:
        text = open(witness).read()
    except FileNotFoundError:
        text = ""
    opened, steady = {}, None
    for e, i, k in ev.findall(text):
        i = int(i)
        if e == "opened":
            opened[i] = k
            if k == "steady" and steady is None:
                steady = i
        elif e == "resolved":
            opened.pop(i, None)
    todo = sorted(i for i in opened if i not in acked)
    if todo:
        i = steady if steady in todo else todo[-1]
        rc, _ = call("ack", str(i), "--comment", "kill9")
        if rc == 0:
            acked.add(i)
            note("ack", i)
        elif rc == 1:
            acked.add(i)  # resolved meanwhile, or acknowledged already
    if turn % 4 == 0:
        rc, out = call("silence", "add", "--match", f"key=ghost-{turn}", "--for", "1h")
        if rc == 0:
            i = json.loads(out)["silence"]["id"]
            live.append(i)
            note("add", i)
    if turn % 6 == 0 and live:
        i = live.pop(0)
        note("rm-try", i)
        rc, _ = call("silence", "rm", str(i))
        if rc == 0:
            note("rm", i)
    time.sleep(0.02)
EOF

CLIENT_PID=
start_client()
{
	"$PYTHON" "$TEST_DIR/client.py" "$VIGILCTL" "$SOCK" "$WITNESS" \
		"$CTL_LOG" &
	CLIENT_PID=$!
	track_pid "$CLIENT_PID"
}

stop_client()
{
	kill -KILL "$CLIENT_PID" 2>/dev/null
	wait "$CLIENT_PID" 2>/dev/null
	CLIENT_PID=
}

# check_kill WHAT: the journal the kill left, against the witness and what
# vigild confirmed to the client.
check_kill()
{
	local what=$1

	if [ ! -e "$JOURNAL" ]; then
		# Killed before the journal was created: nothing can have
		# been delivered either.
		[ "$(count_lines "$WITNESS")" -eq 0 ] ||
			fail "no journal after $what, yet the witness has events"
		DUMP_RECORDS=0
		return 0
	fi
	cp "$JOURNAL" "$TEST_DIR/journal.copy"
	"$DUMP" "$TEST_DIR/journal.copy" sink.witness >"$TEST_DIR/dump" \
		2>"$TEST_DIR/dump.log" || {
		cat "$TEST_DIR/dump.log"
		fail "journal_dump could not read the journal after $what"
	}
	# How many records vigild writes when it compacts this journal.
	DUMP_RECORDS=$(sed -nE 's/.*compacted from .* to ([0-9]+) \(.*/\1/p' \
		"$TEST_DIR/dump.log" | tail -n 1)
	"$PYTHON" - "$WITNESS" "$TEST_DIR/dump" "$CTL_LOG" "$what" <<'EOF' || {
import json, sys

witness_path, dump_path, ctl_path, what = sys.argv[1:5]
events, torn = [], 0
try:
    lines = open(witness_path).read().splitlines()
except FileNotFoundError:
    lines = []
for l in lines:
    try:
        events.append(json.loads(l))
    except ValueError:
        torn += 1  # a line the kill cut short: delivered again later
w_opened, w_resolved = {}, set()
for e in events:
    if e["event"] == "opened":
        w_opened[e["id"]] = e["key"]
    elif e["event"] == "resolved":
        w_resolved.add(e["id"])
w_open = {i: k for i, k in w_opened.items() if i not in w_resolved}

next_id = next_sil = None
j_open, j_hist, j_pending, j_sil = {}, {}, {}, set()
for l in open(dump_path).read().splitlines():
    f = l.split()
    if f[0] == "next_id":
        next_id = int(f[1])
    elif f[0] == "next_silence":
        next_sil = int(f[1])
    elif f[0] == "open":
        j_open[int(f[1])] = (f[2], f[4])
    elif f[0] == "history":
        j_hist[int(f[1])] = f[2]
    elif f[0] == "silence":
        j_sil.add(int(f[1]))
    elif f[0] == "pending":
        j_pending.setdefault(int(f[2]), []).append(f[3])

acked, added, rm_tried, removed = set(), [], set(), set()
for l in open(ctl_path).read().splitlines():
    w, i = l.split()
    i = int(i)
    if w == "ack":
        acked.add(i)
    elif w == "add":
        added.append(i)
    elif w == "rm-try":
        rm_tried.add(i)
    elif w == "rm":
        removed.add(i)

bad = []
for i, k in sorted(w_open.items()):
    if i in j_open:
        if j_open[i][0] != k:
            bad.append(f"incident #{i} is {k} for the witness, {j_open[i][0]} in the journal")
    elif i not in j_hist:  # resolved: checked below
        bad.append(f"incident #{i} ({k}), open for the witness, is not in the journal")
for i, (k, _) in sorted(j_open.items()):
    if i not in w_opened and "opened" not in j_pending.get(i, []):
        bad.append(f"incident #{i} ({k}) is open in the journal, but its opening "
                   "was neither delivered nor is it owed to the witness")
for i, k in sorted(j_hist.items()):
    if i in w_opened and i not in w_resolved and "resolved" not in j_pending.get(i, []):
        bad.append(f"incident #{i} ({k}) is resolved in the journal, but the "
                   "witness neither got nor is owed its resolution")
top = max((e["id"] for e in events), default=0)
if next_id is None or next_id <= top:
    bad.append(f"the journal's next incident id is {next_id}; the witness saw #{top}")
if added and (next_sil is None or next_sil <= max(added)):
    bad.append(f"the journal's next silence id is {next_sil}; vigilctl was given {max(added)}")
steady = [e["id"] for e in events if e["key"] == "steady" and e["event"] == "opened"]
if steady:
    s = steady[0]
    if s not in j_open:
        bad.append(f"steady's incident #{s} is not open in the journal")
    elif s in acked and j_open[s][1] != "acknowledged":
        bad.append(f"steady's incident #{s} was acknowledged, the journal has it {j_open[s][1]}")
missing = [i for i in added if i not in rm_tried and i not in j_sil]
if missing:
    bad.append(f"silences {missing} were added and never removed, but are not in the journal")
back = sorted(removed & j_sil)
if back:
    bad.append(f"silences {back} were removed, but are in the journal")
pending = sum(len(v) for v in j_pending.values())
print(f"{what}: witness {len(events)} event(s) ({torn} torn), {len(w_open)} open; "
      f"journal {len(j_open)} open, {pending} event(s) owed, {len(j_sil)} silence(s), "
      f"next id {next_id}; {len(acked)} ack(s) confirmed")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
		cp "$TEST_DIR/dump" "$TEST_DIR/dump.failed"
		fail "after $what (seed $SEED) the journal does not hold what was confirmed and delivered"
	}
}

# ---------------------------------------------------------------- A.
note "A. $ITERATIONS kills at random moments, seed $SEED"
for ((i = 1; i <= ITERATIONS; i++)); do
	if ((i % 5 == 1)); then
		ms=$((RANDOM % 41))          # starting: replay, compaction
	else
		ms=$((50 + RANDOM % 651))    # running
	fi
	start_vigild "$TEST_DIR/run.ini"
	start_client
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	vigild_alive || fail "vigild exited before kill $i"
	kill -KILL "$VIGILD_PID"
	wait "$VIGILD_PID" 2>/dev/null
	VIGILD_PID=
	stop_client
	note "kill $i after ${ms} ms"
	check_kill "kill $i"
done

# ---------------------------------------------------------------- B.
if ! command -v strace >/dev/null 2>&1; then
	note "B. skipped: no strace to kill vigild at a given journal write"
elif ! strace -o /dev/null -e trace=pwritev \
	-e inject=pwritev:signal=KILL:when=1 true >/dev/null 2>&1; then
	note "B. skipped: strace cannot inject signals here (ptrace denied, or too old)"
else
	note "B. kills at chosen journal writes"
	for ((k = 1; k <= 24; k++)); do
		c=${DUMP_RECORDS:-0}
		# Writes 1 .. c+1 are the compaction at open (a header, then
		# c records); then the appends of the running vigild.
		case $k in
		1) n=1 ;;
		2) n=2 ;;
		3) n=$((c / 2 + 1)) ;;
		4) n=$((c + 1)) ;;
		*) n=$((c + k - 3)) ;;
		esac
		strace -o "$TEST_DIR/strace.out" -e trace=pwritev \
			-e inject=pwritev:signal=KILL:when=$n \
			"$VIGILD" -c "$TEST_DIR/run.ini" -p "$VIGIL_TEST_PLUGIN_PATH" \
			-s "$STATE" -S "$SOCK" >>"$VIGILD_LOG" 2>&1 &
		spid=$!
		track_pid "$spid"
		traced_gone()
		{
			! kill -0 "$spid" 2>/dev/null
		}
		# (Its job dies by SIGKILL: bash would say so on stderr.)
		{
			wait_until 20 "vigild to be killed at journal write $n" \
				traced_gone
			wait "$spid"
		} 2>/dev/null
		grep -q 'killed by SIGKILL' "$TEST_DIR/strace.out" ||
			fail "vigild under strace was not killed at journal write $n: $(tail -n 3 "$TEST_DIR/strace.out")"
		check_kill "the kill at journal write $n (of a compaction of $((c + 1)))"
	done
fi

# ---------------------------------------------------------------- C.
note "C. a clean run, every value back to normal"
start_vigild "$TEST_DIR/clear.ini"
all_resolved()
{
	"$PYTHON" - "$WITNESS" <<'EOF'
import json, sys
opened, resolved = set(), set()
for l in open(sys.argv[1]).read().splitlines():
    try:
        e = json.loads(l)
    except ValueError:
        continue
    if e["event"] == "opened":
        opened.add(e["id"])
    elif e["event"] == "resolved":
        resolved.add(e["id"])
sys.exit(0 if opened <= resolved else 1)
EOF
}
wait_until 30 "every incident to resolve after the last restart" all_resolved
"$VIGILCTL" --socket "$SOCK" --json silence list >"$TEST_DIR/silences.json" ||
	fail "vigilctl silence list failed"
stop_vigild

"$PYTHON" - "$WITNESS" "$CTL_LOG" "$TEST_DIR/silences.json" <<'EOF' || fail "incidents, acknowledgements or silences were lost, or ids reused, across the kills (seed $SEED; see above)"
import json, sys

lines = open(sys.argv[1]).read().splitlines()
events, seen, dups, torn = [], set(), 0, 0
for l in lines:
    try:
        e = json.loads(l)
    except ValueError:
        torn += 1
        continue
    if l in seen:
        dups += 1
        continue
    seen.add(l)
    events.append(e)
bad = []

opened = [e["id"] for e in events if e["event"] == "opened"]
if opened != sorted(set(opened)):
    back = [(a, b) for a, b in zip(opened, opened[1:]) if b <= a]
    bad.append(f"opened ids do not strictly increase: {back[:5]}")

first = {}
for e in events:
    i = e["id"]
    if i not in first:
        first[i] = e
    elif (e["key"], e["created"]) != (first[i]["key"], first[i]["created"]):
        bad.append(f"id {i} is two incidents: {first[i]['key']} created "
                   f"{first[i]['created']}, and {e['key']} created {e['created']}")

current, done = {}, set()
for e in events:
    k, i, t = e["key"], e["id"], e["event"]
    if t == "opened":
        if k in current:
            bad.append(f"#{i} of {k} opened while #{current[k]} was open")
        current[k] = i
    elif current.get(k) != i:
        bad.append(f"{t} of #{i} ({k}), while the open incident of {k} is "
                   f"#{current.get(k)}{' (it was resolved)' if i in done else ''}")
    if t == "resolved" and current.get(k) == i:
        del current[k]
        done.add(i)
if current:
    bad.append(f"still open at the end: {current}")
steady = [e for e in events if e["key"] == "steady"]
if [e["event"] for e in steady if e["event"] in ("opened", "resolved")] != ["opened", "resolved"]:
    bad.append(f"steady: {[(e['event'], e['id']) for e in steady]}")

acked, added, rm_tried, removed = [], [], set(), set()
for l in open(sys.argv[2]).read().splitlines():
    w, i = l.split()
    i = int(i)
    {"ack": acked.append, "add": added.append, "rm-try": rm_tried.add,
     "rm": removed.add}[w](i)
ack_events = {e["id"] for e in events if e["event"] == "acknowledged"}
lost = sorted(set(acked) - ack_events)
if lost:
    bad.append(f"acknowledgements confirmed by vigild never reached the witness: {lost}")
if added != sorted(set(added)):
    bad.append(f"silence ids not strictly increasing: {added}")
listed = {s["id"] for s in json.load(open(sys.argv[3]))["silences"]}
want = {i for i in added if i not in rm_tried}
if not want <= listed:
    bad.append(f"silences {sorted(want - listed)} are not listed by vigilctl at the end")
if removed & listed:
    bad.append(f"removed silences {sorted(removed & listed)} are listed by vigilctl at the end")

print(f"{len(events)} events, {len(opened)} incidents (ids {opened[0] if opened else '-'}.."
      f"{opened[-1] if opened else '-'}); {dups} delivered again after a kill, {torn} torn; "
      f"{len(acked)} acknowledgement(s), {len(added)} silence(s) added, {len(removed)} removed, "
      f"{len(listed)} listed at the end")
if not acked or not added or not removed:
    bad.append("the client did not get an acknowledgement, a silence added and one removed "
               "confirmed: nothing was tested of them")
for b in bad[:20]:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF

pass "$ITERATIONS random kills and the kills at chosen journal writes (seed $SEED): incidents kept their ids and were resolved, acknowledgements and silences kept, ids never reused"
