// SPDX-License-Identifier: GPL-2.0
/* Cursor scan for migration pulls (scan.h). */
#include "store_int.h"
#include "index.h"
#include "scan.h"

/* Bytes of the live records of table_id in the group starting at e. */
static u32 skv_group_bytes(struct skv_entry *e, u64 table_id)
{
	u64 h = e->key_hash;
	u32 n = 0;

	for (; e && e->key_hash == h; e = rcu_dereference(e->next))
		if (e->table_id == table_id && rcu_access_pointer(e->rec))
			n += e->rec_len;
	return n;
}

long skv_scan(struct skv_store *s, u64 table_id, u64 start_hash, u64 end_hash,
	      u64 cursor, u32 budget, skv_scan_fn fn, void *arg, u64 *next,
	      bool *done)
{
	struct skv_index *ix = &s->index;
	struct skv_entry *e;
	long bytes = 0;
	u64 b, last;
	int ret = 0;

	*done = false;
	if (cursor < start_hash)
		cursor = start_hash;
	*next = cursor;
	if (start_hash > end_hash || cursor > end_hash) {
		*done = true;
		return 0;
	}
	last = skv_bucket_of(ix, end_hash);
	for (b = skv_bucket_of(ix, cursor); b <= last; b++) {
		if (!rcu_access_pointer(ix->buckets[b]))
			continue;
		skv_rcu_read_lock();
		skv_spin_lock(skv_bucket_lock(ix, b));
		e = rcu_dereference(ix->buckets[b]);
		while (e) {
			u64 h = e->key_hash;
			u32 g;

			if (h < cursor) {
				e = rcu_dereference(e->next);
				continue;
			}
			if (h > end_hash)
				break;
			g = skv_group_bytes(e, table_id);
			if (g && bytes && bytes + g > budget) {
				*next = h;
				goto unlock;
			}
			for (; e && e->key_hash == h;
			     e = rcu_dereference(e->next)) {
				const u8 *rec = rcu_dereference(e->rec);

				if (e->table_id != table_id || !rec)
					continue;
				ret = fn(arg, rec, e->rec_len);
				if (ret < 0)
					goto unlock;
			}
			bytes += g;
			if (h == end_hash)
				break;
			if (bytes >= budget) {
				*next = h + 1;
				goto unlock;
			}
		}
		skv_spin_unlock(skv_bucket_lock(ix, b));
		skv_rcu_read_unlock();
	}
	*done = true;
	return bytes;

unlock:
	skv_spin_unlock(skv_bucket_lock(ix, b));
	skv_rcu_read_unlock();
	return ret < 0 ? ret : bytes;
}

struct skv_ser {
	u8 *buf;
	u32 cap;
	u32 off;
	u32 count;
	u32 crc;
};

static int skv_ser_rec(void *arg, const void *rec, u32 len)
{
	struct skv_ser *w = arg;

	if (len > w->cap - w->off)
		return -EMSGSIZE;
	memcpy(w->buf + w->off, rec, len);
	w->crc = skv_crc32c(w->crc, rec, len);
	w->off += len;
	w->count++;
	return 0;
}

long skv_scan_serialize(struct skv_store *s, u64 table_id, u64 start_hash,
			u64 end_hash, u64 cursor, void *buf, u32 buf_len,
			u64 *next, bool *done)
{
	struct skv_batch_hdr *bh = buf;
	struct skv_ser w;
	long ret;

	if (buf_len < sizeof(*bh))
		return -EMSGSIZE;
	w.buf = (u8 *)buf + sizeof(*bh);
	w.cap = buf_len - sizeof(*bh);
	w.off = 0;
	w.count = 0;
	w.crc = ~0u;
	ret = skv_scan(s, table_id, start_hash, end_hash, cursor, w.cap,
		       skv_ser_rec, &w, next, done);
	if (ret < 0)
		return ret;
	bh->magic = cpu_to_le32(SKV_BATCH_MAGIC);
	bh->count = cpu_to_le32(w.count);
	bh->len = cpu_to_le32(w.off);
	bh->crc = cpu_to_le32(~w.crc);
	return sizeof(*bh) + w.off;
}
