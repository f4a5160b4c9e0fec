// SPDX-License-Identifier: GPL-2.0-only
/*
 * Replay of hsema trace events: see hsema_trace.h for what is checked.
 *
 * The model is kmod/waitwake.c's, event by event:
 *
 *  queued       compete(): the waiter took ticket last + 1 (1 when the
 *               queue had emptied: a user word's queue is freed then) and
 *               joined the tail.
 *  woken        wake_waiter(): the first waiter not yet woken, by a
 *               release, passed on by a woken waiter that left, or by a
 *               waiter that took a unit, for units left in the value
 *               that nobody claims (releases of one unit add theirs to
 *               a WOKEN word without a call).
 *  requeued     compete(): a woken waiter lost and sleeps again.
 *  granted      hsema_wake_site(): the head leaves owning a unit; waits
 *               for any ahead of it may have been passed over.
 *  acquired     compete(): a woken waiter (or, ticket 0, a newcomer that
 *               never queued) took a unit from the value; never while the
 *               queue starves, since starvation closes the value.  Wake-ups
 *               by the same task may follow at once (see woken).
 *  queued_any   as queued, for a wait for any: the task may be queued in
 *               other keys too (once in each).
 *  timedout, interrupted, faulted, withdrawn
 *               leave_queue(): the waiter leaves (withdrawn: a wait for
 *               any that got its unit elsewhere); if it had been woken,
 *               the first sleeping waiter is woken in its place; if the
 *               queue is now empty and starving, starvation ends.
 *  starvation   entered by a release (then grants follow) or right after
 *               a requeue (the loser waited too long); left after a grant,
 *               or when the queue empties.
 *  released     after the release's grants and wake-ups, from the same
 *               task, under the same lock hold, with their counts.
 *  handoff      after the lock is dropped, by the releaser, naming the
 *               first waiter it granted.
 *
 * A key's events are emitted under its lock, so they come in order and a
 * release's events are contiguous; other keys' events may interleave.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsema_trace.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define HT_HASH		1024	/* key hash buckets */
#define HT_ENDS		32	/* terminal events remembered per key */
#define HT_RECENT	8	/* event lines remembered per key */

struct ht_waiter {
	uint64_t ticket;
	int pid;
	bool woken;
	bool any;			/* a wait for any: may be passed over */
	unsigned long line;		/* where it queued */
	char text[HT_TEXT_MAX];
};

struct ht_end {
	uint64_t ticket;
	enum ht_kind kind;
	unsigned long line;
};

struct ht_recent {
	unsigned long line;
	char text[HT_TEXT_MAX];
};

struct ht_key {
	struct ht_key *next;
	uint64_t obj, off;
	struct ht_waiter *w;		/* queued waiters, in ticket order */
	size_t nw, cap;
	uint64_t last_ticket;		/* of the current queue */
	bool starving;
	enum ht_kind last_kind;
	bool seen;
	/* The release in progress: its grants and wake-ups so far. */
	unsigned int run_granted, run_woken;
	int run_task, run_first_pid;
	unsigned long run_line;
	/* What the next event of this key must be, and who said so. */
	uint64_t pass_ticket;		/* woken of this ticket */
	int restore_task;		/* may wake next: it just acquired */
	unsigned int restore_woken;	/* ... and has, so many times */
	bool must_leave;		/* starvation left */
	bool must_grant;		/* granted */
	unsigned long pending_line;
	struct ht_end ends[HT_ENDS];	/* ring of the last terminals */
	unsigned int nends;
	struct ht_recent recent[HT_RECENT];
	unsigned int nrecent;
};

/* A task that waits: for one semaphore at a time, or for any of several. */
struct ht_active {
	int pid;
	struct ht_key *key;
	uint64_t ticket;
	bool any;
};

/* A release that granted, until its handoff event. */
struct ht_releaser {
	int task;
	int pid;
	unsigned long line;
};

struct ht_replay {
	struct ht_key *hash[HT_HASH];
	struct ht_active *active;
	size_t nactive, cap_active;
	struct ht_releaser *rel;
	size_t nrel, cap_rel;
	unsigned long lineno, events, keys, max_depth, passes;
	uint64_t max_obj;
	unsigned long counts[HT_NR_KINDS];
	bool partial, failed;
	struct ht_violation v;
};

static const char *const kind_names[HT_NR_KINDS] = {
	[HT_QUEUED] = "queued",
	[HT_WOKEN] = "woken",
	[HT_REQUEUED] = "requeued",
	[HT_GRANTED] = "granted",
	[HT_ACQUIRED] = "acquired",
	[HT_TIMEDOUT] = "timedout",
	[HT_INTERRUPTED] = "interrupted",
	[HT_FAULTED] = "faulted",
	[HT_QUEUED_ANY] = "queued_any",
	[HT_WITHDRAWN] = "withdrawn",
	[HT_STARVE_ENTER] = "starvation-entered",
	[HT_STARVE_LEAVE] = "starvation-left",
	[HT_RELEASED] = "released",
	[HT_HANDOFF_YIELDED] = "handoff-yielded",
	[HT_HANDOFF_RUNNING] = "handoff-running",
	[HT_HANDOFF_REFUSED] = "handoff-refused",
};

