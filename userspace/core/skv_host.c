// SPDX-License-Identifier: GPL-2.0
/*
 * Host-only parts of the store core shim: crc32c (SSE4.2 with a table
 * fallback) and RCU deferred frees (liburcu call_rcu, or the rwlock
 * emulation used under ThreadSanitizer).
 */
#include "skv_shim.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

static u32 crc32c_table[8][256];
static int crc32c_hw = -1;

static void crc32c_init(void)
{
	u32 i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc32c_table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = crc32c_table[0][i];
		for (j = 1; j < 8; j++) {
			c = crc32c_table[0][c & 0xff] ^ (c >> 8);
			crc32c_table[j][i] = c;
		}
	}
}

u32 skv_crc32c_sw(u32 crc, const void *p, size_t len);
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static void crc32c_setup(void);

u32 skv_crc32c_sw(u32 crc, const void *p, size_t len)
{
	const u8 *b = p;

	pthread_once(&crc32c_once, crc32c_setup);

	while (len >= 8) {
		u64 w;

		memcpy(&w, b, 8);
		w = le64toh(w) ^ crc;
		crc = crc32c_table[7][w & 0xff] ^
		      crc32c_table[6][(w >> 8) & 0xff] ^
		      crc32c_table[5][(w >> 16) & 0xff] ^
		      crc32c_table[4][(w >> 24) & 0xff] ^
		      crc32c_table[3][(w >> 32) & 0xff] ^
		      crc32c_table[2][(w >> 40) & 0xff] ^
		      crc32c_table[1][(w >> 48) & 0xff] ^
		      crc32c_table[0][w >> 56];
		b += 8;
		len -= 8;
	}
	while (len--)
		crc = crc32c_table[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static u32 skv_crc32c_hw(u32 crc, const void *p, size_t len)
{
	const u8 *b = p;
	u64 c = crc;

	while (len >= 8) {
		u64 w;

		memcpy(&w, b, 8);
		c = _mm_crc32_u64(c, w);
		b += 8;
		len -= 8;
	}
	crc = (u32)c;
	while (len--)
		crc = _mm_crc32_u8(crc, *b++);
	return crc;
}
#endif

static void crc32c_setup(void)
{
	int hw = 0;

	crc32c_init();
#if defined(__x86_64__)
	{
		unsigned int a, b, c, d;

		if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) &&
		    !getenv("SKV_CRC32C_SW"))
			hw = 1;
	}
#endif
	__atomic_store_n(&crc32c_hw, hw, __ATOMIC_RELEASE);
}

u32 skv_host_crc32c(u32 crc, const void *p, size_t len)
{
	int hw = __atomic_load_n(&crc32c_hw, __ATOMIC_ACQUIRE);

	if (__builtin_expect(hw < 0, 0)) {
		pthread_once(&crc32c_once, crc32c_setup);
		hw = __atomic_load_n(&crc32c_hw, __ATOMIC_ACQUIRE);
	}
#if defined(__x86_64__)
	if (hw)
		return skv_crc32c_hw(crc, p, len);
#endif
	return skv_crc32c_sw(crc, p, len);
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
