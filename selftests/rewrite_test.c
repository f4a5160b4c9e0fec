// SPDX-License-Identifier: GPL-2.0-only
/*
 * A word that another thread rewrites without pause during a call: the
 * call may wait for the rewrites to stop, but its CPU may not, a fatal
 * signal ends it, and no unit is lost.
 *
 * The kernel plans under the bucket lock from the value it read (for a
 * release: which waiters to grant, which to wake), then compare-and-swaps
 * the word, and plans again from the new value if the word changed.  With
 * a handoff, or on a starving queue, a release's plan walks the waiters it
 * grants, so with many queued it takes microseconds, and on hardware a
 * thread that flips a bit of the word in a loop fails every try.  The
 * kernel must then let the lock and the CPU go between tries, as futex
 * does when a word changes under it, and see a fatal signal there: a
 * caller kept looping with the lock held and preemption off kept its CPU
 * for as long as the rewrites went on (a soft lockup after 20 s), and
 * could not be killed.  Any thread that can write the word can do this.
 *
 * Under emulation a real compare-and-swap gets through such rewrites
 * within milliseconds (a WAKE of 1024 waiters took 5-16 ms while the
 * other vCPU flipped the bit 60 million times a second), so the lock hold
 * is shown with the module's debugfs knob inject_changed, which makes the
 * next N compare-and-swaps on user words find the word changed, as that
 * thread would on hardware:
 *
 * - a thread's real rewrites: a HANDOFF WAKE of 256 waiters while a
 *   thread on the other CPU flips the word's bit 0 grants all 256
 *   (during the rewrites or after them), each waiter returns 0, and the
 *   word ends at 0 with no waiters;
 * - a HANDOFF WAKE of 32 waiters each of whose compare-and-swaps finds
 *   the word changed, for REWRITE_MS: a thread that shares the releaser's
 *   CPU runs within HOLD_MS all along, and once the injection ends the
 *   WAKE grants all 32;
 * - a newcomer's WAIT, and a WAIT_ANY of two such words, with a
 *   deadline: ETIMEDOUT at the deadline, not when the injection ends;
 * - the same WAKE, and a newcomer's WAIT, in a child process: SIGKILL
 *   ends the child within KILL_MS while the injection goes on (its queued
 *   waiters leave their queue, too).
 *
 * Before the fix (the knob added alone), on 6.1 and on 6.12-rt: the
 * releaser's CPU ran nothing else for 1498 of the 1500 ms (947 ms on
 * 6.12-rt), the timed WAIT returned ETIMEDOUT only when the injection
 * ended, 2001 ms after it began, and both killed children lived until
 * then; the real rewrites' case passed.  Needs two CPUs; the injected
 * cases need root and debugfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"
#include "hsema_util.h"
#include "knob.h"

#define MANY_WAITERS	256	/* the real rewrites' WAKE */
#define NWAITERS	32	/* the injected ones' */
#define REWRITE_MS	1500	/* how long the rewrites go on */
#define HOLD_MS		500	/* the releaser's CPU runs another within */
#define KILL_MS		2000	/* a killed caller is gone within */
#define TIMED_MS	300	/* a timed WAIT's deadline */
#define FOREVER		1000000000
#define NEVER_STARVE_NS	(10ULL * 1000000000ULL)

/* Flips bit 0 of the word, in pairs, so that it changes nothing at last. */
struct rewriter {
	pthread_t thr;
	_Atomic unsigned int *word;
	int cpu;
	atomic_int stop;
	atomic_long flips;
};

static void *rewriter_fn(void *arg)
{
	struct rewriter *r = arg;

	pin_self(r->cpu);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		atomic_fetch_xor(r->word, 1);
		atomic_fetch_xor(r->word, 1);
		atomic_fetch_add_explicit(&r->flips, 2, memory_order_relaxed);
	}
	return NULL;
}

/*
 * Records the longest time it did not run, counting the gaps that end
 * after from_ns, and stops once it has run after stop_ns: a gap that
 * ends when it runs again is always counted.
 */