const char *ht_kind_name(enum ht_kind kind)
{
	return kind < HT_NR_KINDS ? kind_names[kind] : "?";
}

/* ---- parsing ---- */

static const struct {
	const char *name;
	enum ht_kind kind;
} waiter_events[] = {
	{ "queued", HT_QUEUED },
	{ "woken", HT_WOKEN },
	{ "requeued", HT_REQUEUED },
	{ "granted", HT_GRANTED },
	{ "acquired", HT_ACQUIRED },
	{ "timedout", HT_TIMEDOUT },
	{ "interrupted", HT_INTERRUPTED },
	{ "faulted", HT_FAULTED },
	{ "queued_any", HT_QUEUED_ANY },
	{ "withdrawn", HT_WITHDRAWN },
};

static bool only_space(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return !*s;
}

/*
 * The emitting task: "COMM-PID" before the "[CPU]" column, maybe followed
 * by "(TGID)" (options/record-tgid).  COMM may hold spaces and dashes,
 * the PID is the digits after the last dash.
 */
static int parse_task(const char *line, const char *end, int *task)
{
	const char *p, *q, *cpu = NULL;
	long pid;

	for (p = line; p < end; p++) {
		if (*p != '[' || !isdigit((unsigned char)p[1]))
			continue;
		for (q = p + 1; q < end && isdigit((unsigned char)*q); q++)
			;
		if (q < end && *q == ']') {
			cpu = p;
			break;
		}
	}
	if (!cpu)
		return -1;
	q = cpu;
	while (q > line && isspace((unsigned char)q[-1]))
		q--;
	if (q > line && q[-1] == ')') {
		while (q > line && q[-1] != '(')
			q--;
		if (q == line)
			return -1;
		q--;
		while (q > line && isspace((unsigned char)q[-1]))
			q--;
	}
	p = q;
	while (p > line && isdigit((unsigned char)p[-1]))
		p--;
	if (p == q || p == line || p[-1] != '-')
		return -1;
	pid = strtol(p, NULL, 10);
	if (pid < 0 || pid > INT32_MAX)
		return -1;
	*task = (int)pid;
	return 0;
}

int ht_parse_line(const char *line, struct ht_event *ev, const char **why)
{
	const char *p = strstr(line, ": hsema_"), *name, *args;
	size_t len, i;
	char word[32];
	int n = -1;

	if (!p)
		return 0;
	memset(ev, 0, sizeof(*ev));
	if (parse_task(line, p, &ev->task)) {
		*why = "no TASK-PID [CPU] columns before the event";
		return -1;
	}
	name = p + strlen(": hsema_");
	args = strchr(name, ':');
	if (!args) {
		*why = "no ':' after the event name";
		return -1;
	}
	len = args - name;
	args++;

	for (i = 0; i < ARRAY_SIZE(waiter_events); i++) {
		if (strlen(waiter_events[i].name) != len ||
		    strncmp(waiter_events[i].name, name, len))
			continue;
		ev->kind = waiter_events[i].kind;
		if (sscanf(args, " key=%" SCNx64 ":%" SCNx64 " ticket=%" SCNu64
			   " depth=%" SCNu32 " pid=%d%n", &ev->obj, &ev->off,
			   &ev->ticket, &ev->depth, &ev->pid, &n) != 5 ||
		    n < 0 || !only_space(args + n)) {
			*why = "expected key=OBJ:OFF ticket=T depth=D pid=P";
			return -1;
		}
		return 1;
	}
	if (len == strlen("starvation") && !strncmp(name, "starvation", len)) {
		if (sscanf(args, " key=%" SCNx64 ":%" SCNx64 " %31s depth=%"
			   SCNu32 "%n", &ev->obj, &ev->off, word, &ev->depth,
			   &n) != 4 || n < 0 || !only_space(args + n)) {
			*why = "expected key=OBJ:OFF entered|left depth=D";
			return -1;
		}
		if (!strcmp(word, "entered")) {
			ev->kind = HT_STARVE_ENTER;
		} else if (!strcmp(word, "left")) {
			ev->kind = HT_STARVE_LEAVE;
		} else {
			*why = "starvation is neither entered nor left";
			return -1;
		}
		return 1;
	}
	if (len == strlen("released") && !strncmp(name, "released", len)) {
		ev->kind = HT_RELEASED;
		if (sscanf(args, " key=%" SCNx64 ":%" SCNx64 " n=%" SCNu32
			   " granted=%" SCNu32 " woken=%" SCNu32 " depth=%"
			   SCNu32 "%n", &ev->obj, &ev->off, &ev->n,
			   &ev->granted, &ev->woken, &ev->depth, &n) != 6 ||
		    n < 0 || !only_space(args + n)) {
			*why = "expected key=OBJ:OFF n=N granted=G woken=W depth=D";
			return -1;
		}
		return 1;
	}
	if (len == strlen("handoff") && !strncmp(name, "handoff", len)) {
		if (sscanf(args, " pid=%d %31s%n", &ev->pid, word, &n) != 2 ||
		    n < 0 || !only_space(args + n)) {
			*why = "expected pid=P yielded|running|refused:REASON";
			return -1;
		}
		if (!strcmp(word, "yielded")) {
			ev->kind = HT_HANDOFF_YIELDED;
		} else if (!strcmp(word, "running")) {
			ev->kind = HT_HANDOFF_RUNNING;
		} else if (!strncmp(word, "refused:", 8) && word[8]) {
			ev->kind = HT_HANDOFF_REFUSED;
			snprintf(ev->reason, sizeof(ev->reason), "%s", word + 8);
		} else {
			*why = "handoff is neither yielded, running nor refused:REASON";
			return -1;
		}
		return 1;
	}
	*why = "unknown hsema event (update the checker?)";
	return -1;
}

