/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Counts that do not depend on how fast the CPU is, so that they hold on
 * an emulator as on hardware:
 *
 *  - kernel entries: futex() (futex_waitv() counted with it) and ioctl()
 *    system calls made by given threads, from a tracefs hist trigger on
 *    raw_syscalls:sys_enter keyed on (common_pid, id), installed for a
 *    counting turn and removed after it (while it exists every system
 *    call of every task is slower, so the throughput turns run without
 *    it); we add up the entries of the turn's worker threads only.
 *    Unavailable (and reported as null) without tracefs, without hist
 *    triggers, or when the self-test at setup does not count exactly
 *    what it did.
 *  - voluntary context switches: getrusage(RUSAGE_THREAD)'s ru_nvcsw, in
 *    each worker around its measured loop (nothing to set up).
 *
 * The workers start through a gate (below) that makes no futex call, so
 * that every futex or ioctl a worker thread makes is one of the
 * implementation's: its whole life is the measured loop, apart from thread
 * start and exit, which make neither call (the self-test checks that too).
 */
#ifndef BENCH_KCOUNT_H
#define BENCH_KCOUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Install the trigger and test it; false if kernel entries cannot be counted. */
bool kcount_setup(void);
/* How kernel entries are counted, or why they are not. */
const char *kcount_method(void);
bool kcount_available(void);

/*
 * A counting turn runs past its deadline until each of its threads has
 * made this many acquisitions (or round trips): its counts are read per
 * operation, and a loaded host can stop a vCPU for longer than a short
 * turn lasts, which left a smoke run's counting turn empty.  The turn's
 * time is not used, so running longer biases nothing.
 */
#define KCOUNT_MIN_OPS	64

/* Start counting (before a counting turn's threads start); false if not. */
bool kcount_start(void);

/*
 * Stop counting: the futex() (futex_waitv() included) and ioctl() calls
 * of threads @tids[0..n) since kcount_start(); false (counts unknown) when
 * counting is unavailable or the histogram dropped an entry.
 */
bool kcount_stop(const pid_t *tids, int n, uint64_t *futex, uint64_t *ioctl);

/*
 * The same in two steps, for several counting turns in a row under one
 * trigger (installing and removing one took 0.4 s in the guest): after
 * each turn, kcount_read() the calls of that turn's threads (new threads
 * every turn: their tids are not reused so soon); after the last,
 * kcount_end() removes the trigger.
 */
bool kcount_read(const pid_t *tids, int n, uint64_t *futex, uint64_t *ioctl);
void kcount_end(void);

/*
 * Write the counts of @ops acquisitions into the record: futex_calls,
 * ioctl_calls and kentries_per_op (their sum per acquisition), null when
 * not @counted; nvcsw and nvcsw_per_op.
 */
void kcount_json_entries(bool counted, uint64_t futex, uint64_t ioctl,
			 uint64_t ops);
void kcount_json_nvcsw(uint64_t nvcsw, uint64_t ops);

/* The calling thread's voluntary context switches so far. */
uint64_t kcount_nvcsw(void);

/*
 * A start line without system calls that count: pthread_barrier_wait()
 * sleeps and wakes in futex(), which would be counted against the
 * implementation.  The workers yield until the main thread opens it.
 */
struct gate {
	atomic_int ready;
	atomic_bool open;
};

void gate_init(struct gate *g);
void gate_wait(struct gate *g);			/* in each worker */
void gate_open(struct gate *g, int nr);		/* once @nr wait there */

#endif /* BENCH_KCOUNT_H */
