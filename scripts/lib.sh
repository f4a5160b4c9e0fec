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
