// SPDX-License-Identifier: GPL-2.0-only
/*
 * POSIX semaphores as glibc 2.36 gives them, checked on whatever
 * implementation serves this program: linked only against glibc, it is
 * run plain, under LD_PRELOAD=libsema-posix.so with /dev/hsema, and under
 * the preload without the module (posix_test.sh), and must pass the same
 * checks with the same transcript each time: POSIX_CONF_MODE (glibc,
 * hsema or fallback) says which one it must find serving it, and
 * POSIX_CONF_LOG names the file the transcript (every call's return and
 * errno) is appended to.  The "hsema_" tests hold only over hsema (FIFO
 * order, killed waiters, the value-range rule, a semaphore used by both
 * implementations) and are skipped elsewhere.
 *
 * "posix_conformance --exec-..." is the other end of the tests that cross
 * an exec.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"

/* The old versions of two symbols, which binaries of older glibcs ask for. */
extern int sem_wait_2_2_5(sem_t *);
extern int sem_clockwait_2_30(sem_t *, clockid_t, const struct timespec *);
__asm__(".symver sem_wait_2_2_5, sem_wait@GLIBC_2.2.5");
__asm__(".symver sem_clockwait_2_30, sem_clockwait@GLIBC_2.30");
extern int pthread_cancel_2_2_5(pthread_t);
__asm__(".symver pthread_cancel_2_2_5, pthread_cancel@GLIBC_2.2.5");

#define NSEC		1000000000LL
#define POLL_NS		(10 * NSEC)
/* libsema-posix's layout, for the hsema-only white-box checks. */
#define OWNER_OFF	24
#define WORD_OFF	16
#define OWNER_HSEMA	0x31702d616d657368ULL	/* "hsema-p1" */
#define OWNER_GLIBC	0x31702d6362696c67ULL	/* "glibc-p1" */

static const char *self_exe;

static const char *mode(void)
{
	const char *m = getenv("POSIX_CONF_MODE");

	return m ? m : "glibc";
}

static bool over_hsema(void)
{
	return !strcmp(mode(), "hsema");
}

/* ----- the transcript ----- */