/* ---- state ---- */

struct ht_replay *ht_replay_new(void)
{
	return calloc(1, sizeof(struct ht_replay));
}

void ht_replay_free(struct ht_replay *r)
{
	struct ht_key *k, *next;
	size_t i;

	if (!r)
		return;
	for (i = 0; i < HT_HASH; i++) {
		for (k = r->hash[i]; k; k = next) {
			next = k->next;
			free(k->w);
			free(k);
		}
	}
	free(r->active);
	free(r->rel);
	free(r);
}

void ht_replay_set_partial(struct ht_replay *r, bool partial)
{
	r->partial = partial;
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 8;
	void *q;

	if (need <= *cap)
		return p;
	while (n < need)
		n *= 2;
	q = realloc(p, n * size);
	if (!q) {
		perror("hsema_trace");
		abort();
	}
	*cap = n;
	return q;
}

static struct ht_key *key_get(struct ht_replay *r, uint64_t obj, uint64_t off)
{
	size_t h = (size_t)((obj ^ (off * 0x9e3779b97f4a7c15ULL)) >> 7) % HT_HASH;
	struct ht_key *k;

	for (k = r->hash[h]; k; k = k->next)
		if (k->obj == obj && k->off == off)
			return k;
	k = calloc(1, sizeof(*k));
	if (!k) {
		perror("hsema_trace");
		abort();
	}
	k->obj = obj;
	k->off = off;
	k->next = r->hash[h];
	r->hash[h] = k;
	r->keys++;
	if (obj > r->max_obj)
		r->max_obj = obj;
	return k;
}

static struct ht_waiter *find_waiter(struct ht_key *k, uint64_t ticket)
{
	size_t i;

	for (i = 0; i < k->nw; i++)
		if (k->w[i].ticket == ticket)
			return &k->w[i];
	return NULL;
}

static struct ht_waiter *first_sleeping(struct ht_key *k)
{
	size_t i;

	for (i = 0; i < k->nw; i++)
		if (!k->w[i].woken)
			return &k->w[i];
	return NULL;
}

/* @pid's wait in @k, or (@k NULL) its wait for one semaphore or any. */
static struct ht_active *find_active(struct ht_replay *r, int pid,
				     const struct ht_key *k)
{
	size_t i;

	for (i = 0; i < r->nactive; i++)
		if (r->active[i].pid == pid && (!k || r->active[i].key == k))
			return &r->active[i];
	return NULL;
}

/* @pid's wait for one semaphore, if it has one. */
static struct ht_active *find_single(struct ht_replay *r, int pid)
{
	size_t i;

	for (i = 0; i < r->nactive; i++)
		if (r->active[i].pid == pid && !r->active[i].any)
			return &r->active[i];
	return NULL;
}

/*
 * Whether @w is the first sleeper of @k but for waits for any: a wake-up
 * passes over those that own their unit elsewhere, which the trace cannot
 * tell from the others.
 */
static bool next_to_wake(const struct ht_key *k, const struct ht_waiter *w)
{
	size_t i;

	for (i = 0; i < (size_t)(w - k->w); i++)
		if (!k->w[i].woken && !k->w[i].any)
			return false;
	return !w->woken;
}

