/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The module's counters (HSEMA_IOC_STATS) around each measurement: they
 * say what the kernel did for libsema's numbers (waits, wakes, grants,
 * directed yields, starvation episodes), and that it did nothing while
 * another implementation ran.
 */
#ifndef BENCH_HSTATS_H
#define BENCH_HSTATS_H

#include <stdbool.h>

#include <linux/hsema.h>

/* Snapshot the counters; false (and zeroes) without the module. */
bool hstats_read(struct hsema_stats *s);

/* Add the counters' growth from @before to @after into @acc. */
void hstats_add(struct hsema_stats *acc, const struct hsema_stats *before,
		const struct hsema_stats *after);

/* Write "hsema": { counter: value, ... } into the record. */
void hstats_json(const struct hsema_stats *delta);

#endif /* BENCH_HSTATS_H */
