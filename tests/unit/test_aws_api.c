/* SQS (JSON 1.0) and S3 calls against a live service: an emulator (tests/aws/emulators.sh,
 * run by tests/e2e/aws_api.sh) or AWS itself, at AWS_ENDPOINT_URL. Skipped when it is unset.
 * Each run makes its own queue and bucket, named after the process id. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "aws/creds.h"
#include "aws/http.h"
#include "aws/s3.h"
#include "aws/sigv4.h"
#include "aws/sqs.h"
#include "util/fsutil.h"
#include "util/text.h"

static struct aws_creds_provider *g_creds;
static char g_queue[64], g_bucket[64];
static char *g_queue_url;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct aws_client *client(void)
{
    struct pr_error err = {""};
    struct aws_client *c = aws_client_new(g_creds, NULL, &err);
    if (!c) {
        printf("FAIL: aws_client_new: %s\n", err.msg);
        exit(1);
    }
    return c;
}

/* ------------------------------------------------------------------------------------------ */
/* setup by raw calls                                                                         */

static int create_queue(struct aws_client *c)
{
    static const struct aws_kv h[] = {{"Content-Type", "application/x-amz-json-1.0"},
                                      {"X-Amz-Target", "AmazonSQS.CreateQueue"}};
    struct aws_response r;
    struct pr_error err;
    char body[256];
    int rc;

    snprintf(body, sizeof(body),
             "{\"QueueName\":\"%s\",\"Attributes\":{\"VisibilityTimeout\":\"30\"}}", g_queue);
    struct aws_request rq = {.method = "POST",
                             .service = "sqs",
                             .path = "/",
                             .headers = h,
                             .nheaders = 2,
                             .body = body,
                             .body_len = strlen(body),
                             .out_fd = -1};
    aws_response_init(&r);
    rc = aws_call(c, &rq, &r, &err);
    CHECK_MSG(rc == 0, "CreateQueue: %s", err.msg);
    if (rc == 0) {
        cJSON *j = cJSON_Parse(r.body.data);
        const cJSON *u = cJSON_GetObjectItem(j, "QueueUrl");
        if (cJSON_IsString(u)) g_queue_url = xstrdup(u->valuestring);
        cJSON_Delete(j);
    }
    aws_response_free(&r);
    CHECK(g_queue_url != NULL);
    return g_queue_url ? 0 : -1;
}

static int create_bucket(struct aws_client *c)
{
    struct aws_response r;
    struct pr_error err;
    char path[80];
    int rc;

    snprintf(path, sizeof(path), "/%s", g_bucket);
    struct aws_request rq = {.method = "PUT",
                             .service = "s3",
                             .operation = "CreateBucket",
                             .path = path,
                             .s3_payload_header = 1,
                             .out_fd = -1};
    aws_response_init(&r);
    rc = aws_call(c, &rq, &r, &err);
    CHECK_MSG(rc == 0, "CreateBucket: %s", err.msg);
    aws_response_free(&r);
    return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* SQS                                                                                        */

/* Receive until want messages came (or a few empty polls); returns how many. */
static size_t receive_all(struct aws_client *c, struct sqs_message **all, size_t want)
{
    struct pr_error err;
    size_t got = 0;
    int empty = 0;

    *all = xcalloc(want + SQS_MAX_BATCH, sizeof(**all));
    while (got < want && empty < 3) {
        struct sqs_message *m;
        size_t n;
        if (sqs_receive(c, g_queue_url, SQS_MAX_BATCH, 1, -1, &m, &n, &err) < 0) {
            printf("FAIL: ReceiveMessage: %s\n", err.msg);
            check_failed++;
            break;
        }
        empty = n ? 0 : empty + 1;
        for (size_t i = 0; i < n; i++) /* got + n <= want + 9: it fits */
            (*all)[got++] = m[i];
        free(m); /* the strings moved to *all */
    }
    return got;
}

static int by_body(const void *a, const void *b)
{
    return strcmp(((const struct sqs_message *)a)->body, ((const struct sqs_message *)b)->body);
}

static void *send_later(void *arg)
{
    struct aws_client *c = client();
    struct pr_error err;
    const char *bodies[] = {arg};
    struct timespec ts = {0, 500 * 1000 * 1000};

    nanosleep(&ts, NULL);
    if (sqs_send_batch(c, g_queue_url, bodies, 1, NULL, &err) != 0)
        printf("FAIL: SendMessageBatch (late): %s\n", err.msg);
    aws_client_free(c);
    return NULL;
}

static atomic_int g_flag;

static void *raise_flag(void *arg)
{
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&g_flag, 1);
    return NULL;
}

