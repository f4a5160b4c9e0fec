// SPDX-License-Identifier: GPL-2.0-only
/*
 * Waiting for any of several semaphores: sema_acquire_any() and
 * HSEMA_IOC_WAIT_ANY, checked against their specification
 * (uapi/linux/hsema.h, libsema/sema.h):
 *
 * - the result is the index of the one semaphore a unit was taken of:
 *   the lowest index when several have a unit at call time, without a
 *   system call (under a seccomp filter that traps ioctl());
 * - exactly one unit is taken however releases race: two releases at
 *   the same instant (two threads leaving a barrier), one on each of the
 *   two semaphores a waiter waits on, never give it two units; the other
 *   unit stays in its semaphore or goes to another waiter (a ledger:
 *   units released == units acquired + units left), in normal and in
 *   starvation mode; and, deterministically (the waiter kept off its CPU
 *   by a SCHED_FIFO hog), a grant on one queue takes the waiter out of
 *   the other before that one's release can pick it: QUERY no longer
 *   counts it there, and that queue's starvation decision is made on its
 *   new head's wait and threshold;
 * - private and SEMA_SHARED semaphores mixed, across fork; the same
 *   semaphore twice (waited on once, reported at its lowest index), but
 *   not one word as both shared and private (EINVAL); all SEMA_ANY_MAX
 *   entries;
 * - each queue's own FIFO tickets, and its own starvation mode and
 *   threshold (sema_set_starve_threshold(), an entry's starve_ns);
 * - deadlines (a passed one still takes a free unit), signals (EINTR
 *   without SA_RESTART, a transparent restart with it, HSEMA_WAIT_EINTR),
 *   races of a release with a deadline or a signal, SIGKILL of a waiter
 *   granted a unit it never returned with (the unit goes on, or back),
 *   process exit with a waiting thread, munmap of one of the words under
 *   the waiter (the wait ends or goes on, the kernel stays untainted);
 * - bad input, to the library and to the ioctl: its errno, and no value
 *   changed;
 * - after every wait, no waiter left queued on any of the words.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

/* The layout is the same for 32- and 64-bit processes. */
_Static_assert(sizeof(struct hsema_any_entry) == 24, "hsema_any_entry size");
_Static_assert(offsetof(struct hsema_any_entry, starve_ns) == 8, "entry.starve");
_Static_assert(offsetof(struct hsema_any_entry, flags) == 16, "entry.flags");
_Static_assert(sizeof(struct hsema_wait_any) == 48, "hsema_wait_any size");
_Static_assert(offsetof(struct hsema_wait_any, count) == 8, "any.count");
_Static_assert(offsetof(struct hsema_wait_any, deadline_sec) == 16, "any.sec");
_Static_assert(offsetof(struct hsema_wait_any, reserved) == 32, "any.reserved");
_Static_assert(HSEMA_IOC_WAIT_ANY == 0x4030b905U, "WAIT_ANY number");
_Static_assert(HSEMA_ANY_MAX == SEMA_ANY_MAX, "the library's bound");

#define PAGE		4096UL
#define NSEC		1000000000LL
#define MSEC		1000000LL
#define U64(p)		((__u64)(uintptr_t)(p))
#define NP		80	/* private semaphores */
#define NS		8	/* SEMA_SHARED ones */
#define RACE_ITERS	64	/* per release race */
#define SINGLE_ITERS	50	/* per deadline or signal race */
#define KILL_ITERS	20
/* Kernel taint flags that mean something went wrong: D (oops), W (WARN). */
#define TAINT_BAD	((1UL << 7) | (1UL << 9))

static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
static const char *const clock_names[] = { "MONOTONIC", "REALTIME" };

/* Shared with the children. */
struct shm {
	sema_t s[NS];
	atomic_int done[4];	/* slot's call returned */
	int ret[4];		/* what it returned */
	int data[16];		/* fastpath_no_syscall's results */
};

/* A thread in sema_acquire_any(), or in HSEMA_IOC_WAIT_ANY if rawfd >= 0. */
struct anyw {
	pthread_t thr;
	sema_t *sems[SEMA_ANY_MAX];
	unsigned int n;
	bool timed;
	struct timespec abstime;
	clockid_t clock;
	int rawfd;
	struct hsema_wait_any req;	/* raw: entries set at the call */
	struct hsema_any_entry ents[SEMA_ANY_MAX];
	int cpu;			/* pin to this CPU if >= 0 */
	int setup_err;
	atomic_int started;
	atomic_int done;
	int ret;
};

/* A thread that releases @s each time the barriers let it. */
struct releaser {
	pthread_t thr;
	sema_t *s;
	pthread_barrier_t *go, *done;
	atomic_int *stop;
	int ret;
};

FIXTURE(any) {
	int fd;
	sema_t *p;		/* NP private semaphores, value 0 */
	struct shm *shm;	/* NS SEMA_SHARED semaphores, value 0 */
	pid_t kids[2];
	unsigned long taint;
	struct anyw w[2];
	struct waiter pw[2];
	pthread_barrier_t go, done;
	atomic_int stop;
	struct releaser rel[2];
};

static unsigned long taint_now(void)
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

FIXTURE_SETUP(any)
{
	struct hsema_version v;
	int i;

	self->p = MAP_FAILED;
	self->shm = MAP_FAILED;
	self->taint = taint_now();
	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	memset(&v, 0, sizeof(v));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_VERSION, &v));
	ASSERT_NE(0, v.features & HSEMA_FEAT_WAIT_ANY)
		TH_LOG("no HSEMA_FEAT_WAIT_ANY in features %#llx",
		       (unsigned long long)v.features);
	self->p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->p);
	self->shm = mmap(NULL, sizeof(*self->shm), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->shm);
	for (i = 0; i < NP; i++)
		ASSERT_EQ(0, sema_init(&self->p[i], 0, 0));
	for (i = 0; i < NS; i++)
		ASSERT_EQ(0, sema_init(&self->shm->s[i], 0, SEMA_SHARED));
	atomic_store(&hsema_sig_count, 0);
}

FIXTURE_TEARDOWN(any)
{
	unsigned long now = taint_now();
	int i;

	for (i = 0; i < 2; i++) {
		if (self->kids[i] > 0) {
			kill(self->kids[i], SIGKILL);
			waitpid(self->kids[i], NULL, 0);
		}
	}
	EXPECT_EQ(0, (now & ~self->taint) & TAINT_BAD)
		TH_LOG("the kernel got tainted %#lx (was %#lx): see dmesg",
		       now, self->taint);
	if (self->shm != MAP_FAILED)
		munmap(self->shm, sizeof(*self->shm));
	if (self->p != MAP_FAILED)
		munmap(self->p, 2 * PAGE);
	if (self->fd >= 0)
		close(self->fd);
}

#define REAPED(self, pid) do {					\
	for (int _k = 0; _k < 2; _k++)				\
		if ((self)->kids[_k] == (pid))			\
			(self)->kids[_k] = 0;			\
} while (0)

/* The QUERY flags of @s: HSEMA_F_SHARED for the shared ones. */
static unsigned int qf(FIXTURE_DATA(any) *self, sema_t *s)
{
	uintptr_t a = (uintptr_t)s, b = (uintptr_t)self->shm;

	return a >= b && a < b + sizeof(*self->shm) ? HSEMA_F_SHARED : 0;
}

/* Waiters queued on @s now (one QUERY, no polling), or -errno. */
static int nr_waiters(FIXTURE_DATA(any) *self, sema_t *s)
{
	struct hsema_query q;
	int ret = hsema_query(self->fd, s, qf(self, s), &q);

	return ret ? ret : (int)q.nr_waiters;
}

/*
 * Poll until @s has @n waiters queued, none of them woken: as
 * hsema_wait_queued(), with shorter sleeps, since the race loops wait
 * for this several times an iteration.
 */
static int queued(FIXTURE_DATA(any) *self, sema_t *s, unsigned int n)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + HSEMA_POLL_MS * MSEC;
	struct hsema_query q;
	int ret;

	for (;;) {
		ret = hsema_query(self->fd, s, qf(self, s), &q);
		if (ret)
			return ret;
		if (q.nr_waiters == n && q.nr_woken == 0)
			return 0;
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -ETIMEDOUT;
		usleep_ns(50000);
	}
}

/* The value sema_getvalue() reports, or 0xdead if it fails. */
static unsigned int val(sema_t *s)
{
	unsigned int v = 0xdead;

	if (sema_getvalue(s, &v))
		return 0xdead;
	return v;
}

/* No waiter is queued on any of @sems: one QUERY each, no polling. */
static void expect_idle(struct __test_metadata *_metadata,
			FIXTURE_DATA(any) *self, sema_t *const *sems,
			unsigned int n, const char *what)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		EXPECT_EQ(0, nr_waiters(self, sems[i]))
			TH_LOG("%s: waiters left queued on entry %u", what, i);
}

static void *anyw_fn(void *arg)
{
	struct anyw *w = arg;
	int ret;

	if (w->cpu >= 0) {
		ret = pin_self(w->cpu);
		if (ret)
			w->setup_err = -ret;
	}
	atomic_store(&w->started, 1);
	if (w->rawfd >= 0) {
		w->req.entries = U64(w->ents);
		ret = ioctl(w->rawfd, HSEMA_IOC_WAIT_ANY, &w->req);
		if (ret < 0)
			ret = -errno;
	} else {
		ret = sema_acquire_any(w->sems, w->n,
				       w->timed ? &w->abstime : NULL, w->clock);
	}
	w->ret = ret;
	atomic_store(&w->done, 1);
	return NULL;
}

static void anyw_init(struct anyw *w, sema_t *const *sems, unsigned int n)
{
	memset(w, 0, sizeof(*w));
	if (n)
		memcpy(w->sems, sems, n * sizeof(*sems));
	w->n = n;
	w->clock = CLOCK_MONOTONIC;
	w->rawfd = -1;
	w->cpu = -1;
	w->ret = INT_MIN;	/* "not returned" */
}

static int anyw_start(struct anyw *w)
{
	return -pthread_create(&w->thr, NULL, anyw_fn, w);
}

/* Wait (bounded) until @w returned and join it; 0 or -ETIMEDOUT. */
static int anyw_finish(struct anyw *w)
{
	if (wait_atomic_ge(&w->done, 1))
		return -ETIMEDOUT;
	pthread_join(w->thr, NULL);
	return 0;
}

static struct hsema_any_entry entry(const void *word, unsigned int flags)
{
	struct hsema_any_entry e;

	memset(&e, 0, sizeof(e));
	e.uaddr = U64(word);
	e.flags = flags;
	return e;
}

static struct hsema_wait_any any_req(const struct hsema_any_entry *e,
				     unsigned int count, unsigned int flags)
{
	struct hsema_wait_any r;

	memset(&r, 0, sizeof(r));
	r.entries = U64(e);
	r.count = count;
	r.flags = flags;
	return r;
}

/* A deadline @delta_ns from now, on REALTIME if @realtime, in @r. */
static void set_deadline(struct hsema_wait_any *r, bool realtime,
			 int64_t delta_ns)
{
	struct timespec ts = deadline_in(realtime ? CLOCK_REALTIME :
					 CLOCK_MONOTONIC, delta_ns);

	r->flags |= HSEMA_WAIT_TIMEOUT | (realtime ? HSEMA_WAIT_REALTIME : 0);
	r->deadline_sec = ts.tv_sec;
	r->deadline_nsec = ts.tv_nsec;
}

/* HSEMA_IOC_WAIT_ANY: the index, or -errno. */
static int wait_any(int fd, struct hsema_wait_any *r)
{
	int ret = ioctl(fd, HSEMA_IOC_WAIT_ANY, r);

	return ret < 0 ? -errno : ret;
}

static void poke(sema_t *s, unsigned int word)
{
	__atomic_store_n(&s->__word, word, __ATOMIC_SEQ_CST);
}

/* waitpid() for up to about 20 s: exit code, 128 + signal, or -1. */
static int reap(pid_t pid)
{
	int i, status;

	for (i = 0; i < 20000; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			if (WIFSIGNALED(status))
				return 128 + WTERMSIG(status);
			return -1;
		}
		if (r < 0)
			return -1;
		usleep(1000);
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* The index, the fast path, duplicates, mixed keys, 64 entries.       */
/* ------------------------------------------------------------------ */

/*
 * Several semaphores with units at call time: the lowest index wins,
 * with and without a deadline (a passed one too), private and shared
 * mixed; each call takes one unit, from that semaphore only.
 */
TEST_F(any, lowest_index_wins)
{
	sema_t *s[4] = { &self->p[0], &self->shm->s[0], &self->p[1],
			 &self->shm->s[1] };
	struct timespec dl;
	int i, c;

	ASSERT_EQ(0, sema_release(s[1]));
	ASSERT_EQ(0, sema_release_n(s[3], 2));
	EXPECT_EQ(1, sema_acquire_any(s, 4, NULL, CLOCK_MONOTONIC));
	EXPECT_EQ(3, sema_acquire_any(s, 4, NULL, CLOCK_MONOTONIC));
	EXPECT_EQ(1, val(s[3]));
	EXPECT_EQ(3, sema_acquire_any(s, 4, NULL, CLOCK_MONOTONIC));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, val(s[i])) TH_LOG("entry %d", i);

	/* One unit each: served in index order. */
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, sema_release(s[i]));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(i, sema_acquire_any(s, 4, NULL, CLOCK_MONOTONIC));
		EXPECT_EQ(0, val(s[i]));
	}

	/* With a future and with a passed deadline, on both clocks. */
	for (c = 0; c < 2; c++) {
		ASSERT_EQ(0, sema_release(s[2]));
		ASSERT_EQ(0, sema_release(s[3]));
		dl = deadline_in(clocks[c], 10 * NSEC);
		EXPECT_EQ(2, sema_acquire_any(s, 4, &dl, clocks[c]))
			TH_LOG("CLOCK_%s, future", clock_names[c]);
		dl = deadline_in(clocks[c], -NSEC);
		EXPECT_EQ(3, sema_acquire_any(s, 4, &dl, clocks[c]))
			TH_LOG("CLOCK_%s, passed", clock_names[c]);
	}
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, val(s[i])) TH_LOG("entry %d", i);
	expect_idle(_metadata, self, s, 4, "lowest_index_wins");
}

