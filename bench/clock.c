// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tick calibration and the cross-CPU check behind clock.h.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"

static double tick_rate = 1.0;	/* ticks per nanosecond */

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void clock_calibrate(void)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	uint64_t t0, t1, n0, n1;
	double rate[3], best;
	int i;

	if (!CLOCK_TSC)
		return;
	/*
	 * Three 20 ms windows; a window in which we were preempted between
	 * reading the two clocks shows a wrong rate, so take the median.
	 */
	for (i = 0; i < 3; i++) {
		n0 = mono_ns();
		t0 = ticks();
		nanosleep(&pause, NULL);
		n1 = mono_ns();
		t1 = ticks();
		rate[i] = (double)(t1 - t0) / (double)(n1 - n0);
	}
	best = rate[0];
	if ((rate[1] >= rate[0]) == (rate[1] <= rate[2]))
		best = rate[1];
	else if ((rate[2] >= rate[0]) == (rate[2] <= rate[1]))
		best = rate[2];
	tick_rate = best;
}

double clock_ticks_per_ns(void)
{
	return tick_rate;
}

const char *clock_source(void)
{
	return CLOCK_TSC ? "tsc" : "clock_monotonic";
}

uint64_t ticks_to_ns(uint64_t t)
{
	return (uint64_t)((double)t / tick_rate);
}

uint64_t ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((double)ns * tick_rate);
}

struct skew {
	_Atomic int turn;
	_Atomic uint64_t stamp;
	int rounds;
};

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *skew_echo(void *arg)
{
	struct skew *k = arg;
	int i;

	for (i = 0; i < k->rounds; i++) {
		while (atomic_load(&k->turn) != 1)
			;
		atomic_store(&k->stamp, ticks());
		atomic_store(&k->turn, 0);
	}
	return NULL;
}

int64_t clock_skew_ns(int a, int b)
{
	struct skew k = { .rounds = 200 };
	int64_t lo = INT64_MIN, hi = INT64_MAX, d;
	cpu_set_t saved, set;
	pthread_attr_t attr;
	pthread_t t;
	int i, ret;

	if (!CLOCK_TSC)
		return 0;
	if (pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) ||
	    pin(a))
		return -1;
	CPU_ZERO(&set);
	CPU_SET(b, &set);
	pthread_attr_init(&attr);
	ret = pthread_attr_setaffinity_np(&attr, sizeof(set), &set) ||
	      pthread_create(&t, &attr, skew_echo, &k);
	pthread_attr_destroy(&attr);
	if (ret) {
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
		return -1;
	}
	/*
	 * B stamps between our two reads, so B - A lies between
	 * stamp - after and stamp - before.
	 */
	for (i = 0; i < k.rounds; i++) {
		uint64_t before = ticks(), after, stamp;

		atomic_store(&k.turn, 1);
		while (atomic_load(&k.turn) != 0)
			;
		after = ticks();
		stamp = atomic_load(&k.stamp);
		d = (int64_t)(stamp - after);
		if (d > lo)
			lo = d;
		d = (int64_t)(stamp - before);
		if (d < hi)
			hi = d;
	}
	pthread_join(t, NULL);
	pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	d = llabs(lo) > llabs(hi) ? llabs(lo) : llabs(hi);
	return (int64_t)ticks_to_ns((uint64_t)d);
}
