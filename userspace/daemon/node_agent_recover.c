// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * NODE_REPL_RECOVER runs off the agent's loop.  The module's replay and
 * re-replication of a tablet can take longer than the coordinator waits
 * for a heartbeat (--dead-after-ms): an agent blocked in that netlink call
 * sends none, and the node would be declared dead for recovering.
 *
 * One worker thread, started by the first recovery, takes them in the
 * order they came (as the loop did), and is the only caller of
 * nl->repl_recover (the real module gives it a netlink socket of its
 * own).  The loop polls a pipe for finished recoveries and sends their
 * replies, unless the connection they came on is gone: the coordinator
 * failed those commands when it lost the connection, and tries again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node_agent_int.h"

/* Recoveries queued or running, at most (a node recovers a few tablets). */
#define RECOVER_MAX_JOBS	256

struct recover_job {
	struct recover_job *next;
	uint64_t request_id;
	uint64_t conn_gen;		/* agent's conn_gen when it came */
	struct coord_repl_info r;
	struct coord_tablet_info t;
	int rc;
	struct sknl_err err;
	struct sknl_repl out;
};

struct agent_recover {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct recover_job *todo, *done;	/* FIFO; LIFO (reversed on take) */
	unsigned int jobs;			/* in todo, running or done */
	bool stopping;
	int pipe[2];			/* the worker writes a byte per job done */
	const struct node_agent_nl_ops *nl;
	void *nl_arg;
};

static void *recover_main(void *arg)
{
	struct agent_recover *w = arg;
	struct recover_job *j;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->todo && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stopping)
			break;
		j = w->todo;
		w->todo = j->next;
		pthread_mutex_unlock(&w->lock);

		j->rc = w->nl->repl_recover(w->nl_arg, j->r.primary_id, j->r.epoch,
					    j->t.table_id, j->t.start_hash, j->t.end_hash,
					    &j->out, &j->err);

		pthread_mutex_lock(&w->lock);
		j->next = w->done;
		w->done = j;
		/* Fails only when full, and then the loop is woken already. */
		if (write(w->pipe[1], "", 1) < 0)
			continue;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void recover_free(struct agent_recover *w)
{
	close(w->pipe[0]);
	close(w->pipe[1]);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static int recover_start(struct agent *a)
{
	struct agent_recover *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->nl = a->nl;
	w->nl_arg = a->nl_arg;
	if (pipe2(w->pipe, O_NONBLOCK | O_CLOEXEC)) {
		free(w);
		return -errno;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	rc = pthread_create(&w->thread, NULL, recover_main, w);
	if (rc) {
		recover_free(w);
		return -rc;
	}
	a->recover = w;
	return 0;
}

int recover_submit(struct agent *a, uint64_t request_id, const struct coord_repl_info *r,
		   const struct coord_tablet_info *t, struct sknl_err *err)
{
	struct agent_recover *w;
	struct recover_job *j, **tail;

	if (!a->recover) {
		int rc = recover_start(a);

		if (rc)
			return sknl_err_local(err, -rc, "cannot start the recovery thread: %s",
					      strerror(-rc));
	}
	w = a->recover;
	j = calloc(1, sizeof(*j));
	if (!j)
		return sknl_err_local(err, ENOMEM, "out of memory");
	j->request_id = request_id;
	j->conn_gen = a->conn_gen;
	j->r = *r;
	j->t = *t;
	pthread_mutex_lock(&w->lock);
	if (w->jobs >= RECOVER_MAX_JOBS) {
		pthread_mutex_unlock(&w->lock);
		free(j);
		return sknl_err_local(err, EBUSY, "%u recoveries are queued already",
				      RECOVER_MAX_JOBS);
	}
	for (tail = &w->todo; *tail; tail = &(*tail)->next)
		;
	*tail = j;
	w->jobs++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int recover_fd(const struct agent *a)
{
	return a->recover ? a->recover->pipe[0] : -1;
}

static void recover_log(const struct recover_job *j)
{
	uint64_t bytes = j->out.val[STEADYKV_A_REPL_RECOVER_BYTES];
	uint64_t ns = j->out.val[STEADYKV_A_REPL_RECOVER_NS];

	agent_log("recovered table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64
		  " of node %" PRIu64 ": %" PRIu64 " of %" PRIu64 " records replayed, %" PRIu64
		  " bytes read in %.3f ms (%.1f MB/s)", j->t.table_id, j->t.start_hash,
		  j->t.end_hash, j->r.primary_id, j->out.val[STEADYKV_A_REPL_RECOVER_APPLIED],
		  j->out.val[STEADYKV_A_REPL_RECOVER_RECORDS], bytes, ns / 1e6,
		  ns ? bytes * 1e3 / ns : 0.0);
}

void recover_reap(struct agent *a)
{
	struct agent_recover *w = a->recover;
	struct recover_job *j, *done = NULL, *next;
	char buf[64];

	if (!w)
		return;
	while (read(w->pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&w->lock);
	/* Oldest first: the list is newest first. */
	for (j = w->done; j; j = next) {
		next = j->next;
		j->next = done;
		done = j;
		w->jobs--;
	}
	w->done = NULL;
	pthread_mutex_unlock(&w->lock);
	for (j = done; j; j = next) {
		next = j->next;
		if (!j->rc)
			recover_log(j);
		if (j->conn_gen == a->conn_gen && a->cs == C_READY)
			agent_reply(a, SKV_COORD_OP_NODE_REPL_RECOVER, "repl-recover",
				    j->request_id, j->rc, &j->err);
		else
			agent_log("repl-recover (request %" PRIu64 ") ended (%s) after its "
				  "connection closed: not answered", j->request_id,
				  j->rc ? strerror(j->err.error ? j->err.error : -j->rc) : "done");
		free(j);
	}
}

void recover_stop(struct agent *a)
{
	struct agent_recover *w = a->recover;
	struct recover_job *j;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	/* A recovery under way ends first: the module's call is bounded. */
	pthread_join(w->thread, NULL);
	while ((j = w->todo)) {
		w->todo = j->next;
		free(j);
	}
	while ((j = w->done)) {
		w->done = j->next;
		free(j);
	}
	recover_free(w);
	a->recover = NULL;
}
