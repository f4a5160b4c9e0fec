# SPDX-License-Identifier: GPL-2.0-only
#
# Shared by the scripts in scripts/: where the tree and the cache are, and
# how to talk to the person running us.  Sourced, not run.

HSEMA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Downloads, unpacked kernels, initramfs images and the debug kernel live
# outside the clone so that a fresh clone reuses them.
HSEMA_CACHE=${HSEMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hsema}
export HSEMA_ROOT HSEMA_CACHE

msg() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { msg "$*"; exit 1; }

# with_lock FILE CMD...: run CMD holding an exclusive lock on FILE, so that
# kernels checked side by side do not unpack the same cache entry twice.
with_lock() {
	local lock=$1
	shift
	mkdir -p "$(dirname "$lock")"
	(
		flock 9
		"$@"
	) 9>"$lock"
}

# What counts as a kernel splat.  Lockdep, KASAN, UBSAN and the
# debug-objects code all print one of these; "Call Trace:" catches any
# stack dump whose headline is not listed.  kmemleak's "unreferenced
# object" is put in the log by guest-init for objects hsema allocated only:
# a debug kernel leaks a few objects of its own at boot.
HSEMA_SPLAT='BUG:|WARNING:|INFO: (possible|trying to register)|inconsistent lock state|'
HSEMA_SPLAT+='DEBUG_LOCKS_WARN_ON|KASAN:|UBSAN:|Oops|general protection fault|'
HSEMA_SPLAT+='sleeping function called from invalid context|scheduling while atomic|'
HSEMA_SPLAT+='detected stalls?|self-detected stall|blocked for more than|soft lockup|'
HSEMA_SPLAT+='hard LOCKUP|unreferenced object|ODEBUG:|'
HSEMA_SPLAT+='list_(add|del) corruption|refcount_t:|Call Trace:|Kernel panic|'
# BUG() prints no "BUG:"; a filesystem that lost track of an inode says so.
HSEMA_SPLAT+='kernel BUG at|Busy inodes after unmount'
