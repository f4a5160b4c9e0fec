#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# The handoff refusal matrix: loads selftests/kmod/test_hsema.ko, which
# runs its cases at load time, prints KTAP to the kernel log and refuses to
# load if a case failed; this script hands that KTAP to the kselftest
# runner.  hsema.ko must be loaded.  The module is found under
# $HSEMA_KBUILD (set by make check) or at $HSEMA_TEST_KMOD.
ko=${HSEMA_TEST_KMOD:-${HSEMA_KBUILD:+$HSEMA_KBUILD/selftests/kmod/test_hsema.ko}}

if [ "$(id -u)" != 0 ]; then
	echo "# SKIP: loading a test module needs root"
	exit 4
fi
if [ -z "$ko" ] || [ ! -e "$ko" ]; then
	echo "# test_hsema.ko not found: set HSEMA_TEST_KMOD or HSEMA_KBUILD"
	exit 1
fi
if [ ! -e /dev/hsema ]; then
	echo "# /dev/hsema missing: load hsema.ko first"
	exit 1
fi

marker="hsema-refusal-test-$$-$(date +%s%N)"
echo "$marker" >/dev/kmsg
insmod "$ko"
rc=$?
[ $rc = 0 ] && rmmod test_hsema
dmesg | sed -n "/$marker/,\$p" | sed 's/^\[[ 0-9.]*\] //' |
	grep -E '^(1\.\.[0-9]+|(not )?ok [0-9]+ |    # )'
[ $rc = 0 ]
