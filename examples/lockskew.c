// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * lockskew: why hsema hands a released unit directly to a starving waiter.
 *
 * Go issue 13086 ("sync: mutex is unfair"): one goroutine re-acquires a
 * lock in a tight loop while others ask for it now and then.  With a lock
 * whose release only wakes a waiter to compete, the woken waiter nearly
 * always finds the lock taken again by the releaser, which never left the
 * CPU, and goes back to sleep; it can wait for a very long time.
 *
 * This program runs that workload on a semaphore of initial value 1, used
 * as a lock, with libsema and with glibc's sem_t, for the same time each
 * (in alternating rounds of half a second, so that whatever else the
 * machine does weighs on both alike), and prints per thread how often it
 * got the lock and the longest it waited for it, from asking to getting.
 * Thread 0 is greedy: acquire, a short busy critical section, release,
 * acquire again at once.  The other threads are occasional: acquire, a
 * tiny section, release, sleep about 1 ms.
 *
 * By default all threads share one CPU and the occasional ones are
 * SCHED_BATCH, so that being woken does not let them preempt the greedy
 * thread: like a goroutine made runnable by an unlock, they wait for the
 * CPU.  When they get it, the greedy thread almost always holds the lock
 * again.  libsema's answer is the starvation mode: once the head waiter
 * has waited 1 ms, a release grants the unit to it and the releaser yields
 * its CPU to it.
 *
 * With -s, the greedy thread gets the first CPU to itself and the
 * occasional ones, SCHED_OTHER, share the others: a waiter woken on
 * another CPU needs microseconds to run, by which time the greedy thread
 * has taken the lock again.  This shows the same on real hardware, but
 * depends on how fast another CPU wakes up, which in a virtual machine on
 * a busy host can be slower than the starvation threshold.
 *
 * Build: cc -std=c11 -O2 -pthread -I../libsema -I../uapi lockskew.c
 *        ../libsema/libsema.a   (or: make -C examples)
 * Run:   lockskew [-s] [-t THREADS] [-d SECONDS] [-c USEC]
 * It needs the hsema module loaded (/dev/hsema) for the libsema half.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>
#include <sema.h>

#define MAX_THREADS	64
#define NSEC_PER_USEC	1000LL
#define NSEC_PER_MSEC	1000000LL
#define NSEC_PER_SEC	1000000000LL

enum impl { IMPL_LIBSEMA, IMPL_GLIBC, NR_IMPL };

static const char *const impl_name[NR_IMPL] = { "libsema", "glibc sem_t" };

struct lock {
	enum impl impl;
	sema_t sema;
	sem_t sem;
};

struct result {
	long long acquired;
	int64_t max_wait_ns;
};

struct worker {
	pthread_t thread;
	struct lock *lock;
	struct result res;
};

static bool spread;		/* -s */
static int nr_threads = 4;
static double duration = 2.0;
static int64_t hold_ns = 100 * NSEC_PER_USEC;	/* greedy critical section */
static int64_t sleep_ns = NSEC_PER_MSEC;	/* occasional threads' pause */

#define ROUND_SECS	0.5

static struct result total[NR_IMPL][MAX_THREADS];
static atomic_bool stop;
static pthread_barrier_t start;

static void die(const char *what, int err)
{
	fprintf(stderr, "lockskew: %s: %s\n", what, strerror(err));
	exit(1);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void lock_acquire(struct lock *l)
{
	int ret;

	if (l->impl == IMPL_LIBSEMA) {
		ret = sema_acquire(&l->sema);
		if (ret)
			die("sema_acquire", -ret);
		return;
	}
	while (sem_wait(&l->sem))
		if (errno != EINTR)
			die("sem_wait", errno);
}

static void lock_release(struct lock *l)
{
	int ret;

	if (l->impl == IMPL_LIBSEMA) {
		ret = sema_release(&l->sema);
		if (ret)
			die("sema_release", -ret);
		return;
	}
	if (sem_post(&l->sem))
		die("sem_post", errno);
}

/* Ask for the lock and note how long the asking took. */
static void timed_acquire(struct worker *w)
{
	int64_t asked = now_ns(), waited;

	lock_acquire(w->lock);
	waited = now_ns() - asked;
	w->res.acquired++;
	if (waited > w->res.max_wait_ns)
		w->res.max_wait_ns = waited;
}

/* Keep the CPU busy, as real work in a critical section would. */
static void busy(int64_t ns)
{
	int64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

static void *greedy(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(&start);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		timed_acquire(w);
		busy(hold_ns);
		lock_release(w->lock);
	}
	return NULL;
}

static void *occasional(void *arg)
{
	struct timespec pause = { 0, sleep_ns };
	struct sched_param sp = { 0 };
	struct worker *w = arg;
	int ret;

	if (!spread) {
		ret = pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
		if (ret)
			die("pthread_setschedparam(SCHED_BATCH)", ret);
	}
	pthread_barrier_wait(&start);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		timed_acquire(w);
		busy(NSEC_PER_USEC);
		lock_release(w->lock);
		clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, NULL);
	}
	return NULL;
}

