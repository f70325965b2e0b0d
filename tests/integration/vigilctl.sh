#!/bin/bash
# vigilctl end to end against a running vigild, on a control socket of the
# test's own ([daemon] control_socket):
#
#   - a stale socket file left at that path is replaced at start;
#   - status, incidents [--all], show, ack (with a comment; twice is a
#     conflict), resolve (twice is a conflict), errors for unknown ids,
#     each with the documented exit code, and --json output that python
#     reads;
#   - silence add/list/rm: incidents that open while a silence matches are
#     recorded (silenced) but reach no sink; after rm they do again;
#   - health (a fixture root, so the verdict is known), reload (refused:
#     not supported yet);
#   - malformed requests written raw to the socket: not JSON, not an
#     object, an unknown command, arguments of the wrong type, too deep,
#     oversized, a client that sends nothing, one that leaves mid-request:
#     each gets its error reply and vigild stays up and answers;
#   - a second vigild on the same explicit socket exits 1 and says why;
#     the socket file is gone after vigild stops.
#
# Three synthetic sensors drive threshold rules: a_hot (95: critical,
# stays open), b_warm (60: warning, stays open) and c_hot (20 95 cycling:
# an incident opens and resolves every 200 ms; flap_window = 0 so none is
# held back as flapping).
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

VIGILCTL=$VIGIL_BUILDDIR/vigilctl
[ -x "$VIGILCTL" ] || fail "no vigilctl at $VIGILCTL"
SOCK=$TEST_DIR/control.sock
EVENTS=$TEST_DIR/events.jsonl
FIXTURE_ROOT=$VIGIL_SRCDIR/tests/fixtures/root

cat >"$TEST_DIR/vigil.ini" <<EOF
[daemon]
control_socket = $SOCK
control_group = $(id -gn)
flush_interval = 100ms

[incidents]
flap_window = 0

[health]
root = $FIXTURE_ROOT
; The fixture's / is the build machine's: never degrade on its disk.
disk_used_max = 100

[sensor.a]
plugin = synthetic
interval = 100ms
metric = test.a
shape = sequence
sequence = 95

[sensor.b]
plugin = synthetic
interval = 100ms
metric = test.b
shape = sequence
sequence = 60

[sensor.c]
plugin = synthetic
interval = 100ms
metric = test.c
shape = sequence
sequence = 20 95

[rule.a_hot]
plugin = threshold
match = test.a
warning = 50
critical = 90

[rule.b_warm]
plugin = threshold
match = test.b
warning = 50
critical = 90

[rule.c_hot]
plugin = threshold
match = test.c
warning = 50
critical = 90

[sink.events]
plugin = file
path = $EVENTS
fsync = never
EOF

# ctl ARGS...: vigilctl on our socket; stdout in $TEST_DIR/out, stderr in
# $TEST_DIR/err, exit status in $RC.
ctl()
{
	"$VIGILCTL" --socket "$SOCK" --no-color "$@" >"$TEST_DIR/out" 2>"$TEST_DIR/err"
	RC=$?
}

# expect STATUS WHAT ARGS...: vigilctl ARGS must exit STATUS.
expect()
{
	local want=$1 what=$2

	shift 2
	ctl "$@"
	[ "$RC" -eq "$want" ] ||
		fail "$what: 'vigilctl $*' exited $RC, expected $want; stdout: $(cat "$TEST_DIR/out"); stderr: $(cat "$TEST_DIR/err")"
}

out_has() { grep -Fq -- "$1" "$TEST_DIR/out" || fail "$2: no '$1' in: $(cat "$TEST_DIR/out")"; }
err_has() { grep -Fq -- "$1" "$TEST_DIR/err" || fail "$2: no '$1' in stderr: $(cat "$TEST_DIR/err")"; }

# json EXPR: evaluates the python expression EXPR with `r` the JSON that
# vigilctl --json printed last; prints its value.
json()
{
	"$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))
' "$TEST_DIR/out" "$1" || fail "cannot read vigilctl --json output as JSON: $(cat "$TEST_DIR/out")"
}

# The id of the open incident of key $1, or nothing.
open_id()
{
	ctl --json incidents
	[ "$RC" -eq 0 ] || return 1
	json "([i['id'] for i in r['incidents'] if i['key'] == '$1'] + [''])[0]"
}

