// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stand-in for /dev/hsema, so that libsema's and libsema-posix's fast
 * paths can run under callgrind on a host that cannot load the module.
 * The program defines open() and ioctl(), which take precedence over
 * glibc's for libsema.so and the preloaded libsema-posix.so too (the
 * Makefile exports them); they answer HSEMA_IOC_VERSION, which
 * sema_init() and libsema-posix's constructor ask, as the module does,
 * refuse and count every other ioctl on the device (the fast path must
 * make none), and pass everything else to the kernel.
 *
 * The features are the module's own (fakedev-features.h is its
 * HSEMA_FEATURES, taken from kmod/main.c by the Makefile): libsema-posix
 * uses hsema only with WAIT_EINTR and WAIT_OWNED, and gives every
 * semaphore to glibc's implementation otherwise, whose fast path would
 * then be counted in its name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "fakedev.h"
#include "fakedev-features.h"

#ifndef HSEMA_FEATURES
#error "fakedev-features.h has no HSEMA_FEATURES: kmod/main.c changed"
#endif

static int fake_fd = -1;
unsigned long fakedev_ioctls;

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!strcmp(path, HSEMA_DEVICE)) {
		if (fake_fd < 0)
			fake_fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null",
					       O_RDWR | O_CLOEXEC);
		return fake_fd;
	}
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int ioctl(int fd, unsigned long req, ...)
{
	struct hsema_version *v;
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd != fake_fd)
		return (int)syscall(SYS_ioctl, fd, req, arg);
	if (req == HSEMA_IOC_VERSION) {
		v = arg;
		memset(v, 0, sizeof(*v));
		v->abi_version = HSEMA_ABI_VERSION;
		v->features = HSEMA_FEATURES;
		return 0;
	}
	fakedev_ioctls++;
	errno = ENOSYS;
	return -1;
}
