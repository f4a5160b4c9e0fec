// SPDX-License-Identifier: GPL-2.0-only
/*
 * Deadlines are read in the caller's time namespace.
 *
 * A process in a time namespace sees CLOCK_MONOTONIC shifted by the
 * namespace's offset, and computes its deadlines from what it sees; the
 * kernel must take the offset back out, as futex does, before it arms its
 * timer on the host's clock.  Each case runs in a child of a namespace
 * whose monotonic clock is 1000 s ahead (and one 1000 s behind the host's
 * start is not possible, so "behind" is tested with a deadline before the
 * offset: already expired).  CLOCK_REALTIME is not namespaced and must be
 * unaffected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif

#define OFFSET_S	1000

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * In a child inside a fresh time namespace whose monotonic clock is
 * @offset_s ahead, WAIT on a zero word with the deadline @rel_ns from the
 * child's own reading of @clock.  Returns the WAIT's result (0 or -errno)
 * and, in *@took_ms, how long it took on the host's clock; -ETIME if the
 * child was still waiting after @limit_ms (it is killed), -ENOSYS if time
 * namespaces are not available.
 */
static int wait_in_timens(clockid_t clock, int64_t rel_ns, int limit_ms,
			  long *took_ms)
{
	struct result { int ret; int ready; } *r;
	int64_t t0, end;
	int status, ret, fd;
	pid_t pid;
	char buf[64];

	if (unshare(CLONE_NEWTIME))
		return -ENOSYS;
	/* Offsets can be set only before the first process enters. */
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOSYS;
	snprintf(buf, sizeof(buf), "%d %d 0", CLOCK_MONOTONIC, OFFSET_S);
	ret = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf) ? 0 : -errno;
	close(fd);
	if (ret)
		return ret;

	r = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return -errno;
	t0 = clock_ns(CLOCK_MONOTONIC);
	pid = fork();
	if (!pid) {
		static __u32 word;
		struct hsema_wait a = {
			.uaddr = (__u64)(uintptr_t)&word,
			.flags = HSEMA_WAIT_TIMEOUT |
				 (clock == CLOCK_REALTIME ? HSEMA_WAIT_REALTIME : 0),
		};
		int64_t d = clock_ns(clock) + rel_ns;
		int hfd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);

		/* The child lives in the namespace: its clock is ahead. */
		if (clock == CLOCK_MONOTONIC &&
		    clock_ns(CLOCK_MONOTONIC) < (int64_t)OFFSET_S * 1000000000LL)
			_exit(3);
		a.deadline_sec = d / 1000000000LL;
		a.deadline_nsec = d % 1000000000LL;
		if (d < 0) {
			a.deadline_sec = 0;
			a.deadline_nsec = 0;
		}
		r->ret = ioctl(hfd, HSEMA_IOC_WAIT, &a) ? -errno : 0;
		_exit(0);
	}
	end = t0 + limit_ms * 1000000LL;
	ret = -ETIME;
	while (clock_ns(CLOCK_MONOTONIC) < end) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			ret = WIFEXITED(status) && WEXITSTATUS(status) == 3 ?
				-ENOSYS : r->ret;
			break;
		}
		usleep(5000);
	}
	*took_ms = (clock_ns(CLOCK_MONOTONIC) - t0) / 1000000;
	if (ret == -ETIME) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	munmap(r, 4096);
	return ret;
}

#define RUN(clock, rel_ns, limit_ms)					\
	({								\
		long took = 0;						\
		int ret;						\
		if (access(HSEMA_DEVICE, R_OK | W_OK))			\
			SKIP(return, HSEMA_DEVICE " missing");		\
		ret = wait_in_timens(clock, rel_ns, limit_ms, &took);	\
		if (ret == -ENOSYS || ret == -EPERM)			\
			SKIP(return, "no time namespaces here (root and CONFIG_TIME_NS needed)"); \
		took_ms = took;						\
		ret;							\
	})

/* The case: 200 ms from the namespace's now ends after 200 ms. */
TEST(monotonic_deadline_ahead)
{
	long took_ms;
	int ret = RUN(CLOCK_MONOTONIC, 200 * 1000000LL, 5000);

	ASSERT_NE(-ETIME, ret) TH_LOG("a 200 ms timed WAIT in a namespace %d s ahead was still waiting after 5 s", OFFSET_S);
	EXPECT_EQ(-ETIMEDOUT, ret);
	EXPECT_LE(190, took_ms);
}

/* A deadline already past in the namespace's time ends at once. */
TEST(monotonic_deadline_past)
{
	long took_ms;
	int ret = RUN(CLOCK_MONOTONIC, -1000000000LL, 5000);

	ASSERT_NE(-ETIME, ret) TH_LOG("a deadline 1 s in the namespace's past was still waiting after 5 s");
	EXPECT_EQ(-ETIMEDOUT, ret);
	EXPECT_GT(2000, took_ms);
}

/*
 * A deadline earlier than the offset itself (before the namespace's clock
 * could ever read it): expired, not a time before the host's boot.
 */
TEST(monotonic_deadline_before_offset)
{
	long took_ms;
	int ret = RUN(CLOCK_MONOTONIC, -(int64_t)(OFFSET_S + 10) * 1000000000LL, 5000);

	ASSERT_NE(-ETIME, ret);
	EXPECT_EQ(-ETIMEDOUT, ret);
	EXPECT_GT(2000, took_ms);
}

/* CLOCK_REALTIME is the same in every time namespace. */
TEST(realtime_unaffected)
{
	long took_ms;
	int ret = RUN(CLOCK_REALTIME, 200 * 1000000LL, 5000);

	ASSERT_NE(-ETIME, ret);
	EXPECT_EQ(-ETIMEDOUT, ret);
	EXPECT_LE(190, took_ms);
}

TEST_HARNESS_MAIN
