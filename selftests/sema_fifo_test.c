// SPDX-License-Identifier: GPL-2.0-only
/*
 * FIFO ticket order in normal mode: waiters queued one after another are
 * released one unit at a time and acquire in queue order; QUERY reports
 * the queue; a woken waiter that loses its unit to a barging tryacquire
 * keeps its place at the head (a "requeue") and is not overtaken; and
 * sema_destroy() refuses a semaphore that still has waiters.
 *
 * Every test runs on a private semaphore and on a SEMA_SHARED one in
 * MAP_SHARED memory.  The starvation threshold is 10 s, so the queue
 * stays in normal mode throughout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

#define NW 6

FIXTURE(fifo) {
	int fd;
	unsigned int qf;	/* QUERY flags */
	sema_t *s;
	void *map;
	sema_t priv;
	atomic_int seq;
	struct waiter w[NW];
};

FIXTURE_VARIANT(fifo) {
	bool shared;
};

FIXTURE_VARIANT_ADD(fifo, private) { .shared = false };
FIXTURE_VARIANT_ADD(fifo, shared) { .shared = true };

FIXTURE_SETUP(fifo)
{
	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	self->map = NULL;
	if (variant->shared) {
		self->map = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, self->map);
		self->s = self->map;
		self->qf = HSEMA_F_SHARED;
	} else {
		self->s = &self->priv;
		self->qf = 0;
	}
	ASSERT_EQ(0, sema_init(self->s, 0, variant->shared ? SEMA_SHARED : 0));
	ASSERT_EQ(0, sema_set_starve_threshold(self->s, HSEMA_NO_STARVE_US));
	atomic_store(&self->seq, 0);
}

FIXTURE_TEARDOWN(fifo)
{
	/* Waiter threads still blocked die with the test process. */
	if (self->fd >= 0)
		close(self->fd);
}

/* Queue waiter i and wait until the kernel shows i + 1 waiters. */
static int queue_waiter(FIXTURE_DATA(fifo) *self, int i,
			struct hsema_query *q)
{
	int ret;

	waiter_init(&self->w[i], self->s, i, &self->seq);
	ret = waiter_start(&self->w[i]);
	if (ret)
		return ret;
	return hsema_wait_queued(self->fd, self->s, self->qf, i + 1, q);
}

/* The waiter that returned @order-th, or -1. */
static int who_returned(FIXTURE_DATA(fifo) *self, int n, int order)
{
	int i;

	for (i = 0; i < n; i++)
		if (atomic_load(&self->w[i].done) && self->w[i].order == order)
			return i;
	return -1;
}

/*
 * NW waiters queued in a known order are released one unit at a time:
 * each release lets exactly the head acquire, in queue order, and the
 * head ticket advances to the next waiter's ticket.
 */
TEST_F(fifo, order_one_at_a_time)
{
	struct hsema_stats before, after;
	struct hsema_query q;
	__u64 ticket[NW];
	int i, k;

	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, queue_waiter(self, i, &q))
			TH_LOG("waiter %d not queued (nr_waiters %u)", i,
			       q.nr_waiters);
		ticket[i] = q.tail_ticket;
		if (i > 0)
			ASSERT_LT(ticket[i - 1], ticket[i])
				TH_LOG("tickets not increasing in queue order");
		ASSERT_EQ(ticket[0], q.head_ticket);
	}
	ASSERT_EQ(0, hsema_stats(self->fd, &before));

	for (k = 0; k < NW; k++) {
		ASSERT_EQ(0, sema_release(self->s));
		ASSERT_EQ(0, wait_atomic_ge(&self->seq, k + 1))
			TH_LOG("release %d: nobody acquired", k);
		i = who_returned(self, NW, k);
		ASSERT_EQ(k, i) TH_LOG("release %d acquired by waiter %d", k, i);
		EXPECT_EQ(0, self->w[k].ret);
		ASSERT_EQ(0, hsema_wait_queued(self->fd, self->s, self->qf,
					       NW - k - 1, &q))
			TH_LOG("after release %d: %u waiters", k, q.nr_waiters);
		if (k + 1 < NW) {
			EXPECT_EQ(ticket[k + 1], q.head_ticket);
			EXPECT_EQ(ticket[NW - 1], q.tail_ticket);
		}
		EXPECT_EQ(0, hsema_value(self->s));
		/* Nobody else moved. */
		EXPECT_EQ(k + 1, atomic_load(&self->seq));
	}
	for (i = 0; i < NW; i++)
		waiter_join(&self->w[i]);

	ASSERT_EQ(0, hsema_stats(self->fd, &after));
	EXPECT_EQ(NW, after.wakes - before.wakes);
	EXPECT_EQ(0, after.grants - before.grants);
	EXPECT_EQ(0, after.starve_enter - before.starve_enter);
	EXPECT_EQ(0, after.requeues - before.requeues);
	EXPECT_EQ(0, hsema_word(self->s));
}

