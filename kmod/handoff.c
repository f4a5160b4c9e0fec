// SPDX-License-Identifier: GPL-2.0-only
/*
 * Directed CPU handoff after a grant.
 *
 * A releaser that granted a unit to a waiter may give its CPU to that
 * waiter, so that the waiter runs next and inherits the releaser's time
 * slice instead of waiting its turn on a runqueue while a busy releaser
 * re-acquires and starves it again (Go's semrelease, golang/go#33747).
 *
 * Giving the CPU away means entering the scheduler, which is only allowed
 * where the releaser could sleep.  Go learned this the hard way: its
 * semrelease yielded from the system stack and with runtime locks held
 * (golang/go#73469).  The grant and the wake-up are always safe; the yield
 * is refused, and only counted, wherever scheduling is not.
 */
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>

#include "hsema.h"
#include "trace.h"

/*
 * Returns why the current context must not yield, or -1 if it may.
 * Without CONFIG_PREEMPT_COUNT the preempt count does not count spinlocks,
 * so a held lock cannot be seen: such a kernel never yields.
 */
int hsema_yield_refusal(void)
{
	if (!IS_ENABLED(CONFIG_PREEMPT_COUNT))
		return HSEMA_REFUSE_PREEMPT_OFF;
	if (in_nmi())
		return HSEMA_REFUSE_NMI;
	if (in_hardirq())
		return HSEMA_REFUSE_HARDIRQ;
	/* Serving a softirq, or bottom halves disabled. */
	if (softirq_count())
		return HSEMA_REFUSE_SOFTIRQ;
	if (irqs_disabled())
		return HSEMA_REFUSE_IRQS_OFF;
	/* preempt_disable(), or a spinlock held on !PREEMPT_RT. */
	if (preempt_count())
		return HSEMA_REFUSE_PREEMPT_OFF;
#ifdef CONFIG_SMP
	/*
	 * A spinlock held on PREEMPT_RT disables migration (and enters RCU).
	 * A uniprocessor kernel has no migration to disable, and no field.
	 */
	if (current->migration_disabled)
		return HSEMA_REFUSE_MIGRATE_OFF;
#endif
	if (rcu_preempt_depth())
		return HSEMA_REFUSE_RCU;
	return -1;
}

/* Give the CPU to @p, which was just granted a unit and woken. */
void hsema_directed_yield(struct task_struct *p)
{
	int reason = hsema_yield_refusal();

	bool yielded;

	if (reason >= 0) {
		hsema_stat_inc(refused[reason]);
		trace_hsema_handoff(p, reason, false);
		return;
	}
	hsema_stat_inc(handoffs);
	/*
	 * yield_to() marks @p the next task to pick on its runqueue (its
	 * "next buddy") and yields: under EEVDF (6.6 and later) the yield
	 * moves our deadline past our current slice, so @p, which is eligible
	 * and picked first, runs next; under CFS (6.1) we are marked to be
	 * skipped instead, and @p runs next unless its vruntime is more than
	 * a wake-up granularity ahead of ours: a waiter that slept wakes with
	 * the sleeper's credit, but a thread created an instant ago still
	 * carries the debit of its first slice.
	 * It declines (returns 0) when @p is running already or is of
	 * another scheduling class: the handoff then happened without us.
	 */
	yielded = yield_to(p, true) > 0;
	if (yielded)
		hsema_stat_inc(yields);
	trace_hsema_handoff(p, -1, yielded);
}
