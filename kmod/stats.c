// SPDX-License-Identifier: GPL-2.0-only
/*
 * Module-wide counters: per-CPU, so that counting adds no shared cache
 * line to the slow paths; summed when read.
 */
#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/export.h>
#include <linux/string.h>

#include "hsema.h"

DEFINE_PER_CPU(struct hsema_pcpu_stats, hsema_stats);
static atomic64_t hsema_max_wait_ns = ATOMIC64_INIT(0);

/* A waiter leaves the queue with a unit after waiting @ns. */
void hsema_stat_wait_time(struct hsema_queue *q, u64 ns)
{
	s64 cur = atomic64_read(&hsema_max_wait_ns);

	if (ns > q->stats.max_wait_ns)
		q->stats.max_wait_ns = ns;

	while ((s64)ns > cur &&
	       !atomic64_try_cmpxchg(&hsema_max_wait_ns, &cur, ns))
		;
}

void hsema_stats_read(struct hsema_stats *out)
{
	int cpu, i;

	memset(out, 0, sizeof(*out));
	for_each_possible_cpu(cpu) {
		const struct hsema_pcpu_stats *s = per_cpu_ptr(&hsema_stats, cpu);

		out->waits += s->waits;
		out->slow_acquires += s->slow_acquires;
		out->wakes += s->wakes;
		out->grants += s->grants;
		out->requeues += s->requeues;
		out->handoffs += s->handoffs;
		out->yields += s->yields;
		out->starve_enter += s->starve_enter;
		out->starve_exit += s->starve_exit;
		out->timeouts += s->timeouts;
		out->interrupts += s->interrupts;
		out->passed_on += s->passed_on;
		out->spin_wakes += s->spin_wakes;
		out->spin_grants += s->spin_grants;
		out->woken_spins += s->woken_spins;
		for (i = 0; i < HSEMA_REFUSE_NR; i++)
			out->refused[i] += s->refused[i];
	}
	out->max_wait_ns = atomic64_read(&hsema_max_wait_ns);
}
EXPORT_SYMBOL_GPL(hsema_stats_read);