/* QUERY: empty queue, then a queue of 3 with a growing head wait. */
TEST_F(fifo, query_snapshot)
{
	struct hsema_query q, q2;
	unsigned int word;
	int i;

	ASSERT_EQ(0, hsema_query(self->fd, self->s, self->qf, &q));
	EXPECT_EQ(0, q.nr_waiters);
	EXPECT_EQ(0, q.nr_woken);
	EXPECT_EQ(0, q.starving);
	EXPECT_EQ(0, q.reserved[0]);
	EXPECT_EQ(0, q.reserved[1]);
	EXPECT_EQ(0, hsema_word(self->s));

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, queue_waiter(self, i, &q));
	EXPECT_EQ(3, q.nr_waiters);
	EXPECT_EQ(0, q.nr_woken);
	EXPECT_EQ(0, q.starving);
	EXPECT_LT(q.head_ticket, q.tail_ticket);
	EXPECT_EQ(0, q.reserved[0]);
	EXPECT_EQ(0, q.reserved[1]);
	word = hsema_word(self->s);
	EXPECT_EQ(HSEMA_WAITERS, word) TH_LOG("word %#x", word);

	msleep(20);
	ASSERT_EQ(0, hsema_query(self->fd, self->s, self->qf, &q2));
	EXPECT_EQ(q.head_ticket, q2.head_ticket);
	EXPECT_LT(q.head_wait_ns, q2.head_wait_ns);
	/* It has waited at least the 20 ms we slept. */
	EXPECT_LE(20000000ULL, q2.head_wait_ns);

	ASSERT_EQ(0, sema_release_n(self->s, 3));
	ASSERT_EQ(0, wait_atomic_ge(&self->seq, 3));
	for (i = 0; i < 3; i++) {
		waiter_join(&self->w[i]);
		EXPECT_EQ(0, self->w[i].ret);
	}
	ASSERT_EQ(0, hsema_wait_queued(self->fd, self->s, self->qf, 0, &q));
	EXPECT_EQ(0, q.starving);
	EXPECT_EQ(0, hsema_word(self->s)) TH_LOG("word %#x", hsema_word(self->s));
}

/*
 * A woken waiter that loses the released unit to a barging tryacquire
 * keeps its ticket at the head; a waiter queued behind it does not
 * overtake it.  All threads share one CPU and the waiter is SCHED_IDLE,
 * so it cannot run between the release and the barging tryacquire.
 */