struct ticker {
	pthread_t thr;
	int cpu;
	atomic_int running;
	atomic_llong from_ns;
	atomic_llong stop_ns;
	atomic_llong max_gap_ns;
};

static void *ticker_fn(void *arg)
{
	struct ticker *t = arg;
	int64_t last, now;

	pin_self(t->cpu);
	last = now_ns(CLOCK_MONOTONIC);
	atomic_store(&t->running, 1);
	do {
		now = now_ns(CLOCK_MONOTONIC);
		if (now > atomic_load(&t->from_ns) &&
		    now - last > atomic_load(&t->max_gap_ns))
			atomic_store(&t->max_gap_ns, now - last);
		last = now;
	} while (now <= atomic_load(&t->stop_ns));
	return NULL;
}

static void ticker_start(struct __test_metadata *_metadata, struct ticker *t,
			 int cpu)
{
	t->cpu = cpu;
	atomic_store(&t->from_ns, INT64_MAX);
	atomic_store(&t->stop_ns, INT64_MAX);
	ASSERT_EQ(0, pthread_create(&t->thr, NULL, ticker_fn, t));
	ASSERT_EQ(0, wait_atomic_ge(&t->running, 1));
}

/* Its longest gap since from_ns, up to its next run. */
static int64_t ticker_stop(struct ticker *t)
{
	atomic_store(&t->stop_ns, now_ns(CLOCK_MONOTONIC));
	pthread_join(t->thr, NULL);
	return atomic_load(&t->max_gap_ns);
}

/*
 * A HANDOFF WAKE of @count units, or if @count is 0 a WAIT (timed or not)
 * of @s, or of @s or @or.
 */
struct caller {
	pthread_t thr;
	int fd;
	sema_t *s;
	unsigned int flags;		/* HSEMA_F_SHARED or 0 */
	unsigned int count;
	int cpu;
	int64_t timeout_ns;		/* a WAIT's deadline from now, or 0 */
	sema_t *or;			/* a WAIT_ANY of @s and this one */
	atomic_int *calling;		/* set just before the call */
	atomic_int *done;		/* set when it returned */
	int ret;
	struct hsema_wake k;
};

static void *caller_fn(void *arg)
{
	struct caller *c = arg;
	struct hsema_any_entry e[2];
	struct hsema_wait_any wa;
	struct hsema_wait hw;

	pin_self(c->cpu);
	memset(&c->k, 0, sizeof(c->k));
	memset(&hw, 0, sizeof(hw));
	c->k.uaddr = hw.uaddr = hsema_uaddr(c->s);
	c->k.count = c->count;
	c->k.flags = HSEMA_WAKE_HANDOFF | c->flags;
	hw.flags = c->flags;
	if (c->timeout_ns) {
		struct timespec ts = deadline_in(CLOCK_MONOTONIC,
						 c->timeout_ns);

		hw.flags |= HSEMA_WAIT_TIMEOUT;
		hw.deadline_sec = ts.tv_sec;
		hw.deadline_nsec = ts.tv_nsec;
	}
	memset(e, 0, sizeof(e));
	memset(&wa, 0, sizeof(wa));
	e[0].uaddr = hsema_uaddr(c->s);
	e[1].uaddr = c->or ? hsema_uaddr(c->or) : 0;
	wa.entries = (uintptr_t)e;
	wa.count = 2;
	wa.flags = hw.flags & ~HSEMA_F_SHARED;
	wa.deadline_sec = hw.deadline_sec;
	wa.deadline_nsec = hw.deadline_nsec;
	atomic_store(c->calling, 1);
	if (c->count)
		c->ret = ioctl(c->fd, HSEMA_IOC_WAKE, &c->k) ? -errno : 0;
	else if (c->or)
		c->ret = ioctl(c->fd, HSEMA_IOC_WAIT_ANY, &wa) ? -errno : 0;
	else
		c->ret = ioctl(c->fd, HSEMA_IOC_WAIT, &hw) ? -errno : 0;
	atomic_store(c->done, 1);
	return NULL;
}

