// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_wire: a frame-aware fuzzer of a node's data port (selftests/fuzz_wire.sh
 * runs it in a guest while real migrations run).
 *
 *   fuzz_wire IP PORT FRAMES SEED TABLES MIG_TABLES MAX_MIG_ID
 *
 * Sends FRAMES request frames of every opcode (the client ops and the
 * node-to-node migration ops PREPARE, PULL, PRIORITY_PULL, END, PUSH_BACK,
 * plus unknown ones), pipelined in sessions of up to 64 frames: valid
 * headers with bodies that are well-formed, bit-flipped, or carry lying
 * inner lengths (a key, value, count or batch length that claims more than
 * the body holds, or a body shorter than its fixed part); now and then a
 * session ends with a frame whose body_len is over the limit, a bad
 * magic, version or reserved field, or a frame cut short by a half-close.
 *
 * Most connections first authenticate as a peer with the cluster key
 * ($STEADYKV_CLUSTER_KEY, see st_cluster_key()), so the migration ops reach
 * the source's handlers; one in UNAUTH_EVERY does not, and its first
 * migration op must get AUTH_REQUIRED and close the connection.  Now and
 * then an AUTH_HELLO or AUTH_PROOF with a random body: on an authenticated
 * connection (a second HELLO, a PROOF without one) and on a fresh one (an
 * unknown key id, no HELLO) it must get AUTH_FAILED and close.
 *
 * Client ops name a table of TABLES (comma-separated) or a random id at or
 * above 2^32; migration ops a table of MIG_TABLES or such a random id, and
 * a migration id in 1..MAX_MIG_ID (so they hit the live ones).  No frame
 * ever names another table: the caller's control keys live there.
 *
 * Checked for every frame: a frame with a good header gets exactly one
 * reply, in order, with its request id and opcode, SKV_F_REPLY, zero
 * reserved fields and a known status; one whose inner lengths overrun its
 * body is never answered OK; a bad header gets BAD_REQUEST or TOO_BIG (no
 * reply for a bad magic) and then the connection closes; after a half-close
 * the frames before it are answered and the connection closes.
 *
 * Prints the seed first (rerun with the same arguments to reproduce),
 * TAP at the end.  Exit 0 if every check held, 1 otherwise, 2 on usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "skv_util.h"
#include "record.h"
#include "fuzz_util.h"

#define SESSION_FRAMES	64
/* Largest reply: a pull of the largest budget plus the largest record. */
#define REPLY_MAX	(SKV_MAX_PULL_BUDGET + 2 * SKV_MAX_BODY_LEN)
#define IO_TIMEOUT_MS	30000
#define RANDOM_TABLE_MIN (1ull << 32)

static uint64_t *tables, *mig_tables;
static unsigned int ntables, nmig_tables;
static uint64_t max_mig_id;

static unsigned int parse_list(const char *s, uint64_t **out)
{
	char *copy = strdup(s), *tok, *save = NULL;
	unsigned int n = 0;

	*out = calloc(64, sizeof(**out));
	for (tok = strtok_r(copy, ",", &save); tok && n < 64; tok = strtok_r(NULL, ",", &save))
		(*out)[n++] = strtoull(tok, NULL, 0);
	free(copy);
	return n;
}

static uint64_t pick_table(const uint64_t *list, unsigned int n)
{
	if (!n || below(10) == 0)
		return RANDOM_TABLE_MIN + below(1000);
	return list[below(n)];
}

/* A hash: often a boundary, else random. */
static uint64_t pick_hash(void)
{
	static const uint64_t edges[] = { 0, 1, 1ull << 63, (1ull << 63) - 1, UINT64_MAX,
					  UINT64_MAX - 1 };

	return below(3) ? rnd() : edges[below(sizeof(edges) / sizeof(edges[0]))];
}

