// SPDX-License-Identifier: GPL-2.0
/* Cursor scan for migration pulls (scan.h). */
#include "store_int.h"
#include "index.h"
#include "scan.h"

/* Bytes of the live records of table_id in the group starting at e. */
static u32 skv_group_bytes(struct skv_index *ix, struct skv_entry *e,
			   u64 table_id)
{
	u64 h = e->key_hash;
	u32 n = 0;

	for (; e && e->key_hash == h; e = skv_index_next(ix, e))
		if (e->table_id == table_id && rcu_access_pointer(e->rec))
			n += e->rec_len;
	return n;
}

long skv_scan(struct skv_store *s, u64 table_id, u64 start_hash, u64 end_hash,
	      u64 cursor, u32 budget, skv_scan_fn fn, void *arg, u64 *next,
	      bool *done)
{
	struct skv_index *ix = &s->index;
	struct skv_walk_ahead ahead = {};
	struct skv_entry *e;
	long bytes = 0;
	u64 b, h, last;
	int ret = 0, r;

	*done = false;
	if (cursor < start_hash)
		cursor = start_hash;
	*next = cursor;
	if (start_hash > end_hash || cursor > end_hash) {
		*done = true;
		return 0;
	}
	/* One stripe lock at a time, in hash order. */
	h = cursor;
	while ((r = skv_index_lock_first(ix, &h, end_hash, &e, &b))) {
		if (r < 0) {
			/* A range of few records can span millions of buckets. */
			skv_cond_resched();
			continue;
		}
		last = min(skv_stripe_last(b), end_hash);
		while (e && e->key_hash <= last) {
			u64 gh = e->key_hash;
			u32 g;

			skv_index_prefetch_walk(ix, &ahead, gh);
			g = skv_group_bytes(ix, e, table_id);
			if (g && bytes && bytes + g > budget) {
				*next = gh;
				goto unlock;
			}
			for (; e && e->key_hash == gh; e = skv_index_next(ix, e)) {
				const u8 *rec = rcu_dereference(e->rec);

				if (e->table_id != table_id || !rec)
					continue;
				ret = fn(arg, rec, e->rec_len);
				if (ret < 0)
					goto unlock;
			}
			bytes += g;
			if (gh == end_hash)
				break;
			if (bytes >= budget) {
				*next = gh + 1;
				goto unlock;
			}
		}
		skv_index_unlock(ix, b);
		if (last == end_hash)
			break;
		h = last + 1;
		skv_cond_resched();
	}
	*done = true;
	return bytes;

unlock:
	skv_index_unlock(ix, b);
	return ret < 0 ? ret : bytes;
}

struct skv_ser {
	u8 *buf;
	u32 cap;
	u32 off;		/* bytes written to buf */
	u32 len;		/* bytes of the batch: off, and the spliced ones */
	u32 count;
	u64 min_version;
	const struct skv_ser_splice *splice;	/* NULL: every record copied */
};

/*
 * Records go from the log into the batch, copied once or left in the log
 * for the sender to splice; no checksum is taken (each record carries its
 * own; record.h).
 */
static int skv_ser_rec(void *arg, const void *rec, u32 len)
{
	const struct skv_rec_hdr *rh = rec;
	struct skv_ser *w = arg;
	const struct skv_ser_splice *sp = w->splice;

	if (w->min_version && le64_to_cpu(rh->version) <= w->min_version)
		return 0;
	if (len > w->cap - w->len)
		return -EMSGSIZE;
	if (!sp || len < sp->min_len || sp->take(sp->arg, rec, len, w->off)) {
		memcpy(w->buf + w->off, rec, len);
		w->off += len;
	}
	w->len += len;
	w->count++;
	return 0;
}

static void skv_ser_init(struct skv_ser *w, void *buf, u32 buf_len,
			 u64 min_version, const struct skv_ser_splice *splice)
{
	w->buf = (u8 *)buf + sizeof(struct skv_batch_hdr);
	w->cap = buf_len - sizeof(struct skv_batch_hdr);
	w->off = 0;
	w->len = 0;
	w->count = 0;
	w->min_version = min_version;
	w->splice = splice;
}