static void note(const char *fmt, ...)
{
	const char *path = getenv("POSIX_CONF_LOG");
	va_list ap;
	FILE *f;

	if (!path)
		return;
	f = fopen(path, "a");
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

/* Evaluate a call returning 0 or -1 with errno; note and return "ret errno". */
static int rec(const char *what, int ret)
{
	int err = ret ? errno : 0;

	note("%s = %d %s", what, ret, ret ? strerrorname_np(err) : "-");
	errno = err;
	return ret ? err : 0;
}
#define R(call)		rec(#call, (call))

static int value_of(sem_t *s)
{
	int v = -1;

	if (sem_getvalue(s, &v))
		return -1000 - errno;
	return v;
}

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static struct timespec ts_of(int64_t ns)
{
	struct timespec ts = { ns / NSEC, ns % NSEC };

	if (ts.tv_nsec < 0) {
		ts.tv_nsec += NSEC;
		ts.tv_sec--;
	}
	return ts;
}

static struct timespec in_ns(clockid_t c, int64_t d)
{
	return ts_of(now_ns(c) + d);
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = ts_of(ns);

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Until task @tid of process @pid sleeps in the system call that waits
 * (futex for glibc, ioctl for hsema): how a test knows that a waiter is
 * blocked whatever serves it (or in restart_syscall, where a timed futex
 * wait goes on after a stop).  0, or -1 after POLL_NS.
 */
static int wait_blocked(pid_t pid, pid_t tid)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + POLL_NS;
	char path[96], buf[512], *p;
	long nr;
	FILE *f;
	size_t n;

	for (;;) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
		f = fopen(path, "r");
		nr = -1;
		if (f) {
			if (fscanf(f, "%ld", &nr) != 1)
				nr = -1;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
		f = fopen(path, "r");
		n = 0;
		if (f) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = 0;
		p = strrchr(buf, ')');
		if ((nr == SYS_futex || nr == SYS_ioctl ||
		     nr == SYS_restart_syscall) && p && p[1] == ' ' &&
		    p[2] == 'S') {
			sleep_ns(20000000);	/* and then some */
			return 0;
		}
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -1;
		sleep_ns(1000000);
	}
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Memory shared with forked children. */
static void *shared_mem(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ----- which implementation serves us ----- */

static const char *provider(void *fn)
{
	Dl_info info;

	if (!dladdr(fn, &info) || !info.dli_fname)
		return "?";
	return strstr(info.dli_fname, "libsema-posix") ? "libsema-posix" :
	       strstr(info.dli_fname, "libc.so") ? "libc" : info.dli_fname;
}

/*
 * Every version a binary may ask for resolves to the implementation the
 * mode names: the current ones, and the old GLIBC_2.2.5 and GLIBC_2.30
 * versions this binary asks for explicitly.
 */
TEST(binding)
{
	const char *want = strcmp(mode(), "glibc") ? "libsema-posix" : "libc";
	void *fns[] = {
		(void *)sem_init, (void *)sem_destroy, (void *)sem_wait,
		(void *)sem_trywait, (void *)sem_timedwait,
		(void *)sem_clockwait, (void *)sem_post, (void *)sem_getvalue,
		(void *)sem_open, (void *)sem_close, (void *)sem_unlink,
		(void *)sem_wait_2_2_5, (void *)sem_clockwait_2_30,
	};
	unsigned int i;
	sem_t s;

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		EXPECT_STREQ(want, provider(fns[i])) TH_LOG("function %u", i);
	/* The old versions work, on the same semaphore. */
	ASSERT_EQ(0, R(sem_init(&s, 0, 2)));
	EXPECT_EQ(0, R(sem_wait_2_2_5(&s)));
	EXPECT_EQ(0, R(sem_clockwait_2_30(&s, CLOCK_MONOTONIC,
					  &(struct timespec){ 0, 0 })));
	EXPECT_EQ(0, value_of(&s));
	/* The semaphore is the one the mode says. */
	if (over_hsema()) {
		EXPECT_EQ(OWNER_HSEMA, *(uint64_t *)((char *)&s + OWNER_OFF));
	} else if (!strcmp(mode(), "fallback")) {
		EXPECT_EQ(OWNER_GLIBC, *(uint64_t *)((char *)&s + OWNER_OFF));
	}
	EXPECT_EQ(0, R(sem_destroy(&s)));
}

/* sem_init: up to SEM_VALUE_MAX, any pshared; EINVAL above. */
TEST(init)
{
	sem_t s;

	EXPECT_EQ(0, R(sem_init(&s, 0, 0)));
	EXPECT_EQ(0, value_of(&s));
	EXPECT_EQ(0, R(sem_destroy(&s)));
	EXPECT_EQ(0, R(sem_init(&s, 5, 7)));
	EXPECT_EQ(7, value_of(&s));
	EXPECT_EQ(0, R(sem_destroy(&s)));
	EXPECT_EQ(0, R(sem_init(&s, 0, SEM_VALUE_MAX)));
	EXPECT_EQ(SEM_VALUE_MAX, value_of(&s));
	/* EOVERFLOW at the maximum, and nothing changes. */
	EXPECT_EQ(EOVERFLOW, R(sem_post(&s)));
	EXPECT_EQ(SEM_VALUE_MAX, value_of(&s));
	EXPECT_EQ(0, R(sem_trywait(&s)));
	EXPECT_EQ(SEM_VALUE_MAX - 1, value_of(&s));
	EXPECT_EQ(0, R(sem_post(&s)));
	EXPECT_EQ(0, R(sem_destroy(&s)));
	EXPECT_EQ(EINVAL, R(sem_init(&s, 0, (unsigned int)SEM_VALUE_MAX + 1)));
	EXPECT_EQ(EINVAL, R(sem_init(&s, 1, UINT_MAX)));
}

/* trywait, post and getvalue on one thread. */
TEST(trywait_post)
{
	sem_t s;
	int i;

	ASSERT_EQ(0, R(sem_init(&s, 0, 0)));
	EXPECT_EQ(EAGAIN, R(sem_trywait(&s)));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, R(sem_post(&s)));
	EXPECT_EQ(3, value_of(&s));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, R(sem_trywait(&s)));
	EXPECT_EQ(EAGAIN, R(sem_trywait(&s)));
	EXPECT_EQ(0, value_of(&s));
	EXPECT_EQ(0, R(sem_destroy(&s)));
}

/*
 * Deadlines: a bad tv_nsec is EINVAL first, unit or not (glibc 2.36
 * checks it before anything); a passed deadline, or one before the
 * epoch, still takes a free unit and is ETIMEDOUT without one; a future
 * one is never early.
 */
TEST(timedwait)
{
	static const struct timespec bad[] = {
		{ 0, -1 }, { 0, 1000000000 }, { 5, LONG_MAX }, { -1, -5 },
	};
	struct timespec past = { 0, 0 }, neg = { -1, 0 }, dl;
	unsigned int i, v;
	int64_t back;
	sem_t s;

	ASSERT_EQ(0, R(sem_init(&s, 0, 0)));
	for (v = 0; v < 2; v++) {
		if (v)
			ASSERT_EQ(0, R(sem_post(&s)));
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			EXPECT_EQ(EINVAL, R(sem_timedwait(&s, &bad[i])))
				TH_LOG("bad deadline %u, value %u", i, v);
			EXPECT_EQ(EINVAL, R(sem_clockwait(&s, CLOCK_MONOTONIC,
							   &bad[i])));
		}
		EXPECT_EQ(v, value_of(&s));
	}
	EXPECT_EQ(0, R(sem_timedwait(&s, &past)));
	EXPECT_EQ(ETIMEDOUT, R(sem_timedwait(&s, &past)));
	EXPECT_EQ(0, R(sem_post(&s)));
	EXPECT_EQ(0, R(sem_timedwait(&s, &neg)));
	EXPECT_EQ(ETIMEDOUT, R(sem_timedwait(&s, &neg)));
	EXPECT_EQ(ETIMEDOUT, R(sem_clockwait(&s, CLOCK_MONOTONIC, &neg)));
	dl = in_ns(CLOCK_REALTIME, 50000000);
	EXPECT_EQ(ETIMEDOUT, R(sem_timedwait(&s, &dl)));
	back = now_ns(CLOCK_REALTIME);
	EXPECT_LE(dl.tv_sec * NSEC + dl.tv_nsec, back);
	EXPECT_EQ(0, value_of(&s));
	EXPECT_EQ(0, R(sem_destroy(&s)));
}

