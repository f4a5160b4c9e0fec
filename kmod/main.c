// SPDX-License-Identifier: GPL-2.0-only
/*
 * hsema: the /dev/hsema character device and its ioctl interface.
 *
 * The device has no per-open state: semaphores are user words, and the
 * file is only the door to the wait queues.  An open file pins the module
 * (fops.owner), so the module cannot be unloaded while anyone could wait.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/nsproxy.h>
#include <linux/slab.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/time64.h>
#include <linux/time_namespace.h>
#include <linux/uaccess.h>

#include "hsema.h"

module_param_named(starve_ns, hsema_default_starve_ns, ulong, 0644);
MODULE_PARM_DESC(starve_ns,
		 "How long the head waiter may wait before the semaphore starves, in ns (default 1 ms)");
module_param_named(spin_max_ns, hsema_spin_max_ns, ulong, 0644);
MODULE_PARM_DESC(spin_max_ns,
		 "How long a waiter may spin for a grant or a unit, in ns (default 250 us, 0: never, at most 1 s)");

#define HSEMA_FEATURES (HSEMA_FEAT_SHARED | HSEMA_FEAT_TIMEOUT | \
			HSEMA_FEAT_HANDOFF | HSEMA_FEAT_STARVATION | \
			HSEMA_FEAT_QUERY | HSEMA_FEAT_STATS | \
			HSEMA_FEAT_PUBLISHED | HSEMA_FEAT_WOKEN | \
			HSEMA_FEAT_WAIT_EINTR | HSEMA_FEAT_WAIT_OWNED | \
			HSEMA_FEAT_MAX | HSEMA_FEAT_WAIT_ANY)

static bool hsema_reserved_zero(const __u64 *r, size_t n)
{
	while (n--)
		if (r[n])
			return false;
	return true;
}

static long hsema_ioc_version(void __user *arg)
{
	struct hsema_version v = {
		.abi_version = HSEMA_ABI_VERSION,
		.features = HSEMA_FEATURES,
	};

	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

/*
 * A CLOCK_MONOTONIC deadline as the host's clock reads it.  A process in a
 * time namespace reads its monotonic clock shifted by the namespace's
 * offset and computes its deadline from that; futex takes the offset out
 * with timens_ktime_to_host(), whose helper modules cannot call, so the
 * same arithmetic is done here: a deadline before the offset has passed.
 */
static ktime_t hsema_deadline_to_host(ktime_t tim)
{
#ifdef CONFIG_TIME_NS
	struct time_namespace *ns = current->nsproxy->time_ns;
	ktime_t offset = timespec64_to_ktime(ns->offsets.monotonic);

	if (likely(!offset))
		return tim;
	if (tim < offset)
		return 0;
	tim = ktime_sub(tim, offset);
	if (unlikely(tim < 0))
		return KTIME_MAX;
#endif
	return tim;
}

/*
 * A wait's deadline from its HSEMA_WAIT_TIMEOUT and HSEMA_WAIT_REALTIME
 * flags: *@deadline is NULL without one, else @abs, the absolute deadline
 * as the host's clock reads it.  -EINVAL for a clock without a deadline
 * or a deadline out of range.
 */
static int hsema_deadline(u32 flags, s64 sec, s64 nsec, ktime_t *abs,
			  const ktime_t **deadline)
{
	struct timespec64 ts;

	*deadline = NULL;
	if (!(flags & HSEMA_WAIT_TIMEOUT))
		return (flags & HSEMA_WAIT_REALTIME) ? -EINVAL : 0;
	if (sec < 0 || nsec < 0 || nsec >= NSEC_PER_SEC)
		return -EINVAL;
	ts.tv_sec = sec;
	ts.tv_nsec = nsec;
	*abs = timespec64_to_ktime(ts);
	/* CLOCK_REALTIME is the same in every time namespace. */
	if (!(flags & HSEMA_WAIT_REALTIME))
		*abs = hsema_deadline_to_host(*abs);
	*deadline = abs;
	return 0;
}

