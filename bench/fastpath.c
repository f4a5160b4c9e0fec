// SPDX-License-Identifier: GPL-2.0-only
/*
 * fastpath IMPL PAIRS: PAIRS uncontended acquire + release pairs of one
 * implementation, through the same table of operations as hsema-bench,
 * for counting under
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *	--toggle-collect=fastpath_pairs --collect-bus=yes \
 *	--collect-systime=nsec ./fastpath IMPL PAIRS
 *
 * which counts, inside fastpath_pairs() only, the instructions (Ir), the
 * atomic read-modify-writes (Ge, "global bus events") and the system
 * calls (sysCount).  One pair runs before, outside the counted function,
 * so that lazy symbol binding is not counted.  Exits non-zero if the
 * implementation's fast path made any ioctl (fakedev.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakedev.h"
#include "sems.h"

__attribute__((noinline)) void fastpath_pairs(const struct sem_ops *ops,
					      struct bsem *s,
					      unsigned long n);

void fastpath_pairs(const struct sem_ops *ops, struct bsem *s,
		    unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		ops->acquire(s);
		ops->release(s);
	}
}

static void *nothing(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	static struct bsem s;
	const struct sem_ops *ops;
	unsigned long n;
	pthread_t t;
	int impl;

	if (argc != 3 || (impl = impl_by_name(argv[1])) < 0 ||
	    !(n = strtoul(argv[2], NULL, 10))) {
		fprintf(stderr, "usage: fastpath IMPL PAIRS\n");
		return 2;
	}
	/* libsema-posix preloaded, as for hsema-bench (sems.c). */
	if (impl == IMPL_POSIX)
		sems_preload(argv);
	/*
	 * glibc drops the lock prefix from its mutex while a process has
	 * never had a second thread; nobody needs a lock then.  Be a
	 * multithreaded program, as hsema-bench is.
	 */
	if (pthread_create(&t, NULL, nothing, NULL) || pthread_join(t, NULL)) {
		fprintf(stderr, "fastpath: cannot start a thread\n");
		return 1;
	}
	ops = &sem_ops[impl];
	if (ops->setup)
		ops->setup();
	ops->init(&s, 1);
	/* Bind the symbols lazily bound here, outside the counted function. */
	ops->acquire(&s);
	ops->release(&s);
	fastpath_pairs(ops, &s, n);
	ops->destroy(&s);
	if (fakedev_ioctls) {
		fprintf(stderr, "fastpath: %s: %lu ioctls on the fast path\n",
			ops->name, fakedev_ioctls);
		return 1;
	}
	return 0;
}
