#!/bin/bash
# The shipped etc/vigil.ini and the remediation scripts it runs
# (scripts/remedy/vigil-remedy-*), none of which may touch this machine:
#
#   1. `vigild --check-config` passes on etc/vigil.ini with the build
#      tree's plugins, and what it sets up is what the default routing and
#      remediation promise: three enabled exec actions whose commands are
#      scripts of scripts/remedy (installed by Makefile.am), each on a rule
#      the file enables; the log sink at info with the health report, the
#      webhook (critical) and MQTT (warning, health) sinks disabled.
#   2. Each script, run directly in dry-run (--dry-run and
#      VIGIL_REMEDY_DRY_RUN=1), says what it would do and does nothing;
#      the memory and bounce scripts also run for real against a fixture
#      tree (VIGIL_REMEDY_ROOT) with a fake `ip`, and the bounce script
#      refuses lo, a missing interface label, an unknown, an
#      administratively down or a virtual interface, and bad names.
#      renice reads the real /proc: a busy loop of this test is what it
#      would renice, never PID 1, kernel threads or a process named vigild;
#      a fake `renice` first in PATH proves the dry run calls none.
#   3. End to end: vigild runs the shipped [action.*] sections verbatim on
#      incidents of the rules they name (network and memory sensors on the
#      fixture tree, a synthetic CPU), the commands found by name in PATH,
#      where wrappers run the real scripts with --dry-run; the attempts'
#      output is in the file sink's events.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

SHIPPED=$VIGIL_SRCDIR/etc/vigil.ini
REMEDY=$VIGIL_SRCDIR/scripts/remedy
SCRIPTS="vigil-remedy-renice vigil-remedy-memory vigil-remedy-bounce"

for s in $SCRIPTS; do
	[ -x "$REMEDY/$s" ] || fail "$REMEDY/$s is missing or not executable"
done

# Fakes of the commands that would change something, first in PATH for
# every script run below: each records its arguments.
FAKEBIN=$TEST_DIR/fakebin
CALLS=$TEST_DIR/calls.log
mkdir "$FAKEBIN"
: >"$CALLS"
for c in ip renice; do
	cat >"$FAKEBIN/$c" <<EOF
#!/bin/sh
echo "$c \$*" >>"$CALLS"
case "$c \$*" in
*" \${FAKE_FAIL:-never}") echo "RTNETLINK answers: Operation not permitted" >&2; exit 2 ;;
esac
exit 0
EOF
	chmod +x "$FAKEBIN/$c"
done
SAFE_PATH=$FAKEBIN:$PATH

# run SCRIPT [ARGS...]: runs a remedy script with the fakes first in PATH,
# without anything of the test's environment that could change what it
# does; sets OUT (stdout and stderr) and RC.
run()
{
	local s=$1

	shift
	RC=0
	# RUN_ENV: NAME=VALUE words, without blanks in them.
	# shellcheck disable=SC2086
	OUT=$(env -u VIGIL_LABEL_INTERFACE -u VIGIL_REMEDY_DRY_RUN \
		-u VIGIL_REMEDY_ROOT PATH="$SAFE_PATH" ${RUN_ENV:-} \
		"$REMEDY/$s" "$@" 2>&1) || RC=$?
	printf '%s\n' "--- $s $* (exit $RC)" "$OUT"
}

# expect RC PATTERN WHAT: the last run exited RC and printed PATTERN (ERE).
expect()
{
	[ "$RC" -eq "$1" ] || fail "$3: exit status $RC, expected $1"
	grep -Eq -- "$2" <<<"$OUT" || fail "$3: output lacks /$2/"
}

no_calls()
{
	[ ! -s "$CALLS" ] || fail "$1: ran $(paste -sd';' "$CALLS")"
}

# ------------------------------------------------ 1. the shipped file

mkdir "$TEST_DIR/state"
check_config "$SHIPPED" "$TEST_DIR/check.out" -s "$TEST_DIR/state"
cat "$TEST_DIR/check.out"
[ "$rc" -eq 0 ] || fail "--check-config on etc/vigil.ini exited $rc, expected 0"
grep -Fq -- "$SHIPPED: configuration OK" "$TEST_DIR/check.out" ||
	fail "--check-config did not say etc/vigil.ini is OK"
