// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lifecycle of waiters and of the module: a word unmapped under a waiter
 * (the waiter still returns, a WAKE there gets EFAULT, nothing oopses), a
 * process exiting or killed with a thread blocked in WAIT (it exits
 * promptly and no unit is lost), waiters outliving the fd they waited
 * through, fork (private keys stay per process, shared ones reach across),
 * and module unload refused while /dev/hsema is open or a wait is in flight.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"

#define PAGE	4096UL
#define NSEC	1000000000LL
#define MSEC	1000000LL
#define U64(p)	((__u64)(uintptr_t)(p))

/* Kernel taint flags that mean something went wrong: D (oops), W (WARN). */
#define TAINT_BAD	((1UL << 7) | (1UL << 9))

static unsigned long taint(void)
{
	unsigned long t = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	if (f) {
		if (fscanf(f, "%lu", &t) != 1)
			t = 0;
		fclose(f);
	}
	return t;
}

static uint32_t peek(const uint32_t *w)
{
	return __atomic_load_n(w, __ATOMIC_SEQ_CST);
}

struct waiter {
	int fd;
	uint32_t *word;
	__u32 flags;		/* HSEMA_F_SHARED or 0 */
	long long timeout_ns;	/* relative, MONOTONIC; 0: no timeout */
	int err;		/* the WAIT's errno, 0 on success */
	int done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct hsema_wait req;

	memset(&req, 0, sizeof(req));
	req.uaddr = U64(w->word);
	req.flags = w->flags;
	if (w->timeout_ns) {
		struct timespec ts;
		long long t;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t = ts.tv_sec * NSEC + ts.tv_nsec + w->timeout_ns;
		req.flags |= HSEMA_WAIT_TIMEOUT;
		req.deadline_sec = t / NSEC;
		req.deadline_nsec = t % NSEC;
	}
	w->err = ioctl(w->fd, HSEMA_IOC_WAIT, &req) ? errno : 0;
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Wait (bounded, about 20 s) until @n waiters are queued on @word. */
static int wait_queued(int fd, uint32_t *word, __u32 flags, unsigned int n)
{
	int i;

	for (i = 0; i < 20000; i++) {
		struct hsema_query q;

		memset(&q, 0, sizeof(q));
		q.uaddr = U64(word);
		q.flags = flags;
		if (ioctl(fd, HSEMA_IOC_QUERY, &q))
			return -errno;
		if (q.nr_waiters >= n)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

/*
 * waitpid() that gives up after about 20 s (a hang detector, not a
 * duration check): returns the pid, or 0 if the child is still there.
 */
static pid_t reap(pid_t pid, int *status)
{
	int i;

	for (i = 0; i < 20000; i++) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r)
			return r;
		usleep(1000);
	}
	return 0;
}

static int wake(int fd, uint32_t *word, __u32 count, __u32 flags,
		struct hsema_wake *out)
{
	struct hsema_wake k;

