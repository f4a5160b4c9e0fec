// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * semdemo: what hsema gives a program written only against POSIX's
 * <semaphore.h>, without a rebuild.  Run it as it is (glibc's sem_t),
 * then under LD_PRELOAD=libsema-posix.so (the same calls over hsema):
 *
 *   semdemo                                        # glibc
 *   LD_PRELOAD=/path/to/libsema-posix.so semdemo   # hsema
 *
 * It prints which library its sem_post() comes from, then two results.
 *
 * 1. The lockskew wait bound (Go issue 13086): one thread re-acquires a
 *    semaphore of 1, used as a lock, in a tight loop, holding it 100 us;
 *    three others ask for it about once per millisecond.  All four share
 *    one CPU and the occasional ones are SCHED_BATCH, so that a wake-up
 *    does not preempt the greedy thread: a woken waiter finds the lock
 *    taken again.  The result is the occasional threads' worst wait.
 *    hsema's starvation mode bounds it (a waiter that waited 1 ms is
 *    granted the next unit, and the releaser gives it its CPU).
 *
 * 2. Killed-waiter liveness: three processes wait on a process-shared
 *    semaphore of 0 in shared memory; the parent posts one unit and at
 *    once SIGKILLs the oldest waiter, the one a post wakes.  If the woken
 *    waiter dies before it takes the unit, glibc's unit sits in the
 *    semaphore while the two others sleep on (glibc's post woke exactly
 *    one waiter, the dead one), until the next post: a stranded round.
 *    hsema passes the wake-up, or the unit the dying waiter was handed,
 *    to the next waiter.  The result counts the rounds of each outcome.
 *
 * Build: cc -std=c11 -O2 -pthread semdemo.c   (or: make -C examples)
 * Run:   semdemo [-d SECONDS] [-r ROUNDS]
 */
#define _GNU_SOURCE	/* dladdr(), SCHED_BATCH, CPU_SET */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_USEC	1000LL
#define NSEC_PER_MSEC	1000000LL
#define NSEC_PER_SEC	1000000000LL

#define OCCASIONAL	3		/* lockskew's occasional threads */
#define HOLD_NS		(100 * NSEC_PER_USEC)
#define PAUSE_NS	NSEC_PER_MSEC
#define WAITERS		3		/* liveness: processes per round */
#define SETTLE_NS	(20 * NSEC_PER_MSEC)
#define PATIENCE_NS	(200 * NSEC_PER_MSEC)

static void die(const char *what, int err)
{
	fprintf(stderr, "semdemo: %s: %s\n", what, strerror(err));
	exit(1);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / NSEC_PER_SEC, ns % NSEC_PER_SEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static void xwait(sem_t *s)
{
	while (sem_wait(s))
		if (errno != EINTR)
			die("sem_wait", errno);
}

static void xpost(sem_t *s)
{
	if (sem_post(s))
		die("sem_post", errno);
}

/* ----- 1. lockskew ----- */

static sem_t lock;
static atomic_bool stop;
static pthread_barrier_t start;
static int cpu = -1;

struct worker {
	pthread_t thread;
	long long acquired;
	int64_t max_wait_ns;
};

static void timed_acquire(struct worker *w)
{
	int64_t asked = now_ns(), waited;

	xwait(&lock);
	waited = now_ns() - asked;
	w->acquired++;
	if (waited > w->max_wait_ns)
		w->max_wait_ns = waited;
}

/* Busy, as real work in a critical section would be. */
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
		busy(HOLD_NS);
		xpost(&lock);
	}
	return NULL;
}

static void *occasional(void *arg)
{
	struct sched_param sp = { 0 };
	struct worker *w = arg;
	int ret;

	ret = pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	if (ret)
		die("pthread_setschedparam(SCHED_BATCH)", ret);
	pthread_barrier_wait(&start);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		timed_acquire(w);
		busy(NSEC_PER_USEC);
		xpost(&lock);
		sleep_ns(PAUSE_NS);
	}
	return NULL;
}

