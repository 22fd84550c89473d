/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host side of the store core shim (see skv_shim.h): libc, pthreads,
 * liburcu (urcu-memb flavour) and libxxhash.  It lives with the host build
 * (kmod/core/skv_shim.h finds it on the include path); the host crc32c is
 * in skv_host.c.
 *
 * With SKV_RCU_RWLOCK defined (ThreadSanitizer builds) RCU is emulated with
 * a writer-preferring rwlock so the sanitizer can see the ordering.
 */
#ifndef SKV_CORE_SHIM_HOST_H
#define SKV_CORE_SHIM_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <endian.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <linux/types.h>
#ifndef SKV_RCU_RWLOCK
/* Read-side calls inlined, as the kernel's are (GPL code may: LGPL 2.1). */
#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>
#endif
#include <xxhash.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s8 s8;
typedef __s16 s16;
typedef __s32 s32;
typedef __s64 s64;

#ifndef __rcu
#define __rcu
#endif

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define U8_MAX		((u8)~0U)
#define U16_MAX		((u16)~0U)
#define U32_MAX		((u32)~0U)
#define U64_MAX		((u64)~0ULL)

#define ALIGN(x, a)	(((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define min(a, b)	((a) < (b) ? (a) : (b))
#define max(a, b)	((a) > (b) ? (a) : (b))
#define min_t(t, a, b)	((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b)	((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define cpu_to_le16(x)	((__le16)htole16(x))
#define cpu_to_le32(x)	((__le32)htole32(x))
#define cpu_to_le64(x)	((__le64)htole64(x))
#define le16_to_cpu(x)	le16toh((__u16)(x))
#define le32_to_cpu(x)	le32toh((__u32)(x))
#define le64_to_cpu(x)	le64toh((__u64)(x))

#define pr_warn(...)	fprintf(stderr, "steadykv: " __VA_ARGS__)
#define pr_err(...)	fprintf(stderr, "steadykv: " __VA_ARGS__)
#define WARN_ON_ONCE(c) ({						\
	static bool __warned;						\
	bool __c = !!(c);						\
	if (__c && !__warned) {						\
		__warned = true;					\
		fprintf(stderr, "WARNING: %s:%d: %s\n", __FILE__,	\
			__LINE__, #c);					\
	}								\
	__c;								\
})
#define BUILD_BUG_ON(c)	_Static_assert(!(c), #c)

/*
 * Relaxed single-copy atomic accesses and acquire/release RCU pointers,
 * as atomics so sanitizers see them (ours replace liburcu's macros).
 */
#undef rcu_dereference
#undef rcu_assign_pointer
#undef rcu_access_pointer
#undef READ_ONCE
#undef WRITE_ONCE
/*
 * Acquire/release rather than relaxed: the kernel relies on address
 * dependencies after READ_ONCE of a pointer, which C11 relaxed does not
 * give (and x86 costs nothing for it).
 */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define rcu_dereference(p)	__atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define rcu_dereference_protected(p, c)	\
	((void)(c), __atomic_load_n(&(p), __ATOMIC_RELAXED))
#define rcu_access_pointer(p)	__atomic_load_n(&(p), __ATOMIC_RELAXED)
#define rcu_assign_pointer(p, v)	__atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define RCU_INIT_POINTER(p, v)	__atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

/* Allocation. */
static inline void *skv_alloc(size_t n)
{
	return malloc(n);
}

static inline void *skv_zalloc(size_t n)
{
	return calloc(1, n);
}

static inline void skv_free(const void *p)
{
	free((void *)p);
}

static inline void *skv_valloc(size_t n)
{
	return malloc(n);
}

static inline void *skv_vzalloc(size_t n)
{
	return calloc(1, n);
}

static inline void *skv_valloc_try(size_t n)
{
	return malloc(n);
}

static inline void skv_vfree(const void *p)
{
	free((void *)p);
}

/* Log segment memory (the kernel's is page-backed: skv_shim_kernel.h). */
static inline void *skv_seg_mem_alloc(size_t n)
{
	return malloc(n);
}

static inline void skv_seg_mem_free(const void *p)
{
	free((void *)p);
}

/* Locks: a mutex serves as "spinlock" on the host (threads get preempted). */
#define skv_spinlock_t		pthread_mutex_t
#define skv_spin_init(l)	pthread_mutex_init(l, NULL)
#define skv_spin_lock(l)	pthread_mutex_lock(l)
#define skv_spin_unlock(l)	pthread_mutex_unlock(l)
#define skv_spin_destroy(l)	pthread_mutex_destroy(l)

#define skv_mutex_t		pthread_mutex_t
#define skv_mutex_init(m)	pthread_mutex_init(m, NULL)
#define skv_mutex_lock(m)	pthread_mutex_lock(m)
#define skv_mutex_unlock(m)	pthread_mutex_unlock(m)
#define skv_mutex_destroy(m)	pthread_mutex_destroy(m)

