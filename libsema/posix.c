// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libsema-posix: the POSIX semaphore API of <semaphore.h> over hsema, for
 * programs as they are: LD_PRELOAD=libsema-posix.so, or -lsema-posix
 * ahead of libc.  See libsema-posix(7).
 *
 * A sem_t is 32 bytes.  glibc uses its first 16 (a 64-bit word holding
 * the value and the waiter count, the futex flags, padding) and never
 * writes the other 16, so those say whose semaphore it is:
 *
 *   0  u32  glibc's value      hsema's: 0x7fffffff (glibc's SEM_VALUE_MAX)
 *   4  u32  glibc's waiters    hsema's: 0
 *   8  u32  glibc's flags      hsema's: glibc's pshared flag, unused
 *  12  u32  glibc's padding
 *  16  u32  the hsema word     (uapi/linux/hsema.h)
 *  20  u32  HSEMA_F_SHARED for a process-shared semaphore
 *  24  u64  the owner: PSEM_HSEMA, PSEM_GLIBC (a semaphore this library
 *           gave to glibc's implementation), or anything else: not ours
 *
 * An hsema semaphore looks full to glibc: a process that runs glibc's
 * sem_post() on it by mistake gets EOVERFLOW and changes nothing, and one
 * that waits on it takes a unit of a count nobody else reads; this library
 * notices the count moved and refuses the semaphore (EINVAL) from then on.
 *
 * Which implementation a semaphore gets is decided when it is made:
 * hsema's when /dev/hsema works and the initial value fits hsema's word
 * (at most HSEMA_VALUE_MAX, 2^30 - 1), glibc's otherwise.  Without the
 * device every semaphore is glibc's, and so is every semaphore this
 * library did not make; with it, a semaphore made by glibc itself (another
 * process without this library) is refused, never used by both.
 *
 * The fast paths are libsema's (proto.h): one compare-and-swap.
 */
#define _GNU_SOURCE	/* dlvsym() and RTLD_NEXT, to reach glibc's own */
			/* semaphores; getrandom() for sem_open's temporary */
			/* names */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "posix-versions.h"
#include "proto.h"

#if !defined(__SIZEOF_SEM_T) || __SIZEOF_SEM_T != 32
#error "libsema-posix needs glibc's 32-byte sem_t (a 64-bit ABI)"
#endif

/* The owners; anything else in psem.owner is not this library's. */
#define PSEM_HSEMA	0x31702d616d657368ULL	/* "hsema-p1" */
#define PSEM_GLIBC	0x31702d6362696c67ULL	/* "glibc-p1" */
#define PSEM_NOBODY	0ULL			/* destroyed */

/* What glibc reads in an hsema semaphore: a full count. */
#define PSEM_GLIBC_FULL	0x7fffffffU
/* glibc's futex flag for a process-shared semaphore (FUTEX_SHARED). */
#define PSEM_GLIBC_SHARED	128U

struct psem {
	uint32_t glibc_value;
	uint32_t glibc_waiters;
	uint32_t glibc_private;
	uint32_t glibc_pad;
	_Atomic uint32_t word;
	uint32_t keyflags;
	_Atomic uint64_t owner;
};

_Static_assert(sizeof(struct psem) == sizeof(sem_t), "psem overlays sem_t");
_Static_assert(_Alignof(sem_t) >= _Alignof(struct psem),
	       "a sem_t is aligned for psem");
_Static_assert(HSEMA_VALUE_MAX < SEM_VALUE_MAX, "the value-range rule");

/*
 * The API's definitions are named psem_api_*: the symver attributes of
 * posix-versions.h give each its public name, in every version.
 */
#define PSEM_EXPORT	__attribute__((visibility("default")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* glibc's own functions, for the semaphores that are glibc's. */
static struct {
	int (*init)(sem_t *, int, unsigned int);
	int (*destroy)(sem_t *);
	int (*wait)(sem_t *);
	int (*trywait)(sem_t *);
	int (*timedwait)(sem_t *, const struct timespec *);
	int (*clockwait)(sem_t *, clockid_t, const struct timespec *);
	int (*post)(sem_t *);
	int (*getvalue)(sem_t *, int *);
	int (*close)(sem_t *);
	int (*unlink)(const char *);
	int (*cancel)(pthread_t);
} glibc;

/*
 * POSIX makes sem_wait() and sem_timedwait() cancellation points even
 * when they take a unit at once, so each must act on a pending
 * cancellation request.  pthread_testcancel() is a call into glibc (the
 * state is glibc's private thread data) on every fast path; instead the
 * library defines pthread_cancel() too, which raises psem_tc before it
 * calls glibc's.  Once psem_setup() has checked that the program's
 * pthread_cancel(), every version of it, is this library's (LD_PRELOAD,
 * or -lsema-posix ahead of libc), psem_tc stays PSEM_TC_NEVER until a
 * thread is first cancelled, and the fast paths skip the test; otherwise
 * (the library dlopen()ed, or a pthread_cancel() ahead of this one) it
 * stays PSEM_TC_UNKNOWN and they always test.  No ordering is needed
 * beyond the relaxed load: a request that happens before a wait was made
 * after its psem_tc store, which the wait then sees; one that does not
 * may as well have come after the wait, as it would in glibc.
 */
enum { PSEM_TC_NEVER, PSEM_TC_UNKNOWN, PSEM_TC_ALWAYS };
static _Atomic int psem_tc = PSEM_TC_UNKNOWN;

/*
 * The process's choice, made once (psem_setup()): with hsema, psem_live
 * is PSEM_HSEMA and an hsema semaphore takes the fast paths; without,
 * it is a value no owner field holds, so every call takes the slow
 * dispatch, which hands glibc's semaphores to glibc.
 */
#define PSEM_UNSET	1ULL
static _Atomic uint64_t psem_live = PSEM_UNSET;
static bool psem_hsema;		/* set once, before psem_live */
static int psem_fd = -1;
static bool psem_publish;	/* the module takes HSEMA_WAKE_PUBLISHED */
static bool psem_spins;		/* more than one CPU: spinning may pay */
static bool psem_quiet;		/* LIBSEMA_POSIX_QUIET */
static const char *psem_why;	/* why not hsema, said at first use */
static pthread_once_t psem_once = PTHREAD_ONCE_INIT;

/* write(2) of each piece, so that it can run in a signal handler. */
static void psem_say(atomic_flag *once, const char *a, const char *b,
		     const char *c)
{
	const char *parts[] = { "libsema-posix: ", a, b, c, "\n" };
	int saved = errno;
	size_t i;

	if (psem_quiet || atomic_flag_test_and_set(once))
		return;
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i] && write(STDERR_FILENO, parts[i],
				      strlen(parts[i])) < 0)
			break;
	errno = saved;
}

