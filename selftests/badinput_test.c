// SPDX-License-Identifier: GPL-2.0-only
/*
 * The raw ioctl errno table of /dev/hsema: every malformed request is
 * rejected with the documented errno (ENOTTY, EFAULT, EINVAL, EOVERFLOW,
 * ETIMEDOUT) and never changes a semaphore word or loses a unit; a few
 * well-formed controls (VERSION, WAIT taking a unit, WAKE adding units)
 * prove the same table is reached.  Built twice: natively and with -m32
 * (badinput_test32), which proves compat_ioctl gives a 32-bit process the
 * same answers and that the structure layout is the same for both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"

/* The layout is the same for 32- and 64-bit processes (checked by both). */
_Static_assert(sizeof(struct hsema_version) == 32, "hsema_version size");
_Static_assert(sizeof(struct hsema_wait) == 56, "hsema_wait size");
_Static_assert(offsetof(struct hsema_wait, deadline_sec) == 16, "wait.sec");
_Static_assert(offsetof(struct hsema_wait, starve_ns) == 32, "wait.starve");
_Static_assert(offsetof(struct hsema_wait, reserved) == 40, "wait.reserved");
_Static_assert(sizeof(struct hsema_wake) == 40, "hsema_wake size");
_Static_assert(offsetof(struct hsema_wake, granted) == 16, "wake.granted");
_Static_assert(offsetof(struct hsema_wake, reserved) == 24, "wake.reserved");
_Static_assert(sizeof(struct hsema_query) == 64, "hsema_query size");
_Static_assert(offsetof(struct hsema_query, head_ticket) == 16, "query.head");
_Static_assert(offsetof(struct hsema_query, nr_woken) == 40, "query.woken");
_Static_assert(offsetof(struct hsema_query, reserved) == 48, "query.rsvd");
_Static_assert(sizeof(struct hsema_stats) == 264, "hsema_stats size");
_Static_assert(HSEMA_IOC_VERSION == 0x8020b900U, "VERSION number");
_Static_assert(HSEMA_IOC_WAIT == 0x4038b901U, "WAIT number");
_Static_assert(HSEMA_IOC_WAKE == 0xc028b902U, "WAKE number");
_Static_assert(HSEMA_IOC_QUERY == 0xc040b903U, "QUERY number");
_Static_assert(HSEMA_IOC_STATS == 0x8108b904U, "STATS number");
_Static_assert(sizeof(struct hsema_wait_any) == 48, "hsema_wait_any size");
_Static_assert(offsetof(struct hsema_wait_any, reserved) == 32, "any.rsvd");
_Static_assert(sizeof(struct hsema_any_entry) == 24, "hsema_any_entry size");
_Static_assert(HSEMA_IOC_WAIT_ANY == 0x4030b905U, "WAIT_ANY number");

#define PAGE		4096UL
#define U64(p)		((__u64)(uintptr_t)(p))
#define NSEC		1000000000LL

/* Kernel addresses, as word addresses (__u64 in every build). */
static const __u64 kernel_uaddrs[] = {
	0xffff800000000000ULL,	/* start of the x86-64 kernel half */
	0xfffffffffffff000ULL,	/* (void *)-4096 */
	0xffffffffff600000ULL,	/* the vsyscall page */
	0x0000800000000000ULL,	/* first non-canonical address */
#ifndef __LP64__
	0x00000000fffff000ULL,	/* above a compat task's TASK_SIZE */
#endif
};

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? errno : 0;
}

static uint32_t peek(const uint32_t *w)
{
	return __atomic_load_n(w, __ATOMIC_SEQ_CST);
}

static void poke(uint32_t *w, uint32_t v)
{
	__atomic_store_n(w, v, __ATOMIC_SEQ_CST);
}

