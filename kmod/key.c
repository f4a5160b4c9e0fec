// SPDX-License-Identifier: GPL-2.0-only
/*
 * Keys: which semaphore a user address names.
 *
 * A private key is (mm, address): a word only its own process can meet.
 * Every word gets one unless the caller asks for HSEMA_F_SHARED and the
 * word lives in a MAP_SHARED mapping of page-cache or shmem memory (a file,
 * tmpfs, memfd, MAP_SHARED|MAP_ANONYMOUS, SysV shm, hugetlbfs); then the key
 * is (inode, offset in the file), the same in every process that maps it.
 *
 * Other shared mappings are refused with -EFAULT: the pages of a perf ring
 * buffer, a BPF map, a KVM or VFIO region belong to no page cache, and all
 * of one kind hang off the same anonymous inode, so (inode, offset) would
 * put unrelated objects of unrelated users in one queue.  The test is
 * futex's, made stricter: the page must be in the page cache of the very
 * file that is mapped (perf even points its pages' ->mapping at that file).
 *
 * Futex never pins anything for a key: it names the inode by a sequence
 * number, which a module cannot reach.  A shared key here pins the mapped
 * file instead (get_file()), held by every waiter for as long as it is
 * queued and by every releaser for its call.  A file holds its mount as
 * well as its inode, so the filesystem cannot go away under a sleeping
 * waiter (umount is EBUSY; a lazy umount completes when the last waiter
 * leaves), a queue's key always names a live inode, and no other inode can
 * appear at the same address while the key is compared.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "hsema.h"

#ifndef VM_SHADOW_STACK
#define VM_SHADOW_STACK	VM_NONE		/* before 6.6 */
#endif

/*
 * Mappings that can never hold a semaphore: device memory (no struct page
 * to fault in, or stores with side effects) and shadow stacks, which are
 * VM_WRITE yet refuse ordinary stores.  Also a mapping without VM_WRITE.
 */
bool hsema_vma_usable(const struct vm_area_struct *vma)
{
	return (vma->vm_flags & VM_WRITE) &&
	       !(vma->vm_flags & (VM_IO | VM_PFNMAP | VM_SHADOW_STACK));
}

/*
 * What a failed fault on @vma means for the caller: a hugetlb page that
 * cannot be allocated (the pool is empty) is -ENOMEM; anything else that
 * would have been a SIGBUS or SIGSEGV is -EFAULT.
 */
int hsema_fault_errno(const struct vm_area_struct *vma, int err)
{
	if (err == -ENOMEM || err == -EINTR)
		return err;
	if (vma && (vma->vm_flags & VM_HUGETLB) && hsema_vma_usable(vma))
		return -ENOMEM;
	return -EFAULT;
}

/*
 * Why a word that fault_in_readable() refused cannot be read: a hugetlb
 * page the pool cannot supply is -ENOMEM, as for the other calls.
 */
int hsema_read_fault_errno(u32 __user *uaddr)
{
	unsigned long address = (unsigned long)uaddr;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret = -EFAULT;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, address);
	if (vma && (vma->vm_flags & VM_HUGETLB) && (vma->vm_flags & VM_READ))
		ret = -ENOMEM;
	mmap_read_unlock(mm);
	return ret;
}

/* @folio is in @mapping's page cache, not only pointing at it. */
static bool in_page_cache(struct folio *folio, struct address_space *mapping)
{
	return xa_load(&mapping->i_pages, folio->index) == folio;
}

static int key_get_shared(unsigned long address, bool write,
			  struct hsema_key *key, struct file **pin)
{
	struct mm_struct *mm = current->mm;
	struct address_space *mapping;
	struct vm_area_struct *vma;
	struct folio *folio;
	struct page *page;
	int ret;

	/*
	 * Faults the page in (writable for a call that will store to it: a
	 * query must not dirty a file page or break copy-on-write); refuses
	 * VM_IO, PFNMAP and, for writes, shadow stacks.
	 */
	ret = get_user_pages_fast(address, 1, write ? FOLL_WRITE : 0, &page);
	if (ret < 1) {
		mmap_read_lock(mm);
		ret = hsema_fault_errno(vma_lookup(mm, address), ret);
		mmap_read_unlock(mm);
		return ret;
	}
	folio = page_folio(page);

	mmap_read_lock(mm);
	vma = vma_lookup(mm, address);
	ret = -EFAULT;
	if (!vma || !hsema_vma_usable(vma))
		goto out;
	if (!(vma->vm_flags & VM_SHARED)) {
		/* Private memory is shared with nobody once written. */
		ret = 0;
		goto out;
	}
	if (!vma->vm_file || folio_test_anon(folio))
		goto out;
	mapping = READ_ONCE(folio->mapping);
	if (mapping != vma->vm_file->f_mapping || !mapping->host ||
	    !in_page_cache(folio, mapping))
		goto out;
	key->obj = mapping->host;
	key->off = ((u64)vma->vm_pgoff << PAGE_SHIFT) +
		   (address - vma->vm_start);
	key->shared = true;
	*pin = get_file(vma->vm_file);
	ret = 0;
out:
	mmap_read_unlock(mm);
	put_page(page);
	return ret;
}

/*
 * Form the key of the word at @uaddr, for a call that stores to it if
 * @write.  A shared key comes with a file reference in *@pin, which
 * hsema_key_put() drops; else *@pin is NULL.
 */
int hsema_key_get(u32 __user *uaddr, bool shared, bool write,
		  struct hsema_key *key, struct file **pin)
{
	unsigned long address = (unsigned long)uaddr;
	struct mm_struct *mm = current->mm;

	*pin = NULL;
	if (!IS_ALIGNED(address, sizeof(u32)))
		return -EINVAL;
	if (!mm || !access_ok(uaddr, sizeof(u32)))
		return -EFAULT;

	key->obj = mm;
	key->off = address;
	key->shared = false;
	if (!shared)
		return 0;
	return key_get_shared(address, write, key, pin);
}

/* Drop a key's file.  May sleep: never call it under a bucket lock. */
void hsema_key_put(struct file *pin)
{
	if (pin)
		fput(pin);
}

bool hsema_key_equal(const struct hsema_key *a, const struct hsema_key *b)
{
	return a->obj == b->obj && a->off == b->off && a->shared == b->shared;
}
