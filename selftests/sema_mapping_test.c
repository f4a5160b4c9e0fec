// SPDX-License-Identifier: GPL-2.0-only
/*
 * What each kind of mapping gets, by the key rules of
 * Documentation/hsema.rst: a private key is (mm, address) and only the same
 * process meets it; a shared key (HSEMA_F_SHARED) is (inode, file offset),
 * given only to page-cache or shmem backed MAP_SHARED memory, and the
 * kernel keeps the file (and so its mount) alive while a waiter sleeps on
 * such a word.
 *
 *  - private anonymous: works with and without HSEMA_F_SHARED, a private
 *    key either way (a forked copy does not meet it);
 *  - shared anonymous, a tmpfs file, a memfd, SysV shm, shared hugetlb:
 *    shared key, two processes meet at different addresses (and file
 *    offsets of their mappings); MAP_PRIVATE of the tmpfs file: private;
 *  - hugetlb without a pool (MAP_NORESERVE, nr_hugepages 0): ENOMEM;
 *  - a perf ring buffer: EFAULT with HSEMA_F_SHARED, a private semaphore
 *    without it, and two processes' buffers never meet;
 *  - read-only, PROT_NONE, unmapped, shadow stack: EFAULT; misaligned:
 *    EINVAL;
 *  - a tmpfs cannot be unmounted under a waiter (EBUSY), lazily detached
 *    it stays alive until the waiter leaves, and the log stays clean.
 *
 * Every kind runs in a child process; each call in it is bounded by
 * alarm(2) and by a watchdog in the test process that SIGKILLs a child
 * stuck for more than 2.5 s in a call and fails the test, and fails it
 * louder if the child does not die.  The tmpfs unmount tests come last:
 * on a kernel with the bug they were written for, they may crash it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"
#include "kmsg_check.h"

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define NSEC		1000000000LL
#define MSEC		1000000LL
#define U64(p)		((__u64)(uintptr_t)(p))
#define MASK		HSEMA_VALUE_MASK

/* Every call must return within this; the watchdog allows some slack. */
#define CALL_BOUND_S	2
#define WATCHDOG_NS	(2500 * MSEC)
/* A child gets this long in all, and SIGKILL then 3 s to die. */
#define CHILD_TOTAL_NS	(25 * NSEC)
#define DIE_NS		(3 * NSEC)

#ifndef MAP_HUGETLB
#define MAP_HUGETLB	0x40000
#endif
#ifndef __NR_map_shadow_stack
#define __NR_map_shadow_stack	453
#endif

/* ----- the bounded child ----- */

/*
 * Shared between the test process and its child: the call the child is
 * in (and since when), the number of failed checks, a skip reason.
 */
struct ctl {
	atomic_llong step_start;	/* CLOCK_MONOTONIC ns; 0: none */
	char step[200];
	char skip[300];
	atomic_int fails;
};
static struct ctl *ctl;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * MSEC };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static const char *ename(int e)
{
	const char *n;

	if (!e)
		return "0 (success)";
	n = strerrorname_np(e);
	return n ? n : "unknown errno";
}

/* In the child: the call that follows is bounded by CALL_BOUND_S. */
static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->step, sizeof(ctl->step), fmt, ap);
	va_end(ap);
	atomic_store(&ctl->step_start, now_ns());
	alarm(CALL_BOUND_S);
}

static void step_end(void)
{
	alarm(0);
	atomic_store(&ctl->step_start, 0);
}

/* In the child: a check that counts and reports, never longjmp()s. */
#define CHECK(cond, fmt, ...) do {					\
	if (!(cond)) {							\
		atomic_fetch_add(&ctl->fails, 1);			\
		printf("# FAIL line %d: " fmt "\n", __LINE__, ##__VA_ARGS__); \
		fflush(stdout);						\
	}								\
} while (0)

static void __attribute__((noreturn, format(printf, 1, 2)))
child_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->skip, sizeof(ctl->skip), fmt, ap);
	va_end(ap);
	_exit(KSFT_SKIP);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
