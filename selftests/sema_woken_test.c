// SPDX-License-Identifier: GPL-2.0-only
/*
 * The WOKEN state (uapi/linux/hsema.h, Documentation/hsema.rst): while a
 * waiter the kernel woke has not run yet, the word reads
 * HSEMA_STATE_WOKEN, and a release of one unit adds it to the value
 * without entering the kernel.  The woken waiter, when it runs, takes a
 * unit and wakes a sleeper for every unit left that no woken waiter
 * claims, so that no unit sits in the value while somebody sleeps:
 *
 * - a release of one unit to a WOKEN word wakes nobody (the kernel never
 *   hears of it), and the woken waiter passes the unit on when it runs;
 * - a batch release to a WOKEN word enters the kernel and wakes a sleeper
 *   for each unit nobody claims, at once;
 * - units piled up in a WOKEN word (more than the kernel's 16-task wake
 *   array) all reach their sleepers, passed on from waiter to waiter;
 * - a woken waiter that finds the value taken sleeps again and the word
 *   reads WAITERS, so that the next release calls the kernel;
 * - unless a unit comes while it still looks at the word, running: that
 *   release stays in userspace and the waiter takes its unit, woken once;
 * - and one whose look ends without a unit, while its time lasts, looks
 *   on instead of sleeping;
 * - a head woken in the normal mode that must follow a starvation episode
 *   looks too, although it has waited past its own threshold;
 * - code that treats bit 30 as starvation (written before WOKEN) takes
 *   no unit from a WOKEN word in userspace, and gets one at once in the
 *   kernel, without queueing.
 *
 * The woken waiters are kept from running, until the word has been
 * looked at, by a SCHED_FIFO hog on their CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

#define NW 20		/* more than the kernel's wake array (16) */

FIXTURE(woken) {
	int fd;
	int cpu0, cpu1;
	sema_t s;
	struct waiter w[NW];
	int nw;
	struct hog hog;
	bool hogging;
	long long spin_max_ns;		/* to restore, or -1 */
	__u64 raw_starve_ns;		/* the look tests' A: a raw WAIT */
					/* with this threshold, if not 0 */
};

#define SPIN_MAX_NS	"/sys/module/hsema/parameters/spin_max_ns"

/* The module parameter spin_max_ns: 0, or -errno. */
static int spin_max_get(long long *ns)
{
	FILE *f = fopen(SPIN_MAX_NS, "r");
	int ret;

	if (!f)
		return -errno;
	ret = fscanf(f, "%lld", ns) == 1 ? 0 : -EIO;
	fclose(f);
	return ret;
}

static int spin_max_set(long long ns)
{
	FILE *f = fopen(SPIN_MAX_NS, "w");
	int ret;

	if (!f)
		return -errno;
	ret = fprintf(f, "%lld\n", ns) > 0 ? 0 : -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* Set it for this test; the teardown puts the old value back. */
static int spin_max_override(FIXTURE_DATA(woken) *self, long long ns)
{
	long long old;
	int ret = spin_max_get(&old);

	if (!ret)
		ret = spin_max_set(ns);
	if (!ret && self->spin_max_ns < 0)
		self->spin_max_ns = old;
	return ret;
}

FIXTURE_SETUP(woken)
{
	self->spin_max_ns = -1;
	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	self->cpu0 = nth_allowed_cpu(0);
	self->cpu1 = nth_allowed_cpu(1);
	if (self->cpu1 < 0)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, pin_self(self->cpu0));
	ASSERT_EQ(0, sema_init(&self->s, 0, 0));
	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_NO_STARVE_US));
}