# A stale socket at the path: bound, then its owner gone.
"$PYTHON" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$SOCK" ||
	fail "cannot make a stale socket"
[ -S "$SOCK" ] || fail "no stale socket at $SOCK"

start_vigild "$TEST_DIR/vigil.ini"
answers() { "$VIGILCTL" --socket "$SOCK" status >/dev/null 2>&1; }
wait_until 20 "vigilctl status to answer" answers
wait_for "$VIGILD_LOG" "replaced the stale socket $SOCK" 5
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "the socket's mode is $(stat -c %a "$SOCK"), expected 660"
[ "$(stat -c %G "$SOCK")" = "$(id -gn)" ] || fail "the socket's group is $(stat -c %G "$SOCK"), expected $(id -gn)"

# ------------------------------------------------------------- status
expect 0 "status" status
out_has "vigild " "status"
out_has "(pid $VIGILD_PID)" "status"
out_has "config: $TEST_DIR/vigil.ini" "status"
for s in sensor.a sensor.b sensor.c rule.a_hot rule.b_warm rule.c_hot sink.events; do
	grep -Eq "^$s +[a-z]+ +[a-z]+ +running +0 +[0-9]+ +0 +process +-$" "$TEST_DIR/out" ||
		fail "status: no running line for $s in: $(cat "$TEST_DIR/out")"
done
grep -Eq '^SECTION +PLUGIN +KIND +STATE +RESTARTS +CALLS +ERRORS +ISOLATION +LAST EXIT$' "$TEST_DIR/out" ||
	fail "status: no table header in: $(cat "$TEST_DIR/out")"
expect 0 "status --json" --json status
[ "$(json 'r["ok"] is True and r["pid"]')" = "$VIGILD_PID" ] || fail "status --json: pid $(json 'r.get("pid")')"
[ "$(json 'len(r["plugins"])')" = 7 ] || fail "status --json: $(json 'len(r["plugins"])') plugins, expected 7"
[ "$(json 'sorted({p["kind"] for p in r["plugins"]})')" = '["rule", "sensor", "sink"]' ] ||
	fail "status --json: kinds $(json 'sorted({p["kind"] for p in r["plugins"]})')"
[ "$(json 'all(set(p) >= {"section","plugin","kind","state","restarts","calls","errors","queue_drops","last_exit","isolation"} for p in r["plugins"])')" = True ] ||
	fail "status --json: a plugin lacks a member: $(json 'r["plugins"]')"
[ "$(json 'r["counts"]["sensors"], r["counts"]["rules"], r["counts"]["sinks"], isinstance(r["uptime_s"], int)')" = "(3, 3, 1, True)" ] ||
	fail "status --json: counts $(json 'r["counts"]')"

# ---------------------------------------------------------- incidents
wait_until 20 "incident a_hot" test -n "$(open_id a_hot)"
wait_until 20 "incident b_warm" test -n "$(open_id b_warm)"
A=$(open_id a_hot)
B=$(open_id b_warm)
note "a_hot is #$A, b_warm is #$B"
expect 0 "incidents" incidents
grep -Eq "^$A +critical +open +[0-9]+[smh] ago +a_hot +test\.a is 95" "$TEST_DIR/out" ||
	fail "incidents: no line for #$A in: $(cat "$TEST_DIR/out")"
grep -Eq "^$B +warning +open " "$TEST_DIR/out" || fail "incidents: no line for #$B in: $(cat "$TEST_DIR/out")"

expect 0 "show" show "$A"
out_has "incident #$A  critical  open" "show"
out_has "key          a_hot" "show"
out_has "no remediation attempts" "show"
expect 0 "show --json" --json show "$A"
[ "$(json 'r["incident"]["status"], r["incident"]["escalation"], r["incident"]["flapping"], r["incident"]["silenced"], r["incident"]["acked"], r["incident"]["actions"]')" = "('open', 0, False, False, None, [])" ] ||
	fail "show --json: $(json 'r["incident"]')"