/* Whether every waiter of @k before @w (all of them: @w NULL) waits for any. */
static bool only_any_before(const struct ht_key *k, const struct ht_waiter *w)
{
	size_t i, n = w ? (size_t)(w - k->w) : k->nw;

	for (i = 0; i < n; i++)
		if (!k->w[i].any)
			return false;
	return true;
}

static struct ht_releaser *find_releaser(struct ht_replay *r, int task)
{
	size_t i;

	for (i = 0; i < r->nrel; i++)
		if (r->rel[i].task == task)
			return &r->rel[i];
	return NULL;
}

static void drop_releaser(struct ht_replay *r, struct ht_releaser *rel)
{
	*rel = r->rel[--r->nrel];
}

static const struct ht_end *find_end(const struct ht_key *k, uint64_t ticket)
{
	unsigned int i, n = k->nends < HT_ENDS ? k->nends : HT_ENDS;

	for (i = 0; i < n; i++) {
		const struct ht_end *e = &k->ends[(k->nends - 1 - i) % HT_ENDS];

		if (e->ticket == ticket)
			return e;
	}
	return NULL;
}

static void copy_text(char *dst, const char *src)
{
	size_t n = strcspn(src, "\n");

	if (n >= HT_TEXT_MAX)
		n = HT_TEXT_MAX - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void key_name(const struct ht_key *k, char *buf, size_t size)
{
	snprintf(buf, size, "%" PRIx64 ":%" PRIx64, k->obj, k->off);
}

/* The replayed queue of @k and its last events, for the report. */
static void dump_key(const struct ht_key *k, char *buf, size_t size)
{
	size_t len = 0, i;
	unsigned int j, n;
	char name[48];

#define OUT(...) do {							\
		if (len < size)						\
			len += snprintf(buf + len, size - len, __VA_ARGS__); \
	} while (0)

	key_name(k, name, sizeof(name));
	OUT("key %s: %zu queued, %s, last ticket %" PRIu64 "\n", name, k->nw,
	    k->starving ? "starving" : "normal mode", k->last_ticket);
	for (i = 0; i < k->nw; i++)
		OUT("  ticket %" PRIu64 " pid %d %s (queued at line %lu)\n",
		    k->w[i].ticket, k->w[i].pid,
		    k->w[i].woken ? "woken" : "sleeping", k->w[i].line);
	if (k->run_granted || k->run_woken)
		OUT("  release in progress by task %d since line %lu: %u granted, %u woken\n",
		    k->run_task, k->run_line, k->run_granted, k->run_woken);
	n = k->nrecent < HT_RECENT ? k->nrecent : HT_RECENT;
	if (n)
		OUT("last events of this key before it:\n");
	for (j = k->nrecent - n; j < k->nrecent; j++)
		OUT("  %lu: %s\n", k->recent[j % HT_RECENT].line,
		    k->recent[j % HT_RECENT].text);
#undef OUT
}

static __attribute__((format(printf, 5, 6)))
int fail(struct ht_replay *r, const struct ht_key *k, unsigned long line,
	 const char *text, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return -1;
	r->failed = true;
	r->v.line = line;
	copy_text(r->v.text, text);
	va_start(ap, fmt);
	vsnprintf(r->v.msg, sizeof(r->v.msg), fmt, ap);
	va_end(ap);
	r->v.state[0] = '\0';
	if (k)
		dump_key(k, r->v.state, sizeof(r->v.state));
	return -1;
}

/* ---- the replay ---- */

#define FAIL(k, ...)	fail(r, k, r->lineno, line, __VA_ARGS__)

static bool in_release(enum ht_kind kind)
{
	return kind == HT_GRANTED || kind == HT_WOKEN ||
	       kind == HT_STARVE_ENTER || kind == HT_STARVE_LEAVE ||
	       kind == HT_RELEASED;
}

/* The waiter an event names: queued, with the same pid. */
static struct ht_waiter *named(struct ht_replay *r, struct ht_key *k,
			       const struct ht_event *ev, const char *line)
{
	const struct ht_end *e;
	struct ht_waiter *w;

	w = find_waiter(k, ev->ticket);
	if (!w) {
		e = find_end(k, ev->ticket);
		if (e)
			FAIL(k, "%s of ticket %" PRIu64 ", which already ended: %s at line %lu",
			     ht_kind_name(ev->kind), ev->ticket,
			     ht_kind_name(e->kind), e->line);
		else if (ev->ticket && ev->ticket <= k->last_ticket)
			FAIL(k, "%s of ticket %" PRIu64 ", which already left the queue",
			     ht_kind_name(ev->kind), ev->ticket);
		else
			FAIL(k, "%s of ticket %" PRIu64 ", which is not queued (not yet, or never)",
			     ht_kind_name(ev->kind), ev->ticket);
		return NULL;
	}
	if (w->pid != ev->pid) {
		FAIL(k, "%s of ticket %" PRIu64 " names pid %d, but pid %d queued with it at line %lu",
		     ht_kind_name(ev->kind), ev->ticket, ev->pid, w->pid,
		     w->line);
		return NULL;
	}
	return w;
}

