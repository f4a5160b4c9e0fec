// SPDX-License-Identifier: GPL-2.0-only
/*
 * Waiting for any of several semaphores (HSEMA_IOC_WAIT_ANY).
 *
 * The caller gets a waiter in the queue of every distinct word, each with
 * that queue's ticket and the entry's starvation threshold, so each queue
 * keeps its own FIFO order and modes and treats the waiter as one of its
 * own (waitwake.c).  What makes the units add up is the claim the waiters
 * share (struct hsema_multi): a unit goes to one of them only after its
 * queue's lock holder won the claim, so at most one queue ever gives the
 * wait a unit.  The task then withdraws its other waiters, each under its
 * own queue's lock, passing on the wake-ups they got; no two queue locks
 * are ever held at once.
 *
 * The task looks at the queues one at a time, in entry order, and takes
 * the first unit it can: the lowest index wins among the words that had
 * one when it looked.  Its waiters change state only under their queue's
 * lock, and it sleeps only after it set its task state and then saw every
 * waiter asleep and the claim free, so a grant or wake-up that comes in
 * between finds it runnable or is seen (as futex_wait_multiple() does).
 */
#include <linux/hrtimer.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "hsema.h"

struct hsema_any_slot {
	struct hsema_site site;
	struct hsema_waiter w;
	struct hsema_queue *spare;
	int same;		/* an earlier entry of the same word, or -1 */
};

/* One wait for any: a slot per semaphore, and the claim they share. */
struct hsema_any {
	struct hsema_multi multi;
	unsigned int n;
	struct hsema_any_slot slot[];
};

/* What one look at an entry found. */
enum hsema_any_step {
	HSEMA_ANY_OWNED,	/* we own a unit of it */
	HSEMA_ANY_QUEUED,	/* we sleep in its queue */
	HSEMA_ANY_CLAIMED,	/* the claim is taken: a unit elsewhere */
	HSEMA_ANY_AGAIN,	/* its word kept changing: look again, */
				/* after the deadline and signals */
};

/*
 * Look at entry @i under its lock: take a unit, queue, or requeue after a
 * wake-up that lost, as a single waiter would.  Returns an enum
 * hsema_any_step, or -EFAULT, -ENOMEM or -EINTR (a fatal signal while
 * faulting the word in).
 */
static int any_step(struct hsema_any *a, unsigned int i, struct hsema_wakeq *wq)
{
	struct hsema_any_slot *s = &a->slot[i];
	struct hsema_queue *dead = NULL;
	unsigned int faults = 0;
	enum hsema_compete c;
	int ret, err;

	hsema_site_lock(&s->site);
	for (;;) {
		if (s->w.state == HSEMA_W_GRANTED) {
			ret = HSEMA_ANY_OWNED;
			break;
		}
		/* Under our lock, a claim of ours would have been granted. */
		if (atomic_read(&a->multi.claim) != HSEMA_CLAIM_NONE) {
			ret = HSEMA_ANY_CLAIMED;
			break;
		}
		if (s->w.state == HSEMA_W_QUEUED) {
			ret = HSEMA_ANY_QUEUED;
			break;
		}
		c = hsema_compete(&s->site, &s->w, &s->spare, &dead, wq, &err);
		if (c == HSEMA_C_ACQUIRED) {
			ret = HSEMA_ANY_OWNED;
			break;
		}
		if (c == HSEMA_C_SLEEP) {
			ret = HSEMA_ANY_QUEUED;
			break;
		}
		if (c == HSEMA_C_CLAIMED) {
			ret = HSEMA_ANY_CLAIMED;
			break;
		}
		ret = hsema_compete_recover(&s->site, c, err, &s->spare,
					    &faults);
		if (ret)
			break;
		if (c == HSEMA_C_RECOVER && err == -EAGAIN &&
		    s->w.state != HSEMA_W_GRANTED) {
			ret = HSEMA_ANY_AGAIN;
			break;
		}
	}
	hsema_site_unlock(&s->site);
	hsema_wakeq_wake(wq);
	hsema_queue_free(dead);
	return ret;
}

/*
 * The claim is taken: by a releaser of entry @c that grants us its unit,
 * or did and has unlocked.  Its lock tells which: a plan that was undone
 * (the word changed under the releaser) gave the claim back.
 */
