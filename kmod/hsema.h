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

#include "hsema_kernel.h"

/*
 * The state of a waiter, changed only under its queue's lock.  "Not
 * queued" is a state of its own, so that nothing can take a waiter that
 * never joined a queue for one that sleeps in it.
 */
enum hsema_wstate {
	HSEMA_W_NONE,		/* not (yet) queued */
	HSEMA_W_QUEUED,		/* asleep in the queue */
	HSEMA_W_WOKEN,		/* woken to compete for a unit, still queued */
	HSEMA_W_GRANTED,	/* owns a unit, no longer queued */
};

/*
 * A wait for any of several semaphores (waitany.c) has a waiter in each of
 * their queues, all pointing at one claim: which of them owns, or is being
 * granted, the one unit the wait may take.  Whoever changes it from
 * HSEMA_CLAIM_NONE holds the lock of that entry's queue (a releaser that
 * grants, or the waiting task that takes a unit from the word), and only
 * that lock holder may reset it: so under an entry's lock, a claim naming
 * that entry is either its own lock holder's or belongs to a waiter that
 * has been granted and has left the queue.  HSEMA_CLAIM_LEAVING is the
 * waiting task's own, when it times out or is interrupted: then no queue
 * may grant it anything while it leaves them all.
 */
#define HSEMA_CLAIM_NONE	(-1)
#define HSEMA_CLAIM_LEAVING	(-2)

struct hsema_multi {
	atomic_t claim;
	/*
	 * Set, never cleared, once the claim is final: the unit was granted
	 * or taken, or the wait is leaving.  Releases of the other queues
	 * then wake others before this task's waiters, which are about to
	 * withdraw; a stale false only costs a wake-up passed on later.
	 */
	bool done;
};

/*
 * One sleeping task.  Lives on the waiter's stack (or, for a wait for
 * any, in its array); a releaser touches it only under the queue's lock,
 * and the waiter leaves only under that lock.
 */
struct hsema_waiter {
	struct list_head node;		/* in hsema_queue.waiters, ticket order */
	struct task_struct *task;
	struct hsema_queue *q;		/* NULL unless QUEUED or WOKEN */
	u64 ticket;			/* 0 until queued */
	u64 queued_ns;			/* ktime_get_ns() when queued */
	u64 starve_ns;			/* this waiter's starvation threshold */
	u64 spin_ns;			/* how long it may spin for a grant, or 0 */
	u64 look_end;			/* local_clock() its look ends, or 0 */
	u64 due_ns;			/* ktime_get_ns() it may make its */
					/* queue starve: starve_due_at() */
	enum hsema_wstate state;
	bool spin;			/* woken to spin for its grant */
	bool relook;			/* woken, may lose and look again */
	int index;			/* the entry, in a wait for any */
	struct hsema_multi *multi;	/* NULL unless a wait for any */
};

/*
 * A bucket of user-word queues.  Its lock is a spinlock_t, a sleeping lock
 * on PREEMPT_RT as futex's hash bucket locks are: nothing takes it from an
 * interrupt, and what runs under it (grant and wake loops over a queue of
 * any length) must never keep interrupts off.
 */
struct hsema_bucket {
	spinlock_t lock;		/* the queues list and every queue in it */
	struct hlist_head queues;
} ____cacheline_aligned_in_smp;

/*
 * Where one semaphore is: its word, its lock and how to find its queue.
 * A user word's queue is looked up by key in the word's hash bucket under
 * the bucket's lock; a kernel semaphore has its own raw lock and queue.
 */
struct hsema_site {
	struct hsema_key key;
	struct file *pin;		/* a shared key's file, else NULL */
	spinlock_t *ulock;		/* user words: the bucket's lock */
	raw_spinlock_t *klock;		/* kernel semaphores: their own */
	struct hsema_bucket *b;		/* user words */
	struct hsema_queue *fixed;	/* kernel semaphores */
	u32 __user *uaddr;		/* the word, in user memory... */
	u32 *kaddr;			/* ... or in the kernel */
	unsigned long irqflags;
};

/* key.c */
struct vm_area_struct;
int hsema_key_get(u32 __user *uaddr, bool shared, bool write,
		  struct hsema_key *key, struct file **pin);
void hsema_key_put(struct file *pin);
bool hsema_key_equal(const struct hsema_key *a, const struct hsema_key *b);
bool hsema_vma_usable(const struct vm_area_struct *vma);
int hsema_fault_errno(const struct vm_area_struct *vma, int err);
int hsema_read_fault_errno(u32 __user *uaddr);

/* queue.c */
int hsema_queues_init(void);
void hsema_queues_exit(void);
struct hsema_bucket *hsema_bucket(const struct hsema_key *key);
unsigned long hsema_nr_buckets(void);
struct hsema_bucket *hsema_bucket_nr(unsigned long i);
struct hsema_queue *hsema_queue_find(struct hsema_bucket *b,
				     const struct hsema_key *key);
struct hsema_queue *hsema_queue_alloc(void);
struct hsema_queue *hsema_queue_unstash(void);
void hsema_queue_free(struct hsema_queue *q);
void hsema_queue_init(struct hsema_queue *q, const struct hsema_key *key);
void hsema_queue_install(struct hsema_bucket *b, struct hsema_queue *q,
			 const struct hsema_key *key);
