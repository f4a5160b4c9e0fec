// SPDX-License-Identifier: GPL-2.0-only
/*
 * Starvation mode and direct grants: a release to a head waiter that has
 * waited past its threshold enters starvation mode and grants the unit
 * to it (the value stays 0 and the fast path is closed, newcomers queue
 * at the tail); the mode ends when the queue empties, a granted waiter
 * had waited less than its threshold, or the batch queued when it began
 * has been served, and the next episode needs a threshold's wait after
 * it and normal mode to have lasted four times the episode, at most four
 * thresholds.  sema_release_n() grants exactly
 * the first n tickets; in normal mode it wakes them and adds the rest to
 * the value.  sema_release_handoff() grants even in normal mode, and when
 * the waiter it grants had been woken for a unit of the value, it wakes
 * the next sleeper for that unit.  Each
 * single-unit grant from a plain thread counts one handoff and no refused
 * yield, and with releaser and waiter on one CPU the yield takes effect.
 * While an episode goes on, each grant wakes the next grantee early, to
 * spin for its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

#define NW 8

FIXTURE(starve) {
	int fd;
	sema_t s;
	atomic_int seq;
	struct waiter w[NW];
};

FIXTURE_SETUP(starve)
{
	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	ASSERT_EQ(0, sema_init(&self->s, 0, 0));
	atomic_store(&self->seq, 0);
}

FIXTURE_TEARDOWN(starve)
{
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Start waiter i (set up by the caller unless @init) and wait until n
 * waiters are queued.
 */
static int start_queued(FIXTURE_DATA(starve) *self, int i, bool init,
			unsigned int n, struct hsema_query *q)
{
	int ret;

	if (init)
		waiter_init(&self->w[i], &self->s, i, &self->seq);
	ret = waiter_start(&self->w[i]);
	if (ret)
		return ret;
	return hsema_wait_queued(self->fd, &self->s, 0, n, q);
}

static int nr_done(FIXTURE_DATA(starve) *self, int n)
{
	int i, d = 0;

	for (i = 0; i < n; i++)
		d += atomic_load(&self->w[i].done);
	return d;
}

/*
 * With a 1 us threshold: the first release enters starvation mode and
 * grants to the head; while a waiter of its batch remains the word shows
 * STARVING, the value stays 0, tryacquire fails and getvalue reports 0; a
 * newcomer queues at the tail and is served after the older waiter; the
 * episode ends with its batch's last grant, the next one's when the queue
 * empties.
 */