	memset(&k, 0, sizeof(k));
	k.uaddr = U64(word);
	k.count = count;
	k.flags = flags;
	if (ioctl(fd, HSEMA_IOC_WAKE, &k))
		return errno;
	if (out)
		*out = k;
	return 0;
}

FIXTURE(life) {
	int fd;
	uint32_t *word;		/* alone in its page */
	unsigned long taint;
};

FIXTURE_VARIANT(life) {
	__u32 flags;		/* key flags */
	int map;		/* MAP_PRIVATE or MAP_SHARED */
};

FIXTURE_VARIANT_ADD(life, private) {
	.flags = 0,
	.map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(life, shared) {
	.flags = HSEMA_F_SHARED,
	.map = MAP_SHARED,
};

FIXTURE_SETUP(life)
{
	self->word = MAP_FAILED;
	self->taint = taint();
	self->fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	self->word = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			  variant->map | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->word);
}

FIXTURE_TEARDOWN(life)
{
	unsigned long now = taint();

	EXPECT_EQ(0, (now & ~self->taint) & TAINT_BAD)
		TH_LOG("the kernel got tainted %#lx (was %#lx): see dmesg",
		       now, self->taint);
	if (self->word != MAP_FAILED)
		munmap(self->word, PAGE);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * munmap() of the page holding a word while a thread waits on it: the
 * waiter still returns at its deadline (ETIMEDOUT, or EFAULT), a WAKE on
 * the unmapped address fails with EFAULT, and the kernel does not oops.
 */
TEST_F(life, munmap_with_waiter)
{
	struct waiter w = {
		.fd = self->fd, .word = self->word, .flags = variant->flags,
		.timeout_ns = 1000 * MSEC,
	};
	pthread_t t;
	int err;

	ASSERT_EQ(0, pthread_create(&t, NULL, wait_thread, &w));
	ASSERT_EQ(0, wait_queued(self->fd, self->word, variant->flags, 1));
	ASSERT_EQ(0, munmap(self->word, PAGE));

	err = wake(self->fd, self->word, 1, variant->flags, NULL);
	EXPECT_EQ(EFAULT, err) TH_LOG("WAKE on the unmapped word: %s",
				      strerror(err));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_TRUE(w.err == ETIMEDOUT || w.err == EFAULT)
		TH_LOG("the waiter returned %s", strerror(w.err));
	self->word = MAP_FAILED;
}

/* The same with the whole mapping gone and something new in its place. */
TEST_F(life, munmap_remap_with_waiter)
{
	struct waiter w = {
		.fd = self->fd, .word = self->word, .flags = variant->flags,
		.timeout_ns = 1000 * MSEC,
	};
	uint32_t *p;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, wait_thread, &w));
	ASSERT_EQ(0, wait_queued(self->fd, self->word, variant->flags, 1));
	ASSERT_EQ(0, munmap(self->word, PAGE));
	/* a read-only page of zeroes where the word was */
	p = mmap(self->word, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ(self->word, p);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_TRUE(w.err == ETIMEDOUT || w.err == EFAULT)
		TH_LOG("the waiter returned %s", strerror(w.err));
	EXPECT_EQ(0, peek(p));
}

/*
 * A process with a thread blocked in WAIT (no deadline) calls exit(0): it
 * exits normally and promptly.  @from_waiter_side picks which thread waits.
 */
struct exit_ctx {
	struct waiter w;
	int fd;
	uint32_t *word;
	__u32 flags;
};

static void *exiter(void *arg)
{
	struct exit_ctx *c = arg;

	if (wait_queued(c->fd, c->word, c->flags, 1))
		_exit(3);
	exit(0);
}

static void exit_with_waiter(struct __test_metadata *_metadata,
			     FIXTURE_DATA(life) *self, __u32 flags,
			     int main_waits)
{
	unsigned long before = taint();
	int status = 0;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct exit_ctx c = {
			.w = { .fd = self->fd, .word = self->word,
			       .flags = flags },
			.fd = self->fd, .word = self->word, .flags = flags,
		};
		pthread_t t;

		if (main_waits) {
			if (pthread_create(&t, NULL, exiter, &c))
				_exit(2);
			wait_thread(&c.w);
			_exit(4);	/* the wait returned: wrong */
		}
		if (pthread_create(&t, NULL, wait_thread, &c.w))
			_exit(2);
		if (wait_queued(self->fd, self->word, flags, 1))
			_exit(3);
		exit(0);
	}
	ASSERT_EQ(pid, reap(pid, &status)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		TH_LOG("the child did not exit with a thread in WAIT");
	}
	EXPECT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, (taint() & ~before) & TAINT_BAD);
}

TEST_F(life, exit_with_waiting_thread)
{
	exit_with_waiter(_metadata, self, variant->flags, 0);
}

TEST_F(life, exit_while_main_thread_waits)
{
	exit_with_waiter(_metadata, self, variant->flags, 1);
}

/*
 * A waiter killed by SIGKILL: its process dies promptly; its place in the
 * queue is gone, and a release afterwards lands in the word (no unit lost).
 */
TEST_F(life, killed_waiter)
{
	struct hsema_wake k;
	struct hsema_query q;
	int status = 0;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct waiter w = { .fd = self->fd, .word = self->word,
				    .flags = variant->flags };

		wait_thread(&w);
		_exit(4);
	}
	if (variant->map == MAP_SHARED) {
		ASSERT_EQ(0, wait_queued(self->fd, self->word, variant->flags, 1));
	} else {
		usleep(100 * 1000);	/* cannot see its queue: just let it start */
	}
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, reap(pid, &status)) TH_LOG("SIGKILL did not end the waiter");
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));
	if (variant->map != MAP_SHARED)
		return;

	memset(&q, 0, sizeof(q));
	q.uaddr = U64(self->word);
	q.flags = variant->flags;
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_QUERY, &q));
	EXPECT_EQ(0, q.nr_waiters);
	ASSERT_EQ(0, wake(self->fd, self->word, 1, variant->flags, &k));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(0, k.woken);
	EXPECT_EQ(1, peek(self->word));
}

