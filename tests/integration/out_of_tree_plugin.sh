#!/bin/bash
# A plugin built out of tree, as a third party would: `make install` into
# a staging directory, build examples/hello with its own Makefile against
# the installed header (found through the installed vigil-plugin.pc and
# nothing from the source tree), then run the installed vigild with the
# directory holding hello.so on its plugin path. hello.value readings must
# reach a file sink, and hello.so must export vigil_plugin and nothing
# else of its own.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python
for tool in make cc nm; do
	command -v "$tool" >/dev/null || skip "$tool is needed"
done
command -v "${PKG_CONFIG:-pkg-config}" >/dev/null || skip "pkg-config is needed"
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

STAGE=$TEST_DIR/stage
# A make driving this test (make check) must not hand its jobserver or
# its command-line variables (TESTS=...) to these makes.
clean_make()
{
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES make "$@"
}

note "make install DESTDIR=$STAGE"
clean_make -C "$VIGIL_BUILDDIR" install DESTDIR="$STAGE" >"$TEST_DIR/install.log" 2>&1 || {
	tail -n 30 "$TEST_DIR/install.log"
	fail "make install DESTDIR=$STAGE failed"
}

pc=$(find "$STAGE" -name vigil-plugin.pc -print -quit)
[ -n "$pc" ] || fail "no vigil-plugin.pc was installed"
header=$(find "$STAGE" -path '*/include/vigil/plugin.h' -print -quit)
[ -n "$header" ] || fail "no vigil/plugin.h was installed"
staged_vigild=$(find "$STAGE" -type f -name vigild -perm -u+x -print -quit)
[ -n "$staged_vigild" ] || fail "no vigild was installed"
staged_plugins=$(dirname "$(find "$STAGE" -name file.so -print -quit)")
[ -f "$staged_plugins/synthetic.so" ] || fail "no plugins were installed"

# The .pc says where things go once installed (prefix=/usr/local...):
# PKG_CONFIG_SYSROOT_DIR relocates its -I into the staging directory.
export PKG_CONFIG_PATH=${pc%/*}
export PKG_CONFIG_SYSROOT_DIR=$STAGE
cflags=$("$PKG_CONFIG" --cflags vigil-plugin) || fail "$PKG_CONFIG --cflags vigil-plugin failed"
note "cflags: $cflags"
case " $cflags " in
*" -I${header%/vigil/plugin.h} "*) ;;
*) fail "the cflags do not point at the staged header ${header%/vigil/plugin.h}: $cflags" ;;
esac

# Build from a copy: the source tree may be read-only (distcheck).
cp -R "$VIGIL_SRCDIR/examples/hello" "$TEST_DIR/hello"
rm -f "$TEST_DIR/hello/hello.so"
clean_make -C "$TEST_DIR/hello" CFLAGS="-O2 -Wall -Wextra -Werror -std=c11" \
	>"$TEST_DIR/hello-build.log" 2>&1 || {
	cat "$TEST_DIR/hello-build.log"
	fail "examples/hello does not build against the installed header"
}
cat "$TEST_DIR/hello-build.log"
SO=$TEST_DIR/hello/hello.so
[ -f "$SO" ] || fail "make built no hello.so"

# One exported symbol of its own: the descriptor. (The linker's own
# markers _init, _fini, _edata, _end and __bss_start may be there too.)
syms=$(nm -D --defined-only "$SO" | awk '{print $NF}' |
	grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' | sort | tr '\n' ' ')
[ "$syms" = "vigil_plugin " ] || fail "hello.so exports '$syms', expected only vigil_plugin"

# The installed vigild finds and accepts it.
PLUGIN_DIRS=$TEST_DIR/hello:$staged_plugins
"$staged_vigild" --list-plugins -p "$PLUGIN_DIRS" >"$TEST_DIR/list.out" 2>&1 ||
	fail "vigild --list-plugins failed: $(cat "$TEST_DIR/list.out")"
grep -Eq '^sensor +hello +1\.0\.0 ' "$TEST_DIR/list.out" ||
	fail "vigild --list-plugins does not list hello: $(cat "$TEST_DIR/list.out")"
"$staged_vigild" --help-plugin hello -p "$PLUGIN_DIRS" >"$TEST_DIR/help.out" 2>&1 ||
	fail "vigild --help-plugin hello failed: $(cat "$TEST_DIR/help.out")"
grep -Eq '^ +value ' "$TEST_DIR/help.out" ||
	fail "--help-plugin hello does not describe 'value': $(cat "$TEST_DIR/help.out")"

METRICS=$TEST_DIR/metrics.jsonl
cat >"$TEST_DIR/vigil.ini" <<EOF
[daemon]
flush_interval = 100ms

[sensor.hello]
interval = 50ms
value = 7.25

[sink.metrics]
plugin = file
path = $METRICS
events = no
metrics = yes
EOF

VIGILD=$staged_vigild start_vigild "$TEST_DIR/vigil.ini" -p "$PLUGIN_DIRS"
three_readings()
{
	local n

	n=$(grep -c '"metric":"hello.value"' "$METRICS" 2>/dev/null)
	[ "${n:-0}" -ge 3 ]
}
wait_until 20 "three hello.value readings in $METRICS" three_readings
stop_vigild

"$PYTHON" - "$METRICS" <<'EOF' || fail "the readings are not as expected (see above)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
bad = [r for r in rows
       if (r["metric"], r["value"], r["unit"], r["labels"], r["quality"])
       != ("hello.value", 7.25, "", {}, "good")]
for r in bad:
    print("  unexpected:", r)
print(f"{len(rows)} readings")
sys.exit(1 if bad or len(rows) < 3 else 0)
EOF

pass "examples/hello built against the installed header; the installed vigild ran it"