/* sem_clockwait: MONOTONIC and REALTIME; any other clock is EINVAL. */
TEST(clockwait)
{
	static const clockid_t others[] = {
		CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
		CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
		CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_TAI, 12345, -1,
	};
	struct timespec dl;
	unsigned int i;
	sem_t s;

	ASSERT_EQ(0, R(sem_init(&s, 0, 1)));
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		dl = in_ns(CLOCK_MONOTONIC, NSEC);
		EXPECT_EQ(EINVAL, R(sem_clockwait(&s, others[i], &dl)))
			TH_LOG("clock %d", others[i]);
	}
	EXPECT_EQ(1, value_of(&s));
	dl = in_ns(CLOCK_MONOTONIC, NSEC);
	EXPECT_EQ(0, R(sem_clockwait(&s, CLOCK_MONOTONIC, &dl)));
	dl = in_ns(CLOCK_MONOTONIC, 30000000);
	EXPECT_EQ(ETIMEDOUT, R(sem_clockwait(&s, CLOCK_MONOTONIC, &dl)));
	EXPECT_LE(dl.tv_sec * NSEC + dl.tv_nsec, now_ns(CLOCK_MONOTONIC));
	EXPECT_EQ(0, R(sem_post(&s)));
	dl = in_ns(CLOCK_REALTIME, NSEC);
	EXPECT_EQ(0, R(sem_clockwait(&s, CLOCK_REALTIME, &dl)));
	dl = in_ns(CLOCK_REALTIME, 30000000);
	EXPECT_EQ(ETIMEDOUT, R(sem_clockwait(&s, CLOCK_REALTIME, &dl)));
	EXPECT_EQ(0, R(sem_destroy(&s)));
}

/* A waiter thread, blocking in one of the three waits. */
enum wop { W_WAIT, W_TIMED, W_CLOCK };

struct waiter {
	pthread_t thr;
	sem_t *s;
	enum wop op;
	atomic_int tid;
	atomic_int done;
	int ret, err;
	atomic_int *seq;
	int order;
	atomic_int cleanup;
	atomic_int ready, go;	/* pending_fn */
};

static void waiter_cleanup(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->cleanup, 1);
}

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct timespec dl;

	atomic_store(&w->tid, gettid_());
	pthread_cleanup_push(waiter_cleanup, w);
	switch (w->op) {
	case W_TIMED:
		dl = in_ns(CLOCK_REALTIME, 60 * NSEC);
		w->ret = sem_timedwait(w->s, &dl);
		break;
	case W_CLOCK:
		dl = in_ns(CLOCK_MONOTONIC, 60 * NSEC);
		w->ret = sem_clockwait(w->s, CLOCK_MONOTONIC, &dl);
		break;
	default:
		w->ret = sem_wait(w->s);
		break;
	}
	w->err = w->ret ? errno : 0;
	pthread_cleanup_pop(0);
	if (w->seq)
		w->order = atomic_fetch_add(w->seq, 1);
	atomic_store(&w->done, 1);
	return NULL;
}

static int waiter_start(struct waiter *w, sem_t *s, enum wop op)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + POLL_NS;

	memset(w, 0, sizeof(*w));
	w->s = s;
	w->op = op;
	w->ret = 1;
	if (pthread_create(&w->thr, NULL, waiter_fn, w))
		return -1;
	while (!atomic_load(&w->tid))
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -1;
	return wait_blocked(getpid(), atomic_load(&w->tid));
}

static const char *const wop_name[] = { "sem_wait", "sem_timedwait",
					"sem_clockwait" };

/* A blocked waiter gets a post; sem_getvalue() says 0 while it waits. */
TEST(post_wakes)
{
	struct waiter w;
	int op;
	sem_t s;

	ASSERT_EQ(0, R(sem_init(&s, 0, 0)));
	for (op = 0; op < 3; op++) {
		ASSERT_EQ(0, waiter_start(&w, &s, op));
		EXPECT_EQ(0, value_of(&s)) TH_LOG("%s", wop_name[op]);
		EXPECT_EQ(0, R(sem_post(&s)));
		pthread_join(w.thr, NULL);
		note("%s after post = %d", wop_name[op], w.ret);
		EXPECT_EQ(0, w.ret) TH_LOG("%s", wop_name[op]);
		EXPECT_EQ(0, value_of(&s));
	}
	EXPECT_EQ(0, R(sem_destroy(&s)));
}

static atomic_int handled;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

/*
 * A handled signal: without SA_RESTART every wait fails with EINTR; with
 * it, sem_wait() restarts (signal(7)) and sem_timedwait() and
 * sem_clockwait() still fail with EINTR (glibc's timed futex wait is
 * never restarted after a handler).  No unit moves either way.
 */
TEST(eintr)
{
	struct sigaction sa;
	struct waiter w;
	int restart, op;
	sem_t s;

	ASSERT_EQ(0, R(sem_init(&s, 0, 0)));
	for (restart = 0; restart < 2; restart++) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sa.sa_flags = restart ? SA_RESTART : 0;
		ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
		for (op = 0; op < 3; op++) {
			atomic_store(&handled, 0);
			ASSERT_EQ(0, waiter_start(&w, &s, op));
			ASSERT_EQ(0, pthread_kill(w.thr, SIGUSR1));
			if (restart && op == W_WAIT) {
				/* Handled, then back to sleep: post. */
				while (!atomic_load(&handled))
					sleep_ns(1000000);
				ASSERT_EQ(0, wait_blocked(getpid(),
							  atomic_load(&w.tid)));
				EXPECT_EQ(0, atomic_load(&w.done));
				EXPECT_EQ(0, R(sem_post(&s)));
			}
			pthread_join(w.thr, NULL);
			note("%s SA_RESTART=%d: %d %s", wop_name[op], restart,
			     w.ret, w.ret ? strerrorname_np(w.err) : "-");
			if (restart && op == W_WAIT) {
				EXPECT_EQ(0, w.ret);
			} else {
				EXPECT_EQ(-1, w.ret) TH_LOG("%s, SA_RESTART %d",
							    wop_name[op], restart);
				EXPECT_EQ(EINTR, w.err);
			}
			EXPECT_EQ(1, atomic_load(&handled));
			EXPECT_EQ(0, value_of(&s));
		}
	}
	EXPECT_EQ(0, R(sem_destroy(&s)));
}

/*
 * A stop and a continue run no handler: a waiter in another process
 * keeps waiting through them, in each of the three waits, and returns 0
 * for the post that follows.
 */
