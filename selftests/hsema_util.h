/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the hsema semantic selftests: QUERY and STATS
 * wrappers, "wait until N waiters are queued", time arithmetic, CPU
 * pinning and priority, and a waiter thread that records when and in
 * which order it got its unit.
 *
 * Worker threads and child processes must never use ASSERT_*() (it
 * longjmp()s into the test's main thread); they record results that the
 * main thread checks.
 */
#ifndef HSEMA_UTIL_H
#define HSEMA_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>
#include "sema.h"

/* Upper bound for any "wait until the kernel shows X" poll. */
#define HSEMA_POLL_MS		10000

/* A starvation threshold that keeps a test in normal mode (10 s). */
#define HSEMA_NO_STARVE_US	10000000U
/* A threshold that makes every release to a queued waiter a grant. */
#define HSEMA_ALWAYS_STARVE_US	1U

static inline int hsema_open(void)
{
	return open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
}

static inline __u64 hsema_uaddr(sema_t *s)
{
	return (__u64)(uintptr_t)&s->__word;
}

static inline unsigned int hsema_word(sema_t *s)
{
	return __atomic_load_n(&s->__word, __ATOMIC_SEQ_CST);
}

static inline unsigned int hsema_value(sema_t *s)
{
	return hsema_word(s) & HSEMA_VALUE_MASK;
}

/* @qflags: HSEMA_F_SHARED for SEMA_SHARED semaphores, else 0. */
static inline int hsema_query(int fd, sema_t *s, unsigned int qflags,
			      struct hsema_query *q)
{
	memset(q, 0, sizeof(*q));
	q->uaddr = hsema_uaddr(s);
	q->flags = qflags;
	return ioctl(fd, HSEMA_IOC_QUERY, q) ? -errno : 0;
}

static inline int hsema_stats(int fd, struct hsema_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(fd, HSEMA_IOC_STATS, st) ? -errno : 0;
}

static inline __u64 hsema_refused_total(const struct hsema_stats *st)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i <= HSEMA_REFUSE_MAX; i++)
		sum += st->refused[i];
	return sum;
}

static inline void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline void usleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline struct timespec ns_to_ts(int64_t ns)
{
	struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };

	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000L;
		ts.tv_sec--;
	}
	return ts;
}

static inline int64_t ts_to_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* An absolute deadline @delta_ns from now on @clock (may be negative). */
static inline struct timespec deadline_in(clockid_t clock, int64_t delta_ns)
{
	return ns_to_ts(now_ns(clock) + delta_ns);
}

/* Busy-wait (no sleeping) for about @ns on CLOCK_MONOTONIC. */
static inline void spin_ns(int64_t ns)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + ns;

	while (now_ns(CLOCK_MONOTONIC) < end)
		;
}

/*
 * HSEMA_IOC_WAKE of @count units of @s with @flags, as code that does not
 * go through libsema's release makes it; 0 or -errno, the answer in *@k.
 */
static inline int hsema_raw_wake(int fd, sema_t *s, unsigned int count,
				 unsigned int flags, struct hsema_wake *k)
{
	memset(k, 0, sizeof(*k));
	k->uaddr = hsema_uaddr(s);
	k->count = count;
	k->flags = flags;
	return ioctl(fd, HSEMA_IOC_WAKE, k) ? -errno : 0;
}

/*
 * Poll QUERY until the queue of @s holds @n waiters, none of them woken
 * and not yet running.  Returns 0 (and the last snapshot in @q), the
 * QUERY error, or -ETIMEDOUT after HSEMA_POLL_MS.
 */
static inline int hsema_wait_queued(int fd, sema_t *s, unsigned int qflags,
				    unsigned int n, struct hsema_query *q)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + HSEMA_POLL_MS * 1000000LL;
	struct hsema_query tmp;
	int ret;

	if (!q)
		q = &tmp;
	for (;;) {
		ret = hsema_query(fd, s, qflags, q);
		if (ret)
			return ret;
		if (q->nr_waiters == n && q->nr_woken == 0)
			return 0;
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -ETIMEDOUT;
		usleep_ns(200000);	/* 200 us: let the others run */
	}
}

