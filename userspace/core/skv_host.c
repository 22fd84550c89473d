// SPDX-License-Identifier: GPL-2.0
/*
 * Host-only parts of the store core shim: crc32c (ISA-L) and RCU
 * deferred frees (liburcu call_rcu, or the rwlock emulation used under
 * ThreadSanitizer).
 */
#include "skv_shim.h"

#include <isa-l/crc.h>

/*
 * Raw crc32c, no inversions, as the kernel's crc32c(): ISA-L's, which
 * picks its code by CPU at run time and runs long buffers in several
 * streams, as the kernel's crc32c-intel does from 512 bytes on.
 */
u32 skv_host_crc32c(u32 crc, const void *p, size_t len)
{
	unsigned char *b = (unsigned char *)p;

	while (len) {
		int n = len > (1u << 30) ? 1 << 30 : (int)len;

		crc = crc32_iscsi(b, n, crc);
		b += n;
		len -= n;
	}
	return crc;
}

#ifdef SKV_RCU_RWLOCK
static pthread_rwlock_t rcu_rw;
static pthread_once_t rcu_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t rcu_defer_lock = PTHREAD_MUTEX_INITIALIZER;
static struct skv_host_rcu_head *rcu_deferred;

static void rcu_setup(void)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&rcu_rw, &a);
}

void skv_host_rcu_read_lock(void)
{
	pthread_once(&rcu_once, rcu_setup);
	pthread_rwlock_rdlock(&rcu_rw);
}

void skv_host_rcu_read_unlock(void)
{
	pthread_rwlock_unlock(&rcu_rw);
}

void skv_host_synchronize_rcu(void)
{
	struct skv_host_rcu_head *h, *next;

	pthread_once(&rcu_once, rcu_setup);
	pthread_rwlock_wrlock(&rcu_rw);
	pthread_mutex_lock(&rcu_defer_lock);
	h = rcu_deferred;
	rcu_deferred = NULL;
	pthread_mutex_unlock(&rcu_defer_lock);
	pthread_rwlock_unlock(&rcu_rw);
	for (; h; h = next) {
		next = h->next;
		free(h->obj);
	}
}

void skv_host_free_rcu(struct skv_host_rcu_head *h, void *obj)
{
	h->obj = obj;
	pthread_mutex_lock(&rcu_defer_lock);
	h->next = rcu_deferred;
	rcu_deferred = h;
	pthread_mutex_unlock(&rcu_defer_lock);
}
#else
static void skv_host_free_cb(struct rcu_head *rh)
{
	struct skv_host_rcu_head *h = container_of(rh, struct skv_host_rcu_head, h);

	free(h->obj);
}

void skv_host_free_rcu(struct skv_host_rcu_head *h, void *obj)
{
	h->obj = obj;
	urcu_memb_call_rcu(&h->h, skv_host_free_cb);
}
#endif
