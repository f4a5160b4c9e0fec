/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hsema: futex-like counting semaphores with FIFO tickets and a
 * starvation-mode direct handoff.
 *
 * A semaphore is a 32-bit word in user memory.  Uncontended acquire and
 * release are one compare-and-swap on that word in userspace; /dev/hsema is
 * entered only to wait or to wake.  The word layout and the protocol both
 * sides follow are described in Documentation/hsema.rst.
 *
 * ABI rules: every structure has fixed-size fields, explicit padding and
 * reserved space; user pointers travel as __u64; unknown flags and non-zero
 * reserved or padding fields are rejected with -EINVAL; unknown commands
 * return -ENOTTY.  The layout is identical for 32- and 64-bit processes.
 */
#ifndef _UAPI_LINUX_HSEMA_H
#define _UAPI_LINUX_HSEMA_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HSEMA_DEVICE		"/dev/hsema"
#define HSEMA_ABI_VERSION	1

/*
 * The semaphore word.
 *
 * bits 0..29	HSEMA_VALUE_MASK: units available to an acquirer.
 * bits 30, 31	the state of the word's wait queue, HSEMA_STATE_MASK:
 *
 *   HSEMA_STATE_NONE	  nobody waits: acquire and release stay in
 *			  userspace.
 *   HSEMA_STATE_WAITERS  (bit 31) waiters are queued and none of them
 *			  has been woken: a releaser adds its units and
 *			  then enters the kernel to wake one.
 *   HSEMA_STATE_WOKEN	  (bit 30 alone) waiters are queued and at least
 *			  one has been woken and not yet run: a releaser
 *			  of one unit adds it and does not enter the
 *			  kernel, since that waiter will look at the value
 *			  under the queue's lock, take a unit, and wake a
 *			  sleeper for every unit no woken waiter claims.
 *   HSEMA_STATE_STARVING (both bits) starvation mode: acquirers must not
 *			  take units from the word, they queue in the
 *			  kernel; releasers must not add units, the kernel
 *			  grants them to the queue's head.
 *
 * In every state but STARVING an acquirer may take a unit with a
 * compare-and-swap.  Userspace only ever changes the value bits, with a
 * compare-and-swap that preserves bits 30 and 31; only the kernel sets or
 * clears those, and only while holding the lock of the word's wait queue.
 *
 * Code written before HSEMA_STATE_WOKEN existed treats bit 30 as
 * starvation whatever bit 31 says: it then takes nothing from the word
 * and enters the kernel for every release, which is slower, never wrong.
 */
#define HSEMA_VALUE_MASK	0x3fffffffU
#define HSEMA_VALUE_MAX		HSEMA_VALUE_MASK
#define HSEMA_STARVING		0x40000000U	/* bit 30 */
#define HSEMA_WAITERS		0x80000000U	/* bit 31 */
#define HSEMA_STATE_MASK	(HSEMA_WAITERS | HSEMA_STARVING)
#define HSEMA_STATE_NONE	0U
#define HSEMA_STATE_WAITERS	HSEMA_WAITERS
#define HSEMA_STATE_WOKEN	HSEMA_STARVING
#define HSEMA_STATE_STARVING	(HSEMA_WAITERS | HSEMA_STARVING)

/* Key selection, for both HSEMA_IOC_WAIT and HSEMA_IOC_WAKE. */
#define HSEMA_F_SHARED		(1U << 0)	/* word may be in MAP_SHARED memory */

/* HSEMA_IOC_WAIT flags. */
#define HSEMA_WAIT_TIMEOUT	(1U << 8)	/* deadline is valid */
#define HSEMA_WAIT_REALTIME	(1U << 9)	/* deadline is CLOCK_REALTIME */
#define HSEMA_WAIT_EINTR	(1U << 10)	/* a signal handler ends the */
						/* wait: EINTR, never restart */
#define HSEMA_WAIT_OWNED	(1U << 11)	/* report ownership at @owned */
#define HSEMA_WAIT_FLAGS	(HSEMA_F_SHARED | HSEMA_WAIT_TIMEOUT | \
				 HSEMA_WAIT_REALTIME | HSEMA_WAIT_EINTR | \
				 HSEMA_WAIT_OWNED)

/* HSEMA_IOC_WAKE flags. */
#define HSEMA_WAKE_HANDOFF	(1U << 8)	/* grant directly and yield, */
						/* even in normal mode */
#define HSEMA_WAKE_PUBLISHED	(1U << 9)	/* the caller already added */
						/* @count to the value */
