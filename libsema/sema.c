// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libsema: the userspace half of the hsema protocol.
 *
 * The fast paths are one compare-and-swap on the word, in proto.h, which
 * libsema-posix shares: it follows the rules of uapi/linux/hsema.h.
 * Everything else is the kernel's job, and Documentation/hsema.rst
 * explains why the two halves cannot lose a wake-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "proto.h"
#include "sema.h"

#define SEMA_EXPORT	__attribute__((visibility("default")))

/* __flags: a magic number in the high bits marks an initialized sema_t. */
#define SEMA_MAGIC	0x53454d00U
#define SEMA_MAGIC_MASK	0xffffff00U

_Static_assert(sizeof(sema_t) == 16, "sema_t is 16 bytes");
_Static_assert(_Alignof(sema_t) == 16, "sema_t is 16-byte aligned");
_Static_assert(SEMA_VALUE_MAX == HSEMA_VALUE_MAX, "value limits agree");
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t),
	       "the word can be accessed atomically in place");

static _Atomic int sema_devfd = -1;
/* Set with sema_devfd: the module takes HSEMA_WAKE_PUBLISHED. */
static _Atomic bool sema_publish;
/* Set with sema_devfd: the module takes HSEMA_WAKE_MAX. */
static _Atomic bool sema_has_max;
/* Set with sema_devfd: more than one CPU online, so spinning can pay. */
static _Atomic bool sema_spins;
static atomic_flag sema_warned = ATOMIC_FLAG_INIT;

static void sema_warn(const char *why)
{
	if (atomic_flag_test_and_set(&sema_warned))
		return;
	fprintf(stderr,
		"libsema: %s %s: %s; load the hsema kernel module "
		"(\"insmod hsema.ko\" or \"modprobe hsema\", as root)\n",
		"cannot use", HSEMA_DEVICE, why);
}

/*
 * Open /dev/hsema once per process, on first need.  O_CLOEXEC: the
 * descriptor is an implementation detail that must not leak into exec'd
 * programs; a forked child shares it, which is fine, it has no state.
 */
static int sema_dev(void)
{
	struct hsema_version v;
	int fd, expected = -1;

	fd = atomic_load_explicit(&sema_devfd, memory_order_acquire);
	if (fd >= 0)
		return fd;

	fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		sema_warn(strerror(err));
		return (err == ENOENT || err == ENXIO || err == ENODEV) ?
			-ENODEV : -err;
	}
	if (ioctl(fd, HSEMA_IOC_VERSION, &v) || v.abi_version != HSEMA_ABI_VERSION) {
		close(fd);
		sema_warn("the module speaks another ABI version");
		return -ENODEV;
	}
	/* Both before sema_devfd, whose acquire load orders them. */
	atomic_store_explicit(&sema_publish,
			      v.features & HSEMA_FEAT_PUBLISHED,
			      memory_order_relaxed);
	atomic_store_explicit(&sema_has_max, v.features & HSEMA_FEAT_MAX,
			      memory_order_relaxed);
	atomic_store_explicit(&sema_spins, sysconf(_SC_NPROCESSORS_ONLN) > 1,
			      memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&sema_devfd, &expected, fd,
						     memory_order_release,
						     memory_order_acquire)) {
		close(fd);	/* another thread won the race */
		return expected;
	}
	return fd;
}

static _Atomic uint32_t *sema_word(sema_t *s)
{
	return (_Atomic uint32_t *)&s->__word;
}

static bool sema_valid(const sema_t *s)
{
	return s && (s->__flags & SEMA_MAGIC_MASK) == SEMA_MAGIC;
}

static uint32_t sema_keyflags(const sema_t *s)
{
	return (s->__flags & SEMA_SHARED) ? HSEMA_F_SHARED : 0;
}

