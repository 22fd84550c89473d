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

#include "tablet_map.h"

struct coord_store;

struct coord_store_ops {
	/*
	 * @out must be initialised (tmap_init); on success its old contents
	 * are freed and replaced, on failure it is left untouched.
	 */
	int (*load)(struct coord_store *s, struct tablet_map *out);
	/* All or nothing: after a failure the previous state still loads. */
	int (*save)(struct coord_store *s, const struct tablet_map *m);
	void (*close)(struct coord_store *s);
};

struct coord_store {
	const struct coord_store_ops *ops;
	char err[256];		/* reason for the last failure, "" if none */
};

static inline int coord_store_load(struct coord_store *s,
				   struct tablet_map *out)
{
	return s->ops->load(s, out);
}

static inline int coord_store_save(struct coord_store *s,
				   const struct tablet_map *m)
{
	return s->ops->save(s, m);
}

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
 * Default backend: a text file, "steadykv-map 1" then one record per line
 * (see state_store.c).  Saved by write to path.tmp, fsync, rename over
 * @path, fsync of the directory.  A missing file loads as an empty map
 * with version 0.
 */
#define COORD_FILE_MAX_LINE	256

int coord_store_open_file(const char *path, struct coord_store **out);

#endif /* SKV_COORD_STATE_STORE_H */
