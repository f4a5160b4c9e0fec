// SPDX-License-Identifier: GPL-2.0-only
/*
 * The published release (HSEMA_WAKE_PUBLISHED, Documentation/hsema.rst,
 * "Why no wake-up is lost"): in normal mode a release adds its unit to
 * the word itself, although WAITERS is set, and only then asks the kernel
 * to wake for it.  The kernel adds nothing and wakes one sleeper for each
 * unit in the value that no woken waiter claims:
 *
 * - a published unit wakes exactly one sleeper, which takes it;
 * - a published WAKE whose unit is gone (taken by a running thread), or
 *   that claims units it never added, creates no unit; it wakes the
 *   first sleeper if nobody is woken (so that the releases after it can
 *   stay in userspace while that waiter is on its way), which finds the
 *   value at 0 and sleeps again;
 * - a unit that a woken waiter, not yet running, already claims gets no
 *   second wake-up, while a new unit next to it does;
 * - a unit published by a release that never made its call (killed
 *   between its compare-and-swap and the ioctl) is takeable at once, and
 *   the next release wakes for it as well as for its own;
 * - if the head has waited past its threshold, the published WAKE starts
 *   starvation and grants the value's units to the head instead;
 * - sema_release() with a waiter queued wakes it once and adds nothing
 *   twice.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

FIXTURE(pub) {
	int fd;
	sema_t s;
};

FIXTURE_SETUP(pub)
{
	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	ASSERT_EQ(0, sema_init(&self->s, 0, 0));
	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_NO_STARVE_US));
}

FIXTURE_TEARDOWN(pub)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* What userspace's half of a published release does: add, bits kept. */
static void publish(sema_t *s, unsigned int n)
{
	atomic_fetch_add((_Atomic unsigned int *)&s->__word, n);
}

/* HSEMA_IOC_WAKE with HSEMA_WAKE_PUBLISHED; 0 or -errno, *k the answer. */
static int wake_published(int fd, sema_t *s, unsigned int count,
			  struct hsema_wake *k)
{
	return hsema_raw_wake(fd, s, count, HSEMA_WAKE_PUBLISHED, k);
}

/* One published unit, one sleeper: woken once, takes it, the word is 0. */
TEST_F(pub, published_unit_wakes_one)
{
	struct hsema_query q;
	struct hsema_wake k;
	struct waiter w;

	waiter_init(&w, &self->s, 0, NULL);
	ASSERT_EQ(0, waiter_start(&w));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));

	publish(&self->s, 1);
	EXPECT_EQ(HSEMA_WAITERS | 1, hsema_word(&self->s));
	ASSERT_EQ(0, wake_published(self->fd, &self->s, 1, &k));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(1, k.woken);
	ASSERT_EQ(0, waiter_wait_done(&w));
	waiter_join(&w);
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * The unit is gone before the call (a running thread took it), or was
 * never there (a caller that lies): nothing is added.  Nobody was woken,
 * so the first sleeper is, once per call; it competes, finds the value at
 * 0, sleeps again at its place, and stays asleep until a real release.
 */
TEST_F(pub, taken_unit_wakes_head_adds_nothing)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	struct hsema_wake k;
	struct waiter w;

	waiter_init(&w, &self->s, 0, NULL);
	ASSERT_EQ(0, waiter_start(&w));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));

	publish(&self->s, 1);
	ASSERT_EQ(0, sema_tryacquire(&self->s));	/* the barger */
	ASSERT_EQ(0, wake_published(self->fd, &self->s, 1, &k));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(1, k.woken);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	ASSERT_EQ(0, wake_published(self->fd, &self->s, HSEMA_VALUE_MAX, &k));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(1, k.woken);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(2, st1.requeues - st0.requeues);
	EXPECT_EQ(0, st1.slow_acquires - st0.slow_acquires);
	EXPECT_EQ(HSEMA_WAITERS, hsema_word(&self->s));
	msleep(20);
	EXPECT_FALSE(atomic_load(&w.done));

	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&w));
	waiter_join(&w);
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * A woken waiter that has not run yet claims the unit it was woken for:
 * a second published WAKE for that unit wakes nobody; a second unit gets
 * its own sleeper.  A SCHED_FIFO hog on the waiters' CPU keeps them from
 * running until the counts are read.
 */
