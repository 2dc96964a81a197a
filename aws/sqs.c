/* Amazon SQS over its JSON 1.0 protocol (see sqs.h). Every call is a POST of a JSON object to
 * the SQS endpoint; batch entries are named "0".."9" after their index. */
#include "sqs.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Call operation op with the JSON object req (consumed). On a 2xx answer *out (may be NULL) is
 * the parsed answer (an empty object when the body was empty). Returns 0, or -1 with err. */
static int sqs_call(struct aws_client *c, const char *op, cJSON *req, long timeout_s, cJSON **out,
                    struct pr_error *err)
{
    char target[64];
    struct aws_kv h[2] = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", target}};
    struct aws_response resp;
    struct aws_request rq = {0};
    char *body = cJSON_PrintUnformatted(req);
    int rc = -1;

    cJSON_Delete(req);
    if (out) *out = NULL;
    if (!body) return pr_error_set(err, "SQS %s: cannot encode the request", op);
    snprintf(target, sizeof(target), "AmazonSQS.%s", op);
    rq.method = "POST";
    rq.service = "sqs";
    rq.path = "/";
    rq.headers = h;
    rq.nheaders = 2;
    rq.body = body;
    rq.body_len = strlen(body);
    rq.out_fd = -1;
    rq.timeout_s = timeout_s;
    aws_response_init(&resp);
    if (aws_call(c, &rq, &resp, err) != 0) goto out;
    if (out) {
        *out = resp.body.len ? cJSON_ParseWithLength(resp.body.data, resp.body.len)
                             : cJSON_CreateObject();
        if (!cJSON_IsObject(*out)) {
            cJSON_Delete(*out);
            *out = NULL;
            pr_error_set(err, "SQS %s: the answer is not a JSON object (HTTP %ld, %zu bytes)", op,
                         resp.status, resp.body.len);
            goto out;
        }
    }
    rc = 0;
out:
    free(body);
    aws_response_free(&resp);
    return rc;
}

static cJSON *new_request(const char *queue_url)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "QueueUrl", queue_url);
    return o;
}

static const char *json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The entry index of a batch answer's "Id", or -1 when it is none of ours. */
static int entry_index(const cJSON *e, size_t n)
{
    const char *id = json_str(e, "Id");
    char *end;
    long i;

    if (!id || !*id) return -1;
    i = strtol(id, &end, 10);
    return *end || i < 0 || (size_t)i >= n ? -1 : (int)i;
}

static void md5_hex(const char *s, char out[33])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_Digest(s, strlen(s), d, &n, EVP_md5(), NULL);
    for (unsigned int i = 0; i < n && i < 16; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
    out[32] = '\0';
}

/* Read a batch answer's Successful and Failed lists into ok[0..n). bodies (may be NULL): the
 * sent bodies, whose MD5 the service echoes; a mismatch makes the entry failed. Returns 0
 * when every entry succeeded, else 1 with err naming the first failure. */
static int batch_result(const char *op, const cJSON *ans, size_t n, const char *const *bodies,
                        int *ok, struct pr_error *err)
{
    int done[SQS_MAX_BATCH] = {0};
    const cJSON *e;
    int rc = 0;

    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(ans, "Successful"))
    {
        int i = entry_index(e, n);
        const char *md5 = json_str(e, "MD5OfMessageBody");
        char want[33];
        if (i < 0) continue;
        if (bodies && md5) {
            md5_hex(bodies[i], want);
            if (strcasecmp(md5, want) != 0) {
                if (!rc)
                    pr_error_set(err,
                                 "SQS %s: entry %d: the service's MD5 of the body differs "
                                 "from ours (the message was altered in transit)",
                                 op, i);
                rc = 1;
                continue;
            }
        }
        done[i] = 1;
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(ans, "Failed"))
    {
        int i = entry_index(e, n);
        const char *code = json_str(e, "Code"), *msg = json_str(e, "Message");
        if (i < 0) continue;
        done[i] = 0;
        if (!rc)
            pr_error_set(err, "SQS %s: entry %d: %s%s%s", op, i, code ? code : "failed",
                         msg ? ": " : "", msg ? msg : "");
        rc = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!done[i] && !rc) {
            pr_error_set(err, "SQS %s: entry %zu is missing from the answer", op, i);
            rc = 1;
        }
        if (ok) ok[i] = done[i];
    }
    return rc;
}

static int check_batch(const char *op, const char *queue_url, const void *items, size_t n,
                       struct pr_error *err)
{
    if (!queue_url || !items || n == 0 || n > SQS_MAX_BATCH)
        return pr_error_set(err, "SQS %s: need a queue URL and 1 to %d entries (got %zu)", op,
                            SQS_MAX_BATCH, n);
    return 0;
}

/* The batch's "Entries": [{"Id": "0", field: values[0]}, ...] added to req. */
static cJSON *add_entries(cJSON *req, const char *field, const char *const *values, size_t n)
{
    cJSON *entries = cJSON_AddArrayToObject(req, "Entries");
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        char id[8];
        snprintf(id, sizeof(id), "%zu", i);
        cJSON_AddStringToObject(e, "Id", id);
        cJSON_AddStringToObject(e, field, values[i]);
        cJSON_AddItemToArray(entries, e);
    }
    return entries;
}

