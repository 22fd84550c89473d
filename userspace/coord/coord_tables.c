// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator's handlers of the map and tables: GET_MAP,
 * NODE_REGISTER, TABLE_CREATE, TABLE_DROP (see coord.h for what each
 * does).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"

/*
 * TABLE_CREATE's op is over: the map gets the table once every node added
 * its tablet; otherwise the nodes that did drop the table again.
 */
void coord_finish_create(struct coordinator *c, struct op *op)
{
	struct tablet_map *m = &c->st.map;
	size_t i, j;

	if (!op->err) {
		int err = tmap_create_table(m, op->table_id, op->owners, op->nr);
		if (err)
			coord_op_fail(op, err, "create table %llu: %s",
				      (unsigned long long)op->table_id,
				      strerror(-err));
		else if ((err = coord_persist(c, op->msg, sizeof(op->msg))) != 0)
			op->err = -err;
	}
	if (!op->err) {
		coord_logmsg(c, false, "table %llu created over %zu tablets",
			     (unsigned long long)op->table_id, op->nr);
		return;
	}
	/* Roll back: the nodes that added a tablet drop the table. */
	for (i = 0; op->acked && op->owners && i < op->nr; i++) {
		struct coord_buf b;
		bool seen = false;

		if (!op->acked[i])
			continue;
		for (j = 0; j < i; j++)
			if (op->acked[j] && op->owners[j] == op->owners[i])
				seen = true;
		if (seen)
			continue;
		coord_buf_init(&b);
		if (!coord_table_encode(&b, op->table_id, NULL, 0))
			coord_send_cmd(c, op->owners[i], SKV_COORD_OP_NODE_TABLE_DEL,
				       &b, NULL, 0);
		coord_buf_free(&b);
	}
}

void coord_do_get_map(struct coordinator *c, struct conn *cn,
		      const struct coord_hdr *h)
{
	const struct tablet_map *m = &c->st.map;
	struct coord_map_info mi;
	struct coord_buf b;
	size_t i;
	int err = -ENOMEM;

	memset(&mi, 0, sizeof(mi));
	coord_buf_init(&b);
	mi.version = m->version;
	if (m->nr_nodes > UINT32_MAX || m->nr_tablets > UINT32_MAX)
		goto out;
	mi.nr_nodes = (uint32_t)m->nr_nodes;
	mi.nr_tablets = (uint32_t)m->nr_tablets;
	mi.nodes = calloc(m->nr_nodes + 1, sizeof(*mi.nodes));
	mi.tablets = calloc(m->nr_tablets + 1, sizeof(*mi.tablets));
	if (!mi.nodes || !mi.tablets)
		goto out;
	for (i = 0; i < m->nr_nodes; i++) {
		mi.nodes[i].id = m->nodes[i].id;
		mi.nodes[i].flags = coord_node_flags(c, m->nodes[i].id);
		snprintf(mi.nodes[i].addr, sizeof(mi.nodes[i].addr), "%s",
			 m->nodes[i].addr);
	}
	for (i = 0; i < m->nr_tablets; i++) {
		const struct tmap_tablet *t = &m->tablets[i];

		mi.tablets[i].table_id = t->table_id;
		mi.tablets[i].start_hash = t->start;
		mi.tablets[i].end_hash = t->end;
		mi.tablets[i].owner = t->owner;
		mi.tablets[i].state = t->state == TMAP_MIGRATING ? 1 : 0;
		mi.tablets[i].src = t->state == TMAP_MIGRATING ? t->src : 0;
		if (coord_tablet_lost(c, t->table_id, t->start, t->end))
			mi.tablets[i].flags = SKV_COORD_TABLET_F_LOST;
	}
	err = coord_map_encode(&b, &mi);
	if (!err && b.len > SKV_COORD_MAX_BODY)
		err = -EMSGSIZE;
out:
	if (err)
		coord_reply_err(cn, h->opcode, h->request_id, -err, "map: %s",
				strerror(-err));
	else
		coord_reply_ok(cn, h->opcode, h->request_id, b.p, b.len);
	coord_buf_free(&b);
	coord_map_info_free(&mi);
}

