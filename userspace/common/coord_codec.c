// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Coordinator protocol codec (see coord_codec.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* endian.h */
#endif
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_codec.h"

_Static_assert(sizeof(struct skv_coord_hdr) == COORD_HDR_LEN, "hdr size");
_Static_assert(sizeof(struct skv_coord_table) == 16, "table size");
_Static_assert(sizeof(struct skv_coord_node) == 136, "node size");
_Static_assert(sizeof(struct skv_coord_tablet) == 40, "tablet size");
_Static_assert(sizeof(struct skv_coord_map) == 16, "map size");
_Static_assert(sizeof(struct skv_coord_migration) == 560, "migration size");
_Static_assert(sizeof(struct skv_auth_hello) == 40, "hello size");
_Static_assert(sizeof(struct skv_auth_challenge) == 64, "challenge size");
_Static_assert(sizeof(struct skv_auth_proof) == 32, "proof size");

/* ---- buffers ---- */

void coord_buf_init(struct coord_buf *b)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void coord_buf_free(struct coord_buf *b)
{
	free(b->p);
	coord_buf_init(b);
}

int coord_buf_reserve(struct coord_buf *b, size_t more)
{
	size_t need, cap;
	uint8_t *p;

	if (more > SIZE_MAX - b->len)
		return -ENOMEM;
	need = b->len + more;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Room for @len more bytes: where they go, or NULL. */
static uint8_t *buf_grow(struct coord_buf *b, size_t len)
{
	uint8_t *at;

	if (coord_buf_reserve(b, len) || !b->p)
		return NULL;
	at = b->p + b->len;
	b->len += len;
	return at;
}

int coord_buf_append(struct coord_buf *b, const void *data, size_t len)
{
	uint8_t *at;

	if (!len)
		return 0;
	at = buf_grow(b, len);
	if (!at)
		return -ENOMEM;
	memcpy(at, data, len);
	return 0;
}

void coord_buf_consume(struct coord_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

/* ---- header and frames ---- */

void coord_hdr_encode(uint8_t out[COORD_HDR_LEN], const struct coord_hdr *h)
{
	struct skv_coord_hdr w;

	memset(&w, 0, sizeof(w));
	w.magic = htole16(SKV_COORD_MAGIC);
	w.version = SKV_COORD_VERSION;
	w.opcode = h->opcode;
	w.flags = h->flags;
	w.status = htole16(h->status);
	w.request_id = htole64(h->request_id);
	w.body_len = htole32(h->body_len);
	w.epoch = htole32(h->epoch);
	memcpy(out, &w, sizeof(w));
}

int coord_hdr_decode(const uint8_t *in, struct coord_hdr *h)
{
	struct skv_coord_hdr w;

	memcpy(&w, in, sizeof(w));
	if (le16toh(w.magic) != SKV_COORD_MAGIC ||
	    w.version != SKV_COORD_VERSION ||
	    (w.flags & ~SKV_COORD_F_REPLY) || w.reserved ||
	    le32toh(w.body_len) > SKV_COORD_MAX_BODY)
		return -EBADMSG;
	h->opcode = w.opcode;
	h->flags = w.flags;
	h->status = le16toh(w.status);
	h->request_id = le64toh(w.request_id);
	h->body_len = le32toh(w.body_len);
	h->epoch = le32toh(w.epoch);
	return 0;
}

int coord_frame_peek(const uint8_t *data, size_t avail, struct coord_hdr *h,
		     size_t *frame_len)
{
	if (avail < COORD_HDR_LEN)
		return 0;
	if (coord_hdr_decode(data, h))
		return -EBADMSG;
	if (avail - COORD_HDR_LEN < h->body_len)
		return 0;
	*frame_len = COORD_HDR_LEN + (size_t)h->body_len;
	return 1;
}

int coord_frame_append(struct coord_buf *out, uint8_t opcode, uint8_t flags,
		       uint16_t status, uint64_t request_id,
		       const void *body, size_t len)
{
	return coord_frame_append_epoch(out, opcode, flags, status, request_id,
					0, body, len);
}

int coord_frame_append_epoch(struct coord_buf *out, uint8_t opcode, uint8_t flags,
			     uint16_t status, uint64_t request_id, uint32_t epoch,
			     const void *body, size_t len)
{
	struct coord_hdr h = {
		.opcode = opcode, .flags = flags, .status = status,
		.request_id = request_id, .body_len = (uint32_t)len, .epoch = epoch,
	};
	uint8_t raw[COORD_HDR_LEN];
	uint8_t *at;

	if (len > SKV_COORD_MAX_BODY)
		return -EMSGSIZE;
	at = buf_grow(out, COORD_HDR_LEN + len);
	if (!at)
		return -ENOMEM;
	coord_hdr_encode(raw, &h);
	memcpy(at, raw, COORD_HDR_LEN);
	if (len)
		memcpy(at + COORD_HDR_LEN, body, len);
	return 0;
}

int coord_frame_append_error(struct coord_buf *out, uint8_t opcode,
			     uint64_t request_id, int err, const char *msg)
{
	size_t n;

	if (err < 0)
		err = -err;
	if (err <= 0 || err > 0xffff)
		err = EIO;
	if (!msg || !*msg)
		msg = strerror(err);
	n = strnlen(msg, 1023);
	{
		char tmp[1024];

		memcpy(tmp, msg, n);
		tmp[n] = '\0';
		return coord_frame_append(out, opcode, SKV_COORD_F_REPLY,
					  (uint16_t)err, request_id, tmp, n + 1);
	}
}

const char *coord_error_msg(uint16_t status, const void *body, size_t len)
{
	const char *s = body;

	if (s && len > 1 && s[len - 1] == '\0')
		return s;
	return strerror(status ? status : EIO);
}

/* ---- messages ---- */

/* Copy a fixed, NUL-padded wire field, forcing the final NUL. */
static void copy_field(char *dst, const char *src, size_t size)
{
	memcpy(dst, src, size);
	dst[size - 1] = '\0';
}

int coord_strlcpy(char *dst, size_t size, const char *s)
{
	size_t n = strnlen(s, size);

	if (n >= size)
		return -EINVAL;
	memset(dst, 0, size);
	memcpy(dst, s, n);
	return 0;
}

int coord_table_encode(struct coord_buf *b, uint64_t table_id,
		       const uint32_t *nodes, uint32_t nr_nodes)
{
	struct skv_coord_table w;
	uint32_t i;
	int ret;

	if (nr_nodes > (SKV_COORD_MAX_BODY - sizeof(w)) / 4)
		return -EINVAL;
	memset(&w, 0, sizeof(w));
	w.table_id = htole64(table_id);
	w.nr_nodes = htole32(nr_nodes);
	ret = coord_buf_append(b, &w, sizeof(w));
	for (i = 0; !ret && i < nr_nodes; i++) {
		__le32 id = htole32(nodes[i]);

		ret = coord_buf_append(b, &id, sizeof(id));
	}
	return ret;
}

int coord_table_decode(const void *body, size_t len, struct coord_table_req *t)
{
	const uint8_t *p = body;
	struct skv_coord_table w;
	uint32_t i, n;

	t->nodes = NULL;
	t->nr_nodes = 0;
	if (len < sizeof(w))
		return -EBADMSG;
	memcpy(&w, p, sizeof(w));
	n = le32toh(w.nr_nodes);
	if (w.reserved || (len - sizeof(w)) / 4 != n ||
	    (len - sizeof(w)) % 4)
		return -EBADMSG;
	t->table_id = le64toh(w.table_id);
	if (!n)
		return 0;
	t->nodes = calloc(n, sizeof(*t->nodes));
	if (!t->nodes)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		__le32 id;

		memcpy(&id, p + sizeof(w) + 4 * (size_t)i, 4);
		t->nodes[i] = le32toh(id);
	}
	t->nr_nodes = n;
	return 0;
}

int coord_node_encode(struct coord_buf *b, const struct coord_node_info *n)
{
	struct skv_coord_node w;

	memset(&w, 0, sizeof(w));
	w.id = htole32(n->id);
	w.flags = htole32(n->flags);
	if (coord_strlcpy(w.addr, sizeof(w.addr), n->addr))
		return -EINVAL;
	return coord_buf_append(b, &w, sizeof(w));
}

int coord_node_decode(const void *body, size_t len, struct coord_node_info *n)
{
	struct skv_coord_node w;

	if (len != sizeof(w))
		return -EBADMSG;
	memcpy(&w, body, sizeof(w));
	if (!memchr(w.addr, '\0', sizeof(w.addr)))
		return -EBADMSG;
	n->id = le32toh(w.id);
	n->flags = le32toh(w.flags);
	memcpy(n->addr, w.addr, sizeof(n->addr));
	n->incarnation = 0;
	return 0;
}

int coord_register_encode(struct coord_buf *b, const struct coord_node_info *n)
{
	uint64_t inc;
	int ret = coord_node_encode(b, n);

	if (ret)
		return ret;
	inc = htole64(n->incarnation);
	return coord_buf_append(b, &inc, sizeof(inc));
}

int coord_register_decode(const void *body, size_t len, struct coord_node_info *n)
{
	const size_t node_len = sizeof(struct skv_coord_node);
	uint64_t inc = 0;
	int ret;

	if (len != node_len && len != node_len + sizeof(inc))
		return -EBADMSG;
	ret = coord_node_decode(body, node_len, n);
	if (ret)
		return ret;
	if (len > node_len)
		memcpy(&inc, (const uint8_t *)body + node_len, sizeof(inc));
	n->incarnation = le64toh(inc);
	return 0;
}

int coord_repl_encode(struct coord_buf *b, const struct coord_repl_info *r)
{
	struct skv_coord_repl w;
	int ret;

	if (r->nr_backups > SKV_COORD_REPL_MAX)
		return -EINVAL;
	memset(&w, 0, sizeof(w));
	w.primary_id = htole64(r->primary_id);
	w.epoch = htole64(r->epoch);
	w.nr_backups = htole32(r->nr_backups);
	ret = coord_buf_append(b, &w, sizeof(w));
	for (uint32_t i = 0; !ret && i < r->nr_backups; i++)
		ret = coord_node_encode(b, &r->backups[i]);
	return ret;
}

int coord_repl_decode(const void *body, size_t len, struct coord_repl_info *r)
{
	const uint8_t *p = body;
	struct skv_coord_repl w;

	if (len < sizeof(w))
		return -EBADMSG;
	memcpy(&w, p, sizeof(w));
	memset(r, 0, sizeof(*r));
	r->primary_id = le64toh(w.primary_id);
	r->epoch = le64toh(w.epoch);
	r->nr_backups = le32toh(w.nr_backups);
	if (w.reserved || r->nr_backups > SKV_COORD_REPL_MAX ||
	    len != sizeof(w) + r->nr_backups * sizeof(struct skv_coord_node))
		return -EBADMSG;
	for (uint32_t i = 0; i < r->nr_backups; i++)
		if (coord_node_decode(p + sizeof(w) + i * sizeof(struct skv_coord_node),
				      sizeof(struct skv_coord_node), &r->backups[i]))
			return -EBADMSG;
	return 0;
}

int coord_load_encode(struct coord_buf *b, const struct coord_load_info *l)
{
	struct skv_coord_load w;
	int ret;

	memset(&w, 0, sizeof(w));
	w.sampled_ms = htole64(l->sampled_ms);
	w.nr_tablets = htole32(l->nr_tablets);
	ret = coord_buf_append(b, &w, sizeof(w));
	for (uint32_t i = 0; !ret && i < l->nr_tablets; i++) {
		const struct coord_tablet_load *t = &l->tablets[i];
		struct skv_coord_tablet_load tw = {
			.table_id = htole64(t->table_id),
			.start_hash = htole64(t->start_hash),
			.end_hash = htole64(t->end_hash),
			.requests = htole64(t->requests),
		};

		if (t->start_hash > t->end_hash)
			return -EINVAL;
		ret = coord_buf_append(b, &tw, sizeof(tw));
	}
	return ret;
}

int coord_load_decode(const void *body, size_t len, struct coord_load_info *l)
{
	const uint8_t *p = body;
	struct skv_coord_load w;
	uint32_t n;

	memset(l, 0, sizeof(*l));
	if (len < sizeof(w))
		return -EBADMSG;
	memcpy(&w, p, sizeof(w));
	n = le32toh(w.nr_tablets);
	if (w.reserved ||
	    (len - sizeof(w)) / sizeof(struct skv_coord_tablet_load) != n ||
	    (len - sizeof(w)) % sizeof(struct skv_coord_tablet_load))
		return -EBADMSG;
	if (n) {
		l->tablets = calloc(n, sizeof(*l->tablets));
		if (!l->tablets)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct skv_coord_tablet_load tw;
		struct coord_tablet_load *t = &l->tablets[i];

		memcpy(&tw, p + sizeof(w) + i * sizeof(tw), sizeof(tw));
		t->table_id = le64toh(tw.table_id);
		t->start_hash = le64toh(tw.start_hash);
		t->end_hash = le64toh(tw.end_hash);
		t->requests = le64toh(tw.requests);
		if (t->start_hash > t->end_hash) {
			free(l->tablets);
			l->tablets = NULL;
			return -EBADMSG;
		}
	}
	l->sampled_ms = le64toh(w.sampled_ms);
	l->nr_tablets = n;
	return 0;
}

int coord_tablet_encode(struct coord_buf *b, const struct coord_tablet_info *t)
{
	struct skv_coord_tablet w;

	memset(&w, 0, sizeof(w));
	w.table_id = htole64(t->table_id);
	w.start_hash = htole64(t->start_hash);
	w.end_hash = htole64(t->end_hash);
	w.owner = htole32(t->owner);
	w.state = htole32(t->state);
	w.src = htole32(t->src);
	w.flags = htole32(t->flags);
	return coord_buf_append(b, &w, sizeof(w));
}

int coord_tablet_decode(const void *body, size_t len,
			struct coord_tablet_info *t)
{
	struct skv_coord_tablet w;

	if (len != sizeof(w))
		return -EBADMSG;
	memcpy(&w, body, sizeof(w));
	t->table_id = le64toh(w.table_id);
	t->start_hash = le64toh(w.start_hash);
	t->end_hash = le64toh(w.end_hash);
	t->owner = le32toh(w.owner);
	t->state = le32toh(w.state);
	t->src = le32toh(w.src);
	t->flags = le32toh(w.flags);
	if (t->start_hash > t->end_hash)
		return -EBADMSG;
	return 0;
}

int coord_mig_encode(struct coord_buf *b, const struct skv_migration *m)
{
	struct skv_coord_migration w;

	if (m->present & ~SKV_MIG_ATTR_BITS)
		return -EINVAL;
	memset(&w, 0, sizeof(w));
	w.present = htole64(m->present);
	w.id = htole64(m->id);
	w.table_id = htole64(m->table_id);
	w.start_hash = htole64(m->start_hash);
	w.end_hash = htole64(m->end_hash);
	w.src = htole32(m->src);
	w.dst = htole32(m->dst);
	/* An absent tuning field goes as 0: the module decides its value. */
	if (SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_MODE))
		w.mode = htole32(m->mode);
	if (SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_PARTITIONS))
		w.partitions = htole32(m->partitions);
	if (SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT))
		w.pulls_in_flight = htole32(m->pulls_in_flight);
	if (SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_PULL_BUDGET))
		w.pull_budget = htole32(m->pull_budget);
	if (SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_PRIORITY_PULLS))
		w.priority_pulls = m->priority_pulls;
	w.state = htole32(m->state);
	w.error = htole32(m->error);
	w.progress_permille = htole32(m->progress_permille);
	w.partitions_done = htole32(m->partitions_done);
	w.safe_version = htole64(m->safe_version);
	w.started_unix_ms = htole64(m->started_unix_ms);
	w.elapsed_us = htole64(m->elapsed_us);
	w.owned_us = htole64(m->owned_us);
	w.bytes_pulled = htole64(m->bytes_pulled);
	w.records_pulled = htole64(m->records_pulled);
	w.records_replayed = htole64(m->records_replayed);
	w.records_skipped = htole64(m->records_skipped);
	w.pulls = htole64(m->pulls);
	w.priority_pulls_sent = htole64(m->priority_pulls_sent);
	w.priority_keys = htole64(m->priority_keys);
	if (coord_strlcpy(w.src_addr, sizeof(w.src_addr), m->source))
		return -EINVAL;
	/* A message too long is cut, not refused: it is informational. */
	snprintf(w.msg, sizeof(w.msg), "%s", m->error_msg);
	return coord_buf_append(b, &w, sizeof(w));
}