static bool any_granted(struct hsema_any *a, int c)
{
	struct hsema_any_slot *s = &a->slot[c];
	bool granted;

	hsema_site_lock(&s->site);
	granted = s->w.state == HSEMA_W_GRANTED;
	hsema_site_unlock(&s->site);
	return granted;
}

/* Nothing for us anywhere: every waiter sleeps and the claim is free. */
static bool any_asleep(struct hsema_any *a)
{
	unsigned int i;

	if (atomic_read(&a->multi.claim) != HSEMA_CLAIM_NONE)
		return false;
	for (i = 0; i < a->n; i++)
		if (a->slot[i].same < 0 &&
		    READ_ONCE(a->slot[i].w.state) != HSEMA_W_QUEUED)
			return false;
	return true;
}

/*
 * Leave every queue we are in but @keep's, with @why, passing on the
 * wake-ups we got there.
 */
static void any_withdraw(struct hsema_any *a, int keep, enum hsema_leave why,
			 struct hsema_wakeq *wq)
{
	struct hsema_queue *dead;
	unsigned int i;

	for (i = 0; i < a->n; i++) {
		struct hsema_any_slot *s = &a->slot[i];

		if (i == keep || s->same >= 0)
			continue;
		hsema_site_lock(&s->site);
		dead = s->w.q ? hsema_leave_queue(&s->site, &s->w, why, wq) :
				NULL;
		hsema_site_unlock(&s->site);
		hsema_wakeq_wake(wq);
		hsema_queue_free(dead);
	}
}

/*
 * Stop every queue from granting us a unit before we leave them without
 * one, unless one has granted it already: a grant wins over the timeout,
 * signal or fault that came with it.  Returns the entry granted, or -1.
 */
static int any_stop(struct hsema_any *a)
{
	int c;

	for (;;) {
		c = atomic_cmpxchg(&a->multi.claim, HSEMA_CLAIM_NONE,
				   HSEMA_CLAIM_LEAVING);
		if (c == HSEMA_CLAIM_NONE) {
			WRITE_ONCE(a->multi.done, true);
			return -1;
		}
		if (any_granted(a, c))
			return c;
	}
}

/*
 * Room for a wait on @n semaphores; the caller fills in each slot's site.
 * @gfp: GFP_KERNEL_ACCOUNT for a user's wait, GFP_KERNEL for the kernel's.
 */
struct hsema_any *hsema_any_alloc(unsigned int n, gfp_t gfp)
{
	struct hsema_any *a;
	unsigned int i;

	a = kvzalloc(struct_size(a, slot, n), gfp);
	if (!a)
		return NULL;
	a->n = n;
	atomic_set(&a->multi.claim, HSEMA_CLAIM_NONE);
	for (i = 0; i < n; i++)
		a->slot[i].same = -1;
	return a;
}

void hsema_any_free(struct hsema_any *a)
{
	unsigned int i;

	for (i = 0; i < a->n; i++)
		hsema_queue_free(a->slot[i].spare);
	kvfree(a);
}

/* Slot @i's waiter, once its site is set: @starve_ns 0 is the default. */
void hsema_any_slot_init(struct hsema_any *a, unsigned int i, u64 starve_ns)
{
	struct hsema_any_slot *s = &a->slot[i];
	unsigned int j;

	for (j = 0; j < i; j++) {
		if (a->slot[j].same < 0 &&
		    hsema_key_equal(&a->slot[j].site.key, &s->site.key)) {
			s->same = j;
			break;
		}
	}
	s->w.task = current;
	s->w.starve_ns = starve_ns ?: READ_ONCE(hsema_default_starve_ns);
	s->w.state = HSEMA_W_NONE;
	s->w.index = i;
	s->w.multi = &a->multi;
}

struct hsema_site *hsema_any_site(struct hsema_any *a, unsigned int i)
{
	return &a->slot[i].site;
}

/*
 * Wait for a unit of any of the semaphores of @a, in sleep @state (any
 * for kernel semaphores, TASK_INTERRUPTIBLE for user words), until the
 * absolute @deadline on @clock if there is one.  Returns the index of the
 * slot whose unit the caller owns (the first slot of its word),
 * -ETIMEDOUT, -ERESTARTSYS (user words) or -EINTR (kernel, or a fatal
 * signal while faulting) for a signal, -EFAULT or -ENOMEM.
 */