FIXTURE_TEARDOWN(woken)
{
	int i;

	if (self->hogging)
		hog_stop(&self->hog);
	if (self->spin_max_ns >= 0)
		EXPECT_EQ(0, spin_max_set(self->spin_max_ns));
	/* A failed test may leave waiters: give each a unit to leave with. */
	for (i = 0; i < self->nw; i++)
		if (!atomic_load(&self->w[i].done))
			sema_release(&self->s);
	for (i = 0; i < self->nw; i++)
		waiter_join(&self->w[i]);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Start a waiter on CPU 1 in the next slot: sema_acquire(), or a raw WAIT
 * with the threshold @raw_starve_ns if that is not 0.  0 or why not.
 */
static int start_waiter(FIXTURE_DATA(woken) *self, __u64 raw_starve_ns,
			struct waiter **out)
{
	struct waiter *w = &self->w[self->nw];
	int ret;

	waiter_init(w, &self->s, self->nw, NULL);
	w->cpu = self->cpu1;
	if (raw_starve_ns) {
		w->op = W_RAW_WAIT;
		w->rawfd = self->fd;
		w->starve_ns = raw_starve_ns;
	}
	ret = waiter_start(w);
	if (!ret)
		self->nw++;
	if (out)
		*out = w;
	return ret;
}

/* Room for @n more waiters: every earlier one is done by now. */
static void make_room(FIXTURE_DATA(woken) *self, int n)
{
	int i;

	if (self->nw <= NW - n)
		return;
	for (i = 0; i < self->nw; i++)
		waiter_join(&self->w[i]);
	self->nw = 0;
}

/* Queue @n waiters on CPU 1, in order; 0 or why not. */
static int queue_waiters(FIXTURE_DATA(woken) *self, int n)
{
	struct hsema_query q;
	int ret;

	while (self->nw < n) {
		ret = start_waiter(self, 0, NULL);
		if (ret)
			return ret;
		ret = hsema_wait_queued(self->fd, &self->s, 0, self->nw, &q);
		if (ret)
			return ret;
	}
	return 0;
}

/* Keep CPU 1 from SCHED_OTHER tasks; 0, or -EPERM without the right. */
static int hold_cpu1(FIXTURE_DATA(woken) *self)
{
	int ret = hog_start(&self->hog, self->cpu1, 1, true);

	self->hogging = !ret;
	return ret;
}

/* Let CPU 1 go; true if the hog had given up on its own (HOG_MAX_NS). */
static bool free_cpu1(FIXTURE_DATA(woken) *self)
{
	self->hogging = false;
	return hog_stop(&self->hog);
}

static int all_done(FIXTURE_DATA(woken) *self)
{
	int i, ret;

	for (i = 0; i < self->nw; i++) {
		ret = waiter_wait_done(&self->w[i]);
		if (ret)
			return ret;
		if (self->w[i].ret)
			return self->w[i].ret;
	}
	return 0;
}

/*
 * Two sleepers.  The first release calls the kernel and wakes A; the
 * word reads WOKEN.  The second adds its unit and stays in userspace:
 * the kernel wakes nobody for it (B sleeps on, one waiter woken).  When
 * A runs it takes one unit and wakes B for the other.
 */
TEST_F(woken, single_unit_release_stays_in_userspace)
{
	struct hsema_stats st0, st1, st2;
	struct hsema_query q;
	int ret;

	ASSERT_EQ(0, queue_waiters(self, 2));
	ret = hold_cpu1(self);
	if (ret == -EPERM)
		SKIP(return, "SCHED_FIFO not permitted");
	ASSERT_EQ(0, ret);

	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	ASSERT_EQ(0, sema_release(&self->s));
	EXPECT_EQ(HSEMA_STATE_WOKEN | 1, hsema_word(&self->s));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.wakes - st0.wakes);

	ASSERT_EQ(0, sema_release(&self->s));
	EXPECT_EQ(HSEMA_STATE_WOKEN | 2, hsema_word(&self->s));
	ASSERT_EQ(0, hsema_stats(self->fd, &st2));
	EXPECT_EQ(0, st2.wakes - st1.wakes) TH_LOG("the kernel woke for a unit a woken waiter counts");
	ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
	EXPECT_EQ(2, q.nr_waiters);
	EXPECT_EQ(1, q.nr_woken);

	EXPECT_FALSE(free_cpu1(self)) TH_LOG("the hog was not stopped in time");
	ASSERT_EQ(0, all_done(self));
	ASSERT_EQ(0, hsema_stats(self->fd, &st2));
	EXPECT_EQ(2, st2.wakes - st0.wakes);
	EXPECT_EQ(0, st2.requeues - st0.requeues);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * A woken, B and C asleep: sema_release_n(2) on the WOKEN word calls the
 * kernel, which wakes B and C at once (three units, three woken).
 */
TEST_F(woken, batch_release_wakes_at_once)
{
	struct hsema_query q;
	int ret;

	ASSERT_EQ(0, queue_waiters(self, 3));
	ret = hold_cpu1(self);
	if (ret == -EPERM)
		SKIP(return, "SCHED_FIFO not permitted");
	ASSERT_EQ(0, ret);

	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, sema_release_n(&self->s, 2));
	ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
	EXPECT_EQ(3, q.nr_woken);
	EXPECT_EQ(HSEMA_STATE_WOKEN | 3, hsema_word(&self->s));

	EXPECT_FALSE(free_cpu1(self)) TH_LOG("the hog was not stopped in time");
	ASSERT_EQ(0, all_done(self));
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * NW sleepers, one woken, NW - 1 more units added to the WOKEN word
 * without a call.  The woken waiter wakes as many as the kernel's wake
 * array holds (16) for them, and the waiters it woke wake the rest: every
 * waiter gets a unit, none is left in the value, and nobody lost (each
 * wake-up found its unit).
 */
TEST_F(woken, piled_up_units_reach_every_sleeper)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	int i, ret;

	ASSERT_EQ(0, queue_waiters(self, NW));
	ret = hold_cpu1(self);
	if (ret == -EPERM)
		SKIP(return, "SCHED_FIFO not permitted");
	ASSERT_EQ(0, ret);

	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
	EXPECT_EQ(1, q.nr_woken);
	EXPECT_EQ(HSEMA_STATE_WOKEN | NW, hsema_word(&self->s));

	EXPECT_FALSE(free_cpu1(self)) TH_LOG("the hog was not stopped in time");
	ASSERT_EQ(0, all_done(self));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(NW, st1.wakes - st0.wakes);
	EXPECT_EQ(0, st1.requeues - st0.requeues);
	EXPECT_EQ(NW, st1.slow_acquires - st0.slow_acquires);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * A is woken, and a running thread takes the unit before A runs.  A
 * finds 0, sleeps again at its place, and the word reads WAITERS: the
 * next release calls the kernel, which wakes A, and A gets its unit.
 */
TEST_F(woken, loser_sleeps_again_and_word_reads_waiters)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	int ret;

	ASSERT_EQ(0, queue_waiters(self, 1));
	ret = hold_cpu1(self);
	if (ret == -EPERM)
		SKIP(return, "SCHED_FIFO not permitted");
	ASSERT_EQ(0, ret);

	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	ASSERT_EQ(0, sema_release(&self->s));
	EXPECT_EQ(HSEMA_STATE_WOKEN | 1, hsema_word(&self->s));
	ASSERT_EQ(0, sema_tryacquire(&self->s));	/* the barger */
	EXPECT_EQ(HSEMA_STATE_WOKEN, hsema_word(&self->s));
	EXPECT_FALSE(free_cpu1(self)) TH_LOG("the hog was not stopped in time");

	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	EXPECT_EQ(HSEMA_STATE_WAITERS, hsema_word(&self->s));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.requeues - st0.requeues);
	EXPECT_FALSE(atomic_load(&self->w[0].done));

	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, all_done(self));
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * As above, A is woken and a running thread takes the unit before A runs,
 * but the next release comes while A still looks at the word (counted in
 * woken_spins).  The word reads WOKEN, so the release stays in userspace,
 * and A takes its unit: woken once, never requeued.  Without the look A
 * would have slept again and the release would have woken it a second
 * time.
 *
 * A looks only while its CPU is free and for at most spin_max_ns (250 us
 * by default), too short for this thread to see the look begin and
 * release when its virtual CPU shares a host CPU with others: the test
 * raises it to 100 ms.  A release that comes late anyway finds A asleep
 * again (a requeue, and the release wakes it), and the test tries again,
 * with a fresh waiter.  No hog here: the work it held back would keep
 * CPU 1 busy when it stops, and A would not look.  For the same reason
 * each try first waits for the guest to be quiet: the kselftest runner's
 * prefix.pl, copying our output a byte at a time, kept a CPU busy for
 * seconds under emulation after each test's first lines.  The barger's
 * tryacquire right after the release beats A's wake-up on the other CPU
 * nearly always; when it does not, A simply took the unit, and that try
 * does not count.
 */
