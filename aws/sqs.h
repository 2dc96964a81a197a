/* Amazon SQS over its JSON 1.0 protocol (POST /, X-Amz-Target: AmazonSQS.<Operation>,
 * Content-Type: application/x-amz-json-1.0). Calls go to the client's SQS endpoint, with the
 * queue URL in the body. */
#ifndef PR_AWS_SQS_H
#define PR_AWS_SQS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "http.h"

#define SQS_MAX_BATCH 10
#define SQS_MAX_MESSAGE_BYTES 262144 /* per message and per SendMessageBatch */

struct sqs_message {
    char *message_id;
    char *receipt_handle;
    char *body;
    int receive_count;          /* ApproximateReceiveCount */
    long long first_receive_ms; /* ApproximateFirstReceiveTimestamp (ms since the epoch), 0 */
};
void sqs_messages_free(struct sqs_message *m, size_t n);

/* SendMessageBatch of n (<= 10) bodies. ok[i] (may be NULL) tells which entries the service
 * took; returns 0 when all were taken, 1 when some were not (err says why for the first), -1
 * with err on a failed call. */
int sqs_send_batch(struct aws_client *c, const char *queue_url, const char *const *bodies, size_t n,
                   int *ok, struct pr_error *err);

/* ReceiveMessage: up to max (<= 10) messages, long-polling up to wait_s (0-20) seconds;
 * visibility_s < 0: the queue's visibility timeout. Asks for ApproximateReceiveCount and
 * ApproximateFirstReceiveTimestamp. Returns 0 with *out (malloc'd, *n may be 0), -1 with err. */
int sqs_receive(struct aws_client *c, const char *queue_url, int max, int wait_s, int visibility_s,
                struct sqs_message **out, size_t *n, struct pr_error *err);

/* DeleteMessageBatch / ChangeMessageVisibilityBatch of n (<= 10) receipt handles. ok as in
 * sqs_send_batch. */
int sqs_delete_batch(struct aws_client *c, const char *queue_url, const char *const *receipts,
                     size_t n, int *ok, struct pr_error *err);
int sqs_change_visibility_batch(struct aws_client *c, const char *queue_url,
                                const char *const *receipts, size_t n, int timeout_s, int *ok,
                                struct pr_error *err);

/* GetQueueAttributes for the names given (e.g. "VisibilityTimeout", "RedrivePolicy",
 * "QueueArn", "ApproximateNumberOfMessages"); *attrs is the "Attributes" object (cJSON_Delete
 * it). */
int sqs_get_attributes(struct aws_client *c, const char *queue_url, const char *const *names,
                       size_t n, cJSON **attrs, struct pr_error *err);

/* GetQueueUrl by name (optionally of another account). *url is malloc'd. */
int sqs_get_queue_url(struct aws_client *c, const char *name, const char *owner_account, char **url,
                      struct pr_error *err);

/* CreateQueue name (standard queue; messages kept one hour) with the visibility timeout given;
 * answers the URL of the queue, existing or new (*url malloc'd). DeleteQueue queue_url. */
int sqs_create_queue(struct aws_client *c, const char *name, int visibility_s, char **url,
                     struct pr_error *err);
int sqs_delete_queue(struct aws_client *c, const char *queue_url, struct pr_error *err);

/* The region to use for queue_url: the environment's (AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's) when set, else the one in an AWS queue URL (https://sqs.REGION.amazonaws.com/...),
 * else NULL (the client's default). malloc'd. */
char *sqs_region_for(const char *queue_url);

#endif
