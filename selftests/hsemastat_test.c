// SPDX-License-Identifier: GPL-2.0-only
/*
 * hsemastat, the statistics tool in tools/, run against the live module:
 * its text and JSON tables equal HSEMA_IOC_STATS field by field, and move
 * by exactly the timeouts a test causes; the debugfs fallback reads the
 * same values; a queued waiter's key appears in the per-key table while it
 * waits and not after; an unreadable debugfs is reported without losing
 * the module-wide table; watch mode prints the asked number of intervals
 * with consistent deltas and rates; no module and bad options exit 2.
 *
 * The tool is built next to this test (selftests/Makefile); HSEMASTAT in
 * the environment overrides its path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

#define DEBUGFS		"/sys/kernel/debug/hsema"
#define NR_TIMEOUTS	3
#define MAX_ARGS	16

/* struct hsema_stats as the tool names it (Documentation/hsema.rst). */
static const struct {
	const char *name;
	size_t off;
	bool counter;		/* has deltas in watch mode */
} fields[] = {
#define C(n) { #n, offsetof(struct hsema_stats, n), true }
#define R(n, r) { "refused_" #n, offsetof(struct hsema_stats, refused[r]), true }
	C(waits), C(slow_acquires), C(wakes), C(grants), C(requeues),
	C(handoffs), C(yields), C(starve_enter), C(starve_exit), C(timeouts),
	C(interrupts), C(passed_on), C(spin_wakes), C(spin_grants),
	C(woken_spins),
	{ "max_wait_ns", offsetof(struct hsema_stats, max_wait_ns), false },
	R(nmi, HSEMA_REFUSE_NMI), R(hardirq, HSEMA_REFUSE_HARDIRQ),
	R(softirq, HSEMA_REFUSE_SOFTIRQ), R(irqs_off, HSEMA_REFUSE_IRQS_OFF),
	R(preempt_off, HSEMA_REFUSE_PREEMPT_OFF), R(rcu, HSEMA_REFUSE_RCU),
	R(migrate_off, HSEMA_REFUSE_MIGRATE_OFF),
#undef C
#undef R
};
#define NR_FIELDS	(sizeof(fields) / sizeof(fields[0]))

static __u64 field(const struct hsema_stats *st, size_t i)
{
	return *(const __u64 *)((const char *)st + fields[i].off);
}

static size_t field_index(const char *name)
{
	size_t i;

	for (i = 0; i < NR_FIELDS && strcmp(fields[i].name, name); i++)
		;
	return i;
}

/* The tool: $HSEMASTAT, else "hsemastat" next to this test's binary. */
static const char *tool_path(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("HSEMASTAT");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", path, sizeof(path) - sizeof("hsemastat"));
	if (n <= 0)
		return "hsemastat";
	path[n] = '\0';
	slash = strrchr(path, '/');
	strcpy(slash ? slash + 1 : path, "hsemastat");
	return path;
}

struct run {
	char *out;		/* stdout, NUL-terminated */
	char *err;		/* stderr */
	int status;		/* exit status, or -1 if killed or not run */
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static void build_argv(const char **argv, const char *first, va_list ap)
{
	const char *a;
	int n = 0;

	argv[n++] = tool_path();
	for (a = first; a && n < MAX_ARGS - 1; a = va_arg(ap, const char *))
		argv[n++] = a;
	argv[n] = NULL;
}

/* Start the tool with stdout (and stderr, if @errfd) piped back. */
static pid_t spawn(const char **argv, int *outfd, int *errfd)
{
	int po[2], pe[2] = { -1, -1 };
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) || (errfd && pipe2(pe, O_CLOEXEC)))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(po[1], 1);
		if (errfd)
			dup2(pe[1], 2);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(po[1]);
	*outfd = po[0];
	if (errfd) {
		close(pe[1]);
		*errfd = pe[0];
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Append what is readable on @fd to *@buf; false at EOF. */
static bool drain(int fd, char **buf, size_t *len)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, chunk, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

/* Run the tool with the given arguments (NULL-terminated) to completion. */
static void run_tool(struct run *r, const char *first, ...)
{
	const char *argv[MAX_ARGS];
	size_t olen = 0, elen = 0;
	struct pollfd pfd[2];
	int ofd, efd, open_fds;
	va_list ap;
	pid_t pid;

	va_start(ap, first);
	build_argv(argv, first, ap);
	va_end(ap);
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	r->status = -1;
	pid = spawn(argv, &ofd, &efd);
	if (pid < 0)
		return;
	pfd[0] = (struct pollfd){ .fd = ofd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = efd, .events = POLLIN };
	/* Both at once: a full stderr pipe must not block the tool. */
	for (open_fds = 2; open_fds;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[0].revents && !drain(ofd, &r->out, &olen)) {
			pfd[0].fd = -1;
			open_fds--;
		}
		if (pfd[1].revents && !drain(efd, &r->err, &elen)) {
			pfd[1].fd = -1;
			open_fds--;
		}
	}
	close(ofd);
	close(efd);
	r->status = wait_status(pid);
}

