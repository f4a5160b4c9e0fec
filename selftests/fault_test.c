// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's fault paths end.
 *
 * A word whose page faults in writable but never accepts the kernel's
 * compare-and-swap (a shadow-stack page: VM_WRITE, yet ordinary stores
 * fault) must fail WAIT and WAKE with EFAULT in bounded time, change
 * nothing, and leave a queued waiter queued.  The emulated CPU has no
 * shadow stacks, so the module's debugfs knob inject_efault makes the next
 * N compare-and-swaps on user words fault while fixup_user_fault() keeps
 * succeeding, which is exactly that page.
 *
 * An -EAGAIN from futex_atomic_cmpxchg_inatomic() (arm64's LL/SC loop
 * giving up under contention; x86 never returns it) must be retried, never
 * taken for "queued, go to sleep": inject_eagain makes the next N return
 * it.  Before that was fixed, a newcomer slept on no queue and its timeout
 * dereferenced a NULL queue.
 *
 * Each call runs in a child process, so that a call that never returns is
 * seen as such: the parent waits at most WAIT_MS, then clears the knobs,
 * which lets a spinning call finish, and reports the hang.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"
#include "sema.h"
#include "kmsg_check.h"
#include "knob.h"

#define WAIT_MS		3000	/* a bounded fault path ends long before */
#define FOREVER		1000000000

static void knobs_clear(void)
{
	knob_set("inject_efault", 0);
	knob_set("inject_eagain", 0);
	knob_set("inject_changed", 0);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The semaphore word, in memory the children share with the parent. */
struct shared {
	__u32 word;
	__u32 pad;
	int ret;		/* the child's call: 0 or -errno */
	int done;
};

FIXTURE(fault) {
	int fd;
	struct shared *sh;
	int kmsg;
};

FIXTURE_SETUP(fault)
{
	self->sh = MAP_FAILED;
	self->fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd);
	if (knob_get("inject_efault") < 0)
		SKIP(return, KNOB_DIR "inject_efault unreadable (root and debugfs needed)");
	knobs_clear();
	self->sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	self->kmsg = kmsg_mark();
}

FIXTURE_TEARDOWN(fault)
{
	knobs_clear();
	if (self->sh != MAP_FAILED)
		munmap(self->sh, 4096);
	if (self->fd >= 0)
		close(self->fd);
}

static int do_wait(int fd, __u32 *word, unsigned int flags, int64_t rel_ns)
{
	struct hsema_wait a = {
		.uaddr = (__u64)(uintptr_t)word,
		.flags = flags,
	};

	if (rel_ns) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		rel_ns += ts.tv_sec * 1000000000LL + ts.tv_nsec;
		a.flags |= HSEMA_WAIT_TIMEOUT;
		a.deadline_sec = rel_ns / 1000000000LL;
		a.deadline_nsec = rel_ns % 1000000000LL;
	}
	return ioctl(fd, HSEMA_IOC_WAIT, &a) ? -errno : 0;
}

static int do_wake(int fd, __u32 *word, unsigned int flags, __u32 count)
{
	struct hsema_wake a = {
		.uaddr = (__u64)(uintptr_t)word,
		.flags = flags,
		.count = count,
	};

	return ioctl(fd, HSEMA_IOC_WAKE, &a) ? -errno : 0;
}

/* Waiters queued on the shared word, polled until 1 (or the child ended). */
static int queued(int fd, struct shared *sh, int tries)
{
	struct hsema_query q;

	while (tries--) {
		memset(&q, 0, sizeof(q));
		q.uaddr = (__u64)(uintptr_t)&sh->word;
		q.flags = HSEMA_F_SHARED;
		if (ioctl(fd, HSEMA_IOC_QUERY, &q))
			return -errno;
		if (q.nr_waiters == 1 || __atomic_load_n(&sh->done, __ATOMIC_SEQ_CST))
			return q.nr_waiters;
		usleep(10000);
	}
	return q.nr_waiters;
}

enum op { OP_WAIT, OP_WAKE };

