// SPDX-License-Identifier: GPL-2.0-only
/*
 * Waiting: sema_timedacquire() deadlines on CLOCK_MONOTONIC and
 * CLOCK_REALTIME (a passed deadline with no unit is -ETIMEDOUT, with a
 * unit 0; a future one never times out early; a release before it wins;
 * a waiter that times out leaves the queue without disturbing the next),
 * signals (-EINTR without SA_RESTART; transparent restart with it, keeping
 * the absolute deadline), and that no unit is lost or duplicated when a
 * release races with a timeout or a signal, in normal and in starvation
 * mode.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

#define RACE_ITERS	200

static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
static const char *const clock_names[] = { "MONOTONIC", "REALTIME" };

FIXTURE(wait) {
	int fd;
	sema_t s;
	atomic_int seq;
	struct waiter w[4];
};

FIXTURE_SETUP(wait)
{
	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	ASSERT_EQ(0, sema_init(&self->s, 0, 0));
	atomic_store(&self->seq, 0);
	atomic_store(&hsema_sig_count, 0);
}

FIXTURE_TEARDOWN(wait)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* A passed deadline and no unit: -ETIMEDOUT at once, nothing queued. */
TEST_F(wait, past_deadline_no_unit)
{
	struct timespec zero = { 0, 0 };
	struct hsema_query q;
	struct timespec dl;
	int c;

	for (c = 0; c < 2; c++) {
		dl = deadline_in(clocks[c], -1000000000LL);
		EXPECT_EQ(-ETIMEDOUT, sema_timedacquire(&self->s, &dl, clocks[c]))
			TH_LOG("CLOCK_%s", clock_names[c]);
		EXPECT_EQ(-ETIMEDOUT,
			  sema_timedacquire(&self->s, &zero, clocks[c]))
			TH_LOG("CLOCK_%s, deadline 0", clock_names[c]);
	}
	ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
	EXPECT_EQ(0, q.nr_waiters);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/* A passed deadline but a unit available: 0, and the unit is taken. */
TEST_F(wait, past_deadline_unit_available)
{
	struct timespec dl;
	int c;

	for (c = 0; c < 2; c++) {
		ASSERT_EQ(0, sema_release(&self->s));
		dl = deadline_in(clocks[c], -1000000000LL);
		EXPECT_EQ(0, sema_timedacquire(&self->s, &dl, clocks[c]))
			TH_LOG("CLOCK_%s", clock_names[c]);
		EXPECT_EQ(0, hsema_word(&self->s));
	}
}

/*
 * A deadline 50 ms ahead passes with no release: -ETIMEDOUT, and not
 * before the deadline on that clock; the waiter leaves the queue and
 * the stats count a timeout.
 */
TEST_F(wait, future_deadline_times_out)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	struct timespec dl;
	int64_t back;
	int c, ret;

	for (c = 0; c < 2; c++) {
		ASSERT_EQ(0, hsema_stats(self->fd, &st0));
		dl = deadline_in(clocks[c], 50000000LL);
		ret = sema_timedacquire(&self->s, &dl, clocks[c]);
		back = now_ns(clocks[c]);
		EXPECT_EQ(-ETIMEDOUT, ret) TH_LOG("CLOCK_%s", clock_names[c]);
		EXPECT_LE(ts_to_ns(&dl), back)
			TH_LOG("CLOCK_%s: returned %lld ns before the deadline",
			       clock_names[c], (long long)(ts_to_ns(&dl) - back));
		ASSERT_EQ(0, hsema_stats(self->fd, &st1));
		EXPECT_EQ(1, st1.timeouts - st0.timeouts);
		EXPECT_EQ(1, st1.waits - st0.waits);
		ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
		EXPECT_EQ(0, q.nr_waiters);
		EXPECT_EQ(0, hsema_word(&self->s));
	}
}

/* A unit released before the deadline is acquired: 0. */
TEST_F(wait, released_before_deadline)
{
	struct hsema_query q;
	int c;

	for (c = 0; c < 2; c++) {
		struct waiter *w = &self->w[c];

		waiter_init(w, &self->s, 0, NULL);
		w->op = W_TIMED;
		w->clock = clocks[c];
		w->deadline = deadline_in(clocks[c], 10000000000LL);
		ASSERT_EQ(0, waiter_start(w));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
		ASSERT_EQ(0, sema_release(&self->s));
		ASSERT_EQ(0, waiter_wait_done(w));
		waiter_join(w);
		EXPECT_EQ(0, w->ret) TH_LOG("CLOCK_%s", clock_names[c]);
		EXPECT_EQ(0, hsema_word(&self->s));
	}
}

