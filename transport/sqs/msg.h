/* The messages of the SQS transport. Every SQS message body is a small JSON envelope; the run
 * or result itself is the transport-neutral wire message (src/sched/wire.h) in base64, or, when
 * the body would pass the SQS size limit, an S3 key holding the wire bytes.
 *
 * task  (master -> task queue):   {"pestrun":1,"type":"run","job":J,"case":C,"bundle":KEY,
 *                                  "pst":NAME,"rq":RESULT_QUEUE_URL,"exec":0|1,"timeout":S,
 *                                  "wire":B64 | "payload":KEY}
 * result (agent -> result queue): {"pestrun":1,"type":"result","job":J,"case":C,"agent":ID,
 *                                  "ctl":URL,"slots":N,"running":[[B,R,A],...],
 *                                  "wire":B64 | "payload":KEY}
 * status (agent -> result queue): the same without the wire: the run copies of job J running
 *                                  on the agent now (a start notice and a heartbeat)
 * cancel (master -> an agent's control queue): {"pestrun":1,"type":"cancel","job":J,"case":C,
 *                                  "running":[[B,R,A],...]}: kill these copies, drop their tasks;
 *                                  with "ended":1, every copy of job J, now and later (the master
 *                                  is done)
 * J is the master's job id (16 hex digits, new at each start), C the case id (names of the
 * parameters and observations, journal_case_id) in 16 hex digits. (job, batch, run, attempt)
 * names a run copy everywhere. */
#ifndef PR_SQS_MSG_H
#define PR_SQS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "sched/wire.h"
#include "util/pr_error.h"
#include "util/strbuf.h"

/* Leave room under SQS's 256 KiB for the envelope and the batch: a wire message bigger than
 * this travels through S3. */
#define SQS_MSG_INLINE_MAX (190 * 1024)

enum sqs_msg_type { SQS_MSG_RUN = 1, SQS_MSG_RESULT = 2, SQS_MSG_STATUS = 3, SQS_MSG_CANCEL = 4 };

/* The most run copies one message names (an agent's slots; a batch of cancels). */
#define SQS_MSG_MAX_KEYS 1024

struct sqs_msg {
    enum sqs_msg_type type;
    char job[17];
    char case_id[17];
    /* task */
    char *bundle;       /* S3 key of the bundle */
    char *pst;          /* the control file's name inside the bundle */
    char *result_queue; /* where the result goes */
    int exec;           /* PEST++'s split-and-exec instead of /bin/sh -c */
    double timeout_s;   /* per run; 0: none */
    /* result, status */
    char *agent;
    char *ctl; /* the agent's control queue URL; NULL: it has none */
    int slots; /* the agent's slots */
    int ended; /* cancel: the job is over */
    /* result, status: the copies running on the agent; cancel: the copies to kill */
    struct run_key *keys;
    size_t nkeys;
    /* either */
    char *payload_key;  /* S3 key of the wire bytes, or NULL when inline */
    struct strbuf wire; /* the wire bytes (decoded from base64) when inline */
};

void sqs_msg_free(struct sqs_msg *m);

/* Encode m as a JSON body into out. When payload_key is set the wire bytes are not included
 * (the caller stored them in S3 under that key); status and cancel messages carry none. */
void sqs_msg_encode(const struct sqs_msg *m, struct strbuf *out);

/* Decode a body. Returns 0, or -1 with err set when it is not one of our messages (the text
 * says what is wrong; the body is never quoted whole). */
int sqs_msg_decode(const char *body, struct sqs_msg *m, struct pr_error *err);

/* A fresh random job id (16 hex digits). */
void sqs_new_job_id(char out[17]);
void sqs_hex64(uint64_t v, char out[17]);

/* base64 (standard alphabet, padded). */
void b64_encode(const void *data, size_t len, struct strbuf *out);
/* Returns 0, or -1 on a character outside the alphabet or a bad length. */
int b64_decode(const char *s, size_t len, struct strbuf *out);

#endif