# ack, with a comment; a second ack is a conflict.
expect 0 "ack" ack "$A" --comment "on it"
out_has "acknowledged incident #$A: a_hot" "ack"
expect 1 "a second ack" ack "$A"
err_has "is acknowledged already by" "a second ack"
expect 1 "a second ack --json" --json ack "$A"
[ "$(json 'r["ok"], r["code"]')" = "(False, 'conflict')" ] || fail "a second ack --json: $(cat "$TEST_DIR/out")"
expect 0 "show after ack" --json show "$A"
[ "$(json 'r["incident"]["status"], r["incident"]["acked_by"], r["incident"]["comment"], r["incident"]["acked"] is not None')" = "('acknowledged', '$(id -un)', 'on it', True)" ] ||
	fail "show after ack: $(json 'r["incident"]')"
expect 0 "show after ack" show "$A"
out_has "comment      on it" "show after ack"
wait_for "$EVENTS" "\"event\":\"acknowledged\",\"id\":$A," 10

# resolve; twice is a conflict; a resolved incident cannot be acked.
expect 0 "resolve" resolve "$B"
out_has "resolved incident #$B: b_warm" "resolve"
expect 1 "a second resolve" resolve "$B"
err_has "is resolved already" "a second resolve"
expect 1 "ack of a resolved incident" ack "$B"
err_has "is resolved" "ack of a resolved incident"
wait_for "$EVENTS" "\"event\":\"resolved\",\"id\":$B," 10
expect 0 "incidents" --json incidents
[ "$(json "[i['id'] for i in r['incidents'] if i['id'] == $B]")" = "[]" ] || fail "resolved #$B is still listed as open"
expect 0 "incidents --all" --json incidents --all
[ "$(json "[i['status'] for i in r['incidents'] if i['id'] == $B]")" = '["resolved"]' ] ||
	fail "incidents --all: #$B is $(json "[i for i in r['incidents'] if i['id'] == $B]")"
expect 0 "incidents --all" incidents --all
grep -Eq "^$B +warning +resolved " "$TEST_DIR/out" || fail "incidents --all: no resolved line for #$B: $(cat "$TEST_DIR/out")"

# Unknown ids, and ids that are not ids.
expect 1 "show of an unknown id" show 999999
err_has "no incident 999999" "show of an unknown id"
expect 1 "show --json of an unknown id" --json show 999999
[ "$(json 'r["code"]')" = not_found ] || fail "show --json of an unknown id: $(cat "$TEST_DIR/out")"
expect 1 "ack of an unknown id" ack 999999
expect 1 "resolve of an unknown id" resolve 999999
expect 1 "silence rm of an unknown id" silence rm 999999
err_has "no silence 999999" "silence rm of an unknown id"
expect 2 "show of a bad id" show abc
expect 2 "silence add without --for" silence add --match key=x

# ------------------------------------------------------------ silences
expect 0 "silence add" silence add --match "key=c_hot" --for 1h --comment "maintenance"
grep -Eq '^added silence #[0-9]+: key=c_hot until .* \(in (59m|1h)\)$' "$TEST_DIR/out" ||
	fail "silence add: $(cat "$TEST_DIR/out")"
SIL=$(sed -E 's/^added silence #([0-9]+):.*/\1/' "$TEST_DIR/out")
expect 0 "silence list" silence list
grep -Eq "^$SIL +key=c_hot +[0-9]+s ago +in (59m|1h) +$(id -un) +maintenance$" "$TEST_DIR/out" ||
	fail "silence list: $(cat "$TEST_DIR/out")"
expect 0 "silence list --json" --json silence list
[ "$(json '[(s["id"], s["match"], s["comment"], s["created_by"]) for s in r["silences"]]')" = "[[$SIL, \"key=c_hot\", \"maintenance\", \"$(id -un)\"]]" ] ||
	fail "silence list --json: $(cat "$TEST_DIR/out")"
START=$(json 'r["silences"][0]["start"]')
expect 1 "silence add with a bad matcher" silence add --match "key" --for 1h
expect 2 "silence add for no time" silence add --match "key=x" --for 0s