TEST(stop_continue)
{
	int status, op, i;
	sem_t *s;
	pid_t pid;

	s = shared_mem(4096);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, R(sem_init(s, 1, 0)));
	for (op = 0; op < 3; op++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct timespec dl;
			int ret;

			if (op == W_TIMED) {
				dl = in_ns(CLOCK_REALTIME, 60 * NSEC);
				ret = sem_timedwait(s, &dl);
			} else if (op == W_CLOCK) {
				dl = in_ns(CLOCK_MONOTONIC, 60 * NSEC);
				ret = sem_clockwait(s, CLOCK_MONOTONIC, &dl);
			} else {
				ret = sem_wait(s);
			}
			_exit(ret ? (errno == EINTR ? 3 : 4) : 0);
		}
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, wait_blocked(pid, pid)) TH_LOG("%s, stop %d", wop_name[op], i);
			ASSERT_EQ(0, kill(pid, SIGSTOP));
			ASSERT_EQ(pid, waitpid(pid, &status, WUNTRACED));
			ASSERT_EQ(0, kill(pid, SIGCONT));
		}
		ASSERT_EQ(0, wait_blocked(pid, pid));
		EXPECT_EQ(0, R(sem_post(s)));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		note("%s through stop/continue: exit %d", wop_name[op],
		     WEXITSTATUS(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", wop_name[op]);
	}
	EXPECT_EQ(0, value_of(s));
	EXPECT_EQ(0, R(sem_destroy(s)));
	munmap(s, 4096);
}

/*
 * Cancellation: a thread cancelled while blocked in any of the three
 * waits ends with PTHREAD_CANCELED, runs its cleanup handler and takes
 * no unit; a cancellation already pending acts in sem_wait() and
 * sem_timedwait() even with a unit free (they test for it first, and take
 * nothing), not in sem_clockwait() (glibc 2.36 tests only when it
 * blocks) nor sem_trywait(); a thread that disabled cancellation is not
 * cancelled.  The pending requests come from both versions of
 * pthread_cancel(): libsema-posix wraps it to learn that the process
 * cancels threads (the first request is made here), and must see both.
 */
static void *pending_fn(void *arg)
{
	struct waiter *w = arg;
	struct timespec dl = in_ns(CLOCK_MONOTONIC, NSEC);
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	atomic_store(&w->ready, 1);
	while (!atomic_load(&w->go))	/* set once the cancel is pending */
		sleep_ns(1000000);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	switch (w->op) {
	case W_TIMED:
		dl = in_ns(CLOCK_REALTIME, NSEC);
		w->ret = sem_timedwait(w->s, &dl);
		break;
	case W_CLOCK:
		w->ret = sem_clockwait(w->s, CLOCK_MONOTONIC, &dl);
		break;
	case W_WAIT:
		w->ret = sem_wait(w->s);
		break;
	default:
		w->ret = sem_trywait(w->s);
		break;
	}
	atomic_store(&w->done, 1);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return NULL;
}

TEST(cancel)
{
	struct waiter w;
	void *res;
	int op;
	sem_t s;

	ASSERT_EQ(0, R(sem_init(&s, 0, 0)));
	for (op = 0; op < 3; op++) {
		ASSERT_EQ(0, waiter_start(&w, &s, op));
		ASSERT_EQ(0, pthread_cancel(w.thr));
		ASSERT_EQ(0, pthread_join(w.thr, &res));
		note("%s blocked, cancelled: %s, cleanup %d", wop_name[op],
		     res == PTHREAD_CANCELED ? "canceled" : "returned",
		     atomic_load(&w.cleanup));
		EXPECT_EQ(PTHREAD_CANCELED, res) TH_LOG("%s", wop_name[op]);
		EXPECT_EQ(1, atomic_load(&w.cleanup));
		EXPECT_EQ(0, value_of(&s));
		/* Its queue place is gone: a post stays in the value. */
		EXPECT_EQ(0, R(sem_post(&s)));
		EXPECT_EQ(1, value_of(&s));
		EXPECT_EQ(0, R(sem_trywait(&s)));
	}
	EXPECT_EQ(0, value_of(&s));
	EXPECT_EQ(0, R(sem_destroy(&s)));
}

/*
 * Pending, with a unit free: W_WAIT, W_TIMED, W_CLOCK, trywait, each
 * cancelled by @cancel.  Each TEST runs in a process of its own, so the
 * first request is the first this process ever made.
 */
static void pending_cancels(struct __test_metadata *_metadata,
			    int (*cancel)(pthread_t))
{
	struct waiter w;
	void *res;
	int op;
	sem_t s;

	ASSERT_EQ(0, R(sem_init(&s, 0, 0)));
	for (op = 0; op < 4; op++) {
		EXPECT_EQ(0, R(sem_post(&s)));
		memset(&w, 0, sizeof(w));
		w.s = &s;
		w.op = op;
		w.ret = 1;
		ASSERT_EQ(0, pthread_create(&w.thr, NULL, pending_fn, &w));
		while (!atomic_load(&w.ready))
			sleep_ns(1000000);
		ASSERT_EQ(0, cancel(w.thr));
		atomic_store(&w.go, 1);
		ASSERT_EQ(0, pthread_join(w.thr, &res));
		note("op %d pending cancel, unit free: %s ret %d value %d", op,
		     res == PTHREAD_CANCELED ? "canceled" : "returned", w.ret,
		     value_of(&s));
		if (op == W_WAIT || op == W_TIMED) {
			EXPECT_EQ(PTHREAD_CANCELED, res) TH_LOG("op %d", op);
			EXPECT_EQ(1, value_of(&s));
			EXPECT_EQ(0, R(sem_trywait(&s)));
		} else {
			EXPECT_NE(PTHREAD_CANCELED, res) TH_LOG("op %d", op);
			EXPECT_EQ(0, w.ret);
			EXPECT_EQ(0, value_of(&s));
		}
	}
	EXPECT_EQ(0, value_of(&s));
	EXPECT_EQ(0, R(sem_destroy(&s)));
}

