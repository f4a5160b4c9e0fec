// SPDX-License-Identifier: GPL-2.0-only
/*
 * The "any" row: the latency of a hand-over to a thread that waits for
 * any of n semaphores, n = 1, 8 and 64.
 *
 * Two threads: the releaser (A) releases semaphore n - 1 of the set, the
 * last, so that the waiter really waits on all n; the waiter (B), waiting
 * for any of the n, wakes with it, checks that it got index n - 1, and
 * releases a reply semaphore, which A waits on before the next round.
 * Every semaphore has value 0 between rounds.  The hand-over measured is
 * A's release to B's return from the wait: A takes a timestamp just
 * before its release, B one just after its wait returns (the TSC is
 * shared by the CPUs, clock.h; a negative difference counts as 0).  The
 * reply is the way back, the same for every n of a variant.
 *
 * Before each release A waits until B has gone to sleep in its wait, so
 * that every hand-over measured wakes a waiter queued on all n: B's
 * voluntary context switches (voluntary_ctxt_switches in
 * /proc/self/task/TID/status, read with pread(), yielding between looks)
 * must have grown since B last woke, and its state be S.  B sleeps
 * nowhere else in its loop, and the count grows only once B is off its
 * CPU: the state alone says S from the moment a wait sets it, and
 * futex_waitv() sets it before it queues on the n words.  Without this,
 * on two CPUs B was often still setting up its wait on 64 words when
 * the release came and took the unit without sleeping, so that the
 * 64-semaphore hand-over came out shorter than the one-semaphore one;
 * and libsema's spin in sema_acquire() (sema_acquire_any() has none)
 * would be measured instead of its wake-up.  The look is outside the
 * measured hand-over; it makes neither futex() nor ioctl() calls, and a
 * yield is not a voluntary context switch.
 *
 * The variants, side by side in one run, their turns interleaved:
 *
 *   sema_acquire_any  libsema: B in sema_acquire_any() on n semaphores,
 *                     A's sema_release() of the last; the reply a
 *                     sema_acquire() of one semaphore
 *   futex_waitv       a counting semaphore per futex word (waitvsem.c):
 *                     B in futex_waitv() on n words, A adds to the last
 *                     and FUTEX_WAKEs it; the reply the same on one word
 *   sema_acquire      libsema's plain hand-over on one semaphore,
 *                     sema_acquire() and sema_release(), n = 1 only: what
 *                     sema_acquire_any() is held to
 *
 * libsema's variants run when libsema is among the implementations (-i),
 * futex_waitv when raw-futex is.  Two placements, as in ping-pong: both
 * threads on one CPU, and on two.  Each variant runs in cfg->rounds
 * turns per placement, in an order that rotates, so that turn k of every
 * variant ran in the same round and the report can take ratios turn by
 * turn; each turn keeps its median hand-over.  Counts per hand-over, as
 * ping-pong takes them (a round trip is two hand-overs, the measured one
 * and the reply): voluntary context switches of both threads over the
 * measured turns, and their futex(), futex_waitv() and ioctl() calls in
 * one more turn per variant, after the others, under one trigger
 * (kcount.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "hist.h"
#include "hstats.h"
#include "json.h"
#include "kcount.h"
#include "waitvsem.h"

#define ANY_N_MAX	64

_Static_assert(ANY_N_MAX <= SEMA_ANY_MAX, "more than sema_acquire_any takes");
_Static_assert(ANY_N_MAX <= WAITVSEM_MAX, "more than waitvsem takes");

static const unsigned int sizes[] = { 1, 8, 64 };
#define NR_SIZES	(sizeof(sizes) / sizeof(sizes[0]))

enum kind { K_ANY, K_WAITV, K_ACQUIRE, NR_KINDS };

static const struct {
	const char *name;
	const char *desc;
	bool hsema;			/* uses /dev/hsema */
} kinds[NR_KINDS] = {
	[K_ANY] = {
		"sema_acquire_any",
		"libsema: sema_acquire_any() on n semaphores, sema_release() "
		"of the last; reply sema_acquire()",
		true,
	},
	[K_WAITV] = {
		"futex_waitv",
		"a counting semaphore per futex word (waitvsem.c): "
		"futex_waitv() on n words, FUTEX_WAKE of the last; reply the "
		"same on one word",
		false,
	},
	[K_ACQUIRE] = {
		"sema_acquire",
		"libsema: sema_acquire() and sema_release() on one semaphore; "
		"reply the same",
		true,
	},
};