static void *map_page(int prot, int flags)
{
	void *p = mmap(NULL, PAGE, prot, flags | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* An address that is certainly not mapped: a page mapped and unmapped. */
static void *unmapped_page(void)
{
	void *p = map_page(PROT_READ | PROT_WRITE, MAP_PRIVATE);

	if (p)
		munmap(p, PAGE);
	return p;
}

static void deadline_from_now(clockid_t clk, long long delta_ns,
			      struct hsema_wait *w)
{
	struct timespec ts;
	long long t;

	clock_gettime(clk, &ts);
	t = ts.tv_sec * NSEC + ts.tv_nsec + delta_ns;
	w->deadline_sec = t / NSEC;
	w->deadline_nsec = t % NSEC;
}

static struct hsema_wait wait_req(__u64 uaddr, __u32 flags)
{
	struct hsema_wait w;

	memset(&w, 0, sizeof(w));
	w.uaddr = uaddr;
	w.flags = flags;
	return w;
}

/*
 * A wait that cannot block for long if the kernel wrongly accepts it:
 * a MONOTONIC deadline 100 ms from now.
 */
static struct hsema_wait timed_wait_req(__u64 uaddr, __u32 flags)
{
	struct hsema_wait w = wait_req(uaddr, flags | HSEMA_WAIT_TIMEOUT);

	deadline_from_now(CLOCK_MONOTONIC, 100 * 1000 * 1000LL, &w);
	return w;
}

static struct hsema_wake wake_req(__u64 uaddr, __u32 count, __u32 flags)
{
	struct hsema_wake w;

	memset(&w, 0, sizeof(w));
	w.uaddr = uaddr;
	w.count = count;
	w.flags = flags;
	return w;
}

static struct hsema_query query_req(__u64 uaddr, __u32 flags)
{
	struct hsema_query q;

	memset(&q, 0, sizeof(q));
	q.uaddr = uaddr;
	q.flags = flags;
	return q;
}

FIXTURE(bad) {
	int fd;
	uint32_t *word;		/* a private semaphore word */
	uint32_t *sword;	/* a word in MAP_SHARED memory */
};

FIXTURE_SETUP(bad)
{
	self->word = NULL;
	self->sword = NULL;
	self->fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	self->word = map_page(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(NULL, self->word);
	self->sword = map_page(PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(NULL, self->sword);
	poke(self->word, 5);
	poke(self->sword, 5);
}

FIXTURE_TEARDOWN(bad)
{
	if (self->word)
		munmap(self->word, PAGE);
	if (self->sword)
		munmap(self->sword, PAGE);
	if (self->fd >= 0)
		close(self->fd);
}

/* Controls: the commands work at all (in a 32-bit build: via compat). */

TEST_F(bad, version_ok)
{
	struct hsema_version v;
	const __u64 want = HSEMA_FEAT_SHARED | HSEMA_FEAT_TIMEOUT |
			   HSEMA_FEAT_HANDOFF | HSEMA_FEAT_STARVATION |
			   HSEMA_FEAT_QUERY | HSEMA_FEAT_STATS |
			   HSEMA_FEAT_PUBLISHED;

	memset(&v, 0x5a, sizeof(v));
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_VERSION, &v));
	EXPECT_EQ(HSEMA_ABI_VERSION, v.abi_version);
	EXPECT_EQ(0, v.pad);
	EXPECT_EQ(want, v.features & want);
	EXPECT_EQ(0, v.reserved[0]);
	EXPECT_EQ(0, v.reserved[1]);
}

/* WAIT on a word with units takes one and returns at once. */
TEST_F(bad, wait_takes_unit)
{
	struct hsema_wait w = wait_req(U64(self->word), 0);

	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
	EXPECT_EQ(4, peek(self->word));

	w = wait_req(U64(self->sword), HSEMA_F_SHARED);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
	EXPECT_EQ(4, peek(self->sword));

	w = timed_wait_req(U64(self->word), 0);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
	EXPECT_EQ(3, peek(self->word));

	w = wait_req(U64(self->word), HSEMA_WAIT_TIMEOUT | HSEMA_WAIT_REALTIME);
	deadline_from_now(CLOCK_REALTIME, NSEC, &w);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
	EXPECT_EQ(2, peek(self->word));

	/* The largest valid deadline is not an error either. */
	w = wait_req(U64(self->word), HSEMA_WAIT_TIMEOUT);
	w.deadline_sec = INT64_MAX;
	w.deadline_nsec = NSEC - 1;
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
	EXPECT_EQ(1, peek(self->word));

	/* Without TIMEOUT the deadline fields are not looked at. */
	poke(self->word, 2);
	w = wait_req(U64(self->word), 0);
	w.deadline_sec = -1;
	w.deadline_nsec = -1;
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
	EXPECT_EQ(1, peek(self->word));

	/* Any starvation threshold is valid. */
	w = wait_req(U64(self->word), 0);
	w.starve_ns = UINT64_MAX;
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
	EXPECT_EQ(0, peek(self->word));
}

/* The WAIT argument is only read: read-only memory is fine for it. */
TEST_F(bad, wait_arg_readonly_ok)
{
	struct hsema_wait *w = map_page(PROT_READ | PROT_WRITE, MAP_PRIVATE);

	ASSERT_NE(NULL, w);
	*w = wait_req(U64(self->word), 0);
	ASSERT_EQ(0, mprotect(w, PAGE, PROT_READ));
	EXPECT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAIT, w));
	EXPECT_EQ(4, peek(self->word));
	munmap(w, PAGE);
}

/* Argument structures need no particular alignment. */
TEST_F(bad, arg_unaligned_ok)
{
	char *buf = map_page(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct hsema_wait w = wait_req(U64(self->word), 0);
	struct hsema_wake k = wake_req(U64(self->word), 2, 0);
	struct hsema_version v;

	ASSERT_NE(NULL, buf);
	memcpy(buf + 1, &w, sizeof(w));
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAIT, buf + 1));
	EXPECT_EQ(4, peek(self->word));
	memcpy(buf + 3, &k, sizeof(k));
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, buf + 3));
	EXPECT_EQ(6, peek(self->word));
	memcpy(&k, buf + 3, sizeof(k));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(0, k.woken);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_VERSION, buf + 4093 - sizeof(v)));
	memcpy(&v, buf + 4093 - sizeof(v), sizeof(v));
	EXPECT_EQ(HSEMA_ABI_VERSION, v.abi_version);
	munmap(buf, PAGE);
}

/* WAKE with no waiters adds count to the value; outputs are zero. */
TEST_F(bad, wake_adds)
{
	struct hsema_wake k = wake_req(U64(self->word), 3, 0);

	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(8, peek(self->word));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(0, k.woken);
	EXPECT_EQ(0, k.reserved[0]);
	EXPECT_EQ(0, k.reserved[1]);

	k = wake_req(U64(self->sword), 2, HSEMA_F_SHARED);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(7, peek(self->sword));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(0, k.woken);

	k = wake_req(U64(self->word), 1, HSEMA_WAKE_HANDOFF);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(9, peek(self->word));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(0, k.woken);
}

/*
 * A published WAKE adds nothing, whatever its count claims: the caller
 * said its units are in the word already.  With nobody queued it only
 * clears stale bits; it never overflows, since it adds nothing.
 */
TEST_F(bad, wake_published_adds_nothing)
{
	struct hsema_wake k = wake_req(U64(self->word), 3,
				       HSEMA_WAKE_PUBLISHED);

	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(5, peek(self->word));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(0, k.woken);

	poke(self->word, HSEMA_WAITERS | HSEMA_STARVING | 3);
	k = wake_req(U64(self->word), HSEMA_VALUE_MAX, HSEMA_WAKE_PUBLISHED);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(3, peek(self->word));

	poke(self->word, HSEMA_VALUE_MAX);
	k = wake_req(U64(self->word), HSEMA_VALUE_MAX, HSEMA_WAKE_PUBLISHED);
	EXPECT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(HSEMA_VALUE_MAX, peek(self->word));

	k = wake_req(U64(self->sword), 2, HSEMA_F_SHARED | HSEMA_WAKE_PUBLISHED);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(5, peek(self->sword));
}