/* @n raw WAITs on @s, pinned to @cpu, queued when this returns 0. */
static int queue_waiters(int fd, sema_t *s, unsigned int flags, int cpu,
			 struct waiter *w, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		waiter_init(&w[i], s, i, NULL);
		w[i].op = W_RAW_WAIT;
		w[i].rawfd = fd;
		w[i].rawflags = flags;
		w[i].starve_ns = NEVER_STARVE_NS;
		w[i].cpu = cpu;
		ret = waiter_start(&w[i]);
		if (ret)
			return ret;
	}
	return hsema_wait_queued(fd, s, flags, n, NULL);
}

/* Each of the @n waiters returned with its unit. */
static void expect_served(struct __test_metadata *_metadata,
			  struct waiter *w, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, waiter_wait_done(&w[i]));
		waiter_join(&w[i]);
		EXPECT_EQ(0, w[i].ret);
	}
}

static struct waiter w[MANY_WAITERS];

/*
 * Whatever a test leaves when it fails, its teardown undoes: an injection
 * left on would fail every later call of the guest, and a child left
 * looping would keep its CPU.
 */
FIXTURE(rewrite) {
	int fd;
	int a, b;		/* the caller's CPU, and the other one */
	pid_t child;
};

FIXTURE_SETUP(rewrite)
{
	self->child = 0;
	self->a = nth_allowed_cpu(0);
	self->b = nth_allowed_cpu(1);
	self->fd = hsema_open();
	if (self->fd < 0)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	if (self->b < 0)
		SKIP(return, "needs two CPUs");
}

FIXTURE_TEARDOWN(rewrite)
{
	knob_set("inject_changed", 0);
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->fd >= 0)
		close(self->fd);
}

static bool can_inject(void)
{
	return knob_get("inject_changed") >= 0;
}

TEST_F_TIMEOUT(rewrite, handoff_wake_under_real_rewrites_loses_nothing, 120)
{
	atomic_int calling = 0, done = 0;
	struct caller rel = { .fd = self->fd, .count = MANY_WAITERS,
			      .cpu = self->a, .calling = &calling,
			      .done = &done };
	struct rewriter rw = { .cpu = self->b };
	sema_t s;

	ASSERT_EQ(0, sema_init(&s, 0, 0));
	rel.s = &s;
	/*
	 * Away from the releaser's CPU, so that it returns as soon as it
	 * has granted, not after 256 woken threads had their turns there.
	 */
	ASSERT_EQ(0, queue_waiters(self->fd, &s, 0, self->b, w, MANY_WAITERS));
	ASSERT_EQ(0, pin_self(self->b));

	rw.word = (void *)(uintptr_t)hsema_uaddr(&s);
	ASSERT_EQ(0, pthread_create(&rw.thr, NULL, rewriter_fn, &rw));
	while (atomic_load(&rw.flips) < 1000)
		usleep_ns(1000000);
	ASSERT_EQ(0, pthread_create(&rel.thr, NULL, caller_fn, &rel));
	msleep(REWRITE_MS);
	atomic_store(&rw.stop, 1);
	pthread_join(rw.thr, NULL);
	ASSERT_EQ(0, wait_atomic_ge(&done, 1));
	pthread_join(rel.thr, NULL);
	ksft_print_msg("%ld flips in %d ms\n", atomic_load(&rw.flips),
		       REWRITE_MS);

	EXPECT_EQ(0, rel.ret);
	EXPECT_EQ(MANY_WAITERS, rel.k.granted);
	expect_served(_metadata, w, MANY_WAITERS);
	EXPECT_EQ(0U, hsema_word(&s));
}

