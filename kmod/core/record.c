// SPDX-License-Identifier: GPL-2.0
/* Record encoding, parsing and verification (see record.h). */
#include "record.h"

u32 skv_rec_payload_crc(const void *key, u32 key_len, const void *value,
			u32 value_len)
{
	u32 crc = skv_crc32c(~0u, key, key_len);

	return skv_crc32c(crc, value, value_len);
}

static u32 skv_rec_finish_crc(u32 payload_crc, const struct skv_rec_hdr *h)
{
	return ~skv_crc32c(payload_crc, (const u8 *)h + sizeof(h->crc),
			   SKV_REC_HDR_LEN - sizeof(h->crc));
}

void skv_rec_write(void *dst, u8 type, u64 table_id, u64 key_hash, u64 version,
		   const void *key, u32 key_len, const void *value,
		   u32 value_len, u32 payload_crc)
{
	struct skv_rec_hdr *h = dst;
	u8 *p = dst;
	u32 end = SKV_REC_HDR_LEN + key_len + value_len;
	u32 len = skv_rec_len(key_len, value_len);

	BUILD_BUG_ON(sizeof(struct skv_rec_hdr) != SKV_REC_HDR_LEN);
	h->type = type;
	h->flags = 0;
	h->key_len = cpu_to_le16(key_len);
	h->value_len = cpu_to_le32(value_len);
	h->reserved = 0;
	h->table_id = cpu_to_le64(table_id);
	h->key_hash = cpu_to_le64(key_hash);
	h->version = cpu_to_le64(version);
	if (key_len)
		memcpy(p + SKV_REC_HDR_LEN, key, key_len);
	if (value_len)
		memcpy(p + SKV_REC_HDR_LEN + key_len, value, value_len);
	if (len > end)
		memset(p + end, 0, len - end);
	h->crc = cpu_to_le32(skv_rec_finish_crc(payload_crc, h));
}

void skv_rec_view_trusted(const void *buf, struct skv_rec_view *v)
{
	const struct skv_rec_hdr *h = buf;

	v->type = h->type;
	v->key_len = le16_to_cpu(h->key_len);
	v->value_len = le32_to_cpu(h->value_len);
	v->len = skv_rec_len(v->key_len, v->value_len);
	v->table_id = le64_to_cpu(h->table_id);
	v->key_hash = le64_to_cpu(h->key_hash);
	v->version = le64_to_cpu(h->version);
	v->key = (const u8 *)buf + SKV_REC_HDR_LEN;
	v->value = v->key + v->key_len;
}

int skv_rec_parse(const void *buf, size_t avail, unsigned int flags,
		  struct skv_rec_view *v)
{
	const struct skv_rec_hdr *h = buf;
	const u8 *p = buf;
	u32 crc, end, i;

	if (avail < SKV_REC_HDR_LEN)
		return -EINVAL;
	if (h->type != SKV_REC_OBJECT && h->type != SKV_REC_TOMBSTONE &&
	    (h->type != SKV_REC_DEPARTURE || !(flags & SKV_PARSE_STREAM)))
		return -EBADMSG;
	if (h->flags || h->reserved)
		return -EBADMSG;
	if (le16_to_cpu(h->key_len) > SKV_MAX_KEY_LEN ||
	    le32_to_cpu(h->value_len) > SKV_MAX_VALUE_LEN)
		return -EBADMSG;
	if (h->type != SKV_REC_OBJECT && h->value_len)
		return -EBADMSG;
	if (h->type == SKV_REC_DEPARTURE &&
	    (le16_to_cpu(h->key_len) != sizeof(struct skv_rec_departure) ||
	     h->version))
		return -EBADMSG;
	skv_rec_view_trusted(buf, v);
	if (v->len > avail)
		return -EINVAL;
	/* Padding is ours to write and always zero. */
	end = SKV_REC_HDR_LEN + v->key_len + v->value_len;
	for (i = end; i < v->len; i++)
		if (p[i])
			return -EBADMSG;
	crc = skv_rec_payload_crc(v->key, v->key_len, v->value, v->value_len);
	if (skv_rec_finish_crc(crc, h) != le32_to_cpu(h->crc))
		return -EBADMSG;
	if ((flags & SKV_PARSE_CHECK_HASH) &&
	    skv_xxh64(v->key, v->key_len, SKV_KEY_HASH_SEED) != v->key_hash)
		return -EBADMSG;
	if (v->type == SKV_REC_DEPARTURE) {
		u64 start, end;

		skv_rec_departure_range(v, &start, &end);
		if (start > end)
			return -EBADMSG;
	}
	return 0;
}

void skv_rec_write_departure(void *dst, u64 table_id, u64 start_hash,
			     u64 end_hash)
{
	struct skv_rec_departure d = {
		.start_hash = cpu_to_le64(start_hash),
		.end_hash = cpu_to_le64(end_hash),
	};

	skv_rec_write(dst, SKV_REC_DEPARTURE, table_id,
		      skv_xxh64(&d, sizeof(d), SKV_KEY_HASH_SEED), 0, &d,
		      sizeof(d), NULL, 0, skv_rec_payload_crc(&d, sizeof(d),
							     NULL, 0));
}

void skv_rec_departure_range(const struct skv_rec_view *v, u64 *start_hash,
			     u64 *end_hash)
{
	struct skv_rec_departure d;

	memcpy(&d, v->key, sizeof(d));
	*start_hash = le64_to_cpu(d.start_hash);
	*end_hash = le64_to_cpu(d.end_hash);
}

int skv_batch_verify(const void *buf, size_t len, unsigned int parse_flags,
		     const u8 **records, u32 *rec_len, u32 *count)
{
	const struct skv_batch_hdr *bh = buf;
	const u8 *p = (const u8 *)buf + sizeof(*bh);
	struct skv_rec_view v;
	u32 blen, n, off, i;
	int ret;

	if (len < sizeof(*bh))
		return -EINVAL;
	if (le32_to_cpu(bh->magic) != SKV_BATCH_MAGIC || bh->reserved)
		return -EBADMSG;
	blen = le32_to_cpu(bh->len);
	n = le32_to_cpu(bh->count);
	if (blen > len - sizeof(*bh))
		return -EINVAL;
	for (off = 0, i = 0; off < blen; i++) {
		ret = skv_rec_parse(p + off, blen - off, parse_flags, &v);
		if (ret)
			return ret;
		off += v.len;
	}
	if (i != n)
		return -EBADMSG;
	*records = p;
	*rec_len = blen;
	*count = n;
	return 0;
}
