/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The coordinator's state in etcd 3.4, through etcd's v3 JSON gateway
 * (HTTP POST of JSON to /v3/..., keys and values base64; libcurl and
 * json-c), and the leader election the state's writes depend on.
 *
 * Keys under the prefix (default "/steadykv"):
 *   PREFIX/leader   the leader's name, held with its lease
 *   PREFIX/state    the state, encoded by coord_state_encode (the state
 *                   file's format)
 *
 * A save is one txn: it puts the state only if the state key's mod
 * revision is the one this coordinator last read or wrote AND the leader
 * key still has the create revision it got when elected (a key deleted
 * by its lease's expiry, or created again by another, has another).  So
 * of two coordinators at most one ever commits, and one that lost its
 * lease commits nothing more.
 */
#ifndef SKV_COORD_STATE_ETCD_H
#define SKV_COORD_STATE_ETCD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "state_store.h"

#define ETCD_DEFAULT_PREFIX	"/steadykv"
#define ETCD_DEFAULT_TTL_S	5	/* the leader's lease */
#define ETCD_TIMEOUT_MS		1000	/* one HTTP request, per endpoint */

struct etcd_leader;

/*
 * @endpoints: "http://HOST:PORT[,http://HOST:PORT...]" (a request that
 * fails to reach one tries the next); @prefix: NULL for the default;
 * @name: how this coordinator is named in the leader key (its address);
 * @ttl_s: the lease's TTL, 0 for the default.  Nothing is sent yet.
 * 0 or -errno with the reason in @err.
 */
int etcd_leader_open(const char *endpoints, const char *prefix,
		     const char *name, int ttl_s, struct etcd_leader **out,
		     char *err, size_t errlen);
void etcd_leader_close(struct etcd_leader *l);

/*
 * One attempt at leadership: grant a lease if there is none alive, and
 * create the leader key with it unless some leader holds it.  1: elected,
 * 0: another leader holds it (its name in @holder), -errno: etcd not
 * reachable or refused (reason in @err).
 */
int etcd_leader_try(struct etcd_leader *l, char *holder, size_t holder_len,
		    char *err, size_t errlen);

/*
 * Wait until elected (etcd_leader_try every tenth of the TTL, logging the
 * holder when it changes), or until *stop.  0 elected, -EINTR stopped.
 */
int etcd_leader_campaign(struct etcd_leader *l, const volatile sig_atomic_t *stop);

/*
 * Keep the lease alive: a keepalive when a third of the TTL went since
 * the last one; cheap otherwise.  Call it from the loop.  true while
 * still the leader; false once the lease is known gone, or once the TTL
 * passed since the last keepalive that etcd acknowledged (the key may be
 * gone by now: stop serving).
 */
bool etcd_leader_tick(struct etcd_leader *l);
bool etcd_leader_held(const struct etcd_leader *l);

/* Give up leadership now (revoke the lease): a standby takes over at once. */
void etcd_leader_resign(struct etcd_leader *l);

/*
 * The state store under @l's prefix; writes commit only while @l is the
 * leader (the txn above).  @l must outlive the store.
 */
int coord_store_open_etcd(struct etcd_leader *l, struct coord_store **out);

#endif /* SKV_COORD_STATE_ETCD_H */
