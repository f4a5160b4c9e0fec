// SPDX-License-Identifier: GPL-2.0-only
/*
 * hsema_stress: threads in several processes on many semaphores, private
 * and shared, doing a random mix of acquire, tryacquire, short timed
 * acquire, short timed waits for any of 2 to 4 of them, release,
 * release_n and release_handoff, with random signals
 * (with and without SA_RESTART), fork()ed children and SIGKILL of waiting
 * processes.  A ledger proves that no unit is created or lost, and a
 * watchdog that no waiter stays queued while its semaphore has units.
 *
 * The ledger.  Every process counts, for every semaphore, the units it
 * acquired and released, right after each successful operation: shared
 * semaphores in MAP_SHARED memory, private ones in the process.  A thread
 * also records, in shared memory, how many units of each shared semaphore
 * it holds.  Then at any moment when no operation is in flight,
 *
 *	value = initial + released - acquired
 *
 * for every semaphore, where "released" includes the units the supervisor
 * gave back for killed processes (below).
 *
 * SIGKILL cannot corrupt the ledger because a process is killed only at a
 * quiescent point: the supervisor sets "freeze", every worker thread parks
 * at its next operation boundary (its counts and held records complete),
 * except the threads inside a blocking sema_acquire(), which it waits to
 * see asleep in the kernel (state S in ioctl(), from /proc).  Once every
 * thread is parked or asleep, nothing can release a unit, so no sleeper
 * can be granted one.  The supervisor checks the ledger and the queues
 * (waiters per semaphore = threads asleep on it, none woken, no units
 * while someone sleeps) and kills one process, preferably one with
 * sleeping waiters.  From the moment kill() returns SIGKILL is pending in
 * every thread of the victim: no victim thread runs user code again, and
 * a unit granted to a dying waiter must be passed on by the kernel.  So
 * the units the victim holds are exactly those in its held records, and
 * the supervisor releases them again at once (counted as released), as a
 * robust-lock owner would, so that nobody waits forever for them.  Before
 * that it releases one "probe" unit on each shared semaphore a victim
 * thread sleeps on, to race a grant or wake-up with the dying waiter
 * leaving (taken back at the next checkpoint), and then unfreezes: the
 * other releases resume too.  A kernel that let a dying waiter keep a
 * unit shows up as a unit missing from a value.
 *
 * Deadlock freedom: a thread blocks (sema_acquire) only while it holds
 * nothing; holding units it uses tryacquire and short timed acquires only,
 * and it releases what it holds within a few operations.
 *
 * Half of the checkpoints kill; the others run a wake probe instead.
 *
 * The watchdog.  The supervisor (for shared semaphores) and a thread in
 * each worker process (for its private ones) sample HSEMA_IOC_QUERY every
 * 50 ms: a semaphore whose value stays non-zero while the same head waiter
 * stays queued for longer than the bound (-w, 2 s) fails the run.  At
 * quiescent points the check is exact: units and a sleeping waiter at the
 * same time is a lost wake-up.  In a busy run a lost wake-up rarely lasts
 * (the next acquirer takes the unit, the next release wakes the sleeper),
 * so the wake probe makes one last: with everyone frozen, units are
 * released to the semaphores that have sleepers, in several shapes, and
 * at the next quiescent point every unit must have reached a sleeper;
 * nobody else can take it.
 *
 * make check runs it for a few seconds; HSEMA_STRESS_SECONDS or -t runs it
 * longer.  The seed is printed; -s SEED replays the same random choices
 * (the interleaving is the scheduler's).  Output is KTAP, one line per
 * check.  "-W" is a helper for load_test.sh: it queues a waiter and keeps
 * it queued until SIGUSR1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "hsema_util.h"
#include "kmsg_check.h"

#define MAX_PROCS	16
#define MAX_THREADS	16
#define MAX_SHARED	64
#define MAX_PRIVATE	16
#define MAX_HELD	4	/* units a thread holds at most */
#define SAMPLE_MS	50	/* watchdog sampling period */
#define QUIESCE_MS	20000	/* bound to reach a quiescent point */
#define SHOW_FAILS	8	/* messages printed per check */

enum op { OP_NONE, OP_ACQ, OP_TRY, OP_TIMED, OP_REL, OP_REL_N, OP_HANDOFF,
	  OP_FORK, OP_ANY, OP_NR };
static const char *const op_name[OP_NR] = {
	"none", "acquire", "tryacquire", "timedacquire", "release",
	"release_n", "release_handoff", "fork", "acquire_any",
};

/* The checks; each counts its failures in shared memory. */
enum check { C_RET, C_SHARED, C_PRIVATE, C_FORK, C_WATCHDOG, C_QUEUES,
	     C_KILL, C_LIVENESS, C_NR };

struct cfg {
	int seconds;
	int procs, threads, nshared, nprivate;
	int checkpoint_ms;	/* period of quiescent checkpoints */
	int kills;		/* kill a process at each checkpoint */
	int signal_ms;		/* period of random signals, 0: none */
	int fork_div;		/* a fork in 1 of N operations, 0: none */
	int watch_ms;		/* watchdog bound */
	int verbose;
	uint64_t seed;
};

struct tslot {
	_Atomic int tid;
	_Atomic int parked;
	_Atomic int op;		/* the operation in flight, OP_NONE between */
	_Atomic int sema;	/* ... and its semaphore */
	_Atomic int done;
	_Atomic long held[MAX_SHARED];	/* units of shared semaphores held */
};

struct pslot {
	_Atomic int pid;
	_Atomic int ready;		/* all threads registered */
	_Atomic unsigned int ack_gen;	/* private checkpoint answered */
	int incarnation;
	struct tslot t[MAX_THREADS];
};

struct ledger {
	_Atomic long acquired, released, restored;
	unsigned int initial;
};

struct shm {
	sema_t sems[MAX_SHARED];
	struct ledger led[MAX_SHARED];
	struct cfg cfg;
	_Atomic int stop;
	int freeze;			/* futex word, __atomic_* */
	_Atomic long nparks;
	_Atomic unsigned int check_gen;
	_Atomic unsigned int probe_gen;	/* check_gen that asks for a probe */
	_Atomic long probe_units, probe_sleepers;
	_Atomic long fails[C_NR];
	_Atomic long ops[OP_NR], eintr, timeouts, eagain, fork_children;
	_Atomic long handled_signals;
	struct pslot procs[MAX_PROCS];
};

static struct shm *shm;
static struct cfg *cfg;

/* Per worker process. */
static sema_t priv[MAX_PRIVATE];
static struct ledger pled[MAX_PRIVATE];
static int my_slot = -1;
static int devfd = -1;

struct wthr {
	pthread_t thr;
	int idx;
	struct tslot *ts;
	unsigned int rng;
	long pheld[MAX_PRIVATE];
	long sheld[MAX_SHARED];
	int nheld;
};
static struct wthr wthr[MAX_THREADS];

/* One line to stdout in one write(), from any process or thread. */
static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "# ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, n) < 0)
		return;
}

