// SPDX-License-Identifier: GPL-2.0-only
/*
 * ABI of /dev/hsema: open, version and features, unknown commands and
 * bad argument pointers; the frozen command numbers and structure layout;
 * outputs fully written (no stale or leaked bytes) and reserved fields
 * zero; STATS counters monotonic; several fds on one device.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "kselftest_harness.h"

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* The device is usable by anyone: mode 0666. */
TEST_F(dev, world_usable)
{
	struct stat st;

	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 0777);
}

TEST_F(dev, version)
{
	struct hsema_version v;

	memset(&v, 0xa5, sizeof(v));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_VERSION, &v));
	EXPECT_EQ(HSEMA_ABI_VERSION, v.abi_version);
	EXPECT_EQ(0, v.pad);
	EXPECT_EQ(0, v.reserved[0]);
	EXPECT_EQ(0, v.reserved[1]);
}

/* Unknown commands: -ENOTTY, whatever their direction or size. */
TEST_F(dev, unknown_ioctl)
{
	char buf[64] = { 0 };

	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IO(HSEMA_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IOR(HSEMA_IOC_MAGIC, 0, char[12]), buf));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IOR('X', 0, struct hsema_version), buf));
	EXPECT_EQ(ENOTTY, errno);
}

/* A bad argument pointer: -EFAULT, never a crash. */
TEST_F(dev, version_efault)
{
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, HSEMA_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, HSEMA_IOC_VERSION, (void *)-4096L));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;	/* read-only memory cannot receive the answer */
	EXPECT_EQ(-1, ioctl(self->fd, HSEMA_IOC_VERSION, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, 4096);
}

/* The command numbers are ABI: frozen. */
TEST(ioctl_numbers)
{
	EXPECT_EQ(0x8020b900U, HSEMA_IOC_VERSION);
	EXPECT_EQ(0x4038b901U, HSEMA_IOC_WAIT);
	EXPECT_EQ(0xc028b902U, HSEMA_IOC_WAKE);
	EXPECT_EQ(0xc040b903U, HSEMA_IOC_QUERY);
	EXPECT_EQ(0x8108b904U, HSEMA_IOC_STATS);
	EXPECT_EQ(1, HSEMA_ABI_VERSION);
	EXPECT_EQ(0x3fffffffU, HSEMA_VALUE_MAX);
	EXPECT_EQ(0, HSEMA_VALUE_MASK & (HSEMA_STARVING | HSEMA_WAITERS));
}

/* Fixed-size fields, explicit padding: the same layout everywhere. */
TEST(struct_layout)
{
	EXPECT_EQ(32, sizeof(struct hsema_version));
	EXPECT_EQ(8, offsetof(struct hsema_version, features));
	EXPECT_EQ(16, offsetof(struct hsema_version, reserved));

	EXPECT_EQ(56, sizeof(struct hsema_wait));
	EXPECT_EQ(0, offsetof(struct hsema_wait, uaddr));
	EXPECT_EQ(8, offsetof(struct hsema_wait, flags));
	EXPECT_EQ(12, offsetof(struct hsema_wait, pad));
	EXPECT_EQ(16, offsetof(struct hsema_wait, deadline_sec));
	EXPECT_EQ(24, offsetof(struct hsema_wait, deadline_nsec));
	EXPECT_EQ(32, offsetof(struct hsema_wait, starve_ns));
	EXPECT_EQ(40, offsetof(struct hsema_wait, reserved));

	EXPECT_EQ(40, sizeof(struct hsema_wake));
	EXPECT_EQ(8, offsetof(struct hsema_wake, count));
	EXPECT_EQ(12, offsetof(struct hsema_wake, flags));
	EXPECT_EQ(16, offsetof(struct hsema_wake, granted));
	EXPECT_EQ(20, offsetof(struct hsema_wake, woken));
	EXPECT_EQ(24, offsetof(struct hsema_wake, reserved));

	EXPECT_EQ(64, sizeof(struct hsema_query));
	EXPECT_EQ(8, offsetof(struct hsema_query, flags));
	EXPECT_EQ(12, offsetof(struct hsema_query, nr_waiters));
	EXPECT_EQ(16, offsetof(struct hsema_query, head_ticket));
	EXPECT_EQ(24, offsetof(struct hsema_query, tail_ticket));
	EXPECT_EQ(32, offsetof(struct hsema_query, head_wait_ns));
	EXPECT_EQ(40, offsetof(struct hsema_query, nr_woken));
	EXPECT_EQ(44, offsetof(struct hsema_query, starving));
	EXPECT_EQ(48, offsetof(struct hsema_query, reserved));

	EXPECT_EQ(48, sizeof(struct hsema_wait_any));
	EXPECT_EQ(0, offsetof(struct hsema_wait_any, entries));
	EXPECT_EQ(8, offsetof(struct hsema_wait_any, count));
	EXPECT_EQ(12, offsetof(struct hsema_wait_any, flags));
	EXPECT_EQ(16, offsetof(struct hsema_wait_any, deadline_sec));
	EXPECT_EQ(24, offsetof(struct hsema_wait_any, deadline_nsec));
	EXPECT_EQ(32, offsetof(struct hsema_wait_any, reserved));
	EXPECT_EQ(24, sizeof(struct hsema_any_entry));
	EXPECT_EQ(8, offsetof(struct hsema_any_entry, starve_ns));
	EXPECT_EQ(16, offsetof(struct hsema_any_entry, flags));
	EXPECT_EQ(20, offsetof(struct hsema_any_entry, pad));

	EXPECT_EQ(264, sizeof(struct hsema_stats));
	EXPECT_EQ(96, offsetof(struct hsema_stats, max_wait_ns));
	EXPECT_EQ(104, offsetof(struct hsema_stats, refused));
	EXPECT_EQ(232, offsetof(struct hsema_stats, spin_wakes));
	EXPECT_EQ(240, offsetof(struct hsema_stats, spin_grants));
	EXPECT_EQ(248, offsetof(struct hsema_stats, woken_spins));
	EXPECT_EQ(256, offsetof(struct hsema_stats, reserved));
	EXPECT_GE(HSEMA_REFUSE_MAX + 1, HSEMA_REFUSE_NR);
}