# Allowed: hardware this machine lacks (thermal zones), and a disabled
# sink whose plugin this build left out (no libcurl, no Paho).
if grep -E "^vigild: " "$TEST_DIR/check.out" |
	grep -Ev "would not start on this machine now: |\[sink\.(webhook|mqtt)\] plugin '(webhook|mqtt)' not found: .*\(section is disabled\)$"; then
	fail "etc/vigil.ini: an unexpected diagnostic (above)"
fi
grep -Eq "\[action\.|\[sink\.log\]" "$TEST_DIR/check.out" &&
	fail "etc/vigil.ini: an action or the log sink would not start"

"$PYTHON" - "$SHIPPED" "$REMEDY" "$VIGIL_SRCDIR/Makefile.am" <<'EOF' ||
import configparser, os, re, shlex, sys

shipped, remedy, makefile_am = sys.argv[1:4]
bad = []

def check(cond, what):
    if not cond:
        bad.append(what)
    return cond

# vigild's INI: ';' or '#' starts a comment line; after a value only ';'
# preceded by a blank does.
ini = configparser.ConfigParser(interpolation=None, strict=True,
                                comment_prefixes=(";", "#"),
                                inline_comment_prefixes=(";",))
ini.optionxform = str
ini.read(shipped)

def sec(name):
    return ini[name] if ini.has_section(name) else {}

def enabled(s):
    return s.get("enabled", "yes") in ("yes", "true", "on", "1")

rules = {n.split(".", 1)[1] for n in ini.sections()
         if n.startswith("rule.") and enabled(ini[n])}
with open(makefile_am) as f:
    am = f.read()
scripts_am = " ".join(m.group(1) for m in re.finditer(
    r"^\w+_SCRIPTS\s*\+?=((?:.*\\\n)*.*)$", am, re.M))

# --- the seed's remediations, enabled, on rules that exist
want_actions = {
    "renice_top": ("vigil-remedy-renice", {"cpu_busy", "cpu_hot"}),
    "memory_relief": ("vigil-remedy-memory", {"memory_low"}),
    "bounce_interface": ("vigil-remedy-bounce", {"network_down"}),
}
for name, (script, on) in want_actions.items():
    a = sec("action." + name)
    if not check(a, f"[action.{name}] is missing"):
        continue
    check(enabled(a) and a.get("plugin") == "exec",
          f"[action.{name}]: not an enabled exec action")
    check(a.get("min_severity", "critical") == "critical",
          f"[action.{name}]: min_severity {a.get('min_severity')}")
    got_on = set(a.get("on", "*").split())
    check(got_on == on, f"[action.{name}]: on = {sorted(got_on)}, expected {sorted(on)}")
    for r in got_on:
        check(r in rules, f"[action.{name}]: on = {r}, but [rule.{r}] is not enabled")
    for k in ("attempts", "verify", "cooldown", "timeout"):
        check(k in a, f"[action.{name}]: {k} is not set")
    argv = shlex.split(a.get("command", ""))
    # Run by name, found in PATH: installed (sbindir), or scripts/remedy
    # first in PATH from the source tree.
    if check(argv and argv[0] == script,
             f"[action.{name}]: command {argv}, expected {script} ..."):
        check(os.access(os.path.join(remedy, script), os.X_OK),
              f"[action.{name}]: scripts/remedy/{script} is not executable")
        check("scripts/remedy/" + script in scripts_am,
              f"Makefile.am does not install scripts/remedy/{script} (no *_SCRIPTS lists it)")
        check("--dry-run" not in argv, f"[action.{name}]: ships in dry-run")