static __attribute__((format(printf, 2, 3))) void fail(enum check c,
							const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	if (atomic_fetch_add(&shm->fails[c], 1) >= SHOW_FAILS)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (my_slot >= 0)
		say("FAIL [p%d] %s", my_slot, buf);
	else
		say("FAIL %s", buf);
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static unsigned int seed32(uint64_t a, uint64_t b, uint64_t c)
{
	unsigned int s = splitmix64(cfg->seed ^ splitmix64(a << 40 ^ b << 20 ^ c));

	return s ? s : 1;
}

static int futex(int *uaddr, int op, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static bool is_shared(int k)
{
	return k < cfg->nshared;
}

static sema_t *sema_of(int k)
{
	return is_shared(k) ? &shm->sems[k] : &priv[k - cfg->nshared];
}

static struct ledger *ledger_of(int k)
{
	return is_shared(k) ? &shm->led[k] : &pled[k - cfg->nshared];
}

static unsigned int qflags_of(int k)
{
	return is_shared(k) ? HSEMA_F_SHARED : 0;
}

/*
 * Starvation thresholds: always (grants), sometimes, the default (1 ms),
 * never (10 s: wake-ups only, where a lost one shows).
 */
static unsigned int threshold_of(int k)
{
	static const unsigned int us[] = { 1, 200, 0, 10000000 };

	return us[k % 4];
}

/* ----- worker threads ----- */

static void set_op(struct wthr *w, int op, int k)
{
	atomic_store(&w->ts->sema, k);
	atomic_store(&w->ts->op, op);
}

static void got(struct wthr *w, int k, long n)
{
	atomic_fetch_add(&ledger_of(k)->acquired, n);
	if (is_shared(k)) {
		atomic_fetch_add(&w->ts->held[k], n);
		w->sheld[k] += n;
	} else {
		w->pheld[k - cfg->nshared] += n;
	}
	w->nheld += n;
}

static void gave(struct wthr *w, int k, long n)
{
	atomic_fetch_add(&ledger_of(k)->released, n);
	if (is_shared(k)) {
		atomic_fetch_sub(&w->ts->held[k], n);
		w->sheld[k] -= n;
	} else {
		w->pheld[k - cfg->nshared] -= n;
	}
	w->nheld -= n;
}

static long held_of(struct wthr *w, int k)
{
	return is_shared(k) ? w->sheld[k] : w->pheld[k - cfg->nshared];
}

static void do_acquire(struct wthr *w, int op, int k)
{
	sema_t *s = sema_of(k);
	struct timespec dl;
	clockid_t clk;
	int ret;

	set_op(w, op, k);
	atomic_fetch_add(&shm->ops[op], 1);
	switch (op) {
	case OP_ACQ:
		ret = sema_acquire(s);
		break;
	case OP_TRY:
		ret = sema_tryacquire(s);
		break;
	default:
		clk = xrand(&w->rng) & 1 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
		/* -0.2 .. 2 ms: some deadlines have passed already. */
		dl = deadline_in(clk, (int64_t)(xrand(&w->rng) % 2200000) - 200000);
		ret = sema_timedacquire(s, &dl, clk);
		break;
	}
	if (!ret)
		got(w, k, 1);
	else if (ret == -EINTR && op != OP_TRY)
		atomic_fetch_add(&shm->eintr, 1);
	else if (ret == -EAGAIN && op == OP_TRY)
		atomic_fetch_add(&shm->eagain, 1);
	else if (ret == -ETIMEDOUT && op == OP_TIMED)
		atomic_fetch_add(&shm->timeouts, 1);
	else
		fail(C_RET, "%s on semaphore %d returned %d", op_name[op], k, ret);
	set_op(w, OP_NONE, -1);
}

static int pick_sema(struct wthr *w);

/*
 * A timed wait for any of 2 to 4 semaphores (repeats allowed, private and
 * shared mixed): a short deadline, like OP_TIMED, so that it never blocks
 * a checkpoint; the unit is booked to the semaphore whose index came back.
 */
static void do_acquire_any(struct wthr *w)
{
	sema_t *v[4];
	int k[4], n = 2 + xrand(&w->rng) % 3, i, ret;
	struct timespec dl;
	clockid_t clk;

	for (i = 0; i < n; i++) {
		k[i] = pick_sema(w);
		v[i] = sema_of(k[i]);
	}
	set_op(w, OP_ANY, k[0]);
	atomic_fetch_add(&shm->ops[OP_ANY], 1);
	clk = xrand(&w->rng) & 1 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	dl = deadline_in(clk, (int64_t)(xrand(&w->rng) % 2200000) - 200000);
	ret = sema_acquire_any(v, n, &dl, clk);
	if (ret >= 0 && ret < n)
		got(w, k[ret], 1);
	else if (ret == -EINTR)
		atomic_fetch_add(&shm->eintr, 1);
	else if (ret == -ETIMEDOUT)
		atomic_fetch_add(&shm->timeouts, 1);
	else
		fail(C_RET, "acquire_any on semaphores %d.. returned %d", k[0],
		     ret);
	set_op(w, OP_NONE, -1);
}

static void do_release(struct wthr *w, int op, int k, long n)
{
	sema_t *s = sema_of(k);
	int ret;

	set_op(w, op, k);
	atomic_fetch_add(&shm->ops[op], 1);
	if (op == OP_REL_N)
		ret = sema_release_n(s, n);
	else if (op == OP_HANDOFF)
		ret = sema_release_handoff(s);
	else
		ret = sema_release(s);
	if (!ret)
		gave(w, k, n);
	else
		fail(C_RET, "%s(%ld) on semaphore %d returned %d", op_name[op],
		     n, k, ret);
	set_op(w, OP_NONE, -1);
}

/*
 * A fork()ed child: the forking thread only, a copy of the private
 * semaphores and the same shared ones.  On a private copy (possibly with
 * stale WAITERS/STARVING bits copied from a busy parent) the child's own
 * operations must add up; on shared semaphores it takes and gives back a
 * few units, with the ledger.  Async-signal-safe calls only.
 */
static int fork_child(struct wthr *w)
{
	int j = xrand(&w->rng) % cfg->nprivate, i, k, ret, bad = 0;
	sema_t *s = &priv[j];
	long delta = 0, held[MAX_SHARED] = { 0 };
	unsigned int v0 = hsema_value(s), v;
	struct hsema_query q;

	if (v0 > 0) {
		/* Blocks only if the kernel believes stale bits. */
		ret = sema_acquire(s);
		if (ret) {
			say("FAIL fork child: acquire of copy %d (value %u) returned %d",
			    j, v0, ret);
			bad = 1;
		} else {
			delta--;
		}
	}
	for (i = 0; i < 6; i++) {
		switch (xrand(&w->rng) % 4) {
		case 0:
			ret = sema_tryacquire(s);
			if (!ret)
				delta--;
			else if (ret != -EAGAIN)
				bad = 1;
			break;
		case 1:
			ret = sema_release(s);
			delta++;
			break;
		case 2:
			ret = sema_release_n(s, 2);
			delta += 2;
			break;
		default:
			ret = sema_release_handoff(s);
			delta++;
			break;
		}
		if (ret && ret != -EAGAIN) {
			say("FAIL fork child: op on copy %d returned %d", j, ret);
			bad = 1;
		}
	}
	v = hsema_value(s);
	if ((long)v != (long)v0 + delta) {
		say("FAIL fork child: copy %d: %u + %ld != %u", j, v0, delta, v);
		bad = 1;
	}
	if (hsema_query(devfd, s, 0, &q) || q.nr_waiters) {
		say("FAIL fork child: copy %d has %u waiters", j, q.nr_waiters);
		bad = 1;
	}

	for (i = 0; i < 4; i++) {
		struct timespec dl = deadline_in(CLOCK_MONOTONIC, 500000);

		k = xrand(&w->rng) % cfg->nshared;
		ret = (i & 1) ? sema_tryacquire(&shm->sems[k]) :
				sema_timedacquire(&shm->sems[k], &dl,
						  CLOCK_MONOTONIC);
		if (!ret) {
			atomic_fetch_add(&shm->led[k].acquired, 1);
			held[k]++;
		} else if (ret != -EAGAIN && ret != -ETIMEDOUT &&
			   ret != -EINTR) {
			say("FAIL fork child: acquire of shared %d returned %d",
			    k, ret);
			bad = 1;
		}
	}
	for (k = 0; k < cfg->nshared; k++) {
		if (!held[k])
			continue;
		ret = (held[k] == 1 && (xrand(&w->rng) & 1)) ?
			sema_release_handoff(&shm->sems[k]) :
			sema_release_n(&shm->sems[k], held[k]);
		if (ret) {
			say("FAIL fork child: release of shared %d returned %d",
			    k, ret);
			bad = 1;
		} else {
			atomic_fetch_add(&shm->led[k].released, held[k]);
		}
	}
	return bad;
}

static void do_fork(struct wthr *w)
{
	int status;
	pid_t pid;

	set_op(w, OP_FORK, -1);
	atomic_fetch_add(&shm->ops[OP_FORK], 1);
	pid = fork();
	if (pid == 0)
		_exit(fork_child(w));
	if (pid < 0) {
		set_op(w, OP_NONE, -1);
		return;		/* out of processes: not the module's fault */
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	atomic_fetch_add(&shm->fork_children, 1);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail(C_FORK, "fork child %d: status %#x", pid, status);
	set_op(w, OP_NONE, -1);
}

/* Wait while frozen, at an operation boundary: the ledger is complete. */
static void park(struct wthr *w)
{
	struct timespec ts = { 0, 20 * 1000000L };

	/* Count first: see quiescent() for why. */
	atomic_fetch_add(&shm->nparks, 1);
	atomic_store(&w->ts->parked, 1);
	while (__atomic_load_n(&shm->freeze, __ATOMIC_SEQ_CST) &&
	       !atomic_load(&shm->stop))
		futex(&shm->freeze, FUTEX_WAIT, 1, &ts);
	atomic_store(&w->ts->parked, 0);
}

static int pick_held(struct wthr *w)
{
	int n = cfg->nshared + cfg->nprivate, k = xrand(&w->rng) % n, i;

	for (i = 0; i < n; i++, k = (k + 1) % n)
		if (held_of(w, k))
			return k;
	return -1;
}

/*
 * A semaphore to operate on: uniformly, or 40% of the time one of a few
 * hot ones (shared 2, with the default threshold; shared 3 and the last
 * private one, which never starve), so that several threads sleep on the
 * same semaphore and multi-unit releases have several sleepers to wake.
 */
static int pick_sema(struct wthr *w)
{
	int n = cfg->nshared + cfg->nprivate, hot[3], nhot = 0;

	if (xrand(&w->rng) % 100 < 40) {
		if (cfg->nshared > 3)
			hot[nhot++] = 3;
		if (cfg->nshared > 2 && threshold_of(2) == 0)
			hot[nhot++] = 2;
		if (threshold_of(n - 1) >= 1000000)
			hot[nhot++] = n - 1;
		if (nhot)
			return hot[xrand(&w->rng) % nhot];
	}
	return xrand(&w->rng) % n;
}

static void step(struct wthr *w)
{
	int k = pick_sema(w);
	unsigned int r = xrand(&w->rng) % 100;
	long h;

	if (w->nheld == 0) {
		if (cfg->fork_div && xrand(&w->rng) % cfg->fork_div == 0)
			do_fork(w);
		else if (r >= 85)
			do_acquire_any(w);
		else
			do_acquire(w, r < 40 ? OP_ACQ : r < 65 ? OP_TRY : OP_TIMED, k);
	} else if (r < 55 || w->nheld >= MAX_HELD) {
		k = pick_held(w);
		h = held_of(w, k);
		r = xrand(&w->rng) % 100;
		if (r < 40)
			do_release(w, OP_REL, k, 1);
		else if (r < 70)
			do_release(w, OP_REL_N, k, 1 + xrand(&w->rng) % h);
		else
			do_release(w, OP_HANDOFF, k, 1);
	} else if (r >= 90) {
		do_acquire_any(w);
	} else {
		do_acquire(w, r < 75 ? OP_TRY : OP_TIMED, k);
	}
	/* Hold on a little, so that others queue. */
	if (w->nheld) {
		r = xrand(&w->rng) % 100;
		if (r < 10)
			usleep_ns(200000);
		else
			spin_ns(xrand(&w->rng) % 30000);
	}
}

static void *worker_fn(void *arg)
{
	struct wthr *w = arg;
	int k;

	atomic_store(&w->ts->tid, hsema_gettid());
	while (!atomic_load(&shm->stop)) {
		if (__atomic_load_n(&shm->freeze, __ATOMIC_SEQ_CST))
			park(w);
		else
			step(w);
	}
	/* Give back everything, so that nobody is left waiting for it. */
	for (k = 0; k < cfg->nshared + cfg->nprivate; k++)
		if (held_of(w, k))
			do_release(w, OP_REL_N, k, held_of(w, k));
	atomic_store(&w->ts->done, 1);
	return NULL;
}

/* ----- the watchdog ----- */

struct streak {
	bool active, reported;
	__u64 head;
	int64_t since;
};

/*
 * One sample of semaphore @k: units available while the same head waiter
 * stays queued for longer than the bound is a lost wake-up.
 */
static void watch(int k, struct streak *st, const char *who)
{
	struct hsema_query q;
	unsigned int v;
	int64_t now = now_ns(CLOCK_MONOTONIC);
	int ret;

	ret = hsema_query(devfd, sema_of(k), qflags_of(k), &q);
	if (ret) {
		fail(C_WATCHDOG, "%s: QUERY of semaphore %d returned %d", who, k,
		     ret);
		return;
	}
	v = hsema_value(sema_of(k));
	if (!q.nr_waiters || !v) {
		st->active = false;
		return;
	}
	if (!st->active || st->head != q.head_ticket) {
		st->active = true;
		st->reported = false;
		st->head = q.head_ticket;
		st->since = now;
		return;
	}
	if (!st->reported && now - st->since > cfg->watch_ms * 1000000LL) {
		st->reported = true;
		fail(C_WATCHDOG,
		     "%s semaphore %d: head waiter (ticket %llu) queued for %lld ms while the value is %u (waiters %u, woken %u, starving %u, word %#x)",
		     who, k, (unsigned long long)q.head_ticket,
		     (long long)((now - st->since) / 1000000), v, q.nr_waiters,
		     q.nr_woken, q.starving, hsema_word(sema_of(k)));
	}
}

/*
 * At a checkpoint: the value matches the ledger, the queue holds exactly
 * the threads asleep on it (@sleepers), none of them woken, and units
 * and sleepers never coexist.
 */
static void check_quiescent(int k, long sleepers, enum check ledger_check,
			    const char *who)
{
	struct ledger *l = ledger_of(k);
	long expect = (long)l->initial + atomic_load(&l->released) -
		      atomic_load(&l->acquired);
	unsigned int v = hsema_value(sema_of(k));
	struct hsema_query q;

	if ((long)v != expect)
		fail(ledger_check,
		     "checkpoint: %s semaphore %d: value %u, ledger %u + %ld - %ld = %ld",
		     who, k, v, l->initial, atomic_load(&l->released),
		     atomic_load(&l->acquired), expect);
	if (hsema_query(devfd, sema_of(k), qflags_of(k), &q)) {
		fail(C_QUEUES, "checkpoint: QUERY of %s semaphore %d failed",
		     who, k);
		return;
	}
	if (q.nr_waiters != sleepers || q.nr_woken)
		fail(C_QUEUES,
		     "checkpoint: %s semaphore %d: %u waiters (%u woken), %ld threads asleep on it",
		     who, k, q.nr_waiters, q.nr_woken, sleepers);
	if (q.nr_waiters && v)
		fail(C_WATCHDOG,
		     "checkpoint: %s semaphore %d: value %u with %u waiters asleep (lost wake-up)",
		     who, k, v, q.nr_waiters);
}

/* The final state of a semaphore nobody uses any more. */
static void check_final(int k, enum check ledger_check, const char *who)
{
	struct ledger *l = ledger_of(k);
	long expect = (long)l->initial + atomic_load(&l->released) -
		      atomic_load(&l->acquired);
	unsigned int word = hsema_word(sema_of(k));
	struct hsema_query q;

	if (word != (unsigned int)expect || expect < 0)
		fail(ledger_check,
		     "end: %s semaphore %d: word %#x, ledger %u + %ld - %ld = %ld (restored for killed processes: %ld)",
		     who, k, word, l->initial, atomic_load(&l->released),
		     atomic_load(&l->acquired), expect,
		     atomic_load(&l->restored));
	if (hsema_query(devfd, sema_of(k), qflags_of(k), &q) ||
	    q.nr_waiters || q.starving)
		fail(C_QUEUES, "end: %s semaphore %d: %u waiters left, starving %u",
		     who, k, q.nr_waiters, q.starving);
}

/* Threads of this process asleep on private semaphore @k (at a checkpoint). */
static long private_sleepers(int k)
{
	struct pslot *ps = &shm->procs[my_slot];
	long n = 0;
	int i;

	for (i = 0; i < cfg->threads; i++)
		if (!atomic_load(&ps->t[i].parked) &&
		    atomic_load(&ps->t[i].op) == OP_ACQ &&
		    atomic_load(&ps->t[i].sema) == k)
			n++;
	return n;
}

/*
 * The wake probe: with the world frozen, release units to semaphore @k,
 * on which @sleepers threads sleep, in one of several shapes (one
 * release for all, one spare, fewer units than sleepers, one release or
 * handoff per sleeper, a release and at once a handoff, which usually
 * grants the waiter the release woke before it runs).  Nobody can barge
 * in, so each unit must reach a sleeper, which takes it and parks: a unit
 * left in the value with a sleeper still asleep at the next checkpoint is
 * a lost wake-up, however rare the release shape that lost it.  Returns
 * the units released.
 */
static long probe_release(int k, long sleepers, unsigned int *rng)
{
	sema_t *s = sema_of(k);
	int shape = xrand(rng) % 6, ret = 0;
	long n = 0, i;

	if (shape == 5) {
		ret = sema_release(s);
		if (!ret) {
			n = 1;
			ret = sema_release_handoff(s);
			n += !ret;
		}
	} else if (shape < 3) {
		n = shape == 0 ? sleepers : shape == 1 ? sleepers + 1 :
		    1 + xrand(rng) % sleepers;
		ret = sema_release_n(s, n);
		if (ret)
			n = 0;
	} else {
		for (i = 0; i < sleepers; i++) {
			ret = shape == 3 ? sema_release(s) :
					   sema_release_handoff(s);
			if (ret)
				break;
			n++;
		}
	}
	if (ret)
		fail(C_RET, "wake probe: release on semaphore %d returned %d",
		     k, ret);
	atomic_fetch_add(&ledger_of(k)->released, n);
	atomic_fetch_add(&shm->probe_units, n);
	atomic_fetch_add(&shm->probe_sleepers, sleepers);
	return n;
}

static _Atomic int wd_stop;
static long pdebt[MAX_PRIVATE];

/* The worker process's watchdog: private semaphores, and checkpoints. */
static void *proc_watchdog_fn(void *arg)
{
	struct pslot *ps = &shm->procs[my_slot];
	struct streak st[MAX_PRIVATE] = { 0 };
	unsigned int gen, rng = seed32(my_slot, ps->incarnation, 999);
	long n;
	int j, k;

	(void)arg;
	while (!atomic_load(&wd_stop)) {
		gen = atomic_load(&shm->check_gen);
		if (gen != atomic_load(&ps->ack_gen)) {
			/* A checkpoint: the process is frozen. */
			for (j = 0; j < cfg->nprivate; j++) {
				k = cfg->nshared + j;
				check_quiescent(k, private_sleepers(k),
						C_PRIVATE, "private");
				while (pdebt[j] && !sema_tryacquire(&priv[j])) {
					atomic_fetch_add(&pled[j].acquired, 1);
					pdebt[j]--;
				}
				n = private_sleepers(k);
				if (n && atomic_load(&shm->probe_gen) == gen)
					pdebt[j] += probe_release(k, n, &rng);
			}
			atomic_store(&ps->ack_gen, gen);
		}
		for (j = 0; j < cfg->nprivate; j++)
			watch(cfg->nshared + j, &st[j], "private");
		msleep(SAMPLE_MS);
	}
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&shm->handled_signals, 1);
}

static void worker_main(int slot)
{
	struct pslot *ps = &shm->procs[slot];
	struct sigaction sa;
	pthread_t wd;
	sigset_t set;
	int i, j, k;

	my_slot = slot;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_flags = 0;
	sigaction(SIGUSR2, &sa, NULL);

	devfd = hsema_open();
	if (devfd < 0) {
		fail(C_RET, "open %s: %s", HSEMA_DEVICE, strerror(errno));
		_exit(1);
	}
	for (j = 0; j < cfg->nprivate; j++) {
		k = cfg->nshared + j;
		memset(&pled[j], 0, sizeof(pled[j]));
		pled[j].initial = 1 + seed32(slot, ps->incarnation, 1000 + j) % 3;
		if (sema_init(&priv[j], pled[j].initial, 0) ||
		    sema_set_starve_threshold(&priv[j], threshold_of(k)))
			fail(C_RET, "sema_init of private %d failed", j);
	}

	/* The watchdog is not a worker: no random signals for it. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&wd, NULL, proc_watchdog_fn, NULL))
		_exit(1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	for (i = 0; i < cfg->threads; i++) {
		struct wthr *w = &wthr[i];

		memset(w, 0, sizeof(*w));
		w->idx = i;
		w->ts = &ps->t[i];
		w->rng = seed32(slot, ps->incarnation, i);
		if (pthread_create(&w->thr, NULL, worker_fn, w)) {
			fail(C_RET, "pthread_create failed");
			_exit(1);
		}
	}
	for (i = 0; i < cfg->threads; i++)
		while (!atomic_load(&ps->t[i].tid))
			msleep(1);
	atomic_store(&ps->ready, 1);

	for (i = 0; i < cfg->threads; i++)
		pthread_join(wthr[i].thr, NULL);
	atomic_store(&wd_stop, 1);
	pthread_join(wd, NULL);
	for (j = 0; j < cfg->nprivate; j++)
		check_final(cfg->nshared + j, C_PRIVATE, "private");
	_exit(0);
}

/* ----- the supervisor ----- */

static void spawn(int slot)
{
	struct pslot *ps = &shm->procs[slot];
	int inc = ps->incarnation + 1;
	pid_t pid;

	memset(ps, 0, sizeof(*ps));
	ps->incarnation = inc;
	atomic_store(&ps->ack_gen, atomic_load(&shm->check_gen));
	pid = fork();
	if (pid < 0) {
		fail(C_LIVENESS, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		worker_main(slot);
	atomic_store(&ps->pid, pid);
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* The state letter of a thread, and the system call it sleeps in or -1. */
static char thread_state(pid_t pid, pid_t tid, long *nr)
{
	char path[64], buf[512], *p, state;

	*nr = -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	if (read_file(path, buf, sizeof(buf)))
		return '?';
	p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return '?';
	state = p[2];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	if (!read_file(path, buf, sizeof(buf)) && buf[0] >= '0' && buf[0] <= '9')
		*nr = strtol(buf, NULL, 10);
	return state;
}

static bool asleep_in_ioctl(pid_t pid, pid_t tid)
{
	long nr;

	return thread_state(pid, tid, &nr) == 'S' && nr == SYS_ioctl;
}

/*
 * One pass over every worker thread: is each parked, or inside a blocking
 * acquire and asleep in the kernel?  A thread parks only after counting
 * nparks, so an unchanged nparks across the pass means every thread seen
 * parked was parked before the pass began, and so was every operation
 * that could have woken a thread seen asleep: nobody can wake anybody
 * any more.  Fills @sleepers (per semaphore, shared) and @asleep (per
 * process).
 */
static bool quiescent(long *sleepers, int *asleep)
{
	long n0 = atomic_load(&shm->nparks);
	int p, i;

	memset(sleepers, 0, sizeof(long) * MAX_SHARED);
	for (p = 0; p < cfg->procs; p++) {
		struct pslot *ps = &shm->procs[p];
		pid_t pid = atomic_load(&ps->pid);

		asleep[p] = 0;
		if (!pid)
			continue;
		if (!atomic_load(&ps->ready))
			return false;
		if (atomic_load(&ps->ack_gen) != atomic_load(&shm->check_gen))
			return false;
		for (i = 0; i < cfg->threads; i++) {
			struct tslot *t = &ps->t[i];
			int k;

			if (atomic_load(&t->parked))
				continue;
			if (atomic_load(&t->op) != OP_ACQ ||
			    !asleep_in_ioctl(pid, atomic_load(&t->tid)))
				return false;
			asleep[p]++;
			k = atomic_load(&t->sema);
			if (k >= 0 && k < cfg->nshared)
				sleepers[k]++;
		}
	}
	return atomic_load(&shm->nparks) == n0;
}

static void dump_threads(void)
{
	int p, i;

	for (p = 0; p < cfg->procs; p++) {
		struct pslot *ps = &shm->procs[p];
		pid_t pid = atomic_load(&ps->pid);

		if (!pid)
			continue;
		for (i = 0; i < cfg->threads; i++) {
			struct tslot *t = &ps->t[i];
			long nr;
			char st;

			if (atomic_load(&t->done))
				continue;
			st = thread_state(pid, atomic_load(&t->tid), &nr);
			say("  p%d t%d (tid %d): %s on %d, parked %d, state %c, syscall %ld",
			    p, i, atomic_load(&t->tid),
			    op_name[atomic_load(&t->op)], atomic_load(&t->sema),
			    atomic_load(&t->parked), st, nr);
		}
	}
}

static void unfreeze(void)
{
	__atomic_store_n(&shm->freeze, 0, __ATOMIC_SEQ_CST);
	futex(&shm->freeze, FUTEX_WAKE, INT_MAX, NULL);
}

static long kills, kills_with_sleepers, checkpoints, restored_units;
static long kill_probes, probe_checkpoints;
static long probe_debt[MAX_SHARED];
static unsigned int sup_rng;

/* Wait for @pid to exit, up to @ms; true if reaped. */
static bool reap(pid_t pid, int ms, int *status)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + ms * 1000000LL;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
		if (now_ns(CLOCK_MONOTONIC) > end)
			return false;
		msleep(2);
	}
}

/* Wait for a quiescent point; false (reported) after QUIESCE_MS. */
static bool wait_quiescent(long *sleepers, int *asleep)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + QUIESCE_MS * 1000000LL;

	while (!quiescent(sleepers, asleep)) {
		if (now_ns(CLOCK_MONOTONIC) > end) {
			fail(C_LIVENESS, "no quiescent point within %d ms",
			     QUIESCE_MS);
			dump_threads();
			return false;
		}
		usleep_ns(2000000);
	}
	return true;
}

/*
 * Have every process check its private semaphores (and, with @probe, run
 * the wake probe on them), and wait for all answers.
 */
static void private_round(bool probe)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + QUIESCE_MS * 1000000LL;
	unsigned int gen = atomic_load(&shm->check_gen) + 1;
	int p;

	if (probe)
		atomic_store(&shm->probe_gen, gen);
	atomic_store(&shm->check_gen, gen);
	for (p = 0; p < cfg->procs; p++) {
		struct pslot *ps = &shm->procs[p];

		if (!atomic_load(&ps->pid))
			continue;
		while (atomic_load(&ps->ack_gen) != gen) {
			if (now_ns(CLOCK_MONOTONIC) > end) {
				fail(C_LIVENESS, "process %d did not check its private semaphores",
				     p);
				break;
			}
			msleep(1);
		}
	}
}

/* Check the shared semaphores at a quiescent point; take back debts. */
static void shared_round(const long *sleepers)
{
	int k;

	for (k = 0; k < cfg->nshared; k++) {
		check_quiescent(k, sleepers[k], C_SHARED, "shared");
		/* Earlier probe units, while nobody competes. */
		while (probe_debt[k] && !sema_tryacquire(&shm->sems[k])) {
			atomic_fetch_add(&shm->led[k].acquired, 1);
			probe_debt[k]--;
		}
	}
}

/*
 * A wake-probe checkpoint: release units to every semaphore with
 * sleepers (see probe_release()), wait for the next quiescent point and
 * check again: each unit released must have reached a sleeper.
 */
static void probe_checkpoint(const long *sleepers)
{
	long after[MAX_SHARED], n[MAX_SHARED] = { 0 };
	int asleep[MAX_PROCS], k;

	probe_checkpoints++;
	for (k = 0; k < cfg->nshared; k++)
		if (sleepers[k])
			probe_debt[k] += n[k] = probe_release(k, sleepers[k],
							      &sup_rng);
	private_round(true);
	if (!wait_quiescent(after, asleep))
		return;
	for (k = 0; k < cfg->nshared; k++)
		if (sleepers[k] && after[k] != (n[k] >= sleepers[k] ? 0 :
						sleepers[k] - n[k]))
			fail(C_WATCHDOG,
			     "wake probe: %ld units released to shared semaphore %d with %ld sleepers, %ld still asleep",
			     n[k], k, sleepers[k], after[k]);
	shared_round(after);
	private_round(false);
}

/*
 * A checkpoint: freeze, wait for quiescence, check everything, then
 * either run the wake probe or kill a process, preferably one with
 * threads asleep in the kernel.
 */
static void checkpoint(void)
{
	long sleepers[MAX_SHARED], held[MAX_SHARED] = { 0 };
	bool probe[MAX_SHARED] = { 0 };
	int asleep[MAX_PROCS], p, i, k, victim = -1, status;
	pid_t pid;

	__atomic_store_n(&shm->freeze, 1, __ATOMIC_SEQ_CST);
	if (!wait_quiescent(sleepers, asleep)) {
		unfreeze();
		return;
	}
	checkpoints++;
	shared_round(sleepers);
	/*
	 * Kill or probe, at random, but make sure of a kill with sleepers
	 * and of a probe early in the run.
	 */
	for (p = 0, i = 0; p < cfg->procs; p++)
		i += asleep[p];
	if (!cfg->kills)
		k = 0;
	else if (i && !kills_with_sleepers)
		k = 1;
	else if (i && !probe_checkpoints)
		k = 0;
	else
		k = xrand(&sup_rng) % 2;
	if (!k) {
		probe_checkpoint(sleepers);
		unfreeze();
		return;
	}
	private_round(false);

	for (p = 0, i = 0; p < cfg->procs; p++)
		if (atomic_load(&shm->procs[p].pid) && asleep[p] > i)
			i = asleep[p];
	/* A random one among those with the most sleepers. */
	for (p = 0, k = 0; p < cfg->procs; p++)
		if (atomic_load(&shm->procs[p].pid) && asleep[p] == i &&
		    xrand(&sup_rng) % ++k == 0)
			victim = p;
	if (victim < 0) {
		unfreeze();
		return;
	}

	/* Complete records: what the victim holds, it holds now. */
	for (i = 0; i < cfg->threads; i++) {
		struct tslot *t = &shm->procs[victim].t[i];

		for (k = 0; k < cfg->nshared; k++)
			held[k] += atomic_load(&t->held[k]);
		k = atomic_load(&t->sema);
		if (!atomic_load(&t->parked) && k >= 0 && k < cfg->nshared)
			probe[k] = 1;
	}
	pid = atomic_load(&shm->procs[victim].pid);
	if (kill(pid, SIGKILL))
		fail(C_KILL, "kill(%d): %s", pid, strerror(errno));

	/*
	 * SIGKILL is pending in every thread of the victim: none runs user
	 * code again, so its units can be given back now.  First a unit for
	 * each shared semaphore a victim thread sleeps on, at once, to race
	 * a grant or a wake-up with the dying waiter leaving (taken back at
	 * the next checkpoint); then the units it held.
	 */
	for (k = 0; k < cfg->nshared; k++) {
		if (!probe[k])
			continue;
		if ((xrand(&sup_rng) & 1 ? sema_release_handoff(&shm->sems[k]) :
					   sema_release(&shm->sems[k]))) {
			fail(C_KILL, "probe release of semaphore %d failed", k);
			continue;
		}
		atomic_fetch_add(&shm->led[k].released, 1);
		probe_debt[k]++;
		kill_probes++;
	}
	for (k = 0; k < cfg->nshared; k++) {
		if (!held[k])
			continue;
		if (sema_release_n(&shm->sems[k], held[k])) {
			fail(C_KILL, "restoring %ld units of semaphore %d failed",
			     held[k], k);
			continue;
		}
		atomic_fetch_add(&shm->led[k].released, held[k]);
		atomic_fetch_add(&shm->led[k].restored, held[k]);
		restored_units += held[k];
	}
	unfreeze();

	if (!reap(pid, QUIESCE_MS, &status)) {
		fail(C_KILL, "process %d (pid %d) did not die after SIGKILL",
		     victim, pid);
		return;
	}
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail(C_KILL, "process %d exited with status %#x, not SIGKILL",
		     victim, status);
	kills++;
	if (asleep[victim])
		kills_with_sleepers++;
	if (cfg->verbose)
		say("killed p%d (pid %d) with %d threads asleep", victim, pid,
		    asleep[victim]);
	atomic_store(&shm->procs[victim].pid, 0);
	spawn(victim);
}

/* Unexpected deaths of worker processes. */
static void reap_unexpected(void)
{
	int status, p;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (p = 0; p < cfg->procs; p++)
			if (atomic_load(&shm->procs[p].pid) == pid)
				break;
		if (p == cfg->procs)
			continue;
		atomic_store(&shm->procs[p].pid, 0);
		fail(C_LIVENESS, "process %d (pid %d) ended early, status %#x",
		     p, pid, status);
	}
}

static void send_signal(void)
{
	int p = xrand(&sup_rng) % cfg->procs, i = xrand(&sup_rng) % cfg->threads;
	struct pslot *ps = &shm->procs[p];
	pid_t pid = atomic_load(&ps->pid), tid = atomic_load(&ps->t[i].tid);

	if (!pid || !tid || !atomic_load(&ps->ready))
		return;
	syscall(SYS_tgkill, pid, tid, (xrand(&sup_rng) & 1) ? SIGUSR1 : SIGUSR2);
}

static bool live_workers(void)
{
	int p;

	for (p = 0; p < cfg->procs; p++)
		if (atomic_load(&shm->procs[p].pid))
			return true;
	return false;
}

/* Stop the workers and wait for them; the watchdog keeps watching. */
static void finish(struct streak *st)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) +
		      (int64_t)(20 + 2 * cfg->watch_ms / 1000) * 1000000000LL;
	int64_t next = 0;
	int status, p, k;

	atomic_store(&shm->stop, 1);
	unfreeze();
	while (live_workers()) {
		for (p = 0; p < cfg->procs; p++) {
			pid_t pid = atomic_load(&shm->procs[p].pid);

			if (pid && waitpid(pid, &status, WNOHANG) == pid) {
				atomic_store(&shm->procs[p].pid, 0);
				if (!WIFEXITED(status) || WEXITSTATUS(status))
					fail(C_LIVENESS, "process %d ended with status %#x",
					     p, status);
			}
		}
		if (now_ns(CLOCK_MONOTONIC) > next) {
			for (k = 0; k < cfg->nshared; k++)
				watch(k, &st[k], "shared");
			next = now_ns(CLOCK_MONOTONIC) + SAMPLE_MS * 1000000LL;
		}
		if (now_ns(CLOCK_MONOTONIC) > end) {
			fail(C_LIVENESS, "workers still running long after the stop:");
			dump_threads();
			for (k = 0; k < cfg->nshared; k++) {
				struct hsema_query q;

				if (!hsema_query(devfd, &shm->sems[k], HSEMA_F_SHARED, &q))
					say("  shared %d: word %#x waiters %u woken %u starving %u",
					    k, hsema_word(&shm->sems[k]),
					    q.nr_waiters, q.nr_woken, q.starving);
			}
			for (p = 0; p < cfg->procs; p++) {
				pid_t pid = atomic_load(&shm->procs[p].pid);

				if (pid) {
					kill(pid, SIGKILL);
					reap(pid, QUIESCE_MS, &status);
					atomic_store(&shm->procs[p].pid, 0);
				}
			}
			break;
		}
		msleep(5);
	}
}

