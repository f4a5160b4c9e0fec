// SPDX-License-Identifier: GPL-2.0-only
/*
 * Handoff ping-pong: two threads alternate through two semaphores of
 * value 0.  Ping releases A and acquires B; pong acquires A and releases
 * B.  Every release finds the other thread waiting (or about to), so each
 * round trip is two wake-ups: the latency of handing a unit to a sleeper.
 *
 * libsema-handoff releases with sema_release_handoff(): the kernel grants
 * the unit to the waiter and gives it the releaser's CPU (a directed
 * yield, taken only when the waiter is on the releaser's CPU).  libsema
 * releases with sema_release(): the waiter is woken and runs when the
 * scheduler gets to it.  The mutex cannot take part: it must be released
 * by its owner.
 *
 * Two placements: both threads pinned to one CPU, where the yield
 * matters, and pinned to two CPUs, where it cannot apply.
 */
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "hist.h"
#include "hstats.h"
#include "json.h"
#include "kcount.h"

#define TURN_SECS	0.5

struct pp {
	const struct sem_ops *ops;
	struct bsem *a, *b;
	uint64_t deadline;
	atomic_bool stop;
	struct gate go;
	uint64_t trips;
	uint64_t min_trips;		/* past the deadline */
	pid_t tid[2];
	uint64_t nvcsw[2];
	struct hist rt;			/* round trips, measured by ping */
};

static void *ping(void *arg)
{
	struct pp *p = arg;
	uint64_t t0, t1, csw;

	p->tid[0] = (pid_t)syscall(SYS_gettid);
	gate_wait(&p->go);
	csw = kcount_nvcsw();
	for (;;) {
		t0 = ticks();
		if (t0 >= p->deadline && p->trips >= p->min_trips)
			break;
		p->ops->release(p->a);
		p->ops->acquire(p->b);
		t1 = ticks();
		hist_add(&p->rt, (int64_t)(t1 - t0) > 0 ? ticks_to_ns(t1 - t0) : 0);
		p->trips++;
	}
	/* The release orders the store before pong's acquire. */
	atomic_store_explicit(&p->stop, true, memory_order_relaxed);
	p->ops->release(p->a);
	p->nvcsw[0] = kcount_nvcsw() - csw;
	return NULL;
}

static void *pong(void *arg)
{
	struct pp *p = arg;
	uint64_t csw;

	p->tid[1] = (pid_t)syscall(SYS_gettid);
	gate_wait(&p->go);
	csw = kcount_nvcsw();
	for (;;) {
		p->ops->acquire(p->a);
		if (atomic_load_explicit(&p->stop, memory_order_relaxed))
			break;
		p->ops->release(p->b);
	}
	p->nvcsw[1] = kcount_nvcsw() - csw;
	return NULL;
}

struct pp_tally {
	struct hist rt;
	uint64_t trips, ticks;
	struct hsema_stats hs;
	uint64_t nvcsw;
	/* The counting turn: its round trips, futex and ioctl calls. */
	uint64_t count_trips, futex, ioctl;
	bool counted;
};

static void turn(struct pp *p, int cpu_ping, int cpu_pong, double secs,
		 struct pp_tally *t, bool count)
{
	struct hsema_stats before, after;
	uint64_t start, end, futex, ioctl;
	pthread_t a, b;

	p->trips = 0;
	p->min_trips = count ? KCOUNT_MIN_OPS : MEASURED_MIN_OPS;
	memset(&p->rt, 0, sizeof(p->rt));
	atomic_store(&p->stop, false);
	gate_init(&p->go);
	p->ops->init(p->a, 0);
	p->ops->init(p->b, 0);
	if (count)
		kcount_start();
	a = start_thread(ping, p, cpu_ping, false);
	b = start_thread(pong, p, cpu_pong, false);
	hstats_read(&before);
	start = ticks();
	p->deadline = start + ns_to_ticks((uint64_t)(secs * 1e9));
	gate_open(&p->go, 2);
	join_thread(a);
	end = ticks();
	join_thread(b);
	hstats_read(&after);
	p->ops->destroy(p->a);
	p->ops->destroy(p->b);
	if (count) {
		t->counted = kcount_stop(p->tid, 2, &futex, &ioctl);
		t->futex = futex;
		t->ioctl = ioctl;
		t->count_trips = p->trips;
		return;
	}
	t->nvcsw += p->nvcsw[0] + p->nvcsw[1];

	hist_merge(&t->rt, &p->rt);
	t->trips += p->trips;
	t->ticks += end - start;
	hstats_add(&t->hs, &before, &after);
}

void bench_pingpong(const struct config *cfg)
{
	static const char *const placement[2] = { "same-cpu", "two-cpus" };
	struct pp_tally *t = xalloc(sizeof(*t) * NR_IMPL);
	struct pp *p = xalloc(sizeof(*p));
	int order[NR_IMPL], n, pl, r, i, rounds, cpu_pong;
	double secs;

	p->a = xalloc(sizeof(struct bsem));
	p->b = xalloc(sizeof(struct bsem));
	rounds = (int)(cfg->pingpong_secs / TURN_SECS + 0.5);
	if (rounds < 1)
		rounds = 1;
	for (pl = 0; pl < 2; pl++) {
		if (pl == 1 && cfg->nr_cpus < 2)
			break;
		cpu_pong = cfg->cpus[pl];
		memset(t, 0, sizeof(*t) * NR_IMPL);
		for (r = 0; r < rounds; r++) {
			n = impl_order(cfg, r, order);
			for (i = 0; i < n; i++) {
				if (sem_ops[order[i]].lock_only)
					continue;
				p->ops = &sem_ops[order[i]];
				turn(p, cfg->cpus[0], cpu_pong,
				     cfg->pingpong_secs / rounds, &t[order[i]],
				     false);
			}
		}
		/* One more turn each, counting kernel entries (kcount.h). */
		n = kcount_available() ? impl_order(cfg, rounds, order) : 0;
		for (i = 0; i < n; i++) {
			if (sem_ops[order[i]].lock_only)
				continue;
			p->ops = &sem_ops[order[i]];
			turn(p, cfg->cpus[0], cpu_pong,
			     cfg->pingpong_secs / rounds, &t[order[i]], true);
		}
		for (i = 0; i < NR_IMPL; i++) {
			if (!cfg->impl[i] || sem_ops[i].lock_only)
				continue;
			secs = (double)ticks_to_ns(t[i].ticks) / 1e9;
			json_begin();
			json_str("bench", "pingpong");
			json_str("impl", sem_ops[i].name);
			json_str("placement", placement[pl]);
			json_num("secs", secs);
			json_uint("round_trips", t[i].trips);
			json_num("ns_per_round_trip",
				 t[i].trips ? secs * 1e9 / (double)t[i].trips : 0);
			json_hist("round_trip_ns", &t[i].rt, 1);
			/* Two acquisitions (hand-overs) per round trip. */
			kcount_json_entries(t[i].counted, t[i].futex,
					    t[i].ioctl, 2 * t[i].count_trips);
			kcount_json_nvcsw(t[i].nvcsw, 2 * t[i].trips);
			if (sem_ops[i].libsema || t[i].hs.waits)
				hstats_json(&t[i].hs);
			json_end();
		}
	}
	free(p->a);
	free(p->b);
	free(p);
	free(t);
}