/*
 * HSEMA_WAIT_OWNED: the caller learns from memory, not from the return
 * value, whether it owns a unit, because a signal handler that runs on
 * the way out (asynchronous thread cancellation) may never let it see the
 * return value.  1 is stored before the return, so before any handler.
 * If it cannot be stored, nobody would know of the unit: release it again.
 */
static long hsema_wait_owned(const struct hsema_wait *a, u32 __user *owned,
			     const ktime_t *deadline)
{
	u32 __user *uaddr = u64_to_user_ptr(a->uaddr);
	long ret;

	if (put_user(0U, owned))
		return -EFAULT;
	ret = hsema_wait(uaddr, a->flags, deadline, a->starve_ns);
	if (ret || !put_user(1U, owned))
		return ret;
	ret = hsema_wake(uaddr, a->flags & HSEMA_F_SHARED, 1, HSEMA_VALUE_MAX,
			 false, NULL);
	if (ret)
		pr_debug("WAIT could neither report its unit nor release it: %ld\n",
			 ret);
	return -EFAULT;
}

static long hsema_ioc_wait(void __user *arg)
{
	const ktime_t *deadline;
	u32 __user *owned = NULL;
	struct hsema_wait a;
	ktime_t abs;
	long ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~HSEMA_WAIT_FLAGS) || a.pad || a.reserved1)
		return -EINVAL;
	if (a.flags & HSEMA_WAIT_OWNED) {
		if (!a.owned || !IS_ALIGNED(a.owned, sizeof(u32)))
			return -EINVAL;
		owned = u64_to_user_ptr(a.owned);
	} else if (a.owned) {
		return -EINVAL;
	}
	ret = hsema_deadline(a.flags, a.deadline_sec, a.deadline_nsec, &abs,
			     &deadline);
	if (ret)
		return ret;

	if (owned)
		ret = hsema_wait_owned(&a, owned, deadline);
	else
		ret = hsema_wait(u64_to_user_ptr(a.uaddr), a.flags, deadline,
				 a.starve_ns);
	/*
	 * The waiter has left the queue.  -ERESTARTNOHAND instead of
	 * -ERESTARTSYS: a handler that ran makes it EINTR whatever
	 * SA_RESTART says; a stop without a handler restarts the call.
	 */
	if (ret == -ERESTARTSYS && (a.flags & HSEMA_WAIT_EINTR))
		ret = -ERESTARTNOHAND;
	return ret;
}

/*
 * The entries are copied in before anything is looked at, so a caller
 * that changes them meanwhile changes nothing the wait relies on.
 */
static long hsema_ioc_wait_any(void __user *arg)
{
	const ktime_t *deadline;
	struct hsema_any_entry *e;
	struct hsema_wait_any a;
	unsigned int i, j;
	ktime_t abs;
	long ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~HSEMA_WAIT_ANY_FLAGS) ||
	    !hsema_reserved_zero(a.reserved, ARRAY_SIZE(a.reserved)))
		return -EINVAL;
	if (!a.count || a.count > HSEMA_ANY_MAX)
		return -EINVAL;
	ret = hsema_deadline(a.flags, a.deadline_sec, a.deadline_nsec, &abs,
			     &deadline);
	if (ret)
		return ret;
	e = memdup_user(u64_to_user_ptr(a.entries), a.count * sizeof(*e));
	if (IS_ERR(e))
		return PTR_ERR(e);
	for (i = 0; i < a.count; i++) {
		if ((e[i].flags & ~HSEMA_ANY_ENTRY_FLAGS) || e[i].pad)
			goto inval;
		/*
		 * An address named shared and private would have two keys,
		 * and two queues would write its bits, each for its own
		 * waiters.
		 */
		for (j = 0; j < i; j++)
			if (e[j].uaddr == e[i].uaddr &&
			    ((e[j].flags ^ e[i].flags) & HSEMA_F_SHARED))
				goto inval;
	}
	ret = hsema_wait_any(e, a.count, a.flags, deadline);
	kfree(e);
	/* As for HSEMA_IOC_WAIT: every waiter has left its queue. */
	if (ret == -ERESTARTSYS && (a.flags & HSEMA_WAIT_EINTR))
		ret = -ERESTARTNOHAND;
	return ret;
