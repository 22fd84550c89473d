// SPDX-License-Identifier: GPL-2.0
/*
 * gen_seeds DIR: seed corpora for the fuzz targets of this directory, made
 * with the real encoders, in DIR/<target>/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "record.h"
#include "coord_proto.h"
#include "state_store.h"

static const char *dir;

static void put(const char *target, const char *name, const void *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0755) && errno != EEXIST)
		exit(1);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f))
		exit(1);
}

/* A prefix byte then the bytes of b. */
static void put_tagged(const char *target, const char *name, uint8_t tag,
		       const void *p, size_t len)
{
	uint8_t *q = malloc(len + 1);

	q[0] = tag;
	memcpy(q + 1, p, len);
	put(target, name, q, len + 1);
	free(q);
}

static size_t record(uint8_t *dst, uint8_t type, const char *key, const char *val,
		     uint64_t version)
{
	uint32_t kl = strlen(key), vl = val ? strlen(val) : 0;

	skv_rec_write(dst, type, 1, skv_xxh64(key, kl, SKV_KEY_HASH_SEED), version, key, kl, val, vl,
		      skv_rec_payload_crc(key, kl, val, vl));
	return skv_rec_len(kl, vl);
}

static void batch_seeds(void)
{
	static uint8_t buf[4096];
	struct skv_batch_hdr *bh = (struct skv_batch_hdr *)buf;
	uint8_t *recs = buf + sizeof(*bh);
	size_t len = 0;

	len += record(recs + len, SKV_REC_OBJECT, "alpha", "one", 5);
	len += record(recs + len, SKV_REC_TOMBSTONE, "beta", NULL, 6);
	len += record(recs + len, SKV_REC_OBJECT, "gamma", "a longer value here", 7);
	bh->magic = cpu_to_le32(SKV_BATCH_MAGIC);
	bh->count = cpu_to_le32(3);
	bh->len = cpu_to_le32(len);
	bh->reserved = 0;
	put_tagged("fuzz_batch", "batch", 0, buf, sizeof(*bh) + len);
	put_tagged("fuzz_batch", "batch-fix", 2, buf, sizeof(*bh) + len);
	put_tagged("fuzz_batch", "records", 1, recs, len);
	put_tagged("fuzz_batch", "records-fix", 3, recs, len);
	/* A replication stream: a write, a departure, a write. */
	skv_rec_write_departure(recs + len, 1, 100, 200);
	len += SKV_REC_DEPARTURE_LEN;
	len += record(recs + len, SKV_REC_OBJECT, "delta", "after", 8);
	put_tagged("fuzz_batch", "stream", 5, recs, len);
	put_tagged("fuzz_batch", "stream-fix", 7, recs, len);
}

/* A reply frame for the fuzz_reply target (its headers are fixed up). */
static size_t reply(uint8_t *p, uint8_t status, const void *body, uint32_t len)
{
	memset(p, 0, 24);
	p[5] = status;
	p[16] = len;
	p[17] = len >> 8;
	if (len)
		memcpy(p + 24, body, len);
	return 24 + len;
}

static void reply_seeds(void)
{
	uint8_t buf[1024], *p;
	uint8_t val[16 + 5] = { 7, 0, 0, 0, 0, 0, 0, 0, 5 };
	uint8_t ver[8] = { 9 }, retry[8] = { 100 };
	uint8_t multi[8 + 2 * 16 + 3] = { 2 };

	memcpy(val + 16, "hello", 5);
	/* Items: OK with a 3-byte value, then NOT_FOUND. */
	multi[8 + 4] = 3;
	multi[8 + 8] = 1;
	memcpy(multi + 8 + 16, "abc", 3);
	multi[8 + 19] = SKV_S_NOT_FOUND;
	/* Flag 0x80, 5 requests: ping, get, put, delete, multi-get of 2 keys. */
	p = buf;
	*p++ = 0x80 | 4;
	*p++ = 0;
	*p++ = 1;
	*p++ = 2;
	*p++ = 3;
	*p++ = 4 | 1 << 3;
	p += reply(p, 0, NULL, 0);
	p += reply(p, 0, val, sizeof(val));
	p += reply(p, 0, ver, sizeof(ver));
	p += reply(p, SKV_S_RETRY, retry, sizeof(retry));
	p += reply(p, 0, multi, sizeof(multi));
	put("fuzz_reply", "pipeline", buf, p - buf);
	p = buf;
	*p++ = 0x80;
	*p++ = 1;
	p += reply(p, SKV_S_NOT_FOUND, ver, sizeof(ver));
	put("fuzz_reply", "get-not-found", buf, p - buf);
}