TEST(cancel_pending)
{
	pending_cancels(_metadata, pthread_cancel);
}

/* A binary of an older glibc asks for the old version. */
TEST(cancel_pending_old)
{
	pending_cancels(_metadata, pthread_cancel_2_2_5);
}

/* Cancelled at the very moment of its post: never a lost unit. */
struct race {
	sem_t s;
	atomic_int got;		/* units the waiters returned with */
};

static void *race_fn(void *arg)
{
	struct race *r = arg;

	if (sem_wait(&r->s) == 0)
		atomic_fetch_add(&r->got, 1);
	return NULL;
}

/*
 * A waiter is posted to and cancelled at once, over and over: every unit
 * ends up either with a waiter that returned 0 or in the value, however
 * the two crossed.
 */
TEST(cancel_post_race)
{
	int i, posted = 0, v;
	struct race r;
	pthread_t t;
	void *res;

	memset(&r, 0, sizeof(r));
	ASSERT_EQ(0, sem_init(&r.s, 0, 0));
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, pthread_create(&t, NULL, race_fn, &r));
		if (i % 4)
			sleep_ns(100000 * (i % 7));
		ASSERT_EQ(0, sem_post(&r.s));
		posted++;
		pthread_cancel(t);
		ASSERT_EQ(0, pthread_join(t, &res));
		/* The unit not taken stays for the next one. */
		v = value_of(&r.s);
		ASSERT_EQ(posted, atomic_load(&r.got) + v)
			TH_LOG("round %d: %d posted, %d taken, value %d", i,
			       posted, atomic_load(&r.got), v);
	}
	note("cancel_post_race: units conserved");
	EXPECT_EQ(0, sem_destroy(&r.s));
}

/* Process-shared, across fork: in MAP_SHARED memory, and in SysV shm. */
static void pingpong_child(sem_t *s, int rounds)
{
	int i;

	for (i = 0; i < rounds; i++) {
		if (sem_wait(&s[0]))
			_exit(2);
		if (sem_post(&s[1]))
			_exit(3);
	}
	_exit(0);
}

TEST(pshared_fork)
{
	int status, kind, i, shmid = -1;
	sem_t *s;
	pid_t pid;

	for (kind = 0; kind < 2; kind++) {
		if (kind == 0) {
			s = shared_mem(4096);
			ASSERT_NE(NULL, s);
		} else {
			shmid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
			ASSERT_LE(0, shmid);
			s = shmat(shmid, NULL, 0);
			ASSERT_NE((void *)-1, s);
			shmctl(shmid, IPC_RMID, NULL);
		}
		ASSERT_EQ(0, R(sem_init(&s[0], 1, 0)));
		ASSERT_EQ(0, R(sem_init(&s[1], 1, 0)));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			pingpong_child(s, 200);
		for (i = 0; i < 200; i++) {
			ASSERT_EQ(0, sem_post(&s[0]));
			ASSERT_EQ(0, sem_wait(&s[1]));
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		note("pshared %s: child exit %d", kind ? "sysv" : "mmap",
		     WEXITSTATUS(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
		EXPECT_EQ(0, value_of(&s[0]));
		EXPECT_EQ(0, value_of(&s[1]));
		EXPECT_EQ(0, R(sem_destroy(&s[0])));
		EXPECT_EQ(0, R(sem_destroy(&s[1])));
		if (kind == 0)
			munmap(s, 4096);
		else
			shmdt(s);
	}
}

/*
 * Across exec, unrelated to us but by the shared memory: the child execs
 * this program, attaches the SysV segment by its id and ping-pongs.
 */
static int exec_shm_child(int shmid, int rounds)
{
	sem_t *s = shmat(shmid, NULL, 0);
	int i;

	if (s == (void *)-1)
		return 5;
	for (i = 0; i < rounds; i++) {
		if (sem_wait(&s[0]))
			return 2;
		if (sem_post(&s[1]))
			return 3;
	}
	return 0;
}

static pid_t spawn_self(char *const args[])
{
	pid_t pid = fork();

	if (pid == 0) {
		execv(self_exe, args);
		_exit(127);
	}
	return pid;
}

TEST(pshared_exec)
{
	char id[32], *args[] = { (char *)"posix_conformance",
				 (char *)"--exec-shm", id, NULL };
	int status, i, shmid;
	sem_t *s;
	pid_t pid;

	shmid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	ASSERT_LE(0, shmid);
	s = shmat(shmid, NULL, 0);
	ASSERT_NE((void *)-1, s);
	ASSERT_EQ(0, R(sem_init(&s[0], 1, 0)));
	ASSERT_EQ(0, R(sem_init(&s[1], 1, 0)));
	snprintf(id, sizeof(id), "%d", shmid);
	pid = spawn_self(args);
	ASSERT_LT(0, pid);
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, sem_post(&s[0]));
		ASSERT_EQ(0, sem_wait(&s[1]));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	note("pshared exec: child exit %d", WEXITSTATUS(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, value_of(&s[0]));
	shmdt(s);
	shmctl(shmid, IPC_RMID, NULL);
}

/* ----- named semaphores ----- */

static void name_of(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "/posix-conf-%d-%s", getpid(), tag);
}

static int named_errno(sem_t *s)
{
	return s == SEM_FAILED ? errno : 0;
}
#define RO(what, call)	({ sem_t *__s = (call); \
			   note("%s = %s %s", what, __s == SEM_FAILED ? "FAILED" : "ok", \
				__s == SEM_FAILED ? strerrorname_np(errno) : "-"); __s; })

