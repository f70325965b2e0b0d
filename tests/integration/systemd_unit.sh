#!/bin/bash
# The generated etc/vigild.service is one systemd accepts without a word:
# `systemd-analyze verify` on it exits 0 and prints nothing (an unknown or
# misspelt key is only a warning there, so any output fails the test).
# verify checks that ExecStart='s binary exists: a copy of the unit points
# ExecStart= and ExecStartPre= at the build tree's vigild.
#
# Also: every @variable@ was substituted; the unit is Type=notify exactly
# when vigild is built with libsystemd; no ExecReload= (vigild does not
# reload yet).
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99

ANALYZE=$(command -v systemd-analyze) ||
	skip "systemd-analyze is not installed (apt-get install systemd)"
UNIT=$VIGIL_BUILDDIR/etc/vigild.service
[ -f "$UNIT" ] || fail "$UNIT was not generated (make builds it)"

! grep -n '@[A-Za-z_]*@' "$UNIT" || fail "$UNIT has unsubstituted @variables@ (above)"
grep -Eq '^ExecStart=/[^ ]*/vigild -c /[^ ]*/vigil/vigil\.ini( |$)' "$UNIT" ||
	fail "no ExecStart= running vigild on an absolute vigil.ini: $(grep '^ExecStart=' "$UNIT")"
grep -Eq '^ExecStartPre=/[^ ]*/vigild --check-config ' "$UNIT" ||
	fail "no ExecStartPre= checking the configuration"
! grep -q '^ExecReload=' "$UNIT" || fail "ExecReload= is set, but vigild cannot reload"
if grep -q '^#define HAVE_SYSTEMD 1' "$VIGIL_BUILDDIR/config.h"; then
	grep -qx 'Type=notify' "$UNIT" || fail "vigild notifies, but the unit is not Type=notify"
	grep -qx 'NotifyAccess=main' "$UNIT" || fail "no NotifyAccess=main"
	grep -Eqx 'WatchdogSec=[0-9]+s' "$UNIT" || fail "no WatchdogSec="
else
	grep -qx 'Type=simple' "$UNIT" || fail "vigild cannot notify, but the unit is not Type=simple"
	! grep -Eq '^(WatchdogSec|NotifyAccess)=' "$UNIT" ||
		fail "vigild cannot notify, but the unit has NotifyAccess= or WatchdogSec="
fi

mkdir -p "$TEST_DIR/units"
sed -E "s|^(ExecStart(Pre)?=)[^ ]*/vigild( \|$)|\1$VIGILD\3|" "$UNIT" \
	>"$TEST_DIR/units/vigild.service"
[ "$(grep -c "^ExecStart\(Pre\)\?=$VIGILD " "$TEST_DIR/units/vigild.service")" -eq 2 ] ||
	fail "could not point ExecStart= and ExecStartPre= at $VIGILD"

out=$(cd "$TEST_DIR/units" && "$ANALYZE" verify ./vigild.service 2>&1)
rc=$?
note "systemd-analyze verify: exit $rc"
[ -z "$out" ] || echo "$out"
[ $rc -eq 0 ] || fail "systemd-analyze verify exited $rc"
[ -z "$out" ] || fail "systemd-analyze verify had something to say (above)"
pass "systemd-analyze verify accepts $UNIT without a warning"
