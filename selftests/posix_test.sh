#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# POSIX semaphores over hsema (libsema-posix): posix_conformance, linked
# only against glibc, run three times, which must each pass and leave the
# same transcript (every call's return and errno):
#   1. plain: glibc's semaphores;
#   2. under LD_PRELOAD=libsema-posix.so with /dev/hsema: hsema's, and its
#      hsema-only tests (FIFO, killed waiters, the value-range rule, one
#      semaphore used by both implementations) run too;
#   3. under the preload with the module unloaded (root: rmmod, then
#      insmod again): glibc's, through libsema-posix.
# Then the same source linked with -lsema-posix ahead of libc (no
# preload), posix_dlopen (the library dlopen()ed), and the library's notice: once per process that uses a
# semaphore without the device, none with LIBSEMA_POSIX_QUIET=1, none for
# a program that uses no semaphore.
#
# The library is $HSEMA_POSIX_LIB, else ../libsema/libsema-posix.so.1
# next to this script; the module $HSEMA_KO, else $HSEMA_KBUILD/kmod/
# hsema.ko (make check sets HSEMA_KBUILD); the programs are found next to
# this script or in ../build/selftests.
dir=$(cd "$(dirname "$0")" && pwd)
lib=${HSEMA_POSIX_LIB:-$dir/../libsema/libsema-posix.so.1}
ko=${HSEMA_KO:-${HSEMA_KBUILD:+$HSEMA_KBUILD/kmod/hsema.ko}}
bin=
for b in "$dir/posix_conformance" "$dir/../build/selftests/posix_conformance"; do
	[ -z "$bin" ] && [ -x "$b" ] && bin=$b
done
if [ -z "$bin" ] || [ ! -e "$lib" ]; then
	echo "# posix_conformance or $lib missing: build the selftests"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

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
# run NAME MODE [PRELOAD]: the conformance run; its output is kept as
# $tmp/NAME.out, its transcript as $tmp/NAME.log.
run() {
	name=$1 mode=$2 pre=$3
	t0=$(date +%s)
	env ${pre:+LD_PRELOAD=$pre} POSIX_CONF_MODE=$mode \
		POSIX_CONF_LOG="$tmp/$name.log" LIBSEMA_POSIX_QUIET=1 \
		"$bin" >"$tmp/$name.out" 2>&1
	rc=$?
	sed 's/^/# '"$name"': /' "$tmp/$name.out" | grep -E '# (not ok|ok|.*FAIL|.*Expected|.*: Test)' | grep -v '^# [a-z]*: ok' | head -n 40
	echo "# $name: $(grep '^# Totals' "$tmp/$name.out") in $(( $(date +%s) - t0 )) s"
	return $rc
}
same() {	# same A B: identical transcripts
	if cmp -s "$tmp/$1.log" "$tmp/$2.log"; then
		return 0
	fi
	diff "$tmp/$1.log" "$tmp/$2.log" | head -n 20 | sed 's/^/# /'
	return 1
}

# extra NAME DESCRIPTION PROGRAM...: one more kselftest program, its
# output kept as $tmp/NAME.out.
extra() {
	name=$1 desc=$2
	shift 2
	"$@" >"$tmp/$name.out" 2>&1
	rc=$?
	echo "# $name: $(grep '^# Totals' "$tmp/$name.out")"
	[ $rc = 0 ] || grep -E '^#.*(FAIL|Expected|not ok|No such)' "$tmp/$name.out" | head -n 20
	result $rc "$desc"
}

echo "TAP version 13"
run glibc glibc
result $? "posix_conformance on glibc"

if [ -c /dev/hsema ]; then
	run hsema hsema "$lib"
	result $? "posix_conformance under LD_PRELOAD=libsema-posix.so over hsema"
	same glibc hsema
	result $? "the same transcript over hsema as on glibc"
	extra linked "posix_conformance linked with -lsema-posix, over hsema" \
		env POSIX_CONF_MODE=hsema POSIX_CONF_LOG="$tmp/linked.log" \
		"$(dirname "$bin")/posix_conformance_linked"
	extra dlopen "libsema-posix dlopen()ed: pending cancellations act" \
		env POSIX_DLOPEN_LIB="$lib" "$(dirname "$bin")/posix_dlopen"
else
	skip "posix_conformance over hsema" "/dev/hsema missing"
fi

# Without the module: it is unloaded, really, for these runs.
if [ "$(id -u)" != 0 ] || [ -z "$ko" ] || [ ! -e "$ko" ] ||
   [ ! -d /sys/module/hsema ]; then
	skip "posix_conformance under the preload without the module" \
		"needs root, the module loaded and HSEMA_KO or HSEMA_KBUILD"
else
	if rmmod hsema && [ ! -e /dev/hsema ]; then
		run fallback fallback "$lib"
		result $? "posix_conformance under LD_PRELOAD without the module"
		same glibc fallback
		result $? "the same transcript without the module as on glibc"
		# The notice: once for a process that uses semaphores.
		LD_PRELOAD=$lib python3 -c 'import threading
l = threading.Lock(); l.acquire(); l.release(); l.acquire(timeout=0.01)' \
			2>"$tmp/notice"
		rc=$?
		lines=$(grep -c '^libsema-posix: cannot use /dev/hsema' "$tmp/notice")
		echo "# notice: $(head -n 1 "$tmp/notice")"
		[ $rc = 0 ] && [ "$lines" = 1 ] && [ "$(wc -l <"$tmp/notice")" = 1 ]
		result $? "without the module, one line on stderr says why"
		LD_PRELOAD=$lib LIBSEMA_POSIX_QUIET=1 python3 -c 'import threading
threading.Lock().acquire()' 2>"$tmp/quiet"
		[ $? = 0 ] && [ ! -s "$tmp/quiet" ]
		result $? "LIBSEMA_POSIX_QUIET=1 silences it"
		LD_PRELOAD=$lib /bin/true 2>"$tmp/none"
		[ $? = 0 ] && [ ! -s "$tmp/none" ]
		result $? "a program that uses no semaphore hears nothing"
	else
		result 1 "rmmod hsema for the runs without the module"
	fi
	insmod "$ko"
	result $? "insmod hsema again"
fi
echo "1..$n"
exit $failed
