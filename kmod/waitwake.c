// SPDX-License-Identifier: GPL-2.0-only
/*
 * Waiting and waking.
 *
 * The semaphore is the user word (see uapi/linux/hsema.h):
 *
 *	bits 0..29 value, bit 30 STARVING, bit 31 WAITERS
 *
 * Bits 30 and 31 are the queue's state (uapi/linux/hsema.h): NONE,
 * WAITERS, WOKEN (bit 30 alone) or STARVING (both).  Userspace acquires by
 * a compare-and-swap that decrements a non-zero value unless the state is
 * STARVING, and releases by one that increments the value while the state
 * is NONE.  Otherwise it calls the kernel (see below for WOKEN).
 * The kernel changes the word only with compare-and-swap too, and only
 * under the lock of the word's bucket, so every change to the word is a
 * single atomic step that both sides order against each other:
 *
 *   waiter (kernel)                         releaser (userspace)
 *   lock(bucket)
 *   val = *word          (value == 0)
 *                                            val = *word    (no WAITERS)
 *                                            cas(word, val, val + 1)
 *   cas(word, val, val | WAITERS)
 *     fails: the word changed, reread it,
 *     see value 1 and take it instead
 *
 * So a waiter sleeps only after a compare-and-swap that published WAITERS
 * against a zero value; from then on every release enters the kernel and
 * takes the same bucket lock, and cannot miss the waiter, until a woken
 * waiter is on its way (WOKEN, below).  A release that read the word
 * before WAITERS was set fails its compare-and-swap and rereads it.
 *
 * The queue's state under the bucket lock is the truth about waiters,
 * woken waiters and starvation.  Bits 30 and 31 publish it: every kernel
 * write of the word recomputes them.  The one write that may fail is a
 * leaving waiter's (the page is gone: it leaves after munmap; or another
 * thread keeps rewriting the word, see HSEMA_CHANGED_TRIES), and it
 * keeps the state or makes it NONE, so a stale state only ever has nobody
 * queued behind it.  That is harmless: WAITERS and STARVING only send
 * userspace to the kernel, whose next write fixes them, and WOKEN only
 * keeps a release out of a kernel that has nobody to wake.  A state that
 * promises less than the queue needs (NONE while it has waiters, WOKEN
 * while nobody is woken, anything but STARVING while it starves) never
 * happens, because the writes that make it fault the page in and retry
 * until they succeed.
 *
 * Normal mode: a release adds to the value and wakes one queued waiter per
 * unit, in ticket order, so that each unit in the value is claimed by a
 * woken waiter while anybody sleeps.  A woken waiter stays queued, at its
 * place, and competes for the value with everyone else; if it loses it goes
 * back to sleep at the same place (Go's semacquire with lifo=false, and the
 * kernel mutex's optimistic acquirers, make the same trade for throughput).
 *
 * libsema's normal-mode release publishes first (HSEMA_WAKE_PUBLISHED):
 * its compare-and-swap adds the unit to the word although WAITERS is set
 * (never while STARVING is), and only then does it ask the kernel to wake.
 * So the unit is takeable for the whole system call, as glibc's sem_post()
 * makes it, instead of every acquirer that arrives meanwhile reading 0 and
 * going to sleep behind the first.  The invariant then reads: every unit
 * in the value is claimed by a woken waiter, or by the published release
 * that is on its way here; the release restores the first form under the
 * lock, waking only for units still in the value and not yet claimed.  A
 * release that dies between its compare-and-swap and the call leaves its
 * unit in the value, where every acquirer can take it, and the next
 * release wakes for it (as with a futex semaphore's post).
 *
 * While a woken waiter has not run yet the word reads WOKEN, and a release
 * of one unit publishes it and does not call the kernel at all: the woken
 * waiter looks at the value under the lock when it runs, and if it takes
 * a unit it wakes a sleeper for each unit left that no woken waiter
 * claims (hsema_compete()); if it finds none, it sleeps again and the
 * word reads WAITERS, so the next release calls.  Only the kernel sets WOKEN, under
 * the lock, when it has woken a waiter (Go's sync.Mutex keeps mutexWoken
 * for the same purpose, but lets the unlocker set it).  The invariant
 * becomes: while anybody sleeps, a unit in the value is claimed by a
 * woken waiter or by a release on its way in, or the word reads WOKEN and
 * a woken waiter will count it.  To keep releases out of the kernel, a
 * published release that finds nobody woken wakes the first sleeper even
 * when its unit is gone already: that waiter competes, as glibc's waiters
 * do after every sem_post(), and the word reads WOKEN until it has.
 *
 * Starvation mode (Go's sync.Mutex): when the head waiter has waited longer
 * than its threshold, the queue starves.  The value is absorbed and
 * STARVING set in one compare-and-swap, so from then on nobody takes units
 * from the word: acquirers queue at the tail, and each released unit is
 * granted to the head waiter, which leaves the queue owning it.  The word
 * never shows a granted unit, so it cannot be stolen.  The mode ends when
 * the queue empties, a granted waiter had waited less than its threshold,
 * or the batch queued when it began has been served; the next episode
 * needs a threshold's wait after that, and normal mode to have lasted
 * four times the last episode, at most four thresholds (starve_due()).
 * After granting, a releaser in task context gives its CPU to the first
 * waiter it granted (see handoff.c).  While the episode goes on, the
 * release also wakes the next grantee early, to spin for its grant while
 * the unit is in use (wake_next_grantee()).
 *
 * A granted unit is never lost: the waiter checks for a grant before it
 * acts on a timeout or a signal, and a waiter that is dying when it wins
 * a unit releases it again before it returns.
 *
 * A wait for any of several semaphores (waitany.c) queues one waiter in
 * each of their queues, and each queue treats it as one of its own, with
 * one difference: before a unit goes to it, from a grant or from the word,
 * its claim (struct hsema_multi) must be won under that queue's lock.  A
 * release skips a waiter whose claim is taken (it owns, or is leaving with,
 * a unit of another queue), so no two releases can give it two units; its
 * task then withdraws it from the other queues, passing on a wake-up it
 * got there as a waiter that times out does.  Wake-ups need no claim:
 * they give nothing, and a wasted one is passed on.
 *
 * The same code serves kernel semaphores (struct hsema, kapi.c): their word
 * is kernel memory, which never faults, and their queue and lock are their
 * own instead of a hash bucket's.  A "site" says which.
 *
 * Locking: a user word's bucket lock is a spinlock_t, taken only by tasks
 * (a sleeping lock on PREEMPT_RT); a kernel semaphore's lock is raw and
 * taken with interrupts off, since it is released from hard interrupts.
 * Tasks are woken only after the lock is dropped, however many a release
 * of a user word wakes (struct hsema_wakeq); a kernel semaphore's release,
 * which may come from any context and so never allocates, wakes those
 * past the first 16 under its raw lock.
 *
 * Faults: the word is touched with page faults disabled; on a fault the
 * lock is dropped, the page faulted in, and the step retried.  A page that
 * faults in but still refuses the store (a shadow-stack page) must not
 * loop for ever: after HSEMA_FAULT_TRIES fault-ins in a row after which
 * the store still faulted the call fails with -EFAULT, and a fatal signal
 * ends it at once.  An -EAGAIN from the atomic (arm64's LL/SC loop giving up
 * under contention) is retried after dropping the lock, as futex does, and
 * so is a word that another thread changed between the read and the
 * compare-and-swap HSEMA_CHANGED_TRIES times in one lock hold.
 */
#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/sched/task.h>
#include <linux/uaccess.h>
#include <asm/futex.h>