/*
 * A minimal JSON checker: json_value() returns the end of the value at
 * @p, or NULL if it is not well-formed.
 */
static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string_end(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if (!*p || (unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\')
			continue;
		p++;
		if (*p == 'u') {
			if (strspn(p + 1, "0123456789abcdefABCDEF") < 4)
				return NULL;
			p += 4;
		} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
			return NULL;
		}
	}
	return p + 1;
}

static const char *json_number_end(const char *p)
{
	const char *d;

	if (*p == '-')
		p++;
	d = p;
	p += strspn(p, "0123456789");
	if (p == d || (*d == '0' && p - d > 1))
		return NULL;
	if (*p == '.') {
		d = ++p;
		p += strspn(p, "0123456789");
		if (p == d)
			return NULL;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		d = p;
		p += strspn(p, "0123456789");
		if (p == d)
			return NULL;
	}
	return p;
}

static const char *json_value(const char *p)
{
	bool obj;
	char close;

	p = ws(p);
	if (*p == '"')
		return json_string_end(p);
	if (*p == '-' || (*p >= '0' && *p <= '9'))
		return json_number_end(p);
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (*p != '{' && *p != '[')
		return NULL;
	obj = *p == '{';
	close = obj ? '}' : ']';
	p = ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (obj) {
			p = json_string_end(ws(p));
			if (!p)
				return NULL;
			p = ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p);
		if (!p)
			return NULL;
		p = ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

/* One whole JSON text, and nothing but white space after it. */
static bool json_valid(const char *s)
{
	const char *end = json_value(s);

	return end && !*ws(end);
}

/* The value of member @key of the (valid) object at @obj, or NULL. */
static const char *json_member(const char *obj, const char *key)
{
	size_t klen = strlen(key);
	const char *p, *k;

	if (!obj)
		return NULL;
	p = ws(obj);
	if (*p != '{')
		return NULL;
	p = ws(p + 1);
	while (*p == '"') {
		k = p + 1;
		p = ws(json_string_end(p));
		p = ws(p + 1);		/* past ':' */
		if (!strncmp(k, key, klen) && k[klen] == '"')
			return p;
		p = ws(json_value(p));
		if (*p == ',')
			p = ws(p + 1);
	}
	return NULL;
}

/* A member that is a non-negative integer. */
static bool json_u64(const char *obj, const char *key, uint64_t *v)
{
	const char *p = json_member(obj, key);
	char *end;

	if (!p || *p < '0' || *p > '9')
		return false;
	*v = strtoull(p, &end, 10);
	return *end != '.' && *end != 'e' && *end != 'E';
}

static bool json_double(const char *obj, const char *key, double *v)
{
	const char *p = json_member(obj, key);
	char *end;

	if (!p || ((*p < '0' || *p > '9') && *p != '-'))
		return false;
	*v = strtod(p, &end);
	return end != p;
}

/* The number of members of the (valid) object at @obj. */
static int json_nr_members(const char *obj)
{
	const char *p;
	int n = 0;

	if (!obj)
		return -1;
	p = ws(obj);
	if (*p != '{')
		return -1;
	p = ws(p + 1);
	while (*p == '"') {
		n++;
		p = ws(json_string_end(p));
		p = ws(json_value(p + 1));
		if (*p == ',')
			p = ws(p + 1);
	}
	return n;
}

/* Walk the elements of the (valid) array at @arr: NULL after the last. */
static const char *json_array_first(const char *arr)
{
	const char *p;

	if (!arr)
		return NULL;
	p = ws(arr);
	if (*p != '[')
		return NULL;
	p = ws(p + 1);
	return *p == ']' ? NULL : p;
}

static const char *json_array_next(const char *elem)
{
	const char *p = ws(json_value(elem));

	return *p == ',' ? ws(p + 1) : NULL;
}

/* A JSON string member equal to @want. */
static bool json_str_is(const char *obj, const char *key, const char *want)
{
	const char *p = json_member(obj, key);
	size_t n = strlen(want);

	return p && *p == '"' && !strncmp(p + 1, want, n) && p[n + 1] == '"';
}

/* The queue object whose key ends in ":<hex uaddr>", or NULL. */
static const char *json_find_queue(const char *root, const char *suffix,
				   char *key, size_t keysz)
{
	const char *q, *k, *end;
	size_t slen = strlen(suffix);

	for (q = json_array_first(json_member(root, "queues")); q;
	     q = json_array_next(q)) {
		k = json_member(q, "key");
		if (!k || *k != '"')
			continue;
		end = json_string_end(k) - 1;
		if ((size_t)(end - k - 1) >= slen &&
		    !strncmp(end - slen, suffix, slen)) {
			snprintf(key, keysz, "%.*s", (int)(end - k - 1), k + 1);
			return q;
		}
	}
	return NULL;
}

/* The number after @name at the start of a line ("  name value ..."). */
static bool text_u64(const char *out, const char *name, uint64_t *v)
{
	size_t n = strlen(name);
	const char *line;

	for (line = out; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *p = ws(line);

		if (!strncmp(p, name, n) && p[n] == ' ')
			return sscanf(p + n, "%" SCNu64, v) == 1;
	}
	return false;
}

static int count_lines_starting(const char *out, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *line;
	int cnt = 0;

	for (line = out; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (!strncmp(line, prefix, n))
			cnt++;
	return cnt;
}

/*
 * The first line of @out that contains @s (that starts with it, if
 * @at_start), copied into @buf; false if none.
 */
static bool find_line(const char *out, const char *s, bool at_start,
		      char *buf, size_t sz)
{
	const char *line, *end;

	for (line = out; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if (at_start ? !strncmp(line, s, strlen(s)) :
		    (memmem(line, end - line, s, strlen(s)) != NULL)) {
			snprintf(buf, sz, "%.*s", (int)(end - line), line);
			return true;
		}
	}
	return false;
}

/* Field @idx (from 0) of a blank-separated line. */
static bool nth_token(const char *line, int idx, char *tok, size_t sz)
{
	const char *p = line;
	size_t n;

	for (;;) {
		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (!n)
			return false;
		if (!idx--) {
			snprintf(tok, sz, "%.*s", (int)n, p);
			return true;
		}
		p += n;
	}
}

/* Which blank-separated field of @line is @tok; -1 if none. */
static int token_index(const char *line, const char *tok)
{
	char t[64];
	int i;

	for (i = 0; nth_token(line, i, t, sizeof(t)); i++)
		if (!strcmp(t, tok))
			return i;
	return -1;
}

FIXTURE(stat) {
	int fd;
	sema_t s;
	struct run r;
};

FIXTURE_SETUP(stat)
{
	memset(&self->r, 0, sizeof(self->r));
	self->fd = hsema_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %m", HSEMA_DEVICE);
	ASSERT_EQ(0, access(tool_path(), X_OK))
		TH_LOG("%s: %m (build it with make selftests)", tool_path());
	ASSERT_EQ(0, sema_init(&self->s, 0, 0));
	ASSERT_EQ(0, sema_set_starve_threshold(&self->s, HSEMA_NO_STARVE_US));
}

FIXTURE_TEARDOWN(stat)
{
	run_free(&self->r);
	if (self->fd >= 0)
		close(self->fd);
}

/* @n timed waits that each time out after 10 ms; 0 or the first error. */
static int cause_timeouts(sema_t *s, int n)
{
	struct timespec dl;
	int ret;

	while (n--) {
		dl = deadline_in(CLOCK_MONOTONIC, 10000000LL);
		ret = sema_timedacquire(s, &dl, CLOCK_MONOTONIC);
		if (ret != -ETIMEDOUT)
			return ret ? ret : -EBUSY;
	}
	return 0;
}

/*
 * Nobody else uses hsema during these tests: the counters only move when
 * the test moves them, so the tool's output taken between two equal
 * ioctl snapshots must equal them exactly.
 */
#define RUN_BETWEEN_SNAPSHOTS(st, ...) do {				\
	struct hsema_stats __after;					\
									\
	ASSERT_EQ(0, hsema_stats(self->fd, &(st)));			\
	run_free(&self->r);						\
	run_tool(&self->r, __VA_ARGS__);				\
	ASSERT_EQ(0, hsema_stats(self->fd, &__after));			\
	ASSERT_EQ(0, memcmp(&(st), &__after, sizeof(__after)))		\
		TH_LOG("counters moved while idle: is something else using hsema?"); \
	ASSERT_EQ(0, self->r.status) TH_LOG("stderr: %s", self->r.err);	\
} while (0)

/*
 * The text table equals the ioctl field by field, and its timeouts line
 * goes up by exactly the timeouts caused in between.
 */
TEST_F(stat, text_counts_timeouts)
{
	uint64_t before, after, v;
	struct hsema_stats st;
	size_t i;

	RUN_BETWEEN_SNAPSHOTS(st, NULL);
	EXPECT_NE(NULL, strstr(self->r.out, "module-wide"));
	for (i = 0; i < NR_FIELDS; i++) {
		ASSERT_TRUE(text_u64(self->r.out, fields[i].name, &v))
			TH_LOG("no %s line in:\n%s", fields[i].name, self->r.out);
		EXPECT_EQ(field(&st, i), v) TH_LOG("%s", fields[i].name);
	}
	ASSERT_TRUE(text_u64(self->r.out, "timeouts", &before));

	ASSERT_EQ(0, cause_timeouts(&self->s, NR_TIMEOUTS));

	RUN_BETWEEN_SNAPSHOTS(st, NULL);
	for (i = 0; i < NR_FIELDS; i++) {
		ASSERT_TRUE(text_u64(self->r.out, fields[i].name, &v));
		EXPECT_EQ(field(&st, i), v) TH_LOG("%s", fields[i].name);
	}
	ASSERT_TRUE(text_u64(self->r.out, "timeouts", &after));
	EXPECT_EQ(NR_TIMEOUTS, after - before);
}

/* Check a one-shot JSON object against an ioctl snapshot. */
static void check_json_stats(struct __test_metadata *_metadata,
			     const char *out, const struct hsema_stats *st,
			     const char *source)
{
	const char *stats, *queues;
	uint64_t v;
	size_t i;

	ASSERT_TRUE(json_valid(out)) TH_LOG("not JSON: %s", out);
	EXPECT_TRUE(json_str_is(out, "source", source)) TH_LOG("%s", out);
	stats = json_member(out, "stats");
	ASSERT_NE(NULL, stats);
	ASSERT_EQ('{', *stats);
	/* The known counters, and nothing else while no new refusal counts. */
	EXPECT_EQ(NR_FIELDS, json_nr_members(stats));
	for (i = 0; i < NR_FIELDS; i++) {
		EXPECT_TRUE(json_u64(stats, fields[i].name, &v))
			TH_LOG("%s missing or not a number", fields[i].name);
		EXPECT_EQ(field(st, i), v) TH_LOG("%s", fields[i].name);
	}
	queues = json_member(out, "queues");
	ASSERT_NE(NULL, queues);
	if (*queues == 'n') {
		const char *e = json_member(out, "queues_error");

		EXPECT_TRUE(e && *e == '"');
	} else {
		EXPECT_EQ('[', *queues);
	}
}

/* -j: well-formed, every counter present and equal to the ioctl's. */
TEST_F(stat, json_matches_ioctl)
{
	struct hsema_stats st;

	/* Non-zero counters first, so that equality means something. */
	ASSERT_EQ(0, cause_timeouts(&self->s, 1));
	RUN_BETWEEN_SNAPSHOTS(st, "-j", NULL);
	ASSERT_NE(0, st.timeouts);
	check_json_stats(_metadata, self->r.out, &st, "ioctl");
	EXPECT_EQ(1, count_lines_starting(self->r.out, "{"));
}

/* A device without HSEMA_IOC_STATS: the same counters from debugfs. */
TEST_F(stat, debugfs_fallback)
{
	struct hsema_stats st;

	if (access(DEBUGFS "/stats", R_OK))
		SKIP(return, DEBUGFS "/stats: %m");
	ASSERT_EQ(0, cause_timeouts(&self->s, 1));
	RUN_BETWEEN_SNAPSHOTS(st, "-j", "-d", "/dev/null", NULL);
	check_json_stats(_metadata, self->r.out, &st, "debugfs");
}

/*
 * The per-key table lists a key while a waiter is queued on it, with one
 * waiter, and forgets it once the waiter has its unit.
 */
TEST_F(stat, queues_show_waiter)
{
	char suffix[32], key[128] = "", line[1024], tok[64];
	const char *q;
	struct waiter w;
	uint64_t v;
	int col;

	if (access(DEBUGFS "/queues", R_OK))
		SKIP(return, DEBUGFS "/queues: %m");
	snprintf(suffix, sizeof(suffix), ":%llx",
		 (unsigned long long)hsema_uaddr(&self->s));

	run_tool(&self->r, "-j", NULL);
	ASSERT_EQ(0, self->r.status);
	ASSERT_TRUE(json_valid(self->r.out));
	ASSERT_EQ(NULL, json_find_queue(self->r.out, suffix, key, sizeof(key)));

	waiter_init(&w, &self->s, 0, NULL);
	ASSERT_EQ(0, waiter_start(&w));
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 1, NULL));

	run_free(&self->r);
	run_tool(&self->r, "-j", NULL);
	EXPECT_EQ(0, self->r.status);
	EXPECT_TRUE(json_valid(self->r.out)) TH_LOG("%s", self->r.out);
	q = json_find_queue(self->r.out, suffix, key, sizeof(key));
	EXPECT_NE(NULL, q) TH_LOG("no key *%s in %s", suffix, self->r.out);
	if (q) {
		EXPECT_TRUE(json_u64(q, "waiters", &v));
		EXPECT_EQ(1, v);
		EXPECT_TRUE(json_u64(q, "shared", &v));
		EXPECT_EQ(0, v);
		EXPECT_TRUE(json_u64(q, "woken", &v));
		EXPECT_EQ(0, v);
		/* The queue's own counters start with its first waiter. */
		EXPECT_TRUE(json_u64(q, "waits", &v));
		EXPECT_EQ(1, v);
	}

	run_free(&self->r);
	run_tool(&self->r, NULL);
	EXPECT_EQ(0, self->r.status);
	/* The column under "waiters" of the header reads 1 on the key's line. */
	EXPECT_TRUE(find_line(self->r.out, "key ", true, line, sizeof(line)))
		TH_LOG("no header line in:\n%s", self->r.out);
	col = token_index(line, "waiters");
	EXPECT_LE(0, col) TH_LOG("header: %s", line);
	if (q && col >= 0) {
		ASSERT_TRUE(find_line(self->r.out, key, true, line, sizeof(line)))
			TH_LOG("no line for %s in:\n%s", key, self->r.out);
		ASSERT_TRUE(nth_token(line, col, tok, sizeof(tok)));
		EXPECT_STREQ("1", tok) TH_LOG("line: %s", line);
	}

	ASSERT_EQ(0, sema_release(&self->s));
	ASSERT_EQ(0, waiter_wait_done(&w));
	waiter_join(&w);
	EXPECT_EQ(0, w.ret);
	ASSERT_EQ(0, hsema_wait_queued(self->fd, &self->s, 0, 0, NULL));

	run_free(&self->r);
	run_tool(&self->r, "-j", NULL);
	EXPECT_EQ(0, self->r.status);
	EXPECT_TRUE(json_valid(self->r.out));
	EXPECT_EQ(NULL, json_find_queue(self->r.out, suffix, key, sizeof(key)));
	run_free(&self->r);
	run_tool(&self->r, NULL);
	EXPECT_EQ(0, self->r.status);
	if (key[0])
		EXPECT_EQ(NULL, strstr(self->r.out, key));
}