child_abort(const char *fmt, ...)
{
	va_list ap;

	printf("# FAIL (setup): ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	_exit(1);
}

/*
 * Wait up to @ns for @pid; if it is still there, SIGKILL it and give it
 * DIE_NS to die.  0: it exited (status in *@st); 1: killed, died; 2: it
 * did not die.
 */
static int reap(pid_t pid, int64_t ns, int *st)
{
	int64_t end = now_ns() + ns;

	for (;;) {
		if (waitpid(pid, st, WNOHANG) == pid)
			return 0;
		if (now_ns() > end)
			break;
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	end = now_ns() + DIE_NS;
	for (;;) {
		if (waitpid(pid, st, WNOHANG) == pid)
			return 1;
		if (now_ns() > end)
			return 2;
		sleep_ms(10);
	}
}

typedef void (*child_fn)(void *arg);

/*
 * Run @fn in a child under the watchdog.  0 if every check passed,
 * KSFT_SKIP (reason in ctl->skip), else 1 with the reason printed.
 */
static int run_bounded(child_fn fn, void *arg)
{
	int64_t end;
	pid_t pid;
	int st = 0;

	if (!ctl) {
		ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (ctl == MAP_FAILED) {
			ctl = NULL;
			printf("# mmap of the control page: %s\n", strerror(errno));
			return 1;
		}
	}
	memset(ctl, 0, sizeof(*ctl));
	strcpy(ctl->step, "(setup)");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		printf("# fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		fn(arg);
		step_end();
		fflush(stdout);
		_exit(atomic_load(&ctl->fails) ? 1 : 0);
	}
	end = now_ns() + CHILD_TOTAL_NS;
	for (;;) {
		int64_t s, now;

		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		s = atomic_load(&ctl->step_start);
		now = now_ns();
		if ((s && now - s > WATCHDOG_NS) || now > end) {
			printf("# FAIL: the child is still in \"%s\" after %lld ms (every call must return within %d s): SIGKILL\n",
			       ctl->step, s ? (long long)((now - s) / MSEC) : -1LL,
			       CALL_BOUND_S);
			if (reap(pid, 0, &st) == 2) {
				printf("# FAIL: the child did not die %lld s after SIGKILL: unkillable in \"%s\"\n",
				       DIE_NS / NSEC, ctl->step);
				return 1;
			}
			printf("# the child died of SIGKILL\n");
			return 1;
		}
		sleep_ms(5);
	}
	if (WIFSIGNALED(st)) {
		if (WTERMSIG(st) == SIGALRM)
			printf("# FAIL: \"%s\" did not return within %d s (the child's alarm killed it)\n",
			       ctl->step, CALL_BOUND_S);
		else
			printf("# FAIL: the child died of signal %d (%s) in \"%s\"%s\n",
			       WTERMSIG(st), strsignal(WTERMSIG(st)), ctl->step,
			       WTERMSIG(st) == SIGKILL ?
			       " (nobody sent it: did the kernel oops in that call?)" : "");
		return 1;
	}
	if (WEXITSTATUS(st) == KSFT_SKIP)
		return KSFT_SKIP;
	if (WEXITSTATUS(st)) {
		printf("# %d check(s) failed\n", atomic_load(&ctl->fails));
		return 1;
	}
	return 0;
}

#define RUN(fn, arg) do {						\
	int __r = run_bounded(fn, arg);					\
									\
	if (__r == KSFT_SKIP)						\
		SKIP(return, "%s", ctl->skip);				\
	ASSERT_EQ(0, __r) TH_LOG("see the lines above");		\
} while (0)

/* ----- the calls ----- */

static int devfd = -1;

static void open_dev(void)
{
	devfd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (devfd < 0)
		child_skip(HSEMA_DEVICE " missing: is hsema.ko loaded? (%s)",
			   strerror(errno));
}

static uint32_t peek(const uint32_t *w)
{
	return __atomic_load_n(w, __ATOMIC_SEQ_CST);
}

static void poke(uint32_t *w, uint32_t v)
{
	__atomic_store_n(w, v, __ATOMIC_SEQ_CST);
}

/* WAIT; @timeout_ns < 0: no deadline.  0 or the errno. */
static int h_wait(const void *w, unsigned int flags, int64_t timeout_ns)
{
	struct hsema_wait hw;

	memset(&hw, 0, sizeof(hw));
	hw.uaddr = U64(w);
	hw.flags = flags;
	if (timeout_ns >= 0) {
		int64_t t = now_ns() + timeout_ns;

		hw.flags |= HSEMA_WAIT_TIMEOUT;
		hw.deadline_sec = t / NSEC;
		hw.deadline_nsec = t % NSEC;
	}
	return ioctl(devfd, HSEMA_IOC_WAIT, &hw) ? errno : 0;
}

static int h_wake(const void *w, unsigned int count, unsigned int flags,
		  struct hsema_wake *out)
{
	struct hsema_wake k;

	memset(&k, 0, sizeof(k));
	k.uaddr = U64(w);
	k.count = count;
	k.flags = flags;
	if (ioctl(devfd, HSEMA_IOC_WAKE, &k))
		return errno;
	if (out)
		*out = k;
	return 0;
}

static int h_query(const void *w, unsigned int flags, unsigned int *nr)
{
	struct hsema_query q;

	memset(&q, 0, sizeof(q));
	q.uaddr = U64(w);
	q.flags = flags;
	if (ioctl(devfd, HSEMA_IOC_QUERY, &q))
		return errno;
	*nr = q.nr_waiters;
	return 0;
}

static const char *fl(unsigned int flags)
{
	return (flags & HSEMA_F_SHARED) ? "|F_SHARED" : "";
}

/* Bounded forms, for the child's main thread. */
static int b_wait(const char *kind, const void *w, unsigned int flags,
		  int64_t timeout_ns)
{
	int e;

	step("%s: WAIT%s%s", kind, fl(flags), timeout_ns >= 0 ? " (deadline)" : "");
	e = h_wait(w, flags, timeout_ns);
	step_end();
	return e;
}

static int b_wake(const char *kind, const void *w, unsigned int count,
		  unsigned int flags, struct hsema_wake *out)
{
	int e;

	step("%s: WAKE%s%s count %u", kind, fl(flags),
	     (flags & HSEMA_WAKE_HANDOFF) ? "|HANDOFF" : "", count);
	e = h_wake(w, count, flags, out);
	step_end();
	return e;
}

/* A waiter thread in the calling process. */
struct tw {
	pthread_t thr;
	const uint32_t *w;
	unsigned int flags;
	int64_t timeout_ns;
	atomic_int done;
	int ret;
};

static void *tw_fn(void *arg)
{
	struct tw *t = arg;

	t->ret = h_wait(t->w, t->flags, t->timeout_ns);
	atomic_store(&t->done, 1);
	return NULL;
}

static int tw_start(struct tw *t, const uint32_t *w, unsigned int flags,
		    int64_t timeout_ns)
{
	memset(t, 0, sizeof(*t));
	t->w = w;
	t->flags = flags;
	t->timeout_ns = timeout_ns;
	t->ret = -1;
	return pthread_create(&t->thr, NULL, tw_fn, t);
}

/* Join within @ns: 0, or -1 if it is still waiting. */
static int tw_join(struct tw *t, int64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ns / NSEC;
	ts.tv_nsec += ns % NSEC;
	if (ts.tv_nsec >= NSEC) {
		ts.tv_sec++;
		ts.tv_nsec -= NSEC;
	}
	return pthread_timedjoin_np(t->thr, NULL, &ts) ? -1 : 0;
}

/*
 * Poll QUERY on @w until it shows one waiter, or *@done is set, for up
 * to @ns.  true once seen.
 */
static bool seen_queued(const void *w, unsigned int flags, atomic_int *done,
			int64_t ns)
{
	int64_t end = now_ns() + ns;
	unsigned int n;

	while (now_ns() < end) {
		if (!h_query(w, flags, &n) && n == 1)
			return true;
		if (done && atomic_load(done))
			return false;
		sleep_ms(1);
	}
	return false;
}

/* ----- what a working word does, and a failing one ----- */

/*
 * @w works as a semaphore with @flags in this process: a unit is taken,
 * a deadline passes, a release adds, and a thread of this process that
 * waits is released by this process's WAKE.
 */
static void check_works(const char *kind, uint32_t *w, unsigned int flags)
{
	struct hsema_wake k;
	struct tw t;
	bool q;
	int e;

	poke(w, 1);
	e = b_wait(kind, w, flags, -1);
	CHECK(e == 0 && peek(w) == 0,
	      "%s: WAIT%s on a word holding 1: expected 0 and the word 0, got %s and %#x",
	      kind, fl(flags), ename(e), peek(w));
	e = b_wait(kind, w, flags, 50 * MSEC);
	CHECK(e == ETIMEDOUT && peek(w) == 0,
	      "%s: WAIT%s with a 50 ms deadline on a word holding 0: expected ETIMEDOUT and the word 0, got %s and %#x",
	      kind, fl(flags), ename(e), peek(w));
	memset(&k, 0, sizeof(k));
	e = b_wake(kind, w, 1, flags, &k);
	CHECK(e == 0 && k.granted == 0 && k.woken == 0 && peek(w) == 1,
	      "%s: WAKE%s of 1 with no waiter: expected 0, nobody granted or woken and the word 1, got %s, granted %u woken %u, word %#x",
	      kind, fl(flags), ename(e), k.granted, k.woken, peek(w));

	poke(w, 0);
	if (tw_start(&t, w, flags, NSEC))
		child_abort("pthread_create");
	step("%s: QUERY%s until this process's waiter thread is queued", kind, fl(flags));
	q = seen_queued(w, flags, &t.done, 1500 * MSEC);
	step_end();
	CHECK(q, "%s: a thread's WAIT%s never showed in QUERY%s (it returned %s)",
	      kind, fl(flags), fl(flags), atomic_load(&t.done) ? ename(t.ret) : "nothing yet");
	memset(&k, 0, sizeof(k));
	e = b_wake(kind, w, 1, flags, &k);
	CHECK(e == 0 && k.granted + k.woken == 1,
	      "%s: WAKE%s of 1 with a thread of this process queued: expected 0 and one waiter granted or woken, got %s, granted %u woken %u",
	      kind, fl(flags), ename(e), k.granted, k.woken);
	step("%s: join the waiter thread", kind);
	e = tw_join(&t, 1500 * MSEC);
	step_end();
	CHECK(e == 0 && t.ret == 0 && (peek(w) & MASK) == 0,
	      "%s: the waiter thread released by WAKE%s: expected 0 and the word's value 0, got %s and %#x",
	      kind, fl(flags), e ? "still waiting" : ename(t.ret), peek(w));
}

/*
 * WAIT and WAKE on @w fail with @err and change nothing.  @val: what
 * the word holds (UINT32_MAX: unreadable).
 */
static void check_fails(const char *kind, const uint32_t *w, unsigned int flags,
			int err, uint32_t val)
{
	struct hsema_wake k;
	int e;

	e = b_wait(kind, w, flags, 100 * MSEC);
	CHECK(e == err, "%s: WAIT%s (100 ms deadline): expected %s, got %s",
	      kind, fl(flags), ename(err), ename(e));
	if (val != UINT32_MAX)
		CHECK(peek(w) == val, "%s: WAIT%s changed the word: %#x -> %#x",
		      kind, fl(flags), val, peek(w));
	e = b_wake(kind, w, 1, flags, &k);
	CHECK(e == err, "%s: WAKE%s of 1: expected %s, got %s", kind, fl(flags),
	      ename(err), ename(e));
	e = b_wake(kind, w, 1, flags | HSEMA_WAKE_HANDOFF, &k);
	CHECK(e == err, "%s: WAKE%s|HANDOFF of 1: expected %s, got %s", kind,
	      fl(flags), ename(err), ename(e));
	if (val != UINT32_MAX)
		CHECK(peek(w) == val, "%s: WAKE%s changed the word: %#x -> %#x",
		      kind, fl(flags), val, peek(w));
}

/* ----- two processes ----- */

/* In the waiter process: map the object, return the word (NULL: failed). */
typedef uint32_t *(*mapper_fn)(void *ctx);

struct sync {
	atomic_int queued;	/* the waiter process saw itself queued */
	atomic_int done;	/* its WAIT returned */
	atomic_int ret;		/* with this */
};

/*
 * Fork a process that maps the word through @map (somewhere other than
 * @avoid, if given), waits on it with @flags and a @timeout_ns deadline,
 * reports through @s when its own QUERY shows it queued, and exits with
 * the WAIT's errno (0: it got a unit; 200+: setup failed).
 */
static pid_t spawn_waiter(mapper_fn map, void *ctx, unsigned int flags,
			  int64_t timeout_ns, struct sync *s, const void *avoid)
{
	pid_t pid;

	memset(s, 0, sizeof(*s));
	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	{
		uint32_t *w;
		struct tw t;
		int64_t end;
		unsigned int n;

		alarm(CALL_BOUND_S + 1);
		w = map(ctx);
		if (!w)
			_exit(201);
		if (avoid && ((uintptr_t)w & ~(PAGE - 1)) ==
			     ((uintptr_t)avoid & ~(PAGE - 1))) {
			w = map(ctx);	/* the first mapping stays: elsewhere */
			if (!w || w == avoid)
				_exit(202);
		}
		if (tw_start(&t, w, flags, timeout_ns))
			_exit(203);
		end = now_ns() + timeout_ns + NSEC;
		while (!atomic_load(&t.done) && now_ns() < end) {
			if (!h_query(w, flags, &n) && n == 1) {
				atomic_store(&s->queued, 1);
				break;
			}
			sleep_ms(1);
		}
		alarm(CALL_BOUND_S);
		pthread_join(t.thr, NULL);
		atomic_store(&s->ret, t.ret);
		atomic_store(&s->done, 1);
		_exit(t.ret < 0 ? 204 : t.ret);
	}
}

static struct sync *new_sync(void)
{
	struct sync *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (s == MAP_FAILED)
		child_abort("mmap: %s", strerror(errno));
	return s;
}

static const char *exit_desc(int r, int st, char *buf, size_t len)
{
	if (r == 2)
		snprintf(buf, len, "still running after SIGKILL: unkillable");
	else if (r == 1)
		snprintf(buf, len, "had not returned after 2 s: killed");
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "died of signal %d (%s)", WTERMSIG(st),
			 WTERMSIG(st) == SIGALRM ? "its call did not return within 2 s" :
			 strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st) >= 200)
		snprintf(buf, len, "failed to set up (exit %d)", WEXITSTATUS(st));
	else
		snprintf(buf, len, "returned %s", ename(WEXITSTATUS(st)));
	return buf;
}

