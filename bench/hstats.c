// SPDX-License-Identifier: GPL-2.0-only
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hstats.h"
#include "json.h"

bool hstats_read(struct hsema_stats *s)
{
	int fd = open(HSEMA_DEVICE, O_RDONLY | O_CLOEXEC);
	bool ok;

	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return false;
	ok = !ioctl(fd, HSEMA_IOC_STATS, s);
	close(fd);
	if (!ok)
		memset(s, 0, sizeof(*s));
	return ok;
}

void hstats_add(struct hsema_stats *acc, const struct hsema_stats *b,
		const struct hsema_stats *a)
{
	int i;

#define D(f) (acc->f += a->f - b->f)
	D(waits);
	D(slow_acquires);
	D(wakes);
	D(grants);
	D(requeues);
	D(handoffs);
	D(yields);
	D(starve_enter);
	D(starve_exit);
	D(timeouts);
	D(interrupts);
	D(passed_on);
	D(spin_wakes);
	D(spin_grants);
	D(woken_spins);
#undef D
	for (i = 0; i <= HSEMA_REFUSE_MAX; i++)
		acc->refused[i] += a->refused[i] - b->refused[i];
}

void hstats_json(const struct hsema_stats *d)
{
	unsigned long long refused = 0;
	int i;

	for (i = 0; i <= HSEMA_REFUSE_MAX; i++)
		refused += d->refused[i];
	json_obj("hsema");
#define J(f) json_uint(#f, d->f)
	J(waits);
	J(slow_acquires);
	J(wakes);
	J(grants);
	J(requeues);
	J(handoffs);
	J(yields);
	J(starve_enter);
	J(starve_exit);
	J(timeouts);
	J(interrupts);
	J(passed_on);
	J(spin_wakes);
	J(spin_grants);
	J(woken_spins);
#undef J
	json_uint("refused", refused);
	json_close();
}
