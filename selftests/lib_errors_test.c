// SPDX-License-Identifier: GPL-2.0-only
/*
 * libsema's error returns: every function answers bad input with the
 * documented negative errno (-EINVAL, -EAGAIN, -EOVERFLOW, -EBUSY,
 * -ETIMEDOUT, -ENODEV), never crashes, and never changes the semaphore or
 * loses a unit when it refuses.  Each test runs on a private semaphore and
 * on a SEMA_SHARED one in MAP_SHARED memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>
#include <sema.h>

#include "kselftest_harness.h"

#define NSEC	1000000000L

static uint32_t word_of(sema_t *s)
{
	return __atomic_load_n(&s->__word, __ATOMIC_SEQ_CST);
}

static unsigned int value_of(struct __test_metadata *_metadata, sema_t *s)
{
	unsigned int v = 0xdeadbeef;

	EXPECT_EQ(0, sema_getvalue(s, &v));
	return v;
}

/* Wait (bounded) until the kernel has @n waiters queued on @s. */
static int wait_queued(sema_t *s, int shared, unsigned int n)
{
	int fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	int i, ret = -ETIMEDOUT;

	if (fd < 0)
		return -errno;
	for (i = 0; i < 20000; i++) {
		struct hsema_query q;

		memset(&q, 0, sizeof(q));
		q.uaddr = (uintptr_t)&s->__word;
		q.flags = shared ? HSEMA_F_SHARED : 0;
		if (ioctl(fd, HSEMA_IOC_QUERY, &q)) {
			ret = -errno;
			break;
		}
		if (q.nr_waiters >= n) {
			ret = 0;
			break;
		}
		usleep(1000);
	}
	close(fd);
	return ret;
}

FIXTURE(lib) {
	sema_t *s;		/* in its own page, zeroed */
};

FIXTURE_VARIANT(lib) {
	unsigned int flags;	/* sema_init() flags */
	int map;		/* MAP_PRIVATE or MAP_SHARED */
};

FIXTURE_VARIANT_ADD(lib, private) {
	.flags = 0,
	.map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(lib, shared) {
	.flags = SEMA_SHARED,
	.map = MAP_SHARED,
};

FIXTURE_SETUP(lib)
{
	struct stat st;

	self->s = NULL;
	if (stat(HSEMA_DEVICE, &st))
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	self->s = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       variant->map | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->s);
}

FIXTURE_TEARDOWN(lib)
{
	if (self->s && self->s != MAP_FAILED)
		munmap(self->s, 4096);
}

/* Every operation on @s is refused with -EINVAL and @s is left as it was. */
static void expect_all_einval(struct __test_metadata *_metadata, sema_t *s,
			      const char *what)
{
	struct timespec ts = { 0, 0 };
	unsigned int v = 12345;
	sema_t before = *s;

	EXPECT_EQ(-EINVAL, sema_tryacquire(s)) TH_LOG("%s: tryacquire", what);
	EXPECT_EQ(-EINVAL, sema_timedacquire(s, &ts, CLOCK_MONOTONIC))
		TH_LOG("%s: timedacquire", what);
	EXPECT_EQ(-EINVAL, sema_release(s)) TH_LOG("%s: release", what);
	EXPECT_EQ(-EINVAL, sema_release_n(s, 1)) TH_LOG("%s: release_n", what);
	EXPECT_EQ(-EINVAL, sema_release_handoff(s))
		TH_LOG("%s: release_handoff", what);
	EXPECT_EQ(-EINVAL, sema_getvalue(s, &v)) TH_LOG("%s: getvalue", what);
	EXPECT_EQ(12345, v) TH_LOG("%s: getvalue wrote %u", what, v);
	EXPECT_EQ(-EINVAL, sema_set_starve_threshold(s, 100))
		TH_LOG("%s: set_starve_threshold", what);
	EXPECT_EQ(0, memcmp(&before, s, sizeof(*s)))
		TH_LOG("%s: the sema_t changed", what);
	/* Last, as a library that does not check would block here. */
	EXPECT_EQ(-EINVAL, sema_acquire(s)) TH_LOG("%s: acquire", what);
	EXPECT_EQ(-EINVAL, sema_destroy(s)) TH_LOG("%s: destroy", what);
	EXPECT_EQ(0, memcmp(&before, s, sizeof(*s)))
		TH_LOG("%s: the sema_t changed", what);
}