# --- routing: critical to webhook, MQTT and log; warning to MQTT and
# log; info to the log; webhook and MQTT disabled until configured.
want_sinks = {
    "log": ("log", True, "info", True),
    "webhook": ("webhook", False, "critical", False),
    "mqtt": ("mqtt", False, "warning", True),
}
for name, (plugin, on, sev, health) in want_sinks.items():
    s = sec("sink." + name)
    if not check(s, f"[sink.{name}] is missing"):
        continue
    check(s.get("plugin", name) == plugin, f"[sink.{name}]: plugin {s.get('plugin')}")
    check(enabled(s) == on, f"[sink.{name}]: enabled is not {'yes' if on else 'no'}")
    check(s.get("min_severity", "info") == sev,
          f"[sink.{name}]: min_severity {s.get('min_severity', 'info')}, expected {sev}")
    check((s.get("health", "no") == "yes") == health,
          f"[sink.{name}]: health {s.get('health', 'no')}")
    check(s.get("dedupe", "5m") == "5m", f"[sink.{name}]: dedupe {s.get('dedupe')}")
    check(s.get("match", "*") == "*", f"[sink.{name}]: match {s.get('match')}")
check(sec("sink.webhook").get("url", "").startswith("https://"),
      "[sink.webhook]: no https:// url placeholder")
check(sec("sink.mqtt").get("server") == "tcp://localhost:1883",
      f"[sink.mqtt]: server {sec('sink.mqtt').get('server')}")

for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
	fail "etc/vigil.ini is not the default routing and remediation (above)"
note "etc/vigil.ini passes --check-config and routes and remedies as the seed"

# ------------------------------------------------ 2. the scripts alone

# A fixture tree: /proc/meminfo at 96% used, one big process, the two
# /proc/sys/vm knobs; /sys/class/net with a physical eth9 (up, no link),
# lo, a loopback under another name, one set down on purpose, a virtual
# bridge.
ROOT=$TEST_DIR/root
mkdir -p "$ROOT/proc/sys/vm" "$ROOT/proc/4242" "$ROOT/sys/class/net"
cat >"$ROOT/proc/meminfo" <<EOF
MemTotal:        1000000 kB
MemFree:           20000 kB
MemAvailable:      40000 kB
Buffers:            1000 kB
Cached:            30000 kB
EOF
echo '4242 (big app) S 1 4242 4242 0 -1 4194560 0 0 0 0 10 10 0 0 20 0 1 0 100 900000000 200000 18446744073709551615' \
	>"$ROOT/proc/4242/stat"
reset_knobs()
{
	echo 0 >"$ROOT/proc/sys/vm/drop_caches"
	echo 0 >"$ROOT/proc/sys/vm/compact_memory"
}
reset_knobs
# iface NAME FLAGS OPERSTATE [physical]
iface()
{
	local d=$ROOT/sys/class/net/$1

	mkdir -p "$d"
	echo "$2" >"$d/flags"
	echo "$3" >"$d/operstate"
	[ "${4:-}" != physical ] || mkdir -p "$d/device"
}
iface eth9 0x1003 down physical
iface lo 0x9 unknown
iface loop2 0x9 unknown physical
iface eth8 0x1002 down physical
iface br0 0x1003 down