static void *psem_glibc_fn(const char *name)
{
	void *fn = dlvsym(RTLD_NEXT, name, "GLIBC_2.34");

	return fn ? fn : dlsym(RTLD_NEXT, name);
}

int psem_api_cancel(pthread_t thread);

/* Whether every pthread_cancel() the program calls is this library's. */
static bool psem_cancel_interposed(void)
{
	static const char *const vers[] = {
		PSEM_GLIBC_VERSIONS_pthread_cancel
	};
	unsigned int i;

	if (dlsym(RTLD_DEFAULT, "pthread_cancel") != (void *)psem_api_cancel)
		return false;
	for (i = 0; i < sizeof(vers) / sizeof(vers[0]); i++)
		if (dlvsym(RTLD_DEFAULT, "pthread_cancel", vers[i]) !=
		    (void *)psem_api_cancel)
			return false;
	return true;
}

/* psem_tc: never test, until pthread_cancel() says otherwise. */
static void psem_track_cancel(void)
{
	int unknown = PSEM_TC_UNKNOWN;

	if (glibc.cancel && psem_cancel_interposed())
		atomic_compare_exchange_strong(&psem_tc, &unknown,
					       PSEM_TC_NEVER);
}

static void psem_setup(void)
{
	const uint64_t need = HSEMA_FEAT_SHARED | HSEMA_FEAT_TIMEOUT |
			      HSEMA_FEAT_WAIT_EINTR | HSEMA_FEAT_WAIT_OWNED;
	const char *quiet = getenv("LIBSEMA_POSIX_QUIET");
	struct hsema_version v;
	int fd;

	psem_quiet = quiet && *quiet && strcmp(quiet, "0");
	glibc.init = psem_glibc_fn("sem_init");
	glibc.destroy = psem_glibc_fn("sem_destroy");
	glibc.wait = psem_glibc_fn("sem_wait");
	glibc.trywait = psem_glibc_fn("sem_trywait");
	glibc.timedwait = psem_glibc_fn("sem_timedwait");
	glibc.clockwait = psem_glibc_fn("sem_clockwait");
	glibc.post = psem_glibc_fn("sem_post");
	glibc.getvalue = psem_glibc_fn("sem_getvalue");
	glibc.close = psem_glibc_fn("sem_close");
	glibc.unlink = psem_glibc_fn("sem_unlink");
	glibc.cancel = psem_glibc_fn("pthread_cancel");
	psem_track_cancel();

	/*
	 * O_CLOEXEC: an exec'd program opens its own.  A fork()ed child
	 * shares this one, which has no state.
	 */
	fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		psem_why = strerror(errno);
	} else if (ioctl(fd, HSEMA_IOC_VERSION, &v) ||
		   v.abi_version != HSEMA_ABI_VERSION ||
		   (v.features & need) != need) {
		close(fd);
		psem_why = "the module lacks ABI 1 with WAIT_EINTR and WAIT_OWNED";
	} else {
		psem_fd = fd;
		psem_publish = v.features & HSEMA_FEAT_PUBLISHED;
		psem_spins = sysconf(_SC_NPROCESSORS_ONLN) > 1;
		psem_hsema = true;
	}
	atomic_store_explicit(&psem_live, psem_hsema ? PSEM_HSEMA : PSEM_UNSET,
			      memory_order_release);
}