/*
 * A timed waiter at the head times out; the untimed waiter behind it
 * becomes the head and gets the next unit.
 */
TEST_F(wait, timeout_leaves_queue)
{
	struct hsema_query q;
	__u64 t1;

	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_NO_STARVE_US));
	waiter_init(&self->w[0], &self->s, 0, &self->seq);
	self->w[0].op = W_TIMED;
	self->w[0].clock = CLOCK_MONOTONIC;
	self->w[0].deadline = deadline_in(CLOCK_MONOTONIC, 500000000LL);
	ASSERT_EQ(0, waiter_start(&self->w[0]));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	waiter_init(&self->w[1], &self->s, 1, &self->seq);
	ASSERT_EQ(0, waiter_start(&self->w[1]));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 2, &q));
	t1 = q.tail_ticket;
	if (atomic_load(&self->w[0].done))
		SKIP(return, "too slow: the timed waiter timed out before the second queued");

	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	EXPECT_EQ(-ETIMEDOUT, self->w[0].ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	EXPECT_EQ(t1, q.head_ticket);
	EXPECT_EQ(HSEMA_WAITERS, hsema_word(&self->s));

	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[1]));
	EXPECT_EQ(0, self->w[1].ret);
	waiter_join(&self->w[0]);
	waiter_join(&self->w[1]);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * A handler without SA_RESTART: a blocked acquire or timedacquire
 * returns -EINTR, leaves the queue, takes nothing, and the stats count
 * an interrupt.
 */
TEST_F(wait, eintr_without_restart)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	int i;

	ASSERT_EQ(0, install_handler(SIGUSR1, false));
	for (i = 0; i < 2; i++) {
		struct waiter *w = &self->w[i];

		waiter_init(w, &self->s, 0, NULL);
		if (i == 1) {
			w->op = W_TIMED;
			w->clock = CLOCK_MONOTONIC;
			w->deadline = deadline_in(CLOCK_MONOTONIC, 10000000000LL);
		}
		ASSERT_EQ(0, waiter_start(w));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
		ASSERT_EQ(0, hsema_stats(self->fd, &st0));
		ASSERT_EQ(0, pthread_kill(w->thr, SIGUSR1));
		ASSERT_EQ(0, waiter_wait_done(w));
		waiter_join(w);
		EXPECT_EQ(-EINTR, w->ret) TH_LOG("%s", i ? "timedacquire" : "acquire");
		EXPECT_EQ(i + 1, atomic_load(&hsema_sig_count));
		ASSERT_EQ(0, hsema_stats(self->fd, &st1));
		EXPECT_EQ(1, st1.interrupts - st0.interrupts);
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
		EXPECT_EQ(0, hsema_word(&self->s));
	}
}

/*
 * A handler with SA_RESTART: the handler runs, the waiter goes back to
 * waiting without returning, and a later release serves it.
 */
TEST_F(wait, sa_restart_transparent)
{
	struct waiter *w = &self->w[0];
	struct hsema_query q;

	ASSERT_EQ(0, install_handler(SIGUSR1, true));
	waiter_init(w, &self->s, 0, NULL);
	ASSERT_EQ(0, waiter_start(w));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	ASSERT_EQ(0, pthread_kill(w->thr, SIGUSR1));
	ASSERT_EQ(0, wait_atomic_ge(&hsema_sig_count, 1));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q))
		TH_LOG("the waiter did not go back to waiting");
	msleep(20);
	EXPECT_FALSE(atomic_load(&w->done)) TH_LOG("returned %d", w->ret);

	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(w));
	waiter_join(w);
	EXPECT_EQ(0, w->ret);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * SA_RESTART with a deadline: signals in the middle do not make the wait
 * return; it times out, and not before the absolute deadline.
 */
