// SPDX-License-Identifier: GPL-2.0-only
/*
 * A word in memory that a userfaultfd supplies: a page that is not there
 * yet is waited for, until a fatal signal, not refused.
 *
 * CRIU's lazy restore and runtimes that compact their heaps under a
 * userfaultfd leave pages missing until a handler thread copies them in.
 * The kernel touches the word with page faults disabled and, on a fault,
 * faults the page in with fixup_user_fault().  That fault must be allowed
 * to drop mmap_lock and retry: without that, handle_userfault() fails it
 * with SIGBUS, and WAIT or WAKE failed with EFAULT at once on a page that
 * was only missing, with no event for the handler to answer.
 *
 * - WAIT on a missing page: the handler sees a write fault at the word,
 *   copies in a page whose word holds 1, and the WAIT takes that unit;
 * - WAKE on a missing page: the handler copies in a 0, and the WAKE adds
 *   its unit to it;
 * - a WAIT whose page never comes ends at SIGKILL, promptly;
 * - a userfaultfd that handles user-mode faults only (all an unprivileged
 *   user gets by default, vm.unprivileged_userfaultfd=0) never makes the
 *   kernel wait: WAIT fails with EFAULT at once.
 *
 * The userfaultfd needs CAP_SYS_PTRACE for the kernel's own faults (the
 * tests run as root) and CONFIG_USERFAULTFD (Debian's kernels and the
 * debug kernel have it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "hsema_util.h"
#include "kmsg_check.h"

#define EVENT_MS	5000	/* a fault event comes long before */
#define KILL_MS		5000	/* a killed waiter is gone long before */

FIXTURE(uffd) {
	int fd;			/* /dev/hsema */
	int uffd;
	long psz;
	char *page;		/* registered, missing until copied in */
	char *src;		/* what UFFDIO_COPY copies in */
	int kmsg;
};

/* A userfaultfd that handles missing pages of [page, page + psz). */
static int uffd_open(char *page, long psz, int flags)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)page, .len = psz },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	struct uffdio_api api = { .api = UFFD_API };
	int uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags);

	if (uffd < 0)
		return -errno;
	if (ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		int err = -errno;

		close(uffd);
		return err;
	}
	return uffd;
}

FIXTURE_SETUP(uffd)
{
	int ret;

	self->uffd = -1;
	self->kmsg = kmsg_mark();
	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	self->psz = sysconf(_SC_PAGESIZE);
	self->page = mmap(NULL, self->psz, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->page);
	self->src = mmap(NULL, self->psz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->src);
	ret = uffd_open(self->page, self->psz, 0);
	if (ret == -ENOSYS)
		SKIP(return, "no userfaultfd (CONFIG_USERFAULTFD)");
	if (ret == -EPERM)
		SKIP(return, "userfaultfd for kernel faults not permitted");
	ASSERT_LE(0, ret) TH_LOG("userfaultfd: %s", strerror(-ret));
	self->uffd = ret;
}

FIXTURE_TEARDOWN(uffd)
{
	if (self->uffd >= 0)
		close(self->uffd);
	kmsg_check_clean(self->kmsg);
	if (self->fd >= 0)
		close(self->fd);
}

/* One call of /dev/hsema, in a thread of its own. */
struct call {
	pthread_t thr;
	int fd;
	unsigned long cmd;
	union {
		struct hsema_wait wait;
		struct hsema_wake wake;
	} arg;
	atomic_int done;
	int ret;		/* 0 or -errno */
	int out;		/* uffd_child(): where to say so, or -1 */
};

static void *call_fn(void *p)
{
	struct call *c = p;
	char msg[2] = { 'W' };

	c->ret = ioctl(c->fd, c->cmd, &c->arg) ? -errno : 0;
	atomic_store(&c->done, 1);
	if (c->out >= 0) {
		msg[1] = -c->ret;
		if (write(c->out, msg, 2) != 2)
			_exit(1);
	}
	return NULL;
}

/* Poll until @c returned; 0 or -ETIMEDOUT after @ms. */
static int call_wait(struct call *c, int ms)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + ms * 1000000LL;

	while (!atomic_load(&c->done)) {
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -ETIMEDOUT;
		usleep_ns(1000000);
	}
	return 0;
}

/*
 * Answer the one fault the call makes: it must be a write fault at the
 * word (the kernel faults the page in writable for its compare-and-swap);
 * the page comes in with the word set to @value.  0, or what went wrong.
 */
static int answer_fault(FIXTURE_DATA(uffd) *self, uint32_t value)
{
	struct pollfd pfd = { .fd = self->uffd, .events = POLLIN };
	struct uffd_msg msg;
	struct uffdio_copy copy = {
		.dst = (uintptr_t)self->page,
		.src = (uintptr_t)self->src,
		.len = self->psz,
	};
	int ret = poll(&pfd, 1, EVENT_MS);

	if (ret < 0)
		return -errno;
	if (!ret)
		return -ETIMEDOUT;
	if (read(self->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -EIO;
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    msg.arg.pagefault.address != (uintptr_t)self->page ||
	    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE))
		return -EINVAL;
	memcpy(self->src, &value, sizeof(value));
	return ioctl(self->uffd, UFFDIO_COPY, &copy) ? -errno : 0;
}

static uint32_t word(FIXTURE_DATA(uffd) *self)
{
	return __atomic_load_n((uint32_t *)self->page, __ATOMIC_SEQ_CST);
}

/*
 * Run @c, whose word's page is missing, and answer its fault with a page
 * whose word holds @value: the fault must come, and @c return 0.
 */