static void fill_random(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* A key length: mostly short, sometimes at or over the limit. */
static uint32_t pick_klen(void)
{
	uint32_t r = below(100);

	if (r < 90)
		return 1 + below(32);
	if (r < 95)
		return 0;
	return SKV_MAX_KEY_LEN - 1 + below(3);
}

static uint32_t pick_vlen(void)
{
	uint32_t r = below(1000);

	if (r < 950)
		return below(256);
	if (r < 995)
		return below(8192);
	return SKV_MAX_VALUE_LEN - 1 + below(3);
}

struct frame {
	uint8_t op;
	uint64_t id;
	uint8_t *buf;		/* header + body */
	size_t len;
	bool overrun;		/* an inner length claims more than the body */
	bool closes;		/* bad header: the node answers (or not) and closes */
	bool answered;		/* a closing frame that still gets a reply */
	uint8_t close_status;	/* the status it closes with; 0: BAD_REQUEST or TOO_BIG */
};

/* One connection in this many does not authenticate. */
#define UNAUTH_EVERY	16
/* One frame in this many is an AUTH_HELLO or AUTH_PROOF (each closes). */
#define AUTH_OP_EVERY	400

/* Room for the largest body we build. */
#define BODY_CAP	(SKV_MAX_BODY_LEN + 64 * 1024)
static uint8_t body[BODY_CAP];

/* A batch of well-formed records of table (for PUSH_BACK). */
static size_t build_batch(uint8_t *p, uint64_t table)
{
	uint8_t *recs = p + sizeof(struct skv_batch_hdr);
	uint32_t n = below(5), i, len = 0;
	uint8_t key[32], val[64];

	for (i = 0; i < n; i++) {
		bool tomb = below(4) == 0;
		uint32_t kl = 1 + below(sizeof(key)), vl = tomb ? 0 : below(sizeof(val));

		fill_random(key, kl);
		fill_random(val, vl);
		skv_rec_write(recs + len, tomb ? SKV_REC_TOMBSTONE : SKV_REC_OBJECT, table,
			      st_xxh64(key, kl), below(2) ? below(1000) : rnd(),
			      key, kl, val, vl, skv_rec_payload_crc(key, kl, val, vl));
		len += skv_rec_len(kl, vl);
	}
	put32(p, SKV_BATCH_MAGIC);
	put32(p + 4, n);
	put32(p + 8, len);
	put32(p + 12, 0);	/* reserved */
	return sizeof(struct skv_batch_hdr) + len;
}

/* No flag, the op's own flag, or random bits. */
static uint32_t pick_flags(uint32_t own)
{
	return below(2) ? 0 : below(2) ? own : (uint32_t)rnd();
}

static size_t build_range(uint8_t *b, uint32_t flags)
{
	memset(b, 0, sizeof(struct skv_mig_range_req));
	put64(b, below(8) ? 1 + below(max_mig_id) : rnd());
	put64(b + 8, pick_table(mig_tables, nmig_tables));
	if (below(2)) {
		put64(b + 16, below(2) ? 0 : 1ull << 63);
		put64(b + 24, below(2) ? UINT64_MAX : (1ull << 63) - 1);
	} else {
		put64(b + 16, pick_hash());
		put64(b + 24, pick_hash());
	}
	put32(b + 32, flags);
	/* The migration's epoch: none, or any (a PREPARE may be stale). */
	put32(b + 36, below(2) ? 0 : (uint32_t)rnd());
	return sizeof(struct skv_mig_range_req);
}

/* table_id, expect_version, key_len: where skv_key_req and skv_put_req agree. */
_Static_assert(offsetof(struct skv_put_req, expect_version) ==
	       offsetof(struct skv_key_req, expect_version) &&
	       offsetof(struct skv_put_req, key_len) == offsetof(struct skv_key_req, key_len),
	       "GET/DELETE and PUT bodies start alike");
static void put_key_head(uint32_t klen)
{
	put64(body + offsetof(struct skv_key_req, table_id), pick_table(tables, ntables));
	put64(body + offsetof(struct skv_key_req, expect_version), below(3) ? 0 : below(100));
	put16(body + offsetof(struct skv_key_req, key_len), klen);
}

/*
 * Build the body of op into body[]; with lie set, make one inner length
 * claim more than the body holds.  Returns the body length; *overrun says
 * whether the lie took (some ops have no inner length to lie with).
 */
static size_t build_body(uint8_t op, bool lie, bool *overrun)
{
	uint32_t kl, vl, n, i;
	size_t len = 0;

	*overrun = false;
	switch (op) {
	case SKV_OP_PING:
		return 0;
	case SKV_OP_GET:
	case SKV_OP_DELETE:
		kl = pick_klen();
		memset(body, 0, sizeof(struct skv_key_req));
		put_key_head(kl);
		fill_random(body + 24, kl);
		len = 24 + kl;
		if (lie) {
			put16(body + 16, kl + 1 + below(64));
			*overrun = true;
		}
		return len;
	case SKV_OP_PUT:
		kl = pick_klen();
		vl = pick_vlen();
		memset(body, 0, sizeof(struct skv_put_req));
		put_key_head(kl);
		put32(body + 20, vl);
		fill_random(body + 24, kl + (vl < 64 ? vl : 64));
		len = 24 + kl + vl;
		if (lie) {
			if (below(2))
				put16(body + 16, kl + 1 + below(64));
			else
				put32(body + 20, vl + 1 + below(1 << 20));
			*overrun = true;
		}
		return len;
	case SKV_OP_MULTI_GET:
		n = below(10) ? below(16) : below(SKV_MAX_MULTI_KEYS + 8);
		memset(body, 0, sizeof(struct skv_multi_req));
		put64(body, pick_table(tables, ntables));
		put16(body + 8, n);
		len = sizeof(struct skv_multi_req);
		for (i = 0; i < n; i++) {
			kl = 1 + below(24);
			put16(body + len, kl);
			fill_random(body + len + 2, kl);
			len += 2 + kl;
		}
		if (lie) {
			if (n && below(2)) {
				/* The last key claims more bytes than follow. */
				put16(body + len - 2 - kl, kl + 1 + below(64));
			} else {
				put16(body + 8, n + 1 + below(8));
			}
			*overrun = true;
		}
		return len;
	case SKV_OP_MIG_PREPARE:
		len = build_range(body, pick_flags(SKV_MIG_F_KEEP_OWNER));
		break;
	case SKV_OP_MIG_END:
		len = build_range(body, pick_flags(SKV_MIG_F_ABORT));
		break;
	case SKV_OP_MIG_STATUS:
		len = build_range(body, pick_flags(SKV_MIG_F_ABORT));
		break;
	case SKV_OP_MIG_PUSH_BACK:
		len = build_range(body, 0);
		/* The target's version counter: sometimes below the records. */
		put64(body + len, below(2) ? UINT64_MAX : rnd());
		len += 8;
		len += build_batch(body + len, get64(body + 8));
		if (lie) {
			/* The batch claims more record bytes than follow. */
			put32(body + 48 + 8, get32(body + 56) + 8 + below(4096));
			*overrun = true;
			return len;
		}
		break;
	case SKV_OP_MIG_PULL:
		memset(body, 0, sizeof(struct skv_pull_req));
		put64(body, below(8) ? 1 + below(max_mig_id) : rnd());
		put64(body + 8, pick_table(mig_tables, nmig_tables));
		put64(body + 16, pick_hash());
		put64(body + 24, pick_hash());
		put64(body + 32, pick_hash());
		put64(body + 40, below(2) ? 0 : rnd());
		put32(body + 48, below(10) ? below(64 * 1024) : (uint32_t)rnd());
		len = sizeof(struct skv_pull_req);
		break;
	case SKV_OP_MIG_PRIORITY_PULL:
		n = below(10) ? 1 + below(SKV_MAX_PRIO_HASHES) : below(SKV_MAX_PRIO_HASHES + 16);
		memset(body, 0, sizeof(struct skv_prio_pull_req));
		put64(body, below(8) ? 1 + below(max_mig_id) : rnd());
		put64(body + 8, pick_table(mig_tables, nmig_tables));
		put16(body + 16, n);
		len = sizeof(struct skv_prio_pull_req);
		for (i = 0; i < n; i++, len += 8)
			put64(body + len, pick_hash());
		if (lie) {
			put16(body + 16, n + 1 + below(8));
			*overrun = true;
			return len;
		}
		return len;
	default:
		/* Unknown ops: random bytes. */
		len = below(64);
		fill_random(body, len);
		return len;
	}
	/* Fixed-size bodies lie by being shorter than their struct. */
	if (lie) {
		len = below(len);
		*overrun = true;
	}
	return len;
}

static const uint8_t ops[] = {
	SKV_OP_PING, SKV_OP_GET, SKV_OP_PUT, SKV_OP_DELETE, SKV_OP_MULTI_GET,
	SKV_OP_MIG_PREPARE, SKV_OP_MIG_PULL, SKV_OP_MIG_PRIORITY_PULL, SKV_OP_MIG_END,
	SKV_OP_MIG_PUSH_BACK, SKV_OP_MIG_STATUS, 0, SKV_OP_MAX, 255,
};

static uint64_t next_id = 1;

/* Per-kind counts, for the report. */
static unsigned long n_frames, n_flipped, n_lies, n_closing, n_cut, n_replies;
static unsigned long n_by_op[256];

static unsigned long n_auth_required, n_auth_failed;

static bool is_mig_op(uint8_t op)
{
	return (op >= SKV_OP_MIG_PREPARE && op <= SKV_OP_MIG_PUSH_BACK) ||
	       op == SKV_OP_MIG_STATUS;
}

/* authed: the connection proved the cluster key. */
static void make_frame(struct frame *f, bool may_close, bool authed)
{
	uint8_t op = ops[below(sizeof(ops))];
	uint32_t r = below(1000), blen;
	bool lie = r >= 600 && r < 850, overrun;
	size_t len;
	uint8_t *p;

	if (may_close && below(AUTH_OP_EVERY) == 0)
		op = below(2) ? SKV_OP_AUTH_HELLO : SKV_OP_AUTH_PROOF;
	len = build_body(op, lie, &overrun);

	memset(f, 0, sizeof(*f));
	f->op = op;
	f->id = next_id++;
	f->overrun = overrun;
	f->buf = p = malloc(sizeof(struct skv_hdr) + len);
	st_hdr(p, op, f->id, len);
	memcpy(p + sizeof(struct skv_hdr), body, len);
	f->len = sizeof(struct skv_hdr) + len;
	/* A client's epoch (wire.h): answered, maybe STALE_EPOCH. */
	if (below(4) == 0)
		put32(p + 20, (uint32_t)rnd());
	if (r >= 850 && r < 985 && len) {
		/* Flip a few body bytes: no expectation beyond a sane reply. */
		unsigned int i, n = 1 + below(4);

		for (i = 0; i < n; i++)
			p[sizeof(struct skv_hdr) + below(len)] ^= 1 << below(8);
		f->overrun = false;
		n_flipped++;
	}
	if (f->overrun)
		n_lies++;
	if (may_close && r >= 985) {
		/* A bad header: the node answers it (bad magic: not) and closes. */
		f->closes = true;
		f->answered = true;
		switch (below(4)) {
		case 0:
			put16(p, SKV_WIRE_MAGIC ^ (1 + below(0xfffe)));
			f->answered = false;
			break;
		case 1:
			p[2] = SKV_WIRE_VERSION + 1 + below(200);
			break;
		case 2:
			put16(p + 6, 1 + below(0xfffe));
			break;
		default:
			blen = SKV_MAX_BODY_LEN + 1 + below(1u << 30);
			put32(p + 16, blen);
			break;
		}
		/*
		 * Only the header: body bytes the node never reads would make
		 * its close a reset, which can drop the replies in flight.
		 */
		f->len = sizeof(struct skv_hdr);
		n_closing++;
	} else if (may_close && (op == SKV_OP_AUTH_HELLO || op == SKV_OP_AUTH_PROOF ||
				 (!authed && is_mig_op(op)))) {
		/* Refused whatever the body: answered, then the connection closes. */
		f->closes = true;
		f->answered = true;
		f->overrun = false;
		f->close_status = is_mig_op(op) ? SKV_S_AUTH_REQUIRED : SKV_S_AUTH_FAILED;
		if (is_mig_op(op))
			n_auth_required++;
		else
			n_auth_failed++;
	}
	n_by_op[op]++;
}

struct conn {
	int fd;
	uint8_t *in;
	size_t ilen, icap;
	bool eof;
};

static int fail_count;

static void __attribute__((format(printf, 1, 2))) report(const char *fmt, ...)
{
	va_list ap;

	printf("# FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fail_count++;
}

/* 1 = a whole reply parsed into *h (body skipped), 0 = need more, -1 = bad. */
static int parse_reply(struct conn *c, struct skv_hdr *h)
{
	uint32_t blen;

	if (c->ilen < sizeof(*h))
		return 0;
	h->magic = get16(c->in);
	h->version = c->in[2];
	h->opcode = c->in[3];
	h->flags = c->in[4];
	h->status = c->in[5];
	h->reserved = get16(c->in + 6);
	h->request_id = get64(c->in + 8);
	h->body_len = blen = get32(c->in + 16);
	h->epoch = get32(c->in + 20);
	if (h->magic != SKV_WIRE_MAGIC || h->version != SKV_WIRE_VERSION ||
	    h->flags != SKV_F_REPLY || h->reserved || h->epoch || blen > REPLY_MAX)
		return -1;
	if (c->ilen < sizeof(*h) + blen)
		return 0;
	memmove(c->in, c->in + sizeof(*h) + blen, c->ilen - sizeof(*h) - blen);
	c->ilen -= sizeof(*h) + blen;
	return 1;
}

static int conn_open(struct conn *c, const char *ip, uint16_t port, bool authed)
{
	int st;

	c->fd = st_connect_wait(ip, port, IO_TIMEOUT_MS);
	if (c->fd < 0)
		return -1;
	if (authed) {
		st = st_auth(c->fd, st_cluster_key());
		if (st != SKV_S_OK) {
			report("authentication: %s", st < 0 ? st_last_error : st_status_name(st));
			close(c->fd);
			c->fd = -1;
			return -1;
		}
	}
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->ilen = 0;
	c->eof = false;
	return 0;
}

/*
 * Send the session's bytes and collect the replies while sending (the
 * node's replies can fill our socket while we still send).  Checks each
 * reply against its frame.  Returns 0 if the session went as expected, with
 * *closed set when the node closed the connection.
 */
static int run_session(struct conn *c, struct frame *fr, int n, const uint8_t *tail,
		       size_t tail_len, bool *closed)
{
	size_t total = 0, sent = 0, off = 0;
	uint8_t *out;
	int i, want = 0, got = 0, rc = 0;
	bool expect_close = tail_len || (n && fr[n - 1].closes);
	uint64_t deadline = st_now_ms() + IO_TIMEOUT_MS;

	for (i = 0; i < n; i++) {
		total += fr[i].len;
		if (!fr[i].closes || fr[i].answered)
			want++;
	}
	out = malloc(total + tail_len);
	for (i = 0; i < n; i++) {
		memcpy(out + off, fr[i].buf, fr[i].len);
		off += fr[i].len;
	}
	memcpy(out + off, tail, tail_len);
	total += tail_len;

	*closed = false;
	while (got < want || (expect_close && !c->eof)) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		struct skv_hdr h;
		ssize_t k;
		int pr;

		if (sent < total)
			pfd.events |= POLLOUT;
		if (st_now_ms() > deadline) {
			report("no progress for %d ms (%d replies missing)", IO_TIMEOUT_MS, want - got);
			rc = -1;
			break;
		}
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && sent < total) {
			k = send(c->fd, out + sent, total - sent, MSG_NOSIGNAL);
			if (k > 0) {
				sent += k;
				if (sent == total && tail_len)
					shutdown(c->fd, SHUT_WR);
			} else if (k < 0 && errno != EAGAIN && !expect_close) {
				report("send: %s", strerror(errno));
				rc = -1;
				break;
			} else if (k < 0 && errno != EAGAIN) {
				sent = total;	/* closed under us after a bad header */
			}
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (c->icap - c->ilen < 65536) {
			c->icap = c->icap ? 2 * c->icap : 1 << 20;
			c->in = realloc(c->in, c->icap);
		}
		k = recv(c->fd, c->in + c->ilen, c->icap - c->ilen, 0);
		if (k == 0 || (k < 0 && errno != EAGAIN)) {
			c->eof = true;
			if (got < want) {
				report("connection closed with %d of %d replies", got, want);
				rc = -1;
			}
			break;
		}
		if (k < 0)
			continue;
		c->ilen += k;
		deadline = st_now_ms() + IO_TIMEOUT_MS;
		while ((pr = parse_reply(c, &h)) == 1) {
			const struct frame *f;

			/* Replies come in order; closing frames without one are last. */
			if (got >= want) {
				report("reply (id %llu) beyond the %d owed",
				       (unsigned long long)h.request_id, want);
				rc = -1;
				break;
			}
			f = &fr[got++];
			n_replies++;
			if (h.request_id != f->id || h.opcode != f->op) {
				report("reply out of order: id %llu op %u, want id %llu op %u",
				       (unsigned long long)h.request_id, h.opcode,
				       (unsigned long long)f->id, f->op);
				rc = -1;
			} else if (h.status >= SKV_S_MAX) {
				report("unknown status %u (op %u)", h.status, f->op);
				rc = -1;
			} else if (f->overrun && h.status == SKV_S_OK) {
				report("OK to a frame whose inner length overruns its body (op %u, id %llu)",
				       f->op, (unsigned long long)f->id);
				rc = -1;
			} else if (f->closes && f->close_status && h.status != f->close_status) {
				report("op %u answered %s, want %s (id %llu)", f->op,
				       st_status_name(h.status), st_status_name(f->close_status),
				       (unsigned long long)f->id);
				rc = -1;
			} else if (f->closes && !f->close_status && h.status != SKV_S_BAD_REQUEST &&
				   h.status != SKV_S_TOO_BIG) {
				report("bad header answered %s (id %llu)", st_status_name(h.status),
				       (unsigned long long)f->id);
				rc = -1;
			}
		}
		if (pr < 0) {
			report("malformed reply header after %d of %d replies", got, want);
			rc = -1;
			break;
		}
	}
	free(out);
	*closed = c->eof || rc;
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long frames, done = 0, sessions = 0, closes = 0;
	struct frame fr[SESSION_FRAMES];
	struct conn c = { .fd = -1 };
	bool authed = false;
	const char *ip;
	uint16_t port;
	uint64_t seed, t0;
	int i;

	if (argc != 8) {
		fprintf(stderr, "usage: fuzz_wire IP PORT FRAMES SEED TABLES MIG_TABLES MAX_MIG_ID\n");
		return 2;
	}
	ip = argv[1];
	port = atoi(argv[2]);
	frames = strtoul(argv[3], NULL, 0);
	seed = strtoull(argv[4], NULL, 0);
	ntables = parse_list(argv[5], &tables);
	nmig_tables = parse_list(argv[6], &mig_tables);
	max_mig_id = strtoull(argv[7], NULL, 0);
	if (!max_mig_id)
		max_mig_id = 1;
	fz_seed(seed);
	printf("# fuzz_wire %s:%u frames=%lu seed=%llu\n", ip, port, frames,
	       (unsigned long long)seed);
	fflush(stdout);
	t0 = st_now_ms();

	while (done < frames && fail_count < 10) {
		uint8_t tail[sizeof(struct skv_hdr) + 64];
		size_t tail_len = 0;
		bool closed;
		int n = 0;

		if (c.fd < 0) {
			authed = below(UNAUTH_EVERY) != 0;
			if (conn_open(&c, ip, port, authed)) {
				report("connect: %s", st_last_error);
				break;
			}
		}
		while (n < SESSION_FRAMES && done + n < frames) {
			make_frame(&fr[n], true, authed);
			if (fr[n++].closes)
				break;
		}
		/* Now and then a frame cut short by a half-close ends the session. */
		if (!fr[n - 1].closes && below(50) == 0) {
			uint32_t blen = 1 + below(4096);

			st_hdr(tail, ops[below(10)], next_id++, blen);
			tail_len = sizeof(struct skv_hdr) + below(blen < 64 ? blen : 64);
			fill_random(tail + sizeof(struct skv_hdr), tail_len - sizeof(struct skv_hdr));
			n_cut++;
		}
		run_session(&c, fr, n, tail, tail_len, &closed);
		for (i = 0; i < n; i++)
			free(fr[i].buf);
		done += n + (tail_len ? 1 : 0);
		sessions++;
		if (closed || tail_len) {
			close(c.fd);
			c.fd = -1;
			closes++;
		}
	}
	n_frames = done;
	printf("# %lu frames in %lu sessions (%lu connections closed) in %llu ms: %lu replies\n",
	       done, sessions, closes, (unsigned long long)(st_now_ms() - t0), n_replies);
	printf("# bit-flipped %lu, lying inner lengths %lu, bad headers %lu, cut by half-close %lu\n",
	       n_flipped, n_lies, n_closing, n_cut);
	printf("# refused: %lu migration ops unauthenticated (AUTH_REQUIRED), %lu auth steps (AUTH_FAILED)\n",
	       n_auth_required, n_auth_failed);
	printf("# per opcode:");
	for (i = 0; i < 256; i++)
		if (n_by_op[i])
			printf(" %d:%lu", i, n_by_op[i]);
	printf("\n");
	if (c.fd >= 0)
		close(c.fd);
	printf("1..1\n%s 1 fuzz_wire %s:%u: %lu frames, seed %llu\n", fail_count ? "not ok" : "ok",
	       ip, port, done, (unsigned long long)seed);
	return fail_count || done < frames ? 1 : 0;
}