/* Run @op on the shared word in a child; its pid. */
static pid_t start(struct shared *sh, int fd, enum op op, int64_t rel_ns)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (op == OP_WAIT)
		sh->ret = do_wait(fd, &sh->word, HSEMA_F_SHARED, rel_ns);
	else
		sh->ret = do_wake(fd, &sh->word, HSEMA_F_SHARED, 1);
	__atomic_store_n(&sh->done, 1, __ATOMIC_SEQ_CST);
	_exit(0);
}

/*
 * Wait up to @ms for the child; on a hang, clear the knobs so that a
 * spinning call can finish, reap it, and return -ETIMEDOUT.  Else the
 * time it took, in ms.
 */
static long finish(pid_t pid, int ms)
{
	int64_t t0 = mono_ns(), end = t0 + ms * 1000000LL;
	int status;

	while (mono_ns() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return (mono_ns() - t0) / 1000000;
		usleep(10000);
	}
	knobs_clear();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

/* A WAKE on a word that never takes the store: EFAULT, nothing released. */
TEST_F(fault, wake_on_refusing_word_ends)
{
	long ms;
	pid_t pid;

	self->sh->word = 0;
	ASSERT_EQ(0, knob_set("inject_efault", FOREVER));
	pid = start(self->sh, self->fd, OP_WAKE, 0);
	ms = finish(pid, WAIT_MS);
	ASSERT_LE(0, ms) TH_LOG("WAKE still in the kernel after %d ms: the fault path loops", WAIT_MS);
	EXPECT_EQ(-EFAULT, self->sh->ret);
	EXPECT_EQ(0, self->sh->word) TH_LOG("a failed WAKE changed the word");
	knobs_clear();
	kmsg_check_clean(self->kmsg);
}

/* A WAIT on such a word: EFAULT, not an endless retry. */
TEST_F(fault, wait_on_refusing_word_ends)
{
	long ms;
	pid_t pid;

	self->sh->word = 0;
	ASSERT_EQ(0, knob_set("inject_efault", FOREVER));
	pid = start(self->sh, self->fd, OP_WAIT, 10 * 1000000000LL);
	ms = finish(pid, WAIT_MS);
	ASSERT_LE(0, ms) TH_LOG("WAIT still in the kernel after %d ms: the fault path loops", WAIT_MS);
	EXPECT_EQ(-EFAULT, self->sh->ret);
	EXPECT_EQ(0, self->sh->word & HSEMA_VALUE_MASK);
	knobs_clear();
	kmsg_check_clean(self->kmsg);
}

/*
 * A waiter is queued; a WAKE then meets the refusing word and fails with
 * nothing released; once the word works again the waiter gets the unit.
 */
TEST_F(fault, failed_wake_keeps_waiter)
{
	struct hsema_query q;
	pid_t waiter, waker;
	long ms;

	self->sh->word = 0;
	waiter = start(self->sh, self->fd, OP_WAIT, 0);
	ASSERT_EQ(1, queued(self->fd, self->sh, 1000));

	ASSERT_EQ(0, knob_set("inject_efault", FOREVER));
	waker = fork();
	if (!waker)
		_exit(do_wake(self->fd, &self->sh->word, HSEMA_F_SHARED, 1) == -EFAULT ? 0 : 1);
	ms = finish(waker, WAIT_MS);
	ASSERT_LE(0, ms) TH_LOG("WAKE still in the kernel after %d ms", WAIT_MS);
	knobs_clear();
	memset(&q, 0, sizeof(q));
	q.uaddr = (__u64)(uintptr_t)&self->sh->word;
	q.flags = HSEMA_F_SHARED;
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_QUERY, &q));
	EXPECT_EQ(1, q.nr_waiters) TH_LOG("the failed WAKE took the waiter off the queue");
	EXPECT_EQ(0, __atomic_load_n(&self->sh->done, __ATOMIC_SEQ_CST))
		TH_LOG("the waiter returned %d after a WAKE that failed", self->sh->ret);

	ASSERT_EQ(0, do_wake(self->fd, &self->sh->word, HSEMA_F_SHARED, 1));
	ms = finish(waiter, WAIT_MS);
	ASSERT_LE(0, ms) TH_LOG("the waiter did not get the unit");
	EXPECT_EQ(0, self->sh->ret);
	EXPECT_EQ(0, self->sh->word) TH_LOG("word %#x: the unit is not accounted once", self->sh->word);
	kmsg_check_clean(self->kmsg);
}