#define LOOK_TRIES	20
#define LOOK_NS		100000000LL

/* All ticks of the CPUs and the idle ones (/proc/stat); 0 or -errno. */
static int cpu_ticks(unsigned long long *total, unsigned long long *idle)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int i, n;

	if (!f)
		return -errno;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 5)
		return -EIO;
	for (*total = 0, i = 0; i < 8; i++)
		*total += v[i];
	*idle = v[3] + v[4];
	return 0;
}

/*
 * Wait until the CPUs were idle for 90% of 100 ms, this thread asleep; at
 * most 10 s.  0, -ETIMEDOUT, or the error of reading /proc/stat.
 */
static int wait_quiet(void)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + 10000 * 1000000LL;
	unsigned long long t0, i0, t1, i1;
	int ret = cpu_ticks(&t0, &i0);

	while (!ret) {
		msleep(100);
		ret = cpu_ticks(&t1, &i1);
		if (ret)
			break;
		if (t1 > t0 && (i1 - i0) * 10 >= (t1 - t0) * 9)
			return 0;
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -ETIMEDOUT;
		t0 = t1;
		i0 = i1;
	}
	return ret;
}

/*
 * The start of a try, for the look tests: A queued alone on CPU 1 (in a
 * free slot: every earlier try's waiter is done by now), a quiet guest,
 * the counters in *@st0, then the release and the barger.  Returns A, or
 * NULL if A was first and has taken the unit (that try does not count).
 */
