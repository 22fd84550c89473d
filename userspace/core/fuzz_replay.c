// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: record, batch and segment parsing and replay of
 * corrupt or truncated input into a live store.
 *
 * The first input byte picks a mode; the rest is the input:
 *   0  a plain run of records           skv_replay_records()
 *   1  a batch (header + records)       skv_replay_batch()
 *   2  certificate (8 bytes) + segment  skv_replay_segment()
 *   3  a segment whose certificate we compute, so parsing gets past it
 *   4  a run of records whose crcs and key hashes we fix up first, so the
 *      apply path sees arbitrary types, lengths, tables and versions
 * Bit 3 of the mode byte runs the cleaner afterwards.  After every
 * successful replay each applied record's key must read back at a version
 * at least the record's: replay never loses to an older copy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "record.h"
#include "log.h"
#include "replay.h"

#define SEG	(64u << 10)

static struct skv_store *st;
static unsigned int runs;

static void store_reset(void)
{
	struct skv_store_config cfg = { SEG, 10, 16 * SEG };
	struct skv_tablet_info t1 = { 1, 0, U64_MAX, SKV_TABLET_NORMAL };
	struct skv_tablet_info t2 = { 2, 0, 1ull << 63, SKV_TABLET_MIGRATING_IN };

	if (st)
		skv_store_destroy(st);
	if (skv_store_create(&cfg, &st) || skv_table_add(st, 1) ||
	    skv_table_add(st, 2) || skv_tablet_add(st, &t1) ||
	    skv_tablet_add(st, &t2))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	skv_thread_online();
	store_reset();
	return 0;
}

/* Give every record that fits a right crc and key hash. */
static size_t fixup_records(u8 *p, size_t len)
{
	size_t off = 0;

	while (len - off >= SKV_REC_HDR_LEN) {
		struct skv_rec_hdr *h = (struct skv_rec_hdr *)(p + off);
		u32 kl = le16_to_cpu(h->key_len) % 64;
		u32 vl = le32_to_cpu(h->value_len) % 512;
		u32 rl;

		h->type = h->type & 1 ? SKV_REC_OBJECT : SKV_REC_TOMBSTONE;
		if (h->type == SKV_REC_TOMBSTONE)
			vl = 0;
		h->flags = 0;
		h->reserved = 0;
		h->table_id = cpu_to_le64(le64_to_cpu(h->table_id) % 3);
		h->key_len = cpu_to_le16(kl);
		h->value_len = cpu_to_le32(vl);
		rl = skv_rec_len(kl, vl);
		if (rl > len - off)
			break;
		memset(p + off + SKV_REC_HDR_LEN + kl + vl, 0,
		       rl - SKV_REC_HDR_LEN - kl - vl);
		h->key_hash = cpu_to_le64(skv_key_hash(p + off + SKV_REC_HDR_LEN,
						       kl));
		skv_rec_write(p + off, h->type, le64_to_cpu(h->table_id),
			      le64_to_cpu(h->key_hash), le64_to_cpu(h->version),
			      p + off + SKV_REC_HDR_LEN, kl,
			      p + off + SKV_REC_HDR_LEN + kl, vl,
			      skv_rec_payload_crc(p + off + SKV_REC_HDR_LEN, kl,
						  p + off + SKV_REC_HDR_LEN + kl,
						  vl));
		off += rl;
	}
	return off;
}

/* Every record replayed must read back at its version or newer. */
static void check_newest(const u8 *p, size_t len)
{
	static u8 val[SKV_MAX_VALUE_LEN];
	struct skv_rec_view v;
	size_t off = 0;
	u32 vlen;
	u64 ver;
	int r;

	while (off < len && !skv_rec_parse(p + off, len - off, 0, &v)) {
		off += v.len;
		r = skv_store_get(st, v.table_id, v.key, v.key_len, v.key_hash, val,
			    sizeof(val), &vlen, &ver);
		if (r == SKV_S_UNKNOWN_TABLE || r == SKV_S_NOT_OWNER)
			continue;
		/* A tombstone the cleaner dropped reads as version 0. */
		if (r == SKV_S_NOT_FOUND && ver == 0)
			continue;
		/*
		 * Only the version is checked: input may carry two different
		 * records of a key at one version, and the first one wins.
		 */
		if (ver < v.version)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct skv_replay_stats rs;
	struct skv_seg_cert cert;
	struct skv_sidelog *sl;
	u8 mode, *buf;
	size_t len;
	int ret = -1;

	if (size < 1)
		return 0;
	mode = data[0];
	len = size - 1;
	buf = malloc(len + 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	if (++runs % 512 == 0)
		store_reset();
	if (skv_sidelog_create(st, &sl))
		abort();
	switch (mode & 7) {
	case 0:
		ret = skv_replay_records(st, sl, buf, len, &rs);
		break;
	case 1:
		ret = skv_replay_batch(st, sl, buf, len, NULL, &rs);
		break;
	case 2:
		if (len < sizeof(cert))
			break;
		memcpy(&cert, buf, sizeof(cert));
		ret = skv_replay_segment(st, sl, buf + sizeof(cert),
					 len - sizeof(cert), &cert, &rs);
		break;
	case 3:
		cert.length = cpu_to_le32(len);
		cert.crc = cpu_to_le32(skv_crc32c_std(buf, len));
		ret = skv_replay_segment(st, sl, buf, len, &cert, &rs);
		if (!ret)
			check_newest(buf + SKV_SEG_HDR_LEN,
				     len - SKV_SEG_HDR_LEN);
		break;
	default:
		len = fixup_records(buf, len);
		ret = skv_replay_records(st, sl, buf, len, &rs);
		if (!ret)
			check_newest(buf, len);
		break;
	}
	if (ret == 0 && rs.applied + rs.skipped + rs.foreign != rs.records)
		__builtin_trap();
	skv_sidelog_destroy(st, sl);
	if (mode & 8)
		skv_cleaner_run(st, 4);
	free(buf);
	return 0;
}
