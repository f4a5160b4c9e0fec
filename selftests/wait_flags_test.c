// SPDX-License-Identifier: GPL-2.0-only
/*
 * HSEMA_WAIT_EINTR and HSEMA_WAIT_OWNED, the two WAIT flags POSIX
 * semaphores need (libsema-posix):
 *
 * - every bad input is EINVAL (OWNED without an address, a misaligned
 *   one, an address without the flag, reserved1 set) or EFAULT (an
 *   address that cannot be written), with nothing taken, nothing queued
 *   and the report untouched;
 * - the report reads 1 exactly when the call returned 0 (a unit taken
 *   from the word or granted), 0 after a timeout or a signal;
 * - a report that cannot be written when the unit comes (its page was
 *   unmapped while the waiter slept) fails the call with EFAULT and
 *   passes the unit on, in normal and in starvation mode;
 * - EINTR: a handler installed with SA_RESTART ends the wait with EINTR
 *   (without the flag the wait restarts, as before), while a stop and
 *   continue, which runs no handler, restarts it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

#define PAGE		4096UL
#define POISON		0xdeadbeefU

FIXTURE(flags) {
	int fd;
	sema_t s;
};

FIXTURE_SETUP(flags)
{
	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	ASSERT_EQ(0, sema_init(&self->s, 0, 0));
	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_NO_STARVE_US));
	atomic_store(&hsema_sig_count, 0);
}

FIXTURE_TEARDOWN(flags)
{
	if (self->fd >= 0)
		close(self->fd);
}

static struct hsema_wait req(sema_t *s, unsigned int flags, uint32_t *owned)
{
	struct hsema_wait w;

	memset(&w, 0, sizeof(w));
	w.uaddr = hsema_uaddr(s);
	w.flags = flags;
	w.owned = (uintptr_t)owned;
	w.starve_ns = (__u64)s->__starve_us * 1000;
	return w;
}

/* A deadline that passed: the call returns at once. */
static void passed(struct hsema_wait *w)
{
	w->flags |= HSEMA_WAIT_TIMEOUT;
	w->deadline_sec = 0;
	w->deadline_nsec = 0;
}

static int xwait(int fd, struct hsema_wait *w)
{
	return ioctl(fd, HSEMA_IOC_WAIT, w) ? errno : 0;
}

TEST_F(flags, features)
{
	struct hsema_version v;

	memset(&v, 0, sizeof(v));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_VERSION, &v));
	EXPECT_EQ(HSEMA_FEAT_WAIT_EINTR, v.features & HSEMA_FEAT_WAIT_EINTR);
	EXPECT_EQ(HSEMA_FEAT_WAIT_OWNED, v.features & HSEMA_FEAT_WAIT_OWNED);
}

/*
 * Each bad request, on a word holding 1 and on one holding 0: EINVAL, the
 * unit still there, the report untouched, nobody queued.  Only with
 * WAIT_OWNED may the first reserved word be set, and then to an aligned,
 * non-null address; the second must stay zero.
 */
