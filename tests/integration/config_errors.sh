#!/bin/bash
# Configuration errors are all reported, each with its file and line, and
# stop vigild before anything runs: `vigild --check-config` exits 78
# (EX_CONFIG) and lists them; plain `vigild` on the same file exits 78
# too and starts no instance. A good file passes, and so does the shipped
# etc/vigil.ini.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99

BAD=$TEST_DIR/bad.ini
SINK_FILE=$TEST_DIR/never-written.jsonl

# Line numbers matter below: keep them in step with this text.
cat >"$BAD" <<EOF
; a configuration with several distinct errors
[daemon]
log_level = info

[sensor.synth]
plugin = synthetic
interval = 5 parsecs
intervall = 1s

[widget.foo]
color = blue

[rule.r]
plugin = threshold
warning = 3

[sensor.ghost]
plugin = no_such_plugin

[sink.out]
plugin = file
path = $SINK_FILE
fsync = sometimes
EOF
#   line 7:  bad duration          line 8:  unknown key
#   line 10: unknown section       line 13: [rule.r] misses match
#   line 18: plugin not found      line 23: bad enum value

expect_errors()
{
	local out=$1 what=$2

	grep -Fq -- "$BAD:8: [sensor.synth] unknown key 'intervall'; did you mean 'interval'?" "$out" ||
		fail "$what: no error for the unknown key at line 8"
	grep -Fq -- "$BAD:7: [sensor.synth] interval = '5 parsecs': not a duration" "$out" ||
		fail "$what: no error for the bad duration at line 7"
	grep -Fq -- "$BAD:10: unknown section [widget.foo]" "$out" ||
		fail "$what: no error for the unknown section at line 10"
	grep -Fq -- "$BAD:13: [rule.r] required key 'match' is missing" "$out" ||
		fail "$what: no error for the missing 'match' at line 13"
	grep -Fq -- "$BAD:18: [sensor.ghost] plugin 'no_such_plugin' not found" "$out" ||
		fail "$what: no error for the missing plugin at line 18"
	grep -Fq -- "$BAD:23: [sink.out] fsync = 'sometimes'" "$out" ||
		fail "$what: no error for the bad fsync at line 23"
	grep -Fq -- "$BAD: 6 error(s); nothing was started" "$out" ||
		fail "$what: the summary does not say 6 errors"
	# Nothing but these: the key inside the unknown section and the
	# valid lines do not get errors of their own.
	n=$(grep -Ec -- "^vigild: $BAD:[0-9]+: " "$out")
	[ "$n" -eq 6 ] || fail "$what: $n FILE:LINE errors, expected 6"
}

# --check-config
check_config "$BAD" "$TEST_DIR/check.out" -s "$TEST_DIR/state"
cat "$TEST_DIR/check.out"
[ "$rc" -eq 78 ] || fail "--check-config on a bad file exited $rc, expected 78"
expect_errors "$TEST_DIR/check.out" "--check-config"

# Plain vigild: the same errors, exit 78, and nothing started (the state
# directory is created only once instances start; the file sink would
# create its file at init).
rc=0
start_vigild "$BAD"
vigild_gone()
{
	! vigild_alive
}
wait_until 20 "vigild to refuse $BAD" vigild_gone
wait "$VIGILD_PID" || rc=$?
VIGILD_PID=
[ "$rc" -eq 78 ] || fail "vigild on a bad file exited $rc, expected 78"
expect_errors "$VIGILD_LOG" "vigild"
[ ! -e "$TEST_DIR/state" ] || fail "vigild created its state directory"
[ ! -e "$SINK_FILE" ] || fail "vigild started the file sink"
grep -q "running" "$VIGILD_LOG" && fail "vigild says it is running"

# A plugin's own check, run by --check-config only: threshold refuses a
# warning level above the critical one.
cat >"$TEST_DIR/refused.ini" <<EOF
[sensor.synth]
plugin = synthetic

