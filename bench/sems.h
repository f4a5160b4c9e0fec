/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The implementations under test, behind one table of operations, so
 * that every benchmark drives each of them through the same indirect call.
 */
#ifndef BENCH_SEMS_H
#define BENCH_SEMS_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>

#include <sema.h>

#include "futexsem.h"

enum impl {
	IMPL_LIBSEMA,		/* libsema, default settings */
	IMPL_HANDOFF,		/* libsema, starvation handoff at once */
	IMPL_POSIX,		/* glibc's sem_t API, libsema-posix's functions */
	IMPL_GLIBC,		/* glibc sem_t */
	IMPL_MUTEX,		/* glibc pthread_mutex_t, default type */
	IMPL_FUTEX,		/* the raw-futex semaphore */
	NR_IMPL
};

/* One semaphore of any implementation, alone on its cache lines. */
struct bsem {
	_Alignas(64) union {
		sema_t sema;
		sem_t sem;
		pthread_mutex_t mutex;
		struct futexsem fsem;
	} u;
	char pad[64];
};

struct sem_ops {
	const char *name;	/* short, for files and tables */
	const char *desc;	/* one line, for the report */
	bool lock_only;		/* a lock: value 1, released by its owner */
	bool libsema;		/* uses /dev/hsema: the module counts it */
	/* Optional, once before any init: load what it needs, or exit. */
	void (*setup)(void);
	void (*init)(struct bsem *s, unsigned int value);
	void (*destroy)(struct bsem *s);
	void (*acquire)(struct bsem *s);
	void (*release)(struct bsem *s);
};

extern const struct sem_ops sem_ops[NR_IMPL];

/* The implementation called @name, or -1. */
int impl_by_name(const char *name);

/* The libsema implementations need /dev/hsema: false if it is missing. */
bool sems_have_hsema(void);

/*
 * libsema-posix must be preloaded for its row (sems.c): run the program
 * again under LD_PRELOAD unless it is, before any thread or output.
 */
void sems_preload(char **argv);

/* Run every enabled implementation's setup (@enabled: NULL for all). */
void sems_setup(const bool enabled[NR_IMPL]);

#endif /* BENCH_SEMS_H */