int sqs_send_batch(struct aws_client *c, const char *queue_url, const char *const *bodies, size_t n,
                   int *ok, struct pr_error *err)
{
    cJSON *req, *ans;
    size_t total = 0;
    int rc;

    if (check_batch("SendMessageBatch", queue_url, bodies, n, err) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        size_t len = bodies[i] ? strlen(bodies[i]) : 0;
        if (len == 0 || len > SQS_MAX_MESSAGE_BYTES)
            return pr_error_set(err,
                                "SQS SendMessageBatch: entry %zu: a body must hold 1 to %d "
                                "bytes (got %zu)",
                                i, SQS_MAX_MESSAGE_BYTES, len);
        total += len;
    }
    if (total > SQS_MAX_MESSAGE_BYTES)
        return pr_error_set(err,
                            "SQS SendMessageBatch: %zu bytes in all, above the %d a batch "
                            "may carry",
                            total, SQS_MAX_MESSAGE_BYTES);
    req = new_request(queue_url);
    add_entries(req, "MessageBody", bodies, n);
    if (sqs_call(c, "SendMessageBatch", req, 0, &ans, err) < 0) return -1;
    rc = batch_result("SendMessageBatch", ans, n, bodies, ok, err);
    cJSON_Delete(ans);
    return rc;
}

void sqs_messages_free(struct sqs_message *m, size_t n)
{
    if (!m) return;
    for (size_t i = 0; i < n; i++) {
        free(m[i].message_id);
        free(m[i].receipt_handle);
        free(m[i].body);
    }
    free(m);
}

static int parse_message(const cJSON *j, struct sqs_message *m)
{
    const char *id = json_str(j, "MessageId"), *rh = json_str(j, "ReceiptHandle");
    const char *body = json_str(j, "Body"), *v;
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(j, "Attributes");

    if (!id || !rh || !body) return -1;
    m->message_id = xstrdup(id);
    m->receipt_handle = xstrdup(rh);
    m->body = xstrdup(body);
    v = json_str(attrs, "ApproximateReceiveCount");
    m->receive_count = v ? atoi(v) : 0;
    v = json_str(attrs, "ApproximateFirstReceiveTimestamp");
    m->first_receive_ms = v ? strtoll(v, NULL, 10) : 0;
    return 0;
}

int sqs_receive(struct aws_client *c, const char *queue_url, int max, int wait_s, int visibility_s,
                struct sqs_message **out, size_t *n, struct pr_error *err)
{
    static const char *const attrs[] = {"ApproximateReceiveCount",
                                        "ApproximateFirstReceiveTimestamp"};
    cJSON *req, *ans;
    const cJSON *msgs, *j;
    struct sqs_message *m;
    size_t count = 0;

    if (!out || !n || !queue_url || max < 1 || max > SQS_MAX_BATCH || wait_s < 0 || wait_s > 20)
        return pr_error_set(err,
                            "SQS ReceiveMessage: need a queue URL, 1 to %d messages and a "
                            "wait of 0 to 20 s (got %d and %d)",
                            SQS_MAX_BATCH, max, wait_s);
    *out = NULL;
    *n = 0;
    req = new_request(queue_url);
    cJSON_AddNumberToObject(req, "MaxNumberOfMessages", max);
    cJSON_AddNumberToObject(req, "WaitTimeSeconds", wait_s);
    if (visibility_s >= 0) cJSON_AddNumberToObject(req, "VisibilityTimeout", visibility_s);
    /* the current name and the older one, which some emulators still want */
    cJSON_AddItemToObject(req, "MessageSystemAttributeNames", cJSON_CreateStringArray(attrs, 2));
    cJSON_AddItemToObject(req, "AttributeNames", cJSON_CreateStringArray(attrs, 2));
    /* a long poll holds the request for wait_s before the answer comes */
    if (sqs_call(c, "ReceiveMessage", req, wait_s + 30, &ans, err) < 0) return -1;
    msgs = cJSON_GetObjectItemCaseSensitive(ans, "Messages");
    m = xcalloc((size_t)cJSON_GetArraySize(msgs) + 1, sizeof(*m));
    cJSON_ArrayForEach(j, msgs)
    {
        if (parse_message(j, &m[count]) < 0) {
            sqs_messages_free(m, count + 1);
            cJSON_Delete(ans);
            return pr_error_set(err,
                                "SQS ReceiveMessage: message %zu of the answer lacks a "
                                "MessageId, ReceiptHandle or Body",
                                count);
        }
        count++;
    }
    cJSON_Delete(ans);
    *out = m;
    *n = count;
    return 0;
}

/* DeleteMessageBatch or ChangeMessageVisibilityBatch (timeout_s >= 0). */
static int receipt_batch(struct aws_client *c, const char *op, const char *queue_url,
                         const char *const *receipts, size_t n, int timeout_s, int *ok,
                         struct pr_error *err)
{
    cJSON *req, *entries, *ans;
    int rc;

