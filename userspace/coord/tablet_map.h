/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * In-memory cluster map of the coordinator: member nodes, tables and the
 * tablets that split each table's 64-bit key-hash space between nodes.
 * Every successful change bumps the map version so that readers can tell
 * which map they act on.  Not thread safe; the caller serialises.
 *
 * Functions return 0 or a negative errno:
 *   -EINVAL  malformed argument
 *   -EEXIST  id already present
 *   -ENOENT  unknown node, table or tablet
 *   -EBUSY   node still referenced / tablet is migrating
 *   -ENOMEM  allocation failed
 */
#ifndef SKV_COORD_TABLET_MAP_H
#define SKV_COORD_TABLET_MAP_H

#include <stddef.h>
#include <stdint.h>

#define TMAP_NAME_MAX	63	/* [A-Za-z0-9._-], at least one char */
#define TMAP_ADDR_MAX	127	/* "host:port" */

enum tmap_state {
	TMAP_NORMAL = 0,
	/*
	 * Moving from src to dst with ownership already at the target
	 * (Rocksteady): owner == dst serves the tablet now, src still holds
	 * the data not yet pulled.  A push-mode migration never shows here:
	 * its source owns the tablet (TMAP_NORMAL) until it is done.
	 */
	TMAP_MIGRATING = 1,
};

struct tmap_node {
	uint32_t id;
	char name[TMAP_NAME_MAX + 1];
	char addr[TMAP_ADDR_MAX + 1];
	/*
	 * The incarnation of its module's node it last registered with
	 * (coord.h NODE_REGISTER), which its data does not outlive; 0: not
	 * known.  Not part of the clients' map: no version change.
	 */
	uint64_t incarnation;
};

struct tmap_tablet {
	uint64_t table_id;
	uint64_t start;		/* first hash, inclusive */
	uint64_t end;		/* last hash, inclusive */
	uint32_t owner;		/* the node that serves the tablet now */
	enum tmap_state state;
	uint32_t src, dst;	/* only while TMAP_MIGRATING; then owner == dst */
};

struct tablet_map {
	uint64_t version;
	struct tmap_node *nodes;	/* sorted by id */
	size_t nr_nodes, cap_nodes;
	uint64_t *tables;		/* sorted table ids */
	size_t nr_tables, cap_tables;
	struct tmap_tablet *tablets;	/* sorted by (table_id, start) */
	size_t nr_tablets, cap_tablets;
};

void tmap_init(struct tablet_map *m);
void tmap_free(struct tablet_map *m);	/* leaves an empty, reusable map */

int tmap_add_node(struct tablet_map *m, uint32_t id, const char *name,
		  const char *addr);
/* A node's new data address (re-registration).  Bumps the version if changed. */
int tmap_set_node_addr(struct tablet_map *m, uint32_t id, const char *addr);
/* Record the node's incarnation: whether it changed, or -ENOENT. */
int tmap_set_node_incarnation(struct tablet_map *m, uint32_t id,
			      uint64_t incarnation);
/* -EBUSY while the node owns a tablet or takes part in a migration. */
int tmap_remove_node(struct tablet_map *m, uint32_t id);
const struct tmap_node *tmap_find_node(const struct tablet_map *m,
				       uint32_t id);

/* Split 0..UINT64_MAX evenly into @n tablets, tablet i owned by nodes[i]. */
int tmap_create_table(struct tablet_map *m, uint64_t table_id,
		      const uint32_t *nodes, size_t n);
/* -EBUSY if any tablet of the table is migrating. */
int tmap_drop_table(struct tablet_map *m, uint64_t table_id);

/* The tablet holding @hash, or NULL if the table does not exist. */
const struct tmap_tablet *tmap_find(const struct tablet_map *m,
				    uint64_t table_id, uint64_t hash);
int tmap_find_owner(const struct tablet_map *m, uint64_t table_id,
		    uint64_t hash, uint32_t *owner);

/*
 * Split the tablet holding @at into [start, at - 1] and [at, end]; both
 * keep the owner.  -EINVAL if @at already starts a tablet.
 */
int tmap_split(struct tablet_map *m, uint64_t table_id, uint64_t at);

/* Tablets are named by (table, start).  set_owner ends any migration. */
int tmap_set_owner(struct tablet_map *m, uint64_t table_id, uint64_t start,
		   uint32_t owner);
/* Ownership moves to @dst at once: owner = dst, src = the old owner. */
int tmap_start_migration(struct tablet_map *m, uint64_t table_id,
			 uint64_t start, uint32_t dst);
/* owner = dst, state normal. */
int tmap_finish_migration(struct tablet_map *m, uint64_t table_id,
			  uint64_t start);
/* Rolled back: owner = src, state normal.  -EINVAL if not migrating. */
int tmap_abort_migration(struct tablet_map *m, uint64_t table_id,
			 uint64_t start);

/*
 * Invariants: unique node and table ids, valid names and addresses, the
 * tablets of each table are sorted, never overlap and cover 0..UINT64_MAX,
 * owners (and migration src/dst) are known nodes, no orphan tablets.
 * Returns 0 or -EINVAL; @why (may be NULL) gets a static reason.
 */
int tmap_check(const struct tablet_map *m, const char **why);

/*
 * For state backends rebuilding a map: insert without version bump or
 * cross checks.  Run tmap_check() once everything is in.
 */
int tmap_load_node(struct tablet_map *m, const struct tmap_node *n);
int tmap_load_table(struct tablet_map *m, uint64_t table_id);
int tmap_load_tablet(struct tablet_map *m, const struct tmap_tablet *t);

int tmap_valid_name(const char *name);
int tmap_valid_addr(const char *addr);

#endif /* SKV_COORD_TABLET_MAP_H */