#if defined(__x86_64__)
#define ANY_AUDIT_ARCH AUDIT_ARCH_X86_64
#endif

static volatile int fp_traps;

static void fp_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	fp_traps++;
#if defined(__x86_64__)
	/* The call was skipped: make it fail instead of returning its nr. */
	((ucontext_t *)uc)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#else
	(void)uc;
#endif
}

/* Trap every ioctl() of the calling process into SIGSYS. */
static int trap_ioctls(void)
{
#ifdef ANY_AUDIT_ARCH
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ANY_AUDIT_ARCH, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]),
		.filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) ? -errno : 0;
#else
	return -EOPNOTSUPP;
#endif
}

enum {
	FP_R0, FP_R1, FP_R2, FP_R3, FP_TRAPS, FP_CHECK, FP_CHECK_TRAPS,
	FP_REACHED,
};

/*
 * The fast path enters no kernel: a child traps every ioctl() and takes
 * units of {private 0 units, shared 1, private 3}: index 1, then 2 with a
 * future deadline, 2 with a passed one, and 0 of {p1, p1}; no ioctl()
 * was trapped; a direct ioctl() afterwards is, proving the filter.
 */
TEST_F(any, fastpath_no_syscall)
{
	struct shm *shm = self->shm;
	sema_t *p0 = &self->p[0], *s0 = &shm->s[0], *p1 = &self->p[1];
	pid_t pid;

#ifndef ANY_AUDIT_ARCH
	SKIP(return, "no seccomp architecture for this build");
#endif
	ASSERT_EQ(0, sema_release(s0));
	ASSERT_EQ(0, sema_release_n(p1, 3));
	memset(shm->data, 0, sizeof(shm->data));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		sema_t *three[] = { p0, s0, p1 }, *dup[] = { p1, p1 };
		struct timespec future, past;
		struct hsema_version ver;
		struct sigaction sa;
		int *d = shm->data;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = fp_sigsys;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGSYS, &sa, NULL))
			_exit(2);
		future = deadline_in(CLOCK_MONOTONIC, 10 * NSEC);
		past = deadline_in(CLOCK_REALTIME, -NSEC);
		if (trap_ioctls())
			_exit(3);
		d[FP_R0] = sema_acquire_any(three, 3, NULL, CLOCK_MONOTONIC);
		d[FP_R1] = sema_acquire_any(three, 3, &future, CLOCK_MONOTONIC);
		d[FP_R2] = sema_acquire_any(three, 3, &past, CLOCK_REALTIME);
		d[FP_R3] = sema_acquire_any(dup, 2, NULL, CLOCK_MONOTONIC);
		d[FP_TRAPS] = fp_traps;
		d[FP_CHECK] = ioctl(self->fd, HSEMA_IOC_VERSION, &ver);
		d[FP_CHECK_TRAPS] = fp_traps;
		d[FP_REACHED] = 1;
		_exit(0);
	}
	self->kids[0] = pid;
	EXPECT_EQ(0, reap(pid));
	REAPED(self, pid);
	ASSERT_EQ(1, shm->data[FP_REACHED]);
	EXPECT_EQ(1, shm->data[FP_R0]);
	EXPECT_EQ(2, shm->data[FP_R1]);
	EXPECT_EQ(2, shm->data[FP_R2]);
	EXPECT_EQ(0, shm->data[FP_R3]);
	EXPECT_EQ(0, shm->data[FP_TRAPS])
		TH_LOG("the fast path made %d ioctl() calls", shm->data[FP_TRAPS]);
	EXPECT_EQ(1, shm->data[FP_CHECK_TRAPS]) TH_LOG("the filter does not work");
	EXPECT_EQ(0, val(s0));		/* shared: the child took it */
	EXPECT_EQ(3, val(p1));		/* private: the child's copy */
}

/*
 * The same semaphore twice: a unit is reported at its lowest index, on
 * the fast path and after a wait, and it is waited on once.
 */
TEST_F(any, duplicate_entries)
{
	sema_t *a = &self->p[0], *b = &self->p[1], *s = &self->shm->s[0];
	sema_t *aba[] = { a, b, a }, *baa[] = { b, a, a };
	sema_t *five[] = { b, a, a, s, a };
	struct anyw *w = &self->w[0];
	struct hsema_any_entry e[3];
	struct hsema_wait_any r;

	ASSERT_EQ(0, sema_release(b));
	EXPECT_EQ(1, sema_acquire_any(aba, 3, NULL, CLOCK_MONOTONIC));
	ASSERT_EQ(0, sema_release(a));
	EXPECT_EQ(1, sema_acquire_any(baa, 3, NULL, CLOCK_MONOTONIC));
	ASSERT_EQ(0, sema_release_n(a, 2));
	EXPECT_EQ(0, sema_acquire_any(aba, 3, NULL, CLOCK_MONOTONIC));
	EXPECT_EQ(0, sema_acquire_any(aba, 3, NULL, CLOCK_MONOTONIC));
	EXPECT_EQ(0, val(a));
	EXPECT_EQ(0, val(b));

	/* Waiting: one waiter in a's queue, however often it is listed. */
	anyw_init(w, five, 5);
	ASSERT_EQ(0, anyw_start(w));
	ASSERT_EQ(0, queued(self, b, 1));
	ASSERT_EQ(0, queued(self, s, 1));
	ASSERT_EQ(0, queued(self, a, 1));
	msleep(10);
	EXPECT_EQ(1, nr_waiters(self, a)) TH_LOG("queued more than once");
	ASSERT_EQ(0, sema_release(a));
	ASSERT_EQ(0, anyw_finish(w));
	EXPECT_EQ(1, w->ret);
	EXPECT_EQ(0, val(a));
	expect_idle(_metadata, self, five, 5, "after the wait");

	/* The ioctl: the same, raw. */
	e[0] = entry(&b->__word, 0);
	e[1] = entry(&a->__word, 0);
	e[2] = entry(&a->__word, 0);
	ASSERT_EQ(0, sema_release(a));
	r = any_req(e, 3, 0);
	EXPECT_EQ(1, wait_any(self->fd, &r));
	anyw_init(w, NULL, 0);
	w->rawfd = self->fd;
	memcpy(w->ents, e, sizeof(e));
	w->req = any_req(NULL, 3, 0);
	ASSERT_EQ(0, anyw_start(w));
	ASSERT_EQ(0, queued(self, b, 1));
	ASSERT_EQ(0, queued(self, a, 1));
	ASSERT_EQ(0, sema_release(a));
	ASSERT_EQ(0, anyw_finish(w));
	EXPECT_EQ(1, w->ret);
	EXPECT_EQ(0, val(a));
	expect_idle(_metadata, self, baa, 3, "after the raw wait");
}

/*
 * One word named both shared and private: two keys, so two queues would
 * write the one word's bits, and leaving the second could clear the
 * WAITERS of a waiter still queued in the first, whose release would then
 * stay in userspace and never wake it.  Refused with EINVAL before
 * anything is queued (it timed out instead, and left the word reading
 * NONE under a sleeping waiter); the waiter already queued is served.
 */
TEST_F(any, one_word_shared_and_private)
{
	sema_t *s = &self->shm->s[0];
	struct hsema_any_entry e[2];
	struct hsema_wait_any r;
	struct hsema_wake k;
	struct waiter t;
	int served;

	waiter_init(&t, s, 0, NULL);
	ASSERT_EQ(0, waiter_start(&t));
	ASSERT_EQ(0, queued(self, s, 1));
	e[0] = entry(&s->__word, HSEMA_F_SHARED);
	e[1] = entry(&s->__word, 0);
	r = any_req(e, 2, 0);
	set_deadline(&r, false, 50 * MSEC);
	EXPECT_EQ(-EINVAL, wait_any(self->fd, &r));
	EXPECT_EQ(HSEMA_STATE_WAITERS, hsema_word(s) & HSEMA_STATE_MASK);
	EXPECT_EQ(1, nr_waiters(self, s));
	ASSERT_EQ(0, sema_release(s));
	served = waiter_wait_done(&t);
	EXPECT_EQ(0, served) TH_LOG("the queued waiter missed its release");
	if (served)	/* wake it, so that it can be joined */
		hsema_raw_wake(self->fd, s, 1, HSEMA_F_SHARED, &k);
	waiter_join(&t);
	EXPECT_EQ(0, t.ret);
	EXPECT_EQ(0, val(s));
}

/*
 * Private and shared semaphores in one wait, released one at a time:
 * the waiter gets the index of the one released, and leaves the others'
 * queues.
 */
TEST_F(any, mixed_private_shared)
{
	sema_t *s[4] = { &self->p[0], &self->shm->s[0], &self->p[1],
			 &self->shm->s[1] };
	struct anyw *w = &self->w[0];
	int i, k;

	for (k = 3; k >= 0; k--) {
		anyw_init(w, s, 4);
		ASSERT_EQ(0, anyw_start(w));
		for (i = 0; i < 4; i++)
			ASSERT_EQ(0, queued(self, s[i], 1)) TH_LOG("entry %d", i);
		ASSERT_EQ(0, sema_release(s[k]));
		ASSERT_EQ(0, anyw_finish(w));
		EXPECT_EQ(k, w->ret);
		for (i = 0; i < 4; i++)
			EXPECT_EQ(0, val(s[i])) TH_LOG("entry %d", i);
		expect_idle(_metadata, self, s, 4, "after the wait");
	}
}

struct child_rel {
	int fd;
	sema_t *s;
};

/* In a child: release its own private @s once its main thread waits. */
static void *child_release_fn(void *arg)
{
	struct child_rel *c = arg;

	if (hsema_wait_queued(c->fd, c->s, 0, 1, NULL) || sema_release(c->s))
		_exit(5);
	return NULL;
}

/*
 * Across fork(): a child waits on {its copy of a private semaphore, two
 * shared ones}; the parent's release of its own private semaphore does
 * not reach it, a release of a shared one does.  The parent waits on
 * {private, shared} and a child's release of the shared one serves it.
 * A child's thread releases the child's private copy: the child gets
 * it and leaves the shared queue.
 */
TEST_F(any, shared_across_fork)
{
	struct shm *shm = self->shm;
	sema_t *priv = &self->p[0], *s0 = &shm->s[0], *s1 = &shm->s[1];
	sema_t *ps[] = { priv, s0 }, *sh[] = { s0, s1 };
	struct anyw *w = &self->w[0];
	pid_t pid;

	atomic_store(&shm->done[0], 0);
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		sema_t *three[] = { priv, s0, s1 };
		int ret = sema_acquire_any(three, 3, NULL, CLOCK_MONOTONIC);

		shm->ret[0] = ret;
		atomic_store(&shm->done[0], 1);
		_exit(ret == 2 ? 0 : 1);
	}
	self->kids[0] = pid;
	ASSERT_EQ(0, queued(self, s0, 1));
	ASSERT_EQ(0, queued(self, s1, 1));
	EXPECT_EQ(0, nr_waiters(self, priv))
		TH_LOG("the child's private copy has the parent's key");
	ASSERT_EQ(0, sema_release(priv));
	msleep(20);
	EXPECT_FALSE(atomic_load(&shm->done[0]))
		TH_LOG("the parent's private release served the child (%d)",
		       shm->ret[0]);
	EXPECT_EQ(1, val(priv));
	ASSERT_EQ(0, sema_tryacquire(priv));
	ASSERT_EQ(0, sema_release(s1));
	EXPECT_EQ(0, reap(pid)) TH_LOG("the child returned %d", shm->ret[0]);
	REAPED(self, pid);
	EXPECT_EQ(2, shm->ret[0]);
	EXPECT_EQ(0, val(s0));
	EXPECT_EQ(0, val(s1));
	expect_idle(_metadata, self, sh, 2, "after the child's wait");

	/* The parent waits, a child releases. */
	anyw_init(w, ps, 2);
	ASSERT_EQ(0, anyw_start(w));
	ASSERT_EQ(0, queued(self, priv, 1));
	ASSERT_EQ(0, queued(self, s0, 1));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(sema_release(s0) ? 1 : 0);
	self->kids[0] = pid;
	EXPECT_EQ(0, reap(pid));
	REAPED(self, pid);
	ASSERT_EQ(0, anyw_finish(w));
	EXPECT_EQ(1, w->ret);
	EXPECT_EQ(0, val(s0));
	expect_idle(_metadata, self, ps, 2, "after the parent's wait");

	/* A child's own thread releases the child's private copy. */
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct child_rel c = { .fd = self->fd, .s = priv };
		pthread_t t;
		int ret;

		if (pthread_create(&t, NULL, child_release_fn, &c))
			_exit(6);
		ret = sema_acquire_any(ps, 2, NULL, CLOCK_MONOTONIC);
		pthread_join(t, NULL);
		_exit(ret == 0 ? 0 : 7);
	}
	self->kids[0] = pid;
	EXPECT_EQ(0, reap(pid));
	REAPED(self, pid);
	EXPECT_EQ(0, val(s0));
	EXPECT_EQ(0, val(priv));
	expect_idle(_metadata, self, ps, 2, "after the second child's wait");
}

/*
 * All SEMA_ANY_MAX entries: the lowest of those with a unit on the fast
 * path, and a wait that is queued in all 64 queues and leaves every one
 * of them when a unit comes.
 */