[rule.upside_down]
plugin = threshold
match = synthetic.value
warning = 90
critical = 80
EOF
# refused_in_one_line NAME WANT: --check-config on $TEST_DIR/NAME.ini
# exits 78 with WANT (FILE:LINE, the instance, the plugin's own reason),
# and the instance appears on that line only.
refused_in_one_line()
{
	local out=$TEST_DIR/$1.out want=$TEST_DIR/$1.ini:$2 sec=${2#*[}

	check_config "$TEST_DIR/$1.ini" "$out"
	cat "$out"
	[ "$rc" -eq 78 ] || fail "$1: --check-config exited $rc, expected 78"
	grep -Fq -- "$want" "$out" ||
		fail "$1: no FILE:LINE error with the plugin's reason: '$want'"
	[ "$(grep -cF "[${sec%%]*}]" "$out")" -eq 1 ] ||
		fail "$1: the refusal took more than one line"
}
refused_in_one_line refused "4: [rule.upside_down] the threshold plugin refused its configuration: warning = 90 is above critical = 80"

# The same from a worker (isolation = process): the network sensor's
# targets that cannot fit in the read's deadline.
printf '[sensor.net]\nplugin = network\ntargets = 192.0.2.1:80 192.0.2.2:80\nprobe_timeout = 6s\n' \
	>"$TEST_DIR/net.ini"
refused_in_one_line net "1: [sensor.net] the network plugin refused its configuration: 2 target(s) of 6000 ms each take up to 12000 ms, more than this instance's timeout = 10000 ms allows"

# A good file.
cat >"$TEST_DIR/good.ini" <<EOF
[daemon]
flush_interval = 1s

[sensor.synth]
plugin = synthetic
interval = 250ms

[sensor.off]
plugin = synthetic
enabled = no

[rule.high]
plugin = threshold
match = synthetic.value
warning = 50

[sink.out]
plugin = file
path = $TEST_DIR/good.jsonl
EOF
check_config "$TEST_DIR/good.ini" "$TEST_DIR/good.out" -s "$TEST_DIR/state"
cat "$TEST_DIR/good.out"
[ "$rc" -eq 0 ] || fail "--check-config on a good file exited $rc, expected 0"
grep -Fq -- "$TEST_DIR/good.ini: configuration OK (3 instance(s) enabled, 1 disabled)" \
	"$TEST_DIR/good.out" || fail "--check-config did not say the good file is OK"
grep -Eq "^vigild: " "$TEST_DIR/good.out" &&
	fail "--check-config printed errors or warnings for the good file"

# The shipped configuration. Hardware this machine lacks (thermal zones)
# is a warning, not an error. The file sink's relative path must resolve
# in the state directory given with -s, which exists, so it would start.
mkdir "$TEST_DIR/shipped-state"
check_config "$VIGIL_SRCDIR/etc/vigil.ini" "$TEST_DIR/shipped.out" \
	-s "$TEST_DIR/shipped-state"
cat "$TEST_DIR/shipped.out"
[ "$rc" -eq 0 ] || fail "--check-config on etc/vigil.ini exited $rc, expected 0"
grep -Fq -- "configuration OK" "$TEST_DIR/shipped.out" ||
	fail "--check-config did not say etc/vigil.ini is OK"
if grep -E "^vigild: " "$TEST_DIR/shipped.out" | grep -Ev "^vigild: warning: .* would not start on this machine now: |\(section is disabled\)$"; then
	fail "etc/vigil.ini: a diagnostic other than 'would not start on this machine'"
fi
grep -F -- "[sink.events]" "$TEST_DIR/shipped.out" &&
	fail "etc/vigil.ini: [sink.events] did not use the state directory given with -s"

# Keys only a worker honours, on an instance inside vigild: a warning
# each, with FILE:LINE; the file is still good (exit 0). Restart keys do
# apply there (init is retried), so they are not warned about.
cat >"$TEST_DIR/inside.ini" <<EOF
[sensor.syn]
plugin = synthetic
isolation = none
timeout = 5s
memory_limit = 10M
restart_delay = 1s

