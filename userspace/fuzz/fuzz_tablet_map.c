// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the coordinator's tablet map (userspace/coord/tablet_map.c)
 * driven by a random sequence of its operations.
 *
 * The input is a program: each operation is 1 opcode byte and 15 argument
 * bytes (node ids, table ids and hashes from small ranges, so they collide).
 * Checked after every operation, whether it succeeded or was refused: the
 * map passes tmap_check(), a refused operation left the version alone, and
 * every hash of every table has exactly one owner.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tablet_map.h"

#define OP_LEN	16

static uint64_t hash_of(const uint8_t *a)
{
	static const uint64_t edges[] = { 0, 1, 1ull << 63, UINT64_MAX, UINT64_MAX - 1 };
	uint64_t x;

	if (a[0] < 40)
		return edges[a[0] % 5];
	memcpy(&x, a, 8);
	return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "n1", "n2", "bad name", "" };
	static const char *const addrs[] = { "10.0.0.1:7000", "[::1]:7000", "nope", "" };
	struct tablet_map m;
	size_t off;

	tmap_init(&m);
	for (off = 0; off + OP_LEN <= size; off += OP_LEN) {
		const uint8_t *a = data + off + 1;
		uint32_t node = a[0] % 5, nodes[4] = { a[1] % 5, a[2] % 5, a[3] % 5, a[4] % 5 };
		uint64_t table = a[5] % 4, hash = hash_of(a + 6), before = m.version;
		const struct tmap_tablet *t;
		uint32_t owner;
		int rc;

		switch (data[off] % 11) {
		case 0:
			rc = tmap_add_node(&m, node, names[a[1] % 4], addrs[a[2] % 4]);
			break;
		case 1:
			rc = tmap_set_node_addr(&m, node, addrs[a[1] % 4]);
			break;
		case 2:
			rc = tmap_remove_node(&m, node);
			break;
		case 3:
			rc = tmap_create_table(&m, table, nodes, a[14] % 5);
			break;
		case 4:
			rc = tmap_drop_table(&m, table);
			break;
		case 5:
			rc = tmap_split(&m, table, hash);
			break;
		case 6:
		case 7:
		case 8:
		case 9:
			/* Ops on the tablet holding the hash (or at a random start). */
			t = tmap_find(&m, table, hash);
			if (t && a[14] & 1)
				hash = t->start;
			switch (data[off] % 11) {
			case 6:
				rc = tmap_set_owner(&m, table, hash, node);
				break;
			case 7:
				rc = tmap_start_migration(&m, table, hash, node);
				break;
			case 8:
				rc = tmap_finish_migration(&m, table, hash);
				break;
			default:
				rc = tmap_abort_migration(&m, table, hash);
				break;
			}
			break;
		default:
			rc = tmap_find_owner(&m, table, hash, &owner);
			if (!rc && !tmap_find_node(&m, owner))
				abort();
			rc = 1;	/* a read: no version change either way */
			break;
		}
		if (tmap_check(&m, NULL))
			abort();
		if (rc && m.version != before)
			abort();
	}
	tmap_free(&m);
	return 0;
}
