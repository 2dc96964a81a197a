/* `pestrun agent`: the worker side of the SQS/S3 transport, for containers (ECS, often on
 * Spot) and any machine that can reach the queues.
 *
 * The agent registers its slots (registry.h), long-polls the task queue for no more runs than
 * it has idle slots, downloads each job's bundle once (cached by its hash) and extracts it
 * safely, and runs every run through the local transport: one pinned worker process per slot
 * with its own copy of the model folder, running the shared agent loop and model runner. While
 * a model runs, its message is kept invisible (ChangeMessageVisibility every half visibility
 * timeout); the result is sent to the job's result queue first and the task message deleted
 * only then, so a run is never lost: an agent that dies leaves its messages to come back.
 *
 * SIGTERM or SIGINT (a Spot interruption gives two minutes): stop receiving, let the runs that
 * can end within --drain-seconds end (judged by the mean run time so far), kill the others and
 * make their messages visible again at once. A worker that dies under a run (a model that
 * kills its agent) returns that message at once, so a poison message reaches the queue's
 * dead-letter queue after maxReceiveCount deliveries instead of blocking the agent. */
#ifndef PR_SQS_AGENT_MAIN_H
#define PR_SQS_AGENT_MAIN_H

struct sqs_agent_opts {
    const char *queue_url;
    const char *bucket;
    const char *prefix;      /* NULL: "pestrun" */
    int slots;               /* <= 0: the CPUs this process may use (affinity, cgroup quota) */
    double idle_exit_s;      /* > 0: exit after this long without a run */
    double drain_s;          /* on SIGTERM (default 90) */
    const char *workdir;     /* NULL: a new folder under $TMPDIR */
    const char *health_file; /* touched every 10 s while healthy; NULL: none */
    int pin;
    int keep_workdirs;
    int quiet;
};

/* Serve the queue until a signal, --idle-exit, or a fatal error. Returns the exit status: 0
 * after a clean stop, 1 on a fatal error (printed). */
int sqs_agent_main(const struct sqs_agent_opts *o);

/* Slots for this process: CPUs in its affinity mask, capped by a cgroup CPU quota. */
int sqs_agent_default_slots(void);

#endif