void hsema_enqueue(struct hsema_queue *q, struct hsema_waiter *w);
struct hsema_queue *hsema_dequeue(struct hsema_waiter *w);

/* waitwake.c */
extern unsigned long hsema_default_starve_ns;
extern unsigned long hsema_spin_max_ns;
extern atomic_t hsema_inject_eagain, hsema_inject_efault;
extern atomic_t hsema_inject_changed;
int hsema_site_user(struct hsema_site *site, u32 __user *uaddr, bool shared,
		    bool write);
void hsema_site_put(struct hsema_site *site);
int hsema_wait_site(struct hsema_site *site, unsigned int state,
		    const ktime_t *deadline, clockid_t clock, u64 starve_ns);
int hsema_wake_site(struct hsema_site *site, u32 count, unsigned int how,
		    u32 max, bool may_yield, struct hsema_wake *out);
int hsema_wait(u32 __user *uaddr, unsigned int flags, const ktime_t *deadline,
	       u64 starve_ns);
int hsema_wake(u32 __user *uaddr, unsigned int flags, u32 count, u32 max,
	       bool may_yield, struct hsema_wake *out);
int hsema_query(u32 __user *uaddr, unsigned int flags, struct hsema_query *qr);

/* waitwake.c, for waitany.c */
#define HSEMA_WAKEQ_INLINE	16

/* Tasks to wake once the lock is dropped: see waitwake.c. */
struct hsema_wakeq {
	unsigned int n, cap;
	struct task_struct **task;
	struct task_struct *inline_task[HSEMA_WAKEQ_INLINE];
};

/* What compete() asks its caller to do. */
enum hsema_compete {
	HSEMA_C_ACQUIRED,	/* we own a unit */
	HSEMA_C_SLEEP,		/* we are queued: sleep */
	HSEMA_C_RECOVER,	/* *err: fault the word in, or retry unlocked */
	HSEMA_C_NOMEM,		/* a newcomer needs a queue allocated */
	HSEMA_C_CLAIMED,	/* a wait for any owns a unit elsewhere */
};

enum hsema_leave {
	HSEMA_LEAVE_TIMEOUT,
	HSEMA_LEAVE_SIGNAL,
	HSEMA_LEAVE_FAULT,
	HSEMA_LEAVE_WITHDRAWN,	/* a wait for any got its unit elsewhere */
};

void hsema_site_lock(struct hsema_site *site);
void hsema_site_unlock(struct hsema_site *site);
void hsema_wakeq_init(struct hsema_wakeq *wq);
void hsema_wakeq_wake(struct hsema_wakeq *wq);
enum hsema_compete hsema_compete(struct hsema_site *site,
				 struct hsema_waiter *w,
				 struct hsema_queue **spare,
				 struct hsema_queue **dead,
				 struct hsema_wakeq *wq, int *err);
struct hsema_queue *hsema_leave_queue(struct hsema_site *site,
				      struct hsema_waiter *w,
				      enum hsema_leave why,
				      struct hsema_wakeq *wq);
int hsema_word_recover(struct hsema_site *site, int err,
		       unsigned int *faults, bool killable);
int hsema_compete_recover(struct hsema_site *site, enum hsema_compete c,
			  int err, struct hsema_queue **spare,
			  unsigned int *faults);

/* waitany.c */
struct hsema_any;
struct hsema_any *hsema_any_alloc(unsigned int n, gfp_t gfp);
void hsema_any_free(struct hsema_any *a);
struct hsema_site *hsema_any_site(struct hsema_any *a, unsigned int i);
void hsema_any_slot_init(struct hsema_any *a, unsigned int i, u64 starve_ns);
int hsema_any_wait(struct hsema_any *a, unsigned int state, clockid_t clock,
		   const ktime_t *deadline);
int hsema_wait_any(const struct hsema_any_entry *e, unsigned int n,
		   unsigned int flags, const ktime_t *deadline);

/* handoff.c */
int hsema_yield_refusal(void);
void hsema_directed_yield(struct task_struct *p);

/* debugfs.c */
void hsema_debugfs_init(void);
void hsema_debugfs_exit(void);

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
	u64 spin_wakes;
	u64 spin_grants;
	u64 woken_spins;
	u64 refused[HSEMA_REFUSE_NR];
};

DECLARE_PER_CPU(struct hsema_pcpu_stats, hsema_stats);
#define hsema_stat_inc(field)		this_cpu_inc(hsema_stats.field)
#define hsema_stat_add(field, n)	this_cpu_add(hsema_stats.field, n)
/* Count an event module-wide and in the queue it happened on. */
#define hsema_qstat_add(q, field, n) do {				\
		u64 __n = (n);						\
									\
		hsema_stat_add(field, __n);				\
		(q)->stats.field += __n;				\
	} while (0)
#define hsema_qstat_inc(q, field)	hsema_qstat_add(q, field, 1)
void hsema_stat_wait_time(struct hsema_queue *q, u64 ns);
void hsema_stats_read(struct hsema_stats *out);

#endif /* _HSEMA_INTERNAL_H */
