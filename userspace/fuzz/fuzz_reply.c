// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: libsteadykv's reply parser (userspace/lib/reply.c), fed
 * through a real connection (a socketpair) so that framing, buffering and
 * the body decoders all see the bytes a node might send.
 *
 * Input: byte 0 = number of requests (1..8) and a fix-up flag (bit 7);
 * then one byte per request (opcode, and the key count of a MULTI-GET);
 * the rest is the reply stream.  With the fix-up flag, each frame header of
 * the stream is made right for its request (magic, version, flags, reserved
 * fields, request id, opcode) so the body decoders get exercised; without
 * it the headers are raw.  Checked: every delivered result lies inside the
 * input, and a MULTI-GET result has exactly the items asked for.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void fix_headers(uint8_t *s, size_t len, const struct skv_conn *c)
{
	size_t off = 0;
	unsigned int i = 0;

	while (len - off >= SKV_HDR_LEN && i < c->count) {
		const struct skv_pending *p = &c->pending[(c->head + i) % c->max_pending];
		uint32_t blen = skv_get_le32(s + off + 16);

		skv_put_le16(s + off, SKV_WIRE_MAGIC);
		s[off + 2] = SKV_WIRE_VERSION;
		s[off + 3] = p->opcode;
		s[off + 4] = SKV_F_REPLY;
		s[off + 5] %= SKV_S_MAX + 1;
		skv_put_le16(s + off + 6, 0);
		skv_put_le64(s + off + 8, p->request_id);
		skv_put_le32(s + off + 20, 0);
		off += SKV_HDR_LEN;
		if (blen > len - off) {
			blen = len - off;
			skv_put_le32(s + off - 8, blen);
		}
		off += blen;
		i++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *keys[] = { "a", "bb", "ccc", "dddd", "e" };
	static const size_t klens[] = { 1, 2, 3, 4, 1 };
	struct skv_conn *c;
	struct skv_result r;
	unsigned int n, i;
	uint8_t *stream;
	size_t slen;
	int sv[2], rc;

	if (size < 2)
		return 0;
	n = (data[0] & 7) + 1;
	if (size < 1 + n)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		abort();
	if (skv_conn_from_fd(sv[0], NULL, &c))
		abort();
	skv_set_timeout(c, 1000);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	for (i = 0; i < n; i++) {
		uint8_t b = data[1 + i];

		switch (b % 5) {
		case 0:
			rc = skv_pipe_ping(c, i);
			break;
		case 1:
			rc = skv_pipe_get(c, 1, "k", 1, i);
			break;
		case 2:
			rc = skv_pipe_put(c, 1, "k", 1, "v", 1, 0, i);
			break;
		case 3:
			rc = skv_pipe_delete(c, 1, "k", 1, 0, i);
			break;
		default:
			rc = skv_pipe_multi_get(c, 1, 1 + (b >> 3) % 5,
						(const void *const *)keys, klens, i);
			break;
		}
		if (rc)
			abort();
	}
	if (skv_pipe_flush(c))
		abort();
	drain(sv[1]);

	slen = size - 1 - n;
	stream = malloc(slen ? slen : 1);
	memcpy(stream, data + 1 + n, slen);
	if (data[0] & 0x80)
		fix_headers(stream, slen, c);
	if (slen && write(sv[1], stream, slen) != (ssize_t)slen)
		abort();
	shutdown(sv[1], SHUT_WR);

	while ((rc = skv_pipe_next(c, &r)) == 0) {
		const uint8_t *lo = c->in.data, *hi = c->in.data + c->in.len;
		const uint8_t *v = r.value;

		if (v && (v < lo || v + r.value_len > hi))
			abort();
		if (r.opcode == SKV_OP_MULTI_GET && r.status == 0 &&
		    (r.item_count < 1 || r.item_count > 5))
			abort();
		for (i = 0; i < r.item_count; i++)
			if (r.items[i].value_len &&
			    (const uint8_t *)r.items[i].value + r.items[i].value_len > hi)
				abort();
	}
	skv_close(c);
	close(sv[1]);
	free(stream);
	return 0;
}