# --- memory
RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT"
run vigil-remedy-memory --dry-run
expect 0 "^memory: 937 MB used of 976 MB \(96\.0%\), 39 MB available$" "memory --dry-run"
# 200000 pages resident.
big_mb=$((200000 * $(getconf PAGESIZE) / 1048576))
expect 0 "^largest: big app \(pid 4242\) $big_mb MB$" "memory --dry-run"
expect 0 "^would sync file systems$" "memory --dry-run"
expect 0 "^would drop caches: write 1 to $ROOT/proc/sys/vm/drop_caches$" "memory --dry-run"
expect 0 "^would compact memory: write 1 to $ROOT/proc/sys/vm/compact_memory$" "memory --dry-run"
grep -q "now" <<<"$OUT" && fail "memory --dry-run reports a result"
RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT VIGIL_REMEDY_DRY_RUN=1"
run vigil-remedy-memory --drop-caches 3
expect 0 "^would drop caches: write 3 to " "memory, VIGIL_REMEDY_DRY_RUN=1"
[ "$(cat "$ROOT/proc/sys/vm/drop_caches" "$ROOT/proc/sys/vm/compact_memory")" = "0
0" ] || fail "memory: a dry run wrote to the fixture's knobs"

RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT"
run vigil-remedy-memory
expect 0 "^drop caches: wrote 1 to " "memory"
expect 0 "^compact memory: wrote 1 to " "memory"
expect 0 "^memory now: .*; available [+-][0-9]+ MB$" "memory"
[ "$(cat "$ROOT/proc/sys/vm/drop_caches" "$ROOT/proc/sys/vm/compact_memory")" = "1
1" ] || fail "memory: the fixture's knobs were not written"
reset_knobs
run vigil-remedy-memory --drop-caches 2 --no-compact --top 0
expect 0 "^drop caches: wrote 2 to " "memory --drop-caches 2 --no-compact"
grep -Eq "compact|largest" <<<"$OUT" && fail "memory --no-compact --top 0 compacted or listed"
# A kernel without the knobs (and, alike, a read-only /proc/sys or no
# root: root can write any fixture file, so that is what is shown): only
# sync could be done, which is a failure.
rm "$ROOT/proc/sys/vm/drop_caches" "$ROOT/proc/sys/vm/compact_memory"
run vigil-remedy-memory --dry-run
expect 1 "^cannot drop caches: no .* in this kernel$" "memory without knobs"
expect 1 "^nothing done but sync" "memory without knobs"
reset_knobs
run vigil-remedy-memory --drop-caches 4
expect 2 "expected 0, 1, 2 or 3" "memory --drop-caches 4"

# --- bounce: refusals, with and without dry run; nothing is run
RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT"
for dry in --dry-run ""; do
	run vigil-remedy-bounce $dry
	expect 1 "^refusing to bounce: no interface named: the incident has no interface label" \
		"bounce $dry without a label"
	RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT VIGIL_LABEL_INTERFACE=lo"
	run vigil-remedy-bounce $dry
	expect 1 "^refusing to bounce lo: it is the loopback interface$" "bounce $dry lo"
	RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT"
	run vigil-remedy-bounce $dry loop2
	expect 1 "^refusing to bounce loop2: it is a loopback interface$" "bounce $dry loop2"
	run vigil-remedy-bounce $dry eth7
	expect 1 "^refusing to bounce eth7: there is no such interface" "bounce $dry eth7"
	run vigil-remedy-bounce $dry eth8
	expect 1 "^refusing to bounce eth8: it is administratively down" "bounce $dry eth8"
	run vigil-remedy-bounce $dry br0
	expect 1 "^refusing to bounce br0: it is a virtual interface" "bounce $dry br0"
	for bad in a/b .. -x eth9x123456789012 'eth 9' "$(printf 'e\tx')"; do
		RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT" run vigil-remedy-bounce $dry -- "$bad"
		expect 1 "is not an interface name" "bounce $dry '$bad'"
	done
done
no_calls "bounce refusals"

run vigil-remedy-bounce --dry-run br0 --allow-virtual
expect 2 "^usage: " "bounce with an option after INTERFACE"
run vigil-remedy-bounce --dry-run --allow-virtual br0
expect 0 "^would bounce br0 \(operstate down\): ip link set dev br0 down; sleep 1; ip link set dev br0 up$" \
	"bounce --allow-virtual br0"
RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT VIGIL_LABEL_INTERFACE=eth9 VIGIL_REMEDY_DRY_RUN=1"
run vigil-remedy-bounce
expect 0 "^would bounce eth9 \(operstate down\): ip link set dev eth9 down; sleep 1; ip link set dev eth9 up$" \
	"bounce eth9 (label, VIGIL_REMEDY_DRY_RUN=1)"
no_calls "bounce dry runs"

# For real, with the fake ip.
RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT VIGIL_LABEL_INTERFACE=eth9"
run vigil-remedy-bounce --wait 0
expect 0 "^bounced eth9 \(operstate was down\): down, 0s, up; operstate now down$" "bounce eth9"
[ "$(cat "$CALLS")" = "ip link set dev eth9 down
ip link set dev eth9 up" ] || fail "bounce eth9 ran: $(paste -sd';' "$CALLS")"
: >"$CALLS"
RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT VIGIL_LABEL_INTERFACE=eth9 FAKE_FAIL=down"
run vigil-remedy-bounce --wait 0
expect 1 "^could not bounce eth9: ip link set dev eth9 down failed: RTNETLINK answers: Operation not permitted; left it as it was" \
	"bounce eth9, down failing"
[ "$(cat "$CALLS")" = "ip link set dev eth9 down" ] ||
	fail "bounce eth9, down failing, ran: $(paste -sd';' "$CALLS")"
: >"$CALLS"
# up failing: tried twice, and said loudly.
RUN_ENV="VIGIL_REMEDY_ROOT=$ROOT VIGIL_LABEL_INTERFACE=eth9 FAKE_FAIL=up"
run vigil-remedy-bounce --wait 0
expect 1 "^took eth9 down but could not bring it up again: ip link set dev eth9 up failed twice" \
	"bounce eth9, up failing"
[ "$(grep -c 'up$' "$CALLS")" -eq 2 ] || fail "bounce eth9, up failing: up not tried twice"
: >"$CALLS"
RUN_ENV=

# --- renice, on the real /proc: this test's busy loop is what it would
# renice; a busy loop named vigild and PID 1 never are.
command -v setsid >/dev/null || skip "setsid (util-linux) is needed"
mkdir "$TEST_DIR/bin"
ln -s /bin/sh "$TEST_DIR/bin/vigil-spin"
ln -s /bin/sh "$TEST_DIR/bin/vigild"
"$TEST_DIR/bin/vigil-spin" -c 'while :; do :; done' &
SPIN=$!
track_pid "$SPIN"
"$TEST_DIR/bin/vigild" -c 'while :; do :; done' &
DECOY=$!
track_pid "$DECOY"
nice_of()
{
	awk '{ sub(/^.*\) /, ""); print $17 }' "/proc/$1/stat"
}
spin_nice=$(nice_of "$SPIN")
want_nice=$((spin_nice + 10 > 19 ? 19 : spin_nice + 10))

run vigil-remedy-renice --dry-run --count 1000 --min-cpu 5
expect 0 "^would renice pid $SPIN \(vigil-spin\) from nice $spin_nice to $want_nice, using [0-9.]+% CPU$" \
	"renice --dry-run"
grep -Eq "pid ($DECOY|1) " <<<"$OUT" && fail "renice --dry-run would renice vigild or PID 1"
while read -r _ _ pid _; do
	flags=$(awk '{ sub(/^.*\) /, ""); print $7 }' "/proc/$pid/stat" 2>/dev/null) || continue
	[ $(((flags >> 21) & 1)) -eq 0 ] || fail "renice --dry-run would renice kernel thread $pid"
done < <(grep '^would renice pid ' <<<"$OUT")
[ "$(nice_of "$SPIN")" = "$spin_nice" ] || fail "renice --dry-run changed a nice value"
RUN_ENV="VIGIL_REMEDY_DRY_RUN=1"
run vigil-remedy-renice --count 1000 --min-cpu 5
expect 0 "^would renice pid $SPIN " "renice, VIGIL_REMEDY_DRY_RUN=1"
RUN_ENV=
no_calls "renice dry runs"
# For real, with the fake renice: every thread of the loop, to the target.
run vigil-remedy-renice --count 1000 --min-cpu 5
expect 0 "^reniced pid $SPIN \(vigil-spin\) from nice $spin_nice to $want_nice, " "renice"
grep -Fxq "renice $want_nice -p $SPIN" "$CALLS" ||
	fail "renice: the loop was not reniced to $want_nice: $(paste -sd';' "$CALLS")"
grep -Eq "^renice [0-9-]+ -p .*\b($DECOY|1)\b" "$CALLS" && fail "renice reniced vigild or PID 1"
: >"$CALLS"
kill_pid "$SPIN"
kill_pid "$DECOY"
# Nothing busy enough: nothing done, exit 1.
run vigil-remedy-renice --dry-run --min-cpu 100000
expect 1 "^nothing to renice: " "renice with nothing above --min-cpu"
run vigil-remedy-renice --count x
expect 2 "expected a whole number" "renice --count x"
no_calls "renice"

# ------------------------------------------------ 3. end to end

# The shipped actions verbatim; their commands found in PATH, where each
# is a wrapper running the real script in dry-run on the fixture tree.
# vigild's PATH has nothing else of this machine's sbin directories, so
# that no installed vigil-remedy-* can be run instead.
WRAP=$TEST_DIR/wrap
mkdir "$WRAP"
for s in $SCRIPTS; do
	root=$ROOT
	[ "$s" != vigil-remedy-renice ] || root= # the real /proc
	cat >"$WRAP/$s" <<EOF
#!/bin/sh
VIGIL_REMEDY_ROOT='$root' exec '$REMEDY/$s' --dry-run "\$@"
EOF
	chmod +x "$WRAP/$s"
done
iface eth9 0x1003 down physical
iface lo 0x9 down
EVENTS=$TEST_DIR/events.jsonl
{
	cat <<EOF
[daemon]
flush_interval = 100ms

[sensor.network]
plugin = network
root = $ROOT
interfaces = eth9 lo
interval = 100ms

[sensor.memory]
plugin = memory
root = $ROOT
interval = 100ms

[sensor.cpu]
plugin = synthetic
metric = cpu.usage_percent
value = 99
interval = 100ms

; The shipped rules' names, which the actions' \`on\` selects; no hold time.
[rule.network_down]
plugin = threshold
match = network.up
direction = below
critical = 0.5

[rule.memory_low]
plugin = threshold
match = memory.used_percent
critical = 95

[rule.cpu_busy]
plugin = threshold
match = cpu.usage_percent
critical = 98

[sink.events]
plugin = file
path = $EVENTS
fsync = always

EOF
	awk '/^\[/ { keep = $0 ~ /^\[action\./ } keep && !/^[;#]/' "$SHIPPED"
} >"$TEST_DIR/e2e.ini"
grep -c '^\[action\.' "$TEST_DIR/e2e.ini" | grep -qx 3 ||
	fail "could not take the three [action.*] sections out of etc/vigil.ini"

PATH="$WRAP:$FAKEBIN:/usr/bin:/bin" start_vigild "$TEST_DIR/e2e.ini"
for key in 'network_down\{interface=eth9\}' 'network_down\{interface=lo\}' \
	'memory_low' 'cpu_busy'; do
	wait_for "$EVENTS" "\"event\":\"action\",\"id\":[0-9]+,\"key\":\"$key\"" 60
done
stop_vigild
no_calls "vigild's actions"

"$PYTHON" - "$EVENTS" "$ROOT" <<'EOF' || fail "the shipped actions' attempts are not as expected (see above)"
import json, re, sys

events_path, root = sys.argv[1:3]
bad = []

def check(cond, what):
    if not cond:
        bad.append(what)
    return cond

events = [json.loads(l) for l in open(events_path).read().splitlines()]
attempts = {}
for e in events:
    if e["event"] == "action" and e["actions"]:
        attempts.setdefault(e["key"], e["actions"][0])

want = {
    "network_down{interface=eth9}": ("bounce_interface", "ok",
        r"would bounce eth9 \(operstate down\): ip link set dev eth9 down; sleep 1; ip link set dev eth9 up"),
    "network_down{interface=lo}": ("bounce_interface", "failed",
        r"refusing to bounce lo: it is the loopback interface"),
    "memory_low": ("memory_relief", "ok",
        r"memory: 937 MB used of 976 MB \(96\.0%\).*would drop caches: write 1 to " + re.escape(root)),
    "cpu_busy": ("renice_top", None, r"(would renice pid|nothing to renice)"),
}
for key, (action, outcome, pattern) in want.items():
    a = attempts.get(key)
    if not check(a, f"{key}: no attempt recorded"):
        continue
    check(a["action"] == action, f"{key}: run by {a['action']}, expected {action}")
    if outcome:
        check(a["outcome"] == outcome, f"{key}: outcome {a['outcome']}, expected {outcome}: {a}")
    else:
        check(a["outcome"] in ("ok", "failed"), f"{key}: outcome {a['outcome']}: {a}")
    check(re.search(pattern, a["output"], re.S),
          f"{key}: output {a['output']!r} lacks /{pattern}/")
check(set(attempts) == set(want), f"attempts for {sorted(attempts)}, expected {sorted(want)}")

for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
[ "$(cat "$ROOT/proc/sys/vm/drop_caches")" = 0 ] || fail "vigild's memory_relief was not a dry run"

# --- 4. The shipped file verbatim, against this machine, for a few
# seconds (its rules need 20 s or more to fire; with PATH holding only
# the fake commands, no remediation could run anyway), from a relative
# state directory: the file sink's events.jsonl lands in it (a relative
# state_dir is taken from vigild's working directory), and the plugins
# the file keeps inside vigild are there, the others in workers.
(
	cd "$TEST_DIR" || exit 1
	PATH="$FAKEBIN:/usr/bin:/bin" exec "$VIGILD" -c "$SHIPPED" \
		-p "$VIGIL_TEST_PLUGIN_PATH" -s rel-state \
		-S "$TEST_DIR/shipped.sock" >>"$VIGILD_LOG" 2>&1
) &
VIGILD_PID=$!
track_pid "$VIGILD_PID"
wait_until 20 "events.jsonl in the relative state directory" \
	test -e "$TEST_DIR/rel-state/events.jsonl"
! grep -q 'path must be' "$VIGILD_LOG" ||
	fail "the file sink refused its path: $(grep 'path must be' "$VIGILD_LOG")"
# maps_of PID: the plugins it has loaded.
maps_of()
{
	grep -o '[a-z_]*\.so$' "/proc/$1/maps" 2>/dev/null | sort -u | tr '\n' ' '
}
# The disk and network sensors and the file sink share one worker
# (`worker = io`): one child has loaded all three.
workers_loaded()
{
	local c
	for c in $(ps --ppid "$VIGILD_PID" -o pid=); do
		[ "$(maps_of "$c" | tr ' ' '\n' | grep -cE '^(disk|network|file)\.so$')" -eq 3 ] &&
			return 0
	done
	return 1
}
wait_until 20 "one worker for the disk and network sensors and the file sink" workers_loaded
core_maps=$(maps_of "$VIGILD_PID")
for so in cpu.so memory.so load.so threshold.so log.so; do
	case " $core_maps" in *" $so "*) ;; *) fail "vigild has not loaded $so itself (isolation = none): $core_maps" ;; esac
done
# Each instance's isolation, as vigilctl reports it.
"$VIGIL_BUILDDIR/vigilctl" -s "$TEST_DIR/shipped.sock" status --json >"$TEST_DIR/shipped-status.json" ||
	fail "vigilctl status failed on the shipped file"
"$PYTHON" - "$TEST_DIR/shipped-status.json" <<'EOF' || fail "the shipped file's instances are not isolated as it says (see above)"
import json, sys
inside = {"sensor.cpu", "sensor.memory", "sensor.load", "sink.log"}
workers = {"sensor.cpu_temp", "sensor.disk", "sensor.network", "sink.events",
           "action.renice_top", "action.memory_relief", "action.bounce_interface"}
shared = {"sensor.disk", "sensor.network", "sink.events"}
bad, seen = [], set()
for p in json.load(open(sys.argv[1]))["plugins"]:
    s, iso = p["section"], p["isolation"]
    seen.add(s)
    if s in shared and p.get("worker") != "io":
        bad.append("%s: worker %s, expected io" % (s, p.get("worker")))
    if s in inside or s.startswith("rule."):
        want = "none"
    elif s in workers:
        want = "process"
    else:
        continue
    if iso != want:
        bad.append("%s: isolation %s, expected %s" % (s, iso, want))
for s in sorted((inside | workers) - seen):
    bad.append("%s: not in vigilctl status" % s)
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
n_children=$(ps --ppid "$VIGILD_PID" -o pid= | wc -l)
stop_vigild
note "shipped file: $n_children child processes (the spawner and the workers)"

pass "etc/vigil.ini checks and routes as the seed; the remedy scripts dry-run, refuse and act as they should; vigild runs them by name; run verbatim from a relative state directory, with cpu, memory, load, the rules and the log sink inside vigild and disk, network and the file sink sharing one worker"