/* A stale WAITERS bit with no kernel waiters is cleared by a WAKE. */
TEST_F(bad, wake_clears_stale_waiters)
{
	struct hsema_wake k = wake_req(U64(self->word), 2, 0);

	poke(self->word, HSEMA_WAITERS | 3);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(5, peek(self->word));
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(0, k.woken);

	poke(self->sword, HSEMA_WAITERS | 3);
	k = wake_req(U64(self->sword), 2, HSEMA_F_SHARED);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(5, peek(self->sword));
}

/* So is a stale STARVING bit: with no waiters, both bits end up clear. */
TEST_F(bad, wake_clears_stale_starving)
{
	struct hsema_wake k = wake_req(U64(self->word), 2, 0);

	poke(self->word, HSEMA_WAITERS | HSEMA_STARVING | 3);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(5, peek(self->word));

	poke(self->word, HSEMA_STARVING | 3);
	k = wake_req(U64(self->word), 2, 0);
	ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(5, peek(self->word));
}

/* value + count > HSEMA_VALUE_MAX: EOVERFLOW and nothing changes. */
TEST_F(bad, wake_overflow)
{
	static const __u32 flags[] = { 0, HSEMA_WAKE_HANDOFF };
	struct hsema_wake k;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		poke(self->word, HSEMA_VALUE_MAX - 1);
		k = wake_req(U64(self->word), 2, flags[i]);
		EXPECT_EQ(EOVERFLOW, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
		EXPECT_EQ(HSEMA_VALUE_MAX - 1, peek(self->word));

		k = wake_req(U64(self->word), HSEMA_VALUE_MAX, flags[i]);
		EXPECT_EQ(EOVERFLOW, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
		EXPECT_EQ(HSEMA_VALUE_MAX - 1, peek(self->word));

		k = wake_req(U64(self->word), 1, flags[i]);
		EXPECT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
		EXPECT_EQ(HSEMA_VALUE_MAX, peek(self->word));

		k = wake_req(U64(self->word), 1, flags[i]);
		EXPECT_EQ(EOVERFLOW, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
		EXPECT_EQ(HSEMA_VALUE_MAX, peek(self->word));

		poke(self->word, 0);
		k = wake_req(U64(self->word), HSEMA_VALUE_MAX, flags[i]);
		EXPECT_EQ(0, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
		EXPECT_EQ(HSEMA_VALUE_MAX, peek(self->word));
	}

	poke(self->sword, HSEMA_VALUE_MAX - 1);
	k = wake_req(U64(self->sword), 2, HSEMA_F_SHARED);
	EXPECT_EQ(EOVERFLOW, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(HSEMA_VALUE_MAX - 1, peek(self->sword));

	/* A stale WAITERS bit does not count towards the value. */
	poke(self->word, HSEMA_WAITERS | (HSEMA_VALUE_MAX - 1));
	k = wake_req(U64(self->word), 2, 0);
	EXPECT_EQ(EOVERFLOW, xioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ(HSEMA_VALUE_MAX - 1, peek(self->word) & HSEMA_VALUE_MASK);
}

/* A deadline already past on a word with no units: ETIMEDOUT, both clocks. */
TEST_F(bad, wait_deadline_past)
{
	static const __u32 clocks[] = { 0, HSEMA_WAIT_REALTIME };
	struct hsema_wait w;
	unsigned int i;

	poke(self->word, 0);
	for (i = 0; i < 2; i++) {
		w = wait_req(U64(self->word), HSEMA_WAIT_TIMEOUT | clocks[i]);
		EXPECT_EQ(ETIMEDOUT, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
		EXPECT_EQ(0, peek(self->word) & HSEMA_VALUE_MASK);

		w.deadline_nsec = NSEC - 1;	/* the largest valid nsec */
		EXPECT_EQ(ETIMEDOUT, xioctl(self->fd, HSEMA_IOC_WAIT, &w));

		w = wait_req(U64(self->word), HSEMA_WAIT_TIMEOUT | clocks[i]);
		deadline_from_now(clocks[i] ? CLOCK_REALTIME : CLOCK_MONOTONIC,
				  -NSEC / 10, &w);
		EXPECT_EQ(ETIMEDOUT, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
		EXPECT_EQ(0, peek(self->word) & HSEMA_VALUE_MASK);

		w = wait_req(U64(self->sword), HSEMA_F_SHARED |
					       HSEMA_WAIT_TIMEOUT | clocks[i]);
		poke(self->sword, 0);
		EXPECT_EQ(ETIMEDOUT, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
		EXPECT_EQ(0, peek(self->sword) & HSEMA_VALUE_MASK);
	}
}

/* QUERY on a word nobody waits on: everything zero. */
TEST_F(bad, query_idle)
{
	static const __u32 flags[] = { 0, HSEMA_F_SHARED };
	uint32_t *words[] = { self->word, self->sword };
	struct hsema_query q;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		q = query_req(U64(words[i]), flags[i]);
		ASSERT_EQ(0, xioctl(self->fd, HSEMA_IOC_QUERY, &q));
		EXPECT_EQ(U64(words[i]), q.uaddr);
		EXPECT_EQ(flags[i], q.flags);
		EXPECT_EQ(0, q.nr_waiters);
		EXPECT_EQ(0, q.head_ticket);
		EXPECT_EQ(0, q.tail_ticket);
		EXPECT_EQ(0, q.head_wait_ns);
		EXPECT_EQ(0, q.nr_woken);
		EXPECT_EQ(0, q.starving);
		EXPECT_EQ(0, q.reserved[0]);
		EXPECT_EQ(0, q.reserved[1]);
		EXPECT_EQ(5, peek(words[i]));
	}
}

/* isatty() and other foreign ioctls: ENOTTY. */
TEST_F(bad, not_a_tty)
{
	struct termios t;

	errno = 0;
	EXPECT_EQ(0, isatty(self->fd));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(ENOTTY, xioctl(self->fd, TCGETS, &t));
	EXPECT_EQ(ENOTTY, xioctl(self->fd, FIONREAD, &t));
}

/*
 * Unknown command numbers: other magic, other nr, and each known nr with
 * every other direction and size.  The argument is a valid buffer holding a
 * WAKE of the real word (which, read as a WAIT, takes a unit), so a command
 * wrongly accepted shows up as a changed word.
 */
TEST_F(bad, enotty_table)
{
	static const unsigned int dirs[] = {
		_IOC_NONE, _IOC_WRITE, _IOC_READ, _IOC_READ | _IOC_WRITE,
	};
	static const unsigned long known[] = {
		HSEMA_IOC_VERSION, HSEMA_IOC_WAIT, HSEMA_IOC_WAKE,
		HSEMA_IOC_QUERY, HSEMA_IOC_STATS,
	};
	static const unsigned int other_nr[] = { 5, 6, 7, 0x10, 0x80, 0xff };
	static const unsigned int other_magic[] = {
		0, 'X', HSEMA_IOC_MAGIC - 1, HSEMA_IOC_MAGIC + 1, 0xff,
	};
	unsigned long cmds[512];
	unsigned int n = 0, i, j, k;
	union {
		struct hsema_wake wake;
		char raw[2 * 16384];
	} *buf;

	buf = mmap(NULL, sizeof(*buf), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);

	for (i = 0; i < 5; i++) {
		unsigned int dir = _IOC_DIR(known[i]);
		unsigned int nr = _IOC_NR(known[i]);
		unsigned int size = _IOC_SIZE(known[i]);
		const unsigned int sizes[] = {
			0, 4, size - 8, size - 1, size + 1, size + 8,
			2 * size, _IOC_SIZEMASK,
		};

		for (j = 0; j < 4; j++) {
			if (dirs[j] != dir)
				cmds[n++] = _IOC(dirs[j], HSEMA_IOC_MAGIC, nr, size);
			if (dirs[j] != _IOC_NONE)
				cmds[n++] = _IOC(dirs[j], HSEMA_IOC_MAGIC, nr, 0);
		}
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			cmds[n++] = _IOC(dir, HSEMA_IOC_MAGIC, nr, sizes[k]);
		for (k = 0; k < 5; k++)
			cmds[n++] = _IOC(dir, other_magic[k], nr, size);
		for (k = 0; k < 6; k++)
			cmds[n++] = _IOC(dir, HSEMA_IOC_MAGIC, other_nr[k], size);
		/* the same nr with the magic in a different byte order */
		cmds[n++] = _IOC(dir, nr, HSEMA_IOC_MAGIC, size);
	}
	for (k = 0; k < 6; k++)
		for (j = 0; j < 4; j++)
			cmds[n++] = _IOC(dirs[j], HSEMA_IOC_MAGIC, other_nr[k],
					 dirs[j] == _IOC_NONE ? 0 : 8);
	cmds[n++] = 0;
	cmds[n++] = 0xffffffffUL;
	ASSERT_LE(n, sizeof(cmds) / sizeof(cmds[0]));

	for (i = 0; i < n; i++) {
		int err;

		memset(buf, 0, sizeof(*buf));
		buf->wake = wake_req(U64(self->word), 1, 0);
		err = xioctl(self->fd, cmds[i], buf);
		EXPECT_EQ(ENOTTY, err)
			TH_LOG("cmd %#lx (dir %u magic %#x nr %u size %u): %s",
			       cmds[i], _IOC_DIR(cmds[i]), _IOC_TYPE(cmds[i]),
			       _IOC_NR(cmds[i]), _IOC_SIZE(cmds[i]),
			       strerror(err));
		EXPECT_EQ(5, peek(self->word))
			TH_LOG("cmd %#lx changed the word", cmds[i]);
		poke(self->word, 5);
	}
	munmap(buf, sizeof(*buf));
}

/*
 * Bad argument pointers: EFAULT for every command, and for the commands
 * that write back (all but WAIT) also read-only memory.  The argument, where
 * readable at all, is a valid request on the real word, which must not
 * change.
 */
TEST_F(bad, arg_efault)
{
	static const struct {
		unsigned long cmd;
		const char *name;
		int writes_back;
	} cmds[] = {
		{ HSEMA_IOC_VERSION, "VERSION", 1 },
		{ HSEMA_IOC_WAIT, "WAIT", 0 },
		{ HSEMA_IOC_WAKE, "WAKE", 1 },
		{ HSEMA_IOC_QUERY, "QUERY", 1 },
		{ HSEMA_IOC_STATS, "STATS", 1 },
	};
	char *pages, *gone = unmapped_page();
	unsigned int i, j;

	/* [0] read-only, [1] PROT_NONE, [2] read-write, then unmapped */
	pages = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, pages);
	ASSERT_NE(NULL, gone);
	ASSERT_EQ(0, munmap(pages + 3 * PAGE, PAGE));

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		unsigned int size = _IOC_SIZE(cmds[i].cmd);
		void *bad[] = {
			NULL, (void *)-4096L, (void *)-1L, gone,
			pages + PAGE,			/* PROT_NONE */
			pages + 4 * PAGE - 8,		/* straddles the end */
#ifdef __LP64__
			(void *)0xffff800000000000UL,
			(void *)0x0000800000000000UL,
#endif
			NULL,				/* read-only, below */
		};
		unsigned int nbad = sizeof(bad) / sizeof(bad[0]);
		struct hsema_wait w;
		struct hsema_wake k;
		struct hsema_query q;
		void *valid;

		/* What a readable argument holds: a valid request. */
		w = timed_wait_req(U64(self->word), 0);
		k = wake_req(U64(self->word), 1, 0);
		q = query_req(U64(self->word), 0);
		valid = cmds[i].cmd == HSEMA_IOC_WAIT ? (void *)&w :
			cmds[i].cmd == HSEMA_IOC_WAKE ? (void *)&k :
			cmds[i].cmd == HSEMA_IOC_QUERY ? (void *)&q : NULL;

		ASSERT_EQ(0, mprotect(pages, PAGE, PROT_READ | PROT_WRITE));
		ASSERT_EQ(0, mprotect(pages + PAGE, PAGE, PROT_READ | PROT_WRITE));
		memset(pages, 0, 3 * PAGE);
		if (valid) {
			memcpy(pages, valid, size);
			memcpy(pages + PAGE, valid, size);
			/* the part before the end holds the uaddr */
			memcpy(pages + 3 * PAGE - 8, valid, 8);
		}
		ASSERT_EQ(0, mprotect(pages, PAGE, PROT_READ));
		ASSERT_EQ(0, mprotect(pages + PAGE, PAGE, PROT_NONE));

		for (j = 0; j < nbad; j++) {
			void *arg = bad[j];
			int err;

			if (j == nbad - 1) {
				if (!cmds[i].writes_back)
					continue;
				arg = pages;
			}
			err = xioctl(self->fd, cmds[i].cmd, arg);
			EXPECT_EQ(EFAULT, err)
				TH_LOG("%s arg %p: %s", cmds[i].name, arg,
				       strerror(err));
			EXPECT_EQ(5, peek(self->word))
				TH_LOG("%s arg %p changed the word to %#x",
				       cmds[i].name, arg, peek(self->word));
			poke(self->word, 5);
		}
	}
	munmap(pages, 3 * PAGE);
}

/* WAIT: unknown flags, non-zero pad or reserved, bad deadlines: EINVAL. */
TEST_F(bad, wait_einval)
{
	static const struct {
		__s64 sec, nsec;
	} bad_deadlines[] = {
		{ 0, -1 }, { 0, NSEC }, { 0, INT64_MIN }, { 0, INT64_MAX },
		{ -1, 0 }, { INT64_MIN, 0 }, { -1, NSEC - 1 },
	};
	static const __u32 clocks[] = { 0, HSEMA_WAIT_REALTIME };
	/* 5 units: a wait wrongly accepted takes one; 0 units: it blocks */
	static const uint32_t values[] = { 5, 0 };
	uint32_t *words[] = { self->word, self->sword };
	static const __u32 key[] = { 0, HSEMA_F_SHARED };
	struct hsema_wait w;
	unsigned int v, s, b, i;
	int err;

	for (v = 0; v < 2; v++) {
		for (s = 0; s < 2; s++) {
			uint32_t *word = words[s];
			__u64 ua = U64(word);

			poke(word, values[v]);
			for (b = 0; b < 32; b++) {
				if (HSEMA_WAIT_FLAGS & (1U << b))
					continue;
				w = timed_wait_req(ua, key[s] | (1U << b));
				err = xioctl(self->fd, HSEMA_IOC_WAIT, &w);
				EXPECT_EQ(EINVAL, err)
					TH_LOG("flag bit %u, value %u: %s", b,
					       values[v], strerror(err));
			}
			EXPECT_EQ(values[v], peek(word));

			w = timed_wait_req(ua, key[s]);
			w.pad = 1;
			EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
			w.pad = 0x80000000U;
			EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT, &w));
			for (i = 0; i < 2; i++) {
				w = timed_wait_req(ua, key[s]);
				w.reserved[i] = 1;
				EXPECT_EQ(EINVAL,
					  xioctl(self->fd, HSEMA_IOC_WAIT, &w))
					TH_LOG("reserved[%u] = 1", i);
				w.reserved[i] = 1ULL << 63;
				EXPECT_EQ(EINVAL,
					  xioctl(self->fd, HSEMA_IOC_WAIT, &w))
					TH_LOG("reserved[%u] = 1 << 63", i);
			}
			EXPECT_EQ(values[v], peek(word));

			/* REALTIME needs TIMEOUT */
			w = wait_req(ua, key[s] | HSEMA_WAIT_REALTIME);
			err = xioctl(self->fd, HSEMA_IOC_WAIT, &w);
			EXPECT_EQ(EINVAL, err)
				TH_LOG("REALTIME without TIMEOUT, value %u: %s",
				       values[v], strerror(err));
			EXPECT_EQ(values[v], peek(word));

			for (i = 0; i < 2; i++) {
				for (b = 0; b < sizeof(bad_deadlines) /
						sizeof(bad_deadlines[0]); b++) {
					w = wait_req(ua, key[s] | clocks[i] |
						     HSEMA_WAIT_TIMEOUT);
					w.deadline_sec = bad_deadlines[b].sec;
					w.deadline_nsec = bad_deadlines[b].nsec;
					err = xioctl(self->fd, HSEMA_IOC_WAIT, &w);
					EXPECT_EQ(EINVAL, err)
						TH_LOG("%s deadline {%lld, %lld}, value %u: %s",
						       clocks[i] ? "REALTIME" : "MONOTONIC",
						       (long long)w.deadline_sec,
						       (long long)w.deadline_nsec,
						       values[v], strerror(err));
				}
			}
			EXPECT_EQ(values[v], peek(word));
		}
	}
}

/* WAKE: unknown flags, reserved, outputs set on input, bad counts: EINVAL. */
TEST_F(bad, wake_einval)
{
	static const __u32 bad_counts[] = {
		0, HSEMA_VALUE_MAX + 1, HSEMA_STARVING, HSEMA_WAITERS,
		0xffffffffU,
	};
	uint32_t *words[] = { self->word, self->sword };
	static const __u32 key[] = { 0, HSEMA_F_SHARED };
	struct hsema_wake k;
	unsigned int s, b, i;
	int err;

	for (s = 0; s < 2; s++) {
		__u64 ua = U64(words[s]);

		for (b = 0; b < 32; b++) {
			if (HSEMA_WAKE_FLAGS & (1U << b))
				continue;
			k = wake_req(ua, 1, key[s] | (1U << b));
			err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
			EXPECT_EQ(EINVAL, err)
				TH_LOG("flag bit %u: %s", b, strerror(err));
		}
		for (i = 0; i < 2; i++) {
			k = wake_req(ua, 1, key[s]);
			k.reserved[i] = 1;
			EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAKE, &k))
				TH_LOG("reserved[%u] = 1", i);
			k.reserved[i] = 1ULL << 63;
			EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAKE, &k))
				TH_LOG("reserved[%u] = 1 << 63", i);
		}
		k = wake_req(ua, 1, key[s]);
		k.granted = 1;
		err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
		EXPECT_EQ(EINVAL, err) TH_LOG("granted = 1: %s", strerror(err));
		k = wake_req(ua, 1, key[s]);
		k.woken = 1;
		err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
		EXPECT_EQ(EINVAL, err) TH_LOG("woken = 1: %s", strerror(err));
		for (i = 0; i < sizeof(bad_counts) / sizeof(bad_counts[0]); i++) {
			k = wake_req(ua, bad_counts[i], key[s]);
			err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
			EXPECT_EQ(EINVAL, err)
				TH_LOG("count %#x: %s", bad_counts[i],
				       strerror(err));
			k = wake_req(ua, bad_counts[i],
				     key[s] | HSEMA_WAKE_PUBLISHED);
			err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
			EXPECT_EQ(EINVAL, err)
				TH_LOG("published, count %#x: %s",
				       bad_counts[i], strerror(err));
		}
		/* A handoff grants units it brings; published ones are not. */
		k = wake_req(ua, 1, key[s] | HSEMA_WAKE_HANDOFF |
			     HSEMA_WAKE_PUBLISHED);
		err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
		EXPECT_EQ(EINVAL, err)
			TH_LOG("HANDOFF | PUBLISHED: %s", strerror(err));
		EXPECT_EQ(5, peek(words[s]));
	}
}