TEST_F(starve, grant_keeps_value_zero)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	unsigned int v = 99, word;
	__u64 w1_ticket;

	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_ALWAYS_STARVE_US));
	ASSERT_EQ(0, start_queued(self, 0, true, 1, &q));
	ASSERT_EQ(0, start_queued(self, 1, true, 2, &q));
	w1_ticket = q.tail_ticket;
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));

	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	EXPECT_EQ(0, self->w[0].ret);
	EXPECT_EQ(0, self->w[0].order);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	EXPECT_EQ(1, q.starving);
	EXPECT_EQ(w1_ticket, q.head_ticket);
	word = hsema_word(&self->s);
	EXPECT_EQ(HSEMA_WAITERS | HSEMA_STARVING, word) TH_LOG("word %#x", word);
	EXPECT_EQ(-EAGAIN, sema_tryacquire(&self->s));
	EXPECT_EQ(0, sema_getvalue(&self->s, &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(0, st1.starve_exit - st0.starve_exit);
	EXPECT_EQ(1, st1.grants - st0.grants);
	EXPECT_EQ(0, st1.wakes - st0.wakes);
	EXPECT_EQ(1, st1.handoffs - st0.handoffs);
	EXPECT_EQ(0, hsema_refused_total(&st1) - hsema_refused_total(&st0));

	/* A newcomer queues at the tail, behind waiter 1. */
	ASSERT_EQ(0, start_queued(self, 2, true, 2, &q));
	EXPECT_EQ(w1_ticket, q.head_ticket);
	EXPECT_LT(w1_ticket, q.tail_ticket);
	EXPECT_EQ(1, q.starving);

	/*
	 * Waiter 1 is the last of the batch queued when the episode began:
	 * its grant ends the episode, with the newcomer still queued.
	 */
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, wait_atomic_ge(&self->seq, 2));
	EXPECT_TRUE(atomic_load(&self->w[1].done));
	EXPECT_EQ(1, self->w[1].order);
	EXPECT_FALSE(atomic_load(&self->w[2].done)) TH_LOG("newcomer overtook");
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	EXPECT_EQ(0, q.starving) TH_LOG("the episode outlived its batch");
	EXPECT_EQ(0, hsema_value(&self->s));

	/*
	 * The newcomer has waited past 1 us since the episode ended, and
	 * normal mode has lasted past four thresholds: the next release
	 * starts another and grants it; that empties the queue
	 * and ends the mode.
	 */
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[2]));
	EXPECT_EQ(0, self->w[2].ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	EXPECT_EQ(0, q.starving);
	word = hsema_word(&self->s);
	EXPECT_EQ(0, word) TH_LOG("word %#x after the queue emptied", word);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(2, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(2, st1.starve_exit - st0.starve_exit);
	EXPECT_EQ(3, st1.grants - st0.grants);
	EXPECT_EQ(3, st1.handoffs - st0.handoffs);
	EXPECT_EQ(0, hsema_refused_total(&st1) - hsema_refused_total(&st0));
	for (int i = 0; i < 3; i++)
		waiter_join(&self->w[i]);

	/* Normal mode again: the fast path works. */
	EXPECT_EQ(0, sema_release(&self->s));
	EXPECT_EQ(0, sema_tryacquire(&self->s));
}

/*
 * The threshold set with sema_set_starve_threshold() is honoured: a head
 * that has waited less than it is woken normally; one that has waited
 * more gets a grant.  0 restores the module default (1 ms), far below the
 * 50 ms the head waits here.
 */
TEST_F(starve, threshold_respected)
{
	const unsigned int thr_us = 400000;	/* 400 ms */
	struct hsema_stats st0, st1;
	struct hsema_query q;
	int64_t end;

	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, thr_us));
	ASSERT_EQ(0, start_queued(self, 0, true, 1, &q));
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	if (q.head_wait_ns >= thr_us * 1000ULL / 2)
		SKIP(return, "too slow: the head waited %llu ns before the release",
		     (unsigned long long)q.head_wait_ns);
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(0, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(0, st1.grants - st0.grants);
	EXPECT_EQ(1, st1.wakes - st0.wakes);
	waiter_join(&self->w[0]);

	/* Now let the head wait past the threshold. */
	ASSERT_EQ(0, start_queued(self, 1, true, 1, &q));
	end = now_ns(CLOCK_MONOTONIC) + HSEMA_POLL_MS * 1000000LL;
	do {
		msleep(20);
		ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
		ASSERT_GT(end, now_ns(CLOCK_MONOTONIC))
			TH_LOG("head_wait_ns stuck at %llu",
			       (unsigned long long)q.head_wait_ns);
	} while (q.head_wait_ns <= thr_us * 1000ULL + 20000000ULL);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[1]));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(1, st1.grants - st0.grants);
	EXPECT_EQ(0, st1.wakes - st0.wakes);
	waiter_join(&self->w[1]);

	/* Module default (1 ms) after resetting to 0. */
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, 0));
	ASSERT_EQ(0, start_queued(self, 2, true, 1, &q));
	msleep(50);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[2]));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter)
		TH_LOG("a 50 ms wait did not pass the default threshold");
	EXPECT_EQ(1, st1.grants - st0.grants);
	waiter_join(&self->w[2]);
}

/*
 * The mode ends when a granted waiter had waited less than its own
 * threshold, even though waiters remain.  Per-waiter thresholds are set
 * with raw HSEMA_IOC_WAIT calls: A (1 us), then B and C (10 s).
 */
TEST_F(starve, exit_when_granted_waited_less)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	unsigned int word;
	int i;

	for (i = 0; i < 3; i++) {
		waiter_init(&self->w[i], &self->s, i, &self->seq);
		self->w[i].op = W_RAW_WAIT;
		self->w[i].rawfd = self->fd;
		self->w[i].starve_ns = i == 0 ? 1000 : 10000000000ULL;
		ASSERT_EQ(0, start_queued(self, i, false, i + 1, &q));
	}
	msleep(2);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));

	/* A waited past 1 us: starvation mode, grant to A. */
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	EXPECT_EQ(0, self->w[0].ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 2, &q));
	EXPECT_EQ(1, q.starving);
	EXPECT_NE(0, hsema_word(&self->s) & HSEMA_STARVING);

	/* B is granted, but waited less than 10 s: the mode ends. */
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[1]));
	EXPECT_EQ(0, self->w[1].ret);
	EXPECT_EQ(1, self->w[1].order);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	EXPECT_EQ(0, q.starving);
	word = hsema_word(&self->s);
	EXPECT_EQ(HSEMA_WAITERS, word) TH_LOG("word %#x", word);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(1, st1.starve_exit - st0.starve_exit);
	EXPECT_EQ(2, st1.grants - st0.grants);

	/* Normal mode: C is woken, not granted. */
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[2]));
	EXPECT_EQ(0, self->w[2].ret);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(2, st1.grants - st0.grants);
	EXPECT_EQ(1, st1.wakes - st0.wakes);
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	for (i = 0; i < 3; i++)
		waiter_join(&self->w[i]);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * While an episode goes on, each release that grants also wakes the next
 * grantee early, to spin for its grant (a spin_wakes count; with one CPU
 * online it never spins, and none is woken): the waiter stays queued,
 * nobody is counted woken, the word still reads STARVING, and it is
 * granted in its turn.  The release that ends the episode wakes nobody
 * early.  Thresholds of 1 ms, so that a spin lasts up to 250 us; whether
 * a grant catches the waiter still spinning is the scheduler's call, so
 * spin_grants is only bounded.
 */
