/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Automatic rebalancing (coord_rebalance.c): the policy, a pure function
 * from load figures to a decision, apart from the coordinator's glue so
 * that tests feed it figures and a clock of their own.
 */
#ifndef SKV_COORD_REBALANCE_H
#define SKV_COORD_REBALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rebalance_mode { REBALANCE_OFF, REBALANCE_DRY_RUN, REBALANCE_ON };

#define REBALANCE_DEFAULT_SHARE		0.5
#define REBALANCE_DEFAULT_HOLD_MS	5000
#define REBALANCE_DEFAULT_COOLDOWN_MS	30000
/* Below this many requests per second in the cluster, nothing is hot. */
#define REBALANCE_MIN_RATE		20.0
/* A move smaller than this share of the cluster's load is not worth one. */
#define REBALANCE_MIN_MOVE_SHARE	0.05
/* A tablet narrower than this many hashes is moved whole or not at all. */
#define REBALANCE_MIN_SPLIT_WIDTH	(1ull << 32)

struct rebalance_opts {
	enum rebalance_mode mode;
	double share;		/* a node over this share of the load is hot */
	int hold_ms;		/* ... when it stays over it this long */
	int cooldown_ms;	/* between two moves */
};

/* A node as the policy sees it. */
struct rb_node {
	uint32_t id;
	bool up;		/* connected, not dead: may take a range */
	bool busy;		/* source or target of a migration in progress */
	double rate;		/* requests per second */
};

/* A range of a node's load: one of its module's tablets. */
struct rb_tablet {
	uint64_t table_id;
	uint64_t start, end;	/* inclusive */
	uint32_t owner;
	double rate;
	bool movable;		/* inside one normal tablet of the map, not lost */
};

/* What the policy remembers between two calls. */
struct rb_state {
	uint32_t hot_node;	/* 0: none */
	int64_t hot_since_ms;
	int64_t last_move_ms;	/* 0: never */
};

enum rb_verdict {
	RB_BALANCED,	/* no node over the share (or too little load) */
	RB_WAIT,	/* a hot node, but not yet (hold, cool-down, busy, no target) */
	RB_MOVE,	/* move [start, end] of table_id from src to dst */
};

struct rb_decision {
	enum rb_verdict verdict;
	const char *why;	/* RB_WAIT: the reason; static text */
	uint32_t src, dst;
	double total_rate, src_rate, dst_rate;
	uint64_t table_id, start, end;
	double tablet_rate;	/* the whole tablet's */
	double moved_rate;	/* what the move is expected to take away */
	bool split;		/* [start, end] is a part of the tablet */
};

/*
 * The policy, at time @now_ms (monotonic): see coord_rebalance.c's top
 * comment.  Updates @s (the hot node, when it became hot, the last move).
 */
enum rb_verdict rebalance_decide(const struct rebalance_opts *o, struct rb_state *s,
				 const struct rb_node *nodes, size_t nr_nodes,
				 const struct rb_tablet *tablets, size_t nr_tablets,
				 int64_t now_ms, struct rb_decision *d);

/* "off", "dry-run", "on": 0, or -1 for anything else. */
int rebalance_mode_parse(const char *s, enum rebalance_mode *mode);

#endif /* SKV_COORD_REBALANCE_H */