TEST_F(any, sixty_four_entries)
{
	sema_t *s[SEMA_ANY_MAX];
	struct anyw *w = &self->w[0];
	static const int pick[] = { 63, 0, 31 };
	int i, k;

	for (i = 0; i < SEMA_ANY_MAX; i++)
		s[i] = &self->p[i];
	s[10] = &self->shm->s[0];
	s[50] = &self->shm->s[1];
	ASSERT_EQ(0, sema_release(s[40]));
	ASSERT_EQ(0, sema_release(s[63]));
	EXPECT_EQ(40, sema_acquire_any(s, SEMA_ANY_MAX, NULL, CLOCK_MONOTONIC));
	EXPECT_EQ(63, sema_acquire_any(s, SEMA_ANY_MAX, NULL, CLOCK_MONOTONIC));

	for (k = 0; k < 3; k++) {
		anyw_init(w, s, SEMA_ANY_MAX);
		ASSERT_EQ(0, anyw_start(w));
		for (i = 0; i < SEMA_ANY_MAX; i++)
			ASSERT_EQ(0, queued(self, s[i], 1)) TH_LOG("entry %d", i);
		ASSERT_EQ(0, sema_release(s[pick[k]]));
		ASSERT_EQ(0, anyw_finish(w));
		EXPECT_EQ(pick[k], w->ret);
		for (i = 0; i < SEMA_ANY_MAX; i++)
			ASSERT_EQ(0, val(s[i])) TH_LOG("entry %d", i);
		expect_idle(_metadata, self, s, SEMA_ANY_MAX, "after the wait");
	}
	/* And a shared one among them. */
	anyw_init(w, s, SEMA_ANY_MAX);
	ASSERT_EQ(0, anyw_start(w));
	ASSERT_EQ(0, queued(self, s[50], 1));
	ASSERT_EQ(0, queued(self, s[63], 1));
	ASSERT_EQ(0, sema_release(s[50]));
	ASSERT_EQ(0, anyw_finish(w));
	EXPECT_EQ(50, w->ret);
	expect_idle(_metadata, self, s, SEMA_ANY_MAX, "after the shared one");
}

/* ------------------------------------------------------------------ */
/* FIFO and starvation, per queue.                                     */
/* ------------------------------------------------------------------ */

/*
 * Each queue keeps its own FIFO order, normal mode: A waits on X alone,
 * then B on {X, Y}: X's release goes to A, Y's to B.  The other way
 * round, B first: X's release goes to B, which leaves Y's queue, where C
 * (queued behind B) is then served by Y's release, and A, behind B on X,
 * by the next X release.  Two any-waiters, B1 {X, Y} before B2 {Y, X}:
 * Y's release goes to B1 (Y's head), X's then to B2.
 */
TEST_F(any, fifo_per_queue)
{
	sema_t *x = &self->p[0], *y = &self->p[1], *xy[] = { x, y };
	sema_t *yx[] = { y, x };
	struct anyw *b = &self->w[0], *b2 = &self->w[1];
	struct waiter *a = &self->pw[0], *c = &self->pw[1];

	ASSERT_EQ(0, sema_set_starve_threshold(x, HSEMA_NO_STARVE_US));
	ASSERT_EQ(0, sema_set_starve_threshold(y, HSEMA_NO_STARVE_US));

	/* A on X, then B on {X, Y}. */
	waiter_init(a, x, 0, NULL);
	ASSERT_EQ(0, waiter_start(a));
	ASSERT_EQ(0, queued(self, x, 1));
	anyw_init(b, xy, 2);
	ASSERT_EQ(0, anyw_start(b));
	ASSERT_EQ(0, queued(self, x, 2));
	ASSERT_EQ(0, queued(self, y, 1));
	ASSERT_EQ(0, sema_release(x));
	ASSERT_EQ(0, waiter_wait_done(a));
	waiter_join(a);
	EXPECT_EQ(0, a->ret);
	msleep(20);
	EXPECT_FALSE(atomic_load(&b->done)) TH_LOG("B overtook A on X: %d", b->ret);
	ASSERT_EQ(0, queued(self, x, 1));
	ASSERT_EQ(0, queued(self, y, 1));
	ASSERT_EQ(0, sema_release(y));
	ASSERT_EQ(0, anyw_finish(b));
	EXPECT_EQ(1, b->ret);
	EXPECT_EQ(0, val(x));
	EXPECT_EQ(0, val(y));
	expect_idle(_metadata, self, xy, 2, "A, then B");

	/* B on {X, Y}, then A on X and C on Y. */
	anyw_init(b, xy, 2);
	ASSERT_EQ(0, anyw_start(b));
	ASSERT_EQ(0, queued(self, x, 1));
	ASSERT_EQ(0, queued(self, y, 1));
	waiter_init(a, x, 0, NULL);
	ASSERT_EQ(0, waiter_start(a));
	ASSERT_EQ(0, queued(self, x, 2));
	waiter_init(c, y, 1, NULL);
	ASSERT_EQ(0, waiter_start(c));
	ASSERT_EQ(0, queued(self, y, 2));
	ASSERT_EQ(0, sema_release(x));
	ASSERT_EQ(0, anyw_finish(b));
	EXPECT_EQ(0, b->ret);
	ASSERT_EQ(0, queued(self, x, 1)) TH_LOG("A is not alone on X");
	ASSERT_EQ(0, queued(self, y, 1)) TH_LOG("B is still on Y");
	EXPECT_FALSE(atomic_load(&a->done));
	EXPECT_FALSE(atomic_load(&c->done));
	ASSERT_EQ(0, sema_release(y));
	ASSERT_EQ(0, waiter_wait_done(c));
	waiter_join(c);
	EXPECT_EQ(0, c->ret);
	EXPECT_FALSE(atomic_load(&a->done));
	ASSERT_EQ(0, sema_release(x));
	ASSERT_EQ(0, waiter_wait_done(a));
	waiter_join(a);
	EXPECT_EQ(0, a->ret);
	EXPECT_EQ(0, val(x));
	EXPECT_EQ(0, val(y));
	expect_idle(_metadata, self, xy, 2, "B, then A and C");

	/* B1 on {X, Y}, then B2 on {Y, X}. */
	anyw_init(b, xy, 2);
	ASSERT_EQ(0, anyw_start(b));
	ASSERT_EQ(0, queued(self, x, 1));
	ASSERT_EQ(0, queued(self, y, 1));
	anyw_init(b2, yx, 2);
	ASSERT_EQ(0, anyw_start(b2));
	ASSERT_EQ(0, queued(self, x, 2));
	ASSERT_EQ(0, queued(self, y, 2));
	ASSERT_EQ(0, sema_release(y));
	ASSERT_EQ(0, anyw_finish(b));
	EXPECT_EQ(1, b->ret) TH_LOG("B1, Y's head, did not get Y's unit");
	ASSERT_EQ(0, queued(self, x, 1));
	ASSERT_EQ(0, queued(self, y, 1));
	EXPECT_FALSE(atomic_load(&b2->done));
	ASSERT_EQ(0, sema_release(x));
	ASSERT_EQ(0, anyw_finish(b2));
	EXPECT_EQ(1, b2->ret);
	EXPECT_EQ(0, val(x));
	EXPECT_EQ(0, val(y));
	expect_idle(_metadata, self, xy, 2, "B1, then B2");
}

/*
 * Starvation is per queue.  X's threshold is 1 us, Y's 10 s.  B waits on
 * {X, Y}, C behind it on X, D behind it on Y.  X's release finds B past
 * X's threshold at X's head: X starves (QUERY shows it, the word shows
 * STARVING, its value stays 0) and grants B, which leaves Y's queue; Y
 * stays in normal mode and its release wakes D; X's next release grants
 * C.  Then the other way round (X 10 s, Y 1 us): B's wait on X ends with
 * a wake, on Y with a grant that makes Y starve.
 */
TEST_F(any, starvation_per_queue)
{
	sema_t *x = &self->p[0], *y = &self->p[1], *xy[] = { x, y };
	struct anyw *b = &self->w[0];
	struct waiter *c = &self->pw[0], *d = &self->pw[1];
	struct hsema_stats st0, st1;
	struct hsema_query qx, qy;

	ASSERT_EQ(0, sema_set_starve_threshold(x, HSEMA_ALWAYS_STARVE_US));
	ASSERT_EQ(0, sema_set_starve_threshold(y, HSEMA_NO_STARVE_US));
	anyw_init(b, xy, 2);
	ASSERT_EQ(0, anyw_start(b));
	ASSERT_EQ(0, queued(self, x, 1));
	ASSERT_EQ(0, queued(self, y, 1));
	waiter_init(c, x, 1, NULL);
	ASSERT_EQ(0, waiter_start(c));
	ASSERT_EQ(0, queued(self, x, 2));
	waiter_init(d, y, 2, NULL);
	ASSERT_EQ(0, waiter_start(d));
	ASSERT_EQ(0, queued(self, y, 2));
	msleep(2);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));

	ASSERT_EQ(0, sema_release(x));
	ASSERT_EQ(0, anyw_finish(b));
	EXPECT_EQ(0, b->ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, x, 0, 1, &qx));
	EXPECT_EQ(1, qx.starving) TH_LOG("X did not starve for B");
	EXPECT_EQ(HSEMA_STATE_STARVING, hsema_word(x))
		TH_LOG("word %#x", hsema_word(x));
	EXPECT_EQ(-EAGAIN, sema_tryacquire(x));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, y, 0, 1, &qy))
		TH_LOG("B is still on Y");
	EXPECT_EQ(0, qy.starving) TH_LOG("Y starves with X");
	EXPECT_EQ(0, hsema_word(y) & HSEMA_STARVING) TH_LOG("word %#x", hsema_word(y));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(1, st1.grants - st0.grants);
	EXPECT_FALSE(atomic_load(&c->done));
	EXPECT_FALSE(atomic_load(&d->done));

	/* Y is in normal mode: its release wakes D. */
	ASSERT_EQ(0, sema_release(y));
	ASSERT_EQ(0, waiter_wait_done(d));
	waiter_join(d);
	EXPECT_EQ(0, d->ret);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.grants - st0.grants) TH_LOG("Y granted");
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);

	/* X still starves: C is granted. */
	ASSERT_EQ(0, sema_release(x));
	ASSERT_EQ(0, waiter_wait_done(c));
	waiter_join(c);
	EXPECT_EQ(0, c->ret);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(2, st1.grants - st0.grants);
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	ASSERT_EQ(0, hsema_query(self->fd, x, 0, &qx));
	EXPECT_EQ(0, qx.starving);
	EXPECT_EQ(0, val(x));
	EXPECT_EQ(0, val(y));
	expect_idle(_metadata, self, xy, 2, "X starving");

	/* The other way round: a wake on X, a grant on Y. */
	ASSERT_EQ(0, sema_set_starve_threshold(x, HSEMA_NO_STARVE_US));
	ASSERT_EQ(0, sema_set_starve_threshold(y, HSEMA_ALWAYS_STARVE_US));
	anyw_init(b, xy, 2);
	ASSERT_EQ(0, anyw_start(b));
	ASSERT_EQ(0, queued(self, x, 1));
	ASSERT_EQ(0, queued(self, y, 1));
	msleep(2);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	ASSERT_EQ(0, sema_release(x));
	ASSERT_EQ(0, anyw_finish(b));
	EXPECT_EQ(0, b->ret);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(0, st1.grants - st0.grants) TH_LOG("X granted below its threshold");
	EXPECT_EQ(0, st1.starve_enter - st0.starve_enter);
	expect_idle(_metadata, self, xy, 2, "woken on X");

	anyw_init(b, xy, 2);
	ASSERT_EQ(0, anyw_start(b));
	ASSERT_EQ(0, queued(self, x, 1));
	ASSERT_EQ(0, queued(self, y, 1));
	msleep(2);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	ASSERT_EQ(0, sema_release(y));
	ASSERT_EQ(0, anyw_finish(b));
	EXPECT_EQ(1, b->ret);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.grants - st0.grants) TH_LOG("Y did not grant past its threshold");
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(0, val(x));
	EXPECT_EQ(0, val(y));
	expect_idle(_metadata, self, xy, 2, "granted on Y");
}

/*
 * An entry's starve_ns is the waiter's threshold in that queue alone:
 * with 10 s on X and 1 us on Y, X's release wakes, Y's grants.
 */
TEST_F(any, raw_entry_threshold)
{
	sema_t *x = &self->p[0], *y = &self->p[1], *xy[] = { x, y };
	struct anyw *w = &self->w[0];
	struct hsema_stats st0, st1;
	int k;

	for (k = 0; k < 2; k++) {
		anyw_init(w, NULL, 0);
		w->rawfd = self->fd;
		w->ents[0] = entry(&x->__word, 0);
		w->ents[0].starve_ns = 10 * NSEC;
		w->ents[1] = entry(&y->__word, 0);
		w->ents[1].starve_ns = 1000;
		w->req = any_req(NULL, 2, 0);
		ASSERT_EQ(0, anyw_start(w));
		ASSERT_EQ(0, queued(self, x, 1));
		ASSERT_EQ(0, queued(self, y, 1));
		msleep(2);
		ASSERT_EQ(0, hsema_stats(self->fd, &st0));
		ASSERT_EQ(0, sema_release(xy[k]));
		ASSERT_EQ(0, anyw_finish(w));
		EXPECT_EQ(k, w->ret);
		ASSERT_EQ(0, hsema_stats(self->fd, &st1));
		EXPECT_EQ(k, st1.grants - st0.grants)
			TH_LOG("released %s", k ? "Y (1 us)" : "X (10 s)");
		EXPECT_EQ(k, st1.starve_enter - st0.starve_enter);
		EXPECT_EQ(0, val(x));
		EXPECT_EQ(0, val(y));
		expect_idle(_metadata, self, xy, 2, "after the wait");
	}
}

/* ------------------------------------------------------------------ */
/* Exactly one unit: releases that race.                               */
/* ------------------------------------------------------------------ */