/* QUERY: unknown flags and non-zero reserved: EINVAL. */
TEST_F(bad, query_einval)
{
	struct hsema_query q;
	unsigned int b, i;
	int err;

	for (b = 0; b < 32; b++) {
		if (HSEMA_QUERY_FLAGS & (1U << b))
			continue;
		q = query_req(U64(self->word), 1U << b);
		err = xioctl(self->fd, HSEMA_IOC_QUERY, &q);
		EXPECT_EQ(EINVAL, err) TH_LOG("flag bit %u: %s", b, strerror(err));
	}
	for (i = 0; i < 2; i++) {
		q = query_req(U64(self->word), 0);
		q.reserved[i] = 1;
		EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_QUERY, &q))
			TH_LOG("reserved[%u] = 1", i);
	}
	EXPECT_EQ(5, peek(self->word));
}

/*
 * Word addresses not 4-byte aligned: EINVAL from WAIT, WAKE and QUERY,
 * private or shared, and no byte around them changes.
 */
TEST_F(bad, word_misaligned)
{
	static const __u32 key[] = { 0, HSEMA_F_SHARED };
	uint32_t *words[] = { self->word, self->sword };
	unsigned int s, off, j;
	int err;

	for (s = 0; s < 2; s++) {
		uint32_t *w = words[s];

		for (j = 0; j < 4; j++)
			poke(&w[j], 5);
		for (off = 1; off < 4; off++) {
			__u64 ua = U64(w) + 4 + off;
			struct hsema_wait wt = timed_wait_req(ua, key[s]);
			struct hsema_wake k = wake_req(ua, 1, key[s]);
			struct hsema_query q = query_req(ua, key[s]);

			err = xioctl(self->fd, HSEMA_IOC_WAIT, &wt);
			EXPECT_EQ(EINVAL, err)
				TH_LOG("WAIT +%u key %u: %s", off, s, strerror(err));
			err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
			EXPECT_EQ(EINVAL, err)
				TH_LOG("WAKE +%u key %u: %s", off, s, strerror(err));
			err = xioctl(self->fd, HSEMA_IOC_QUERY, &q);
			EXPECT_EQ(EINVAL, err)
				TH_LOG("QUERY +%u key %u: %s", off, s, strerror(err));
			for (j = 0; j < 4; j++)
				EXPECT_EQ(5, peek(&w[j]))
					TH_LOG("word %u after +%u key %u", j, off, s);
		}
	}
}