struct variant {
	enum kind kind;
	unsigned int n;
};

#define MAX_VARIANTS	(2 * NR_SIZES + 1)

/* A semaphore of either family, alone on its cache lines. */
struct anysem {
	_Alignas(64) union {
		sema_t sema;
		struct waitvsem w;
	} u;
	char pad[64];
};

struct hand {
	const struct variant *v;
	struct anysem *s;		/* [ANY_N_MAX] */
	struct anysem *reply;
	sema_t *sp[ANY_N_MAX];		/* &s[i].u.sema */
	struct waitvsem *wp[ANY_N_MAX];	/* &s[i].u.w */
	uint64_t deadline;
	uint64_t min_trips;		/* past the deadline */
	struct gate go;
	pid_t tid[2];			/* releaser, waiter */
	uint64_t nvcsw[2];
	_Atomic int64_t waiter_csw;	/* at the waiter's start, or -1 */
	/* The releaser's. */
	_Alignas(64) uint64_t trips;
	_Atomic uint64_t sent;		/* ticks, just before its release */
	atomic_bool stop;
	/* The waiter's. */
	_Alignas(64) struct hist h;	/* hand-overs this turn */
};

static bool kind_enabled(const struct config *cfg, enum kind k)
{
	return k == K_WAITV ? cfg->impl[IMPL_FUTEX] : cfg->impl[IMPL_LIBSEMA];
}

/* The variants that run, in the order of the records. */
static int variants(const struct config *cfg, struct variant *v)
{
	unsigned int i;
	int nr = 0;

	for (i = 0; i < NR_SIZES; i++) {
		if (kind_enabled(cfg, K_ANY))
			v[nr++] = (struct variant){ K_ANY, sizes[i] };
		if (kind_enabled(cfg, K_WAITV))
			v[nr++] = (struct variant){ K_WAITV, sizes[i] };
	}
	if (kind_enabled(cfg, K_ACQUIRE))
		v[nr++] = (struct variant){ K_ACQUIRE, 1 };
	return nr;
}

void any_meta(const struct config *cfg)
{
	unsigned int i;
	int k;

	json_num("any_secs", cfg->any_secs);
	json_arr("any_sems");
	for (i = 0; i < NR_SIZES; i++)
		json_uint(NULL, sizes[i]);
	json_close();
	json_arr("any_impls");
	for (k = 0; k < NR_KINDS; k++) {
		if (!kind_enabled(cfg, k))
			continue;
		json_obj(NULL);
		json_str("name", kinds[k].name);
		json_str("desc", kinds[k].desc);
		json_int("uses_hsema", kinds[k].hsema);
		/* Its set sizes: the plain acquire waits on one. */
		json_arr("sems");
		for (i = 0; i < NR_SIZES; i++)
			if (k != K_ACQUIRE || sizes[i] == 1)
				json_uint(NULL, sizes[i]);
		json_close();
		json_close();
	}
	json_close();
}

static void release_one(const struct hand *p, struct anysem *s)
{
	int ret;

	if (p->v->kind == K_WAITV) {
		waitvsem_release(&s->u.w);
		return;
	}
	ret = sema_release(&s->u.sema);
	if (ret)
		die("sema_release", -ret);
}