/* No debugfs: said so, and the module-wide table is still there. */
TEST_F(stat, queues_unavailable)
{
	const char *dir = "/nonexistent-hsemastat-test";
	const char *e;
	uint64_t v;

	run_tool(&self->r, "-D", dir, NULL);
	ASSERT_EQ(0, self->r.status) TH_LOG("stderr: %s", self->r.err);
	EXPECT_TRUE(text_u64(self->r.out, "timeouts", &v));
	EXPECT_NE(NULL, strstr(self->r.out, "per-key queues: not available"))
		TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "/nonexistent-hsemastat-test/queues"));

	run_free(&self->r);
	run_tool(&self->r, "-j", "-D", dir, NULL);
	ASSERT_EQ(0, self->r.status);
	ASSERT_TRUE(json_valid(self->r.out)) TH_LOG("%s", self->r.out);
	EXPECT_TRUE(json_u64(json_member(self->r.out, "stats"), "timeouts", &v));
	e = json_member(self->r.out, "queues");
	ASSERT_NE(NULL, e);
	EXPECT_EQ(0, strncmp(e, "null", 4));
	e = json_member(self->r.out, "queues_error");
	ASSERT_NE(NULL, e);
	EXPECT_EQ('"', *e);
	EXPECT_NE(NULL, strstr(e, dir));
}