TEST_F(starve, next_grantee_woken_early)
{
	const __u64 early = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
	struct hsema_stats st0, st1;
	struct hsema_query q;
	unsigned int word;
	int i;

	for (i = 0; i < 3; i++) {
		waiter_init(&self->w[i], &self->s, i, &self->seq);
		self->w[i].op = W_RAW_WAIT;
		self->w[i].rawfd = self->fd;
		self->w[i].starve_ns = 1000000;
		ASSERT_EQ(0, start_queued(self, i, false, i + 1, &q));
	}
	msleep(5);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));

	/* Starvation: A is granted, B (the next grantee) is woken early. */
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	EXPECT_EQ(0, self->w[0].ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 2, &q));
	EXPECT_EQ(1, q.starving);
	EXPECT_EQ(0, q.nr_woken);
	word = hsema_word(&self->s);
	EXPECT_EQ(HSEMA_WAITERS | HSEMA_STARVING, word) TH_LOG("word %#x", word);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.grants - st0.grants);
	EXPECT_EQ(0, st1.wakes - st0.wakes);
	EXPECT_EQ(early, st1.spin_wakes - st0.spin_wakes);
	EXPECT_FALSE(atomic_load(&self->w[1].done));

	/* B is granted in its turn; C, the batch's last, is woken early. */
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[1]));
	EXPECT_EQ(0, self->w[1].ret);
	EXPECT_EQ(1, self->w[1].order);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	EXPECT_EQ(1, q.starving);
	EXPECT_EQ(0, q.nr_woken);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(2 * early, st1.spin_wakes - st0.spin_wakes);

	/* C's grant ends the episode: nobody is left to get ready. */
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[2]));
	EXPECT_EQ(0, self->w[2].ret);
	EXPECT_EQ(2, self->w[2].order);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	EXPECT_EQ(0, hsema_word(&self->s));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(3, st1.grants - st0.grants);
	EXPECT_EQ(0, st1.wakes - st0.wakes);
	EXPECT_EQ(1, st1.starve_exit - st0.starve_exit);
	EXPECT_EQ(2 * early, st1.spin_wakes - st0.spin_wakes);
	EXPECT_LE(st1.spin_grants - st0.spin_grants,
		  st1.spin_wakes - st0.spin_wakes);
	TH_LOG("%llu of %llu early wake-ups caught their grant spinning",
	       (unsigned long long)(st1.spin_grants - st0.spin_grants),
	       (unsigned long long)(st1.spin_wakes - st0.spin_wakes));
	for (i = 0; i < 3; i++)
		waiter_join(&self->w[i]);
}

/*
 * An episode serves one batch, the waiters queued when it began, and the
 * next needs a threshold's wait after it ended (threshold 50 ms for all):
 * A, B, C wait past it; a release enters starvation and grants A; D
 * queues behind (starving: at the tail) and waits past the threshold too.
 * B and C are granted and, C being the batch's last, the mode ends,
 * although C waited long and D is still queued.  The next release wakes
 * D in normal mode instead of starving again: D's wait counts from the
 * episode's end.  Before the batch rule the queue stayed starving here and
 * D was granted.  Should the final release come a threshold or more after
 * the episode's end (the loaded debug kernel once took over 50 ms between
 * the two), D may have waited long enough to starve the queue again: then
 * either outcome is right and only the unit's count is checked.  (That
 * the episode, longer than a threshold, holds the next one off for four
 * thresholds is episode_gates_the_next's to show.)
 */
