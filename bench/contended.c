// SPDX-License-Identifier: GPL-2.0-only
/*
 * Contended throughput, fairness and tail, on one grid.
 *
 * N threads share a semaphore of value 1 (a lock, so that the mutex can
 * take part): acquire, a critical section of busy work, release, again at
 * once.  Each acquire's wait, from asking to owning, goes into the
 * thread's histogram; the count of each thread's acquisitions gives the
 * shares.  The threads are not pinned: the scheduler places them as it
 * would any program's.
 *
 * Each cell (threads, critical section) runs every implementation for the
 * same time, in turns whose order rotates, and adds the turns up; each
 * turn's throughput is kept too, so that the report can take the ratio
 * between implementations turn by turn (neighbours in time share the
 * host's mood) and say how far the turns were apart.
 *
 * What an implementation asks of the kernel per acquisition, which an
 * emulator does not change (kcount.h): the workers' voluntary context
 * switches in every turn, and their futex() and ioctl() calls in one more
 * turn per implementation, after the others, whose throughput is not used
 * (counting slows every system call down).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "hist.h"
#include "hstats.h"
#include "json.h"
#include "kcount.h"
#include "work.h"

struct cell {
	const struct sem_ops *ops;
	struct bsem *s;
	uint64_t cs_iters;
	uint64_t deadline;		/* ticks */
	uint64_t min_ops;		/* per worker, past the deadline */
	struct gate go;
};

struct worker {
	struct cell *c;
	pthread_t t;
	uint64_t ops;			/* this turn */
	uint64_t end;			/* ticks, after the last release */
	uint64_t nvcsw;			/* voluntary switches in the loop */
	pid_t tid;
	struct hist h;			/* this turn */
} __attribute__((aligned(64)));

/* One turn of one implementation. */
struct turn_rec {
	uint64_t ops, ticks, futex, ioctl, nvcsw;
	bool counted;			/* futex and ioctl are known */
};

/* What a cell sums up for one implementation over its turns. */
struct tally {
	struct hist h;
	uint64_t ops[MAX_THREADS];
	uint64_t ticks;
	struct hsema_stats hs;
	struct turn_rec turn[MAX_ROUNDS];
	int nr_turns;
	struct turn_rec count;		/* the counting turn */
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct cell *c = w->c;
	uint64_t t0, t1, csw;

	w->tid = (pid_t)syscall(SYS_gettid);
	gate_wait(&c->go);
	csw = kcount_nvcsw();
	for (;;) {
		t0 = ticks();
		if (t0 >= c->deadline && w->ops >= c->min_ops)
			break;
		c->ops->acquire(c->s);
		t1 = ticks();
		/* A TSC a little behind on another CPU: count no wait. */
		hist_add(&w->h, (int64_t)(t1 - t0) > 0 ? ticks_to_ns(t1 - t0) : 0);
		work_iters(c->cs_iters);
		c->ops->release(c->s);
		w->ops++;
	}
	w->end = ticks();
	w->nvcsw = kcount_nvcsw() - csw;
	return NULL;
}

static void turn(struct cell *c, struct worker *w, int nr, double secs,
		 struct tally *t, bool count)
{
	struct turn_rec *tr = count ? &t->count : &t->turn[t->nr_turns++];
	struct hsema_stats before, after;
	uint64_t start, end = 0;
	pid_t tids[MAX_THREADS];
	int i;

	gate_init(&c->go);
	c->ops->init(c->s, 1);
	c->min_ops = count ? KCOUNT_MIN_OPS : MEASURED_MIN_OPS;
	if (count)
		kcount_start();
	for (i = 0; i < nr; i++) {
		w[i].c = c;
		w[i].ops = 0;
		w[i].end = 0;
		w[i].nvcsw = 0;
		memset(&w[i].h, 0, sizeof(w[i].h));
		w[i].t = start_thread(worker, &w[i], -1, false);
	}
	hstats_read(&before);
	start = ticks();
	c->deadline = start + ns_to_ticks((uint64_t)(secs * 1e9));
	gate_open(&c->go, nr);
	for (i = 0; i < nr; i++) {
		join_thread(w[i].t);
		if (w[i].end > end)
			end = w[i].end;
		tids[i] = w[i].tid;
	}
	hstats_read(&after);
	c->ops->destroy(c->s);
	for (i = 0; i < nr; i++) {
		tr->ops += w[i].ops;
		tr->nvcsw += w[i].nvcsw;
	}
	tr->ticks = end - start;
	if (count) {
		tr->counted = kcount_stop(tids, nr, &tr->futex, &tr->ioctl);
		return;
	}

