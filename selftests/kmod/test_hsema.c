// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handoff refusal matrix, proven in the kernel.
 *
 * For each context a release can come from, queue a waiter on a starving
 * kernel semaphore, release one unit from that context, and check that:
 *  - the waiter got the unit, exactly once, and nothing is left over;
 *  - the releaser gave the waiter its CPU only from sleepable context;
 *  - everywhere else the yield was refused and counted with the reason
 *    that context implies.
 * Then hsema_destroy()'s promise: it returns 0 only once nobody uses the
 * semaphore any more, so the caller may free it, even while a waiter that
 * was granted a unit has not run yet.
 *
 * Results are printed as KTAP; loading fails if any case failed.
 */
#define pr_fmt(fmt) fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timer.h>

#include <linux/hsema.h>

#include "hsema_kernel.h"

enum ctx {
	CTX_TASK,		/* sleepable: the only one that may yield */
	CTX_HARDIRQ,		/* hrtimer in HRTIMER_MODE_REL_HARD */
	CTX_TIMER,		/* timer_list: softirq */
	CTX_TASKLET,		/* tasklet: softirq */
	CTX_BH_OFF,		/* task with bottom halves disabled */
	CTX_SPINLOCK,
	CTX_IRQS_OFF,
	CTX_PREEMPT_OFF,
	CTX_RCU,
	CTX_NR
};

static const char *const ctx_name[CTX_NR] = {
	[CTX_TASK]		= "sleepable_task",
	[CTX_HARDIRQ]		= "hardirq_hrtimer",
	[CTX_TIMER]		= "softirq_timer_list",
	[CTX_TASKLET]		= "softirq_tasklet",
	[CTX_BH_OFF]		= "bh_disabled",
	[CTX_SPINLOCK]		= "spinlock_held",
	[CTX_IRQS_OFF]		= "irqs_disabled",
	[CTX_PREEMPT_OFF]	= "preempt_disabled",
	[CTX_RCU]		= "rcu_read_lock",
};

/* The refusal each context must be counted under; -1: it may yield. */
static int expected_refusal(enum ctx c)
{
	switch (c) {
	case CTX_TASK:
		return -1;
	case CTX_HARDIRQ:
		return HSEMA_REFUSE_HARDIRQ;
	case CTX_TIMER:
	case CTX_TASKLET:
	case CTX_BH_OFF:
		return HSEMA_REFUSE_SOFTIRQ;
	case CTX_SPINLOCK:
		/* A PREEMPT_RT spinlock sleeps, but disables migration. */
		return IS_ENABLED(CONFIG_PREEMPT_RT) ?
			HSEMA_REFUSE_MIGRATE_OFF : HSEMA_REFUSE_PREEMPT_OFF;
	case CTX_IRQS_OFF:
		return HSEMA_REFUSE_IRQS_OFF;
	case CTX_PREEMPT_OFF:
		return HSEMA_REFUSE_PREEMPT_OFF;
	case CTX_RCU:
		return HSEMA_REFUSE_RCU;
	default:
		return -2;
	}
}

struct test_case {
	struct hsema sem;
	enum ctx ctx;
	int waiter_ret;
	atomic_t acquired;
	struct completion acquired_done;
	int release_ret;
	struct completion released;
	struct hrtimer hrtimer;
	struct timer_list timer;
	struct tasklet_struct tasklet;
	spinlock_t lock;	/* protects nothing: CTX_SPINLOCK releases under it */
};

static struct test_case *tc;

static int waiter_fn(void *data)
{
	struct test_case *t = data;

	t->waiter_ret = hsema_acquire_killable(&t->sem);
	if (!t->waiter_ret)
		atomic_inc(&t->acquired);
	complete(&t->acquired_done);
	return 0;
}

static void do_release(struct test_case *t)
{
	t->release_ret = hsema_release(&t->sem, 1);
	complete(&t->released);
}

static enum hrtimer_restart hrtimer_fn(struct hrtimer *h)
{
	do_release(container_of(h, struct test_case, hrtimer));
	return HRTIMER_NORESTART;
}