TEST_F(wait, sa_restart_keeps_deadline)
{
	struct hsema_query q;
	int64_t back;
	int c;

	ASSERT_EQ(0, install_handler(SIGUSR1, true));
	for (c = 0; c < 2; c++) {
		struct waiter *w = &self->w[c];

		atomic_store(&hsema_sig_count, 0);
		waiter_init(w, &self->s, 0, NULL);
		w->op = W_TIMED;
		w->clock = clocks[c];
		w->deadline = deadline_in(clocks[c], 300000000LL);
		ASSERT_EQ(0, waiter_start(w));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
		ASSERT_EQ(0, pthread_kill(w->thr, SIGUSR1));
		ASSERT_EQ(0, wait_atomic_ge(&hsema_sig_count, 1));
		msleep(10);
		if (!atomic_load(&w->done))	/* a second one, if still waiting */
			pthread_kill(w->thr, SIGUSR1);
		ASSERT_EQ(0, waiter_wait_done(w));
		back = now_ns(clocks[c]);
		waiter_join(w);
		EXPECT_EQ(-ETIMEDOUT, w->ret) TH_LOG("CLOCK_%s", clock_names[c]);
		EXPECT_LE(ts_to_ns(&w->deadline), back)
			TH_LOG("CLOCK_%s: returned before its deadline",
			       clock_names[c]);
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
		EXPECT_EQ(0, hsema_word(&self->s));
	}
}

/*
 * Races.  A persistent racer thread acquires once per iteration, with a
 * short deadline or blocking; the main thread releases one unit around
 * the deadline or around a signal.  Afterwards exactly one unit exists:
 * with the racer if it returned 0, else in the value.
 */
struct racer {
	pthread_t thr;
	sema_t *s;
	pthread_barrier_t go, done;
	int iters;
	bool timed;
	int64_t delta_ns;		/* timed: deadline = now + delta */
	clockid_t clock;		/* timed: this iteration's clock */
	struct timespec deadline;	/* timed: published to main */
	atomic_int armed;		/* deadline published */
	int ret;
	atomic_int stop;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;

	for (;;) {
		pthread_barrier_wait(&r->go);
		if (atomic_load(&r->stop))
			break;
		if (r->timed) {
			r->deadline = deadline_in(r->clock, r->delta_ns);
			atomic_store(&r->armed, 1);
			r->ret = sema_timedacquire(r->s, &r->deadline, r->clock);
		} else {
			atomic_store(&r->armed, 1);
			r->ret = sema_acquire(r->s);
		}
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

static int racer_start(struct racer *r, sema_t *s, bool timed)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->timed = timed;
	r->delta_ns = 2000000;	/* 2 ms */
	pthread_barrier_init(&r->go, NULL, 2);
	pthread_barrier_init(&r->done, NULL, 2);
	return -pthread_create(&r->thr, NULL, racer_fn, r);
}

static void racer_stop(struct racer *r)
{
	atomic_store(&r->stop, 1);
	pthread_barrier_wait(&r->go);
	pthread_join(r->thr, NULL);
	pthread_barrier_destroy(&r->go);
	pthread_barrier_destroy(&r->done);
}

static void grant_timeout_race(struct __test_metadata *_metadata,
			       FIXTURE_DATA(wait) *self, unsigned int thr_us)
{
	struct hsema_stats st0, st1;
	unsigned int seed = 0x1234567;
	int got = 0, timedout = 0;
	struct hsema_query q;
	struct racer r;
	int i;

	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, thr_us));
	ASSERT_EQ(0, racer_start(&r, &self->s, true));
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	for (i = 0; i < RACE_ITERS; i++) {
		int64_t jitter = (int64_t)(xrand(&seed) % 3000000) - 2000000;
		struct timespec when;
		unsigned int v;

		r.clock = clocks[i & 1];
		atomic_store(&r.armed, 0);
		pthread_barrier_wait(&r.go);
		while (!atomic_load(&r.armed))
			;
		/* Release between 2 ms before and 1 ms after the deadline. */
		when = ns_to_ts(ts_to_ns(&r.deadline) + jitter);
		while (clock_nanosleep(r.clock, TIMER_ABSTIME, &when, NULL) == EINTR)
			;
		ASSERT_EQ(0, sema_release(&self->s));
		pthread_barrier_wait(&r.done);

		v = hsema_word(&self->s);
		if (r.ret == 0) {
			got++;
			ASSERT_EQ(0, v) TH_LOG("iter %d: acquired, word %#x", i, v);
		} else {
			ASSERT_EQ(-ETIMEDOUT, r.ret) TH_LOG("iter %d", i);
			timedout++;
			ASSERT_EQ(1, v)
				TH_LOG("iter %d: timed out, word %#x", i, v);
			ASSERT_EQ(0, sema_tryacquire(&self->s));
		}
		ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
		ASSERT_EQ(0, q.nr_waiters) TH_LOG("iter %d", i);
	}
	racer_stop(&r);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	TH_LOG("%d iterations: %d acquired, %d timed out; kernel: %llu timeouts, %llu grants, %llu wakes",
	       RACE_ITERS, got, timedout,
	       (unsigned long long)(st1.timeouts - st0.timeouts),
	       (unsigned long long)(st1.grants - st0.grants),
	       (unsigned long long)(st1.wakes - st0.wakes));
	EXPECT_EQ(0, hsema_word(&self->s));
}