TEST_F(lib, init_einval)
{
	unsigned int b;

	EXPECT_EQ(-EINVAL, sema_init(NULL, 0, variant->flags));
	EXPECT_EQ(-EINVAL, sema_init(self->s, SEMA_VALUE_MAX + 1, variant->flags));
	EXPECT_EQ(-EINVAL, sema_init(self->s, UINT_MAX, variant->flags));
	for (b = 0; b < 32; b++) {
		if (SEMA_SHARED & (1U << b))
			continue;
		EXPECT_EQ(-EINVAL, sema_init(self->s, 1, variant->flags | 1U << b))
			TH_LOG("flag bit %u", b);
	}
	/* A failed init leaves it uninitialized. */
	expect_all_einval(_metadata, self->s, "after failed init");

	ASSERT_EQ(0, sema_init(self->s, SEMA_VALUE_MAX, variant->flags));
	EXPECT_EQ(SEMA_VALUE_MAX, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_destroy(self->s));
}

TEST_F_TIMEOUT(lib, uninitialized, 15)
{
	expect_all_einval(_metadata, self->s, "zeroed");
}

TEST_F_TIMEOUT(lib, destroyed, 15)
{
	ASSERT_EQ(0, sema_init(self->s, 3, variant->flags));
	ASSERT_EQ(0, sema_destroy(self->s));
	expect_all_einval(_metadata, self->s, "destroyed");
}

TEST_F(lib, getvalue_null)
{
	ASSERT_EQ(0, sema_init(self->s, 3, variant->flags));
	EXPECT_EQ(-EINVAL, sema_getvalue(self->s, NULL));
	EXPECT_EQ(-EINVAL, sema_getvalue(NULL, NULL));
	EXPECT_EQ(3, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_destroy(self->s));
}

TEST_F(lib, release_n_zero)
{
	ASSERT_EQ(0, sema_init(self->s, 3, variant->flags));
	EXPECT_EQ(-EINVAL, sema_release_n(self->s, 0));
	EXPECT_EQ(3, value_of(_metadata, self->s));
	EXPECT_EQ(3, word_of(self->s));
	EXPECT_EQ(0, sema_destroy(self->s));
}

/* Releases past SEMA_VALUE_MAX: -EOVERFLOW and the value is unchanged. */
TEST_F(lib, release_overflow)
{
	int ret;

	ASSERT_EQ(0, sema_init(self->s, SEMA_VALUE_MAX - 1, variant->flags));
	EXPECT_EQ(-EOVERFLOW, sema_release_n(self->s, 2));
	EXPECT_EQ(SEMA_VALUE_MAX - 1, value_of(_metadata, self->s));
	EXPECT_EQ(-EOVERFLOW, sema_release_n(self->s, SEMA_VALUE_MAX));
	EXPECT_EQ(SEMA_VALUE_MAX - 1, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_release(self->s));
	EXPECT_EQ(SEMA_VALUE_MAX, value_of(_metadata, self->s));
	EXPECT_EQ(-EOVERFLOW, sema_release(self->s));
	EXPECT_EQ(-EOVERFLOW, sema_release_n(self->s, 1));
	EXPECT_EQ(-EOVERFLOW, sema_release_handoff(self->s));
	EXPECT_EQ(SEMA_VALUE_MAX, value_of(_metadata, self->s));
	EXPECT_EQ(SEMA_VALUE_MAX, word_of(self->s));
	EXPECT_EQ(0, sema_destroy(self->s));

	/* n beyond SEMA_VALUE_MAX can never fit: -EINVAL or -EOVERFLOW. */
	ASSERT_EQ(0, sema_init(self->s, 0, variant->flags));
	ret = sema_release_n(self->s, SEMA_VALUE_MAX + 1);
	EXPECT_TRUE(ret == -EINVAL || ret == -EOVERFLOW) TH_LOG("%d", ret);
	ret = sema_release_n(self->s, UINT_MAX);
	EXPECT_TRUE(ret == -EINVAL || ret == -EOVERFLOW) TH_LOG("%d", ret);
	EXPECT_EQ(0, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_release_n(self->s, SEMA_VALUE_MAX));
	EXPECT_EQ(SEMA_VALUE_MAX, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_destroy(self->s));
}