TEST_F(pub, claimed_unit_no_second_wake)
{
	int cpu0 = nth_allowed_cpu(0), cpu1 = nth_allowed_cpu(1);
	struct waiter a, b;
	struct hsema_query q;
	struct hsema_wake k;
	struct hog hog;
	int ret;

	if (cpu1 < 0)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, pin_self(cpu0));
	waiter_init(&a, &self->s, 0, NULL);
	a.cpu = cpu1;
	ASSERT_EQ(0, waiter_start(&a));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	waiter_init(&b, &self->s, 1, NULL);
	b.cpu = cpu1;
	ASSERT_EQ(0, waiter_start(&b));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 2, &q));

	ret = hog_start(&hog, cpu1, 1, true);
	if (ret == -EPERM)
		SKIP(return, "SCHED_FIFO not permitted");
	ASSERT_EQ(0, ret);

	publish(&self->s, 1);
	ret = wake_published(self->fd, &self->s, 1, &k);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(1, k.woken);
	/* The same unit again: a woken A claims it. */
	ret = wake_published(self->fd, &self->s, 1, &k);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, k.woken) TH_LOG("a second waiter woken for a claimed unit");
	hsema_query(self->fd, &self->s, 0, &q);
	EXPECT_EQ(2, q.nr_waiters);
	EXPECT_EQ(1, q.nr_woken);
	/* A new unit: B is woken for it. */
	publish(&self->s, 1);
	ret = wake_published(self->fd, &self->s, 1, &k);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(1, k.woken);
	hsema_query(self->fd, &self->s, 0, &q);
	EXPECT_FALSE(hog_stop(&hog)) TH_LOG("the hog was not stopped in time");
	EXPECT_EQ(2, q.nr_woken);

	ASSERT_EQ(0, waiter_wait_done(&a));
	ASSERT_EQ(0, waiter_wait_done(&b));
	waiter_join(&a);
	waiter_join(&b);
	EXPECT_EQ(0, a.ret);
	EXPECT_EQ(0, b.ret);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * A release that published and never called (killed in between): its
 * unit is takeable, and the next release wakes for it and for its own.
 */
TEST_F(pub, unannounced_unit_next_release_wakes)
{
	struct waiter w[2];
	struct hsema_query q;
	int i;

	for (i = 0; i < 2; i++) {
		waiter_init(&w[i], &self->s, i, NULL);
		ASSERT_EQ(0, waiter_start(&w[i]));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, i + 1, &q));
	}
	publish(&self->s, 1);		/* ... and the releaser died */
	msleep(20);
	EXPECT_FALSE(atomic_load(&w[0].done));
	EXPECT_EQ(HSEMA_WAITERS | 1, hsema_word(&self->s));

	ASSERT_EQ(0, sema_release(&self->s));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, waiter_wait_done(&w[i])) TH_LOG("waiter %d", i);
		waiter_join(&w[i]);
		EXPECT_EQ(0, w[i].ret);
	}
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * The head waited past its threshold: the published WAKE starves the
 * queue, absorbs the value and grants it to the head, which leaves; the
 * queue is empty again and the word 0.
 */
TEST_F(pub, head_starved_gets_grant)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	struct hsema_wake k;
	struct waiter w;

	waiter_init(&w, &self->s, 0, NULL);
	w.op = W_RAW_WAIT;
	w.rawfd = self->fd;
	w.starve_ns = 1000;		/* 1 us */
	ASSERT_EQ(0, waiter_start(&w));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	msleep(2);

	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	publish(&self->s, 1);
	ASSERT_EQ(0, wake_published(self->fd, &self->s, 1, &k));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, k.granted);
	EXPECT_EQ(0, k.woken);
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(0, hsema_word(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&w));
	waiter_join(&w);
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * sema_release() with a waiter queued, seen from the kernel's counters:
 * one wake-up, no grant, and nothing added twice (release_n(2) with one
 * waiter leaves exactly one unit).  The old release (kernel first) did
 * the same; that the unit is in the word before the call is shown by
 * fault_test's published_release_survives_failed_wake.
 */
TEST_F(pub, sema_release_publishes)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	struct waiter w;

	waiter_init(&w, &self->s, 0, NULL);
	ASSERT_EQ(0, waiter_start(&w));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&w));
	waiter_join(&w);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(1, st1.wakes - st0.wakes);
	EXPECT_EQ(0, st1.grants - st0.grants);
	EXPECT_EQ(0, hsema_word(&self->s));

	/* Two units for one waiter: one taken, one left, nothing created. */
	waiter_init(&w, &self->s, 0, NULL);
	ASSERT_EQ(0, waiter_start(&w));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	ASSERT_EQ(0, sema_release_n(&self->s, 2));
	ASSERT_EQ(0, waiter_wait_done(&w));
	waiter_join(&w);
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(1, hsema_word(&self->s));
}

TEST_HARNESS_MAIN