static void wait_reply(struct hand *p)
{
	struct waitvsem *const w[1] = { &p->reply->u.w };
	int ret;

	if (p->v->kind == K_WAITV) {
		waitvsem_acquire_any(w, 1);
		return;
	}
	ret = sema_acquire(&p->reply->u.sema);
	if (ret)
		die("sema_acquire", -ret);
}

/* The waiter's wait: the index it got a unit of. */
static unsigned int wait_any(struct hand *p)
{
	int ret;

	switch (p->v->kind) {
	case K_ANY:
		ret = sema_acquire_any(p->sp, p->v->n, NULL, CLOCK_MONOTONIC);
		if (ret < 0)
			die("sema_acquire_any", -ret);
		return (unsigned int)ret;
	case K_WAITV:
		return waitvsem_acquire_any(p->wp, p->v->n);
	default:
		ret = sema_acquire(p->sp[0]);
		if (ret)
			die("sema_acquire", -ret);
		return 0;
	}
}

/* The waiter's /proc status file, for sleeps(). */
static int open_status(pid_t tid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path, errno);
	return fd;
}

/*
 * The voluntary context switches of the thread of @fd, or -1 unless it
 * is in state S.
 */
static int64_t sleeps(int fd)
{
	static const char state[] = "\nState:\t";
	static const char csw[] = "\nvoluntary_ctxt_switches:\t";
	char buf[4096], *c;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		die("any: pread of the waiter's status", n ? errno : EIO);
	buf[n] = 0;
	c = strstr(buf, state);
	if (!c || c[sizeof(state) - 1] != 'S')
		return -1;
	c = strstr(buf, csw);
	if (!c)
		die("any: no voluntary_ctxt_switches in the waiter's status",
		    EPROTO);
	return (int64_t)strtoll(c + sizeof(csw) - 1, NULL, 10);
}

static void *releaser(void *arg)
{
	struct hand *p = arg;
	struct anysem *last = &p->s[p->v->n - 1];
	uint64_t t0, csw;
	int64_t seen, now;
	int fd;

	p->tid[0] = (pid_t)syscall(SYS_gettid);
	gate_wait(&p->go);
	/* The waiter wrote its tid before it reached the gate. */
	fd = open_status(p->tid[1]);
	csw = kcount_nvcsw();
	while ((seen = atomic_load(&p->waiter_csw)) < 0)
		sched_yield();
	for (;;) {
		if (ticks() >= p->deadline && p->trips >= p->min_trips)
			break;
		/* Asleep in its wait: switched out since it last woke. */
		while ((now = sleeps(fd)) <= seen)
			sched_yield();
		seen = now;
		t0 = ticks();
		/* Published to the waiter by the release. */
		atomic_store_explicit(&p->sent, t0, memory_order_relaxed);
		release_one(p, last);
		wait_reply(p);
		p->trips++;
	}
	atomic_store_explicit(&p->stop, true, memory_order_relaxed);
	release_one(p, last);
	p->nvcsw[0] = kcount_nvcsw() - csw;
	close(fd);
	return NULL;
}

static void *waiter(void *arg)
{
	struct hand *p = arg;
	unsigned int got, want = p->v->n - 1;
	uint64_t t0, t1, csw;

	p->tid[1] = (pid_t)syscall(SYS_gettid);
	gate_wait(&p->go);
	csw = kcount_nvcsw();
	atomic_store(&p->waiter_csw, (int64_t)csw);
	for (;;) {
		got = wait_any(p);
		t1 = ticks();
		if (got != want) {
			fprintf(stderr, "hsema-bench: any: %s on %u got index "
				"%u, not %u\n", kinds[p->v->kind].name,
				p->v->n, got, want);
			exit(1);
		}
		if (atomic_load_explicit(&p->stop, memory_order_relaxed))
			break;
		t0 = atomic_load_explicit(&p->sent, memory_order_relaxed);
		hist_add(&p->h, (int64_t)(t1 - t0) > 0 ? ticks_to_ns(t1 - t0) : 0);
		release_one(p, p->reply);
	}
	p->nvcsw[1] = kcount_nvcsw() - csw;
	return NULL;
}