/* Poll until *@v reaches @n; 0 or -ETIMEDOUT after HSEMA_POLL_MS. */
static inline int wait_atomic_ge(atomic_int *v, int n)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + HSEMA_POLL_MS * 1000000LL;

	while (atomic_load(v) < n) {
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -ETIMEDOUT;
		usleep_ns(200000);
	}
	return 0;
}

static inline pid_t hsema_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Pin the calling thread to @cpu; 0 or -errno. */
static inline int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* The lowest CPU the calling thread may run on. */
static inline int first_allowed_cpu(void)
{
	cpu_set_t set;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			return cpu;
	return 0;
}

/* Make the calling thread SCHED_IDLE; 0 or -errno. */
static inline int idle_self(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	return sched_setscheduler(0, SCHED_IDLE, &sp) ? -errno : 0;
}

/* Renice the calling thread (not the whole process); 0 or -errno. */
static inline int nice_self(int nice)
{
	return setpriority(PRIO_PROCESS, hsema_gettid(), nice) ? -errno : 0;
}

/*
 * A waiter thread: optionally pins itself and lowers its priority, then
 * acquires (blocking or with a deadline) and records the result and the
 * order in which it returned (through a counter shared by all waiters of
 * a test).  If @hold_until is set, it keeps its unit until that flag is
 * raised and then releases it (not counted as its result).
 */
enum waiter_op { W_ACQUIRE, W_TIMED, W_RAW_WAIT };

struct waiter {
	pthread_t thr;
	sema_t *s;
	int idx;			/* the order it was queued in */
	enum waiter_op op;
	struct timespec deadline;	/* W_TIMED */
	clockid_t clock;		/* W_TIMED */
	int rawfd;			/* W_RAW_WAIT: fd of /dev/hsema */
	unsigned int rawflags;		/* W_RAW_WAIT: HSEMA_F_SHARED or 0 */
	__u64 starve_ns;		/* W_RAW_WAIT: per-waiter threshold */
	int cpu;			/* pin to this CPU if >= 0 */
	bool idle;			/* SCHED_IDLE */
	atomic_int *seq;		/* completion counter, may be NULL */
	atomic_int started;		/* about to acquire */
	atomic_int done;		/* returned */
	int ret;			/* what the acquire returned */
	int order;			/* value of *seq when it returned */
	int setup_err;			/* pinning or priority failed */
};

static __attribute__((unused)) void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct hsema_wait hw;
	int ret;

	if (w->cpu >= 0 && pin_self(w->cpu))
		w->setup_err = errno;
	if (w->idle && idle_self())
		w->setup_err = errno;
	atomic_store(&w->started, 1);
	switch (w->op) {
	case W_TIMED:
		ret = sema_timedacquire(w->s, &w->deadline, w->clock);
		break;
	case W_RAW_WAIT:
		memset(&hw, 0, sizeof(hw));
		hw.uaddr = hsema_uaddr(w->s);
		hw.flags = w->rawflags;
		hw.starve_ns = w->starve_ns;
		ret = ioctl(w->rawfd, HSEMA_IOC_WAIT, &hw) ? -errno : 0;
		break;
	default:
		ret = sema_acquire(w->s);
		break;
	}
	w->ret = ret;
	w->order = w->seq ? atomic_fetch_add(w->seq, 1) : 0;
	atomic_store(&w->done, 1);
	return NULL;
}

static inline void waiter_init(struct waiter *w, sema_t *s, int idx,
			       atomic_int *seq)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->idx = idx;
	w->seq = seq;
	w->cpu = -1;
	w->rawfd = -1;
	w->ret = 1;		/* "not returned" */
	w->order = -1;
}

static inline int waiter_start(struct waiter *w)
{
	return -pthread_create(&w->thr, NULL, waiter_fn, w);
}

