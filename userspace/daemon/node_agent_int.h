/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The node agent's own (see node_agent.h), split along its seams:
 *
 *   node_agent.c       logging, start-up (the listener) and the ppoll() loop
 *   node_agent_nl.c    the real module: node_agent_nl_ops on libskvnl
 *   node_agent_conn.c  the coordinator connection: connect, register, I/O
 *   node_agent_cmd.c   the coordinator's NODE_* commands and the replies
 *   node_agent_mig.c   the migrations seen and their MIG_REPORTs
 *   node_agent_recover.c  NODE_REPL_RECOVER on a thread of its own
 */
#ifndef SKV_NODE_AGENT_INT_H
#define SKV_NODE_AGENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth_key.h"
#include "coord_proto.h"
#include "node_agent.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct mig_entry {
	struct skv_migration m;	/* as the module last told it */
	bool reported;		/* m's state has been sent on this connection */
	uint32_t reported_state;
	uint64_t last_report_ms;
	bool pending;		/* progress held back by the rate limit */
};

enum conn_state { C_IDLE, C_CONNECTING, C_AUTH_HELLO, C_AUTH_PROOF,
		  C_REGISTERING, C_READY };

struct agent {
	const struct node_agent_opts *o;
	const struct node_agent_nl_ops *nl;
	void *nl_arg;
	unsigned int progress_ms, backoff_min, backoff_max, backoff;
	unsigned int heartbeat_ms;
	uint64_t last_sent_ms;	/* the last frame queued to the coordinator */
	uint64_t last_load_ms;	/* the last NODE_LOAD queued */
	/*
	 * The node's incarnation read at start, sent in NODE_REGISTER; a
	 * change means the module's node began again, without its data.
	 */
	uint64_t incarnation;
	uint64_t incarnation_checked_ms;
	unsigned int incarnation_failures;	/* reads failed in a row */
	bool began_again;	/* seen: the agent stops */
	bool load_refused;	/* this coordinator does not take NODE_LOAD */

	char data_addr[SKV_COORD_ADDR_MAX];
	char coord_host[256];	/* the coordinator tried now: item coord_cur */
	uint16_t coord_port;
	/* o->coord_addr lists nr_coords (a leader and its standbys). */
	size_t nr_coords, coord_cur;
	size_t coords_tried;	/* failed in a row since the last backoff */

	int fd;
	enum conn_state cs;
	uint64_t conn_gen;	/* connections closed so far */
	struct coord_buf in, out;
	uint64_t next_id;
	uint64_t register_id;
	uint64_t cmd_request_id;	/* of the command handle_request() runs */
	/* Authentication (C_AUTH_*): the request, the HELLO, the key. */
	uint64_t auth_id;
	struct skv_auth_hello auth_hello;
	struct skv_auth_key auth_key;
	uint64_t retry_at;
	bool announced_down;	/* "coordinator unreachable" logged once per outage */

	struct mig_entry *migs;
	size_t nmigs, cap;

	/* The client keys the agent added (node_agent_client.c), by id. */
	uint32_t client_ids[STEADYKV_CLIENT_KEYS_MAX];
	unsigned int nclient_ids;

	struct agent_recover *recover;	/* node_agent_recover.c; NULL until used */
};

/* node_agent.c: "TIME steadykvd[node N]: TEXT" on stderr. */
void agent_log_line(const char *text);
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t agent_now_ms(void);
/*
 * Has the module's node begun again under the agent (the module reloaded:
 * its data, listener and keys gone)?  Read once per heartbeat interval, or
 * now (now_too: before registering and before each coordinator command,
 * which must not reach a node that is not the one registered, e.g. a
 * NODE_REPL_SET that would open its backups afresh).  Once true the agent
 * stops (under systemd it starts afresh and registers the new one; the
 * coordinator rebuilds the node's tablets before it takes it back).
 */
bool node_began_again(struct agent *a, bool now_too);

/* node_agent_nl.c: the module through libskvnl. */
extern const struct node_agent_nl_ops agent_real_nl_ops;
/*
 * Push the key files (o->cluster_key_path, previous_key_path) and
 * insecure mode to the module; the secrets are wiped after.  0, or -1
 * (logged, never the secret): the module keeps what it had.
 */
int agent_push_keys(struct agent *a);
/*
 * node_agent_client.c: push o->client_keys and o->client_auth, if given
 * (see node_agent_opts).  0, or -1 (logged, never a secret).
 */
int agent_push_client_keys(struct agent *a);
/* What agent_real_nl_ops' arg points at. */
struct agent_real_nl {
	struct sknl req;
	struct sknl ev;
	struct sknl recover;	/* the recovery thread's alone */
};

/* node_agent_conn.c */
void conn_start(struct agent *a);
void conn_connected(struct agent *a);
void conn_read(struct agent *a);
void conn_write(struct agent *a);
void conn_close(struct agent *a, const char *why);
/* Queue a NODE_HEARTBEAT if it is due; ms until the next one (-1: none). */
int64_t conn_heartbeat(struct agent *a);
/* Queue a NODE_LOAD if it is due; ms until the next one (-1: none). */
int64_t conn_load_report(struct agent *a);

/* The reply to AUTH_HELLO or AUTH_PROOF (state C_AUTH_*). */
void conn_auth_reply(struct agent *a, const struct coord_hdr *h, const uint8_t *body);

/* node_agent_cmd.c: a request or a reply frame from the coordinator. */
void handle_request(struct agent *a, const struct coord_hdr *h, const uint8_t *body);
void handle_reply(struct agent *a, const struct coord_hdr *h, const uint8_t *body);
/* A command's handler queued it: its reply is sent later. */
#define AGENT_REPLY_LATER	1
/* Queue the reply to command @op (@name) @request_id: @rc 0, or the error. */
void agent_reply(struct agent *a, uint8_t op, const char *name, uint64_t request_id,
		 int rc, struct sknl_err *err);

/* node_agent_recover.c */
/* Queue a recovery; its reply is sent by recover_reap().  0 or -errno (err set). */
int recover_submit(struct agent *a, uint64_t request_id, const struct coord_repl_info *r,
		   const struct coord_tablet_info *t, struct sknl_err *err);
/* The fd that is readable when recoveries ended (-1: none started). */
int recover_fd(const struct agent *a);
/* Log and answer the recoveries that ended. */
void recover_reap(struct agent *a);
/* Wait for the recovery under way, drop the queued ones, stop the thread. */
void recover_stop(struct agent *a);

/* node_agent_mig.c */
/* A view of a migration from an event or a dump; stale views are dropped. */
void mig_update(void *ctx, const struct skv_migration *m);
/* Read every migration again (start, overrun, registration); 0 or -1. */
int mig_resync(struct agent *a);
/* After (re)registration: the coordinator hears about every migration again. */
void mig_report_all(struct agent *a);
/* Send the held-back reports that are due. */
void mig_flush_pending(struct agent *a);
/* Milliseconds until the next held-back report is due; -1 if none. */
int64_t mig_pending_wait(const struct agent *a);

#endif