void coord_do_register(struct coordinator *c, struct conn *cn,
		       const struct coord_hdr *h, const uint8_t *body)
{
	struct tablet_map *m = &c->st.map;
	const struct tmap_node *known;
	struct coord_node_info n;
	const struct conn *other;
	uint64_t ver = m->version;
	char msg[300];
	size_t pending;
	int changed, err;

	if (coord_register_decode(body, h->body_len, &n)) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"malformed NODE_REGISTER body");
		return;
	}
	if (!n.id || !tmap_valid_addr(n.addr)) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"bad node id %u or address '%s'", n.id, n.addr);
		return;
	}
	if (cn->node_id && cn->node_id != n.id) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"connection already registered as node %u",
				cn->node_id);
		return;
	}
	other = coord_node_conn(c, n.id);
	if (other && other != cn) {
		coord_reply_err(cn, h->opcode, h->request_id, EEXIST,
				"node %u is registered by another live connection",
				n.id);
		return;
	}
	known = tmap_find_node(m, n.id);
	if (known && known->incarnation && n.incarnation &&
	    known->incarnation != n.incarnation)
		/* Its data went with its old incarnation: rebuild its tablets. */
		coord_live_evict(c, n.id, "back as a new incarnation of its module, without its data");
	pending = coord_recovery_pending(c, n.id);
	if (pending) {
		coord_logmsg(c, false, "node %u: registration refused: %zu of its lost"
			     " tablet(s) are being rebuilt from its replicas", n.id, pending);
		coord_reply_err(cn, h->opcode, h->request_id, EAGAIN,
				"node %u was declared dead and %zu of its tablet(s) are being"
				" rebuilt from its replicas: register again once they are",
				n.id, pending);
		return;
	}
	if (tmap_find_node(m, n.id)) {
		err = tmap_set_node_addr(m, n.id, n.addr);
	} else {
		char name[32];

		snprintf(name, sizeof(name), "node-%u", n.id);
		err = tmap_add_node(m, n.id, name, n.addr);
	}
	if (err) {
		coord_reply_err(cn, h->opcode, h->request_id, -err,
				"register node %u: %s", n.id, strerror(-err));
		return;
	}
	/* Known before it is told: a restart must not take it for another one. */
	changed = n.incarnation ? tmap_set_node_incarnation(m, n.id, n.incarnation) : 0;
	err = m->version != ver || changed > 0 ? coord_persist(c, msg, sizeof(msg)) : 0;
	/* Its lost tablets marked out of reach before it may reset its replicas. */
	if (!err)
		err = coord_live_coming_back(c, n.id, msg, sizeof(msg));
	if (err) {
		coord_reply_err(cn, h->opcode, h->request_id, -err, "%s", msg);
		return;
	}
	cn->node_id = n.id;
	coord_logmsg(c, false, "node %u registered, data address %s", n.id, n.addr);
	coord_reply_ok(cn, h->opcode, h->request_id, NULL, 0);
	coord_migs_node_registered(c, n.id);
	coord_live_registered(c, n.id);
	coord_cancel_in_doubt(c, n.id);
	coord_repl_assign(c);
}

/*
 * The tablets tmap_create_table would make, without changing the map:
 * created on the live map, copied, dropped again, version restored.
 */
static int plan_table(struct coordinator *c, uint64_t table_id,
		      const uint32_t *nodes, size_t n, struct tmap_tablet **out)
{
	struct tablet_map *m = &c->st.map;
	uint64_t ver = m->version;
	struct tmap_tablet *v;
	size_t i, k = 0;
	int err;

	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = tmap_create_table(m, table_id, nodes, n);
	if (err) {
		free(v);
		return err;
	}
	for (i = 0; i < m->nr_tablets && k < n; i++)
		if (m->tablets[i].table_id == table_id)
			v[k++] = m->tablets[i];
	tmap_drop_table(m, table_id);
	m->version = ver;
	*out = v;
	return 0;
}

