// SPDX-License-Identifier: GPL-2.0-only
/*
 * Uncontended acquire + release, one thread: nanoseconds per pair.
 *
 * Repetitions of each implementation are interleaved, so that a slow
 * patch of the host (other guests, frequency changes) weighs on all of
 * them; the median repetition is the result, the fastest is kept too.
 */
#include <stdlib.h>

#include "bench.h"
#include "clock.h"
#include "hstats.h"
#include "json.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double one_rep(const struct sem_ops *ops, struct bsem *s, uint64_t n)
{
	uint64_t i, t;

	t = ticks();
	for (i = 0; i < n; i++) {
		ops->acquire(s);
		ops->release(s);
	}
	t = ticks() - t;
	return (double)ticks_to_ns(t) / (double)n;
}

void bench_uncontended(const struct config *cfg)
{
	struct hsema_stats before, after, delta[NR_IMPL] = { 0 };
	double *ns = calloc((size_t)NR_IMPL * cfg->reps, sizeof(double));
	struct bsem *s = xalloc(sizeof(*s) * NR_IMPL);
	int order[NR_IMPL], n, r, k, i;

	if (!ns)
		die("calloc", 12);
	n = impl_order(cfg, 0, order);
	for (k = 0; k < n; k++) {
		sem_ops[order[k]].init(&s[order[k]], 1);
		one_rep(&sem_ops[order[k]], &s[order[k]], cfg->pairs / 10);
	}
	for (r = 0; r < cfg->reps; r++) {
		n = impl_order(cfg, r, order);
		for (k = 0; k < n; k++) {
			i = order[k];
			hstats_read(&before);
			ns[i * cfg->reps + r] = one_rep(&sem_ops[i], &s[i],
							cfg->pairs);
			hstats_read(&after);
			hstats_add(&delta[i], &before, &after);
		}
	}
	for (k = 0; k < n; k++) {
		i = order[k];
		sem_ops[i].destroy(&s[i]);
	}
	for (i = 0; i < NR_IMPL; i++) {
		double *v = &ns[i * cfg->reps];

		if (!cfg->impl[i])
			continue;
		qsort(v, (size_t)cfg->reps, sizeof(*v), cmp_double);
		json_begin();
		json_str("bench", "uncontended");
		json_str("impl", sem_ops[i].name);
		json_num("ns_per_pair", v[cfg->reps / 2]);
		json_num("ns_min", v[0]);
		json_num("ns_max", v[cfg->reps - 1]);
		json_uint("pairs", cfg->pairs);
		json_int("reps", cfg->reps);
		hstats_json(&delta[i]);
		json_end();
	}
	free(ns);
	free(s);
}