inval:
	kfree(e);
	return -EINVAL;
}

static long hsema_ioc_wake(void __user *arg)
{
	struct hsema_wake a;
	u32 max = HSEMA_VALUE_MAX;
	long ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~HSEMA_WAKE_FLAGS) || a.granted || a.woken ||
	    a.reserved0 || a.reserved1)
		return -EINVAL;
	if (!a.count || a.count > HSEMA_VALUE_MAX)
		return -EINVAL;
	if (a.flags & HSEMA_WAKE_MAX) {
		if (!a.max || a.max > HSEMA_VALUE_MAX)
			return -EINVAL;
		max = a.max;
	} else if (a.max) {
		return -EINVAL;
	}
	/* A handoff grants the units it brings; published ones are taken. */
	if ((a.flags & HSEMA_WAKE_HANDOFF) && (a.flags & HSEMA_WAKE_PUBLISHED))
		return -EINVAL;
	/*
	 * An argument that cannot take the answer fails before anything is
	 * released.  Once the units are released the call has succeeded: if
	 * the answer cannot be written back now (another thread unmapped the
	 * argument meanwhile), it is lost, never the release.  A caller told
	 * -EFAULT could retry and release twice.
	 */
	if (copy_to_user(arg, &a, sizeof(a)))
		return -EFAULT;
	ret = hsema_wake(u64_to_user_ptr(a.uaddr), a.flags, a.count, max, true,
			 &a);
	if (ret)
		return ret;
	if (copy_to_user(arg, &a, sizeof(a)))
		pr_debug("WAKE released, its answer could not be written\n");
	return 0;
}

static long hsema_ioc_query(void __user *arg)
{
	struct hsema_query a, out = { };
	long ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~HSEMA_QUERY_FLAGS) ||
	    !hsema_reserved_zero(a.reserved, ARRAY_SIZE(a.reserved)))
		return -EINVAL;
	out.uaddr = a.uaddr;
	out.flags = a.flags;
	ret = hsema_query(u64_to_user_ptr(a.uaddr), a.flags, &out);
	if (ret)
		return ret;
	return copy_to_user(arg, &out, sizeof(out)) ? -EFAULT : 0;
}

/*
 * The module-wide counters sum up every user's semaphores (how often they
 * wait, how long at most): who may read them is who may read the
 * system-wide perf counters.
 */
static long hsema_ioc_stats(void __user *arg)
{
	struct hsema_stats s;

	if (!perfmon_capable())
		return -EPERM;
	hsema_stats_read(&s);
	return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : 0;
}

static long hsema_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case HSEMA_IOC_VERSION:
		return hsema_ioc_version(uarg);
	case HSEMA_IOC_WAIT:
		return hsema_ioc_wait(uarg);
	case HSEMA_IOC_WAKE:
		return hsema_ioc_wake(uarg);
	case HSEMA_IOC_QUERY:
		return hsema_ioc_query(uarg);
	case HSEMA_IOC_STATS:
		return hsema_ioc_stats(uarg);
	case HSEMA_IOC_WAIT_ANY:
		return hsema_ioc_wait_any(uarg);
	default:
		return -ENOTTY;
	}
}

/*
 * Every structure has the same layout for 32- and 64-bit processes and
 * carries user pointers as __u64, so compat only has to convert @arg.
 */
static const struct file_operations hsema_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= hsema_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice hsema_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "hsema",
	.fops	= &hsema_fops,
	.mode	= 0666,
};

static int __init hsema_module_init(void)
{
	int ret;

	ret = hsema_queues_init();
	if (ret)
		return ret;
	ret = misc_register(&hsema_misc);
	if (ret) {
		hsema_queues_exit();
		return ret;
	}
	hsema_debugfs_init();
	return 0;
}

static void __exit hsema_module_exit(void)
{
	hsema_debugfs_exit();
	misc_deregister(&hsema_misc);
	hsema_queues_exit();
}

module_init(hsema_module_init);
module_exit(hsema_module_exit);

MODULE_DESCRIPTION("Futex-like FIFO counting semaphores with starvation handoff");
MODULE_LICENSE("GPL");
