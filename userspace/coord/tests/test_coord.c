// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Tests of the coordinator map and its file state store.  Run under
 * ASan+UBSan (see ../Makefile) so that the corrupt-file cases also prove
 * the loader never reads out of bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tablet_map.h"
#include "state_store.h"

static void add_nodes(struct __test_metadata *_metadata, struct tablet_map *m,
		      int n)
{
	char name[16], addr[32];
	int i;

	for (i = 1; i <= n; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		snprintf(addr, sizeof(addr), "10.0.0.%d:7%03d", i, i);
		ASSERT_EQ(0, tmap_add_node(m, (uint32_t)i, name, addr));
	}
}

/* A map using every record kind, for the store tests. */
static void build_sample(struct __test_metadata *_metadata,
			 struct tablet_map *m)
{
	const uint32_t three[] = { 1, 2, 3 };
	const uint32_t one[] = { 4 };
	const struct tmap_tablet *t;

	tmap_init(m);
	add_nodes(_metadata, m, 4);
	ASSERT_EQ(0, tmap_create_table(m, 7, three, 3));
	ASSERT_EQ(0, tmap_create_table(m, UINT64_MAX, one, 1));
	ASSERT_EQ(0, tmap_split(m, 7, 0x1234));
	ASSERT_EQ(0, tmap_split(m, UINT64_MAX, UINT64_MAX));
	t = tmap_find(m, 7, UINT64_MAX);
	ASSERT_NE(NULL, t);
	ASSERT_EQ(0, tmap_start_migration(m, 7, t->start, 1));
	ASSERT_EQ(0, tmap_check(m, NULL));
}

static void assert_maps_equal(struct __test_metadata *_metadata,
			      const struct tablet_map *a,
			      const struct tablet_map *b)
{
	size_t i;

	ASSERT_EQ(a->version, b->version);
	ASSERT_EQ(a->nr_nodes, b->nr_nodes);
	ASSERT_EQ(a->nr_tables, b->nr_tables);
	ASSERT_EQ(a->nr_tablets, b->nr_tablets);
	for (i = 0; i < a->nr_nodes; i++) {
		ASSERT_EQ(a->nodes[i].id, b->nodes[i].id);
		ASSERT_STREQ(a->nodes[i].name, b->nodes[i].name);
		ASSERT_STREQ(a->nodes[i].addr, b->nodes[i].addr);
		ASSERT_EQ(a->nodes[i].incarnation, b->nodes[i].incarnation);
	}
	for (i = 0; i < a->nr_tables; i++)
		ASSERT_EQ(a->tables[i], b->tables[i]);
	for (i = 0; i < a->nr_tablets; i++) {
		const struct tmap_tablet *x = &a->tablets[i], *y = &b->tablets[i];

		ASSERT_EQ(x->table_id, y->table_id);
		ASSERT_EQ(x->start, y->start);
		ASSERT_EQ(x->end, y->end);
		ASSERT_EQ(x->owner, y->owner);
		ASSERT_EQ(x->state, y->state);
		ASSERT_EQ(x->src, y->src);
		ASSERT_EQ(x->dst, y->dst);
	}
}

TEST(node_add_remove)
{
	const uint32_t owners[] = { 2 };
	struct tablet_map m;
	char longname[TMAP_NAME_MAX + 2];

	tmap_init(&m);
	ASSERT_EQ(0, tmap_add_node(&m, 2, "b", "host-b.example:7000"));
	ASSERT_EQ(0, tmap_add_node(&m, 1, "a", "[::1]:65535"));
	ASSERT_EQ(2u, m.version);
	ASSERT_EQ(1u, m.nodes[0].id);	/* kept sorted */
	ASSERT_EQ(-EEXIST, tmap_add_node(&m, 1, "c", "h:1"));
	ASSERT_EQ(-EINVAL, tmap_add_node(&m, 3, "", "h:1"));
	ASSERT_EQ(-EINVAL, tmap_add_node(&m, 3, "a b", "h:1"));
	ASSERT_EQ(-EINVAL, tmap_add_node(&m, 3, "c", "h"));
	ASSERT_EQ(-EINVAL, tmap_add_node(&m, 3, "c", ":1"));
	ASSERT_EQ(-EINVAL, tmap_add_node(&m, 3, "c", "h:0"));
	ASSERT_EQ(-EINVAL, tmap_add_node(&m, 3, "c", "h:65536"));
	ASSERT_EQ(-EINVAL, tmap_add_node(&m, 3, "c", "h:01"));
	ASSERT_EQ(-EINVAL, tmap_add_node(&m, 3, "c", "h h:1"));
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ASSERT_EQ(-EINVAL, tmap_add_node(&m, 3, longname, "h:1"));
	longname[TMAP_NAME_MAX] = '\0';
	ASSERT_EQ(0, tmap_add_node(&m, 3, longname, "h:1"));
	ASSERT_EQ(3u, m.version);

	ASSERT_EQ(0, tmap_create_table(&m, 1, owners, 1));
	ASSERT_EQ(-EBUSY, tmap_remove_node(&m, 2));
	ASSERT_EQ(-ENOENT, tmap_remove_node(&m, 9));
	ASSERT_EQ(0, tmap_remove_node(&m, 1));
	ASSERT_EQ(NULL, tmap_find_node(&m, 1));
	ASSERT_NE(NULL, tmap_find_node(&m, 2));
	ASSERT_EQ(0, tmap_check(&m, NULL));
	tmap_free(&m);
}

