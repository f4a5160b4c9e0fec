// SPDX-License-Identifier: GPL-2.0-only
/*
 * A WAKE that released reports success.
 *
 * WAKE writes granted and woken back to its argument after the release.
 * If that write fails (another thread unmapped the argument meanwhile),
 * the release has still happened, and a caller told -EFAULT would retry
 * and release twice.  The rule (Documentation/hsema.rst, "Interface"): a
 * WAKE that released returns 0; the output is then written if it can be.
 *
 * The scene makes the unmap land inside the call: releaser and waiter on
 * one CPU, WAKE with HSEMA_WAKE_HANDOFF grants the waiter and gives it the
 * CPU (or the wake-up preempts the releaser), the waiter returns from its
 * WAIT and unmaps the releaser's argument page before the releaser writes
 * its answer.  Each round checks that the unit moved exactly once.
 *
 * The waiter is a new thread each round, and CFS (6.1) starts a new thread
 * a slice behind: the yield would pass it over.  The releaser therefore
 * runs alone for a while before it releases, so that the sleeping waiter
 * wakes with the sleeper's credit and is the task CFS picks next, as a
 * waiter that has waited would be.  EEVDF (6.6 and later) needs no help.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

#define ROUNDS	40
/* Twice 6.1's default latency period on 8 CPUs and more (6 ms x 4). */
#define SOLO_NS	(48 * 1000 * 1000LL)

struct round {
	int fd;
	sema_t sem;
	struct hsema_wake *arg;		/* alone in its page */
	int cpu;
	atomic_int queued_ret;		/* the waiter's WAIT: 1 + result */
	atomic_int unmapped;
};

static void *waiter(void *p)
{
	struct round *r = p;
	struct hsema_wait a = {
		.uaddr = hsema_uaddr(&r->sem),
		/* Normal mode throughout: the grant comes from the handoff. */
		.starve_ns = 10ULL * 1000000000ULL,
	};
	int ret;

	pin_self(r->cpu);
	ret = ioctl(r->fd, HSEMA_IOC_WAIT, &a) ? -errno : 0;
	if (!ret && !munmap(r->arg, 4096))
		atomic_store(&r->unmapped, 1);
	atomic_store(&r->queued_ret, 1 + ret);
	return NULL;
}

TEST(wake_reports_release_after_argument_unmapped)
{
	int raced = 0, i, fd = hsema_open();

	if (fd < 0)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	for (i = 0; i < ROUNDS; i++) {
		struct round r = { .fd = fd, .cpu = first_allowed_cpu() };
		pthread_t t;
		int ret, err;

		ASSERT_EQ(0, pin_self(r.cpu));
		r.arg = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, r.arg);
		ASSERT_EQ(0, pthread_create(&t, NULL, waiter, &r));
		ASSERT_EQ(0, hsema_wait_queued(fd, &r.sem, 0, 1, NULL));
		spin_ns(SOLO_NS);

		r.arg->uaddr = hsema_uaddr(&r.sem);
		r.arg->count = 1;
		r.arg->flags = HSEMA_WAKE_HANDOFF;
		ret = ioctl(fd, HSEMA_IOC_WAKE, r.arg);
		err = errno;
		raced += atomic_load(&r.unmapped);
		pthread_join(t, NULL);

		EXPECT_EQ(1, atomic_load(&r.queued_ret))
			TH_LOG("round %d: the waiter's WAIT returned %d", i,
			       atomic_load(&r.queued_ret) - 1);
		EXPECT_EQ(0, ret)
			TH_LOG("round %d: WAKE released the unit (the waiter has it) but returned -1/%d%s",
			       i, err, atomic_load(&r.unmapped) ?
			       " after its argument was unmapped" : "");
		EXPECT_EQ(0, hsema_word(&r.sem))
			TH_LOG("round %d: word %#x: the unit did not move exactly once",
			       i, hsema_word(&r.sem));
		if (!atomic_load(&r.unmapped))
			munmap(r.arg, 4096);
	}
	TH_LOG("the unmap landed inside the WAKE in %d of %d rounds", raced, ROUNDS);
	/* The scene must have happened for the rule to have been tested. */
	EXPECT_LT(0, raced);
}

TEST_HARNESS_MAIN