/* Ahead of main(), so that sem_post() in a signal handler never sets up. */
__attribute__((constructor)) static void psem_ctor(void)
{
	pthread_once(&psem_once, psem_setup);
}

/*
 * Before any call that is not an hsema semaphore's fast path.  Without
 * the device, the first such call says once why (a program that never
 * uses a semaphore says nothing).
 */
static void psem_ready(void)
{
	static atomic_flag said = ATOMIC_FLAG_INIT;

	pthread_once(&psem_once, psem_setup);
	if (!psem_hsema)
		psem_say(&said, "cannot use " HSEMA_DEVICE ": ", psem_why,
			 "; POSIX semaphores are glibc's in this process"
			 " (load the hsema module for hsema's;"
			 " LIBSEMA_POSIX_QUIET=1 silences this)");
}

static struct psem *P(sem_t *sem)
{
	return (struct psem *)sem;
}

/* A cancellation point, on the fast paths too (psem_tc). */
static inline void psem_testcancel(void)
{
	if (unlikely(atomic_load_explicit(&psem_tc, memory_order_relaxed) !=
		     PSEM_TC_NEVER))
		pthread_testcancel();
}

/* An hsema semaphore in a process that uses hsema: the fast paths. */
static inline bool psem_fast(const sem_t *sem)
{
	return likely(sem != NULL) &&
	       atomic_load_explicit(&((const struct psem *)sem)->owner,
				    memory_order_relaxed) ==
	       atomic_load_explicit(&psem_live, memory_order_relaxed);
}

enum psem_kind { PSEM_K_HSEMA, PSEM_K_GLIBC, PSEM_K_BAD };

/* glibc's count of an hsema semaphore moved: glibc's code used it. */
static bool psem_tampered(const struct psem *p)
{
	return p->glibc_value != PSEM_GLIBC_FULL || p->glibc_waiters;
}

/*
 * Whose semaphore this is, once the fast test failed: hsema's (the first
 * call of the process), glibc's, or none this process may use.
 */
static enum psem_kind psem_kind(sem_t *sem)
{
	static atomic_flag said_hsema = ATOMIC_FLAG_INIT;
	static atomic_flag said_glibc = ATOMIC_FLAG_INIT;
	static atomic_flag said_mixed = ATOMIC_FLAG_INIT;
	struct psem *p;
	uint64_t owner;

	if (!sem)
		return PSEM_K_BAD;
	psem_ready();
	p = P(sem);
	owner = atomic_load_explicit(&p->owner, memory_order_acquire);
	if (owner == PSEM_GLIBC)
		return PSEM_K_GLIBC;
	if (owner == PSEM_HSEMA) {
		if (!psem_hsema) {
			psem_say(&said_hsema, "a semaphore made over hsema,"
				 " used by a process that cannot use "
				 HSEMA_DEVICE, NULL, ": EINVAL");
			return PSEM_K_BAD;
		}
		if (psem_tampered(p)) {
			psem_say(&said_mixed, "a semaphore made over hsema was"
				 " also used by glibc's sem_wait() (a process"
				 " without libsema-posix?)", NULL, ": EINVAL");
			return PSEM_K_BAD;
		}
		return PSEM_K_HSEMA;
	}
	if (!psem_hsema)
		return PSEM_K_GLIBC;
	psem_say(&said_glibc, "a semaphore this library did not make (glibc's"
		 " sem_init() or sem_open() in a process without"
		 " libsema-posix, or no sem_init() at all)", NULL, ": EINVAL");
	return PSEM_K_BAD;
}

static int psem_fail(int err)
{
	errno = err;
	return -1;
}

