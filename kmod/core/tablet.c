// SPDX-License-Identifier: GPL-2.0
/* Tables, tablets and the ownership check (tablet.h). */
#include "store_int.h"
#include "tablet.h"

/*
 * A map of ntables tables and ntablets tablets.  Large maps are vmalloc'd
 * (kvzalloc): a copy is made on every change.
 */
static struct skv_tmap *skv_tmap_alloc(u32 ntables, u32 ntablets)
{
	u64 bytes = sizeof(struct skv_tmap) + (u64)ntables * sizeof(u64) +
		    (u64)ntablets * sizeof(struct skv_tablet_info);
	struct skv_tmap *m;

	m = skv_vzalloc(bytes);
	if (!m)
		return NULL;
	m->bytes = bytes;
	m->ntables = ntables;
	m->ntablets = ntablets;
	m->tables = (u64 *)(m + 1);
	m->tablets = (struct skv_tablet_info *)(m->tables + ntables);
	return m;
}

int skv_tmap_init(struct skv_store *s)
{
	struct skv_tmap *m = skv_tmap_alloc(0, 0);

	if (!m)
		return -ENOMEM;
	RCU_INIT_POINTER(s->tmap, m);
	skv_atomic64_set(&s->mem_tablets, m->bytes);
	skv_mutex_init(&s->ctl_lock);
	return 0;
}

void skv_tmap_destroy(struct skv_store *s)
{
	skv_vfree(rcu_access_pointer(s->tmap));
	RCU_INIT_POINTER(s->tmap, NULL);
	skv_mutex_destroy(&s->ctl_lock);
}

static struct skv_tmap *skv_tmap_cur(struct skv_store *s)
{
	/* Only under ctl_lock. */
	return rcu_dereference_protected(s->tmap, 1);
}

static int skv_tmap_exact(const struct skv_tmap *m, u64 table_id, u64 start,
			  u64 end);

/*
 * Publish m, wait out readers of the old map, free it.  Under ctl_lock.
 * A tablet keeping its range keeps its request count: m's counts start
 * at 0 and get the old map's once no request can still count there.
 * The wait is expedited: map changes are rare (a migration makes a
 * handful), and a migration's ownership moves on them, so they should
 * take microseconds, not the jiffies a normal grace period does.
 */
static void skv_tmap_publish(struct skv_store *s, struct skv_tmap *m)
{
	struct skv_tmap *old = skv_tmap_cur(s);
	const struct skv_tablet_info *t;
	u32 i;
	int j;

	for (i = 0; i < m->ntablets; i++)
		skv_atomic64_set(&m->tablets[i].requests, 0);
	rcu_assign_pointer(s->tmap, m);
	skv_atomic64_set(&s->mem_tablets, m->bytes);
	skv_synchronize_rcu_expedited();
	for (i = 0; i < old->ntablets; i++) {
		t = &old->tablets[i];
		j = skv_tmap_exact(m, t->table_id, t->start_hash, t->end_hash);
		if (j >= 0)
			skv_atomic64_add(skv_atomic64_read(&t->requests),
					 &m->tablets[j].requests);
	}
	skv_vfree(old);
}

/* One more tablet would pass the store's cap: -ENOSPC.  Under ctl_lock. */
static int skv_tmap_room(struct skv_store *s, const struct skv_tmap *m)
{
	return m->ntablets >= s->max_tablets ? -ENOSPC : 0;
}

