// SPDX-License-Identifier: GPL-2.0-only
/*
 * Waiting and waking.
 *
 * The semaphore is the user word (see uapi/linux/hsema.h):
 *
 *	bits 0..29 value, bit 30 STARVING, bit 31 WAITERS
 *
 * Userspace acquires by a compare-and-swap that decrements a non-zero value
 * while STARVING is clear, and releases by one that increments the value
 * while WAITERS and STARVING are both clear.  Otherwise it calls the kernel.
 * The kernel changes the word only with compare-and-swap too, and only
 * under the lock of the word's bucket, so every change to the word is a
 * single atomic step that both sides order against each other:
 *
 *   waiter (kernel)                         releaser (userspace)
 *   lock(bucket)
 *   val = *word          (value == 0)
 *                                            val = *word    (no WAITERS)
 *                                            cas(word, val, val + 1)
 *   cas(word, val, val | WAITERS)
 *     fails: the word changed, reread it,
 *     see value 1 and take it instead
 *
 * So a waiter sleeps only after a compare-and-swap that published WAITERS
 * against a zero value; from then on every release enters the kernel and
 * takes the same bucket lock, and cannot miss the waiter.  A release that
 * read the word before WAITERS was set fails its compare-and-swap and
 * rereads it.
 *
 * The queue's state under the bucket lock is the truth about waiters and
 * starvation.  The WAITERS and STARVING bits publish it: every kernel write
 * of the word recomputes them.  When a write that would only clear bits
 * cannot be made (the page is gone: the waiter leaving after munmap), the
 * bits stay set.  Stale set bits are harmless: they only send userspace to
 * the kernel, whose next write fixes them.  Bits that are clear while the
 * queue has waiters or is starving never happen, because the writes that
 * set them fault the page in and retry until they succeed.
 *
 * Normal mode: a release adds to the value and wakes one queued waiter per
 * unit, in ticket order.  A woken waiter stays queued, at its place, and
 * competes for the value with everyone else; if it loses it goes back to
 * sleep at the same place (Go's semacquire with lifo=false, and the kernel
 * mutex's optimistic acquirers, make the same trade for throughput).
 *
 * Starvation mode (Go's sync.Mutex): when the head waiter has waited longer
 * than its threshold, the queue starves.  The value is absorbed and
 * STARVING set in one compare-and-swap, so from then on nobody takes units
 * from the word: acquirers queue at the tail, and each released unit is
 * granted to the head waiter, which leaves the queue owning it.  The word
 * never shows a granted unit, so it cannot be stolen.  The mode ends when
 * the queue empties or a granted waiter had waited less than its threshold.
 * After granting, a releaser in task context gives its CPU to the first
 * waiter it granted (see handoff.c).
 *
 * A granted unit is never lost: the waiter checks for a grant before it
 * acts on a timeout or a signal, and a waiter that is dying when it wins
 * a unit releases it again before it returns.
 */
#include <linux/hrtimer.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <asm/futex.h>

#include "hsema.h"

unsigned long hsema_default_starve_ns = NSEC_PER_MSEC;

/*
 * The word is accessed through the caller's own mapping with page faults
 * disabled, never through a pinned page: after fork() a private page is
 * copy-on-write, and a kernel write through a page reference taken before
 * could land in the other process's copy.
 */
static int word_read(u32 __user *uaddr, u32 *val)
{
	int ret;

	pagefault_disable();
	ret = __get_user(*val, uaddr);
	pagefault_enable();
	return ret ? -EFAULT : 0;
}

/* Returns 0 and the word's value before the call in *cur, or -EFAULT. */
static int word_cmpxchg(u32 __user *uaddr, u32 old, u32 new, u32 *cur)
{
	int ret;

	pagefault_disable();
	ret = futex_atomic_cmpxchg_inatomic(cur, uaddr, old, new);
	pagefault_enable();
	return ret;
}

/* Called without locks: make the word writable, or fail with -EFAULT. */
static int word_fault_in(u32 __user *uaddr)
{
	struct mm_struct *mm = current->mm;
	int ret;

	mmap_read_lock(mm);
	ret = fixup_user_fault(mm, (unsigned long)uaddr, FAULT_FLAG_WRITE, NULL);
	mmap_read_unlock(mm);
	return ret < 0 ? -EFAULT : 0;
}

static u32 queue_bits(const struct hsema_queue *q, u32 nr_waiters,
		      bool starving)
{
	if (!q || !nr_waiters)
		return 0;
	return HSEMA_WAITERS | (starving ? HSEMA_STARVING : 0);
}

