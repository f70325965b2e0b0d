#!/bin/bash
# The exec action, end to end.
#
# [action.record] runs a shell script for each incident of rule "hot" (two
# series, n=0 and n=1): the script must see the incident only in its
# environment (VIGIL_KEY, VIGIL_SEVERITY, VIGIL_VALUE, VIGIL_LABEL_N, ...),
# its argv must be exactly the configured words with nothing expanded, a
# message full of shell syntax must run nothing, and the daemon's own VIGIL_*
# variables must not leak through. The file sink must then show "action"
# events, and the later resolution, carrying the attempt's exit status and
# output.
#
# [action.slow] runs a script that outlives its timeout and leaves a
# grandchild that ignores SIGTERM: the attempt must be recorded as a
# timeout and no process of it may survive.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python
command -v pgrep >/dev/null || skip "pgrep (procps) is needed"

EVENTS=$TEST_DIR/events.jsonl
# Unique to this run: the slow action's script and the sleep it runs are
# named so, and found again by that name.
MARK=vigil-slow-$$-${TEST_DIR##*.}
mkdir "$TEST_DIR/bin"
ln -s "$(command -v sleep)" "$TEST_DIR/bin/$MARK"

cat >"$TEST_DIR/record.sh" <<'EOF'
# Writes what it was given; never evaluates any of it.
out=$RECORD_DIR/incident-$VIGIL_INCIDENT_ID
printf '%s\n' "$@" >"$out.argv.tmp"
env >"$out.env.tmp"
mv "$out.argv.tmp" "$out.argv"
mv "$out.env.tmp" "$out.env"
echo "recorded $VIGIL_KEY"
exit 3
EOF

cat >"$TEST_DIR/$MARK.sh" <<EOF
echo "slow started"
( trap '' TERM; exec "$TEST_DIR/bin/$MARK" 60 ) &
echo \$! >"$TEST_DIR/grandchild.pid"
"$TEST_DIR/bin/$MARK" 61
echo "slow was not killed"
EOF

# Live (not zombie) processes of the slow action, by the unique name.
slow_pids()
{
	local pid state

	for pid in $(pgrep -f -- "$MARK"); do
		state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || continue
		[ "$state" = Z ] || echo "$pid"
	done
}

# Should the test fail half-way, what the slow action left is killed by pid.
kill_slow_leftovers()
{
	local pid

	for pid in $(slow_pids); do
		kill -KILL "$pid" 2>/dev/null
	done
}
# shellcheck disable=SC2034 # read by lib.sh's cleanup
CLEANUP_HOOK=kill_slow_leftovers

MESSAGE_TAIL="\$(touch $TEST_DIR/pwned-1) \`touch $TEST_DIR/pwned-2\` \${HOME} \"'"

cat >"$TEST_DIR/vigil.ini" <<EOF
[daemon]
flush_interval = 100ms

[sensor.synth]
plugin = synthetic
interval = 50ms
metric = test.level
count = 2
shape = sequence
sequence = 10 60 60 60 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10

[rule.hot]
plugin = threshold
match = test.level
warning = 50
message = {metric}={value} $MESSAGE_TAIL

[action.record]
plugin = exec
on = hot*
min_severity = warning
command = /bin/sh $TEST_DIR/record.sh 'literal \$VIGIL_KEY' "{key}" \$(touch\ $TEST_DIR/pwned-3) ';' '*'
timeout = 20s

[sensor.stuck]
plugin = synthetic
interval = 50ms
metric = stuck.value
value = 1

[rule.stuck]
plugin = threshold
match = stuck.value
warning = 0.5

[action.slow]
plugin = exec
on = stuck
min_severity = warning
command = /bin/sh $TEST_DIR/$MARK.sh
timeout = 500ms
kill_grace = 500ms

[sink.events]
plugin = file
path = $EVENTS
fsync = always
EOF

# A stale VIGIL_KEY in the daemon's environment must not reach actions;
# RECORD_DIR (not VIGIL_*) must.
VIGIL_KEY=stale-from-daemon RECORD_DIR=$TEST_DIR start_vigild "$TEST_DIR/vigil.ini"

wait_for "$EVENTS" '"event":"action".*"key":"stuck".*"outcome":"timeout"' 30
wait_for "$EVENTS" '"event":"resolved","id":[0-9]+,"key":"hot\{n=0\}"' 30
wait_for "$EVENTS" '"event":"resolved","id":[0-9]+,"key":"hot\{n=1\}"' 30

# Nothing of the slow action may outlive its attempt: its child was
# killed at the timeout, the grandchild ignoring SIGTERM by SIGKILL. The
# plugin does that before run() returns, so the deadline only covers the
# kernel tearing the processes down.
[ -s "$TEST_DIR/grandchild.pid" ] || fail "the slow action did not start its grandchild"
left=
for ((i = 0; i < 200; i++)); do
	left=$(slow_pids)
	[ -z "$left" ] && break
	sleep "$POLL_STEP"
done
[ -z "$left" ] ||
	fail "the slow action left processes behind: $(ps -o pid,stat,args -p "$(echo "$left" | paste -sd, -)")"

stop_vigild

for n in 1 2 3; do
	[ ! -e "$TEST_DIR/pwned-$n" ] || fail "shell text was executed: pwned-$n exists"
done

"$PYTHON" - "$EVENTS" "$TEST_DIR" "$MESSAGE_TAIL" <<'EOF' || fail "actions are not as expected (see above)"
import json, os, sys

events_path, test_dir, tail = sys.argv[1:4]
bad = []

def check(cond, what):
    if not cond:
        bad.append(what)
    return cond

events = [json.loads(l) for l in open(events_path).read().splitlines()]

# --- record: one attempt per incident of hot{n=0} and hot{n=1}
for n in ("0", "1"):
    key = f"hot{{n={n}}}"
    inc = [e for e in events if e["key"] == key]
    if not check(inc and inc[0]["event"] == "opened", f"{key}: not opened"):
        continue
    iid = inc[0]["id"]
    life = [e["event"] for e in inc if e["id"] == iid]
    check(life == ["opened", "action", "resolved"],
          f"{key}: events {life}, expected opened, action, resolved")

    env = {}
    with open(f"{test_dir}/incident-{iid}.env") as f:
        for line in f.read().splitlines():
            k, sep, v = line.partition("=")
            if sep and k.startswith("VIGIL_") or k == "RECORD_DIR":
                env[k] = v
    want = {
        "VIGIL_EVENT": "opened",
        "VIGIL_INCIDENT_ID": str(iid),
        "VIGIL_KEY": key,
        "VIGIL_TYPE": "hot",
        "VIGIL_SEVERITY": "warning",
        "VIGIL_STATUS": "open",
        "VIGIL_VALUE": "60",
        "VIGIL_LABEL_N": n,
        "VIGIL_MESSAGE": f"test.level=60 {tail}",
        "RECORD_DIR": test_dir,
    }
    for k, v in want.items():
        check(env.get(k) == v, f"{key}: {k}={env.get(k)!r}, expected {v!r}")
    check(env.get("VIGIL_CREATED", "").isdigit(),
          f"{key}: VIGIL_CREATED={env.get('VIGIL_CREATED')!r}")
    extra = set(env) - set(want) - {"VIGIL_CREATED"}
    # VIGIL_SRCDIR and friends are in the daemon's environment here: the
    # plugin must drop every inherited VIGIL_*.
    check(not extra, f"{key}: unexpected variables {sorted(extra)}")

    with open(f"{test_dir}/incident-{iid}.argv") as f:
        argv = f.read().splitlines()
    want_argv = ["literal $VIGIL_KEY", "{key}",
                 f"$(touch {test_dir}/pwned-3)", ";", "*"]
    check(argv == want_argv, f"{key}: argv {argv}, expected {want_argv}")

    # The attempt, on the action event and on the later resolution.
    for e in inc:
        if e["id"] != iid or e["event"] == "opened":
            continue
        acts = e["actions"]
        if not check(len(acts) == 1, f"{key} {e['event']}: actions {acts}"):
            continue
        a = acts[0]
        check(a["action"] == "record" and a["exit_status"] == 3 and
              a["outcome"] == "failed" and a["output"] == f"recorded {key}",
              f"{key} {e['event']}: attempt {a}")
        check(isinstance(a["duration_ms"], int) and a["duration_ms"] >= 0,
              f"{key}: duration_ms {a['duration_ms']!r}")
    check(inc[0]["actions"] == [], f"{key}: opened already has actions")

# Only hot incidents ran record; its files are one per incident.
recorded = sorted(f for f in os.listdir(test_dir) if f.startswith("incident-"))
check(len(recorded) == 2 * len({e["id"] for e in events
                                if e["key"].startswith("hot") and e["event"] == "opened"}),
      f"record ran for other incidents: {recorded}")

# --- slow: killed at its deadline
acts = [e for e in events if e["key"] == "stuck" and e["event"] == "action"]
if check(len(acts) == 1, f"stuck: {len(acts)} action events, expected 1"):
    a = acts[0]["actions"][-1]
    check(a["action"] == "slow" and a["outcome"] == "timeout",
          f"slow: attempt {a}")
    # Killed by SIGTERM at the deadline (or SIGKILL after the grace).
    check(a["exit_status"] in (128 + 15, 128 + 9),
          f"slow: exit_status {a['exit_status']}")
    check(a["output"].startswith("slow started") and
          "not killed" not in a["output"], f"slow: output {a['output']!r}")

for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF

pass "actions got the incident in their environment, argv verbatim, results recorded; a timed-out action left nothing behind"
