/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Log-linear histograms of durations in nanoseconds: 32 buckets per power
 * of two, so any percentile is known to within about 3%, in a fixed 11 KiB
 * that a thread can fill without allocating or sharing a cache line.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	5
#define HIST_SUB	(1U << HIST_SUB_BITS)
#define HIST_MAX_BIT	47		/* ~1.6 days: nothing waits longer */
#define HIST_BUCKETS	(HIST_SUB * (HIST_MAX_BIT - HIST_SUB_BITS + 2))

struct hist {
	uint64_t count;
	uint64_t sum;		/* ns, for the mean */
	uint64_t max;		/* ns, exact */
	uint64_t b[HIST_BUCKETS];
};

static inline unsigned int hist_index(uint64_t v)
{
	unsigned int msb, shift;

	if (v < HIST_SUB)
		return (unsigned int)v;
	msb = 63 - (unsigned int)__builtin_clzll(v);
	if (msb > HIST_MAX_BIT)
		return HIST_BUCKETS - 1;
	shift = msb - HIST_SUB_BITS;
	return HIST_SUB * (shift + 1) + (unsigned int)((v >> shift) - HIST_SUB);
}

static inline void hist_add(struct hist *h, uint64_t ns)
{
	h->count++;
	h->sum += ns;
	if (ns > h->max)
		h->max = ns;
	h->b[hist_index(ns)]++;
}

/* The smallest value bucket @i holds, and how many values it spans. */
uint64_t hist_low(unsigned int i);
uint64_t hist_width(unsigned int i);

void hist_merge(struct hist *to, const struct hist *from);

/*
 * The @q quantile (0 < q <= 1): the middle of the bucket that holds it,
 * never more than the exact maximum.
 */
uint64_t hist_quantile(const struct hist *h, double q);

#endif /* BENCH_HIST_H */