TEST_F(wait, grant_timeout_race_normal)
{
	grant_timeout_race(_metadata, self, HSEMA_NO_STARVE_US);
}

TEST_F(wait, grant_timeout_race_starving)
{
	grant_timeout_race(_metadata, self, HSEMA_ALWAYS_STARVE_US);
}

static void grant_signal_race(struct __test_metadata *_metadata,
			      FIXTURE_DATA(wait) *self, unsigned int thr_us)
{
	struct hsema_stats st0, st1;
	unsigned int seed = 0x7654321;
	int got = 0, intr = 0;
	struct hsema_query q;
	struct racer r;
	int i;

	ASSERT_EQ(0, install_handler(SIGUSR1, false));
	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, thr_us));
	ASSERT_EQ(0, racer_start(&r, &self->s, false));
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	for (i = 0; i < RACE_ITERS; i++) {
		unsigned int rnd = xrand(&seed);
		int64_t delay = rnd % 200000;	/* up to 200 us */
		unsigned int v;

		atomic_store(&r.armed, 0);
		pthread_barrier_wait(&r.go);
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q))
			TH_LOG("iter %d: racer not queued", i);
		if (rnd & (1U << 30)) {
			ASSERT_EQ(0, sema_release(&self->s));
			spin_ns(delay);
			ASSERT_EQ(0, pthread_kill(r.thr, SIGUSR1));
		} else {
			ASSERT_EQ(0, pthread_kill(r.thr, SIGUSR1));
			spin_ns(delay);
			ASSERT_EQ(0, sema_release(&self->s));
		}
		pthread_barrier_wait(&r.done);

		v = hsema_word(&self->s);
		if (r.ret == 0) {
			got++;
			ASSERT_EQ(0, v) TH_LOG("iter %d: acquired, word %#x", i, v);
		} else {
			ASSERT_EQ(-EINTR, r.ret) TH_LOG("iter %d", i);
			intr++;
			ASSERT_EQ(1, v)
				TH_LOG("iter %d: interrupted, word %#x", i, v);
			ASSERT_EQ(0, sema_tryacquire(&self->s));
		}
		ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
		ASSERT_EQ(0, q.nr_waiters) TH_LOG("iter %d", i);
	}
	racer_stop(&r);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	TH_LOG("%d iterations: %d acquired, %d interrupted; kernel: %llu interrupts, %llu grants, %llu wakes",
	       RACE_ITERS, got, intr,
	       (unsigned long long)(st1.interrupts - st0.interrupts),
	       (unsigned long long)(st1.grants - st0.grants),
	       (unsigned long long)(st1.wakes - st0.wakes));
	EXPECT_EQ(RACE_ITERS, atomic_load(&hsema_sig_count));
	EXPECT_EQ(0, hsema_word(&self->s));
}

TEST_F(wait, grant_signal_race_normal)
{
	grant_signal_race(_metadata, self, HSEMA_NO_STARVE_US);
}

TEST_F(wait, grant_signal_race_starving)
{
	grant_signal_race(_metadata, self, HSEMA_ALWAYS_STARVE_US);
}

TEST_HARNESS_MAIN
