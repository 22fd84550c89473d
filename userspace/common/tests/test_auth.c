// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Host tests of the challenge-response (auth_key.c, steadykv/auth.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "auth_key.h"

static void key_of(struct skv_auth_key *k, uint8_t first)
{
	uint8_t secret[32];

	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)(first + i);
	if (skv_auth_key_set(k, secret, sizeof(secret)))
		abort();
}

/* Figures from Python's hmac module, so the MAC is HMAC-SHA256 of T. */
TEST(key_id_and_mac_match_an_independent_hmac)
{
	static const uint8_t want[SKV_AUTH_MAC_LEN] = {
		0xea, 0x85, 0xa0, 0xc7, 0x2e, 0xa5, 0x5b, 0xe5, 0x8d, 0xb4, 0x05,
		0x12, 0xb0, 0x45, 0x84, 0x01, 0xf5, 0xd3, 0x6b, 0x1a, 0xd7, 0x43,
		0xbc, 0x66, 0x56, 0xfb, 0x63, 0xc8, 0x86, 0x4c, 0xcf, 0x1f,
	};
	struct skv_auth_key k;
	struct skv_auth_hello hello = { .role = SKV_AUTH_ROLE_PEER };
	uint8_t rnonce[SKV_AUTH_NONCE_LEN], mac[SKV_AUTH_MAC_LEN];

	key_of(&k, 0);
	ASSERT_EQ(0x99b487e4u, k.id);
	hello.key_id = htole32(k.id);
	memset(hello.nonce, 0xaa, sizeof(hello.nonce));
	memset(rnonce, 0x55, sizeof(rnonce));
	skv_auth_mac(&k, SKV_AUTH_LABEL_RESPONDER, &hello, rnonce, mac);
	ASSERT_EQ(0, memcmp(want, mac, sizeof(mac)));
}

TEST(both_sides_prove_the_same_key)
{
	struct skv_auth_key k, keys[2];
	struct skv_auth_hello hello;
	struct skv_auth_challenge ch;
	struct skv_auth_proof proof;

	key_of(&k, 1);
	key_of(&keys[0], 9);
	keys[1] = k;	/* a rotation: the second key is the one named */
	ASSERT_EQ(0, skv_auth_hello_init(&hello, &k, SKV_AUTH_ROLE_PEER));
	ASSERT_EQ(1, skv_auth_responder_challenge(keys, 2, &hello, &ch));
	ASSERT_EQ(1, skv_auth_initiator_prove(&k, &hello, &ch, &proof));
	ASSERT_EQ(1, skv_auth_responder_check(&keys[1], &hello, &ch, &proof));
}

TEST(an_unknown_key_or_reserved_bytes_are_refused)
{
	struct skv_auth_key k, other;
	struct skv_auth_hello hello;
	struct skv_auth_challenge ch;

	key_of(&k, 1);
	key_of(&other, 2);
	ASSERT_NE(k.id, other.id);
	ASSERT_EQ(0, skv_auth_hello_init(&hello, &k, SKV_AUTH_ROLE_PEER));
	ASSERT_EQ(-1, skv_auth_responder_challenge(&other, 1, &hello, &ch));
	ASSERT_EQ(0, skv_auth_responder_challenge(&k, 1, &hello, &ch));
	hello.reserved[1] = 1;
	ASSERT_EQ(-1, skv_auth_responder_challenge(&k, 1, &hello, &ch));
}

/* A responder that only claims the key id cannot make the initiator prove. */
TEST(a_responder_without_the_key_gets_no_proof)
{
	struct skv_auth_key k, impostor;
	struct skv_auth_hello hello;
	struct skv_auth_challenge ch;
	struct skv_auth_proof proof;

	key_of(&k, 1);
	key_of(&impostor, 3);
	impostor.id = k.id;
	ASSERT_EQ(0, skv_auth_hello_init(&hello, &k, SKV_AUTH_ROLE_PEER));
	ASSERT_EQ(0, skv_auth_responder_challenge(&impostor, 1, &hello, &ch));
	ASSERT_EQ(0, skv_auth_initiator_prove(&k, &hello, &ch, &proof));
}

/* A recorded proof fails against a fresh challenge; a reflected MAC too. */
TEST(a_replayed_or_reflected_proof_is_refused)
{
	struct skv_auth_key k, wrong;
	struct skv_auth_hello hello;
	struct skv_auth_challenge ch, ch2;
	struct skv_auth_proof proof, reflected;

	key_of(&k, 1);
	key_of(&wrong, 4);
	ASSERT_EQ(0, skv_auth_hello_init(&hello, &k, SKV_AUTH_ROLE_PEER));
	ASSERT_EQ(0, skv_auth_responder_challenge(&k, 1, &hello, &ch));
	ASSERT_EQ(1, skv_auth_initiator_prove(&k, &hello, &ch, &proof));
	ASSERT_EQ(0, skv_auth_responder_challenge(&k, 1, &hello, &ch2));
	ASSERT_NE(0, memcmp(ch.nonce, ch2.nonce, sizeof(ch.nonce)));
	ASSERT_EQ(0, skv_auth_responder_check(&k, &hello, &ch2, &proof));
	memcpy(reflected.mac, ch2.mac, sizeof(reflected.mac));
	ASSERT_EQ(0, skv_auth_responder_check(&k, &hello, &ch2, &reflected));
	ASSERT_EQ(0, skv_auth_responder_check(&wrong, &hello, &ch, &proof));
	/* Another role under the same nonces is another transcript. */
	hello.role = SKV_AUTH_ROLE_ADMIN;
	ASSERT_EQ(0, skv_auth_responder_check(&k, &hello, &ch, &proof));
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		abort();
	if (chmod(path, mode))
		abort();
}

TEST(key_files_are_checked)
{
	char dir[] = "/tmp/skv-auth-XXXXXX", path[64], err[256];
	static const char hex32[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	struct skv_auth_key k;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	write_file(path, hex32, 0600);
	ASSERT_EQ(0, skv_auth_key_load(&k, path, err, sizeof(err)));
	ASSERT_EQ(0x99b487e4u, k.id);
	write_file(path, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n", 0400);
	ASSERT_EQ(0, skv_auth_key_load(&k, path, err, sizeof(err)));
	ASSERT_EQ(0x99b487e4u, k.id);
	write_file(path, hex32, 0640);
	ASSERT_EQ(-1, skv_auth_key_load(&k, path, err, sizeof(err)));
	ASSERT_NE(NULL, strstr(err, "chmod 600"));
	write_file(path, "0001020304", 0600);
	ASSERT_EQ(-1, skv_auth_key_load(&k, path, err, sizeof(err)));
	write_file(path, "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0600);
	ASSERT_EQ(-1, skv_auth_key_load(&k, path, err, sizeof(err)));
	ASSERT_EQ(NULL, strstr(err, "0102"));	/* the secret is never echoed */
	unlink(path);
	ASSERT_EQ(-1, skv_auth_key_load(&k, path, err, sizeof(err)));
	rmdir(dir);
	skv_auth_key_clear(&k);
	ASSERT_EQ(0u, k.len);
}

TEST_HARNESS_MAIN