static void *releaser_fn(void *arg)
{
	struct releaser *r = arg;

	for (;;) {
		pthread_barrier_wait(r->go);
		if (atomic_load(r->stop))
			break;
		r->ret = sema_release(r->s);
		pthread_barrier_wait(r->done);
	}
	return NULL;
}

/* Two releasers of @x and @y, leaving the barrier "go" with the caller. */
static int releasers_start(FIXTURE_DATA(any) *self, sema_t *x, sema_t *y)
{
	int i, ret;

	pthread_barrier_init(&self->go, NULL, 3);
	pthread_barrier_init(&self->done, NULL, 3);
	atomic_store(&self->stop, 0);
	for (i = 0; i < 2; i++) {
		struct releaser *r = &self->rel[i];

		r->s = i ? y : x;
		r->go = &self->go;
		r->done = &self->done;
		r->stop = &self->stop;
		ret = pthread_create(&r->thr, NULL, releaser_fn, r);
		if (ret)
			return -ret;
	}
	return 0;
}

static void releasers_stop(FIXTURE_DATA(any) *self)
{
	atomic_store(&self->stop, 1);
	pthread_barrier_wait(&self->go);
	pthread_join(self->rel[0].thr, NULL);
	pthread_join(self->rel[1].thr, NULL);
	pthread_barrier_destroy(&self->go);
	pthread_barrier_destroy(&self->done);
}

enum second {
	SECOND_NONE,	/* W1 {X, Y} alone */
	SECOND_ANY,	/* and W2 {Y, X} behind it in both queues */
	SECOND_PLAIN,	/* and W3, sema_acquire(Y), behind it on Y */
};

/*
 * W1 waits on {X, Y} (and a second waiter as @kind says); two threads
 * released from one barrier release X and Y at the same instant.  W1
 * gets exactly one unit; the other goes to the second waiter (which must
 * get it without any further release: a wake-up W1 did not use is passed
 * on) or stays in its semaphore.  A ledger counts units released,
 * acquired and left over; no waiter stays queued after an iteration.
 */
static void release_race(struct __test_metadata *_metadata,
			 FIXTURE_DATA(any) *self, sema_t *x, sema_t *y,
			 unsigned int x_us, unsigned int y_us,
			 enum second kind)
{
	struct anyw *w1 = &self->w[0], *w2 = &self->w[1];
	struct waiter *w3 = &self->pw[0];
	sema_t *xy[] = { x, y }, *yx[] = { y, x };
	long released = 0, acquired = 0, left = 0;
	int got_x = 0, second_waited = 0;
	int i;

	ASSERT_EQ(0, sema_set_starve_threshold(x, x_us));
	ASSERT_EQ(0, sema_set_starve_threshold(y, y_us));
	ASSERT_EQ(0, releasers_start(self, x, y));
	for (i = 0; i < RACE_ITERS; i++) {
		int g1, g2;	/* 0: got X, 1: got Y */

		anyw_init(w1, xy, 2);
		ASSERT_EQ(0, anyw_start(w1));
		ASSERT_EQ(0, queued(self, x, 1)) TH_LOG("iter %d", i);
		ASSERT_EQ(0, queued(self, y, 1)) TH_LOG("iter %d", i);
		if (kind == SECOND_ANY) {
			anyw_init(w2, yx, 2);
			ASSERT_EQ(0, anyw_start(w2));
			ASSERT_EQ(0, queued(self, x, 2)) TH_LOG("iter %d", i);
			ASSERT_EQ(0, queued(self, y, 2)) TH_LOG("iter %d", i);
		} else if (kind == SECOND_PLAIN) {
			waiter_init(w3, y, 1, NULL);
			ASSERT_EQ(0, waiter_start(w3));
			ASSERT_EQ(0, queued(self, y, 2)) TH_LOG("iter %d", i);
		}

		pthread_barrier_wait(&self->go);
		pthread_barrier_wait(&self->done);
		ASSERT_EQ(0, self->rel[0].ret) TH_LOG("iter %d", i);
		ASSERT_EQ(0, self->rel[1].ret) TH_LOG("iter %d", i);
		released += 2;

		ASSERT_EQ(0, anyw_finish(w1))
			TH_LOG("iter %d: W1 got nothing from two releases (values %u %u)",
			       i, val(x), val(y));
		ASSERT_TRUE(w1->ret == 0 || w1->ret == 1)
			TH_LOG("iter %d: W1 returned %d", i, w1->ret);
		g1 = w1->ret;
		got_x += g1 == 0;
		acquired++;

		switch (kind) {
		case SECOND_NONE:
			ASSERT_EQ(0, val(xy[g1]))
				TH_LOG("iter %d: W1 got entry %d, which still holds a unit",
				       i, g1);
			ASSERT_EQ(1, val(xy[!g1]))
				TH_LOG("iter %d: W1 got entry %d; the other unit is gone",
				       i, g1);
			ASSERT_EQ(0, sema_tryacquire(xy[!g1]));
			left++;
			break;
		case SECOND_ANY:
			ASSERT_EQ(0, anyw_finish(w2))
				TH_LOG("iter %d: W1 got entry %d, W2 never got the other unit (values %u %u)",
				       i, g1, val(x), val(y));
			ASSERT_TRUE(w2->ret == 0 || w2->ret == 1)
				TH_LOG("iter %d: W2 returned %d", i, w2->ret);
			g2 = !w2->ret;	/* W2 waits on {Y, X} */
			ASSERT_NE(g1, g2)
				TH_LOG("iter %d: both waiters took the unit of %s",
				       i, g1 ? "Y" : "X");
			acquired++;
			ASSERT_EQ(0, val(x)) TH_LOG("iter %d", i);
			ASSERT_EQ(0, val(y)) TH_LOG("iter %d", i);
			break;
		case SECOND_PLAIN:
			if (g1 == 0) {
				/* Y's unit is W3's, with no other release. */
				ASSERT_EQ(0, waiter_wait_done(w3))
					TH_LOG("iter %d: W1 took X, W3 never got Y's unit (value %u): lost wake-up",
					       i, val(y));
				waiter_join(w3);
				ASSERT_EQ(0, w3->ret);
				acquired++;
				ASSERT_EQ(0, val(x)) TH_LOG("iter %d", i);
				ASSERT_EQ(0, val(y)) TH_LOG("iter %d", i);
			} else {
				ASSERT_EQ(0, val(y)) TH_LOG("iter %d", i);
				ASSERT_EQ(1, val(x))
					TH_LOG("iter %d: W1 took Y; X's unit is gone", i);
				ASSERT_EQ(0, queued(self, y, 1)) TH_LOG("iter %d", i);
				ASSERT_FALSE(atomic_load(&w3->done))
					TH_LOG("iter %d: W3 returned %d with Y's unit taken by W1",
					       i, w3->ret);
				ASSERT_EQ(0, sema_release(y));
				released++;
				ASSERT_EQ(0, waiter_wait_done(w3));
				waiter_join(w3);
				ASSERT_EQ(0, w3->ret);
				acquired++;
				ASSERT_EQ(0, sema_tryacquire(x));
				left++;
				second_waited++;
			}
			break;
		}
		ASSERT_EQ(0, nr_waiters(self, x)) TH_LOG("iter %d", i);
		ASSERT_EQ(0, nr_waiters(self, y)) TH_LOG("iter %d", i);
	}
	releasers_stop(self);
	TH_LOG("%d iterations: W1 took X %d times, Y %d; W3 needed another release %d times; %ld released = %ld acquired + %ld left",
	       RACE_ITERS, got_x, RACE_ITERS - got_x, second_waited,
	       released, acquired, left);
	EXPECT_EQ(released, acquired + left);
	EXPECT_EQ(0, val(x));
	EXPECT_EQ(0, val(y));
}

TEST_F_TIMEOUT(any, race_one_waiter_normal, 120)
{
	release_race(_metadata, self, &self->p[0], &self->p[1],
		     HSEMA_NO_STARVE_US, HSEMA_NO_STARVE_US, SECOND_NONE);
}

TEST_F_TIMEOUT(any, race_one_waiter_starving, 120)
{
	release_race(_metadata, self, &self->p[0], &self->p[1],
		     HSEMA_ALWAYS_STARVE_US, HSEMA_ALWAYS_STARVE_US, SECOND_NONE);
}

/* X grants, Y wakes; one of them shared. */
TEST_F_TIMEOUT(any, race_one_waiter_mixed, 120)
{
	release_race(_metadata, self, &self->p[0], &self->shm->s[0],
		     HSEMA_ALWAYS_STARVE_US, HSEMA_NO_STARVE_US, SECOND_NONE);
}

TEST_F_TIMEOUT(any, race_two_any_waiters_normal, 120)
{
	release_race(_metadata, self, &self->p[0], &self->p[1],
		     HSEMA_NO_STARVE_US, HSEMA_NO_STARVE_US, SECOND_ANY);
}

TEST_F_TIMEOUT(any, race_two_any_waiters_starving, 120)
{
	release_race(_metadata, self, &self->p[0], &self->p[1],
		     HSEMA_ALWAYS_STARVE_US, HSEMA_ALWAYS_STARVE_US, SECOND_ANY);
}

TEST_F_TIMEOUT(any, race_any_and_plain_normal, 120)
{
	release_race(_metadata, self, &self->p[0], &self->p[1],
		     HSEMA_NO_STARVE_US, HSEMA_NO_STARVE_US, SECOND_PLAIN);
}

TEST_F_TIMEOUT(any, race_any_and_plain_starving, 120)
{
	release_race(_metadata, self, &self->shm->s[0], &self->p[1],
		     HSEMA_ALWAYS_STARVE_US, HSEMA_ALWAYS_STARVE_US, SECOND_PLAIN);
}

/*
 * Both releases before the waiter runs: W1 {X, Y} pinned to a CPU where
 * a SCHED_FIFO hog then spins, W3 sema_acquire(Y) behind it on Y, on the
 * main thread's CPU.  X is released, then Y.  Starving (1 us): X's
 * release grants W1, which must leave Y's queue at once, so Y's release
 * grants W3, which returns while W1 still cannot run.  Normal mode: X's
 * release wakes W1; however the implementation treats its place on Y,
 * W1 takes one unit when it runs and Y's unit, if W1 does not take it,
 * reaches W3 without another release.
 */
static void released_before_running(struct __test_metadata *_metadata,
				    FIXTURE_DATA(any) *self, bool starving)
{
	int cpu0 = nth_allowed_cpu(0), cpu1 = nth_allowed_cpu(1);
	sema_t *x = &self->p[0], *y = &self->p[1], *xy[] = { x, y };
	unsigned int thr = starving ? HSEMA_ALWAYS_STARVE_US : HSEMA_NO_STARVE_US;
	struct anyw *w1 = &self->w[0];
	struct waiter *w3 = &self->pw[0];
	struct hsema_stats st0, st1;
	bool w1_ran, w3_done = false;
	int k, nw_y, r1, r2, ret;
	struct hog hog;

	if (cpu1 < 0)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, pin_self(cpu0));
	ASSERT_EQ(0, sema_set_starve_threshold(x, thr));
	ASSERT_EQ(0, sema_set_starve_threshold(y, thr));
	for (k = 0; k < 3; k++) {
		anyw_init(w1, xy, 2);
		w1->cpu = cpu1;
		ASSERT_EQ(0, anyw_start(w1));
		ASSERT_EQ(0, queued(self, x, 1));
		ASSERT_EQ(0, queued(self, y, 1));
		ASSERT_EQ(0, w1->setup_err);
		waiter_init(w3, y, 1, NULL);
		w3->cpu = cpu0;
		ASSERT_EQ(0, waiter_start(w3));
		ASSERT_EQ(0, queued(self, y, 2));
		ASSERT_EQ(0, w3->setup_err);
		msleep(1);

		ret = hog_start(&hog, cpu1, 1, true);
		if (ret == -EPERM) {
			sema_release(x);
			sema_release(y);
			SKIP(return, "SCHED_FIFO not permitted");
		}
		ASSERT_EQ(0, ret);
		/* From here until hog_stop(), W1 cannot run. */
		hsema_stats(self->fd, &st0);
		r1 = sema_release(x);
		nw_y = nr_waiters(self, y);
		r2 = sema_release(y);
		hsema_stats(self->fd, &st1);
		if (starving)
			w3_done = waiter_wait_done(w3) == 0;
		w1_ran = atomic_load(&w1->done);
		EXPECT_FALSE(hog_stop(&hog)) TH_LOG("the hog was not stopped in time");

		ASSERT_EQ(0, r1);
		ASSERT_EQ(0, r2);
		ASSERT_FALSE(w1_ran) TH_LOG("round %d: W1 ran under the hog", k);
		ASSERT_EQ(0, anyw_finish(w1));
		if (starving) {
			EXPECT_EQ(1, nw_y)
				TH_LOG("round %d: granted on X, W1 was still queued on Y (%d waiters)",
				       k, nw_y);
			EXPECT_EQ(2, st1.grants - st0.grants) TH_LOG("round %d", k);
			EXPECT_TRUE(w3_done)
				TH_LOG("round %d: Y's release did not reach W3 while W1 held X's grant",
				       k);
			EXPECT_EQ(0, w1->ret) TH_LOG("round %d", k);
			ASSERT_EQ(0, waiter_wait_done(w3));
			waiter_join(w3);
			EXPECT_EQ(0, w3->ret);
		} else if (w1->ret == 0) {
			ASSERT_EQ(0, waiter_wait_done(w3))
				TH_LOG("round %d: W1 took X, Y's unit never reached W3 (value %u)",
				       k, val(y));
			waiter_join(w3);
			EXPECT_EQ(0, w3->ret);
		} else {
			ASSERT_EQ(1, w1->ret) TH_LOG("round %d", k);
			EXPECT_EQ(1, val(x)) TH_LOG("round %d: X's unit is gone", k);
			ASSERT_EQ(0, queued(self, y, 1));
			EXPECT_FALSE(atomic_load(&w3->done));
			ASSERT_EQ(0, sema_release(y));
			ASSERT_EQ(0, waiter_wait_done(w3));
			waiter_join(w3);
			EXPECT_EQ(0, w3->ret);
			ASSERT_EQ(0, sema_tryacquire(x));
		}
		TH_LOG("round %d: W1 took %s; after X's release Y had %d waiters",
		       k, w1->ret ? "Y" : "X", nw_y);
		EXPECT_EQ(0, val(x));
		EXPECT_EQ(0, val(y));
		expect_idle(_metadata, self, xy, 2, "after the round");
	}
}