/* VERSION advertises every feature of ABI version 1. */
TEST_F(dev, version_features)
{
	static const struct { __u64 bit; char name[12]; } feats[] = {
		{ HSEMA_FEAT_SHARED, "SHARED" },
		{ HSEMA_FEAT_TIMEOUT, "TIMEOUT" },
		{ HSEMA_FEAT_HANDOFF, "HANDOFF" },
		{ HSEMA_FEAT_STARVATION, "STARVATION" },
		{ HSEMA_FEAT_QUERY, "QUERY" },
		{ HSEMA_FEAT_STATS, "STATS" },
		{ HSEMA_FEAT_PUBLISHED, "PUBLISHED" },
		{ HSEMA_FEAT_WOKEN, "WOKEN" },
		{ HSEMA_FEAT_WAIT_EINTR, "WAIT_EINTR" },
		{ HSEMA_FEAT_WAIT_OWNED, "WAIT_OWNED" },
		{ HSEMA_FEAT_MAX, "MAX" },
		{ HSEMA_FEAT_WAIT_ANY, "WAIT_ANY" },
	};
	struct hsema_version v;
	unsigned int i;

	memset(&v, 0, sizeof(v));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_VERSION, &v));
	for (i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
		EXPECT_EQ(feats[i].bit, v.features & feats[i].bit)
			TH_LOG("feature %s missing (features %#llx)",
			       feats[i].name, (unsigned long long)v.features);
}

/*
 * Each output is written whole: a buffer poisoned with two different
 * patterns gives the same answer both times, so no byte is left stale.
 */
TEST_F(dev, version_written_whole)
{
	struct hsema_version a, b;

	memset(&a, 0x00, sizeof(a));
	memset(&b, 0xff, sizeof(b));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_VERSION, &a));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_VERSION, &b));
	EXPECT_EQ(0, memcmp(&a, &b, sizeof(a)));
}

/*
 * STATS: succeeds, writes every byte, leaves the slots of refusal reasons
 * that do not exist and the reserved words zero, and its counters never
 * go down.
 */
TEST_F(dev, stats)
{
	struct hsema_stats a, b;
	const __u64 *pa = (const __u64 *)&a, *pb = (const __u64 *)&b;
	unsigned int i;

	memset(&a, 0xa5, sizeof(a));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_STATS, &a));
	for (i = HSEMA_REFUSE_NR; i <= HSEMA_REFUSE_MAX; i++)
		EXPECT_EQ(0, a.refused[i]) TH_LOG("refused[%u]", i);
	EXPECT_EQ(0, a.reserved);

	memset(&b, 0x5a, sizeof(b));
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_STATS, &b));
	for (i = 0; i < offsetof(struct hsema_stats, reserved) / 8; i++) {
		if (i == offsetof(struct hsema_stats, max_wait_ns) / 8)
			continue;	/* a maximum, not a count; still monotonic */
		EXPECT_LE(pa[i], pb[i]) TH_LOG("counter %u went down", i);
	}
	EXPECT_LE(a.max_wait_ns, b.max_wait_ns);
}

