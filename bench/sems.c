// SPDX-License-Identifier: GPL-2.0-only
/*
 * The table of implementations.  Each operation checks its result: a
 * benchmark that silently stopped synchronising would report nonsense.
 *
 * libsema-handoff is libsema with the strictest fairness it offers: a
 * starvation threshold of 1 us, so that a queue starves, and every
 * released unit is granted to the head waiter, as soon as anyone waits at
 * all; and release by sema_release_handoff(), which grants and gives the
 * CPU to the waiter even in normal mode.
 *
 * libsema-posix is glibc's sem_t API whose functions are libsema-posix's,
 * as a program gets them with LD_PRELOAD=libsema-posix.so or
 * -lsema-posix: the library is preloaded (sems_preload() runs the
 * program again under LD_PRELOAD when it is not), because that is what
 * lets it skip a call into glibc on every sem_wait() (it sees the
 * process's pthread_cancel() calls, libsema-posix(7)).  Its four
 * functions are dlsym()ed from it, the library's default version of each
 * (LIBSEMA_POSIX_1.0), the one -lsema-posix binds; LD_PRELOAD binds
 * glibc's versions of the same names, which the library defines on the
 * same functions.  glibc-sem, in the same process, reaches glibc's own
 * functions the same way, from libc.so.6 (the preload has taken their
 * names).  Both are called through a pointer, as a call through the PLT
 * jumps through one.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "sems.h"

/* The handoff variant's starvation threshold, in microseconds. */
#define HANDOFF_STARVE_US	1

