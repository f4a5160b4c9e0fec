// SPDX-License-Identifier: GPL-2.0-only
/*
 * Semaphores with a maximum count (sema_init_max(), HSEMA_WAKE_MAX): a
 * release that would make more than the maximum, counting the units in
 * the value and those the release brings whether it adds them or grants
 * them to waiters, fails with EOVERFLOW and changes nothing:
 *
 * - bad arguments: a maximum of 0 or above SEMA_VALUE_MAX, a value above
 *   the maximum (EINVAL, nothing initialized);
 * - the fast path (nobody waits): release, release_n and the handoff
 *   release stop at the maximum, the value is unchanged;
 * - a waiter queued, normal mode: the release publishes in userspace and
 *   checks there; nothing is woken by a refused release;
 * - the kernel's check (a release the kernel adds or grants, as in
 *   starvation mode or from code without the published release): WAKE
 *   with HSEMA_WAKE_MAX refuses past @max, grants and wakes nothing;
 *   within it, grants the head and adds the rest;
 * - bad WAKE arguments: HSEMA_WAKE_MAX with @max 0 or above
 *   HSEMA_VALUE_MAX, @max without the flag, the reserved words (EINVAL).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/ioctl.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

FIXTURE(max) {
	int fd;
	sema_t s;
	struct waiter w[2];
	int nw;
};

FIXTURE_SETUP(max)
{
	struct hsema_version v;

	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	memset(&v, 0, sizeof(v));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_VERSION, &v));
	ASSERT_NE(0, v.features & HSEMA_FEAT_MAX);
}

FIXTURE_TEARDOWN(max)
{
	int i;

	for (i = 0; i < self->nw; i++)
		if (!atomic_load(&self->w[i].done))
			hsema_raw_wake(self->fd, &self->s, 1, 0, &(struct hsema_wake){ 0 });
	for (i = 0; i < self->nw; i++)
		waiter_join(&self->w[i]);
	if (self->fd >= 0)
		close(self->fd);
}

/* Queue @n waiters (acquire), in order. */
static int queue_waiters(FIXTURE_DATA(max) *self, int n)
{
	struct hsema_query q;
	int ret;

	while (self->nw < n) {
		waiter_init(&self->w[self->nw], &self->s, self->nw, NULL);
		ret = waiter_start(&self->w[self->nw]);
		if (ret)
			return ret;
		self->nw++;
		ret = hsema_wait_queued(self->fd, &self->s, 0, self->nw, &q);
		if (ret)
			return ret;
	}
	return 0;
}

TEST_F(max, bad_arguments)
{
	memset(&self->s, 0xa5, sizeof(self->s));
	EXPECT_EQ(-EINVAL, sema_init_max(&self->s, 0, 0, 0));
	EXPECT_EQ(-EINVAL, sema_init_max(&self->s, 0, SEMA_VALUE_MAX + 1, 0));
	EXPECT_EQ(-EINVAL, sema_init_max(&self->s, 3, 2, 0));
	EXPECT_EQ(-EINVAL, sema_init_max(&self->s, 0, 2, 0x100));
	EXPECT_EQ(-EINVAL, sema_init_max(NULL, 0, 2, 0));
	/* Nothing was initialized: the semaphore is still unusable. */
	EXPECT_EQ(-EINVAL, sema_release(&self->s));
	EXPECT_EQ(0, sema_init_max(&self->s, 2, 2, 0));
	EXPECT_EQ(0, sema_init_max(&self->s, 0, SEMA_VALUE_MAX, SEMA_SHARED));
	EXPECT_EQ(0, sema_destroy(&self->s));
}

TEST_F(max, fast_path_stops_at_max)
{
	unsigned int v;

	ASSERT_EQ(0, sema_init_max(&self->s, 1, 3, 0));
	EXPECT_EQ(-EOVERFLOW, sema_release_n(&self->s, 3));
	EXPECT_EQ(0, sema_release(&self->s));
	EXPECT_EQ(0, sema_release(&self->s));
	EXPECT_EQ(-EOVERFLOW, sema_release(&self->s));
	EXPECT_EQ(-EOVERFLOW, sema_release_n(&self->s, 1));
	EXPECT_EQ(-EOVERFLOW, sema_release_handoff(&self->s));
	ASSERT_EQ(0, sema_getvalue(&self->s, &v));
	EXPECT_EQ(3, v);
	EXPECT_EQ(3, hsema_word(&self->s));
	EXPECT_EQ(0, sema_tryacquire(&self->s));
	EXPECT_EQ(0, sema_release_handoff(&self->s));
	EXPECT_EQ(3, hsema_word(&self->s));
	EXPECT_EQ(0, sema_destroy(&self->s));
}