/* Index of the first table >= id. */
static u32 skv_tmap_table_pos(const struct skv_tmap *m, u64 id)
{
	u32 lo = 0, hi = m->ntables;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (m->tables[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool skv_tablet_before(const struct skv_tablet_info *t, u64 table_id,
			      u64 hash)
{
	return t->table_id < table_id ||
	       (t->table_id == table_id && t->start_hash <= hash);
}

/* Index of the last tablet with (table, start) <= (table_id, hash), or -1. */
static int skv_tmap_tablet_pos(const struct skv_tmap *m, u64 table_id,
			       u64 hash)
{
	u32 lo = 0, hi = m->ntablets;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (skv_tablet_before(&m->tablets[mid], table_id, hash))
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int)lo - 1;
}

static const struct skv_tablet_info *
skv_tmap_find(const struct skv_tmap *m, u64 table_id, u64 hash, bool *table)
{
	u32 tp = skv_tmap_table_pos(m, table_id);
	const struct skv_tablet_info *t;
	int i;

	*table = tp < m->ntables && m->tables[tp] == table_id;
	if (!*table)
		return NULL;
	i = skv_tmap_tablet_pos(m, table_id, hash);
	if (i < 0)
		return NULL;
	t = &m->tablets[i];
	if (t->table_id != table_id || hash < t->start_hash ||
	    hash > t->end_hash)
		return NULL;
	return t;
}

int skv_tmap_lookup(struct skv_store *s, u64 table_id, u64 hash, u32 *state)
{
	const struct skv_tablet_info *t;
	bool table;

	t = skv_tmap_find(rcu_dereference(s->tmap), table_id, hash, &table);
	if (!table)
		return SKV_S_UNKNOWN_TABLE;
	if (!t)
		return SKV_S_NOT_OWNER;
	*state = t->state;
	return SKV_S_OK;
}

void skv_tablet_count(struct skv_store *s, u64 table_id, u64 hash)
{
	const struct skv_tablet_info *t;
	struct skv_tmap *m;
	bool table;

	skv_rcu_read_lock();
	m = rcu_dereference(s->tmap);
	t = skv_tmap_find(m, table_id, hash, &table);
	if (t)
		skv_atomic64_inc(&m->tablets[t - m->tablets].requests);
	skv_rcu_read_unlock();
}

bool skv_tmap_tombstones_may_go(struct skv_store *s, u64 table_id, u64 hash)
{
	const struct skv_tablet_info *t;
	bool table;

	t = skv_tmap_find(rcu_dereference(s->tmap), table_id, hash, &table);
	return t && t->state == SKV_TABLET_NORMAL && !t->copied_out;
}

int skv_tablet_lookup(struct skv_store *s, u64 table_id, u64 hash,
		      struct skv_tablet_info *out)
{
	const struct skv_tablet_info *t;
	bool table;
	int ret = 0;

	skv_rcu_read_lock();
	t = skv_tmap_find(rcu_dereference(s->tmap), table_id, hash, &table);
	if (!table)
		ret = -ENOENT;
	else if (!t)
		ret = -ERANGE;
	else
		*out = *t;
	skv_rcu_read_unlock();
	return ret;
}

/*
 * Drop the data of table_id in [start, end]: every live record there
 * leaves the live set and its entry becomes a ghost that the cleaner frees
 * once no copy of the key is left in the log.  Called after the tablet
 * left the map and a grace period passed, so no write to it is in flight.
 */
static void skv_drop_range(struct skv_store *s, u64 table_id, u64 start,
			   u64 end)
{
	skv_index_unlive_range(s, table_id, start, end);
}

int skv_table_add(struct skv_store *s, u64 table_id)
{
	struct skv_tmap *old, *m;
	u32 pos;

	skv_mutex_lock(&s->ctl_lock);
	old = skv_tmap_cur(s);
	pos = skv_tmap_table_pos(old, table_id);
	if (pos < old->ntables && old->tables[pos] == table_id) {
		skv_mutex_unlock(&s->ctl_lock);
		return -EEXIST;
	}
	m = skv_tmap_alloc(old->ntables + 1, old->ntablets);
	if (!m) {
		skv_mutex_unlock(&s->ctl_lock);
		return -ENOMEM;
	}
	memcpy(m->tables, old->tables, pos * sizeof(u64));
	m->tables[pos] = table_id;
	memcpy(m->tables + pos + 1, old->tables + pos,
	       (old->ntables - pos) * sizeof(u64));
	memcpy(m->tablets, old->tablets, old->ntablets * sizeof(*m->tablets));
	skv_tmap_publish(s, m);
	skv_mutex_unlock(&s->ctl_lock);
	return 0;
}

int skv_table_del(struct skv_store *s, u64 table_id)
{
	return skv_table_del_hooked(s, table_id, NULL);
}

int skv_table_del_hooked(struct skv_store *s, u64 table_id,
			 struct skv_drop_hook *hook)
{
	struct skv_tablet_info *gone = NULL;
	struct skv_tmap *old, *m;
	u32 pos, i, j, n = 0;
	int err;

	skv_mutex_lock(&s->ctl_lock);
	old = skv_tmap_cur(s);
	pos = skv_tmap_table_pos(old, table_id);
	if (pos >= old->ntables || old->tables[pos] != table_id) {
		skv_mutex_unlock(&s->ctl_lock);
		return -ENOENT;
	}
	for (i = 0; i < old->ntablets; i++)
		n += old->tablets[i].table_id == table_id;
	if (n) {
		gone = skv_valloc(n * sizeof(*gone));
		if (!gone) {
			skv_mutex_unlock(&s->ctl_lock);
			return -ENOMEM;
		}
	}
	m = skv_tmap_alloc(old->ntables - 1, old->ntablets - n);
	if (!m) {
		skv_vfree(gone);
		skv_mutex_unlock(&s->ctl_lock);
		return -ENOMEM;
	}
	memcpy(m->tables, old->tables, pos * sizeof(u64));
	memcpy(m->tables + pos, old->tables + pos + 1,
	       (old->ntables - pos - 1) * sizeof(u64));
	for (i = 0, j = 0, n = 0; i < old->ntablets; i++) {
		if (old->tablets[i].table_id == table_id)
			gone[n++] = old->tablets[i];
		else
			m->tablets[j++] = old->tablets[i];
	}
	err = hook ? hook->before(hook, table_id, 0, U64_MAX) : 0;
	if (err) {
		skv_vfree(m);
		skv_vfree(gone);
		skv_mutex_unlock(&s->ctl_lock);
		return err;
	}
	skv_tmap_publish(s, m);
	for (i = 0; i < n; i++)
		skv_drop_range(s, table_id, gone[i].start_hash,
			       gone[i].end_hash);
	skv_mutex_unlock(&s->ctl_lock);
	skv_vfree(gone);
	return 0;
}

int skv_tablet_add(struct skv_store *s, const struct skv_tablet_info *t)
{
	struct skv_tmap *old, *m;
	u32 tp;
	int i, err;

	if (t->start_hash > t->end_hash || t->state > SKV_TABLET_RECOVERING)
		return -EINVAL;
	skv_mutex_lock(&s->ctl_lock);
	old = skv_tmap_cur(s);
	tp = skv_tmap_table_pos(old, t->table_id);
	if (tp >= old->ntables || old->tables[tp] != t->table_id) {
		skv_mutex_unlock(&s->ctl_lock);
		return -ENOENT;
	}
	/* Neighbours in (table, start) order must not overlap. */
	i = skv_tmap_tablet_pos(old, t->table_id, t->start_hash);
	if ((i >= 0 && old->tablets[i].table_id == t->table_id &&
	     old->tablets[i].end_hash >= t->start_hash) ||
	    ((u32)(i + 1) < old->ntablets &&
	     old->tablets[i + 1].table_id == t->table_id &&
	     old->tablets[i + 1].start_hash <= t->end_hash)) {
		skv_mutex_unlock(&s->ctl_lock);
		return -EEXIST;
	}
	err = skv_tmap_room(s, old);
	m = err ? NULL : skv_tmap_alloc(old->ntables, old->ntablets + 1);
	if (!m) {
		skv_mutex_unlock(&s->ctl_lock);
		return err ?: -ENOMEM;
	}
	memcpy(m->tables, old->tables, old->ntables * sizeof(u64));
	memcpy(m->tablets, old->tablets, (i + 1) * sizeof(*m->tablets));
	m->tablets[i + 1] = *t;
	memcpy(m->tablets + i + 2, old->tablets + i + 1,
	       (old->ntablets - i - 1) * sizeof(*m->tablets));
	skv_tmap_publish(s, m);
	skv_mutex_unlock(&s->ctl_lock);
	return 0;
}

/* Index of the tablet exactly matching, or -1.  Under ctl_lock. */
static int skv_tmap_exact(const struct skv_tmap *m, u64 table_id, u64 start,
			  u64 end)
{
	int i = skv_tmap_tablet_pos(m, table_id, start);

	if (i < 0 || m->tablets[i].table_id != table_id ||
	    m->tablets[i].start_hash != start || m->tablets[i].end_hash != end)
		return -1;
	return i;
}

int skv_tablet_del(struct skv_store *s, u64 table_id, u64 start_hash,
		   u64 end_hash)
{
	return skv_tablet_del_hooked(s, table_id, start_hash, end_hash, NULL);
}

int skv_tablet_del_hooked(struct skv_store *s, u64 table_id, u64 start_hash,
			  u64 end_hash, struct skv_drop_hook *hook)
{
	struct skv_tmap *old, *m;
	int i, err;

	skv_mutex_lock(&s->ctl_lock);
	old = skv_tmap_cur(s);
	i = skv_tmap_exact(old, table_id, start_hash, end_hash);
	if (i < 0) {
		skv_mutex_unlock(&s->ctl_lock);
		return -ENOENT;
	}
	m = skv_tmap_alloc(old->ntables, old->ntablets - 1);
	if (!m) {
		skv_mutex_unlock(&s->ctl_lock);
		return -ENOMEM;
	}
	memcpy(m->tables, old->tables, old->ntables * sizeof(u64));
	memcpy(m->tablets, old->tablets, i * sizeof(*m->tablets));
	memcpy(m->tablets + i, old->tablets + i + 1,
	       (old->ntablets - i - 1) * sizeof(*m->tablets));
	err = hook ? hook->before(hook, table_id, start_hash, end_hash) : 0;
	if (err) {
		skv_vfree(m);
		skv_mutex_unlock(&s->ctl_lock);
		return err;
	}
	skv_tmap_publish(s, m);
	skv_drop_range(s, table_id, start_hash, end_hash);
	skv_mutex_unlock(&s->ctl_lock);
	return 0;
}

/* Change tablet (exact range) as t says; t->state U32_MAX: it stays. */
static int skv_tablet_change(struct skv_store *s, u64 table_id, u64 start_hash,
			     u64 end_hash, const struct skv_tablet_info *t)
{
	struct skv_tmap *old, *m;
	int i;

	skv_mutex_lock(&s->ctl_lock);
	old = skv_tmap_cur(s);
	i = skv_tmap_exact(old, table_id, start_hash, end_hash);
	if (i < 0) {
		skv_mutex_unlock(&s->ctl_lock);
		return -ENOENT;
	}
	m = skv_tmap_alloc(old->ntables, old->ntablets);
	if (!m) {
		skv_mutex_unlock(&s->ctl_lock);
		return -ENOMEM;
	}
	memcpy(m->tables, old->tables, old->ntables * sizeof(u64));
	memcpy(m->tablets, old->tablets, old->ntablets * sizeof(*m->tablets));
	if (t->state != U32_MAX)
		m->tablets[i].state = t->state;
	m->tablets[i].copied_out = t->copied_out;
	skv_tmap_publish(s, m);
	skv_mutex_unlock(&s->ctl_lock);
	return 0;
}

int skv_tablet_set_state(struct skv_store *s, u64 table_id, u64 start_hash,
			 u64 end_hash, enum skv_tablet_state state)
{
	struct skv_tablet_info t = { .state = state, .copied_out = false };

	if ((u32)state > SKV_TABLET_RECOVERING)
		return -EINVAL;
	/* Out of NORMAL, a tablet is no longer copied out while serving. */
	return skv_tablet_change(s, table_id, start_hash, end_hash, &t);
}

int skv_tablet_set_copied_out(struct skv_store *s, u64 table_id,
			      u64 start_hash, u64 end_hash, bool on)
{
	struct skv_tablet_info t = { .state = U32_MAX, .copied_out = on };

	return skv_tablet_change(s, table_id, start_hash, end_hash, &t);
}

int skv_tablet_split(struct skv_store *s, u64 table_id, u64 at)
{
	struct skv_tmap *old, *m;
	const struct skv_tablet_info *t;
	bool table;
	int err;
	u32 i;

	skv_mutex_lock(&s->ctl_lock);
	old = skv_tmap_cur(s);
	t = skv_tmap_find(old, table_id, at, &table);
	if (!table || !t || t->start_hash == at) {
		skv_mutex_unlock(&s->ctl_lock);
		return !table ? -ENOENT : !t ? -ERANGE : -EINVAL;
	}
	i = t - old->tablets;
	err = skv_tmap_room(s, old);
	m = err ? NULL : skv_tmap_alloc(old->ntables, old->ntablets + 1);
	if (!m) {
		skv_mutex_unlock(&s->ctl_lock);
		return err ?: -ENOMEM;
	}
	memcpy(m->tables, old->tables, old->ntables * sizeof(u64));
	memcpy(m->tablets, old->tablets, (i + 1) * sizeof(*m->tablets));
	m->tablets[i].end_hash = at - 1;
	m->tablets[i + 1] = old->tablets[i];
	m->tablets[i + 1].start_hash = at;
	memcpy(m->tablets + i + 2, old->tablets + i + 1,
	       (old->ntablets - i - 1) * sizeof(*m->tablets));
	/* Same owner, same state, same data: only the map changes. */
	skv_tmap_publish(s, m);
	skv_mutex_unlock(&s->ctl_lock);
	return 0;
}

int skv_tables_list(struct skv_store *s, u32 pos, u64 *out, u32 max)
{
	const struct skv_tmap *m;
	u32 n = 0;

	skv_rcu_read_lock();
	m = rcu_dereference(s->tmap);
	while (pos + n < m->ntables && n < max) {
		out[n] = m->tables[pos + n];
		n++;
	}
	skv_rcu_read_unlock();
	return n;
}

int skv_tablets_list(struct skv_store *s, u32 pos, struct skv_tablet_info *out,
		     u32 max)
{
	const struct skv_tmap *m;
	u32 n = 0;

	skv_rcu_read_lock();
	m = rcu_dereference(s->tmap);
	while (pos + n < m->ntablets && n < max) {
		out[n] = m->tablets[pos + n];
		skv_atomic64_set(&out[n].requests,
				 skv_atomic64_read(&m->tablets[pos + n].requests));
		n++;
	}
	skv_rcu_read_unlock();
	return n;
}
