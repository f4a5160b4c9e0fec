/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal counting semaphore on a raw futex: the floor that any
 * semaphore built on the kernel's futex can reach, with no FIFO order, no
 * timeouts and no starvation handling.
 */
#ifndef BENCH_FUTEXSEM_H
#define BENCH_FUTEXSEM_H

#include <stdatomic.h>
#include <stdint.h>

struct futexsem {
	_Atomic uint32_t value;		/* the futex word */
	_Atomic uint32_t nwaiters;	/* threads in the slow path */
};

void futexsem_init(struct futexsem *s, unsigned int value);
void futexsem_acquire(struct futexsem *s);
void futexsem_release(struct futexsem *s);

#endif /* BENCH_FUTEXSEM_H */