/* One word address that must fail with EFAULT for WAIT, WAKE and QUERY. */
static void expect_word_efault(struct __test_metadata *_metadata, int fd,
			       __u64 ua, const char *what, int query)
{
	static const __u32 key[] = { 0, HSEMA_F_SHARED };
	unsigned int s;
	int err;

	for (s = 0; s < 2; s++) {
		struct hsema_wait w = timed_wait_req(ua, key[s]);
		struct hsema_wake k = wake_req(ua, 1, key[s]);
		struct hsema_query q = query_req(ua, key[s]);

		err = xioctl(fd, HSEMA_IOC_WAIT, &w);
		EXPECT_EQ(EFAULT, err)
			TH_LOG("WAIT %s %#llx%s: %s", what, (unsigned long long)ua,
			       s ? " shared" : "", strerror(err));
		w = wait_req(ua, key[s] | HSEMA_WAIT_TIMEOUT);	/* past */
		err = xioctl(fd, HSEMA_IOC_WAIT, &w);
		EXPECT_EQ(EFAULT, err)
			TH_LOG("WAIT (deadline past) %s %#llx%s: %s", what,
			       (unsigned long long)ua, s ? " shared" : "",
			       strerror(err));
		err = xioctl(fd, HSEMA_IOC_WAKE, &k);
		EXPECT_EQ(EFAULT, err)
			TH_LOG("WAKE %s %#llx%s: %s", what, (unsigned long long)ua,
			       s ? " shared" : "", strerror(err));
		if (query == 2 || (query == 1 && s)) {
			err = xioctl(fd, HSEMA_IOC_QUERY, &q);
			EXPECT_EQ(EFAULT, err)
				TH_LOG("QUERY %s %#llx%s: %s", what,
				       (unsigned long long)ua, s ? " shared" : "",
				       strerror(err));
		}
	}
}

