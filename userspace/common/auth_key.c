// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* steadykv authentication, userspace: see auth_key.h and steadykv/auth.h. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth_key.h"

_Static_assert(sizeof(struct skv_auth_hello) == 40, "auth hello is 40 bytes");
_Static_assert(sizeof(struct skv_auth_challenge) == 64, "auth challenge is 64 bytes");
_Static_assert(sizeof(struct skv_auth_proof) == 32, "auth proof is 32 bytes");
_Static_assert(sizeof(struct skv_auth_transcript) == 88, "auth transcript is 88 bytes");

static void hmac_sha256(const uint8_t *key, size_t key_len, const void *data,
			size_t len, uint8_t out[SKV_AUTH_MAC_LEN])
{
	unsigned int out_len = SKV_AUTH_MAC_LEN;

	HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

int skv_auth_key_set(struct skv_auth_key *k, const uint8_t *secret, size_t len)
{
	uint8_t mac[SKV_AUTH_MAC_LEN];

	if (len < SKV_AUTH_KEY_MIN_LEN || len > SKV_AUTH_KEY_MAX_LEN)
		return -1;
	memset(k, 0, sizeof(*k));
	memcpy(k->secret, secret, len);
	k->len = len;
	hmac_sha256(secret, len, SKV_AUTH_KEY_ID_LABEL,
		    strlen(SKV_AUTH_KEY_ID_LABEL), mac);
	k->id = (uint32_t)mac[0] | (uint32_t)mac[1] << 8 |
		(uint32_t)mac[2] << 16 | (uint32_t)mac[3] << 24;
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

void skv_auth_key_clear(struct skv_auth_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int skv_auth_key_load(struct skv_auth_key *k, const char *path,
		      char *err, size_t err_len)
{
	char text[2 * SKV_AUTH_KEY_MAX_LEN + 2];
	uint8_t secret[SKV_AUTH_KEY_MAX_LEN];
	struct stat st;
	size_t n = 0, len;
	ssize_t got;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, err_len, "key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "key file %s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, err_len, "key file %s: owned by uid %u, not by this user or root",
			 path, (unsigned int)st.st_uid);
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, err_len, "key file %s: mode %03o lets others read or write it (chmod 600)",
			 path, (unsigned int)(st.st_mode & 0777));
		goto out;
	}
	while (n < sizeof(text)) {
		got = read(fd, text + n, sizeof(text) - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, err_len, "key file %s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	len = n;
	if (len && text[len - 1] == '\n')
		len--;
	if (len == sizeof(text) - 1 || len % 2 ||
	    len < 2 * SKV_AUTH_KEY_MIN_LEN || len > 2 * SKV_AUTH_KEY_MAX_LEN) {
		snprintf(err, err_len, "key file %s: want %u to %u bytes as hex on one line",
			 path, SKV_AUTH_KEY_MIN_LEN, SKV_AUTH_KEY_MAX_LEN);
		goto out;
	}
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(err, err_len, "key file %s: not hex", path);
			goto out;
		}
		secret[i] = (uint8_t)(hi << 4 | lo);
	}
	ret = skv_auth_key_set(k, secret, len / 2);
out:
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(secret, sizeof(secret));
	close(fd);
	return ret;
}

void skv_auth_mac(const struct skv_auth_key *k, const char *label,
		  const struct skv_auth_hello *hello,
		  const uint8_t *responder_nonce, uint8_t mac[SKV_AUTH_MAC_LEN])
{
	struct skv_auth_transcript t;

	skv_auth_transcript_fill(&t, label, hello, responder_nonce);
	hmac_sha256(k->secret, k->len, &t, sizeof(t), mac);
}

int skv_auth_mac_equal(const uint8_t *a, const uint8_t *b)
{
	return CRYPTO_memcmp(a, b, SKV_AUTH_MAC_LEN) == 0;
}

static int fresh_nonce(uint8_t *nonce)
{
	return getrandom(nonce, SKV_AUTH_NONCE_LEN, 0) == SKV_AUTH_NONCE_LEN ? 0 : -1;
}

int skv_auth_hello_init(struct skv_auth_hello *hello,
			const struct skv_auth_key *k, enum skv_auth_role role)
{
	memset(hello, 0, sizeof(*hello));
	hello->key_id = htole32(k->id);
	hello->role = (uint8_t)role;
	return fresh_nonce(hello->nonce);
}

int skv_auth_initiator_prove(const struct skv_auth_key *k,
			     const struct skv_auth_hello *hello,
			     const struct skv_auth_challenge *ch,
			     struct skv_auth_proof *proof)
{
	uint8_t want[SKV_AUTH_MAC_LEN];

	skv_auth_mac(k, SKV_AUTH_LABEL_RESPONDER, hello, ch->nonce, want);
	if (!skv_auth_mac_equal(want, ch->mac))
		return 0;
	skv_auth_mac(k, SKV_AUTH_LABEL_INITIATOR, hello, ch->nonce, proof->mac);
	return 1;
}

int skv_auth_responder_challenge(const struct skv_auth_key *keys, int nkeys,
				 const struct skv_auth_hello *hello,
				 struct skv_auth_challenge *ch)
{
	uint32_t id = le32toh(hello->key_id);

	if (hello->reserved[0] || hello->reserved[1] || hello->reserved[2])
		return -1;
	for (int i = 0; i < nkeys; i++) {
		if (!keys[i].len || keys[i].id != id)
			continue;
		if (fresh_nonce(ch->nonce) < 0)
			return -1;
		skv_auth_mac(&keys[i], SKV_AUTH_LABEL_RESPONDER, hello,
			     ch->nonce, ch->mac);
		return i;
	}
	return -1;
}

int skv_auth_responder_check(const struct skv_auth_key *k,
			     const struct skv_auth_hello *hello,
			     const struct skv_auth_challenge *ch,
			     const struct skv_auth_proof *proof)
{
	uint8_t want[SKV_AUTH_MAC_LEN];

	skv_auth_mac(k, SKV_AUTH_LABEL_INITIATOR, hello, ch->nonce, want);
	return skv_auth_mac_equal(want, proof->mac);
}
