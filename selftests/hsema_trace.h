/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Replay of hsema trace events (tracefs events/hsema/, kmod/trace.h).
 *
 * Feed the lines of a tracefs "trace" (or "trace_pipe") text, in order;
 * lines that are not hsema events are ignored.  The replay rebuilds every
 * key's queue from the events and checks each event against it:
 *
 *  - an event names a waiter (ticket and pid) that is queued, in the state
 *    the event needs (woken before acquired or requeued, not yet woken
 *    before woken); tickets are handed out in order, and a queue that
 *    emptied starts over at ticket 1 (or goes on, for kernel semaphores);
 *  - each waiter ends with exactly one terminal event (granted, acquired,
 *    timedout, interrupted, faulted, withdrawn), checked at the end of the
 *    trace;
 *  - a task waits in one queue at a time, except a wait for any
 *    (queued_any), which waits in several, once in each, and withdraws
 *    from the others; grants and wake-ups pass over its waiters (it owns
 *    a unit elsewhere), and starvation may end with only such waiters
 *    left;
 *  - depth, the queue length after the change, matches the replay;
 *  - grants go to the head, in ticket order (in starvation mode and in a
 *    handoff release alike), wake-ups to the first waiter not yet woken;
 *    no unit is taken from the value while the queue starves;
 *  - a release's grants and wake-ups come right before its "released"
 *    event, from the same task, and match its counts; a woken waiter that
 *    leaves passes its wake on; a waiter that took a unit may wake the
 *    next sleepers right after, for units nobody claims (wake-ups from no
 *    release, like passed ones); a queue that empties while starving leaves
 *    starvation at once; a handoff goes to the first waiter its releaser
 *    granted;
 *  - no event was lost (ring buffer overruns, "LOST EVENTS" markers).
 *
 * These hold only if the module emits every event under the queue's lock,
 * at the change it describes: a trace taken with the "counter" or "global"
 * trace clock then lists one key's events in the order of the changes.
 * The first violation stops the replay and is kept, with its line.
 */
#ifndef HSEMA_TRACE_H
#define HSEMA_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum ht_kind {
	HT_QUEUED,
	HT_WOKEN,
	HT_REQUEUED,
	HT_GRANTED,
	HT_ACQUIRED,
	HT_TIMEDOUT,
	HT_INTERRUPTED,
	HT_FAULTED,
	HT_QUEUED_ANY,
	HT_WITHDRAWN,
	HT_STARVE_ENTER,
	HT_STARVE_LEAVE,
	HT_RELEASED,
	HT_HANDOFF_YIELDED,
	HT_HANDOFF_RUNNING,
	HT_HANDOFF_REFUSED,
	HT_NR_KINDS
};

/* One parsed event line. */
struct ht_event {
	enum ht_kind kind;
	int task;		/* pid of the task that emitted it */
	uint64_t obj, off;	/* the key (not for handoff) */
	uint64_t ticket;	/* waiter events */
	uint32_t depth;		/* all but handoff */
	int pid;		/* waiter events; handoff: its target */
	uint32_t n, granted, woken;	/* released */
	char reason[32];	/* handoff refused: the reason */
};

#define HT_TEXT_MAX	256

struct ht_violation {
	unsigned long line;		/* line number, from 1 */
	char text[HT_TEXT_MAX];		/* that line */
	char msg[512];			/* what is wrong */
	char state[8192];		/* the key's replayed queue, last events */
};

struct ht_replay;

struct ht_replay *ht_replay_new(void);
void ht_replay_free(struct ht_replay *r);

/* Accept waiters still queued at the end (a trace stopped mid-run). */
void ht_replay_set_partial(struct ht_replay *r, bool partial);

/*
 * Feed the next line (a trailing newline is ignored).  Returns 0, or -1
 * once a violation has been found, at this line or before.
 */
int ht_replay_line(struct ht_replay *r, const char *line);
/* Feed a text of lines; the same return. */
int ht_replay_text(struct ht_replay *r, const char *text);
/* Feed a whole file; -1 on a violation, -2 (errno set) on a read error. */
int ht_replay_file(struct ht_replay *r, FILE *f);
/* The end of the trace: every waiter must have ended.  0 or -1. */
int ht_replay_finish(struct ht_replay *r);

/* The first violation, or NULL. */
const struct ht_violation *ht_replay_violation(const struct ht_replay *r);
unsigned long ht_replay_count(const struct ht_replay *r, enum ht_kind kind);
/*
 * Lines read, events replayed, keys seen, the deepest queue, wakes that a
 * leaving woken waiter passed on.
 */
unsigned long ht_replay_lines(const struct ht_replay *r);
unsigned long ht_replay_events(const struct ht_replay *r);
unsigned long ht_replay_keys(const struct ht_replay *r);
/* The largest key object seen: hashed (%p, 32 bits), never an address. */
uint64_t ht_replay_max_obj(const struct ht_replay *r);
unsigned long ht_replay_max_depth(const struct ht_replay *r);
unsigned long ht_replay_passes(const struct ht_replay *r);

void ht_print_violation(const struct ht_replay *r, FILE *f);
void ht_print_summary(const struct ht_replay *r, FILE *f);

const char *ht_kind_name(enum ht_kind kind);

/*
 * Parse one line: 1 and *ev for an hsema event, 0 for any other line, -1
 * (and *why) for a malformed hsema event line.
 */
int ht_parse_line(const char *line, struct ht_event *ev, const char **why);

#endif /* HSEMA_TRACE_H */
