#!/bin/bash
# The health report, end to end: [health] reads a copy of the fixture tree
# (root = ...), so what it reports is known. The first report goes out as
# soon as vigild is ready, as a "health" event to the sink that asked for
# health (health = yes) and to no other; `vigilctl health` shows it. Then
# the fixture's CPU gets hot: the next report, an interval later, is
# degraded (a warning, the reason in its message), vigilctl health exits 4,
# and the log says the status changed; cooled again, the report after says
# healthy again.
#
# Also: [health] enabled = no publishes nothing but vigilctl health still
# answers (a report collected for the request); bad [health] keys are
# configuration errors with file:line.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

VIGILCTL=$VIGIL_BUILDDIR/vigilctl
[ -x "$VIGILCTL" ] || fail "no vigilctl at $VIGILCTL"
SOCK=$TEST_DIR/control.sock
ROOT=$TEST_DIR/root
HEALTH=$TEST_DIR/health.jsonl
EVENTS=$TEST_DIR/events.jsonl
TEMP=$ROOT/sys/class/thermal/thermal_zone0/temp

cp -R "$VIGIL_SRCDIR/tests/fixtures/root" "$ROOT" || fail "cannot copy the fixture tree"
chmod -R u+w "$ROOT"

# set_temp MILLIDEGREES: the hottest zone's temperature, replaced at once.
set_temp()
{
	echo "$1" >"$TEMP.new" && mv "$TEMP.new" "$TEMP" || fail "cannot write $TEMP"
}

cat >"$TEST_DIR/vigil.ini" <<EOF
[daemon]
control_socket = $SOCK
flush_interval = 100ms

[health]
root = $ROOT
; The shortest interval there is.
interval = 10s
; / below root is the build machine's disk: never degrade on it.
disk_paths = /
disk_used_max = 100

[sensor.synth]
plugin = synthetic
interval = 1s

; Takes health reports, and nothing else.
[sink.health]
plugin = file
path = $HEALTH
health = yes
events = no
fsync = never

; Takes incident events only (health = no, the default).
[sink.events]
plugin = file
path = $EVENTS
fsync = never
EOF

# health_events: the number of health events in $HEALTH.
health_events()
{
	if [ -f "$HEALTH" ]; then
		grep -c '"event":"health"' "$HEALTH"
	else
		echo 0
	fi
}
at_least() { [ "$(health_events)" -ge "$1" ]; }

# check_event N STATUS SEVERITY MESSAGE: the Nth health event (from 1).
check_event()
{
	"$PYTHON" - "$HEALTH" "$@" <<'EOF' || fail "health event $1 is not as expected (above)"
import json, sys
path, n, status, severity, message = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
evs = [json.loads(l) for l in open(path) if l.strip()]
evs = [e for e in evs if e["event"] == "health"]
e = evs[n - 1]
l = e["labels"]
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
check(e["key"] == "health" and e["type"] == "health", f"key/type {e['key']!r} {e['type']!r}")
check(e["severity"] == severity, f"severity {e['severity']!r}, expected {severity!r}")
check(e["message"] == message, f"message {e['message']!r}, expected {message!r}")
check(l.get("status") == status, f"labels.status {l.get('status')!r}")
check(l.get("hostname") == "vigil-fixture", f"labels.hostname {l.get('hostname')!r}")
check(l.get("serial") == "10000000abcdef12", f"labels.serial {l.get('serial')!r}")
check(l.get("mem_total_kb") == "3882780", f"labels.mem_total_kb {l.get('mem_total_kb')!r}")
check(l.get("net_up") == "yes", f"labels.net_up {l.get('net_up')!r}")
check(l.get("uptime_s") == "12345", f"labels.uptime_s {l.get('uptime_s')!r}")
check(l.get("disk0_path") == "/", f"labels.disk0_path {l.get('disk0_path')!r}")
check(l.get("plugins") == "3" and l.get("plugins_failed") == "0",
      f"labels.plugins {l.get('plugins')!r} failed {l.get('plugins_failed')!r}")
check("version" in l and "vigild_uptime_s" in l, f"labels {sorted(l)}")
print(f"health event {n}: {e['severity']} {e['message']!r}")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
}

ctl()
{
	"$VIGILCTL" --socket "$SOCK" --no-color "$@" >"$TEST_DIR/out" 2>"$TEST_DIR/err"
	RC=$?
}

start_vigild "$TEST_DIR/vigil.ini"

# --- the first report, at once
wait_until 10 "the first health event" at_least 1
check_event 1 healthy info healthy
grep -Eq '\[health\] healthy$' "$VIGILD_LOG" || fail "the first report was not logged"
ctl health
[ "$RC" -eq 0 ] || fail "vigilctl health exited $RC: $(cat "$TEST_DIR/out" "$TEST_DIR/err")"
grep -Eq '^healthy, vigild up [0-9a-z]+, system up 3h25m45s$' "$TEST_DIR/out" ||
	fail "vigilctl health: $(cat "$TEST_DIR/out")"