TEST_F(any, released_before_running_starving)
{
	released_before_running(_metadata, self, true);
}

TEST_F(any, released_before_running_normal)
{
	released_before_running(_metadata, self, false);
}

/*
 * A waiter granted on X is out of Y's queue for Y's own decisions too:
 * W1 waits on {X, Y} with a 1 us threshold in both (entries' starve_ns),
 * pinned under a SCHED_FIFO hog; W3 waits on Y behind it with a 10 s
 * threshold.  X's release grants W1, which cannot run.  Y's head is now
 * W3, which has waited far less than its threshold: Y's release wakes it
 * in normal mode.  Were W1's place on Y still counted, its 1 us would
 * make Y starve and grant.
 */
TEST_F(any, granted_waiter_not_head_elsewhere)
{
	int cpu0 = nth_allowed_cpu(0), cpu1 = nth_allowed_cpu(1);
	sema_t *x = &self->p[0], *y = &self->p[1], *xy[] = { x, y };
	struct anyw *w1 = &self->w[0];
	struct waiter *w3 = &self->pw[0];
	struct hsema_stats st0, st1, st2;
	struct hsema_query qy0, qy1;
	bool w1_ran, w3_done;
	int r1, r2, ret;
	struct hog hog;

	if (cpu1 < 0)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, pin_self(cpu0));
	anyw_init(w1, NULL, 0);
	w1->rawfd = self->fd;
	w1->ents[0] = entry(&x->__word, 0);
	w1->ents[0].starve_ns = 1000;
	w1->ents[1] = entry(&y->__word, 0);
	w1->ents[1].starve_ns = 1000;
	w1->req = any_req(NULL, 2, 0);
	w1->cpu = cpu1;
	ASSERT_EQ(0, anyw_start(w1));
	ASSERT_EQ(0, queued(self, x, 1));
	ASSERT_EQ(0, queued(self, y, 1));
	ASSERT_EQ(0, w1->setup_err);
	waiter_init(w3, y, 1, NULL);
	w3->op = W_RAW_WAIT;
	w3->rawfd = self->fd;
	w3->starve_ns = 10 * NSEC;
	w3->cpu = cpu0;
	ASSERT_EQ(0, waiter_start(w3));
	ASSERT_EQ(0, queued(self, y, 2));
	msleep(2);

	ret = hog_start(&hog, cpu1, 1, true);
	if (ret == -EPERM) {
		sema_release(x);
		sema_release(y);
		SKIP(return, "SCHED_FIFO not permitted");
	}
	ASSERT_EQ(0, ret);
	/* From here until hog_stop(), W1 cannot run. */
	hsema_query(self->fd, y, 0, &qy0);
	hsema_stats(self->fd, &st0);
	r1 = sema_release(x);
	hsema_stats(self->fd, &st1);
	hsema_query(self->fd, y, 0, &qy1);
	r2 = sema_release(y);
	w3_done = waiter_wait_done(w3) == 0;
	hsema_stats(self->fd, &st2);
	w1_ran = atomic_load(&w1->done);
	EXPECT_FALSE(hog_stop(&hog)) TH_LOG("the hog was not stopped in time");

	ASSERT_EQ(0, r1);
	ASSERT_EQ(0, r2);
	ASSERT_FALSE(w1_ran) TH_LOG("W1 ran under the hog");
	TH_LOG("Y before X's grant: %u waiters, head ticket %llu; after: %u waiters, head ticket %llu, head waited %llu ns",
	       qy0.nr_waiters, (unsigned long long)qy0.head_ticket,
	       qy1.nr_waiters, (unsigned long long)qy1.head_ticket,
	       (unsigned long long)qy1.head_wait_ns);
	EXPECT_EQ(1, st1.grants - st0.grants) TH_LOG("X did not grant W1");
	EXPECT_TRUE(w3_done) TH_LOG("Y's release did not reach W3");
	EXPECT_EQ(0, st2.grants - st1.grants)
		TH_LOG("Y granted W3, which waited less than its threshold");
	EXPECT_EQ(0, st2.starve_enter - st1.starve_enter)
		TH_LOG("Y starved for the waiter granted on X");
	ASSERT_EQ(0, anyw_finish(w1));
	EXPECT_EQ(0, w1->ret);
	if (w3_done)
		waiter_join(w3);
	EXPECT_EQ(0, val(x));
	EXPECT_EQ(0, val(y));
	expect_idle(_metadata, self, xy, 2, "after the waits");
}

/* ------------------------------------------------------------------ */
/* Deadlines and signals.                                              */
/* ------------------------------------------------------------------ */

/*
 * A passed deadline with no unit: -ETIMEDOUT at once, nothing queued;
 * with a unit: it is taken.  A deadline 50 ms ahead: -ETIMEDOUT, not
 * before it, and out of every queue.  A release before the deadline
 * wins.  A timed any-waiter that times out leaves every queue, and the
 * plain waiter behind it on one of them is served next.
 */
TEST_F(any, deadlines)
{
	sema_t *s[3] = { &self->p[0], &self->shm->s[0], &self->p[1] };
	sema_t *x = &self->p[2], *y = &self->p[3], *xy[] = { x, y };
	struct timespec zero = { 0, 0 }, dl;
	struct anyw *w = &self->w[0];
	struct waiter *w3 = &self->pw[0];
	int64_t back;
	int c;

	for (c = 0; c < 2; c++) {
		dl = deadline_in(clocks[c], -NSEC);
		EXPECT_EQ(-ETIMEDOUT, sema_acquire_any(s, 3, &dl, clocks[c]))
			TH_LOG("CLOCK_%s", clock_names[c]);
		EXPECT_EQ(-ETIMEDOUT, sema_acquire_any(s, 3, &zero, clocks[c]))
			TH_LOG("CLOCK_%s, deadline 0", clock_names[c]);
		expect_idle(_metadata, self, s, 3, "passed deadline");

		ASSERT_EQ(0, sema_release(s[2]));
		EXPECT_EQ(2, sema_acquire_any(s, 3, &dl, clocks[c]))
			TH_LOG("CLOCK_%s", clock_names[c]);
		ASSERT_EQ(0, sema_release(s[1]));
		EXPECT_EQ(1, sema_acquire_any(s, 3, &zero, clocks[c]))
			TH_LOG("CLOCK_%s, deadline 0", clock_names[c]);
		EXPECT_EQ(0, val(s[1]));
		EXPECT_EQ(0, val(s[2]));
	}

	for (c = 0; c < 2; c++) {
		int ret;

		dl = deadline_in(clocks[c], 50 * MSEC);
		ret = sema_acquire_any(s, 3, &dl, clocks[c]);
		back = now_ns(clocks[c]);
		EXPECT_EQ(-ETIMEDOUT, ret) TH_LOG("CLOCK_%s", clock_names[c]);
		EXPECT_LE(ts_to_ns(&dl), back)
			TH_LOG("CLOCK_%s: returned %lld ns before the deadline",
			       clock_names[c], (long long)(ts_to_ns(&dl) - back));
		expect_idle(_metadata, self, s, 3, "timed out");
	}

	for (c = 0; c < 2; c++) {
		anyw_init(w, s, 3);
		w->timed = true;
		w->clock = clocks[c];
		w->abstime = deadline_in(clocks[c], 10 * NSEC);
		ASSERT_EQ(0, anyw_start(w));
		ASSERT_EQ(0, queued(self, s[0], 1));
		ASSERT_EQ(0, queued(self, s[1], 1));
		ASSERT_EQ(0, queued(self, s[2], 1));
		ASSERT_EQ(0, sema_release(s[1]));
		ASSERT_EQ(0, anyw_finish(w));
		EXPECT_EQ(1, w->ret) TH_LOG("CLOCK_%s", clock_names[c]);
		EXPECT_EQ(0, val(s[1]));
		expect_idle(_metadata, self, s, 3, "released before the deadline");
	}

	/* A timed waiter leaves every queue; the one behind it is served. */
	ASSERT_EQ(0, sema_set_starve_threshold(y, HSEMA_NO_STARVE_US));
	anyw_init(w, xy, 2);
	w->timed = true;
	w->abstime = deadline_in(CLOCK_MONOTONIC, 500 * MSEC);
	ASSERT_EQ(0, anyw_start(w));
	ASSERT_EQ(0, queued(self, x, 1));
	ASSERT_EQ(0, queued(self, y, 1));
	waiter_init(w3, y, 1, NULL);
	ASSERT_EQ(0, waiter_start(w3));
	ASSERT_EQ(0, queued(self, y, 2));
	if (atomic_load(&w->done))
		SKIP(return, "too slow: the timed waiter timed out before the second queued");
	ASSERT_EQ(0, anyw_finish(w));
	EXPECT_EQ(-ETIMEDOUT, w->ret);
	EXPECT_EQ(0, nr_waiters(self, x));
	ASSERT_EQ(0, queued(self, y, 1));
	ASSERT_EQ(0, sema_release(y));
	ASSERT_EQ(0, waiter_wait_done(w3));
	waiter_join(w3);
	EXPECT_EQ(0, w3->ret);
	EXPECT_EQ(0, val(x));
	EXPECT_EQ(0, val(y));
	expect_idle(_metadata, self, xy, 2, "after the timeout");
}

/*
 * A handler without SA_RESTART: a blocked wait, with and without a
 * deadline, returns -EINTR, takes nothing and leaves every queue.
 */
TEST_F(any, signal_eintr)
{
	sema_t *s[2] = { &self->p[0], &self->shm->s[0] };
	struct anyw *w = &self->w[0];
	int i;

	ASSERT_EQ(0, install_handler(SIGUSR1, false));
	for (i = 0; i < 2; i++) {
		anyw_init(w, s, 2);
		if (i) {
			w->timed = true;
			w->abstime = deadline_in(CLOCK_REALTIME, 10 * NSEC);
			w->clock = CLOCK_REALTIME;
		}
		ASSERT_EQ(0, anyw_start(w));
		ASSERT_EQ(0, queued(self, s[0], 1));
		ASSERT_EQ(0, queued(self, s[1], 1));
		ASSERT_EQ(0, pthread_kill(w->thr, SIGUSR1));
		ASSERT_EQ(0, anyw_finish(w));
		EXPECT_EQ(-EINTR, w->ret) TH_LOG("%s", i ? "timed" : "untimed");
		EXPECT_EQ(i + 1, atomic_load(&hsema_sig_count));
		EXPECT_EQ(0, val(s[0]));
		EXPECT_EQ(0, val(s[1]));
		expect_idle(_metadata, self, s, 2, "interrupted");
	}
}

/*
 * A handler with SA_RESTART: the handler runs, the wait goes on in both
 * queues without returning, and a later release serves it.
 */
TEST_F(any, signal_sa_restart)
{
	sema_t *s[2] = { &self->p[0], &self->shm->s[0] };
	struct anyw *w = &self->w[0];

	ASSERT_EQ(0, install_handler(SIGUSR1, true));
	anyw_init(w, s, 2);
	ASSERT_EQ(0, anyw_start(w));
	ASSERT_EQ(0, queued(self, s[0], 1));
	ASSERT_EQ(0, queued(self, s[1], 1));
	ASSERT_EQ(0, pthread_kill(w->thr, SIGUSR1));
	ASSERT_EQ(0, wait_atomic_ge(&hsema_sig_count, 1));
	msleep(20);
	EXPECT_FALSE(atomic_load(&w->done)) TH_LOG("returned %d", w->ret);
	ASSERT_EQ(0, queued(self, s[0], 1)) TH_LOG("did not go back to waiting");
	ASSERT_EQ(0, queued(self, s[1], 1)) TH_LOG("did not go back to waiting");
	ASSERT_EQ(0, sema_release(s[1]));
	ASSERT_EQ(0, anyw_finish(w));
	EXPECT_EQ(1, w->ret);
	EXPECT_EQ(0, val(s[1]));
	expect_idle(_metadata, self, s, 2, "after the restart");
}

/* The ioctl with HSEMA_WAIT_EINTR: EINTR even with SA_RESTART. */
TEST_F(any, raw_wait_eintr_flag)
{
	sema_t *s[2] = { &self->p[0], &self->shm->s[0] };
	struct anyw *w = &self->w[0];

	ASSERT_EQ(0, install_handler(SIGUSR1, true));
	anyw_init(w, NULL, 0);
	w->rawfd = self->fd;
	w->ents[0] = entry(&s[0]->__word, 0);
	w->ents[1] = entry(&s[1]->__word, HSEMA_F_SHARED);
	w->req = any_req(NULL, 2, HSEMA_WAIT_EINTR);
	ASSERT_EQ(0, anyw_start(w));
	ASSERT_EQ(0, queued(self, s[0], 1));
	ASSERT_EQ(0, queued(self, s[1], 1));
	ASSERT_EQ(0, pthread_kill(w->thr, SIGUSR1));
	ASSERT_EQ(0, anyw_finish(w));
	EXPECT_EQ(-EINTR, w->ret);
	EXPECT_EQ(0, val(s[0]));
	EXPECT_EQ(0, val(s[1]));
	expect_idle(_metadata, self, s, 2, "interrupted");
}

/*
 * Races of one release with a deadline or a signal.  A racer thread
 * waits on {X, Y} once per iteration; the main thread releases X or Y
 * (at random) around the deadline, or around a signal.  Afterwards the
 * unit is the racer's if it returned that index, else still in the
 * semaphore; nobody is queued.
 */
