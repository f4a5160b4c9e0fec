// SPDX-License-Identifier: GPL-2.0-only
/*
 * irqlat: the longest interrupts-off section hsema causes, with N waiters
 * on one word (bench/README.md, "Interrupts off with 10 000 waiters").
 *
 * N waiter threads (small stacks, pinned off the probe CPU) each issue a
 * raw HSEMA_IOC_WAIT on one private word of value 0.  Once HSEMA_IOC_QUERY
 * reports all N queued, a cyclictest-style probe runs on the probe CPU: a
 * SCHED_FIFO 99 thread that sleeps to absolute deadlines every INTERVAL
 * and records how late it woke.  On the same CPU the main thread
 * (SCHED_OTHER) then
 *
 *   1. stays idle (the baseline), then makes back-to-back getppid()
 *      system calls for as long as phase 3 lasts (the busy baseline:
 *      what any system-call loop does to the probe under emulation),
 *   2. issues one HSEMA_IOC_WAKE of count N (the big wake), which walks
 *      every waiter under the word's bucket lock,
 *   3. once every waiter has its unit and has queued again, issues
 *      WAKEs of count 1 back to back for a second (the per-call cost;
 *      each granted waiter queues again at the tail),
 *
 * and the probe's maximum and p99 in each window, the WAKEs' durations
 * and, where the kernel has the irqsoff tracer, its maximum per window
 * (with the head of its trace) are printed as one JSON object on stdout,
 * with a summary on stderr.  Finally every waiter is released and joined.
 *
 * The probe's timer interrupt cannot be served while the probe CPU has
 * interrupts off, so a sample whose deadline fell in such a section is
 * late by about what was left of it: the probe's maximum during the big
 * wake bounds the section from below, within one interval.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#define NSEC		1000000000LL
#define TRACE_HEAD	40	/* lines of the irqsoff trace kept */

static struct {
	unsigned int n;		/* waiters */
	int cpu;		/* probe CPU, -1: the last one allowed */
	long interval_us;
	double baseline_s;
	unsigned int repeats;	/* WAKEs of count 1, at most */
	double repeat_s;	/* ... for this long */
	unsigned long long starve_ns;
	size_t stack_kib;
	double queue_timeout_s;
	bool no_tracer;
} opt = {
	.n = 10000, .cpu = -1, .interval_us = 200, .baseline_s = 2.0,
	.repeats = 0, .repeat_s = 1.0, .stack_kib = 16, .queue_timeout_s = 900,
};

static int dev = -1;
static _Alignas(64) uint32_t word;	/* the semaphore, value 0 */
static atomic_bool stop;		/* waiters: do not wait again */
static atomic_uint acquired;		/* units the waiters got */
static atomic_uint exited;		/* waiters that returned */
static atomic_uint wait_errors;
static atomic_int first_errno;