TEST_F(starve, episode_serves_one_batch)
{
	const int64_t threshold_ns = 200000000LL;
	struct hsema_stats st0, st1;
	struct hsema_query q;
	int64_t c_released = 0, since_end;
	unsigned int word;
	int i;

	for (i = 0; i < 4; i++) {
		waiter_init(&self->w[i], &self->s, i, &self->seq);
		self->w[i].op = W_RAW_WAIT;
		self->w[i].rawfd = self->fd;
		self->w[i].starve_ns = threshold_ns;
	}
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, start_queued(self, i, false, i + 1, &q));
	msleep(threshold_ns / 1000000 + 20);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));

	ASSERT_EQ(0, sema_release(&self->s));		/* enter, grant A */
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	EXPECT_EQ(0, self->w[0].ret);
	ASSERT_EQ(0, start_queued(self, 3, false, 3, &q));	/* D */
	EXPECT_EQ(1, q.starving);
	msleep(threshold_ns / 1000000 + 20);

	for (i = 1; i < 3; i++) {			/* grant B, then C */
		c_released = now_ns(CLOCK_MONOTONIC);	/* before the end */
		ASSERT_EQ(0, sema_release(&self->s));
		ASSERT_EQ(0, waiter_wait_done(&self->w[i]));
		EXPECT_EQ(0, self->w[i].ret);
		EXPECT_EQ(i, self->w[i].order);
	}
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	EXPECT_EQ(0, q.starving) TH_LOG("the episode outlived its batch");
	word = hsema_word(&self->s);
	EXPECT_EQ(HSEMA_WAITERS, word) TH_LOG("word %#x", word);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(1, st1.starve_exit - st0.starve_exit);
	EXPECT_EQ(3, st1.grants - st0.grants);

	/* D waited past the threshold, but only since the episode ended: woken. */
	ASSERT_EQ(0, sema_release(&self->s));
	since_end = now_ns(CLOCK_MONOTONIC) - c_released;	/* at most */
	ASSERT_EQ(0, waiter_wait_done(&self->w[3]));
	EXPECT_EQ(0, self->w[3].ret);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(4, st1.grants - st0.grants + st1.wakes - st0.wakes);
	if (since_end < threshold_ns) {
		EXPECT_EQ(3, st1.grants - st0.grants)
			TH_LOG("D was granted %lld ms after the episode: starved again at once",
			       (long long)since_end / 1000000);
		EXPECT_EQ(1, st1.wakes - st0.wakes);
		EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	} else {
		TH_LOG("the last release came %lld ms after the episode: D may starve the queue again",
		       (long long)since_end / 1000000);
	}
	for (i = 0; i < 4; i++)
		waiter_join(&self->w[i]);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * The next episode waits until normal mode has lasted four times the last
 * one, at most four thresholds (threshold 100 ms for all): A and B wait
 * past it, a release enters starvation and grants A; C and D queue behind;
 * 120 ms later B, the batch's last, is granted and the mode ends after an
 * episode longer than a threshold.  Two thresholds after that, C has
 * waited past its threshold since the end, which alone used to starve the
 * queue again: it is woken instead.  Past four thresholds after the end,
 * D's release starts the next episode and grants it.  Should the first of
 * those releases come four thresholds late (a loaded debug kernel), either
 * outcome is right for it and only the units are counted.
 */