/*
 * Queues are keyed by address, not by fd: a waiter whose fd was closed
 * meanwhile is still woken by a WAKE through another fd.
 */
TEST_F(life, close_fd_with_waiter)
{
	struct waiter w = { .word = self->word, .flags = variant->flags,
			    .timeout_ns = 10 * NSEC };
	struct hsema_wake k;
	pthread_t t;
	int fd2;

	w.fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, w.fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, wait_thread, &w));
	ASSERT_EQ(0, wait_queued(self->fd, self->word, variant->flags, 1));
	ASSERT_EQ(0, close(w.fd));

	fd2 = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, wake(fd2, self->word, 1, variant->flags, &k));
	EXPECT_EQ(1, k.granted + k.woken);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, w.err) TH_LOG("the waiter returned %s", strerror(w.err));
	EXPECT_EQ(0, peek(self->word) & HSEMA_VALUE_MASK);
	close(fd2);
}

/*
 * fork() with a thread waiting.  In the child, a WAKE of the same address
 * reaches the parent's waiter only through a shared key: a private word is
 * the child's own copy, a MAP_SHARED word with HSEMA_F_SHARED is the same.
 */
TEST_F(life, fork_wake)
{
	int shared = variant->map == MAP_SHARED;
	struct waiter w = { .fd = self->fd, .word = self->word,
			    .flags = variant->flags,
			    .timeout_ns = (shared ? 10000 : 1000) * MSEC };
	int status = 0;
	pthread_t t;
	pid_t pid;

	ASSERT_EQ(0, pthread_create(&t, NULL, wait_thread, &w));
	ASSERT_EQ(0, wait_queued(self->fd, self->word, variant->flags, 1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct hsema_wake k;
		int err = wake(self->fd, self->word, 1, variant->flags, &k);

		if (err)
			_exit(10);
		if (!shared && (k.granted || k.woken || peek(self->word) != 1))
			_exit(11);	/* the child has no waiters of its own */
		if (shared && k.granted + k.woken != 1)
			_exit(12);
		_exit(0);
	}
	ASSERT_EQ(pid, reap(pid, &status));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("10: WAKE failed; 11: a private WAKE in the child reached"
		       " the parent; 12: a shared one did not");
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(shared ? 0 : ETIMEDOUT, w.err)
		TH_LOG("the parent's waiter returned %s", strerror(w.err));
	EXPECT_EQ(0, peek(self->word) & HSEMA_VALUE_MASK);
}

/* Unloading hsema, as root; skips where that cannot be tried. */
static int try_unload(struct __test_metadata *_metadata, int *err)
{
	if (geteuid() != 0) {
		SKIP(return -1, "not root");
	}
	if (access("/sys/module/hsema/refcnt", F_OK)) {
		SKIP(return -1, "hsema is not a loaded module");
	}
	*err = syscall(SYS_delete_module, "hsema", O_NONBLOCK) ? errno : 0;
	return 0;
}

/* The module cannot be unloaded while /dev/hsema is open. */
TEST(unload_refused_while_open)
{
	int fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	int err = 0;

	if (fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, fd);
	if (try_unload(_metadata, &err))
		return;
	EXPECT_TRUE(err == EWOULDBLOCK || err == EBUSY)
		TH_LOG("delete_module(\"hsema\") with the device open: %s",
		       err ? strerror(err) : "succeeded");
	close(fd);
}

/*
 * Nor while a WAIT is in flight through an fd its process has since
 * closed: the file lives until the WAIT returns.
 */
TEST(unload_refused_while_waiting)
{
	uint32_t *word = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct waiter w = { .word = word, .timeout_ns = 10 * NSEC };
	pthread_t t;
	int fd, err = 0;

	ASSERT_NE(MAP_FAILED, word);
	w.fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (w.fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, w.fd);
	if (geteuid() != 0 || access("/sys/module/hsema/refcnt", F_OK))
		SKIP(return, "not root, or hsema is not a loaded module");
	ASSERT_EQ(0, pthread_create(&t, NULL, wait_thread, &w));
	ASSERT_EQ(0, wait_queued(w.fd, word, 0, 1));
	ASSERT_EQ(0, close(w.fd));

	if (try_unload(_metadata, &err))
		return;
	EXPECT_TRUE(err == EWOULDBLOCK || err == EBUSY)
		TH_LOG("delete_module(\"hsema\") with a WAIT in flight: %s",
		       err ? strerror(err) : "succeeded");

	fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, wake(fd, word, 1, 0, NULL));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, w.err);
	close(fd);
}

TEST_HARNESS_MAIN