static long skv_ser_finish(struct skv_ser *w, void *buf)
{
	struct skv_batch_hdr *bh = buf;

	bh->magic = cpu_to_le32(SKV_BATCH_MAGIC);
	bh->count = cpu_to_le32(w->count);
	bh->len = cpu_to_le32(w->len);
	bh->reserved = 0;
	return sizeof(*bh) + w->len;
}

long skv_scan_serialize_spliced(struct skv_store *s, u64 table_id,
				u64 start_hash, u64 end_hash, u64 cursor,
				u64 min_version, void *buf, u32 buf_len,
				const struct skv_ser_splice *splice,
				u64 *next, bool *done)
{
	struct skv_ser w;
	long ret;

	if (buf_len < sizeof(struct skv_batch_hdr))
		return -EMSGSIZE;
	skv_ser_init(&w, buf, buf_len, min_version, splice);
	/*
	 * The budget counts the bytes visited, filtered or not, so a
	 * catch-up pull costs what a full one does and its batch is never
	 * larger than the buffer.
	 */
	ret = skv_scan(s, table_id, start_hash, end_hash, cursor, w.cap,
		       skv_ser_rec, &w, next, done);
	if (ret < 0)
		return ret;
	return skv_ser_finish(&w, buf);
}

long skv_scan_serialize_since(struct skv_store *s, u64 table_id,
			      u64 start_hash, u64 end_hash, u64 cursor,
			      u64 min_version, void *buf, u32 buf_len,
			      u64 *next, bool *done)
{
	return skv_scan_serialize_spliced(s, table_id, start_hash, end_hash,
					  cursor, min_version, buf, buf_len,
					  NULL, next, done);
}

long skv_scan_serialize(struct skv_store *s, u64 table_id, u64 start_hash,
			u64 end_hash, u64 cursor, void *buf, u32 buf_len,
			u64 *next, bool *done)
{
	return skv_scan_serialize_since(s, table_id, start_hash, end_hash,
					cursor, 0, buf, buf_len, next, done);
}

/*
 * Copy the live records of table_id with key hash h into w.  Returns 0,
 * or -EMSGSIZE (and copies nothing) if they do not all fit.
 */
static int skv_collect_one(struct skv_store *s, u64 table_id, u64 h,
			   struct skv_ser *w)
{
	struct skv_index *ix = &s->index;
	u64 b = skv_bucket_of(ix, h), resume;
	struct skv_entry *e;
	int ret = 0;

	skv_rcu_read_lock();
	skv_spin_lock(skv_bucket_lock(ix, b));
	e = skv_index_seek(ix, h, h, &resume);
	if (!e)
		goto unlock;
	if (skv_group_bytes(ix, e, table_id) > w->cap - w->len) {
		ret = -EMSGSIZE;
		goto unlock;
	}
	for (; e && e->key_hash == h; e = skv_index_next(ix, e)) {
		const u8 *rec = rcu_dereference(e->rec);

		if (e->table_id == table_id && rec)
			skv_ser_rec(w, rec, e->rec_len);
	}
unlock:
	skv_spin_unlock(skv_bucket_lock(ix, b));
	skv_rcu_read_unlock();
	return ret;
}

long skv_collect_hashes(struct skv_store *s, u64 table_id, const u64 *hashes,
			u32 n, void *buf, u32 buf_len, u32 *resolved)
{
	struct skv_ser w;
	u32 i, j;

	*resolved = 0;
	if (buf_len < sizeof(struct skv_batch_hdr))
		return -EMSGSIZE;
	skv_ser_init(&w, buf, buf_len, 0, NULL);
	for (i = 0; i < n; i++) {
		/* A hash asked twice is already in the batch. */
		for (j = 0; j < i && hashes[j] != hashes[i]; j++)
			;
		if (j == i && skv_collect_one(s, table_id, hashes[i], &w))
			break;
		*resolved = i + 1;
	}
	return skv_ser_finish(&w, buf);
}