static void lockskew(double secs)
{
	struct worker w[1 + OCCASIONAL];
	int64_t worst = 0;
	long long occ = 0;
	pthread_attr_t attr;
	cpu_set_t set;
	int i, ret;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (i = 0; i < CPU_SETSIZE && cpu < 0; i++)
			if (CPU_ISSET(i, &set))
				cpu = i;
	if (sem_init(&lock, 0, 1))
		die("sem_init", errno);
	ret = pthread_barrier_init(&start, NULL, 2 + OCCASIONAL);
	if (ret)
		die("pthread_barrier_init", ret);
	memset(w, 0, sizeof(w));
	for (i = 0; i <= OCCASIONAL; i++) {
		pthread_attr_init(&attr);
		if (cpu >= 0) {
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		}
		ret = pthread_create(&w[i].thread, &attr,
				     i ? occasional : greedy, &w[i]);
		if (ret)
			die("pthread_create", ret);
		pthread_attr_destroy(&attr);
	}
	pthread_barrier_wait(&start);
	sleep_ns((int64_t)(secs * NSEC_PER_SEC));
	atomic_store(&stop, true);
	for (i = 0; i <= OCCASIONAL; i++) {
		pthread_join(w[i].thread, NULL);
		if (i) {
			occ += w[i].acquired;
			if (w[i].max_wait_ns > worst)
				worst = w[i].max_wait_ns;
		}
	}
	pthread_barrier_destroy(&start);
	if (sem_destroy(&lock))
		die("sem_destroy", errno);
	printf("lockskew, %.1f s on CPU %d: the greedy thread acquired %lld "
	       "times, the %d occasional\nones %lld times; their worst wait: "
	       "%.1f ms\n", secs, cpu, w[0].acquired, OCCASIONAL, occ,
	       (double)worst / NSEC_PER_MSEC);
}

/* ----- 2. killed waiters ----- */

struct shared {
	sem_t sem;
	atomic_int served;	/* waiters that returned from sem_wait() */
};

enum outcome { SERVED, STRANDED, DIED_WITH_IT, NR_OUTCOMES };

static const char *const outcome_name[NR_OUTCOMES] = {
	[SERVED] = "a live waiter got the unit",
	[STRANDED] = "the unit sat in the semaphore while the others slept",
	[DIED_WITH_IT] = "the killed waiter had taken the unit",
};

static void waiter(struct shared *sh)
{
	xwait(&sh->sem);
	atomic_fetch_add(&sh->served, 1);
	pause();		/* hold nothing more; wait to be reaped */
	_exit(0);
}

static enum outcome round_once(struct shared *sh)
{
	pid_t pid[WAITERS];
	enum outcome o;
	int64_t end;
	int i, value;

	atomic_store(&sh->served, 0);
	for (i = 0; i < WAITERS; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			die("fork", errno);
		if (!pid[i])
			waiter(sh);
		/* Queued in this order: the first is the one a post wakes. */
		sleep_ns(SETTLE_NS);
	}
	xpost(&sh->sem);
	kill(pid[0], SIGKILL);

	end = now_ns() + PATIENCE_NS;
	while (!atomic_load(&sh->served) && now_ns() < end)
		sleep_ns(NSEC_PER_MSEC);
	if (sem_getvalue(&sh->sem, &value))
		die("sem_getvalue", errno);
	if (atomic_load(&sh->served))
		o = SERVED;
	else
		o = value > 0 ? STRANDED : DIED_WITH_IT;

	/* Let every survivor go, whatever happened, and start afresh. */
	for (i = 0; i < WAITERS; i++)
		xpost(&sh->sem);
	for (i = 0; i < WAITERS; i++) {
		kill(pid[i], SIGKILL);
		waitpid(pid[i], NULL, 0);
	}
	while (sem_trywait(&sh->sem) == 0)
		;
	return o;
}

static void killed_waiters(int rounds)
{
	int count[NR_OUTCOMES] = { 0 }, i;
	struct shared *sh;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap", errno);
	if (sem_init(&sh->sem, 1, 0))
		die("sem_init", errno);
	for (i = 0; i < rounds; i++)
		count[round_once(sh)]++;
	if (sem_destroy(&sh->sem))
		die("sem_destroy", errno);
	munmap(sh, sizeof(*sh));

	printf("killed waiters, %d rounds (post one unit, SIGKILL the waiter "
	       "it wakes):\n", rounds);
	for (i = 0; i < NR_OUTCOMES; i++)
		printf("  %3d  %s\n", count[i], outcome_name[i]);
}

static void usage(void)
{
	fprintf(stderr, "usage: semdemo [-d SECONDS] [-r ROUNDS]\n"
		"  -d SECONDS  how long lockskew runs (default 2)\n"
		"  -r ROUNDS   killed-waiter rounds (default 20)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double secs = 2.0;
	int opt, rounds = 20;
	char *end;
	Dl_info info;

	while ((opt = getopt(argc, argv, "d:r:h")) != -1) {
		switch (opt) {
		case 'd':
			secs = strtod(optarg, &end);
			if (*end || !(secs >= 0.1 && secs <= 3600))
				usage();
			break;
		case 'r':
			rounds = (int)strtol(optarg, &end, 10);
			if (*end || rounds < 1 || rounds > 100000)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (dladdr((void *)sem_post, &info) && info.dli_fname)
		printf("sem_post() from %s\n", info.dli_fname);
	lockskew(secs);
	killed_waiters(rounds);
	return 0;
}