void coord_do_table_create(struct coordinator *c, struct conn *cn,
			   const struct coord_hdr *h, const uint8_t *body)
{
	const struct tablet_map *m = &c->st.map;
	struct coord_table_req t;
	struct op *op;
	uint32_t *nodes = NULL;
	size_t n = 0, i;
	int err;

	if (coord_table_decode(body, h->body_len, &t)) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"malformed TABLE_CREATE body");
		return;
	}
	if (t.nr_nodes > MAX_TABLE_NODES) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"at most %u nodes per table", MAX_TABLE_NODES);
		goto out;
	}
	if (tmap_find(m, t.table_id, 0)) {
		coord_reply_err(cn, h->opcode, h->request_id, EEXIST,
				"table %llu exists", (unsigned long long)t.table_id);
		goto out;
	}
	if (coord_table_has_op(c, t.table_id)) {
		coord_reply_err(cn, h->opcode, h->request_id, EBUSY,
				"table %llu is being created or dropped",
				(unsigned long long)t.table_id);
		goto out;
	}
	if (t.nr_nodes) {
		nodes = t.nodes;
		t.nodes = NULL;
		n = t.nr_nodes;
	} else {
		/* Every registered node whose daemon is connected, by id. */
		nodes = calloc(m->nr_nodes + 1, sizeof(*nodes));
		if (!nodes) {
			coord_reply_err(cn, h->opcode, h->request_id, ENOMEM,
					"out of memory");
			goto out;
		}
		for (i = 0; i < m->nr_nodes; i++)
			if (coord_node_conn(c, m->nodes[i].id))
				nodes[n++] = m->nodes[i].id;
		if (!n) {
			coord_reply_err(cn, h->opcode, h->request_id, ENOENT,
					"no node daemon is registered");
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (!tmap_find_node(m, nodes[i])) {
			coord_reply_err(cn, h->opcode, h->request_id, ENOENT,
					"node %u is not registered", nodes[i]);
			goto out;
		}
		if (!coord_node_conn(c, nodes[i])) {
			coord_reply_err(cn, h->opcode, h->request_id, EHOSTUNREACH,
					"node %u: daemon not connected", nodes[i]);
			goto out;
		}
	}
	op = coord_op_new(c, cn, h, OP_CREATE);
	if (!op) {
		coord_reply_err(cn, h->opcode, h->request_id, ENOMEM, "out of memory");
		goto out;
	}
	op->table_id = t.table_id;
	op->owners = nodes;
	nodes = NULL;
	op->nr = n;
	op->acked = calloc(n, sizeof(*op->acked));
	err = op->acked ? plan_table(c, t.table_id, op->owners, n,
				     &op->tablets) : -ENOMEM;
	if (err)
		coord_op_fail(op, err, "create table %llu: %s",
			      (unsigned long long)t.table_id, strerror(-err));
	for (i = 0; !op->err && i < n; i++) {
		const struct tmap_tablet *tt = &op->tablets[i];
		struct coord_tablet_info ti = {
			.table_id = tt->table_id, .start_hash = tt->start,
			.end_hash = tt->end, .owner = tt->owner,
		};
		struct coord_buf b;

		coord_buf_init(&b);
		err = coord_tablet_encode(&b, &ti);
		if (!err)
			err = coord_send_cmd(c, tt->owner,
					     SKV_COORD_OP_NODE_TABLET_ADD, &b, op, i);
		coord_buf_free(&b);
		if (err)
			coord_op_fail(op, err, "node %u: %s", tt->owner,
				      strerror(-err));
	}
	coord_op_start_done(c, op);
out:
	free(t.nodes);
	free(nodes);
}

static bool table_migrating(const struct coordinator *c, uint64_t table_id,
			    uint64_t *id)
{
	size_t i;

	for (i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *g = &c->st.migs[i];

		if (g->table_id == table_id &&
		    !skv_mig_state_final(g->state)) {
			*id = g->id;
			return true;
		}
	}
	return false;
}

void coord_do_table_drop(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body)
{
	struct coord_table_req t;
	struct coord_buf b;
	struct op *op;
	uint64_t busy_id;
	char msg[300];
	int err;

	if (coord_table_decode(body, h->body_len, &t) || t.nr_nodes) {
		free(t.nodes);
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"malformed TABLE_DROP body");
		return;
	}
	if (!tmap_find(&c->st.map, t.table_id, 0)) {
		coord_reply_err(cn, h->opcode, h->request_id, ENOENT,
				"no table %llu", (unsigned long long)t.table_id);
		return;
	}
	if (coord_table_has_op(c, t.table_id)) {
		coord_reply_err(cn, h->opcode, h->request_id, EBUSY,
				"table %llu is being created or dropped",
				(unsigned long long)t.table_id);
		return;
	}
	if (table_migrating(c, t.table_id, &busy_id)) {
		coord_reply_err(cn, h->opcode, h->request_id, EBUSY,
				"migration %llu of table %llu is in progress",
				(unsigned long long)busy_id,
				(unsigned long long)t.table_id);
		return;
	}
	err = tmap_drop_table(&c->st.map, t.table_id);
	if (err) {
		coord_reply_err(cn, h->opcode, h->request_id, -err,
				"drop table %llu: %s", (unsigned long long)t.table_id,
				strerror(-err));
		return;
	}
	/* The data is gone with the table: so is any need to rebuild it. */
	coord_lineage_drop(c, 0, t.table_id);
	err = coord_persist(c, msg, sizeof(msg));
	if (err) {
		coord_reply_err(cn, h->opcode, h->request_id, -err, "%s", msg);
		return;
	}
	coord_logmsg(c, false, "table %llu dropped", (unsigned long long)t.table_id);
	op = coord_op_new(c, cn, h, OP_DROP);
	if (!op) {
		coord_reply_err(cn, h->opcode, h->request_id, ENOMEM, "out of memory");
		return;
	}
	op->table_id = t.table_id;
	/* Every live node: former sources may hold leftovers too. */
	coord_buf_init(&b);
	if (!coord_table_encode(&b, t.table_id, NULL, 0))
		for (size_t i = 0; i < c->nr_conns; i++)
			if (!c->conns[i]->dead && c->conns[i]->node_id)
				coord_send_cmd(c, c->conns[i]->node_id,
					       SKV_COORD_OP_NODE_TABLE_DEL, &b, op, 0);
	coord_buf_free(&b);
	coord_op_start_done(c, op);
}