/* A binary semaphore: its second release is an error, not a unit. */
TEST_F(max, binary_semaphore)
{
	ASSERT_EQ(0, sema_init_max(&self->s, 1, 1, 0));
	EXPECT_EQ(0, sema_acquire(&self->s));
	EXPECT_EQ(0, sema_release(&self->s));
	EXPECT_EQ(-EOVERFLOW, sema_release(&self->s));
	EXPECT_EQ(1, hsema_word(&self->s));
	EXPECT_EQ(0, sema_destroy(&self->s));
}

/*
 * One waiter queued, normal mode: release_n(3) at max 2 is refused in
 * userspace (the value plus the units, which would wake the waiter and
 * stay in the word), nobody is woken; release_n(2) wakes the waiter,
 * which takes one, and one stays.
 */
TEST_F(max, waiters_normal_mode)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;

	ASSERT_EQ(0, sema_init_max(&self->s, 0, 2, 0));
	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_NO_STARVE_US));
	ASSERT_EQ(0, queue_waiters(self, 1));
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	EXPECT_EQ(-EOVERFLOW, sema_release_n(&self->s, 3));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(0, st1.wakes - st0.wakes);
	EXPECT_EQ(0, st1.grants - st0.grants);
	EXPECT_EQ(HSEMA_WAITERS, hsema_word(&self->s));
	ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
	EXPECT_EQ(1, q.nr_waiters);

	EXPECT_EQ(0, sema_release_n(&self->s, 2));
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	EXPECT_EQ(0, self->w[0].ret);
	EXPECT_EQ(1, hsema_word(&self->s));
}

/*
 * The kernel's check, through WAKE without HSEMA_WAKE_PUBLISHED (as a
 * starving release, or code that predates the published release, makes
 * it): two waiters, max 2, value 0.  3 units are refused and nothing is
 * granted or woken; 2 units reach both waiters; with the starvation
 * threshold passed, they are granted.
 */
TEST_F(max, kernel_checks_granted_and_added)
{
	struct hsema_query q;
	struct hsema_wake k;
	int i;

	ASSERT_EQ(0, sema_init_max(&self->s, 0, 2, 0));
	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_ALWAYS_STARVE_US));
	ASSERT_EQ(0, queue_waiters(self, 2));

	memset(&k, 0, sizeof(k));
	k.uaddr = hsema_uaddr(&self->s);
	k.count = 3;
	k.flags = HSEMA_WAKE_MAX;
	k.max = 2;
	EXPECT_EQ(-1, ioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(EOVERFLOW, errno);
	ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
	EXPECT_EQ(2, q.nr_waiters);
	EXPECT_EQ(0, q.nr_woken);
	EXPECT_EQ(HSEMA_WAITERS, hsema_word(&self->s));

	k.count = 2;
	k.granted = k.woken = 0;
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_WAKE, &k)) TH_LOG("%m");
	EXPECT_EQ(2, k.granted + k.woken);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, waiter_wait_done(&self->w[i]));
		EXPECT_EQ(0, self->w[i].ret);
	}
	EXPECT_EQ(0, hsema_word(&self->s));
}

/* WAKE's new field: every bad combination is refused, nothing released. */
TEST_F(max, wake_bad_max)
{
	static const struct { __u32 flags, max, r0; __u64 r1; } bad[] = {
		{ HSEMA_WAKE_MAX, 0, 0, 0 },
		{ HSEMA_WAKE_MAX, HSEMA_VALUE_MAX + 1, 0, 0 },
		{ HSEMA_WAKE_MAX, 0xffffffffU, 0, 0 },
		{ 0, 5, 0, 0 },
		{ HSEMA_WAKE_MAX, 5, 1, 0 },
		{ HSEMA_WAKE_MAX, 5, 0, 1 },
		{ 0, 0, 1, 0 },
		{ 0, 0, 0, 1ULL << 63 },
	};
	struct hsema_wake k;
	unsigned int i;

	ASSERT_EQ(0, sema_init(&self->s, 0, 0));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&k, 0, sizeof(k));
		k.uaddr = hsema_uaddr(&self->s);
		k.count = 1;
		k.flags = bad[i].flags;
		k.max = bad[i].max;
		k.reserved0 = bad[i].r0;
		k.reserved1 = bad[i].r1;
		EXPECT_EQ(-1, ioctl(self->fd, HSEMA_IOC_WAKE, &k))
			TH_LOG("case %u accepted", i);
		EXPECT_EQ(EINVAL, errno) TH_LOG("case %u", i);
	}
	EXPECT_EQ(0, hsema_word(&self->s));
	/* A good one, to show the cases failed for their field alone. */
	k.flags = HSEMA_WAKE_MAX;
	k.max = 1;
	k.reserved0 = 0;
	k.reserved1 = 0;
	EXPECT_EQ(0, ioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(1, hsema_word(&self->s));
	EXPECT_EQ(-1, ioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(1, hsema_word(&self->s));
}

TEST_HARNESS_MAIN
