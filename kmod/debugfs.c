// SPDX-License-Identifier: GPL-2.0-only
/*
 * debugfs: /sys/kernel/debug/hsema/{stats,queues}, read by hsemastat.
 * The format is documented in Documentation/hsema.rst ("Statistics").
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/timekeeping.h>

#include "hsema.h"

static struct dentry *hsema_debugfs;

static const char *const hsema_refusal_names[HSEMA_REFUSE_NR] = {
	[HSEMA_REFUSE_NMI]		= "nmi",
	[HSEMA_REFUSE_HARDIRQ]		= "hardirq",
	[HSEMA_REFUSE_SOFTIRQ]		= "softirq",
	[HSEMA_REFUSE_IRQS_OFF]		= "irqs_off",
	[HSEMA_REFUSE_PREEMPT_OFF]	= "preempt_off",
	[HSEMA_REFUSE_RCU]		= "rcu",
	[HSEMA_REFUSE_MIGRATE_OFF]	= "migrate_off",
};

/* One "name value" line per counter. */
static int stats_show(struct seq_file *m, void *v)
{
	struct hsema_stats s;
	int i;

	hsema_stats_read(&s);
	seq_printf(m, "waits %llu\n", s.waits);
	seq_printf(m, "slow_acquires %llu\n", s.slow_acquires);
	seq_printf(m, "wakes %llu\n", s.wakes);
	seq_printf(m, "grants %llu\n", s.grants);
	seq_printf(m, "requeues %llu\n", s.requeues);
	seq_printf(m, "handoffs %llu\n", s.handoffs);
	seq_printf(m, "yields %llu\n", s.yields);
	seq_printf(m, "starve_enter %llu\n", s.starve_enter);
	seq_printf(m, "starve_exit %llu\n", s.starve_exit);
	seq_printf(m, "timeouts %llu\n", s.timeouts);
	seq_printf(m, "interrupts %llu\n", s.interrupts);
	seq_printf(m, "passed_on %llu\n", s.passed_on);
	seq_printf(m, "spin_wakes %llu\n", s.spin_wakes);
	seq_printf(m, "spin_grants %llu\n", s.spin_grants);
	seq_printf(m, "woken_spins %llu\n", s.woken_spins);
	seq_printf(m, "max_wait_ns %llu\n", s.max_wait_ns);
	for (i = 0; i < HSEMA_REFUSE_NR; i++)
		seq_printf(m, "refused_%s %llu\n", hsema_refusal_names[i],
			   s.refused[i]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/*
 * One line per user-word queue with waiters, after a header line naming
 * the columns.  Kernel semaphores are not hashed and not listed.  The key's
 * object is printed hashed (%p), as everywhere in the kernel.
 */
static int queues_show(struct seq_file *m, void *v)
{
	unsigned long i;
	struct hsema_queue *q;
	u64 now;

	seq_puts(m, "key shared waiters woken starving head_ticket head_wait_ns waits slow_acquires wakes grants requeues timeouts interrupts starve_enter starve_exit max_wait_ns\n");
	for (i = 0; i < hsema_nr_buckets(); i++) {
		struct hsema_bucket *b = hsema_bucket_nr(i);

		if (hlist_empty(&b->queues))
			continue;
		spin_lock(&b->lock);
		now = ktime_get_ns();
		hlist_for_each_entry(q, &b->queues, node) {
			const struct hsema_waiter *head =
				list_first_entry(&q->waiters,
						 struct hsema_waiter, node);

			seq_printf(m, "%p:%llx %d %u %u %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu\n",
				   q->key.obj, q->key.off,
				   q->key.shared, q->nr_waiters, q->nr_woken,
				   q->starving, head->ticket,
				   now - head->queued_ns, q->stats.waits,
				   q->stats.slow_acquires, q->stats.wakes,
				   q->stats.grants, q->stats.requeues,
				   q->stats.timeouts, q->stats.interrupts,
				   q->stats.starve_enter, q->stats.starve_exit,
				   q->stats.max_wait_ns);
		}
		spin_unlock(&b->lock);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(queues);

void hsema_debugfs_init(void)
{
	hsema_debugfs = debugfs_create_dir("hsema", NULL);
	/* Root only, as HSEMA_IOC_STATS needs CAP_PERFMON: see main.c. */
	debugfs_create_file("stats", 0400, hsema_debugfs, NULL, &stats_fops);
	debugfs_create_file("queues", 0400, hsema_debugfs, NULL, &queues_fops);
	/* For the selftests: see word_inject() in waitwake.c. */
	debugfs_create_atomic_t("inject_eagain", 0600, hsema_debugfs,
				&hsema_inject_eagain);
	debugfs_create_atomic_t("inject_efault", 0600, hsema_debugfs,
				&hsema_inject_efault);
	debugfs_create_atomic_t("inject_changed", 0600, hsema_debugfs,
				&hsema_inject_changed);
}

void hsema_debugfs_exit(void)
{
	debugfs_remove(hsema_debugfs);
}