static int psem_no_glibc(void)
{
	return psem_fail(ENOSYS);
}

/* ----- hsema semaphores ----- */

static int psem_wake(struct psem *p, unsigned int n, uint32_t flags)
{
	struct hsema_wake a = {
		.uaddr = (uintptr_t)&p->word,
		.count = n,
		.flags = p->keyflags | flags,
	};

	return ioctl(psem_fd, HSEMA_IOC_WAKE, &a) ? -errno : 0;
}

static bool psem_publishes(void)
{
	return psem_publish;
}

/*
 * sem_post() where the fast path could not: somebody waits, or the value
 * is at its maximum.  Out of line and cold, so that the fast path needs
 * no stack frame.
 */
static __attribute__((noinline, cold)) int psem_post_slow(struct psem *p)
{
	int saved, ret;

	switch (hsema_word_add(&p->word, 1, 0, psem_publishes)) {
	case HSEMA_ADDED:
		return 0;
	case HSEMA_ADDED_WAKE:
		/*
		 * The unit is in the word: the release has happened, and a
		 * failed wake loses nothing (the next release wakes for it).
		 */
		saved = errno;
		(void)psem_wake(p, 1, HSEMA_WAKE_PUBLISHED);
		errno = saved;
		return 0;
	case HSEMA_ADD_OVERFLOW:
		return psem_fail(EOVERFLOW);
	default:
		saved = errno;
		ret = psem_wake(p, 1, 0);
		if (ret)
			return psem_fail(-ret);
		errno = saved;
		return 0;
	}
}

/*
 * sem_post(): async-signal-safe (atomics and one ioctl), and errno is
 * touched only when it fails.
 */
static inline int psem_post(struct psem *p)
{
	if (hsema_word_add_fast(&p->word, 1, 0))
		return 0;
	return psem_post_slow(p);
}

struct psem_waiting {
	struct psem *p;
	uint32_t owned;		/* the kernel's HSEMA_WAIT_OWNED report */
};

/*
 * Run when the thread is cancelled in the kernel wait, from the handler
 * of the cancellation signal: the return value is lost, the report is
 * not.  A unit granted just before the cancellation goes to the next
 * waiter, not with the thread.
 */
static void psem_wait_cancelled(void *arg)
{
	struct psem_waiting *w = arg;

	if (__atomic_load_n(&w->owned, __ATOMIC_ACQUIRE))
		(void)psem_post(w->p);
}

/*
 * Wait in the kernel.  A cancellation point, as glibc's futex wait is:
 * asynchronous cancellation is enabled only around the system call, and
 * the kernel reports ownership in w.owned before it returns.  Timed
 * waits end with EINTR for any handled signal (HSEMA_WAIT_EINTR), as
 * glibc's timed futex wait does; sem_wait() restarts after an SA_RESTART
 * handler, as glibc's does.
 */
static int psem_wait_kernel(struct psem *p, const struct timespec *abstime,
			    clockid_t clock)
{
	struct psem_waiting w = { .p = p, .owned = 0 };
	struct hsema_wait a = {
		.uaddr = (uintptr_t)&p->word,
		.flags = p->keyflags | HSEMA_WAIT_OWNED,
		.owned = (uintptr_t)&w.owned,
	};
	int oldtype, ret, err = 0;

	/* glibc's count moved: a process without this library used it. */
	if (psem_tampered(p)) {
		(void)psem_kind((sem_t *)p);	/* says so, once */
		return psem_fail(EINVAL);
	}
	if (abstime) {
		a.flags |= HSEMA_WAIT_TIMEOUT | HSEMA_WAIT_EINTR;
		if (clock == CLOCK_REALTIME)
			a.flags |= HSEMA_WAIT_REALTIME;
		a.deadline_sec = abstime->tv_sec;
		a.deadline_nsec = abstime->tv_nsec;
	}
	pthread_cleanup_push(psem_wait_cancelled, &w);
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
	ret = ioctl(psem_fd, HSEMA_IOC_WAIT, &a);
	if (ret)
		err = errno;
	pthread_setcanceltype(oldtype, NULL);
	pthread_cleanup_pop(0);
	if (!ret)
		return 0;
	if (err == EFAULT) {
		/* The word is gone, or the report was: nothing is owned. */
		err = EINVAL;
	}
	return psem_fail(err);
}

/*
 * A wait that found no unit: spin, then wait in the kernel (@abstime NULL:
 * sem_wait()).  Out of line and cold, so that the fast paths need no
 * stack frame.
 */
