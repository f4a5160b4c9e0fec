// SPDX-License-Identifier: GPL-2.0-only
#include <math.h>

#include "hist.h"

uint64_t hist_low(unsigned int i)
{
	unsigned int shift;

	if (i < HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	return (uint64_t)(HIST_SUB + i % HIST_SUB) << shift;
}

uint64_t hist_width(unsigned int i)
{
	return i < HIST_SUB ? 1 : 1ULL << (i / HIST_SUB - 1);
}

void hist_merge(struct hist *to, const struct hist *from)
{
	unsigned int i;

	to->count += from->count;
	to->sum += from->sum;
	if (from->max > to->max)
		to->max = from->max;
	for (i = 0; i < HIST_BUCKETS; i++)
		to->b[i] += from->b[i];
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned int i;

	if (!h->count)
		return 0;
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			v = hist_low(i) + hist_width(i) / 2;
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
