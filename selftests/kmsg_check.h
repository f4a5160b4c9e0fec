/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Read the kernel log written since a mark, and count the lines that look
 * like a kernel report (the patterns scripts/check treats as splats), so a
 * test can fail on its own instead of only through the harness's scan of
 * the whole log.  Needs /dev/kmsg readable (root, or dmesg_restrict=0);
 * without it the check is skipped.
 */
#ifndef HSEMA_KMSG_CHECK_H
#define HSEMA_KMSG_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"

static const char *const kmsg_splats[] = {
	"BUG:", "WARNING:", "INFO: possible", "INFO: trying to register",
	"inconsistent lock state", "DEBUG_LOCKS_WARN_ON", "KASAN:", "UBSAN:",
	"Oops", "general protection fault",
	"sleeping function called from invalid context",
	"scheduling while atomic", "detected stall", "self-detected stall",
	"blocked for more than", "soft lockup", "hard LOCKUP",
	"unreferenced object", "suspected memory leak", "ODEBUG:",
	"list_add corruption", "list_del corruption", "refcount_t:",
	"Call Trace:", "Kernel panic", "kernel BUG at", "Busy inodes",
};

/* Open /dev/kmsg positioned at its end: -1 if it cannot be read. */
static inline int kmsg_mark(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Count the report lines logged since kmsg_mark(), printing the first
 * @show of them with @prefix; closes @fd.
 */
static inline int kmsg_count_splats(int fd, const char *prefix, int show)
{
	char rec[8192];
	int found = 0;
	ssize_t n;
	size_t i;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten: skip ahead */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		for (i = 0; i < sizeof(kmsg_splats) / sizeof(kmsg_splats[0]); i++) {
			char *msg = strchr(rec, ';'), *nl;

			if (!msg || !strstr(msg, kmsg_splats[i]))
				continue;
			nl = strchr(msg, '\n');
			if (nl)
				*nl = '\0';
			if (found++ < show)
				printf("%s%s\n", prefix, msg + 1);
			break;
		}
	}
	close(fd);
	return found;
}

/*
 * For kselftest_harness.h tests: no kernel report since @fd was marked
 * (a skip of the check if -1).  Closes @fd.
 */
#define kmsg_check_clean(fd) do {					\
		if ((fd) >= 0)						\
			EXPECT_EQ(0, kmsg_count_splats(fd, "# kmsg: ", 10)) \
				TH_LOG("the kernel logged a report");	\
	} while (0)

/*
 * The "kernel log clean" result that ends a run: no splat since @fd was
 * opened by kmsg_mark(), showing up to ten of them; a skip when -1.
 */
static inline void kmsg_result_clean(int fd)
{
	if (fd >= 0)
		ksft_test_result(kmsg_count_splats(fd, "# kmsg: ", 10) == 0,
				 "kernel log clean\n");
	else
		ksft_test_result_skip("kernel log clean (/dev/kmsg unreadable)\n");
}

#endif /* HSEMA_KMSG_CHECK_H */