TEST_F(flags, bad_inputs)
{
	uint32_t report[2] = { POISON, POISON };
	char *base = (char *)report;
	struct hsema_query q;
	struct hsema_wait w;
	unsigned int v, i;

	for (v = 0; v < 2; v++) {
		__atomic_store_n(&self->s.__word, v, __ATOMIC_SEQ_CST);
		for (i = 0; i < 7; i++) {
			w = req(&self->s, HSEMA_WAIT_OWNED, report);
			passed(&w);
			switch (i) {
			case 0:		/* no address */
				w.owned = 0;
				break;
			case 1:		/* misaligned, by 1 */
			case 2:		/* by 2 */
			case 3:		/* by 3 */
				w.owned = (uintptr_t)(base + i);
				break;
			case 4:		/* an address without the flag */
				w.flags &= ~HSEMA_WAIT_OWNED;
				break;
			case 5:		/* reserved1 */
				w.reserved1 = 1;
				break;
			default:	/* both new flags, reserved1's top bit */
				w.flags |= HSEMA_WAIT_EINTR;
				w.reserved1 = 1ULL << 63;
				break;
			}
			EXPECT_EQ(EINVAL, xwait(self->fd, &w))
				TH_LOG("case %u, value %u", i, v);
			EXPECT_EQ(v, hsema_word(&self->s))
				TH_LOG("case %u changed the word", i);
			EXPECT_EQ(POISON, report[0]) TH_LOG("case %u", i);
			EXPECT_EQ(POISON, report[1]) TH_LOG("case %u", i);
		}
		/* Still: REALTIME needs TIMEOUT, whatever else is set. */
		w = req(&self->s, HSEMA_WAIT_OWNED | HSEMA_WAIT_EINTR |
			HSEMA_WAIT_REALTIME, report);
		EXPECT_EQ(EINVAL, xwait(self->fd, &w));
		EXPECT_EQ(POISON, report[0]);
		ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
		EXPECT_EQ(0, q.nr_waiters);
	}
}

/*
 * A report that cannot be written, read-only or unmapped: EFAULT before
 * anything is done: the unit stays in the word, nobody is queued.
 */
TEST_F(flags, report_unwritable)
{
	struct hsema_query q;
	struct hsema_wait w;
	uint32_t *ro, *gone;
	unsigned int v;

	ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	ASSERT_EQ(0, munmap(gone, PAGE));

	for (v = 0; v < 2; v++) {
		__atomic_store_n(&self->s.__word, v, __ATOMIC_SEQ_CST);
		w = req(&self->s, HSEMA_WAIT_OWNED, ro);
		passed(&w);
		EXPECT_EQ(EFAULT, xwait(self->fd, &w)) TH_LOG("read-only");
		EXPECT_EQ(v, hsema_word(&self->s));
		w = req(&self->s, HSEMA_WAIT_OWNED, gone);
		passed(&w);
		EXPECT_EQ(EFAULT, xwait(self->fd, &w)) TH_LOG("unmapped");
		EXPECT_EQ(v, hsema_word(&self->s));
		/* An untimed one too: it must not sleep first. */
		w = req(&self->s, HSEMA_WAIT_OWNED, gone);
		EXPECT_EQ(EFAULT, xwait(self->fd, &w)) TH_LOG("untimed");
		EXPECT_EQ(v, hsema_word(&self->s));
		ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
		EXPECT_EQ(0, q.nr_waiters);
	}
	munmap(ro, PAGE);
}

