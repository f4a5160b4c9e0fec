/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hsema in-kernel API: kernel-resident FIFO counting semaphores on the same
 * ticket queues and starvation handoff as the user-word semaphores.
 *
 * Release (hsema_release(), hsema_release_handoff()) may be called from
 * any context the kernel's own up() may: hard and soft interrupts, with
 * interrupts or preemption disabled, under a spinlock.  From NMI it is
 * deferred to an irq_work.  The CPU handoff to a granted waiter happens
 * only where the releaser could sleep; elsewhere the waiter is just woken.
 * Acquire sleeps and must be called from task context.
 *
 * Other modules: add this directory to the include path and build against
 * hsema's Module.symvers (KBUILD_EXTRA_SYMBOLS).
 */
#ifndef _HSEMA_KERNEL_H
#define _HSEMA_KERNEL_H

#include <linux/irq_work.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>

/*
 * What a semaphore is named by in its wait queue: (mm, address) for a
 * private user word, (inode, offset) for a shared one (whoever uses the key
 * holds a reference on the mapped file, which pins the inode and its
 * mount), (struct hsema *, 0) for a kernel semaphore.
 */
struct hsema_key {
	void *obj;
	u64 off;
	bool shared;
};

/* Counters kept per queue while it has waiters; see Documentation/hsema.rst. */
struct hsema_qstats {
	u64 waits;
	u64 slow_acquires;
	u64 wakes;
	u64 grants;
	u64 requeues;
	u64 timeouts;
	u64 interrupts;
	u64 starve_enter;
	u64 starve_exit;
	u64 max_wait_ns;
};

/*
 * The wait queue of one semaphore.  For a user word it exists only while
 * the word has waiters; a kernel semaphore embeds its own.  Its state, not
 * the word, is the truth about waiters, woken waiters and starvation; the
 * word's state bits (HSEMA_STATE_MASK) publish it and are rewritten from
 * it on every kernel update of the word.
 */
struct hsema_queue {
	struct hlist_node node;		/* in a hash bucket, if hashed */
	struct hsema_key key;		/* borrowed from the waiters' keys */
	struct list_head waiters;	/* ticket order */
	u64 next_ticket;
	u32 nr_waiters;
	u32 nr_woken;			/* waiters woken, not yet running */
	bool starving;
	bool hashed;			/* a user word's queue */
	u64 batch_end;			/* starving: the tail's ticket at entry */
	u64 normal_ns;			/* when starvation last ended */
	u64 starve_start_ns;		/* when it last began */
	u64 episode_ns;			/* how long the last episode took */
	struct hsema_qstats stats;
};

struct hsema {
	u32 word;			/* the uapi word layout */
	u32 max;			/* releases never pass it */
	raw_spinlock_t lock;
	struct hsema_queue q;
	u64 starve_ns;			/* 0: the module default */
	atomic_t nmi_pending;		/* units released from NMI */
	struct irq_work nmi_work;
	atomic_t users;			/* calls in the slow paths */
};

void hsema_init(struct hsema *s, unsigned int value);
int hsema_init_max(struct hsema *s, unsigned int value, unsigned int max);
void hsema_set_starve_ns(struct hsema *s, u64 ns);
int hsema_destroy(struct hsema *s);

void hsema_acquire(struct hsema *s);
int hsema_acquire_interruptible(struct hsema *s);
int hsema_acquire_killable(struct hsema *s);
int hsema_acquire_timeout(struct hsema *s, ktime_t timeout);
bool hsema_try_acquire(struct hsema *s);
/* At most HSEMA_ANY_MAX (64, <linux/hsema.h>) semaphores. */
int hsema_acquire_any(struct hsema *const sems[], unsigned int n,
		      ktime_t timeout);

int hsema_release(struct hsema *s, unsigned int n);
int hsema_release_handoff(struct hsema *s);

unsigned int hsema_value(struct hsema *s);
unsigned int hsema_nr_waiters(struct hsema *s);

/* The module-wide counters of HSEMA_IOC_STATS (uapi/linux/hsema.h). */
struct hsema_stats;
void hsema_stats_read(struct hsema_stats *out);

#endif /* _HSEMA_KERNEL_H */