TEST(create_table_even_split)
{
	uint32_t owners[7] = { 1, 2, 3, 4, 5, 6, 7 };
	struct tablet_map m;
	uint32_t owner;
	size_t n, i;
	uint64_t ver;

	tmap_init(&m);
	add_nodes(_metadata, &m, 7);
	for (n = 1; n <= 7; n++) {
		ver = m.version;
		ASSERT_EQ(0, tmap_create_table(&m, n, owners, n));
		ASSERT_EQ(ver + 1, m.version);
		ASSERT_EQ(0, tmap_check(&m, NULL));
		for (i = 0; i < n; i++) {
			/* Every tablet about 2^64/n wide, in owner order. */
			const struct tmap_tablet *t;
			uint64_t h = (uint64_t)(((unsigned __int128)i << 64) / n);

			t = tmap_find(&m, n, h);
			ASSERT_NE(NULL, t);
			ASSERT_EQ(h, t->start);
			ASSERT_EQ(owners[i], t->owner);
			ASSERT_EQ(0, tmap_find_owner(&m, n, t->end, &owner));
			ASSERT_EQ(owners[i], owner);
			ASSERT_LE(t->end - t->start, UINT64_MAX / n);
			ASSERT_GE(t->end - t->start, UINT64_MAX / n - 1);
		}
		ASSERT_EQ(0, tmap_find_owner(&m, n, UINT64_MAX, &owner));
		ASSERT_EQ(owners[n - 1], owner);
		ASSERT_EQ(0, tmap_find_owner(&m, n, 0, &owner));
		ASSERT_EQ(1u, owner);
	}
	ASSERT_EQ(1u + 2 + 3 + 4 + 5 + 6 + 7, m.nr_tablets);
	ASSERT_EQ(2u, m.tablets[2].owner);	/* table 2, second half */
	ASSERT_EQ(0x8000000000000000ull, m.tablets[2].start);

	ver = m.version;
	ASSERT_EQ(-EEXIST, tmap_create_table(&m, 3, owners, 2));
	ASSERT_EQ(-EINVAL, tmap_create_table(&m, 99, owners, 0));
	owners[0] = 42;
	ASSERT_EQ(-ENOENT, tmap_create_table(&m, 99, owners, 2));
	ASSERT_EQ(-ENOENT, tmap_find_owner(&m, 99, 0, &owner));
	ASSERT_EQ(ver, m.version);	/* failures change nothing */
	ASSERT_EQ(0, tmap_drop_table(&m, 4));
	ASSERT_EQ(-ENOENT, tmap_drop_table(&m, 4));
	ASSERT_EQ(0, tmap_check(&m, NULL));
	ASSERT_EQ(1u + 2 + 3 + 5 + 6 + 7, m.nr_tablets);
	tmap_free(&m);
}