#define HSEMA_WAKE_MAX		(1U << 10)	/* @max bounds the release */
#define HSEMA_WAKE_FLAGS	(HSEMA_F_SHARED | HSEMA_WAKE_HANDOFF | \
				 HSEMA_WAKE_PUBLISHED | HSEMA_WAKE_MAX)

/* HSEMA_IOC_QUERY flags. */
#define HSEMA_QUERY_FLAGS	HSEMA_F_SHARED

/* Features reported by HSEMA_IOC_VERSION. */
#define HSEMA_FEAT_SHARED	(1ULL << 0)	/* HSEMA_F_SHARED keys */
#define HSEMA_FEAT_TIMEOUT	(1ULL << 1)	/* MONOTONIC/REALTIME deadlines */
#define HSEMA_FEAT_HANDOFF	(1ULL << 2)	/* HSEMA_WAKE_HANDOFF */
#define HSEMA_FEAT_STARVATION	(1ULL << 3)	/* starvation mode */
#define HSEMA_FEAT_QUERY	(1ULL << 4)	/* HSEMA_IOC_QUERY */
#define HSEMA_FEAT_STATS	(1ULL << 5)	/* HSEMA_IOC_STATS */
#define HSEMA_FEAT_PUBLISHED	(1ULL << 6)	/* HSEMA_WAKE_PUBLISHED */
#define HSEMA_FEAT_WOKEN	(1ULL << 7)	/* HSEMA_STATE_WOKEN */
#define HSEMA_FEAT_WAIT_EINTR	(1ULL << 8)	/* HSEMA_WAIT_EINTR */
#define HSEMA_FEAT_WAIT_OWNED	(1ULL << 9)	/* HSEMA_WAIT_OWNED */
#define HSEMA_FEAT_MAX		(1ULL << 10)	/* HSEMA_WAKE_MAX */
#define HSEMA_FEAT_WAIT_ANY	(1ULL << 11)	/* HSEMA_IOC_WAIT_ANY */

struct hsema_version {
	__u32 abi_version;	/* out: HSEMA_ABI_VERSION */
	__u32 pad;		/* out: zero */
	__u64 features;		/* out: HSEMA_FEAT_* */
	__u64 reserved[2];	/* out: zero */
};

/*
 * Wait for one unit of the semaphore at @uaddr.  Returns 0 once the caller
 * owns a unit, taken from the word or granted by a releaser.
 *
 * @starve_ns: how long this waiter may wait at the head of the queue before
 * the semaphore enters starvation mode; 0 selects the module default
 * (parameter starve_ns).
 *
 * A signal whose handler runs ends the wait with -EINTR, after the waiter
 * left the queue; without HSEMA_WAIT_EINTR the call restarts instead if
 * the handler was installed with SA_RESTART (-ERESTARTSYS; the waiter
 * queues again at the tail).  With HSEMA_WAIT_EINTR it fails with EINTR
 * whatever SA_RESTART says, as a timed futex wait does, and restarts only
 * when no handler ran (a stop and continue, a ptrace stop:
 * -ERESTARTNOHAND).
 *
 * With HSEMA_WAIT_OWNED, @owned is the address of a naturally aligned
 * __u32 in the caller's memory.  The kernel stores 0 there before it
 * looks at the word (-EFAULT, and nothing done, if it cannot) and 1 before
 * it returns 0, so the store is in memory before any signal handler runs
 * on the way out: a handler that unwinds the call (asynchronous thread
 * cancellation) can tell whether the caller owns a unit it must give
 * back.  If that last store fails (the page was unmapped meanwhile), the
 * unit is released again and the call fails with -EFAULT: the caller owns
 * nothing.  Without the flag @owned must be zero.
 */
struct hsema_wait {
	__u64 uaddr;		/* in: address of the word, 4-byte aligned */
	__u32 flags;		/* in: HSEMA_WAIT_FLAGS */
	__u32 pad;		/* in: zero */
	__s64 deadline_sec;	/* in: absolute deadline, if HSEMA_WAIT_TIMEOUT */
	__s64 deadline_nsec;	/* in: 0 <= nsec < 1000000000 */
	__u64 starve_ns;	/* in: starvation threshold, 0 = default */
	union {
		__u64 reserved[2];	/* in: zero, but for @owned */
		struct {
			__u64 owned;	/* in: with HSEMA_WAIT_OWNED, the */
					/* address of a __u32; else zero */
			__u64 reserved1;	/* in: zero */
		};
	};
};