TEST_F(rewrite, handoff_wake_on_a_changing_word_lets_its_cpu_go)
{
	atomic_int calling = 0, done = 0;
	struct caller rel = { .fd = self->fd, .count = NWAITERS,
			      .cpu = self->a, .calling = &calling,
			      .done = &done };
	struct ticker t = { 0 };
	int64_t gap;
	sema_t s;

	if (!can_inject())
		SKIP(return, KNOB_DIR "inject_changed unreadable (root and debugfs needed)");
	ASSERT_EQ(0, sema_init(&s, 0, 0));
	rel.s = &s;
	/* Off the releaser's CPU, where the ticker runs: only it and we. */
	ASSERT_EQ(0, queue_waiters(self->fd, &s, 0, self->b, w, NWAITERS));
	ASSERT_EQ(0, pin_self(self->b));

	ticker_start(_metadata, &t, self->a);
	ASSERT_EQ(0, knob_set("inject_changed", FOREVER));
	atomic_store(&t.from_ns, now_ns(CLOCK_MONOTONIC));
	ASSERT_EQ(0, pthread_create(&rel.thr, NULL, caller_fn, &rel));
	msleep(REWRITE_MS);
	EXPECT_EQ(0, atomic_load(&done)) TH_LOG("the WAKE got through");
	knob_set("inject_changed", 0);
	ASSERT_EQ(0, wait_atomic_ge(&done, 1));
	pthread_join(rel.thr, NULL);
	gap = ticker_stop(&t);

	ksft_print_msg("the releaser's CPU ran another thread within %lld ms at most in %d ms\n",
		       (long long)gap / 1000000, REWRITE_MS);
	EXPECT_LT(gap, HOLD_MS * 1000000LL) {
		TH_LOG("a thread on the releaser's CPU did not run for %lld ms: the WAKE held it",
		       (long long)gap / 1000000);
	}
	EXPECT_EQ(0, rel.ret);
	EXPECT_EQ(NWAITERS, rel.k.granted);
	expect_served(_metadata, w, NWAITERS);
	EXPECT_EQ(0U, hsema_word(&s));
}

/*
 * A newcomer's WAIT, or WAIT_ANY of two words, with a deadline TIMED_MS
 * away, on words each of whose compare-and-swaps finds them changed:
 * ETIMEDOUT at the deadline, not when the injection ends.
 */
static void timed_scene(struct __test_metadata *_metadata,
			FIXTURE_DATA(rewrite) *self, bool any)
{
	atomic_int calling = 0, done = 0;
	struct caller c = { .fd = self->fd, .cpu = self->a,
			    .calling = &calling, .done = &done,
			    .timeout_ns = TIMED_MS * 1000000LL };
	int64_t t0, took;
	sema_t s[2];

	if (!can_inject())
		SKIP(return, KNOB_DIR "inject_changed unreadable (root and debugfs needed)");
	ASSERT_EQ(0, sema_init(&s[0], 0, 0));
	ASSERT_EQ(0, sema_init(&s[1], 0, 0));
	c.s = &s[0];
	c.or = any ? &s[1] : NULL;
	ASSERT_EQ(0, pin_self(self->b));
	ASSERT_EQ(0, knob_set("inject_changed", FOREVER));
	t0 = now_ns(CLOCK_MONOTONIC);
	ASSERT_EQ(0, pthread_create(&c.thr, NULL, caller_fn, &c));
	while (!atomic_load(&done) &&
	       now_ns(CLOCK_MONOTONIC) - t0 < KILL_MS * 1000000LL)
		usleep_ns(2000000);
	took = now_ns(CLOCK_MONOTONIC) - t0;
	knob_set("inject_changed", 0);
	ASSERT_EQ(0, wait_atomic_ge(&done, 1));
	pthread_join(c.thr, NULL);
	ksft_print_msg("the %s returned %d after %lld ms (deadline %d ms)\n",
		       any ? "WAIT_ANY" : "WAIT", c.ret,
		       (long long)took / 1000000, TIMED_MS);
	EXPECT_EQ(-ETIMEDOUT, c.ret);
	EXPECT_LT(took, KILL_MS * 1000000LL) {
		TH_LOG("the call did not end at its deadline");
	}
	EXPECT_EQ(0U, hsema_word(&s[0]) & HSEMA_VALUE_MASK);
	EXPECT_EQ(0U, hsema_word(&s[1]) & HSEMA_VALUE_MASK);
}

