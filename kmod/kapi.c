// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel-resident semaphores: the same word protocol, ticket queue and
 * starvation handoff as user words, with the word in kernel memory and a
 * lock and queue of the semaphore's own.
 *
 * The lock is a raw spinlock taken with interrupts disabled, because
 * release may come from a hard interrupt, and on PREEMPT_RT a spinlock_t
 * would sleep there.  From NMI even a raw spinlock could deadlock against
 * the context the NMI interrupted, so an NMI release only adds to a
 * counter and queues an irq_work, which releases those units soon after.
 *
 * hsema_destroy() returning 0 means the caller may free the semaphore.  A
 * waiter that was granted a unit is off the queue but still takes the lock
 * on its way out, and a releaser holds it until it is done, so every call
 * that enters the slow path counts itself in ->users, from before it can
 * be granted or grant until after its last access; destroy waits for the
 * count to drain.  The fast paths touch only the word, in one atomic step.
 * An NMI release is outside the count: it touches the irq_work after
 * adding to nmi_pending, but nobody can take that unit before the irq_work
 * runs, and destroy's irq_work_sync() waits for it.
 */
#include <linux/export.h>
#include <linux/irq_work.h>
#include <linux/sched.h>
#include <linux/string.h>

#include "hsema.h"

static void hsema_nmi_release(struct irq_work *work)
{
	struct hsema *s = container_of(work, struct hsema, nmi_work);
	unsigned int n = atomic_xchg(&s->nmi_pending, 0);

	if (n)
		hsema_release(s, n);
}

void hsema_init(struct hsema *s, unsigned int value)
{
	struct hsema_key key = { .obj = s };

	s->word = min(value, HSEMA_VALUE_MAX);
	s->max = HSEMA_VALUE_MAX;
	raw_spin_lock_init(&s->lock);
	hsema_queue_init(&s->q, &key);
	s->starve_ns = 0;
	atomic_set(&s->nmi_pending, 0);
	init_irq_work(&s->nmi_work, hsema_nmi_release);
	atomic_set(&s->users, 0);
}
EXPORT_SYMBOL_GPL(hsema_init);

/*
 * A semaphore whose releases never make more than @max units (granted to
 * waiters and in the word together): -EINVAL unless 0 < @max <=
 * HSEMA_VALUE_MAX and @value <= @max.
 */
int hsema_init_max(struct hsema *s, unsigned int value, unsigned int max)
{
	if (!max || max > HSEMA_VALUE_MAX || value > max)
		return -EINVAL;
	hsema_init(s, value);
	s->max = max;
	return 0;
}
EXPORT_SYMBOL_GPL(hsema_init_max);

/* Per-semaphore starvation threshold in ns; 0 selects the module default. */
void hsema_set_starve_ns(struct hsema *s, u64 ns)
{
	WRITE_ONCE(s->starve_ns, ns);
}
EXPORT_SYMBOL_GPL(hsema_set_starve_ns);

/* Enter and leave a slow path; see the top of the file. */
static void hsema_use(struct hsema *s)
{
	atomic_inc(&s->users);
}

static void hsema_unuse(struct hsema *s)
{
	/* Every access to *s before this one is done. */
	atomic_dec_return_release(&s->users);
}

/*
 * Returns -EBUSY while tasks wait.  Otherwise flushes releases deferred
 * from NMI and waits for calls still on their way out (a granted waiter
 * that has not run yet, a releaser that has not unlocked), then returns 0:
 * the memory may be freed.  No new call may start once destroy has begun.
 * Sleeps.
 */
int hsema_destroy(struct hsema *s)
{
	might_sleep();
	irq_work_sync(&s->nmi_work);
	for (;;) {
		if (hsema_nr_waiters(s))
			return -EBUSY;
		if (!atomic_read_acquire(&s->users))
			return 0;
		schedule_timeout_uninterruptible(1);
	}
}
EXPORT_SYMBOL_GPL(hsema_destroy);

static void hsema_site_kernel(struct hsema *s, struct hsema_site *site)
{
	memset(site, 0, sizeof(*site));
	site->key = s->q.key;
	site->klock = &s->lock;
	site->fixed = &s->q;
	site->kaddr = &s->word;
}

/* The fast paths are the userspace ones, on a kernel word. */
bool hsema_try_acquire(struct hsema *s)
{
	u32 v = READ_ONCE(s->word);

	while ((v & HSEMA_STATE_MASK) != HSEMA_STATE_STARVING &&
	       (v & HSEMA_VALUE_MASK)) {
		if (try_cmpxchg_acquire(&s->word, &v, v - 1))
			return true;
	}
	return false;
}
EXPORT_SYMBOL_GPL(hsema_try_acquire);

static int hsema_acquire_state(struct hsema *s, unsigned int state,
			       const ktime_t *deadline)
{
	struct hsema_site site;
	int ret;

	might_sleep();
	if (hsema_try_acquire(s))
		return 0;
	hsema_use(s);
	hsema_site_kernel(s, &site);
	ret = hsema_wait_site(&site, state, deadline, CLOCK_MONOTONIC,
			      READ_ONCE(s->starve_ns));
	hsema_unuse(s);
	return ret;
}

