// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * File backend of the coordinator state.  Format, one record per line,
 * single spaces, every line ends in '\n':
 *
 *   steadykv-map 5
 *   version <u64>
 *   node <id> <name> <host:port> [0x<16 hex incarnation>]
 *   table <id>
 *   tablet <table> 0x<16 hex start> 0x<16 hex end> <owner> normal
 *   tablet <table> 0x<start> 0x<end> <owner> migrating <src> <dst>
 *   next-migration <id>            (read and ignored: ids are random now)
 *   migration <id> <table> 0x<start> 0x<end> <src> <dst> <state> <error>
 *             <started unix ms> <safe version> [mode=<m>]
 *             [partitions=<n>] [pulls-in-flight=<n>] [pull-budget=<n>]
 *             [priority-pulls=<0|1>]                       (one line)
 *   lineage <migration id> <table> 0x<start> 0x<end> <src> <dst>
 *           <safe version> <unix ms>                       (one line)
 *   lost <table> 0x<start> 0x<end> <dead owner> <unix ms> [owner-back]
 *   repl <primary> <epoch> [<backup id> <backup host:port>]...
 *   repl-epoch-bound <u64>
 *   end <number of records between the version line and end>
 *
 * A tuning field is written only if it was given (an absent one is the
 * module's default); a loaded one must be in range.  Older formats still
 * load: 1 has no next-migration, migration or lineage records; 2 has the
 * mode between <dst> and <state> and no other tuning, so its migrations
 * load with their mode and default tuning; 3 has no owner-back mark (so
 * every lost record's owner is still dead) and no replication records;
 * 4 has no node incarnations (a node's first registration records it).
 * Saving writes format 5.
 * A migrating tablet's owner is its target (tablet_map.h).
 *
 * Numbers are plain decimal without leading zeros, hashes fixed-width hex
 * so that files diff cleanly.  The "end" trailer makes a file cut at a
 * line boundary fail to load instead of loading as a smaller map.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state_store.h"

#define MAP_MAGIC	"steadykv-map"
#define MAP_FORMAT	5
#define MAX_TOKENS	16

struct file_store {
	struct coord_store base;	/* first: callers only see this */
	char *path;
	char *tmp;
	char *dir;
};

static struct file_store *to_fs(struct coord_store *s)
{
	return (struct file_store *)s;
}

static void set_err(struct coord_store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(struct coord_store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

/* Decimal, no sign, no leading zeros, at most @max. */
static int parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		unsigned int d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned int)(*s - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_dec(s, UINT32_MAX, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Exactly "0x" and 16 lowercase hex digits, as written by save. */
static int parse_hash(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int i;

	if (strlen(s) != 18 || s[0] != '0' || s[1] != 'x')
		return -1;
	for (i = 2; i < 18; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * Read one line into @buf without the newline.  1: got a line, 0: clean
 * EOF, -EBADMSG: too long, control byte or no final newline, -EIO.
 */
static int read_line(FILE *f, char *buf, size_t sz)
{
	size_t n = 0;

	for (;;) {
		int c = getc(f);

		if (c == EOF) {
			if (ferror(f))
				return -EIO;
			return n ? -EBADMSG : 0;
		}
		if (c == '\n')
			break;
		if (c < 0x20 || c > 0x7e || n + 1 >= sz)
			return -EBADMSG;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return 1;
}

/* Split at single spaces; empty fields (double or edge spaces) fail. */
static int split(char *line, char **tok, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *sp = strchr(p, ' ');

		if (n == max)
			return -1;
		tok[n++] = p;
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	for (int i = 0; i < n; i++)
		if (!tok[i][0])
			return -1;
	return n;
}

void coord_state_init(struct coord_state *st)
{
	memset(st, 0, sizeof(*st));
	tmap_init(&st->map);
}

void coord_state_free(struct coord_state *st)
{
	tmap_free(&st->map);
	free(st->migs);
	free(st->lineage);
	free(st->lost);
	free(st->repl);
	coord_state_init(st);
}

/* The state file's names of the tuning fields, by attribute. */
static const char *const tuning_keys[] = {
	[STEADYKV_A_MIGRATION_MODE] = "mode",
	[STEADYKV_A_MIGRATION_PARTITIONS] = "partitions",
	[STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT] = "pulls-in-flight",
	[STEADYKV_A_MIGRATION_PULL_BUDGET] = "pull-budget",
	[STEADYKV_A_MIGRATION_PRIORITY_PULLS] = "priority-pulls",
};

/* "key=value" of a tuning field that is not set yet: 0 or -1. */
static int parse_tuning(struct skv_migration *mg, const char *t)
{
	int attr;

	SKV_MIG_FOR_EACH_TUNING(attr) {
		size_t kl = strlen(tuning_keys[attr]);
		uint32_t v;

		if (strncmp(t, tuning_keys[attr], kl) || t[kl] != '=')
			continue;
		if (SKV_MIG_HAS(mg, attr) || parse_u32(t + kl + 1, &v))
			return -1;
		skv_mig_set_tuning(mg, attr, v);
		return 0;
	}
	return -1;
}

/*
 * Format 3: the fixed fields, then the tuning fields that were given.
 * Format 2 had the mode in the fixed fields (always given) and no other
 * tuning: such a migration loads with its mode and default tuning.
 */
static int parse_migration(struct coord_state *st, uint64_t format, char **tok,
			   int n)
{
	struct skv_migration mg, *v;
	int i = 7;

	memset(&mg, 0, sizeof(mg));
	if (n < 11 || parse_dec(tok[1], UINT64_MAX, &mg.id) || !mg.id ||
	    parse_dec(tok[2], UINT64_MAX, &mg.table_id) ||
	    parse_hash(tok[3], &mg.start_hash) ||
	    parse_hash(tok[4], &mg.end_hash) ||
	    mg.start_hash > mg.end_hash ||
	    parse_u32(tok[5], &mg.src) || parse_u32(tok[6], &mg.dst))
		return -EBADMSG;
	if (format == 2) {
		uint32_t mode;

		if (n != 12 || parse_u32(tok[i++], &mode))
			return -EBADMSG;
		skv_mig_set_tuning(&mg, STEADYKV_A_MIGRATION_MODE, mode);
	}
	if (parse_u32(tok[i], &mg.state) || !skv_mig_state_valid(mg.state) ||
	    parse_u32(tok[i + 1], &mg.error) ||
	    parse_dec(tok[i + 2], UINT64_MAX, &mg.started_unix_ms) ||
	    parse_dec(tok[i + 3], UINT64_MAX, &mg.safe_version))
		return -EBADMSG;
	for (i += 4; i < n; i++)
		if (parse_tuning(&mg, tok[i]))
			return -EBADMSG;
	if (skv_mig_check_tuning(&mg))
		return -EBADMSG;
	mg.present |= COORD_MIG_STORED_BITS;
	/* Oldest first (ids are random: checked apart, migs_invalid()). */
	if (st->nr_migs >= COORD_KEEP_MIGRATIONS)
		return -EBADMSG;
	v = realloc(st->migs, (st->nr_migs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->migs = v;
	v[st->nr_migs++] = mg;
	return 0;
}

static int parse_lineage(struct coord_state *st, char **tok, int n)
{
	struct coord_lineage l, *v;

	memset(&l, 0, sizeof(l));
	if (n != 9 || parse_dec(tok[1], UINT64_MAX, &l.mig_id) || !l.mig_id ||
	    parse_dec(tok[2], UINT64_MAX, &l.table_id) ||
	    parse_hash(tok[3], &l.start) || parse_hash(tok[4], &l.end) ||
	    l.start > l.end ||
	    parse_u32(tok[5], &l.src) || parse_u32(tok[6], &l.dst) ||
	    l.src == l.dst ||
	    parse_dec(tok[7], UINT64_MAX, &l.safe_version) ||
	    parse_dec(tok[8], UINT64_MAX, &l.unix_ms))
		return -EBADMSG;
	if (st->nr_lineage >= COORD_MAX_LINEAGE)
		return -EBADMSG;
	v = realloc(st->lineage, (st->nr_lineage + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->lineage = v;
	v[st->nr_lineage++] = l;
	return 0;
}

static int parse_lost(struct coord_state *st, uint64_t format, char **tok,
		      int n)
{
	struct coord_lost l, *v;

	memset(&l, 0, sizeof(l));
	if (format >= 4 && n == 7) {
		if (strcmp(tok[6], "owner-back"))
			return -EBADMSG;
		l.owner_back = true;
		n--;
	}
	if (n != 6 || parse_dec(tok[1], UINT64_MAX, &l.table_id) ||
	    parse_hash(tok[2], &l.start) || parse_hash(tok[3], &l.end) ||
	    l.start > l.end || parse_u32(tok[4], &l.node) || !l.node ||
	    parse_dec(tok[5], UINT64_MAX, &l.unix_ms) ||
	    st->nr_lost >= COORD_MAX_LOST)
		return -EBADMSG;
	v = realloc(st->lost, (st->nr_lost + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->lost = v;
	v[st->nr_lost++] = l;
	return 0;
}

static int parse_repl(struct coord_state *st, char **tok, int n)
{
	struct coord_repl_info r, *v;
	uint32_t k;

	memset(&r, 0, sizeof(r));
	if (n < 3 || (n - 3) % 2 || (uint32_t)(n - 3) / 2 > SKV_COORD_REPL_MAX ||
	    parse_dec(tok[1], UINT32_MAX, &r.primary_id) || !r.primary_id ||
	    parse_dec(tok[2], UINT64_MAX, &r.epoch))
		return -EBADMSG;
	for (k = 0; k < (uint32_t)(n - 3) / 2; k++) {
		struct coord_node_info *b = &r.backups[k];

		if (parse_u32(tok[3 + 2 * k], &b->id) || !b->id ||
		    !tmap_valid_addr(tok[4 + 2 * k]))
			return -EBADMSG;
		snprintf(b->addr, sizeof(b->addr), "%s", tok[4 + 2 * k]);
	}
	r.nr_backups = k;
	for (size_t i = 0; i < st->nr_repl; i++)
		if (st->repl[i].primary_id == r.primary_id)
			return -EBADMSG;
	v = realloc(st->repl, (st->nr_repl + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->repl = v;
	v[st->nr_repl++] = r;
	return 0;
}

/* Migration ids: none 0, no two alike (their order means nothing). */
static const char *migs_invalid(const struct coord_state *st)
{
	size_t i, j;

	for (i = 0; i < st->nr_migs; i++) {
		if (!st->migs[i].id)
			return "migration id 0";
		for (j = 0; j < i; j++)
			if (st->migs[j].id == st->migs[i].id)
				return "migration id twice";
	}
	return NULL;
}

static int parse_record(struct coord_state *st, uint64_t format, char **tok,
			int n, const char **why)
{
	struct tablet_map *m = &st->map;
	int err;

	if (format >= 2 && !strcmp(tok[0], "next-migration")) {
		uint64_t next;

		/* The counter of sequential ids, from before they were random. */
		*why = "bad next-migration record";
		if (n != 2 || parse_dec(tok[1], UINT64_MAX, &next) || !next)
			return -EBADMSG;
		return 0;
	}
	if (format >= 2 && !strcmp(tok[0], "migration")) {
		*why = "bad migration record";
		err = parse_migration(st, format, tok, n);
		if (err == -ENOMEM)
			*why = strerror(ENOMEM);
		return err;
	}
	if (format >= 2 && !strcmp(tok[0], "lineage")) {
		*why = "bad lineage record";
		err = parse_lineage(st, tok, n);
		if (err == -ENOMEM)
			*why = strerror(ENOMEM);
		return err;
	}
	if (format >= 3 && !strcmp(tok[0], "lost")) {
		*why = "bad lost record";
		err = parse_lost(st, format, tok, n);
		if (err == -ENOMEM)
			*why = strerror(ENOMEM);
		return err;
	}
	if (format >= 4 && !strcmp(tok[0], "repl")) {
		*why = "bad replication record";
		err = parse_repl(st, tok, n);
		if (err == -ENOMEM)
			*why = strerror(ENOMEM);
		return err;
	}
	if (format >= 4 && !strcmp(tok[0], "repl-epoch-bound")) {
		*why = "bad repl-epoch-bound record";
		return n != 2 || parse_dec(tok[1], UINT64_MAX, &st->repl_epoch_bound) ?
		       -EBADMSG : 0;
	}
	if (!strcmp(tok[0], "node")) {
		struct tmap_node nd;

		memset(&nd, 0, sizeof(nd));
		if ((n != 4 && (format < 5 || n != 5)) ||
		    parse_u32(tok[1], &nd.id) ||
		    (n == 5 && (parse_hash(tok[4], &nd.incarnation) ||
				!nd.incarnation))) {
			*why = "bad node record";
			return -EBADMSG;
		}
		if (!tmap_valid_name(tok[2]) || !tmap_valid_addr(tok[3])) {
			*why = "bad node name or address";
			return -EBADMSG;
		}
		strcpy(nd.name, tok[2]);	/* lengths validated */
		strcpy(nd.addr, tok[3]);
		err = tmap_load_node(m, &nd);
		*why = "duplicate node";
	} else if (!strcmp(tok[0], "table")) {
		uint64_t id;

		if (n != 2 || parse_dec(tok[1], UINT64_MAX, &id)) {
			*why = "bad table record";
			return -EBADMSG;
		}
		err = tmap_load_table(m, id);
		*why = "duplicate table";
	} else if (!strcmp(tok[0], "tablet")) {
		struct tmap_tablet t;

		memset(&t, 0, sizeof(t));
		*why = "bad tablet record";
		if (n < 6 || parse_dec(tok[1], UINT64_MAX, &t.table_id) ||
		    parse_hash(tok[2], &t.start) || parse_hash(tok[3], &t.end) ||
		    parse_u32(tok[4], &t.owner))
			return -EBADMSG;
		if (!strcmp(tok[5], "normal") && n == 6) {
			t.state = TMAP_NORMAL;
		} else if (!strcmp(tok[5], "migrating") && n == 8) {
			t.state = TMAP_MIGRATING;
			if (parse_u32(tok[6], &t.src) || parse_u32(tok[7], &t.dst))
				return -EBADMSG;
		} else {
			return -EBADMSG;
		}
		err = tmap_load_tablet(m, &t);
		*why = "duplicate tablet";
	} else {
		*why = "unknown record type";
		return -EBADMSG;
	}
	if (err == -EEXIST)
		return -EBADMSG;
	if (err)
		*why = strerror(-err);
	return err;
}

/* @path names the source in error messages. */
static int parse_file(struct coord_store *s, const char *path, FILE *f,
		      struct coord_state *st)
{
	struct tablet_map *m = &st->map;
	char line[COORD_FILE_MAX_LINE];
	char *tok[MAX_TOKENS];
	const char *why = NULL;
	uint64_t records = 0, v, format = 0;
	unsigned long lineno = 0;
	int n, err;

	for (;;) {
		err = read_line(f, line, sizeof(line));
		lineno++;
		if (err == 0) {
			why = lineno == 1 ? "empty file" :
					    "truncated (no end record)";
			err = -EBADMSG;
			goto bad;
		}
		if (err < 0) {
			why = err == -EIO ? "read error" :
			      "line too long, not printable or unterminated";
			goto bad;
		}
		n = split(line, tok, MAX_TOKENS);
		err = -EBADMSG;
		if (n < 0) {
			why = "bad field separation";
			goto bad;
		}
		if (lineno == 1) {
			if (n != 2 || strcmp(tok[0], MAP_MAGIC) ||
			    parse_dec(tok[1], UINT64_MAX, &v)) {
				why = "not a steadykv map file";
				goto bad;
			}
			if (v < 1 || v > MAP_FORMAT) {
				why = "unsupported format version";
				goto bad;
			}
			format = v;
			continue;
		}
		if (lineno == 2) {
			if (n != 2 || strcmp(tok[0], "version") ||
			    parse_dec(tok[1], UINT64_MAX, &m->version)) {
				why = "bad version record";
				goto bad;
			}
			continue;
		}
		if (!strcmp(tok[0], "end")) {
			if (n != 2 || parse_dec(tok[1], UINT64_MAX, &v) ||
			    v != records) {
				why = "bad end record (truncated?)";
				goto bad;
			}
			break;
		}
		err = parse_record(st, format, tok, n, &why);
		if (err)
			goto bad;
		records++;
	}
	if (getc(f) != EOF) {
		why = "data after end record";
		err = -EBADMSG;
		goto bad;
	}
	if (ferror(f)) {
		why = "read error";
		err = -EIO;
		goto bad;
	}
	if (tmap_check(m, &why)) {
		set_err(s, "%s: inconsistent map: %s", path, why);
		return -EBADMSG;
	}
	why = migs_invalid(st);
	if (why) {
		set_err(s, "%s: %s", path, why);
		return -EBADMSG;
	}
	return 0;
bad:
	set_err(s, "%s:%lu: %s", path, lineno, why);
	return err;
}

/* Parse @f (closed here) into @out, replaced only on success. */
static int load_stream(struct coord_store *s, const char *name, FILE *f,
		       struct coord_state *out)
{
	struct coord_state m;
	int err;

	coord_state_init(&m);
	err = parse_file(s, name, f, &m);
	fclose(f);
	if (err) {
		coord_state_free(&m);
		return err;
	}
	coord_state_free(out);
	*out = m;
	return 0;
}

static int file_load(struct coord_store *s, struct coord_state *out)
{
	struct file_store *fs = to_fs(s);
	FILE *f;

	s->err[0] = '\0';
	f = fopen(fs->path, "re");
	if (f)
		return load_stream(s, fs->path, f, out);
	if (errno != ENOENT) {
		int err = -errno;

		set_err(s, "%s: open: %s", fs->path, strerror(-err));
		return err;
	}
	/* Never saved: a fresh cluster. */
	coord_state_free(out);
	return 0;
}

/* The fields a migration line and a lineage line open with. */
static void put_move(FILE *f, const char *tag, uint64_t id, uint64_t table_id,
		     uint64_t start, uint64_t end, uint32_t src, uint32_t dst)
{
	fprintf(f, "%s %llu %llu 0x%016llx 0x%016llx %u %u", tag,
		(unsigned long long)id, (unsigned long long)table_id,
		(unsigned long long)start, (unsigned long long)end,
		(unsigned int)src, (unsigned int)dst);
}

static int write_state(FILE *f, const struct coord_state *st)
{
	const struct tablet_map *m = &st->map;
	size_t i;
	int attr;

	fprintf(f, "%s %d\nversion %llu\n", MAP_MAGIC, MAP_FORMAT,
		(unsigned long long)m->version);
	for (i = 0; i < m->nr_nodes; i++) {
		fprintf(f, "node %u %s %s", (unsigned int)m->nodes[i].id,
			m->nodes[i].name, m->nodes[i].addr);
		if (m->nodes[i].incarnation)
			fprintf(f, " 0x%016llx",
				(unsigned long long)m->nodes[i].incarnation);
		fputc('\n', f);
	}
	for (i = 0; i < m->nr_tables; i++)
		fprintf(f, "table %llu\n", (unsigned long long)m->tables[i]);
	for (i = 0; i < m->nr_tablets; i++) {
		const struct tmap_tablet *t = &m->tablets[i];

		fprintf(f, "tablet %llu 0x%016llx 0x%016llx %u ",
			(unsigned long long)t->table_id,
			(unsigned long long)t->start,
			(unsigned long long)t->end, (unsigned int)t->owner);
		if (t->state == TMAP_MIGRATING)
			fprintf(f, "migrating %u %u\n", (unsigned int)t->src,
				(unsigned int)t->dst);
		else
			fprintf(f, "normal\n");
	}
	for (i = 0; i < st->nr_migs; i++) {
		const struct skv_migration *g = &st->migs[i];

		put_move(f, "migration", g->id, g->table_id, g->start_hash,
			 g->end_hash, g->src, g->dst);
		fprintf(f, " %u %u %llu %llu", (unsigned int)g->state,
			(unsigned int)g->error,
			(unsigned long long)g->started_unix_ms,
			(unsigned long long)g->safe_version);
		SKV_MIG_FOR_EACH_TUNING(attr)
			if (SKV_MIG_HAS(g, attr))
				fprintf(f, " %s=%llu", tuning_keys[attr],
					skv_mig_tuning_value(g, attr));
		fputc('\n', f);
	}
	for (i = 0; i < st->nr_lineage; i++) {
		const struct coord_lineage *l = &st->lineage[i];

		put_move(f, "lineage", l->mig_id, l->table_id, l->start, l->end,
			 l->src, l->dst);
		fprintf(f, " %llu %llu\n", (unsigned long long)l->safe_version,
			(unsigned long long)l->unix_ms);
	}
	for (i = 0; i < st->nr_lost; i++) {
		const struct coord_lost *l = &st->lost[i];

		fprintf(f, "lost %llu 0x%016llx 0x%016llx %u %llu%s\n",
			(unsigned long long)l->table_id,
			(unsigned long long)l->start, (unsigned long long)l->end,
			(unsigned int)l->node, (unsigned long long)l->unix_ms,
			l->owner_back ? " owner-back" : "");
	}
	for (i = 0; i < st->nr_repl; i++) {
		const struct coord_repl_info *r = &st->repl[i];

		fprintf(f, "repl %llu %llu", (unsigned long long)r->primary_id,
			(unsigned long long)r->epoch);
		for (uint32_t k = 0; k < r->nr_backups; k++)
			fprintf(f, " %u %s", (unsigned int)r->backups[k].id,
				r->backups[k].addr);
		fputc('\n', f);
	}
	fprintf(f, "repl-epoch-bound %llu\n", (unsigned long long)st->repl_epoch_bound);
	fprintf(f, "end %zu\n", m->nr_nodes + m->nr_tables + m->nr_tablets +
		st->nr_migs + st->nr_lineage + st->nr_lost + st->nr_repl + 1);
	return ferror(f) ? -EIO : 0;
}

/* What the loader would refuse is never written. */
static const char *state_invalid(const struct coord_state *st)
{
	const char *why = NULL;
	size_t i;

	if (tmap_check(&st->map, &why))
		return why;
	if (st->nr_migs > COORD_KEEP_MIGRATIONS)
		return "too many migration records";
	if (st->nr_lineage > COORD_MAX_LINEAGE)
		return "too many lineage records";
	why = migs_invalid(st);
	if (why)
		return why;
	for (i = 0; i < st->nr_migs; i++) {
		const struct skv_migration *g = &st->migs[i];

		if (g->start_hash > g->end_hash ||
		    !skv_mig_state_valid(g->state) || skv_mig_check_tuning(g))
			return "bad migration record";
	}
	for (i = 0; i < st->nr_lineage; i++) {
		const struct coord_lineage *l = &st->lineage[i];

		if (!l->mig_id || l->start > l->end || l->src == l->dst)
			return "bad lineage record";
	}
	if (st->nr_lost > COORD_MAX_LOST)
		return "too many lost records";
	for (i = 0; i < st->nr_lost; i++)
		if (!st->lost[i].node || st->lost[i].start > st->lost[i].end)
			return "bad lost record";
	for (i = 0; i < st->nr_repl; i++) {
		const struct coord_repl_info *r = &st->repl[i];

		if (!r->primary_id || r->primary_id > UINT32_MAX ||
		    r->nr_backups > SKV_COORD_REPL_MAX)
			return "bad replication record";
		for (uint32_t k = 0; k < r->nr_backups; k++)
			if (!r->backups[k].id || !tmap_valid_addr(r->backups[k].addr))
				return "bad replication record";
	}
	return NULL;
}

int coord_state_encode(struct coord_store *s, const struct coord_state *st,
		       char **buf, size_t *len)
{
	const char *why = state_invalid(st);
	FILE *f;
	int err;

	s->err[0] = '\0';
	if (why) {
		set_err(s, "refusing to save inconsistent state: %s", why);
		return -EINVAL;
	}
	*buf = NULL;
	*len = 0;
	f = open_memstream(buf, len);
	if (!f) {
		err = -errno;
		set_err(s, "open_memstream: %s", strerror(-err));
		return err;
	}
	err = write_state(f, st);
	if (fclose(f) && !err)
		err = -errno;
	if (err) {
		free(*buf);
		*buf = NULL;
		set_err(s, "encoding the state: %s", strerror(-err));
	}
	return err;
}

int coord_state_decode(struct coord_store *s, const char *name,
		       const char *buf, size_t len, struct coord_state *out)
{
	FILE *f;

	s->err[0] = '\0';
	if (!len) {
		set_err(s, "%s: empty state", name);
		return -EBADMSG;
	}
	/* fmemopen's "r" only reads: the cast does not let it write. */
	f = fmemopen((void *)buf, len, "r");
	if (!f) {
		int err = -errno;

		set_err(s, "%s: fmemopen: %s", name, strerror(-err));
		return err;
	}
	return load_stream(s, name, f, out);
}

static int file_save(struct coord_store *s, const struct coord_state *st)
{
	struct file_store *fs = to_fs(s);
	const char *why, *step;
	FILE *f;
	int fd, err, dfd;

	s->err[0] = '\0';
	why = state_invalid(st);
	if (why) {
		set_err(s, "refusing to save inconsistent state: %s", why);
		return -EINVAL;
	}
	step = "create";
	fd = open(fs->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		set_err(s, "%s: %s: %s", fs->tmp, step, strerror(-err));
		return err;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		step = "fdopen";
		goto fail_unlink;
	}
	step = "write";
	err = write_state(f, st);
	if (!err && fflush(f))
		err = -errno;
	/* Data must be on disk before the rename makes it the state. */
	if (!err && fsync(fileno(f))) {
		err = -errno;
		step = "fsync";
	}
	if (fclose(f) && !err) {
		err = -errno;
		step = "close";
	}
	if (err)
		goto fail_unlink;
	if (rename(fs->tmp, fs->path)) {
		err = -errno;
		step = "rename";
		goto fail_unlink;
	}
	/* Make the rename itself durable. */
	dfd = open(fs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd)) {
		err = -errno;
		if (dfd >= 0)
			close(dfd);
		set_err(s, "%s: directory fsync: %s", fs->dir, strerror(-err));
		return err;
	}
	close(dfd);
	return 0;
fail_unlink:
	unlink(fs->tmp);
	set_err(s, "%s: %s: %s", fs->tmp, step, strerror(-err));
	return err;
}

static void file_close(struct coord_store *s)
{
	struct file_store *fs = to_fs(s);

	free(fs->path);
	free(fs->tmp);
	free(fs->dir);
	free(fs);
}

int coord_store_load(struct coord_store *s, struct tablet_map *out)
{
	struct coord_state st;
	int err;

	coord_state_init(&st);
	err = coord_store_load_state(s, &st);
	if (err)
		return err;
	tmap_free(out);
	*out = st.map;
	tmap_init(&st.map);
	coord_state_free(&st);
	return 0;
}

int coord_store_save(struct coord_store *s, const struct tablet_map *m)
{
	struct coord_state st;

	coord_state_init(&st);
	st.map = *m;	/* borrowed: only read by save */
	return coord_store_save_state(s, &st);
}

static const struct coord_store_ops file_ops = {
	.load = file_load,
	.save = file_save,
	.close = file_close,
};

int coord_store_open_file(const char *path, struct coord_store **out)
{
	struct file_store *fs;
	const char *slash;
	size_t len;

	if (!path || !*path || !out)
		return -EINVAL;
	len = strlen(path);
	if (path[len - 1] == '/')
		return -EINVAL;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->base.ops = &file_ops;
	fs->path = strdup(path);
	fs->tmp = malloc(len + 5);
	slash = strrchr(path, '/');
	if (!slash)
		fs->dir = strdup(".");
	else if (slash == path)
		fs->dir = strdup("/");
	else
		fs->dir = strndup(path, (size_t)(slash - path));
	if (!fs->path || !fs->tmp || !fs->dir) {
		free(fs->path);
		free(fs->tmp);
		free(fs->dir);
		free(fs);
		return -ENOMEM;
	}
	memcpy(fs->tmp, path, len);
	memcpy(fs->tmp + len, ".tmp", 5);
	/* base is the first member: the same pointer (and the analyzer sees it). */
	*out = (struct coord_store *)fs;
	return 0;
}
