/* The master side of the SQS/S3 transport. The case folder is packed once into a bundle in
 * S3 (named by its SHA-256, uploaded only when missing); each run copy the scheduler submits
 * becomes one message on the task queue (batched ten to a SendMessageBatch), carrying the job,
 * the bundle, the result queue and the run itself; results come back on the result queue (a
 * thread long-polls it) and are matched to the run copy by (job, batch, run, attempt), so
 * stale and duplicate deliveries are dropped here, and deleted in batches.
 *
 * The scheduler sees four workers per agent slot registered for the task queue (registry.h):
 * the run a slot runs, the next one the agent holds for it, and two in the queue, so agents
 * receive several at a time and never wait for the master. While every worker is busy, results
 * gather for half the mean run time (at most 0.5 s) before the next receive and the runs they
 * free go out together; when one is idle (a batch starts or ends) nothing waits. The agents
 * tell which copies they run (STARTED events: a copy's clock for the overdue rule starts when
 * its model starts), and a copy the scheduler cancels is killed on its agent through the
 * agent's control queue (when the agent is not known yet, as soon as it tells it started it;
 * at the end the agents that served the job are told to drop what is left of it). An agent silent for 25 s while running runs is taken for dead: its
 * copies go back to the scheduler (WORKER_LOST) and its slots no longer count.
 *
 * A run copy an agent loses (killed, Spot interruption) is otherwise not the master's business:
 * SQS makes the message visible again after the visibility timeout (at once when the agent
 * stops cleanly) and another agent runs it. A message that kills its agent every time ends in
 * the task queue's dead-letter queue (its redrive policy); the master reads that queue and
 * reports the run as failed with the reason. */
#ifndef PR_SQS_MASTER_H
#define PR_SQS_MASTER_H

#include "model/runner.h"
#include "pest/pst.h"
#include "sched/transport.h"

struct sqs_opts {
    const char *queue_url;        /* task queue */
    const char *result_queue_url; /* result queue */
    const char *bucket;
    const char *prefix;     /* key prefix in the bucket; NULL: "pestrun" */
    const char *kms_key_id; /* SSE-KMS for what the master writes; NULL: the bucket's default */
    int sse_kms;
    /* Runs kept out at once; 0: the slots of the registered agents. */
    int max_inflight;
    struct runner_opts ropts; /* exec mode and time limit, passed to the agents */
    const char *journal_path; /* left out of the bundle */
    int quiet;
};

int sqs_master_create(const struct pst_case *c, const struct sqs_opts *o, struct transport *tr,
                      struct pr_error *err);

/* Worker slots right now, and a description of where the runs go (for the start line). */
int sqs_master_nworkers(const struct transport *tr);
const char *sqs_master_describe(const struct transport *tr);

/* SQS requests made so far by the master (sends, receives, deletes), for the benchmark. */
unsigned long sqs_master_requests(const struct transport *tr);

#endif
