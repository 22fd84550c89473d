// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Coordinator cluster map.  Plain sorted arrays: a cluster has tens of
 * nodes and at most thousands of tablets, and the map changes rarely, so
 * memmove on insert is cheaper to get right than a tree.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tablet_map.h"

void tmap_init(struct tablet_map *m)
{
	memset(m, 0, sizeof(*m));
}

void tmap_free(struct tablet_map *m)
{
	free(m->nodes);
	free(m->tables);
	free(m->tablets);
	tmap_init(m);
}

/* Make room for @need elements; no change to *arr on failure. */
static int grow(void **arr, size_t *cap, size_t need, size_t elsz)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elsz)
			return -ENOMEM;
		ncap *= 2;
	}
	p = realloc(*arr, ncap * elsz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int tmap_valid_name(const char *name)
{
	size_t i;

	if (!name || !name[0])
		return 0;
	for (i = 0; name[i]; i++)
		if (i >= TMAP_NAME_MAX || !is_name_char(name[i]))
			return 0;
	return 1;
}

/* host:port; host may be a bracketed IPv6 literal, so split at the last ':'. */
int tmap_valid_addr(const char *addr)
{
	const char *colon, *p;
	unsigned long port = 0;
	size_t len;

	if (!addr)
		return 0;
	len = strnlen(addr, TMAP_ADDR_MAX + 1);
	if (len > TMAP_ADDR_MAX)
		return 0;
	colon = strrchr(addr, ':');
	if (!colon || colon == addr)
		return 0;
	for (p = addr; p < colon; p++)
		if (!is_name_char(*p) && *p != ':' && *p != '[' && *p != ']')
			return 0;
	p = colon + 1;
	if (*p < '1' || *p > '9')	/* non-empty, no leading zero */
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		port = port * 10 + (unsigned long)(*p - '0');
		if (port > 65535)
			return 0;
	}
	return 1;
}