static struct waiter *start_try(struct __test_metadata *_metadata,
				FIXTURE_DATA(woken) *self,
				struct hsema_stats *st0)
{
	struct waiter *w;
	int ret;

	make_room(self, 1);
	ASSERT_EQ(0, start_waiter(self, self->raw_starve_ns, &w));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, NULL));
	ret = wait_quiet();
	ASSERT_TRUE(!ret || ret == -ETIMEDOUT) TH_LOG("/proc/stat: %s", strerror(-ret));

	ASSERT_EQ(0, hsema_stats(self->fd, st0));
	ASSERT_EQ(0, sema_release(&self->s));
	if (!sema_tryacquire(&self->s))		/* the barger */
		return w;
	ASSERT_EQ(0, waiter_wait_done(w));
	ASSERT_EQ(0, w->ret);
	return NULL;
}

/*
 * Poll the counters until A looks (woken_spins moved past @st0's) or has
 * given up and slept again (requeues moved), at most HSEMA_POLL_MS; the
 * last reading in *@st.  0, or the STATS error.
 */
static int wait_look(FIXTURE_DATA(woken) *self, const struct hsema_stats *st0,
		     struct hsema_stats *st)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + HSEMA_POLL_MS * 1000000LL;
	int ret;

	do {
		ret = hsema_stats(self->fd, st);
	} while (!ret && st->woken_spins == st0->woken_spins &&
		 st->requeues == st0->requeues &&
		 now_ns(CLOCK_MONOTONIC) < end);
	return ret;
}

/* What try_looks() saw. */
struct looks {
	int tries, barges, looks, late, hits;
};

/*
 * Up to @max tries, until one is a hit: A queued alone on CPU 1, the
 * release, the barger, then (if the barger won) a wait until A looks or
 * sleeps again, and the next release.
 */
static void try_looks(struct __test_metadata *_metadata,
		      FIXTURE_DATA(woken) *self, int max, struct looks *c)
{
	struct hsema_stats st0, st1, st2;
	struct waiter *w;
	int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < max && !c->hits; i++) {
		c->tries++;
		w = start_try(_metadata, self, &st0);
		if (!w)
			continue;			/* A was first */
		c->barges++;

		ASSERT_EQ(0, wait_look(self, &st0, &st1));
		ASSERT_EQ(0, sema_release(&self->s));
		ASSERT_EQ(0, waiter_wait_done(w));
		ASSERT_EQ(0, w->ret);
		EXPECT_EQ(0, hsema_word(&self->s)) TH_LOG("try %d", i);
		ASSERT_EQ(0, hsema_stats(self->fd, &st2));
		EXPECT_EQ(1, st2.slow_acquires - st0.slow_acquires);
		EXPECT_GE(1, st2.woken_spins - st0.woken_spins);
		if (st1.woken_spins == st0.woken_spins)
			continue;
		c->looks++;
		if (st2.requeues != st0.requeues) {
			c->late++;	/* the look ended before the release */
			continue;
		}
		EXPECT_EQ(1, st2.wakes - st0.wakes) TH_LOG("try %d", i);
		c->hits++;
	}
	ksft_print_msg("%d tries: %d barges, %d looks, %d of them over before the release\n",
		       c->tries, c->barges, c->looks, c->late);
}

/*
 * The body of the look tests: the look's time raised to LOOK_NS, then up
 * to LOOK_TRIES tries, one of which must be a hit.  A waits with a raw
 * WAIT and threshold @raw_starve_ns if that is not 0.
 */