#include "hsema.h"
#include "trace.h"

unsigned long hsema_default_starve_ns = NSEC_PER_MSEC;

/*
 * How long a waiter spins for its grant or, woken, for a unit, at most
 * (spin_for_grant(), spin_woken()): a quarter of its threshold, and never
 * longer than this (module parameter spin_max_ns; 0 turns both spins off,
 * and more than a second is taken as one).  250 us covers a short
 * critical section and a wake-up across CPUs; a longer section ends in a
 * sleep, as without the spin.
 */
unsigned long hsema_spin_max_ns = 250 * NSEC_PER_USEC;

/*
 * Fault injection for the tests (debugfs inject_eagain, inject_efault,
 * inject_changed, root only): the next N compare-and-swaps on user words
 * fail as if the architecture's LL/SC loop gave up (-EAGAIN, which x86
 * never returns), as if the page refused the store although it faults in
 * writable (a shadow-stack page), or as if another thread had just
 * flipped bit 0 of the word (nothing is stored: the caller is told of a
 * value it did not read).  An emulated CPU lets a real compare-and-swap
 * through a thread's rewrites within milliseconds, which a real one need
 * not.  One read of a shared counter each when unused.
 */
atomic_t hsema_inject_eagain = ATOMIC_INIT(0);
atomic_t hsema_inject_efault = ATOMIC_INIT(0);
atomic_t hsema_inject_changed = ATOMIC_INIT(0);

static int word_inject(void)
{
	if (unlikely(atomic_read(&hsema_inject_eagain)) &&
	    atomic_dec_if_positive(&hsema_inject_eagain) >= 0)
		return -EAGAIN;
	if (unlikely(atomic_read(&hsema_inject_efault)) &&
	    atomic_dec_if_positive(&hsema_inject_efault) >= 0)
		return -EFAULT;
	return 0;
}

/*
 * Fault-ins in a row after which the compare-and-swap still faulted.  One
 * would do for a page that refuses stores; a few more absorb the races
 * that can undo a fault-in before the locked retry (reclaim, NUMA hinting,
 * a fork() write-protecting the page), so that they never end a call.
 */
#define HSEMA_FAULT_TRIES	16

/*
 * Compare-and-swaps in one lock hold that found a user word changed.
 * Between two of them the caller plans again from the new value, which for
 * a release walks the waiters it grants: a thread that rewrites the word
 * without pause could fail them all and keep the lock and the CPU for as
 * long as it likes.  After these the call retries unlocked, as after an
 * -EAGAIN from the atomic.  Running threads' own acquires and releases
 * almost never fail one twice in a row.
 */
#define HSEMA_CHANGED_TRIES	4

/*
 * Unlocked rounds after which the release by which a dying waiter passes
 * its unit on gives up when each of them ended in an -EAGAIN: no signal
 * ends that release, and a thread that rewrites the word could otherwise
 * keep the dying task in the kernel.  Contention alone never fails so many
 * compare-and-swaps in a row (on arm64 each round is 128 LL/SC tries).
 */
#define HSEMA_PASS_ON_ROUNDS	1024

/* -EAGAINs in a row after which a leave keeps the word's state as it is. */
#define HSEMA_LEAVE_TRIES	8

static void site_lock(struct hsema_site *site)
	__acquires(site)
{
	if (site->klock)
		raw_spin_lock_irqsave(site->klock, site->irqflags);
	else
		spin_lock(site->ulock);
}

static void site_unlock(struct hsema_site *site)
	__releases(site)
{
	if (site->klock)
		raw_spin_unlock_irqrestore(site->klock, site->irqflags);
	else
		spin_unlock(site->ulock);
}

void hsema_site_lock(struct hsema_site *site)
	__acquires(site)
{
	site_lock(site);
}

void hsema_site_unlock(struct hsema_site *site)
	__releases(site)
{
	site_unlock(site);
}

/*
 * Win @w's claim, under its queue's lock, before a unit goes to it: always
 * for a single waiter, once for a wait for any.  False if the wait owns or
 * is being granted a unit elsewhere, or is leaving.
 */
static bool waiter_claim(struct hsema_waiter *w)
{
	return !w->multi ||
	       atomic_cmpxchg(&w->multi->claim, HSEMA_CLAIM_NONE,
			      w->index) == HSEMA_CLAIM_NONE;
}

/* Undo waiter_claim() when the unit did not go to @w after all. */
static void waiter_unclaim(struct hsema_waiter *w)
{
	if (w->multi)
		atomic_set_release(&w->multi->claim, HSEMA_CLAIM_NONE);
}

/* The claim won is final: see struct hsema_multi. */
static void waiter_claim_done(struct hsema_waiter *w)
{
	if (w->multi)
		WRITE_ONCE(w->multi->done, true);
}

/* Whether @w is a wait for any that owns its unit elsewhere, or leaves. */
static bool waiter_done(const struct hsema_waiter *w)
{
	return w->multi && READ_ONCE(w->multi->done);
}

/* Whether a release claimed @w in this lock hold (see plan_release()). */
static bool waiter_claimed_here(const struct hsema_waiter *w)
{
	return !w->multi || atomic_read(&w->multi->claim) == w->index;
}

/*
 * A user word is accessed through the caller's own mapping with page
 * faults disabled, never through a pinned page: after fork() a private
 * page is copy-on-write, and a kernel write through a page reference taken
 * before could land in the other process's copy.
 */
static int word_read(struct hsema_site *site, u32 *val)
{
	int ret;

	if (site->kaddr) {
		*val = READ_ONCE(*site->kaddr);
		return 0;
	}
	pagefault_disable();
	ret = __get_user(*val, site->uaddr);
	pagefault_enable();
	return ret ? -EFAULT : 0;
}

/*
 * Returns 0 and the word's value before the call in *cur, -EFAULT, or
 * -EAGAIN when the architecture's atomic gave up (retry unlocked).
 */
static int word_cmpxchg(struct hsema_site *site, u32 old, u32 new, u32 *cur)
{
	int ret;

	if (site->kaddr) {
		*cur = cmpxchg(site->kaddr, old, new);
		return 0;
	}
	ret = word_inject();
	if (ret)
		return ret;
	if (unlikely(atomic_read(&hsema_inject_changed)) &&
	    atomic_dec_if_positive(&hsema_inject_changed) >= 0) {
		*cur = old ^ 1;
		return 0;
	}
	pagefault_disable();
	ret = futex_atomic_cmpxchg_inatomic(cur, site->uaddr, old, new);
	pagefault_enable();
	return ret;
}

/*
 * Another compare-and-swap found the word changed: true once a user word
 * has done so HSEMA_CHANGED_TRIES times in this lock hold, when the caller
 * lets the lock go and retries with an -EAGAIN.  A kernel semaphore's word
 * only changes under kernel code, which cannot be made to loop, and its
 * callers may not sleep.
 */
static bool word_changed_too_often(const struct hsema_site *site,
				   unsigned int *changed)
{
	return site->uaddr && ++*changed >= HSEMA_CHANGED_TRIES;
}

/*
 * Called unlocked: make the user word writable.  Mappings that can never
 * hold a semaphore are refused here, the first time the kernel has to
 * touch their page, with -EFAULT (or -ENOMEM for a hugetlb page the pool
 * cannot supply); -EINTR for a fatal signal during the fault.
 *
 * A @killable fault may drop mmap_lock and retry, as get_user_pages()'s
 * do: a page read from a slow file, or one a userfaultfd's handler has
 * yet to supply (CRIU's lazy restore, a runtime compacting its heap), is
 * waited for without the lock.  Only a fatal signal ends that wait
 * (fixup_user_fault() knows no other): a deadline or another signal
 * acts once the page is there, as for a shared key's page in key.c.
 * Without the retry handle_userfault() fails the fault with SIGBUS, and
 * the call failed with -EFAULT on a page that was only missing.  The
 * release by which a dying waiter passes its unit on starts with the
 * signal pending, so it faults without the retry, which a fatal signal
 * cannot cut short.  After a retry the mapping is looked up again.
 */