static int check_depth(struct ht_replay *r, struct ht_key *k,
		       const struct ht_event *ev, const char *line)
{
	if (ev->depth != k->nw)
		return FAIL(k, "%s reports depth %" PRIu32 ", but the replayed queue holds %zu",
			    ht_kind_name(ev->kind), ev->depth, k->nw);
	return 0;
}

/* Remove @w (terminal @kind) from @k. */
static void dequeue(struct ht_replay *r, struct ht_key *k,
		    struct ht_waiter *w, enum ht_kind kind)
{
	struct ht_active *a = find_active(r, w->pid, k);
	struct ht_end *e = &k->ends[k->nends++ % HT_ENDS];
	size_t i = w - k->w;

	e->ticket = w->ticket;
	e->kind = kind;
	e->line = r->lineno;
	if (a)
		*a = r->active[--r->nactive];
	memmove(&k->w[i], &k->w[i + 1], (k->nw - i - 1) * sizeof(*w));
	k->nw--;
}

static int ev_queued(struct ht_replay *r, struct ht_key *k,
		     const struct ht_event *ev, const char *line)
{
	bool any = ev->kind == HT_QUEUED_ANY;
	struct ht_active *a;
	struct ht_waiter *w;
	char name[48];

	/* A wait for any queues once in each of its keys. */
	a = any ? find_single(r, ev->pid) : find_active(r, ev->pid, NULL);
	if (!a && any)
		a = find_active(r, ev->pid, k);
	if (a) {
		key_name(a->key, name, sizeof(name));
		return FAIL(k, "pid %d queued while it still waits as ticket %" PRIu64 " of key %s",
			    ev->pid, a->ticket, name);
	}
	if (!k->nw && ev->ticket == 1) {
		/* A new queue: tickets start over. */
		k->last_ticket = 0;
		k->nends = 0;
	}
	if (ev->ticket != k->last_ticket + 1) {
		if (k->nw)
			return FAIL(k, "queued with ticket %" PRIu64 ", but the next ticket is %" PRIu64,
				    ev->ticket, k->last_ticket + 1);
		return FAIL(k, "queued with ticket %" PRIu64 " into an empty queue: expected 1 (a new queue) or %" PRIu64,
			    ev->ticket, k->last_ticket + 1);
	}
	k->w = grow(k->w, &k->cap, k->nw + 1, sizeof(*k->w));
	w = &k->w[k->nw++];
	memset(w, 0, sizeof(*w));
	w->ticket = ev->ticket;
	w->pid = ev->pid;
	w->any = any;
	w->line = r->lineno;
	copy_text(w->text, line);
	k->last_ticket = ev->ticket;
	r->active = grow(r->active, &r->cap_active, r->nactive + 1,
			 sizeof(*r->active));
	r->active[r->nactive++] = (struct ht_active){ ev->pid, k, ev->ticket,
						      any };
	if (k->nw > r->max_depth)
		r->max_depth = k->nw;
	return check_depth(r, k, ev, line);
}

static int ev_woken(struct ht_replay *r, struct ht_key *k,
		    const struct ht_event *ev, const char *line)
{
	struct ht_waiter *w = named(r, k, ev, line), *first;

	if (!w)
		return -1;
	if (w->woken)
		return FAIL(k, "woken ticket %" PRIu64 " was already woken", w->ticket);
	first = first_sleeping(k);
	if (!next_to_wake(k, w))
		return FAIL(k, "woke ticket %" PRIu64 " before ticket %" PRIu64 ": wake-ups go in ticket order",
			    w->ticket, first->ticket);
	w->woken = true;
	if (k->pass_ticket) {
		k->pass_ticket = 0;	/* the passed wake: no release's */
		r->passes++;
	} else if (k->restore_task && k->restore_task == ev->task) {
		/* An acquirer's, for unclaimed units, or its next release's. */
		k->restore_woken++;
		r->passes++;
	} else {
		if (!k->run_granted && !k->run_woken) {
			k->run_task = ev->task;
			k->run_line = r->lineno;
		}
		k->run_woken++;
	}
	return check_depth(r, k, ev, line);
}

static int ev_requeued(struct ht_replay *r, struct ht_key *k,
		       const struct ht_event *ev, const char *line)
{
	struct ht_waiter *w = named(r, k, ev, line);

	if (!w)
		return -1;
	if (!w->woken)
		return FAIL(k, "requeued ticket %" PRIu64 " was not woken", w->ticket);
	w->woken = false;
	return check_depth(r, k, ev, line);
}