TEST(split_and_owner_lookup)
{
	const uint32_t owners[] = { 1, 2 };
	struct tablet_map m;
	uint32_t owner;

	tmap_init(&m);
	add_nodes(_metadata, &m, 3);
	ASSERT_EQ(0, tmap_create_table(&m, 5, owners, 2));
	ASSERT_EQ(0, tmap_split(&m, 5, 100));
	ASSERT_EQ(0, tmap_check(&m, NULL));
	ASSERT_EQ(0, tmap_split(&m, 5, UINT64_MAX));
	ASSERT_EQ(0, tmap_check(&m, NULL));
	ASSERT_EQ(0, tmap_split(&m, 5, 1));
	ASSERT_EQ(0, tmap_check(&m, NULL));
	ASSERT_EQ(5u, m.nr_tablets);
	ASSERT_EQ(-EINVAL, tmap_split(&m, 5, 100));	/* already a start */
	ASSERT_EQ(-EINVAL, tmap_split(&m, 5, 0));
	ASSERT_EQ(-ENOENT, tmap_split(&m, 6, 10));

	ASSERT_EQ(0, tmap_set_owner(&m, 5, 100, 3));
	ASSERT_EQ(0, tmap_find_owner(&m, 5, 99, &owner));
	ASSERT_EQ(1u, owner);
	ASSERT_EQ(0, tmap_find_owner(&m, 5, 100, &owner));
	ASSERT_EQ(3u, owner);
	ASSERT_EQ(0, tmap_find_owner(&m, 5, 0x7fffffffffffffffull, &owner));
	ASSERT_EQ(3u, owner);
	ASSERT_EQ(0, tmap_find_owner(&m, 5, UINT64_MAX - 1, &owner));
	ASSERT_EQ(2u, owner);
	ASSERT_EQ(0, tmap_set_owner(&m, 5, UINT64_MAX, 3));
	ASSERT_EQ(0, tmap_find_owner(&m, 5, UINT64_MAX, &owner));
	ASSERT_EQ(3u, owner);
	ASSERT_EQ(-ENOENT, tmap_set_owner(&m, 5, 101, 3));	/* not a start */
	ASSERT_EQ(-ENOENT, tmap_set_owner(&m, 5, 100, 9));
	ASSERT_EQ(0, tmap_check(&m, NULL));
	tmap_free(&m);
}

TEST(migration_state)
{
	const uint32_t owners[] = { 1, 2 };
	struct tablet_map m;
	uint64_t ver;

	tmap_init(&m);
	add_nodes(_metadata, &m, 3);
	ASSERT_EQ(0, tmap_create_table(&m, 1, owners, 2));
	ASSERT_EQ(-EINVAL, tmap_start_migration(&m, 1, 0, 1));
	ASSERT_EQ(-ENOENT, tmap_start_migration(&m, 1, 0, 9));
	ASSERT_EQ(-EINVAL, tmap_finish_migration(&m, 1, 0));
	ASSERT_EQ(0, tmap_start_migration(&m, 1, 0, 3));
	ASSERT_EQ(0, tmap_check(&m, NULL));
	ASSERT_EQ((int)TMAP_MIGRATING, (int)m.tablets[0].state);
	ASSERT_EQ(1u, m.tablets[0].src);
	ASSERT_EQ(3u, m.tablets[0].dst);
	ASSERT_EQ(3u, m.tablets[0].owner);	/* the target serves at once */
	ASSERT_EQ(-EBUSY, tmap_start_migration(&m, 1, 0, 2));
	ASSERT_EQ(-EBUSY, tmap_split(&m, 1, 10));
	ASSERT_EQ(-EBUSY, tmap_remove_node(&m, 3));
	ASSERT_EQ(-EBUSY, tmap_drop_table(&m, 1));
	ver = m.version;
	ASSERT_EQ(0, tmap_finish_migration(&m, 1, 0));
	ASSERT_EQ(ver + 1, m.version);
	ASSERT_EQ((int)TMAP_NORMAL, (int)m.tablets[0].state);
	ASSERT_EQ(3u, m.tablets[0].owner);
	ASSERT_EQ(0, tmap_remove_node(&m, 1));
	/* abort gives the range back to the source */
	ASSERT_EQ(-EINVAL, tmap_abort_migration(&m, 1, 0));
	ASSERT_EQ(0, tmap_start_migration(&m, 1, 0, 2));
	ASSERT_EQ(2u, m.tablets[0].owner);
	ver = m.version;
	ASSERT_EQ(0, tmap_abort_migration(&m, 1, 0));
	ASSERT_EQ(ver + 1, m.version);
	ASSERT_EQ(3u, m.tablets[0].owner);
	ASSERT_EQ((int)TMAP_NORMAL, (int)m.tablets[0].state);
	ASSERT_EQ(0, tmap_check(&m, NULL));
	/* a node's address changes on re-registration */
	ver = m.version;
	ASSERT_EQ(0, tmap_set_node_addr(&m, 2, "10.0.0.2:7002"));	/* same */
	ASSERT_EQ(ver, m.version);
	ASSERT_EQ(0, tmap_set_node_addr(&m, 2, "10.9.9.9:1"));
	ASSERT_EQ(ver + 1, m.version);
	ASSERT_STREQ("10.9.9.9:1", tmap_find_node(&m, 2)->addr);
	ASSERT_EQ(-ENOENT, tmap_set_node_addr(&m, 9, "h:1"));
	ASSERT_EQ(-EINVAL, tmap_set_node_addr(&m, 2, "nope"));
	/* set_owner aborts a migration */
	ASSERT_EQ(0, tmap_start_migration(&m, 1, 0, 2));
	ASSERT_EQ(0, tmap_set_owner(&m, 1, 0, 3));
	ASSERT_EQ((int)TMAP_NORMAL, (int)m.tablets[0].state);
	ver = m.version;
	ASSERT_EQ(0, tmap_set_owner(&m, 1, 0, 3));	/* no-op */
	ASSERT_EQ(ver, m.version);
	ASSERT_EQ(0, tmap_check(&m, NULL));
	tmap_free(&m);
}