/*
 * Wait for one unit of any of @count semaphores (HSEMA_IOC_WAIT_ANY).
 * @entries is the address of an array of @count struct hsema_any_entry,
 * 1 <= @count <= HSEMA_ANY_MAX.  Returns the index of the entry whose
 * semaphore the caller now owns one unit of, exactly one unit of exactly
 * one of them, however the releases race; the lowest index among those
 * that had a unit to take when the kernel looked, or the one a releaser
 * granted or woke the caller for.  The same word may appear more than
 * once: it is waited on once, and a unit of it is reported at its lowest
 * index.  Private and shared entries may be mixed, but not at one
 * address (-EINVAL: its word would have two queues).
 *
 * The caller joins the tail of every entry's queue, with a ticket of each;
 * each queue keeps its own FIFO order and its own normal and starvation
 * modes, and an entry's @starve_ns is this waiter's threshold in that
 * queue, as in struct hsema_wait.  A grant in one queue takes the waiter
 * out of all the others before another release can pick it, and a
 * woken entry it does not use passes its wake-up on.  Timeouts, signals
 * (HSEMA_WAIT_EINTR as for HSEMA_IOC_WAIT) and fatal signals after a
 * grant (the unit is released again) follow the rules of HSEMA_IOC_WAIT.
 *
 * HSEMA_ANY_MAX is half of futex_waitv's bound: the caller is queued in
 * every entry's queue, and a wait holds one queue node per entry.
 */
#define HSEMA_ANY_MAX		64

#define HSEMA_ANY_ENTRY_FLAGS	HSEMA_F_SHARED
#define HSEMA_WAIT_ANY_FLAGS	(HSEMA_WAIT_TIMEOUT | HSEMA_WAIT_REALTIME | \
				 HSEMA_WAIT_EINTR)

struct hsema_any_entry {
	__u64 uaddr;		/* in: address of the word, 4-byte aligned */
	__u64 starve_ns;	/* in: starvation threshold, 0 = default */
	__u32 flags;		/* in: HSEMA_ANY_ENTRY_FLAGS */
	__u32 pad;		/* in: zero */
};

struct hsema_wait_any {
	__u64 entries;		/* in: address of the entries */
	__u32 count;		/* in: 1..HSEMA_ANY_MAX */
	__u32 flags;		/* in: HSEMA_WAIT_ANY_FLAGS */
	__s64 deadline_sec;	/* in: absolute deadline, if HSEMA_WAIT_TIMEOUT */
	__s64 deadline_nsec;	/* in: 0 <= nsec < 1000000000 */
	__u64 reserved[2];	/* in: zero */
};

/*
 * Release @count units of the semaphore at @uaddr: grant or wake waiters
 * in ticket order, one per unit, and add the rest to the word.  A grant
 * to a waiter that had been woken for a unit still in the word also wakes
 * the next sleeper for that unit, so @woken can exceed @count - @granted.
 * If the word's value would pass HSEMA_VALUE_MAX, fails with -EOVERFLOW
 * and changes nothing.
 *
 * With HSEMA_WAKE_PUBLISHED the caller has already added its @count units
 * to the value itself, with a compare-and-swap that found the state
 * WAITERS or WOKEN (the normal-mode release: the units are takeable at
 * once, as glibc's sem_post() makes them, while the kernel is entered only
 * to wake).  The kernel then adds nothing: it wakes one sleeper per unit
 * in the value that no woken waiter has claimed yet, and the first
 * sleeper if nobody is woken even when the units are gone already (taken
 * by running threads), so that one waiter is on its way and the releases
 * after this one can stay in userspace (HSEMA_STATE_WOKEN) until it has
 * looked; or, if the queue starts starving, it grants the value's units
 * to the head.  It can only wake, never create a unit.  Not with
 * HSEMA_WAKE_HANDOFF (-EINVAL).
 *
 * With HSEMA_WAKE_MAX, @max (1..HSEMA_VALUE_MAX) is the semaphore's
 * maximum: a release whose @count units, granted to waiters or added to
 * the word, would make more than @max with the units in the word fails
 * with -EOVERFLOW and changes nothing.  A published release's units are
 * in the word already: its caller checked them against the maximum in
 * its compare-and-swap, and the kernel adds nothing to check.  Without
 * the flag @max must be zero.
 */