/*
 * A process that maps the object itself, at another address, waits on
 * the word with HSEMA_F_SHARED; this process's WAKE|F_SHARED through its
 * own mapping @pw releases it: they share the key.
 */
static void check_meet(const char *kind, uint32_t *pw, mapper_fn map,
		       void *ctx, const void *avoid)
{
	struct sync *s = new_sync();
	struct hsema_wake k;
	unsigned int n = 0;
	char buf[120];
	pid_t pid;
	int e, r, st = 0;

	poke(pw, 0);
	pid = spawn_waiter(map, ctx, HSEMA_F_SHARED, NSEC, s, avoid);
	if (pid < 0)
		child_abort("fork: %s", strerror(errno));
	step("%s: the other process's WAIT|F_SHARED queues", kind);
	while (!atomic_load(&s->queued) && !atomic_load(&s->done) &&
	       now_ns() - atomic_load(&ctl->step_start) < 1500 * MSEC)
		sleep_ms(1);
	step_end();
	CHECK(atomic_load(&s->queued),
	      "%s: the other process's WAIT|F_SHARED never showed in its own QUERY (it %s)",
	      kind, atomic_load(&s->done) ? ename(atomic_load(&s->ret)) : "is still in it");
	e = h_query(pw, HSEMA_F_SHARED, &n);
	CHECK(e == 0 && n == 1,
	      "%s: QUERY|F_SHARED through this process's own mapping: expected 1 waiter (one shared key), got %s and %u",
	      kind, ename(e), n);
	memset(&k, 0, sizeof(k));
	e = b_wake(kind, pw, 1, HSEMA_F_SHARED, &k);
	CHECK(e == 0 && k.granted + k.woken == 1,
	      "%s: WAKE|F_SHARED through this process's mapping: expected 0 and the other process's waiter granted or woken, got %s, granted %u woken %u",
	      kind, ename(e), k.granted, k.woken);
	step("%s: reap the waiter process", kind);
	r = reap(pid, 2 * NSEC, &st);
	step_end();
	CHECK(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "%s: the waiter process, released by the other's WAKE: expected 0, it %s",
	      kind, exit_desc(r, st, buf, sizeof(buf)));
	CHECK((peek(pw) & MASK) == 0,
	      "%s: the waiter took the unit, so the word's value is 0: got %#x",
	      kind, peek(pw));
	munmap(s, PAGE);
}

