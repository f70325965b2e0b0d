# lib.sh - helpers sourced by every integration test (bash).
#
#     . "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
#
# Gives each test:
#   TEST_DIR           a private directory, removed on exit
#                      (kept when VIGIL_KEEP_TEST_DIR=1, for debugging)
#   PYTHON             a python3 for reading JSON Lines
#   start_vigild CONFIG [ARGS]   vigild in the background, on the build
#                      tree's plugins, with a private state directory and
#                      control socket ($TEST_DIR/control.sock);
#                      sets VIGILD_PID and VIGILD_LOG. A later -p in ARGS
#                      overrides the plugin path.
#   stop_vigild        SIGTERM, a bounded wait, then SIGKILL; fails unless
#                      vigild exited 0 on the SIGTERM
#   wait_for FILE PATTERN TIMEOUT_S    polls until grep -E finds PATTERN
#   wait_until TIMEOUT_S WHAT CMD...   polls until CMD succeeds
#   track_pid PID      kill PID on exit too
#   pass MSG / fail MSG / skip MSG     report and exit 0 / 1 / 77
#
# Every process a test starts is recorded and killed by its PID when the
# test exits, whether it passed, failed or was interrupted. No loop waits
# without a bound; the bounds are deadlines for failing, never assertions
# on how fast something happens.

set -u

