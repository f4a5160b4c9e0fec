#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/trace.sh OUTFILE COMMAND [ARG...]: run COMMAND in a guest with the
# hsema trace events and the scheduler's wake-up and switch events on, and
# write the trace to OUTFILE.  The evidence behind bench/README.md, e.g.:
#
#   scripts/vm-run --kernel 6.1 --module kmod/hsema.ko --out /tmp/ev -- \
#       bench/trace.sh /tmp/ev/pingpong.txt \
#       bench/hsema-bench -b pingpong -i libsema -P 0.4
#
# HSEMA_TRACE_EVENTS overrides the events (tracefs names, space-separated).
set -eu

[ $# -ge 2 ] || { sed -n '4,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
out=$1
shift
T=/sys/kernel/tracing
[ -d $T/events ] || T=/sys/kernel/debug/tracing
events=${HSEMA_TRACE_EVENTS:-"hsema sched/sched_switch sched/sched_waking
	sched/sched_wakeup irq_vectors/local_timer_entry
	irq_vectors/call_function_single_entry"}

echo 0 >$T/tracing_on
echo 65536 >$T/buffer_size_kb
echo >$T/trace
for e in $events; do
	echo 1 >"$T/events/$e/enable" || echo "trace.sh: no event $e" >&2
done
echo 1 >$T/tracing_on
rc=0
"$@" || rc=$?
echo 0 >$T/tracing_on
cat $T/trace >"$out"
for e in $events; do
	echo 0 >"$T/events/$e/enable" 2>/dev/null || :
done
exit $rc
