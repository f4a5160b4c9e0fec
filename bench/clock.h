/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Timestamps cheap enough to take around every acquire.
 *
 * Under QEMU's software emulation the guest kernel marks the TSC unstable
 * and reads the emulated HPET, so clock_gettime() is a system call that
 * costs over a microsecond; the TSC itself is the host's, shared by the
 * virtual CPUs, and costs tens of nanoseconds.  So on x86 we read the TSC,
 * converted with a rate calibrated against CLOCK_MONOTONIC, and check how
 * far apart the CPUs' TSCs are; elsewhere we use CLOCK_MONOTONIC.
 */
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define CLOCK_TSC	1
static inline uint64_t ticks(void)
{
	return __rdtsc();
}
#else
#define CLOCK_TSC	0
uint64_t mono_ns(void);
static inline uint64_t ticks(void)
{
	return mono_ns();
}
#endif

uint64_t mono_ns(void);

/* Measure the tick rate; call once before any conversion. */
void clock_calibrate(void);
double clock_ticks_per_ns(void);
const char *clock_source(void);

uint64_t ticks_to_ns(uint64_t t);
uint64_t ns_to_ticks(uint64_t ns);

/*
 * Bound the difference between the TSCs of CPUs @a and @b by bouncing a
 * cache line between threads pinned there; returns the larger bound, in
 * nanoseconds, or -1 if the threads could not be pinned.
 */
int64_t clock_skew_ns(int a, int b);

#endif /* BENCH_CLOCK_H */
