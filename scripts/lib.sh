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

# linux_source NAME PATTERN...: the members of Debian's linux-source-6.12
# that match the shell patterns (paths inside its top directory),
# extracted once into $HSEMA_CACHE/NAME/VERSION; prints that directory.
# Nothing of the kernel's source is copied into the repository.
linux_source() {
	local name=$1 tarball=/usr/src/linux-source-6.12.tar.xz ver
	shift
	[ -r "$tarball" ] ||
		die "$tarball is missing: run $HSEMA_ROOT/scripts/deps as root"
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	with_lock "$HSEMA_CACHE/$name/.lock" \
		linux_source_extract "$tarball" "$HSEMA_CACHE/$name/$ver" "$@"
	echo "$HSEMA_CACHE/$name/$ver"
}
linux_source_extract() {
	local tarball=$1 dir=$2 tmp
	shift 2
	[ -e "$dir/.complete" ] && return 0
	tmp=$(mktemp -d "${dir%/*}/.extract.XXXXXX")
	tar -xJf "$tarball" -C "$tmp" --strip-components=1 --wildcards \
		"${@/#/linux-source-6.12/}"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	touch "$dir/.complete"
}

# module_sources DEST: the sources the modules build from (Kbuild, kmod/,
# uapi/, selftests/kmod/), and nothing else, into DEST: objects built in
# the tree for another kernel (hsema.mod.c above all) must not reach a
# build there.
module_sources() {
	mkdir -p "$1"
	rsync -a --delete --delete-excluded --prune-empty-dirs \
		--exclude='*.mod.c' --include='/Kbuild' --include='/kmod/' --include='/uapi/' \
		--include='/uapi/**/' --include='/selftests/' \
		--include='/selftests/kmod/' \
		--include='/kmod/*.[ch]' --include='/kmod/Kbuild' \
		--include='/uapi/**.h' --include='/selftests/kmod/*.[ch]' \
		--include='/selftests/kmod/Kbuild' --exclude='*' "$HSEMA_ROOT/" "$1/"
}

# host_state: the host's kernel packages and everything under /boot, one
# line each, to compare before and after a run.  dpkg-query also lists
# packages it only knows of (state "un", e.g. a Recommends of dkms), which
# are not installed: those are left out.
host_state() {
	dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package} ${Version}\n' \
		'linux-image-*' 'linux-headers-*' 2>/dev/null | grep -v '^un' || true
	[ ! -e /boot ] || find /boot -xdev -printf '%y %m %s %T@ %p -> %l\n' | sort
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
