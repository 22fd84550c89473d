// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator's state in etcd, and its leader election (state_etcd.h
 * says what is stored where and why two coordinators never both commit).
 *
 * The election is etcd's usual one: the leader key is created, only if
 * absent (compare CREATE == 0), with this coordinator's lease attached;
 * it lives as long as the lease does, and the lease as long as the
 * leader's loop keeps it alive.  Every request has a short timeout
 * (ETCD_TIMEOUT_MS per endpoint) so a lost etcd does not hold the loop
 * for long.  The leader counts its lease as lost one TTL after the send
 * time of the last keepalive etcd acknowledged: etcd's own countdown
 * starts later, so the old leader stops before a standby can be elected.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "state_etcd.h"

#define MAX_ENDPOINTS	16

struct http_buf {
	char *p;
	size_t len;
};

struct etcd_leader {
	CURL *curl;
	struct curl_slist *hdrs;
	char *endpoints[MAX_ENDPOINTS];
	size_t nr_ep, cur;		/* cur: the endpoint that answered last */
	char *leader_key, *state_key, *name;
	int ttl_s;
	int64_t lease;			/* 0: none granted (or known gone) */
	int64_t leader_rev;		/* our leader key's create revision, 0: not leader */
	int64_t lease_ok_ms;		/* send time of the last acknowledged grant/keepalive */
	int64_t keepalive_ms;		/* send time of the last keepalive tried */
	char holder[256];		/* the other leader last logged */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_msg(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- base64 (etcd's JSON carries keys and values so) ---- */

static char *b64_encode(const void *in, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

/*
 * A malloc'ed, NUL-terminated copy of what @in (NULL: "") encodes; NULL if
 * malformed.
 */
static char *b64_decode(const char *in, size_t *n)
{
	size_t len, pad = 0;
	unsigned char *out;
	int r;

	/* The gateway leaves out an empty value. */
	if (!in)
		in = "";
	len = strlen(in);
	if (len % 4)
		return NULL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return NULL;
	r = len ? EVP_DecodeBlock(out, (const unsigned char *)in, (int)len) : 0;
	if (r < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (len && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	*n = (size_t)r - pad;
	out[*n] = '\0';
	return (char *)out;
}

/* ---- JSON helpers: int64 travel as strings, absent fields are zero ---- */

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o && json_object_object_get_ex(o, key, &v))
		return v;
	return NULL;
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v ? json_object_get_int64(v) : 0;
}

static void jput_str(json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, json_object_new_string(s));
}

static void jput_int(json_object *o, const char *key, int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%lld", (long long)v);
	jput_str(o, key, s);
}

/* Put @key (and, if not NULL, base64 of @val) into @o; -ENOMEM. */
static int jput_kv(json_object *o, const char *key, const char *val,
		   size_t vlen)
{
	char *k = b64_encode(key, strlen(key)), *v = NULL;

	if (val)
		v = b64_encode(val, vlen);
	if (!k || (val && !v)) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	jput_str(o, "key", k);
	if (v)
		jput_str(o, "value", v);
	free(k);
	free(v);
	return 0;
}

/* The first key-value of a range response (kvs[0]), NULL if none. */
static json_object *first_kv(json_object *range)
{
	json_object *kvs = jget(range, "kvs");

	if (!kvs || !json_object_is_type(kvs, json_type_array) ||
	    !json_object_array_length(kvs))
		return NULL;
	return json_object_array_get_idx(kvs, 0);
}

/* responses[i].response_range of a txn's answer. */
static json_object *txn_range(json_object *resp, size_t i)
{
	json_object *rs = jget(resp, "responses");

	if (!rs || !json_object_is_type(rs, json_type_array) ||
	    json_object_array_length(rs) <= i)
		return NULL;
	return jget(json_object_array_get_idx(rs, i), "response_range");
}

/* ---- HTTP ---- */

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_buf *b = arg;
	size_t n = size * nmemb;
	char *p = realloc(b->p, b->len + n + 1);

	if (!p)
		return 0;	/* curl fails the transfer */
	memcpy(p + b->len, data, n);
	b->p = p;
	b->len += n;
	p[b->len] = '\0';
	return n;
}

/*
 * POST @req to @path, at the endpoint that answered last, then at the
 * others in turn.  *resp: the parsed answer.  -EHOSTUNREACH none
 * answered; -ENOENT etcd said NotFound (a lease gone); -EIO another
 * error status; -EPROTO not JSON.
 */
static int etcd_post(struct etcd_leader *l, const char *path, json_object *req,
		     json_object **resp, char *err, size_t errlen)
{
	const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	struct http_buf b = { NULL, 0 };
	long status = 0;
	size_t tries;
	int ret = -EHOSTUNREACH;

	*resp = NULL;
	for (tries = 0; tries < l->nr_ep; tries++) {
		char url[512];
		CURLcode rc;

		snprintf(url, sizeof(url), "%s%s", l->endpoints[l->cur], path);
		free(b.p);
		b.p = NULL;
		b.len = 0;
		curl_easy_setopt(l->curl, CURLOPT_URL, url);
		curl_easy_setopt(l->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(l->curl, CURLOPT_WRITEDATA, &b);
		rc = curl_easy_perform(l->curl);
		if (rc == CURLE_OK) {
			curl_easy_getinfo(l->curl, CURLINFO_RESPONSE_CODE, &status);
			ret = 0;
			break;
		}
		set_msg(err, errlen, "etcd %s: %s", url, curl_easy_strerror(rc));
		l->cur = (l->cur + 1) % l->nr_ep;
	}
	if (ret)
		goto out;
	*resp = b.p ? json_tokener_parse(b.p) : NULL;
	if (!*resp) {
		set_msg(err, errlen, "etcd %s: HTTP %ld, not JSON", path, status);
		ret = -EPROTO;
	} else if (status != 200) {
		json_object *m = jget(*resp, "message");

		if (!m)
			m = jget(*resp, "error");
		set_msg(err, errlen, "etcd %s: HTTP %ld: %s", path, status,
			m ? json_object_get_string(m) : "(no message)");
		/* gRPC's NotFound: a lease that expired or was revoked. */
		ret = jint(*resp, "code") == 5 ? -ENOENT : -EIO;
		json_object_put(*resp);
		*resp = NULL;
	}
out:
	free(b.p);
	return ret;
}

/* ---- the leader ---- */

static char *join(const char *a, const char *b)
{
	char *s = malloc(strlen(a) + strlen(b) + 1);

	if (s) {
		strcpy(s, a);
		strcat(s, b);
	}
	return s;
}

static int parse_endpoints(struct etcd_leader *l, const char *list,
			   char *err, size_t errlen)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");
		char *ep;

		if (l->nr_ep == MAX_ENDPOINTS || n == 0 ||
		    (strncmp(p, "http://", 7) && strncmp(p, "https://", 8)) ||
		    n >= 256) {
			set_msg(err, errlen, "bad etcd endpoint list '%s' "
				"(http://HOST:PORT[,...], at most %d)", list,
				MAX_ENDPOINTS);
			return -EINVAL;
		}
		ep = strndup(p, n);
		if (!ep)
			return -ENOMEM;
		while (n && ep[n - 1] == '/')
			ep[--n] = '\0';
		l->endpoints[l->nr_ep++] = ep;
		p += n;
		p += strspn(p, ",/");
	}
	if (!l->nr_ep) {
		set_msg(err, errlen, "empty etcd endpoint list");
		return -EINVAL;
	}
	return 0;
}

int etcd_leader_open(const char *endpoints, const char *prefix,
		     const char *name, int ttl_s, struct etcd_leader **out,
		     char *err, size_t errlen)
{
	struct etcd_leader *l;
	int ret;

	if (!prefix)
		prefix = ETCD_DEFAULT_PREFIX;
	if (!endpoints || !name || ttl_s < 0 || prefix[0] != '/') {
		set_msg(err, errlen, "etcd: bad arguments (the prefix starts with /)");
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		set_msg(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->ttl_s = ttl_s ? ttl_s : ETCD_DEFAULT_TTL_S;
	ret = parse_endpoints(l, endpoints, err, errlen);
	if (ret)
		goto fail;
	ret = -ENOMEM;
	set_msg(err, errlen, "out of memory");
	l->leader_key = join(prefix, "/leader");
	l->state_key = join(prefix, "/state");
	l->name = strdup(name);
	if (!l->leader_key || !l->state_key || !l->name)
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		goto fail;
	l->curl = curl_easy_init();
	l->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (!l->curl || !l->hdrs)
		goto fail;
	curl_easy_setopt(l->curl, CURLOPT_HTTPHEADER, l->hdrs);
	curl_easy_setopt(l->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(l->curl, CURLOPT_TIMEOUT_MS, (long)ETCD_TIMEOUT_MS);
	curl_easy_setopt(l->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_TIMEOUT_MS / 2);
	curl_easy_setopt(l->curl, CURLOPT_NOSIGNAL, 1L);
	err[0] = '\0';
	*out = l;
	return 0;
fail:
	etcd_leader_close(l);
	return ret;
}

void etcd_leader_close(struct etcd_leader *l)
{
	size_t i;

	if (!l)
		return;
	if (l->curl)
		curl_easy_cleanup(l->curl);
	curl_slist_free_all(l->hdrs);
	for (i = 0; i < l->nr_ep; i++)
		free(l->endpoints[i]);
	free(l->leader_key);
	free(l->state_key);
	free(l->name);
	free(l);
}

static bool lease_expired(const struct etcd_leader *l, int64_t now)
{
	return now - l->lease_ok_ms >= (int64_t)l->ttl_s * 1000;
}

static int lease_grant(struct etcd_leader *l, char *err, size_t errlen)
{
	json_object *req = json_object_new_object(), *resp;
	int64_t sent = mono_ms();
	int ret;

	jput_int(req, "TTL", l->ttl_s);
	ret = etcd_post(l, "/v3/lease/grant", req, &resp, err, errlen);
	json_object_put(req);
	if (ret)
		return ret;
	l->lease = jint(resp, "ID");
	json_object_put(resp);
	if (!l->lease) {
		set_msg(err, errlen, "etcd: lease grant without an ID");
		return -EPROTO;
	}
	l->lease_ok_ms = sent;
	return 0;
}

/* 0 renewed, -ENOENT the lease is gone, other -errno: not known. */
static int lease_keepalive(struct etcd_leader *l, char *err, size_t errlen)
{
	json_object *req = json_object_new_object(), *resp;
	int64_t sent = mono_ms();
	int ret;

	l->keepalive_ms = sent;
	jput_int(req, "ID", l->lease);
	ret = etcd_post(l, "/v3/lease/keepalive", req, &resp, err, errlen);
	json_object_put(req);
	if (ret)
		return ret;
	/* A lease etcd no longer has comes back without a TTL. */
	if (jint(jget(resp, "result"), "TTL") <= 0) {
		set_msg(err, errlen, "etcd: lease %llx expired",
			(unsigned long long)l->lease);
		ret = -ENOENT;
	} else {
		l->lease_ok_ms = sent;
	}
	json_object_put(resp);
	return ret;
}

int etcd_leader_try(struct etcd_leader *l, char *holder, size_t holder_len,
		    char *err, size_t errlen)
{
	json_object *req, *resp, *cmp, *put, *rng, *kv;
	int ret;

	holder[0] = '\0';
	if (l->lease && (lease_expired(l, mono_ms()) ||
			 lease_keepalive(l, err, errlen) == -ENOENT))
		l->lease = 0;
	if (!l->lease) {
		ret = lease_grant(l, err, errlen);
		if (ret)
			return ret;
	}
	req = json_object_new_object();
	cmp = json_object_new_object();
	put = json_object_new_object();
	rng = json_object_new_object();
	if (jput_kv(cmp, l->leader_key, NULL, 0) ||
	    jput_kv(put, l->leader_key, l->name, strlen(l->name)) ||
	    jput_kv(rng, l->leader_key, NULL, 0)) {
		ret = -ENOMEM;
		set_msg(err, errlen, "out of memory");
		json_object_put(cmp);
		json_object_put(put);
		json_object_put(rng);
		goto out;
	}
	/* Only if no leader key exists: its create revision is then 0. */
	jput_str(cmp, "target", "CREATE");
	jput_str(cmp, "result", "EQUAL");
	jput_int(cmp, "create_revision", 0);
	jput_int(put, "lease", l->lease);
	json_object_object_add(req, "compare", json_object_new_array());
	json_object_array_add(jget(req, "compare"), cmp);
	json_object_object_add(req, "success", json_object_new_array());
	json_object_array_add(jget(req, "success"), json_object_new_object());
	json_object_object_add(json_object_array_get_idx(jget(req, "success"), 0),
			       "request_put", put);
	json_object_object_add(req, "failure", json_object_new_array());
	json_object_array_add(jget(req, "failure"), json_object_new_object());
	json_object_object_add(json_object_array_get_idx(jget(req, "failure"), 0),
			       "request_range", rng);
	ret = etcd_post(l, "/v3/kv/txn", req, &resp, err, errlen);
	if (ret == -ENOENT)
		l->lease = 0;	/* expired between keepalive and put */
	if (ret)
		goto out;
	if (json_object_get_boolean(jget(resp, "succeeded"))) {
		l->leader_rev = jint(jget(resp, "header"), "revision");
		l->keepalive_ms = mono_ms();
		ret = 1;
	} else {
		kv = first_kv(txn_range(resp, 0));
		if (kv) {
			size_t n;
			char *name = b64_decode(json_object_get_string(jget(kv, "value")), &n);

			snprintf(holder, holder_len, "%s", name ? name : "?");
			free(name);
		}
		ret = 0;
	}
	json_object_put(resp);
out:
	json_object_put(req);
	return ret;
}

int etcd_leader_campaign(struct etcd_leader *l, const volatile sig_atomic_t *stop)
{
	int64_t step_ms = (int64_t)l->ttl_s * 100;
	char holder[256], err[256];
	bool said_err = false;

	while (!*stop) {
		struct timespec ts = { 0, (long)step_ms * 1000000 };
		int r = etcd_leader_try(l, holder, sizeof(holder), err, sizeof(err));

		if (r == 1) {
			fprintf(stderr, "steadykvd: elected leader at %s (lease %llx, TTL %d s)\n",
				l->leader_key, (unsigned long long)l->lease, l->ttl_s);
			l->holder[0] = '\0';
			return 0;
		}
		if (r < 0 && !said_err)
			fprintf(stderr, "steadykvd: standby: %s (trying again)\n", err);
		said_err = r < 0;
		if (r == 0 && strcmp(holder, l->holder)) {
			fprintf(stderr, "steadykvd: standby: the leader is %s; waiting for "
				"its lease to end\n", holder);
			snprintf(l->holder, sizeof(l->holder), "%s", holder);
		}
		/* etcd's lease is the condition; this only paces the polling. */
		nanosleep(&ts, NULL);
	}
	return -EINTR;
}

bool etcd_leader_held(const struct etcd_leader *l)
{
	return l->leader_rev != 0;
}

bool etcd_leader_tick(struct etcd_leader *l)
{
	int64_t now = mono_ms();

	if (!l->leader_rev)
		return false;
	if (now - l->keepalive_ms >= (int64_t)l->ttl_s * 1000 / 3) {
		char err[256];
		int ret = lease_keepalive(l, err, sizeof(err));

		if (ret == -ENOENT) {
			l->lease = 0;
			l->leader_rev = 0;
		}
		if (ret)
			fprintf(stderr, "steadykvd: leader keepalive: %s\n", err);
	}
	if (l->leader_rev && lease_expired(l, mono_ms()))
		l->leader_rev = 0;
	return l->leader_rev != 0;
}

void etcd_leader_resign(struct etcd_leader *l)
{
	json_object *req, *resp;
	char err[256];

	l->leader_rev = 0;
	if (!l->lease)
		return;
	req = json_object_new_object();
	jput_int(req, "ID", l->lease);
	if (etcd_post(l, "/v3/lease/revoke", req, &resp, err, sizeof(err)))
		fprintf(stderr, "steadykvd: lease revoke: %s\n", err);
	else
		json_object_put(resp);
	json_object_put(req);
	l->lease = 0;
}

/* ---- the state store ---- */

struct etcd_store {
	struct coord_store base;	/* first: callers only see this */
	struct etcd_leader *l;
	int64_t mod_rev;		/* the state key's, as last read or written; 0: absent */
};

static struct etcd_store *to_es(struct coord_store *s)
{
	return (struct etcd_store *)s;
}

static int etcd_load(struct coord_store *s, struct coord_state *out)
{
	struct etcd_store *es = to_es(s);
	json_object *req = json_object_new_object(), *resp, *kv;
	struct coord_state fresh;
	char *val = NULL;
	size_t n;
	int ret;

	s->err[0] = '\0';
	if (jput_kv(req, es->l->state_key, NULL, 0)) {
		json_object_put(req);
		return -ENOMEM;
	}
	ret = etcd_post(es->l, "/v3/kv/range", req, &resp, s->err, sizeof(s->err));
	json_object_put(req);
	if (ret)
		return ret;
	kv = first_kv(resp);
	if (!kv) {
		/* Never saved: a fresh cluster. */
		coord_state_free(out);
		es->mod_rev = 0;
		json_object_put(resp);
		return 0;
	}
	val = b64_decode(json_object_get_string(jget(kv, "value")), &n);
	if (!val) {
		snprintf(s->err, sizeof(s->err), "etcd %s: value not base64",
			 es->l->state_key);
		ret = -EBADMSG;
		goto out;
	}
	coord_state_init(&fresh);
	ret = coord_state_decode(s, es->l->state_key, val, n, &fresh);
	if (ret)
		goto out;
	coord_state_free(out);
	*out = fresh;
	es->mod_rev = jint(kv, "mod_revision");
out:
	free(val);
	json_object_put(resp);
	return ret;
}

static json_object *new_compare(const char *key, const char *target,
				const char *field, int64_t v)
{
	json_object *c = json_object_new_object();

	if (jput_kv(c, key, NULL, 0)) {
		json_object_put(c);
		return NULL;
	}
	jput_str(c, "target", target);
	jput_str(c, "result", "EQUAL");
	jput_int(c, field, v);
	return c;
}

static int etcd_save(struct coord_store *s, const struct coord_state *st)
{
	struct etcd_store *es = to_es(s);
	struct etcd_leader *l = es->l;
	json_object *req = NULL, *resp, *cmps, *c1, *c2, *put, *rng, *op, *kv;
	char *buf = NULL;
	size_t len;
	int ret;

	if (!l->leader_rev) {
		snprintf(s->err, sizeof(s->err), "not the leader: state not saved");
		return -EPERM;
	}
	ret = coord_state_encode(s, st, &buf, &len);
	if (ret)
		return ret;
	ret = -ENOMEM;
	req = json_object_new_object();
	cmps = json_object_new_array();
	json_object_object_add(req, "compare", cmps);
	c1 = new_compare(l->state_key, "MOD", "mod_revision", es->mod_rev);
	c2 = new_compare(l->leader_key, "CREATE", "create_revision", l->leader_rev);
	if (c1)
		json_object_array_add(cmps, c1);
	if (c2)
		json_object_array_add(cmps, c2);
	put = json_object_new_object();
	rng = json_object_new_object();
	if (!c1 || !c2 || jput_kv(put, l->state_key, buf, len) ||
	    jput_kv(rng, l->leader_key, NULL, 0)) {
		json_object_put(put);
		json_object_put(rng);
		snprintf(s->err, sizeof(s->err), "out of memory");
		goto out;
	}
	op = json_object_new_object();
	json_object_object_add(op, "request_put", put);
	json_object_object_add(req, "success", json_object_new_array());
	json_object_array_add(jget(req, "success"), op);
	op = json_object_new_object();
	json_object_object_add(op, "request_range", rng);
	json_object_object_add(req, "failure", json_object_new_array());
	json_object_array_add(jget(req, "failure"), op);
	ret = etcd_post(l, "/v3/kv/txn", req, &resp, s->err, sizeof(s->err));
	if (ret)
		goto out;
	if (json_object_get_boolean(jget(resp, "succeeded"))) {
		es->mod_rev = jint(jget(resp, "header"), "revision");
		s->err[0] = '\0';
	} else {
		kv = first_kv(txn_range(resp, 0));
		if (!kv || jint(kv, "create_revision") != l->leader_rev) {
			/* Our lease ended (and maybe another leads): stop. */
			l->leader_rev = 0;
			snprintf(s->err, sizeof(s->err), "not the leader any more "
				 "(%s is gone or another's): state not saved",
				 l->leader_key);
			ret = -EPERM;
		} else {
			snprintf(s->err, sizeof(s->err), "%s changed in etcd since "
				 "revision %lld: state not saved", l->state_key,
				 (long long)es->mod_rev);
			ret = -ESTALE;
		}
	}
	json_object_put(resp);
out:
	json_object_put(req);
	free(buf);
	return ret;
}

static void etcd_store_close(struct coord_store *s)
{
	free(to_es(s));
}

static const struct coord_store_ops etcd_ops = {
	.load = etcd_load,
	.save = etcd_save,
	.close = etcd_store_close,
};

int coord_store_open_etcd(struct etcd_leader *l, struct coord_store **out)
{
	struct etcd_store *es;

	if (!l || !out)
		return -EINVAL;
	es = calloc(1, sizeof(*es));
	if (!es)
		return -ENOMEM;
	es->base.ops = &etcd_ops;
	es->l = l;
	/* base is the first member: the same pointer. */
	*out = (struct coord_store *)es;
	return 0;
}