static __attribute__((noinline, cold)) int
psem_wait_slow(struct psem *p, const struct timespec *abstime, clockid_t clock)
{
	if (hsema_word_spin(&p->word, psem_spins))
		return 0;
	/* glibc's futex wait: a deadline before the epoch has passed. */
	if (abstime && abstime->tv_sec < 0)
		return hsema_word_take(&p->word) ? 0 : psem_fail(ETIMEDOUT);
	return psem_wait_kernel(p, abstime, clock);
}

static int psem_timed(struct psem *p, const struct timespec *abstime,
		      clockid_t clock)
{
	if (hsema_word_take(&p->word))
		return 0;
	return psem_wait_slow(p, abstime, clock);
}

static bool psem_valid_nsec(const struct timespec *abstime)
{
	return abstime->tv_nsec >= 0 && abstime->tv_nsec < 1000000000L;
}

static void psem_make_hsema(struct psem *p, int pshared, unsigned int value)
{
	p->glibc_value = PSEM_GLIBC_FULL;
	p->glibc_waiters = 0;
	p->glibc_private = pshared ? PSEM_GLIBC_SHARED : 0;
	p->glibc_pad = 0;
	atomic_store_explicit(&p->word, value, memory_order_relaxed);
	p->keyflags = pshared ? HSEMA_F_SHARED : 0;
	atomic_store_explicit(&p->owner, PSEM_HSEMA, memory_order_release);
}

/* ----- the API ----- */

PSEM_EXPORT PSEM_SYMVER_sem_init
int psem_api_init(sem_t *sem, int pshared, unsigned int value)
{
	struct psem *p = P(sem);

	if (value > SEM_VALUE_MAX || !sem)
		return psem_fail(EINVAL);
	psem_ready();
	if (psem_hsema && value <= HSEMA_VALUE_MAX) {
		psem_make_hsema(p, pshared, value);
		return 0;
	}
	/* No device, or a value only glibc's count holds. */
	if (!glibc.init)
		return psem_no_glibc();
	if (glibc.init(sem, pshared, value))
		return -1;
	atomic_store_explicit(&p->word, 0, memory_order_relaxed);
	p->keyflags = 0;
	atomic_store_explicit(&p->owner, PSEM_GLIBC, memory_order_release);
	return 0;
}

PSEM_EXPORT PSEM_SYMVER_sem_destroy
int psem_api_destroy(sem_t *sem)
{
	struct psem *p = P(sem);
	struct hsema_query q;

	switch (psem_kind(sem)) {
	case PSEM_K_HSEMA:
		if (atomic_load_explicit(&p->word, memory_order_acquire) &
		    HSEMA_STATE_MASK) {
			/* The state may be stale (a fork()ed copy): ask. */
			memset(&q, 0, sizeof(q));
			q.uaddr = (uintptr_t)&p->word;
			q.flags = p->keyflags;
			if (ioctl(psem_fd, HSEMA_IOC_QUERY, &q))
				return psem_fail(EINVAL);
			if (q.nr_waiters)
				return psem_fail(EBUSY);
		}
		atomic_store_explicit(&p->owner, PSEM_NOBODY,
				      memory_order_release);
		return 0;
	case PSEM_K_GLIBC:
		if (!glibc.destroy)
			return psem_no_glibc();
		if (glibc.destroy(sem))
			return -1;
		if (atomic_load_explicit(&p->owner, memory_order_relaxed) ==
		    PSEM_GLIBC)
			atomic_store_explicit(&p->owner, PSEM_NOBODY,
					      memory_order_release);
		return 0;
	default:
		return psem_fail(EINVAL);
	}
}

/*
 * The API's calls on a semaphore the fast test did not recognize (the
 * process's first call, glibc's semaphores, bad ones): out of line and
 * cold, so that an hsema semaphore's fast path is one test, the word's
 * compare-and-swap and tail calls, with no stack frame of its own.
 */
int psem_api_wait(sem_t *sem);
int psem_api_trywait(sem_t *sem);

static __attribute__((noinline, cold)) int psem_wait_other(sem_t *sem)
{
	switch (psem_kind(sem)) {
	case PSEM_K_HSEMA:
		return psem_api_wait(sem);
	case PSEM_K_GLIBC:
		return glibc.wait ? glibc.wait(sem) : psem_no_glibc();
	default:
		return psem_fail(EINVAL);
	}
}

static __attribute__((noinline, cold)) int psem_trywait_other(sem_t *sem)
{
	switch (psem_kind(sem)) {
	case PSEM_K_HSEMA:
		return psem_api_trywait(sem);
	case PSEM_K_GLIBC:
		return glibc.trywait ? glibc.trywait(sem) : psem_no_glibc();
	default:
		return psem_fail(EINVAL);
	}
}