/*
 * Names and flags, glibc's way: leading slashes dropped, the rest
 * non-empty, slash-free and under 256 bytes (EINVAL), a file name the
 * kernel finds too long ENAMETOOLONG; O_CREAT|O_EXCL on an existing name
 * EEXIST; no O_CREAT and no file ENOENT; a value above SEM_VALUE_MAX
 * EINVAL; the mode (less the umask) on the file; the initial value only
 * when it is created.
 */
TEST(named_open)
{
	char name[320], path[340];
	sem_t *a, *b;
	struct stat st;
	mode_t old;
	int len;

	EXPECT_EQ(EINVAL, named_errno(RO("empty", sem_open("", O_CREAT, 0600, 1))));
	EXPECT_EQ(EINVAL, named_errno(RO("slash", sem_open("/", O_CREAT, 0600, 1))));
	EXPECT_EQ(EINVAL, named_errno(RO("slashes", sem_open("///", O_CREAT, 0600, 1))));
	EXPECT_EQ(EINVAL, named_errno(RO("a/b", sem_open("/a/b", O_CREAT, 0600, 1))));
	for (len = 250; len <= 258; len++) {
		memset(name, 'n', len);
		name[len] = 0;
		a = RO("long", sem_open(name, O_CREAT, 0600, 1));
		note("  length %d", len);
		if (len <= 251) {
			EXPECT_NE(SEM_FAILED, a) TH_LOG("length %d", len);
			if (a != SEM_FAILED) {
				sem_close(a);
				sem_unlink(name);
			}
		} else {
			EXPECT_EQ(len <= 255 ? ENAMETOOLONG : EINVAL,
				  named_errno(a)) TH_LOG("length %d", len);
		}
	}
	name_of(name, sizeof(name), "open");
	sem_unlink(name);
	EXPECT_EQ(ENOENT, named_errno(RO("missing", sem_open(name, 0))));
	EXPECT_EQ(ENOENT, named_errno(RO("missing, O_EXCL", sem_open(name, O_EXCL))));
	EXPECT_EQ(EINVAL, named_errno(RO("too big",
		sem_open(name, O_CREAT | O_EXCL, 0600, (unsigned int)SEM_VALUE_MAX + 1))));
	old = umask(022);
	a = RO("create", sem_open(name, O_CREAT | O_EXCL, 0666, 3));
	umask(old);
	ASSERT_NE(SEM_FAILED, a);
	snprintf(path, sizeof(path), "/dev/shm/sem.%s", name + 1);
	ASSERT_EQ(0, stat(path, &st));
	note("file mode %o size %lld", st.st_mode & 0777, (long long)st.st_size);
	EXPECT_EQ(0644, st.st_mode & 0777);
	EXPECT_EQ(sizeof(sem_t), st.st_size);
	EXPECT_EQ(3, value_of(a));
	EXPECT_EQ(EEXIST, named_errno(RO("excl again",
		sem_open(name, O_CREAT | O_EXCL, 0600, 1))));
	/* Existing: the same mapping, its value, not the new one. */
	b = RO("again", sem_open(name, O_CREAT, 0600, 9));
	EXPECT_EQ(a, b);
	EXPECT_EQ(3, value_of(b));
	b = RO("again, no flags", sem_open(name, 0));
	EXPECT_EQ(a, b);
	/* Another spelling of the name is another mapping (glibc's key). */
	b = RO("other spelling", sem_open(name + 1, 0));
	ASSERT_NE(SEM_FAILED, b);
	EXPECT_NE(a, b);
	EXPECT_EQ(0, R(sem_post(b)));
	EXPECT_EQ(4, value_of(a));
	EXPECT_EQ(0, R(sem_close(b)));
	EXPECT_EQ(0, R(sem_close(a)));
	EXPECT_EQ(0, R(sem_close(a)));
	EXPECT_EQ(0, R(sem_close(a)));
	EXPECT_EQ(EINVAL, R(sem_close(a)));
	EXPECT_EQ(0, R(sem_unlink(name)));
	EXPECT_EQ(ENOENT, R(sem_unlink(name)));
	EXPECT_EQ(ENOENT, R(sem_unlink("")));
	EXPECT_EQ(ENOENT, R(sem_unlink("/a/b")));
}

/* sem_unlink() while open: the name goes, the semaphore stays usable. */
TEST(named_unlink_open)
{
	char name[64];
	sem_t *a, *b;

	name_of(name, sizeof(name), "unl");
	sem_unlink(name);
	a = RO("create", sem_open(name, O_CREAT | O_EXCL, 0600, 0));
	ASSERT_NE(SEM_FAILED, a);
	EXPECT_EQ(0, R(sem_unlink(name)));
	EXPECT_EQ(ENOENT, named_errno(RO("reopen", sem_open(name, 0))));
	EXPECT_EQ(0, R(sem_post(a)));
	EXPECT_EQ(0, R(sem_wait(a)));
	/* A new one under the same name is another semaphore. */
	b = RO("recreate", sem_open(name, O_CREAT | O_EXCL, 0600, 5));
	ASSERT_NE(SEM_FAILED, b);
	EXPECT_NE(a, b);
	EXPECT_EQ(0, value_of(a));
	EXPECT_EQ(5, value_of(b));
	EXPECT_EQ(0, R(sem_close(a)));
	EXPECT_EQ(0, R(sem_close(b)));
	EXPECT_EQ(0, R(sem_unlink(name)));
}

