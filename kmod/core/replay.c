// SPDX-License-Identifier: GPL-2.0
/* Replay into side logs with the version rules (replay.h). */
#include "store_int.h"
#include "index.h"
#include "replay.h"

/* Apply one verified record. */
static int skv_replay_one(struct skv_store *s, struct skv_sidelog *sl,
			  const u8 *rec, const struct skv_rec_view *v,
			  struct skv_replay_stats *st)
{
	struct skv_index *ix = &s->index;
	u64 b = skv_bucket_of(ix, v->key_hash);
	struct skv_entry *e, *newe = NULL;
	u32 state;
	u8 *dst;
	int ret = 0;

	if (!skv_index_has(ix, b, v->table_id, v->key_hash, v->key,
			   v->key_len)) {
		newe = skv_entry_alloc(v->table_id, v->key_hash, v->key,
				       v->key_len);
		if (!newe)
			return -ENOMEM;
	}
retry:
	if (skv_sidelog_ensure_space(s, sl, v->len)) {
		skv_atomic64_inc(&s->no_space);
		ret = -ENOSPC;
		goto out;
	}
	skv_rcu_read_lock();
	if (skv_tmap_lookup(s, v->table_id, v->key_hash, &state) != SKV_S_OK) {
		st->foreign++;
		goto out_rcu;
	}
	skv_spin_lock(skv_bucket_lock(ix, b));
	e = skv_index_find(ix, b, v->table_id, v->key_hash, v->key,
			   v->key_len);
	if (e && rcu_access_pointer(e->rec) && e->version >= v->version) {
		st->skipped++;
		goto out_unlock;
	}
	if (!e && !newe) {
		skv_spin_unlock(skv_bucket_lock(ix, b));
		skv_rcu_read_unlock();
		newe = skv_entry_alloc(v->table_id, v->key_hash, v->key,
				       v->key_len);
		if (!newe) {
			ret = -ENOMEM;
			goto out;
		}
		goto retry;
	}
	dst = skv_seg_append(sl->cur, v->len);
	memcpy(dst, rec, v->len);
	if (!e) {
		e = newe;
		newe = NULL;
		skv_index_insert(ix, b, e);
	}
	skv_entry_set(s, e, sl->cur, dst, v->len, v->type, v->version);
	st->applied++;
out_unlock:
	skv_spin_unlock(skv_bucket_lock(ix, b));
out_rcu:
	skv_rcu_read_unlock();
out:
	skv_free(newe);
	return ret;
}

/* Apply a run of records already verified. */
static int skv_replay_verified(struct skv_store *s, struct skv_sidelog *sl,
			       const u8 *p, u32 len,
			       struct skv_replay_stats *st)
{
	struct skv_rec_view v;
	u32 off, n = 0;
	u64 top = 0;
	int ret = 0;

	/* Every record must fit one of our segments and our versions. */
	for (off = 0; off < len; off += v.len) {
		skv_rec_view_trusted(p + off, &v);
		if (v.len > s->seg_size - SKV_SEG_HDR_LEN)
			return -EMSGSIZE;
		if (v.version > SKV_VERSION_MAX)
			return -ERANGE;
	}
	for (off = 0; off < len; off += v.len) {
		skv_rec_view_trusted(p + off, &v);
		ret = skv_replay_one(s, sl, p + off, &v, st);
		if (ret)
			break;
		skv_index_maybe_grow(s);
		top = max(top, v.version);
		if (++n % 256 == 0)
			skv_cond_resched();
	}
	/* Cannot fail: every version was checked above. */
	skv_version_raise(s, top);
	return ret;
}

/* Verify a run of records; counts them into st->records. */
static int skv_verify_records(const u8 *p, size_t len,
			      struct skv_replay_stats *st)
{
	struct skv_rec_view v;
	size_t off;
	int ret;

	for (off = 0; off < len; off += v.len) {
		ret = skv_rec_parse(p + off, len - off, SKV_PARSE_CHECK_HASH,
				    &v);
		if (ret)
			return ret;
		st->records++;
	}
	return 0;
}

int skv_replay_records(struct skv_store *s, struct skv_sidelog *sl,
		       const void *buf, size_t len, struct skv_replay_stats *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	if (len > U32_MAX)
		return -EINVAL;
	ret = skv_verify_records(buf, len, st);
	if (ret)
		return ret;
	return skv_replay_verified(s, sl, buf, len, st);
}

static bool skv_replay_inside(const struct skv_replay_bounds *b,
			      const struct skv_rec_view *v)
{
	u32 i;

	if (v->table_id != b->table_id || v->key_hash < b->start_hash ||
	    v->key_hash > b->end_hash || v->version < b->min_version ||
	    v->version > b->max_version)
		return false;
	if (!b->nhashes)
		return true;
	for (i = 0; i < b->nhashes; i++)
		if (b->hashes[i] == v->key_hash)
			return true;
	return false;
}

/* Are the verified records p[0..len) all inside b? */
static bool skv_replay_all_inside(const struct skv_replay_bounds *b,
				  const u8 *p, u32 len)
{
	struct skv_rec_view v;
	u32 off;

	for (off = 0; off < len; off += v.len) {
		skv_rec_view_trusted(p + off, &v);
		if (!skv_replay_inside(b, &v))
			return false;
	}
	return true;
}

int skv_replay_batch(struct skv_store *s, struct skv_sidelog *sl,
		     const void *buf, size_t len,
		     const struct skv_replay_bounds *bounds,
		     struct skv_replay_stats *st)
{
	const u8 *recs;
	u32 rlen, count;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = skv_batch_verify(buf, len, SKV_PARSE_CHECK_HASH, &recs, &rlen,
			       &count);
	if (ret)
		return ret;
	if (bounds && !skv_replay_all_inside(bounds, recs, rlen))
		return -ERANGE;
	st->records = count;
	return skv_replay_verified(s, sl, recs, rlen, st);
}

int skv_replay_segment(struct skv_store *s, struct skv_sidelog *sl,
		       const void *buf, size_t len,
		       const struct skv_seg_cert *cert,
		       struct skv_replay_stats *st)
{
	u32 length = le32_to_cpu(cert->length);
	const u8 *p = buf;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = skv_segment_verify(buf, len, cert, NULL);
	if (ret)
		return ret;
	ret = skv_verify_records(p + SKV_SEG_HDR_LEN, length - SKV_SEG_HDR_LEN,
				 st);
	if (ret)
		return ret;
	return skv_replay_verified(s, sl, p + SKV_SEG_HDR_LEN,
				   length - SKV_SEG_HDR_LEN, st);
}