TEST_F(starve, episode_gates_the_next)
{
	const int64_t threshold_ns = 100000000LL;
	const int threshold_ms = threshold_ns / 1000000;
	struct hsema_stats st0, st1, st2;
	struct hsema_query q;
	int64_t b_released, b_returned, since_end;
	int i;

	for (i = 0; i < 4; i++) {
		waiter_init(&self->w[i], &self->s, i, &self->seq);
		self->w[i].op = W_RAW_WAIT;
		self->w[i].rawfd = self->fd;
		self->w[i].starve_ns = threshold_ns;
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, start_queued(self, i, false, i + 1, &q));
	msleep(threshold_ms + 20);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));

	ASSERT_EQ(0, sema_release(&self->s));		/* enter, grant A */
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	EXPECT_EQ(0, self->w[0].ret);
	ASSERT_EQ(0, start_queued(self, 2, false, 2, &q));	/* C */
	ASSERT_EQ(0, start_queued(self, 3, false, 3, &q));	/* D */
	EXPECT_EQ(1, q.starving);
	msleep(threshold_ms + 20);

	b_released = now_ns(CLOCK_MONOTONIC);		/* before the end */
	ASSERT_EQ(0, sema_release(&self->s));		/* grant B, exit */
	b_returned = now_ns(CLOCK_MONOTONIC);		/* after the end */
	ASSERT_EQ(0, waiter_wait_done(&self->w[1]));
	EXPECT_EQ(0, self->w[1].ret);
	EXPECT_EQ(1, self->w[1].order);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 2, &q));
	EXPECT_EQ(0, q.starving) TH_LOG("the episode outlived its batch");
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(1, st1.starve_exit - st0.starve_exit);
	EXPECT_EQ(2, st1.grants - st0.grants);

	msleep(2 * threshold_ms);
	ASSERT_EQ(0, sema_release(&self->s));		/* C: woken */
	since_end = now_ns(CLOCK_MONOTONIC) - b_released;	/* at most */
	ASSERT_EQ(0, waiter_wait_done(&self->w[2]));
	EXPECT_EQ(0, self->w[2].ret);
	EXPECT_EQ(2, self->w[2].order);
	ASSERT_EQ(0, hsema_stats(self->fd, &st2));
	EXPECT_EQ(1, st2.grants - st1.grants + st2.wakes - st1.wakes);
	if (since_end < 4 * threshold_ns) {
		EXPECT_EQ(0, st2.grants - st1.grants)
			TH_LOG("C was granted %lld ms after an episode of more than a threshold",
			       (long long)since_end / 1000000);
		EXPECT_EQ(1, st2.wakes - st1.wakes);
		EXPECT_EQ(0, st2.starve_enter - st1.starve_enter);
	} else {
		TH_LOG("C's release came %lld ms after the episode: it may starve the queue",
		       (long long)since_end / 1000000);
	}

	/* Past four thresholds of normal mode: D's release starves again. */
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	while (now_ns(CLOCK_MONOTONIC) - b_returned < 4 * threshold_ns + 20000000)
		msleep(10);
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	ASSERT_EQ(0, sema_release(&self->s));		/* enter, grant D */
	ASSERT_EQ(0, waiter_wait_done(&self->w[3]));
	EXPECT_EQ(0, self->w[3].ret);
	EXPECT_EQ(3, self->w[3].order);
	ASSERT_EQ(0, hsema_stats(self->fd, &st2));
	EXPECT_EQ(1, st2.grants - st1.grants) TH_LOG("D was woken, not granted");
	EXPECT_EQ(0, st2.wakes - st1.wakes);
	EXPECT_EQ(1, st2.starve_enter - st1.starve_enter);
	for (i = 0; i < 4; i++)
		waiter_join(&self->w[i]);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * With STARVING set the fast path is closed even when the word holds a
 * unit.  Try to get there on one CPU (raw waits, threshold 100 ms):
 * release 1 wakes the head in normal mode and leaves value 1; the main
 * thread runs SCHED_FIFO 2 over a SCHED_FIFO 1 hog, so the woken head
 * cannot run and take the unit (even if the main thread sleeps in the
 * kernel) until it has waited past its threshold; release 2 then grants
 * to the head and enters starvation mode.  (Release 1 leaves the word
 * WOKEN, where sema_release() would stay in userspace: release 2 is the
 * WAKE ioctl that code written before WOKEN makes there, which any
 * release of a word that reads WAITERS makes too.)  If the word then shows
 * STARVING, a tryacquire must fail.  (The kernel may instead hand the
 * stray unit to the second waiter at once; then there is nothing to
 * check but the count.)  Either way units are conserved and the second
 * waiter is served.
 */
