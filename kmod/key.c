// SPDX-License-Identifier: GPL-2.0-only
/*
 * Keys: which semaphore a user address names.
 *
 * Like futex keys, without futex's inode sequence numbers (not available
 * to modules): a shared key pins its inode with a reference instead, held
 * by every waiter for as long as it is queued and by every releaser for the
 * length of its call.  A queue's key therefore always names a live inode,
 * and no other inode can appear at the same address while it is compared.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>

#include "hsema.h"

int hsema_key_get(u32 __user *uaddr, bool shared, struct hsema_key *key)
{
	unsigned long address = (unsigned long)uaddr;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret = 0;

	if (!IS_ALIGNED(address, sizeof(u32)))
		return -EINVAL;
	if (!mm || !access_ok(uaddr, sizeof(u32)))
		return -EFAULT;

	key->obj = mm;
	key->off = address;
	key->shared = false;
	if (!shared)
		return 0;

	/*
	 * A word in a shared file mapping (which includes MAP_SHARED
	 * anonymous memory: it is a shmem file) is named by its file and
	 * offset.  Private mappings are shared with nobody once written.
	 */
	mmap_read_lock(mm);
	vma = vma_lookup(mm, address);
	if (!vma || !(vma->vm_flags & VM_WRITE)) {
		ret = -EFAULT;
	} else if ((vma->vm_flags & VM_SHARED) && vma->vm_file) {
		key->obj = file_inode(vma->vm_file);
		key->off = ((u64)vma->vm_pgoff << PAGE_SHIFT) +
			   (address - vma->vm_start);
		key->shared = true;
		ihold(key->obj);
	}
	mmap_read_unlock(mm);
	return ret;
}

/* Drop a key's reference.  May sleep: never call it under a bucket lock. */
void hsema_key_put(struct hsema_key *key)
{
	if (key->shared)
		iput(key->obj);
	key->shared = false;
	key->obj = NULL;
}

bool hsema_key_equal(const struct hsema_key *a, const struct hsema_key *b)
{
	return a->obj == b->obj && a->off == b->off && a->shared == b->shared;
}
