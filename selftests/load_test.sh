#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Load and unload: rmmod is refused while a process holds /dev/hsema open,
# while one waits in sema_acquire(), and while one waits with its
# descriptor already closed (only the ioctl in flight pins the module);
# the refused rmmod does not disturb the waiter; then insmod/rmmod cycles
# with no user, and, where the kernel has kmemleak, no leak that points at
# hsema.  hsema.ko must be loaded when this starts and is loaded again at
# the end, so that the harness's own rmmod still works.
#
# The module is $HSEMA_KO, else $HSEMA_KBUILD/kmod/hsema.ko (make check
# sets HSEMA_KBUILD).  HSEMA_LOAD_CYCLES sets the number of cycles
# (default 5).  The helper that waits is hsema_stress -W, found next to
# this script, in ../build/selftests, or at $HSEMA_STRESS.
ko=${HSEMA_KO:-${HSEMA_KBUILD:+$HSEMA_KBUILD/kmod/hsema.ko}}
cycles=${HSEMA_LOAD_CYCLES:-5}
dir=$(dirname "$0")
kmemleak=/sys/kernel/debug/kmemleak

if [ "$(id -u)" != 0 ]; then
	echo "# SKIP: loading modules needs root"
	exit 4
fi
if [ -z "$ko" ] || [ ! -e "$ko" ]; then
	echo "# hsema.ko not found: set HSEMA_KO or HSEMA_KBUILD"
	exit 1
fi
helper=${HSEMA_STRESS:-}
for h in "$dir/hsema_stress" "$dir/../build/selftests/hsema_stress"; do
	[ -z "$helper" ] && [ -x "$h" ] && helper=$h
done
if [ -z "$helper" ]; then
	echo "# hsema_stress not found: set HSEMA_STRESS"
	exit 1
fi

n=0
failed=0
result() {	# result RC DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=1
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n $1 # SKIP $2"
}

loaded() { [ -d /sys/module/hsema ]; }

# poll SECONDS CMD...: until CMD succeeds, or fail after SECONDS.
poll() {
	t=$(($1 * 10))
	shift
	while ! "$@"; do
		t=$((t - 1))
		[ $t -gt 0 ] || return 1
		sleep 0.1
	done
}

refcnt_positive() { [ "$(cat /sys/module/hsema/refcnt 2>/dev/null || echo 0)" -gt 0 ]; }
dev_present() { [ -c /dev/hsema ]; }
dev_absent() { [ ! -e /dev/hsema ]; }
file_says_queued() { grep -qx queued "$1" 2>/dev/null; }

# rmmod must fail and leave the module and its device in place.
rmmod_refused() {
	if rmmod hsema 2>/dev/null; then
		echo "# rmmod hsema succeeded while in use"
		return 1
	fi
	loaded && dev_present
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "TAP version 13"
echo "1..10"

# A test can fail with the module out: put it back for the harness.
reload() {
	loaded && return 0
	insmod "$ko" && poll 5 dev_present
}

if ! loaded; then
	insmod "$ko" || { echo "# insmod $ko failed"; exit 1; }
fi
poll 5 dev_present
result $? "hsema is loaded and /dev/hsema exists"

# An open descriptor.
( exec 3</dev/hsema && exec sleep 600 ) &
holder=$!
rc=1
if poll 10 refcnt_positive; then
	rmmod_refused
	rc=$?
else
	echo "# the module's reference count never rose"
fi
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
reload
result $rc "rmmod refused while a process holds /dev/hsema open"

# A waiter in sema_acquire(), and one whose descriptor is closed.
for mode in "" "-C"; do
	out=$tmp/helper$mode
	# shellcheck disable=SC2086
	"$helper" -W $mode >"$out" 2>&1 &
	pid=$!
	rc=1
	if poll 20 file_says_queued "$out"; then
		rmmod_refused
		rc=$?
	else
		echo "# the helper did not queue a waiter:"
		sed 's/^/#   /' "$out"
	fi
	if [ -z "$mode" ]; then
		result $rc "rmmod refused while a process waits in sema_acquire()"
	else
		result $rc "rmmod refused while a process waits with its descriptor closed"
	fi
	reload
	kill -USR1 "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	[ $rc = 0 ] || sed 's/^/#   /' "$out"
	result $rc "the waiter${mode:+ (descriptor closed)} got its unit after the refused rmmod"
done

# kmemleak: forget what was found before, so that only new leaks count.
[ -w "$kmemleak" ] && echo clear >"$kmemleak"

# Unload with no user.
poll 10 sh -c '[ "$(cat /sys/module/hsema/refcnt)" = 0 ]'
rc=1
if rmmod hsema; then
	poll 5 dev_absent && ! loaded
	rc=$?
fi
result $rc "rmmod succeeds once nobody uses the module"

# Cycles with no user.
rc=0
i=0
while [ $i -lt "$cycles" ]; do
	i=$((i + 1))
	if ! insmod "$ko"; then
		echo "# cycle $i: insmod failed"
		rc=1
		break
	fi
	if ! poll 5 dev_present; then
		echo "# cycle $i: /dev/hsema did not appear"
		rc=1
	fi
	if ! rmmod hsema; then
		echo "# cycle $i: rmmod failed"
		rc=1
		break
	fi
	if ! poll 5 dev_absent || loaded; then
		echo "# cycle $i: the module or /dev/hsema stayed"
		rc=1
	fi
done
unloaded_at=$(date +%s)
result $rc "$cycles insmod/rmmod cycles with no user"

reload
result $? "hsema loaded again"

# kmemleak, where the kernel has it ("clear", test, "scan", read, as
# Documentation/dev-tools/kmemleak.rst describes).  An object is reported
# once older than 5 s (MSECS_MIN_AGE) and found unreferenced by a scan;
# a second scan catches those a stale register or stack slot still
# pointed to during the first.  Frames of an unloaded module are no longer
# symbolized, so a bare kernel address in a backtrace counts as ours too.
if [ -r "$kmemleak" ]; then
	while [ $(($(date +%s) - unloaded_at)) -lt 6 ]; do
		sleep 1
	done
	echo scan >"$kmemleak"
	echo scan >"$kmemleak"
	cat "$kmemleak" >"$tmp/leaks"
	awk '
	/^unreferenced object/ { if (blk != "" && hit) print blk; blk = $0; hit = 0; next }
	{ blk = blk "\n" $0 }
	/hsema|\] 0xffffffff[a-f0-9]+$/ { hit = 1 }
	END { if (blk != "" && hit) print blk }' "$tmp/leaks" >"$tmp/ours"
	if [ -s "$tmp/ours" ]; then
		sed 's/^/# /' "$tmp/ours" | head -n 60
		result 1 "kmemleak: no leak from hsema after the cycles"
	else
		echo "# kmemleak: $(grep -c '^unreferenced object' "$tmp/leaks") unreferenced objects, none from hsema"
		result 0 "kmemleak: no leak from hsema after the cycles"
	fi
else
	skip "kmemleak: no leak from hsema after the cycles" "kmemleak not available"
fi

exit $failed
