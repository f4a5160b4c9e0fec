/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef BENCH_FAKEDEV_H
#define BENCH_FAKEDEV_H

/* ioctls on the stand-in /dev/hsema other than HSEMA_IOC_VERSION. */
extern unsigned long fakedev_ioctls;

#endif /* BENCH_FAKEDEV_H */