/* RCU. */
#ifdef SKV_RCU_RWLOCK
struct skv_host_rcu_head {
	struct skv_host_rcu_head *next;
	void *obj;
};
void skv_host_rcu_read_lock(void);
void skv_host_rcu_read_unlock(void);
void skv_host_synchronize_rcu(void);
void skv_host_free_rcu(struct skv_host_rcu_head *h, void *obj);
#define skv_rcu_read_lock()	skv_host_rcu_read_lock()
#define skv_rcu_read_unlock()	skv_host_rcu_read_unlock()
#define skv_synchronize_rcu()	skv_host_synchronize_rcu()
#define skv_synchronize_rcu_expedited()	skv_host_synchronize_rcu()
#define skv_rcu_barrier()	skv_host_synchronize_rcu()
static inline void skv_thread_online(void)
{
}

static inline void skv_thread_offline(void)
{
}
#else
struct skv_host_rcu_head {
	struct rcu_head h;
	void *obj;
};
void skv_host_free_rcu(struct skv_host_rcu_head *h, void *obj);
#define skv_rcu_read_lock()	urcu_memb_read_lock()
#define skv_rcu_read_unlock()	urcu_memb_read_unlock()
#define skv_synchronize_rcu()	urcu_memb_synchronize_rcu()
#define skv_synchronize_rcu_expedited()	urcu_memb_synchronize_rcu()
#define skv_rcu_barrier()	urcu_memb_barrier()
/* Host threads that enter RCU read sections (or free via RCU) register. */
static inline void skv_thread_online(void)
{
	urcu_memb_register_thread();
}

static inline void skv_thread_offline(void)
{
	urcu_memb_unregister_thread();
}
#endif
#define skv_rcu_head		struct skv_host_rcu_head
#define skv_free_rcu(ptr, field)	skv_host_free_rcu(&(ptr)->field, (ptr))

/* Atomics. */
struct skv_atomic64 {
	s64 v;
};

#define skv_atomic64_t		struct skv_atomic64
#define skv_atomic64_read(a)	__atomic_load_n(&(a)->v, __ATOMIC_RELAXED)
#define skv_atomic64_set(a, n)	__atomic_store_n(&(a)->v, (n), __ATOMIC_RELAXED)
#define skv_atomic64_add(n, a)	((void)__atomic_add_fetch(&(a)->v, (n), __ATOMIC_RELAXED))
#define skv_atomic64_sub(n, a)	((void)__atomic_sub_fetch(&(a)->v, (n), __ATOMIC_RELAXED))
#define skv_atomic64_inc(a)	skv_atomic64_add(1, a)
#define skv_atomic64_dec(a)	skv_atomic64_sub(1, a)
#define skv_atomic64_inc_return(a)	__atomic_add_fetch(&(a)->v, 1, __ATOMIC_SEQ_CST)
#define skv_atomic64_add_return(n, a)	__atomic_add_fetch(&(a)->v, (n), __ATOMIC_SEQ_CST)
static inline s64 skv_atomic64_cmpxchg(skv_atomic64_t *a, s64 o, s64 n)
{
	__atomic_compare_exchange_n(&a->v, &o, n, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	return o;
}

/* Checksums and hashes. */
u32 skv_host_crc32c(u32 crc, const void *p, size_t len);
static inline u32 skv_crc32c(u32 crc, const void *p, size_t len)
{
	return skv_host_crc32c(crc, p, len);
}

static inline u64 skv_xxh64(const void *p, size_t len, u64 seed)
{
	return XXH64(p, len, seed);
}

static inline u64 skv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

#define skv_cond_resched()	do { } while (0)
#define skv_might_sleep()	do { } while (0)

/* A minimal list_head, as in <linux/list.h>. */
struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name)	{ &(name), &(name) }
static inline void INIT_LIST_HEAD(struct list_head *l)
{
	l->next = l;
	l->prev = l;
}

static inline void __list_add(struct list_head *n, struct list_head *prev,
			      struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

static inline void list_add(struct list_head *n, struct list_head *h)
{
	__list_add(n, h, h->next);
}

static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	__list_add(n, h->prev, h);
}

static inline void list_del(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
	e->next = NULL;
	e->prev = NULL;
}

static inline void list_del_init(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
	INIT_LIST_HEAD(e);
}

static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}

static inline void list_splice_tail_init(struct list_head *list,
					 struct list_head *head)
{
	if (!list_empty(list)) {
		struct list_head *first = list->next, *last = list->prev;

		first->prev = head->prev;
		head->prev->next = first;
		last->next = head;
		head->prev = last;
		INIT_LIST_HEAD(list);
	}
}

#define list_entry(ptr, type, member)	container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_for_each_entry(pos, head, member)				\
	for (pos = list_entry((head)->next, __typeof__(*pos), member);	\
	     &pos->member != (head);					\
	     pos = list_entry(pos->member.next, __typeof__(*pos), member))
#define list_for_each_entry_safe(pos, n, head, member)			\
	for (pos = list_entry((head)->next, __typeof__(*pos), member),	\
	     n = list_entry(pos->member.next, __typeof__(*pos), member);	\
	     &pos->member != (head);					\
	     pos = n, n = list_entry(n->member.next, __typeof__(*n), member))

#endif /* SKV_CORE_SHIM_HOST_H */