static void timer_fn(struct timer_list *tl)
{
	do_release(from_timer(tc, tl, timer));
}

static void tasklet_fn(unsigned long data)
{
	do_release((struct test_case *)data);
}

static void release_from(struct test_case *t)
{
	unsigned long flags;

	switch (t->ctx) {
	case CTX_TASK:
		do_release(t);
		break;
	case CTX_HARDIRQ:
		hrtimer_start(&t->hrtimer, ns_to_ktime(1000),
			      HRTIMER_MODE_REL_HARD);
		break;
	case CTX_TIMER:
		mod_timer(&t->timer, jiffies + 1);
		break;
	case CTX_TASKLET:
		tasklet_schedule(&t->tasklet);
		break;
	case CTX_BH_OFF:
		local_bh_disable();
		do_release(t);
		local_bh_enable();
		break;
	case CTX_SPINLOCK:
		spin_lock(&t->lock);
		do_release(t);
		spin_unlock(&t->lock);
		break;
	case CTX_IRQS_OFF:
		local_irq_save(flags);
		do_release(t);
		local_irq_restore(flags);
		break;
	case CTX_PREEMPT_OFF:
		preempt_disable();
		do_release(t);
		preempt_enable();
		break;
	case CTX_RCU:
		rcu_read_lock();
		do_release(t);
		rcu_read_unlock();
		break;
	default:
		break;
	}
}

#define CHECK(cond, fmt, ...) do {					\
		if (!(cond)) {						\
			pr_info("    # %s: " fmt "\n", ctx_name[c],	\
				##__VA_ARGS__);				\
			ok = false;					\
		}							\
	} while (0)