static int word_fault_in(struct hsema_site *site, bool killable)
{
	unsigned long address = (unsigned long)site->uaddr;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	bool unlocked = false;
	int ret = -EFAULT;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, address);
	if (vma && hsema_vma_usable(vma)) {
		ret = fixup_user_fault(mm, address, FAULT_FLAG_WRITE,
				       killable ? &unlocked : NULL);
		if (unlocked) {
			vma = vma_lookup(mm, address);
			if (!ret && !(vma && hsema_vma_usable(vma)))
				ret = -EFAULT;
		}
		if (ret)
			ret = hsema_fault_errno(vma, ret);
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * The unlocked step a locked one asked for: fault the word in (bounded
 * by *@faults), or let the contended atomic or a word that kept changing
 * settle (-EAGAIN, see HSEMA_CHANGED_TRIES).  Returns 0 to retry,
 * else the error to fail with.  A @killable call ends at a fatal signal;
 * the release by which a dying waiter passes its unit on is not killable
 * (it starts with the signal pending), only bounded.
 */
int hsema_word_recover(struct hsema_site *site, int err,
		       unsigned int *faults, bool killable)
{
	int ret = 0;

	if (err == -EAGAIN)
		cond_resched();
	else if (++*faults > HSEMA_FAULT_TRIES)
		ret = -EFAULT;
	else
		ret = word_fault_in(site, killable);
	if (ret == -EINTR && !killable)
		ret = 0;
	if (!ret && killable && fatal_signal_pending(current))
		ret = -EINTR;
	return ret;
}

int hsema_site_user(struct hsema_site *site, u32 __user *uaddr, bool shared,
		    bool write)
{
	int ret;

	memset(site, 0, sizeof(*site));
	ret = hsema_key_get(uaddr, shared, write, &site->key, &site->pin);
	if (ret)
		return ret;
	site->b = hsema_bucket(&site->key);
	site->ulock = &site->b->lock;
	site->uaddr = uaddr;
	return 0;
}

void hsema_site_put(struct hsema_site *site)
{
	hsema_key_put(site->pin);
	site->pin = NULL;
}

/* The site's queue if it has waiters, else NULL. */
static struct hsema_queue *site_queue(struct hsema_site *site)
{
	if (site->fixed)
		return site->fixed->nr_waiters ? site->fixed : NULL;
	return hsema_queue_find(site->b, &site->key);
}

/* A queue for the first waiter: the spare one, or the kernel sema's own. */
static struct hsema_queue *site_install(struct hsema_site *site,
					struct hsema_queue **spare)
{
	struct hsema_queue *q = site->fixed;

	if (!q) {
		q = *spare;
		*spare = NULL;
		hsema_queue_install(site->b, q, &site->key);
	}
	return q;
}

/*
 * The word's state for a queue of @nr_waiters, @nr_woken of them woken
 * and not yet run (see uapi/linux/hsema.h).  WOKEN lets a release of one
 * unit stay in userspace: a woken waiter looks at the value when it runs,
 * under the lock, and wakes for the units nobody claims
 * (hsema_compete()).
 */
static u32 queue_bits(u32 nr_waiters, bool starving, u32 nr_woken)
{
	if (!nr_waiters)
		return HSEMA_STATE_NONE;
	if (starving)
		return HSEMA_STATE_STARVING;
	return nr_woken ? HSEMA_STATE_WOKEN : HSEMA_STATE_WAITERS;
}

static u64 waited_ns(const struct hsema_waiter *w, u64 now)
{
	return now - w->queued_ns;
}

static struct hsema_waiter *queue_head(struct hsema_queue *q)
{
	return list_first_entry(&q->waiters, struct hsema_waiter, node);
}

/*
 * The next episode waits until normal mode has lasted this many times the
 * last episode, at most as many thresholds: while an episode takes no
 * longer than a threshold, at most a fifth of the time is spent starving.
 */
#define HSEMA_NORMAL_PER_EPISODE	4

/*
 * When @w may make its queue starve: once past its threshold, counted
 * from when it queued or, if later, from when the queue's last
 * starvation episode ended.  Each episode serves the batch of waiters
 * queued when it began and ends after their grants (see plan_release());
 * the queue then runs in normal mode for at least a threshold before the
 * next.  Without that, a queue whose hand-overs
 * take longer than threshold / depth never leaves starvation: every
 * granted waiter has waited past the threshold just queueing behind the
 * others, and the semaphore runs at one context switch per acquisition
 * for good.
 *
 * Nor may episodes follow each other a threshold apart when each takes
 * about a threshold itself (where a hand-over costs a wake-up and a
 * context switch of some 200 us, as under emulation): the running threads
 * that arrive during an episode queue behind it, and the semaphore spends
 * half its time in hand-overs.  So the next episode also waits until
 * normal mode has lasted HSEMA_NORMAL_PER_EPISODE times the last one, at
 * most as many thresholds.  Both waits count from the episode's end, so
 * for one threshold T the worst wait stays about 4 T plus two batches.
 * The history lives in the queue: it starts afresh when the queue empties.
 *
 * The time is as far as the queue knows now, and a waiter keeps it to read
 * without the lock (spin_woken()): taken when it queues or requeues, and
 * again by each release that wakes it, since an episode that ended while
 * it slept moved it later.  While every waiter of the queue has the same
 * threshold, no episode can begin before it without @w in its batch, and
 * one that ends later only moves it later: the kept value is never late.
 * Waiters of one word may ask for different thresholds; then an episode
 * begun by a shorter one can end before it, and the kept value be late by
 * up to one look, after which the waiter competes and starve_due()
 * decides.  A threshold too large to add means never (U64_MAX).
 */
static u64 starve_due_at(const struct hsema_queue *q,
			 const struct hsema_waiter *w)
{
	u64 since = max(w->queued_ns, q->normal_ns);
	u64 rest = min(q->episode_ns, w->starve_ns) * HSEMA_NORMAL_PER_EPISODE;
	u64 due;

	if (check_add_overflow(since, w->starve_ns, &due))
		return U64_MAX;
	return max(due, q->normal_ns + rest);
}

/* Whether @w has waited long enough to make its queue starve. */
static bool starve_due(const struct hsema_queue *q,
		       const struct hsema_waiter *w, u64 now)
{
	return now > starve_due_at(q, w);
}

/*
 * starve_due() for the first waiter that still waits: a wait for any that
 * owns its unit elsewhere is about to withdraw, and whether the queue
 * starves must not depend on how long it waited.
 */
static bool starve_due_first(const struct hsema_queue *q, u64 now)
{
	const struct hsema_waiter *w;

	list_for_each_entry(w, &q->waiters, node)
		if (!waiter_done(w))
			return starve_due(q, w, now);
	return false;
}

/* @now: ktime_get_ns() of the caller's pass under the lock. */
static void starve_enter(struct hsema_site *site, struct hsema_queue *q,
			 u64 now)
{
	q->batch_end = list_last_entry(&q->waiters, struct hsema_waiter,
				       node)->ticket;
	q->starving = true;
	q->starve_start_ns = now;
	hsema_qstat_inc(q, starve_enter);
	trace_hsema_starvation(&site->key, true, q->nr_waiters);
}

static void starve_exit(struct hsema_site *site, struct hsema_queue *q,
			u64 now)
{
	q->starving = false;
	q->normal_ns = now;
	q->episode_ns = q->normal_ns - q->starve_start_ns;
	hsema_qstat_inc(q, starve_exit);
	trace_hsema_starvation(&site->key, false, q->nr_waiters);
}

/*
 * Tasks to wake once the lock is dropped, as futex does with a wake_q
 * (whose wake_q_add() modules cannot call): a task woken under the lock
 * would run only to spin on it, and waking thousands under it would hold
 * it for as long.  The waiter's state was changed and traced under the
 * lock, so waking it late loses nothing, and a wakee that returned in
 * between only sees a spurious wake-up; the reference keeps its
 * task_struct alive until then.
 *
 * The array is sized before anything is added: a release of a user word
 * that would wake more than it holds drops the lock, allocates, and plans
 * again.  Only a release that cannot allocate (any kernel semaphore's, or
 * one that found no memory) wakes the tasks past the array under the lock.
 */
void hsema_wakeq_init(struct hsema_wakeq *wq)
{
	wq->n = 0;
	wq->cap = ARRAY_SIZE(wq->inline_task);
	wq->task = wq->inline_task;
}

/* Called unlocked and empty: room for @need tasks, or -ENOMEM. */
static int wakeq_reserve(struct hsema_wakeq *wq, unsigned int need)
{
	struct task_struct **t;

	if (WARN_ON_ONCE(wq->n))
		return -EINVAL;
	t = kvmalloc_array(need, sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	if (wq->task != wq->inline_task)
		kvfree(wq->task);
	wq->task = t;
	wq->cap = need;
	return 0;
}

static void wakeq_add(struct hsema_wakeq *wq, struct task_struct *t)
{
	if (wq->n == wq->cap) {
		wake_up_process(t);
		return;
	}
	get_task_struct(t);
	wq->task[wq->n++] = t;
}

/* Called unlocked. */
void hsema_wakeq_wake(struct hsema_wakeq *wq)
{
	unsigned int i;

	for (i = 0; i < wq->n; i++) {
		wake_up_process(wq->task[i]);
		put_task_struct(wq->task[i]);
	}
	if (wq->task != wq->inline_task)
		kvfree(wq->task);
	hsema_wakeq_init(wq);
}

static void wake_waiter(struct hsema_site *site, struct hsema_queue *q,
			struct hsema_waiter *w, struct hsema_wakeq *wq)
{
	/*
	 * The queue's time now (starve_due_at()).  Only the waiter reads
	 * it, after it saw WOKEN; one that did not sleep may still see the
	 * old value on a weakly ordered CPU, and look less, as before.
	 */
	WRITE_ONCE(w->due_ns, starve_due_at(q, w));
	WRITE_ONCE(w->state, HSEMA_W_WOKEN);
	q->nr_woken++;
	hsema_qstat_inc(q, wakes);
	trace_hsema_woken(&site->key, w, q->nr_waiters);
	wakeq_add(wq, w->task);
}

/*
 * Sleepers to wake for the units of @value that none of the @woken
 * waiters claims, among @left queued: at most what @wq holds without
 * allocating, which is enough, since every waiter woken for them takes a
 * unit or passes the rest on in turn when it runs.
 */
static u32 unclaimed_wakes(u32 value, u32 left, u32 woken,
			   const struct hsema_wakeq *wq)
{
	u32 unclaimed = value > woken ? value - woken : 0;

	return min3(unclaimed, left - woken, wq->cap - wq->n);
}

/*
 * Wake the first @n sleepers of @q, in ticket order, passing over the
 * waiters of waits for any that are done (they withdraw soon, and a
 * wake-up would wait for them to pass it on) while others sleep.  The
 * count is the planned one whatever changed meanwhile: if too few others
 * sleep, those waiters are woken after all, and will pass it on.
 */
static void wake_sleepers(struct hsema_site *site, struct hsema_queue *q,
			  u32 n, struct hsema_wakeq *wq)
{
	struct hsema_waiter *w;

	list_for_each_entry(w, &q->waiters, node) {
		if (!n)
			return;
		if (w->state == HSEMA_W_QUEUED && !waiter_done(w)) {
			wake_waiter(site, q, w, wq);
			n--;
		}
	}
	list_for_each_entry(w, &q->waiters, node) {
		if (!n)
			return;
		if (w->state == HSEMA_W_QUEUED) {
			wake_waiter(site, q, w, wq);
			n--;
		}
	}
}

/*
 * The waiter a starving queue's next grant goes to: the first that still
 * waits (a wait for any that owns its unit elsewhere is about to leave).
 */
static struct hsema_waiter *next_grantee(struct hsema_queue *q)
{
	struct hsema_waiter *w;

	list_for_each_entry(w, &q->waiters, node)
		if (!waiter_done(w))
			return w;
	return NULL;
}

/*
 * Wake a starving queue's next grantee early, to spin for its grant (see
 * spin_for_grant()): its wake-up then overlaps the critical section of the
 * unit it is next for, instead of following the release that grants it,
 * with the unit owned and unused until it runs (tens of microseconds
 * across CPUs under emulation, against sections of a few).  The kernel
 * mutex's first waiter spins while the owner runs for the same reason.
 * Only the head, the next grant's waiter, once until it sleeps again, and
 * only one that may spin (a wait for any never does).  No state changes:
 * it stays QUEUED, and everything a sleeper may get still reaches it.
 */
static void wake_next_grantee(struct hsema_queue *q, struct hsema_wakeq *wq)
{
	struct hsema_waiter *w = next_grantee(q);

	if (w && w->state == HSEMA_W_QUEUED && w->spin_ns && !w->spin) {
		WRITE_ONCE(w->spin, true);
		hsema_stat_inc(spin_wakes);
		wakeq_add(wq, w->task);
	}
}

/*
 * Leave the queue without a unit.  If we had been woken to compete, the
 * wake passes to the next sleeping waiter, or the unit it announced could
 * sit in the value while everyone sleeps.  The word is updated
 * best-effort: see "stale bits" above.
 */
struct hsema_queue *hsema_leave_queue(struct hsema_site *site,
				      struct hsema_waiter *w,
				      enum hsema_leave why,
				      struct hsema_wakeq *wq)
{
	struct hsema_queue *q = w->q, *dead;
	bool was_woken = w->state == HSEMA_W_WOKEN;
	u32 old, cur, bits;

	dead = hsema_dequeue(w);
	switch (why) {
	case HSEMA_LEAVE_TIMEOUT:
		hsema_qstat_inc(q, timeouts);
		trace_hsema_timedout(&site->key, w, q->nr_waiters);
		break;
	case HSEMA_LEAVE_SIGNAL:
		hsema_qstat_inc(q, interrupts);
		trace_hsema_interrupted(&site->key, w, q->nr_waiters);
		break;
	case HSEMA_LEAVE_FAULT:
		trace_hsema_faulted(&site->key, w, q->nr_waiters);
		break;
	case HSEMA_LEAVE_WITHDRAWN:
		trace_hsema_withdrawn(&site->key, w, q->nr_waiters);
		break;
	}

	if (!q->nr_waiters && q->starving)
		starve_exit(site, q, ktime_get_ns());
	if (q->nr_waiters && was_woken)
		wake_sleepers(site, q, 1, wq);

	/*
	 * Tried a little, not until it works (a leave cannot fail): the bits
	 * a failed try leaves are those from before the leave, which at worst
	 * announce a waiter that is gone, and the next call under the lock
	 * writes them afresh.
	 */
	bits = queue_bits(q->nr_waiters, q->starving, q->nr_woken);
	if (!word_read(site, &old)) {
		unsigned int tries = 0, changed = 0;
		int ret;

		for (;;) {
			ret = word_cmpxchg(site, old,
					   (old & HSEMA_VALUE_MASK) | bits,
					   &cur);
			if (ret == -EAGAIN) {
				if (++tries >= HSEMA_LEAVE_TRIES)
					break;
				continue;
			}
			if (ret || cur == old ||
			    word_changed_too_often(site, &changed))
				break;
			old = cur;
		}
	}
	return dead;
}

/*
 * Take a unit from the word, or queue (a newcomer) or requeue at our place
 * (a woken waiter that lost), or, a woken waiter whose look goes on
 * (w->relook), stay woken.  Only HSEMA_C_SLEEP leaves us queued and only
 * HSEMA_C_ACQUIRED gives a unit; on the others nothing changed.
 * *dead returns a queue that became empty, to free after unlocking.
 *
 * A waiter that takes a unit also wakes a sleeper for each unit left in
 * the value that no woken waiter claims: releases of one unit that found
 * the word WOKEN added theirs without a call, counting on the woken
 * waiters to look at the value when they run, and this is where they do.
 */
enum hsema_compete hsema_compete(struct hsema_site *site,
				 struct hsema_waiter *w,
				 struct hsema_queue **spare,
				 struct hsema_queue **dead,
				 struct hsema_wakeq *wq, int *err)
{
	struct hsema_queue *q = w->q ?: site_queue(site);
	bool was_woken = w->state == HSEMA_W_WOKEN;
	bool starving = q && q->starving;
	u32 old, new, cur, left, woken, wake;
	bool enter = false, claimed = false, stay;
	unsigned int changed = 0;
	u64 now = 0;
	int ret;

	ret = word_read(site, &old);
	if (ret)
		goto recover;

	/* Woken waiters other than us, and waiters once we have taken a unit. */
	woken = q ? q->nr_woken - was_woken : 0;
	left = q ? q->nr_waiters - !!w->q : 0;
	for (;;) {
		if (!starving && (old & HSEMA_VALUE_MASK)) {
			/* A wait for any takes one unit, from one queue. */
			if (!claimed && !waiter_claim(w))
				return HSEMA_C_CLAIMED;
			claimed = true;
			/* Take a unit; if we were queued, we leave. */
			wake = q ? unclaimed_wakes((old & HSEMA_VALUE_MASK) - 1,
						   left, woken, wq) : 0;
			new = ((old & HSEMA_VALUE_MASK) - 1) |
			      queue_bits(left, false, woken + wake);
			ret = word_cmpxchg(site, old, new, &cur);
			if (!ret && cur != old &&
			    word_changed_too_often(site, &changed))
				ret = -EAGAIN;
			if (ret)
				goto recover;
			if (cur != old) {
				old = cur;
				continue;
			}
			waiter_claim_done(w);
			if (w->q) {
				hsema_qstat_inc(q, slow_acquires);
				hsema_stat_wait_time(q, waited_ns(w, ktime_get_ns()));
				*dead = hsema_dequeue(w);
			} else {
				hsema_stat_inc(slow_acquires);
			}
			trace_hsema_acquired(&site->key, w, left);
			if (wake)
				wake_sleepers(site, q, wake, wq);
			return HSEMA_C_ACQUIRED;
		}

		if (claimed) {
			/* The unit went while we looked: so did the claim. */
			waiter_unclaim(w);
			claimed = false;
		}
		/* Owning a unit elsewhere, it must not make this queue starve. */
		if (w->multi &&
		    atomic_read(&w->multi->claim) != HSEMA_CLAIM_NONE)
			return HSEMA_C_CLAIMED;
		/* A first waiter needs a queue: this CPU's stashed one... */
		if (!q && !site->fixed && !*spare) {
			*spare = hsema_queue_unstash();
			/* ... or one allocated with the lock dropped. */
			if (!*spare)
				return HSEMA_C_NOMEM;
		}

		/* A woken waiter that waited too long makes the queue starve. */
		if (w->q && !starving) {
			now = ktime_get_ns();
			enter = starve_due(q, w, now);
		}

		/*
		 * Queued or requeued, we sleep; the value is 0 unless the
		 * queue starves, so no unit is left unclaimed.  A woken
		 * waiter whose look may go on stays woken instead, and the
		 * word keeps reading WOKEN while it looks again.
		 */
		stay = was_woken && w->relook && !starving && !enter;
		new = (old & HSEMA_VALUE_MASK) |
		      queue_bits(left + 1, starving || enter, woken + stay);
		/*
		 * Even when the word already reads so: a word the caller
		 * cannot write (read-only mapping) must fail with -EFAULT
		 * here, not queue a waiter no release can reach.
		 */
		ret = word_cmpxchg(site, old, new, &cur);
		if (!ret && cur != old &&
		    word_changed_too_often(site, &changed))
			ret = -EAGAIN;
		if (ret)
			goto recover;
		if (cur != old) {
			old = cur;
			continue;
		}
		break;
	}

	if (w->state == HSEMA_W_NONE) {
		if (!q)
			q = site_install(site, spare);
		hsema_enqueue(q, w);
		if (w->multi)
			trace_hsema_queued_any(&site->key, w, q->nr_waiters);
		else
			trace_hsema_queued(&site->key, w, q->nr_waiters);
	} else if (was_woken && !stay) {
		/* Lost to a newcomer: sleep again, keeping our ticket. */
		WRITE_ONCE(w->state, HSEMA_W_QUEUED);
		q->nr_woken--;
		hsema_qstat_inc(q, requeues);
		trace_hsema_requeued(&site->key, w, q->nr_waiters);
	}
	if (enter)
		starve_enter(site, q, now);
	w->due_ns = starve_due_at(q, w);
	return HSEMA_C_SLEEP;

recover:
	if (claimed)
		waiter_unclaim(w);
	*err = ret;
	return HSEMA_C_RECOVER;
}

/*
 * What hsema_compete() asked for when it returned HSEMA_C_NOMEM or
 * HSEMA_C_RECOVER (@c, with its @err): it changed nothing, so drop the
 * lock, allocate the spare queue or fault the word in (bounded by
 * *@faults, killable), and take the lock again.  Returns 0 to compete
 * again, else -ENOMEM, -EFAULT or -EINTR; the lock is held either way.
 */
int hsema_compete_recover(struct hsema_site *site, enum hsema_compete c,
			  int err, struct hsema_queue **spare,
			  unsigned int *faults)
	__must_hold(site)
{
	int ret;

	site_unlock(site);
	if (c == HSEMA_C_NOMEM) {
		*spare = hsema_queue_alloc();
		ret = *spare ? 0 : -ENOMEM;
	} else {
		ret = hsema_word_recover(site, err, faults, true);
	}
	site_lock(site);
	return ret;
}

/*
 * How long a waiter may spin (spin_for_grant(), spin_woken()): never with
 * one CPU online, where the holder cannot run while it spins.
 */
static u64 grant_spin_ns(u64 starve_ns)
{
	u64 max = min_t(u64, READ_ONCE(hsema_spin_max_ns), NSEC_PER_SEC);

	if (num_online_cpus() < 2)
		return 0;
	return min(starve_ns / 4, max);
}

/*
 * Whether a waiter's spin (spin_for_grant(), spin_woken()) must end: its
 * CPU is wanted, it has a signal or a timeout to act on, or it reached
 * @end (local_clock()).
 */
static bool spin_over(unsigned int state, struct hrtimer_sleeper *to, u64 end)
{
	return need_resched() || !single_task_running() ||
	       signal_pending_state(state, current) ||
	       (to && !READ_ONCE(to->task)) || local_clock() > end;
}

/*
 * The next grantee of a starving queue, and running: woken early
 * (wake_next_grantee()), or having just queued or lost there.  Wait for
 * the grant running, unlocked, instead of sleeping, so that it is taken
 * at once.  For at most w->spin_ns, and only while this CPU has nothing
 * else to run: that keeps the spin from costing anyone their CPU (KVM's
 * halt-polling asks the same), not the holder if it was preempted here,
 * nor a lower-priority task behind a realtime spinner; a newly runnable
 * task ends it at once, need_resched() or not.  The state read here is
 * only a hint: the caller takes the lock and acts on what it finds.
 */
static void spin_for_grant(struct hsema_waiter *w, unsigned int state,
			   struct hrtimer_sleeper *to)
{
	u64 end = local_clock() + w->spin_ns;

	while (READ_ONCE(w->state) == HSEMA_W_QUEUED) {
		if (spin_over(state, to, end))
			return;
		cpu_relax();
	}
	if (READ_ONCE(w->state) == HSEMA_W_GRANTED)
		hsema_stat_inc(spin_grants);
}

/*
 * A woken waiter, before it competes: look at the word, unlocked, until a
 * unit appears, and only then take the lock to compete for it, instead
 * of competing at once and, having lost, sleeping again.  While it looks
 * the word reads WOKEN, so a release of one unit stays in userspace and
 * wakes nobody: a woken waiter that lost to a running thread no longer
 * costs the next release a system call and itself two context switches
 * (Go's sync.Mutex lets its woken waiter spin for the same reason).  The
 * same bounds as spin_for_grant(), and never past the time the waiter
 * may make its queue starve (w->due_ns: its threshold, or the end of the
 * normal mode that follows an episode, whichever comes later; see
 * starve_due_at() for waiters with different thresholds): a queue
 * starts to starve only in the kernel, and while the word reads WOKEN
 * nothing else enters it.  A head that waited past its threshold while
 * that normal mode lasts still looks: otherwise each release of the
 * gate's milliseconds woke it only to lose, requeue and sleep again.
 * A value that cannot be read, or a state other than WOKEN (the queue
 * starves), ends it too; what it read is only a hint, the caller
 * competes under the lock either way.  A look that lost may look again
 * (look_goes_on()), until w->look_end, set when the first look after its
 * wake-up began.
 */
static void spin_woken(struct hsema_site *site, struct hsema_waiter *w,
		       unsigned int state, struct hrtimer_sleeper *to)
{
	u64 due = READ_ONCE(w->due_ns), now = ktime_get_ns();
	bool counted = false;
	u32 val;

	if (now >= due)
		return;
	if (!w->look_end)
		w->look_end = local_clock() + min(w->spin_ns, due - now);
	while (READ_ONCE(w->state) == HSEMA_W_WOKEN) {
		if (word_read(site, &val) || (val & HSEMA_VALUE_MASK) ||
		    (val & HSEMA_STATE_MASK) != HSEMA_STATE_WOKEN)
			return;
		if (spin_over(state, to, w->look_end))
			return;
		if (!counted) {
			/* Counted once it has to wait: the value was taken. */
			hsema_stat_inc(woken_spins);
			counted = true;
		}
		cpu_relax();
	}
}

/*
 * Called locked, before a woken waiter competes: whether, if it loses,
 * it may stay woken and look again (spin_woken()) instead of sleeping.
 * Only within the look it began when it was woken, and on the look's
 * terms (spin_over()): a waiter on an otherwise idle CPU that loses to a
 * running thread then costs no sleep, no wake-up and no release's system
 * call each time it loses.  One with a signal or a timeout to act on
 * sleeps again as before, so it no longer counts as woken when it leaves.
 */
static bool look_goes_on(const struct hsema_waiter *w, unsigned int state,
			 struct hrtimer_sleeper *to)
{
	return w->state == HSEMA_W_WOKEN && w->look_end &&
	       !spin_over(state, to, w->look_end);
}

/*
 * Wait for a unit.  @state is TASK_INTERRUPTIBLE for user words, any
 * sleeping state for kernel semaphores.  Returns 0 once the caller owns a
 * unit, -ETIMEDOUT, -ERESTARTSYS (user words) or -EINTR (kernel, or a
 * fatal signal while faulting) for a signal, -EFAULT or -ENOMEM.
 */
int hsema_wait_site(struct hsema_site *site, unsigned int state,
		    const ktime_t *deadline, clockid_t clock, u64 starve_ns)
{
	struct hsema_waiter w = {
		.task = current,
		.starve_ns = starve_ns ?: READ_ONCE(hsema_default_starve_ns),
		.state = HSEMA_W_NONE,
	};
	struct hsema_queue *spare = NULL, *dead = NULL;
	struct hrtimer_sleeper timer, *to = NULL;
	unsigned int faults = 0;
	enum hsema_compete c;
	struct hsema_wakeq wq;
	bool armed = false;
	int ret, err;

	if (deadline) {
		to = &timer;
		hrtimer_init_sleeper_on_stack(to, clock, HRTIMER_MODE_ABS);
		hrtimer_set_expires_range_ns(&to->timer, *deadline,
					     current->timer_slack_ns);
	}
	hsema_wakeq_init(&wq);
	w.spin_ns = grant_spin_ns(w.starve_ns);

	site_lock(site);
	for (;;) {
		/* A grant wins over a timeout or signal that came with it. */
		if (w.state == HSEMA_W_GRANTED) {
			ret = 0;
			break;
		}
		if (w.state == HSEMA_W_NONE || w.state == HSEMA_W_WOKEN) {
			w.relook = look_goes_on(&w, state, to);
			c = hsema_compete(site, &w, &spare, &dead, &wq, &err);
			switch (c) {
			case HSEMA_C_ACQUIRED:
				ret = 0;
				goto out;
			case HSEMA_C_CLAIMED:
				/* Only a wait for any can lose its claim. */
				WARN_ON_ONCE(1);
				fallthrough;
			case HSEMA_C_SLEEP:
				faults = 0;
				/* A look's time lasts while it stays woken. */
				if (w.state != HSEMA_W_WOKEN)
					w.look_end = 0;
				/*
				 * Queued or requeued where a starving
				 * queue's next grant goes (having made it
				 * starve, perhaps): we are running already,
				 * so spin for the grant rather than sleep.
				 * Not in normal mode: a spinning head would
				 * be woken while its releaser is still in
				 * the kernel and take the unit before the
				 * releaser can take it back, turning every
				 * hand-over into two system calls.
				 */
				if (w.state == HSEMA_W_QUEUED && w.spin_ns &&
				    w.q->starving && next_grantee(w.q) == &w)
					w.spin = true;
				break;
			case HSEMA_C_RECOVER:
			case HSEMA_C_NOMEM:
				ret = hsema_compete_recover(site, c, err,
							    &spare, &faults);
				/*
				 * The word kept changing, and may go on:
				 * the deadline and signals first, as at a
				 * sleep (none follows: we are not queued,
				 * or woken).
				 */
				if (!ret && c == HSEMA_C_RECOVER &&
				    err == -EAGAIN && w.state != HSEMA_W_GRANTED)
					break;
				if (!ret)
					continue;
				if (w.state == HSEMA_W_GRANTED)
					ret = 0;
				else if (w.state != HSEMA_W_NONE)
					dead = hsema_leave_queue(site, &w,
								 ret == -EINTR ?
								 HSEMA_LEAVE_SIGNAL :
								 HSEMA_LEAVE_FAULT,
								 &wq);
				goto out;
			}
		}
		if (to && !to->task) {
			if (w.state != HSEMA_W_NONE)
				dead = hsema_leave_queue(site, &w,
							 HSEMA_LEAVE_TIMEOUT,
							 &wq);
			ret = -ETIMEDOUT;
			break;
		}
		if (signal_pending_state(state, current)) {
			if (w.state != HSEMA_W_NONE)
				dead = hsema_leave_queue(site, &w,
							 HSEMA_LEAVE_SIGNAL,
							 &wq);
			ret = site->uaddr ? -ERESTARTSYS : -EINTR;
			break;
		}

		set_current_state(state);
		site_unlock(site);
		if (to && !armed) {
			hrtimer_sleeper_start_expires(to, HRTIMER_MODE_ABS);
			armed = true;
		}
		if (READ_ONCE(w.state) == HSEMA_W_QUEUED && (!to || to->task) &&
		    !READ_ONCE(w.spin))
			schedule();
		__set_current_state(TASK_RUNNING);
		if (READ_ONCE(w.spin))
			spin_for_grant(&w, state, to);
		else if (w.spin_ns && READ_ONCE(w.state) == HSEMA_W_WOKEN)
			spin_woken(site, &w, state, to);
		site_lock(site);
		/* Spun or not: a later grant may wake us early again. */
		w.spin = false;
	}
out:
	site_unlock(site);
	hsema_wakeq_wake(&wq);

	if (to) {
		hrtimer_cancel(&to->timer);
		destroy_hrtimer_on_stack(&to->timer);
	}
	hsema_queue_free(spare);
	hsema_queue_free(dead);

	/* A dying process cannot use its unit: pass it on. */
	if (!ret && site->uaddr && fatal_signal_pending(current)) {
		hsema_stat_inc(passed_on);
		hsema_wake_site(site, 1, 0, HSEMA_VALUE_MAX, false, NULL);
		ret = -EINTR;
	}
	return ret;
}

/* What a release of @count units does, computed before anything changes. */
struct hsema_plan {
	bool enter;		/* the queue starts starving */
	bool starving;		/* ... and is starving afterwards */
	bool exit;		/* starvation ends in this release */
	u32 exit_after;		/* ... after this many grants */
	u32 grant;		/* waiters granted a unit, from the head */
	u32 wake;		/* sleeping waiters woken to compete */
	u32 spin;		/* 1: wake the next grantee early to spin */
	u32 base;		/* value kept in the word */
	u32 counted;		/* units added to the word */
	u32 bits;		/* WAITERS and STARVING afterwards */
};

/*
 * @how: HSEMA_WAKE_HANDOFF, or HSEMA_WAKE_PUBLISHED: the caller's units
 * are already in the value (@old), so it brings none of its own.
 */
static void plan_release(struct hsema_queue *q, u32 old, u32 count,
			 unsigned int how, u64 now, struct hsema_plan *p)
{
	bool handoff = how & HSEMA_WAKE_HANDOFF;
	u32 units, left, woken, unclaimed, want;
	struct hsema_waiter *w;
	bool starving;
	u64 end;

	memset(p, 0, sizeof(*p));
	units = (how & HSEMA_WAKE_PUBLISHED) ? 0 : count;
	p->base = old & HSEMA_VALUE_MASK;
	if (!q) {
		p->counted = units;
		return;
	}

	w = queue_head(q);
	starving = q->starving;
	/* The batch this episode serves; a new one's is today's tail. */
	end = starving ? q->batch_end :
	      list_last_entry(&q->waiters, struct hsema_waiter, node)->ticket;
	/*
	 * A published release whose units are gone (taken by running
	 * threads) has nothing to grant: it leaves the entry to the next
	 * release, which has, so that an episode always begins with a grant.
	 */
	if (!starving && (units || p->base) && starve_due_first(q, now)) {
		/*
		 * The head has waited too long.  Units already in the word
		 * were announced to woken waiters that have not run yet;
		 * they are absorbed and granted in ticket order instead.
		 */
		starving = true;
		p->enter = true;
		units += p->base;
		p->base = 0;
	}

	left = q->nr_waiters;
	woken = q->nr_woken;
	if (starving || handoff) {
		list_for_each_entry_from(w, &q->waiters, node) {
			if (!units)
				break;
			/*
			 * A wait for any that owns a unit elsewhere is
			 * passed over; one granted here is claimed now,
			 * and released again by plan_undo() if the word
			 * changes before the grant is made.
			 */
			if (!waiter_claim(w))
				continue;
			p->grant++;
			units--;
			left--;
			if (w->state == HSEMA_W_WOKEN)
				woken--;
			if (starving &&
			    (!left || waited_ns(w, now) < w->starve_ns ||
			     w->ticket >= end)) {
				starving = false;
				p->exit = true;
				p->exit_after = p->grant;
				if (!handoff)
					break;
			}
		}
		/*
		 * Units left over while starving: everyone still queued
		 * was passed over (their claims were taken: they own a
		 * unit elsewhere, or another queue's release is about to
		 * grant one).  The units go to the word, so the mode must
		 * end, or they could sit there while a newcomer sleeps.
		 */
		if (starving && units) {
			starving = false;
			/* An episode begins with a grant, or not at all. */
			if (p->enter && !p->grant)
				p->enter = false;
			else
				p->exit = true;
			p->exit_after = p->grant;
		}
	}
	p->counted = units;
	p->starving = starving && left;
	/*
	 * Every unit in the value is claimed by a woken waiter while anybody
	 * sleeps, once the release that put it there has been here (a
	 * published unit is unclaimed from the caller's compare-and-swap
	 * until this call, and one added to a WOKEN word until a woken
	 * waiter takes a unit).  A grant to a woken waiter that has not run
	 * yet (a handoff in normal mode) leaves the unit it was woken for in
	 * the value with no claimant, so wake a sleeper for it too, or it
	 * could sit there while everyone sleeps.  Units already claimed get
	 * no second waiter: a wake-up for them could only lose.
	 */
	unclaimed = p->base + units > woken ? p->base + units - woken : 0;
	want = max(units, unclaimed);
	/*
	 * A published release that finds nobody woken wakes the first
	 * sleeper even if running threads took its units already: that
	 * waiter competes (glibc's sem_post() wakes one whatever the value),
	 * and until it has run, the word reads WOKEN and the releases that
	 * follow stay in userspace instead of each entering the kernel to
	 * find nothing to do.
	 */
	if ((how & HSEMA_WAKE_PUBLISHED) && !p->starving && !woken)
		want = max(want, 1U);
	p->wake = min(want, left - woken);
	p->bits = queue_bits(left, p->starving, woken + p->wake);
	/* The episode goes on: its next grant's waiter can get ready. */
	p->spin = p->starving && p->grant;
}

/* A plan that will not be carried out: give back the claims it won. */
static void plan_undo(struct hsema_queue *q, const struct hsema_plan *p)
{
	struct hsema_waiter *w;
	u32 n = p->grant;

	if (!q || !n)
		return;
	list_for_each_entry(w, &q->waiters, node) {
		if (!waiter_claimed_here(w))
			continue;
		waiter_unclaim(w);
		if (!--n)
			break;
	}
}

/*
 * Release @count units: grant or wake up to @count waiters in ticket
 * order (and wake one more for each granted waiter whose unit is still in
 * the value) and add the rest to the word, in one pass under one lock hold.
 * @how is HSEMA_WAKE_HANDOFF (grant even in normal mode) or
 * HSEMA_WAKE_PUBLISHED (the units are in the word already: wake for them,
 * add nothing).  @max is the semaphore's maximum (HSEMA_VALUE_MAX for
 * none).  Callable from any context for kernel semaphores;
 * @may_yield permits the directed yield, which is still refused where
 * scheduling is unsafe.
 * Returns 0, -EOVERFLOW (nothing changed), or for user words -EFAULT,
 * -ENOMEM (hugetlb) or -EINTR (a fatal signal that came during the
 * call), with nothing released.
 */
int hsema_wake_site(struct hsema_site *site, u32 count, unsigned int how,
		    u32 max, bool may_yield, struct hsema_wake *out)
{
	/*
	 * The wake array grows only for user words (an ioctl: a task that
	 * may sleep).  A kernel semaphore is released wherever up() may be,
	 * and up() never allocates: past the array it wakes under its lock.
	 */
	bool may_alloc = site->uaddr;
	bool killable = !fatal_signal_pending(current);
	struct task_struct *yield_task = NULL;
	struct hsema_queue *q, *dead = NULL;
	unsigned int faults = 0, need = 0, rounds = 0, changed;
	struct hsema_waiter *w, *next;
	struct hsema_wakeq wq;
	struct hsema_plan p;
	u32 old, cur, i;
	u64 now;
	int ret;

	hsema_wakeq_init(&wq);
	site_lock(site);
retry:
	q = site_queue(site);
	/* Only a queue's waiters have waited: no clock without them. */
	now = q ? ktime_get_ns() : 0;
	changed = 0;
	ret = word_read(site, &old);
	while (!ret) {
		/*
		 * The semaphore's maximum bounds the units in the word and
		 * those this release brings, granted or added alike; a
		 * published release's are in the word already, checked
		 * against it by the caller's compare-and-swap.
		 */
		if (!(how & HSEMA_WAKE_PUBLISHED) &&
		    (u64)(old & HSEMA_VALUE_MASK) + count > max) {
			ret = -EOVERFLOW;
			goto unlock;
		}
		plan_release(q, old, count, how, now, &p);
		if ((u64)p.base + p.counted > HSEMA_VALUE_MAX) {
			plan_undo(q, &p);
			ret = -EOVERFLOW;
			goto unlock;
		}
		if (p.grant + p.wake + p.spin > wq.cap && may_alloc) {
			plan_undo(q, &p);
			need = p.grant + p.wake + p.spin;
			break;
		}
		ret = word_cmpxchg(site, old, (p.base + p.counted) | p.bits,
				   &cur);
		if (!ret && cur == old)
			break;
		plan_undo(q, &p);
		if (ret)
			break;
		old = cur;
		if (word_changed_too_often(site, &changed))
			ret = -EAGAIN;
	}
	if (ret || need) {
		site_unlock(site);
		if (need) {
			/* Without memory, wake the rest under the lock. */
			if (wakeq_reserve(&wq, need + need / 4))
				may_alloc = false;
			need = 0;
		} else if (ret == -EAGAIN && !killable &&
			   ++rounds > HSEMA_PASS_ON_ROUNDS) {
			ret = -EFAULT;
		} else {
			ret = hsema_word_recover(site, ret, &faults, killable);
		}
		site_lock(site);
		if (!ret)
			goto retry;
		goto unlock;
	}

	if (q) {
		if (p.enter)
			starve_enter(site, q, now);
		if (p.exit && !p.exit_after)
			starve_exit(site, q, now);
		w = queue_head(q);
		for (i = 0; i < p.grant; w = next) {
			next = list_next_entry(w, node);
			/* Passed over by the plan: see plan_release(). */
			if (!waiter_claimed_here(w))
				continue;
			i++;
			hsema_stat_wait_time(q, waited_ns(w, now));
			dead = hsema_dequeue(w);
			/* The waiter may read it unlocked: see hsema_wait_site(). */
			WRITE_ONCE(w->state, HSEMA_W_GRANTED);
			waiter_claim_done(w);
			hsema_qstat_inc(q, grants);
			trace_hsema_granted(&site->key, w, q->nr_waiters);
			if (!yield_task) {
				yield_task = w->task;
				get_task_struct(yield_task);
			}
			wakeq_add(&wq, w->task);
			if (i == p.exit_after)
				starve_exit(site, q, now);
		}
		wake_sleepers(site, q, p.wake, &wq);
		if (p.spin)
			wake_next_grantee(q, &wq);
	}
	trace_hsema_released(&site->key, count, p.grant, p.wake,
			     q ? q->nr_waiters : 0);
	if (out) {
		out->granted = p.grant;
		out->woken = p.wake;
	}
unlock:
	site_unlock(site);
	hsema_wakeq_wake(&wq);
	hsema_queue_free(dead);
	if (yield_task) {
		if (may_yield)
			hsema_directed_yield(yield_task);
		put_task_struct(yield_task);
	}
	return ret;
}

int hsema_wait(u32 __user *uaddr, unsigned int flags, const ktime_t *deadline,
	       u64 starve_ns)
{
	struct hsema_site site;
	int ret;

	ret = hsema_site_user(&site, uaddr, flags & HSEMA_F_SHARED, true);
	if (ret)
		return ret;
	ret = hsema_wait_site(&site, TASK_INTERRUPTIBLE, deadline,
			      (flags & HSEMA_WAIT_REALTIME) ?
			      CLOCK_REALTIME : CLOCK_MONOTONIC, starve_ns);
	hsema_site_put(&site);
	return ret;
}

int hsema_wake(u32 __user *uaddr, unsigned int flags, u32 count, u32 max,
	       bool may_yield, struct hsema_wake *out)
{
	struct hsema_site site;
	int ret;

	ret = hsema_site_user(&site, uaddr, flags & HSEMA_F_SHARED, true);
	if (ret)
		return ret;
	ret = hsema_wake_site(&site, count,
			      flags & (HSEMA_WAKE_HANDOFF | HSEMA_WAKE_PUBLISHED),
			      max, may_yield, out);
	hsema_site_put(&site);
	return ret;
}

int hsema_query(u32 __user *uaddr, unsigned int flags, struct hsema_query *qr)
{
	struct hsema_waiter *w, *head = NULL, *tail = NULL;
	struct hsema_site site;
	struct hsema_queue *q;
	int ret;

	ret = hsema_site_user(&site, uaddr, flags & HSEMA_F_SHARED, false);
	if (ret)
		return ret;
	/* Nothing to write, but the word must exist, as for the others. */
	if (fault_in_readable((const char __user *)uaddr, sizeof(u32))) {
		hsema_site_put(&site);
		return hsema_read_fault_errno(uaddr);
	}
	site_lock(&site);
	q = site_queue(&site);
	if (q) {
		/*
		 * A wait for any that owns its unit elsewhere has left this
		 * queue for every release; only its task, once it runs,
		 * still has to unlink it.  It is not reported.
		 */
		list_for_each_entry(w, &q->waiters, node) {
			if (waiter_done(w))
				continue;
			if (!head)
				head = w;
			tail = w;
			qr->nr_waiters++;
			qr->nr_woken += w->state == HSEMA_W_WOKEN;
		}
		qr->starving = q->starving;
		if (head) {
			qr->head_ticket = head->ticket;
			qr->tail_ticket = tail->ticket;
			qr->head_wait_ns = waited_ns(head, ktime_get_ns());
		}
	}
	site_unlock(&site);
	hsema_site_put(&site);
	return 0;
}