TEST_F(starve, fastpath_closed_while_starving)
{
	const __u64 thr_ns = 100000000ULL;
	struct sched_param fifo = { .sched_priority = 2 };
	struct sched_param other = { .sched_priority = 0 };
	struct hsema_stats st0, st1, st2;
	struct hsema_query q, q1;
	struct hsema_wake k;
	int cpu = first_allowed_cpu();
	unsigned int word1, word2, v = 99;
	int released, acquired;
	bool w0_ran, stuck;
	struct hog hog;
	int64_t end;
	int i, ret;

	ASSERT_EQ(0, pin_self(cpu));
	for (i = 0; i < 2; i++) {
		waiter_init(&self->w[i], &self->s, i, &self->seq);
		self->w[i].op = W_RAW_WAIT;
		self->w[i].rawfd = self->fd;
		self->w[i].starve_ns = thr_ns;
		self->w[i].cpu = cpu;
		ASSERT_EQ(0, start_queued(self, i, false, i + 1, &q));
		ASSERT_EQ(0, self->w[i].setup_err);
	}
	if (sched_setscheduler(0, SCHED_FIFO, &fifo))
		SKIP(return, "SCHED_FIFO: %s", strerror(errno));
	ret = hog_start(&hog, cpu, 1, false);
	if (ret) {
		sched_setscheduler(0, SCHED_OTHER, &other);
		ASSERT_EQ(0, ret) TH_LOG("hog: %s", strerror(-ret));
	}
	/* From here until SCHED_OTHER again, the waiters cannot run. */
	hsema_query(self->fd, &self->s, 0, &q);
	if (q.head_wait_ns >= thr_ns / 2) {
		atomic_store(&hog.stop, 1);
		sched_setscheduler(0, SCHED_OTHER, &other);
		EXPECT_FALSE(hog_stop(&hog)) TH_LOG("the hog was not stopped in time");
		SKIP(return, "too slow: head waited %llu ns before release 1",
		     (unsigned long long)q.head_wait_ns);
	}
	hsema_stats(self->fd, &st0);
	ret = sema_release(&self->s);
	hsema_query(self->fd, &self->s, 0, &q1);
	word1 = hsema_word(&self->s);
	hsema_stats(self->fd, &st1);
	end = now_ns(CLOCK_MONOTONIC) + 2000000000LL;
	do {
		spin_ns(1000000);
		hsema_query(self->fd, &self->s, 0, &q);
		stuck = now_ns(CLOCK_MONOTONIC) > end;
	} while (q.head_wait_ns <= thr_ns + 1000000 && !stuck);
	w0_ran = atomic_load(&self->w[0].done);
	ASSERT_EQ(0, hsema_raw_wake(self->fd, &self->s, 1, 0, &k));
	word2 = hsema_word(&self->s);
	ret = sema_tryacquire(&self->s);
	atomic_store(&hog.stop, 1);
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &other));
	EXPECT_FALSE(hog_stop(&hog)) TH_LOG("the hog was not stopped in time");
	/* Back to normal: now check. */

	released = 2;
	acquired = ret == 0;
	ASSERT_EQ(0, hsema_stats(self->fd, &st2));
	ASSERT_EQ(0, sema_getvalue(&self->s, &v));
	TH_LOG("after release 1: word %#x, nr_waiters %u, nr_woken %u",
	       word1, q1.nr_waiters, q1.nr_woken);
	TH_LOG("after release 2: word %#x, tryacquire %d, getvalue %u",
	       word2, ret, v);
	ASSERT_FALSE(stuck) TH_LOG("head_wait_ns stuck at %llu",
				   (unsigned long long)q.head_wait_ns);
	ASSERT_FALSE(w0_ran) TH_LOG("the woken head ran before release 2");
	EXPECT_EQ(0, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(1, st1.wakes - st0.wakes);
	EXPECT_EQ(1, q1.nr_woken);
	EXPECT_EQ(HSEMA_STATE_WOKEN | 1, word1);
	EXPECT_EQ(1, st2.starve_enter - st0.starve_enter);
	if (word2 & HSEMA_STARVING) {
		EXPECT_EQ(-EAGAIN, ret)
			TH_LOG("tryacquire took a unit while STARVING");
	} else {
		TH_LOG("STARVING was not visible after release 2 (grants +%llu)",
		       (unsigned long long)(st2.grants - st0.grants));
	}

	/* W0 returns; serve W1 if it is still queued. */
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	EXPECT_EQ(0, self->w[0].ret);
	acquired++;
	msleep(20);
	if (!atomic_load(&self->w[1].done)) {
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
		ASSERT_EQ(0, sema_release(&self->s));
		released++;
	}
	ASSERT_EQ(0, waiter_wait_done(&self->w[1]));
	EXPECT_EQ(0, self->w[1].ret);
	acquired++;
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	EXPECT_EQ(0, q.starving);
	word1 = hsema_word(&self->s);
	EXPECT_EQ(released - acquired, word1)
		TH_LOG("final word %#x: %d released, %d acquired", word1,
		       released, acquired);
	waiter_join(&self->w[0]);
	waiter_join(&self->w[1]);
}

/*
 * In starvation mode with 5 waiters queued, release_n(3) grants exactly
 * the first 3 tickets; the other 2 stay queued and the value stays 0.
 */
TEST_F(starve, release_n_grants_first_tickets)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	int i;

	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_ALWAYS_STARVE_US));
	for (i = 0; i < 6; i++)
		ASSERT_EQ(0, start_queued(self, i, true, i + 1, &q));

	/* Enter starvation mode: waiter 0 is granted, 5 remain. */
	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 5, &q));
	ASSERT_EQ(1, q.starving);
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));

	ASSERT_EQ(0, sema_release_n(&self->s, 3));
	ASSERT_EQ(0, wait_atomic_ge(&self->seq, 4));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 2, &q));
	msleep(50);	/* give a wrongly woken waiter time to show up */
	for (i = 1; i <= 3; i++) {
		EXPECT_TRUE(atomic_load(&self->w[i].done)) TH_LOG("waiter %d", i);
		EXPECT_EQ(0, self->w[i].ret);
	}
	EXPECT_FALSE(atomic_load(&self->w[4].done));
	EXPECT_FALSE(atomic_load(&self->w[5].done));
	EXPECT_EQ(4, nr_done(self, 6));
	ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
	EXPECT_EQ(2, q.nr_waiters);
	EXPECT_EQ(1, q.starving);
	EXPECT_EQ(0, hsema_value(&self->s));
	EXPECT_EQ(-EAGAIN, sema_tryacquire(&self->s));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(3, st1.grants - st0.grants);
	EXPECT_EQ(0, st1.wakes - st0.wakes);
	EXPECT_EQ(0, hsema_refused_total(&st1) - hsema_refused_total(&st0));

	ASSERT_EQ(0, sema_release_n(&self->s, 2));
	ASSERT_EQ(0, wait_atomic_ge(&self->seq, 6));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	EXPECT_EQ(0, q.starving);
	EXPECT_EQ(0, hsema_word(&self->s));
	/* One pass grants several: their return order is the scheduler's. */
	for (i = 0; i < 6; i++) {
		waiter_join(&self->w[i]);
		EXPECT_EQ(0, self->w[i].ret);
	}
	EXPECT_EQ(0, self->w[0].order);
	for (i = 1; i <= 3; i++)
		EXPECT_TRUE(self->w[i].order >= 1 && self->w[i].order <= 3)
			TH_LOG("waiter %d returned %d-th", i, self->w[i].order);
}