static void test_sqs(struct aws_client *c)
{
    struct pr_error err;
    const char *bodies[SQS_MAX_BATCH];
    char text[SQS_MAX_BATCH][64];
    const char *receipts[SQS_MAX_BATCH];
    int ok[SQS_MAX_BATCH];
    struct sqs_message *all, *m;
    size_t n;
    pthread_t th;
    double t0;

    for (int i = 0; i < SQS_MAX_BATCH; i++) {
        /* JSON and non-ASCII text in bodies travel unchanged */
        snprintf(text[i], sizeof(text[i]), "{\"run\":%d,\"name\":\"\xc3\xa9t\xc3\xa9 \\\"q\\\"\"}",
                 i);
        bodies[i] = text[i];
    }
    CHECK_MSG(sqs_send_batch(c, g_queue_url, bodies, SQS_MAX_BATCH, ok, &err) == 0, "%s", err.msg);
    for (int i = 0; i < SQS_MAX_BATCH; i++)
        CHECK(ok[i] == 1);

    n = receive_all(c, &all, SQS_MAX_BATCH);
    CHECK_MSG(n == SQS_MAX_BATCH, "received %zu of 10", n);
    qsort(all, n, sizeof(*all), by_body);
    for (size_t i = 0; i < n && n == SQS_MAX_BATCH; i++) {
        CHECK_STR(all[i].body, text[i]);
        CHECK(all[i].receive_count == 1);
        CHECK(all[i].first_receive_ms > 1600000000000LL);
        CHECK(all[i].message_id && all[i].receipt_handle);
        receipts[i] = all[i].receipt_handle;
    }
    /* hidden now; visible again at once after a visibility of 0 */
    size_t none = 1;
    CHECK(sqs_receive(c, g_queue_url, 10, 0, -1, &m, &none, &err) == 0 && none == 0);
    sqs_messages_free(m, none);
    CHECK_MSG(sqs_change_visibility_batch(c, g_queue_url, receipts, SQS_MAX_BATCH, 0, ok, &err) ==
                  0,
              "%s", err.msg);
    sqs_messages_free(all, n);
    n = receive_all(c, &all, SQS_MAX_BATCH);
    CHECK_MSG(n == SQS_MAX_BATCH, "received %zu of 10 again", n);
    for (size_t i = 0; i < n; i++) {
        CHECK(all[i].receive_count == 2);
        receipts[i] = all[i].receipt_handle;
    }
    if (n == SQS_MAX_BATCH) {
        CHECK_MSG(sqs_delete_batch(c, g_queue_url, receipts, SQS_MAX_BATCH, ok, &err) == 0, "%s",
                  err.msg);
    }
    sqs_messages_free(all, n);

    /* a long poll returns when a message arrives, not at the end of its wait */
    pthread_create(&th, NULL, send_later, "late");
    t0 = now_s();
    CHECK(sqs_receive(c, g_queue_url, 1, 10, 0, &m, &n, &err) == 0);
    pthread_join(th, NULL);
    CHECK_MSG(n == 1 && now_s() - t0 < 5, "%zu messages after %.1f s", n, now_s() - t0);
    if (n == 1) {
        CHECK_STR(m[0].body, "late");
        receipts[0] = m[0].receipt_handle;
        CHECK(sqs_delete_batch(c, g_queue_url, receipts, 1, NULL, &err) == 0);
    }
    sqs_messages_free(m, n);

    /* the abort flag ends a long poll at once */
    atomic_store(&g_flag, 0);
    aws_client_set_abort_flag(c, &g_flag);
    pthread_create(&th, NULL, raise_flag, NULL);
    t0 = now_s();
    CHECK(sqs_receive(c, g_queue_url, 1, 20, -1, &m, &n, &err) == -1);
    pthread_join(th, NULL);
    CHECK_MSG(now_s() - t0 < 2, "the abort took %.1f s", now_s() - t0);
    CHECK(strstr(err.msg, "aborted") != NULL);
    aws_client_set_abort_flag(c, NULL);

    const char *names[] = {"VisibilityTimeout", "QueueArn", "ApproximateNumberOfMessages",
                           "ApproximateNumberOfMessagesNotVisible"};
    cJSON *attrs = NULL;
    CHECK_MSG(sqs_get_attributes(c, g_queue_url, names, 4, &attrs, &err) == 0, "%s", err.msg);
    const cJSON *v = cJSON_GetObjectItem(attrs, "VisibilityTimeout");
    CHECK(cJSON_IsString(v) && strcmp(v->valuestring, "30") == 0);
    v = cJSON_GetObjectItem(attrs, "QueueArn");
    CHECK(cJSON_IsString(v) && strstr(v->valuestring, g_queue) != NULL);
    v = cJSON_GetObjectItem(attrs, "ApproximateNumberOfMessages");
    CHECK(cJSON_IsString(v) && strcmp(v->valuestring, "0") == 0);
    v = cJSON_GetObjectItem(attrs, "ApproximateNumberOfMessagesNotVisible");
    CHECK(cJSON_IsString(v) && strcmp(v->valuestring, "0") == 0);
    cJSON_Delete(attrs);

    char *url = NULL;
    CHECK_MSG(sqs_get_queue_url(c, g_queue, NULL, &url, &err) == 0, "%s", err.msg);
    CHECK(url && strcmp(url, g_queue_url) == 0);
    free(url);
    CHECK(sqs_get_queue_url(c, "pestrun-no-such-queue", NULL, &url, &err) == -1);
    CHECK_MSG(strstr(err.msg, "SQS GetQueueUrl: HTTP 400 AWS.SimpleQueueService.NonExistentQueue"),
              "%s", err.msg);
}

