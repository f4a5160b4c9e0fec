// SPDX-License-Identifier: GPL-2.0-only
/*
 * The raw-futex semaphore, as glibc's semaphores were before 2.21: a value
 * and a count of threads that may sleep.  Uncontended, acquire is one
 * compare-and-swap and release one fetch-and-add, so the fast paths
 * compare like for like with libsema's.
 *
 * No wake-up is lost: a sleeper counts itself in nwaiters before it looks
 * at the value, a releaser adds to the value before it looks at nwaiters,
 * both with sequentially consistent read-modify-writes, so at least one of
 * them sees the other; and FUTEX_WAIT sleeps only while the value is 0.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "futexsem.h"

static void futex(_Atomic uint32_t *uaddr, int op, uint32_t val)
{
	if (syscall(SYS_futex, uaddr, op | FUTEX_PRIVATE_FLAG, val, NULL,
		    NULL, 0) < 0 && errno != EAGAIN && errno != EINTR) {
		perror("futex");
		exit(1);
	}
}

void futexsem_init(struct futexsem *s, unsigned int value)
{
	atomic_init(&s->value, value);
	atomic_init(&s->nwaiters, 0);
}

void futexsem_acquire(struct futexsem *s)
{
	if (futexsem_take(s))
		return;
	atomic_fetch_add(&s->nwaiters, 1);
	atomic_thread_fence(memory_order_seq_cst);	/* order the load after */
	while (!futexsem_take(s))
		futex(&s->value, FUTEX_WAIT, 0);
	atomic_fetch_sub_explicit(&s->nwaiters, 1, memory_order_relaxed);
}

void futexsem_release(struct futexsem *s)
{
	atomic_fetch_add(&s->value, 1);
	if (atomic_load(&s->nwaiters))
		futexsem_wake_one(s);
}

void futexsem_wake_one(struct futexsem *s)
{
	futex(&s->value, FUTEX_WAKE, 1);
}
