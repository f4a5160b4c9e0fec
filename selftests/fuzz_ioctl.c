// SPDX-License-Identifier: GPL-2.0-only
/*
 * hsema_fuzz: a bounded ioctl fuzzer for /dev/hsema.
 *
 * Each iteration makes one call with a random command (the six valid
 * ones, the same with a mutated size, direction, number or type, or a
 * random number), random flags, reserved and padding fields, counts and
 * deadlines, and an argument and a semaphore word at addresses of random
 * classes: fine, misaligned, straddling a page boundary into a writable,
 * read-only, PROT_NONE or unmapped page, read-only, PROT_NONE, unmapped,
 * NULL, low, kernel and non-canonical, and a page that another thread
 * keeps remapping.  Words are also in the other kinds of memory whose keys
 * differ: a memfd (the shared-file class), a file on a tmpfs lazily
 * unmounted (MNT_DETACH) while the mapping stays, SysV shm, a perf ring
 * buffer (not page cache or shmem: EFAULT with HSEMA_F_SHARED, a private
 * semaphore without it), and hugetlb: MAP_SHARED where the guest has huge
 * pages, else MAP_NORESERVE with an empty pool (ENOMEM, and only there).
 * The result must be in the set the documentation
 * (Documentation/hsema.rst, "Interface") allows for that command and
 * input: each error whose condition the input meets, in any order of
 * precedence, else success (or, for a wait, a timeout or EINTR).  Words
 * may change only as documented (a wait takes one unit, a release adds
 * them, nothing else changes a word), and successful calls must fill
 * their output as documented.
 *
 * Every few hundred iterations a scenario runs instead: a thread waits on
 * a word while a second one unmaps, write-protects or replaces its page,
 * unmaps the argument, releases around the unmap, or forks a child that
 * releases through its own mapping.
 *
 * The VFS answers a few commands itself before the driver (FIOCLEX,
 * FIONBIO, FIFREEZE, FICLONE, FS_IOC_*...; fs/ioctl.c); their types are
 * left out of the random commands, FIFREEZE not least.
 *
 * Per-iteration randomness comes from the seed and the iteration number:
 * "-s SEED -i N" replays iteration N alone.  A SIGALRM interval timer
 * interrupts any wait that would otherwise block for good.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>
#include <linux/perf_event.h>

#include "kselftest.h"
#include "kmsg_check.h"

#define PAGE		4096UL
#define NSEC		1000000000LL
#define MASK		HSEMA_VALUE_MASK
#define HPAGE		(2UL << 20)

#ifndef MAP_HUGETLB
#define MAP_HUGETLB	0x40000
#endif

/* Results, as a bit set. */
enum res { RES_OK, RES_EFAULT, RES_EINVAL, RES_ENOTTY, RES_EOVERFLOW,
	   RES_ETIMEDOUT, RES_EINTR, RES_ENOMEM, RES_OTHER, RES_NR };
#define B(r)		(1U << (r))
static const char *const res_name[RES_NR] = {
	"0", "EFAULT", "EINVAL", "ENOTTY", "EOVERFLOW", "ETIMEDOUT", "EINTR",
	"ENOMEM", "other",
};

static enum res res_of(int err)
{
	switch (err) {
	case 0:
		return RES_OK;
	case EFAULT:
		return RES_EFAULT;
	case EINVAL:
		return RES_EINVAL;
	case ENOTTY:
		return RES_ENOTTY;
	case EOVERFLOW:
		return RES_EOVERFLOW;
	case ETIMEDOUT:
		return RES_ETIMEDOUT;
	case EINTR:
		return RES_EINTR;
	case ENOMEM:
		return RES_ENOMEM;
	default:
		return RES_OTHER;
	}
}

/* The checks. */
enum check { K_VERSION, K_STATS, K_QUERY, K_WAIT, K_WAKE, K_WAIT_ANY,
	     K_UNKNOWN,
	     K_WORD, K_OUTPUT, K_SCENARIO, K_FLAP, K_NR };
static long calls[K_NR], bad[K_NR];

/*
 * The address space the fuzzer works in: pages at fixed places in a
 * region nobody else maps into, so that a "hole" stays unmapped.  Odd
 * pages between the word pages are holes too.
 */
enum {
	P_ARG0, P_ARG1,		/* RW, RW: an argument may straddle them */
	P_ARG_RO,		/* read-only view of memfd page 0 */
	P_HOLE_A,
	P_ARG2, P_ARG_NONE,	/* RW, then PROT_NONE */
	P_HOLE_B,
	P_ARG3, P_HOLE_C,	/* RW, then unmapped */
	P_W_PRIV = 10,		/* private RW words */
	P_W_SHANON = 12,	/* MAP_SHARED anonymous RW words */
	P_W_SHFILE = 14,	/* memfd page 1, MAP_SHARED RW */
	P_W_ROFILE = 16,	/* memfd page 2, read-only */
	P_W_ROANON = 18,	/* private read-only, content set at start */
	P_W_NONE = 20,		/* PROT_NONE */
	P_W_HOLE = 22,		/* unmapped */
	P_FLAP = 24,		/* remapped all the time by another thread */
	P_SCEN_X = 26,		/* a scenario's word page */
	P_SCEN_Y = 28,		/* ... and its argument page */
	P_W_DETACHED = 30,	/* tmpfs file page 0, the tmpfs detached */
	P_W_PERF = 32,		/* perf ring buffer: control page, data page */
	P_W_SYSV = 35,		/* SysV shm segment */
	P_NR = 37
};

static char *region;	/* P_NR pages */
static char *alias;	/* RW view of the memfd, 3 pages */
static int memfd = -1, devfd = -1;
/* The optional kinds of memory: set up if the system has them. */
static int detfd = -1;		/* the file on the detached tmpfs */
static bool have_perf, have_sysv;
static enum { HUGE_NONE, HUGE_POOL, HUGE_NOPOOL } huge_kind;
static char *hugemap;		/* HPAGE of hugetlb */
static uint64_t seed;
static long cur_iter, iters = 20000;

static char *page(int p)
{
	return region + p * PAGE;
}

static const uint64_t kernel_addrs[] = {
	0xffff888000000000ULL,	/* direct map */
	0xffffffff81000000ULL,	/* kernel text */
	0xfffffffffffff000ULL,
	0xffffffffff600000ULL,	/* vsyscall page */
	0x0000800000000000ULL,	/* first non-canonical (4-level paging) */
	0xfffffffffffffffcULL,
};

/* A per-iteration generator: splitmix64 on the seed and iteration. */
struct rng { uint64_t s; };

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd_n(struct rng *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int pct)
{
	return rnd_n(r, 100) < pct;
}

