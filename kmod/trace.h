/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hsema trace events (tracefs events/hsema/).
 *
 * Every event that describes a waiter's state change is emitted under the
 * bucket lock, right where the state changes, one event per waiter even
 * inside a batch release.  A tracer therefore sees the events of one key in
 * the order of the changes, and @depth, the number of waiters queued after
 * the change, always matches a replay of the events before it.  (Go's
 * runtime emitted the events of a batch wake-up before changing the
 * goroutines' states, and its tracer could see an event that disagreed
 * with the state: golang/go#70883.)
 *
 * A key's object (an mm, an inode, a struct hsema) is printed with %p,
 * hashed as the kernel hashes every pointer it prints: the same object
 * always reads the same within one boot, its address never shows.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hsema

#if !defined(_HSEMA_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _HSEMA_TRACE_H

#include <linux/tracepoint.h>

#include "hsema.h"

DECLARE_EVENT_CLASS(hsema_waiter_class,
	TP_PROTO(const struct hsema_key *key, const struct hsema_waiter *w,
		 u32 depth),
	TP_ARGS(key, w, depth),
	TP_STRUCT__entry(
		__field(const void *, obj)
		__field(u64, off)
		__field(u64, ticket)
		__field(u32, depth)
		__field(pid_t, pid)
	),
	TP_fast_assign(
		__entry->obj = key->obj;
		__entry->off = key->off;
		__entry->ticket = w->ticket;
		__entry->depth = depth;
		__entry->pid = w->task->pid;
	),
	TP_printk("key=%p:%llx ticket=%llu depth=%u pid=%d",
		  __entry->obj, __entry->off, __entry->ticket, __entry->depth,
		  __entry->pid)
);

#define HSEMA_WAITER_EVENT(name)					\
DEFINE_EVENT(hsema_waiter_class, name,					\
	TP_PROTO(const struct hsema_key *key, const struct hsema_waiter *w, \
		 u32 depth),						\
	TP_ARGS(key, w, depth))

/* A waiter took a ticket and joined the tail. */
HSEMA_WAITER_EVENT(hsema_queued);
/*
 * A wait for any of several semaphores took a ticket and joined the tail:
 * the task may be queued in several queues at once, and grants pass it
 * over once it owns a unit of another.
 */
HSEMA_WAITER_EVENT(hsema_queued_any);
/* A queued waiter was woken to compete for a unit; it stays queued. */
HSEMA_WAITER_EVENT(hsema_woken);
/* A woken waiter lost the competition and sleeps again at its place. */
HSEMA_WAITER_EVENT(hsema_requeued);
/* A waiter was granted a unit and left the queue (terminal). */
HSEMA_WAITER_EVENT(hsema_granted);
/* A waiter took a unit from the value (terminal; ticket 0: never queued). */
HSEMA_WAITER_EVENT(hsema_acquired);
/* A waiter's deadline passed and it left the queue (terminal). */
HSEMA_WAITER_EVENT(hsema_timedout);
/* A signal made a waiter leave the queue (terminal). */
HSEMA_WAITER_EVENT(hsema_interrupted);
/* The word became inaccessible and the waiter left the queue (terminal). */
HSEMA_WAITER_EVENT(hsema_faulted);
/* A wait for any left this queue: it got its unit elsewhere (terminal). */
HSEMA_WAITER_EVENT(hsema_withdrawn);

TRACE_EVENT(hsema_starvation,
	TP_PROTO(const struct hsema_key *key, bool starving, u32 depth),
	TP_ARGS(key, starving, depth),
	TP_STRUCT__entry(
		__field(const void *, obj)
		__field(u64, off)
		__field(u32, depth)
		__field(bool, starving)
	),
	TP_fast_assign(
		__entry->obj = key->obj;
		__entry->off = key->off;
		__entry->depth = depth;
		__entry->starving = starving;
	),
	TP_printk("key=%p:%llx %s depth=%u", __entry->obj, __entry->off,
		  __entry->starving ? "entered" : "left", __entry->depth)
);

/* A release; emitted after its grants and wake-ups, under the same lock. */
TRACE_EVENT(hsema_released,
	TP_PROTO(const struct hsema_key *key, u32 count, u32 granted,
		 u32 woken, u32 depth),
	TP_ARGS(key, count, granted, woken, depth),
	TP_STRUCT__entry(
		__field(const void *, obj)
		__field(u64, off)
		__field(u32, count)
		__field(u32, granted)
		__field(u32, woken)
		__field(u32, depth)
	),
	TP_fast_assign(
		__entry->obj = key->obj;
		__entry->off = key->off;
		__entry->count = count;
		__entry->granted = granted;
		__entry->woken = woken;
		__entry->depth = depth;
	),
	TP_printk("key=%p:%llx n=%u granted=%u woken=%u depth=%u",
		  __entry->obj, __entry->off, __entry->count,
		  __entry->granted, __entry->woken, __entry->depth)
);

/* The releaser's CPU handoff to the waiter it granted: done or refused. */
TRACE_EVENT(hsema_handoff,
	TP_PROTO(const struct task_struct *to, int refusal, bool yielded),
	TP_ARGS(to, refusal, yielded),
	TP_STRUCT__entry(
		__field(pid_t, pid)
		__field(int, refusal)
		__field(bool, yielded)
	),
	TP_fast_assign(
		__entry->pid = to->pid;
		__entry->refusal = refusal;
		__entry->yielded = yielded;
	),
	TP_printk("pid=%d %s", __entry->pid,
		  __entry->refusal < 0 ?
			(__entry->yielded ? "yielded" : "running") :
		  __print_symbolic(__entry->refusal,
				   { HSEMA_REFUSE_NMI, "refused:nmi" },
				   { HSEMA_REFUSE_HARDIRQ, "refused:hardirq" },
				   { HSEMA_REFUSE_SOFTIRQ, "refused:softirq" },
				   { HSEMA_REFUSE_IRQS_OFF, "refused:irqs-off" },
				   { HSEMA_REFUSE_PREEMPT_OFF, "refused:preempt-off" },
				   { HSEMA_REFUSE_MIGRATE_OFF, "refused:migrate-off" },
				   { HSEMA_REFUSE_RCU, "refused:rcu" }))
);

#endif /* _HSEMA_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