/* Normal mode, 3 waiters: release_n(5) lets all 3 acquire, value 2. */
TEST_F(starve, release_n_normal_mode)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	unsigned int v = 99;
	int i;

	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_NO_STARVE_US));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, start_queued(self, i, true, i + 1, &q));
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	ASSERT_EQ(0, sema_release_n(&self->s, 5));
	ASSERT_EQ(0, wait_atomic_ge(&self->seq, 3));
	for (i = 0; i < 3; i++) {
		waiter_join(&self->w[i]);
		EXPECT_EQ(0, self->w[i].ret);
	}
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	ASSERT_EQ(0, sema_getvalue(&self->s, &v));
	EXPECT_EQ(2, v);
	EXPECT_EQ(2, hsema_word(&self->s));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(0, st1.grants - st0.grants);
	EXPECT_EQ(0, st1.starve_enter - st0.starve_enter);
	EXPECT_EQ(3, st1.wakes - st0.wakes);
}

/*
 * sema_release_handoff() grants to the head even in normal mode: the unit
 * never reaches the word, the next waiter stays queued, and the stats
 * count one grant and one handoff with no refused yield.
 */
TEST_F(starve, handoff_normal_mode)
{
	struct hsema_stats st0, st1;
	struct hsema_query q;
	int ret;

	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_NO_STARVE_US));
	ASSERT_EQ(0, start_queued(self, 0, true, 1, &q));
	ASSERT_EQ(0, start_queued(self, 1, true, 2, &q));
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));

	ASSERT_EQ(0, sema_release_handoff(&self->s));
	ret = sema_tryacquire(&self->s);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("the handed-off unit reached the word");
	if (ret == 0)
		sema_release(&self->s);
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	EXPECT_EQ(0, self->w[0].ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, &q));
	EXPECT_FALSE(atomic_load(&self->w[1].done));
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	EXPECT_EQ(1, st1.grants - st0.grants);
	EXPECT_EQ(0, st1.wakes - st0.wakes);
	EXPECT_EQ(1, st1.handoffs - st0.handoffs);
	EXPECT_EQ(0, hsema_refused_total(&st1) - hsema_refused_total(&st0));
	EXPECT_EQ(0, hsema_value(&self->s));

	ASSERT_EQ(0, sema_release_handoff(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[1]));
	EXPECT_EQ(0, self->w[1].ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	EXPECT_EQ(0, hsema_word(&self->s));
	waiter_join(&self->w[0]);
	waiter_join(&self->w[1]);

	/* Without waiters a handoff is a plain release. */
	ASSERT_EQ(0, sema_release_handoff(&self->s));
	EXPECT_EQ(1, hsema_value(&self->s));
}

/*
 * A handoff can grant to a head waiter that was woken for a unit of the
 * value and has not run yet.  The unit it was woken for stays in the
 * value, so the same release must wake the next sleeper for it: without
 * that wake, that waiter sleeps beside a unit nobody will take.  The
 * waiters sit on a CPU held by a SCHED_FIFO hog, so neither can run
 * between the two releases.
 */
