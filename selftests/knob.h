/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The module's debugfs knobs (root only): the fault injections of
 * word_inject() and word_cmpxchg() in kmod/waitwake.c.
 */
#ifndef HSEMA_KNOB_H
#define HSEMA_KNOB_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define KNOB_DIR	"/sys/kernel/debug/hsema/"

/* Write @n to knob @name; 0 or -errno. */
static inline int knob_set(const char *name, long n)
{
	char path[128], buf[32];
	int fd, len, ret = 0;

	snprintf(path, sizeof(path), KNOB_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%ld\n", n);
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* Knob @name's value, or -1 if it cannot be read. */
static inline long knob_get(const char *name)
{
	char path[128], buf[32] = { 0 };
	long n = -1;
	int fd;

	snprintf(path, sizeof(path), KNOB_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		n = strtol(buf, NULL, 10);
	close(fd);
	return n;
}

#endif /* HSEMA_KNOB_H */
