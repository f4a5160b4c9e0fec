// SPDX-License-Identifier: GPL-2.0-only
/*
 * ABI of /dev/hsema: open, version and features, unknown commands and
 * bad argument pointers.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

TEST_HARNESS_MAIN
