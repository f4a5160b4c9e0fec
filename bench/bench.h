/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hsema-bench: what the benchmarks share.  Each benchmark writes JSON
 * Lines records (json.h) with at least "bench" and "impl".
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "sems.h"

#define MAX_LIST	8
#define MAX_THREADS	64
#define MAX_ROUNDS	16		/* turns per cell and implementation */

/*
 * A measured turn runs past its deadline until each of its threads has
 * made one acquisition (or round trip): on a host loaded enough to stop
 * the vCPUs for longer than a smoke turn lasts (50 ms), the threads could
 * reach the gate after the deadline, and a cell had no operation at all
 * (make check, beside a kernel build and three guests).  A full turn is
 * hundreds of milliseconds and never ends without, so this changes none
 * of its numbers.  Counting turns ask for more (KCOUNT_MIN_OPS).
 */
#define MEASURED_MIN_OPS	1

struct config {
	bool smoke;
	bool impl[NR_IMPL];		/* which implementations run */
	int threads[MAX_LIST], nr_threads;
	int cs_us[MAX_LIST], nr_cs;
	double cell_secs;		/* per implementation per cell */
	int rounds;			/* ... split into this many turns */
	double lockskew_secs;		/* per implementation per placement */
	double pingpong_secs;		/* per implementation per placement */
	double any_secs;		/* per variant per placement (any.c) */
	uint64_t pairs;			/* uncontended pairs per repetition */
	int reps;			/* ... and repetitions */
	int cpus[MAX_THREADS], nr_cpus;	/* the CPUs we may use */
};

void bench_uncontended(const struct config *cfg);
void bench_contended(const struct config *cfg);
void bench_lockskew(const struct config *cfg);
void bench_pingpong(const struct config *cfg);
void bench_any(const struct config *cfg);
/* The any row's fields of the meta record: its set sizes and variants. */
void any_meta(const struct config *cfg);

void die(const char *what, int err);
void *xalloc(size_t size);		/* zeroed, cache-line aligned */

/* Start @fn(@arg) pinned to @cpu (-1: anywhere), optionally SCHED_BATCH. */
pthread_t start_thread(void *(*fn)(void *), void *arg, int cpu, bool batch);
void join_thread(pthread_t t);

/* Implementations in the order of round @r, so that none always goes first. */
int impl_order(const struct config *cfg, int r, int order[NR_IMPL]);

#endif /* BENCH_BENCH_H */