static u64 waited_ns(const struct hsema_waiter *w, u64 now)
{
	return now - w->queued_ns;
}

static struct hsema_waiter *queue_head(struct hsema_queue *q)
{
	return list_first_entry(&q->waiters, struct hsema_waiter, node);
}

/*
 * Leave the queue without a unit (timeout, signal, fault).  If we had been
 * woken to compete, the wake passes to the next sleeping waiter, or the
 * unit it announced could sit in the value while everyone sleeps.  The
 * word is updated best-effort: see "stale bits" above.
 */
static struct hsema_queue *leave_queue(struct hsema_waiter *w,
				       u32 __user *uaddr)
{
	struct hsema_queue *q = w->q;
	bool was_woken = w->state == HSEMA_W_WOKEN;
	struct hsema_waiter *next;
	bool empty;
	u32 old, cur;

	empty = hsema_dequeue(w);
	if (!empty && was_woken) {
		list_for_each_entry(next, &q->waiters, node) {
			if (next->state != HSEMA_W_QUEUED)
				continue;
			next->state = HSEMA_W_WOKEN;
			q->nr_woken++;
			hsema_stat_inc(wakes);
			wake_up_process(next->task);
			break;
		}
	}
	if (!word_read(uaddr, &old)) {
		u32 bits = empty ? 0 : queue_bits(q, q->nr_waiters, q->starving);

		while (!word_cmpxchg(uaddr, old, (old & HSEMA_VALUE_MASK) | bits,
				     &cur) && cur != old)
			old = cur;
	}
	if (empty && q->starving)
		hsema_stat_inc(starve_exit);
	return empty ? q : NULL;
}

/*
 * Take a unit from the word, or queue (a newcomer) or requeue at our place
 * (a woken waiter that lost).  Returns 0 with a unit, -EAGAIN when the
 * caller must sleep, -EFAULT when the word must be faulted in, -ENOMEM
 * when a newcomer needs a queue allocated.  *dead returns a queue that
 * became empty, to free after unlocking.
 */
static int compete(struct hsema_bucket *b, const struct hsema_key *key,
		   u32 __user *uaddr, struct hsema_waiter *w,
		   struct hsema_queue **spare, struct hsema_queue **dead)
{
	struct hsema_queue *q = w->q ?: hsema_queue_find(b, key);
	u32 old, new, cur, nr;
	bool starving = q && q->starving;
	bool enter = false;
	int ret;

	ret = word_read(uaddr, &old);
	if (ret)
		return ret;

	for (;;) {
		if (!starving && (old & HSEMA_VALUE_MASK)) {
			/* Take a unit; if we were queued, we leave. */
			nr = q ? q->nr_waiters - !!w->q : 0;
			new = ((old & HSEMA_VALUE_MASK) - 1) |
			      queue_bits(q, nr, false);
			ret = word_cmpxchg(uaddr, old, new, &cur);
			if (ret)
				return ret;
			if (cur != old) {
				old = cur;
				continue;
			}
			hsema_stat_inc(slow_acquires);
			if (w->q) {
				hsema_stat_wait_time(waited_ns(w, ktime_get_ns()));
				if (hsema_dequeue(w))
					*dead = q;
			}
			return 0;
		}

		if (!q && !*spare)
			return -ENOMEM;

		/* A woken waiter that waited too long makes the queue starve. */
		if (w->q && !starving &&
		    waited_ns(w, ktime_get_ns()) > w->starve_ns)
			enter = true;

		new = (old & HSEMA_VALUE_MASK) | HSEMA_WAITERS |
		      ((starving || enter) ? HSEMA_STARVING : 0);
		if (new != old) {
			ret = word_cmpxchg(uaddr, old, new, &cur);
			if (ret)
				return ret;
			if (cur != old) {
				old = cur;
				continue;
			}
		}
		break;
	}

	if (!w->q) {
		if (!q) {
			q = *spare;
			*spare = NULL;
			hsema_queue_install(b, q, key);
		}
		hsema_enqueue(q, w);
	} else if (w->state == HSEMA_W_WOKEN) {
		/* Lost to a newcomer: sleep again, keeping our ticket. */
		w->state = HSEMA_W_QUEUED;
		q->nr_woken--;
		hsema_stat_inc(requeues);
	}
	if (enter) {
		q->starving = true;
		hsema_stat_inc(starve_enter);
	}
	return -EAGAIN;
}