/*
 * -j -w 0.5 -n 2: interval 0 then two intervals, then the end.  Timeouts
 * caused after interval 0 appeared show up in the deltas, which agree with
 * the absolute values and with the rates.
 */
TEST_F(stat, watch_json_two_intervals)
{
	const char *argv[] = { tool_path(), "-j", "-w", "0.5", "-n", "2", NULL };
	uint64_t prev[NR_FIELDS], cur, d, sum = 0;
	size_t t_idx = field_index("timeouts");
	int64_t t_fork, t_done;
	char *line = NULL;
	size_t cap = 0, i;
	struct hsema_stats end;
	const char *stats, *deltas, *rates;
	double secs, rate;
	FILE *f;
	int fd, n;
	pid_t pid;

	t_fork = t_done = now_ns(CLOCK_MONOTONIC);
	pid = spawn(argv, &fd, NULL);
	ASSERT_LT(0, pid);
	f = fdopen(fd, "r");
	ASSERT_NE(NULL, f);

	for (n = 0; getline(&line, &cap, f) > 0; n++) {
		ASSERT_TRUE(json_valid(line)) TH_LOG("line %d: %s", n, line);
		ASSERT_TRUE(json_u64(line, "interval", &cur));
		EXPECT_EQ(n, cur);
		stats = json_member(line, "stats");
		ASSERT_NE(NULL, stats);
		if (n == 0) {
			for (i = 0; i < NR_FIELDS; i++)
				ASSERT_TRUE(json_u64(stats, fields[i].name, &prev[i]));
			/* The tool has its baseline: now cause activity. */
			ASSERT_EQ(0, cause_timeouts(&self->s, NR_TIMEOUTS));
			t_done = now_ns(CLOCK_MONOTONIC);
			continue;
		}
		ASSERT_TRUE(json_double(line, "seconds", &secs));
		EXPECT_TRUE(secs > 0.4) TH_LOG("interval %d: %f s", n, secs);
		deltas = json_member(line, "deltas");
		rates = json_member(line, "rates");
		ASSERT_NE(NULL, deltas);
		ASSERT_NE(NULL, rates);
		for (i = 0; i < NR_FIELDS; i++) {
			ASSERT_TRUE(json_u64(stats, fields[i].name, &cur));
			if (fields[i].counter) {
				ASSERT_TRUE(json_u64(deltas, fields[i].name, &d))
					TH_LOG("interval %d: %s", n, fields[i].name);
				EXPECT_EQ(cur - prev[i], d)
					TH_LOG("interval %d: %s", n, fields[i].name);
				ASSERT_TRUE(json_double(rates, fields[i].name, &rate));
				/* Printed with 3 decimals, seconds with 6. */
				EXPECT_TRUE(rate - d / secs <= 0.0011 + d * 1e-3 &&
					    d / secs - rate <= 0.0011 + d * 1e-3)
					TH_LOG("%s: rate %f, delta %llu in %f s",
					       fields[i].name, rate,
					       (unsigned long long)d, secs);
				if (i == t_idx)
					sum += d;
			} else {
				EXPECT_EQ(NULL, json_member(deltas, fields[i].name));
			}
			prev[i] = cur;
		}
	}
	fclose(f);
	free(line);
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ(3, n);
	ASSERT_EQ(0, hsema_stats(self->fd, &end));
	/* The last snapshot was taken at least 1 s after the fork. */
	if (n == 3 && t_done - t_fork >= 1000000000LL)
		SKIP(return, "too slow: the timeouts took until after the last interval");
	EXPECT_EQ(NR_TIMEOUTS, sum);
	EXPECT_EQ(end.timeouts, prev[t_idx]);
}

