/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Durable coordinator state behind a small ops table, so that an etcd (or
 * other) backend can be added without touching callers: they only use
 * coord_store_load/save/close/error on a struct coord_store they got from
 * some coord_store_open_*().
 *
 * A backend embeds struct coord_store first in its own state and fills
 * err[] with a one-line reason when an op fails.
 *
 * Errors (negative errno):
 *   -EBADMSG  stored state is malformed, truncated or fails tmap_check()
 *   -EINVAL   save of a map that fails tmap_check()
 *   -ENOMEM, or the errno of a failed system call
 */
#ifndef SKV_COORD_STATE_STORE_H
#define SKV_COORD_STATE_STORE_H

#include "coord_proto.h"
#include "tablet_map.h"

#define COORD_KEEP_MIGRATIONS	64	/* newest migration records kept */
#define COORD_MAX_LINEAGE	4096	/* lineage records a state may hold */
#define COORD_MAX_LOST		4096	/* lost-tablet records a state may hold */

/*
 * A lineage dependency, recorded when ownership of a range moves to the
 * target before its data did (Rocksteady): until the target's side logs
 * are re-replicated, rebuilding the range needs the source's log up to
 * safe_version plus the target's log from the ownership transfer on.
 * The target re-replicates the range before it sends END (kmod
 * mig_target.c), so the coordinator drops the record when the migration
 * completes; it keeps it when a failed migration leaves the range
 * needing recovery (a failed re-replication among them).
 */
struct coord_lineage {
	uint64_t mig_id;
	uint64_t table_id;
	uint64_t start, end;		/* inclusive hash range */
	uint32_t src, dst;
	uint64_t safe_version;		/* the source's, 0 until reported */
	uint64_t unix_ms;		/* when recorded */
};

/*
 * A tablet whose owner was declared dead while it owned it
 * (coord_liveness.c): lost until recovery rebuilds it, even once the node
 * is back as a new incarnation.  Named by the tablet's range and the
 * dead owner; a record whose tablet no longer has that range and owner is
 * dropped.  Until owner_back is set the owner is still dead, also for a
 * coordinator that restarts (a node's death is known from these records
 * alone); once set, the new incarnation has opened its replicas afresh,
 * so nothing can rebuild the tablet any more.
 */
struct coord_lost {
	uint64_t table_id;
	uint64_t start, end;		/* inclusive hash range */
	uint32_t node;			/* the owner declared dead */
	uint64_t unix_ms;		/* when */
	bool owner_back;		/* the owner registered again since */
};

/*
 * The netlink fields of a migration the coordinator always holds and the
 * state store keeps, besides the tuning that was given and the
 * coordinator's own src, dst and start time.
 */
#define COORD_MIG_STORED_BITS					\
	((1ull << STEADYKV_A_MIGRATION_ID) |			\
	 (1ull << STEADYKV_A_MIGRATION_TABLE_ID) |		\
	 (1ull << STEADYKV_A_MIGRATION_START_HASH) |		\
	 (1ull << STEADYKV_A_MIGRATION_END_HASH) |		\
	 (1ull << STEADYKV_A_MIGRATION_STATE) |			\
	 (1ull << STEADYKV_A_MIGRATION_ERROR) |			\
	 (1ull << STEADYKV_A_MIGRATION_SAFE_VERSION))

/*
 * Everything the coordinator keeps durable: the map, the newest
 * migrations (the file backend stores their identity,
 * state, error, start time, safe version and the tuning that was given,
 * not the counters, source address or message) and the lineage records.
 */
/*
 * Replication (coord_repl.c): the backups each node was last assigned
 * and its epoch (0 once fenced: a dead primary keeps its backups listed,
 * the nodes its tablets are rebuilt from), and a bound on the epochs
 * handed out, so they grow across restarts whatever the clock says.
 */
struct coord_state {
	struct tablet_map map;
	struct coord_repl_info *repl;
	size_t nr_repl;
	uint64_t repl_epoch_bound;	/* every epoch given is below it */
	struct skv_migration *migs;	/* oldest first; distinct random ids */
	size_t nr_migs;
	struct coord_lineage *lineage;
	size_t nr_lineage;
	struct coord_lost *lost;
	size_t nr_lost;
};

void coord_state_init(struct coord_state *st);
/* Frees everything and leaves an empty, reusable state. */
void coord_state_free(struct coord_state *st);

struct coord_store;

struct coord_store_ops {
	/*
	 * @out must be initialised (coord_state_init); on success its old
	 * contents are freed and replaced, on failure it is left untouched.
	 */
	int (*load)(struct coord_store *s, struct coord_state *out);
	/* All or nothing: after a failure the previous state still loads. */
	int (*save)(struct coord_store *s, const struct coord_state *st);
	void (*close)(struct coord_store *s);
};

struct coord_store {
	const struct coord_store_ops *ops;
	char err[256];		/* reason for the last failure, "" if none */
};

static inline int coord_store_load_state(struct coord_store *s,
					 struct coord_state *out)
{
	return s->ops->load(s, out);
}

static inline int coord_store_save_state(struct coord_store *s,
					 const struct coord_state *st)
{
	return s->ops->save(s, st);
}

/*
 * The map alone (tools and tests): load drops the other records, save
 * writes a state without migrations or lineage.
 */
int coord_store_load(struct coord_store *s, struct tablet_map *out);
int coord_store_save(struct coord_store *s, const struct tablet_map *m);

static inline void coord_store_close(struct coord_store *s)
{
	if (s)
		s->ops->close(s);
}

static inline const char *coord_store_error(const struct coord_store *s)
{
	return s->err;
}

/*
 * Default backend: a text file, "steadykv-map 4" then one record per line
 * (see state_store.c; formats 1 to 3 still load).  Saved by write to
 * path.tmp, fsync, rename over @path, fsync of the directory.  A missing
 * file loads as an empty map with version 0.
 */
#define COORD_FILE_MAX_LINE	512

int coord_store_open_file(const char *path, struct coord_store **out);

/*
 * The state's one serialisation (the file's format), for the other
 * backends: they only choose where the bytes go.  Encode refuses what
 * the loader would refuse (-EINVAL) and returns a malloc'ed @buf; decode
 * checks as a file load does (-EBADMSG, @name in the message) and, like
 * load, replaces @out only on success.  Reasons go to @s's err[].
 */
int coord_state_encode(struct coord_store *s, const struct coord_state *st,
		       char **buf, size_t *len);
int coord_state_decode(struct coord_store *s, const char *name,
		       const char *buf, size_t len, struct coord_state *out);

#endif /* SKV_COORD_STATE_STORE_H */