static void die(const char *what, int err)
{
	fprintf(stderr, "irqlat: %s: %s\n", what, strerror(err));
	exit(1);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / NSEC, ns % NSEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

/* ---- the module ---- */

static int wake(uint32_t count, struct hsema_wake *out)
{
	struct hsema_wake w = {
		.uaddr = (uintptr_t)&word,
		.count = count,
	};
	int ret = ioctl(dev, HSEMA_IOC_WAKE, &w);

	if (out)
		*out = w;
	return ret ? -errno : 0;
}

static unsigned int nr_waiters(void)
{
	struct hsema_query q = { .uaddr = (uintptr_t)&word };

	if (ioctl(dev, HSEMA_IOC_QUERY, &q))
		die("HSEMA_IOC_QUERY", errno);
	return q.nr_waiters;
}

static void *waiter(void *arg)
{
	struct hsema_wait w = {
		.uaddr = (uintptr_t)&word,
		.starve_ns = opt.starve_ns,
	};
	int expected = 0;

	(void)arg;
	for (;;) {
		if (ioctl(dev, HSEMA_IOC_WAIT, &w)) {
			if (errno == EINTR)
				continue;
			atomic_fetch_add(&wait_errors, 1);
			atomic_compare_exchange_strong(&first_errno, &expected,
						       errno);
			break;
		}
		atomic_fetch_add(&acquired, 1);
		if (atomic_load(&stop))
			break;
	}
	atomic_fetch_add(&exited, 1);
	return NULL;
}

/* ---- the probe ---- */

struct sample {
	int64_t due;		/* the deadline, CLOCK_MONOTONIC ns */
	int64_t late;		/* how late the probe woke, ns */
};

static struct sample *samples;
static size_t nsamples, cap_samples;
static atomic_bool recording, probe_stop, probe_ready;
static atomic_bool truncated;
static unsigned long overruns;		/* deadlines skipped, all windows */

static void *probe(void *arg)
{
	int64_t interval = opt.interval_us * 1000, next, now;
	struct timespec ts;

	(void)arg;
	next = now_ns() + interval;
	atomic_store(&probe_ready, true);
	while (!atomic_load(&probe_stop)) {
		ts.tv_sec = next / NSEC;
		ts.tv_nsec = next % NSEC;
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
			continue;
		now = now_ns();
		if (atomic_load_explicit(&recording, memory_order_relaxed)) {
			if (nsamples < cap_samples) {
				samples[nsamples].due = next;
				samples[nsamples].late = now - next;
				nsamples++;
			} else {
				atomic_store(&truncated, true);
			}
		}
		/* As cyclictest: deadlines already past are skipped. */
		next += interval;
		while (next <= now) {
			next += interval;
			overruns++;
		}
	}
	return NULL;
}

struct window {
	const char *name;
	int64_t from, to;	/* wake-ups pending in [from, to] count */
	size_t n;
	double max_us, p99_us, mean_us;
	double irqsoff_us;	/* < 0: no tracer */
	char started[128], ended[128];
	char *trace[TRACE_HEAD];
	unsigned int ntrace;
};

/*
 * A sample counts for a window if the probe was waiting to wake during it:
 * its deadline may have passed just before the window opened, its timer
 * interrupt not yet taken when interrupts went off.
 */
static bool in_window(const struct window *w, const struct sample *s)
{
	return s->due <= w->to && s->due + s->late >= w->from;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void window_stats(struct window *w)
{
	int64_t *v = malloc((nsamples + 1) * sizeof(*v)), sum = 0;
	size_t i, n = 0;

	if (!v)
		die("malloc", ENOMEM);
	for (i = 0; i < nsamples; i++) {
		if (in_window(w, &samples[i])) {
			v[n++] = samples[i].late;
			sum += samples[i].late;
		}
	}
	w->n = n;
	if (n) {
		qsort(v, n, sizeof(*v), cmp_i64);
		w->max_us = v[n - 1] / 1e3;
		w->p99_us = v[(n * 99 + 99) / 100 - 1] / 1e3;
		w->mean_us = (double)sum / n / 1e3;
	}
	free(v);
}

/* ---- the irqsoff tracer ---- */

static const char *tracing;	/* tracefs, when the irqsoff tracer is there */
static char saved_tracer[64] = "nop";
static char saved_ftrace[8];

static int tfile_read(const char *name, char *buf, size_t size)
{
	char path[256];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tracing, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len < 0)
		return -errno;
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int tfile_write(const char *name, const char *val)
{
	char path[256];
	size_t len = strlen(val);
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", tracing, name);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

static bool has_irqsoff(const char *dir)
{
	char path[256], buf[4096], *tok, *save;
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "%s/tracing_max_latency", dir);
	if (access(path, W_OK))
		return false;
	snprintf(path, sizeof(path), "%s/available_tracers", dir);
	f = fopen(path, "r");
	if (!f)
		return false;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (tok = strtok_r(buf, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save))
		if (!strcmp(tok, "irqsoff"))
			return true;
	return false;
}

static void tracer_setup(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	size_t i;
	int ret;

	if (opt.no_tracer)
		return;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (has_irqsoff(dirs[i])) {
			tracing = dirs[i];
			break;
		}
	}
	if (!tracing)
		return;
	tfile_read("current_tracer", saved_tracer, sizeof(saved_tracer));
	/*
	 * Without function-trace the tracer only timestamps where interrupts
	 * went off and on (and keeps the stack there): tracing every function
	 * in between would lengthen the very section being measured.
	 */
	if (!tfile_read("options/function-trace", saved_ftrace,
			sizeof(saved_ftrace)))
		tfile_write("options/function-trace", "0");
	tfile_write("tracing_on", "1");
	ret = tfile_write("current_tracer", "irqsoff");
	if (ret) {
		fprintf(stderr, "irqlat: cannot select the irqsoff tracer: %s\n",
			strerror(-ret));
		tracing = NULL;
	}
}

static void tracer_restore(void)
{
	if (!tracing)
		return;
	tfile_write("current_tracer", saved_tracer);
	if (saved_ftrace[0])
		tfile_write("options/function-trace", saved_ftrace);
}

static void tracer_reset(void)
{
	if (tracing)
		tfile_write("tracing_max_latency", "0");
}

static void trim(char *dst, size_t size, const char *src)
{
	while (*src == ' ')
		src++;
	snprintf(dst, size, "%s", src);
	dst[strcspn(dst, "\n")] = '\0';
}

/* The maximum since tracer_reset(), and the head of its trace. */
static void tracer_read(struct window *w, bool keep_trace)
{
	char buf[64], line[512], path[256], *p;
	FILE *f;

	w->irqsoff_us = -1;
	if (!tracing || tfile_read("tracing_max_latency", buf, sizeof(buf)))
		return;
	w->irqsoff_us = strtod(buf, NULL);
	snprintf(path, sizeof(path), "%s/trace", tracing);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if ((p = strstr(line, "=> started at:")))
			trim(w->started, sizeof(w->started), p + 14);
		else if ((p = strstr(line, "=> ended at:")))
			trim(w->ended, sizeof(w->ended), p + 12);
		if (keep_trace && w->ntrace < TRACE_HEAD) {
			line[strcspn(line, "\n")] = '\0';
			w->trace[w->ntrace++] = strdup(line);
		}
		if (!keep_trace && w->started[0] && w->ended[0])
			break;
	}
	fclose(f);
}