/* ----- the load_test.sh helper ----- */

struct raw_waiter {
	int fd;
	__u32 *word;
	int ret;
};

static void *raw_wait_fn(void *arg)
{
	struct raw_waiter *rw = arg;
	struct hsema_wait a;

	memset(&a, 0, sizeof(a));
	a.uaddr = (uintptr_t)rw->word;
	rw->ret = ioctl(rw->fd, HSEMA_IOC_WAIT, &a) ? -errno : 0;
	return NULL;
}

static void *lib_wait_fn(void *arg)
{
	struct raw_waiter *rw = arg;

	rw->ret = sema_acquire((sema_t *)rw->word);
	return NULL;
}

/*
 * -W: queue one waiter, print "queued", keep it queued until SIGUSR1,
 * then release it and exit 0 if it got its unit.  With -C the waiter uses
 * its own descriptor, which is closed while it waits: only the file
 * reference of the ioctl in flight keeps the module pinned.
 */
static int helper_wait(bool closed)
{
	static sema_t s;
	struct raw_waiter rw = { .fd = -1, .word = &s.__word, .ret = 1 };
	struct hsema_wake wk;
	struct hsema_query q;
	pthread_t thr;
	sigset_t set;
	int fd, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (sema_init(&s, 0, 0))
		return 1;
	fd = hsema_open();
	if (fd < 0)
		return 1;
	if (closed) {
		rw.fd = hsema_open();
		if (rw.fd < 0)
			return 1;
	}
	if (pthread_create(&thr, NULL, closed ? raw_wait_fn : lib_wait_fn, &rw))
		return 1;
	if (hsema_wait_queued(fd, &s, 0, 1, &q)) {
		fprintf(stderr, "helper: the waiter did not queue\n");
		return 1;
	}
	if (closed) {
		close(rw.fd);
		close(fd);
	}
	printf("queued\n");
	fflush(stdout);
	sigwait(&set, &sig);

	if (closed) {
		fd = hsema_open();
		if (fd < 0)
			return 1;
		memset(&wk, 0, sizeof(wk));
		wk.uaddr = (uintptr_t)&s.__word;
		wk.count = 1;
		if (ioctl(fd, HSEMA_IOC_WAKE, &wk))
			return 1;
	} else if (sema_release(&s)) {
		return 1;
	}
	pthread_join(thr, NULL);
	if (rw.ret) {
		fprintf(stderr, "helper: the waiter returned %d\n", rw.ret);
		return 1;
	}
	return 0;
}