static void expect_look_hit(struct __test_metadata *_metadata,
			    FIXTURE_DATA(woken) *self, __u64 raw_starve_ns)
{
	struct looks c;
	int ret;

	ret = spin_max_override(self, LOOK_NS);
	if (ret == -ENOENT || ret == -EACCES || ret == -EPERM)
		SKIP(return, "%s: %s", SPIN_MAX_NS, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", SPIN_MAX_NS, strerror(-ret));

	self->raw_starve_ns = raw_starve_ns;
	try_looks(_metadata, self, LOOK_TRIES, &c);
	EXPECT_LT(0, c.looks) TH_LOG("A never looked");
	EXPECT_EQ(1, c.hits) TH_LOG("no woken waiter took a unit released while it looked");
}

TEST_F(woken, loser_that_looks_takes_the_next_unit)
{
	expect_look_hit(_metadata, self, 0);
}

/*
 * A waiter may ask for any threshold, up to the largest __u64 (never
 * starve), and its look must still have its time.  The look ends when the
 * waiter may make its queue starve, its queueing time plus its threshold
 * at the earliest; that sum must saturate.  When it wrapped, the time lay
 * in the past and the look returned at once: A competed, lost and slept
 * again in every try, and no try was a hit.
 */
TEST_F(woken, loser_with_the_largest_threshold_looks)
{
	expect_look_hit(_metadata, self, UINT64_MAX);
}

/*
 * After a starvation episode the queue stays in normal mode for a while
 * (the gate: starve_due_at() in kmod/waitwake.c, four times the episode,
 * at most four thresholds), and a head that has waited past its own
 * threshold may not make it starve before the gate ends.  Woken in the
 * gate, it looks at the word like any woken waiter.  The scene, every
 * waiter a raw WAIT with the threshold GATE_T_NS:
 *
 * - B and C queue; after the threshold the release makes the queue starve
 *   and grants B: an episode, whose batch is B and C;
 * - A queues, behind the batch; after the threshold again the release
 *   grants C and ends the episode, which lasted more than the threshold,
 *   so the gate lasts four;
 * - past the threshold into the gate, A (the head) is woken, a running
 *   thread takes the unit first, and the next release comes while A looks:
 *   A takes it, woken once.
 *
 * The time a look must end by is the waiter's to read without the lock.
 * A kept the one it took when it queued, during the episode: its own
 * threshold, over by the time of its first wake-up in the gate.  So A
 * competed at once, lost, requeued and slept again, and looked only when
 * woken the next time.  Now every release that wakes a waiter takes the
 * time again.  Only A's first wake-up in the gate is a try, and a scene
 * counts only if its episode came and went as planned and the barger won;
 * a scene the emulator's timing spoilt is set up again.
 */
#define GATE_T_NS	400000000ULL
#define GATE_SCENES	20

/* What gate_scene() saw. */
struct gate {
	int scenes, tries, looks, hits;
};

static void gate_scene(struct __test_metadata *_metadata,
		       FIXTURE_DATA(woken) *self, struct gate *g)
{
	struct hsema_stats st0, st1, st2;
	struct waiter *a, *b, *c;
	struct hsema_query q;
	int ret;

	g->scenes++;
	make_room(self, 3);
	ret = wait_quiet();
	ASSERT_TRUE(!ret || ret == -ETIMEDOUT) TH_LOG("/proc/stat: %s", strerror(-ret));

	/* The episode: B and C its batch, A queued behind it. */
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	ASSERT_EQ(0, start_waiter(self, GATE_T_NS, &b));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, NULL));
	ASSERT_EQ(0, start_waiter(self, GATE_T_NS, &c));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 2, NULL));
	msleep(GATE_T_NS / 1000000 + 50);
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(b));
	ASSERT_EQ(0, b->ret);
	ASSERT_EQ(0, start_waiter(self, GATE_T_NS, &a));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 2, &q));
	EXPECT_EQ(1, q.starving);
	msleep(GATE_T_NS / 1000000 + 50);
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(c));
	ASSERT_EQ(0, c->ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(1, st1.starve_exit - st0.starve_exit);
	EXPECT_EQ(0, q.starving);

	/* Past A's own threshold, in the gate: the try. */
	msleep(GATE_T_NS / 1000000 + 100);
	ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
	EXPECT_LT(GATE_T_NS, q.head_wait_ns);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	ASSERT_EQ(0, sema_release(&self->s));
	if (sema_tryacquire(&self->s)) {	/* A was first: no try */
		ASSERT_EQ(0, waiter_wait_done(a));
		ASSERT_EQ(0, a->ret);
		return;
	}
	g->tries++;
	ASSERT_EQ(0, wait_look(self, &st1, &st2));
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(a));
	ASSERT_EQ(0, a->ret);
	EXPECT_EQ(0, hsema_word(&self->s));
	ASSERT_EQ(0, hsema_stats(self->fd, &st2));
	EXPECT_EQ(0, st2.starve_enter - st1.starve_enter);
	if (st2.woken_spins == st1.woken_spins)
		return;
	g->looks++;
	if (st2.requeues != st1.requeues)
		return;
	EXPECT_EQ(1, st2.wakes - st1.wakes);
	g->hits++;
}