static void run_answered(struct __test_metadata *_metadata,
			 FIXTURE_DATA(uffd) *self, struct call *c,
			 uint32_t value, const char *name)
{
	int ret;

	ASSERT_EQ(0, -pthread_create(&c->thr, NULL, call_fn, c));
	ret = answer_fault(self, value);
	ASSERT_EQ(0, call_wait(c, EVENT_MS));
	pthread_join(c->thr, NULL);
	EXPECT_EQ(0, ret) TH_LOG("the fault at the word: %s (%s: %s)",
				 strerror(-ret), name, strerror(-c->ret));
	EXPECT_EQ(0, c->ret) TH_LOG("%s: %s", name, strerror(-c->ret));
}

TEST_F(uffd, wait_waits_for_the_missing_page)
{
	struct call c = { .fd = self->fd, .cmd = HSEMA_IOC_WAIT, .out = -1 };

	c.arg.wait.uaddr = (uintptr_t)self->page;
	run_answered(_metadata, self, &c, 1, "WAIT");
	EXPECT_EQ(0, word(self));	/* it took the unit it found */
}

TEST_F(uffd, wake_waits_for_the_missing_page)
{
	struct call c = { .fd = self->fd, .cmd = HSEMA_IOC_WAKE, .out = -1 };

	c.arg.wake.uaddr = (uintptr_t)self->page;
	c.arg.wake.count = 1;
	run_answered(_metadata, self, &c, 0, "WAKE");
	EXPECT_EQ(1, word(self));	/* its unit, in the word */
}

/*
 * A child of its own for a WAIT on a missing page of @flags' userfaultfd
 * (a fork() does not carry the registration over): its main thread
 * watches the userfaultfd and answers nothing, a second thread calls
 * WAIT.  Each tells @out what it saw: 'E' for the fault event, then 'W'
 * and errno when the WAIT returned; 'U' and errno if the userfaultfd
 * could not be had.
 */
static void uffd_child(int fd, long psz, int flags, int out)
{
	struct pollfd pfd = { .events = POLLIN };
	struct call c = { .fd = fd, .cmd = HSEMA_IOC_WAIT, .out = out };
	char *page, msg[2];

	page = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pfd.fd = page == MAP_FAILED ? -ENOMEM : uffd_open(page, psz, flags);
	if (pfd.fd < 0) {
		msg[0] = 'U';
		msg[1] = -pfd.fd;
		_exit(write(out, msg, 2) == 2 ? 0 : 1);
	}
	c.arg.wait.uaddr = (uintptr_t)page;
	if (pthread_create(&c.thr, NULL, call_fn, &c))
		_exit(1);
	if (poll(&pfd, 1, EVENT_MS) == 1 && write(out, "E", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Read one report of uffd_child() from @in, waiting at most @ms. */
static int child_says(int in, int ms, char *what, int *err)
{
	struct pollfd pfd = { .fd = in, .events = POLLIN };
	char msg[2];

	if (poll(&pfd, 1, ms) != 1 || read(in, msg, 1) != 1)
		return -ETIMEDOUT;
	*what = msg[0];
	*err = 0;
	if (msg[0] != 'E' && read(in, &msg[1], 1) == 1)
		*err = msg[1];
	return 0;
}

/* Kill @pid and wait at most KILL_MS for it; its status, or -1. */
static int kill_child(pid_t pid)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + KILL_MS * 1000000LL;
	int status;

	kill(pid, SIGKILL);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -1;
		usleep_ns(1000000);
	}
	return status;
}

/*
 * uffd_child() with @flags in a child of its own: its pid in *@pid, the
 * read end of the pipe it reports on in *@in.  0 or -errno.
 */
static int spawn_uffd_child(FIXTURE_DATA(uffd) *self, int flags, pid_t *pid,
			    int *in)
{
	int pipefd[2];

	if (pipe(pipefd))
		return -errno;
	*pid = fork();
	if (*pid < 0) {
		int err = -errno;

		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (!*pid)
		uffd_child(self->fd, self->psz, flags, pipefd[1]);
	close(pipefd[1]);
	*in = pipefd[0];
	return 0;
}

/*
 * With nobody to answer the fault, the WAIT waits for its page until the
 * process is killed, and then ends.  Before the fault could wait, the
 * WAIT returned EFAULT at once, and no event came.
 */
TEST_F(uffd, waiting_for_the_page_ends_at_sigkill)
{
	int in, err, status;
	char what;
	pid_t pid;

	ASSERT_EQ(0, spawn_uffd_child(self, 0, &pid, &in));
	ASSERT_EQ(0, child_says(in, EVENT_MS, &what, &err));
	EXPECT_EQ('E', what) TH_LOG("the WAIT returned %s without its page",
				    strerror(err));
	/* Still waiting a while later. */
	EXPECT_EQ(-ETIMEDOUT, child_says(in, 200, &what, &err));
	status = kill_child(pid);
	ASSERT_NE(-1, status) TH_LOG("SIGKILL did not end the WAIT");
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(in);
}

/* UFFD_USER_MODE_ONLY: the kernel's own fault is no event; EFAULT. */
TEST_F(uffd, user_mode_only_fails_at_once)
{
	int in, err, status;
	char what;
	pid_t pid;

	ASSERT_EQ(0, spawn_uffd_child(self, UFFD_USER_MODE_ONLY, &pid, &in));
	ASSERT_EQ(0, child_says(in, KILL_MS, &what, &err))
		TH_LOG("the WAIT waited for a user-mode-only userfaultfd");
	status = kill_child(pid);
	ASSERT_NE(-1, status);
	close(in);
	if (what == 'U' && err == EINVAL)
		SKIP(return, "no UFFD_USER_MODE_ONLY");
	ASSERT_EQ('W', what) TH_LOG("%c %s", what, strerror(err));
	EXPECT_EQ(EFAULT, err) TH_LOG("WAIT: %s", strerror(err));
}

TEST_HARNESS_MAIN