void hsema_acquire(struct hsema *s)
{
	hsema_acquire_state(s, TASK_UNINTERRUPTIBLE, NULL);
}
EXPORT_SYMBOL_GPL(hsema_acquire);

/* Returns 0, or -EINTR for a signal. */
int hsema_acquire_interruptible(struct hsema *s)
{
	return hsema_acquire_state(s, TASK_INTERRUPTIBLE, NULL);
}
EXPORT_SYMBOL_GPL(hsema_acquire_interruptible);

/* Returns 0, or -EINTR for a fatal signal. */
int hsema_acquire_killable(struct hsema *s)
{
	return hsema_acquire_state(s, TASK_KILLABLE, NULL);
}
EXPORT_SYMBOL_GPL(hsema_acquire_killable);

/* Killable, for at most @timeout: returns 0, -ETIMEDOUT or -EINTR. */
int hsema_acquire_timeout(struct hsema *s, ktime_t timeout)
{
	ktime_t deadline = ktime_add_safe(ktime_get(), timeout);

	return hsema_acquire_state(s, TASK_KILLABLE, &deadline);
}
EXPORT_SYMBOL_GPL(hsema_acquire_timeout);

/*
 * Killable, for at most @timeout (KTIME_MAX: no limit), a unit of any of
 * @n semaphores (1 <= @n <= HSEMA_ANY_MAX; one may appear more than once):
 * returns the index of the one acquired, the lowest with a unit when
 * several have one, or -ETIMEDOUT, -EINTR, -EINVAL or -ENOMEM.  Each
 * semaphore queues the caller with its own ticket and threshold, and only
 * one of them gives it a unit (see waitany.c).  May sleep, and allocates.
 */
int hsema_acquire_any(struct hsema *const sems[], unsigned int n,
		      ktime_t timeout)
{
	ktime_t deadline = ktime_add_safe(ktime_get(), timeout);
	struct hsema_any *a;
	unsigned int i;
	int ret;

	might_sleep();
	if (!n || n > HSEMA_ANY_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (hsema_try_acquire(sems[i]))
			return i;
	a = hsema_any_alloc(n, GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		hsema_use(sems[i]);
		hsema_site_kernel(sems[i], hsema_any_site(a, i));
		hsema_any_slot_init(a, i, READ_ONCE(sems[i]->starve_ns));
	}
	ret = hsema_any_wait(a, TASK_KILLABLE, CLOCK_MONOTONIC,
			     timeout == KTIME_MAX ? NULL : &deadline);
	for (i = 0; i < n; i++)
		hsema_unuse(sems[i]);
	hsema_any_free(a);
	return ret;
}
EXPORT_SYMBOL_GPL(hsema_acquire_any);

static int hsema_release_common(struct hsema *s, unsigned int n, bool handoff)
{
	struct hsema_site site;
	int ret;
	u32 v;

	if (!n || n > HSEMA_VALUE_MAX)
		return -EINVAL;
	if (in_nmi()) {
		atomic_add(n, &s->nmi_pending);
		irq_work_queue(&s->nmi_work);
		return 0;
	}

	/*
	 * Without waiters, or with a woken one on its way that will look
	 * at the value (HSEMA_STATE_WOKEN: one unit, no handoff), the unit
	 * goes into the word and the kernel's half is not needed.
	 */
	v = READ_ONCE(s->word);
	while ((v & HSEMA_STATE_MASK) == HSEMA_STATE_NONE ||
	       ((v & HSEMA_STATE_MASK) == HSEMA_STATE_WOKEN && n == 1 &&
		!handoff)) {
		if ((v & HSEMA_VALUE_MASK) + n > s->max)
			return -EOVERFLOW;
		if (try_cmpxchg_release(&s->word, &v, v + n))
			return 0;
	}
	hsema_use(s);
	hsema_site_kernel(s, &site);
	ret = hsema_wake_site(&site, n, handoff ? HSEMA_WAKE_HANDOFF : 0,
			      s->max, true, NULL);
	hsema_unuse(s);
	return ret;
}

/*
 * Release @n units: from any context.  Returns 0, -EINVAL for n == 0 or
 * above HSEMA_VALUE_MAX, -EOVERFLOW if the units would pass the
 * semaphore's maximum (hsema_init_max()) or the word's.
 */
int hsema_release(struct hsema *s, unsigned int n)
{
	return hsema_release_common(s, n, false);
}
EXPORT_SYMBOL_GPL(hsema_release);

/* Release one unit, granted directly to the head waiter if there is one. */
int hsema_release_handoff(struct hsema *s)
{
	return hsema_release_common(s, 1, true);
}
EXPORT_SYMBOL_GPL(hsema_release_handoff);

unsigned int hsema_value(struct hsema *s)
{
	return READ_ONCE(s->word) & HSEMA_VALUE_MASK;
}
EXPORT_SYMBOL_GPL(hsema_value);

unsigned int hsema_nr_waiters(struct hsema *s)
{
	unsigned long flags;
	unsigned int n;

	raw_spin_lock_irqsave(&s->lock, flags);
	n = s->q.nr_waiters;
	raw_spin_unlock_irqrestore(&s->lock, flags);
	return n;
}
EXPORT_SYMBOL_GPL(hsema_nr_waiters);
