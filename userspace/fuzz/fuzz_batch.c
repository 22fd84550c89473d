// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the store core's record and batch parsers
 * (kmod/core/record.c), which read pull replies and push-backs from peers.
 *
 * Byte 0 picks what the rest is: even, a batch (skv_batch_verify());
 * odd, a run of records (skv_rec_parse() one after another).  With bit 1
 * set, the records are fixed up first (crcs, and a batch's reserved
 * field) so that the checks behind them are reached; a run with bit 2 set is read as a replication stream
 * (SKV_PARSE_STREAM: departure records too).  Checked: a record that parses lies inside the input and writing
 * it again from its view gives the same bytes; a batch that verifies holds
 * exactly count records that each parse; a departure parses only in a
 * stream, and its range never runs backwards.
 * (userspace/core/fuzz_replay.c fuzzes the replay of such input into a
 * store; this target is the parsing alone, fast.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

static uint8_t again[SKV_REC_MAX_LEN];

static void check_record(const uint8_t *p, size_t avail, const struct skv_rec_view *v)
{
	if (v->len > avail || v->key != p + SKV_REC_HDR_LEN ||
	    v->value != v->key + v->key_len)
		abort();
	skv_rec_write(again, v->type, v->table_id, v->key_hash, v->version, v->key,
		      v->key_len, v->value, v->value_len,
		      skv_rec_payload_crc(v->key, v->key_len, v->value, v->value_len));
	if (memcmp(again, p, v->len))
		abort();
}

/* Give the record at p a right crc (if its lengths fit). */
static void fix_crc(uint8_t *p, size_t avail)
{
	struct skv_rec_view v;
	struct skv_rec_hdr *h = (struct skv_rec_hdr *)p;
	uint32_t kl, vl;

	if (avail < SKV_REC_HDR_LEN)
		return;
	kl = le16_to_cpu(h->key_len);
	vl = le32_to_cpu(h->value_len);
	if (kl > SKV_MAX_KEY_LEN || vl > SKV_MAX_VALUE_LEN || skv_rec_len(kl, vl) > avail)
		return;
	skv_rec_view_trusted(p, &v);
	skv_rec_write(p, h->type, v.table_id, v.key_hash, v.version, v.key, kl, v.value, vl,
		      skv_rec_payload_crc(v.key, kl, v.value, vl));
}

static void parse_run(uint8_t *p, size_t len, int fix, unsigned int flags)
{
	struct skv_rec_view v;
	size_t off = 0;
	u64 start, end;

	while (off < len) {
		if (fix)
			fix_crc(p + off, len - off);
		if (skv_rec_parse(p + off, len - off, flags, &v))
			return;
		check_record(p + off, len - off, &v);
		if (v.type == SKV_REC_DEPARTURE) {
			skv_rec_departure_range(&v, &start, &end);
			if (!(flags & SKV_PARSE_STREAM) || start > end)
				abort();
		}
		off += v.len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const u8 *recs;
	u32 rlen, count, off, n;
	struct skv_rec_view v;
	uint8_t *buf;

	if (size < 1)
		return 0;
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	size--;
	if (data[0] & 1) {
		parse_run(buf, size, data[0] & 2,
			  data[0] & 4 ? SKV_PARSE_STREAM : 0);
	} else {
		if ((data[0] & 2) && size >= sizeof(struct skv_batch_hdr)) {
			struct skv_batch_hdr *bh = (struct skv_batch_hdr *)buf;
			u32 blen = le32_to_cpu(bh->len);
			uint8_t *p = buf + sizeof(*bh);
			size_t avail = size - sizeof(*bh);

			if (blen <= avail) {
				parse_run(p, blen, 1, 0);
				bh->reserved = 0;
			}
		}
		if (!skv_batch_verify(buf, size, SKV_PARSE_CHECK_HASH, &recs, &rlen, &count)) {
			if (recs != buf + sizeof(struct skv_batch_hdr) ||
			    rlen > size - sizeof(struct skv_batch_hdr))
				abort();
			for (off = 0, n = 0; off < rlen; n++) {
				if (skv_rec_parse(recs + off, rlen - off, SKV_PARSE_CHECK_HASH, &v))
					abort();
				check_record(recs + off, rlen - off, &v);
				off += v.len;
			}
			if (n != count || off != rlen)
				abort();
		}
	}
	free(buf);
	return 0;
}