/* A named semaphore across fork and across exec (opened by name). */
static int exec_named_child(const char *name, int rounds)
{
	sem_t *a = sem_open(name, 0);
	char n2[128];
	sem_t *b;
	int i;

	snprintf(n2, sizeof(n2), "%s-b", name);
	b = sem_open(n2, 0);
	if (a == SEM_FAILED || b == SEM_FAILED)
		return 5;
	for (i = 0; i < rounds; i++) {
		if (sem_wait(a))
			return 2;
		if (sem_post(b))
			return 3;
	}
	return sem_close(a) || sem_close(b) ? 4 : 0;
}

TEST(named_fork_exec)
{
	char name[64], n2[80], *args[] = { (char *)"posix_conformance",
					    (char *)"--exec-named", name, NULL };
	int status, how, i;
	sem_t *a, *b;
	pid_t pid;

	name_of(name, sizeof(name), "fx");
	snprintf(n2, sizeof(n2), "%s-b", name);
	sem_unlink(name);
	sem_unlink(n2);
	a = RO("a", sem_open(name, O_CREAT | O_EXCL, 0600, 0));
	b = RO("b", sem_open(n2, O_CREAT | O_EXCL, 0600, 0));
	ASSERT_NE(SEM_FAILED, a);
	ASSERT_NE(SEM_FAILED, b);
	for (how = 0; how < 2; how++) {
		if (how == 0) {
			pid = fork();
			if (pid == 0)
				_exit(exec_named_child(name, 100));
		} else {
			pid = spawn_self(args);
		}
		ASSERT_LT(0, pid);
		for (i = 0; i < 100; i++) {
			ASSERT_EQ(0, sem_post(a));
			ASSERT_EQ(0, sem_wait(b));
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		note("named %s: child exit %d", how ? "exec" : "fork",
		     WEXITSTATUS(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	EXPECT_EQ(0, value_of(a));
	EXPECT_EQ(0, value_of(b));
	EXPECT_EQ(0, R(sem_close(a)));
	EXPECT_EQ(0, R(sem_close(b)));
	EXPECT_EQ(0, R(sem_unlink(name)));
	EXPECT_EQ(0, R(sem_unlink(n2)));
}

/* ----- hsema only ----- */

static int hsema_fd(void)
{
	return open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
}

static int queued(int fd, sem_t *s, unsigned int flags)
{
	struct hsema_query q;

	memset(&q, 0, sizeof(q));
	q.uaddr = (uintptr_t)s + WORD_OFF;
	q.flags = flags;
	if (ioctl(fd, HSEMA_IOC_QUERY, &q))
		return -1;
	return q.nr_waiters;
}

static int wait_queued(int fd, sem_t *s, unsigned int flags, int n)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + POLL_NS;

	while (queued(fd, s, flags) != n) {
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -1;
		sleep_ns(500000);
	}
	return 0;
}

/* waitpid() for at most 30 s; then SIGKILL it and return -1. */
static pid_t reap(pid_t pid, int *status)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + 30 * NSEC;
	pid_t r;

	while ((r = waitpid(pid, status, WNOHANG)) == 0) {
		if (now_ns(CLOCK_MONOTONIC) > end) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		sleep_ns(2000000);
	}
	return r;
}

#define NEED_HSEMA() do { \
	if (!over_hsema()) \
		SKIP(return, "hsema only (POSIX_CONF_MODE=%s)", mode()); \
} while (0)

/* Waiters are served in the order they came, one post each. */
TEST(hsema_fifo)
{
	struct waiter w[6];
	atomic_int seq = 0;
	int fd, i;
	sem_t s;

	NEED_HSEMA();
	fd = hsema_fd();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, sem_init(&s, 0, 0));
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(0, waiter_start(&w[i], &s, i % 3));
		w[i].seq = &seq;
		ASSERT_EQ(0, wait_queued(fd, &s, 0, i + 1));
	}
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(0, sem_post(&s));
		while (!atomic_load(&w[i].done) && atomic_load(&seq) == i)
			sleep_ns(500000);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(w[i].thr, NULL);
		EXPECT_EQ(0, w[i].ret);
		EXPECT_EQ(i, w[i].order) TH_LOG("waiter %d served %d-th", i,
						 w[i].order);
	}
	EXPECT_EQ(0, sem_destroy(&s));
	close(fd);
}

/*
 * Waiters in other processes, some SIGKILLed while queued and some as a
 * post reaches them: every post is taken by a survivor or stays in the
 * value, and no survivor sleeps while a unit is free.
 */