static inline void waiter_join(struct waiter *w)
{
	pthread_join(w->thr, NULL);
}

/* Poll until @w returned; 0 or -ETIMEDOUT after HSEMA_POLL_MS. */
static inline int waiter_wait_done(struct waiter *w)
{
	return wait_atomic_ge(&w->done, 1);
}

/* Handlers for EINTR tests. */
static __attribute__((unused)) atomic_int hsema_sig_count;

static __attribute__((unused)) void hsema_sig_handler(int sig)
{
	(void)sig;
	atomic_fetch_add(&hsema_sig_count, 1);
}

static inline int install_handler(int sig, bool restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = hsema_sig_handler;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL) ? -errno : 0;
}

/*
 * A SCHED_FIFO thread pinned to one CPU that spins until stopped: while it
 * runs, no SCHED_OTHER task can run on that CPU, nor a kernel thread of
 * its priority or below.  A thread that must stop it may itself wait on
 * something that needs that CPU (a sleeping lock whose holder the hog
 * preempted), and that would hang the guest; so a hog gives up after
 * HOG_MAX_NS, says on stderr where its stopper is in the kernel, and
 * hog_stop() reports it.
 */
#ifndef HOG_MAX_NS
#define HOG_MAX_NS	(30 * 1000000000LL)
#endif

struct hog {
	pthread_t thr;
	pid_t stopper;		/* the thread that started it */
	atomic_int running;
	atomic_int stop;
	atomic_int expired;
};

static __attribute__((unused)) void hog_report(pid_t tid)
{
	char path[64], buf[4096];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", (int)tid);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	fprintf(stderr, "# hog: not stopped in %lld ms; thread %d is at:\n%s",
		HOG_MAX_NS / 1000000LL, (int)tid, n > 0 ? buf : "(unknown)\n");
}

static __attribute__((unused)) void *hog_fn(void *arg)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + HOG_MAX_NS;
	struct hog *h = arg;
	unsigned int i = 0;

	atomic_store(&h->running, 1);
	while (!atomic_load(&h->stop)) {
		if (++i % 4096 == 0 && now_ns(CLOCK_MONOTONIC) > end) {
			atomic_store(&h->expired, 1);
			hog_report(h->stopper);
			break;
		}
	}
	return NULL;
}

/*
 * Start a hog at SCHED_FIFO @prio on @cpu; if @wait, return once it
 * runs.  0 or -errno (-EPERM without CAP_SYS_NICE).
 */
static inline int hog_start(struct hog *h, int cpu, int prio, bool wait)
{
	struct sched_param sp = { .sched_priority = prio };
	pthread_attr_t attr;
	cpu_set_t set;
	int ret;

	atomic_store(&h->running, 0);
	atomic_store(&h->stop, 0);
	atomic_store(&h->expired, 0);
	h->stopper = (pid_t)syscall(SYS_gettid);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_attr_init(&attr);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &sp);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	ret = pthread_create(&h->thr, &attr, hog_fn, h);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	if (wait && wait_atomic_ge(&h->running, 1)) {
		atomic_store(&h->stop, 1);
		pthread_join(h->thr, NULL);
		return -ETIMEDOUT;
	}
	return 0;
}

/* Stop the hog; true if it had given up on its own (HOG_MAX_NS). */
static inline bool hog_stop(struct hog *h)
{
	atomic_store(&h->stop, 1);
	pthread_join(h->thr, NULL);
	return atomic_load(&h->expired);
}

/* The @n-th CPU (from 0) the calling thread may run on, or -1. */
static inline int nth_allowed_cpu(int n)
{
	cpu_set_t set;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set) && n-- == 0)
			return cpu;
	return -1;
}

/* Cheap xorshift PRNG, per thread. */
static inline unsigned int xrand(unsigned int *state)
{
	unsigned int x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x ? x : 0x9e3779b9U;
	return *state;
}

#endif /* HSEMA_UTIL_H */