/* NULL, unmapped and kernel word addresses: EFAULT. */
TEST_F(bad, word_efault)
{
	void *gone = unmapped_page();
	unsigned int i;

	ASSERT_NE(NULL, gone);
	expect_word_efault(_metadata, self->fd, 0, "NULL", 1);
	expect_word_efault(_metadata, self->fd, U64(gone), "unmapped", 1);
	for (i = 0; i < sizeof(kernel_uaddrs) / sizeof(kernel_uaddrs[0]); i++)
		expect_word_efault(_metadata, self->fd, kernel_uaddrs[i],
				   "kernel", 2);
#ifndef __LP64__
	/* A 32-bit process cannot name memory above 4 GiB. */
	expect_word_efault(_metadata, self->fd, U64(self->word) | 1ULL << 32,
			   "above 4G", 1);
	expect_word_efault(_metadata, self->fd, U64(self->word) | 0xffffffffULL << 32,
			   "high bits", 2);
#endif
	EXPECT_EQ(5, peek(self->word));
	EXPECT_EQ(5, peek(self->sword));
}

/*
 * Private QUERY of a NULL or unmapped word.  The spec's word-address rule
 * (NULL/unmapped: EFAULT) is stated for every command that takes one.
 */
TEST_F(bad, query_word_efault_private)
{
	void *gone = unmapped_page();
	struct hsema_query q;
	int err;

	ASSERT_NE(NULL, gone);
	q = query_req(0, 0);
	err = xioctl(self->fd, HSEMA_IOC_QUERY, &q);
	EXPECT_EQ(EFAULT, err) TH_LOG("QUERY NULL: %s", strerror(err));
	q = query_req(U64(gone), 0);
	err = xioctl(self->fd, HSEMA_IOC_QUERY, &q);
	EXPECT_EQ(EFAULT, err) TH_LOG("QUERY unmapped: %s", strerror(err));
}