/* -w 0.2 -n 2 as text: a header line and exactly two interval blocks. */
TEST_F(stat, watch_text_two_intervals)
{
	run_tool(&self->r, "-w", "0.2", "-n", "2", NULL);
	ASSERT_EQ(0, self->r.status) TH_LOG("stderr: %s", self->r.err);
	EXPECT_EQ(0, strncmp(self->r.out, "hsemastat: every 0.200 s, 2 intervals", 37))
		TH_LOG("%s", self->r.out);
	EXPECT_EQ(2, count_lines_starting(self->r.out, "--- interval "));
	EXPECT_EQ(1, count_lines_starting(self->r.out, "--- interval 1:"));
	EXPECT_EQ(1, count_lines_starting(self->r.out, "--- interval 2:"));
	EXPECT_EQ(2, count_lines_starting(self->r.out, "  timeouts "));
	EXPECT_NE(NULL, strstr(self->r.out, "rate/s"));
}

/*
 * The tool's runs without a fixture of /dev/hsema, each a fork and an
 * exec: bad_options's fourteen took longer than the harness's default
 * 30 s on the debug kernel beside the other guests of make check.
 */
FIXTURE(tool) {};
FIXTURE_SETUP(tool) {}
FIXTURE_TEARDOWN(tool) {}