struct any_turn {
	uint64_t trips, ticks, nvcsw;
	uint64_t p50;			/* the turn's median hand-over, ns */
	double mean;			/* ... and its mean */
};

/* What one variant sums up over its turns in one placement. */
struct any_tally {
	struct hist h;
	uint64_t trips, ticks, nvcsw;
	struct hsema_stats hs;
	struct any_turn turn[MAX_ROUNDS];
	int nr_turns;
	/* The counting turn. */
	uint64_t count_trips, count_ticks, count_nvcsw, futex, ioctl;
	bool counted;
};

static void sems_init(struct hand *p)
{
	unsigned int i;
	int ret;

	for (i = 0; i < p->v->n + 1; i++) {
		struct anysem *s = i < p->v->n ? &p->s[i] : p->reply;

		if (p->v->kind == K_WAITV) {
			waitvsem_init(&s->u.w, 0);
			continue;
		}
		ret = sema_init(&s->u.sema, 0, 0);
		if (ret)
			die("sema_init", -ret);
	}
}

/* Every unit given was taken: each semaphore is back at 0. */
static void sems_destroy(struct hand *p)
{
	unsigned int i;
	int ret;

	for (i = 0; i < p->v->n + 1; i++) {
		struct anysem *s = i < p->v->n ? &p->s[i] : p->reply;

		if (p->v->kind == K_WAITV) {
			if (atomic_load(&s->u.w.f.value) ||
			    atomic_load(&s->u.w.f.nwaiters))
				die("any: futex_waitv word left non-zero",
				    EPROTO);
			continue;
		}
		if (sema_tryacquire(&s->u.sema) != -EAGAIN)
			die("any: a semaphore left with a unit", EPROTO);
		ret = sema_destroy(&s->u.sema);
		if (ret)
			die("sema_destroy", -ret);
	}
}

static void turn(struct hand *p, int cpu_a, int cpu_b, double secs,
		 struct any_tally *t, bool count)
{
	struct hsema_stats before, after;
	uint64_t start, end, futex, ioctl;
	struct any_turn *tr;
	pthread_t a, b;

	p->trips = 0;
	p->min_trips = count ? KCOUNT_MIN_OPS : MEASURED_MIN_OPS;
	memset(&p->h, 0, sizeof(p->h));
	atomic_store(&p->stop, false);
	atomic_store(&p->sent, 0);
	atomic_store(&p->waiter_csw, -1);
	gate_init(&p->go);
	sems_init(p);
	a = start_thread(releaser, p, cpu_a, false);
	b = start_thread(waiter, p, cpu_b, false);
	hstats_read(&before);
	start = ticks();
	p->deadline = start + ns_to_ticks((uint64_t)(secs * 1e9));
	gate_open(&p->go, 2);
	join_thread(a);
	end = ticks();
	join_thread(b);
	hstats_read(&after);
	sems_destroy(p);
	if (count) {
		t->counted = kcount_read(p->tid, 2, &futex, &ioctl);
		t->futex = futex;
		t->ioctl = ioctl;
		t->count_trips = p->trips;
		t->count_ticks = end - start;
		t->count_nvcsw = p->nvcsw[0] + p->nvcsw[1];
		return;
	}
	tr = &t->turn[t->nr_turns++];
	tr->trips = p->trips;
	tr->ticks = end - start;
	tr->nvcsw = p->nvcsw[0] + p->nvcsw[1];
	tr->p50 = p->h.count ? hist_quantile(&p->h, 0.5) : 0;
	tr->mean = p->h.count ? (double)p->h.sum / (double)p->h.count : 0;
	hist_merge(&t->h, &p->h);
	t->trips += tr->trips;
	t->ticks += tr->ticks;
	t->nvcsw += tr->nvcsw;
	hstats_add(&t->hs, &before, &after);
}

