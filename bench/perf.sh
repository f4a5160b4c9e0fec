#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/perf.sh OUTFILE COMMAND [ARG...]: profile the whole guest with
# perf while COMMAND runs (cpu-clock: QEMU's software emulation has no
# PMU), and write to OUTFILE the hottest symbols, kernel and user, then the
# call chains into the hottest kernel ones.  For example:
#
#   scripts/vm-run --kernel 6.1 --module kmod/hsema.ko --out /tmp/ev -- \
#       bench/perf.sh /tmp/ev/contended.txt \
#       bench/hsema-bench -b contended -i libsema -t 8 -c 0 -d 2
set -eu

[ $# -ge 2 ] || { sed -n '4,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
out=$1
shift
data=$(mktemp /tmp/perf.XXXXXX)
rc=0
perf record -q -a -g -e cpu-clock -F 1000 -o "$data" -- "$@" >&2 || rc=$?
{
	echo "# SPDX-License-Identifier: GPL-2.0-only"
	echo "# perf record -a -g -e cpu-clock -F 1000 -- $*"
	echo "# flat profile"
	perf report -i "$data" --stdio --no-children --sort comm,dso,sym \
		--percent-limit 1 -g none 2>/dev/null | grep -v '^$'
	echo "# call chains into kernel symbols above 5%"
	perf report -i "$data" --stdio --no-children --sort sym \
		--percent-limit 5 -g caller,2,callee --max-stack 12 \
		--dsos '[kernel.kallsyms]' 2>/dev/null | grep -v '^$'
} >"$out"
rm -f "$data"
exit $rc