/* ------------------------------------------------------------------------------------------ */
/* S3                                                                                         */

struct listing {
    char keys[64][64];
    long long sizes[64];
    int n;
};

static int on_key(void *ctx, const char *key, long long size)
{
    struct listing *l = ctx;
    if (l->n < 64) {
        snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
        l->sizes[l->n] = size;
    }
    l->n++;
    return 0;
}

static int stop_at_3(void *ctx, const char *key, long long size)
{
    return ++*(int *)ctx == 3 ? 42 : 0;
}

static void test_s3_small(struct aws_client *c)
{
    static const char *const keys[] = {"plain.txt",
                                       "dir one/\xc3\xbc \xc3\xb1 \xe2\x82\xac/file (1).txt",
                                       "odd+&%=?#;chars.txt", "a/./b/../c"};
    struct pr_error err;
    struct strbuf got = {0};
    long long size = -1;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *k = keys[i];
        struct listing l = {.n = 0};
        CHECK_MSG(s3_put(c, g_bucket, k, k, strlen(k), NULL, &err) == 0, "%s: %s", k, err.msg);
        sb_reset(&got);
        CHECK_MSG(s3_get(c, g_bucket, k, &got, &err) == 1, "%s: %s", k, err.msg);
        CHECK_MSG(got.data && strcmp(got.data, k) == 0, "%s", k);
        CHECK(s3_head(c, g_bucket, k, &size, &err) == 1 && size == (long long)strlen(k));
        CHECK(s3_list(c, g_bucket, k, on_key, &l, &err) == 0);
        CHECK_MSG(l.n == 1 && strcmp(l.keys[0], k) == 0, "list %s: %d keys, first '%s'", k, l.n,
                  l.n ? l.keys[0] : "");
        CHECK(s3_delete(c, g_bucket, k, &err) == 0);
        CHECK(s3_head(c, g_bucket, k, &size, &err) == 0);
        sb_reset(&got);
        CHECK(s3_get(c, g_bucket, k, &got, &err) == 0);
    }
    CHECK(s3_delete(c, g_bucket, "never-there", &err) == 0);
    sb_free(&got);

    /* SSE-KMS headers are accepted (the emulator ignores them) */
    struct s3_put_opts o = {.content_type = "application/json", .sse_kms = 1};
    CHECK_MSG(s3_put(c, g_bucket, "kms.json", "{}", 2, &o, &err) == 0, "%s", err.msg);
    CHECK(s3_delete(c, g_bucket, "kms.json", &err) == 0);
}