static void fail(const char *what, int err)
{
	fprintf(stderr, "hsema-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

static void sema_init_ops(struct bsem *s, unsigned int value)
{
	int ret = sema_init(&s->u.sema, value, 0);

	if (ret)
		fail("sema_init", -ret);
}

static void handoff_init(struct bsem *s, unsigned int value)
{
	int ret;

	sema_init_ops(s, value);
	ret = sema_set_starve_threshold(&s->u.sema, HANDOFF_STARVE_US);
	if (ret)
		fail("sema_set_starve_threshold", -ret);
}

static void sema_destroy_ops(struct bsem *s)
{
	int ret = sema_destroy(&s->u.sema);

	if (ret)
		fail("sema_destroy", -ret);
}

static void sema_acquire_ops(struct bsem *s)
{
	int ret = sema_acquire(&s->u.sema);

	if (ret)
		fail("sema_acquire", -ret);
}

static void sema_release_ops(struct bsem *s)
{
	int ret = sema_release(&s->u.sema);

	if (ret)
		fail("sema_release", -ret);
}

static void handoff_release(struct bsem *s)
{
	int ret = sema_release_handoff(&s->u.sema);

	if (ret)
		fail("sema_release_handoff", -ret);
}

/* glibc's semaphore functions, from glibc_setup(). */
static struct {
	int (*init)(sem_t *, int, unsigned int);
	int (*destroy)(sem_t *);
	int (*wait)(sem_t *);
	int (*post)(sem_t *);
	int (*getvalue)(sem_t *, int *);
} gsem;

static void *glibc_sym(void *libc, const char *name)
{
	/* This glibc's version of each, as a program built here binds. */
	void *fn = dlvsym(libc, name, "GLIBC_2.34");

	if (!fn)
		fn = dlsym(libc, name);
	if (!fn) {
		fprintf(stderr, "hsema-bench: libc.so.6: %s\n", dlerror());
		exit(1);
	}
	return fn;
}

static void glibc_setup(void)
{
	void *libc;

	if (gsem.init)
		return;
	libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!libc) {
		fprintf(stderr, "hsema-bench: libc.so.6: %s\n", dlerror());
		exit(1);
	}
	gsem.init = glibc_sym(libc, "sem_init");
	gsem.destroy = glibc_sym(libc, "sem_destroy");
	gsem.wait = glibc_sym(libc, "sem_wait");
	gsem.post = glibc_sym(libc, "sem_post");
	gsem.getvalue = glibc_sym(libc, "sem_getvalue");
}

static void sem_init_ops(struct bsem *s, unsigned int value)
{
	if (!gsem.init)
		fail("glibc-sem used before its setup", EINVAL);
	if (gsem.init(&s->u.sem, 0, value))
		fail("sem_init", errno);
}

static void sem_destroy_ops(struct bsem *s)
{
	if (gsem.destroy(&s->u.sem))
		fail("sem_destroy", errno);
}

static void sem_acquire_ops(struct bsem *s)
{
	while (gsem.wait(&s->u.sem))
		if (errno != EINTR)
			fail("sem_wait", errno);
}

static void sem_release_ops(struct bsem *s)
{
	if (gsem.post(&s->u.sem))
		fail("sem_post", errno);
}

/* libsema-posix's functions, from posix_setup(). */
static struct {
	int (*init)(sem_t *, int, unsigned int);
	int (*destroy)(sem_t *);
	int (*wait)(sem_t *);
	int (*post)(sem_t *);
} psx;

/*
 * The library is found as libsema.so is: through the executable's run
 * path, $ORIGIN/../libsema (the Makefile), which dlopen() searches for a
 * call from the executable.
 */
#define PSX_LIB "libsema-posix.so.1"
#define PSX_ENV "HSEMA_BENCH_PRELOAD"	/* LD_PRELOAD as it was, + 1 */

static void *posix_sym(void *lib, struct link_map *lm, const char *name)
{
	struct link_map *where = NULL;
	void *fn = dlsym(lib, name);
	Dl_info info;

	if (!fn) {
		fprintf(stderr, "hsema-bench: %s: %s\n", PSX_LIB, dlerror());
		exit(1);
	}
	/* The library's own, not glibc's found through its dependencies. */
	if (!dladdr1(fn, &info, (void **)&where, RTLD_DL_LINKMAP) ||
	    where != lm) {
		fprintf(stderr, "hsema-bench: %s from %s, not from %s\n", name,
			where ? where->l_name : "?", lm->l_name);
		exit(1);
	}
	return fn;
}

static struct link_map *posix_open(void **libp)
{
	struct link_map *lm;
	void *lib;

	lib = dlopen(PSX_LIB, RTLD_NOW | RTLD_LOCAL);
	if (!lib || dlinfo(lib, RTLD_DI_LINKMAP, &lm)) {
		fprintf(stderr, "hsema-bench: %s (make -C libsema)\n",
			dlerror());
		exit(1);
	}
	*libp = lib;
	return lm;
}

/* Whether the program's sem_wait() is the library's: it is preloaded. */
static bool posix_preloaded(void *lib, struct link_map *lm)
{
	return dlsym(RTLD_DEFAULT, "sem_wait") == posix_sym(lib, lm, "sem_wait");
}

void sems_preload(char **argv)
{
	const char *was = getenv("LD_PRELOAD");
	struct link_map *lm;
	char *env, *saved;
	void *lib;

	lm = posix_open(&lib);
	if (getenv(PSX_ENV)) {
		/* Run again: children get LD_PRELOAD as it was. */
		saved = getenv(PSX_ENV);
		if (*saved)
			setenv("LD_PRELOAD", saved + 1, 1);
		else
			unsetenv("LD_PRELOAD");
		unsetenv(PSX_ENV);
		return;
	}
	if (posix_preloaded(lib, lm))
		return;
	if (strpbrk(lm->l_name, " :")) {
		fprintf(stderr, "hsema-bench: cannot preload %s (a space or "
			"colon in its path)\n", lm->l_name);
		exit(1);
	}
	if (asprintf(&saved, "%s%s", was ? "+" : "", was ? was : "") < 0 ||
	    asprintf(&env, "%s%s%s", lm->l_name, was ? ":" : "",
		     was ? was : "") < 0)
		fail("asprintf", ENOMEM);
	setenv(PSX_ENV, saved, 1);
	setenv("LD_PRELOAD", env, 1);
	execv("/proc/self/exe", argv);
	fail("exec under LD_PRELOAD=" PSX_LIB, errno);
}

static void posix_setup(void)
{
	struct link_map *lm;
	void *lib;

	glibc_setup();
	/*
	 * Loading the library ran its constructor, which opened /dev/hsema
	 * and asked HSEMA_IOC_VERSION: from the main thread, before any
	 * measurement.
	 */
	lm = posix_open(&lib);
	if (!posix_preloaded(lib, lm)) {
		fprintf(stderr, "hsema-bench: %s is not preloaded: run with "
			"LD_PRELOAD=%s\n", PSX_LIB, lm->l_name);
		exit(1);
	}
	psx.init = posix_sym(lib, lm, "sem_init");
	psx.destroy = posix_sym(lib, lm, "sem_destroy");
	psx.wait = posix_sym(lib, lm, "sem_wait");
	psx.post = posix_sym(lib, lm, "sem_post");
}

/*
 * Every semaphore must be hsema's: without a usable /dev/hsema (or with
 * a module that lacks WAIT_EINTR and WAIT_OWNED) libsema-posix gives
 * every semaphore to glibc's implementation, and this row would measure
 * glibc-sem again.  libsema-posix(7): an hsema semaphore looks full to
 * glibc, so glibc's own sem_getvalue() reads SEM_VALUE_MAX from it, and
 * the value otherwise.
 */
static void posix_init_ops(struct bsem *s, unsigned int value)
{
	int v = -1;

	if (!psx.init)
		fail("libsema-posix used before its setup", EINVAL);
	if (psx.init(&s->u.sem, 0, value))
		fail("libsema-posix sem_init", errno);
	if (gsem.getvalue(&s->u.sem, &v) || v != SEM_VALUE_MAX) {
		fprintf(stderr, "hsema-bench: libsema-posix made a semaphore "
			"of glibc's (it reads %d): no usable %s\n", v,
			HSEMA_DEVICE);
		exit(1);
	}
}

static void posix_destroy_ops(struct bsem *s)
{
	if (psx.destroy(&s->u.sem))
		fail("libsema-posix sem_destroy", errno);
}

static void posix_acquire_ops(struct bsem *s)
{
	while (psx.wait(&s->u.sem))
		if (errno != EINTR)
			fail("libsema-posix sem_wait", errno);
}

static void posix_release_ops(struct bsem *s)
{
	if (psx.post(&s->u.sem))
		fail("libsema-posix sem_post", errno);
}

static void mutex_init_ops(struct bsem *s, unsigned int value)
{
	int ret;

	if (value > 1)
		fail("a mutex holds at most one unit", EINVAL);
	ret = pthread_mutex_init(&s->u.mutex, NULL);
	if (ret)
		fail("pthread_mutex_init", ret);
	if (!value) {
		ret = pthread_mutex_lock(&s->u.mutex);
		if (ret)
			fail("pthread_mutex_lock", ret);
	}
}

static void mutex_destroy_ops(struct bsem *s)
{
	int ret = pthread_mutex_destroy(&s->u.mutex);

	if (ret)
		fail("pthread_mutex_destroy", ret);
}

static void mutex_acquire_ops(struct bsem *s)
{
	int ret = pthread_mutex_lock(&s->u.mutex);

	if (ret)
		fail("pthread_mutex_lock", ret);
}

static void mutex_release_ops(struct bsem *s)
{
	int ret = pthread_mutex_unlock(&s->u.mutex);

	if (ret)
		fail("pthread_mutex_unlock", ret);
}

static void futex_init_ops(struct bsem *s, unsigned int value)
{
	futexsem_init(&s->u.fsem, value);
}

static void futex_destroy_ops(struct bsem *s)
{
	(void)s;
}

static void futex_acquire_ops(struct bsem *s)
{
	futexsem_acquire(&s->u.fsem);
}

static void futex_release_ops(struct bsem *s)
{
	futexsem_release(&s->u.fsem);
}

const struct sem_ops sem_ops[NR_IMPL] = {
	[IMPL_LIBSEMA] = {
		.name = "libsema",
		.desc = "libsema, default: normal mode, starvation after 1 ms",
		.libsema = true,
		.init = sema_init_ops,
		.destroy = sema_destroy_ops,
		.acquire = sema_acquire_ops,
		.release = sema_release_ops,
	},
	[IMPL_HANDOFF] = {
		.name = "libsema-handoff",
		.desc = "libsema, starvation after 1 us, sema_release_handoff()",
		.libsema = true,
		.init = handoff_init,
		.destroy = sema_destroy_ops,
		.acquire = sema_acquire_ops,
		.release = handoff_release,
	},
	[IMPL_POSIX] = {
		.name = "libsema-posix",
		.desc = "glibc's sem_t API (sem_wait, sem_post), libsema-posix's "
			"functions, under LD_PRELOAD",
		.libsema = true,
		.setup = posix_setup,
		.init = posix_init_ops,
		.destroy = posix_destroy_ops,
		.acquire = posix_acquire_ops,
		.release = posix_release_ops,
	},
	[IMPL_GLIBC] = {
		.name = "glibc-sem",
		.desc = "glibc sem_t (sem_wait, sem_post)",
		.setup = glibc_setup,
		.init = sem_init_ops,
		.destroy = sem_destroy_ops,
		.acquire = sem_acquire_ops,
		.release = sem_release_ops,
	},
	[IMPL_MUTEX] = {
		.name = "pthread-mutex",
		.desc = "glibc pthread_mutex_t, default type",
		.lock_only = true,
		.init = mutex_init_ops,
		.destroy = mutex_destroy_ops,
		.acquire = mutex_acquire_ops,
		.release = mutex_release_ops,
	},
	[IMPL_FUTEX] = {
		.name = "raw-futex",
		.desc = "minimal raw-futex semaphore (value + waiter count)",
		.init = futex_init_ops,
		.destroy = futex_destroy_ops,
		.acquire = futex_acquire_ops,
		.release = futex_release_ops,
	},
};

int impl_by_name(const char *name)
{
	int i;

	for (i = 0; i < NR_IMPL; i++)
		if (!strcmp(sem_ops[i].name, name))
			return i;
	return -1;
}

void sems_setup(const bool enabled[NR_IMPL])
{
	int i;

	for (i = 0; i < NR_IMPL; i++)
		if ((!enabled || enabled[i]) && sem_ops[i].setup)
			sem_ops[i].setup();
}

bool sems_have_hsema(void)
{
	int fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}