/*
 * A process waits on its own word (@map) with @wflags and a 1 s
 * deadline; this process's WAKE|HANDOFF with @pflags through @pw must
 * not reach it.  @perr: the WAKE's expected result; @werr: the waiter's
 * (0: anything but a unit).
 */
static void check_isolated(const char *kind, uint32_t *pw, unsigned int pflags,
			   int perr, mapper_fn map, void *ctx, unsigned int wflags,
			   int werr)
{
	struct sync *s = new_sync();
	struct hsema_wake k;
	char buf[120];
	pid_t pid;
	int e, r, st = 0;

	poke(pw, 0);
	pid = spawn_waiter(map, ctx, wflags, NSEC, s, NULL);
	if (pid < 0)
		child_abort("fork: %s", strerror(errno));
	step("%s: the other process's WAIT%s queues", kind, fl(wflags));
	while (!atomic_load(&s->queued) && !atomic_load(&s->done) &&
	       now_ns() - atomic_load(&ctl->step_start) < 1500 * MSEC)
		sleep_ms(1);
	step_end();
	if (werr == ETIMEDOUT)
		CHECK(atomic_load(&s->queued),
		      "%s: the other process's WAIT%s never showed in its own QUERY%s (it %s)",
		      kind, fl(wflags), fl(wflags),
		      atomic_load(&s->done) ? ename(atomic_load(&s->ret)) : "is still in it");
	memset(&k, 0, sizeof(k));
	e = b_wake(kind, pw, 1, pflags | HSEMA_WAKE_HANDOFF, &k);
	CHECK(e == perr && k.granted == 0 && k.woken == 0,
	      "%s: WAKE%s|HANDOFF through this process's own word, with another process waiting on its own: expected %s and nobody granted or woken, got %s, granted %u woken %u",
	      kind, fl(pflags), ename(perr), ename(e), k.granted, k.woken);
	if (perr == 0)
		CHECK(peek(pw) == 1, "%s: the unit stays in this process's word: %#x",
		      kind, peek(pw));
	step("%s: reap the waiter process", kind);
	r = reap(pid, 2 * NSEC, &st);
	step_end();
	if (werr)
		CHECK(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == werr,
		      "%s: the other process's WAIT%s with a 1 s deadline: expected %s (not granted by this process's WAKE), it %s",
		      kind, fl(wflags), ename(werr), exit_desc(r, st, buf, sizeof(buf)));
	else
		CHECK(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0 &&
		      WEXITSTATUS(st) < 200,
		      "%s: the other process's WAIT%s with a 1 s deadline must not get a unit from this process's WAKE: it %s",
		      kind, fl(wflags), exit_desc(r, st, buf, sizeof(buf)));
	munmap(s, PAGE);
}

/* The same address in a forked copy of the address space. */
static uint32_t *map_inherited(void *ctx)
{
	return ctx;
}

static void *map_or_die(size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED)
		child_abort("mmap(%zu, %#x, %#x, fd %d, off %lld): %s", len, prot,
			    flags, fd, (long long)off, strerror(errno));
	return p;
}

/* ----- private and shared anonymous memory ----- */