struct racer {
	pthread_t thr;
	sema_t *sems[2];
	pthread_barrier_t go, done;
	bool timed;
	clockid_t clock;
	struct timespec deadline;
	atomic_int armed, stop;
	int ret;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;

	for (;;) {
		pthread_barrier_wait(&r->go);
		if (atomic_load(&r->stop))
			break;
		if (r->timed) {
			r->deadline = deadline_in(r->clock, 2 * MSEC);
			atomic_store(&r->armed, 1);
			r->ret = sema_acquire_any(r->sems, 2, &r->deadline,
						  r->clock);
		} else {
			atomic_store(&r->armed, 1);
			r->ret = sema_acquire_any(r->sems, 2, NULL,
						  CLOCK_MONOTONIC);
		}
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

static void single_race(struct __test_metadata *_metadata,
			FIXTURE_DATA(any) *self, bool timed,
			unsigned int thr_us)
{
	sema_t *x = &self->p[0], *y = &self->shm->s[0];
	unsigned int seed = timed ? 0x1234567 : 0x7654321;
	int got = 0, missed = 0, i;
	struct racer r;

	ASSERT_EQ(0, sema_set_starve_threshold(x, thr_us));
	ASSERT_EQ(0, sema_set_starve_threshold(y, thr_us));
	if (!timed)
		ASSERT_EQ(0, install_handler(SIGUSR1, false));
	memset(&r, 0, sizeof(r));
	r.sems[0] = x;
	r.sems[1] = y;
	r.timed = timed;
	pthread_barrier_init(&r.go, NULL, 2);
	pthread_barrier_init(&r.done, NULL, 2);
	ASSERT_EQ(0, pthread_create(&r.thr, NULL, racer_fn, &r));
	for (i = 0; i < SINGLE_ITERS; i++) {
		unsigned int rnd = xrand(&seed);
		int idx = rnd & 1;
		sema_t *rel = r.sems[idx];

		r.clock = clocks[(rnd >> 1) & 1];
		atomic_store(&r.armed, 0);
		pthread_barrier_wait(&r.go);
		while (!atomic_load(&r.armed))
			;
		if (timed) {
			/* Between 2 ms before and 1 ms after the deadline. */
			int64_t jitter = (int64_t)(rnd % 3000000) - 2000000;
			struct timespec when = ns_to_ts(ts_to_ns(&r.deadline) + jitter);

			while (clock_nanosleep(r.clock, TIMER_ABSTIME, &when,
					       NULL) == EINTR)
				;
			ASSERT_EQ(0, sema_release(rel));
		} else {
			int64_t delay = (rnd >> 2) % 200000;	/* up to 200 us */

			ASSERT_EQ(0, queued(self, x, 1)) TH_LOG("iter %d", i);
			ASSERT_EQ(0, queued(self, y, 1)) TH_LOG("iter %d", i);
			if (rnd & (1U << 30)) {
				ASSERT_EQ(0, sema_release(rel));
				spin_ns(delay);
				ASSERT_EQ(0, pthread_kill(r.thr, SIGUSR1));
			} else {
				ASSERT_EQ(0, pthread_kill(r.thr, SIGUSR1));
				spin_ns(delay);
				ASSERT_EQ(0, sema_release(rel));
			}
		}
		pthread_barrier_wait(&r.done);

		if (r.ret == idx) {
			got++;
			ASSERT_EQ(0, val(rel)) TH_LOG("iter %d: acquired, still a unit", i);
		} else {
			ASSERT_EQ(timed ? -ETIMEDOUT : -EINTR, r.ret)
				TH_LOG("iter %d: released entry %d", i, idx);
			missed++;
			ASSERT_EQ(1, val(rel))
				TH_LOG("iter %d: %s, and the unit is gone", i,
				       timed ? "timed out" : "interrupted");
			ASSERT_EQ(0, sema_tryacquire(rel));
		}
		ASSERT_EQ(0, val(r.sems[!idx])) TH_LOG("iter %d", i);
		ASSERT_EQ(0, nr_waiters(self, x)) TH_LOG("iter %d", i);
		ASSERT_EQ(0, nr_waiters(self, y)) TH_LOG("iter %d", i);
	}
	atomic_store(&r.stop, 1);
	pthread_barrier_wait(&r.go);
	pthread_join(r.thr, NULL);
	pthread_barrier_destroy(&r.go);
	pthread_barrier_destroy(&r.done);
	TH_LOG("%d iterations: %d acquired, %d %s", SINGLE_ITERS, got, missed,
	       timed ? "timed out" : "interrupted");
}

TEST_F_TIMEOUT(any, timeout_race_normal, 120)
{
	single_race(_metadata, self, true, HSEMA_NO_STARVE_US);
}

TEST_F_TIMEOUT(any, timeout_race_starving, 120)
{
	single_race(_metadata, self, true, HSEMA_ALWAYS_STARVE_US);
}

TEST_F_TIMEOUT(any, signal_race_normal, 120)
{
	single_race(_metadata, self, false, HSEMA_NO_STARVE_US);
}

TEST_F_TIMEOUT(any, signal_race_starving, 120)
{
	single_race(_metadata, self, false, HSEMA_ALWAYS_STARVE_US);
}

/* ------------------------------------------------------------------ */
/* Processes: SIGKILL, exit.                                           */
/* ------------------------------------------------------------------ */

/*
 * A child in sema_acquire_any() on @sems (pinned to @cpu if >= 0); its
 * result in slot @slot.  With @hold it keeps a unit until killed.
 */
static pid_t fork_any(struct shm *shm, sema_t *const *sems, unsigned int n,
		      int cpu, bool hold, int slot)
{
	pid_t pid;
	int ret;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	if (cpu >= 0 && pin_self(cpu))
		_exit(9);
	ret = sema_acquire_any(sems, n, NULL, CLOCK_MONOTONIC);
	shm->ret[slot] = ret;
	atomic_store(&shm->done[slot], 1);
	if (ret >= 0 && hold)
		for (;;)
			pause();
	_exit(ret >= 0 ? 0 : 1);
}

/* The same with sema_acquire() on @s: 0 in slot @slot when it returned. */
static pid_t fork_plain(struct shm *shm, sema_t *s, int cpu, int slot)
{
	pid_t pid;
	int ret;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	if (cpu >= 0 && pin_self(cpu))
		_exit(9);
	ret = sema_acquire(s);
	shm->ret[slot] = ret;
	atomic_store(&shm->done[slot], 1);
	_exit(ret ? 1 : 0);
}

/*
 * SIGKILL after a grant or a wake, deterministically: child A waits on
 * {S0, S1}, pinned to a CPU where a SCHED_FIFO hog then spins, so once
 * served it cannot run; child B waits on the semaphore that is released,
 * behind A.  The parent releases it, kills A, stops the hog.  A never
 * returns, so the unit goes to B or back to the semaphore (after a
 * second release B has one and one is left); after a wake in normal mode
 * the unit is in the word already and B must be woken for it without a
 * second release.  A leaves the other semaphore's queue.  Starving and
 * normal mode, S0 and S1.
 */
TEST_F_TIMEOUT(any, sigkill_served_not_running, 120)
{
	struct shm *shm = self->shm;
	int cpu0 = nth_allowed_cpu(0), cpu1 = nth_allowed_cpu(1);
	sema_t *s0 = &shm->s[0], *s1 = &shm->s[1], *both[] = { s0, s1 };
	int i, ret, passed = 0;

	if (cpu1 < 0)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, pin_self(cpu0));
	for (i = 0; i < 4; i++) {
		bool starving = !(i & 1);
		sema_t *rel = i & 2 ? s0 : s1, *oth = rel == s0 ? s1 : s0;
		struct hsema_stats st0, st1, st2;
		int nw_oth, b_got;
		struct hog hog;
		unsigned int v;
		int64_t end;
		pid_t a, b;

		ASSERT_EQ(0, sema_init(s0, 0, SEMA_SHARED));
		ASSERT_EQ(0, sema_init(s1, 0, SEMA_SHARED));
		ASSERT_EQ(0, sema_set_starve_threshold(s0, starving ?
			HSEMA_ALWAYS_STARVE_US : HSEMA_NO_STARVE_US));
		ASSERT_EQ(0, sema_set_starve_threshold(s1, starving ?
			HSEMA_ALWAYS_STARVE_US : HSEMA_NO_STARVE_US));
		atomic_store(&shm->done[0], 0);
		atomic_store(&shm->done[1], 0);
		a = fork_any(shm, both, 2, cpu1, true, 0);
		ASSERT_LE(0, a);
		self->kids[0] = a;
		ASSERT_EQ(0, queued(self, s0, 1));
		ASSERT_EQ(0, queued(self, s1, 1));
		b = fork_plain(shm, rel, cpu0, 1);
		ASSERT_LE(0, b);
		self->kids[1] = b;
		ASSERT_EQ(0, queued(self, rel, 2));
		msleep(1);

		ret = hog_start(&hog, cpu1, 1, true);
		if (ret == -EPERM)
			SKIP(return, "SCHED_FIFO not permitted");
		ASSERT_EQ(0, ret);
		hsema_stats(self->fd, &st0);
		ret = sema_release(rel);
		hsema_stats(self->fd, &st1);
		nw_oth = nr_waiters(self, oth);
		kill(a, SIGKILL);
		EXPECT_FALSE(hog_stop(&hog)) TH_LOG("the hog was not stopped in time");

		ASSERT_EQ(0, ret);
		EXPECT_EQ(128 + SIGKILL, reap(a));
		REAPED(self, a);
		EXPECT_FALSE(atomic_load(&shm->done[0]))
			TH_LOG("round %d: A ran under the hog (%d)", i, shm->ret[0]);
		if (starving) {
			EXPECT_EQ(1, st1.grants - st0.grants) TH_LOG("round %d", i);
			EXPECT_EQ(0, nw_oth)
				TH_LOG("round %d: granted, A stayed queued on the other semaphore",
				       i);
		}
		/* The unit is with B or in the value: poll for either. */
		end = now_ns(CLOCK_MONOTONIC) + HSEMA_POLL_MS * MSEC;
		do {
			msleep(1);
			b_got = atomic_load(&shm->done[1]);
			v = hsema_value(rel);
		} while (!b_got && (!v || !starving) &&
			 now_ns(CLOCK_MONOTONIC) < end);
		EXPECT_EQ(1, b_got + v)
			TH_LOG("round %d (%s): B %s, value %u", i,
			       starving ? "granted" : "woken",
			       b_got ? "has it" : "has nothing", v);
		if (!starving)
			EXPECT_TRUE(b_got)
				TH_LOG("round %d: the killed waiter's wake-up was not passed on to B",
				       i);
		ASSERT_EQ(0, hsema_stats(self->fd, &st2));
		passed += st2.passed_on - st0.passed_on;

		ASSERT_EQ(0, sema_release(rel));
		ASSERT_EQ(0, wait_atomic_ge(&shm->done[1], 1));
		EXPECT_EQ(0, reap(b));
		REAPED(self, b);
		EXPECT_EQ(0, shm->ret[1]);
		EXPECT_EQ(1, val(rel)) TH_LOG("round %d", i);
		EXPECT_EQ(0, val(oth)) TH_LOG("round %d", i);
		expect_idle(_metadata, self, both, 2, "after the round");
	}
	TH_LOG("grants passed on by the dying waiter: %d", passed);
}

/*
 * SIGKILL around a release, at random: A waits on {S0, S1}, B on S1
 * behind it; the parent releases S1 and kills A in either order with a
 * gap of up to 300 us, then releases S1 again, which B surely gets.  If A
 * recorded its unit (index 1) it died with it and the value is 0, else
 * 1.  Kill first: A never runs user code again, so strictly value 1.
 * Release first: A may have returned in the kernel and been killed
 * before it recorded the unit: value 0 with nothing recorded is only
 * counted then (sigkill_served_not_running covers that case).
 */
TEST_F_TIMEOUT(any, sigkill_around_release, 300)
{
	struct shm *shm = self->shm;
	sema_t *s0 = &shm->s[0], *s1 = &shm->s[1], *both[] = { s0, s1 };
	unsigned int seed = 0xabcdef1;
	int a_won = 0, ambiguous = 0, i;

	for (i = 0; i < KILL_ITERS; i++) {
		unsigned int rnd = xrand(&seed);
		int64_t delay = rnd % 300000;
		bool release_first = rnd & (1U << 30);
		bool starving = rnd & (1U << 29);
		bool a_got;
		unsigned int v;
		pid_t a, b;

		ASSERT_EQ(0, sema_init(s0, 0, SEMA_SHARED));
		ASSERT_EQ(0, sema_init(s1, 0, SEMA_SHARED));
		ASSERT_EQ(0, sema_set_starve_threshold(s1, starving ?
			HSEMA_ALWAYS_STARVE_US : HSEMA_NO_STARVE_US));
		atomic_store(&shm->done[0], 0);
		atomic_store(&shm->done[1], 0);
		a = fork_any(shm, both, 2, -1, true, 0);
		ASSERT_LE(0, a);
		self->kids[0] = a;
		ASSERT_EQ(0, queued(self, s0, 1));
		ASSERT_EQ(0, queued(self, s1, 1));
		b = fork_plain(shm, s1, -1, 1);
		ASSERT_LE(0, b);
		self->kids[1] = b;
		ASSERT_EQ(0, queued(self, s1, 2));

		if (release_first) {
			ASSERT_EQ(0, sema_release(s1));
			spin_ns(delay);
			ASSERT_EQ(0, kill(a, SIGKILL));
		} else {
			ASSERT_EQ(0, kill(a, SIGKILL));
			spin_ns(delay);
			ASSERT_EQ(0, sema_release(s1));
		}
		EXPECT_EQ(128 + SIGKILL, reap(a));
		REAPED(self, a);
		ASSERT_EQ(0, sema_release(s1));
		ASSERT_EQ(0, wait_atomic_ge(&shm->done[1], 1))
			TH_LOG("iter %d: B got nothing from 2 releases (value %u)",
			       i, val(s1));
		ASSERT_EQ(0, reap(b)) TH_LOG("iter %d: B failed", i);
		REAPED(self, b);
		ASSERT_EQ(0, nr_waiters(self, s0)) TH_LOG("iter %d", i);
		ASSERT_EQ(0, nr_waiters(self, s1)) TH_LOG("iter %d", i);
		ASSERT_EQ(0, val(s0)) TH_LOG("iter %d", i);

		a_got = atomic_load(&shm->done[0]);
		if (a_got)
			ASSERT_EQ(1, shm->ret[0]) TH_LOG("iter %d", i);
		if (!release_first)
			ASSERT_FALSE(a_got)
				TH_LOG("iter %d: A ran user code after SIGKILL", i);
		a_won += a_got;
		v = val(s1);
		if (release_first && !a_got && v == 0) {
			ambiguous++;
			continue;
		}
		ASSERT_EQ(a_got ? 0 : 1, v)
			TH_LOG("iter %d: %s, %s, gap %lld ns, A %s: value %u", i,
			       release_first ? "release then kill" : "kill then release",
			       starving ? "starving" : "normal", (long long)delay,
			       a_got ? "acquired" : "did not acquire", v);
	}
	TH_LOG("%d iterations: A acquired %d, ambiguous %d", KILL_ITERS, a_won,
	       ambiguous);
}

struct exit_ctx {
	int fd;
	sema_t *s0;
};

static void *exit_when_queued(void *arg)
{
	struct exit_ctx *c = arg;

	if (hsema_wait_queued(c->fd, c->s0, HSEMA_F_SHARED, 1, NULL))
		_exit(3);
	exit(0);
}

/*
 * A process calls exit() while one of its threads (or its main thread)
 * waits on {S0, a private one, S1}: it exits promptly and leaves both
 * shared queues; releases afterwards land in the values.  The same for
 * a waiter killed with SIGKILL while it waits.
 */
TEST_F(any, process_exit)
{
	struct shm *shm = self->shm;
	sema_t *s0 = &shm->s[0], *s1 = &shm->s[1], *priv = &self->p[0];
	sema_t *three[] = { s0, priv, s1 }, *sh[] = { s0, s1 };
	int main_waits;
	pid_t pid;

	for (main_waits = 0; main_waits < 3; main_waits++) {
		fflush(NULL);
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct exit_ctx c = { .fd = self->fd, .s0 = s0 };
			struct anyw *w = &self->w[0];
			pthread_t t;

			if (main_waits == 2) {		/* SIGKILL */
				sema_acquire_any(three, 3, NULL, CLOCK_MONOTONIC);
				_exit(4);
			}
			if (main_waits) {
				if (pthread_create(&t, NULL, exit_when_queued, &c))
					_exit(2);
				sema_acquire_any(three, 3, NULL, CLOCK_MONOTONIC);
				_exit(4);	/* the wait returned: wrong */
			}
			anyw_init(w, three, 3);
			if (anyw_start(w))
				_exit(2);
			exit_when_queued(&c);
			_exit(5);
		}
		self->kids[0] = pid;
		if (main_waits == 2) {
			ASSERT_EQ(0, queued(self, s0, 1));
			ASSERT_EQ(0, queued(self, s1, 1));
			ASSERT_EQ(0, kill(pid, SIGKILL));
			EXPECT_EQ(128 + SIGKILL, reap(pid));
		} else {
			EXPECT_EQ(0, reap(pid))
				TH_LOG("%s thread waiting: the child did not exit",
				       main_waits ? "main" : "other");
		}
		REAPED(self, pid);
		expect_idle(_metadata, self, sh, 2, "after the exit");
		ASSERT_EQ(0, sema_release(s0));
		ASSERT_EQ(0, sema_release(s1));
		EXPECT_EQ(1, val(s0));
		EXPECT_EQ(1, val(s1));
		ASSERT_EQ(0, sema_tryacquire(s0));
		ASSERT_EQ(0, sema_tryacquire(s1));
	}
}

