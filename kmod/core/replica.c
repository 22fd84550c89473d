// SPDX-License-Identifier: GPL-2.0
/* Replication streams and replicas (replica.h). */
#include "store_int.h"
#include "record.h"
#include "replica.h"

void skv_rstream_init(struct skv_rstream *st, struct skv_store *store,
		      u64 base)
{
	memset(st, 0, sizeof(*st));
	st->store = store;
	st->start = base;
	st->base = base;
	st->end = base;
}

static void skv_rstream_free_chunk(struct skv_rstream *st, u8 *chunk)
{
	skv_vfree(chunk);
	if (st->store)
		skv_store_mem_uncharge(st->store, SKV_RSTREAM_CHUNK);
}

void skv_rstream_destroy(struct skv_rstream *st)
{
	u32 i;

	for (i = 0; i < st->nchunks; i++)
		skv_rstream_free_chunk(st, st->chunks[i]);
	skv_free(st->chunks);
	st->chunks = NULL;
	st->nchunks = 0;
	st->slots = 0;
}

void skv_rstream_reset(struct skv_rstream *st, u64 pos)
{
	struct skv_store *store = st->store;

	skv_rstream_destroy(st);
	skv_rstream_init(st, store, pos);
}

int skv_rstream_reserve(struct skv_rstream *st, u32 n)
{
	u64 need = st->end + n - st->start;
	u32 want = (u32)((need + SKV_RSTREAM_CHUNK - 1) / SKV_RSTREAM_CHUNK);
	u32 had = st->nchunks;
	u8 **slots;
	u8 *chunk;

	if (want > st->slots) {
		u32 nslots = max(want, 2 * st->slots);

		slots = skv_zalloc(nslots * sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		if (st->nchunks)
			memcpy(slots, st->chunks,
			       st->nchunks * sizeof(*slots));
		skv_free(st->chunks);
		st->chunks = slots;
		st->slots = nslots;
	}
	while (st->nchunks < want) {
		if (st->store &&
		    skv_store_mem_charge(st->store, SKV_RSTREAM_CHUNK))
			goto undo;
		chunk = skv_valloc(SKV_RSTREAM_CHUNK);
		if (!chunk) {
			if (st->store)
				skv_store_mem_uncharge(st->store,
						       SKV_RSTREAM_CHUNK);
			goto undo;
		}
		st->chunks[st->nchunks++] = chunk;
	}
	return 0;
undo:
	while (st->nchunks > had)
		skv_rstream_free_chunk(st, st->chunks[--st->nchunks]);
	return -ENOSPC;
}

/* The byte at pos and how many follow it in its chunk. */
static u8 *skv_rstream_at(const struct skv_rstream *st, u64 pos, u32 *room)
{
	u64 rel = pos - st->start;
	u32 off = rel % SKV_RSTREAM_CHUNK;

	*room = SKV_RSTREAM_CHUNK - off;
	return st->chunks[rel / SKV_RSTREAM_CHUNK] + off;
}

u8 *skv_rstream_tail(struct skv_rstream *st, u32 n)
{
	u32 room;
	u8 *p = skv_rstream_at(st, st->end, &room);

	return room >= n ? p : NULL;
}

void skv_rstream_append(struct skv_rstream *st, const void *src, u32 n)
{
	const u8 *s = src;
	u32 room, k;
	u8 *p;

	while (n) {
		p = skv_rstream_at(st, st->end, &room);
		k = min(room, n);
		if (p != s)	/* written in place through skv_rstream_tail() */
			memcpy(p, s, k);
		st->end += k;
		s += k;
		n -= k;
	}
}

void skv_rstream_read(const struct skv_rstream *st, u64 pos, void *dst, u32 n)
{
	u8 *d = dst;
	u32 room, k;
	const u8 *p;

	while (n) {
		p = skv_rstream_at(st, pos, &room);
		k = min(room, n);
		memcpy(d, p, k);
		pos += k;
		d += k;
		n -= k;
	}
}

void skv_rstream_trim(struct skv_rstream *st, u64 pos)
{
	u32 drop = 0, i;

	while (drop < st->nchunks &&
	       st->start + (u64)(drop + 1) * SKV_RSTREAM_CHUNK <= pos)
		drop++;
	for (i = 0; i < drop; i++)
		skv_rstream_free_chunk(st, st->chunks[i]);
	if (drop) {
		memmove(st->chunks, st->chunks + drop,
			(st->nchunks - drop) * sizeof(*st->chunks));
		st->nchunks -= drop;
		st->start += (u64)drop * SKV_RSTREAM_CHUNK;
	}
	st->base = pos;
}

void skv_replica_init(struct skv_replica *r, struct skv_store *store,
		      u64 primary_id)
{
	memset(r, 0, sizeof(*r));
	r->primary_id = primary_id;
	r->whole_from = U64_MAX;
	skv_rstream_init(&r->st, store, 0);
}

void skv_replica_destroy(struct skv_replica *r)
{
	skv_rstream_destroy(&r->st);
}

void skv_replica_fence(struct skv_replica *r, u64 epoch)
{
	if (epoch > r->epoch)
		r->epoch = epoch;
}

void skv_replica_mark(struct skv_replica *r, u64 whole_from, u64 whole_to)
{
	if (whole_from == U64_MAX || whole_to < whole_from ||
	    whole_from < r->st.base)
		return;
	if (r->whole_from == U64_MAX || whole_from > r->whole_from) {
		r->whole_from = whole_from;
		r->whole_to = whole_to;
	}
}

bool skv_replica_whole(const struct skv_replica *r)
{
	return r->opened && r->whole_from != U64_MAX &&
	       r->whole_from >= r->st.base && r->st.end >= r->whole_to;
}

int skv_replica_open(struct skv_replica *r, u64 epoch, u64 start, u32 flags,
		     u64 *base, u64 *end)
{
	if (epoch < r->epoch)
		return SKV_S_STALE_EPOCH;
	if (!(flags & SKV_REPLICA_CREATE) && !r->opened)
		return SKV_S_NOT_BACKUP;	/* we lost it: never pretend */
	r->epoch = epoch;
	if (flags & SKV_REPLICA_CREATE) {
		skv_rstream_reset(&r->st, start);
		r->records = 0;
		r->whole_from = U64_MAX;
		r->opened = true;
	}
	*base = r->st.base;
	*end = r->st.end;
	return SKV_S_OK;
}

/* Parse every record of recs: how many, or -1 if any is malformed. */
static long skv_replica_count(const u8 *recs, u32 len)
{
	struct skv_rec_view v;
	long n = 0;
	u32 off;

	for (off = 0; off < len; off += v.len, n++)
		if (skv_rec_parse(recs + off, len - off,
				  SKV_PARSE_CHECK_HASH | SKV_PARSE_STREAM,
				  &v))
			return -1;
	return n;
}

int skv_replica_write(struct skv_replica *r, u64 epoch, u64 offset,
		      const u8 *recs, u32 len, u64 max_bytes, u64 *end)
{
	struct skv_rec_view v;
	u32 skip = 0;
	long n;

	*end = r->st.end;
	if (epoch < r->epoch)
		return SKV_S_STALE_EPOCH;
	if (!r->opened)
		return SKV_S_NOT_BACKUP;
	if (offset > r->st.end || offset < r->st.base)
		return SKV_S_BAD_REQUEST;
	/* A resend: skip the records already held (whole ones). */
	while (offset + skip < r->st.end) {
		if (skip >= len)
			return SKV_S_OK;
		if (skv_rec_parse(recs + skip, len - skip,
				  SKV_PARSE_CHECK_HASH | SKV_PARSE_STREAM, &v))
			return SKV_S_BAD_REQUEST;
		skip += v.len;
	}
	if (offset + skip != r->st.end)
		return SKV_S_BAD_REQUEST;	/* not on a record boundary */
	n = skv_replica_count(recs + skip, len - skip);
	if (n < 0)
		return SKV_S_BAD_REQUEST;
	if (r->st.end + (len - skip) - r->st.base > max_bytes)
		return SKV_S_BACKUP_FULL;
	if (skv_rstream_reserve(&r->st, len - skip))
		return SKV_S_BACKUP_FULL;
	skv_rstream_append(&r->st, recs + skip, len - skip);
	r->records += n;
	*end = r->st.end;
	return SKV_S_OK;
}

long skv_replica_read(struct skv_replica *r, u64 epoch, u64 offset, u8 *dst,
		      u32 cap, u64 *next)
{
	struct skv_rec_hdr h;
	u32 got = 0, len;

	*next = offset;
	if (epoch < r->epoch)
		return -SKV_S_STALE_EPOCH;
	if (!r->opened)
		return -SKV_S_NOT_BACKUP;
	if (offset < r->st.base || offset > r->st.end)
		return -SKV_S_BAD_REQUEST;
	while (offset + got + SKV_REC_HDR_LEN <= r->st.end) {
		skv_rstream_read(&r->st, offset + got, &h, sizeof(h));
		/*
		 * A peer may name any position: these bytes may lie inside a
		 * record (a value can hold a header), so its lengths are
		 * bounded before they size a copy into dst.
		 */
		if (le16_to_cpu(h.key_len) > SKV_MAX_KEY_LEN ||
		    le32_to_cpu(h.value_len) > SKV_MAX_VALUE_LEN)
			return -SKV_S_BAD_REQUEST;
		len = skv_rec_len(le16_to_cpu(h.key_len),
				  le32_to_cpu(h.value_len));
		if (offset + got + len > r->st.end)
			return -SKV_S_BAD_REQUEST;	/* not a boundary */
		if (got && got + len > cap)
			break;
		skv_rstream_read(&r->st, offset + got, dst + got, len);
		got += len;
	}
	*next = offset + got;
	return got;
}