TEST_F(lib, tryacquire_eagain)
{
	ASSERT_EQ(0, sema_init(self->s, 1, variant->flags));
	EXPECT_EQ(0, sema_tryacquire(self->s));
	EXPECT_EQ(-EAGAIN, sema_tryacquire(self->s));
	EXPECT_EQ(-EAGAIN, sema_tryacquire(self->s));
	EXPECT_EQ(0, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_release(self->s));
	EXPECT_EQ(1, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_destroy(self->s));
}

/*
 * Bad sema_timedacquire() arguments: -EINVAL, whatever the value.  With
 * value 0 a library that does not check would block or time out; with value
 * 1 it would take the unit, which a refused call must not do.
 */
static void timed_einval(struct __test_metadata *_metadata, sema_t *s,
			 unsigned int value)
{
	static const clockid_t bad_clocks[] = {
		CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
		CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
		CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_TAI, -1, 1000,
	};
	static const struct timespec bad_ts[] = {
		{ 0, -1 }, { 0, NSEC }, { -1, 0 }, { 0, LONG_MAX },
		{ 0, LONG_MIN }, { -1, NSEC - 1 },
	};
	static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	struct timespec ts;
	unsigned int i, c;
	int ret;

	EXPECT_EQ(-EINVAL, sema_timedacquire(s, NULL, CLOCK_MONOTONIC))
		TH_LOG("NULL abstime, value %u", value);
	EXPECT_EQ(-EINVAL, sema_timedacquire(s, NULL, CLOCK_REALTIME))
		TH_LOG("NULL abstime, value %u", value);
	for (i = 0; i < sizeof(bad_clocks) / sizeof(bad_clocks[0]); i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		ret = sema_timedacquire(s, &ts, bad_clocks[i]);
		EXPECT_EQ(-EINVAL, ret)
			TH_LOG("clock %d, value %u: %d", (int)bad_clocks[i],
			       value, ret);
	}
	for (c = 0; c < 2; c++) {
		for (i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++) {
			ret = sema_timedacquire(s, &bad_ts[i], clocks[c]);
			EXPECT_EQ(-EINVAL, ret)
				TH_LOG("clock %d abstime {%lld, %ld}, value %u: %d",
				       (int)clocks[c], (long long)bad_ts[i].tv_sec,
				       bad_ts[i].tv_nsec, value, ret);
		}
	}
	EXPECT_EQ(value, value_of(_metadata, s));
	EXPECT_EQ(value, word_of(s) & HSEMA_VALUE_MASK);
}

TEST_F(lib, timedacquire_einval_value0)
{
	ASSERT_EQ(0, sema_init(self->s, 0, variant->flags));
	timed_einval(_metadata, self->s, 0);
	EXPECT_EQ(0, sema_destroy(self->s));
}

TEST_F(lib, timedacquire_einval_value1)
{
	ASSERT_EQ(0, sema_init(self->s, 1, variant->flags));
	timed_einval(_metadata, self->s, 1);
	EXPECT_EQ(0, sema_destroy(self->s));
}

/* A deadline already past on value 0: -ETIMEDOUT, for both clocks. */
TEST_F(lib, timedacquire_past)
{
	static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	struct timespec ts;
	unsigned int c;

	ASSERT_EQ(0, sema_init(self->s, 0, variant->flags));
	for (c = 0; c < 2; c++) {
		ts.tv_sec = 0;
		ts.tv_nsec = 0;
		EXPECT_EQ(-ETIMEDOUT, sema_timedacquire(self->s, &ts, clocks[c]));
		ts.tv_nsec = NSEC - 1;
		EXPECT_EQ(-ETIMEDOUT, sema_timedacquire(self->s, &ts, clocks[c]));
		clock_gettime(clocks[c], &ts);
		EXPECT_EQ(-ETIMEDOUT, sema_timedacquire(self->s, &ts, clocks[c]));
	}
	EXPECT_EQ(0, value_of(_metadata, self->s));
	/* and a valid one with a unit available succeeds */
	EXPECT_EQ(0, sema_release(self->s));
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	EXPECT_EQ(0, sema_timedacquire(self->s, &ts, CLOCK_REALTIME));
	EXPECT_EQ(0, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_destroy(self->s));
}