ctl --json health
[ "$RC" -eq 0 ] || fail "vigilctl --json health exited $RC"
"$PYTHON" - "$TEST_DIR/out" <<'EOF' || fail "vigilctl --json health is not as expected (above)"
import json, sys
r = json.load(open(sys.argv[1]))
h = r["health"]
want = {"status": "healthy", "severity": "info", "reasons": [],
        "hostname": "vigil-fixture", "serial": "10000000abcdef12",
        "uptime_s": 12345.67, "processes": 213, "cpu_temp_c": 48.312}
got = {k: h.get(k) for k in want}
ok = got == want and r["published"] is True and r["interval_s"] == 10
ok = ok and h["memory"]["total_kb"] == 3882780 and h["network"]["up"] is True
ok = ok and [d["path"] for d in h["disks"]] == ["/"]
ok = ok and {p["instance"] for p in h["plugins"]} == {"sensor.synth", "sink.health", "sink.events"}
print(json.dumps(r)[:400])
sys.exit(0 if ok else 1)
EOF

# --- hot: the next report is degraded
set_temp 95000
wait_until 20 "the second health event" at_least 2
check_event 2 degraded warning "degraded: cpu temperature 95 C (threshold 80 C)"
wait_for "$VIGILD_LOG" 'notice +\[health\] degraded: cpu temperature 95 C \(threshold 80 C\)$' 5
ctl health
[ "$RC" -eq 4 ] || fail "vigilctl health exited $RC on a degraded report, expected 4"
grep -Eq '^degraded, vigild up ' "$TEST_DIR/out" || fail "vigilctl health: $(cat "$TEST_DIR/out")"
grep -Fxq '  - cpu temperature 95 C (threshold 80 C)' "$TEST_DIR/out" ||
	fail "vigilctl health does not give the reason: $(cat "$TEST_DIR/out")"
ctl status
grep -Fxq 'health: degraded' "$TEST_DIR/out" || fail "vigilctl status: $(cat "$TEST_DIR/out")"

# --- cool again: healthy again, said once
set_temp 45000
wait_until 20 "the third health event" at_least 3
check_event 3 healthy info healthy
wait_for "$VIGILD_LOG" 'notice +\[health\] healthy again$' 5
ctl health
[ "$RC" -eq 0 ] || fail "vigilctl health exited $RC once healthy again"
stop_vigild

# Health went only where it was asked for.
! grep -q '"event":"health"' "$EVENTS" 2>/dev/null ||
	fail "a sink without health = yes received a health event"

# --- enabled = no: nothing published; vigilctl health still answers
sed -i 's/^interval = 10s$/enabled = no/' "$TEST_DIR/vigil.ini"
rm -f "$HEALTH"
start_vigild "$TEST_DIR/vigil.ini"
answers() { "$VIGILCTL" --socket "$SOCK" status >/dev/null 2>&1; }
wait_until 20 "vigilctl to answer" answers
ctl --json health
[ "$RC" -eq 0 ] || fail "vigilctl health with enabled = no exited $RC: $(cat "$TEST_DIR/out" "$TEST_DIR/err")"
"$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["health"]["status"] == "healthy" and r["published"] is False and r["interval_s"] is None else 1)
' "$TEST_DIR/out" || fail "vigilctl --json health with enabled = no: $(cat "$TEST_DIR/out")"
ctl health
grep -Fq "collected for this request" "$TEST_DIR/out" || fail "vigilctl health with enabled = no: $(cat "$TEST_DIR/out")"
sleep 1
stop_vigild
[ "$(health_events)" -eq 0 ] || fail "enabled = no, but a health event was published"

# --- bad [health] keys are configuration errors, with their line
cat >"$TEST_DIR/bad.ini" <<EOF
[sensor.synth]
plugin = synthetic

[health]
interval = 1s
root = relative/path
colour = blue
EOF
check_config "$TEST_DIR/bad.ini" "$TEST_DIR/bad.out"
[ "$rc" -eq 78 ] || fail "--check-config on bad [health] keys exited $rc, expected 78: $(cat "$TEST_DIR/bad.out")"
for want in "bad.ini:5: [health] interval = '1s'" \
	"bad.ini:6: [health] root = 'relative/path': expected an absolute path" \
	"bad.ini:7: [health] unknown key 'colour'"; do
	grep -Fq "$want" "$TEST_DIR/bad.out" || fail "no '$want' in: $(cat "$TEST_DIR/bad.out")"
done

pass "health reports reach the sink that asked, change with the device, and vigilctl health shows them"