static long node_idx(const struct tablet_map *m, uint32_t id)
{
	size_t lo = 0, hi = m->nr_nodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->nodes[mid].id == id)
			return (long)mid;
		if (m->nodes[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1 - (long)lo;	/* insertion point encoded */
}

static long table_idx(const struct tablet_map *m, uint64_t id)
{
	size_t lo = 0, hi = m->nr_tables;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->tables[mid] == id)
			return (long)mid;
		if (m->tables[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1 - (long)lo;
}

static int key_le(const struct tmap_tablet *t, uint64_t table_id, uint64_t h)
{
	return t->table_id < table_id ||
	       (t->table_id == table_id && t->start <= h);
}

/* Number of tablets whose (table, start) <= (table_id, h). */
static size_t upper_bound(const struct tablet_map *m, uint64_t table_id,
			  uint64_t h)
{
	size_t lo = 0, hi = m->nr_tablets;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_le(&m->tablets[mid], table_id, h))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static long tablet_idx(const struct tablet_map *m, uint64_t table_id,
		       uint64_t hash)
{
	size_t i = upper_bound(m, table_id, hash);
	const struct tmap_tablet *t;

	if (i == 0)
		return -1;
	t = &m->tablets[i - 1];
	if (t->table_id != table_id || hash > t->end)
		return -1;
	return (long)(i - 1);
}

/* Tablet that starts exactly at @start. */
static struct tmap_tablet *tablet_at(struct tablet_map *m, uint64_t table_id,
				     uint64_t start)
{
	long i = tablet_idx(m, table_id, start);

	if (i < 0 || m->tablets[i].start != start)
		return NULL;
	return &m->tablets[i];
}

int tmap_load_node(struct tablet_map *m, const struct tmap_node *n)
{
	long i = node_idx(m, n->id);
	size_t pos;
	int err;

	if (i >= 0)
		return -EEXIST;
	err = grow((void **)&m->nodes, &m->cap_nodes, m->nr_nodes + 1,
		   sizeof(*m->nodes));
	if (err)
		return err;
	pos = (size_t)(-1 - i);
	memmove(&m->nodes[pos + 1], &m->nodes[pos],
		(m->nr_nodes - pos) * sizeof(*m->nodes));
	m->nodes[pos] = *n;
	m->nr_nodes++;
	return 0;
}

int tmap_load_table(struct tablet_map *m, uint64_t table_id)
{
	long i = table_idx(m, table_id);
	size_t pos;
	int err;

	if (i >= 0)
		return -EEXIST;
	err = grow((void **)&m->tables, &m->cap_tables, m->nr_tables + 1,
		   sizeof(*m->tables));
	if (err)
		return err;
	pos = (size_t)(-1 - i);
	memmove(&m->tables[pos + 1], &m->tables[pos],
		(m->nr_tables - pos) * sizeof(*m->tables));
	m->tables[pos] = table_id;
	m->nr_tables++;
	return 0;
}

int tmap_load_tablet(struct tablet_map *m, const struct tmap_tablet *t)
{
	size_t pos = upper_bound(m, t->table_id, t->start);
	int err;

	if (pos > 0 && m->tablets[pos - 1].table_id == t->table_id &&
	    m->tablets[pos - 1].start == t->start)
		return -EEXIST;
	err = grow((void **)&m->tablets, &m->cap_tablets, m->nr_tablets + 1,
		   sizeof(*m->tablets));
	if (err)
		return err;
	memmove(&m->tablets[pos + 1], &m->tablets[pos],
		(m->nr_tablets - pos) * sizeof(*m->tablets));
	m->tablets[pos] = *t;
	m->nr_tablets++;
	return 0;
}

int tmap_add_node(struct tablet_map *m, uint32_t id, const char *name,
		  const char *addr)
{
	struct tmap_node n;
	int err;

	if (!tmap_valid_name(name) || !tmap_valid_addr(addr))
		return -EINVAL;
	memset(&n, 0, sizeof(n));
	n.id = id;
	strcpy(n.name, name);	/* lengths checked above */
	strcpy(n.addr, addr);
	err = tmap_load_node(m, &n);
	if (!err)
		m->version++;
	return err;
}

static int node_in_use(const struct tablet_map *m, uint32_t id)
{
	size_t i;

	for (i = 0; i < m->nr_tablets; i++) {
		const struct tmap_tablet *t = &m->tablets[i];

		if (t->owner == id)
			return 1;
		if (t->state == TMAP_MIGRATING && (t->src == id || t->dst == id))
			return 1;
	}
	return 0;
}

int tmap_remove_node(struct tablet_map *m, uint32_t id)
{
	long i = node_idx(m, id);

	if (i < 0)
		return -ENOENT;
	if (node_in_use(m, id))
		return -EBUSY;
	memmove(&m->nodes[i], &m->nodes[i + 1],
		(m->nr_nodes - (size_t)i - 1) * sizeof(*m->nodes));
	m->nr_nodes--;
	m->version++;
	return 0;
}

const struct tmap_node *tmap_find_node(const struct tablet_map *m, uint32_t id)
{
	long i = node_idx(m, id);

	return i < 0 ? NULL : &m->nodes[i];
}

/* First hash of part @i of @n equal parts of the 2^64 hash space. */
static uint64_t part_start(size_t i, size_t n)
{
	return (uint64_t)(((unsigned __int128)i << 64) / n);
}

int tmap_set_node_addr(struct tablet_map *m, uint32_t id, const char *addr)
{
	long i = node_idx(m, id);

	if (!tmap_valid_addr(addr))
		return -EINVAL;
	if (i < 0)
		return -ENOENT;
	if (!strcmp(m->nodes[i].addr, addr))
		return 0;
	strcpy(m->nodes[i].addr, addr);	/* length checked above */
	m->version++;
	return 0;
}

int tmap_set_node_incarnation(struct tablet_map *m, uint32_t id,
			      uint64_t incarnation)
{
	long i = node_idx(m, id);

	if (i < 0)
		return -ENOENT;
	if (m->nodes[i].incarnation == incarnation)
		return 0;
	m->nodes[i].incarnation = incarnation;
	return 1;
}

int tmap_create_table(struct tablet_map *m, uint64_t table_id,
		      const uint32_t *nodes, size_t n)
{
	size_t i;
	int err;

	if (!nodes || n == 0 || n > SIZE_MAX / sizeof(struct tmap_tablet))
		return -EINVAL;
	if (table_idx(m, table_id) >= 0)
		return -EEXIST;
	for (i = 0; i < n; i++)
		if (node_idx(m, nodes[i]) < 0)
			return -ENOENT;
	/* Reserve everything first so that a failure leaves no half table. */
	err = grow((void **)&m->tables, &m->cap_tables, m->nr_tables + 1,
		   sizeof(*m->tables));
	if (!err)
		err = grow((void **)&m->tablets, &m->cap_tablets,
			   m->nr_tablets + n, sizeof(*m->tablets));
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct tmap_tablet t = {
			.table_id = table_id,
			.start = part_start(i, n),
			.end = i + 1 < n ? part_start(i + 1, n) - 1 : UINT64_MAX,
			.owner = nodes[i],
			.state = TMAP_NORMAL,
		};

		err = tmap_load_tablet(m, &t);
		if (err)	/* only an orphan tablet could do this */
			return err;
	}
	err = tmap_load_table(m, table_id);
	if (err)
		return err;
	m->version++;
	return 0;
}

int tmap_drop_table(struct tablet_map *m, uint64_t table_id)
{
	long ti = table_idx(m, table_id);
	size_t first, last, i;

	if (ti < 0)
		return -ENOENT;
	first = upper_bound(m, table_id, 0);
	if (first > 0 && m->tablets[first - 1].table_id == table_id)
		first--;	/* the tablet starting at 0 */
	for (last = first; last < m->nr_tablets &&
	     m->tablets[last].table_id == table_id; last++)
		;
	for (i = first; i < last; i++)
		if (m->tablets[i].state != TMAP_NORMAL)
			return -EBUSY;
	memmove(&m->tablets[first], &m->tablets[last],
		(m->nr_tablets - last) * sizeof(*m->tablets));
	m->nr_tablets -= last - first;
	memmove(&m->tables[ti], &m->tables[ti + 1],
		(m->nr_tables - (size_t)ti - 1) * sizeof(*m->tables));
	m->nr_tables--;
	m->version++;
	return 0;
}

const struct tmap_tablet *tmap_find(const struct tablet_map *m,
				    uint64_t table_id, uint64_t hash)
{
	long i = tablet_idx(m, table_id, hash);

	return i < 0 ? NULL : &m->tablets[i];
}

int tmap_find_owner(const struct tablet_map *m, uint64_t table_id,
		    uint64_t hash, uint32_t *owner)
{
	const struct tmap_tablet *t = tmap_find(m, table_id, hash);

	if (!t)
		return -ENOENT;
	*owner = t->owner;
	return 0;
}

int tmap_split(struct tablet_map *m, uint64_t table_id, uint64_t at)
{
	long i = tablet_idx(m, table_id, at);
	struct tmap_tablet nt;
	int err;

	if (i < 0)
		return -ENOENT;
	if (m->tablets[i].start == at)
		return -EINVAL;
	/* A migration moves a fixed range; splitting under it loses track. */
	if (m->tablets[i].state != TMAP_NORMAL)
		return -EBUSY;
	err = grow((void **)&m->tablets, &m->cap_tablets, m->nr_tablets + 1,
		   sizeof(*m->tablets));
	if (err)
		return err;
	nt = m->tablets[i];
	nt.start = at;
	m->tablets[i].end = at - 1;
	memmove(&m->tablets[i + 2], &m->tablets[i + 1],
		(m->nr_tablets - (size_t)i - 1) * sizeof(*m->tablets));
	m->tablets[i + 1] = nt;
	m->nr_tablets++;
	m->version++;
	return 0;
}

int tmap_set_owner(struct tablet_map *m, uint64_t table_id, uint64_t start,
		   uint32_t owner)
{
	struct tmap_tablet *t = tablet_at(m, table_id, start);

	if (!t || node_idx(m, owner) < 0)
		return -ENOENT;
	if (t->owner == owner && t->state == TMAP_NORMAL)
		return 0;	/* no change, no new version */
	t->owner = owner;
	t->state = TMAP_NORMAL;
	t->src = t->dst = 0;
	m->version++;
	return 0;
}

int tmap_start_migration(struct tablet_map *m, uint64_t table_id,
			 uint64_t start, uint32_t dst)
{
	struct tmap_tablet *t = tablet_at(m, table_id, start);

	if (!t || node_idx(m, dst) < 0)
		return -ENOENT;
	if (t->state != TMAP_NORMAL)
		return -EBUSY;
	if (t->owner == dst)
		return -EINVAL;
	t->state = TMAP_MIGRATING;
	t->src = t->owner;
	t->dst = dst;
	t->owner = dst;		/* the target serves from now on */
	m->version++;
	return 0;
}

/* Ends the migration of a tablet: @commit keeps the target, else the source. */
static int end_migration(struct tablet_map *m, uint64_t table_id,
			 uint64_t start, bool commit)
{
	struct tmap_tablet *t = tablet_at(m, table_id, start);

	if (!t)
		return -ENOENT;
	if (t->state != TMAP_MIGRATING)
		return -EINVAL;
	t->owner = commit ? t->dst : t->src;
	t->state = TMAP_NORMAL;
	t->src = t->dst = 0;
	m->version++;
	return 0;
}

int tmap_finish_migration(struct tablet_map *m, uint64_t table_id,
			  uint64_t start)
{
	return end_migration(m, table_id, start, true);
}

int tmap_abort_migration(struct tablet_map *m, uint64_t table_id,
			 uint64_t start)
{
	return end_migration(m, table_id, start, false);
}

#define CHECK(cond, msg) do {		\
	if (!(cond)) {			\
		if (why)		\
			*why = (msg);	\
		return -EINVAL;		\
	}				\
} while (0)