struct hsema_wake {
	__u64 uaddr;		/* in: address of the word, 4-byte aligned */
	__u32 count;		/* in: 1..HSEMA_VALUE_MAX */
	__u32 flags;		/* in: HSEMA_WAKE_FLAGS */
	__u32 granted;		/* out: units granted directly to waiters */
	__u32 woken;		/* out: waiters woken to compete (normal mode) */
	union {
		__u64 reserved[2];	/* in: zero, but for @max; out: as in */
		struct {
			__u32 max;	/* in: with HSEMA_WAKE_MAX, the */
					/* semaphore's maximum; else zero */
			__u32 reserved0;	/* in: zero */
			__u64 reserved1;	/* in: zero */
		};
	};
};

/*
 * A snapshot of the wait queue of the word at @uaddr.  A wait for any
 * (HSEMA_IOC_WAIT_ANY) that owns its unit from another word is not
 * counted, although its task may not have unlinked itself yet.
 */
struct hsema_query {
	__u64 uaddr;		/* in: address of the word, 4-byte aligned */
	__u32 flags;		/* in: HSEMA_QUERY_FLAGS */
	__u32 nr_waiters;	/* out: waiters queued */
	__u64 head_ticket;	/* out: ticket of the head waiter, if any */
	__u64 tail_ticket;	/* out: ticket of the tail waiter, if any */
	__u64 head_wait_ns;	/* out: how long the head has waited */
	__u32 nr_woken;		/* out: waiters woken but not yet running */
	__u32 starving;		/* out: 1 if the queue is in starvation mode */
	__u64 reserved[2];	/* in: zero; out: zero */
};

/* Reasons a directed CPU yield was refused; see HSEMA_IOC_STATS. */
enum hsema_refusal {
	HSEMA_REFUSE_NMI,		/* in NMI */
	HSEMA_REFUSE_HARDIRQ,		/* in hard interrupt */
	HSEMA_REFUSE_SOFTIRQ,		/* in softirq or with BH disabled */
	HSEMA_REFUSE_IRQS_OFF,		/* local interrupts disabled */
	HSEMA_REFUSE_PREEMPT_OFF,	/* preemption disabled or spinlock held */
	HSEMA_REFUSE_RCU,		/* inside an RCU read-side section */
	HSEMA_REFUSE_MIGRATE_OFF,	/* migration disabled (RT spinlock) */
	HSEMA_REFUSE_NR,
	HSEMA_REFUSE_MAX = 15		/* room in struct hsema_stats */
};

/*
 * Module-wide counters since load.  Each is monotonic.  A wait for any
 * counts in each queue it joins: a wait, and a timeout or an interrupt
 * when it leaves them without a unit.
 */
struct hsema_stats {
	__u64 waits;		/* waiters queued */
	__u64 slow_acquires;	/* units acquired in the kernel */
	__u64 wakes;		/* waiters woken to compete */
	__u64 grants;		/* units granted directly to a waiter */
	__u64 requeues;		/* woken waiters that lost and kept their place */
	__u64 handoffs;		/* grants after which the releaser could yield */
	__u64 yields;		/* ... and the directed yield took effect */
	__u64 starve_enter;	/* entries into starvation mode */
	__u64 starve_exit;	/* exits from starvation mode */
	__u64 timeouts;		/* waits that timed out */
	__u64 interrupts;	/* waits interrupted by a signal */
	__u64 passed_on;	/* grants passed on by a dying waiter */
	__u64 max_wait_ns;	/* longest wait of any waiter */
	__u64 refused[HSEMA_REFUSE_MAX + 1];	/* yields refused, by reason */
	__u64 spin_wakes;	/* next grantees woken early to spin for it */
	__u64 spin_grants;	/* grants caught by a waiter spinning for them */
	__u64 woken_spins;	/* woken waiters that spun for a unit */
	__u64 reserved;
};

#define HSEMA_IOC_MAGIC		0xB9
#define HSEMA_IOC_VERSION	_IOR(HSEMA_IOC_MAGIC, 0, struct hsema_version)
#define HSEMA_IOC_WAIT		_IOW(HSEMA_IOC_MAGIC, 1, struct hsema_wait)
#define HSEMA_IOC_WAKE		_IOWR(HSEMA_IOC_MAGIC, 2, struct hsema_wake)
#define HSEMA_IOC_QUERY		_IOWR(HSEMA_IOC_MAGIC, 3, struct hsema_query)
#define HSEMA_IOC_STATS		_IOR(HSEMA_IOC_MAGIC, 4, struct hsema_stats)
#define HSEMA_IOC_WAIT_ANY	_IOW(HSEMA_IOC_MAGIC, 5, struct hsema_wait_any)

#endif /* _UAPI_LINUX_HSEMA_H */