/*
 * A published release (sema_release() with a waiter queued adds its unit
 * to the word first) whose WAKE then meets the refusing word has still
 * released: it returns 0, the unit is in the word, and the waiter, not
 * woken, gets it from the next release, which wakes for both units.  A
 * release reported as failed after its unit landed would invite a retry
 * that releases twice.
 */
TEST_F(fault, published_release_survives_failed_wake)
{
	sema_t *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct hsema_query q;
	pid_t waiter;
	long ms;
	int ret;

	ASSERT_NE(MAP_FAILED, s);
	ASSERT_EQ(0, sema_init(s, 0, SEMA_SHARED));
	ASSERT_EQ(0, sema_set_starve_threshold(s, 10000000));
	waiter = fork();
	if (!waiter) {
		self->sh->ret = sema_acquire(s);
		__atomic_store_n(&self->sh->done, 1, __ATOMIC_SEQ_CST);
		_exit(0);
	}
	memset(&q, 0, sizeof(q));
	for (ms = 0; ms < 10000 && q.nr_waiters != 1; ms += 10) {
		usleep(10000);
		memset(&q, 0, sizeof(q));
		q.uaddr = (__u64)(uintptr_t)&s->__word;
		q.flags = HSEMA_F_SHARED;
		ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_QUERY, &q));
	}
	ASSERT_EQ(1, q.nr_waiters);

	ASSERT_EQ(0, knob_set("inject_efault", FOREVER));
	ret = sema_release(s);
	knobs_clear();
	EXPECT_EQ(0, ret) TH_LOG("a release whose unit is in the word said %d", ret);
	EXPECT_EQ(HSEMA_WAITERS | 1, __atomic_load_n(&s->__word, __ATOMIC_SEQ_CST));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_QUERY, &q));
	EXPECT_EQ(1, q.nr_waiters);
	EXPECT_EQ(0, q.nr_woken);

	ASSERT_EQ(0, sema_release(s));
	ms = finish(waiter, WAIT_MS);
	ASSERT_LE(0, ms) TH_LOG("the waiter did not get a unit");
	EXPECT_EQ(0, self->sh->ret);
	EXPECT_EQ(1, __atomic_load_n(&s->__word, __ATOMIC_SEQ_CST))
		TH_LOG("two releases, one acquire: one unit must be left");
	munmap(s, 4096);
	kmsg_check_clean(self->kmsg);
}

/* SIGKILL ends a call on a refusing word at once, whatever else happens. */
TEST_F(fault, refusing_word_is_killable)
{
	int64_t t0;
	int status;
	pid_t pid;

	self->sh->word = 0;
	ASSERT_EQ(0, knob_set("inject_efault", FOREVER));
	pid = fork();
	if (!pid) {
		for (;;)
			do_wake(self->fd, &self->sh->word, HSEMA_F_SHARED, 1);
	}
	usleep(100000);
	t0 = mono_ns();
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (mono_ns() - t0 > WAIT_MS * 1000000LL) {
			knobs_clear();
			waitpid(pid, &status, 0);
			ASSERT_TRUE(0) TH_LOG("SIGKILLed caller still in the kernel after %d ms", WAIT_MS);
		}
		usleep(10000);
	}
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_EQ(0, self->sh->word);
	kmsg_check_clean(self->kmsg);
}

/*
 * -EAGAIN from the atomic, for a newcomer: retried, so the waiter really
 * queues and its timeout ends a real wait (ETIMEDOUT after about 200 ms).
 */