int hsema_any_wait(struct hsema_any *a, unsigned int state, clockid_t clock,
		   const ktime_t *deadline)
{
	bool user = a->slot[0].site.uaddr;
	struct hrtimer_sleeper timer, *to = NULL;
	enum hsema_leave why = HSEMA_LEAVE_TIMEOUT;
	unsigned int i, n = a->n;
	int got = -1, ret = 0, c;
	struct hsema_wakeq wq;
	bool armed = false;

	if (deadline) {
		to = &timer;
		hrtimer_init_sleeper_on_stack(to, clock, HRTIMER_MODE_ABS);
		hrtimer_set_expires_range_ns(&to->timer, *deadline,
					     current->timer_slack_ns);
	}
	hsema_wakeq_init(&wq);

	for (;;) {
		for (i = 0; i < n && got < 0; i++) {
			if (a->slot[i].same >= 0)
				continue;
			ret = any_step(a, i, &wq);
			if (ret == HSEMA_ANY_OWNED)
				got = i;
			else if (ret != HSEMA_ANY_QUEUED)
				break;
		}
		if (got >= 0)
			break;
		if (ret == HSEMA_ANY_CLAIMED) {
			c = atomic_read(&a->multi.claim);
			if (c >= 0 && any_granted(a, c)) {
				got = c;
				break;
			}
			continue;	/* the claim was given back: look again */
		}
		if (ret < 0) {
			why = ret == -EINTR ? HSEMA_LEAVE_SIGNAL :
					      HSEMA_LEAVE_FAULT;
			break;
		}
		if (to && !to->task) {
			ret = -ETIMEDOUT;
			break;
		}
		if (signal_pending_state(state, current)) {
			why = HSEMA_LEAVE_SIGNAL;
			ret = user ? -ERESTARTSYS : -EINTR;
			break;
		}
		set_current_state(state);
		if (to && !armed) {
			hrtimer_sleeper_start_expires(to, HRTIMER_MODE_ABS);
			armed = true;
		}
		if (any_asleep(a) && (!to || to->task))
			schedule();
		__set_current_state(TASK_RUNNING);
	}

	if (got < 0)
		got = any_stop(a);
	if (got >= 0) {
		why = HSEMA_LEAVE_WITHDRAWN;
		ret = got;
	}
	any_withdraw(a, got, why, &wq);

	if (to) {
		hrtimer_cancel(&to->timer);
		destroy_hrtimer_on_stack(&to->timer);
	}
	/* A dying process cannot use its unit: pass it on. */
	if (got >= 0 && user && fatal_signal_pending(current)) {
		hsema_stat_inc(passed_on);
		hsema_wake_site(&a->slot[got].site, 1, 0, HSEMA_VALUE_MAX,
				false, NULL);
		ret = -EINTR;
	}
	return ret;
}

/*
 * HSEMA_IOC_WAIT_ANY: wait for a unit of any of the @n words of @e (the
 * caller checked their flags).  Returns as hsema_any_wait(), or -EINVAL
 * for a misaligned word, -EFAULT for a shared key without a mapping.
 */
int hsema_wait_any(const struct hsema_any_entry *e, unsigned int n,
		   unsigned int flags, const ktime_t *deadline)
{
	struct hsema_any *a;
	unsigned int i;
	int ret = 0;

	a = hsema_any_alloc(n, GFP_KERNEL_ACCOUNT);
	if (!a)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ret = hsema_site_user(&a->slot[i].site,
				      u64_to_user_ptr(e[i].uaddr),
				      e[i].flags & HSEMA_F_SHARED, true);
		if (ret)
			break;
		hsema_any_slot_init(a, i, e[i].starve_ns);
	}
	if (!ret)
		ret = hsema_any_wait(a, TASK_INTERRUPTIBLE,
				     (flags & HSEMA_WAIT_REALTIME) ?
				     CLOCK_REALTIME : CLOCK_MONOTONIC,
				     deadline);
	while (i--)
		hsema_site_put(&a->slot[i].site);
	hsema_any_free(a);
	return ret;
}
