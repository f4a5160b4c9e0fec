// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lockskew, the workload of Go's starvation mode (golang/go#13086): a
 * greedy thread re-acquires the lock at once after each release and holds
 * it 100 us; an occasional thread asks once per millisecond (1 us
 * section, then a 1 ms sleep).  What counts is the occasional thread's
 * longest wait.  examples/lockskew.c explains the workload at length.
 *
 * Two placements:
 *   same-cpu  both threads on the first CPU, the occasional one
 *             SCHED_BATCH, so that a wake-up does not preempt the greedy
 *             thread, as a goroutine made runnable by an unlock waits for
 *             its P;
 *   spread    the threads on different CPUs, unpinned priorities.
 */
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "hist.h"
#include "hstats.h"
#include "json.h"
#include "kcount.h"
#include "work.h"

#define GREEDY_US	100
#define OCCASIONAL_US	1
#define PAUSE_NS	1000000L
#define TURN_SECS	0.5

/*
 * Each placement starts with an uncounted turn per implementation, this
 * long at most.  In six boots of six, libsema's first same-cpu turn in
 * the guest waited 2.4 to 4.6 ms once (its other turns at most 0.54 ms),
 * after a contended run too, and whichever implementation went first; a
 * second run in the same guest, a new process, never did
 * (bench/README.md, Lockskew).  That is the guest's first time through
 * the path, not the semaphore's bound, which the other turns measure.
 */
#define WARMUP_SECS	0.1

struct skew {
	const struct sem_ops *ops;
	struct bsem *s;
	uint64_t deadline;
	struct gate go;
	uint64_t greedy_iters, occ_iters;
	uint64_t greedy_ops;
	uint64_t min_ops;		/* the greedy thread's, past the deadline */
	pid_t tid[2];			/* greedy, occasional */
	uint64_t nvcsw[2];
	struct hist occ;		/* the occasional thread's waits */
};

static void *greedy(void *arg)
{
	struct skew *k = arg;
	uint64_t csw;

	k->tid[0] = (pid_t)syscall(SYS_gettid);
	gate_wait(&k->go);
	csw = kcount_nvcsw();
	while (ticks() < k->deadline || k->greedy_ops < k->min_ops) {
		k->ops->acquire(k->s);
		work_iters(k->greedy_iters);
		k->ops->release(k->s);
		k->greedy_ops++;
	}
	k->nvcsw[0] = kcount_nvcsw() - csw;
	return NULL;
}

static void *occasional(void *arg)
{
	struct timespec pause = { 0, PAUSE_NS };
	struct skew *k = arg;
	uint64_t t0, t1, csw;

	k->tid[1] = (pid_t)syscall(SYS_gettid);
	gate_wait(&k->go);
	csw = kcount_nvcsw();
	for (;;) {
		t0 = ticks();
		if (t0 >= k->deadline)
			break;
		k->ops->acquire(k->s);
		t1 = ticks();
		hist_add(&k->occ, (int64_t)(t1 - t0) > 0 ? ticks_to_ns(t1 - t0) : 0);
		work_iters(k->occ_iters);
		k->ops->release(k->s);
		clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, NULL);
	}
	k->nvcsw[1] = kcount_nvcsw() - csw;
	return NULL;
}

struct skew_tally {
	struct hist occ;
	uint64_t greedy_ops;
	double secs;
	struct hsema_stats hs;
	uint64_t nvcsw[2];
	/* The counting turn: its acquisitions, futex and ioctl calls. */
	uint64_t count_ops, futex, ioctl;
	bool counted;
};

