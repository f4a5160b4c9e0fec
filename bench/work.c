// SPDX-License-Identifier: GPL-2.0-only
/*
 * Calibration of the busy loop in work.h.
 */
#include "clock.h"
#include "work.h"

static double iters_per_us = 1000;

void work_calibrate(void)
{
	const uint64_t n = 1000000;
	uint64_t best = UINT64_MAX, t;
	int i;

	work_iters(n);		/* warm up: translated, frequency settled */
	/* The fastest of several runs is the one nobody interrupted. */
	for (i = 0; i < 7; i++) {
		t = mono_ns();
		work_iters(n);
		t = mono_ns() - t;
		if (t < best)
			best = t;
	}
	if (best)
		iters_per_us = (double)n * 1000.0 / (double)best;
}

double work_iters_per_us(void)
{
	return iters_per_us;
}