static int ev_granted(struct ht_replay *r, struct ht_key *k,
		      const struct ht_event *ev, const char *line)
{
	struct ht_waiter *w = named(r, k, ev, line);

	if (!w)
		return -1;
	if (!only_any_before(k, w))
		return FAIL(k, "granted ticket %" PRIu64 " while ticket %" PRIu64 " heads the queue: grants go in ticket order%s",
			    w->ticket, k->w[0].ticket,
			    k->starving ? " (starvation mode)" : "");
	if (!k->run_granted && !k->run_woken) {
		k->run_task = ev->task;
		k->run_line = r->lineno;
	}
	if (!k->run_granted)
		k->run_first_pid = w->pid;
	k->run_granted++;
	k->must_grant = false;
	dequeue(r, k, w, ev->kind);
	if (!k->nw && k->starving) {
		k->must_leave = true;
		k->pending_line = r->lineno;
	}
	return check_depth(r, k, ev, line);
}

static int ev_acquired(struct ht_replay *r, struct ht_key *k,
		       const struct ht_event *ev, const char *line)
{
	struct ht_active *a;
	struct ht_waiter *w;
	char name[48];

	if (k->starving)
		return FAIL(k, "ticket %" PRIu64 " took a unit from the value while the queue starves",
			    ev->ticket);
	k->restore_task = ev->task;
	if (!ev->ticket) {
		/* A newcomer that never queued (here: a wait for any may be). */
		a = find_single(r, ev->pid);
		if (a) {
			key_name(a->key, name, sizeof(name));
			return FAIL(k, "pid %d acquired as a newcomer while it waits as ticket %" PRIu64 " of key %s",
				    ev->pid, a->ticket, name);
		}
		return check_depth(r, k, ev, line);
	}
	w = named(r, k, ev, line);
	if (!w)
		return -1;
	if (!w->woken)
		return FAIL(k, "ticket %" PRIu64 " acquired without being woken", w->ticket);
	dequeue(r, k, w, ev->kind);
	return check_depth(r, k, ev, line);
}

static int ev_left(struct ht_replay *r, struct ht_key *k,
		   const struct ht_event *ev, const char *line)
{
	struct ht_waiter *w = named(r, k, ev, line), *next;
	bool was_woken;

	if (!w)
		return -1;
	was_woken = w->woken;
	dequeue(r, k, w, ev->kind);
	next = was_woken ? first_sleeping(k) : NULL;
	if (!k->nw && k->starving) {
		k->must_leave = true;
		k->pending_line = r->lineno;
	} else if (next) {
		k->pass_ticket = next->ticket;
		k->pending_line = r->lineno;
	}
	return check_depth(r, k, ev, line);
}

static int ev_starvation(struct ht_replay *r, struct ht_key *k,
			 const struct ht_event *ev, const char *line)
{
	bool after_grant = k->last_kind == HT_GRANTED;

	if (check_depth(r, k, ev, line))
		return -1;
	if (ev->kind == HT_STARVE_ENTER) {
		if (k->starving)
			return FAIL(k, "starvation entered twice");
		if (!k->nw)
			return FAIL(k, "starvation entered with no waiter queued");
		/* From compete(), right after the requeue; else a release's. */
		if (k->last_kind != HT_REQUEUED) {
			k->must_grant = true;
			k->pending_line = r->lineno;
		}
		k->starving = true;
	} else {
		if (!k->starving)
			return FAIL(k, "starvation left, but it was not entered");
		if (k->nw && !after_grant && !only_any_before(k, NULL))
			return FAIL(k, "starvation left with waiters queued, but not right after a grant");
		k->starving = false;
		k->must_leave = false;
	}
	return 0;
}

static int ev_released(struct ht_replay *r, struct ht_key *k,
		       const struct ht_event *ev, const char *line)
{
	struct ht_releaser *rel = find_releaser(r, ev->task);

	if (check_depth(r, k, ev, line))
		return -1;
	if (ev->task == k->restore_task && ev->woken > k->run_woken &&
	    ev->woken - k->run_woken <= k->restore_woken) {
		r->passes -= ev->woken - k->run_woken;
		k->run_woken = ev->woken;
	}
	k->restore_task = 0;
	k->restore_woken = 0;
	if (ev->granted != k->run_granted || ev->woken != k->run_woken)
		return FAIL(k, "released reports granted=%" PRIu32 " woken=%" PRIu32 ", but %u grants and %u wake-ups came right before it",
			    ev->granted, ev->woken, k->run_granted, k->run_woken);
	if (rel)
		drop_releaser(r, rel);
	if (k->run_granted) {
		r->rel = grow(r->rel, &r->cap_rel, r->nrel + 1, sizeof(*r->rel));
		r->rel[r->nrel++] = (struct ht_releaser){
			ev->task, k->run_first_pid, r->lineno };
	}
	k->run_granted = k->run_woken = 0;
	return 0;
}