TEST(hsema_killed_waiters)
{
	struct shared { sem_t s; atomic_int got; } *sh;
	int fd, i, status, alive, late, round, ok;
	pid_t pid[8];

	NEED_HSEMA();
	fd = hsema_fd();
	ASSERT_LE(0, fd);
	sh = shared_mem(4096);
	ASSERT_NE(NULL, sh);
	for (round = 0; round < 20; round++) {
		ASSERT_EQ(0, sem_init(&sh->s, 1, 0));
		atomic_store(&sh->got, 0);
		for (i = 0; i < 8; i++) {
			pid[i] = fork();
			ASSERT_LE(0, pid[i]);
			if (pid[i] == 0) {
				if (sem_wait(&sh->s))
					_exit(1);
				atomic_fetch_add(&sh->got, 1);
				_exit(0);
			}
			ASSERT_EQ(0, wait_queued(fd, &sh->s, HSEMA_F_SHARED, i + 1));
		}
		/* Two killed while queued, two as a post comes for them. */
		kill(pid[3], SIGKILL);
		kill(pid[5], SIGKILL);
		ASSERT_EQ(0, sem_post(&sh->s));
		kill(pid[0], SIGKILL);
		ASSERT_EQ(0, sem_post(&sh->s));
		kill(pid[1], SIGKILL);
		/* Four survivors at most: four more posts. */
		for (i = 0; i < 4; i++)
			ASSERT_EQ(0, sem_post(&sh->s));
		alive = late = 0;
		for (i = 0; i < 8; i++) {
			/* A survivor asleep with a unit free never returns. */
			ASSERT_EQ(pid[i], reap(pid[i], &status))
				TH_LOG("round %d: waiter %d still waits", round, i);
			ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
			alive += ok;
			late += !ok && (i == 0 || i == 1);
		}
		/*
		 * Six posts: each with a waiter that took it or in the value,
		 * but for one each that waiters 0 and 1 may have taken and
		 * died with, if the SIGKILL came after their sem_wait()
		 * returned (a holder killed; no waiter any more).  A unit that
		 * reached them in the kernel is passed on.
		 */
		EXPECT_LE(6 - late, atomic_load(&sh->got) + value_of(&sh->s))
			TH_LOG("round %d: got %d, value %d, %d killed late",
			       round, atomic_load(&sh->got), value_of(&sh->s),
			       late);
		EXPECT_GE(6, atomic_load(&sh->got) + value_of(&sh->s));
		EXPECT_LE(4, alive);
		EXPECT_EQ(0, queued(fd, &sh->s, HSEMA_F_SHARED));
		EXPECT_EQ(0, sem_destroy(&sh->s));
	}
	munmap(sh, 4096);
	close(fd);
}

/*
 * The value-range rule: hsema's word holds 2^30 - 1 units.  A semaphore
 * made with at most that is hsema's and its post past it is EOVERFLOW; one
 * made with more is glibc's, and holds up to SEM_VALUE_MAX.
 */
TEST(hsema_value_range)
{
	sem_t s;

	NEED_HSEMA();
	ASSERT_EQ(0, sem_init(&s, 0, HSEMA_VALUE_MAX));
	EXPECT_EQ(OWNER_HSEMA, *(uint64_t *)((char *)&s + OWNER_OFF));
	EXPECT_EQ(-1, sem_post(&s));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(HSEMA_VALUE_MAX, value_of(&s));
	EXPECT_EQ(0, sem_destroy(&s));
	ASSERT_EQ(0, sem_init(&s, 0, HSEMA_VALUE_MAX + 1));
	EXPECT_EQ(OWNER_GLIBC, *(uint64_t *)((char *)&s + OWNER_OFF));
	EXPECT_EQ(0, sem_post(&s));
	EXPECT_EQ(HSEMA_VALUE_MAX + 2, value_of(&s));
	EXPECT_EQ(0, sem_wait(&s));
	EXPECT_EQ(0, sem_destroy(&s));
}

/*
 * One semaphore, both implementations: glibc's own functions (as a
 * process without libsema-posix would run them) cannot add to an hsema
 * semaphore (EOVERFLOW, nothing changed); once they took from glibc's
 * count, libsema-posix refuses it (EINVAL) rather than guess.  A named
 * semaphore glibc made is refused by sem_open() (EINVAL) and left as it
 * was.
 */
TEST(hsema_mixed)
{
	int (*g_post)(sem_t *), (*g_trywait)(sem_t *);
	unsigned char before[32], after[32];
	char name[64], path[96];
	void *libc;
	sem_t s, *n;
	int fd, v;

	NEED_HSEMA();
	libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	ASSERT_NE(NULL, libc);
	g_post = (int (*)(sem_t *))dlvsym(libc, "sem_post", "GLIBC_2.34");
	g_trywait = (int (*)(sem_t *))dlvsym(libc, "sem_trywait", "GLIBC_2.34");
	ASSERT_NE(NULL, g_post);
	ASSERT_NE(NULL, g_trywait);
	ASSERT_STREQ("libc", provider((void *)g_post));

	ASSERT_EQ(0, sem_init(&s, 0, 0));
	memcpy(before, &s, sizeof(s));
	EXPECT_EQ(-1, g_post(&s));
	EXPECT_EQ(EOVERFLOW, errno);
	memcpy(after, &s, sizeof(s));
	EXPECT_EQ(0, memcmp(before, after, sizeof(s)));
	EXPECT_EQ(0, value_of(&s));
	EXPECT_EQ(0, g_trywait(&s));		/* glibc's count only */
	EXPECT_EQ(-1, sem_getvalue(&s, &v));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sem_timedwait(&s, &(struct timespec){ 0, 0 }));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sem_wait(&s));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sem_destroy(&s));
	EXPECT_EQ(EINVAL, errno);

	/* A named semaphore as glibc's sem_open() writes it. */
	name_of(name, sizeof(name), "glibc");
	snprintf(path, sizeof(path), "/dev/shm/sem.%s", name + 1);
	memset(before, 0, sizeof(before));
	before[0] = 2;				/* value 2, no waiters */
	before[8] = 128;			/* FUTEX_SHARED */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(32, write(fd, before, 32));
	n = sem_open(name, 0);
	EXPECT_EQ(SEM_FAILED, n);
	EXPECT_EQ(EINVAL, errno);
	n = sem_open(name, O_CREAT, 0600, 1);
	EXPECT_EQ(SEM_FAILED, n);
	ASSERT_EQ(32, pread(fd, after, 32, 0));
	EXPECT_EQ(0, memcmp(before, after, 32));
	close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	self_exe = "/proc/self/exe";
	if (argc == 3 && !strcmp(argv[1], "--exec-shm"))
		return exec_shm_child(atoi(argv[2]), 100);
	if (argc == 3 && !strcmp(argv[1], "--exec-named"))
		return exec_named_child(argv[2], 100);
	return test_harness_run(argc, argv);
}
