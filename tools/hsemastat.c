// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * hsemastat: print the hsema module's statistics.
 *
 * Module-wide counters come from the HSEMA_IOC_STATS ioctl on /dev/hsema
 * (CAP_PERFMON or CAP_SYS_ADMIN: they describe every user's semaphores),
 * or from debugfs "stats" when the device does not know that
 * ioctl or cannot be opened; the per-key table comes from debugfs
 * "queues" (root only) when it can be read.  The formats are documented
 * in Documentation/hsema.rst ("Statistics") and hsemastat(1).
 *
 * Exit status: 0 success, 1 runtime error, 2 usage error or no module.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/hsema.h>

#define PROG		"hsemastat"
#define DEBUGFS_DIR	"/sys/kernel/debug/hsema"

/* The struct hsema_stats fields, in the order debugfs prints them. */
static const struct {
	const char *name;
	size_t off;
	const char *desc;
} scalars[] = {
#define F(n, d) { #n, offsetof(struct hsema_stats, n), d }
	F(waits,	 "waiters queued"),
	F(slow_acquires, "units acquired in the kernel"),
	F(wakes,	 "waiters woken to compete"),
	F(grants,	 "units granted directly to a waiter"),
	F(requeues,	 "woken waiters that lost and kept their place"),
	F(handoffs,	 "grants after which the releaser could yield"),
	F(yields,	 "... and the directed yield took effect"),
	F(starve_enter,	 "entries into starvation mode"),
	F(starve_exit,	 "exits from starvation mode"),
	F(timeouts,	 "waits that timed out"),
	F(interrupts,	 "waits interrupted by a signal"),
	F(passed_on,	 "units a dying waiter released again"),
	F(spin_wakes,	 "next grantees woken early to spin for it"),
	F(spin_grants,	 "grants caught by a waiter spinning for them"),
	F(woken_spins,	 "woken waiters that spun for a unit"),
	F(max_wait_ns,	 "longest wait of a waiter that got a unit"),
#undef F
};
#define NR_SCALARS	(sizeof(scalars) / sizeof(scalars[0]))
#define NR_FIELDS	(NR_SCALARS + HSEMA_REFUSE_MAX + 1)

/* debugfs names (refused_NAME) and meanings of enum hsema_refusal. */
static const struct {
	const char *name;
	const char *desc;
} refusals[HSEMA_REFUSE_MAX + 1] = {
	[HSEMA_REFUSE_NMI]	   = { "nmi", "in NMI" },
	[HSEMA_REFUSE_HARDIRQ]	   = { "hardirq", "in hard interrupt" },
	[HSEMA_REFUSE_SOFTIRQ]	   = { "softirq", "in softirq or with BH disabled" },
	[HSEMA_REFUSE_IRQS_OFF]	   = { "irqs_off", "local interrupts disabled" },
	[HSEMA_REFUSE_PREEMPT_OFF] = { "preempt_off", "preemption disabled or spinlock held" },
	[HSEMA_REFUSE_RCU]	   = { "rcu", "inside an RCU read-side section" },
	[HSEMA_REFUSE_MIGRATE_OFF] = { "migrate_off", "migration disabled (RT spinlock)" },
};

static bool field_is_gauge(size_t i)
{
	return i < NR_SCALARS &&
	       scalars[i].off == offsetof(struct hsema_stats, max_wait_ns);
}

static __u64 *field_ptr(struct hsema_stats *s, size_t i)
{
	if (i < NR_SCALARS)
		return (__u64 *)((char *)s + scalars[i].off);
	return &s->refused[i - NR_SCALARS];
}

static __u64 field_value(const struct hsema_stats *s, size_t i)
{
	return *field_ptr((struct hsema_stats *)s, i);
}

/* Named like the debugfs "stats" lines; @buf holds at least 32 bytes. */
static const char *field_name(size_t i, char *buf)
{
	size_t r = i - NR_SCALARS;

	if (i < NR_SCALARS)
		return scalars[i].name;
	if (refusals[r].name)
		snprintf(buf, 32, "refused_%s", refusals[r].name);
	else
		snprintf(buf, 32, "refused_%zu", r);
	return buf;
}

/*
 * Refusal slots this tool has no name for are shown only when a newer
 * module counted something in them.
 */
static bool field_shown(const struct hsema_stats *s, size_t i)
{
	return i < NR_SCALARS || refusals[i - NR_SCALARS].name ||
	       field_value(s, i);
}

struct opts {
	const char *device;
	const char *debugfs;
	bool json;
	int64_t interval_ns;		/* 0: one shot */
	unsigned long count;		/* watch intervals, 0 = forever */
};

struct source {
	int fd;				/* -1: read debugfs "stats" */
	int open_err;			/* why the device could not be opened */
	const char *name;		/* "ioctl" or "debugfs" */
};

/* The per-key table: the header's column names, then rows of fields. */
struct queues {
	char *buf;
	char **cols;
	size_t ncols;
	char ***rows;
	size_t nrows;
	char err[PATH_MAX + 256];	/* set if the table is unavailable */
};

#define USAGE "usage: " PROG " [-j] [-w SECONDS [-n COUNT]] [-d DEVICE] [-D DIR]\n"

static void usage(FILE *f)
{
	fprintf(f, USAGE
		"Print the hsema module's statistics.\n"
		"  -j          JSON output (one object per line in watch mode)\n"
		"  -w SECONDS  watch: print the change of each counter and its rate\n"
		"              per second every SECONDS (may be fractional)\n"
		"  -n COUNT    stop after COUNT intervals (implies -w 1 if no -w)\n"
		"  -d DEVICE   the hsema device (default " HSEMA_DEVICE ")\n"
		"  -D DIR      the module's debugfs directory (default " DEBUGFS_DIR ")\n"
		"  -h          this help\n"
		"Exit status: 0 success, 1 error, 2 usage error or module not loaded.\n");
}

static void bad_usage(const char *fmt, const char *arg)
{
	if (fmt) {
		fprintf(stderr, PROG ": ");
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	fputs(USAGE "Try '" PROG " -h' for more information.\n", stderr);
	exit(2);
}

/* Read all of a (seq_file) file: its size is unknown beforehand. */
static char *read_file(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nbuf;
	ssize_t n;
	int fd, err;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		free(buf);
		errno = err;
		return NULL;
	}
	for (;;) {
		if (cap - len < 2) {
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				err = ENOMEM;
				goto fail;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
fail:
	close(fd);
	free(buf);
	errno = err;
	return NULL;
}

static int read_debugfs_stats(const struct opts *o, struct hsema_stats *st)
{
	char path[PATH_MAX], name[64], nbuf[32], *buf, *line, *save;
	unsigned long long v;
	size_t i;

	snprintf(path, sizeof(path), "%s/stats", o->debugfs);
	buf = read_file(path);
	if (!buf) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(st, 0, sizeof(*st));
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%63s %llu", name, &v) != 2)
			continue;
		/* Names this tool does not know are a newer module's. */
		for (i = 0; i < NR_FIELDS; i++)
			if (!strcmp(name, field_name(i, nbuf)))
				*field_ptr(st, i) = v;
	}
	free(buf);
	return 0;
}

static int read_stats(const struct opts *o, struct source *src,
		      struct hsema_stats *st)
{
	if (src->fd >= 0) {
		memset(st, 0, sizeof(*st));
		if (!ioctl(src->fd, HSEMA_IOC_STATS, st))
			return 0;
		if (errno == EPERM) {
			fprintf(stderr, PROG ": %s: HSEMA_IOC_STATS: %s: the module-wide counters need CAP_PERFMON (or root)\n",
				o->device, strerror(errno));
			return -1;
		}
		if (errno != ENOTTY) {
			fprintf(stderr, PROG ": %s: HSEMA_IOC_STATS: %s\n",
				o->device, strerror(errno));
			return -1;
		}
		/* A module without HSEMA_IOC_STATS: debugfs may have them. */
		src->open_err = ENOTTY;
		close(src->fd);
		src->fd = -1;
	}
	src->name = "debugfs";
	if (read_debugfs_stats(o, st)) {
		if (src->open_err)
			fprintf(stderr, PROG ": (tried because %s: %s)\n",
				o->device, strerror(src->open_err));
		return -1;
	}
	return 0;
}

static void open_source(const struct opts *o, struct source *src)
{
	src->name = "ioctl";
	src->open_err = 0;
	src->fd = open(o->device, O_RDONLY | O_CLOEXEC);
	if (src->fd >= 0)
		return;
	switch (errno) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		fprintf(stderr, PROG ": %s: %s: the hsema module is not loaded\n"
			PROG ": load it first, e.g. insmod hsema.ko\n",
			o->device, strerror(errno));
		exit(2);
	case EACCES:
	case EPERM:
		/* debugfs "stats" is world-readable, if debugfs is. */
		src->open_err = errno;
		src->name = "debugfs";
		return;
	default:
		fprintf(stderr, PROG ": %s: %s\n", o->device, strerror(errno));
		exit(1);
	}
}

static void free_queues(struct queues *q)
{
	size_t r;

	for (r = 0; r < q->nrows; r++)
		free(q->rows[r]);
	free(q->rows);
	free(q->cols);
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

/* Split @line at blanks into *@v, a new array of *@n fields; 0 or -1. */
static int split(char *line, char ***v, size_t *n)
{
	char **nv, *tok, *save;

	*v = NULL;
	*n = 0;
	for (tok = strtok_r(line, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		nv = realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv) {
			free(*v);
			return -1;
		}
		*v = nv;
		(*v)[(*n)++] = tok;
	}
	return 0;
}

/*
 * Read debugfs "queues".  The column names are taken from its header line
 * rather than built in, so that a module with more columns is shown whole.
 * Unavailability is not an error: q->err says why, for the output.
 */
static int read_queues(const struct opts *o, struct queues *q)
{
	char path[PATH_MAX], *line, *next, **row, ***nrows;
	const char *hint = "";
	size_t n, i;

	memset(q, 0, sizeof(*q));
	snprintf(path, sizeof(path), "%s/queues", o->debugfs);
	q->buf = read_file(path);
	if (!q->buf) {
		if (errno == ENOENT)
			hint = " (is debugfs mounted? mount -t debugfs none /sys/kernel/debug)";
		else if (errno == EACCES || errno == EPERM)
			hint = " (readable by root only)";
		snprintf(q->err, sizeof(q->err), "%s: %s%s", path,
			 strerror(errno), hint);
		return 0;
	}
	next = q->buf;
	for (i = 0; (line = next) && *line; i++) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (split(line, &row, &n))
			goto nomem;
		if (i == 0) {
			q->cols = row;
			q->ncols = n;
			continue;
		}
		if (!n)
			continue;
		if (n < q->ncols) {
			/* Never from the module: pad rather than lose the key. */
			char **nrow = realloc(row, q->ncols * sizeof(*row));

			if (!nrow) {
				free(row);
				goto nomem;
			}
			row = nrow;
			while (n < q->ncols)
				row[n++] = "-";
		}
		nrows = realloc(q->rows, (q->nrows + 1) * sizeof(*nrows));
		if (!nrows) {
			free(row);
			goto nomem;
		}
		q->rows = nrows;
		q->rows[q->nrows++] = row;
	}
	if (!q->ncols)
		snprintf(q->err, sizeof(q->err), "%s: no header line", path);
	return 0;
nomem:
	fprintf(stderr, PROG ": %s: %s\n", path, strerror(ENOMEM));
	free_queues(q);
	return -1;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static bool is_uint(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n && !s[n] && n <= 20;
}

static void json_stats(const char *key, const struct hsema_stats *st)
{
	char nbuf[32];
	size_t i;
	bool first = true;

	printf("\"%s\":{", key);
	for (i = 0; i < NR_FIELDS; i++) {
		if (!field_shown(st, i))
			continue;
		printf("%s\"%s\":%llu", first ? "" : ",", field_name(i, nbuf),
		       (unsigned long long)field_value(st, i));
		first = false;
	}
	putchar('}');
}

static void json_queues(const struct queues *q)
{
	size_t r, c;

	if (q->err[0]) {
		printf(",\"queues\":null,\"queues_error\":");
		json_string(q->err);
		return;
	}
	printf(",\"queues\":[");
	for (r = 0; r < q->nrows; r++) {
		printf("%s{", r ? "," : "");
		for (c = 0; c < q->ncols; c++) {
			if (c)
				putchar(',');
			json_string(q->cols[c]);
			putchar(':');
			if (is_uint(q->rows[r][c]))
				fputs(q->rows[r][c], stdout);
			else
				json_string(q->rows[r][c]);
		}
		putchar('}');
	}
	putchar(']');
}

static void text_stats(const struct opts *o, const struct source *src,
		       const struct hsema_stats *st)
{
	char nbuf[32];
	size_t i, r;
	__u64 v;

	printf("hsema module-wide counters, since load (from %s):\n",
	       src->fd >= 0 ? o->device : o->debugfs);
	for (i = 0; i < NR_FIELDS; i++) {
		if (!field_shown(st, i))
			continue;
		v = field_value(st, i);
		printf("  %-19s %12llu  ", field_name(i, nbuf),
		       (unsigned long long)v);
		r = i - NR_SCALARS;
		if (i < NR_SCALARS)
			fputs(scalars[i].desc, stdout);
		else
			printf("yields refused: %s",
			       refusals[r].desc ? refusals[r].desc : "(unknown reason)");
		if (field_is_gauge(i) && v)
			printf(" (%.3f ms)", v / 1e6);
		putchar('\n');
	}
}

static void text_queues(const struct opts *o, const struct queues *q)
{
	size_t r, c, *w;

	if (q->err[0]) {
		printf("per-key queues: not available: %s\n", q->err);
		return;
	}
	if (!q->nrows) {
		printf("per-key queues (%s/queues): no key has waiters\n",
		       o->debugfs);
		return;
	}
	printf("per-key queues (%s/queues): %zu key%s with waiters\n",
	       o->debugfs, q->nrows, q->nrows == 1 ? "" : "s");
	w = calloc(q->ncols, sizeof(*w));
	if (!w)
		return;
	for (c = 0; c < q->ncols; c++) {
		w[c] = strlen(q->cols[c]);
		for (r = 0; r < q->nrows; r++)
			if (strlen(q->rows[r][c]) > w[c])
				w[c] = strlen(q->rows[r][c]);
	}
	/* The key left-aligned, the numbers right-aligned. */
	for (c = 0; c < q->ncols; c++)
		printf("%s%*s", c ? " " : "", c ? (int)w[c] : -(int)w[c],
		       q->cols[c]);
	putchar('\n');
	for (r = 0; r < q->nrows; r++) {
		for (c = 0; c < q->ncols; c++)
			printf("%s%*s", c ? " " : "",
			       c ? (int)w[c] : -(int)w[c], q->rows[r][c]);
		putchar('\n');
	}
	free(w);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* A snapshot: one-shot output, or interval 0 of watch mode. */
static int snapshot(const struct opts *o, struct source *src,
		    struct hsema_stats *st, bool watch)
{
	struct queues q;

	if (read_stats(o, src, st) || read_queues(o, &q))
		return -1;
	if (o->json) {
		printf("{");
		if (watch)
			printf("\"interval\":0,");
		printf("\"source\":\"%s\",", src->name);
		json_stats("stats", st);
		json_queues(&q);
		printf("}\n");
	} else if (watch) {
		printf(PROG ": every %.3f s, ", o->interval_ns / 1e9);
		if (o->count)
			printf("%lu interval%s", o->count, o->count == 1 ? "" : "s");
		else
			printf("until interrupted");
		printf(" (counters from %s)\n", src->name);
	} else {
		text_stats(o, src, st);
		putchar('\n');
		text_queues(o, &q);
	}
	free_queues(&q);
	return 0;
}

static void json_interval(const struct hsema_stats *prev,
			  const struct hsema_stats *cur, unsigned long n,
			  double secs, const struct queues *q)
{
	char nbuf[32];
	size_t i;
	int pass;
	bool first;

	printf("{\"interval\":%lu,\"seconds\":%.6f,", n, secs);
	json_stats("stats", cur);
	for (pass = 0; pass < 2; pass++) {
		printf(",\"%s\":{", pass ? "rates" : "deltas");
		first = true;
		for (i = 0; i < NR_FIELDS; i++) {
			__u64 d = field_value(cur, i) - field_value(prev, i);

			if (field_is_gauge(i) || !field_shown(cur, i))
				continue;
			printf("%s\"%s\":", first ? "" : ",", field_name(i, nbuf));
			if (pass)
				printf("%.3f", d / secs);
			else
				printf("%llu", (unsigned long long)d);
			first = false;
		}
		putchar('}');
	}
	json_queues(q);
	printf("}\n");
}

static void text_interval(const struct opts *o, const struct hsema_stats *prev,
			  const struct hsema_stats *cur, unsigned long n,
			  double secs, const struct queues *q)
{
	char nbuf[32];
	size_t i;

	printf("--- interval %lu: %.3f s ---\n", n, secs);
	printf("  %-19s %12s %12s\n", "counter", "delta", "rate/s");
	for (i = 0; i < NR_FIELDS; i++) {
		__u64 d = field_value(cur, i) - field_value(prev, i);

		if (field_is_gauge(i) || !field_shown(cur, i))
			continue;
		printf("  %-19s %12llu %12.1f\n", field_name(i, nbuf),
		       (unsigned long long)d, d / secs);
	}
	for (i = 0; i < NR_SCALARS; i++)
		if (field_is_gauge(i))
			printf("  %-19s %12llu  (since load)\n", scalars[i].name,
			       (unsigned long long)field_value(cur, i));
	text_queues(o, q);
}

static int watch(const struct opts *o, struct source *src)
{
	struct hsema_stats prev, cur;
	int64_t t_prev, t_cur, next;
	struct queues q;
	unsigned long n;

	t_prev = next = now_ns();
	if (snapshot(o, src, &prev, true))
		return -1;
	fflush(stdout);
	for (n = 1; !o->count || n <= o->count; n++) {
		/* Absolute deadlines: the intervals do not drift. */
		next += o->interval_ns;
		sleep_until(next);
		t_cur = now_ns();
		if (read_stats(o, src, &cur) || read_queues(o, &q))
			return -1;
		if (o->json)
			json_interval(&prev, &cur, n, (t_cur - t_prev) / 1e9, &q);
		else
			text_interval(o, &prev, &cur, n, (t_cur - t_prev) / 1e9, &q);
		free_queues(&q);
		fflush(stdout);
		prev = cur;
		t_prev = t_cur;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.device = HSEMA_DEVICE,
		.debugfs = DEBUGFS_DIR,
	};
	struct hsema_stats st;
	struct source src;
	char *end;
	double secs;
	int opt, ret;

	while ((opt = getopt(argc, argv, "d:D:jw:n:h")) != -1) {
		switch (opt) {
		case 'd':
			o.device = optarg;
			break;
		case 'D':
			o.debugfs = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'w':
			errno = 0;
			secs = strtod(optarg, &end);
			/* Also rejects NaN, which fails every comparison. */
			if (errno || end == optarg || *end ||
			    !(secs >= 0.001 && secs <= 86400))
				bad_usage("-w %s: want seconds, 0.001 to 86400",
					  optarg);
			o.interval_ns = (int64_t)(secs * 1e9 + 0.5);
			break;
		case 'n':
			errno = 0;
			o.count = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    !o.count)
				bad_usage("-n %s: want a count of at least 1",
					  optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			bad_usage(NULL, NULL);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument: %s", argv[optind]);
	if (o.count && !o.interval_ns)
		o.interval_ns = 1000000000;

	open_source(&o, &src);
	if (o.interval_ns)
		ret = watch(&o, &src);
	else
		ret = snapshot(&o, &src, &st, false);
	if (src.fd >= 0)
		close(src.fd);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, PROG ": writing the output: %s\n", strerror(errno));
		return 1;
	}
	return ret ? 1 : 0;
}