static bool run_case(struct test_case *t, enum ctx c)
{
	struct hsema_stats before, after;
	struct task_struct *waiter;
	u64 refused_total = 0;
	int want = expected_refusal(c);
	bool ok = true;
	int i, tries;

	memset(t, 0, sizeof(*t));
	t->ctx = c;
	hsema_init(&t->sem, 0);
	/* 1 ns: the head waiter is always past it, so every release grants. */
	hsema_set_starve_ns(&t->sem, 1);
	init_completion(&t->acquired_done);
	init_completion(&t->released);
	atomic_set(&t->acquired, 0);
	hrtimer_init(&t->hrtimer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	t->hrtimer.function = hrtimer_fn;
	timer_setup(&t->timer, timer_fn, 0);
	tasklet_init(&t->tasklet, tasklet_fn, (unsigned long)t);
	spin_lock_init(&t->lock);

	waiter = kthread_run(waiter_fn, t, "hsema_test_waiter");
	if (IS_ERR(waiter)) {
		CHECK(false, "kthread_run: %ld", PTR_ERR(waiter));
		return false;
	}
	for (tries = 0; hsema_nr_waiters(&t->sem) != 1 && tries < 5000; tries++)
		usleep_range(500, 1000);
	CHECK(hsema_nr_waiters(&t->sem) == 1, "waiter never queued");
	if (!ok) {
		hsema_release(&t->sem, 1);
		wait_for_completion(&t->acquired_done);
		return false;
	}
	usleep_range(10, 20);	/* let the head wait past the 1 ns threshold */

	hsema_stats_read(&before);
	release_from(t);
	wait_for_completion(&t->released);
	CHECK(wait_for_completion_timeout(&t->acquired_done, 10 * HZ),
	      "waiter did not wake up");
	hsema_stats_read(&after);

	CHECK(t->release_ret == 0, "release returned %d", t->release_ret);
	CHECK(t->waiter_ret == 0, "waiter returned %d", t->waiter_ret);
	CHECK(atomic_read(&t->acquired) == 1, "waiter acquired %d times",
	      atomic_read(&t->acquired));
	CHECK(hsema_value(&t->sem) == 0, "value %u left over: the unit was counted, not granted",
	      hsema_value(&t->sem));
	CHECK(hsema_nr_waiters(&t->sem) == 0, "%u waiters left",
	      hsema_nr_waiters(&t->sem));
	CHECK(after.grants - before.grants == 1, "%llu grants",
	      after.grants - before.grants);
	CHECK(after.starve_enter - before.starve_enter == 1,
	      "%llu starvation entries", after.starve_enter - before.starve_enter);
	for (i = 0; i < HSEMA_REFUSE_NR; i++)
		refused_total += after.refused[i] - before.refused[i];
	if (want < 0) {
		CHECK(after.handoffs - before.handoffs == 1,
		      "sleepable release did not yield (%llu handoffs)",
		      after.handoffs - before.handoffs);
		CHECK(refused_total == 0, "sleepable release refused %llu yields",
		      refused_total);
	} else {
		CHECK(after.handoffs - before.handoffs == 0,
		      "yielded the CPU from an unsafe context");
		CHECK(after.refused[want] - before.refused[want] == 1 &&
		      refused_total == 1,
		      "refusal not counted once as reason %d (%llu there, %llu in all)",
		      want, after.refused[want] - before.refused[want],
		      refused_total);
	}

	hrtimer_cancel(&t->hrtimer);
	del_timer_sync(&t->timer);
	tasklet_kill(&t->tasklet);
	CHECK(hsema_destroy(&t->sem) == 0, "destroy failed");
	return ok;
}

/*
 * A releaser that cannot be preempted by its waiter (SCHED_FIFO, on the
 * waiter's CPU) grants the waiter a unit and destroys the semaphore at
 * once.  The waiter is dequeued but has not run: it still has to take the
 * semaphore's lock on its way out.  destroy() must wait for it, and only
 * then return 0; the semaphore is freed right after.
 *
 * The waiter is SCHED_FIFO at the releaser's priority too, so that neither
 * preempts the other: the waiter runs only once destroy() sleeps, and then
 * to its return (and its flag), even if destroy()'s poll is due meanwhile.
 * A lower-priority waiter could be preempted between leaving the
 * semaphore and setting the flag, and destroy() would rightly return in
 * that gap (once in a debug kernel's run, under four guests on two cores).
 */
struct destroy_case {
	struct hsema *sem;
	int waiter_ret;
	atomic_t waiter_returned;
	struct completion waiter_done;
	int release_ret;
	int destroy_ret;
	bool queued;
	bool returned_at_destroy;
	struct completion releaser_done;
};

static int destroy_waiter_fn(void *data)
{
	struct destroy_case *d = data;

	sched_set_fifo(current);
	d->waiter_ret = hsema_acquire_killable(d->sem);
	atomic_set(&d->waiter_returned, 1);
	complete(&d->waiter_done);
	return 0;
}

static int destroy_releaser_fn(void *data)
{
	struct destroy_case *d = data;
	int tries;

	for (tries = 0; hsema_nr_waiters(d->sem) != 1 && tries < 5000; tries++)
		usleep_range(500, 1000);
	d->queued = hsema_nr_waiters(d->sem) == 1;
	if (d->queued) {
		/* From here on the waiter cannot run until we sleep. */
		sched_set_fifo(current);
		d->release_ret = hsema_release_handoff(d->sem);
		d->destroy_ret = hsema_destroy(d->sem);
		d->returned_at_destroy = atomic_read(&d->waiter_returned);
	}
	complete(&d->releaser_done);
	return 0;
}

static bool run_destroy_case(void)
{
	const char *name = "destroy_waits_for_granted_waiter";
	struct task_struct *waiter, *releaser;
	struct destroy_case d = { };
	int cpu = raw_smp_processor_id();
	bool ok = true;

#define DCHECK(cond, fmt, ...) do {					\
		if (!(cond)) {						\
			pr_info("    # %s: " fmt "\n", name, ##__VA_ARGS__); \
			ok = false;					\
		}							\
	} while (0)

	d.sem = kzalloc(sizeof(*d.sem), GFP_KERNEL);
	if (!d.sem)
		return false;
	hsema_init(d.sem, 0);
	/* Normal mode: the unit moves only by the handoff's grant. */
	hsema_set_starve_ns(d.sem, 10ULL * NSEC_PER_SEC);
	init_completion(&d.waiter_done);
	init_completion(&d.releaser_done);
	atomic_set(&d.waiter_returned, 0);

	waiter = kthread_create(destroy_waiter_fn, &d, "hsema_test_dwaiter");
	releaser = kthread_create(destroy_releaser_fn, &d, "hsema_test_drel");
	if (IS_ERR(waiter) || IS_ERR(releaser)) {
		DCHECK(false, "kthread_create failed");
		if (!IS_ERR(waiter))
			kthread_stop(waiter);
		if (!IS_ERR(releaser))
			kthread_stop(releaser);
		kfree(d.sem);
		return false;
	}
	kthread_bind(waiter, cpu);
	kthread_bind(releaser, cpu);
	wake_up_process(waiter);
	wake_up_process(releaser);

	wait_for_completion(&d.releaser_done);
	DCHECK(d.queued, "waiter never queued");
	if (!d.queued)
		hsema_release(d.sem, 1);
	DCHECK(d.release_ret == 0, "release returned %d", d.release_ret);
	DCHECK(d.destroy_ret == 0, "destroy returned %d", d.destroy_ret);
	DCHECK(d.returned_at_destroy,
	       "destroy returned while the granted waiter had not left: freeing the semaphore now would be a use after free");
	/* Wait for the waiter either way, so a failure frees nothing in use. */
	wait_for_completion(&d.waiter_done);
	DCHECK(d.waiter_ret == 0, "waiter returned %d", d.waiter_ret);
	DCHECK(hsema_value(d.sem) == 0, "value %u left over", hsema_value(d.sem));
	kfree(d.sem);
	return ok;
#undef DCHECK
}

struct max_case {
	struct hsema sem;
	int waiter_ret;
	struct completion waiter_done;
};

static int max_waiter_fn(void *data)
{
	struct max_case *m = data;

	m->waiter_ret = hsema_acquire_killable(&m->sem);
	complete(&m->waiter_done);
	return 0;
}

/*
 * hsema_init_max(): bad arguments; a release past the maximum fails and
 * changes nothing on the fast path (nobody waits) and in the kernel's
 * (a waiter queued: the units it would grant count too); one within it
 * grants the waiter and adds the rest.
 */
static bool run_max_case(void)
{
	const char *name = "max_bounds_releases";
	struct task_struct *waiter;
	struct max_case *m;
	bool ok = true;
	int tries;

#define MCHECK(cond, fmt, ...) do {					\
		if (!(cond)) {						\
			pr_info("    # %s: " fmt "\n", name, ##__VA_ARGS__); \
			ok = false;					\
		}							\
	} while (0)

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return false;
	MCHECK(hsema_init_max(&m->sem, 0, 0) == -EINVAL, "max 0 accepted");
	MCHECK(hsema_init_max(&m->sem, 3, 2) == -EINVAL,
	       "a value above max accepted");
	MCHECK(hsema_init_max(&m->sem, 0, HSEMA_VALUE_MAX + 1) == -EINVAL,
	       "max above the word's accepted");
	MCHECK(hsema_init_max(&m->sem, 1, 2) == 0, "max 2 refused");
	/* Normal mode, so that the waiter is woken rather than granted. */
	hsema_set_starve_ns(&m->sem, 10ULL * NSEC_PER_SEC);
	MCHECK(hsema_release(&m->sem, 2) == -EOVERFLOW,
	       "1 + 2 units passed max 2");
	MCHECK(hsema_release(&m->sem, 1) == 0, "1 + 1 units refused");
	MCHECK(hsema_release(&m->sem, 1) == -EOVERFLOW, "3 units at max 2");
	MCHECK(hsema_value(&m->sem) == 2, "value %u, not 2",
	       hsema_value(&m->sem));
	MCHECK(hsema_try_acquire(&m->sem) && hsema_try_acquire(&m->sem),
	       "the two units are not there");

	init_completion(&m->waiter_done);
	waiter = kthread_run(max_waiter_fn, m, "hsema_test_mwaiter");
	if (IS_ERR(waiter)) {
		MCHECK(false, "kthread_run failed");
		kfree(m);
		return false;
	}
	for (tries = 0; hsema_nr_waiters(&m->sem) != 1 && tries < 5000; tries++)
		usleep_range(500, 1000);
	MCHECK(hsema_nr_waiters(&m->sem) == 1, "the waiter never queued");
	MCHECK(hsema_release(&m->sem, 3) == -EOVERFLOW,
	       "3 units, one for the waiter, passed max 2");
	MCHECK(hsema_nr_waiters(&m->sem) == 1 && hsema_value(&m->sem) == 0,
	       "the refused release changed something: %u waiters, value %u",
	       hsema_nr_waiters(&m->sem), hsema_value(&m->sem));
	MCHECK(hsema_release(&m->sem, 2) == 0, "2 units refused at max 2");
	wait_for_completion(&m->waiter_done);
	MCHECK(m->waiter_ret == 0, "waiter returned %d", m->waiter_ret);
	MCHECK(hsema_value(&m->sem) == 1, "value %u, not 1",
	       hsema_value(&m->sem));
	MCHECK(hsema_destroy(&m->sem) == 0, "destroy refused");
	kfree(m);
	return ok;
#undef MCHECK
}

struct any_case {
	struct hsema a, b;
	struct hsema *v[3];
	unsigned int n;
	int waiter_ret;
	struct completion waiter_done;
};

static int any_waiter_fn(void *data)
{
	struct any_case *m = data;

	m->waiter_ret = hsema_acquire_any(m->v, m->n, KTIME_MAX);
	complete(&m->waiter_done);
	return 0;
}

/* Start a waiter for any of m->v and wait until it sleeps in both queues. */
static bool any_start(struct any_case *m)
{
	struct task_struct *t;
	int tries;

	init_completion(&m->waiter_done);
	t = kthread_run(any_waiter_fn, m, "hsema_test_any");
	if (IS_ERR(t))
		return false;
	for (tries = 0; tries < 5000; tries++) {
		if (hsema_nr_waiters(&m->a) == 1 &&
		    hsema_nr_waiters(&m->b) == 1)
			break;
		usleep_range(500, 1000);
	}
	return hsema_nr_waiters(&m->a) == 1 && hsema_nr_waiters(&m->b) == 1;
}

/*
 * hsema_acquire_any() on kernel semaphores: bad counts, the lowest index
 * with a unit, a timeout, a wake-up and a starvation grant that each give
 * exactly one unit and take the waiter out of the other queue, and two
 * releases back to back that leave the second unit where it was put.
 */
static bool run_any_case(void)
{
	const char *name = "acquire_any";
	struct any_case *m;
	bool ok = true;
	int ret;

#define ACHECK(cond, fmt, ...) do {					\
		if (!(cond)) {						\
			pr_info("    # %s: " fmt "\n", name, ##__VA_ARGS__); \
			ok = false;					\
		}							\
	} while (0)

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return false;
	hsema_init(&m->a, 0);
	hsema_init(&m->b, 0);
	/* Normal mode: releases wake; the grant below lowers it. */
	hsema_set_starve_ns(&m->a, 10ULL * NSEC_PER_SEC);
	hsema_set_starve_ns(&m->b, 10ULL * NSEC_PER_SEC);
	m->v[0] = &m->a;
	m->v[1] = &m->b;
	m->v[2] = &m->a;

	ACHECK(hsema_acquire_any(m->v, 0, KTIME_MAX) == -EINVAL, "n 0");
	ACHECK(hsema_acquire_any(m->v, HSEMA_ANY_MAX + 1, 0) == -EINVAL,
	       "n %d", HSEMA_ANY_MAX + 1);
	hsema_release(&m->b, 1);
	hsema_release(&m->a, 1);
	ret = hsema_acquire_any(m->v, 3, KTIME_MAX);
	ACHECK(ret == 0, "lowest index: %d, not 0", ret);
	ret = hsema_acquire_any(m->v, 3, KTIME_MAX);
	ACHECK(ret == 1, "next: %d, not 1", ret);
	ret = hsema_acquire_any(m->v, 3, 10 * NSEC_PER_MSEC);
	ACHECK(ret == -ETIMEDOUT, "timeout: %d", ret);
	ACHECK(!hsema_nr_waiters(&m->a) && !hsema_nr_waiters(&m->b),
	       "waiters left after a timeout: %u %u",
	       hsema_nr_waiters(&m->a), hsema_nr_waiters(&m->b));

	/* A wake-up on B; the duplicate of A is waited on once. */
	m->n = 3;
	ACHECK(any_start(m), "the waiter did not queue on both");
	hsema_release(&m->b, 1);
	wait_for_completion(&m->waiter_done);
	ACHECK(m->waiter_ret == 1, "woken on B: %d", m->waiter_ret);

	/* Back to back: one unit taken, the other left in its word. */
	m->n = 2;
	ACHECK(any_start(m), "the waiter did not queue on both");
	hsema_release(&m->a, 1);
	hsema_release(&m->b, 1);
	wait_for_completion(&m->waiter_done);
	ACHECK(m->waiter_ret == 0 || m->waiter_ret == 1, "back to back: %d",
	       m->waiter_ret);
	ACHECK(hsema_value(&m->a) + hsema_value(&m->b) == 1,
	       "back to back: %u + %u units left, not 1",
	       hsema_value(&m->a), hsema_value(&m->b));
	while (hsema_try_acquire(&m->a) || hsema_try_acquire(&m->b))
		;

	/* A starvation grant on A: the handoff release grants directly. */
	ACHECK(any_start(m), "the waiter did not queue on both");
	ACHECK(hsema_release_handoff(&m->a) == 0, "handoff refused");
	wait_for_completion(&m->waiter_done);
	ACHECK(m->waiter_ret == 0, "granted on A: %d", m->waiter_ret);
	ACHECK(!hsema_value(&m->a) && !hsema_nr_waiters(&m->a) &&
	       !hsema_nr_waiters(&m->b),
	       "after the grant: value %u, waiters %u %u",
	       hsema_value(&m->a), hsema_nr_waiters(&m->a),
	       hsema_nr_waiters(&m->b));

	ACHECK(hsema_destroy(&m->a) == 0 && hsema_destroy(&m->b) == 0,
	       "destroy refused");
	kfree(m);
	return ok;
#undef ACHECK
}

static int __init test_hsema_init(void)
{
	int c, failed = 0;
	bool ok;

	tc = kzalloc(sizeof(*tc), GFP_KERNEL);
	if (!tc)
		return -ENOMEM;

	pr_info("KTAP version 1\n");
	pr_info("1..%d\n", CTX_NR + 3);
	for (c = 0; c < CTX_NR; c++) {
		bool ok = run_case(tc, c);

		pr_info("%sok %d %s\n", ok ? "" : "not ", c + 1, ctx_name[c]);
		failed += !ok;
	}
	ok = run_destroy_case();
	pr_info("%sok %d destroy_waits_for_granted_waiter\n", ok ? "" : "not ",
		CTX_NR + 1);
	failed += !ok;
	ok = run_max_case();
	pr_info("%sok %d max_bounds_releases\n", ok ? "" : "not ", CTX_NR + 2);
	failed += !ok;
	ok = run_any_case();
	pr_info("%sok %d acquire_any\n", ok ? "" : "not ", CTX_NR + 3);
	failed += !ok;
	pr_info("# test_hsema: %d passed, %d failed\n", CTX_NR + 3 - failed,
		failed);
	kfree(tc);
	return failed ? -EINVAL : 0;
}

static void __exit test_hsema_exit(void)
{
}

module_init(test_hsema_init);
module_exit(test_hsema_exit);

MODULE_DESCRIPTION("hsema: the handoff refusal matrix, destroy, the maximum and acquire_any");
MODULE_LICENSE("GPL");