static void report(const struct variant *v, const char *placement,
		   const struct any_tally *t)
{
	double secs = (double)ticks_to_ns(t->ticks) / 1e9, s;
	int i;

	json_begin();
	json_str("bench", "any");
	json_str("impl", kinds[v->kind].name);
	json_uint("sems", v->n);
	json_str("placement", placement);
	json_uint("released", v->n - 1);
	json_num("secs", secs);
	json_uint("round_trips", t->trips);
	json_num("ns_per_round_trip",
		 t->trips ? secs * 1e9 / (double)t->trips : 0);
	/* The measured hand-over, release to return, every turn. */
	json_hist("handover_ns", &t->h, 1);
	json_arr("turns");
	for (i = 0; i < t->nr_turns; i++) {
		const struct any_turn *tr = &t->turn[i];

		s = (double)ticks_to_ns(tr->ticks) / 1e9;
		json_obj(NULL);
		json_uint("round_trips", tr->trips);
		json_num("secs", s);
		json_uint("handover_p50_ns", tr->p50);
		json_num("handover_mean_ns", tr->mean);
		json_num("ns_per_round_trip",
			 tr->trips ? s * 1e9 / (double)tr->trips : 0);
		kcount_json_nvcsw(tr->nvcsw, 2 * tr->trips);
		json_close();
	}
	json_close();
	/* Per hand-over: two per round trip, as in ping-pong. */
	kcount_json_entries(t->counted, t->futex, t->ioctl,
			    2 * t->count_trips);
	kcount_json_nvcsw(t->nvcsw, 2 * t->trips);
	if (t->count_ticks) {
		json_obj("count_turn");
		json_uint("round_trips", t->count_trips);
		json_num("secs", (double)ticks_to_ns(t->count_ticks) / 1e9);
		kcount_json_entries(t->counted, t->futex, t->ioctl,
				    2 * t->count_trips);
		kcount_json_nvcsw(t->count_nvcsw, 2 * t->count_trips);
		json_close();
	}
	if (kinds[v->kind].hsema || t->hs.waits)
		hstats_json(&t->hs);
	json_end();
}

void bench_any(const struct config *cfg)
{
	static const char *const placement[2] = { "same-cpu", "two-cpus" };
	struct variant v[MAX_VARIANTS];
	struct any_tally *t = xalloc(sizeof(*t) * MAX_VARIANTS);
	struct hand *p = xalloc(sizeof(*p));
	int nv = variants(cfg, v), pl, r, i, k, cpu_b;
	double secs = cfg->any_secs / cfg->rounds;

	p->s = xalloc(sizeof(struct anysem) * ANY_N_MAX);
	p->reply = xalloc(sizeof(struct anysem));
	for (i = 0; i < ANY_N_MAX; i++) {
		p->sp[i] = &p->s[i].u.sema;
		p->wp[i] = &p->s[i].u.w;
	}
	for (pl = 0; pl < 2 && nv; pl++) {
		if (pl == 1 && cfg->nr_cpus < 2)
			break;
		cpu_b = cfg->cpus[pl];
		memset(t, 0, sizeof(*t) * MAX_VARIANTS);
		for (r = 0; r < cfg->rounds; r++) {
			for (k = 0; k < nv; k++) {
				i = (k + r) % nv;
				p->v = &v[i];
				turn(p, cfg->cpus[0], cpu_b, secs, &t[i], false);
			}
		}
		/*
		 * One more turn each, counting kernel entries (kcount.h),
		 * under one trigger.
		 */
		if (kcount_available() && kcount_start()) {
			for (k = 0; k < nv; k++) {
				i = (k + cfg->rounds) % nv;
				p->v = &v[i];
				turn(p, cfg->cpus[0], cpu_b, secs, &t[i],
				     true);
			}
			kcount_end();
		}
		for (i = 0; i < nv; i++)
			report(&v[i], placement[pl], &t[i]);
	}
	free(p->reply);
	free(p->s);
	free(p);
	free(t);
}