/* A unit in the word: 0, the report reads 1, the unit is gone. */
TEST_F(flags, report_taken)
{
	uint32_t report = POISON;
	struct hsema_wait w;

	ASSERT_EQ(0, sema_release(&self->s));
	w = req(&self->s, HSEMA_WAIT_OWNED, &report);
	passed(&w);
	EXPECT_EQ(0, xwait(self->fd, &w));
	EXPECT_EQ(1, report);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/* A timeout: ETIMEDOUT and the report reads 0, whatever it held. */
TEST_F(flags, report_timeout)
{
	uint32_t report = POISON;
	struct hsema_wait w;
	struct timespec dl;

	w = req(&self->s, HSEMA_WAIT_OWNED, &report);
	passed(&w);
	EXPECT_EQ(ETIMEDOUT, xwait(self->fd, &w));
	EXPECT_EQ(0, report);

	report = POISON;
	dl = deadline_in(CLOCK_MONOTONIC, 20000000LL);
	w = req(&self->s, HSEMA_WAIT_OWNED | HSEMA_WAIT_TIMEOUT, &report);
	w.deadline_sec = dl.tv_sec;
	w.deadline_nsec = dl.tv_nsec;
	EXPECT_EQ(ETIMEDOUT, xwait(self->fd, &w));
	EXPECT_EQ(0, report);
	EXPECT_EQ(0, hsema_word(&self->s));
}

/* A waiter thread with its own request, run by flag_waiter(). */
struct fwaiter {
	pthread_t thr;
	int fd;
	struct hsema_wait w;
	uint32_t *report;
	atomic_int done;
	int err;
};

static void *fwaiter_fn(void *arg)
{
	struct fwaiter *f = arg;

	f->err = xwait(f->fd, &f->w);
	atomic_store(&f->done, 1);
	return NULL;
}

static int fwaiter_start(struct fwaiter *f)
{
	atomic_store(&f->done, 0);
	f->err = -1;
	return pthread_create(&f->thr, NULL, fwaiter_fn, f);
}

/*
 * Granted or taken after a sleep: the report reads 1, in normal mode (a
 * wake-up, the waiter takes the unit) and in starvation mode (a grant).
 */
TEST_F(flags, report_after_sleep)
{
	static const unsigned int thresholds[] = {
		HSEMA_NO_STARVE_US, HSEMA_ALWAYS_STARVE_US
	};
	uint32_t report;
	struct fwaiter f;
	unsigned int m;

	for (m = 0; m < 2; m++) {
		ASSERT_EQ(0, sema_set_starve_threshold(&self->s, thresholds[m]));
		report = POISON;
		f.fd = self->fd;
		f.w = req(&self->s, HSEMA_WAIT_OWNED | HSEMA_WAIT_EINTR, &report);
		ASSERT_EQ(0, fwaiter_start(&f));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, NULL));
		msleep(2);		/* past the 1 us threshold */
		ASSERT_EQ(0, sema_release(&self->s));
		pthread_join(f.thr, NULL);
		EXPECT_EQ(0, f.err) TH_LOG("mode %u", m);
		EXPECT_EQ(1, report) TH_LOG("mode %u", m);
		EXPECT_EQ(0, hsema_value(&self->s)) TH_LOG("mode %u", m);
	}
}

/*
 * The report's page unmapped while its waiter sleeps: the waiter's unit,
 * taken (normal mode) or granted (starvation), cannot be reported, so the
 * call fails with EFAULT and the unit goes on to the next waiter, which
 * returns 0 with its report at 1.  Nothing is left in the word.
 */
TEST_F(flags, unreportable_unit_passed_on)
{
	static const unsigned int thresholds[] = {
		HSEMA_NO_STARVE_US, HSEMA_ALWAYS_STARVE_US
	};
	struct fwaiter a, b;
	uint32_t *page, report_b;
	struct hsema_query q;
	unsigned int m;

	for (m = 0; m < 2; m++) {
		ASSERT_EQ(0, sema_set_starve_threshold(&self->s, thresholds[m]));
		page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, page);
		report_b = POISON;
		a.fd = b.fd = self->fd;
		a.w = req(&self->s, HSEMA_WAIT_OWNED, page);
		b.w = req(&self->s, HSEMA_WAIT_OWNED, &report_b);
		ASSERT_EQ(0, fwaiter_start(&a));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, NULL));
		ASSERT_EQ(0, fwaiter_start(&b));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 2, NULL));
		EXPECT_EQ(0, *page) TH_LOG("the report was not zeroed first");
		ASSERT_EQ(0, munmap(page, PAGE));
		msleep(2);
		ASSERT_EQ(0, sema_release(&self->s));
		pthread_join(a.thr, NULL);
		pthread_join(b.thr, NULL);
		EXPECT_EQ(EFAULT, a.err) TH_LOG("mode %u", m);
		EXPECT_EQ(0, b.err) TH_LOG("mode %u", m);
		EXPECT_EQ(1, report_b) TH_LOG("mode %u", m);
		EXPECT_EQ(0, hsema_value(&self->s)) TH_LOG("mode %u", m);
		ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
		EXPECT_EQ(0, q.nr_waiters);
	}
}