TEST_NAME=${0##*/}
TEST_NAME=${TEST_NAME%.sh}

# Polling step of the wait loops, in seconds.
POLL_STEP=0.05

pass()
{
	echo "PASS: $TEST_NAME: $*"
	exit 0
}

skip()
{
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

# Says what failed, shows the end of vigild's log, and exits 1.
fail()
{
	echo "FAIL: $TEST_NAME: $*"
	if [ -n "${VIGILD_LOG:-}" ] && [ -s "$VIGILD_LOG" ]; then
		echo "--- last lines of $VIGILD_LOG:"
		tail -n 40 "$VIGILD_LOG"
		echo "---"
	fi
	exit 1
}

# Prints a progress line to the test's .log.
note()
{
	echo "$TEST_NAME: $*"
}

for _v in VIGILD VIGIL_TREE_PLUGIN_PATH VIGIL_SRCDIR VIGIL_BUILDDIR; do
	if [ -z "${!_v:-}" ]; then
		echo "ERROR: $TEST_NAME: $_v is not set; run the test with" \
		     "'make check' (AM_TESTS_ENVIRONMENT sets it)"
		exit 99
	fi
done
unset _v
VIGIL_FIXTURE_PLUGIN_DIR=${VIGIL_FIXTURE_PLUGIN_DIR:-}
[ -x "$VIGILD" ] || { echo "ERROR: $TEST_NAME: no vigild at $VIGILD"; exit 99; }

# /usr/bin/python3 first: a pyenv shim in PATH costs ~0.3 s a call.
PYTHON=
for _p in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
	if [ -n "$_p" ] && [ -x "$_p" ]; then
		PYTHON=$_p
		break
	fi
done
unset _p

# ------------------------------------------------------------ cleanup

TRACKED_PIDS=()
# Extra cleanup a test registers (a function name), run before the kills.
CLEANUP_HOOK=

track_pid()
{
	TRACKED_PIDS+=("$1")
}

# SIGTERM, up to 5 s, then SIGKILL; then reaps it if it is our child.
kill_pid()
{
	local pid=$1 i

	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep "$POLL_STEP"
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

cleanup()
{
	local rc=$? pid

	trap - EXIT
	if [ -n "$CLEANUP_HOOK" ]; then
		"$CLEANUP_HOOK" || :
	fi
	for pid in "${TRACKED_PIDS[@]}"; do
		kill_pid "$pid"
	done
	if [ -n "${TEST_DIR:-}" ] && [ -d "$TEST_DIR" ]; then
		if [ "${VIGIL_KEEP_TEST_DIR:-0}" = 1 ]; then
			echo "$TEST_NAME: kept $TEST_DIR"
		else
			chmod -R u+rwx "$TEST_DIR" 2>/dev/null
			rm -rf "$TEST_DIR"
		fi
	fi
	exit "$rc"
}

trap cleanup EXIT
trap 'echo "FAIL: $TEST_NAME: interrupted"; exit 1' INT TERM HUP

TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vigil-$TEST_NAME.XXXXXX") ||
	{ echo "ERROR: $TEST_NAME: mktemp -d failed"; exit 99; }

# ------------------------------------------------------------- vigild

VIGILD_PID=
VIGILD_LOG=$TEST_DIR/vigild.log
VIGIL_TEST_PLUGIN_PATH=$VIGIL_TREE_PLUGIN_PATH${VIGIL_FIXTURE_PLUGIN_DIR:+:$VIGIL_FIXTURE_PLUGIN_DIR}

# start_vigild CONFIG [ARGS...]: one vigild per test at a time.
start_vigild()
{
	local config=$1

	shift
	[ -z "$VIGILD_PID" ] || fail "start_vigild: vigild $VIGILD_PID is still running"
	"$VIGILD" -c "$config" -p "$VIGIL_TEST_PLUGIN_PATH" \
		-s "$TEST_DIR/state" -S "$TEST_DIR/control.sock" "$@" \
		>>"$VIGILD_LOG" 2>&1 &
	VIGILD_PID=$!
	track_pid "$VIGILD_PID"
	note "started vigild (pid $VIGILD_PID) on $config"
}

# Whether the vigild we started is still running (bash reaps its
# children as they exit, so kill -0 fails once it has).
vigild_alive()
{
	[ -n "$VIGILD_PID" ] && kill -0 "$VIGILD_PID" 2>/dev/null
}

# stop_vigild [TIMEOUT_S]: SIGTERM, wait up to TIMEOUT_S (default 20),
# then SIGKILL and fail; fails too unless vigild exited with status 0.
stop_vigild()
{
	local timeout=${1:-20} i n rc

	[ -n "$VIGILD_PID" ] || fail "stop_vigild: vigild was not started"
	if ! vigild_alive; then
		wait "$VIGILD_PID"
		rc=$?
		VIGILD_PID=
		fail "vigild exited (status $rc) before it was asked to stop"
	fi
	kill -TERM "$VIGILD_PID"
	n=$((timeout * 20))
	for ((i = 0; i < n; i++)); do
		vigild_alive || break
		sleep "$POLL_STEP"
	done
	if vigild_alive; then
		kill -KILL "$VIGILD_PID" 2>/dev/null
		wait "$VIGILD_PID" 2>/dev/null
		VIGILD_PID=
		fail "vigild did not exit within ${timeout}s of SIGTERM; killed it"
	fi
	wait "$VIGILD_PID"
	rc=$?
	VIGILD_PID=
	[ "$rc" -eq 0 ] || fail "vigild exited with status $rc on SIGTERM, expected 0"
	note "vigild stopped cleanly"
}

# ------------------------------------------------------------- waiting

# wait_until TIMEOUT_S WHAT CMD [ARGS...]: runs CMD every POLL_STEP until
# it succeeds; fails with WHAT after TIMEOUT_S, or at once if the vigild
# we started has died.
wait_until()
{
	local timeout=$1 what=$2 i n

	shift 2
	n=$((timeout * 20))
	for ((i = 0; i <= n; i++)); do
		"$@" && return 0
		if [ -n "$VIGILD_PID" ] && ! vigild_alive; then
			"$@" && return 0
			fail "vigild died while waiting for $what"
		fi
		sleep "$POLL_STEP"
	done
	fail "timed out after ${timeout}s waiting for $what"
}

# wait_for FILE PATTERN TIMEOUT_S: until a line of FILE matches the
# extended regular expression PATTERN.
wait_for()
{
	local file=$1 pattern=$2 timeout=$3

	wait_until "$timeout" "/$pattern/ in $file" _file_has "$file" "$pattern"
}

_file_has()
{
	grep -Eq -e "$2" "$1" 2>/dev/null
}

# Number of lines of FILE (0 if it does not exist).
count_lines()
{
	if [ -f "$1" ]; then
		wc -l <"$1"
	else
		echo 0
	fi
}

# check_config INI OUT [ARG...]: vigild --check-config on INI with the
# test plugins (and ARG...), its output in OUT, its exit status in $rc.
check_config()
{
	local ini=$1 out=$2

	shift 2
	rc=0
	"$VIGILD" --check-config -c "$ini" -p "$VIGIL_TEST_PLUGIN_PATH" "$@" \
		>"$out" 2>&1 || rc=$?
}

# Whether fixture plugin $1.so was built with UBSan (a build configured
# with --enable-sanitizers instruments the fixtures too): UBSan
# (-fno-sanitize-recover) catches crashy's deliberate NULL store before it
# faults, and the worker exits with status 1 instead of dying by SIGSEGV.
# Found in the binary itself, so a test run by hand knows too.
fixture_has_ubsan()
{
	grep -qaF __ubsan_handle_ "$VIGIL_FIXTURE_PLUGIN_DIR/$1.so"
}

# require_python: skips the test when there is no python3.
require_python()
{
	[ -n "$PYTHON" ] || skip "python3 is needed to read JSON Lines"
}

# both_modes_ini PLUGIN METRICS: on stdout, a configuration running the
# sensor plugin PLUGIN twice every 100 ms, [sensor.inside] inside vigild
# and [sensor.worker] in a worker (option prefix = the instance's name),
# and a file sink writing every reading to METRICS (JSON Lines).
both_modes_ini()
{
	local mode

	for mode in inside:none worker:process; do
		printf '[sensor.%s]\nplugin = %s\nisolation = %s\nprefix = %s\ninterval = 100ms\n\n' \
		       "${mode%%:*}" "$1" "${mode#*:}" "${mode%%:*}"
	done
	printf '[sink.metrics]\nplugin = file\npath = %s\nmetrics = yes\nevents = no\n' "$2"
}

# require_fixture NAME...: the fixture plugins NAME.so that `make check`
# builds in $VIGIL_FIXTURE_PLUGIN_DIR, or a hard error (exit 99).
require_fixture()
{
	local so

	for so in "$@"; do
		[ -f "$VIGIL_FIXTURE_PLUGIN_DIR/$so.so" ] && continue
		echo "ERROR: $TEST_NAME: no $so.so in '$VIGIL_FIXTURE_PLUGIN_DIR'" \
		     "(make check builds it)"
		exit 99
	done
}