int coord_mig_decode(const void *body, size_t len, struct skv_migration *m)
{
	struct skv_coord_migration w;
	int attr;

	_Static_assert(sizeof(w.src_addr) == sizeof(m->source) &&
		       sizeof(w.msg) == sizeof(m->error_msg),
		       "the wire's strings are the record's");
	if (len != sizeof(w))
		return -EBADMSG;
	memcpy(&w, body, sizeof(w));
	memset(m, 0, sizeof(*m));
	m->present = le64toh(w.present);
	m->id = le64toh(w.id);
	m->table_id = le64toh(w.table_id);
	m->start_hash = le64toh(w.start_hash);
	m->end_hash = le64toh(w.end_hash);
	m->src = le32toh(w.src);
	m->dst = le32toh(w.dst);
	m->mode = le32toh(w.mode);
	m->partitions = le32toh(w.partitions);
	m->pulls_in_flight = le32toh(w.pulls_in_flight);
	m->pull_budget = le32toh(w.pull_budget);
	m->priority_pulls = w.priority_pulls;
	m->state = le32toh(w.state);
	m->error = le32toh(w.error);
	m->progress_permille = le32toh(w.progress_permille);
	m->partitions_done = le32toh(w.partitions_done);
	m->safe_version = le64toh(w.safe_version);
	m->started_unix_ms = le64toh(w.started_unix_ms);
	m->elapsed_us = le64toh(w.elapsed_us);
	m->owned_us = le64toh(w.owned_us);
	m->bytes_pulled = le64toh(w.bytes_pulled);
	m->records_pulled = le64toh(w.records_pulled);
	m->records_replayed = le64toh(w.records_replayed);
	m->records_skipped = le64toh(w.records_skipped);
	m->pulls = le64toh(w.pulls);
	m->priority_pulls_sent = le64toh(w.priority_pulls_sent);
	m->priority_keys = le64toh(w.priority_keys);
	copy_field(m->source, w.src_addr, sizeof(m->source));
	copy_field(m->error_msg, w.msg, sizeof(m->error_msg));
	if (w.reserved[0] || w.reserved[1] || w.reserved[2] || w.reserved2 ||
	    (m->present & ~SKV_MIG_ATTR_BITS))
		return -EBADMSG;
	/* A tuning field that was not given carries nothing. */
	SKV_MIG_FOR_EACH_TUNING(attr)
		if (!SKV_MIG_HAS(m, attr) && skv_mig_tuning_value(m, attr))
			return -EBADMSG;
	return 0;
}