/* The CPUs we may run on. */
static int cpus[CPU_SETSIZE], nr_cpus;

static void find_cpus(void)
{
	cpu_set_t set;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpus[nr_cpus++] = i;
}

/* The CPU thread @id is pinned to, or -1. */
static int cpu_of(int id)
{
	if (!nr_cpus)
		return -1;
	if (!spread)
		return cpus[0];
	if (nr_cpus < 2)
		return -1;
	if (id == 0)
		return cpus[0];
	return cpus[1 + (id - 1) % (nr_cpus - 1)];
}

/* Run the workload on @l for @secs seconds and add up its results. */
static void run(struct lock *l, double secs)
{
	struct timespec d = {
		.tv_sec = (time_t)secs,
		.tv_nsec = (long)((secs - (time_t)secs) * NSEC_PER_SEC),
	};
	struct worker w[MAX_THREADS];
	struct result *r = total[l->impl];
	pthread_attr_t attr;
	cpu_set_t set;
	int i, ret;

	atomic_store(&stop, false);
	ret = pthread_barrier_init(&start, NULL, nr_threads + 1);
	if (ret)
		die("pthread_barrier_init", ret);
	for (i = 0; i < nr_threads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].lock = l;
		pthread_attr_init(&attr);
		if (cpu_of(i) >= 0) {
			CPU_ZERO(&set);
			CPU_SET(cpu_of(i), &set);
			pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		}
		ret = pthread_create(&w[i].thread, &attr,
				     i ? occasional : greedy, &w[i]);
		if (ret)
			die("pthread_create", ret);
		pthread_attr_destroy(&attr);
	}
	pthread_barrier_wait(&start);
	clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL);
	atomic_store(&stop, true);
	for (i = 0; i < nr_threads; i++) {
		pthread_join(w[i].thread, NULL);
		r[i].acquired += w[i].res.acquired;
		if (w[i].res.max_wait_ns > r[i].max_wait_ns)
			r[i].max_wait_ns = w[i].res.max_wait_ns;
	}
	pthread_barrier_destroy(&start);
}

/* HSEMA_IOC_STATS, if the module is there; the counters are module-wide. */
static bool read_stats(struct hsema_stats *s)
{
	int fd = open(HSEMA_DEVICE, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = !ioctl(fd, HSEMA_IOC_STATS, s);
	close(fd);
	return ok;
}

static void fmt_ms(char *buf, size_t size, int64_t ns)
{
	snprintf(buf, size, "%.1f ms", (double)ns / NSEC_PER_MSEC);
}

/* @s centered over a column group 23 wide, in @buf (32 bytes). */
static const char *center(char *buf, const char *s, bool last)
{
	int len = (int)strlen(s), left = (23 - len) / 2;

	snprintf(buf, 32, "%*s%s%*s", left, "", s,
		 last ? 0 : 23 - len - left, "");
	return buf;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: lockskew [-s] [-t THREADS] [-d SECONDS] [-c USEC]\n"
		"  -s          spread: thread 0 alone on a CPU, the others on "
		"the rest\n"
		"  -t THREADS  threads, the first one greedy (default 4, 2..%d)\n"
		"  -d SECONDS  how long each implementation runs (default 2)\n"
		"  -c USEC     the greedy thread's critical section (default 100)\n",
		MAX_THREADS);
	exit(2);
}