TEST_F(rewrite, timed_wait_on_a_changing_word_times_out)
{
	timed_scene(_metadata, self, false);
}

TEST_F(rewrite, timed_wait_any_on_changing_words_times_out)
{
	timed_scene(_metadata, self, true);
}

/* What a child and the parent share. */
struct shared {
	sema_t sem;
	atomic_int queued;		/* 1 + the child's set-up result */
	atomic_int go;
	atomic_int calling;
	atomic_int returned;
};

/*
 * The child: @count waiters queued (none for 0), then the call, all on
 * @cpu.  The waiters sleep there, so that nothing the child does keeps
 * the other CPU, the parent's, from running.
 */
static void kill_child(int fd, struct shared *sh, unsigned int count, int cpu)
{
	struct caller c = { .fd = fd, .s = &sh->sem, .flags = HSEMA_F_SHARED,
			    .count = count, .cpu = cpu,
			    .calling = &sh->calling, .done = &sh->returned };
	int ret = 0;

	if (count)
		ret = queue_waiters(fd, &sh->sem, HSEMA_F_SHARED, cpu, w,
				    count);
	atomic_store(&sh->queued, 1 + ret);
	if (ret)
		_exit(1);
	while (!atomic_load(&sh->go))
		usleep_ns(1000000);
	caller_fn(&c);
	pause();
	_exit(0);
}

/*
 * A child's call (a WAKE of @count, or a WAIT for 0) on a word each of
 * whose compare-and-swaps finds it changed, killed: SIGKILL ends it
 * while the injection goes on.
 */
static void kill_scene(struct __test_metadata *_metadata,
		       FIXTURE_DATA(rewrite) *self, unsigned int count)
{
	int64_t t0, took = -1;
	struct shared *sh;
	int status = 0;

	if (!can_inject())
		SKIP(return, KNOB_DIR "inject_changed unreadable (root and debugfs needed)");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	ASSERT_EQ(0, sema_init(&sh->sem, 0, SEMA_SHARED));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0)
		kill_child(self->fd, sh, count, self->a);

	ASSERT_EQ(0, pin_self(self->b));
	ASSERT_EQ(0, wait_atomic_ge(&sh->queued, 1));
	ASSERT_EQ(1, atomic_load(&sh->queued));
	ASSERT_EQ(0, knob_set("inject_changed", FOREVER));
	atomic_store(&sh->go, 1);
	ASSERT_EQ(0, wait_atomic_ge(&sh->calling, 1));
	/* Let the call get going, then kill it. */
	msleep(200);
	EXPECT_EQ(0, atomic_load(&sh->returned)) TH_LOG("the call got through");
	t0 = now_ns(CLOCK_MONOTONIC);
	kill(self->child, SIGKILL);
	while (now_ns(CLOCK_MONOTONIC) - t0 < KILL_MS * 1000000LL) {
		if (waitpid(self->child, &status, WNOHANG) == self->child) {
			took = now_ns(CLOCK_MONOTONIC) - t0;
			self->child = 0;
			break;
		}
		usleep_ns(2000000);
	}
	knob_set("inject_changed", 0);
	if (took < 0) {
		ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
		self->child = 0;
		ksft_print_msg("the killed child lived until the injection ended (%d ms)\n",
			       KILL_MS);
	} else {
		ksft_print_msg("the killed child was gone after %lld ms\n",
			       (long long)took / 1000000);
	}
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_LE(0, took) TH_LOG("SIGKILL did not end the call");
	munmap(sh, sizeof(*sh));
}

TEST_F(rewrite, handoff_wake_on_a_changing_word_ends_at_sigkill)
{
	kill_scene(_metadata, self, NWAITERS);
}

TEST_F(rewrite, wait_on_a_changing_word_ends_at_sigkill)
{
	kill_scene(_metadata, self, 0);
}

TEST_HARNESS_MAIN