TEST_F(fault, eagain_newcomer_times_out)
{
	int64_t t0 = mono_ns();
	long ms;
	pid_t pid;

	self->sh->word = 0;
	ASSERT_EQ(0, knob_set("inject_eagain", 3));
	pid = start(self->sh, self->fd, OP_WAIT, 200 * 1000000LL);
	ms = finish(pid, WAIT_MS);
	ASSERT_LE(0, ms) TH_LOG("WAIT did not end");
	EXPECT_EQ(-ETIMEDOUT, self->sh->ret);
	EXPECT_LE(190, (mono_ns() - t0) / 1000000);
	EXPECT_EQ(0, knob_get("inject_eagain")) TH_LOG("the injected failures were not all met");
	EXPECT_EQ(0, self->sh->word) TH_LOG("word %#x after the waiter left", self->sh->word);
	kmsg_check_clean(self->kmsg);
}

/* ... and a newcomer that met -EAGAIN is on the queue: a WAKE reaches it. */
TEST_F(fault, eagain_newcomer_is_queued)
{
	long ms;
	pid_t pid;

	self->sh->word = 0;
	ASSERT_EQ(0, knob_set("inject_eagain", 3));
	pid = start(self->sh, self->fd, OP_WAIT, 5 * 1000000000LL);
	EXPECT_EQ(1, queued(self->fd, self->sh, 300))
		TH_LOG("the waiter is asleep on no queue");
	EXPECT_EQ(0, do_wake(self->fd, &self->sh->word, HSEMA_F_SHARED, 1));
	ms = finish(pid, WAIT_MS);
	ASSERT_LE(0, ms);
	EXPECT_EQ(0, self->sh->ret) TH_LOG("the waiter did not get the released unit");
	EXPECT_EQ(0, self->sh->word);
	kmsg_check_clean(self->kmsg);
}

/*
 * A waiter granted a unit and SIGKILLed before it ran passes the unit on
 * with a release of its own, which starts with the fatal signal pending.
 * That release must not be cut short by the signal when its word faults:
 * here its first compare-and-swap faults (inject_efault = 1), and the unit
 * must still land in the word, not vanish with the dying waiter.
 *
 * The parent holds the waiter's CPU as SCHED_FIFO from the grant to the
 * kill, so the waiter runs only once it is granted, killed and the knob
 * is armed.
 */
TEST_F(fault, killed_granted_waiter_passes_unit_on_through_a_fault)
{
	struct sched_param fifo = { .sched_priority = 1 };
	cpu_set_t cpu0;
	int status;
	pid_t waiter;

	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu0), &cpu0));
	self->sh->word = 0;
	waiter = start(self->sh, self->fd, OP_WAIT, 0);
	ASSERT_EQ(1, queued(self->fd, self->sh, 1000));
	if (sched_setscheduler(0, SCHED_FIFO, &fifo))
		SKIP(return, "SCHED_FIFO: %s (root needed)", strerror(errno));

	/* A handoff grants the head: the unit is the waiter's now. */
	EXPECT_EQ(0, do_wake(self->fd, &self->sh->word,
			     HSEMA_F_SHARED | HSEMA_WAKE_HANDOFF, 1));
	EXPECT_EQ(0, knob_set("inject_efault", 1));
	kill(waiter, SIGKILL);
	fifo.sched_priority = 0;
	sched_setscheduler(0, SCHED_OTHER, &fifo);

	ASSERT_EQ(waiter, waitpid(waiter, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_EQ(0, knob_get("inject_efault"))
		TH_LOG("the dying waiter's release never met the fault");
	EXPECT_EQ(1, self->sh->word)
		TH_LOG("word %#x: the killed waiter's unit was lost, not passed on",
		       self->sh->word);
	kmsg_check_clean(self->kmsg);
}

/* -EAGAIN during a release is retried too: the unit lands once. */
TEST_F(fault, eagain_wake_retried)
{
	self->sh->word = 0;
	ASSERT_EQ(0, knob_set("inject_eagain", 5));
	EXPECT_EQ(0, do_wake(self->fd, &self->sh->word, HSEMA_F_SHARED, 1));
	EXPECT_EQ(1, self->sh->word);
	EXPECT_EQ(0, knob_get("inject_eagain"));
	kmsg_check_clean(self->kmsg);
}

TEST_HARNESS_MAIN