[sensor.worker]
plugin = synthetic
timeout = 5s
memory_limit = 10M
EOF
check_config "$TEST_DIR/inside.ini" "$TEST_DIR/inside.out" -s "$TEST_DIR/state"
cat "$TEST_DIR/inside.out"
[ "$rc" -eq 0 ] || fail "--check-config exited $rc on a file with worker-only keys inside vigild, expected 0"
grep -Fq -- "vigild: warning: $TEST_DIR/inside.ini:4: [sensor.syn] timeout has no effect with isolation = none" "$TEST_DIR/inside.out" ||
	fail "no warning for timeout on an instance inside vigild"
grep -Fq -- "vigild: warning: $TEST_DIR/inside.ini:5: [sensor.syn] memory_limit has no effect with isolation = none" "$TEST_DIR/inside.out" ||
	fail "no warning for memory_limit on an instance inside vigild"
[ "$(grep -c '^vigild: warning: ' "$TEST_DIR/inside.out")" -eq 2 ] ||
	fail "expected exactly two warnings (not restart_delay, not the worker's keys)"

# Not an INI file at all: a directory, a device read for ever. One line
# each, exit 78, at once (a regular file is expected).
for what in "$TEST_DIR" /dev/zero; do
	check_config "$what" "$TEST_DIR/notfile.out"
	[ "$rc" -eq 78 ] || fail "--check-config -c $what exited $rc, expected 78"
	grep -Eq "^vigild: $what: cannot read the configuration: (it is a directory|not a regular file)" \
		"$TEST_DIR/notfile.out" || fail "-c $what: $(cat "$TEST_DIR/notfile.out")"
done

# What running would find wrong with state_dir and control_socket is said
# by --check-config, with where each was set (it passed, and vigild then
# ran without its journal, or exited 1 with no FILE:LINE).
: >"$TEST_DIR/a-file"
mkdir -p "$TEST_DIR/a-dir"
printf '[daemon]\nstate_dir = %s\ncontrol_socket = %s\n\n[sensor.syn]\nplugin = synthetic\n' \
	"$TEST_DIR/a-file" "$TEST_DIR/a-dir" >"$TEST_DIR/paths.ini"
check_config "$TEST_DIR/paths.ini" "$TEST_DIR/paths.out"
cat "$TEST_DIR/paths.out"
[ "$rc" -eq 78 ] || fail "--check-config with a file as state_dir exited $rc, expected 78"
grep -Fq -- "$TEST_DIR/paths.ini:2: [daemon] state_dir = '$TEST_DIR/a-file': not a directory" \
	"$TEST_DIR/paths.out" || fail "no FILE:LINE error for a state_dir that is a file"
grep -Fq -- "$TEST_DIR/paths.ini:3: [daemon] control_socket = '$TEST_DIR/a-dir': exists and is not a socket" \
	"$TEST_DIR/paths.out" || fail "no FILE:LINE error for a control_socket that is a directory"

# A value longer than inih's 200-byte line (a webhook URL with a token,
# many network targets) is read whole, an inline comment after it cut.
long=$(printf 'x%.0s' $(seq 250))
printf '[sensor.syn]\nplugin = synthetic\nisolation = none\ninterval = 100ms\nmetric = p%s ; a comment\n\n[sink.out]\nplugin = file\npath = %s\nmetrics = yes\nevents = no\n' \
	"$long" "$TEST_DIR/long.jsonl" >"$TEST_DIR/long.ini"
start_vigild "$TEST_DIR/long.ini"
wait_until 20 "readings of the 251-character metric" \
	grep -qF "\"p$long\"" "$TEST_DIR/long.jsonl"
stop_vigild

pass "every error reported with FILE:LINE, exit 78, nothing started; good and shipped configs pass; worker-only keys inside vigild are warned about; a directory or device is no configuration; long values are read whole"