TEST(check_catches_broken_maps)
{
	const uint32_t owners[] = { 1, 2, 3 };
	struct tablet_map m;
	const char *why = NULL;

	tmap_init(&m);
	add_nodes(_metadata, &m, 3);
	ASSERT_EQ(0, tmap_create_table(&m, 1, owners, 3));
	ASSERT_EQ(0, tmap_check(&m, NULL));
	m.tablets[1].start++;		/* gap */
	ASSERT_EQ(-EINVAL, tmap_check(&m, &why));
	ASSERT_NE(NULL, why);
	m.tablets[1].start -= 2;	/* overlap */
	ASSERT_EQ(-EINVAL, tmap_check(&m, NULL));
	m.tablets[1].start++;
	m.tablets[2].end--;		/* short of UINT64_MAX */
	ASSERT_EQ(-EINVAL, tmap_check(&m, NULL));
	m.tablets[2].end++;
	m.tablets[0].owner = 9;		/* unknown owner */
	ASSERT_EQ(-EINVAL, tmap_check(&m, NULL));
	m.tablets[0].owner = 1;
	ASSERT_EQ(0, tmap_check(&m, NULL));
	ASSERT_EQ(0, tmap_load_table(&m, 2));	/* table without tablets */
	ASSERT_EQ(-EINVAL, tmap_check(&m, NULL));
	tmap_free(&m);
}

/* Random operations; the coverage invariant must hold after each one. */
TEST(invariant_after_random_ops)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	struct tablet_map m;
	uint32_t owners[4];
	int i, k, err;

	tmap_init(&m);
	add_nodes(_metadata, &m, 6);
	for (i = 0; i < 20000; i++) {
		uint64_t r, table;
		const struct tmap_tablet *t;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = x;
		table = (r >> 8) % 5;
		switch (r % 7) {
		case 0:
			for (k = 0; k < 4; k++)
				owners[k] = (uint32_t)(1 + (r >> (16 + 3 * k)) % 6);
			err = tmap_create_table(&m, table, owners,
						1 + (size_t)((r >> 40) % 4));
			ASSERT_TRUE(!err || err == -EEXIST);
			break;
		case 1:
			if (r % 5 == 0) {
				err = tmap_drop_table(&m, table);
				ASSERT_TRUE(!err || err == -ENOENT || err == -EBUSY);
			}
			break;
		case 2:
		case 3:
			/* Small hashes too, so splits collide with starts. */
			err = tmap_split(&m, table, r & 1 ? x * 31 : (x >> 56));
			ASSERT_TRUE(!err || err == -ENOENT || err == -EINVAL ||
				    err == -EBUSY);
			break;
		case 4:
			t = tmap_find(&m, table, x * 7);
			if (t)
				tmap_start_migration(&m, table, t->start,
						     (uint32_t)(1 + (r >> 20) % 6));
			break;
		case 5:
			t = tmap_find(&m, table, x * 7);
			if (t)
				tmap_finish_migration(&m, table, t->start);
			break;
		case 6:
			t = tmap_find(&m, table, x * 11);
			if (t)
				tmap_set_owner(&m, table, t->start,
					       (uint32_t)(1 + (r >> 20) % 6));
			break;
		}
		ASSERT_EQ(0, tmap_check(&m, NULL));
	}
	ASSERT_GT(m.nr_tablets, 5u);
	tmap_free(&m);
}

/* Store tests share a scratch directory. */
FIXTURE(store)
{
	char dir[64];
	char path[128];
	char tmp[160];
};

FIXTURE_SETUP(store)
{
	strcpy(self->dir, "/tmp/test-coord.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/map.state", self->dir);
	snprintf(self->tmp, sizeof(self->tmp), "%s.tmp", self->path);
}

FIXTURE_TEARDOWN(store)
{
	unlink(self->path);
	unlink(self->tmp);
	rmdir(self->tmp);
	rmdir(self->dir);
}