static void private_anon_child(void *arg)
{
	const char *kind = "MAP_PRIVATE|MAP_ANONYMOUS";
	uint32_t *w;

	(void)arg;
	open_dev();
	w = map_or_die(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	w += 100;
	check_works(kind, w, 0);
	check_works(kind, w, HSEMA_F_SHARED);
	/* A forked copy is another mm: another key, with either flag. */
	check_isolated(kind, w, 0, 0, map_inherited, w, 0, ETIMEDOUT);
	check_isolated(kind, w, HSEMA_F_SHARED, 0, map_inherited, w,
		       HSEMA_F_SHARED, ETIMEDOUT);
}

TEST(private_anon)
{
	RUN(private_anon_child, NULL);
}

static void shared_anon_child(void *arg)
{
	const char *kind = "MAP_SHARED|MAP_ANONYMOUS";
	uint32_t *w;

	(void)arg;
	open_dev();
	w = map_or_die(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	w += 200;
	check_works(kind, w, HSEMA_F_SHARED);
	/* A forked child waits, this process wakes. */
	check_meet(kind, w, map_inherited, w, NULL);
}

TEST(shared_anon_fork)
{
	RUN(shared_anon_child, NULL);
}

/* ----- files: tmpfs and memfd ----- */

/*
 * The word is at file offset PAGE + WOFF.  This process maps the whole
 * two-page file, the other process only its second page.
 */
#define WOFF		0x84

struct file_ctx {
	char path[PATH_MAX];
	int fd;			/* memfd: inherited; else -1 */
	int flags;		/* MAP_SHARED or MAP_PRIVATE */
};

static uint32_t *map_file_page1(void *arg)
{
	struct file_ctx *c = arg;
	int fd = c->fd >= 0 ? c->fd : open(c->path, O_RDWR | O_CLOEXEC);
	char *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, c->flags, fd, PAGE);
	if (c->fd < 0)
		close(fd);
	if (p == MAP_FAILED)
		return NULL;
	if (c->flags & MAP_PRIVATE)	/* its own copy of the page */
		poke((uint32_t *)(p + WOFF), 0);
	return (uint32_t *)(p + WOFF);
}

struct tmpfs {
	char dir[64];
	bool mounted;
};

/* In the test process: a tmpfs at a new temporary directory. */
static int tmpfs_mount(struct tmpfs *t)
{
	strcpy(t->dir, "/tmp/hsema_map.XXXXXX");
	t->mounted = false;
	if (!mkdtemp(t->dir))
		return -errno;
	if (mount("hsema_map", t->dir, "tmpfs", 0, "size=4m,mode=0700")) {
		int e = errno;

		rmdir(t->dir);
		return -e;
	}
	t->mounted = true;
	return 0;
}

static void tmpfs_cleanup(struct tmpfs *t)
{
	umount2(t->dir, MNT_DETACH);	/* may be gone already */
	rmdir(t->dir);
}

static char *file_setup(struct file_ctx *c, size_t len)
{
	int fd = c->fd >= 0 ? c->fd : open(c->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	char *p;

	if (fd < 0)
		child_abort("open %s: %s", c->path, strerror(errno));
	if (ftruncate(fd, len))
		child_abort("ftruncate: %s", strerror(errno));
	p = map_or_die(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c->fd < 0)
		close(fd);
	return p;
}

static void tmpfs_file_child(void *arg)
{
	struct tmpfs *t = arg;
	const char *kind = "tmpfs file MAP_SHARED";
	const char *pkind = "tmpfs file MAP_PRIVATE";
	struct file_ctx c = { .fd = -1, .flags = MAP_SHARED };
	struct file_ctx cp;
	uint32_t *w, *pw;
	char *p;
	int fd;

	open_dev();
	snprintf(c.path, sizeof(c.path), "%s/word", t->dir);
	p = file_setup(&c, 2 * PAGE);
	w = (uint32_t *)(p + PAGE + WOFF);
	check_works(kind, w, HSEMA_F_SHARED);
	/* Another process opens and maps the file at its own address. */
	check_meet(kind, w, map_file_page1, &c, w);

	/* A MAP_PRIVATE mapping of the same file: a private key. */
	fd = open(c.path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		child_abort("open: %s", strerror(errno));
	pw = (uint32_t *)((char *)map_or_die(2 * PAGE, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE, fd, 0) + PAGE + WOFF);
	close(fd);
	check_works(pkind, pw, 0);
	check_works(pkind, pw, HSEMA_F_SHARED);
	poke(w, 0);
	cp = c;
	cp.flags = MAP_PRIVATE;
	/* Another process's private copy does not meet a shared waker... */
	check_isolated(pkind, w, HSEMA_F_SHARED, 0, map_file_page1, &cp,
		       HSEMA_F_SHARED, ETIMEDOUT);
	poke(w, 0);
	/* ... nor a shared waiter this process's private copy. */
	check_isolated(pkind, pw, HSEMA_F_SHARED, 0, map_file_page1, &c,
		       HSEMA_F_SHARED, ETIMEDOUT);
	CHECK(peek(w) == 0, "%s: a release through a MAP_PRIVATE copy reached the file: %#x",
	      kind, peek(w));
}

TEST(tmpfs_file)
{
	struct tmpfs t;
	int r = tmpfs_mount(&t);

	if (r)
		SKIP(return, "cannot mount a tmpfs (%s): these tests run as root",
		     strerror(-r));
	r = run_bounded(tmpfs_file_child, &t);
	tmpfs_cleanup(&t);
	if (r == KSFT_SKIP)
		SKIP(return, "%s", ctl->skip);
	ASSERT_EQ(0, r) TH_LOG("see the lines above");
}

static void memfd_shared_child(void *arg)
{
	const char *kind = "memfd MAP_SHARED";
	struct file_ctx c = { .flags = MAP_SHARED };
	uint32_t *w;
	char *p;

	(void)arg;
	open_dev();
	c.fd = memfd_create("hsema_map", MFD_CLOEXEC);
	if (c.fd < 0)
		child_abort("memfd_create: %s", strerror(errno));
	p = file_setup(&c, 2 * PAGE);
	w = (uint32_t *)(p + PAGE + WOFF);
	check_works(kind, w, HSEMA_F_SHARED);
	/* A forked child maps the memfd again, only its second page. */
	check_meet(kind, w, map_file_page1, &c, w);
}

TEST(memfd_shared)
{
	RUN(memfd_shared_child, NULL);
}

/* ----- SysV shm ----- */

static uint32_t *map_shm(void *arg)
{
	void *p = shmat(*(int *)arg, NULL, 0);

	return p == (void *)-1 ? NULL : (uint32_t *)((char *)p + PAGE + WOFF);
}

static void sysv_shm_child(void *arg)
{
	const char *kind = "SysV shm";
	int id = *(int *)arg;
	uint32_t *w;

	open_dev();
	w = map_shm(&id);
	if (!w)
		child_abort("shmat: %s", strerror(errno));
	check_works(kind, w, HSEMA_F_SHARED);
	/* A forked child attaches the segment again, elsewhere. */
	check_meet(kind, w, map_shm, &id, w);
}

TEST(sysv_shm)
{
	int id = shmget(IPC_PRIVATE, 2 * PAGE, IPC_CREAT | 0600), r;

	if (id < 0)
		SKIP(return, "shmget: %s", strerror(errno));
	r = run_bounded(sysv_shm_child, &id);
	shmctl(id, IPC_RMID, NULL);
	if (r == KSFT_SKIP)
		SKIP(return, "%s", ctl->skip);
	ASSERT_EQ(0, r) TH_LOG("see the lines above");
}

/* ----- hugetlb ----- */

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", v) < 0)
		ret = -EIO;
	if (fclose(f))
		ret = -errno;
	return ret;
}

#define NR_HUGE		"/proc/sys/vm/nr_hugepages"
#define NR_OVERCOMMIT	"/proc/sys/vm/nr_overcommit_hugepages"

struct huge_saved {
	long nr, overcommit;
};

static void huge_save(struct huge_saved *s)
{
	s->nr = read_long(NR_HUGE);
	s->overcommit = read_long(NR_OVERCOMMIT);
}

static void huge_restore(const struct huge_saved *s)
{
	if (s->overcommit >= 0)
		write_long(NR_OVERCOMMIT, s->overcommit);
	if (s->nr >= 0)
		write_long(NR_HUGE, s->nr);
}

static void hugetlb_no_pool_child(void *arg)
{
	const char *kind = "MAP_HUGETLB|MAP_PRIVATE|MAP_NORESERVE, empty pool";
	uint32_t *w;
	void *p;

	(void)arg;
	open_dev();
	p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		child_skip("mmap MAP_HUGETLB|MAP_NORESERVE: %s (no hugetlb support?)",
			   strerror(errno));
	/* Never touched from here: with no huge page it would SIGBUS. */
	w = (uint32_t *)((char *)p + 4096 + 64);
	check_fails(kind, w, 0, ENOMEM, UINT32_MAX);
	check_fails(kind, w, HSEMA_F_SHARED, ENOMEM, UINT32_MAX);
}

TEST(hugetlb_no_pool_enomem)
{
	struct huge_saved s;
	int r;

	huge_save(&s);
	if (s.nr < 0)
		SKIP(return, NR_HUGE " unreadable: no hugetlb support");
	if (write_long(NR_OVERCOMMIT, 0) || write_long(NR_HUGE, 0) ||
	    read_long(NR_HUGE) != 0 || read_long(NR_OVERCOMMIT) > 0) {
		huge_restore(&s);
		SKIP(return, "cannot empty the huge page pool (nr_hugepages %ld)",
		     read_long(NR_HUGE));
	}
	r = run_bounded(hugetlb_no_pool_child, NULL);
	huge_restore(&s);
	EXPECT_EQ(s.nr, read_long(NR_HUGE)) TH_LOG(NR_HUGE " not restored");
	if (r == KSFT_SKIP)
		SKIP(return, "%s", ctl->skip);
	ASSERT_EQ(0, r) TH_LOG("see the lines above");
}

static void hugetlb_shared_child(void *arg)
{
	const char *kind = "MAP_HUGETLB|MAP_SHARED|MAP_ANONYMOUS";
	uint32_t *w;
	void *p;

	(void)arg;
	open_dev();
	p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED)
		child_skip("mmap MAP_HUGETLB|MAP_SHARED with a pool of huge pages: %s",
			   strerror(errno));
	w = (uint32_t *)((char *)p + HPAGE / 2 + 64);
	check_works(kind, w, HSEMA_F_SHARED);
	check_works(kind, w, 0);
	check_meet(kind, w, map_inherited, w, NULL);
}

TEST(hugetlb_shared)
{
	struct huge_saved s;
	long got;
	int r;

	huge_save(&s);
	if (s.nr < 0)
		SKIP(return, NR_HUGE " unreadable: no hugetlb support");
	write_long(NR_HUGE, s.nr > 2 ? s.nr : 2);
	got = read_long(NR_HUGE);
	if (got < 1) {
		huge_restore(&s);
		SKIP(return, "the huge page pool could not be filled (nr_hugepages %ld after asking for 2)",
		     got);
	}
	r = run_bounded(hugetlb_shared_child, NULL);
	huge_restore(&s);
	EXPECT_EQ(s.nr, read_long(NR_HUGE)) TH_LOG(NR_HUGE " not restored");
	if (r == KSFT_SKIP)
		SKIP(return, "%s", ctl->skip);
	ASSERT_EQ(0, r) TH_LOG("see the lines above");
}

/* ----- a perf ring buffer ----- */

/* A word perf never writes: page 0 beyond struct perf_event_mmap_page. */
#define PERF_WOFF	2048

/* One page of control, two of data; NULL with errno on failure. */
static uint32_t *map_perf(void *arg)
{
	struct perf_event_attr a;
	char *p;
	int fd;

	(void)arg;
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_SOFTWARE;
	a.size = sizeof(a);
	a.config = PERF_COUNT_SW_DUMMY;
	a.exclude_kernel = 1;
	fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	return (uint32_t *)(p + PERF_WOFF);
}

static uint32_t *perf_or_skip(void)
{
	uint32_t *w = map_perf(NULL);

	if (!w)
		child_skip("perf_event_open(SW_DUMMY) or mmap of its buffer: %s",
			   strerror(errno));
	return w;
}

static void perf_buffer_child(void *arg)
{
	const char *kind = "perf ring buffer";
	uint32_t *w;

	(void)arg;
	open_dev();
	w = perf_or_skip();
	/* Not page cache or shmem: no shared key, and nothing changes. */
	poke(w, 1);
	check_fails(kind, w, HSEMA_F_SHARED, EFAULT, 1);
	poke(w, 0);
	check_fails(kind, w, HSEMA_F_SHARED, EFAULT, 0);
	/* Without the flag: a private semaphore. */
	check_works(kind, w, 0);
}

TEST(perf_buffer)
{
	RUN(perf_buffer_child, NULL);
}

static void perf_isolation_child(void *arg)
{
	const char *kind = "perf ring buffers of two processes";
	uint32_t *w;

	(void)arg;
	open_dev();
	w = perf_or_skip();
	/*
	 * Each process has its own buffer, the word at the same offset: a
	 * release on one never grants the other's waiter.
	 */
	check_isolated(kind, w, 0, 0, map_perf, NULL, 0, ETIMEDOUT);
	check_isolated(kind, w, HSEMA_F_SHARED, EFAULT, map_perf, NULL,
		       HSEMA_F_SHARED, 0);
}

TEST(perf_isolation)
{
	RUN(perf_isolation_child, NULL);
}

/* ----- words that cannot be used ----- */

static void prot_read_child(void *arg)
{
	uint32_t *w, *alias;
	char *p;
	int fd;

	(void)arg;
	open_dev();
	p = map_or_die(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	w = (uint32_t *)p + 10;
	poke(w, 1);
	if (mprotect(p, PAGE, PROT_READ))
		child_abort("mprotect: %s", strerror(errno));
	check_fails("PROT_READ private anonymous", w, 0, EFAULT, 1);
	check_fails("PROT_READ private anonymous", w, HSEMA_F_SHARED, EFAULT, 1);

	fd = memfd_create("hsema_map_ro", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, PAGE))
		child_abort("memfd: %s", strerror(errno));
	alias = map_or_die(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	w = (uint32_t *)map_or_die(PAGE, PROT_READ, MAP_SHARED, fd, 0) + 10;
	poke(alias + 10, 1);
	check_fails("PROT_READ MAP_SHARED memfd", w, 0, EFAULT, 1);
	check_fails("PROT_READ MAP_SHARED memfd", w, HSEMA_F_SHARED, EFAULT, 1);
	poke(alias + 10, 0);
	check_fails("PROT_READ MAP_SHARED memfd", w, HSEMA_F_SHARED, EFAULT, 0);
}

TEST(prot_read)
{
	RUN(prot_read_child, NULL);
}

static void prot_none_child(void *arg)
{
	uint32_t *w;

	(void)arg;
	open_dev();
	w = map_or_die(PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check_fails("PROT_NONE private anonymous", w + 10, 0, EFAULT, UINT32_MAX);
	check_fails("PROT_NONE private anonymous", w + 10, HSEMA_F_SHARED, EFAULT,
		    UINT32_MAX);
	w = map_or_die(PAGE, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	check_fails("PROT_NONE shared anonymous", w + 10, HSEMA_F_SHARED, EFAULT,
		    UINT32_MAX);
}

TEST(prot_none)
{
	RUN(prot_none_child, NULL);
}

static void unmapped_child(void *arg)
{
	uint32_t *w;

	(void)arg;
	open_dev();
	w = map_or_die(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	munmap(w, PAGE);
	check_fails("unmapped", w + 10, 0, EFAULT, UINT32_MAX);
	check_fails("unmapped", w + 10, HSEMA_F_SHARED, EFAULT, UINT32_MAX);
}

TEST(unmapped)
{
	RUN(unmapped_child, NULL);
}

static void misaligned_child(void *arg)
{
	struct file_ctx c = { .flags = MAP_SHARED };
	char *p, *s;
	int i;

	(void)arg;
	open_dev();
	p = map_or_die(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	c.fd = memfd_create("hsema_map_mis", MFD_CLOEXEC);
	if (c.fd < 0)
		child_abort("memfd_create: %s", strerror(errno));
	s = file_setup(&c, PAGE);
	for (i = 1; i < 4; i++) {
		poke((uint32_t *)(p + 64), 0x01010101);
		poke((uint32_t *)(s + 64), 0x01010101);
		check_fails("misaligned private anonymous", (uint32_t *)(p + 64 + i),
			    0, EINVAL, UINT32_MAX);
		check_fails("misaligned private anonymous", (uint32_t *)(p + 64 + i),
			    HSEMA_F_SHARED, EINVAL, UINT32_MAX);
		check_fails("misaligned memfd MAP_SHARED", (uint32_t *)(s + 64 + i),
			    HSEMA_F_SHARED, EINVAL, UINT32_MAX);
		CHECK(peek((uint32_t *)(p + 64)) == 0x01010101 &&
		      peek((uint32_t *)(s + 64)) == 0x01010101,
		      "misaligned calls (offset %d) changed memory: %#x %#x", i,
		      peek((uint32_t *)(p + 64)), peek((uint32_t *)(s + 64)));
	}
}

TEST(misaligned)
{
	RUN(misaligned_child, NULL);
}

static void shadow_stack_child(void *arg)
{
	const char *kind = "shadow stack";
	unsigned int flags[2] = { 0, HSEMA_F_SHARED };
	uint32_t *w;
	int64_t t0;
	long p;
	int i, e;

	(void)arg;
	open_dev();
	p = syscall(__NR_map_shadow_stack, 0UL, PAGE, 0U);
	if (p == -1 && (errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
		child_skip("map_shadow_stack: %s: the kernel has no user shadow stacks, or the (emulated) CPU lacks CET",
			   strerror(errno));
	if (p == -1)
		child_abort("map_shadow_stack: %s", strerror(errno));
	w = (uint32_t *)(uintptr_t)(p + 256);
	for (i = 0; i < 2; i++) {
		struct hsema_wake k;

		t0 = now_ns();
		e = b_wait(kind, w, flags[i], NSEC);
		CHECK(e == EFAULT && now_ns() - t0 < 500 * MSEC,
		      "%s: WAIT%s with a 1 s deadline: expected EFAULT at once, got %s after %lld ms",
		      kind, fl(flags[i]), ename(e), (long long)((now_ns() - t0) / MSEC));
		t0 = now_ns();
		e = b_wake(kind, w, 1, flags[i], &k);
		CHECK(e == EFAULT && now_ns() - t0 < 500 * MSEC,
		      "%s: WAKE%s: expected EFAULT at once, got %s after %lld ms",
		      kind, fl(flags[i]), ename(e), (long long)((now_ns() - t0) / MSEC));
	}
	CHECK(peek(w) == 0, "%s: the word changed: %#x", kind, peek(w));
}

TEST(shadow_stack)
{
	RUN(shadow_stack_child, NULL);
}

/* ----- a tmpfs unmounted under a waiter (last: may crash old kernels) ----- */

static void umount_busy_child(void *arg)
{
	struct tmpfs *t = arg;
	const char *kind = "tmpfs unmounted under a waiter";
	struct file_ctx c = { .fd = -1, .flags = MAP_SHARED };
	bool q, mounted = true;
	struct tw tw;
	uint32_t *w;
	char *p;
	int e;

	open_dev();
	snprintf(c.path, sizeof(c.path), "%s/word", t->dir);
	p = file_setup(&c, PAGE);	/* the fd is closed already */
	w = (uint32_t *)(p + WOFF);
	poke(w, 0);
	if (tw_start(&tw, w, HSEMA_F_SHARED, 1500 * MSEC))
		child_abort("pthread_create");
	step("%s: QUERY|F_SHARED until the waiter is queued", kind);
	q = seen_queued(w, HSEMA_F_SHARED, &tw.done, 1200 * MSEC);
	step_end();
	CHECK(q, "%s: the waiter never showed in QUERY|F_SHARED (it returned %s)",
	      kind, atomic_load(&tw.done) ? ename(tw.ret) : "nothing yet");
	/* Only the waiter holds the file now. */
	munmap(p, PAGE);
	step("%s: umount2(%s, 0)", kind, t->dir);
	e = umount2(t->dir, 0) ? errno : 0;
	step_end();
	CHECK(e == EBUSY,
	      "%s: umount2(0) with a waiter asleep on a word of a file on it (mapping and fd gone): expected EBUSY (the kernel holds the file), got %s",
	      kind, ename(e));
	if (!e) {
		mounted = false;
		printf("# the tmpfs went while the waiter sleeps on its inode\n");
		fflush(stdout);
	}
	if (mounted) {
		step("%s: umount2(%s, MNT_DETACH)", kind, t->dir);
		e = umount2(t->dir, MNT_DETACH) ? errno : 0;
		step_end();
		CHECK(e == 0, "%s: umount2(MNT_DETACH): expected 0, got %s", kind,
		      ename(e));
	}
	step("%s: the waiter's 1.5 s deadline", kind);
	e = tw_join(&tw, 2 * NSEC);
	step_end();
	CHECK(e == 0 && tw.ret == ETIMEDOUT,
	      "%s: the waiter (1.5 s deadline, nobody releases it): expected ETIMEDOUT, got %s",
	      kind, e ? "still waiting" : ename(tw.ret));
	/* The detached superblock goes with the waiter's file: let it. */
	sleep_ms(300);
}

/*
 * Run @scene in a bounded child on a fresh tmpfs, then require a clean
 * kernel log since the mount.
 */
static void run_tmpfs_scene(struct __test_metadata *_metadata, child_fn scene)
{
	struct tmpfs t;
	int r, kfd, n;

	r = tmpfs_mount(&t);
	if (r)
		SKIP(return, "cannot mount a tmpfs (%s): these tests run as root",
		     strerror(-r));
	kfd = kmsg_mark();
	r = run_bounded(scene, &t);
	tmpfs_cleanup(&t);
	sleep_ms(200);
	if (kfd >= 0) {
		n = kmsg_count_splats(kfd, "# kmsg: ", 10);
		EXPECT_EQ(0, n) TH_LOG("the kernel log has %d report line(s) (Busy inodes, BUG, WARNING...) since the mount", n);
	}
	if (r == KSFT_SKIP)
		SKIP(return, "%s", ctl->skip);
	ASSERT_EQ(0, r) TH_LOG("see the lines above");
}

TEST(tmpfs_umount_under_waiter)
{
	run_tmpfs_scene(_metadata, umount_busy_child);
}

static void umount_detached_wake_child(void *arg)
{
	struct tmpfs *t = arg;
	const char *kind = "tmpfs detached, another process releases";
	struct file_ctx c = { .fd = -1, .flags = MAP_SHARED };
	struct sync *s = new_sync();
	struct hsema_wake k;
	struct tw tw;
	uint32_t *w;
	char buf[120];
	bool q;
	char *p;
	pid_t pid;
	int e, r, st = 0;

	open_dev();
	snprintf(c.path, sizeof(c.path), "%s/word", t->dir);
	p = file_setup(&c, 2 * PAGE);
	munmap(p, 2 * PAGE);
	/* The releaser: maps the file itself (its second page) and waits. */
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		child_abort("fork: %s", strerror(errno));
	if (pid == 0) {
		int64_t end;
		uint32_t *rw;

		alarm(8);
		rw = map_file_page1(&c);
		if (!rw)
			_exit(201);
		atomic_store(&s->queued, 1);	/* "mapped" */
		end = now_ns() + 6 * NSEC;
		while (!atomic_load(&s->done) && now_ns() < end)
			sleep_ms(1);
		if (!atomic_load(&s->done))
			_exit(202);
		alarm(CALL_BOUND_S);
		memset(&k, 0, sizeof(k));
		e = h_wake(rw, 1, HSEMA_F_SHARED | HSEMA_WAKE_HANDOFF, &k);
		_exit(e ? e : k.granted == 1 && k.woken == 0 ? 0 :
		      150 + k.granted + 10 * k.woken);
	}
	step("%s: the releaser maps the file", kind);
	while (!atomic_load(&s->queued) &&
	       now_ns() - atomic_load(&ctl->step_start) < 1500 * MSEC)
		sleep_ms(1);
	step_end();
	if (!atomic_load(&s->queued))
		child_abort("the releaser process did not map the file");

	p = file_setup(&c, 2 * PAGE);
	w = (uint32_t *)(p + PAGE + WOFF);
	poke(w, 0);
	if (tw_start(&tw, w, HSEMA_F_SHARED, 1500 * MSEC))
		child_abort("pthread_create");
	step("%s: QUERY|F_SHARED until the waiter is queued", kind);
	q = seen_queued(w, HSEMA_F_SHARED, &tw.done, 1200 * MSEC);
	step_end();
	CHECK(q, "%s: the waiter never showed in QUERY|F_SHARED (it returned %s)",
	      kind, atomic_load(&tw.done) ? ename(tw.ret) : "nothing yet");
	munmap(p, 2 * PAGE);
	step("%s: umount2(%s, MNT_DETACH)", kind, t->dir);
	e = umount2(t->dir, MNT_DETACH) ? errno : 0;
	step_end();
	CHECK(e == 0, "%s: umount2(MNT_DETACH): expected 0, got %s", kind, ename(e));
	/* Now the other process releases through its own mapping. */
	atomic_store(&s->done, 1);
	step("%s: reap the releaser", kind);
	r = reap(pid, 2 * NSEC, &st);
	step_end();
	if (r == 0 && WIFEXITED(st) && WEXITSTATUS(st) >= 150 &&
	    WEXITSTATUS(st) < 200)
		snprintf(buf, sizeof(buf), "granted %d woken %d",
			 (WEXITSTATUS(st) - 150) % 10, (WEXITSTATUS(st) - 150) / 10);
	else
		exit_desc(r, st, buf, sizeof(buf));
	CHECK(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "%s: WAKE|F_SHARED|HANDOFF through the other process's mapping of the detached file: expected 0 and the waiter granted, it %s",
	      kind, buf);
	step("%s: join the waiter", kind);
	e = tw_join(&tw, 2 * NSEC);
	step_end();
	CHECK(e == 0 && tw.ret == 0,
	      "%s: the waiter: expected 0 (granted the unit by the other process), got %s",
	      kind, e ? "still waiting" : ename(tw.ret));
	sleep_ms(300);
}

TEST(tmpfs_detached_wake_from_other_process)
{
	run_tmpfs_scene(_metadata, umount_detached_wake_child);
}

TEST_HARNESS_MAIN
