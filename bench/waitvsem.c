// SPDX-License-Identifier: GPL-2.0-only
/*
 * Counting semaphores on futex words, waited on together with
 * futex_waitv(): the raw-futex semaphore of futexsem.c, one per word,
 * with a waiter that sleeps on all its words at once.
 *
 * Take: futexsem_take(), the words in index order.  Release:
 * futexsem_release(), which adds one to the word, then FUTEX_WAKEs one
 * waiter if any thread may sleep on it.
 *
 * No wake-up is lost:
 *
 *  - A waiter counts itself in every word's nwaiters before it looks at
 *    the words again, and a releaser adds to its word before it looks at
 *    that word's nwaiters, both with sequentially consistent
 *    read-modify-writes (and a fence before the waiter's loads), so at
 *    least one sees the other: the waiter takes the unit, or the releaser
 *    wakes.  futex_waitv() queues the waiter on every word and then
 *    checks that each still holds 0, under the words' hash-bucket locks,
 *    so a unit added (and a FUTEX_WAKE issued) after the waiter's last
 *    look makes it return at once (EAGAIN) instead of sleeping.
 *  - A wake-up goes to one waiter of the word released.  A waiter
 *    sleeping on several words can take another word's unit than the
 *    one it was woken for (the lowest index wins), or be woken on two
 *    words at once, and the unit it was woken for would stay in its word
 *    while another waiter of that word sleeps on.  So a waiter that slept
 *    passes the wake-up on: once it has its unit and has left every
 *    word's nwaiters, it wakes one waiter of each other word that still
 *    holds a unit and may have sleepers.  That can wake a thread for
 *    nothing (it takes nothing and sleeps again), never strand a unit.
 *  - FUTEX_WAKE is private and 32-bit, as futex_waitv's entries
 *    (FUTEX2_SIZE_U32 | FUTEX2_PRIVATE): the same futex keys.
 *
 * The waiters' count costs n atomic additions and n subtractions per
 * sleep, in exchange for a release that stays out of the kernel when no
 * one can be asleep, as libsema's and futexsem.c's do.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "waitvsem.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv	449
#endif
/* The names since Linux 6.7; 6.1's <linux/futex.h> has the same values. */
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32	0x02		/* FUTEX_32 */
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE	FUTEX_PRIVATE_FLAG
#endif

void waitvsem_init(struct waitvsem *s, unsigned int value)
{
	futexsem_init(&s->f, value);
}

void waitvsem_release(struct waitvsem *s)
{
	futexsem_release(&s->f);
}

unsigned int waitvsem_acquire_any(struct waitvsem *const sems[],
				  unsigned int n)
{
	struct futex_waitv w[WAITVSEM_MAX];
	unsigned int i, got;

	if (n == 0 || n > WAITVSEM_MAX) {
		fprintf(stderr, "waitvsem_acquire_any: %u words\n", n);
		exit(1);
	}
	for (i = 0; i < n; i++)
		if (futexsem_take(&sems[i]->f))
			return i;
	for (i = 0; i < n; i++) {
		atomic_fetch_add(&sems[i]->f.nwaiters, 1);
		w[i] = (struct futex_waitv){
			.val = 0,
			.uaddr = (uintptr_t)&sems[i]->f.value,
			.flags = FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
		};
	}
	atomic_thread_fence(memory_order_seq_cst);	/* the loads after */
	for (;;) {
		for (i = 0; i < n; i++)
			if (futexsem_take(&sems[i]->f))
				goto taken;
		/* Sleeps only while every word is still 0. */
		if (syscall(SYS_futex_waitv, w, n, 0, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EINTR) {
			perror("futex_waitv");
			exit(1);
		}
	}
taken:
	got = i;
	for (i = 0; i < n; i++)
		atomic_fetch_sub(&sems[i]->f.nwaiters, 1);
	/* Pass on a wake-up that may have been meant for another word. */
	for (i = 0; i < n; i++)
		if (i != got && atomic_load(&sems[i]->f.value) &&
		    atomic_load(&sems[i]->f.nwaiters))
			futexsem_wake_one(&sems[i]->f);
	return got;
}