int coord_id_encode(struct coord_buf *b, uint64_t id)
{
	__le64 w = htole64(id);

	return coord_buf_append(b, &w, sizeof(w));
}

int coord_id_decode(const void *body, size_t len, uint64_t *id)
{
	__le64 w;

	if (len != sizeof(w))
		return -EBADMSG;
	memcpy(&w, body, sizeof(w));
	*id = le64toh(w);
	return 0;
}

int coord_decision_encode(struct coord_buf *b, uint64_t id, bool abort)
{
	struct skv_coord_decision w = {
		.id = htole64(id), .abort = htole32(abort ? 1 : 0),
	};

	return coord_buf_append(b, &w, sizeof(w));
}

int coord_decision_decode(const void *body, size_t len, uint64_t *id, bool *abort)
{
	struct skv_coord_decision w;

	if (len != sizeof(w))
		return -EBADMSG;
	memcpy(&w, body, sizeof(w));
	if (w.reserved || le32toh(w.abort) > 1)
		return -EBADMSG;
	*id = le64toh(w.id);
	*abort = le32toh(w.abort);
	return 0;
}

int coord_map_encode(struct coord_buf *b, const struct coord_map_info *m)
{
	struct skv_coord_map w;
	uint32_t i;
	int ret;

	memset(&w, 0, sizeof(w));
	w.version = htole64(m->version);
	w.nr_nodes = htole32(m->nr_nodes);
	w.nr_tablets = htole32(m->nr_tablets);
	ret = coord_buf_append(b, &w, sizeof(w));
	for (i = 0; !ret && i < m->nr_nodes; i++)
		ret = coord_node_encode(b, &m->nodes[i]);
	for (i = 0; !ret && i < m->nr_tablets; i++)
		ret = coord_tablet_encode(b, &m->tablets[i]);
	return ret;
}

