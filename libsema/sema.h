/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libsema: futex-like counting semaphores over /dev/hsema.
 *
 * A sema_t lives in your memory, like a pthread mutex.  Uncontended
 * acquire and release are one atomic compare-and-swap each, with no system
 * call; the kernel is entered only to wait or to wake.  Waiters are served
 * in FIFO ticket order, and a waiter that waits longer than the starvation
 * threshold (1 ms by default) gets the next released unit handed to it
 * directly.
 *
 * Every function returns 0 or a negative errno value and is thread-safe.
 * See sema(7) and the man pages of each function.
 */
#ifndef LIBSEMA_SEMA_H
#define LIBSEMA_SEMA_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest value a semaphore can hold. */
#define SEMA_VALUE_MAX	0x3fffffffU

/* sema_init() flags. */
#define SEMA_SHARED	(1U << 0)	/* usable across processes, in */
					/* MAP_SHARED memory */

/*
 * Opaque; 16 bytes, 16-byte aligned.  Initialize with sema_init().  May be
 * copied only before first use and never while in use, like pthread types.
 */
typedef struct sema {
	_Alignas(16) uint32_t __word;	/* the word the kernel knows */
	uint32_t __flags;		/* init flags and a magic number */
	uint32_t __starve_us;		/* starvation threshold, 0 = default */
	uint32_t __max_gap;		/* SEMA_VALUE_MAX - the maximum */
					/* (sema_init_max()), 0 for none */
} sema_t;

int sema_init(sema_t *s, unsigned int value, unsigned int flags);
/*
 * The same, for a semaphore that never holds more than @max units: a
 * release that would pass it fails with -EOVERFLOW and changes nothing.
 */
int sema_init_max(sema_t *s, unsigned int value, unsigned int max,
		  unsigned int flags);
int sema_destroy(sema_t *s);

int sema_acquire(sema_t *s);
int sema_tryacquire(sema_t *s);
int sema_timedacquire(sema_t *s, const struct timespec *abstime,
		      clockid_t clock);

/*
 * Acquire one unit of any of @n semaphores (1 <= @n <= SEMA_ANY_MAX):
 * returns the index of the one acquired, or a negative errno.  When
 * several have a unit, the lowest index wins, without a system call.
 * @abstime (on @clock, CLOCK_MONOTONIC or CLOCK_REALTIME) may be NULL.
 */
#define SEMA_ANY_MAX	64
int sema_acquire_any(sema_t *const sems[], unsigned int n,
		     const struct timespec *abstime, clockid_t clock);

int sema_release(sema_t *s);
int sema_release_n(sema_t *s, unsigned int n);
int sema_release_handoff(sema_t *s);

int sema_getvalue(sema_t *s, unsigned int *value);

/*
 * Override the starvation threshold of one semaphore, in microseconds;
 * 0 restores the module's default.  Call before the semaphore is in use.
 */
int sema_set_starve_threshold(sema_t *s, unsigned int usec);

#ifdef __cplusplus
}
#endif

#endif /* LIBSEMA_SEMA_H */