static __attribute__((noinline, cold)) int psem_post_other(sem_t *sem)
{
	switch (psem_kind(sem)) {
	case PSEM_K_HSEMA:
		return psem_post(P(sem));
	case PSEM_K_GLIBC:
		return glibc.post ? glibc.post(sem) : psem_no_glibc();
	default:
		return psem_fail(EINVAL);
	}
}

PSEM_EXPORT PSEM_SYMVER_sem_wait
int psem_api_wait(sem_t *sem)
{
	struct psem *p = P(sem);

	if (likely(psem_fast(sem))) {
		/* A cancellation point even when it does not block. */
		psem_testcancel();
		if (hsema_word_take(&p->word))
			return 0;
		return psem_wait_slow(p, NULL, CLOCK_REALTIME);
	}
	return psem_wait_other(sem);
}

PSEM_EXPORT PSEM_SYMVER_sem_trywait
int psem_api_trywait(sem_t *sem)
{
	struct psem *p = P(sem);

	if (likely(psem_fast(sem)))
		return hsema_word_take(&p->word) ? 0 : psem_fail(EAGAIN);
	return psem_trywait_other(sem);
}

PSEM_EXPORT PSEM_SYMVER_sem_timedwait
int psem_api_timedwait(sem_t *sem, const struct timespec *abstime)
{
	struct psem *p = P(sem);

	if (likely(psem_fast(sem))) {
		/* As glibc: the deadline is checked before anything else. */
		if (!abstime || !psem_valid_nsec(abstime))
			return psem_fail(EINVAL);
		psem_testcancel();
		return psem_timed(p, abstime, CLOCK_REALTIME);
	}
	switch (psem_kind(sem)) {
	case PSEM_K_HSEMA:
		return psem_api_timedwait(sem, abstime);
	case PSEM_K_GLIBC:
		if (!abstime)
			return psem_fail(EINVAL);
		return glibc.timedwait ? glibc.timedwait(sem, abstime) :
		       psem_no_glibc();
	default:
		return psem_fail(EINVAL);
	}
}

PSEM_EXPORT PSEM_SYMVER_sem_clockwait
int psem_api_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime)
{
	struct psem *p = P(sem);

	if (likely(psem_fast(sem))) {
		/* As glibc: the clock, then the deadline, even with a unit. */
		if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME)
			return psem_fail(EINVAL);
		if (!abstime || !psem_valid_nsec(abstime))
			return psem_fail(EINVAL);
		return psem_timed(p, abstime, clock);
	}
	switch (psem_kind(sem)) {
	case PSEM_K_HSEMA:
		return psem_api_clockwait(sem, clock, abstime);
	case PSEM_K_GLIBC:
		if (!abstime)
			return psem_fail(EINVAL);
		return glibc.clockwait ? glibc.clockwait(sem, clock, abstime) :
		       psem_no_glibc();
	default:
		return psem_fail(EINVAL);
	}
}

PSEM_EXPORT PSEM_SYMVER_sem_post
int psem_api_post(sem_t *sem)
{
	if (likely(psem_fast(sem)))
		return psem_post(P(sem));
	return psem_post_other(sem);
}

PSEM_EXPORT PSEM_SYMVER_sem_getvalue
int psem_api_getvalue(sem_t *sem, int *sval)
{
	struct psem *p = P(sem);

	if (!sval)
		return psem_fail(EINVAL);
	if (likely(psem_fast(sem)) && !psem_tampered(p)) {
		/* As glibc: the units available, 0 while anybody waits. */
		*sval = (int)(atomic_load_explicit(&p->word,
						   memory_order_relaxed) &
			      HSEMA_VALUE_MASK);
		return 0;
	}
	switch (psem_kind(sem)) {
	case PSEM_K_HSEMA:
		return psem_api_getvalue(sem, sval);
	case PSEM_K_GLIBC:
		return glibc.getvalue ? glibc.getvalue(sem, sval) :
		       psem_no_glibc();
	default:
		return psem_fail(EINVAL);
	}
}

/* ----- named semaphores ----- */

/*
 * glibc's rules: the name is "/dev/shm/sem." followed by the name without
 * its leading slashes; it must be non-empty, hold no other slash, and be
 * shorter than 256 bytes (EINVAL); a file name the kernel finds too long
 * fails with its ENAMETOOLONG.
 */
#define PSEM_DIR	"/dev/shm/"
#define PSEM_PREFIX	"sem."
#define PSEM_NAME_MAX	255