int main(int argc, char **argv)
{
	struct hsema_stats before, after;
	int64_t worst[NR_IMPL] = { 0 };
	struct lock sema = { .impl = IMPL_LIBSEMA };
	struct lock sem = { .impl = IMPL_GLIBC };
	bool have_sema, have_stats;
	char a[32], b[32], who[32], *end;
	int opt, i, k, rounds, ret;

	while ((opt = getopt(argc, argv, "st:d:c:h")) != -1) {
		switch (opt) {
		case 's':
			spread = true;
			break;
		case 't':
			nr_threads = (int)strtol(optarg, &end, 10);
			if (*end || nr_threads < 2 || nr_threads > MAX_THREADS)
				usage();
			break;
		case 'd':
			duration = strtod(optarg, &end);
			if (*end || !(duration >= 0.1 && duration <= 3600))
				usage();
			break;
		case 'c':
			hold_ns = strtol(optarg, &end, 10) * NSEC_PER_USEC;
			if (*end || hold_ns < 0 || hold_ns > NSEC_PER_SEC)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	find_cpus();
	setvbuf(stdout, NULL, _IOLBF, 0);

	rounds = (int)(duration / ROUND_SECS + 0.5);
	if (rounds < 1)
		rounds = 1;
	printf("lockskew (Go issue 13086): %d threads share one lock "
	       "(a semaphore of 1)\n"
	       "for %.1f s per implementation, in %d round%s.  Thread 0 "
	       "re-acquires it at once\n"
	       "and holds it %lld us; the others ask for it about once "
	       "per ms.\n",
	       nr_threads, duration, rounds, rounds > 1 ? "s" : "",
	       (long long)(hold_ns / NSEC_PER_USEC));
	if (!spread && nr_cpus)
		printf("All on CPU %d; the others are SCHED_BATCH: "
		       "a wake-up does not preempt.\n", cpus[0]);
	else if (spread && nr_cpus > 1)
		printf("Thread 0 alone on CPU %d, the others on the "
		       "other CPUs.\n", cpus[0]);
	putchar('\n');

	ret = sema_init(&sema.sema, 1, 0);
	have_sema = !ret;
	if (ret && ret != -ENODEV)
		die("sema_init", -ret);
	if (sem_init(&sem.sem, 0, 1))
		die("sem_init", errno);
	have_stats = have_sema && read_stats(&before);
	for (i = 0; i < rounds; i++) {
		if (have_sema && !(i & 1))
			run(&sema, duration / rounds);
		run(&sem, duration / rounds);
		if (have_sema && (i & 1))
			run(&sema, duration / rounds);
	}
	have_stats = have_stats && read_stats(&after);
	if (have_sema) {
		ret = sema_destroy(&sema.sema);
		if (ret)
			die("sema_destroy", -ret);
	}
	sem_destroy(&sem.sem);

	printf("%-18s %s      %s\n", "",
	       center(a, impl_name[IMPL_LIBSEMA], false),
	       center(b, impl_name[IMPL_GLIBC], true));
	printf("%-18s %10s %12s      %10s %12s\n", "thread",
	       "acquired", "max wait", "acquired", "max wait");
	for (i = 0; i < nr_threads; i++) {
		snprintf(who, sizeof(who), "%d %s", i,
			 i ? "occasional" : "greedy");
		if (spread && cpu_of(i) >= 0)
			snprintf(who + strlen(who), sizeof(who) - strlen(who),
				 " cpu%d", cpu_of(i));
		for (k = 0; k < NR_IMPL; k++)
			if (i && total[k][i].max_wait_ns > worst[k])
				worst[k] = total[k][i].max_wait_ns;
		fmt_ms(b, sizeof(b), total[IMPL_GLIBC][i].max_wait_ns);
		if (have_sema) {
			fmt_ms(a, sizeof(a), total[IMPL_LIBSEMA][i].max_wait_ns);
			printf("%-18s %10lld %12s      %10lld %12s\n", who,
			       total[IMPL_LIBSEMA][i].acquired, a,
			       total[IMPL_GLIBC][i].acquired, b);
		} else {
			printf("%-18s %10s %12s      %10lld %12s\n", who,
			       "-", "-", total[IMPL_GLIBC][i].acquired, b);
		}
	}
	putchar('\n');
	fmt_ms(b, sizeof(b), worst[IMPL_GLIBC]);
	if (!have_sema) {
		printf("worst wait of an occasional thread: glibc %s "
		       "(libsema: no %s)\n", b, HSEMA_DEVICE);
		return 1;
	}
	fmt_ms(a, sizeof(a), worst[IMPL_LIBSEMA]);
	printf("worst wait of an occasional thread: libsema %s, glibc %s\n",
	       a, b);
	if (have_stats)
		printf("libsema: %llu starvation entries, %llu direct grants, "
		       "%llu CPU handoffs\n",
		       (unsigned long long)(after.starve_enter -
					    before.starve_enter),
		       (unsigned long long)(after.grants - before.grants),
		       (unsigned long long)(after.yields - before.yields));
	return 0;
}
