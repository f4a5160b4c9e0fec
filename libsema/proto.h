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
 *
 * The includer defines _GNU_SOURCE (hsema_thread_spins() needs
 * sched_getaffinity() and CPU_COUNT()).
 */
#ifndef LIBSEMA_PROTO_H
#define LIBSEMA_PROTO_H

#include <sched.h>
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
 * enters the kernel.  A unit released by a holder running on another CPU
 * appears within a short critical section; a sleep costs two system calls
 * and two context switches, and once one acquirer sleeps, releases must
 * enter the kernel.  musl's semaphores spin 100 times and measured many
 * times fewer wait/post pairs for it; Go's mutex spins 4 x 30 PAUSE.
 * Bounded, because a holder that was preempted will not be back soon.
 */
#define HSEMA_SPIN	100

/*
 * Whether the calling thread may run on more than one CPU: pinned to one,
 * it spins while the holder it waits for cannot run there (two threads
 * handing a unit back and forth on one CPU took 3.8 times as long with
 * the spin as without).  Asked once per thread, at its first contended
 * acquire, so that the fast path never makes the system call; a thread
 * that changes its affinity later keeps its first answer.
 */
static inline bool hsema_thread_spins(void)
{
	static _Thread_local signed char spins = -1;
	cpu_set_t set;

	if (spins < 0)
		spins = !sched_getaffinity(0, sizeof(set), &set) &&
			CPU_COUNT(&set) > 1;
	return spins;
}

/*
 * Spin for a unit before sleeping, only where it can pay: with more than
 * one CPU online (@spins) and allowed to the thread (on one, the holder
 * cannot run while we spin) and never in starvation mode, where units go
 * to the queue's head, not to us.
 */
static inline bool hsema_word_spin(_Atomic uint32_t *w, bool spins)
{
	uint32_t v;
	int i;

	if (!spins || !hsema_thread_spins())
		return false;
	for (i = 0; i < HSEMA_SPIN; i++) {
		hsema_cpu_relax();
		v = atomic_load_explicit(w, memory_order_relaxed);
		if ((v & HSEMA_STATE_MASK) == HSEMA_STATE_STARVING)
			return false;
		if ((v & HSEMA_VALUE_MASK) && hsema_word_take(w))
			return true;
	}
	return false;
}

/*
 * The fast path of every release: @n units added with one compare-and-
 * swap while nobody waits.  False if somebody does, or the value would
 * pass @max (the semaphore's, at most HSEMA_VALUE_MAX): then
 * hsema_word_add() decides (out of line, in the caller's cold path).
 */
static inline bool hsema_word_add_fast(_Atomic uint32_t *w, unsigned int n,
				       uint32_t max)
{
	uint32_t v = atomic_load_explicit(w, memory_order_relaxed);

	return (v & HSEMA_STATE_MASK) == HSEMA_STATE_NONE &&
	       (v & HSEMA_VALUE_MASK) + n <= max &&
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
 * leaves at most @max in the value (the kernel checks what it adds
 * against the same maximum, HSEMA_WAKE_MAX).  Once
 * somebody waits, @publishes() says whether the module takes
 * HSEMA_WAKE_PUBLISHED (it is asked only then: a process that never saw
 * a waiter needs no device).  A woken waiter counts what it finds in the
 * value when it runs, but wakes the sleepers for more than one unit only
 * then: a batch asks the kernel to wake them all at once.
 */
static inline enum hsema_add hsema_word_add(_Atomic uint32_t *w, unsigned int n,
					    uint32_t max,
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
		if ((v & HSEMA_VALUE_MASK) + n > max)
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