/* ---- output ---- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_num(const char *key, double v, bool ok)
{
	printf("\"%s\": ", key);
	if (ok)
		printf("%.1f", v);
	else
		printf("null");
}

/* The window's samples, as [deadline - window start, lateness] in us. */
static void json_samples(const struct window *w, size_t max)
{
	size_t i, n = 0;

	printf(", \"probe_samples_us\": [");
	for (i = 0; i < nsamples && n < max; i++) {
		if (!in_window(w, &samples[i]))
			continue;
		printf("%s[%.1f, %.1f]", n++ ? ", " : "",
		       (samples[i].due - w->from) / 1e3,
		       samples[i].late / 1e3);
	}
	printf("]");
}

static void json_window(const struct window *w)
{
	unsigned int i;

	printf("\"samples\": %zu, ", w->n);
	json_num("probe_max_us", w->max_us, w->n);
	printf(", ");
	json_num("probe_p99_us", w->p99_us, w->n);
	printf(", ");
	json_num("probe_mean_us", w->mean_us, w->n);
	printf(", ");
	json_num("irqsoff_max_us", w->irqsoff_us, w->irqsoff_us >= 0);
	if (w->irqsoff_us < 0)
		return;
	printf(", \"irqsoff_started_at\": ");
	json_str(w->started);
	printf(", \"irqsoff_ended_at\": ");
	json_str(w->ended);
	if (!w->ntrace)
		return;
	printf(", \"irqsoff_trace_head\": [");
	for (i = 0; i < w->ntrace; i++) {
		printf(i ? ", " : "");
		json_str(w->trace[i]);
	}
	printf("]");
}