static int64_t now_on(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

/* ----- pointer classes ----- */

enum tri { NO, YES, MAYBE };

enum aclass { A_OK, A_MISALIGNED, A_CROSS_RW, A_CROSS_RO, A_CROSS_NONE,
	      A_CROSS_HOLE, A_RO, A_NONE, A_HOLE, A_NULL, A_KERNEL, A_FLAP,
	      A_NR };
static const char *const aclass_name[A_NR] = {
	"ok", "misaligned", "cross-rw", "cross-ro", "cross-none",
	"cross-hole", "ro", "none", "hole", "null", "kernel", "flapping",
};

struct argp {
	enum aclass cls;
	uint64_t addr;
	enum tri rd, wr;
};

static struct argp pick_arg(struct rng *r, size_t size)
{
	static const int weights[A_NR] = {
		[A_OK] = 40, [A_MISALIGNED] = 8, [A_CROSS_RW] = 8,
		[A_CROSS_RO] = 6, [A_CROSS_NONE] = 4, [A_CROSS_HOLE] = 4,
		[A_RO] = 6, [A_NONE] = 3, [A_HOLE] = 3, [A_NULL] = 3,
		[A_KERNEL] = 5, [A_FLAP] = 4,
	};
	struct argp a = { .rd = NO, .wr = NO };
	int total = 0, i, w;
	size_t k = 1 + rnd_n(r, size - 1);	/* bytes in the second page */

	for (i = 0; i < A_NR; i++)
		total += weights[i];
	w = rnd_n(r, total);
	for (i = 0; w >= weights[i]; i++)
		w -= weights[i];
	a.cls = i;
	switch (a.cls) {
	case A_OK:
		a.addr = (uintptr_t)page(P_ARG0) +
			 8 * rnd_n(r, (PAGE - size) / 8 + 1);
		a.rd = a.wr = YES;
		break;
	case A_MISALIGNED:
		a.addr = (uintptr_t)page(P_ARG2) + 1 + 2 * rnd_n(r, 3) +
			 8 * rnd_n(r, (PAGE - size) / 8 - 1);
		a.rd = a.wr = YES;
		break;
	case A_CROSS_RW:
		a.addr = (uintptr_t)page(P_ARG1) - size + k;
		a.rd = a.wr = YES;
		break;
	case A_CROSS_RO:
		a.addr = (uintptr_t)page(P_ARG_RO) - size + k;
		a.rd = YES;
		break;
	case A_CROSS_NONE:
		a.addr = (uintptr_t)page(P_ARG_NONE) - size + k;
		break;
	case A_CROSS_HOLE:
		a.addr = (uintptr_t)page(P_HOLE_C) - size + k;
		break;
	case A_RO:
		a.addr = (uintptr_t)page(P_ARG_RO) + 8 * rnd_n(r, (PAGE - size) / 8);
		a.rd = YES;
		break;
	case A_NONE:
		a.addr = (uintptr_t)page(P_ARG_NONE) + 8 * rnd_n(r, 16);
		break;
	case A_HOLE:
		a.addr = (uintptr_t)page(P_HOLE_A) + 8 * rnd_n(r, 16);
		break;
	case A_NULL:
		a.addr = 0;
		break;
	case A_KERNEL:
		a.addr = kernel_addrs[rnd_n(r, sizeof(kernel_addrs) / 8)];
		break;
	default:
		a.addr = (uintptr_t)page(P_FLAP) + 8 * rnd_n(r, (PAGE - size) / 8);
		a.rd = a.wr = MAYBE;
		break;
	}
	return a;
}

/* Write @len bytes of an argument, through the alias where read-only. */
static void arg_put(const struct argp *a, const void *src, size_t len)
{
	char *dst = (char *)(uintptr_t)a->addr, *ro = page(P_ARG_RO);
	size_t i;

	if (a->rd != YES)
		return;
	for (i = 0; i < len; i++) {
		if (dst + i >= ro && dst + i < ro + PAGE)
			alias[dst + i - ro] = ((const char *)src)[i];
		else
			dst[i] = ((const char *)src)[i];
	}
}

static void arg_get(const struct argp *a, void *dst, size_t len)
{
	memcpy(dst, (void *)(uintptr_t)a->addr, len);
}

enum wclass { W_PRIV, W_PAGE_LAST, W_SHANON, W_SHFILE, W_MISALIGNED,
	      W_ROFILE, W_ROANON, W_NONE, W_HOLE, W_NULL, W_LOW, W_KERNEL,
	      W_KERNEL_MISALIGNED, W_DETACHED, W_PERF, W_SYSV, W_HUGE, W_FLAP,
	      W_NR };
static const char *const wclass_name[W_NR] = {
	"private", "page-last", "shared-anon", "shared-file", "misaligned",
	"ro-file", "ro-anon", "none", "hole", "null", "low", "kernel",
	"kernel-misaligned", "detached-tmpfs", "perf", "sysv-shm", "hugetlb",
	"flapping",
};

struct wordp {
	enum wclass cls;
	uint64_t addr;
	bool aligned, user;	/* user: below TASK_SIZE */
	enum tri rd, wr;	/* mapped readable / writable */
	bool known;		/* content known: rd == YES and not flapping */
	bool mine;		/* RW and only this thread touches it */
	bool vm_shared;		/* in a MAP_SHARED file mapping */
	bool perf;		/* in a perf buffer: no shared key */
	bool nopool;		/* hugetlb with no page to fault in */
	uint32_t before;
};

/* Read-only anonymous words have this content, by index. */
static uint32_t roanon_value(unsigned int i)
{
	static const uint32_t v[] = {
		0, 1, 2, MASK, MASK - 1, HSEMA_WAITERS, HSEMA_STARVING | 3,
		HSEMA_WAITERS | HSEMA_STARVING,
	};

	return v[i % 8];
}

static uint32_t random_word(struct rng *r)
{
	uint32_t v;
	unsigned int p = rnd_n(r, 100);

	if (p < 30)
		v = 0;
	else if (p < 60)
		v = 1 + rnd_n(r, 3);
	else if (p < 70)
		v = MASK - rnd_n(r, 4);
	else if (p < 80)
		v = MASK - rnd_n(r, 64);
	else
		v = rnd(r) & MASK;
	if (chance(r, 30))
		v |= rnd(r) & (HSEMA_WAITERS | HSEMA_STARVING);
	return v;
}

static struct wordp pick_word(struct rng *r)
{
	const int weights[W_NR] = {
		[W_PRIV] = 30, [W_PAGE_LAST] = 4, [W_SHANON] = 12,
		[W_SHFILE] = 10, [W_MISALIGNED] = 5, [W_ROFILE] = 5,
		[W_ROANON] = 5, [W_NONE] = 3, [W_HOLE] = 3, [W_NULL] = 3,
		[W_LOW] = 2, [W_KERNEL] = 5, [W_KERNEL_MISALIGNED] = 2,
		[W_DETACHED] = detfd >= 0 ? 6 : 0, [W_PERF] = have_perf ? 6 : 0,
		[W_SYSV] = have_sysv ? 5 : 0, [W_HUGE] = huge_kind ? 4 : 0,
		[W_FLAP] = 4,
	};
	struct wordp w = { .aligned = true, .user = true, .rd = NO, .wr = NO };
	unsigned int idx = rnd_n(r, PAGE / 4);
	int total = 0, i, x;

	for (i = 0; i < W_NR; i++)
		total += weights[i];
	x = rnd_n(r, total);
	for (i = 0; x >= weights[i]; i++)
		x -= weights[i];
	w.cls = i;
	switch (w.cls) {
	case W_PRIV:
	case W_PAGE_LAST:
	case W_SHANON:
	case W_SHFILE:
		if (w.cls == W_PAGE_LAST)
			idx = PAGE / 4 - 1;
		w.addr = (uintptr_t)page(w.cls == W_SHANON ? P_W_SHANON :
					 w.cls == W_SHFILE ? P_W_SHFILE :
					 P_W_PRIV) + 4 * idx;
		w.rd = w.wr = YES;
		w.known = w.mine = true;
		w.vm_shared = w.cls == W_SHANON || w.cls == W_SHFILE;
		w.before = random_word(r);
		__atomic_store_n((uint32_t *)(uintptr_t)w.addr, w.before,
				 __ATOMIC_SEQ_CST);
		break;
	case W_MISALIGNED:
		w.addr = (uintptr_t)page(P_W_PRIV) + 4 * rnd_n(r, PAGE / 4 - 1) +
			 1 + rnd_n(r, 3);
		w.aligned = false;
		w.rd = w.wr = YES;
		break;
	case W_ROFILE:
		w.addr = (uintptr_t)page(P_W_ROFILE) + 4 * idx;
		w.rd = YES;
		w.known = w.vm_shared = true;
		w.before = random_word(r);
		__atomic_store_n((uint32_t *)(alias + 2 * PAGE + 4 * idx),
				 w.before, __ATOMIC_SEQ_CST);
		break;
	case W_ROANON:
		w.addr = (uintptr_t)page(P_W_ROANON) + 4 * idx;
		w.rd = YES;
		w.known = true;
		w.before = roanon_value(idx);
		break;
	case W_NONE:
		w.addr = (uintptr_t)page(P_W_NONE) + 4 * idx;
		break;
	case W_HOLE:
		w.addr = (uintptr_t)page(P_W_HOLE) + 4 * idx;
		break;
	case W_NULL:
		w.addr = 0;
		break;
	case W_LOW:
		w.addr = PAGE * (1 + rnd_n(r, 14)) + 4 * idx;
		break;
	case W_KERNEL:
		w.addr = kernel_addrs[rnd_n(r, sizeof(kernel_addrs) / 8)];
		w.user = false;
		break;
	case W_KERNEL_MISALIGNED:
		w.addr = kernel_addrs[rnd_n(r, sizeof(kernel_addrs) / 8)] + 1 +
			 rnd_n(r, 3);
		w.aligned = false;
		w.user = false;
		break;
	case W_DETACHED:
	case W_PERF:
	case W_SYSV:
	case W_HUGE:
		if (w.cls == W_PERF)	/* past the fields perf writes */
			idx = PAGE / 8 + rnd_n(r, PAGE / 8);
		w.addr = w.cls == W_HUGE ?
			 (uintptr_t)hugemap + PAGE * rnd_n(r, HPAGE / PAGE) + 4 * idx :
			 (uintptr_t)page(w.cls == W_DETACHED ? P_W_DETACHED :
					 w.cls == W_PERF ? P_W_PERF : P_W_SYSV) + 4 * idx;
		w.rd = w.wr = YES;
		w.perf = w.cls == W_PERF;
		w.vm_shared = w.cls != W_HUGE || huge_kind == HUGE_POOL;
		if (w.cls == W_HUGE && huge_kind == HUGE_NOPOOL) {
			/* Never touched: with no huge page it would SIGBUS. */
			w.nopool = true;
			break;
		}
		w.known = w.mine = true;
		w.before = random_word(r);
		__atomic_store_n((uint32_t *)(uintptr_t)w.addr, w.before,
				 __ATOMIC_SEQ_CST);
		break;
	default:
		w.addr = (uintptr_t)page(P_FLAP) + 4 * idx;
		w.rd = w.wr = MAYBE;
		w.vm_shared = true;	/* sometimes: see flap_fn() */
		break;
	}
	return w;
}

static uint32_t word_now(const struct wordp *w)
{
	return __atomic_load_n((uint32_t *)(uintptr_t)w->addr, __ATOMIC_SEQ_CST);
}

/* ----- expectations ----- */

/*
 * Errors a word can cause, per the documentation: EINVAL if misaligned,
 * EFAULT if not mapped (or, for @need_write, not writable) in the caller;
 * a shared key also needs a writable mapping, and page-cache or shmem
 * memory: a perf buffer has none (EFAULT).  Hugetlb memory with no page
 * to fault in fails a wait or a release with ENOMEM (a query: see
 * fuzz_query()).
 */
static unsigned int word_errors(const struct wordp *w, bool need_write,
				bool shared_flag)
{
	unsigned int e = 0;

	if (!w->aligned)
		e |= B(RES_EINVAL);
	if (!w->user || w->rd != YES || ((need_write || shared_flag) && w->wr != YES))
		e |= B(RES_EFAULT);
	if (w->perf && shared_flag)
		e |= B(RES_EFAULT);
	if (w->nopool && need_write)
		e |= B(RES_ENOMEM);
	return e;
}

/* A call's result against its expected set; @what describes it. */
static bool expect(enum check k, int err, unsigned int set, const char *what)
{
	char buf[160] = "";
	enum res r = res_of(err);
	int i;

	calls[k]++;
	if (set & B(r))
		return true;
	if (bad[k]++ < 10) {
		for (i = 0; i < RES_NR; i++)
			if (set & B(i))
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
					 "%s%s", buf[0] ? "," : "", res_name[i]);
		ksft_print_msg("MISMATCH seed=%#" PRIx64 " iter=%ld: %s -> %s (%d), expected {%s}; replay: hsema_fuzz -s %#" PRIx64 " -n %ld -i %ld\n",
			       seed, cur_iter, what, r == RES_OTHER ? strerror(err) :
			       res_name[r], err, buf, seed, iters, cur_iter);
	}
	return false;
}

