#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# A real, unmodified program whose POSIX semaphores are process-shared
# sem_t in shared memory: Debian's PostgreSQL 15 server (postgresql-15),
# which gives every backend an unnamed semaphore (sem_init with pshared 1
# in its shared memory segment) and sleeps on it (sem_wait) whenever the
# backend waits for a lightweight lock (LWLock), until the holder posts
# it.  One cluster is made with initdb (plain), then the server runs
# twice on copies of it, plain and under LD_PRELOAD=libsema-posix.so: 4
# clients (pgbench) add 1 to the same row 25 times each, a round.  They
# queue on the row's lock, and meet each other's LWLocks (the lock
# manager's, the page's) on the way.  Both runs must count to 100 per
# round and leave the server's log free of errors; the preloaded run must
# have waited in hsema (the module's "waits" counter moved), the plain
# one must not.
#
# A queue on a row lock waits on latches, not semaphores, so only a held
# LWLock makes a backend sleep on its semaphore: likely in a round (8 to
# 34 waits in CI), not certain (one preloaded round in 12 waited none).
# A preloaded server that has not waited in hsema runs up to $tries
# rounds; one that never uses hsema fails after the last.
#
# Needs /dev/hsema and root (the counters need CAP_PERFMON; the server
# runs as nobody, which PostgreSQL requires of a non-root user).  The
# library is $HSEMA_POSIX_LIB, else ../libsema/libsema-posix.so.1 next to
# this script; hsemastat is found next to it or in ../build/selftests.
dir=$(cd "$(dirname "$0")" && pwd)
lib=${HSEMA_POSIX_LIB:-$dir/../libsema/libsema-posix.so.1}
pg=/usr/lib/postgresql/15/bin
py=/usr/bin/python3
clients=4
each=25
tries=4
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
if [ ! -x "$pg/postgres" ] || [ ! -x "$py" ] || [ -z "$stat" ] ||
   [ ! -e "$lib" ]; then
	echo "# $pg/postgres (scripts/deps posix), $py, hsemastat or $lib missing"
	exit 1
fi
tmp=$(mktemp -d)
chown nobody "$tmp"
trap 'as_pg "$pg/pg_ctl" -D "$tmp/run/data" -m immediate stop >/dev/null 2>&1; rm -rf "$tmp"' EXIT
# The server runs as nobody, who may not read the tree (a clone in
# root's home, mode 0700): ld.so would skip the preload with an error
# in the log and the server would run on glibc.  Preload a copy in
# $tmp, and run from there, where nobody may look.
cp "$lib" "$tmp/libsema-posix.so.1"
chmod 0644 "$tmp/libsema-posix.so.1"
lib=$tmp/libsema-posix.so.1
cd "$tmp"

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
as_pg() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
waits() {
	"$stat" -j | "$py" -c 'import json, sys; print(json.load(sys.stdin)["stats"]["waits"])'
}
sql() { as_pg "$pg/psql" -X -q -t -A -h "$tmp/run" -U postgres -d postgres -c "$1"; }

echo "TAP version 13"
t0=$(date +%s)
as_pg mkdir "$tmp/cluster"
as_pg env LC_ALL=C "$pg/initdb" -D "$tmp/cluster" -U postgres -A trust \
	--no-sync --no-locale -E UTF8 >"$tmp/initdb.log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/# /' "$tmp/initdb.log" | tail -n 20
result $rc "initdb makes a cluster ($(( $(date +%s) - t0 )) s)"
[ $rc = 0 ] || { echo "1..$n"; exit 1; }
printf 'UPDATE counter SET n = n + 1 WHERE id = 1;\n' >"$tmp/add.sql"

# rounds NAME [PRELOAD]: the workload's rounds, counted in $r (which
# run() zeroes): one, or with PRELOAD until hsema saw a wait since $w0 or
# $tries were run.
rounds() {
	while :; do
		as_pg "$pg/pgbench" -n -h "$tmp/run" -U postgres -c "$clients" \
			-j "$clients" -t "$each" -f "$tmp/add.sql" postgres \
			>"$tmp/$1.pgbench" 2>&1 || return 1
		r=$((r + 1))
		[ -n "$2" ] && [ "$r" -lt "$tries" ] &&
			[ "$(waits)" = "$w0" ] || return 0
	done
}

# run NAME [PRELOAD]: start a server on a fresh copy of the cluster, the
# workload, the count in $tmp/NAME.count, the change of "waits" in
# $tmp/NAME.waits, the server's log in $tmp/NAME.log.
run() {
	rm -rf "$tmp/run"
	as_pg mkdir "$tmp/run"
	as_pg cp -a "$tmp/cluster" "$tmp/run/data"
	w0=$(waits)
	t0=$(date +%s)
	r=0
	as_pg env ${2:+LD_PRELOAD=$2} LIBSEMA_POSIX_QUIET=1 "$pg/pg_ctl" \
		-D "$tmp/run/data" -l "$tmp/run/log" -w -t 600 \
		-o "-k $tmp/run -c listen_addresses= -c fsync=off -c max_connections=$((clients + 4)) -c shared_buffers=8MB" \
		start >/dev/null 2>&1 &&
	sql "CREATE TABLE counter (id int PRIMARY KEY, n int); INSERT INTO counter VALUES (1, 0);" &&
	rounds "$1" "$2" &&
	sql "SELECT n FROM counter WHERE id = 1;" >"$tmp/$1.count"
	rc=$?
	echo "$r" >"$tmp/$1.rounds"
	as_pg "$pg/pg_ctl" -D "$tmp/run/data" -m fast -w stop >/dev/null 2>&1 ||
		rc=1
	echo $(( $(waits) - w0 )) >"$tmp/$1.waits"
	cp "$tmp/run/log" "$tmp/$1.log" 2>/dev/null
	echo "# $1: the server's run took $(( $(date +%s) - t0 )) s, exit $rc"
	[ $rc = 0 ] || sed 's/^/# /' "$tmp/$1.pgbench" "$tmp/$1.log" | tail -n 20
	return $rc
}
for mode in plain preload; do
	if [ $mode = plain ]; then run plain; else run preload "$lib"; fi
	result $? "the $mode server runs the workload"
	r=$(cat "$tmp/$mode.rounds")
	[ "$(cat "$tmp/$mode.count" 2>/dev/null)" = $((clients * each * r)) ]
	result $? "the $mode server counted $(cat "$tmp/$mode.count" 2>/dev/null) of $((clients * each * r)) (rounds: $r)"
	! grep -Eq '(ERROR|FATAL|PANIC):' "$tmp/$mode.log"
	result $? "the $mode server logged no error"
done
[ "$(cat "$tmp/plain.waits")" = 0 ]
result $? "the plain server did not use hsema (waits +$(cat "$tmp/plain.waits"))"
[ "$(cat "$tmp/preload.waits")" -gt 0 ]
result $? "the preloaded server waited in hsema (waits +$(cat "$tmp/preload.waits"), rounds: $(cat "$tmp/preload.rounds"))"
echo "1..$n"
exit $failed
