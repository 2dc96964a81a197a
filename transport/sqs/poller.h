/* A thread that long-polls one SQS queue (ReceiveMessage, WaitTimeSeconds 20) and hands the
 * messages to its owner through an eventfd, so the owner blocks in poll() on the eventfd with
 * its other fds (workers, pidfds, the scheduler's extra fd) and never sleeps to wait. The
 * owner says how many messages it can take (want): the thread asks SQS for no more than that,
 * so a message is never taken off the queue (made invisible) before a slot is free for it. */
#ifndef PR_SQS_POLLER_H
#define PR_SQS_POLLER_H

#include <stddef.h>

#include "aws/creds.h"
#include "aws/sqs.h"

struct sqs_poller;

/* Start polling queue_url with a client of its own (credentials from p, shared). Returns NULL
 * with err. */
struct sqs_poller *sqs_poller_start(struct aws_creds_provider *p, const char *region,
                                    const char *queue_url, struct pr_error *err);
/* Readable when messages (or a receive error) are waiting. */
int sqs_poller_fd(const struct sqs_poller *p);
/* How many messages the owner can take now, counting those already waiting for it (0 pauses
 * receiving after the current long poll). */
void sqs_poller_want(struct sqs_poller *p, int n);
/* After a receive that brought messages, wait up to ms (0, the default: none) before the next
 * one, so that messages arriving close together come in one request. */
void sqs_poller_set_gap(struct sqs_poller *p, int ms);
/* Take every waiting message (*out malloc'd, free with sqs_messages_free). Returns the count;
 * want drops by as many, until the owner calls sqs_poller_want again. */
size_t sqs_poller_take(struct sqs_poller *p, struct sqs_message **out);
/* The number of receive calls that failed in a row (0 when the last succeeded) and the last
 * error's text. */
int sqs_poller_failures(struct sqs_poller *p, char *buf, size_t n);
/* Requests made (for the benchmark). */
unsigned long sqs_poller_requests(struct sqs_poller *p);
/* Stop (a long poll in progress is aborted) and join. Messages received but not taken are
 * returned in *left (the owner makes them visible again); left may be NULL. NULL-safe. */
void sqs_poller_stop(struct sqs_poller *p, struct sqs_message **left, size_t *nleft);

#endif
