/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The userspace half of the hsema protocol on one word, shared by libsema
 * (sema.c) and libsema-posix (posix.c), so that both follow the same rules
 * of uapi/linux/hsema.h: take a unit only while HSEMA_STARVING is clear,
 * add units only while it is clear, never touch that bit or
 * HSEMA_WAITERS; a release that added its units while HSEMA_WAITERS was
 * set asks the kernel to wake for them (HSEMA_WAKE_PUBLISHED).
 * Documentation/hsema.rst explains why the two halves cannot lose a
 * wake-up.  Internal: not installed.  Everything is static inline, so
 * each library keeps its fast paths free of calls.
 */
#ifndef LIBSEMA_PROTO_H
#define LIBSEMA_PROTO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/hsema.h>

/* The fast path of every acquire: one compare-and-swap, no system call. */
static inline bool hsema_word_take(_Atomic uint32_t *w)
{
	uint32_t v = atomic_load_explicit(w, memory_order_relaxed);

	while (!(v & HSEMA_STARVING) && (v & HSEMA_VALUE_MASK)) {
		if (atomic_compare_exchange_weak_explicit(w, &v, v - 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
	return false;
}

static inline void hsema_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/*
 * How many times an acquirer that found no unit looks again before it
 * enters the kernel.  A unit released by a holder running on another CPU
 * appears within a short critical section; a sleep costs two system calls
 * and two context switches, and once one acquirer sleeps, every release
 * must enter the kernel.  musl's semaphores spin 100 times and measured
 * many times fewer wait/post pairs for it; Go's mutex spins 4 x 30 PAUSE.
 * Bounded, because a holder that was preempted will not be back soon.
 */
#define HSEMA_SPIN	100

/*
 * Spin for a unit before sleeping, only where it can pay: with more than
 * one CPU online (@spins; on one, the holder cannot run while we spin)
 * and never in starvation mode, where units go to the queue's head, not
 * to us.
 */
static inline bool hsema_word_spin(_Atomic uint32_t *w, bool spins)
{
	uint32_t v;
	int i;

	if (!spins)
		return false;
	for (i = 0; i < HSEMA_SPIN; i++) {
		hsema_cpu_relax();
		v = atomic_load_explicit(w, memory_order_relaxed);
		if (v & HSEMA_STARVING)
			return false;
		if ((v & HSEMA_VALUE_MASK) && hsema_word_take(w))
			return true;
	}
	return false;
}

/* What a release must do once hsema_word_add() returned. */
enum hsema_add {
	HSEMA_ADDED,		/* done: the units are in the word */
	HSEMA_ADDED_WAKE,	/* in the word, and somebody waits: WAKE */
				/* with HSEMA_WAKE_PUBLISHED */
	HSEMA_ADD_KERNEL,	/* nothing added: WAKE adds them (starvation, */
				/* or a module without PUBLISHED) */
	HSEMA_ADD_OVERFLOW,	/* nothing added: past HSEMA_VALUE_MAX */
};

/*
 * Add @n units with one compare-and-swap while nobody starves.  Once
 * somebody waits, @publishes() says whether the module takes
 * HSEMA_WAKE_PUBLISHED (it is asked only then: a process that never saw
 * a waiter needs no device).
 */
static inline enum hsema_add hsema_word_add(_Atomic uint32_t *w, unsigned int n,
					    bool (*publishes)(void))
{
	uint32_t v = atomic_load_explicit(w, memory_order_relaxed);

	for (;;) {
		if (v & HSEMA_STARVING)
			return HSEMA_ADD_KERNEL;
		if ((v & HSEMA_WAITERS) && !publishes())
			return HSEMA_ADD_KERNEL;
		if ((v & HSEMA_VALUE_MASK) + n > HSEMA_VALUE_MAX)
			return HSEMA_ADD_OVERFLOW;
		if (atomic_compare_exchange_weak_explicit(w, &v, v + n,
							  memory_order_release,
							  memory_order_relaxed))
			break;
	}
	return (v & HSEMA_WAITERS) ? HSEMA_ADDED_WAKE : HSEMA_ADDED;
}

#endif /* LIBSEMA_PROTO_H */