/*
 * A handler installed with SA_RESTART: with WAIT_EINTR the wait ends with
 * EINTR (untimed and timed), the report reads 0 and the waiter has left;
 * without it the untimed wait restarts and still gets the next unit.
 */
TEST_F(flags, eintr_despite_sa_restart)
{
	struct hsema_query q;
	struct timespec dl;
	uint32_t report;
	struct fwaiter f;
	unsigned int i;

	ASSERT_EQ(0, install_handler(SIGUSR1, true));
	for (i = 0; i < 3; i++) {
		report = POISON;
		f.fd = self->fd;
		if (i == 2) {
			f.w = req(&self->s, 0, NULL);
		} else {
			f.w = req(&self->s, HSEMA_WAIT_EINTR | HSEMA_WAIT_OWNED,
				  &report);
			if (i == 1) {
				dl = deadline_in(CLOCK_REALTIME, 60000000000LL);
				f.w.flags |= HSEMA_WAIT_TIMEOUT | HSEMA_WAIT_REALTIME;
				f.w.deadline_sec = dl.tv_sec;
				f.w.deadline_nsec = dl.tv_nsec;
			}
		}
		ASSERT_EQ(0, fwaiter_start(&f));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, NULL));
		ASSERT_EQ(0, pthread_kill(f.thr, SIGUSR1));
		if (i < 2) {
			pthread_join(f.thr, NULL);
			EXPECT_EQ(EINTR, f.err) TH_LOG("case %u", i);
			EXPECT_EQ(0, report) TH_LOG("case %u", i);
			ASSERT_EQ(0, hsema_query(self->fd, &self->s, 0, &q));
			EXPECT_EQ(0, q.nr_waiters);
			continue;
		}
		/* Without the flag: handled, then queued again. */
		ASSERT_EQ(0, wait_atomic_ge(&hsema_sig_count, 3));
		ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, NULL));
		EXPECT_EQ(0, atomic_load(&f.done));
		ASSERT_EQ(0, sema_release(&self->s));
		pthread_join(f.thr, NULL);
		EXPECT_EQ(0, f.err);
	}
	EXPECT_EQ(3, atomic_load(&hsema_sig_count));
	EXPECT_EQ(0, hsema_word(&self->s));
}

/*
 * A stop and a continue run no handler: a WAIT_EINTR waiter (in a child,
 * so that the stop stops nobody else) leaves the queue for the stop,
 * restarts after the continue, and returns 0 when a unit comes.
 */
TEST_F(flags, stop_continue_restarts)
{
	struct hsema_query q;
	struct hsema_wait w;
	int status, i;
	sema_t *s;
	pid_t pid;

	s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s);
	ASSERT_EQ(0, sema_init(s, 0, SEMA_SHARED));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint32_t report = POISON;

		w = req(s, HSEMA_F_SHARED | HSEMA_WAIT_EINTR | HSEMA_WAIT_OWNED,
			&report);
		if (xwait(self->fd, &w))
			_exit(1);
		_exit(report == 1 ? 0 : 2);
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, hsema_wait_queued(self->fd, s, HSEMA_F_SHARED, 1,
					       &q));
		ASSERT_EQ(0, kill(pid, SIGSTOP));
		ASSERT_EQ(pid, waitpid(pid, &status, WUNTRACED));
		ASSERT_TRUE(WIFSTOPPED(status));
		ASSERT_EQ(0, hsema_query(self->fd, s, HSEMA_F_SHARED, &q));
		EXPECT_EQ(0, q.nr_waiters) TH_LOG("a stopped waiter stays queued");
		ASSERT_EQ(0, kill(pid, SIGCONT));
	}
	ASSERT_EQ(0, hsema_wait_queued(self->fd, s, HSEMA_F_SHARED, 1, &q));
	ASSERT_EQ(0, sema_release(s));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, hsema_value(s));
	munmap(s, PAGE);
}

TEST_HARNESS_MAIN