int hsema_wait(u32 __user *uaddr, unsigned int flags, const ktime_t *deadline,
	       u64 starve_ns)
{
	struct hsema_waiter w = {
		.task = current,
		.starve_ns = starve_ns ?: READ_ONCE(hsema_default_starve_ns),
	};
	struct hsema_queue *spare = NULL, *dead = NULL;
	struct hrtimer_sleeper timer, *to = NULL;
	struct hsema_bucket *b;
	struct hsema_key key;
	bool armed = false;
	int ret;

	ret = hsema_key_get(uaddr, flags & HSEMA_F_SHARED, &key);
	if (ret)
		return ret;

	if (deadline) {
		to = &timer;
		hrtimer_init_sleeper_on_stack(to, (flags & HSEMA_WAIT_REALTIME) ?
					      CLOCK_REALTIME : CLOCK_MONOTONIC,
					      HRTIMER_MODE_ABS);
		hrtimer_set_expires_range_ns(&to->timer, *deadline,
					     current->timer_slack_ns);
	}

	b = hsema_bucket(&key);
	raw_spin_lock(&b->lock);
	for (;;) {
		/* A grant wins over a timeout or signal that came with it. */
		if (w.state == HSEMA_W_GRANTED) {
			ret = 0;
			break;
		}
		if (!w.q || w.state == HSEMA_W_WOKEN) {
			ret = compete(b, &key, uaddr, &w, &spare, &dead);
			if (!ret)
				break;
			if (ret == -EFAULT || ret == -ENOMEM) {
				raw_spin_unlock(&b->lock);
				if (ret == -EFAULT) {
					ret = word_fault_in(uaddr);
				} else {
					spare = hsema_queue_alloc();
					ret = spare ? 0 : -ENOMEM;
				}
				raw_spin_lock(&b->lock);
				if (!ret)
					continue;
				if (w.q)
					dead = leave_queue(&w, uaddr);
				if (w.state == HSEMA_W_GRANTED)
					ret = 0;
				break;
			}
		}
		if (to && !to->task) {
			dead = leave_queue(&w, uaddr);
			hsema_stat_inc(timeouts);
			ret = -ETIMEDOUT;
			break;
		}
		if (signal_pending(current)) {
			dead = leave_queue(&w, uaddr);
			hsema_stat_inc(interrupts);
			ret = -ERESTARTSYS;
			break;
		}

		set_current_state(TASK_INTERRUPTIBLE);
		raw_spin_unlock(&b->lock);
		if (to && !armed) {
			hrtimer_sleeper_start_expires(to, HRTIMER_MODE_ABS);
			armed = true;
		}
		if (READ_ONCE(w.state) == HSEMA_W_QUEUED && (!to || to->task))
			schedule();
		__set_current_state(TASK_RUNNING);
		raw_spin_lock(&b->lock);
	}
	raw_spin_unlock(&b->lock);

	if (to) {
		hrtimer_cancel(&to->timer);
		destroy_hrtimer_on_stack(&to->timer);
	}
	hsema_queue_free(spare);
	hsema_queue_free(dead);

	/* A dying task cannot use its unit: pass it on. */
	if (!ret && fatal_signal_pending(current)) {
		hsema_stat_inc(passed_on);
		hsema_wake(uaddr, flags & HSEMA_F_SHARED, 1, false, NULL);
		ret = -EINTR;
	}
	hsema_key_put(&key);
	return ret;
}

/* What a release of @count units does, computed before anything changes. */
struct hsema_plan {
	bool enter;		/* the queue starts starving */
	bool starving;		/* ... and is starving afterwards */
	u32 grant;		/* waiters granted a unit, from the head */
	u32 wake;		/* sleeping waiters woken to compete */
	u32 base;		/* value kept in the word */
	u32 counted;		/* units added to the word */
	u32 bits;		/* WAITERS and STARVING afterwards */
};

static void plan_release(struct hsema_queue *q, u32 old, u32 count,
			 bool handoff, u64 now, struct hsema_plan *p)
{
	u32 units = count, left, woken;
	struct hsema_waiter *w;
	bool starving;

	memset(p, 0, sizeof(*p));
	p->base = old & HSEMA_VALUE_MASK;
	if (!q) {
		p->counted = count;
		return;
	}

	w = queue_head(q);
	starving = q->starving;
	if (!starving && waited_ns(w, now) > w->starve_ns) {
		/*
		 * The head has waited too long.  Units already in the word
		 * were announced to woken waiters that have not run yet;
		 * they are absorbed and granted in ticket order instead.
		 */
		starving = p->enter = true;
		units += p->base;
		p->base = 0;
	}

	left = q->nr_waiters;
	woken = q->nr_woken;
	if (starving || handoff) {
		list_for_each_entry_from(w, &q->waiters, node) {
			if (!units)
				break;
			p->grant++;
			units--;
			left--;
			if (w->state == HSEMA_W_WOKEN)
				woken--;
			if (starving &&
			    (!left || waited_ns(w, now) < w->starve_ns)) {
				starving = false;
				if (!handoff)
					break;
			}
		}
	}
	p->counted = units;
	p->wake = min(units, left - woken);
	p->starving = starving && left;
	p->bits = queue_bits(q, left, p->starving);
}