int tmap_check(const struct tablet_map *m, const char **why)
{
	size_t i, runs = 0;

	for (i = 0; i < m->nr_nodes; i++) {
		const struct tmap_node *n = &m->nodes[i];

		CHECK(i == 0 || m->nodes[i - 1].id < n->id,
		      "node ids not unique and sorted");
		CHECK(memchr(n->name, 0, sizeof(n->name)) &&
		      tmap_valid_name(n->name), "bad node name");
		CHECK(memchr(n->addr, 0, sizeof(n->addr)) &&
		      tmap_valid_addr(n->addr), "bad node address");
	}
	for (i = 1; i < m->nr_tables; i++)
		CHECK(m->tables[i - 1] < m->tables[i],
		      "table ids not unique and sorted");
	for (i = 0; i < m->nr_tablets; i++) {
		const struct tmap_tablet *t = &m->tablets[i];
		const struct tmap_tablet *p = i ? &m->tablets[i - 1] : NULL;

		CHECK(table_idx(m, t->table_id) >= 0, "tablet of unknown table");
		if (!p || p->table_id != t->table_id) {
			CHECK(!p || p->table_id < t->table_id,
			      "tablets not sorted by table");
			CHECK(!p || p->end == UINT64_MAX,
			      "table does not reach UINT64_MAX");
			CHECK(t->start == 0, "table does not start at 0");
			runs++;
		} else {
			CHECK(p->end != UINT64_MAX && t->start == p->end + 1,
			      "tablets overlap or leave a gap");
		}
		CHECK(t->start <= t->end, "tablet ends before it starts");
		CHECK(node_idx(m, t->owner) >= 0, "tablet owner unknown");
		if (t->state == TMAP_MIGRATING) {
			CHECK(t->dst == t->owner, "migration target is not owner");
			CHECK(node_idx(m, t->src) >= 0 && t->dst != t->src,
			      "bad migration source");
		} else {
			CHECK(t->state == TMAP_NORMAL, "bad tablet state");
			CHECK(t->src == 0 && t->dst == 0,
			      "migration nodes on a normal tablet");
		}
	}
	CHECK(!m->nr_tablets ||
	      m->tablets[m->nr_tablets - 1].end == UINT64_MAX,
	      "table does not reach UINT64_MAX");
	CHECK(runs == m->nr_tables, "table without tablets");
	return 0;
}
