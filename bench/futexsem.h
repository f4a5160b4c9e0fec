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
/* FUTEX_WAKE one thread sleeping on @s's word, private and 32-bit. */
void futexsem_wake_one(struct futexsem *s);

/* Take a unit if the value has one, without sleeping: 1 if taken. */
static inline int futexsem_take(struct futexsem *s)
{
	uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);

	while (v) {
		if (atomic_compare_exchange_weak_explicit(&s->value, &v, v - 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return 1;
	}
	return 0;
}

#endif /* BENCH_FUTEXSEM_H */