static void coord_seeds(struct tablet_map *m)
{
	struct coord_node_info n = { .id = 3, .incarnation = 0x1234567890abcdefull };
	struct coord_tablet_info t = { 1, 0, UINT64_MAX / 2, 3, 1, 2 };
	struct skv_migration mig = { .id = 4, .table_id = 1, .end_hash = UINT64_MAX / 2,
				     .src = 2, .dst = 3, .state = 1, .partitions = 8,
				     .present = 1ull << STEADYKV_A_MIGRATION_PARTITIONS };
	struct coord_node_info nodes[2] = { { 1, "10.0.0.1:7000" }, { 2, "10.0.0.2:7000" } };
	struct coord_tablet_info tablets[2] = { { 1, 0, UINT64_MAX / 2, 1, 0, 0 },
						{ 1, UINT64_MAX / 2 + 1, UINT64_MAX, 2, 0, 0 } };
	struct coord_map_info map = { 9, 2, 2, nodes, tablets };
	uint32_t owners[3] = { 1, 2, 3 };
	struct coord_buf b;
	uint8_t hdr[COORD_HDR_LEN];
	struct coord_hdr h = { .opcode = 1, .request_id = 42 };
	struct skv_auth_hello hello = { .key_id = 0x01020304, .role = SKV_AUTH_ROLE_ADMIN,
					.nonce = { 1, 2, 3 } };
	struct skv_auth_challenge challenge = { .nonce = { 4, 5 }, .mac = { 6, 7 } };
	struct skv_auth_proof proof = { .mac = { 8, 9 } };

	(void)m;
	strcpy(n.addr, "10.0.0.3:7000");
	strcpy(mig.source, "10.0.0.2:7000");
	strcpy(mig.error_msg, "pulling");
	coord_hdr_encode(hdr, &h);
	put_tagged("fuzz_coord_proto", "hdr", 0, hdr, sizeof(hdr));
#define SEED(tag, name, call)							\
	do {									\
		coord_buf_init(&b);						\
		if (call)							\
			exit(1);						\
		put_tagged("fuzz_coord_proto", name, tag, b.p, b.len);		\
		coord_buf_free(&b);						\
	} while (0)
	SEED(0, "frame", coord_frame_append(&b, 2, 0, 0, 7, "body", 4));
	SEED(1, "table", coord_table_encode(&b, 5, owners, 3));
	SEED(2, "node", coord_node_encode(&b, &n));
	SEED(3, "tablet", coord_tablet_encode(&b, &t));
	SEED(4, "id", coord_id_encode(&b, 77));
	SEED(5, "map", coord_map_encode(&b, &map));
	SEED(6, "migration", coord_mig_encode(&b, &mig));
	SEED(7, "migration-list", coord_mig_list_encode(&b, &mig, 1));
	SEED(8, "auth-hello", coord_auth_hello_encode(&b, &hello));
	SEED(9, "auth-challenge", coord_auth_challenge_encode(&b, &challenge));
	SEED(10, "register", coord_register_encode(&b, &n));
	SEED(11, "auth-proof", coord_auth_proof_encode(&b, &proof));
#undef SEED
}

static void state_seeds(void)
{
	char path[512];
	struct coord_store *s;
	struct tablet_map m;
	uint32_t owners[2] = { 1, 2 };
	FILE *f;
	uint8_t buf[8192];
	size_t n;

	tmap_init(&m);
	if (tmap_add_node(&m, 1, "n1", "10.0.0.1:7000") ||
	    tmap_add_node(&m, 2, "n2", "10.0.0.2:7000") ||
	    tmap_create_table(&m, 1, owners, 2) || tmap_create_table(&m, 2, owners, 1) ||
	    tmap_split(&m, 2, 1ull << 62) || tmap_start_migration(&m, 2, 1ull << 62, 2))
		exit(1);
	snprintf(path, sizeof(path), "%s/state.tmp", dir);
	if (coord_store_open_file(path, &s) || coord_store_save(s, &m))
		exit(1);
	coord_store_close(s);
	f = fopen(path, "rb");
	if (!f)
		exit(1);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	remove(path);
	put("fuzz_state_store", "map", buf, n);
	tmap_free(&m);
}

static void tablet_map_seeds(void)
{
	/* Add nodes 1 and 2, table 1 on both, split, migrate, finish, abort, ... */
	static const uint8_t prog[][16] = {
		{ 0, 1, 0, 0 }, { 0, 2, 1, 0 },
		{ 3, 0, 1, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2 },
		{ 5, 0, 0, 0, 0, 0, 1, 100, 1, 2, 3, 4, 5, 6, 7, 0 },
		{ 7, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
		{ 8, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
		{ 9, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
		{ 10, 0, 0, 0, 0, 0, 1, 200, 200, 200, 200, 200, 200, 200, 200, 0 },
		{ 2, 1 }, { 4, 0, 0, 0, 0, 0, 1 },
	};

	put("fuzz_tablet_map", "program", prog, sizeof(prog));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	if (mkdir(dir, 0755) && errno != EEXIST)
		return 1;
	batch_seeds();
	reply_seeds();
	coord_seeds(NULL);
	state_seeds();
	tablet_map_seeds();
	return 0;
}
