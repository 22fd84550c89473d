/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel side of the store core shim (see skv_shim.h). */
#ifndef SKV_CORE_SHIM_KERNEL_H
#define SKV_CORE_SHIM_KERNEL_H

#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/vmalloc.h>
#include <linux/kmemleak.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/atomic.h>
#include <linux/crc32c.h>
#include <linux/xxhash.h>
#include <linux/timekeeping.h>
#include <linux/sched.h>
#include <linux/minmax.h>
#include <linux/bug.h>
#include <linux/printk.h>
#include <asm/byteorder.h>

static inline void *skv_alloc(size_t n)
{
	return kmalloc(n, GFP_KERNEL);
}

static inline void *skv_zalloc(size_t n)
{
	return kzalloc(n, GFP_KERNEL);
}

static inline void skv_free(const void *p)
{
	kfree(p);
}

static inline void *skv_valloc(size_t n)
{
	return kvmalloc(n, GFP_KERNEL);
}

static inline void *skv_vzalloc(size_t n)
{
	return kvzalloc(n, GFP_KERNEL);
}

/* An optional large buffer: fails rather than retrying hard or warning. */
static inline void *skv_valloc_try(size_t n)
{
	return kvmalloc(n, GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
}

static inline void skv_vfree(const void *p)
{
	kvfree(p);
}

/*
 * Log segment memory: whole pages whose reference counts govern their
 * life, not a kmalloc object (kvmalloc's), because a pull may send
 * records straight from them (kmod/reply.h): the socket holds its own
 * page references, so a segment freed meanwhile stays readable, and is
 * not taken for a use after free, until the socket is done.  Physically
 * contiguous when it can be (the direct map's large pages), else vmalloc.
 */
static inline void *skv_seg_mem_alloc(size_t n)
{
	unsigned int order = get_order(n);
	struct page *p = NULL;

	if (order <= MAX_PAGE_ORDER)
		p = alloc_pages(GFP_KERNEL | __GFP_COMP | __GFP_NORETRY |
				__GFP_NOWARN, order);
	if (!p)
		return vmalloc(n);
	/* Watched for leaks as vmalloc's are; records hold no pointers. */
	kmemleak_alloc(page_address(p), PAGE_SIZE << order, 1, GFP_KERNEL);
	kmemleak_no_scan(page_address(p));
	return page_address(p);
}

static inline void skv_seg_mem_free(const void *p)
{
	if (is_vmalloc_addr(p)) {
		vfree(p);
		return;
	}
	kmemleak_free(p);
	put_page(virt_to_page(p));
}

#define skv_rcu_head		struct rcu_head
#define skv_free_rcu(ptr, field)	kfree_rcu(ptr, field)

#define skv_spinlock_t		spinlock_t
#define skv_spin_init(l)	spin_lock_init(l)
#define skv_spin_lock(l)	spin_lock(l)
#define skv_spin_unlock(l)	spin_unlock(l)
#define skv_spin_destroy(l)	((void)(l))

#define skv_mutex_t		struct mutex
#define skv_mutex_init(m)	mutex_init(m)
#define skv_mutex_lock(m)	mutex_lock(m)
#define skv_mutex_unlock(m)	mutex_unlock(m)
#define skv_mutex_destroy(m)	mutex_destroy(m)

#define skv_rcu_read_lock()	rcu_read_lock()
#define skv_rcu_read_unlock()	rcu_read_unlock()
#define skv_synchronize_rcu()	synchronize_rcu()
#define skv_synchronize_rcu_expedited()	synchronize_rcu_expedited()
#define skv_rcu_barrier()	rcu_barrier()

#define skv_atomic64_t		atomic64_t
#define skv_atomic64_read(a)		atomic64_read(a)
#define skv_atomic64_set(a, v)		atomic64_set(a, v)
#define skv_atomic64_add(v, a)		atomic64_add(v, a)
#define skv_atomic64_sub(v, a)		atomic64_sub(v, a)
#define skv_atomic64_inc(a)		atomic64_inc(a)
#define skv_atomic64_dec(a)		atomic64_dec(a)
#define skv_atomic64_inc_return(a)	atomic64_inc_return(a)
#define skv_atomic64_add_return(v, a)	atomic64_add_return(v, a)
#define skv_atomic64_cmpxchg(a, o, n)	atomic64_cmpxchg(a, o, n)

static inline u32 skv_crc32c(u32 crc, const void *p, size_t len)
{
	return crc32c(crc, p, len);
}

static inline u64 skv_xxh64(const void *p, size_t len, u64 seed)
{
	return xxh64(p, len, seed);
}

static inline u64 skv_now_ns(void)
{
	return ktime_get_ns();
}

#define skv_cond_resched()	cond_resched()
#define skv_might_sleep()	might_sleep()

static inline void skv_thread_online(void)
{
}

static inline void skv_thread_offline(void)
{
}

#endif /* SKV_CORE_SHIM_KERNEL_H */