/* PROT_NONE words: EFAULT, and the word keeps its value. */
TEST_F(bad, word_prot_none)
{
	uint32_t *p = map_page(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	uint32_t *sp = map_page(PROT_READ | PROT_WRITE, MAP_SHARED);
	static const uint32_t values[] = { 0, 5 };
	unsigned int v;
	int err;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, sp);
	for (v = 0; v < 2; v++) {
		struct hsema_wait w = timed_wait_req(U64(p), 0);
		struct hsema_wake k = wake_req(U64(p), 1, 0);
		struct hsema_query q = query_req(U64(p), 0);

		poke(p, values[v]);
		poke(sp, values[v]);
		ASSERT_EQ(0, mprotect(p, PAGE, PROT_NONE));
		ASSERT_EQ(0, mprotect(sp, PAGE, PROT_NONE));

		err = xioctl(self->fd, HSEMA_IOC_WAIT, &w);
		EXPECT_EQ(EFAULT, err) TH_LOG("WAIT value %u: %s", values[v], strerror(err));
		err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
		EXPECT_EQ(EFAULT, err) TH_LOG("WAKE value %u: %s", values[v], strerror(err));
		err = xioctl(self->fd, HSEMA_IOC_QUERY, &q);
		EXPECT_EQ(EFAULT, err) TH_LOG("QUERY value %u: %s", values[v], strerror(err));

		w = timed_wait_req(U64(sp), HSEMA_F_SHARED);
		k = wake_req(U64(sp), 1, HSEMA_F_SHARED);
		q = query_req(U64(sp), HSEMA_F_SHARED);
		err = xioctl(self->fd, HSEMA_IOC_WAIT, &w);
		EXPECT_EQ(EFAULT, err) TH_LOG("shared WAIT value %u: %s", values[v], strerror(err));
		err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
		EXPECT_EQ(EFAULT, err) TH_LOG("shared WAKE value %u: %s", values[v], strerror(err));
		err = xioctl(self->fd, HSEMA_IOC_QUERY, &q);
		EXPECT_EQ(EFAULT, err) TH_LOG("shared QUERY value %u: %s", values[v], strerror(err));

		ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
		ASSERT_EQ(0, mprotect(sp, PAGE, PROT_READ | PROT_WRITE));
		EXPECT_EQ(values[v], peek(p));
		EXPECT_EQ(values[v], peek(sp));
	}
	munmap(p, PAGE);
	munmap(sp, PAGE);
}

/*
 * Read-only words.  WAKE always writes the word: EFAULT.  WAIT on a word
 * with no units must queue, which writes the WAITERS bit: EFAULT.  With
 * HSEMA_F_SHARED the kernel resolves the mapping for writing at any call:
 * EFAULT from WAIT, WAKE and QUERY whatever the value.
 */
