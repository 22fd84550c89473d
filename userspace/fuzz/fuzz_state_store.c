// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the coordinator's state file loader
 * (userspace/coord/state_store.c) and the tablet map it rebuilds
 * (userspace/coord/tablet_map.c).
 *
 * The input is written as a state file (on /dev/shm, so the loader's and
 * saver's fsyncs cost little) and loaded.  Checked: a state that loads has
 * a map that passes tmap_check(); saved and loaded again, it saves to the
 * same bytes.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state_store.h"

static char in_path[64], out_path[64];

static int write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	return close(fd);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (!f)
		abort();
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc(n ? n : 1);
	if (fread(p, 1, n, f) != (size_t)n)
		abort();
	fclose(f);
	*len = n;
	return p;
}

static int load(const char *path, struct coord_state *st)
{
	struct coord_store *s;
	int rc;

	if (coord_store_open_file(path, &s))
		abort();
	rc = coord_store_load_state(s, st);
	coord_store_close(s);
	return rc;
}

static void save(const char *path, const struct coord_state *st)
{
	struct coord_store *s;

	if (coord_store_open_file(path, &s))
		abort();
	if (coord_store_save_state(s, st))
		abort();
	coord_store_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct coord_state st, st2;

	if (!in_path[0]) {
		snprintf(in_path, sizeof(in_path), "/dev/shm/skv-fuzz-state-%d", getpid());
		snprintf(out_path, sizeof(out_path), "/dev/shm/skv-fuzz-state-%d.out", getpid());
	}
	write_file(in_path, data, size);
	coord_state_init(&st);
	if (load(in_path, &st) == 0) {
		uint8_t *a, *b;
		size_t alen, blen;

		if (tmap_check(&st.map, NULL))
			abort();
		save(out_path, &st);
		a = read_file(out_path, &alen);
		coord_state_init(&st2);
		if (load(out_path, &st2))
			abort();
		save(out_path, &st2);
		b = read_file(out_path, &blen);
		if (alen != blen || memcmp(a, b, alen))
			abort();
		free(a);
		free(b);
		coord_state_free(&st2);
	}
	coord_state_free(&st);
	return 0;
}