TEST_F(starve, handoff_to_woken_waiter)
{
	int cpu0 = nth_allowed_cpu(0), cpu1 = nth_allowed_cpu(1);
	struct hsema_query q0, q1, q;
	struct hsema_wake k;
	struct hog hog;
	int i, ret, ret1;
	unsigned int v;
	bool w0_ran;

	if (cpu1 < 0)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, pin_self(cpu0));
	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_NO_STARVE_US));
	for (i = 0; i < 2; i++) {
		waiter_init(&self->w[i], &self->s, i, &self->seq);
		self->w[i].cpu = cpu1;
		ASSERT_EQ(0, start_queued(self, i, false, i + 1, &q));
		ASSERT_EQ(0, self->w[i].setup_err);
	}
	ret = hog_start(&hog, cpu1, 1, true);
	if (ret == -EPERM)
		SKIP(return, "SCHED_FIFO not permitted");
	ASSERT_EQ(0, ret);

	/* Until hog_stop(), the waiters cannot run. */
	ret = sema_release(&self->s);		/* wakes w0 for the value's unit */
	hsema_query(self->fd, &self->s, 0, &q0);
	memset(&k, 0, sizeof(k));
	k.uaddr = hsema_uaddr(&self->s);
	k.count = 1;
	k.flags = HSEMA_WAKE_HANDOFF;
	ret1 = ioctl(self->fd, HSEMA_IOC_WAKE, &k) ? -errno : 0; /* grants w0 */
	hsema_query(self->fd, &self->s, 0, &q1);
	v = hsema_value(&self->s);
	w0_ran = atomic_load(&self->w[0].done);
	EXPECT_FALSE(hog_stop(&hog)) TH_LOG("the hog was not stopped in time");

	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, ret1);
	/* The scene: w0 woken but not running when the handoff came. */
	ASSERT_EQ(2, q0.nr_waiters);
	ASSERT_EQ(1, q0.nr_woken);
	ASSERT_FALSE(w0_ran);
	EXPECT_EQ(1, k.granted);
	EXPECT_EQ(1, k.woken)
		TH_LOG("no waiter woken for the unit w0 had been woken for");
	EXPECT_EQ(1, q1.nr_waiters);
	EXPECT_EQ(1, q1.nr_woken) TH_LOG("value %u", v);
	EXPECT_EQ(1, v);

	/* w0 returns with its grant, w1 with the value's unit. */
	ret = waiter_wait_done(&self->w[0]);
	EXPECT_EQ(0, ret);
	ret = waiter_wait_done(&self->w[1]);
	EXPECT_EQ(0, ret) TH_LOG("w1 still asleep beside value %u",
				 hsema_value(&self->s));
	if (ret) {
		sema_release(&self->s);
		waiter_wait_done(&self->w[1]);
	}
	for (i = 0; i < 2; i++) {
		waiter_join(&self->w[i]);
		EXPECT_EQ(0, self->w[i].ret);
	}
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, &q));
	if (!ret)
		EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * With the releaser and the waiter pinned to one CPU, the directed yield
 * after a grant takes effect: yields increases.  Every single-unit grant
 * from this plain thread counts one handoff and no refusal.  Run with
 * starvation-mode grants (@handoff false) and with release_handoff.
 */
static void yield_pinned(struct __test_metadata *_metadata,
			 FIXTURE_DATA(starve) *self, bool handoff)
{
	const int iters = 5;
	struct hsema_stats st0, st1;
	struct hsema_query q;
	int cpu = first_allowed_cpu();
	int i;

	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, handoff ?
			HSEMA_NO_STARVE_US : HSEMA_ALWAYS_STARVE_US));
	ASSERT_EQ(0, pin_self(cpu));
	ASSERT_EQ(0, hsema_stats(self->fd, &st0));
	for (i = 0; i < iters; i++) {
		waiter_init(&self->w[0], &self->s, 0, NULL);
		self->w[0].cpu = cpu;
		ASSERT_EQ(0, start_queued(self, 0, false, 1, &q));
		ASSERT_EQ(0, self->w[0].setup_err);
		msleep(1);
		ASSERT_EQ(0, handoff ? sema_release_handoff(&self->s) :
				       sema_release(&self->s));
		ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
		waiter_join(&self->w[0]);
		EXPECT_EQ(0, self->w[0].ret);
	}
	ASSERT_EQ(0, hsema_stats(self->fd, &st1));
	TH_LOG("%d grants: handoffs +%llu, yields +%llu, refused +%llu", iters,
	       (unsigned long long)(st1.handoffs - st0.handoffs),
	       (unsigned long long)(st1.yields - st0.yields),
	       (unsigned long long)(hsema_refused_total(&st1) -
				    hsema_refused_total(&st0)));
	EXPECT_EQ(iters, st1.grants - st0.grants);
	EXPECT_EQ(iters, st1.handoffs - st0.handoffs);
	EXPECT_LT(0, st1.yields - st0.yields);
	EXPECT_GE(st1.handoffs - st0.handoffs, st1.yields - st0.yields);
	EXPECT_EQ(0, hsema_refused_total(&st1) - hsema_refused_total(&st0));
	EXPECT_EQ(0, hsema_word(&self->s));
}

TEST_F(starve, yield_pinned_starving)
{
	yield_pinned(_metadata, self, false);
}

TEST_F(starve, yield_pinned_handoff)
{
	yield_pinned(_metadata, self, true);
}

TEST_HARNESS_MAIN