static void summary_window(const struct window *w)
{
	fprintf(stderr, "  %-14s probe max %9.1f us  p99 %9.1f us  (%zu samples)",
		w->name, w->max_us, w->p99_us, w->n);
	if (w->irqsoff_us >= 0)
		fprintf(stderr, "  irqsoff max %.0f us (%s .. %s)", w->irqsoff_us,
			w->started, w->ended);
	fputc('\n', stderr);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr,
"usage: irqlat [-n WAITERS] [-c CPU] [-i US] [-b SECONDS] [-R SECONDS]\n"
"              [-r CALLS] [-s STARVE_NS] [-k STACK_KIB] [-t SECONDS] [-T]\n"
"  -n  waiter threads on the word (10000)\n"
"  -c  probe CPU (default: the last CPU allowed; waiters go elsewhere)\n"
"  -i  probe interval in us (200)\n"
"  -b  seconds of idle baseline (2)\n"
"  -R  seconds of back-to-back WAKEs of count 1, and of getppid() for the\n"
"      busy baseline (1; 0: neither)\n"
"  -r  at most this many of them (0: no limit)\n"
"  -s  the waiters' starvation threshold in ns (0: module default)\n"
"  -k  waiter stack size in KiB (16)\n"
"  -t  seconds allowed for the waiters to queue, each time (900)\n"
"  -T  do not use the irqsoff tracer\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct window base = { .name = "baseline" }, big = { .name = "big wake" },
		      rep = { .name = "count-1 wakes" },
		      busy = { .name = "busy baseline" };
	unsigned long nbusy = 0;
	int64_t t_start, t_created, t_queued, t_requeued = 0, t_released;
	struct hsema_version ver = { 0 };
	struct hsema_wake wout = { 0 }, bigout = { 0 };
	unsigned long long rep_granted = 0, rep_woken = 0;
	double *calls = NULL, big_us = 0, rep_s = 0, sum = 0;
	cpu_set_t allowed, others, one;
	pthread_attr_t attr;
	pthread_t *threads, prober;
	struct sched_param sp = { .sched_priority = 99 };
	unsigned int created = 0, i, queued, ncalls = 0, rep_queued = 0;
	struct utsname uts;
	int c, ret, ncpu;

	while ((c = getopt(argc, argv, "n:c:i:b:R:r:s:k:t:Th")) != -1) {
		switch (c) {
		case 'n': opt.n = strtoul(optarg, NULL, 0); break;
		case 'c': opt.cpu = atoi(optarg); break;
		case 'i': opt.interval_us = atol(optarg); break;
		case 'b': opt.baseline_s = atof(optarg); break;
		case 'R': opt.repeat_s = atof(optarg); break;
		case 'r': opt.repeats = strtoul(optarg, NULL, 0); break;
		case 's': opt.starve_ns = strtoull(optarg, NULL, 0); break;
		case 'k': opt.stack_kib = strtoul(optarg, NULL, 0); break;
		case 't': opt.queue_timeout_s = atof(optarg); break;
		case 'T': opt.no_tracer = true; break;
		default: usage();
		}
	}
	if (optind != argc || !opt.n || opt.interval_us <= 0 ||
	    opt.baseline_s <= 0)
		usage();

	dev = open(HSEMA_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die(HSEMA_DEVICE, errno);
	if (ioctl(dev, HSEMA_IOC_VERSION, &ver))
		die("HSEMA_IOC_VERSION", errno);
	if (!(ver.features & HSEMA_FEAT_QUERY))
		die("the module lacks HSEMA_IOC_QUERY", ENOTSUP);
	uname(&uts);

	/* The probe CPU, and the others for the waiters. */
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		die("sched_getaffinity", errno);
	ncpu = CPU_COUNT(&allowed);
	if (opt.cpu < 0)
		for (c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed))
				opt.cpu = c;
	if (opt.cpu < 0 || opt.cpu >= CPU_SETSIZE ||
	    !CPU_ISSET(opt.cpu, &allowed))
		die("probe CPU not allowed", EINVAL);
	others = allowed;
	if (ncpu > 1)
		CPU_CLR(opt.cpu, &others);
	CPU_ZERO(&one);
	CPU_SET(opt.cpu, &one);

	/* Room for every sample of the recorded windows, touched now. */
	cap_samples = (size_t)((opt.baseline_s + 600) * 1e6 / opt.interval_us);
	samples = malloc(cap_samples * sizeof(*samples));
	threads = calloc(opt.n, sizeof(*threads));
	if (!samples || !threads)
		die("malloc", ENOMEM);
	memset(samples, 0, cap_samples * sizeof(*samples));

	/* The waiters. */
	t_start = now_ns();
	pthread_attr_init(&attr);
	ret = pthread_attr_setstacksize(&attr, opt.stack_kib * 1024);
	if (ret)
		die("pthread_attr_setstacksize", ret);
	ret = pthread_attr_setaffinity_np(&attr, sizeof(others), &others);
	if (ret)
		die("pthread_attr_setaffinity_np", ret);
	for (created = 0; created < opt.n; created++) {
		ret = pthread_create(&threads[created], &attr, waiter, NULL);
		if (ret) {
			fprintf(stderr, "irqlat: pthread_create: only %u of %u "
				"waiters: %s\n", created, opt.n, strerror(ret));
			break;
		}
	}
	pthread_attr_destroy(&attr);
	t_created = now_ns();
	fprintf(stderr, "irqlat: %u threads created in %.1f s\n", created,
		(t_created - t_start) / 1e9);
	queued = 0;
	while (created == opt.n && (queued = nr_waiters()) < opt.n &&
	       !atomic_load(&wait_errors)) {
		if (now_ns() - t_created > opt.queue_timeout_s * NSEC)
			break;
		sleep_ns(20 * 1000 * 1000);
	}
	t_queued = now_ns();
	fprintf(stderr, "irqlat: %u waiters queued %.1f s after the start\n",
		queued, (t_queued - t_start) / 1e9);
	if (created < opt.n || queued < opt.n || atomic_load(&wait_errors))
		goto release;

	/* The probe and the waker (this thread) share the probe CPU. */
	if (sched_setaffinity(0, sizeof(one), &one))
		die("sched_setaffinity", errno);
	pthread_attr_init(&attr);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &sp);
	pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
	ret = pthread_create(&prober, &attr, probe, NULL);
	pthread_attr_destroy(&attr);
	if (ret)
		die("the SCHED_FIFO 99 probe (root needed)", ret);
	while (!atomic_load(&probe_ready))
		sleep_ns(1000 * 1000);
	tracer_setup();
	sleep_ns(100 * 1000 * 1000);

	/* 1. Idle. */
	tracer_reset();
	atomic_store(&recording, true);
	base.from = now_ns();
	sleep_ns((int64_t)(opt.baseline_s * NSEC));
	base.to = now_ns();
	tracer_read(&base, false);
	/* Gaps, so that no sample is pending in two windows. */
	sleep_ns(50 * 1000 * 1000);
	if (opt.repeat_s > 0) {
		tracer_reset();
		busy.from = now_ns();
		do {
			syscall(SYS_getppid);
			nbusy++;
		} while ((busy.to = now_ns()) - busy.from <
			 (int64_t)(opt.repeat_s * NSEC));
		tracer_read(&busy, false);
		sleep_ns(50 * 1000 * 1000);
	}

	/* 2. One WAKE of count N. */
	tracer_reset();
	big.from = now_ns();
	ret = wake(opt.n, &bigout);
	big.to = now_ns();
	tracer_read(&big, true);
	if (ret)
		die("HSEMA_IOC_WAKE", -ret);
	big_us = (big.to - big.from) / 1e3;
	sleep_ns(20 * 1000 * 1000);
	atomic_store(&recording, false);

	/* 3. Everyone queued again, then WAKEs of count 1. */
	while ((queued = nr_waiters()) < opt.n &&
	       now_ns() - big.to < opt.queue_timeout_s * NSEC &&
	       !atomic_load(&wait_errors))
		sleep_ns(20 * 1000 * 1000);
	t_requeued = now_ns();
	if (queued < opt.n || atomic_load(&wait_errors))
		goto release;
	if (opt.repeat_s > 0) {
		size_t cap = 0;
		int64_t t0, end;

		tracer_reset();
		atomic_store(&recording, true);
		rep.from = now_ns();
		end = rep.from + (int64_t)(opt.repeat_s * NSEC);
		for (t0 = rep.from; t0 < end &&
		     (!opt.repeats || ncalls < opt.repeats); ncalls++) {
			if (ncalls == cap) {
				cap = cap ? 2 * cap : 65536;
				calls = realloc(calls, cap * sizeof(*calls));
				if (!calls)
					die("malloc", ENOMEM);
			}
			ret = wake(1, &wout);
			rep.to = now_ns();
			calls[ncalls] = (rep.to - t0) / 1e3;
			t0 = rep.to;
			if (ret)
				die("HSEMA_IOC_WAKE", -ret);
			rep_granted += wout.granted;
			rep_woken += wout.woken;
		}
		tracer_read(&rep, false);
		rep_queued = nr_waiters();
		atomic_store(&recording, false);
		rep_s = (rep.to - rep.from) / 1e9;
		for (i = 0; i < ncalls; i++)
			sum += calls[i];
		qsort(calls, ncalls, sizeof(*calls), cmp_dbl);
	}