static void turn(struct skew *k, bool spread, const struct config *cfg,
		 double secs, struct skew_tally *t, bool count)
{
	struct hsema_stats before, after;
	int cpu0 = cfg->cpus[0], cpu1 = cfg->cpus[1 % cfg->nr_cpus];
	pthread_t g, o;
	uint64_t start, futex, ioctl;

	k->greedy_ops = 0;
	k->min_ops = count ? KCOUNT_MIN_OPS : MEASURED_MIN_OPS;
	memset(&k->occ, 0, sizeof(k->occ));
	gate_init(&k->go);
	k->ops->init(k->s, 1);
	if (count)
		kcount_start();
	g = start_thread(greedy, k, cpu0, false);
	o = start_thread(occasional, k, spread ? cpu1 : cpu0, !spread);
	hstats_read(&before);
	start = ticks();
	k->deadline = start + ns_to_ticks((uint64_t)(secs * 1e9));
	gate_open(&k->go, 2);
	join_thread(g);
	join_thread(o);
	hstats_read(&after);
	k->ops->destroy(k->s);
	if (count) {
		t->counted = kcount_stop(k->tid, 2, &futex, &ioctl);
		t->futex = futex;
		t->ioctl = ioctl;
		t->count_ops = k->greedy_ops + k->occ.count;
		return;
	}
	t->nvcsw[0] += k->nvcsw[0];
	t->nvcsw[1] += k->nvcsw[1];

	hist_merge(&t->occ, &k->occ);
	t->greedy_ops += k->greedy_ops;
	t->secs += (double)ticks_to_ns(ticks() - start) / 1e9;
	hstats_add(&t->hs, &before, &after);
}

void bench_lockskew(const struct config *cfg)
{
	static const char *const placement[2] = { "same-cpu", "spread" };
	struct skew_tally *t = xalloc(sizeof(*t) * NR_IMPL);
	struct skew_tally *warm = xalloc(sizeof(*warm));
	struct skew *k = xalloc(sizeof(*k));
	int order[NR_IMPL], n, p, r, i, rounds;
	double warm_secs;

	k->s = xalloc(sizeof(struct bsem));
	k->greedy_iters = work_iters_for_us(GREEDY_US);
	k->occ_iters = work_iters_for_us(OCCASIONAL_US);
	rounds = (int)(cfg->lockskew_secs / TURN_SECS + 0.5);
	if (rounds < 1)
		rounds = 1;
	warm_secs = cfg->lockskew_secs / rounds;
	if (warm_secs > WARMUP_SECS)
		warm_secs = WARMUP_SECS;
	for (p = 0; p < 2; p++) {
		if (p == 1 && cfg->nr_cpus < 2)
			break;
		memset(t, 0, sizeof(*t) * NR_IMPL);
		n = impl_order(cfg, 0, order);
		for (i = 0; i < n; i++) {
			k->ops = &sem_ops[order[i]];
			turn(k, p, cfg, warm_secs, warm, false);
		}
		for (r = 0; r < rounds; r++) {
			n = impl_order(cfg, r, order);
			for (i = 0; i < n; i++) {
				k->ops = &sem_ops[order[i]];
				turn(k, p, cfg, cfg->lockskew_secs / rounds,
				     &t[order[i]], false);
			}
		}
		/* One more turn each, counting kernel entries (kcount.h). */
		n = kcount_available() ? impl_order(cfg, rounds, order) : 0;
		for (i = 0; i < n; i++) {
			k->ops = &sem_ops[order[i]];
			turn(k, p, cfg, cfg->lockskew_secs / rounds,
			     &t[order[i]], true);
		}
		for (i = 0; i < NR_IMPL; i++) {
			if (!cfg->impl[i])
				continue;
			json_begin();
			json_str("bench", "lockskew");
			json_str("impl", sem_ops[i].name);
			json_str("placement", placement[p]);
			json_num("secs", t[i].secs);
			json_int("greedy_us", GREEDY_US);
			json_int("pause_us", PAUSE_NS / 1000);
			json_uint("greedy_ops", t[i].greedy_ops);
			json_uint("occasional_ops", t[i].occ.count);
			json_hist("occasional_wait_ns", &t[i].occ, 1);
			/*
			 * Per acquisition of either thread; the voluntary
			 * switches are the greedy thread's only, as the
			 * occasional one sleeps on purpose every time.
			 */
			kcount_json_entries(t[i].counted, t[i].futex,
					    t[i].ioctl, t[i].count_ops);
			kcount_json_nvcsw(t[i].nvcsw[0],
					  t[i].greedy_ops + t[i].occ.count);
			json_uint("occasional_nvcsw", t[i].nvcsw[1]);
			if (sem_ops[i].libsema || t[i].hs.waits)
				hstats_json(&t[i].hs);
			json_end();
		}
	}
	free(k->s);
	free(k);
	free(warm);
	free(t);
}