static int sema_ioctl(unsigned long cmd, void *arg)
{
	int fd = sema_dev();

	if (fd < 0)
		return fd;
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static bool sema_take(sema_t *s)
{
	return hsema_word_take(sema_word(s));
}

static bool sema_spin(sema_t *s)
{
	return hsema_word_spin(sema_word(s),
			       atomic_load_explicit(&sema_spins,
						    memory_order_relaxed));
}

static int sema_wait(sema_t *s, const struct timespec *abstime,
		     clockid_t clock)
{
	struct hsema_wait a = {
		.uaddr = (uintptr_t)&s->__word,
		.flags = sema_keyflags(s),
		.starve_ns = (uint64_t)s->__starve_us * 1000,
	};

	if (abstime) {
		a.flags |= HSEMA_WAIT_TIMEOUT;
		if (clock == CLOCK_REALTIME)
			a.flags |= HSEMA_WAIT_REALTIME;
		a.deadline_sec = abstime->tv_sec;
		a.deadline_nsec = abstime->tv_nsec;
	}
	return sema_ioctl(HSEMA_IOC_WAIT, &a);
}

static int sema_wake(sema_t *s, unsigned int n, uint32_t flags)
{
	struct hsema_wake a = {
		.uaddr = (uintptr_t)&s->__word,
		.count = n,
		.flags = sema_keyflags(s) | flags,
	};

	/* The kernel checks what it adds or grants against the maximum. */
	if (s->__max_gap) {
		a.flags |= HSEMA_WAKE_MAX;
		a.max = SEMA_VALUE_MAX - s->__max_gap;
	}
	return sema_ioctl(HSEMA_IOC_WAKE, &a);
}

/* @max 0 is the word's maximum, which needs nothing of the module. */
static int sema_setup(sema_t *s, unsigned int value, unsigned int max,
		      unsigned int flags)
{
	int fd;

	if (!s || value > SEMA_VALUE_MAX || (flags & ~SEMA_SHARED))
		return -EINVAL;
	if (max && (max > SEMA_VALUE_MAX || value > max))
		return -EINVAL;
	/* Say now, not at the first contended acquire, if the kernel is missing. */
	fd = sema_dev();
	if (fd < 0)
		return fd;
	/* A module that cannot bound its own releases cannot keep @max. */
	if (max && !atomic_load_explicit(&sema_has_max, memory_order_relaxed))
		return -EOPNOTSUPP;
	memset(s, 0, sizeof(*s));
	s->__max_gap = max ? SEMA_VALUE_MAX - max : 0;
	atomic_store_explicit(sema_word(s), value, memory_order_release);
	s->__flags = SEMA_MAGIC | flags;
	return 0;
}

SEMA_EXPORT int sema_init(sema_t *s, unsigned int value, unsigned int flags)
{
	return sema_setup(s, value, 0, flags);
}

SEMA_EXPORT int sema_init_max(sema_t *s, unsigned int value, unsigned int max,
			      unsigned int flags)
{
	if (!max)
		return -EINVAL;
	return sema_setup(s, value, max, flags);
}

SEMA_EXPORT int sema_destroy(sema_t *s)
{
	struct hsema_query q;
	int ret;

	if (!sema_valid(s))
		return -EINVAL;
	if (atomic_load_explicit(sema_word(s), memory_order_acquire) &
	    HSEMA_STATE_MASK) {
		/* The state may be stale (a fork()ed copy): ask the kernel. */
		memset(&q, 0, sizeof(q));
		q.uaddr = (uintptr_t)&s->__word;
		q.flags = sema_keyflags(s);
		ret = sema_ioctl(HSEMA_IOC_QUERY, &q);
		if (ret)
			return ret;
		if (q.nr_waiters)
			return -EBUSY;
	}
	s->__flags = 0;
	return 0;
}

/*
 * An acquire that found no unit: spin, then wait in the kernel.  Out of
 * line and cold, so that the fast path needs no stack frame (the spin's
 * thread-local budget made the compiler set one up first).
 */
static __attribute__((noinline, cold)) int
sema_acquire_slow(sema_t *s, const struct timespec *abstime, clockid_t clock)
{
	if (sema_spin(s))
		return 0;
	return sema_wait(s, abstime, clock);
}

SEMA_EXPORT int sema_acquire(sema_t *s)
{
	if (!sema_valid(s))
		return -EINVAL;
	if (sema_take(s))
		return 0;
	return sema_acquire_slow(s, NULL, CLOCK_MONOTONIC);
}

SEMA_EXPORT int sema_tryacquire(sema_t *s)
{
	if (!sema_valid(s))
		return -EINVAL;
	return sema_take(s) ? 0 : -EAGAIN;
}

SEMA_EXPORT int sema_timedacquire(sema_t *s, const struct timespec *abstime,
				  clockid_t clock)
{
	if (!sema_valid(s) || !abstime)
		return -EINVAL;
	if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME)
		return -EINVAL;
	if (abstime->tv_sec < 0 || abstime->tv_nsec < 0 ||
	    abstime->tv_nsec >= 1000000000L)
		return -EINVAL;
	/* As sem_timedwait(): no timeout error while a unit is available. */
	if (sema_take(s))
		return 0;
	return sema_acquire_slow(s, abstime, clock);
}

/*
 * Wait in the kernel for any of @sems, which had no unit to take.  The
 * ioctl returns the index of the entry it took a unit of: the first
 * entry of its word, which is the first in @sems too.
 */
static __attribute__((noinline, cold)) int
sema_acquire_any_slow(sema_t *const sems[], unsigned int n,
		      const struct timespec *abstime, clockid_t clock)
{
	struct hsema_any_entry e[SEMA_ANY_MAX];
	struct hsema_wait_any a = {
		.entries = (uintptr_t)e,
		.count = n,
	};
	unsigned int i;
	int fd, ret;

	for (i = 0; i < n; i++) {
		e[i] = (struct hsema_any_entry){
			.uaddr = (uintptr_t)&sems[i]->__word,
			.starve_ns = (uint64_t)sems[i]->__starve_us * 1000,
			.flags = sema_keyflags(sems[i]),
		};
	}
	if (abstime) {
		a.flags |= HSEMA_WAIT_TIMEOUT;
		if (clock == CLOCK_REALTIME)
			a.flags |= HSEMA_WAIT_REALTIME;
		a.deadline_sec = abstime->tv_sec;
		a.deadline_nsec = abstime->tv_nsec;
	}
	fd = sema_dev();
	if (fd < 0)
		return fd;
	ret = ioctl(fd, HSEMA_IOC_WAIT_ANY, &a);
	if (ret >= 0)
		return ret;
	/* A module from before HSEMA_FEAT_WAIT_ANY. */
	return errno == ENOTTY ? -EOPNOTSUPP : -errno;
}