release:
	/*
	 * Every waiter waits at most once more after seeing stop: N units
	 * cover them all, queued or not; repeat for any left queued.
	 */
	atomic_store(&stop, true);
	t_released = now_ns();
	ret = wake(opt.n, NULL);
	if (ret)
		fprintf(stderr, "irqlat: release: %s\n", strerror(-ret));
	while (atomic_load(&exited) < created) {
		unsigned int left;

		sleep_ns(20 * 1000 * 1000);
		left = nr_waiters();
		if (left && wake(left, NULL))
			break;
	}
	for (i = 0; i < created; i++)
		pthread_join(threads[i], NULL);
	t_released = now_ns() - t_released;
	if (probe_ready) {
		atomic_store(&probe_stop, true);
		pthread_join(prober, NULL);
	}
	tracer_restore();
	if (created < opt.n || queued < opt.n || atomic_load(&wait_errors)) {
		fprintf(stderr, "irqlat: %u of %u waiters queued; %u waits "
			"failed (%s)\n", queued, opt.n,
			atomic_load(&wait_errors),
			strerror(atomic_load(&first_errno)));
		return 1;
	}

	window_stats(&base);
	window_stats(&big);
	if (nbusy)
		window_stats(&busy);
	if (ncalls)
		window_stats(&rep);

	printf("{\"benchmark\": \"irqlat\", \"kernel\": ");
	json_str(uts.release);
	printf(", \"kernel_version\": ");
	json_str(uts.version);
	printf(", \"preempt_rt\": %s, \"cpus\": %d, \"probe_cpu\": %d, "
	       "\"waiters\": %u, \"interval_us\": %ld, \"stack_kib\": %zu, "
	       "\"starve_ns\": %llu, \"irqsoff_tracer\": %s, ",
	       strstr(uts.version, "PREEMPT_RT") ? "true" : "false", ncpu,
	       opt.cpu, opt.n, opt.interval_us, opt.stack_kib, opt.starve_ns,
	       tracing ? "true" : "false");
	printf("\"setup_s\": {\"create\": %.2f, \"queued\": %.2f, "
	       "\"requeued\": %.2f, \"release\": %.2f}, ",
	       (t_created - t_start) / 1e9, (t_queued - t_start) / 1e9,
	       (t_requeued - big.to) / 1e9, t_released / 1e9);
	printf("\"baseline\": {\"seconds\": %.2f, ",
	       (base.to - base.from) / 1e9);
	json_window(&base);
	if (nbusy) {
		printf("}, \"busy_baseline\": {\"seconds\": %.2f, "
		       "\"syscalls\": %lu, ", (busy.to - busy.from) / 1e9,
		       nbusy);
		json_window(&busy);
	}
	printf("}, \"big_wake\": {\"count\": %u, \"duration_us\": %.1f, "
	       "\"granted\": %u, \"woken\": %u, ", opt.n, big_us,
	       bigout.granted, bigout.woken);
	json_window(&big);
	json_samples(&big, 1000);
	printf("}");
	if (ncalls) {
		printf(", \"count1_wakes\": {\"calls\": %u, \"seconds\": %.3f, "
		       "\"granted\": %llu, \"woken\": %llu, "
		       "\"queued_after\": %u, "
		       "\"call_us\": {\"mean\": %.1f, \"p50\": %.1f, "
		       "\"p99\": %.1f, \"max\": %.1f}, ",
		       ncalls, rep_s, rep_granted, rep_woken, rep_queued,
		       sum / ncalls, calls[ncalls / 2],
		       calls[(ncalls * 99ULL + 99) / 100 - 1],
		       calls[ncalls - 1]);
		json_window(&rep);
		printf("}");
	}
	printf(", \"probe_overruns\": %lu, \"truncated\": %s}\n", overruns,
	       atomic_load(&truncated) ? "true" : "false");

	fprintf(stderr, "irqlat: %s, %u waiters, probe on CPU %d every %ld us "
		"(SCHED_FIFO 99), waker SCHED_OTHER on the same CPU\n",
		uts.release, opt.n, opt.cpu, opt.interval_us);
	summary_window(&base);
	if (nbusy)
		summary_window(&busy);
	summary_window(&big);
	if (ncalls)
		summary_window(&rep);
	fprintf(stderr, "  big wake: one WAKE of count %u took %.1f us; "
		"probe max %.1fx the baseline's\n", opt.n, big_us,
		base.max_us > 0 ? big.max_us / base.max_us : 0.0);
	if (ncalls)
		fprintf(stderr, "  count-1 wakes: %u calls in %.2f s, mean %.1f "
			"us, p99 %.1f us, max %.1f us; %u waiters queued after\n",
			ncalls, rep_s, sum / ncalls,
			calls[(ncalls * 99ULL + 99) / 100 - 1],
			calls[ncalls - 1], rep_queued);
	if (big.ntrace) {
		fprintf(stderr, "  irqsoff trace of the big wake (head):\n");
		for (i = 0; i < big.ntrace; i++)
			fprintf(stderr, "    %s\n", big.trace[i]);
	}
	return 0;
}
