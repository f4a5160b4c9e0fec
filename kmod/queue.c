// SPDX-License-Identifier: GPL-2.0-only
/*
 * Wait queues: a hash table of buckets, each with its own lock and a list
 * of the per-key queues that hash to it.  A queue exists only while its key
 * has waiters, so a semaphore nobody waits on costs the kernel nothing.
 *
 * The bucket lock is a spinlock_t (see struct hsema_bucket): only tasks in
 * an ioctl take it.  Kernel semaphores, released from hard interrupts, have
 * their own raw lock and are never hashed.  Nothing under either lock
 * allocates, frees, faults or sleeps (beyond the RT lock itself).
 */
#include <linux/hash.h>
#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "hsema.h"

static struct hsema_bucket *hsema_table;
static unsigned int hsema_hash_bits;
static struct kmem_cache *hsema_queue_cache;

/*
 * One freed queue kept per CPU for the next first waiter.  Two threads
 * handing a semaphore back and forth make every wait the first of its
 * key and every grant the last: without the stash each wait allocated a
 * queue after dropping the bucket lock, took the lock again to look a
 * second time, and its grant freed the queue.  A stashed queue stays
 * charged to the memory cgroup that allocated it, one per CPU at most.
 */
static DEFINE_PER_CPU(struct hsema_queue *, hsema_queue_stash);

int hsema_queues_init(void)
{
	unsigned long size = roundup_pow_of_two(256 * num_possible_cpus());
	unsigned long i;

	/* A queue is allocated by a user's waiter: charge it to the user. */
	hsema_queue_cache = KMEM_CACHE(hsema_queue, SLAB_ACCOUNT);
	if (!hsema_queue_cache)
		return -ENOMEM;
	hsema_table = kvcalloc(size, sizeof(*hsema_table), GFP_KERNEL);
	if (!hsema_table) {
		kmem_cache_destroy(hsema_queue_cache);
		return -ENOMEM;
	}
	for (i = 0; i < size; i++) {
		spin_lock_init(&hsema_table[i].lock);
		INIT_HLIST_HEAD(&hsema_table[i].queues);
	}
	hsema_hash_bits = ilog2(size);
	return 0;
}

/*
 * Called at unload, when no file is open and so nobody waits: every queue
 * has been freed by its last waiter.
 */
void hsema_queues_exit(void)
{
	struct hsema_queue *q;
	int cpu;

	for_each_possible_cpu(cpu) {
		q = per_cpu(hsema_queue_stash, cpu);
		if (q)
			kmem_cache_free(hsema_queue_cache, q);
	}
	kvfree(hsema_table);
	kmem_cache_destroy(hsema_queue_cache);
}

unsigned long hsema_nr_buckets(void)
{
	return 1UL << hsema_hash_bits;
}

struct hsema_bucket *hsema_bucket_nr(unsigned long i)
{
	return &hsema_table[i];
}

struct hsema_bucket *hsema_bucket(const struct hsema_key *key)
{
	u32 words[5] = {
		lower_32_bits((unsigned long)key->obj),
		upper_32_bits((unsigned long)key->obj),
		lower_32_bits(key->off),
		upper_32_bits(key->off),
		key->shared,
	};

	return &hsema_table[hash_32(jhash2(words, 5, 0), hsema_hash_bits)];
}

struct hsema_queue *hsema_queue_find(struct hsema_bucket *b,
				     const struct hsema_key *key)
{
	struct hsema_queue *q;

	lockdep_assert_held(&b->lock);
	hlist_for_each_entry(q, &b->queues, node)
		if (hsema_key_equal(&q->key, key))
			return q;
	return NULL;
}

/* Allocated with the bucket lock dropped, by a waiter that needs it. */
struct hsema_queue *hsema_queue_alloc(void)
{
	return kmem_cache_zalloc(hsema_queue_cache, GFP_KERNEL);
}

/*
 * This CPU's stashed queue, or NULL.  Takes nothing but a per-CPU
 * pointer, so a waiter may call it under the bucket lock.
 */
struct hsema_queue *hsema_queue_unstash(void)
{
	return this_cpu_xchg(hsema_queue_stash, NULL);
}

/*
 * Called unlocked: keeps @q in this CPU's stash if that is empty.  Under
 * KASAN every queue goes back to the slab, so that a use after its last
 * waiter left is reported instead of hidden by the next first waiter.
 */
void hsema_queue_free(struct hsema_queue *q)
{
	if (!q)
		return;
	if (IS_ENABLED(CONFIG_KASAN) ||
	    this_cpu_cmpxchg(hsema_queue_stash, NULL, q))
		kmem_cache_free(hsema_queue_cache, q);
}

void hsema_queue_init(struct hsema_queue *q, const struct hsema_key *key)
{
	memset(q, 0, sizeof(*q));
	q->key = *key;
	INIT_LIST_HEAD(&q->waiters);
	q->next_ticket = 1;
}

/*
 * The queue borrows the key of its waiters: any one of them holds the file
 * reference that keeps a shared key valid, and the queue dies with the last.
 */
void hsema_queue_install(struct hsema_bucket *b, struct hsema_queue *q,
			 const struct hsema_key *key)
{
	lockdep_assert_held(&b->lock);
	hsema_queue_init(q, key);
	q->hashed = true;
	hlist_add_head(&q->node, &b->queues);
}

/* A waiter takes the next ticket and joins the tail. */
void hsema_enqueue(struct hsema_queue *q, struct hsema_waiter *w)
{
	w->ticket = q->next_ticket++;
	w->queued_ns = ktime_get_ns();
	w->state = HSEMA_W_QUEUED;
	w->q = q;
	list_add_tail(&w->node, &q->waiters);
	q->nr_waiters++;
	hsema_qstat_inc(q, waits);
}

/*
 * Remove @w from its queue.  When that empties a user word's queue, the
 * queue is unhashed and returned: the caller frees it after unlocking.
 */
struct hsema_queue *hsema_dequeue(struct hsema_waiter *w)
{
	struct hsema_queue *q = w->q;

	list_del(&w->node);
	if (w->state == HSEMA_W_WOKEN)
		q->nr_woken--;
	w->q = NULL;
	WRITE_ONCE(w->state, HSEMA_W_NONE);
	if (--q->nr_waiters || !q->hashed)
		return NULL;
	hlist_del(&q->node);
	return q;
}
