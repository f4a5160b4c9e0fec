/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Busy work for critical sections: a fixed number of loop iterations,
 * calibrated once to take a given time, so that every implementation's
 * critical section does the same work whatever its timing overhead.
 */
#ifndef BENCH_WORK_H
#define BENCH_WORK_H

#include <stdint.h>

/* Measure how many iterations take a microsecond; call once at start. */
void work_calibrate(void);
double work_iters_per_us(void);

static inline void work_iters(uint64_t n)
{
	uint64_t i;

	/* The empty asm keeps the loop: the compiler cannot see through it. */
	for (i = 0; i < n; i++)
		__asm__ volatile("" : "+r"(i));
}

static inline uint64_t work_iters_for_us(unsigned int us)
{
	return (uint64_t)(work_iters_per_us() * us + 0.5);
}

#endif /* BENCH_WORK_H */