struct waiter {
	sema_t *s;
	int ret;
};

static void *acquirer(void *arg)
{
	struct waiter *w = arg;

	w->ret = sema_acquire(w->s);
	return NULL;
}

/*
 * sema_destroy() with a thread waiting: -EBUSY, and the semaphore still
 * works; once the waiter has left, destroy succeeds.
 */
TEST_F(lib, destroy_busy)
{
	struct waiter w = { .s = self->s, .ret = -12345 };
	pthread_t t;
	unsigned int v = 99;

	ASSERT_EQ(0, sema_init(self->s, 0, variant->flags));
	ASSERT_EQ(0, pthread_create(&t, NULL, acquirer, &w));
	ASSERT_EQ(0, wait_queued(self->s, variant->flags & SEMA_SHARED, 1))
		TH_LOG("the acquirer never queued");

	EXPECT_EQ(-EBUSY, sema_destroy(self->s));
	EXPECT_EQ(0, sema_getvalue(self->s, &v));
	EXPECT_EQ(0, v);
	EXPECT_EQ(-EAGAIN, sema_tryacquire(self->s));
	EXPECT_EQ(-EBUSY, sema_destroy(self->s));

	EXPECT_EQ(0, sema_release(self->s));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(0, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_destroy(self->s));
	EXPECT_EQ(-EINVAL, sema_release(self->s));
}

TEST_F(lib, destroy_idle)
{
	ASSERT_EQ(0, sema_init(self->s, 7, variant->flags));
	EXPECT_EQ(0, sema_destroy(self->s));
	EXPECT_EQ(-EINVAL, sema_destroy(self->s));
	/* and it can be initialized again */
	ASSERT_EQ(0, sema_init(self->s, 1, variant->flags));
	EXPECT_EQ(1, value_of(_metadata, self->s));
	EXPECT_EQ(0, sema_destroy(self->s));
}

/*
 * Without the module: sema_init() fails with -ENODEV and tells, on stderr,
 * what to do.  Runs only where /dev/hsema is absent.
 */
TEST(no_module)
{
	static const char *const fixes[] = { "modprobe", "insmod", "load" };
	static const unsigned int flags[] = { 0, SEMA_SHARED };
	char msg[4096];
	unsigned int i;

	if (access(HSEMA_DEVICE, F_OK) == 0)
		SKIP(return, HSEMA_DEVICE " exists: the module is loaded");

	for (i = 0; i < 2; i++) {
		sema_t *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		int pipefd[2], saved, ret, found = 0;
		ssize_t n;
		unsigned int f;

		ASSERT_NE(MAP_FAILED, s);
		ASSERT_EQ(0, pipe(pipefd));
		fflush(stderr);
		saved = dup(STDERR_FILENO);
		ASSERT_LE(0, saved);
		ASSERT_LE(0, dup2(pipefd[1], STDERR_FILENO));
		ret = sema_init(s, 1, flags[i]);
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		close(pipefd[1]);
		n = read(pipefd[0], msg, sizeof(msg) - 1);
		close(pipefd[0]);
		msg[n > 0 ? n : 0] = '\0';

		EXPECT_EQ(-ENODEV, ret) TH_LOG("flags %#x: %d", flags[i], ret);
		if (i == 0) {
			/* the first failure in a process explains itself */
			EXPECT_LT(0, n) TH_LOG("nothing on stderr");
			EXPECT_NE(NULL, strstr(msg, "hsema")) TH_LOG("stderr: %s", msg);
			for (f = 0; f < 3; f++)
				found |= strstr(msg, fixes[f]) != NULL;
			EXPECT_TRUE(found)
				TH_LOG("stderr names no fix: %s", msg);
		}
		munmap(s, 4096);
	}
}

TEST_HARNESS_MAIN
