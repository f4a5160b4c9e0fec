/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal counting semaphore per futex word, waited on several at once
 * with futex_waitv() (Linux 5.16): what a program without hsema would
 * write to wait for any of n semaphores.  The "any" row's comparison for
 * sema_acquire_any() (any.c).
 */
#ifndef BENCH_WAITVSEM_H
#define BENCH_WAITVSEM_H

#include "futexsem.h"

/* futex_waitv()'s bound is 128; sema_acquire_any()'s SEMA_ANY_MAX is 64. */
#define WAITVSEM_MAX	64

/*
 * futexsem.c's semaphore, one per cache line as the other
 * implementations' semaphores are: nwaiters counts the threads that may
 * sleep on this word, alone or in futex_waitv() with others.
 */
struct waitvsem {
	_Alignas(64) struct futexsem f;
};

void waitvsem_init(struct waitvsem *s, unsigned int value);
void waitvsem_release(struct waitvsem *s);

/*
 * Take one unit of any of @sems[0..n), 1 <= @n <= WAITVSEM_MAX, sleeping
 * in futex_waitv() while all are 0; returns the index taken.  When several
 * have a unit, the lowest index wins, without a system call.
 */
unsigned int waitvsem_acquire_any(struct waitvsem *const sems[],
				  unsigned int n);

#endif /* BENCH_WAITVSEM_H */