void coord_map_info_free(struct coord_map_info *m)
{
	free(m->nodes);
	free(m->tablets);
	memset(m, 0, sizeof(*m));
}

static int map_bad(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int map_bad(char *why, size_t why_len, const char *fmt, ...)
{
	if (why && why_len) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static bool map_has_node(const struct coord_map_info *m, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (m->nodes[i].id == id)
			return true;
	return false;
}

/* Ids unique, owners listed, each table's tablets sorted and covering. */
static int map_check(const struct coord_map_info *m, char *why, size_t why_len)
{
	for (uint32_t i = 0; i < m->nr_nodes; i++)
		if (map_has_node(m, i, m->nodes[i].id))
			return map_bad(why, why_len, "node %u listed twice",
				       m->nodes[i].id);
	for (uint32_t i = 0; i < m->nr_tablets; i++) {
		const struct coord_tablet_info *t = &m->tablets[i];
		const struct coord_tablet_info *p = i ? &m->tablets[i - 1] : NULL;

		if (!map_has_node(m, m->nr_nodes, t->owner))
			return map_bad(why, why_len,
				       "tablet %u: owner %u is not a listed node",
				       i, t->owner);
		if (p && p->table_id > t->table_id)
			return map_bad(why, why_len, "tablet %u: tables not sorted", i);
		if (!p || p->table_id != t->table_id) {
			/* A new table: the previous one must have reached the top. */
			if (p && p->end_hash != UINT64_MAX)
				return map_bad(why, why_len,
					       "table %llu does not cover the hash space",
					       (unsigned long long)p->table_id);
			if (t->start_hash != 0)
				return map_bad(why, why_len,
					       "table %llu does not start at hash 0",
					       (unsigned long long)t->table_id);
		} else if (p->end_hash == UINT64_MAX || t->start_hash != p->end_hash + 1) {
			return map_bad(why, why_len, "tablet %u: %s the previous one", i,
				       p->end_hash == UINT64_MAX ||
				       t->start_hash <= p->end_hash ?
				       "overlaps" : "leaves a gap after");
		}
	}
	if (m->nr_tablets && m->tablets[m->nr_tablets - 1].end_hash != UINT64_MAX)
		return map_bad(why, why_len, "table %llu does not cover the hash space",
			       (unsigned long long)m->tablets[m->nr_tablets - 1].table_id);
	return 0;
}

int coord_map_decode_why(const void *body, size_t len,
			 struct coord_map_info *m, char *why, size_t why_len)
{
	const size_t ns = sizeof(struct skv_coord_node);
	const size_t ts = sizeof(struct skv_coord_tablet);
	const uint8_t *p = body;
	struct skv_coord_map w;
	uint32_t nn, nt, i;
	size_t off;
	int ret;

	memset(m, 0, sizeof(*m));
	if (len < sizeof(w) || len > SKV_COORD_MAX_BODY)
		return map_bad(why, why_len, "map of %zu bytes", len);
	memcpy(&w, p, sizeof(w));
	nn = le32toh(w.nr_nodes);
	nt = le32toh(w.nr_tablets);
	/* Both counts are bounded by the body, so the sums cannot wrap. */
	if (nn > (len - sizeof(w)) / ns || nt > (len - sizeof(w)) / ts ||
	    sizeof(w) + (size_t)nn * ns + (size_t)nt * ts != len)
		return map_bad(why, why_len,
			       "map says %u nodes and %u tablets in %zu bytes",
			       nn, nt, len);
	m->version = le64toh(w.version);
	if (nn) {
		m->nodes = calloc(nn, sizeof(*m->nodes));
		if (!m->nodes)
			return -ENOMEM;
	}
	if (nt) {
		m->tablets = calloc(nt, sizeof(*m->tablets));
		if (!m->tablets) {
			coord_map_info_free(m);
			return -ENOMEM;
		}
	}
	m->nr_nodes = nn;
	m->nr_tablets = nt;
	off = sizeof(w);
	ret = 0;
	for (i = 0; !ret && i < nn; i++, off += ns)
		if (coord_node_decode(p + off, ns, &m->nodes[i]))
			ret = map_bad(why, why_len,
				      "node %u: address not NUL-terminated", i);
	for (i = 0; !ret && i < nt; i++, off += ts)
		if (coord_tablet_decode(p + off, ts, &m->tablets[i]))
			ret = map_bad(why, why_len, "tablet %u: start after end", i);
	if (!ret)
		ret = map_check(m, why, why_len);
	if (ret)
		coord_map_info_free(m);
	return ret;
}

int coord_mig_list_encode(struct coord_buf *b, const struct skv_migration *v,
			  uint32_t count)
{
	__le32 hdr[2] = { htole32(count), 0 };
	uint32_t i;
	int ret;

	ret = coord_buf_append(b, hdr, sizeof(hdr));
	for (i = 0; !ret && i < count; i++)
		ret = coord_mig_encode(b, &v[i]);
	return ret;
}

int coord_mig_list_decode(const void *body, size_t len,
			  struct skv_migration **v, uint32_t *count)
{
	const size_t ms = sizeof(struct skv_coord_migration);
	const uint8_t *p = body;
	struct skv_migration *out;
	__le32 hdr[2];
	uint32_t n, i;

	*v = NULL;
	*count = 0;
	if (len < sizeof(hdr))
		return -EBADMSG;
	memcpy(hdr, p, sizeof(hdr));
	n = le32toh(hdr[0]);
	if (hdr[1] || (len - sizeof(hdr)) % ms || (len - sizeof(hdr)) / ms != n)
		return -EBADMSG;
	if (!n)
		return 0;
	out = calloc(n, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int ret = coord_mig_decode(p + sizeof(hdr) + (size_t)i * ms, ms,
				       &out[i]);
		if (ret) {
			free(out);
			return ret;
		}
	}
	*v = out;
	*count = n;
	return 0;
}

/* ---- authentication ---- */

int coord_auth_hello_encode(struct coord_buf *b, const struct skv_auth_hello *h)
{
	return coord_buf_append(b, h, sizeof(*h));
}

int coord_auth_hello_decode(const void *body, size_t len, struct skv_auth_hello *h)
{
	static const uint8_t zero[sizeof(h->reserved)];

	if (len != sizeof(*h))
		return -EBADMSG;
	memcpy(h, body, sizeof(*h));
	if (h->role < SKV_AUTH_ROLE_PEER || h->role > SKV_AUTH_ROLE_CLIENT ||
	    memcmp(h->reserved, zero, sizeof(zero)))
		return -EBADMSG;
	return 0;
}

int coord_auth_challenge_encode(struct coord_buf *b,
				const struct skv_auth_challenge *ch)
{
	return coord_buf_append(b, ch, sizeof(*ch));
}

int coord_auth_challenge_decode(const void *body, size_t len,
				struct skv_auth_challenge *ch)
{
	if (len != sizeof(*ch))
		return -EBADMSG;
	memcpy(ch, body, sizeof(*ch));
	return 0;
}

int coord_auth_proof_encode(struct coord_buf *b, const struct skv_auth_proof *p)
{
	return coord_buf_append(b, p, sizeof(*p));
}

int coord_auth_proof_decode(const void *body, size_t len, struct skv_auth_proof *p)
{
	if (len != sizeof(*p))
		return -EBADMSG;
	memcpy(p, body, sizeof(*p));
	return 0;
}