# While it holds, c_hot keeps opening incidents: recorded, silenced, and
# not one of its events reaches the sink.
silenced_recorded()
{
	ctl --json incidents --all
	[ "$RC" -eq 0 ] &&
		[ "$(json "len([i for i in r['incidents'] if i['key'] == 'c_hot' and i['created'] > '$START'])")" -ge 3 ]
}
wait_until 20 "three c_hot incidents opened under the silence" silenced_recorded
"$PYTHON" - "$TEST_DIR/out" "$EVENTS" "$START" <<'EOF' || fail "the silence did not hold (above)"
import json, sys
incs = json.load(open(sys.argv[1]))["incidents"]
start = sys.argv[3]
under = [i for i in incs if i["key"] == "c_hot" and i["created"] > start]
ids = {i["id"] for i in under}
bad = [i for i in under if not i["silenced"]]
events = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
leaked = [e for e in events if e["id"] in ids]
print(f"{len(under)} c_hot incidents under the silence: {sorted(ids)}")
for i in bad:
    print("not marked silenced:", i)
for e in leaked:
    print("reached the sink:", e)
sys.exit(1 if bad or leaked else 0)
EOF

expect 0 "silence rm" silence rm "$SIL"
out_has "removed silence #$SIL" "silence rm"
expect 1 "a second silence rm" silence rm "$SIL"
expect 0 "silence list after rm" silence list
out_has "no silences" "silence list after rm"
# And c_hot's next incidents are notified again.
ctl --json incidents --all
LAST=$(json "max(i['id'] for i in r['incidents'] if i['key'] == 'c_hot')")
notified_again()
{
	"$PYTHON" - "$EVENTS" "$LAST" <<'EOF'
import json, sys
last = int(sys.argv[2])
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["key"] == "c_hot" and e["event"] == "opened" and e["id"] > last:
        sys.exit(0)
sys.exit(1)
EOF
}
wait_until 20 "a c_hot incident notified after the silence ended" notified_again

# ------------------------------------------------------ health, reload
expect 0 "health" health
out_has "healthy, vigild up" "health"
expect 0 "health --json" --json health
[ "$(json 'r["health"]["status"], r["health"]["hostname"], r["health"]["reasons"], r["published"]')" = "('healthy', 'vigil-fixture', [], True)" ] ||
	fail "health --json: $(cat "$TEST_DIR/out")"
expect 1 "reload" reload
err_has "not supported yet: restart vigild" "reload"
expect 1 "reload --json" --json reload
[ "$(json 'r["code"]')" = not_supported ] || fail "reload --json: $(cat "$TEST_DIR/out")"

# ------------------------------------------------- malformed requests
"$PYTHON" - "$SOCK" <<'EOF' || fail "malformed requests were not answered as they should be (above)"
import json, socket, sys, time

path = sys.argv[1]
bad = []

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    return s

def lines(s, n):
    buf = b""
    while buf.count(b"\n") < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return [json.loads(l) for l in buf.split(b"\n")[:n] if l]

def ask(raw, code, what):
    s = conn()
    s.sendall(raw)
    got = lines(s, 1)
    s.close()
    if not got or got[0].get("ok") is not False or got[0].get("code") != code:
        bad.append(f"{what}: {got} (expected code {code})")
    else:
        print(f"{what}: {code}: {got[0]['error']}")

# A client that connects and says nothing, kept open throughout: it must
# not stop anyone else.
silent = conn()
# One that leaves half-way through a request.
half = conn()
half.sendall(b'{"cmd":"sta')
half.close()

ask(b'{"cmd":\n', "parse_error", "not JSON")
ask(b'\xff\xfe{}\n', "parse_error", "not UTF-8")
ask(b'[1,2,3]\n', "bad_request", "not an object")
ask(b'{"args":{}}\n', "bad_request", "no cmd")
ask(b'{"cmd":42}\n', "bad_request", "cmd not a string")
ask(b'{"cmd":"status","args":[1]}\n', "bad_request", "args not an object")
ask(b'{"cmd":"frobnicate"}\n', "unknown_command", "an unknown command")
ask(b'{"cmd":"show","args":{"id":"12"}}\n', "bad_request", "id a string")
ask(b'{"cmd":"show","args":{"id":-1}}\n', "bad_request", "id negative")
ask(b'{"cmd":"show","args":{"id":1.5}}\n', "bad_request", "id a fraction")
ask(b'{"cmd":"show","args":{"id":0}}\n', "bad_request", "id zero")
ask(b'{"cmd":"show"}\n', "bad_request", "id missing")
ask(b'{"cmd":"ack","args":{"id":1,"comment":7}}\n', "bad_request", "comment a number")
ask(b'{"cmd":"incidents","args":{"all":"yes"}}\n', "bad_request", "all a string")
ask(b'{"cmd":"silence.add","args":{"match":"key=x","for":"forever"}}\n', "bad_request", "for not a duration")
ask(b'{"cmd":"silence.add","args":{"match":"key=x","for":3600}}\n', "bad_request", "for a number")
ask(b'{"cmd":"silence.add","args":{"for":"1h"}}\n', "bad_request", "match missing")
ask(b'{"cmd":"silence.add","args":{"match":"","for":"1h"}}\n', "bad_request", "match empty")
ask(b'{"cmd":"silence.rm","args":{"id":true}}\n', "bad_request", "silence id a boolean")
ask(b'{"cmd":"show","args":{"id":1,"id":2}}\n', "bad_request", "an argument twice")
ask(b'{"cmd":"status","args":{"x":' + b'[' * 100 + b']' * 100 + b'}}\n', "bad_request", "nested too deep")
ask(b'{"cmd":"show","args":{"id":99999999999999999999999}}\n', "bad_request", "id too large")