static int ev_handoff(struct ht_replay *r, const struct ht_event *ev,
		      const char *line)
{
	struct ht_releaser *rel = find_releaser(r, ev->task);

	if (!rel)
		return FAIL(NULL, "handoff by task %d to pid %d, but that task's last release granted nothing",
			    ev->task, ev->pid);
	if (rel->pid != ev->pid)
		return FAIL(NULL, "handoff by task %d to pid %d, but its release at line %lu granted first to pid %d",
			    ev->task, ev->pid, rel->line, rel->pid);
	drop_releaser(r, rel);
	return 0;
}

static int replay_event(struct ht_replay *r, const struct ht_event *ev,
			const char *line)
{
	struct ht_recent *rc;
	struct ht_key *k;
	int ret;

	if (ev->kind >= HT_HANDOFF_YIELDED)
		return ev_handoff(r, ev, line);

	k = key_get(r, ev->obj, ev->off);
	/* What an earlier event of this key said must come next. */
	if (k->pass_ticket && !(ev->kind == HT_WOKEN &&
				find_waiter(k, ev->ticket) &&
				next_to_wake(k, find_waiter(k, ev->ticket))))
		return FAIL(k, "a woken waiter left at line %lu, but its wake did not pass to ticket %" PRIu64 " right after",
			    k->pending_line, k->pass_ticket);
	if (k->must_leave && ev->kind != HT_STARVE_LEAVE)
		return FAIL(k, "the queue emptied while starving at line %lu, but starvation did not end right after",
			    k->pending_line);
	if (k->must_grant && ev->kind != HT_GRANTED)
		return FAIL(k, "a release entered starvation at line %lu, but no grant followed",
			    k->pending_line);
	/*
	 * An acquirer's wake-ups come right after its acquired event.  If the
	 * same task releases next, the wake-ups of its release follow them
	 * at once, and only its released event tells how many were whose.
	 */
	if (ev->kind != HT_RELEASED &&
	    (ev->kind != HT_WOKEN || ev->task != k->restore_task)) {
		k->restore_task = 0;
		k->restore_woken = 0;
	}
	if ((k->run_granted || k->run_woken) && !in_release(ev->kind))
		return FAIL(k, "%u grants and %u wake-ups since line %lu, but no released event closed them",
			    k->run_granted, k->run_woken, k->run_line);
	if ((k->run_granted || k->run_woken) && ev->task != k->run_task &&
	    !(ev->kind == HT_WOKEN && k->pass_ticket))
		return FAIL(k, "%s by task %d, but the release in progress (since line %lu) is by task %d",
			    ht_kind_name(ev->kind), ev->task, k->run_line,
			    k->run_task);

	switch (ev->kind) {
	case HT_QUEUED:
	case HT_QUEUED_ANY:
		ret = ev_queued(r, k, ev, line);
		break;
	case HT_WOKEN:
		ret = ev_woken(r, k, ev, line);
		break;
	case HT_REQUEUED:
		ret = ev_requeued(r, k, ev, line);
		break;
	case HT_GRANTED:
		ret = ev_granted(r, k, ev, line);
		break;
	case HT_ACQUIRED:
		ret = ev_acquired(r, k, ev, line);
		break;
	case HT_TIMEDOUT:
	case HT_INTERRUPTED:
	case HT_FAULTED:
	case HT_WITHDRAWN:
		ret = ev_left(r, k, ev, line);
		break;
	case HT_STARVE_ENTER:
	case HT_STARVE_LEAVE:
		ret = ev_starvation(r, k, ev, line);
		break;
	case HT_RELEASED:
		ret = ev_released(r, k, ev, line);
		break;
	default:
		ret = FAIL(k, "internal: unhandled event kind %d", ev->kind);
		break;
	}
	k->last_kind = ev->kind;
	rc = &k->recent[k->nrecent++ % HT_RECENT];
	rc->line = r->lineno;
	copy_text(rc->text, line);
	return ret;
}

/* The trace itself says whether events were lost. */
static int check_loss(struct ht_replay *r, const char *line)
{
	unsigned long in_buf, written;
	const char *p;

	p = strstr(line, "entries-in-buffer/entries-written:");
	if (line[0] == '#' && p &&
	    sscanf(p, "entries-in-buffer/entries-written: %lu/%lu", &in_buf,
		   &written) == 2 && in_buf != written)
		return FAIL(NULL, "the trace lost %lu of %lu events (ring buffer overrun): enlarge buffer_size_kb",
			    written - in_buf, written);
	if (strstr(line, "CPU:") && strstr(line, "[LOST ") &&
	    strstr(line, "EVENTS]"))
		return FAIL(NULL, "the trace lost events: enlarge buffer_size_kb");
	if (!strncmp(line, "##### CPU ", 10) && strstr(line, "buffer started"))
		return FAIL(NULL, "a CPU's buffer was overwritten: events lost, enlarge buffer_size_kb");
	return 0;
}