static void complain(enum check k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void complain(enum check k, const char *fmt, ...)
{
	char buf[300];
	va_list ap;

	if (bad[k]++ >= 10)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ksft_print_msg("MISMATCH seed=%#" PRIx64 " iter=%ld: %s; replay: hsema_fuzz -s %#" PRIx64 " -n %ld -i %ld\n",
		       seed, cur_iter, buf, seed, iters, cur_iter);
}

/* ----- the interval timer that ends blocked waits ----- */

static void on_alarm(int sig)
{
	(void)sig;
}

static void alarm_every(long us)
{
	struct itimerval it = {
		.it_interval = { us / 1000000, us % 1000000 },
		.it_value = { us / 1000000, us % 1000000 },
	};

	setitimer(ITIMER_REAL, &it, NULL);
}

static void alarm_off(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 0 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

/* Every feature bit the ABI defines; VERSION may report no other. */
#define FEATURES_KNOWN	(HSEMA_FEAT_SHARED | HSEMA_FEAT_TIMEOUT | \
			 HSEMA_FEAT_HANDOFF | HSEMA_FEAT_STARVATION | \
			 HSEMA_FEAT_QUERY | HSEMA_FEAT_STATS | \
			 HSEMA_FEAT_PUBLISHED | HSEMA_FEAT_WOKEN | \
			 HSEMA_FEAT_WAIT_EINTR | HSEMA_FEAT_WAIT_OWNED | \
			 HSEMA_FEAT_MAX | HSEMA_FEAT_WAIT_ANY)

static int do_ioctl(unsigned long cmd, uint64_t arg, bool timer)
{
	int ret;

	if (timer)
		alarm_every(3000);
	ret = ioctl(devfd, cmd, (void *)(uintptr_t)arg) ? errno : 0;
	if (timer)
		alarm_off();
	return ret;
}

/* ----- the commands ----- */

static void describe(char *buf, size_t len, const char *cmd,
		     const struct argp *a, const struct wordp *w,
		     unsigned int flags)
{
	if (w)
		snprintf(buf, len, "%s arg=%s word=%s(%#x) flags=%#x", cmd,
			 aclass_name[a->cls], wclass_name[w->cls], w->before,
			 flags);
	else
		snprintf(buf, len, "%s arg=%s", cmd, aclass_name[a->cls]);
}

/*
 * A word may change only as documented: a wait that took a unit
 * decrements it, one that queued and left (timeout, signal) leaves the
 * value with no flag bits (nobody else waits on the fuzzer's words), a
 * release adds its units; nothing else changes it.
 */
static void check_word(const struct wordp *w, uint32_t expect_after,
		       const char *what)
{
	uint32_t after;

	if (!w->known)
		return;
	calls[K_WORD]++;
	after = word_now(w);
	if (after != expect_after)
		complain(K_WORD, "%s: word %#x -> %#x, expected %#x", what,
			 w->before, after, expect_after);
}

static void fuzz_version(struct rng *r, struct argp *a)
{
	struct hsema_version v;
	char what[160];
	int err;

	memset(&v, 0xa5, sizeof(v));
	arg_put(a, &v, sizeof(v));
	describe(what, sizeof(what), "VERSION", a, NULL, 0);
	err = do_ioctl(HSEMA_IOC_VERSION, a->addr, false);
	if (a->wr == MAYBE) {
		expect(K_FLAP, err, B(RES_OK) | B(RES_EFAULT), what);
		return;
	}
	if (!expect(K_VERSION, err, a->wr == YES ? B(RES_OK) : B(RES_EFAULT), what) || err)
		return;
	arg_get(a, &v, sizeof(v));
	calls[K_OUTPUT]++;
	if (v.abi_version != HSEMA_ABI_VERSION || v.pad || v.reserved[0] ||
	    v.reserved[1] || !v.features || (v.features & ~FEATURES_KNOWN))
		complain(K_OUTPUT, "%s: abi %u pad %u features %#llx reserved %#llx %#llx",
			 what, v.abi_version, v.pad,
			 (unsigned long long)v.features,
			 (unsigned long long)v.reserved[0],
			 (unsigned long long)v.reserved[1]);
	(void)r;
}

static void fuzz_stats(struct rng *r, struct argp *a)
{
	struct hsema_stats s;
	char what[160];
	int err, i;

	memset(&s, 0x5a, sizeof(s));
	arg_put(a, &s, sizeof(s));
	describe(what, sizeof(what), "STATS", a, NULL, 0);
	err = do_ioctl(HSEMA_IOC_STATS, a->addr, false);
	if (a->wr == MAYBE) {
		expect(K_FLAP, err, B(RES_OK) | B(RES_EFAULT), what);
		return;
	}
	if (!expect(K_STATS, err, a->wr == YES ? B(RES_OK) : B(RES_EFAULT), what) || err)
		return;
	arg_get(a, &s, sizeof(s));
	calls[K_OUTPUT]++;
	if (s.reserved)
		complain(K_OUTPUT, "%s: reserved = %#llx", what,
			 (unsigned long long)s.reserved);
	for (i = HSEMA_REFUSE_NR; i <= HSEMA_REFUSE_MAX; i++)
		if (s.refused[i])
			complain(K_OUTPUT, "%s: refused[%d] = %llu", what, i,
				 (unsigned long long)s.refused[i]);
	(void)r;
}

/* A flag word: mostly valid bits, sometimes one invalid bit. */
static uint32_t pick_flags(struct rng *r, uint32_t valid, bool *invalid)
{
	uint32_t f = rnd(r) & valid;

	*invalid = false;
	if (chance(r, 10)) {
		uint32_t bit;

		do
			bit = 1U << rnd_n(r, 32);
		while (bit & valid);
		f |= bit;
		*invalid = true;
	}
	return f;
}

static void fuzz_query(struct rng *r, struct argp *a, struct wordp *w)
{
	struct hsema_query q, out;
	unsigned int set = 0;
	bool badflags, badres = false;
	char what[200];
	int err;

	memset(&q, 0, sizeof(q));
	q.uaddr = w->addr;
	q.flags = pick_flags(r, HSEMA_QUERY_FLAGS, &badflags);
	if (chance(r, 30))	/* output fields are ignored on input */
		q.nr_waiters = rnd(r), q.head_ticket = rnd(r),
		q.nr_woken = rnd(r), q.starving = rnd(r);
	if (chance(r, 8)) {
		q.reserved[rnd_n(r, 2)] = rnd(r) | 1;
		badres = true;
	}
	arg_put(a, &q, sizeof(q));
	describe(what, sizeof(what), "QUERY", a, w, q.flags);
	err = do_ioctl(HSEMA_IOC_QUERY, a->addr, false);

	if (a->rd == MAYBE || w->rd == MAYBE) {
		expect(K_FLAP, err, B(RES_OK) | B(RES_EFAULT) | B(RES_EINVAL), what);
		return;
	}
	if (a->rd != YES) {
		set = B(RES_EFAULT);
	} else {
		if (badflags || badres)
			set |= B(RES_EINVAL);
		if (a->wr != YES)
			set |= B(RES_EFAULT);
		set |= word_errors(w, false, q.flags & HSEMA_F_SHARED);
		if (!set)
			set = B(RES_OK);
		/*
		 * A query on hugetlb with no page may need the page for the
		 * key, or not: ENOMEM or what it would be otherwise.
		 */
		if (w->nopool)
			set |= B(RES_ENOMEM);
	}
	expect(K_QUERY, err, set, what);
	check_word(w, w->before, what);
	if (err || set != B(RES_OK))
		return;
	arg_get(a, &out, sizeof(out));
	calls[K_OUTPUT]++;
	if (out.uaddr != q.uaddr || out.flags != q.flags || out.nr_waiters ||
	    out.head_ticket || out.tail_ticket || out.head_wait_ns ||
	    out.nr_woken || out.starving || out.reserved[0] || out.reserved[1])
		complain(K_OUTPUT, "%s: uaddr %#llx flags %#x waiters %u head %llu woken %u starving %u reserved %#llx",
			 what, (unsigned long long)out.uaddr, out.flags,
			 out.nr_waiters, (unsigned long long)out.head_ticket,
			 out.nr_woken, out.starving,
			 (unsigned long long)out.reserved[0]);
}

#define REPORT_POISON	0xa5a5a5a5U

static void fuzz_wait(struct rng *r, struct argp *a, struct wordp *w)
{
	uint32_t report;
	struct hsema_wait hw;
	unsigned int set = 0, p;
	bool badflags, badarg = false, timeout;
	clockid_t clk;
	char what[200];
	int err;

	memset(&hw, 0, sizeof(hw));
	hw.uaddr = w->addr;
	hw.flags = pick_flags(r, HSEMA_WAIT_FLAGS, &badflags);
	if ((hw.flags & HSEMA_WAIT_REALTIME) && !(hw.flags & HSEMA_WAIT_TIMEOUT) &&
	    chance(r, 70))
		hw.flags |= HSEMA_WAIT_TIMEOUT;
	timeout = hw.flags & HSEMA_WAIT_TIMEOUT;
	if ((hw.flags & HSEMA_WAIT_REALTIME) && !timeout)
		badarg = true;	/* a clock without a deadline */
	clk = (hw.flags & HSEMA_WAIT_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	p = rnd_n(r, 100);
	if (p < 40) {		/* passed */
		int64_t t = chance(r, 50) ? now_on(clk) - rnd_n(r, NSEC) :
				(int64_t)rnd_n(r, 1000) * NSEC;

		hw.deadline_sec = t / NSEC;
		hw.deadline_nsec = t % NSEC;
	} else if (p < 70) {	/* within 1 ms */
		int64_t t = now_on(clk) + rnd_n(r, 1000000);

		hw.deadline_sec = t / NSEC;
		hw.deadline_nsec = t % NSEC;
	} else if (p < 80) {	/* far: ends with SIGALRM */
		hw.deadline_sec = chance(r, 50) ? INT64_MAX :
				  now_on(clk) / NSEC + 3600;
		hw.deadline_nsec = rnd_n(r, NSEC);
	} else {		/* invalid */
		switch (rnd_n(r, 4)) {
		case 0:
			hw.deadline_sec = -1 - (int64_t)rnd_n(r, 1000);
			break;
		case 1:
			hw.deadline_nsec = -1 - (int64_t)rnd_n(r, 1000);
			break;
		case 2:
			hw.deadline_nsec = NSEC + rnd_n(r, 1000);
			break;
		default:
			hw.deadline_nsec = INT64_MIN;
			break;
		}
		if (timeout)
			badarg = true;
	}
	hw.starve_ns = chance(r, 50) ? 0 : chance(r, 50) ? rnd(r) : 1;
	if (chance(r, 6)) {
		hw.pad = rnd(r) | 1;
		badarg = true;
	}
	/* WAIT_OWNED: a good report address, none, or a misaligned one. */
	report = REPORT_POISON;
	if (hw.flags & HSEMA_WAIT_OWNED) {
		p = rnd_n(r, 8);
		if (p == 0)
			hw.owned = 0;
		else if (p == 1)
			hw.owned = (uintptr_t)((char *)&report + 1 + rnd_n(r, 3));
		else
			hw.owned = (uintptr_t)&report;
		badarg |= p < 2;
	}
	if (chance(r, 6)) {
		/* reserved[0] is @owned with WAIT_OWNED: that is above. */
		hw.reserved[(hw.flags & HSEMA_WAIT_OWNED) ? 1 : rnd_n(r, 2)] =
			rnd(r) | 1;
		badarg = true;
	}
	arg_put(a, &hw, sizeof(hw));
	describe(what, sizeof(what), "WAIT", a, w, hw.flags);
	err = do_ioctl(HSEMA_IOC_WAIT, a->addr, true);
	/* The report says whether the caller owns a unit, and only that. */
	if (a->rd == YES && w->rd != MAYBE && !badflags && !badarg &&
	    (hw.flags & HSEMA_WAIT_OWNED) &&
	    (err == 0 || err == ETIMEDOUT || err == EINTR)) {
		calls[K_OUTPUT]++;
		if (report != (err == 0))
			complain(K_OUTPUT, "%s: returned %d, report %#x", what,
				 err, report);
	}

	if (a->rd == MAYBE || w->rd == MAYBE) {
		expect(K_FLAP, err, B(RES_OK) | B(RES_EFAULT) | B(RES_EINVAL) |
		       B(RES_ETIMEDOUT) | B(RES_EINTR) | B(RES_ENOMEM), what);
		return;
	}
	if (a->rd != YES) {
		set = B(RES_EFAULT);
	} else {
		if (badflags || badarg)
			set |= B(RES_EINVAL);
		set |= word_errors(w, true, hw.flags & HSEMA_F_SHARED);
		if (!set) {
			if (w->before & MASK)
				set = B(RES_OK);
			else
				set = B(RES_EINTR) | B(RES_ENOMEM) |
				      (timeout ? B(RES_ETIMEDOUT) : 0);
		}
	}
	expect(K_WAIT, err, set, what);
	if (!w->mine)
		check_word(w, w->before, what);
	else if (!err)
		check_word(w, (w->before & MASK) - 1, what);
	else if (err == ETIMEDOUT || err == EINTR)
		check_word(w, w->before & MASK, what);
	else
		check_word(w, w->before, what);
}

/*
 * A wait for any of 1 to 6 random words (sometimes none, or more than
 * HSEMA_ANY_MAX), with random entry flags and padding (one word may be
 * named shared and private: EINVAL), and an entries array that is
 * sometimes unreadable.  It returns the index of the first
 * entry whose word has a unit when all are known, takes one unit of that
 * word only, and leaves every other word's value as it was.
 */
static void fuzz_wait_any(struct rng *r, struct argp *a)
{
	static struct hsema_any_entry e[HSEMA_ANY_MAX + 2];
	struct wordp w[6];
	struct hsema_wait_any hw;
	unsigned int set = 0, late = 0, n, i, p;
	bool badflags, badarg = false, timeout, flap = false, known = true;
	int err, ret, want = -1;
	char what[200];
	clockid_t clk;

	memset(&hw, 0, sizeof(hw));
	n = 1 + rnd_n(r, 6);
	for (i = 0; i < n; i++)
		w[i] = pick_word(r);
	memset(e, 0, sizeof(e));
	for (i = 0; i < n; i++) {
		/* Aliases of one word: what it holds now, not what was put. */
		if (w[i].known)
			w[i].before = word_now(&w[i]);
		e[i].uaddr = w[i].addr;
		e[i].flags = pick_flags(r, HSEMA_ANY_ENTRY_FLAGS, &badflags);
		badarg |= badflags;
		e[i].starve_ns = chance(r, 50) ? 0 : rnd(r);
		if (chance(r, 4)) {
			e[i].pad = rnd(r) | 1;
			badarg = true;
		}
		flap |= w[i].rd == MAYBE;
		/*
		 * The wait looks at the words in order and stops at the
		 * first unit it takes: a word after it may be bad unseen.
		 */
		if (known && want < 0)
			set |= word_errors(&w[i], true,
					   e[i].flags & HSEMA_F_SHARED);
		else
			late |= word_errors(&w[i], true,
					    e[i].flags & HSEMA_F_SHARED);
		known &= w[i].known;
		if (known && want < 0 && (w[i].before & MASK))
			want = i;
	}
	hw.count = n;
	p = rnd_n(r, 100);
	if (p < 4) {
		hw.count = 0;
		badarg = true;
	} else if (p < 8) {
		hw.count = HSEMA_ANY_MAX + 1 + rnd_n(r, 1000);
		badarg = true;
	} else if (p < 10) {
		/* The whole array, with the words repeated: valid. */
		hw.count = HSEMA_ANY_MAX;
		for (i = n; i < HSEMA_ANY_MAX; i++)
			e[i] = e[i % n];
	}
	/* An address named both shared and private: EINVAL, before any word. */
	for (i = 1; i < n; i++)
		for (p = 0; p < i; p++)
			if (e[p].uaddr == e[i].uaddr &&
			    ((e[p].flags ^ e[i].flags) & HSEMA_F_SHARED))
				badarg = true;
	hw.entries = (uintptr_t)e;
	if (chance(r, 5))
		hw.entries = chance(r, 50) ? 0 : kernel_addrs[rnd_n(r,
						ARRAY_SIZE(kernel_addrs))];
	hw.flags = pick_flags(r, HSEMA_WAIT_ANY_FLAGS, &badflags);
	badarg |= badflags;
	timeout = hw.flags & HSEMA_WAIT_TIMEOUT;
	if ((hw.flags & HSEMA_WAIT_REALTIME) && !timeout)
		badarg = true;
	clk = (hw.flags & HSEMA_WAIT_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	if (chance(r, 90)) {
		int64_t t = now_on(clk) + (chance(r, 50) ? -1 : 1) *
			    (int64_t)rnd_n(r, 1000000);

		hw.deadline_sec = t / NSEC;
		hw.deadline_nsec = t % NSEC;
	} else {
		hw.deadline_nsec = NSEC + rnd_n(r, 1000);
		badarg |= timeout;
	}
	if (chance(r, 5)) {
		hw.reserved[rnd_n(r, 2)] = rnd(r) | 1;
		badarg = true;
	}
	arg_put(a, &hw, sizeof(hw));
	snprintf(what, sizeof(what), "WAIT_ANY arg=%s n=%u word0=%s(%#x) flags=%#x",
		 aclass_name[a->cls], hw.count, wclass_name[w[0].cls],
		 w[0].before, hw.flags);
	alarm_every(3000);
	ret = ioctl(devfd, HSEMA_IOC_WAIT_ANY, (void *)(uintptr_t)a->addr);
	err = ret < 0 ? errno : 0;
	alarm_off();

	if (a->rd == MAYBE || flap) {
		expect(K_FLAP, err, B(RES_OK) | B(RES_EFAULT) | B(RES_EINVAL) |
		       B(RES_ETIMEDOUT) | B(RES_EINTR) | B(RES_ENOMEM), what);
		return;
	}
	if (a->rd != YES) {
		set = B(RES_EFAULT);
	} else {
		if (badarg)
			set |= B(RES_EINVAL);
		if (hw.entries != (uintptr_t)e)
			set |= B(RES_EFAULT);
		if (!set) {
			if (want >= 0 || !known)
				set = B(RES_OK);
			if (want < 0)
				set |= B(RES_EINTR) | B(RES_ENOMEM) |
				       (timeout ? B(RES_ETIMEDOUT) : 0);
		}
		set |= late;
	}
	if (!expect(K_WAIT_ANY, err, set, what))
		return;
	if (!err && (ret >= (int)n || (want >= 0 && ret != want)))
		complain(K_WAIT_ANY, "%s: returned index %d, expected %d of %u",
			 what, ret, want, n);
	/*
	 * Distinct words once each: the taken one loses a unit, those before
	 * it were queued on and left (no state bits: nobody else waits on
	 * the fuzzer's words), those after it were not looked at; a wait
	 * that ended without a unit left every queue.
	 */
	for (i = 0; i < n && (!err || err == ETIMEDOUT || err == EINTR); i++) {
		unsigned int j;

		for (j = 0; j < i && w[j].addr != w[i].addr; j++)
			;
		if (j < i || !w[i].mine)
			continue;
		if (!err && (int)i == ret)
			check_word(&w[i], (w[i].before & MASK) - 1, what);
		else if (err || (int)i < ret)
			check_word(&w[i], w[i].before & MASK, what);
		else
			check_word(&w[i], w[i].before, what);
	}
}

static void fuzz_wake(struct rng *r, struct argp *a, struct wordp *w)
{
	struct hsema_wake k, out;
	unsigned int set = 0, p;
	bool badflags, badarg = false, published;
	uint32_t max = MASK;
	char what[200];
	int err;

	memset(&k, 0, sizeof(k));
	k.uaddr = w->addr;
	k.flags = pick_flags(r, HSEMA_WAKE_FLAGS, &badflags);
	p = rnd_n(r, 100);
	if (p < 60)
		k.count = 1 + rnd_n(r, 4);
	else if (p < 70)
		k.count = 0;
	else if (p < 78)
		k.count = MASK - rnd_n(r, 3);
	else if (p < 86)
		k.count = MASK + 1 + rnd_n(r, 0xffffffffU - MASK);
	else if (p < 94 && w->known)	/* right at the edge of overflow */
		k.count = (MASK - (w->before & MASK)) + rnd_n(r, 2);
	else
		k.count = rnd(r);
	if (!k.count || k.count > MASK)
		badarg = true;
	/* A handoff grants units it brings; published ones are in the word. */
	published = k.flags & HSEMA_WAKE_PUBLISHED;
	if (published && (k.flags & HSEMA_WAKE_HANDOFF))
		badarg = true;
	if (chance(r, 5)) {
		k.granted = rnd(r) | 1;
		badarg = true;
	}
	if (chance(r, 5)) {
		k.woken = rnd(r) | 1;
		badarg = true;
	}
	/* @max: 1..MASK with HSEMA_WAKE_MAX, else 0; near the value often. */
	if (k.flags & HSEMA_WAKE_MAX) {
		p = rnd_n(r, 100);
		if (p < 40 && w->known)
			k.max = (w->before & MASK) + rnd_n(r, 4);
		else if (p < 70)
			k.max = 1 + rnd_n(r, MASK);
		else if (p < 80)
			k.max = 0;
		else if (p < 90)
			k.max = MASK + 1 + rnd_n(r, 0xffffffffU - MASK);
		else
			k.max = (uint32_t)rnd(r);
		if (!k.max || k.max > MASK)
			badarg = true;
		else
			max = k.max;
	} else if (chance(r, 5)) {
		k.max = (uint32_t)rnd(r) | 1;
		badarg = true;
	}
	if (chance(r, 5)) {
		if (chance(r, 50))
			k.reserved0 = (uint32_t)rnd(r) | 1;
		else
			k.reserved1 = rnd(r) | 1;
		badarg = true;
	}
	arg_put(a, &k, sizeof(k));
	describe(what, sizeof(what), "WAKE", a, w, k.flags);
	snprintf(what + strlen(what), sizeof(what) - strlen(what),
		 " count=%#x max=%#x", k.count, k.max);
	err = do_ioctl(HSEMA_IOC_WAKE, a->addr, false);

	if (a->rd == MAYBE || w->rd == MAYBE) {
		expect(K_FLAP, err, B(RES_OK) | B(RES_EFAULT) | B(RES_EINVAL) |
		       B(RES_EOVERFLOW), what);
		return;
	}
	if (a->rd != YES) {
		set = B(RES_EFAULT);
	} else {
		if (badflags || badarg)
			set |= B(RES_EINVAL);
		if (a->wr != YES)
			set |= B(RES_EFAULT);
		set |= word_errors(w, true, k.flags & HSEMA_F_SHARED);
		/* The value is read before anything is written. */
		if (w->known && !badarg && !published &&
		    (uint64_t)(w->before & MASK) + k.count > max)
			set |= B(RES_EOVERFLOW);
		if (!set)
			set = B(RES_OK);
	}
	expect(K_WAKE, err, set, what);
	if (w->mine && !err)
		check_word(w, (w->before & MASK) + (published ? 0 : k.count),
			   what);
	else
		check_word(w, w->before, what);
	if (err || set != B(RES_OK))
		return;
	arg_get(a, &out, sizeof(out));
	calls[K_OUTPUT]++;
	if (out.uaddr != k.uaddr || out.count != k.count ||
	    out.flags != k.flags || out.granted || out.woken ||
	    out.max != k.max || out.reserved0 || out.reserved1)
		complain(K_OUTPUT, "%s: granted %u woken %u max %#x reserved %#x %#llx",
			 what, out.granted, out.woken, out.max, out.reserved0,
			 (unsigned long long)out.reserved1);
}

/* Types the VFS answers for itself (fs/ioctl.c), and ours. */
static bool reserved_type(unsigned int type)
{
	return type == 0x00 || type == 0x15 || type == 'T' || type == 'X' ||
	       type == 'f' || type == 0x94 || type == HSEMA_IOC_MAGIC;
}

static const unsigned int valid_cmds[] = {
	HSEMA_IOC_VERSION, HSEMA_IOC_WAIT, HSEMA_IOC_WAKE, HSEMA_IOC_QUERY,
	HSEMA_IOC_STATS,
};

static bool is_valid_cmd(unsigned int cmd)
{
	unsigned int i;

	for (i = 0; i < 5; i++)
		if (cmd == valid_cmds[i])
			return true;
	return false;
}

static void fuzz_unknown(struct rng *r, struct argp *a)
{
	unsigned int base = valid_cmds[rnd_n(r, 5)], cmd;
	unsigned long req;
	char what[160];
	int err;

	do {
		switch (rnd_n(r, 5)) {
		case 0:		/* size */
			cmd = (base & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
			      (rnd_n(r, _IOC_SIZEMASK + 1) << _IOC_SIZESHIFT);
			break;
		case 1:		/* direction */
			cmd = (base & ~(_IOC_DIRMASK << _IOC_DIRSHIFT)) |
			      (rnd_n(r, 4) << _IOC_DIRSHIFT);
			break;
		case 2:		/* number */
			cmd = (base & ~(_IOC_NRMASK << _IOC_NRSHIFT)) |
			      (rnd_n(r, 256) << _IOC_NRSHIFT);
			break;
		case 3:		/* type */
			do
				cmd = (base & ~(_IOC_TYPEMASK << _IOC_TYPESHIFT)) |
				      (rnd_n(r, 256) << _IOC_TYPESHIFT);
			while (reserved_type(_IOC_TYPE(cmd)));
			break;
		default:
			do
				cmd = rnd(r);
			while (reserved_type(_IOC_TYPE(cmd)) &&
			       _IOC_TYPE(cmd) != HSEMA_IOC_MAGIC);
			break;
		}
	} while (is_valid_cmd(cmd));
	req = cmd;
	snprintf(what, sizeof(what), "cmd %#x arg=%s", cmd, aclass_name[a->cls]);
	err = do_ioctl(req, a->addr, false);
	expect(K_UNKNOWN, err, B(RES_ENOTTY), what);
}

/* ----- the flapping page ----- */

static atomic_int flap_stop;

/*
 * Keeps changing what is at P_FLAP: read-write, read-only, PROT_NONE,
 * unmapped, a fresh private or shared page with random words.
 */
static void *flap_fn(void *arg)
{
	struct rng r = { seed ^ 0xf1a9 };
	char *p = page(P_FLAP);
	unsigned int i;

	(void)arg;
	while (!atomic_load(&flap_stop)) {
		switch (rnd_n(&r, 6)) {
		case 0:
			mprotect(p, PAGE, PROT_READ | PROT_WRITE);
			break;
		case 1:
			mprotect(p, PAGE, PROT_READ);
			break;
		case 2:
			mprotect(p, PAGE, PROT_NONE);
			break;
		case 3:
			munmap(p, PAGE);
			break;
		default:
			munmap(p, PAGE);
			if (mmap(p, PAGE, PROT_READ | PROT_WRITE,
				 (rnd_n(&r, 2) ? MAP_SHARED : MAP_PRIVATE) |
				 MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != p)
				return NULL;	/* somebody took the hole */
			for (i = 0; i < PAGE / 4; i += 1 + rnd_n(&r, 64))
				((uint32_t *)p)[i] = random_word(&r);
			break;
		}
		usleep(rnd_n(&r, 50));
	}
	return NULL;
}

/* ----- scenarios: the page goes away while a thread waits ----- */

enum act { S_MUNMAP, S_PROT_NONE, S_PROT_RO, S_REMAP, S_WAKE_UNMAP,
	   S_UNMAP_WAKE, S_UNMAP_ARG, S_FORK_WAKE, S_NR };
static const char *const act_name[S_NR] = {
	"munmap", "mprotect-none", "mprotect-ro", "remap", "wake-then-munmap",
	"munmap-then-wake", "munmap-arg", "fork-wake",
};

struct scen {
	enum act act;
	uint32_t *word;
	unsigned int flags;
	bool shared_key;
	char *x, *y;
	/* results of the helper */
	int queued_err, wake_err, child_status;
	struct hsema_wake wake;
	bool late;		/* the wait was over before it was seen queued */
};

static pthread_mutex_t sc_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sc_cond = PTHREAD_COND_INITIALIZER;
static struct scen *sc_job;
static bool sc_done, sc_quit;
static atomic_bool sc_wait_over;	/* the main thread's wait returned */
static long sc_late;			/* scenarios whose act came too late */

static int query_waiters(int fd, uint32_t *word, unsigned int flags,
			 unsigned int *n)
{
	struct hsema_query q;

	memset(&q, 0, sizeof(q));
	q.uaddr = (uintptr_t)word;
	q.flags = flags;
	if (ioctl(fd, HSEMA_IOC_QUERY, &q))
		return errno;
	*n = q.nr_waiters;
	return 0;
}

static int wake_one(uint32_t *word, unsigned int flags, struct hsema_wake *k)
{
	memset(k, 0, sizeof(*k));
	k->uaddr = (uintptr_t)word;
	k->count = 1;
	k->flags = flags;
	return ioctl(devfd, HSEMA_IOC_WAKE, k) ? errno : 0;
}

static void scen_act(struct scen *s)
{
	int64_t end = now_on(CLOCK_MONOTONIC) + 5 * NSEC;
	unsigned int n = 0;
	pid_t pid;

	/* Act only once the waiter is queued, if it still is. */
	for (;;) {
		s->queued_err = query_waiters(devfd, s->word, s->flags, &n);
		if (s->queued_err || n == 1)
			break;
		if (atomic_load(&sc_wait_over)) {
			s->late = true;
			return;
		}
		if (now_on(CLOCK_MONOTONIC) > end) {
			s->queued_err = ETIMEDOUT;
			return;
		}
		usleep(500);
	}
	if (s->queued_err)
		return;
	switch (s->act) {
	case S_MUNMAP:
		munmap(s->x, PAGE);
		break;
	case S_PROT_NONE:
		mprotect(s->x, PAGE, PROT_NONE);
		break;
	case S_PROT_RO:
		mprotect(s->x, PAGE, PROT_READ);
		break;
	case S_REMAP:
		mmap(s->x, PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		*s->word = 7;
		break;
	case S_WAKE_UNMAP:
		s->wake_err = wake_one(s->word, s->flags, &s->wake);
		munmap(s->x, PAGE);
		break;
	case S_UNMAP_WAKE:
		munmap(s->x, PAGE);
		s->wake_err = wake_one(s->word, s->flags, &s->wake);
		break;
	case S_UNMAP_ARG:
		munmap(s->y, PAGE);
		break;
	default:
		/*
		 * The child sees the waiter only through a shared key, and
		 * wakes it only then; a private key is its own copy.
		 */
		pid = fork();
		if (pid == 0) {
			struct hsema_wake k;

			if (query_waiters(devfd, s->word, s->flags, &n) ||
			    n != (s->shared_key ? 1U : 0U))
				_exit(1);
			if (wake_one(s->word, s->flags, &k) ||
			    k.granted + k.woken != (s->shared_key ? 1U : 0U))
				_exit(2);
			_exit(0);
		}
		if (pid < 0)
			s->child_status = -1;
		else
			while (waitpid(pid, &s->child_status, 0) < 0 &&
			       errno == EINTR)
				;
		break;
	}
}

static void *scen_fn(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sc_lock);
	for (;;) {
		while (!sc_job && !sc_quit)
			pthread_cond_wait(&sc_cond, &sc_lock);
		if (sc_quit)
			break;
		pthread_mutex_unlock(&sc_lock);
		scen_act(sc_job);
		pthread_mutex_lock(&sc_lock);
		sc_job = NULL;
		sc_done = true;
		pthread_cond_broadcast(&sc_cond);
	}
	pthread_mutex_unlock(&sc_lock);
	return NULL;
}

static void run_scenario(struct rng *r)
{
	struct scen s = { .act = rnd_n(r, S_NR) };
	unsigned int kind = rnd_n(r, detfd >= 0 ? 4 : 3), set, n = 0;
	struct hsema_wait *hw;
	char what[160];
	int64_t bound;
	int err;

	s.x = page(P_SCEN_X);
	s.y = page(P_SCEN_Y);
	/*
	 * The word's page: private, shared anonymous, a shared memfd or a
	 * shared file of the detached tmpfs.
	 */
	if (mmap(s.x, PAGE, PROT_READ | PROT_WRITE,
		 kind == 0 ? MAP_PRIVATE | MAP_ANONYMOUS :
		 kind == 1 ? MAP_SHARED | MAP_ANONYMOUS : MAP_SHARED,
		 kind == 2 ? memfd : kind == 3 ? detfd : -1,
		 kind == 2 ? 3 * PAGE : kind == 3 ? PAGE : 0) == MAP_FAILED ||
	    mmap(s.y, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
		ksft_exit_fail_msg("scenario mmap: %s\n", strerror(errno));
	s.word = (uint32_t *)(s.x + 4 * rnd_n(r, PAGE / 4));
	*s.word = chance(r, 30) ? HSEMA_WAITERS : 0;
	s.flags = chance(r, 70) ? HSEMA_F_SHARED : 0;
	s.shared_key = kind && (s.flags & HSEMA_F_SHARED);
	hw = (struct hsema_wait *)(s.y + 8 * rnd_n(r, (PAGE - sizeof(*hw)) / 8));
	memset(hw, 0, sizeof(*hw));
	hw->uaddr = (uintptr_t)s.word;
	hw->flags = s.flags;
	/*
	 * The wait ends by the deadline or SIGALRM unless the act wakes it.
	 * An act that wakes gets a generous bound, reached only if its wake
	 * is lost; the others always wait the bound out, so it is short, but
	 * long enough for the act to come while the waiter is queued.
	 */
	bound = s.act == S_WAKE_UNMAP || (s.act == S_FORK_WAKE && s.shared_key) ?
		2000000000LL : 100000000LL;
	if (chance(r, 50)) {
		int64_t t = now_on(CLOCK_MONOTONIC) + bound;

		hw->flags |= HSEMA_WAIT_TIMEOUT;
		hw->deadline_sec = t / NSEC;
		hw->deadline_nsec = t % NSEC;
	}
	snprintf(what, sizeof(what), "scenario %s, %s word, %s key, %s",
		 act_name[s.act], kind == 0 ? "private" : kind == 1 ?
		 "shared-anon" : kind == 2 ? "shared-file" : "detached-tmpfs",
		 s.shared_key ? "shared" : "private",
		 (hw->flags & HSEMA_WAIT_TIMEOUT) ? "deadline" : "SIGALRM");

	atomic_store(&sc_wait_over, false);
	pthread_mutex_lock(&sc_lock);
	sc_job = &s;
	sc_done = false;
	pthread_cond_broadcast(&sc_cond);
	pthread_mutex_unlock(&sc_lock);

	if (!(hw->flags & HSEMA_WAIT_TIMEOUT))
		alarm_every(bound / 1000);
	err = ioctl(devfd, HSEMA_IOC_WAIT, hw) ? errno : 0;
	alarm_off();
	atomic_store(&sc_wait_over, true);

	pthread_mutex_lock(&sc_lock);
	while (!sc_done)
		pthread_cond_wait(&sc_cond, &sc_lock);
	pthread_mutex_unlock(&sc_lock);

	if (s.late) {
		/* Its bound ran out first: nothing happened mid-call. */
		sc_late++;
		expect(K_SCENARIO, err, B(RES_ETIMEDOUT) | B(RES_EINTR), what);
		goto unmap;
	}
	if (s.queued_err) {
		complain(K_SCENARIO, "%s: the waiter was never seen queued (%s)",
			 what, strerror(s.queued_err));
		calls[K_SCENARIO]++;
	} else {
		/*
		 * Woken to compete (not granted), the waiter may find the
		 * page gone when it runs: EFAULT.
		 */
		if (s.act == S_WAKE_UNMAP)
			set = B(RES_OK) | B(RES_EFAULT);
		else if (s.act == S_FORK_WAKE && s.shared_key)
			set = B(RES_OK);
		else
			set = B(RES_ETIMEDOUT) | B(RES_EINTR);
		expect(K_SCENARIO, err, set, what);
	}
	if (s.act == S_WAKE_UNMAP && (s.wake_err || s.wake.granted + s.wake.woken != 1))
		complain(K_SCENARIO, "%s: the release returned %d, granted %u woken %u",
			 what, s.wake_err, s.wake.granted, s.wake.woken);
	if (s.act == S_UNMAP_WAKE && s.wake_err != EFAULT)
		complain(K_SCENARIO, "%s: a release through the unmapped word returned %d",
			 what, s.wake_err);
	if (s.act == S_FORK_WAKE && !(WIFEXITED(s.child_status) &&
				      !WEXITSTATUS(s.child_status)))
		complain(K_SCENARIO, "%s: child status %#x", what,
			 s.child_status);

	/*
	 * What is still mapped: no waiter left, the value as documented.
	 * The flag bits may stay set where the waiter could not write the
	 * word when it left: a write-protected page, or a private page
	 * made copy-on-write by fork() (the kernel does not fault it in
	 * for a best-effort clear).  A child's release through a private
	 * key on shared memory went into the same page.
	 */
	if (s.act == S_PROT_NONE || s.act == S_PROT_RO)
		mprotect(s.x, PAGE, PROT_READ | PROT_WRITE);
	if (s.act == S_PROT_NONE || s.act == S_PROT_RO || s.act == S_REMAP ||
	    s.act == S_UNMAP_ARG || (s.act == S_FORK_WAKE && !s.shared_key)) {
		uint32_t want = s.act == S_REMAP ? 7 :
				(s.act == S_FORK_WAKE && kind) ? 1 : 0;
		bool strict = s.act == S_REMAP || s.act == S_UNMAP_ARG;

		calls[K_SCENARIO]++;
		if (query_waiters(devfd, s.word, s.flags, &n) || n)
			complain(K_SCENARIO, "%s: %u waiters left", what, n);
		if ((*s.word & MASK) != want || (strict && *s.word != want))
			complain(K_SCENARIO, "%s: word %#x, expected %#x", what,
				 *s.word, want);
	}
unmap:
	munmap(s.x, PAGE);
	munmap(s.y, PAGE);
}

/* ----- setup ----- */

/* ----- the optional kinds of memory ----- */

static long read_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * A two-page file on a tmpfs of our own, its page 0 mapped at
 * P_W_DETACHED, then the tmpfs lazily unmounted: the mapping and detfd
 * (for the scenarios' page 1) keep it alive, and nobody can reach it by
 * path.  Needs root.
 */
static void setup_detached(void)
{
	char dir[] = "/tmp/hsema_fuzz.XXXXXX", path[64];
	int fd;

	if (!mkdtemp(dir)) {
		ksft_print_msg("no detached-tmpfs words: mkdtemp: %s\n", strerror(errno));
		return;
	}
	if (mount("hsema_fuzz", dir, "tmpfs", 0, "size=1m,mode=0700")) {
		ksft_print_msg("no detached-tmpfs words: mount tmpfs: %s\n",
			       strerror(errno));
		rmdir(dir);
		return;
	}
	snprintf(path, sizeof(path), "%s/words", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 2 * PAGE) ||
	    mmap(page(P_W_DETACHED), PAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0) != page(P_W_DETACHED))
		ksft_exit_fail_msg("the tmpfs file: %s\n", strerror(errno));
	if (umount2(dir, MNT_DETACH))
		ksft_exit_fail_msg("umount2(MNT_DETACH): %s\n", strerror(errno));
	rmdir(dir);
	detfd = fd;
}

/* A perf ring buffer of a dummy event on this task, at P_W_PERF. */
static void setup_perf(void)
{
	struct perf_event_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_SOFTWARE;
	a.size = sizeof(a);
	a.config = PERF_COUNT_SW_DUMMY;
	a.exclude_kernel = 1;
	fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		ksft_print_msg("no perf words: perf_event_open: %s\n", strerror(errno));
		return;
	}
	if (mmap(page(P_W_PERF), 2 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0) != page(P_W_PERF)) {
		ksft_print_msg("no perf words: mmap: %s\n", strerror(errno));
		close(fd);
		return;
	}
	have_perf = true;	/* the mapping keeps the event */
	close(fd);
}

/* A SysV shm segment attached at P_W_SYSV, removed once attached. */
static void setup_sysv(void)
{
	int id = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);

	if (id < 0) {
		ksft_print_msg("no SysV shm words: shmget: %s\n", strerror(errno));
		return;
	}
	if (shmat(id, page(P_W_SYSV), 0) == page(P_W_SYSV))
		have_sysv = true;
	else
		ksft_print_msg("no SysV shm words: shmat: %s\n", strerror(errno));
	shmctl(id, IPC_RMID, NULL);
}

/*
 * Shared hugetlb if a huge page can be reserved; else, with an empty
 * pool and no overcommit, private MAP_NORESERVE hugetlb that no fault
 * can fill.  The pool is left as the system has it.
 */
static void setup_huge(void)
{
	void *p;

	p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p != MAP_FAILED) {
		hugemap = p;
		huge_kind = HUGE_POOL;
		return;
	}
	if (read_sysctl("/proc/sys/vm/nr_hugepages") != 0 ||
	    read_sysctl("/proc/sys/vm/nr_overcommit_hugepages") != 0) {
		ksft_print_msg("no hugetlb words: no huge page to map, and the pool is not empty\n");
		return;
	}
	p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		ksft_print_msg("no hugetlb words: mmap: %s\n", strerror(errno));
		return;
	}
	hugemap = p;
	huge_kind = HUGE_NOPOOL;
}

static void setup_optional(void)
{
	setup_detached();
	setup_perf();
	setup_sysv();
	setup_huge();
	ksft_print_msg("word kinds: detached-tmpfs %s, perf %s, sysv-shm %s, hugetlb %s\n",
		       detfd >= 0 ? "yes" : "no", have_perf ? "yes" : "no",
		       have_sysv ? "yes" : "no",
		       huge_kind == HUGE_POOL ? "shared, with a pool" :
		       huge_kind == HUGE_NOPOOL ? "NORESERVE, no pool (ENOMEM)" : "no");
}

static void setup(void)
{
	static const uint64_t bases[] = {
		0x3f0000000000ULL, 0x2f0000000000ULL, 0x1f0000000000ULL,
	};
	struct sigaction sa;
	unsigned int i;
	char *p;

	for (i = 0; i < 3; i++) {
		region = mmap((void *)(uintptr_t)bases[i], P_NR * PAGE, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			      -1, 0);
		if (region != MAP_FAILED)
			break;
	}
	if (region == MAP_FAILED)
		ksft_exit_fail_msg("cannot reserve the region: %s\n",
				   strerror(errno));
	/* Everything is a hole until mapped below. */
	munmap(region, P_NR * PAGE);

	memfd = memfd_create("hsema_fuzz", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, 4 * PAGE))
		ksft_exit_fail_msg("memfd: %s\n", strerror(errno));
	alias = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     memfd, 0);
	if (alias == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));

#define MAP(pg, prot, flags, fd, off)					\
	do {								\
		if (mmap(page(pg), PAGE, prot, (flags) | MAP_FIXED_NOREPLACE, \
			 fd, off) != page(pg))				\
			ksft_exit_fail_msg("mmap page %d: %s\n", pg,	\
					   strerror(errno));		\
	} while (0)
	MAP(P_ARG0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	MAP(P_ARG1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	MAP(P_ARG_RO, PROT_READ, MAP_SHARED, memfd, 0);
	MAP(P_ARG2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	MAP(P_ARG_NONE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	MAP(P_ARG3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	MAP(P_W_PRIV, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	MAP(P_W_SHANON, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	MAP(P_W_SHFILE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, PAGE);
	MAP(P_W_ROFILE, PROT_READ, MAP_SHARED, memfd, 2 * PAGE);
	MAP(P_W_ROANON, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	MAP(P_W_NONE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	MAP(P_FLAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#undef MAP
	p = page(P_W_ROANON);
	for (i = 0; i < PAGE / 4; i++)
		((uint32_t *)p)[i] = roanon_value(i);
	if (mprotect(p, PAGE, PROT_READ))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: waits end in EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	setup_optional();
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-n ITERATIONS] [-s SEED] [-i ITERATION] [-m SCENARIOS]\n"
		"  -n  iterations (default 20000; env HSEMA_FUZZ_ITERATIONS)\n"
		"  -s  seed (default: random, printed)\n"
		"  -i  replay this iteration only\n"
		"  -m  mid-call unmap scenarios among the iterations (default 64)\n",
		argv0);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	long only = -1, scenarios = 64, period, i;
	pthread_t flap, scen;
	sigset_t set;
	const char *env;
	int opt, kfd, k;

	{
		struct rng r = { (uint64_t)now_on(CLOCK_REALTIME) ^
				 ((uint64_t)getpid() << 32) };

		seed = rnd(&r);
	}
	env = getenv("HSEMA_FUZZ_ITERATIONS");
	if (env)
		iters = atol(env);
	while ((opt = getopt(argc, argv, "n:s:i:m:")) != -1) {
		switch (opt) {
		case 'n':
			iters = atol(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'i':
			only = atol(optarg);
			break;
		case 'm':
			scenarios = atol(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (iters < 1)
		iters = 1;
	period = scenarios > 0 ? iters / scenarios : 0;

	ksft_print_header();
	ksft_print_msg("seed %#" PRIx64 ", %ld iterations (replay: hsema_fuzz -s %#" PRIx64 " -n %ld)\n",
		       seed, iters, seed, iters);
	devfd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (devfd < 0)
		ksft_exit_skip(HSEMA_DEVICE " missing: is hsema.ko loaded? (%s)\n",
			       strerror(errno));
	setup();
	kfd = kmsg_mark();

	/* SIGALRM is for the main thread's waits only. */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&flap, NULL, flap_fn, NULL) ||
	    pthread_create(&scen, NULL, scen_fn, NULL))
		ksft_exit_fail_msg("pthread_create failed\n");
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	for (i = only >= 0 ? only : 0; i < (only >= 0 ? only + 1 : iters); i++) {
		struct rng r = { seed ^ (0xd1b54a32d192ed03ULL * (i + 1)) };
		struct argp a;
		struct wordp w;
		unsigned int c;

		cur_iter = i;
		if (period && i % period == period - 1) {
			run_scenario(&r);
			continue;
		}
		c = rnd_n(&r, 100);
		if (c < 5) {
			a = pick_arg(&r, sizeof(struct hsema_version));
			fuzz_version(&r, &a);
		} else if (c < 10) {
			a = pick_arg(&r, sizeof(struct hsema_stats));
			fuzz_stats(&r, &a);
		} else if (c < 30) {
			a = pick_arg(&r, sizeof(struct hsema_query));
			w = pick_word(&r);
			fuzz_query(&r, &a, &w);
		} else if (c < 55) {
			a = pick_arg(&r, sizeof(struct hsema_wait));
			w = pick_word(&r);
			fuzz_wait(&r, &a, &w);
		} else if (c < 75) {
			a = pick_arg(&r, sizeof(struct hsema_wake));
			w = pick_word(&r);
			fuzz_wake(&r, &a, &w);
		} else if (c < 85) {
			a = pick_arg(&r, sizeof(struct hsema_wait_any));
			fuzz_wait_any(&r, &a);
		} else {
			a = pick_arg(&r, 64);
			fuzz_unknown(&r, &a);
		}
	}

	atomic_store(&flap_stop, 1);
	pthread_join(flap, NULL);
	pthread_mutex_lock(&sc_lock);
	sc_quit = true;
	pthread_cond_broadcast(&sc_cond);
	pthread_mutex_unlock(&sc_lock);
	pthread_join(scen, NULL);

	ksft_set_plan(K_NR + 1);	/* and the kernel log, below */
	{
		static const char *const names[K_NR] = {
			"VERSION", "STATS", "QUERY", "WAIT", "WAKE", "WAIT_ANY",
			"unknown and mutated commands return ENOTTY",
			"words change only as documented",
			"outputs of successful calls as documented",
			"waits whose page or argument goes away mid-call",
			"calls on a page remapped concurrently",
		};

		for (k = 0; k < K_NR; k++) {
			bool need = only < 0 && k != K_SCENARIO && k != K_FLAP;

			if (!calls[k] && !need)
				ksft_test_result_skip("%s: no calls\n", names[k]);
			else if (k <= K_WAIT_ANY)
				ksft_test_result(!bad[k] && calls[k],
						 "%s: %ld calls, results as documented\n",
						 names[k], calls[k]);
			else if (k == K_SCENARIO)
				ksft_test_result(!bad[k] && calls[k],
						 "%s: %ld calls (%ld waits over before the act)\n",
						 names[k], calls[k], sc_late);
			else
				ksft_test_result(!bad[k] && calls[k], "%s: %ld calls\n",
						 names[k], calls[k]);
		}
	}
	kmsg_result_clean(kfd);
	ksft_finished();
}