TEST_F(woken, head_woken_in_the_gate_looks)
{
	struct gate g = { 0 };
	int ret;

	ret = spin_max_override(self, LOOK_NS);
	if (ret == -ENOENT || ret == -EACCES || ret == -EPERM)
		SKIP(return, "%s: %s", SPIN_MAX_NS, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", SPIN_MAX_NS, strerror(-ret));

	while (g.scenes < GATE_SCENES && !g.hits && !_metadata->exit_code)
		gate_scene(_metadata, self, &g);
	ksft_print_msg("%d scenes: %d tries, %d looks\n", g.scenes, g.tries,
		       g.looks);
	EXPECT_LT(0, g.tries) TH_LOG("A was first in every scene: nothing was tested");
	EXPECT_EQ(1, g.hits) TH_LOG("A never looked at its first wake-up in the gate");
}

/*
 * A woken waiter whose look ends without a unit while its time lasts
 * competes, loses, and looks on, still woken, instead of sleeping again:
 * no requeue, and it takes the next release, woken once.  Before, it
 * slept again (a requeue), and the next release entered the kernel to
 * wake it a second time.
 *
 * In use the look ends so when a running thread takes the unit between
 * the waiter's sight of it and its compare-and-swap under the lock, a
 * window of microseconds that a test cannot hit reliably.  This test
 * ends A's look by writing WAITERS over WOKEN instead, a stale state that
 * userspace can always write and the kernel must bear (it only sends the
 * next release to the kernel), right after the barger's win, whether A
 * has begun to look or not: A stops looking (or stops at once), competes
 * under the lock, finds the value 0, and its compare-and-swap writes
 * WOKEN back as it looks on, where the old code wrote WAITERS and slept.
 * The test releases as soon as it reads WOKEN: A takes that unit by its
 * look, or by its compete if the look has just ended.  A try counts when
 * the barger won; A stays woken only while its CPU has nothing else to
 * run, which under emulation, with other guests on the host, is not
 * always so.
 */
#define RELOOK_TRIES	40

/*
 * After the test wrote WAITERS over WOKEN: until A's compete rewrote the
 * word, WOKEN again if A looks on (only the kernel writes WOKEN), or A
 * slept again (a requeue).  0 or -errno.
 */
static int wait_compete(FIXTURE_DATA(woken) *self,
			const struct hsema_stats *st0, bool *stayed)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + HSEMA_POLL_MS * 1000000LL;
	struct hsema_stats st;
	int i, ret;

	do {
		for (i = 0; i < 1000; i++)
			if (hsema_word(&self->s) == HSEMA_STATE_WOKEN) {
				*stayed = true;
				return 0;
			}
		ret = hsema_stats(self->fd, &st);
		if (ret)
			return ret;
		if (st.requeues != st0->requeues)
			return 0;
	} while (now_ns(CLOCK_MONOTONIC) < end);
	return -ETIMEDOUT;
}