/* ------------------------------------------------------------------ */
/* munmap of one of the words under the waiter.                        */
/* ------------------------------------------------------------------ */

/*
 * W waits on {X, Y}, X alone in its page; the page is unmapped.  Then Y
 * is released: the wait must end, with Y's unit (it went on waiting on
 * the others) or an error (then Y keeps its unit), never hang.  And with
 * nothing released: it ends by its deadline (or an error).  Either way
 * Y's queue is empty after, and the kernel is not tainted (teardown).
 */
static void munmap_under_waiter(struct __test_metadata *_metadata,
				FIXTURE_DATA(any) *self, bool shared)
{
	unsigned int kf = shared ? HSEMA_F_SHARED : 0;
	sema_t *x, *y = &self->p[0];
	struct anyw *w = &self->w[0];
	bool early;
	int k;

	for (k = 0; k < 2; k++) {
		x = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS,
			 -1, 0);
		ASSERT_NE(MAP_FAILED, x);
		ASSERT_EQ(0, sema_init(x, 0, shared ? SEMA_SHARED : 0));
		anyw_init(w, (sema_t *[]){ x, y }, 2);
		w->timed = true;
		w->abstime = deadline_in(CLOCK_MONOTONIC, k ? 300 * MSEC : 5 * NSEC);
		ASSERT_EQ(0, anyw_start(w));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, x, kf, 1, NULL));
		ASSERT_EQ(0, queued(self, y, 1));
		ASSERT_EQ(0, munmap(x, PAGE));
		msleep(50);
		early = atomic_load(&w->done);
		if (!k && !early)
			ASSERT_EQ(0, sema_release(y));
		ASSERT_EQ(0, anyw_finish(w)) TH_LOG("the wait hangs after the munmap");
		TH_LOG("%s X unmapped, %s: the wait %sreturned %d (%s)",
		       shared ? "shared" : "private",
		       k ? "nothing released" : "then Y released",
		       early ? "had already " : "", w->ret,
		       w->ret < 0 ? strerror(-w->ret) : "an index");
		if (w->ret == 1) {
			EXPECT_FALSE(k || early) TH_LOG("Y's unit out of nowhere");
			EXPECT_EQ(0, val(y));
		} else {
			/*
			 * Observed on 6.1, 6.12 and 6.12-rt: the waiter
			 * stays queued on the unmapped word's key, as a
			 * futex waiter does (Documentation/hsema.rst,
			 * "munmap"), goes on waiting on Y and returns 1
			 * when Y is released, -ETIMEDOUT at its deadline
			 * when nothing is.  -EFAULT would be as good.
			 */
			EXPECT_TRUE(w->ret == -ETIMEDOUT || w->ret == -EFAULT)
				TH_LOG("returned %d", w->ret);
			EXPECT_EQ(k ? 0 : !early, val(y));
			if (val(y))
				ASSERT_EQ(0, sema_tryacquire(y));
		}
		EXPECT_EQ(0, nr_waiters(self, y)) TH_LOG("W is still queued on Y");
	}
}

TEST_F(any, munmap_private_word)
{
	munmap_under_waiter(_metadata, self, false);
}

TEST_F(any, munmap_shared_word)
{
	munmap_under_waiter(_metadata, self, true);
}

/* ------------------------------------------------------------------ */
/* Bad input.                                                          */
/* ------------------------------------------------------------------ */

/*
 * The library's -EINVAL cases: n of 0 or above SEMA_ANY_MAX, a NULL,
 * zeroed, garbage or destroyed sema_t anywhere in the array, a deadline
 * with tv_nsec out of range or a negative tv_sec, a clock other than
 * MONOTONIC or REALTIME with a deadline.  Every other semaphore holds a
 * unit, which a call that did not check would take: none is taken.
 * With no unit anywhere and a 200 ms deadline, a call that did not check
 * would time out instead.  Without a deadline the clock is not looked at.
 */
TEST_F(any, lib_einval)
{
	static const struct timespec bad_ts[] = {
		{ 0, -1 }, { 0, NSEC }, { -1, 0 }, { -1, NSEC - 1 },
		{ 0, LONG_MAX }, { 0, LONG_MIN }, { LONG_MIN, 0 },
	};
	static const clockid_t bad_clocks[] = {
		CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
		CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
		CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_TAI, -1, 1000,
	};
	sema_t *s[SEMA_ANY_MAX + 2], *arr[4], *bad[4];
	sema_t *zeroed = &self->p[70], *garbage = &self->p[71];
	sema_t *destroyed = &self->p[72];
	sema_t zeroed0, garbage0, destroyed0;
	static const char *const bad_names[] = {
		"NULL", "zeroed", "garbage", "destroyed",
	};
	struct timespec ts;
	unsigned int i, c, b, pos;

	for (i = 0; i < SEMA_ANY_MAX + 2; i++) {
		s[i] = &self->p[i];
		ASSERT_EQ(0, sema_release(s[i]));
	}
	memset(zeroed, 0, sizeof(*zeroed));
	memset(garbage, 0xa5, sizeof(*garbage));
	ASSERT_EQ(0, sema_init(destroyed, 1, 0));
	ASSERT_EQ(0, sema_destroy(destroyed));
	zeroed0 = *zeroed;
	garbage0 = *garbage;
	destroyed0 = *destroyed;
	bad[0] = NULL;
	bad[1] = zeroed;
	bad[2] = garbage;
	bad[3] = destroyed;

	EXPECT_EQ(-EINVAL, sema_acquire_any(s, 0, NULL, CLOCK_MONOTONIC));
	EXPECT_EQ(-EINVAL, sema_acquire_any(s, SEMA_ANY_MAX + 1, NULL,
					    CLOCK_MONOTONIC));
	EXPECT_EQ(-EINVAL, sema_acquire_any(s, SEMA_ANY_MAX + 2, NULL,
					    CLOCK_MONOTONIC));
	EXPECT_EQ(-EINVAL, sema_acquire_any(s, UINT_MAX, NULL, CLOCK_MONOTONIC));

	for (b = 0; b < 4; b++) {
		for (pos = 0; pos < 4; pos += 3) {
			for (i = 0; i < 4; i++)
				arr[i] = s[i];
			arr[pos] = bad[b];
			EXPECT_EQ(-EINVAL, sema_acquire_any(arr, 4, NULL,
							    CLOCK_MONOTONIC))
				TH_LOG("%s sema_t at index %u", bad_names[b], pos);
			ts = deadline_in(CLOCK_MONOTONIC, NSEC);
			EXPECT_EQ(-EINVAL, sema_acquire_any(arr, 4, &ts,
							    CLOCK_MONOTONIC))
				TH_LOG("%s sema_t at index %u, timed",
				       bad_names[b], pos);
		}
	}
	EXPECT_EQ(0, memcmp(&zeroed0, zeroed, sizeof(*zeroed)));
	EXPECT_EQ(0, memcmp(&garbage0, garbage, sizeof(*garbage)));
	EXPECT_EQ(0, memcmp(&destroyed0, destroyed, sizeof(*destroyed)));

	for (c = 0; c < 2; c++)
		for (i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++)
			EXPECT_EQ(-EINVAL, sema_acquire_any(s, 4, &bad_ts[i],
							    clocks[c]))
				TH_LOG("CLOCK_%s, abstime {%lld, %ld}",
				       c ? "REALTIME" : "MONOTONIC",
				       (long long)bad_ts[i].tv_sec,
				       bad_ts[i].tv_nsec);
	for (i = 0; i < sizeof(bad_clocks) / sizeof(bad_clocks[0]); i++) {
		ts = deadline_in(CLOCK_MONOTONIC, NSEC);
		EXPECT_EQ(-EINVAL, sema_acquire_any(s, 4, &ts, bad_clocks[i]))
			TH_LOG("clock %d", (int)bad_clocks[i]);
	}
	for (i = 0; i < SEMA_ANY_MAX + 2; i++)
		EXPECT_EQ(1, val(s[i])) TH_LOG("entry %u changed", i);

	/* No deadline: the clock does not matter. */
	EXPECT_EQ(0, sema_acquire_any(s, 4, NULL, CLOCK_BOOTTIME));
	EXPECT_EQ(0, val(s[0]));
	for (i = 1; i < SEMA_ANY_MAX + 2; i++)
		ASSERT_EQ(0, sema_tryacquire(s[i]));

	/* No unit anywhere: refused, not timed out after 200 ms. */
	for (b = 0; b < 4; b++) {
		for (i = 0; i < 4; i++)
			arr[i] = s[i];
		arr[3] = bad[b];
		ts = deadline_in(CLOCK_MONOTONIC, 200 * MSEC);
		EXPECT_EQ(-EINVAL, sema_acquire_any(arr, 4, &ts, CLOCK_MONOTONIC))
			TH_LOG("%s sema_t last, no units", bad_names[b]);
	}
	ts = deadline_in(CLOCK_MONOTONIC, 200 * MSEC);
	EXPECT_EQ(-EINVAL, sema_acquire_any(s, SEMA_ANY_MAX + 1, &ts,
					    CLOCK_MONOTONIC));
	ts.tv_nsec = NSEC;
	EXPECT_EQ(-EINVAL, sema_acquire_any(s, 4, &ts, CLOCK_MONOTONIC));
	for (i = 0; i < SEMA_ANY_MAX + 2; i++)
		EXPECT_EQ(0, val(s[i])) TH_LOG("entry %u", i);
	expect_idle(_metadata, self, s, 4, "after the refusals");
	EXPECT_EQ(0, memcmp(&zeroed0, zeroed, sizeof(*zeroed)));
}

/*
 * The ioctl's EINVAL cases, each alone in an otherwise valid request
 * whose entries hold 5 units each (a request wrongly accepted takes
 * one): unknown flags (HSEMA_F_SHARED and HSEMA_WAIT_OWNED are not
 * request flags), REALTIME without TIMEOUT, non-zero reserved words, a
 * count of 0 or above HSEMA_ANY_MAX, unknown entry flags and non-zero
 * entry padding at either index, and bad deadlines.  Then a valid one
 * takes a unit of entry 0.
 */