TEST_F(fifo, requeue_keeps_place)
{
	struct hsema_stats before, now;
	struct hsema_query q;
	struct waiter *a = &self->w[0], *b = &self->w[1];
	int cpu = first_allowed_cpu();
	bool barged = false;
	__u64 head = 0;
	int64_t end;
	int attempt, ret;

	ASSERT_EQ(0, pin_self(cpu));
	for (attempt = 0; attempt < 20 && !barged; attempt++) {
		atomic_store(&self->seq, 0);
		waiter_init(a, self->s, 0, &self->seq);
		a->cpu = cpu;
		a->idle = true;
		ASSERT_EQ(0, waiter_start(a));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, self->s, self->qf, 1, &q));
		ASSERT_EQ(0, a->setup_err) TH_LOG("pin/SCHED_IDLE: %s",
						  strerror(a->setup_err));
		head = q.head_ticket;
		ASSERT_EQ(0, hsema_stats(self->fd, &before));

		/* No sleeping from here until the tryacquire. */
		ASSERT_EQ(0, sema_release(self->s));
		ret = sema_tryacquire(self->s);
		if (ret == 0) {
			barged = true;
			break;
		}
		ASSERT_EQ(-EAGAIN, ret);
		/* The waiter got there first: it owns the unit; retry. */
		ASSERT_EQ(0, waiter_wait_done(a));
		waiter_join(a);
		ASSERT_EQ(0, a->ret);
	}
	ASSERT_TRUE(barged) TH_LOG("tryacquire never beat the woken waiter");
	TH_LOG("barged on attempt %d", attempt + 1);

	/* Let the woken waiter run: it finds no unit and requeues. */
	end = now_ns(CLOCK_MONOTONIC) + HSEMA_POLL_MS * 1000000LL;
	do {
		msleep(1);
		ASSERT_EQ(0, hsema_stats(self->fd, &now));
	} while (now.requeues == before.requeues && !atomic_load(&a->done) &&
		 now_ns(CLOCK_MONOTONIC) < end);
	ASSERT_FALSE(atomic_load(&a->done))
		TH_LOG("waiter returned %d though the unit was taken", a->ret);
	EXPECT_EQ(1, now.requeues - before.requeues);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, self->s, self->qf, 1, &q));
	EXPECT_EQ(head, q.head_ticket) TH_LOG("requeued waiter lost its place");
	EXPECT_EQ(0, hsema_value(self->s));

	/* A second waiter (normal priority) queues behind it. */
	waiter_init(b, self->s, 1, &self->seq);
	b->cpu = cpu;
	ASSERT_EQ(0, waiter_start(b));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, self->s, self->qf, 2, &q));
	EXPECT_EQ(head, q.head_ticket);
	EXPECT_LT(head, q.tail_ticket);

	/* Give back the barged unit: the requeued waiter gets it. */
	ASSERT_EQ(0, sema_release(self->s));
	ASSERT_EQ(0, wait_atomic_ge(&self->seq, 1));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, self->s, self->qf, 1, &q));
	EXPECT_TRUE(atomic_load(&a->done));
	EXPECT_EQ(0, a->ret);
	EXPECT_EQ(0, a->order);
	EXPECT_FALSE(atomic_load(&b->done)) TH_LOG("second waiter overtook");

	ASSERT_EQ(0, sema_release(self->s));
	ASSERT_EQ(0, waiter_wait_done(b));
	EXPECT_EQ(0, b->ret);
	waiter_join(a);
	waiter_join(b);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, self->s, self->qf, 0, &q));
	EXPECT_EQ(0, hsema_word(self->s));
}

/* sema_destroy() with a waiter: -EBUSY, and the semaphore still works. */
TEST_F(fifo, destroy_busy)
{
	struct hsema_query q;

	ASSERT_EQ(0, queue_waiter(self, 0, &q));
	EXPECT_EQ(-EBUSY, sema_destroy(self->s));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, self->s, self->qf, 1, &q));
	EXPECT_FALSE(atomic_load(&self->w[0].done));

	ASSERT_EQ(0, sema_release(self->s));
	ASSERT_EQ(0, waiter_wait_done(&self->w[0]));
	waiter_join(&self->w[0]);
	EXPECT_EQ(0, self->w[0].ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, self->s, self->qf, 0, &q));

	/* Still usable after the refused destroy. */
	EXPECT_EQ(0, sema_release(self->s));
	EXPECT_EQ(0, sema_tryacquire(self->s));
	EXPECT_EQ(-EAGAIN, sema_tryacquire(self->s));
	EXPECT_EQ(0, sema_destroy(self->s));
}

TEST_HARNESS_MAIN