struct psem_path {
	char name[sizeof(PSEM_DIR) + sizeof(PSEM_PREFIX) + PSEM_NAME_MAX];
};

static int psem_path(struct psem_path *path, const char *name)
{
	size_t len;

	while (name[0] == '/')
		name++;
	len = strlen(name);
	if (len == 0 || len > PSEM_NAME_MAX || memchr(name, '/', len))
		return EINVAL;
	memcpy(path->name, PSEM_DIR PSEM_PREFIX, strlen(PSEM_DIR PSEM_PREFIX));
	memcpy(path->name + strlen(PSEM_DIR PSEM_PREFIX), name, len + 1);
	return 0;
}

/*
 * The semaphores this process has open, as glibc keeps them: by device,
 * inode and the name as the caller spelled it, so that opening the same
 * name twice gives the same address, and sem_close() unmaps it with the
 * last close.
 */
struct psem_named {
	struct psem_named *next;
	dev_t dev;
	ino_t ino;
	int refcnt;
	sem_t *sem;
	char name[];
};

static pthread_mutex_t psem_named_lock = PTHREAD_MUTEX_INITIALIZER;
static struct psem_named *psem_named_list;

/* Is the mapping @sem, of a file that existed, a semaphore we may use? */
static int psem_check_file(sem_t *sem)
{
	switch (psem_kind(sem)) {
	case PSEM_K_HSEMA:
	case PSEM_K_GLIBC:
		return 0;
	default:
		return EINVAL;
	}
}

/*
 * Return the mapping of @fd for @name, taking a reference: the one this
 * process has, or @mine (which the caller just mapped and initialized),
 * or a new one of an existing file, which must be a semaphore we may use.
 */
static sem_t *psem_add_mapping(const char *name, int fd, sem_t *mine)
{
	size_t namelen = strlen(name);
	struct psem_named *n;
	sem_t *sem = SEM_FAILED;
	struct stat st;
	int err = 0;

	if (namelen > PSEM_NAME_MAX)
		err = ENAMETOOLONG;
	else if (fstat(fd, &st))
		err = errno;
	if (err)
		goto out;
	pthread_mutex_lock(&psem_named_lock);
	for (n = psem_named_list; n; n = n->next) {
		if (n->dev == st.st_dev && n->ino == st.st_ino &&
		    !strcmp(n->name, name)) {
			n->refcnt++;
			sem = n->sem;
			break;
		}
	}
	if (!n) {
		n = malloc(sizeof(*n) + namelen + 1);
		if (!n) {
			err = ENOMEM;
		} else if (!mine && st.st_size < (off_t)sizeof(sem_t)) {
			err = EINVAL;	/* not a semaphore's file */
		} else {
			sem = mine;
			if (!sem) {
				sem = mmap(NULL, sizeof(sem_t),
					   PROT_READ | PROT_WRITE, MAP_SHARED,
					   fd, 0);
				if (sem == MAP_FAILED)
					err = errno;
				else
					err = psem_check_file(sem);
				if (err && sem != MAP_FAILED)
					munmap(sem, sizeof(sem_t));
			}
		}
		if (err) {
			free(n);
			sem = SEM_FAILED;
		} else {
			n->dev = st.st_dev;
			n->ino = st.st_ino;
			n->refcnt = 1;
			n->sem = sem;
			memcpy(n->name, name, namelen + 1);
			n->next = psem_named_list;
			psem_named_list = n;
		}
	}
	pthread_mutex_unlock(&psem_named_lock);
out:
	if (mine && sem != mine)
		munmap(mine, sizeof(sem_t));
	if (err)
		errno = err;
	return sem;
}

/* A name for the file that is made whole before it gets its real name. */
static void psem_tmpname(char *x6)
{
	static const char chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[6];
	struct timespec ts;
	int i;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		for (i = 0; i < 6; i++)
			r[i] = (unsigned char)((ts.tv_nsec >> (i * 5)) ^
					       (getpid() >> i));
	}
	for (i = 0; i < 6; i++)
		x6[i] = chars[r[i] % (sizeof(chars) - 1)];
}

/* The content of a new named semaphore: hsema's if it may, else glibc's. */
static int psem_initial(sem_t *sem, unsigned int value)
{
	struct psem *p = P(sem);

	memset(sem, 0, sizeof(*sem));
	if (psem_hsema && value <= HSEMA_VALUE_MAX) {
		psem_make_hsema(p, 1, value);
		return 0;
	}
	if (!glibc.init)
		return ENOSYS;
	if (glibc.init(sem, 1, value))
		return errno;
	atomic_store_explicit(&p->owner, PSEM_GLIBC, memory_order_relaxed);
	return 0;
}

