/* `pestrun agent`: the worker side of the SQS/S3 transport, for containers (ECS, often on
 * Spot) and any machine that can reach the queues.
 *
 * The agent registers its slots (registry.h), long-polls the task queue, downloads each job's
 * bundle once (cached by its hash) and extracts it safely, and runs every run through the
 * local transport: one pinned worker process per slot with its own copy of the model folder,
 * running the shared agent loop and model runner. Each slot holds its next run while the
 * current one runs (up to two messages a slot; a busy agent asks again when a message a slot
 * is missing, so receives come in batches), so no slot waits a round trip between runs. Every
 * message held, running or next, is kept invisible (ChangeMessageVisibility every half
 * visibility timeout); a result is sent to the job's result queue first (results of one agent
 * share a SendMessageBatch within a quarter of the mean run time, at most 250 ms, while every
 * slot has a run) and the task message deleted only then (in batches, within 2 s), so a run is
 * never lost: an agent that dies leaves its messages to come back.
 *
 * Results and status messages tell the master which copies run here (their clocks start at
 * their start, not when they were sent); an agent running runs of a job tells its master at
 * least every 10 s (the master takes an agent silent for 25 s for dead). Each agent has its own
 * control queue (pestrun-ctl-ID, created at start and deleted at exit, long-polled: one request
 * every 20 s when idle): a cancel there kills the copy named at once and deletes its task; when
 * a master is done, the copies of its job still held here or received later are dropped. A
 * second copy of a run already held here goes back to the queue for others.
 *
 * SIGTERM or SIGINT (a Spot interruption gives two minutes): stop receiving, give the runs held
 * but not started back at once, let the runs that can end within --drain-seconds end (judged by
 * the mean run time so far), kill the others and make their messages visible again at once. A
 * worker that dies under a run (a model that kills its agent) returns that message at once, so
 * a poison message reaches the queue's dead-letter queue after maxReceiveCount deliveries
 * instead of blocking the agent. */
#ifndef PR_SQS_AGENT_H
#define PR_SQS_AGENT_H

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
