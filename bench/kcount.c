// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel entries and voluntary context switches per thread: kcount.h says
 * what is counted and why these two.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "json.h"
#include "kcount.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv	449
#endif

#define EVENT	"events/raw_syscalls/sys_enter"

static char trigger_path[128], hist_path[128];
static char spec[160];			/* the trigger, without "clear" */
static char method[256] = "not counted (-K)";
static bool available;

const char *kcount_method(void)
{
	return method;
}

bool kcount_available(void)
{
	return available;
}

/* Append @cmd to the event's trigger file (O_TRUNC would remove them all). */
static int trigger(const char *cmd)
{
	int fd = open(trigger_path, O_WRONLY | O_CLOEXEC);
	ssize_t len = (ssize_t)strlen(cmd), n;

	if (fd < 0)
		return errno;
	n = write(fd, cmd, (size_t)len);
	if (n != len) {
		int err = n < 0 ? errno : EIO;

		close(fd);
		return err;
	}
	return close(fd) ? errno : 0;
}

static void remove_trigger(void)
{
	char cmd[sizeof(spec) + 1];

	snprintf(cmd, sizeof(cmd), "!%s", spec);
	trigger(cmd);
}

/*
 * The trigger exists only while a counting turn runs: while it does, every
 * system call of every task takes the tracepoint's slow path, which slowed
 * glibc's contended throughput at 8 threads to half in the guest.
 */
bool kcount_start(void)
{
	int err;

	if (!available)
		return false;
	err = trigger(spec);
	if (err) {
		snprintf(method, sizeof(method),
			 "unavailable: installing the hist trigger failed: %s",
			 strerror(err));
		available = false;
	}
	return available;
}

/* The number after "name:" in a histogram line, if any. */
static bool field(const char *line, const char *name, uint64_t *v)
{
	const char *p = strstr(line, name);
	char *end;

	if (!p)
		return false;
	p += strlen(name);
	/* common_pid.execname would print "comm [pid]": take the pid. */
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9') {
		const char *b = strchr(p, '[');

		if (!b)
			return false;
		p = b + 1;
	}
	*v = strtoull(p, &end, 10);
	return end != p;
}

bool kcount_stop(const pid_t *tids, int n, uint64_t *futex, uint64_t *ioctl)
{
	bool ok = kcount_read(tids, n, futex, ioctl);

	kcount_end();
	return ok;
}

void kcount_end(void)
{
	remove_trigger();
}

bool kcount_read(const pid_t *tids, int n, uint64_t *futex, uint64_t *ioctl)
{
	uint64_t pid, id, hits, dropped = 0;
	bool totals = false;
	char line[512];
	FILE *f;
	int i;

	*futex = *ioctl = 0;
	if (!available)
		return false;
	f = fopen(hist_path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '{') {
			if (!field(line, "common_pid:", &pid) ||
			    !field(line, " id:", &id) ||
			    !field(line, "hitcount:", &hits))
				continue;
			for (i = 0; i < n; i++)
				if ((uint64_t)tids[i] == pid)
					break;
			if (i == n)
				continue;
			if (id == SYS_futex || id == SYS_futex_waitv)
				*futex += hits;
			else if (id == SYS_ioctl)
				*ioctl += hits;
		} else if (field(line, "Dropped:", &dropped)) {
			totals = true;
		}
	}
	fclose(f);
	/* No totals: a format we do not know; a drop: a count we do not know. */
	return totals && !dropped;
}

void kcount_json_entries(bool counted, uint64_t futex, uint64_t ioctl,
			 uint64_t ops)
{
	double per = ops ? 1.0 / (double)ops : NAN;

	if (counted) {
		json_uint("futex_calls", futex);
		json_uint("ioctl_calls", ioctl);
		json_num("kentries_per_op", (double)(futex + ioctl) * per);
	} else {
		/* Unknown, never zero: NaN is written as null. */
		json_num("futex_calls", NAN);
		json_num("ioctl_calls", NAN);
		json_num("kentries_per_op", NAN);
	}
}

void kcount_json_nvcsw(uint64_t nvcsw, uint64_t ops)
{
	json_uint("nvcsw", nvcsw);
	json_num("nvcsw_per_op", ops ? (double)nvcsw / (double)ops : NAN);
}

uint64_t kcount_nvcsw(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		die("getrusage", errno);
	return (uint64_t)ru.ru_nvcsw;
}

void gate_init(struct gate *g)
{
	atomic_store(&g->ready, 0);
	atomic_store(&g->open, false);
}

void gate_wait(struct gate *g)
{
	atomic_fetch_add(&g->ready, 1);
	while (!atomic_load_explicit(&g->open, memory_order_acquire))
		sched_yield();
}

void gate_open(struct gate *g, int nr)
{
	while (atomic_load(&g->ready) < nr)
		sched_yield();
	atomic_store_explicit(&g->open, true, memory_order_release);
}

/* The self-test: a thread started like the workers makes known calls. */
#define TEST_FUTEX	5
#define TEST_IOCTL	3

struct selftest {
	struct gate g;
	pid_t tid;
};

static void *selftest_thread(void *arg)
{
	struct selftest *t = arg;
	uint32_t word = 0;
	int i;

	t->tid = (pid_t)syscall(SYS_gettid);
	gate_wait(&t->g);
	for (i = 0; i < TEST_FUTEX; i++)
		syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	for (i = 0; i < TEST_IOCTL; i++)
		ioctl(-1, 0);			/* EBADF, but it entered */
	return NULL;
}

bool kcount_setup(void)
{
	static const char *const roots[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	struct selftest t = { 0 };
	uint64_t futex, ioctl;
	unsigned int i;
	int err = ENOENT;
	pthread_t th;

	snprintf(spec, sizeof(spec),
		 "hist:keys=common_pid,id:vals=hitcount:sort=common_pid:size=8192"
		 " if id == %d || id == %d || id == %d", SYS_futex,
		 SYS_futex_waitv, SYS_ioctl);
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(trigger_path, sizeof(trigger_path), "%s/" EVENT "/trigger",
			 roots[i]);
		snprintf(hist_path, sizeof(hist_path), "%s/" EVENT "/hist",
			 roots[i]);
		if (!access(trigger_path, W_OK))
			break;
		err = errno;
	}
	if (i == sizeof(roots) / sizeof(roots[0])) {
		snprintf(method, sizeof(method),
			 "unavailable: no writable tracefs %s/trigger: %s",
			 EVENT, strerror(err));
		return false;
	}
	available = true;
	if (!kcount_start())
		return false;
	gate_init(&t.g);
	th = start_thread(selftest_thread, &t, -1, false);
	gate_open(&t.g, 1);
	join_thread(th);
	if (!kcount_stop(&t.tid, 1, &futex, &ioctl) ||
	    futex != TEST_FUTEX || ioctl != TEST_IOCTL) {
		snprintf(method, sizeof(method),
			 "unavailable: the self-test counted %llu futex and %llu "
			 "ioctl calls for %d and %d", (unsigned long long)futex,
			 (unsigned long long)ioctl, TEST_FUTEX, TEST_IOCTL);
		available = false;
		return false;
	}
	snprintf(method, sizeof(method),
		 "tracefs hist trigger on raw_syscalls:sys_enter keyed on "
		 "(common_pid, id), ids %d (futex), %d (futex_waitv, counted "
		 "as futex) and %d (ioctl), worker threads only, in a counting "
		 "turn of its own; self-test exact",
		 SYS_futex, SYS_futex_waitv, SYS_ioctl);
	return true;
}