/* QUERY outputs are written whole and reserved stays zero. */
/*
 * The module-wide counters describe every user's semaphores: only a
 * caller with CAP_PERFMON (or CAP_SYS_ADMIN) may read them, as for the
 * system-wide perf counters; anyone else gets EPERM and no data.
 */
TEST_F(dev, stats_needs_perfmon)
{
	struct hsema_stats st;
	int status;
	pid_t pid;

	if (geteuid())
		SKIP(return, "needs root to drop to an unprivileged user");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int ret;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		memset(&st, 0xa5, sizeof(st));
		ret = ioctl(self->fd, HSEMA_IOC_STATS, &st);
		if (ret == 0)
			_exit(3);
		if (errno != EPERM)
			_exit(4);
		/* Nothing was written. */
		_exit(((unsigned char *)&st)[0] == 0xa5 ? 0 : 5);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_NE(3, WEXITSTATUS(status)) TH_LOG("an unprivileged user read the module-wide counters");
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child exit %d", WEXITSTATUS(status));
	EXPECT_EQ(0, ioctl(self->fd, HSEMA_IOC_STATS, &st)) TH_LOG("root: %m");
}

TEST_F(dev, query_outputs)
{
	uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hsema_query q;

	ASSERT_NE(MAP_FAILED, word);
	*word = 1;
	memset(&q, 0, sizeof(q));
	q.uaddr = (uintptr_t)word;
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_QUERY, &q));
	EXPECT_EQ((uintptr_t)word, q.uaddr);
	EXPECT_EQ(0, q.flags);
	EXPECT_EQ(0, q.nr_waiters);
	EXPECT_EQ(0, q.head_ticket);
	EXPECT_EQ(0, q.tail_ticket);
	EXPECT_EQ(0, q.head_wait_ns);
	EXPECT_EQ(0, q.nr_woken);
	EXPECT_EQ(0, q.starving);
	EXPECT_EQ(0, q.reserved[0]);
	EXPECT_EQ(0, q.reserved[1]);
	EXPECT_EQ(1, *word);
	munmap(word, 4096);
}

/* WAKE writes granted, woken and reserved back as zero when idle. */
TEST_F(dev, wake_outputs)
{
	uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hsema_wake k;

	ASSERT_NE(MAP_FAILED, word);
	memset(&k, 0, sizeof(k));
	k.uaddr = (uintptr_t)word;
	k.count = 2;
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_WAKE, &k));
	EXPECT_EQ((uintptr_t)word, k.uaddr);
	EXPECT_EQ(2, k.count);
	EXPECT_EQ(0, k.flags);
	EXPECT_EQ(0, k.granted);
	EXPECT_EQ(0, k.woken);
	EXPECT_EQ(0, k.reserved[0]);
	EXPECT_EQ(0, k.reserved[1]);
	EXPECT_EQ(2, *word);
	munmap(word, 4096);
}

/*
 * Queues are keyed by address, not by open file: a unit released through
 * one fd is taken through another, and an O_RDONLY open works the same.
 */
TEST_F(dev, several_fds)
{
	uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd2 = open(HSEMA_DEVICE, O_RDONLY | O_CLOEXEC);
	struct hsema_wake k;
	struct hsema_wait w;
	struct hsema_version v;

	ASSERT_NE(MAP_FAILED, word);
	ASSERT_LE(0, fd2);
	memset(&k, 0, sizeof(k));
	k.uaddr = (uintptr_t)word;
	k.count = 1;
	ASSERT_EQ(0, ioctl(self->fd, HSEMA_IOC_WAKE, &k));
	memset(&w, 0, sizeof(w));
	w.uaddr = (uintptr_t)word;
	ASSERT_EQ(0, ioctl(fd2, HSEMA_IOC_WAIT, &w));
	EXPECT_EQ(0, *word);
	ASSERT_EQ(0, ioctl(fd2, HSEMA_IOC_VERSION, &v));
	EXPECT_EQ(HSEMA_ABI_VERSION, v.abi_version);
	close(fd2);
	munmap(word, 4096);
}

/* read() and write() are not part of the ABI; they must fail cleanly. */
TEST_F(dev, no_read_write)
{
	char buf[16] = { 0 };

	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(-1, write(self->fd, buf, sizeof(buf)));
}

TEST_HARNESS_MAIN