int hsema_wake(u32 __user *uaddr, unsigned int flags, u32 count,
	       bool may_yield, struct hsema_wake *out)
{
	bool handoff = flags & HSEMA_WAKE_HANDOFF;
	struct task_struct *yield_task = NULL;
	struct hsema_queue *q, *dead = NULL;
	struct hsema_waiter *w, *tmp;
	struct hsema_bucket *b;
	struct hsema_plan p;
	struct hsema_key key;
	bool was_starving;
	u32 old, cur, i;
	u64 now;
	int ret;

	ret = hsema_key_get(uaddr, flags & HSEMA_F_SHARED, &key);
	if (ret)
		return ret;
	b = hsema_bucket(&key);

	raw_spin_lock(&b->lock);
retry:
	q = hsema_queue_find(b, &key);
	now = ktime_get_ns();
	ret = word_read(uaddr, &old);
	while (!ret) {
		plan_release(q, old, count, handoff, now, &p);
		if ((u64)p.base + p.counted > HSEMA_VALUE_MAX) {
			ret = -EOVERFLOW;
			goto unlock;
		}
		ret = word_cmpxchg(uaddr, old, (p.base + p.counted) | p.bits,
				   &cur);
		if (!ret && cur == old)
			break;
		old = cur;
	}
	if (ret) {
		raw_spin_unlock(&b->lock);
		ret = word_fault_in(uaddr);
		raw_spin_lock(&b->lock);
		if (!ret)
			goto retry;
		goto unlock;
	}

	if (!q)
		goto unlock;

	was_starving = q->starving;
	if (p.enter) {
		q->starving = true;
		hsema_stat_inc(starve_enter);
	}
	for (i = 0; i < p.grant; i++) {
		w = queue_head(q);
		hsema_stat_wait_time(waited_ns(w, now));
		if (hsema_dequeue(w))
			dead = q;
		w->state = HSEMA_W_GRANTED;
		if (!yield_task) {
			yield_task = w->task;
			get_task_struct(yield_task);
		}
		wake_up_process(w->task);
	}
	hsema_stat_add(grants, p.grant);
	if (!dead) {
		q->starving = p.starving;
		i = 0;
		list_for_each_entry_safe(w, tmp, &q->waiters, node) {
			if (i == p.wake)
				break;
			if (w->state != HSEMA_W_QUEUED)
				continue;
			w->state = HSEMA_W_WOKEN;
			q->nr_woken++;
			wake_up_process(w->task);
			i++;
		}
		hsema_stat_add(wakes, i);
	}
	if ((was_starving || p.enter) && !p.starving)
		hsema_stat_inc(starve_exit);
	if (out) {
		out->granted = p.grant;
		out->woken = p.wake;
	}
unlock:
	raw_spin_unlock(&b->lock);
	hsema_queue_free(dead);
	hsema_key_put(&key);
	if (yield_task) {
		if (may_yield)
			hsema_directed_yield(yield_task);
		put_task_struct(yield_task);
	}
	return ret;
}

int hsema_query(u32 __user *uaddr, unsigned int flags, struct hsema_query *qr)
{
	struct hsema_bucket *b;
	struct hsema_queue *q;
	struct hsema_key key;
	int ret;

	ret = hsema_key_get(uaddr, flags & HSEMA_F_SHARED, &key);
	if (ret)
		return ret;
	b = hsema_bucket(&key);

	raw_spin_lock(&b->lock);
	q = hsema_queue_find(b, &key);
	if (q) {
		qr->nr_waiters = q->nr_waiters;
		qr->nr_woken = q->nr_woken;
		qr->starving = q->starving;
		qr->head_ticket = queue_head(q)->ticket;
		qr->tail_ticket = list_last_entry(&q->waiters,
						  struct hsema_waiter,
						  node)->ticket;
		qr->head_wait_ns = waited_ns(queue_head(q), ktime_get_ns());
	}
	raw_spin_unlock(&b->lock);
	hsema_key_put(&key);
	return 0;
}