SEMA_EXPORT int sema_acquire_any(sema_t *const sems[], unsigned int n,
				 const struct timespec *abstime,
				 clockid_t clock)
{
	unsigned int i;

	if (!sems || n == 0 || n > SEMA_ANY_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!sema_valid(sems[i]))
			return -EINVAL;
	if (abstime) {
		if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME)
			return -EINVAL;
		if (abstime->tv_sec < 0 || abstime->tv_nsec < 0 ||
		    abstime->tv_nsec >= 1000000000L)
			return -EINVAL;
	}
	/* The lowest index with a unit wins, without a system call. */
	for (i = 0; i < n; i++)
		if (sema_take(sems[i]))
			return i;
	return sema_acquire_any_slow(sems, n, abstime, clock);
}

/* Known once anyone waited: the waiter opened the device. */
static bool sema_publishes(void)
{
	return sema_dev() >= 0 &&
	       atomic_load_explicit(&sema_publish, memory_order_relaxed);
}

/*
 * Add @n units where the fast path could not: somebody waits (a release
 * of one unit to a word that reads WOKEN still stays in userspace) or the
 * value would overflow.  Out of line and cold, so that the fast path in
 * sema_add() needs no stack frame.
 *
 * Once the units are in the word the release has happened: a failed wake
 * (the word unmapped meanwhile, a fatal signal) loses none of them, they
 * stay takeable and the next release wakes for them, so it returns 0.
 * Reporting an error would invite a retry that releases twice.
 */
static __attribute__((noinline, cold)) int sema_add_slow(sema_t *s,
							unsigned int n)
{
	switch (hsema_word_add(sema_word(s), n, s->__max_gap, sema_publishes)) {
	case HSEMA_ADDED:
		return 0;
	case HSEMA_ADDED_WAKE:
		(void)sema_wake(s, n, HSEMA_WAKE_PUBLISHED);
		return 0;
	case HSEMA_ADD_OVERFLOW:
		return -EOVERFLOW;
	default:
		return sema_wake(s, n, 0);
	}
}

/*
 * Add @n units: one compare-and-swap while nobody waits, else the slow
 * path, which publishes them and, if somebody sleeps and no woken waiter
 * is on its way to count a single unit, asks the kernel to wake for them;
 * in starvation mode the kernel adds them (it grants them to the queue's
 * head).  Shared by sema_release() and sema_release_n() so that neither
 * calls the other through the PLT.
 */
static inline int sema_add(sema_t *s, unsigned int n)
{
	if (hsema_word_add_fast(sema_word(s), n, s->__max_gap))
		return 0;
	return sema_add_slow(s, n);
}

SEMA_EXPORT int sema_release_n(sema_t *s, unsigned int n)
{
	if (!sema_valid(s) || n == 0 || n > SEMA_VALUE_MAX)
		return -EINVAL;
	return sema_add(s, n);
}

SEMA_EXPORT int sema_release(sema_t *s)
{
	if (!sema_valid(s))
		return -EINVAL;
	return sema_add(s, 1);
}

SEMA_EXPORT int sema_release_handoff(sema_t *s)
{
	_Atomic uint32_t *w;
	uint32_t v;

	if (!sema_valid(s))
		return -EINVAL;
	w = sema_word(s);
	v = atomic_load_explicit(w, memory_order_relaxed);
	for (;;) {
		if (v & (HSEMA_WAITERS | HSEMA_STARVING))
			return sema_wake(s, 1, HSEMA_WAKE_HANDOFF);
		if ((v & HSEMA_VALUE_MASK) + 1 + s->__max_gap > SEMA_VALUE_MAX)
			return -EOVERFLOW;
		if (atomic_compare_exchange_weak_explicit(w, &v, v + 1,
							  memory_order_release,
							  memory_order_relaxed))
			return 0;
	}
}

SEMA_EXPORT int sema_getvalue(sema_t *s, unsigned int *value)
{
	if (!sema_valid(s) || !value)
		return -EINVAL;
	*value = atomic_load_explicit(sema_word(s), memory_order_relaxed) &
		 HSEMA_VALUE_MASK;
	return 0;
}

SEMA_EXPORT int sema_set_starve_threshold(sema_t *s, unsigned int usec)
{
	if (!sema_valid(s))
		return -EINVAL;
	s->__starve_us = usec;
	return 0;
}
