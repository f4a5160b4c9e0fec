#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Real, unmodified programs that use POSIX semaphores, run plain and under
# LD_PRELOAD=libsema-posix.so, which must print the same: Debian's
# python3 (/usr/bin/python3, whose threading locks are unnamed sem_t and
# whose multiprocessing uses named ones, shared across fork and, with the
# spawn start method, opened by name in freshly exec'd interpreters)
# running posix_python.py.  The preloaded run must have waited in hsema
# (the module's "waits" counter moved; the plain run must not move it),
# and neither may leave a semaphore file behind in /dev/shm.
#
# Needs /dev/hsema and root (the counters need CAP_PERFMON).  The library
# is $HSEMA_POSIX_LIB, else ../libsema/libsema-posix.so.1 next to this
# script; hsemastat is found next to it or in ../build/selftests.
dir=$(cd "$(dirname "$0")" && pwd)
lib=${HSEMA_POSIX_LIB:-$dir/../libsema/libsema-posix.so.1}
py=/usr/bin/python3
stat=
for b in "$dir/hsemastat" "$dir/../build/selftests/hsemastat"; do
	[ -z "$stat" ] && [ -x "$b" ] && stat=$b
done
if [ ! -c /dev/hsema ]; then
	echo "# /dev/hsema missing: load hsema.ko first"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "# SKIP: the module's counters need root"
	exit 4
fi
if [ ! -x "$py" ] || [ -z "$stat" ] || [ ! -e "$lib" ]; then
	echo "# $py, hsemastat or $lib missing"
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
waits() {
	"$stat" -j | "$py" -c 'import json, sys; print(json.load(sys.stdin)["stats"]["waits"])'
}
shm() { ls /dev/shm | grep '^sem\.' | sort; }

echo "TAP version 13"
# run NAME [PRELOAD]: $tmp/NAME.out, and the change of "waits" in
# $tmp/NAME.waits.
run() {
	shm >"$tmp/$1.shm-before"
	w0=$(waits)
	t0=$(date +%s)
	env ${2:+LD_PRELOAD=$2} "$py" "$dir/posix_python.py" >"$tmp/$1.out" 2>"$tmp/$1.err"
	rc=$?
	echo "# $1: python3 took $(( $(date +%s) - t0 )) s, exit $rc"
	echo $(( $(waits) - w0 )) >"$tmp/$1.waits"
	shm >"$tmp/$1.shm-after"
	[ $rc = 0 ] || sed 's/^/# /' "$tmp/$1.err" | tail -n 20
	return $rc
}
run plain
result $? "python3 posix_python.py on glibc"
[ "$(cat "$tmp/plain.waits")" = 0 ]
result $? "the plain run did not use hsema (waits +$(cat "$tmp/plain.waits"))"
run preload "$lib"
result $? "python3 posix_python.py under LD_PRELOAD=libsema-posix.so"
[ "$(cat "$tmp/preload.waits")" -gt 0 ]
result $? "the preloaded run waited in hsema (waits +$(cat "$tmp/preload.waits"))"
[ ! -s "$tmp/preload.err" ]
result $? "the preloaded run said nothing on stderr"
if cmp -s "$tmp/plain.out" "$tmp/preload.out"; then
	result 0 "the same output ($(wc -l <"$tmp/plain.out") lines)"
else
	diff "$tmp/plain.out" "$tmp/preload.out" | sed 's/^/# /' | head -n 20
	result 1 "the same output"
fi
for r in plain preload; do
	cmp -s "$tmp/$r.shm-before" "$tmp/$r.shm-after"
	result $? "no semaphore file left in /dev/shm by the $r run"
done
echo "1..$n"
exit $failed
