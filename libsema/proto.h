/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The userspace half of the hsema protocol on one word, shared by libsema
 * (sema.c) and libsema-posix (posix.c), so that both follow the same rules
 * of uapi/linux/hsema.h: take or add units only while the state is not
 * STARVING, never touch the state bits; a release that added its units to
 * a word whose state was WAITERS asks the kernel to wake for them
 * (HSEMA_WAKE_PUBLISHED), one that added a single unit to a WOKEN word
 * leaves it to the woken waiter on its way.  Documentation/hsema.rst
 * explains why the two halves cannot lose a wake-up.  Internal: not
 * installed.  Everything is static inline, so each library keeps its fast
 * paths free of calls; each puts what is not fast out of line itself.
 */
#ifndef LIBSEMA_PROTO_H
#define LIBSEMA_PROTO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/hsema.h>

/*
 * The fast path of every acquire: one compare-and-swap, no system call.
 * v < STARVING: the state is anything but STARVING, in one compare.
 */
static inline bool hsema_word_take(_Atomic uint32_t *w)
{
	uint32_t v = atomic_load_explicit(w, memory_order_relaxed);

	while (v < HSEMA_STATE_STARVING && (v & HSEMA_VALUE_MASK)) {
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
 * enters the kernel, at most.  A unit released by a holder running on
 * another CPU appears within a short critical section; a sleep costs two
 * system calls and two context switches, and once one acquirer sleeps,
 * releases must enter the kernel.  musl's semaphores spin 100 times and
 * measured many times fewer wait/post pairs for it; Go's mutex spins
 * 4 x 30 PAUSE.  Bounded, because a holder that was preempted will not be
 * back soon.
 */
#define HSEMA_SPIN	100
/* ... and at least, once spinning stopped paying: a probe that sees it pay again. */
#define HSEMA_SPIN_MIN	4

/*
 * Spin for a unit before sleeping, where it can pay: with more than one
 * CPU online (@spins) and never in starvation mode, where units go to the
 * queue's head, not to us.  Whether the holder runs on another CPU, and
 * how long it holds, only the outcome tells: each thread halves its
 * budget after a spin that found nothing and doubles it after one that
 * took a unit, between HSEMA_SPIN_MIN and HSEMA_SPIN.  Two threads handing
 * a unit back and forth on one CPU, where the holder cannot run while we
 * spin, took 3.8 times as long with a full spin as without; on two CPUs
 * the spin catches nearly every unit.
 */
static inline bool hsema_word_spin(_Atomic uint32_t *w, bool spins)
{
	static _Thread_local unsigned int budget = HSEMA_SPIN;
	unsigned int i;
	uint32_t v;

	if (!spins)
		return false;
	for (i = 0; i < budget; i++) {
		hsema_cpu_relax();
		v = atomic_load_explicit(w, memory_order_relaxed);
		if ((v & HSEMA_STATE_MASK) == HSEMA_STATE_STARVING)
			return false;
		if ((v & HSEMA_VALUE_MASK) && hsema_word_take(w)) {
			budget = budget * 2 < HSEMA_SPIN ? budget * 2 : HSEMA_SPIN;
			return true;
		}
	}
	budget = budget / 2 > HSEMA_SPIN_MIN ? budget / 2 : HSEMA_SPIN_MIN;
	return false;
}

/*
 * The fast path of every release: @n units added with one compare-and-
 * swap while nobody waits.  False if somebody does, or the value would
 * pass the semaphore's maximum, HSEMA_VALUE_MAX - @gap: then
 * hsema_word_add() decides (out of line, in the caller's cold path).  One
 * compare tests both: a state bit makes the word greater than any value.
 */
static inline bool hsema_word_add_fast(_Atomic uint32_t *w, unsigned int n,
				       uint32_t gap)
{
	uint32_t v = atomic_load_explicit(w, memory_order_relaxed);

	return (uint64_t)v + n + gap <= HSEMA_VALUE_MAX &&
	       atomic_compare_exchange_strong_explicit(w, &v, v + n,
						       memory_order_release,
						       memory_order_relaxed);
}

/* What a release must do once hsema_word_add() returned. */
enum hsema_add {
	HSEMA_ADDED,		/* done: the units are in the word */
	HSEMA_ADDED_WAKE,	/* in the word, and somebody sleeps whom no */
				/* woken waiter will wake: WAKE with */
				/* HSEMA_WAKE_PUBLISHED */
	HSEMA_ADD_KERNEL,	/* nothing added: WAKE adds them (starvation, */
				/* or a module without PUBLISHED) */
	HSEMA_ADD_OVERFLOW,	/* nothing added: past the maximum */
};

/*
 * Add @n units with one compare-and-swap while nobody starves, if that
 * leaves at most the semaphore's maximum, HSEMA_VALUE_MAX - @gap, in the
 * value (the kernel checks what it adds against the same maximum,
 * HSEMA_WAKE_MAX).  Once
 * somebody waits, @publishes() says whether the module takes
 * HSEMA_WAKE_PUBLISHED (it is asked only then: a process that never saw
 * a waiter needs no device).  A woken waiter counts what it finds in the
 * value when it runs, but wakes the sleepers for more than one unit only
 * then: a batch asks the kernel to wake them all at once.
 */
static inline enum hsema_add hsema_word_add(_Atomic uint32_t *w, unsigned int n,
					    uint32_t gap,
					    bool (*publishes)(void))
{
	uint32_t v = atomic_load_explicit(w, memory_order_relaxed);
	uint32_t state;

	for (;;) {
		state = v & HSEMA_STATE_MASK;
		if (state == HSEMA_STATE_STARVING)
			return HSEMA_ADD_KERNEL;
		if (state != HSEMA_STATE_NONE && !publishes())
			return HSEMA_ADD_KERNEL;
		if ((uint64_t)(v & HSEMA_VALUE_MASK) + n + gap > HSEMA_VALUE_MAX)
			return HSEMA_ADD_OVERFLOW;
		if (atomic_compare_exchange_weak_explicit(w, &v, v + n,
							  memory_order_release,
							  memory_order_relaxed))
			break;
	}
	if (state == HSEMA_STATE_WAITERS ||
	    (state == HSEMA_STATE_WOKEN && n > 1))
		return HSEMA_ADDED_WAKE;
	return HSEMA_ADDED;
}

#endif /* LIBSEMA_PROTO_H */
