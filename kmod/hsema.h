/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hsema internals shared by the module's files.
 */
#ifndef _HSEMA_INTERNAL_H
#define _HSEMA_INTERNAL_H

#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/hsema.h>

/*
 * A key names one semaphore word for the wait queues:
 *  - private: (mm, user address), valid within one process;
 *  - shared:  (inode, byte offset in the file), the same in every process
 *    that maps the word; the key holds a reference on the inode so that
 *    the inode cannot be freed and its address reused while the key lives.
 * Shared words in anonymous private memory fall back to a private key, as
 * futex does: such memory is not shared with anyone.
 */
struct hsema_key {
	void *obj;		/* struct mm_struct * or struct inode * */
	u64 off;		/* address or byte offset in the file */
	bool shared;		/* obj is an inode we hold a reference on */
};

/* The state of a waiter, changed only under its bucket's lock. */
enum hsema_wstate {
	HSEMA_W_QUEUED,		/* asleep in the queue */
	HSEMA_W_WOKEN,		/* woken to compete for a unit, still queued */
	HSEMA_W_GRANTED,	/* owns a unit, no longer queued */
};

struct hsema_queue;

/*
 * One sleeping task.  Lives on the waiter's stack; a releaser touches it
 * only under the bucket lock, and the waiter leaves only under that lock.
 */
struct hsema_waiter {
	struct list_head node;		/* in hsema_queue.waiters, ticket order */
	struct task_struct *task;
	struct hsema_queue *q;		/* NULL once granted or dequeued */
	u64 ticket;
	u64 queued_ns;			/* ktime_get_ns() when queued */
	u64 starve_ns;			/* this waiter's starvation threshold */
	enum hsema_wstate state;
};

/*
 * The wait queue of one key.  Exists only while it has waiters: allocated
 * by the first waiter, freed by whoever removes the last.  Its state, not
 * the user word, is the truth about waiters and starvation; the word's
 * HSEMA_WAITERS and HSEMA_STARVING bits publish it to userspace and are
 * rewritten from it on every kernel update of the word.
 */
struct hsema_queue {
	struct hlist_node node;		/* in hsema_bucket.queues */
	struct hsema_key key;		/* borrowed from the waiters' keys */
	struct list_head waiters;
	u64 next_ticket;
	u32 nr_waiters;
	u32 nr_woken;			/* waiters in HSEMA_W_WOKEN */
	bool starving;
};

struct hsema_bucket {
	raw_spinlock_t lock;
	struct hlist_head queues;
} ____cacheline_aligned_in_smp;

/* key.c */
int hsema_key_get(u32 __user *uaddr, bool shared, struct hsema_key *key);
void hsema_key_put(struct hsema_key *key);
bool hsema_key_equal(const struct hsema_key *a, const struct hsema_key *b);

/* queue.c */
int hsema_queues_init(void);
void hsema_queues_exit(void);
struct hsema_bucket *hsema_bucket(const struct hsema_key *key);
struct hsema_queue *hsema_queue_find(struct hsema_bucket *b,
				     const struct hsema_key *key);
struct hsema_queue *hsema_queue_alloc(void);
void hsema_queue_free(struct hsema_queue *q);
void hsema_queue_install(struct hsema_bucket *b, struct hsema_queue *q,
			 const struct hsema_key *key);
void hsema_enqueue(struct hsema_queue *q, struct hsema_waiter *w);
bool hsema_dequeue(struct hsema_waiter *w);

/* waitwake.c */
extern unsigned long hsema_default_starve_ns;
int hsema_wait(u32 __user *uaddr, unsigned int flags, const ktime_t *deadline,
	       u64 starve_ns);
int hsema_wake(u32 __user *uaddr, unsigned int flags, u32 count,
	       bool may_yield, struct hsema_wake *out);
int hsema_query(u32 __user *uaddr, unsigned int flags, struct hsema_query *qr);

/* handoff.c */
int hsema_yield_refusal(void);
void hsema_directed_yield(struct task_struct *p);

/* stats.c */
struct hsema_pcpu_stats {
	u64 waits;
	u64 slow_acquires;
	u64 wakes;
	u64 grants;
	u64 requeues;
	u64 handoffs;
	u64 yields;
	u64 starve_enter;
	u64 starve_exit;
	u64 timeouts;
	u64 interrupts;
	u64 passed_on;
	u64 refused[HSEMA_REFUSE_NR];
};

DECLARE_PER_CPU(struct hsema_pcpu_stats, hsema_stats);
#define hsema_stat_inc(field)	this_cpu_inc(hsema_stats.field)
#define hsema_stat_add(field, n) this_cpu_add(hsema_stats.field, n)
void hsema_stat_wait_time(u64 ns);
void hsema_stats_read(struct hsema_stats *out);

#endif /* _HSEMA_INTERNAL_H */