    if (check_batch(op, queue_url, receipts, n, err) < 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (!receipts[i] || !*receipts[i])
            return pr_error_set(err, "SQS %s: entry %zu has no receipt handle", op, i);
    req = new_request(queue_url);
    entries = add_entries(req, "ReceiptHandle", receipts, n);
    if (timeout_s >= 0) {
        cJSON *e;
        cJSON_ArrayForEach(e, entries) cJSON_AddNumberToObject(e, "VisibilityTimeout", timeout_s);
    }
    if (sqs_call(c, op, req, 0, &ans, err) < 0) return -1;
    rc = batch_result(op, ans, n, NULL, ok, err);
    cJSON_Delete(ans);
    return rc;
}

int sqs_delete_batch(struct aws_client *c, const char *queue_url, const char *const *receipts,
                     size_t n, int *ok, struct pr_error *err)
{
    return receipt_batch(c, "DeleteMessageBatch", queue_url, receipts, n, -1, ok, err);
}

int sqs_change_visibility_batch(struct aws_client *c, const char *queue_url,
                                const char *const *receipts, size_t n, int timeout_s, int *ok,
                                struct pr_error *err)
{
    if (timeout_s < 0 || timeout_s > 43200)
        return pr_error_set(err,
                            "SQS ChangeMessageVisibilityBatch: a visibility timeout is 0 "
                            "to 43200 s (got %d)",
                            timeout_s);
    return receipt_batch(c, "ChangeMessageVisibilityBatch", queue_url, receipts, n, timeout_s, ok,
                         err);
}

int sqs_get_attributes(struct aws_client *c, const char *queue_url, const char *const *names,
                       size_t n, cJSON **attrs, struct pr_error *err)
{
    cJSON *req, *ans, *a;

    if (!queue_url || !attrs || (n && !names))
        return pr_error_set(err, "SQS GetQueueAttributes: need a queue URL and names");
    *attrs = NULL;
    req = new_request(queue_url);
    cJSON_AddItemToObject(req, "AttributeNames", cJSON_CreateStringArray(names, (int)n));
    if (sqs_call(c, "GetQueueAttributes", req, 0, &ans, err) < 0) return -1;
    a = cJSON_DetachItemFromObjectCaseSensitive(ans, "Attributes");
    cJSON_Delete(ans);
    if (a && !cJSON_IsObject(a)) {
        cJSON_Delete(a);
        return pr_error_set(err, "SQS GetQueueAttributes: \"Attributes\" is not an object");
    }
    *attrs = a ? a : cJSON_CreateObject(); /* a queue without such attributes answers {} */
    return 0;
}

int sqs_get_queue_url(struct aws_client *c, const char *name, const char *owner_account, char **url,
                      struct pr_error *err)
{
    cJSON *req, *ans;
    const char *u;

    if (!name || !*name || !url) return pr_error_set(err, "SQS GetQueueUrl: need a queue name");
    *url = NULL;
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "QueueName", name);
    if (owner_account && *owner_account)
        cJSON_AddStringToObject(req, "QueueOwnerAWSAccountId", owner_account);
    if (sqs_call(c, "GetQueueUrl", req, 0, &ans, err) < 0) return -1;
    u = json_str(ans, "QueueUrl");
    if (u && *u) *url = xstrdup(u);
    cJSON_Delete(ans);
    if (!*url) return pr_error_set(err, "SQS GetQueueUrl: the answer has no QueueUrl");
    return 0;
}

int sqs_create_queue(struct aws_client *c, const char *name, int visibility_s, char **url,
                     struct pr_error *err)
{
    cJSON *req, *ans, *attrs;
    char vt[16];
    const char *u;

    *url = NULL;
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "QueueName", name);
    attrs = cJSON_AddObjectToObject(req, "Attributes");
    snprintf(vt, sizeof(vt), "%d", visibility_s);
    cJSON_AddStringToObject(attrs, "VisibilityTimeout", vt);
    cJSON_AddStringToObject(attrs, "MessageRetentionPeriod", "3600");
    if (sqs_call(c, "CreateQueue", req, 0, &ans, err) < 0) return -1;
    u = json_str(ans, "QueueUrl");
    if (u && *u) *url = xstrdup(u);
    cJSON_Delete(ans);
    if (!*url) return pr_error_set(err, "SQS CreateQueue: the answer has no QueueUrl");
    return 0;
}

int sqs_delete_queue(struct aws_client *c, const char *queue_url, struct pr_error *err)
{
    return sqs_call(c, "DeleteQueue", new_request(queue_url), 0, NULL, err);
}

char *sqs_region_for(const char *queue_url)
{
    char *r = aws_region_from_env();
    if (r) return r;
    const char *h = strstr(queue_url, "://");
    h = h ? h + 3 : queue_url;
    if (strncmp(h, "sqs.", 4) != 0) return NULL;
    h += 4;
    size_t n = strcspn(h, "./:");
    if (n == 0 || n > 32 || h[n] != '.' || strncmp(h + n, ".amazonaws.com", 14) != 0) return NULL;
    r = xmalloc(n + 1);
    memcpy(r, h, n);
    r[n] = '\0';
    return r;
}
