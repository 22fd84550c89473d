// SPDX-License-Identifier: GPL-2.0
/*
 * Writes a small seed corpus for fuzz_replay into the directory argv[1]:
 * valid record runs, batches and segment copies made by the core itself,
 * each prefixed with the fuzzer's mode byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "record.h"
#include "log.h"
#include "scan.h"

static void out(const char *dir, const char *name, u8 mode, const void *p,
		size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(&mode, 1, 1, f) != 1 || fwrite(p, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	struct skv_store_config cfg = { 64u << 10, 10, 8u << 20 };
	struct skv_tablet_info t = { 1, 0, U64_MAX, SKV_TABLET_NORMAL };
	static u8 buf[64u << 10], seg[(64u << 10) + 8];
	struct skv_seg_cert cert;
	struct skv_store *s;
	char key[32], val[200];
	u32 off = 0, i, kl;
	u64 ver, cur = 0;
	bool done;
	long n;

	if (argc != 2)
		return 2;
	skv_thread_online();
	if (skv_store_create(&cfg, &s) || skv_table_add(s, 1) ||
	    skv_tablet_add(s, &t))
		return 1;
	for (i = 0; i < 400; i++) {
		kl = snprintf(key, sizeof(key), "key-%u", i);
		memset(val, 'a' + i % 26, sizeof(val));
		skv_store_put(s, 1, key, kl, skv_key_hash(key, kl), val, 20 + i % 150,
			0, &ver);
		if (i % 5 == 0)
			skv_store_delete(s, 1, key, kl, skv_key_hash(key, kl), 0, &ver);
		if (i < 8) {
			u32 vl = i % 2 ? 0 : 10 + i;

			skv_rec_write(buf + off, i % 2 ? SKV_REC_TOMBSTONE :
				      SKV_REC_OBJECT, 1 + i % 3,
				      skv_key_hash(key, kl), 100 + i, key, kl,
				      val, vl, skv_rec_payload_crc(key, kl, val,
								   vl));
			off += skv_rec_len(kl, vl);
		}
	}
	out(argv[1], "records", 0, buf, off);
	out(argv[1], "records-fixup", 4, buf, off);
	n = skv_scan_serialize(s, 1, 0, U64_MAX, cur, buf, 2048, &cur, &done);
	if (n > 0)
		out(argv[1], "batch", 1, buf, n);
	n = skv_log_segment_copy(s, 0, seg + sizeof(cert), sizeof(seg) - 8,
				 &cert);
	if (n > 0) {
		/* Small seeds run faster: keep the first records only. */
		u32 cut = 1024, o = SKV_SEG_HDR_LEN;
		struct skv_rec_view v;

		while (o < n && !skv_rec_parse(seg + 8 + o, n - o, 0, &v) &&
		       o + v.len <= cut)
			o += v.len;
		cert.length = cpu_to_le32(o);
		cert.crc = cpu_to_le32(skv_crc32c_std(seg + 8, o));
		memcpy(seg, &cert, sizeof(cert));
		out(argv[1], "segment", 2, seg, 8 + o);
		out(argv[1], "segment-nocert", 3, seg + 8, o);
		out(argv[1], "segment-clean", 3 | 8, seg + 8, o);
	}
	skv_store_destroy(s);
	return 0;
}