/* ----- main ----- */

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-t SECONDS] [-p PROCS] [-T THREADS] [-S SHARED] [-P PRIVATE]\n"
		"       [-s SEED] [-q CHECKPOINT_MS] [-k 0|1] [-i SIGNAL_MS] [-f FORK_DIV]\n"
		"       [-w WATCHDOG_MS] [-v]\n"
		"       %s -W [-C]   (load_test.sh helper)\n"
		"environment: HSEMA_STRESS_SECONDS, HSEMA_STRESS_SEED\n",
		argv0, argv0);
	exit(KSFT_FAIL);
}

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

int main(int argc, char **argv)
{
	struct streak st[MAX_SHARED] = { 0 };
	struct hsema_stats st0, st1;
	int64_t t_end, next_cp, next_sig = 0, next_watch = 0;
	bool helper = false, closed = false;
	struct cfg c = {
		.seconds = 8, .procs = 4, .threads = 4, .nshared = 8,
		.nprivate = 4, .checkpoint_ms = 800, .kills = 1,
		.signal_ms = 10, .fork_div = 300, .watch_ms = 2000,
	};
	const char *env;
	long total_ops;
	int opt, k, kfd;
	char path[64];

	c.seed = splitmix64((uint64_t)now_ns(CLOCK_REALTIME) ^ getpid());
	env = getenv("HSEMA_STRESS_SECONDS");
	if (env)
		c.seconds = atoi(env);
	env = getenv("HSEMA_STRESS_SEED");
	if (env)
		c.seed = strtoull(env, NULL, 0);
	while ((opt = getopt(argc, argv, "t:p:T:S:P:s:q:k:i:f:w:vWC")) != -1) {
		switch (opt) {
		case 't':
			c.seconds = atoi(optarg);
			break;
		case 'p':
			c.procs = atoi(optarg);
			break;
		case 'T':
			c.threads = atoi(optarg);
			break;
		case 'S':
			c.nshared = atoi(optarg);
			break;
		case 'P':
			c.nprivate = atoi(optarg);
			break;
		case 's':
			c.seed = strtoull(optarg, NULL, 0);
			break;
		case 'q':
			c.checkpoint_ms = atoi(optarg);
			break;
		case 'k':
			c.kills = atoi(optarg);
			break;
		case 'i':
			c.signal_ms = atoi(optarg);
			break;
		case 'f':
			c.fork_div = atoi(optarg);
			break;
		case 'w':
			c.watch_ms = atoi(optarg);
			break;
		case 'v':
			c.verbose = 1;
			break;
		case 'W':
			helper = true;
			break;
		case 'C':
			closed = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (helper)
		return helper_wait(closed);
	c.procs = clamp(c.procs, 1, MAX_PROCS);
	c.threads = clamp(c.threads, 1, MAX_THREADS);
	c.nshared = clamp(c.nshared, 1, MAX_SHARED);
	c.nprivate = clamp(c.nprivate, 1, MAX_PRIVATE);
	c.seconds = clamp(c.seconds, 1, INT_MAX / 1000);
	c.checkpoint_ms = clamp(c.checkpoint_ms, 50, INT_MAX);
	c.watch_ms = clamp(c.watch_ms, 100, INT_MAX / 4);

	ksft_print_header();
	ksft_print_msg("seed %#" PRIx64 " (replay: -s %#" PRIx64 "), %d s, %d processes x %d threads, %d shared + %d private semaphores\n",
		       c.seed, c.seed, c.seconds, c.procs, c.threads,
		       c.nshared, c.nprivate);

	devfd = hsema_open();
	if (devfd < 0)
		ksft_exit_skip(HSEMA_DEVICE " missing: is hsema.ko loaded? (%s)\n",
			       strerror(errno));
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	shm->cfg = c;
	cfg = &shm->cfg;
	sup_rng = seed32(~0ULL, 0, 0);

	/* Killing safely needs to see threads asleep in ioctl(). */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", getpid(),
		 hsema_gettid());
	if (cfg->kills && read_file(path, (char[64]) { 0 }, 64)) {
		ksft_print_msg("%s unreadable: no SIGKILL\n", path);
		cfg->kills = 0;
	}
	for (k = 0; k < cfg->nshared; k++) {
		shm->led[k].initial = 1 + seed32(~0ULL, 1, k) % 3;
		if (sema_init(&shm->sems[k], shm->led[k].initial, SEMA_SHARED) ||
		    sema_set_starve_threshold(&shm->sems[k], threshold_of(k)))
			ksft_exit_fail_msg("sema_init of shared %d failed\n", k);
	}
	hsema_stats(devfd, &st0);
	kfd = kmsg_mark();

	for (k = 0; k < cfg->procs; k++)
		spawn(k);
	t_end = now_ns(CLOCK_MONOTONIC) + cfg->seconds * 1000000000LL;
	next_cp = now_ns(CLOCK_MONOTONIC) + cfg->checkpoint_ms * 1000000LL;
	while (now_ns(CLOCK_MONOTONIC) < t_end) {
		int64_t now = now_ns(CLOCK_MONOTONIC);

		reap_unexpected();
		if (now >= next_watch) {
			for (k = 0; k < cfg->nshared; k++)
				watch(k, &st[k], "shared");
			next_watch = now + SAMPLE_MS * 1000000LL;
		}
		if (cfg->signal_ms && now >= next_sig) {
			send_signal();
			next_sig = now + (1 + xrand(&sup_rng) % (2 * cfg->signal_ms)) * 1000000LL;
		}
		if (now >= next_cp) {
			checkpoint();
			/* Between 1/2 and 3/2 of the period. */
			next_cp = now_ns(CLOCK_MONOTONIC) +
				  (cfg->checkpoint_ms / 2 +
				   xrand(&sup_rng) % (cfg->checkpoint_ms + 1)) * 1000000LL;
		}
		msleep(cfg->signal_ms ? 2 : 10);
	}
	finish(st);
	for (k = 0; k < cfg->nshared; k++)
		check_final(k, C_SHARED, "shared");
	hsema_stats(devfd, &st1);

	for (total_ops = 0, k = 1; k < OP_NR; k++)
		total_ops += shm->ops[k];
	ksft_print_msg("ops %ld: acquire %ld, try %ld (%ld EAGAIN), timed %ld and any %ld (%ld timeouts), release %ld, release_n %ld, handoff %ld, fork %ld; EINTR %ld; signals handled %ld\n",
		       total_ops, shm->ops[OP_ACQ], shm->ops[OP_TRY], shm->eagain,
		       shm->ops[OP_TIMED], shm->ops[OP_ANY], shm->timeouts,
		       shm->ops[OP_REL],
		       shm->ops[OP_REL_N], shm->ops[OP_HANDOFF],
		       shm->ops[OP_FORK], shm->eintr, shm->handled_signals);
	ksft_print_msg("checkpoints %ld: %ld wake probes (%ld units to %ld sleepers), kills %ld (%ld with waiters asleep, %ld releases racing them), units restored for the killed %ld\n",
		       checkpoints, probe_checkpoints, (long)shm->probe_units,
		       (long)shm->probe_sleepers, kills, kills_with_sleepers,
		       kill_probes, restored_units);
	ksft_print_msg("kernel: waits %llu, wakes %llu, grants %llu, requeues %llu, handoffs %llu, starve_enter %llu, timeouts %llu, interrupts %llu, passed_on %llu\n",
		       (unsigned long long)(st1.waits - st0.waits),
		       (unsigned long long)(st1.wakes - st0.wakes),
		       (unsigned long long)(st1.grants - st0.grants),
		       (unsigned long long)(st1.requeues - st0.requeues),
		       (unsigned long long)(st1.handoffs - st0.handoffs),
		       (unsigned long long)(st1.starve_enter - st0.starve_enter),
		       (unsigned long long)(st1.timeouts - st0.timeouts),
		       (unsigned long long)(st1.interrupts - st0.interrupts),
		       (unsigned long long)(st1.passed_on - st0.passed_on));

	ksft_set_plan(9);
	ksft_test_result(!shm->fails[C_RET] && total_ops > 0,
			 "operations return documented results\n");
	ksft_test_result(!shm->fails[C_SHARED],
			 "ledger: shared semaphores conserve units at %ld checkpoints and at the end\n",
			 checkpoints);
	ksft_test_result(!shm->fails[C_PRIVATE],
			 "ledger: private semaphores conserve units\n");
	if (cfg->fork_div)
		ksft_test_result(!shm->fails[C_FORK] && shm->fork_children > 0,
				 "fork: %ld children saw consistent private copies\n",
				 (long)shm->fork_children);
	else
		ksft_test_result_skip("fork: disabled\n");
	ksft_test_result(!shm->fails[C_WATCHDOG],
			 "watchdog: no waiter queued while units were available (bound %d ms; %ld frozen wake probes)\n",
			 cfg->watch_ms, probe_checkpoints);
	ksft_test_result(!shm->fails[C_QUEUES] && checkpoints > 0,
			 "queues: waiters match the threads asleep, empty at the end\n");
	if (cfg->kills)
		ksft_test_result(!shm->fails[C_KILL] && kills_with_sleepers > 0,
				 "SIGKILL: %ld processes killed, %ld with waiters asleep, their units accounted\n",
				 kills, kills_with_sleepers);
	else
		ksft_test_result_skip("SIGKILL: disabled\n");
	ksft_test_result(!shm->fails[C_LIVENESS],
			 "liveness: checkpoints reached, every process finished\n");
	kmsg_result_clean(kfd);
	ksft_finished();
}