	for (i = 0; i < nr; i++) {
		hist_merge(&t->h, &w[i].h);
		t->ops[i] += w[i].ops;
	}
	t->ticks += end - start;
	hstats_add(&t->hs, &before, &after);
}

static void report(const struct config *cfg, int impl, int nr, int cs,
		   const struct tally *t)
{
	double sum = 0, sumsq = 0, secs = (double)ticks_to_ns(t->ticks) / 1e9;
	uint64_t total = 0, lo = UINT64_MAX, hi = 0, nvcsw = 0;
	const struct turn_rec *ct = &t->count;
	int i;

	for (i = 0; i < nr; i++) {
		total += t->ops[i];
		sum += (double)t->ops[i];
		sumsq += (double)t->ops[i] * (double)t->ops[i];
		if (t->ops[i] < lo)
			lo = t->ops[i];
		if (t->ops[i] > hi)
			hi = t->ops[i];
	}
	json_begin();
	json_str("bench", "contended");
	json_str("impl", sem_ops[impl].name);
	json_int("threads", nr);
	json_int("cs_us", cs);
	json_num("secs", secs);
	json_uint("ops", total);
	json_num("ops_per_sec", (double)total / secs);
	/* Jain's index: 1 when all threads got the same share, 1/n worst. */
	json_num("jain", sumsq > 0 ? sum * sum / ((double)nr * sumsq) : NAN);
	json_num("max_min", lo ? (double)hi / (double)lo : INFINITY);
	json_arr("per_thread");
	for (i = 0; i < nr; i++)
		json_uint(NULL, t->ops[i]);
	json_close();
	json_hist("wait_ns", &t->h, 1);
	json_arr("turns");
	for (i = 0; i < t->nr_turns; i++) {
		const struct turn_rec *tr = &t->turn[i];
		double s = (double)ticks_to_ns(tr->ticks) / 1e9;

		json_obj(NULL);
		json_uint("ops", tr->ops);
		json_num("secs", s);
		json_num("ops_per_sec", (double)tr->ops / s);
		kcount_json_nvcsw(tr->nvcsw, tr->ops);
		json_close();
		nvcsw += tr->nvcsw;
	}
	json_close();
	/* Switches over the measured turns, kernel entries in their own. */
	kcount_json_nvcsw(nvcsw, total);
	kcount_json_entries(ct->counted, ct->futex, ct->ioctl, ct->ops);
	if (ct->ticks) {
		json_obj("count_turn");
		json_uint("ops", ct->ops);
		json_num("secs", (double)ticks_to_ns(ct->ticks) / 1e9);
		kcount_json_entries(ct->counted, ct->futex, ct->ioctl, ct->ops);
		kcount_json_nvcsw(ct->nvcsw, ct->ops);
		json_close();
	}
	if (sem_ops[impl].libsema || t->hs.waits)
		hstats_json(&t->hs);
	json_end();
	(void)cfg;
}

void bench_contended(const struct config *cfg)
{
	struct worker *w = xalloc(sizeof(*w) * MAX_THREADS);
	struct tally *t = xalloc(sizeof(*t) * NR_IMPL);
	struct cell c = { .s = xalloc(sizeof(struct bsem)) };
	int order[NR_IMPL], n, ti, ci, r, k, nr;

	for (ti = 0; ti < cfg->nr_threads; ti++) {
		nr = cfg->threads[ti];
		for (ci = 0; ci < cfg->nr_cs; ci++) {
			memset(t, 0, sizeof(*t) * NR_IMPL);
			c.cs_iters = work_iters_for_us((unsigned int)cfg->cs_us[ci]);
			for (r = 0; r < cfg->rounds; r++) {
				n = impl_order(cfg, r, order);
				for (k = 0; k < n; k++) {
					c.ops = &sem_ops[order[k]];
					turn(&c, w, nr,
					     cfg->cell_secs / cfg->rounds,
					     &t[order[k]], false);
				}
			}
			n = kcount_available() ?
				impl_order(cfg, cfg->rounds, order) : 0;
			for (k = 0; k < n; k++) {
				c.ops = &sem_ops[order[k]];
				turn(&c, w, nr, cfg->cell_secs / cfg->rounds,
				     &t[order[k]], true);
			}
			for (k = 0; k < NR_IMPL; k++)
				if (cfg->impl[k])
					report(cfg, k, nr, cfg->cs_us[ci],
					       &t[k]);
		}
	}
	free(c.s);
	free(t);
	free(w);
}