# Oversized: an error reply, then the connection is closed.
s = conn()
try:
    s.sendall(b'{"cmd":"status","args":{"pad":"' + b"x" * 70000)
except OSError:
    pass
got = lines(s, 1)
try:
    rest = s.recv(100)
except ConnectionResetError:
    rest = b""  # closed with our bytes unread: a reset
s.close()
if not got or got[0].get("code") != "too_large" or rest != b"":
    bad.append(f"oversized: {got}, then {rest!r}")
else:
    print("oversized: too_large, closed")

# Several requests on one connection, errors among them: answered in
# order, the connection kept.
s = conn()
s.sendall(b'{"cmd":"ping"}\n{"cmd":\n\n{"cmd":"nope"}\r\n{"cmd":"incidents","args":null}\n')
got = lines(s, 4)
s.close()
want = [True, "parse_error", "unknown_command", True]
have = [g.get("code", g.get("ok")) for g in got]
if have != want:
    bad.append(f"pipelined: {have}, expected {want}")

# The silent client is still connected and can still ask.
silent.sendall(b'{"cmd":"ping"}\n')
got = lines(silent, 1)
silent.close()
if not got or got[0].get("ok") is not True or got[0].get("protocol") != 1:
    bad.append(f"the silent client's late ping: {got}")

for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
vigild_alive || fail "vigild died after the malformed requests"
expect 0 "status after the malformed requests" status

# ------------------------------------------- a second vigild, the end
# The same explicit socket, another state_dir: refused, exit 1.
timeout 20 "$VIGILD" -c "$TEST_DIR/vigil.ini" -p "$VIGIL_TEST_PLUGIN_PATH" \
	-s "$TEST_DIR/state2" >"$TEST_DIR/second.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "a second vigild on $SOCK exited $rc, expected 1: $(cat "$TEST_DIR/second.log")"
grep -Fq "$SOCK is in use" "$TEST_DIR/second.log" ||
	fail "the second vigild did not say why: $(cat "$TEST_DIR/second.log")"
expect 0 "status after the second vigild gave up" status
out_has "(pid $VIGILD_PID)" "status after the second vigild gave up"

stop_vigild
[ ! -e "$SOCK" ] || fail "$SOCK is still there after vigild stopped"
expect 3 "vigilctl without vigild" status
err_has "no such socket" "vigilctl without vigild"

# A control_group that does not exist and a relative control_socket are
# configuration errors, with their lines.
cat >"$TEST_DIR/bad.ini" <<EOF
[daemon]
control_socket = relative.sock
control_group = no-such-group-vigil

[sensor.a]
plugin = synthetic
EOF
check_config "$TEST_DIR/bad.ini" "$TEST_DIR/bad.out"
[ "$rc" -eq 78 ] || fail "--check-config on bad control keys exited $rc, expected 78: $(cat "$TEST_DIR/bad.out")"
for want in "bad.ini:2: [daemon] control_socket = 'relative.sock': expected an absolute path" \
	"bad.ini:3: [daemon] control_group = 'no-such-group-vigil': no such group"; do
	grep -Fq "$want" "$TEST_DIR/bad.out" || fail "no '$want' in: $(cat "$TEST_DIR/bad.out")"
done
pass "status, incidents, show, ack, resolve, silences, health, reload, --json and malformed requests, against a running vigild"