int ht_replay_line(struct ht_replay *r, const char *line)
{
	struct ht_event ev;
	const char *why = "";
	int ret;

	r->lineno++;
	if (r->failed)
		return -1;
	if (check_loss(r, line))
		return -1;
	ret = ht_parse_line(line, &ev, &why);
	if (!ret)
		return 0;
	if (ret < 0)
		return FAIL(NULL, "malformed hsema event: %s", why);
	r->events++;
	r->counts[ev.kind]++;
	return replay_event(r, &ev, line);
}

int ht_replay_text(struct ht_replay *r, const char *text)
{
	char buf[1024];
	const char *nl;
	size_t n;

	while (*text) {
		nl = strchr(text, '\n');
		n = nl ? (size_t)(nl - text) : strlen(text);
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		memcpy(buf, text, n);
		buf[n] = '\0';
		ht_replay_line(r, buf);
		if (!nl)
			break;
		text = nl + 1;
	}
	return r->failed ? -1 : 0;
}

int ht_replay_file(struct ht_replay *r, FILE *f)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&buf, &cap, f)) >= 0) {
		if (n && buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		ht_replay_line(r, buf);
	}
	free(buf);
	if (ferror(f))
		return -2;
	return r->failed ? -1 : 0;
}

int ht_replay_finish(struct ht_replay *r)
{
	const struct ht_waiter *first = NULL;
	const struct ht_key *k, *fk = NULL;
	size_t h, i;

	if (r->failed)
		return -1;
	for (h = 0; h < HT_HASH; h++) {
		for (k = r->hash[h]; k; k = k->next) {
			if (k->pass_ticket)
				return fail(r, k, k->pending_line, "",
					    "the trace ends before the wake of the waiter that left at this line passed to ticket %" PRIu64,
					    k->pass_ticket);
			if (k->must_leave)
				return fail(r, k, k->pending_line, "",
					    "the queue emptied while starving at this line, and the trace ends without starvation left");
			if (k->must_grant)
				return fail(r, k, k->pending_line, "",
					    "a release entered starvation at this line, and the trace ends without a grant");
			if (k->run_granted || k->run_woken)
				return fail(r, k, k->run_line, "",
					    "the trace ends inside a release: %u grants and %u wake-ups without their released event",
					    k->run_granted, k->run_woken);
			for (i = 0; !r->partial && i < k->nw; i++) {
				if (!first || k->w[i].line < first->line) {
					first = &k->w[i];
					fk = k;
				}
			}
		}
	}
	if (first)
		return fail(r, fk, first->line, first->text,
			    "ticket %" PRIu64 " (pid %d) queued here and never ended: no terminal event by the end of the trace",
			    first->ticket, first->pid);
	return 0;
}

const struct ht_violation *ht_replay_violation(const struct ht_replay *r)
{
	return r->failed ? &r->v : NULL;
}

unsigned long ht_replay_count(const struct ht_replay *r, enum ht_kind kind)
{
	return kind < HT_NR_KINDS ? r->counts[kind] : 0;
}

unsigned long ht_replay_lines(const struct ht_replay *r)
{
	return r->lineno;
}

unsigned long ht_replay_events(const struct ht_replay *r)
{
	return r->events;
}

unsigned long ht_replay_keys(const struct ht_replay *r)
{
	return r->keys;
}

uint64_t ht_replay_max_obj(const struct ht_replay *r)
{
	return r->max_obj;
}

unsigned long ht_replay_max_depth(const struct ht_replay *r)
{
	return r->max_depth;
}

unsigned long ht_replay_passes(const struct ht_replay *r)
{
	return r->passes;
}

void ht_print_violation(const struct ht_replay *r, FILE *f)
{
	if (!r->failed)
		return;
	fprintf(f, "line %lu: %s\n", r->v.line, r->v.msg);
	if (r->v.text[0])
		fprintf(f, "  %s\n", r->v.text);
	if (r->v.state[0])
		fprintf(f, "%s", r->v.state);
}

void ht_print_summary(const struct ht_replay *r, FILE *f)
{
	int i;

	fprintf(f, "%lu lines, %lu hsema events, %lu keys, deepest queue %lu, %lu wakes passed on\n",
		r->lineno, r->events, r->keys, r->max_depth, r->passes);
	for (i = 0; i < HT_NR_KINDS; i++)
		fprintf(f, "  %-20s %lu\n", ht_kind_name(i), r->counts[i]);
}