TEST_F(woken, loser_that_looks_and_loses_looks_on)
{
	int tries = 0, barges = 0, ended = 0, hits = 0, i, ret;
	struct hsema_stats st0, st3;

	ret = spin_max_override(self, LOOK_NS);
	if (ret == -ENOENT || ret == -EACCES || ret == -EPERM)
		SKIP(return, "%s: %s", SPIN_MAX_NS, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", SPIN_MAX_NS, strerror(-ret));

	for (i = 0; i < RELOOK_TRIES && !hits; i++) {
		unsigned int woken = HSEMA_STATE_WOKEN;
		bool end_look = false, stayed = false;
		struct waiter *w;

		tries++;
		w = start_try(_metadata, self, &st0);
		if (!w)
			continue;			/* A was first */
		barges++;
		/* End A's look, or have it end at once when A runs. */
		if (__atomic_compare_exchange_n(&self->s.__word, &woken,
						HSEMA_STATE_WAITERS, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST)) {
			end_look = true;
			ended++;
			ASSERT_EQ(0, wait_compete(self, &st0, &stayed));
		}
		/* Right away: were A's look to end now, it would take it. */
		ASSERT_EQ(0, sema_release(&self->s));
		ASSERT_EQ(0, waiter_wait_done(w));
		ASSERT_EQ(0, w->ret);
		EXPECT_EQ(0, hsema_word(&self->s)) TH_LOG("try %d", i);
		ASSERT_EQ(0, hsema_stats(self->fd, &st3));
		EXPECT_EQ(1, st3.slow_acquires - st0.slow_acquires);
		if (!end_look || !stayed || st3.requeues != st0.requeues)
			continue;
		EXPECT_EQ(1, st3.wakes - st0.wakes) TH_LOG("try %d", i);
		hits++;
	}
	ksft_print_msg("%d tries: %d barges, %d looks ended\n", tries, barges,
		       ended);
	EXPECT_EQ(1, hits) TH_LOG("no woken waiter looked on after it lost");
}

/*
 * spin_max_ns = 0 turns the look off: the same tries as above see no look
 * and no hit; every woken loser sleeps again at once, as before the look
 * existed.  A value the kernel cannot parse is refused and changes
 * nothing.
 */
#define NO_LOOK_TRIES	6

TEST_F(woken, spin_max_ns_zero_turns_the_look_off)
{
	struct looks c;
	long long ns;
	FILE *f;
	int ret;

	ret = spin_max_override(self, 0);
	if (ret == -ENOENT || ret == -EACCES || ret == -EPERM)
		SKIP(return, "%s: %s", SPIN_MAX_NS, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", SPIN_MAX_NS, strerror(-ret));

	f = fopen(SPIN_MAX_NS, "w");
	ASSERT_NE(NULL, f);
	setvbuf(f, NULL, _IONBF, 0);
	EXPECT_GT(0, fprintf(f, "ten\n"));
	EXPECT_EQ(EINVAL, errno);
	fclose(f);
	ASSERT_EQ(0, spin_max_get(&ns));
	EXPECT_EQ(0, ns);

	try_looks(_metadata, self, NO_LOOK_TRIES, &c);
	EXPECT_EQ(0, c.looks);
	EXPECT_EQ(0, c.hits);
	EXPECT_LT(0, c.barges) TH_LOG("no try lost the race: nothing was tested");
}

/*
 * Code that predates WOKEN reads bit 30 as starvation.  Its acquirer
 * takes nothing in userspace and enters the kernel, which hands it a
 * unit of the value at once (the queue does not starve); its release
 * enters the kernel without publishing, which adds the unit and wakes a
 * sleeper for it.  Nothing is lost either way.
 */
TEST_F(woken, bit30_read_as_starving_still_works)
{
	struct hsema_wait hw = { 0 };
	struct hsema_wake hk;
	struct hsema_query q;
	int ret;

	ASSERT_EQ(0, queue_waiters(self, 2));
	ret = hold_cpu1(self);
	if (ret == -EPERM)
		SKIP(return, "SCHED_FIFO not permitted");
	ASSERT_EQ(0, ret);

	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(HSEMA_STATE_WOKEN | 1, hsema_word(&self->s));

	/* The old release: into the kernel, which adds and wakes B. */
	ASSERT_EQ(0, hsema_raw_wake(self->fd, &self->s, 1, 0, &hk));
	EXPECT_EQ(1, hk.woken);
	EXPECT_EQ(HSEMA_STATE_WOKEN | 2, hsema_word(&self->s));

	/* The old acquirer: into the kernel, a unit at once. */
	hw.uaddr = hsema_uaddr(&self->s);
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_WAIT, &hw));
	EXPECT_EQ(HSEMA_STATE_WOKEN | 1, hsema_word(&self->s));
	ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
	EXPECT_EQ(2, q.nr_waiters);
	EXPECT_EQ(2, q.nr_woken);

	/* One unit for A and B: one of them sleeps again until this one. */
	EXPECT_FALSE(free_cpu1(self)) TH_LOG("the hog was not stopped in time");
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, all_done(self));
	EXPECT_EQ(0, hsema_word(&self->s));
}

TEST_HARNESS_MAIN
