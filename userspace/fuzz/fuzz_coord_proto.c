// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the coordinator protocol's decoders
 * (userspace/coord/coord_proto.c): the frame header and frame peek, and the
 * table, node, register, tablet, id, map, migration and migration-list
 * bodies, and
 * the authentication bodies (AUTH_HELLO, its challenge, AUTH_PROOF).
 *
 * Byte 0 picks the decoder, the rest is its input.  Checked: a frame that
 * peeks whole fits the input; whatever decodes, encoded again and decoded
 * again, encodes to the same bytes (the decoders keep every field the
 * encoders write, and leave nothing half-set).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coord_proto.h"

/* The migration record codec, behind one wrapper. */
typedef struct skv_migration fuzz_mig;
#define fuzz_mig_decode		coord_mig_decode
#define fuzz_mig_encode		coord_mig_encode
#define fuzz_mig_list_decode	coord_mig_list_decode
#define fuzz_mig_list_encode	coord_mig_list_encode

static void same(const struct coord_buf *a, const struct coord_buf *b)
{
	if (a->len != b->len || memcmp(a->p, b->p, a->len))
		abort();
}

/* Run decode on the input; if it takes it, check the encode/decode cycle. */
#define CYCLE(T, decode, encode_args, free_it)					\
	do {									\
		T x1, x2;							\
		struct coord_buf b1, b2;					\
										\
		memset(&x1, 0, sizeof(x1));					\
		memset(&x2, 0, sizeof(x2));					\
		if (decode(in, len, &x1))					\
			break;							\
		coord_buf_init(&b1);						\
		coord_buf_init(&b2);						\
		{ T *x = &x1; struct coord_buf *b = &b1;			\
		  if (encode_args) abort(); }					\
		if (decode(b1.p, b1.len, &x2))					\
			abort();						\
		{ T *x = &x2; struct coord_buf *b = &b2;			\
		  if (encode_args) abort(); }					\
		same(&b1, &b2);							\
		{ T *x = &x1; free_it; x = &x2; free_it; }			\
		coord_buf_free(&b1);						\
		coord_buf_free(&b2);						\
	} while (0)

struct mig_list {
	fuzz_mig *v;
	uint32_t n;
};

static int mig_list_decode(const void *in, size_t len, struct mig_list *l)
{
	return fuzz_mig_list_decode(in, len, &l->v, &l->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *in = data + 1;
	size_t len = size - 1, flen;
	struct coord_hdr h;

	if (size < 1)
		return 0;
	switch (data[0] % 12) {
	case 0:
		if (len >= COORD_HDR_LEN && !coord_hdr_decode(in, &h)) {
			uint8_t out[COORD_HDR_LEN];
			struct coord_hdr h2;

			coord_hdr_encode(out, &h);
			if (coord_hdr_decode(out, &h2) || h2.opcode != h.opcode ||
			    h2.flags != h.flags || h2.status != h.status ||
			    h2.request_id != h.request_id || h2.body_len != h.body_len)
				abort();
		}
		if (coord_frame_peek(in, len, &h, &flen) == 1 &&
		    (flen > len || flen != COORD_HDR_LEN + (size_t)h.body_len))
			abort();
		break;
	case 1:
		CYCLE(struct coord_table_req, coord_table_decode,
		      coord_table_encode(b, x->table_id, x->nodes, x->nr_nodes), free(x->nodes));
		break;
	case 2:
		CYCLE(struct coord_node_info, coord_node_decode, coord_node_encode(b, x), (void)x);
		break;
	case 3:
		CYCLE(struct coord_tablet_info, coord_tablet_decode, coord_tablet_encode(b, x),
		      (void)x);
		break;
	case 4:
		CYCLE(uint64_t, coord_id_decode, coord_id_encode(b, *x), (void)x);
		break;
	case 5:
		CYCLE(struct coord_map_info, coord_map_decode, coord_map_encode(b, x),
		      coord_map_info_free(x));
		break;
	case 6:
		CYCLE(fuzz_mig, fuzz_mig_decode, fuzz_mig_encode(b, x), (void)x);
		break;
	case 7:
		CYCLE(struct mig_list, mig_list_decode, fuzz_mig_list_encode(b, x->v, x->n),
		      free(x->v));
		break;
	case 8:
		CYCLE(struct skv_auth_hello, coord_auth_hello_decode,
		      coord_auth_hello_encode(b, x), (void)x);
		break;
	case 9:
		CYCLE(struct skv_auth_challenge, coord_auth_challenge_decode,
		      coord_auth_challenge_encode(b, x), (void)x);
		break;
	case 10:
		CYCLE(struct coord_node_info, coord_register_decode,
		      coord_register_encode(b, x), (void)x);
		break;
	default:
		CYCLE(struct skv_auth_proof, coord_auth_proof_decode,
		      coord_auth_proof_encode(b, x), (void)x);
		break;
	}
	/* The error message helper reads any body. */
	(void)coord_error_msg(data[0], in, len);
	return 0;
}
