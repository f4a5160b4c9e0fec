// SPDX-License-Identifier: GPL-2.0-only
/*
 * libsema-posix dlopen()ed, RTLD_LOCAL, by a program linked only against
 * glibc (posix_test.sh passes the library as POSIX_DLOPEN_LIB, with
 * /dev/hsema there): its functions are reached through dlsym(), and the
 * program's pthread_cancel() is glibc's, which the library does not see.
 * A cancellation already pending must still act in the library's
 * sem_wait() and sem_timedwait() with a unit free, taking nothing: the
 * library skips that test only where it sees every request (libsema-posix
 * defines pthread_cancel() for it, which binds under LD_PRELOAD or
 * -lsema-posix, not here).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

static struct {
	int (*init)(sem_t *, int, unsigned int);
	int (*destroy)(sem_t *);
	int (*wait)(sem_t *);
	int (*timedwait)(sem_t *, const struct timespec *);
	int (*post)(sem_t *);
	int (*getvalue)(sem_t *, int *);
} psx;

struct pending {
	sem_t *s;
	bool timed;
	atomic_int ready, go;
	int ret;
};

static void *pending_fn(void *arg)
{
	struct pending *p = arg;
	struct timespec dl;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	atomic_store(&p->ready, 1);
	while (!atomic_load(&p->go))	/* set once the cancel is pending */
		usleep(1000);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	p->ret = p->timed ? psx.timedwait(p->s, &dl) : psx.wait(p->s);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return NULL;
}

FIXTURE(dlopened) {
	void *lib;
	sem_t s;
};

FIXTURE_SETUP(dlopened)
{
	const char *path = getenv("POSIX_DLOPEN_LIB");
	int v = -1;

	ASSERT_NE(NULL, path) TH_LOG("POSIX_DLOPEN_LIB names the library");
	self->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ASSERT_NE(NULL, self->lib) TH_LOG("%s", dlerror());
	psx.init = dlsym(self->lib, "sem_init");
	psx.destroy = dlsym(self->lib, "sem_destroy");
	psx.wait = dlsym(self->lib, "sem_wait");
	psx.timedwait = dlsym(self->lib, "sem_timedwait");
	psx.post = dlsym(self->lib, "sem_post");
	psx.getvalue = dlsym(self->lib, "sem_getvalue");
	ASSERT_TRUE(psx.init && psx.destroy && psx.wait && psx.timedwait &&
		    psx.post && psx.getvalue);
	/* glibc's functions are the program's own, not the library's. */
	ASSERT_NE((void *)psx.wait, (void *)sem_wait);
	ASSERT_EQ(0, psx.init(&self->s, 0, 1));
	/* An hsema semaphore reads full to glibc (libsema-posix(7)). */
	ASSERT_EQ(0, sem_getvalue(&self->s, &v));
	ASSERT_EQ(SEM_VALUE_MAX, v) TH_LOG("the library fell back to glibc's");
}

FIXTURE_TEARDOWN(dlopened)
{
	if (psx.destroy)
		psx.destroy(&self->s);
}

/* @timed: sem_timedwait(), else sem_wait(); the unit stays in either. */
static void pending_case(struct __test_metadata *_metadata, sem_t *s,
			 bool timed)
{
	struct pending p = { .s = s, .timed = timed, .ret = 1 };
	pthread_t thr;
	void *res;
	int v = -1;

	ASSERT_EQ(0, pthread_create(&thr, NULL, pending_fn, &p));
	while (!atomic_load(&p.ready))
		usleep(1000);
	ASSERT_EQ(0, pthread_cancel(thr));	/* glibc's */
	atomic_store(&p.go, 1);
	ASSERT_EQ(0, pthread_join(thr, &res));
	EXPECT_EQ(PTHREAD_CANCELED, res) TH_LOG("returned %d", p.ret);
	ASSERT_EQ(0, psx.getvalue(s, &v));
	EXPECT_EQ(1, v);
}

TEST_F(dlopened, wait_acts_on_pending_cancel)
{
	pending_case(_metadata, &self->s, false);
}

TEST_F(dlopened, timedwait_acts_on_pending_cancel)
{
	pending_case(_metadata, &self->s, true);
}

/* Without a request the same calls take the unit, and a post returns it. */
TEST_F(dlopened, no_cancel_takes_the_unit)
{
	struct timespec dl;
	int v = -1;

	ASSERT_EQ(0, psx.wait(&self->s));
	ASSERT_EQ(0, psx.getvalue(&self->s, &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, psx.post(&self->s));
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	ASSERT_EQ(0, psx.timedwait(&self->s, &dl));
	ASSERT_EQ(0, psx.post(&self->s));
	ASSERT_EQ(0, psx.getvalue(&self->s, &v));
	EXPECT_EQ(1, v);
}

TEST_HARNESS_MAIN