TEST_F(bad, word_readonly)
{
	uint32_t *p = map_page(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	uint32_t *sp = map_page(PROT_READ | PROT_WRITE, MAP_SHARED);
	static const uint32_t values[] = { 0, 5 };
	unsigned int v;
	int err;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, sp);
	for (v = 0; v < 2; v++) {
		struct hsema_wait w = timed_wait_req(U64(p), 0);
		struct hsema_wake k = wake_req(U64(p), 1, 0);
		struct hsema_query q;

		ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
		ASSERT_EQ(0, mprotect(sp, PAGE, PROT_READ | PROT_WRITE));
		poke(p, values[v]);
		poke(sp, values[v]);
		ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ));
		ASSERT_EQ(0, mprotect(sp, PAGE, PROT_READ));

		if (values[v] == 0) {
			err = xioctl(self->fd, HSEMA_IOC_WAIT, &w);
			EXPECT_EQ(EFAULT, err)
				TH_LOG("private WAIT that must queue: %s", strerror(err));
		}
		err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
		EXPECT_EQ(EFAULT, err)
			TH_LOG("private WAKE value %u: %s", values[v], strerror(err));

		w = timed_wait_req(U64(sp), HSEMA_F_SHARED);
		k = wake_req(U64(sp), 1, HSEMA_F_SHARED);
		q = query_req(U64(sp), HSEMA_F_SHARED);
		err = xioctl(self->fd, HSEMA_IOC_WAIT, &w);
		EXPECT_EQ(EFAULT, err)
			TH_LOG("shared WAIT value %u: %s", values[v], strerror(err));
		err = xioctl(self->fd, HSEMA_IOC_WAKE, &k);
		EXPECT_EQ(EFAULT, err)
			TH_LOG("shared WAKE value %u: %s", values[v], strerror(err));
		err = xioctl(self->fd, HSEMA_IOC_QUERY, &q);
		EXPECT_EQ(EFAULT, err)
			TH_LOG("shared QUERY value %u: %s", values[v], strerror(err));

		EXPECT_EQ(values[v], peek(p));
		EXPECT_EQ(values[v], peek(sp));
	}
	munmap(p, PAGE);
	munmap(sp, PAGE);
}

/*
 * A private WAIT on a read-only word that has units: taking one means
 * writing the word, which cannot be done, so it cannot succeed.  Success
 * here would hand out a unit the word still shows (a unit created).
 */
TEST_F(bad, word_readonly_wait_with_units)
{
	uint32_t *p = map_page(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct hsema_wait w = timed_wait_req(U64(p), 0);
	int err;

	ASSERT_NE(NULL, p);
	poke(p, 5);
	ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ));
	err = xioctl(self->fd, HSEMA_IOC_WAIT, &w);
	EXPECT_EQ(EFAULT, err) TH_LOG("%s", strerror(err));
	EXPECT_EQ(5, peek(p));
	munmap(p, PAGE);
}

/*
 * A WAKE whose argument is valid but sits in read-only memory: the kernel
 * cannot write granted/woken back, so it fails with EFAULT, and that
 * rejected call must not have released the unit.
 */
TEST_F(bad, wake_arg_readonly_no_side_effect)
{
	struct hsema_wake *k = map_page(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	int err;

	ASSERT_NE(NULL, k);
	*k = wake_req(U64(self->word), 1, 0);
	ASSERT_EQ(0, mprotect(k, PAGE, PROT_READ));
	err = xioctl(self->fd, HSEMA_IOC_WAKE, k);
	EXPECT_EQ(EFAULT, err) TH_LOG("%s", strerror(err));
	EXPECT_EQ(5, peek(self->word));
	munmap(k, PAGE);
}

/*
 * HSEMA_IOC_WAIT_ANY: the index of the first entry with a unit comes back
 * as the result, and only that word changes; every malformed request
 * fails with its errno and changes no word.
 */
TEST_F(bad, wait_any)
{
	struct hsema_any_entry e[HSEMA_ANY_MAX + 1];
	struct hsema_wait_any a;
	unsigned int i;

	memset(e, 0, sizeof(e));
	e[0].uaddr = U64(self->word);
	e[1].uaddr = U64(self->sword);
	e[1].flags = HSEMA_F_SHARED;
	poke(self->word, 0);
	memset(&a, 0, sizeof(a));
	a.entries = U64(e);
	a.count = 2;
	EXPECT_EQ(1, ioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	EXPECT_EQ(4, peek(self->sword));
	EXPECT_EQ(0, peek(self->word));
	poke(self->word, 1);
	EXPECT_EQ(0, ioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	EXPECT_EQ(0, peek(self->word));
	EXPECT_EQ(4, peek(self->sword));

	/* A deadline that has passed: a timeout, both words untouched. */
	a.count = 1;
	a.flags = HSEMA_WAIT_TIMEOUT;
	EXPECT_EQ(ETIMEDOUT, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	EXPECT_EQ(0, peek(self->word));

	/* Malformed: EINVAL, nothing taken (the shared word has units). */
	a.count = 2;
	a.flags = 0;
	a.count = 0;
	EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	a.count = HSEMA_ANY_MAX + 1;
	for (i = 2; i <= HSEMA_ANY_MAX; i++)
		e[i] = e[1];
	EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	a.count = 2;
	a.flags = HSEMA_WAIT_OWNED;
	EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	a.flags = HSEMA_WAIT_REALTIME;
	EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	a.flags = HSEMA_WAIT_TIMEOUT;
	a.deadline_nsec = NSEC;
	EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	a.flags = 0;
	a.deadline_nsec = 0;
	a.reserved[1] = 1;
	EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	a.reserved[1] = 0;
	e[0].pad = 1;
	EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	e[0].pad = 0;
	e[0].flags = 1U << 8;
	EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	e[0].flags = 0;
	e[0].uaddr = U64(self->word) + 2;
	EXPECT_EQ(EINVAL, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	e[0].uaddr = U64(self->word);
	EXPECT_EQ(4, peek(self->sword));

	/* Entries that cannot be read: EFAULT. */
	a.entries = 0;
	EXPECT_EQ(EFAULT, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	a.entries = U64(unmapped_page());
	EXPECT_EQ(EFAULT, xioctl(self->fd, HSEMA_IOC_WAIT_ANY, &a));
	EXPECT_EQ(4, peek(self->sword));
	EXPECT_EQ(0, peek(self->word));
}

TEST_HARNESS_MAIN