/* The device missing (no module): exit 2, naming the fix; no output. */
TEST_F_TIMEOUT(tool, missing_module, 300)
{
	static const char *const variants[][6] = {
		{ "-d", "/nonexistent/hsema", NULL },
		{ "-j", "-d", "/nonexistent/hsema", NULL },
		{ "-w", "1", "-n", "1", "-d", "/nonexistent/hsema" },
	};
	struct run r;
	size_t v;

	ASSERT_EQ(0, access(tool_path(), X_OK)) TH_LOG("%s: %m", tool_path());
	for (v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		const char *const *a = variants[v];

		run_tool(&r, a[0], a[1], a[2], a[3], a[4], a[5], NULL);
		EXPECT_EQ(2, r.status) TH_LOG("variant %zu", v);
		EXPECT_NE(NULL, strstr(r.err, "insmod hsema.ko"))
			TH_LOG("stderr: %s", r.err);
		EXPECT_STREQ("", r.out);
		run_free(&r);
	}
}

/* Bad options: exit 2 with the usage on stderr; -h: 0, usage on stdout. */
TEST_F_TIMEOUT(tool, bad_options, 300)
{
	static const char *const bad[][3] = {
		{ "-x" }, { "-w" }, { "-w", "0" }, { "-w", "abc" },
		{ "-w", "-1" }, { "-w", "nan" }, { "-w", "1s" }, { "-n", "0" },
		{ "-n", "2x" }, { "-n", "-1" }, { "-n" }, { "extra" },
		{ "-j", "extra" },
	};
	struct run r;
	size_t v;

	ASSERT_EQ(0, access(tool_path(), X_OK)) TH_LOG("%s: %m", tool_path());
	for (v = 0; v < sizeof(bad) / sizeof(bad[0]); v++) {
		run_tool(&r, bad[v][0], bad[v][1], bad[v][2], NULL);
		EXPECT_EQ(2, r.status) TH_LOG("%s %s", bad[v][0],
					      bad[v][1] ? bad[v][1] : "");
		EXPECT_NE(NULL, strstr(r.err, "usage:"))
			TH_LOG("%s: stderr: %s", bad[v][0], r.err);
		EXPECT_STREQ("", r.out);
		run_free(&r);
	}
	run_tool(&r, "-h", NULL);
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "usage:"));
	EXPECT_NE(NULL, strstr(r.out, "-w SECONDS"));
	run_free(&r);
}

TEST_HARNESS_MAIN
