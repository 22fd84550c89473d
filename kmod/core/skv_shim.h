/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The thin shim under the portable store core: kernel types (u8..u64,
 * __le*, bool) and a small set of named primitives, mapped to kernel APIs
 * in the module (skv_shim_kernel.h) and to libc, pthreads and liburcu on
 * the host (userspace/core/skv_shim_host.h, found on the host build's
 * include path).  The core uses nothing else.
 *
 * Primitives:
 *   skv_alloc/skv_zalloc/skv_free        small objects (may sleep)
 *   skv_valloc/skv_vfree                 large buffers, segments (may sleep)
 *   skv_valloc_try                       an optional large buffer: may sleep,
 *                                        fails quietly instead of reclaiming hard
 *   skv_free_rcu(ptr, field)             free ptr after a grace period;
 *                                        field is a skv_rcu_head member
 *   skv_spinlock_t, skv_spin_*           short critical sections, no sleeping
 *   skv_mutex_t, skv_mutex_*             control paths, may sleep inside
 *   skv_rcu_read_lock/unlock             reader sections, no sleeping inside
 *   skv_synchronize_rcu, skv_rcu_barrier wait for readers / pending frees
 *   rcu_dereference, rcu_dereference_protected, rcu_assign_pointer,
 *   READ_ONCE, WRITE_ONCE
 *   skv_atomic64_t, skv_atomic64_*       64-bit counters
 *   skv_crc32c(crc, p, len)              raw crc32c, no pre/post inversion
 *                                        (the kernel's crc32c())
 *   skv_xxh64(p, len, seed)              xxh64
 *   skv_now_ns(), skv_cond_resched()
 *   skv_thread_online/offline()          host reader threads register with
 *                                        RCU; no-ops in the kernel
 *   list_head and friends, min/max, ALIGN, WARN_ON_ONCE, pr_warn, le/cpu
 */
#ifndef SKV_CORE_SHIM_H
#define SKV_CORE_SHIM_H

#ifdef __KERNEL__
#include "skv_shim_kernel.h"
#else
#include "skv_shim_host.h"
#endif

/* crc32c with the usual ~0 seed and final inversion (crc32c("123456789") = 0xE3069283). */
static inline u32 skv_crc32c_std(const void *p, size_t len)
{
	return ~skv_crc32c(~0u, p, len);
}

#endif /* SKV_CORE_SHIM_H */