TEST_F(any, raw_einval)
{
	static const struct {
		__s64 sec, nsec;
	} bad_deadlines[] = {
		{ 0, -1 }, { 0, NSEC }, { 0, INT64_MIN }, { 0, INT64_MAX },
		{ -1, 0 }, { INT64_MIN, 0 }, { -1, NSEC - 1 },
	};
	sema_t *a = &self->p[0], *sa = &self->shm->s[0];
	struct hsema_any_entry e[HSEMA_ANY_MAX + 1];
	struct hsema_wait_any r;
	unsigned int b, i, k;
	int ret;

	poke(a, 5);
	poke(sa, 5);
	for (i = 0; i < HSEMA_ANY_MAX + 1; i++)
		e[i] = i & 1 ? entry(&sa->__word, HSEMA_F_SHARED) :
			       entry(&a->__word, 0);

	for (b = 0; b < 32; b++) {
		if (HSEMA_WAIT_ANY_FLAGS & (1U << b))
			continue;
		r = any_req(e, 2, 1U << b);
		set_deadline(&r, false, NSEC);
		EXPECT_EQ(-EINVAL, wait_any(self->fd, &r)) TH_LOG("flag bit %u", b);
	}
	r = any_req(e, 2, HSEMA_WAIT_REALTIME);
	EXPECT_EQ(-EINVAL, wait_any(self->fd, &r)) TH_LOG("REALTIME without TIMEOUT");
	for (i = 0; i < 2; i++) {
		r = any_req(e, 2, 0);
		set_deadline(&r, false, NSEC);
		r.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, wait_any(self->fd, &r)) TH_LOG("reserved[%u] = 1", i);
		r.reserved[i] = 1ULL << 63;
		EXPECT_EQ(-EINVAL, wait_any(self->fd, &r)) TH_LOG("reserved[%u] = 1 << 63", i);
	}
	{
		static const __u32 counts[] = {
			0, HSEMA_ANY_MAX + 1, 1000, 0x80000000U, UINT32_MAX,
		};

		for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
			r = any_req(e, counts[i], 0);
			set_deadline(&r, false, NSEC);
			EXPECT_EQ(-EINVAL, wait_any(self->fd, &r))
				TH_LOG("count %u", counts[i]);
		}
	}
	for (k = 0; k < 2; k++) {
		for (b = 0; b < 32; b++) {
			struct hsema_any_entry ee[2] = { e[0], e[1] };

			if (HSEMA_ANY_ENTRY_FLAGS & (1U << b))
				continue;
			ee[k].flags |= 1U << b;
			r = any_req(ee, 2, 0);
			EXPECT_EQ(-EINVAL, wait_any(self->fd, &r))
				TH_LOG("entry %u flag bit %u", k, b);
		}
		for (b = 0; b < 2; b++) {
			struct hsema_any_entry ee[2] = { e[0], e[1] };

			ee[k].pad = b ? 0x80000000U : 1;
			r = any_req(ee, 2, 0);
			EXPECT_EQ(-EINVAL, wait_any(self->fd, &r))
				TH_LOG("entry %u pad %#x", k, ee[k].pad);
		}
	}
	for (k = 0; k < 2; k++) {
		for (i = 0; i < sizeof(bad_deadlines) / sizeof(bad_deadlines[0]); i++) {
			r = any_req(e, 2, HSEMA_WAIT_TIMEOUT |
				    (k ? HSEMA_WAIT_REALTIME : 0));
			r.deadline_sec = bad_deadlines[i].sec;
			r.deadline_nsec = bad_deadlines[i].nsec;
			EXPECT_EQ(-EINVAL, wait_any(self->fd, &r))
				TH_LOG("%s deadline {%lld, %lld}",
				       k ? "REALTIME" : "MONOTONIC",
				       (long long)r.deadline_sec,
				       (long long)r.deadline_nsec);
		}
	}
	EXPECT_EQ(5, hsema_value(a)) TH_LOG("a refused request took a unit");
	EXPECT_EQ(5, hsema_value(sa)) TH_LOG("a refused request took a unit");
	if (hsema_word(a) != 5 || hsema_word(sa) != 5)
		TH_LOG("state bits left by a refused request: words %#x %#x",
		       hsema_word(a), hsema_word(sa));

	/* The same request, valid: entry 0's unit; 64 entries are fine. */
	r = any_req(e, 2, 0);
	set_deadline(&r, true, NSEC);
	EXPECT_EQ(0, wait_any(self->fd, &r));
	r = any_req(e + 1, HSEMA_ANY_MAX, 0);
	ret = wait_any(self->fd, &r);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(4, hsema_value(a));
	EXPECT_EQ(4, hsema_value(sa));
	poke(a, 0);
	poke(sa, 0);
}

/*
 * EFAULT: an argument or an entries array that cannot be read (NULL,
 * unmapped, PROT_NONE, kernel addresses, an array running into an
 * unmapped page); a word that is not mapped writable (NULL, unmapped,
 * PROT_NONE, read-only, a kernel address) as entry 0, and as entry 1
 * behind a word with no unit (the caller must queue on it).  EINVAL for
 * a misaligned word.  No value changes.  Read-only entries are fine.
 */
TEST_F(any, raw_efault)
{
	sema_t *a = &self->p[0], *z = &self->p[1];
	char *pages, *gone;
	struct hsema_any_entry e[2], *tail;
	struct hsema_wait_any r, *rp;
	void *bad_arrays[] = {
		NULL, (void *)-4096L, NULL /* gone */, NULL /* PROT_NONE */,
#ifdef __LP64__
		(void *)0xffff800000000000UL, (void *)0x0000800000000000UL,
#endif
	};
	struct {
		const char *name;
		__u64 uaddr;
		int err;
		bool readable;
	} words[8];
	unsigned int i, nw = 0, f;
	int ret;

#define WORD(n, u, e, r) do {						\
	words[nw].name = (n);						\
	words[nw].uaddr = (u);						\
	words[nw].err = (e);						\
	words[nw].readable = (r);					\
	nw++;								\
} while (0)

	/* [0] read-only, [1] PROT_NONE, [2] read-write, [3] unmapped */
	pages = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, pages);
	ASSERT_EQ(0, munmap(pages + 3 * PAGE, PAGE));
	gone = pages + 3 * PAGE;
	bad_arrays[2] = gone;
	bad_arrays[3] = pages + PAGE;
	poke(a, 5);
	e[0] = entry(&a->__word, 0);
	e[1] = entry(&z->__word, 0);

	/* The entries array. */
	ASSERT_EQ(0, mprotect(pages + PAGE, PAGE, PROT_NONE));
	for (i = 0; i < sizeof(bad_arrays) / sizeof(bad_arrays[0]); i++) {
		r = any_req(bad_arrays[i], 1, 0);
		EXPECT_EQ(-EFAULT, wait_any(self->fd, &r))
			TH_LOG("entries at %p", bad_arrays[i]);
	}
	/* Its second entry in the unmapped page. */
	tail = (struct hsema_any_entry *)(gone - sizeof(*tail));
	*tail = e[0];
	r = any_req(tail, 2, 0);
	EXPECT_EQ(-EFAULT, wait_any(self->fd, &r)) TH_LOG("array runs into a hole");
	EXPECT_EQ(5, hsema_value(a));

	/* The argument itself. */
	for (i = 0; i < sizeof(bad_arrays) / sizeof(bad_arrays[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, HSEMA_IOC_WAIT_ANY, bad_arrays[i]));
		EXPECT_EQ(EFAULT, errno) TH_LOG("argument at %p", bad_arrays[i]);
	}
	rp = (struct hsema_wait_any *)(gone - 8);	/* straddles the hole */
	*(__u64 *)rp = U64(e);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, HSEMA_IOC_WAIT_ANY, rp));
	EXPECT_EQ(EFAULT, errno) TH_LOG("argument runs into a hole");
	EXPECT_EQ(5, hsema_value(a));

	/* Read-only entries and argument: they are only read. */
	ASSERT_EQ(0, mprotect(pages, PAGE, PROT_READ | PROT_WRITE));
	memcpy(pages, e, sizeof(e));
	r = any_req((void *)pages, 2, 0);
	memcpy(pages + 256, &r, sizeof(r));
	ASSERT_EQ(0, mprotect(pages, PAGE, PROT_READ));
	ret = ioctl(self->fd, HSEMA_IOC_WAIT_ANY, pages + 256);
	EXPECT_EQ(0, ret) TH_LOG("read-only request: %s", ret < 0 ? strerror(errno) : "");
	EXPECT_EQ(4, hsema_value(a));
	poke(a, 5);

	/* Words. */
	ASSERT_EQ(0, mprotect(pages + 2 * PAGE, PAGE, PROT_READ));
	WORD("NULL", 0, EFAULT, false);
	WORD("unmapped", U64(gone + 64), EFAULT, false);
	WORD("PROT_NONE", U64(pages + PAGE + 64), EFAULT, false);
	WORD("read-only", U64(pages + 2 * PAGE + 64), EFAULT, true);
	WORD("misaligned", U64((char *)&self->p[5].__word + 2), EINVAL, false);
#ifdef __LP64__
	WORD("kernel", 0xffff800000000000ULL, EFAULT, false);
	WORD("non-canonical", 0x0000800000000000ULL, EFAULT, false);
#endif
	for (f = 0; f < 2; f++) {
		unsigned int kf = f ? HSEMA_F_SHARED : 0;

		for (i = 0; i < nw; i++) {
			struct hsema_any_entry ee[2];

			/* First, before a word with units. */
			ee[0] = entry(NULL, kf);
			ee[0].uaddr = words[i].uaddr;
			ee[1] = e[0];
			r = any_req(ee, 2, 0);
			ret = wait_any(self->fd, &r);
			if (ret == 1 && words[i].readable) {
				/*
				 * A readable word with no unit, then one with
				 * units: the unit may be taken without writing
				 * the first.
				 */
				EXPECT_EQ(4, hsema_value(a));
				TH_LOG("%s word%s at index 0: entry 1's unit taken",
				       words[i].name, f ? " (shared)" : "");
				poke(a, 5);
			} else {
				EXPECT_EQ(-words[i].err, ret)
					TH_LOG("%s word%s at index 0", words[i].name,
					       f ? " (shared)" : "");
				EXPECT_EQ(5, hsema_value(a));
			}

			/* Second, behind a word without units: must queue. */
			ee[0] = e[1];
			ee[1] = entry(NULL, kf);
			ee[1].uaddr = words[i].uaddr;
			r = any_req(ee, 2, 0);
			set_deadline(&r, false, 200 * MSEC);
			EXPECT_EQ(-words[i].err, wait_any(self->fd, &r))
				TH_LOG("%s word%s at index 1, none at 0",
				       words[i].name, f ? " (shared)" : "");
			EXPECT_EQ(0, hsema_value(z));
			EXPECT_EQ(0, nr_waiters(self, z));
			if (hsema_word(z))
				TH_LOG("%s word at index 1: state left in entry 0's word %#x",
				       words[i].name, hsema_word(z));
			poke(z, 0);

			/*
			 * Behind a word with units the order of the checks
			 * is not specified: the error, or entry 0's unit.
			 */
			ee[0] = e[0];
			r = any_req(ee, 2, 0);
			ret = wait_any(self->fd, &r);
			if (ret == 0) {
				EXPECT_EQ(4, hsema_value(a));
				TH_LOG("%s word%s at index 1 behind a unit: the unit taken",
				       words[i].name, f ? " (shared)" : "");
				poke(a, 5);
			} else {
				EXPECT_EQ(-words[i].err, ret)
					TH_LOG("%s word%s at index 1 behind a unit",
					       words[i].name, f ? " (shared)" : "");
				EXPECT_EQ(5, hsema_value(a));
			}
		}
	}
#undef WORD
	poke(a, 0);
	munmap(pages, 3 * PAGE);
}

/*
 * The ioctl's answer is the index: of the lowest entry with units, of a
 * duplicated word its lowest, with private and shared entries mixed.
 */
TEST_F(any, raw_returns_index)
{
	sema_t *p0 = &self->p[0], *p1 = &self->p[1], *p2 = &self->p[2];
	sema_t *s0 = &self->shm->s[0];
	struct hsema_any_entry e[4];
	struct hsema_wait_any r;

	e[0] = entry(&p0->__word, 0);
	e[1] = entry(&s0->__word, HSEMA_F_SHARED);
	e[2] = entry(&p1->__word, 0);
	e[3] = entry(&p1->__word, 0);
	ASSERT_EQ(0, sema_release_n(p1, 2));
	r = any_req(e, 4, 0);
	EXPECT_EQ(2, wait_any(self->fd, &r));
	ASSERT_EQ(0, sema_release(s0));
	EXPECT_EQ(1, wait_any(self->fd, &r));
	set_deadline(&r, false, -NSEC);		/* passed: a unit still */
	EXPECT_EQ(2, wait_any(self->fd, &r));
	EXPECT_EQ(-ETIMEDOUT, wait_any(self->fd, &r));
	ASSERT_EQ(0, sema_release(p0));
	ASSERT_EQ(0, sema_release(p1));
	r = any_req(e, 4, 0);
	EXPECT_EQ(0, wait_any(self->fd, &r));
	EXPECT_EQ(2, wait_any(self->fd, &r));
	e[0] = entry(&p2->__word, 0);
	ASSERT_EQ(0, sema_release(p2));
	r = any_req(e, 1, 0);
	EXPECT_EQ(0, wait_any(self->fd, &r));
	EXPECT_EQ(0, val(p0));
	EXPECT_EQ(0, val(p1));
	EXPECT_EQ(0, val(p2));
	EXPECT_EQ(0, val(s0));
}

TEST_HARNESS_MAIN