/*
 * glibc's sem_open(), with glibc's file layout and steps: an existing
 * file is opened and mapped; a new one is written whole under a temporary
 * name and given its name with link(), which fails if another process
 * got there first (then, without O_EXCL, that one is opened).
 */
PSEM_EXPORT PSEM_SYMVER_sem_open
sem_t *psem_api_open(const char *name, int oflag, ...)
{
	char tmp[sizeof(PSEM_DIR PSEM_PREFIX "XXXXXX")];
	union {
		sem_t sem;
		struct psem p;
	} init;
	struct psem_path path;
	sem_t *result = SEM_FAILED, *map;
	unsigned int value = 0;
	mode_t mode = 0;
	int fd = -1, state, err, retries;
	va_list ap;

	if (oflag & O_CREAT) {
		va_start(ap, oflag);
		mode = va_arg(ap, mode_t);
		value = va_arg(ap, unsigned int);
		va_end(ap);
	}
	if (!name) {
		errno = EINVAL;
		return SEM_FAILED;
	}
	err = psem_path(&path, name);
	if (err) {
		errno = err;
		return SEM_FAILED;
	}
	psem_ready();
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);

	if (!(oflag & O_CREAT) || !(oflag & O_EXCL)) {
try_again:
		fd = open(path.name, (oflag & ~(O_CREAT | O_ACCMODE)) |
			  O_NOFOLLOW | O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			if ((oflag & O_CREAT) && errno == ENOENT)
				goto try_create;
		} else {
			result = psem_add_mapping(name, fd, NULL);
		}
	} else {
try_create:
		if (value > SEM_VALUE_MAX) {
			errno = EINVAL;
			goto out;
		}
		err = psem_initial(&init.sem, value);
		if (err) {
			errno = err;
			goto out;
		}
		memcpy(tmp, PSEM_DIR PSEM_PREFIX "XXXXXX", sizeof(tmp));
		for (retries = 0;; retries++) {
			psem_tmpname(tmp + sizeof(tmp) - 7);
			fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
				  mode);
			if (fd >= 0)
				break;
			if (errno != EEXIST)
				goto out;
			if (retries == 49) {
				errno = EAGAIN;
				goto out;
			}
		}
		if (write(fd, &init.sem, sizeof(init.sem)) ==
		    (ssize_t)sizeof(init.sem) &&
		    (map = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE,
				MAP_SHARED, fd, 0)) != MAP_FAILED) {
			if (link(tmp, path.name)) {
				err = errno;
				munmap(map, sizeof(sem_t));
				if (!(oflag & O_EXCL) && err == EEXIST) {
					unlink(tmp);
					close(fd);
					goto try_again;
				}
				errno = err;
			} else {
				result = psem_add_mapping(name, fd, map);
			}
		}
		err = errno;
		unlink(tmp);
		errno = err;
	}
out:
	if (fd >= 0) {
		err = errno;
		close(fd);
		errno = err;
	}
	pthread_setcancelstate(state, NULL);
	return result;
}

PSEM_EXPORT PSEM_SYMVER_sem_close
int psem_api_close(sem_t *sem)
{
	struct psem_named **pp, *n;
	int ret = 0;

	pthread_mutex_lock(&psem_named_lock);
	for (pp = &psem_named_list; (n = *pp); pp = &n->next)
		if (n->sem == sem)
			break;
	if (n && --n->refcnt == 0) {
		*pp = n->next;
		ret = munmap(n->sem, sizeof(sem_t));
		free(n);
	}
	pthread_mutex_unlock(&psem_named_lock);
	if (n)
		return ret;
	/* Not one of ours: glibc says what it says (EINVAL). */
	psem_ready();
	return glibc.close ? glibc.close(sem) : psem_fail(EINVAL);
}

/* The same file for both implementations: glibc removes it. */
PSEM_EXPORT PSEM_SYMVER_sem_unlink
int psem_api_unlink(const char *name)
{
	psem_ready();
	if (!name)
		return psem_fail(ENOENT);
	return glibc.unlink ? glibc.unlink(name) : psem_no_glibc();
}

/*
 * glibc's pthread_cancel(), after the note that the fast paths must test
 * for cancellation from now on (psem_tc), made before the request can
 * exist.
 */
PSEM_EXPORT PSEM_SYMVER_pthread_cancel
int psem_api_cancel(pthread_t thread)
{
	atomic_store(&psem_tc, PSEM_TC_ALWAYS);
	pthread_once(&psem_once, psem_setup);
	return glibc.cancel ? glibc.cancel(thread) : ENOSYS;
}