static void test_s3_list(struct aws_client *c)
{
    struct pr_error err;
    struct listing l = {.n = 0};
    char key[64];
    int stopped = 0, ok = 1;

    for (int i = 29; i >= 0; i--) {
        snprintf(key, sizeof(key), "list/k%02d", i);
        ok &= s3_put(c, g_bucket, key, key, (size_t)i, NULL, &err) == 0;
    }
    CHECK_MSG(ok, "%s", err.msg);
    CHECK(s3_put(c, g_bucket, "listx", "x", 1, NULL, &err) == 0); /* outside the prefix */
    CHECK_MSG(s3_list_n(c, g_bucket, "list/", 7, on_key, &l, &err) == 0, "%s", err.msg);
    CHECK_MSG(l.n == 30, "%d keys", l.n);
    for (int i = 0; i < 30 && i < l.n; i++) {
        snprintf(key, sizeof(key), "list/k%02d", i);
        CHECK_STR(l.keys[i], key);
        CHECK(l.sizes[i] == i);
    }
    l.n = 0;
    CHECK(s3_list(c, g_bucket, "list/", on_key, &l, &err) == 0 && l.n == 30);
    CHECK(s3_list_n(c, g_bucket, "list/", 2, stop_at_3, &stopped, &err) == 42 && stopped == 3);
    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof(key), "list/k%02d", i);
        s3_delete(c, g_bucket, key, &err);
    }
    s3_delete(c, g_bucket, "listx", &err);
    l.n = 0;
    CHECK(s3_list(c, g_bucket, "list", on_key, &l, &err) == 0 && l.n == 0);
}

static void test_s3_files(struct aws_client *c, const char *tmp)
{
    struct pr_error err;
    char in[4096], out[4096], h1[65], h2[65];
    size_t size = 20u << 20, len = 0;
    char *data = xmalloc(size), *back;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    long long remote = -1;

    for (size_t i = 0; i < size; i++) { /* not compressible, not periodic */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (char)(x >> 32);
    }
    snprintf(in, sizeof(in), "%s/big.bin", tmp);
    snprintf(out, sizeof(out), "%s/big.back", tmp);
    CHECK(pr_write_file(in, data, size, &err) == 0);
    aws_sha256_hex(data, size, h1);
    free(data);

    /* 20 MiB: a multipart upload of 8 + 8 + 4 MiB */
    CHECK_MSG(s3_put_file(c, g_bucket, "files/big.bin", in, NULL, &err) == 0, "%s", err.msg);
    CHECK(s3_head(c, g_bucket, "files/big.bin", &remote, &err) == 1 && remote == (long long)size);
    CHECK_MSG(s3_get_file(c, g_bucket, "files/big.bin", out, &err) == 1, "%s", err.msg);
    back = pr_read_file(out, &len, &err);
    CHECK(back && len == size);
    if (back) {
        aws_sha256_hex(back, len, h2);
        CHECK_STR(h2, h1);
    }
    free(back);
    CHECK(s3_get_file(c, g_bucket, "files/none", out, &err) == 0);
    CHECK(s3_delete(c, g_bucket, "files/big.bin", &err) == 0);

    /* a small file: one PutObject streamed from the file */
    CHECK(pr_write_file(in, "small file", 10, &err) == 0);
    CHECK_MSG(s3_put_file(c, g_bucket, "files/small", in, NULL, &err) == 0, "%s", err.msg);
    CHECK(s3_get_file(c, g_bucket, "files/small", out, &err) == 1);
    back = pr_read_file(out, &len, &err);
    CHECK(back && strcmp(back, "small file") == 0);
    free(back);
    CHECK(s3_delete(c, g_bucket, "files/small", &err) == 0);
}

int main(void)
{
    const char *ep = getenv("AWS_ENDPOINT_URL");
    struct pr_error err;
    struct aws_client *c;
    char *tmp;

    if (!ep || !*ep) {
        printf("skipped: no emulator (AWS_ENDPOINT_URL unset)\n");
        return 77;
    }
    tmp = pr_make_temp_dir(NULL, "pestrun-aws-api", &err);
    if (!tmp) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    /* an emulator takes any credentials; a given set (for a signing proxy) is kept */
    setenv("AWS_ACCESS_KEY_ID", "test", 0);
    setenv("AWS_SECRET_ACCESS_KEY", "test", 0);
    setenv("AWS_REGION", "us-east-1", 0);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    snprintf(g_queue, sizeof(g_queue), "pestrun-api-%ld", (long)getpid());
    snprintf(g_bucket, sizeof(g_bucket), "pestrun-api-%ld", (long)getpid());
    g_creds = aws_creds_chain_new();
    c = client();

    if (create_queue(c) == 0) test_sqs(c);
    if (create_bucket(c) == 0) {
        test_s3_small(c);
        test_s3_list(c);
        test_s3_files(c, tmp);
    }
    struct aws_client_stats st;
    aws_client_stats(c, &st);
    printf("%lu requests, %lu retries\n", st.requests, st.retries);

    free(g_queue_url);
    aws_client_free(c);
    aws_creds_provider_free(g_creds);
    pr_remove_tree(tmp, &err);
    free(tmp);
    return check_done();
}