static void write_file(struct __test_metadata *_metadata, const char *path,
		       const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)len, write(fd, buf, len));
	ASSERT_EQ(0, close(fd));
}

static char *read_all(struct __test_metadata *_metadata, const char *path,
		      size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	EXPECT_LE(0, fd);
	EXPECT_EQ(0, fstat(fd, &st));
	buf = malloc((size_t)st.st_size + 1);
	EXPECT_NE(NULL, buf);
	EXPECT_EQ(st.st_size, read(fd, buf, (size_t)st.st_size));
	buf[st.st_size] = '\0';
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Load @text; 0 on success (map then checked), else the error. */
static int load_text(struct __test_metadata *_metadata, const char *path,
		     const char *text, size_t len)
{
	struct coord_store *s;
	struct tablet_map m;
	int err;

	write_file(_metadata, path, text, len);
	EXPECT_EQ(0, coord_store_open_file(path, &s));
	tmap_init(&m);
	err = coord_store_load(s, &m);
	if (err) {
		EXPECT_NE('\0', coord_store_error(s)[0]);
		EXPECT_EQ(0u, m.nr_nodes);	/* untouched on failure */
	} else {
		EXPECT_EQ(0, tmap_check(&m, NULL));
	}
	tmap_free(&m);
	coord_store_close(s);
	return err;
}

TEST_F(store, missing_file_is_empty_map)
{
	struct coord_store *s;
	struct tablet_map m;

	ASSERT_EQ(0, coord_store_open_file(self->path, &s));
	tmap_init(&m);
	ASSERT_EQ(0, coord_store_load(s, &m));
	ASSERT_EQ(0u, m.version);
	ASSERT_EQ(0u, m.nr_nodes + m.nr_tables + m.nr_tablets);
	coord_store_close(s);
	ASSERT_EQ(-EINVAL, coord_store_open_file("", &s));
	ASSERT_EQ(-EINVAL, coord_store_open_file("/tmp/", &s));
}

TEST_F(store, save_load_round_trip)
{
	struct tablet_map a, b;
	struct coord_store *s;

	build_sample(_metadata, &a);
	/* A node's incarnation is kept (one node without: 0). */
	ASSERT_EQ(1, tmap_set_node_incarnation(&a, a.nodes[0].id, 0xfedcba9876543211ull));
	ASSERT_EQ(0, tmap_set_node_incarnation(&a, a.nodes[0].id, 0xfedcba9876543211ull));
	ASSERT_EQ(-ENOENT, tmap_set_node_incarnation(&a, 999, 1));
	ASSERT_EQ(0, coord_store_open_file(self->path, &s));
	ASSERT_EQ(0, coord_store_save(s, &a));
	ASSERT_NE(0, access(self->tmp, F_OK));	/* tmp renamed away */
	coord_store_close(s);

	/* A fresh store object, as after a daemon restart. */
	ASSERT_EQ(0, coord_store_open_file(self->path, &s));
	tmap_init(&b);
	ASSERT_EQ(0, tmap_add_node(&b, 77, "stale", "x:1"));	/* replaced */
	ASSERT_EQ(0, coord_store_load(s, &b));
	assert_maps_equal(_metadata, &a, &b);

	/* Change, save again, reload. */
	ASSERT_EQ(0, tmap_finish_migration(&a, 7, a.tablets[3].start));
	ASSERT_EQ(0, tmap_split(&a, 7, 0x10));
	ASSERT_EQ(0, coord_store_save(s, &a));
	ASSERT_EQ(0, coord_store_load(s, &b));
	assert_maps_equal(_metadata, &a, &b);
	coord_store_close(s);
	tmap_free(&a);
	tmap_free(&b);
}

TEST_F(store, save_refuses_inconsistent_map)
{
	struct tablet_map a;
	struct coord_store *s;

	build_sample(_metadata, &a);
	a.tablets[0].end--;
	ASSERT_EQ(0, coord_store_open_file(self->path, &s));
	ASSERT_EQ(-EINVAL, coord_store_save(s, &a));
	ASSERT_NE(0, access(self->path, F_OK));
	coord_store_close(s);
	tmap_free(&a);
}

TEST_F(store, failed_save_keeps_old_state)
{
	struct tablet_map a, b;
	struct coord_store *s;
	char *before, *after;
	size_t blen, alen;

	build_sample(_metadata, &a);
	ASSERT_EQ(0, coord_store_open_file(self->path, &s));
	ASSERT_EQ(0, coord_store_save(s, &a));
	before = read_all(_metadata, self->path, &blen);

	/* As root chmod does not stop writes; a directory in the way does. */
	ASSERT_EQ(0, mkdir(self->tmp, 0755));
	ASSERT_EQ(0, tmap_add_node(&a, 50, "late", "late:9"));
	ASSERT_EQ(-EISDIR, coord_store_save(s, &a));
	ASSERT_NE(NULL, strstr(coord_store_error(s), "map.state.tmp"));
	after = read_all(_metadata, self->path, &alen);
	ASSERT_EQ(blen, alen);
	ASSERT_EQ(0, memcmp(before, after, blen));

	tmap_init(&b);
	ASSERT_EQ(0, coord_store_load(s, &b));
	ASSERT_EQ(a.version - 1, b.version);
	ASSERT_EQ(NULL, tmap_find_node(&b, 50));
	tmap_free(&b);

	/* Once the obstacle is gone, saving works again. */
	ASSERT_EQ(0, rmdir(self->tmp));
	ASSERT_EQ(0, coord_store_save(s, &a));
	tmap_init(&b);
	ASSERT_EQ(0, coord_store_load(s, &b));
	assert_maps_equal(_metadata, &a, &b);
	tmap_free(&b);
	free(before);
	free(after);
	coord_store_close(s);
	tmap_free(&a);
}

TEST_F(store, truncated_at_every_offset_rejected)
{
	struct tablet_map a;
	struct coord_store *s;
	char *text;
	size_t len, cut;

	build_sample(_metadata, &a);
	ASSERT_EQ(0, coord_store_open_file(self->path, &s));
	ASSERT_EQ(0, coord_store_save(s, &a));
	coord_store_close(s);
	text = read_all(_metadata, self->path, &len);
	ASSERT_GT(len, 100u);
	for (cut = 0; cut < len; cut++)
		ASSERT_EQ(-EBADMSG, load_text(_metadata, self->path, text, cut))
			TH_LOG("prefix of %zu bytes loaded", cut);
	ASSERT_EQ(0, load_text(_metadata, self->path, text, len));
	free(text);
	tmap_free(&a);
}

TEST_F(store, flipped_digits_rejected_or_consistent)
{
	struct tablet_map a;
	struct coord_store *s;
	char *text;
	size_t len, i;
	int d, err, loaded = 0, rejected = 0;

	build_sample(_metadata, &a);
	ASSERT_EQ(0, coord_store_open_file(self->path, &s));
	ASSERT_EQ(0, coord_store_save(s, &a));
	coord_store_close(s);
	text = read_all(_metadata, self->path, &len);
	for (i = 0; i < len; i++) {
		char orig = text[i];

		if (orig < '0' || orig > '9')
			continue;
		for (d = 0; d < 10; d++) {
			if ('0' + d == orig)
				continue;
			text[i] = (char)('0' + d);
			/* load_text checks the invariants of what loads */
			err = load_text(_metadata, self->path, text, len);
			ASSERT_TRUE(err == 0 || err == -EBADMSG);
			if (err)
				rejected++;
			else
				loaded++;
		}
		text[i] = orig;
	}
	ASSERT_GT(rejected, 0);
	ASSERT_GT(loaded, 0);	/* e.g. a different version number */
	free(text);
	tmap_free(&a);
}

TEST_F(store, malformed_files_rejected)
{
	static const char *const bad[] = {
		"",
		"\n",
		"steadykv-map 6\nversion 1\nend 0\n",
		/* a node's incarnation: only from format 5, 16 hex digits, not 0 */
		"steadykv-map 4\nversion 1\nnode 1 a h:1 0x0000000000000001\nend 1\n",
		"steadykv-map 5\nversion 1\nnode 1 a h:1 0x0000000000000000\nend 1\n",
		"steadykv-map 5\nversion 1\nnode 1 a h:1 0x1\nend 1\n",
		"steadykv-map 5\nversion 1\nnode 1 a h:1 0x0000000000000001 x\nend 1\n",
		/* owner-back: only from format 4, and no other word there */
		"steadykv-map 3\nversion 1\nlost 1 0x0000000000000000 "
		"0x00000000000000ff 3 5 owner-back\nend 1\n",
		"steadykv-map 4\nversion 1\nlost 1 0x0000000000000000 "
		"0x00000000000000ff 3 5 owner-bak\nend 1\n",
		/* format 1 has no migration records */
		"steadykv-map 1\nversion 1\nnext-migration 2\nend 1\n",
		"steadykv-map 2\nversion 1\nnext-migration 0\nend 1\n",
		/* a migration id twice, a migration id 0 */
		"steadykv-map 3\nversion 1\nmigration 3 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 3 0 5 0\nmigration 3 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 3 0 5 0\nend 2\n",
		"steadykv-map 3\nversion 1\nmigration 0 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 3 0 5 0\nend 1\n",
		/* start after end, missing field */
		"steadykv-map 2\nversion 1\nnext-migration 9\nmigration 3 1 "
		"0x0000000000000100 0x00000000000000ff 1 2 0 3 0 5 0\nend 2\n",
		"steadykv-map 2\nversion 1\nnext-migration 9\nmigration 3 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 0 3 0 5\nend 2\n",
		"steadykv-map 2\nversion 1\nlineage 3 1 0x0000000000000000 "
		"0x00000000000000ff 1 1 0 0\nend 1\n",
		/* format 3: tuning out of range, twice, unknown; mode in place */
		"steadykv-map 3\nversion 1\nnext-migration 9\nmigration 3 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 3 0 5 0 partitions=65\nend 2\n",
		"steadykv-map 3\nversion 1\nnext-migration 9\nmigration 3 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 3 0 5 0 mode=1 mode=1\nend 2\n",
		"steadykv-map 3\nversion 1\nnext-migration 9\nmigration 3 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 3 0 5 0 speed=1\nend 2\n",
		"steadykv-map 3\nversion 1\nnext-migration 9\nmigration 3 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 0 3 0 5 0\nend 2\n",
		"steadykv-map 3\nversion 1\nnext-migration 9\nmigration 3 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 9 0 5 0\nend 2\n",
		"steadykv-map 2\nversion 1\nlineage 0 1 0x0000000000000000 "
		"0x00000000000000ff 1 2 0 0\nend 1\n",
		"steadykv-map 01\nversion 1\nend 0\n",
		"steadykv-mop 1\nversion 1\nend 0\n",
		"steadykv-map 1\nend 0\n",
		"steadykv-map 1\nversion -1\nend 0\n",
		"steadykv-map 1\nversion 18446744073709551616\nend 0\n",
		"steadykv-map 1\nversion 1\nend 1\n",
		"steadykv-map 1\nversion 1\nend 0\nnode 1 a h:1\n",
		"steadykv-map 1\nversion 1\nend 0\n\n",
		"steadykv-map 1\nversion 1\nwidget 3\nend 1\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1\nnode 1 b h:2\nend 2\n",
		"steadykv-map 1\nversion 1\nnode 1  a h:1\nend 1\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1 \nend 1\n",
		"steadykv-map 1\nversion 1\nnode 4294967296 a h:1\nend 1\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1\r\nend 1\n",
		"steadykv-map 1\nversion 1\ntable 1\nend 1\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1\ntable 1\n"
		"tablet 1 0x0000000000000000 0xfffffffffffffffe 1 normal\nend 3\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1\ntable 1\n"
		"tablet 1 0x0 0xffffffffffffffff 1 normal\nend 3\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1\ntable 1\n"
		"tablet 1 0x0000000000000000 0xFFFFFFFFFFFFFFFF 1 normal\nend 3\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1\ntable 1\n"
		"tablet 1 0x0000000000000000 0xffffffffffffffff 1 moving\nend 3\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1\ntable 1\n"
		"tablet 1 0x0000000000000000 0xffffffffffffffff 1 migrating 1\n"
		"end 3\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1\ntable 1\n"
		"tablet 1 0x0000000000000000 0xffffffffffffffff 1 normal 1 2\n"
		"end 3\n",
		"steadykv-map 1\nversion 1\nnode 1 a h:1\ntable 1\n"
		"tablet 1 0x0000000000000000 0xffffffffffffffff 1 migrating 1 1\n"
		"end 3\n",
	};
	static const char good[] =
		"steadykv-map 1\nversion 9\nnode 1 a h:1\nnode 2 b h:2\n"
		"table 1\n"
		"tablet 1 0x0000000000000000 0x7fffffffffffffff 1 normal\n"
		"tablet 1 0x8000000000000000 0xffffffffffffffff 2 migrating 1 2\n"
		"end 5\n";
	static const char good2[] =
		"steadykv-map 2\nversion 3\nnode 1 a h:1\nnode 2 b h:2\n"
		"table 1\n"
		"tablet 1 0x0000000000000000 0xffffffffffffffff 2 migrating 1 2\n"
		"next-migration 8\n"
		"migration 6 1 0x0000000000000000 0x00000000000000ff 1 2 0 3 0 5 0\n"
		"migration 7 1 0x0000000000000000 0xffffffffffffffff 1 2 0 1 0 5 9\n"
		"lineage 7 1 0x0000000000000000 0xffffffffffffffff 1 2 9 5\n"
		"end 8\n";
	static const char good3[] =
		"steadykv-map 3\nversion 3\nnode 1 a h:1\nnode 2 b h:2\n"
		"table 1\n"
		"tablet 1 0x0000000000000000 0xffffffffffffffff 2 migrating 1 2\n"
		"next-migration 8\n"
		"migration 6 1 0x0000000000000000 0x00000000000000ff 1 2 3 0 5 0\n"
		"migration 7 1 0x0000000000000000 0xffffffffffffffff 1 2 1 0 5 9 "
		"mode=1 partitions=64 pulls-in-flight=1 pull-budget=1024 priority-pulls=0\n"
		"lineage 7 1 0x0000000000000000 0xffffffffffffffff 1 2 9 5\n"
		"end 8\n";
	/* Random ids, in no order, without next-migration (as saved now). */
	static const char good3_random[] =
		"steadykv-map 3\nversion 3\nnode 1 a h:1\nnode 2 b h:2\n"
		"table 1\n"
		"tablet 1 0x0000000000000000 0xffffffffffffffff 2 migrating 1 2\n"
		"migration 18446744073709551615 1 0x0000000000000000 0x00000000000000ff 1 2 3 0 5 0\n"
		"migration 9223372036854775809 1 0x0000000000000000 0xffffffffffffffff 1 2 1 0 5 9\n"
		"lineage 9223372036854775809 1 0x0000000000000000 0xffffffffffffffff 1 2 9 5\n"
		"end 7\n";
	char nul[] = "steadykv-map 1\nversion 1\0\nend 0\n";
	char line[COORD_FILE_MAX_LINE + 64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(-EBADMSG, load_text(_metadata, self->path, bad[i],
					      strlen(bad[i])))
			TH_LOG("case %zu loaded", i);
	ASSERT_EQ(0, load_text(_metadata, self->path, good, strlen(good)));
	ASSERT_EQ(0, load_text(_metadata, self->path, good2, strlen(good2)));
	ASSERT_EQ(0, load_text(_metadata, self->path, good3, strlen(good3)));
	ASSERT_EQ(0, load_text(_metadata, self->path, good3_random,
			       strlen(good3_random)));
	ASSERT_EQ(-EBADMSG, load_text(_metadata, self->path, nul, sizeof(nul) - 1));

	/* An over-long line, longer than the read buffer. */
	memset(line, 0, sizeof(line));
	snprintf(line, sizeof(line), "steadykv-map 1\nversion 1\nnode 1 ");
	memset(line + strlen(line), 'n', COORD_FILE_MAX_LINE);
	ASSERT_EQ(-EBADMSG, load_text(_metadata, self->path, line, strlen(line)));
}

/* A format 2 migration loads with its mode and default tuning. */
TEST_F(store, format2_migration_keeps_its_mode)
{
	static const char f2[] =
		"steadykv-map 2\nversion 1\nnext-migration 9\nmigration 3 1 "
		"0x0000000000000000 0x00000000000000ff 1 2 1 3 0 5 0\nend 2\n";
	struct coord_state st;
	struct coord_store *s;

	write_file(_metadata, self->path, f2, strlen(f2));
	ASSERT_EQ(0, coord_store_open_file(self->path, &s));
	coord_state_init(&st);
	ASSERT_EQ(0, coord_store_load_state(s, &st)) {
		TH_LOG("%s", coord_store_error(s));
	}
	ASSERT_EQ(1u, st.nr_migs);
	ASSERT_EQ(1u, st.migs[0].mode);
	ASSERT_EQ(3u, st.migs[0].state);
	ASSERT_EQ(1ull << STEADYKV_A_MIGRATION_MODE,
		  st.migs[0].present & SKV_MIG_TUNING_BITS);
	coord_state_free(&st);
	coord_store_close(s);
}

TEST_F(store, unreadable_path_reports_errno)
{
	struct coord_store *s;
	struct tablet_map m;

	ASSERT_EQ(0, mkdir(self->path, 0755));	/* the state is a directory */
	ASSERT_EQ(0, coord_store_open_file(self->path, &s));
	tmap_init(&m);
	ASSERT_NE(0, coord_store_load(s, &m));
	ASSERT_NE('\0', coord_store_error(s)[0]);
	coord_store_close(s);
	ASSERT_EQ(0, rmdir(self->path));
}

TEST_HARNESS_MAIN
