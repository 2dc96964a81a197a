/* The signed HTTP client (aws/http.c) and the SQS and S3 calls above it, against a
 * scripted HTTP server on 127.0.0.1 in this process: each request gets the next scripted
 * answer (a status, headers and body; a closed connection; or no answer at all). Checks the
 * retry rules, the attempt counts, connection reuse, the signature header, error messages,
 * the abort flag, streaming to and from files, and the parsing of SQS and S3 answers. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
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

/* ------------------------------------------------------------------------------------------ */
/* the scripted server                                                                        */

enum act { ANSWER, CLOSE, SILENT };

struct step {
    enum act act;
    int status;
    const char *headers; /* extra header lines, each ending in \r\n */
    const char *body;
};

#define MAXCONN 16

struct conn {
    int fd;
    struct strbuf in;
};

static struct fake {
    int lfd, port, wake[2];
    pthread_t th;
    pthread_mutex_t mu;
    const struct step *steps;
    size_t nsteps, next;
    int accepts, requests;
    struct conn conns[MAXCONN];
    /* the last request, and one line per request */
    char method[16];
    struct strbuf target, headers, body, log;
} F = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void conn_close(struct conn *c)
{
    close(c->fd);
    c->fd = -1;
    sb_free(&c->in);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/* The value of header name in a raw header block, or "" (a static buffer). */
static const char *header_in(const char *block, const char *name)
{
    static char v[1024];
    size_t nl = strlen(name);
    const char *p = block;

    v[0] = '\0';
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (!eol) break;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *s = p + nl + 1;
            while (*s == ' ')
                s++;
            snprintf(v, sizeof(v), "%.*s", (int)(eol - s), s);
            return v;
        }
        p = eol + 2;
    }
    return v;
}

/* Answer the complete requests in c's buffer. Returns -1 when the connection is to close. */
static int serve(struct conn *c)
{
    for (;;) {
        char *end = c->in.data ? strstr(c->in.data, "\r\n\r\n") : NULL;
        size_t hlen, blen, total;
        struct step s = {ANSWER, 200, NULL, "{}"};
        struct strbuf out = {0};
        char method[16] = "";
        int silent;

        if (!end) return 0;
        hlen = (size_t)(end - c->in.data) + 4;
        c->in.data[hlen - 2] = '\0'; /* keep the last header's \r\n */
        blen =
            (size_t)strtoull(header_in(strchr(c->in.data, '\n') + 1, "Content-Length"), NULL, 10);
        c->in.data[hlen - 2] = '\r';
        total = hlen + blen;
        if (c->in.len < total) return 0;

        sscanf(c->in.data, "%15s", method);
        pthread_mutex_lock(&F.mu);
        snprintf(F.method, sizeof(F.method), "%s", method);
        sb_reset(&F.target);
        sb_append(&F.target, strchr(c->in.data, ' ') + 1,
                  strcspn(strchr(c->in.data, ' ') + 1, " "));
        sb_reset(&F.headers);
        sb_append(&F.headers, strchr(c->in.data, '\n') + 1,
                  hlen - 2 - (size_t)(strchr(c->in.data, '\n') + 1 - c->in.data));
        sb_reset(&F.body);
        sb_append(&F.body, c->in.data + hlen, blen);
        sb_printf(&F.log, "%s %s\n", F.method, F.target.data);
        F.requests++;
        if (F.next < F.nsteps) s = F.steps[F.next++];
        pthread_mutex_unlock(&F.mu);

        memmove(c->in.data, c->in.data + total, c->in.len - total);
        c->in.len -= total;
        c->in.data[c->in.len] = '\0';
        if (s.act == CLOSE) return -1;
        silent = s.act == SILENT;
        if (silent) continue; /* the client waits until it gives up */
        sb_printf(&out, "HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\n%s\r\n", s.status,
                  strlen(s.body), s.headers ? s.headers : "");
        if (strcmp(method, "HEAD") != 0) sb_puts(&out, s.body);
        send_all(c->fd, out.data, out.len);
        sb_free(&out);
    }
}

static void *fake_main(void *arg)
{
    for (;;) {
        struct pollfd p[MAXCONN + 2];
        int n = 0, idx[MAXCONN + 2];

        p[n++] = (struct pollfd){.fd = F.wake[0], .events = POLLIN};
        p[n++] = (struct pollfd){.fd = F.lfd, .events = POLLIN};
        for (int i = 0; i < MAXCONN; i++)
            if (F.conns[i].fd >= 0) {
                idx[n] = i;
                p[n++] = (struct pollfd){.fd = F.conns[i].fd, .events = POLLIN};
            }
        if (poll(p, (nfds_t)n, 1000) < 0 && errno != EINTR) break;
        if (p[0].revents) break;
        if (p[1].revents & POLLIN) {
            int fd = accept(F.lfd, NULL, NULL);
            for (int i = 0; fd >= 0 && i < MAXCONN; i++)
                if (F.conns[i].fd < 0) {
                    F.conns[i].fd = fd;
                    fd = -1;
                    pthread_mutex_lock(&F.mu);
                    F.accepts++;
                    pthread_mutex_unlock(&F.mu);
                }
            if (fd >= 0) close(fd);
        }
        for (int k = 2; k < n; k++) {
            struct conn *c = &F.conns[idx[k]];
            char buf[65536];
            ssize_t r;
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            r = recv(c->fd, buf, sizeof(buf), 0);
            if (r <= 0) {
                conn_close(c);
                continue;
            }
            sb_append(&c->in, buf, (size_t)r);
            if (serve(c) < 0) conn_close(c);
        }
    }
    return NULL;
}

static int fake_start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);

    for (int i = 0; i < MAXCONN; i++)
        F.conns[i].fd = -1;
    F.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (F.lfd < 0 || bind(F.lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(F.lfd, 16) < 0 ||
        getsockname(F.lfd, (struct sockaddr *)&a, &al) < 0 || pipe(F.wake) < 0)
        return -1;
    F.port = ntohs(a.sin_port);
    return pthread_create(&F.th, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static void fake_stop(void)
{
    if (write(F.wake[1], "x", 1) < 0) return;
    pthread_join(F.th, NULL);
    for (int i = 0; i < MAXCONN; i++)
        if (F.conns[i].fd >= 0) conn_close(&F.conns[i]);
    close(F.lfd);
    close(F.wake[0]);
    close(F.wake[1]);
    sb_free(&F.target);
    sb_free(&F.headers);
    sb_free(&F.body);
    sb_free(&F.log);
}

/* Script the next answers; the counters and the log start again. */
static void script(const struct step *steps, size_t n)
{
    pthread_mutex_lock(&F.mu);
    F.steps = steps;
    F.nsteps = n;
    F.next = 0;
    F.accepts = F.requests = 0;
    sb_reset(&F.log);
    pthread_mutex_unlock(&F.mu);
}

static int fake_accepts(void)
{
    pthread_mutex_lock(&F.mu);
    int n = F.accepts;
    pthread_mutex_unlock(&F.mu);
    return n;
}

#define SCRIPT(...)                                                                                \
    do {                                                                                           \
        static const struct step s_[] = {__VA_ARGS__};                                             \
        script(s_, sizeof(s_) / sizeof(s_[0]));                                                    \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                    */

static struct aws_creds_provider *g_creds;

static struct aws_client *client(void)
{
    struct pr_error err = {""};
    struct aws_client *c = aws_client_new(g_creds, NULL, &err);
    CHECK_MSG(c != NULL, "aws_client_new: %s", err.msg);
    return c;
}

static const char target_hdr[] = "AmazonSQS.GetQueueUrl";
static const struct aws_kv sqs_headers[] = {{"Content-Type", "application/x-amz-json-1.0"},
                                            {"X-Amz-Target", target_hdr}};

/* A GetQueueUrl call by hand. */
static int call(struct aws_client *c, struct aws_response *resp, struct pr_error *err)
{
    static const char body[] = "{\"QueueName\":\"q\"}";
    struct aws_request rq = {.method = "POST",
                             .service = "sqs",
                             .path = "/",
                             .headers = sqs_headers,
                             .nheaders = 2,
                             .body = body,
                             .body_len = sizeof(body) - 1,
                             .out_fd = -1};
    aws_response_free(resp);
    aws_response_init(resp);
    err->msg[0] = '\0';
    return aws_call(c, &rq, resp, err);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define JSON_CT "Content-Type: application/x-amz-json-1.0\r\n"

/* ------------------------------------------------------------------------------------------ */
/* the tests                                                                                  */

static void test_retries(void)
{
    struct aws_client *c = client();
    struct aws_response r;
    struct aws_client_stats st;
    struct pr_error err;

    aws_response_init(&r);
    SCRIPT({ANSWER, 500, NULL, "{}"}, {ANSWER, 503, NULL, "{}"},
           {ANSWER, 200, JSON_CT "x-amzn-RequestId: rid-1\r\n", "{\"QueueUrl\":\"u\"}"});
    CHECK_MSG(call(c, &r, &err) == 0, "%s", err.msg);
    aws_client_stats(c, &st);
    CHECK(st.requests == 3 && st.retries == 2);
    CHECK(r.status == 200);
    CHECK_STR(r.request_id, "rid-1");
    CHECK_STR(r.body.data, "{\"QueueUrl\":\"u\"}");

    /* a connection closed without an answer, throttling as JSON (__type with a prefix) and as
     * S3's XML: each is retried. (The close comes first, on a fresh connection: on a reused
     * one libcurl itself sends the request again on a new connection.) */
    setenv("AWS_MAX_ATTEMPTS", "4", 1);
    aws_client_free(c);
    c = client();
    SCRIPT({CLOSE, 0, NULL, NULL},
           {ANSWER, 400, JSON_CT,
            "{\"__type\":\"com.amazonaws.sqs#ThrottlingException\",\"message\":\"slow\"}"},
           {ANSWER, 503, "Content-Type: application/xml\r\n",
            "<?xml version=\"1.0\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your "
            "request rate.</Message></Error>"},
           {ANSWER, 200, JSON_CT, "{}"});
    CHECK_MSG(call(c, &r, &err) == 0, "%s", err.msg);
    aws_client_stats(c, &st);
    CHECK_MSG(st.requests == 4 && st.retries == 3, "%lu requests, %lu retries", st.requests,
              st.retries);
    CHECK(F.requests == 4);
    unsetenv("AWS_MAX_ATTEMPTS");
    aws_response_free(&r);
    aws_client_free(c);
}

static void test_not_retried(void)
{
    struct aws_client *c = client();
    struct aws_response r;
    struct aws_client_stats st;
    struct pr_error err;

    aws_response_init(&r);
    SCRIPT({ANSWER, 400,
            JSON_CT "x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender\r\n",
            "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\","
            "\"message\":\"The specified queue does not exist.\"}"});
    CHECK(call(c, &r, &err) == 1);
    aws_client_stats(c, &st);
    CHECK(st.requests == 1 && st.retries == 0);
    CHECK(r.status == 400);
    CHECK_STR(r.error_code, "AWS.SimpleQueueService.NonExistentQueue");
    CHECK_STR(err.msg, "SQS GetQueueUrl: HTTP 400 AWS.SimpleQueueService.NonExistentQueue: The "
                       "specified queue does not exist.");

    /* without the Query-protocol header the JSON code is used, its prefix stripped */
    SCRIPT({ANSWER, 400, JSON_CT,
            "{\"__type\":\"com.amazon.coral.service#AccessDeniedException\",\"Message\":\"no\"}"});
    CHECK(call(c, &r, &err) == 1);
    CHECK_STR(r.error_code, "AccessDeniedException");
    CHECK_STR(err.msg, "SQS GetQueueUrl: HTTP 400 AccessDeniedException: no");
    aws_response_free(&r);
    aws_client_free(c);
}

static void test_max_attempts(void)
{
    struct aws_client *c;
    struct aws_response r;
    struct aws_client_stats st;
    struct pr_error err;

    aws_response_init(&r);
    setenv("AWS_MAX_ATTEMPTS", "2", 1);
    c = client();
    SCRIPT({ANSWER, 500, NULL, "<Error><Code>InternalError</Code><Message>oops</Message></Error>"},
           {ANSWER, 502, NULL, "<Error><Code>InternalError</Code><Message>oops</Message></Error>"},
           {ANSWER, 200, NULL, "{}"});
    CHECK(call(c, &r, &err) == 1);
    aws_client_stats(c, &st);
    CHECK(st.requests == 2 && st.retries == 1);
    CHECK(r.status == 502);
    CHECK_STR(err.msg, "SQS GetQueueUrl: HTTP 502 InternalError: oops (after 2 attempts)");
    aws_client_free(c);

    setenv("AWS_MAX_ATTEMPTS", "1", 1);
    c = client();
    SCRIPT({ANSWER, 503, NULL, ""}, {ANSWER, 200, NULL, "{}"});
    CHECK(call(c, &r, &err) == 1);
    aws_client_stats(c, &st);
    CHECK(st.requests == 1);
    CHECK_STR(err.msg, "SQS GetQueueUrl: HTTP 503");
    aws_client_free(c);
    unsetenv("AWS_MAX_ATTEMPTS");
    aws_response_free(&r);
}

static void test_expired_token(void)
{
    struct aws_client *c;
    struct aws_response r;
    struct aws_client_stats st;
    struct pr_error err;

    /* the credentials are fetched again once, even when no retry is allowed */
    setenv("AWS_MAX_ATTEMPTS", "1", 1);
    c = client();
    aws_response_init(&r);
    SCRIPT({ANSWER, 400, NULL,
            "<ErrorResponse><Error><Code>ExpiredToken</Code><Message>The security token "
            "included in the request is expired</Message></Error></ErrorResponse>"},
           {ANSWER, 200, NULL, "{}"});
    CHECK_MSG(call(c, &r, &err) == 0, "%s", err.msg);
    aws_client_stats(c, &st);
    CHECK(st.requests == 2);
    /* but only once */
    SCRIPT({ANSWER, 403, JSON_CT, "{\"__type\":\"InvalidClientTokenId\",\"message\":\"bad\"}"},
           {ANSWER, 403, JSON_CT, "{\"__type\":\"InvalidClientTokenId\",\"message\":\"bad\"}"},
           {ANSWER, 200, NULL, "{}"});
    CHECK(call(c, &r, &err) == 1);
    CHECK_STR(err.msg, "SQS GetQueueUrl: HTTP 403 InvalidClientTokenId: bad (after 2 attempts)");
    aws_client_free(c);

    /* a clock far off: signed again in the service's time, from its Date header */
    c = client();
    SCRIPT({ANSWER, 403, "Date: Wed, 01 Jan 2020 00:00:00 GMT\r\n",
            "<Error><Code>RequestTimeTooSkewed</Code><Message>skewed</Message></Error>"},
           {ANSWER, 200, NULL, "{}"});
    CHECK_MSG(call(c, &r, &err) == 0, "%s", err.msg);
    CHECK_MSG(strncmp(header_in(F.headers.data, "X-Amz-Date"), "20200101T00000", 14) == 0, "%s",
              header_in(F.headers.data, "X-Amz-Date"));
    unsetenv("AWS_MAX_ATTEMPTS");
    aws_response_free(&r);
    aws_client_free(c);
}

static void test_reuse_and_signature(void)
{
    struct aws_client *c = client();
    struct aws_response r;
    struct pr_error err;
    const char *auth;

    aws_response_init(&r);
    script(NULL, 0);
    for (int i = 0; i < 5; i++)
        CHECK_MSG(call(c, &r, &err) == 0, "%s", err.msg);
    CHECK_MSG(fake_accepts() == 1, "%d connections for 5 calls", fake_accepts());
    auth = header_in(F.headers.data, "Authorization");
    CHECK_MSG(strncmp(auth, "AWS4-HMAC-SHA256 Credential=AKID/", 33) == 0, "%s", auth);
    CHECK_MSG(strstr(auth, "/us-east-1/sqs/aws4_request") != NULL, "%s", auth);
    CHECK(strlen(header_in(F.headers.data, "X-Amz-Date")) == 16);
    CHECK_STR(header_in(F.headers.data, "X-Amz-Target"), "AmazonSQS.GetQueueUrl");
    CHECK_STR(header_in(F.headers.data, "X-Amz-Security-Token"), "");
    /* a retry after an error answer keeps the connection too */
    script((const struct step[]){{ANSWER, 500, NULL, "{}"}, {ANSWER, 200, NULL, "{}"}}, 2);
    CHECK(call(c, &r, &err) == 0);
    CHECK(fake_accepts() == 0);
    aws_client_free(c);

    /* a provider of its own: g_creds keeps what it read first */
    setenv("AWS_SESSION_TOKEN", "TOKEN/xyz", 1);
    struct aws_creds_provider *p = aws_creds_chain_new();
    c = aws_client_new(p, NULL, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (!c) {
        aws_creds_provider_free(p);
        aws_response_free(&r);
        return;
    }
    script(NULL, 0);
    CHECK(call(c, &r, &err) == 0);
    CHECK_STR(header_in(F.headers.data, "X-Amz-Security-Token"), "TOKEN/xyz");
    CHECK(strstr(header_in(F.headers.data, "Authorization"), "x-amz-security-token") != NULL);
    CHECK(strstr(err.msg, "TOKEN") == NULL);
    unsetenv("AWS_SESSION_TOKEN");
    aws_response_free(&r);
    aws_client_free(c);
    aws_creds_provider_free(p);
}

static atomic_int g_flag;

static void *raise_flag(void *arg)
{
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&g_flag, 1);
    return NULL;
}

static void test_abort(void)
{
    struct aws_client *c = client();
    struct aws_response r;
    struct pr_error err;
    pthread_t th;
    double t0;

    aws_response_init(&r);
    /* a call whose answer never comes */
    atomic_store(&g_flag, 0);
    aws_client_set_abort_flag(c, &g_flag);
    SCRIPT({SILENT, 0, NULL, NULL});
    t0 = now_s();
    pthread_create(&th, NULL, raise_flag, NULL);
    CHECK(call(c, &r, &err) == -1);
    pthread_join(th, NULL);
    CHECK_MSG(now_s() - t0 < 1.0, "the abort took %.2f s", now_s() - t0);
    CHECK_STR(err.msg, "SQS GetQueueUrl: aborted");
    /* raised already: no request at all */
    SCRIPT({ANSWER, 200, NULL, "{}"});
    CHECK(call(c, &r, &err) == -1);
    CHECK(F.requests == 0);
    aws_client_free(c);

    /* during a long backoff */
    setenv("PESTRUN_AWS_RETRY_BASE_MS", "20000", 1);
    c = client();
    atomic_store(&g_flag, 0);
    aws_client_set_abort_flag(c, &g_flag);
    SCRIPT({ANSWER, 500, NULL, "{}"}, {ANSWER, 500, NULL, "{}"}, {ANSWER, 500, NULL, "{}"});
    pthread_create(&th, NULL, raise_flag, NULL);
    t0 = now_s();
    int rc = call(c, &r, &err);
    pthread_join(th, NULL);
    /* the jitter may pick a wait shorter than 200 ms, then a later one is cut */
    CHECK_MSG(rc == -1 || rc == 1, "rc %d", rc);
    CHECK_MSG(now_s() - t0 < 1.0, "the abort took %.2f s", now_s() - t0);
    setenv("PESTRUN_AWS_RETRY_BASE_MS", "1", 1);
    aws_response_free(&r);
    aws_client_free(c);
}

static void test_no_server(void)
{
    struct aws_client *c;
    struct aws_response r;
    struct aws_client_stats st;
    struct pr_error err;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char url[64];

    /* a port that was free a moment ago: nothing listens there */
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    setenv("AWS_ENDPOINT_URL_SQS", url, 1);
    c = client();
    aws_response_init(&r);
    CHECK(call(c, &r, &err) == -1);
    aws_client_stats(c, &st);
    CHECK(st.requests == 3 && st.retries == 2);
    CHECK_MSG(strstr(err.msg, "SQS GetQueueUrl: no answer from http://127.0.0.1:") == err.msg &&
                  strstr(err.msg, "(3 attempts)"),
              "%s", err.msg);
    unsetenv("AWS_ENDPOINT_URL_SQS");
    aws_response_free(&r);
    aws_client_free(c);
}

static void test_endpoints(void)
{
    struct aws_client *c;
    struct pr_error err;
    const char *saved = getenv("AWS_ENDPOINT_URL");
    char *keep = saved ? xstrdup(saved) : NULL;
    int ov = -1;

    unsetenv("AWS_ENDPOINT_URL");
    c = aws_client_new(g_creds, "eu-west-1", &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(aws_client_endpoint(c, "sqs", &ov), "https://sqs.eu-west-1.amazonaws.com");
        CHECK(ov == 0);
        CHECK_STR(aws_client_endpoint(c, "s3", &ov), "https://s3.eu-west-1.amazonaws.com");
        CHECK_STR(aws_client_region(c), "eu-west-1");
        CHECK(aws_client_endpoint(c, "ec2", NULL) == NULL);
    }
    aws_client_free(c);
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000/", 1);
    c = client();
    if (c) {
        CHECK_STR(aws_client_endpoint(c, "s3", &ov), "http://127.0.0.1:9000");
        CHECK(ov == 1);
        CHECK_STR(aws_client_endpoint(c, "sqs", &ov), "https://sqs.us-east-1.amazonaws.com");
    }
    aws_client_free(c);
    unsetenv("AWS_ENDPOINT_URL_S3");
    if (keep) setenv("AWS_ENDPOINT_URL", keep, 1);
    free(keep);
}

static void test_inval(void)
{
    struct aws_client *c = client();
    struct aws_response r;
    struct pr_error err;
    struct aws_request rq = {.method = "GET", .service = "sqs", .path = "nope", .out_fd = -1};
    struct aws_kv bad[] = {{"X-Bad", "a\r\nInjected: 1"}};

    aws_response_init(&r);
    CHECK(aws_call(c, NULL, &r, &err) == -1);
    CHECK(aws_call(c, &rq, &r, &err) == -1);
    rq.path = "/";
    rq.service = "ec2";
    CHECK(aws_call(c, &rq, &r, &err) == -1);
    CHECK(strstr(err.msg, "unknown service") != NULL);
    rq.service = "sqs";
    rq.headers = bad;
    rq.nheaders = 1;
    CHECK(aws_call(c, &rq, &r, &err) == -1);
    rq.nheaders = 0;
    rq.body_len = 10; /* a streamed body for SQS */
    rq.body_fd = 3;
    CHECK(aws_call(c, &rq, &r, &err) == -1);
    aws_client_free(c);

    setenv("AWS_MAX_ATTEMPTS", "zero", 1);
    CHECK(aws_client_new(g_creds, NULL, &err) == NULL);
    CHECK_STR(err.msg, "AWS_MAX_ATTEMPTS: expected a whole number from 1 to 100, got 'zero'");
    unsetenv("AWS_MAX_ATTEMPTS");
    setenv("AWS_ENDPOINT_URL_SQS", "ftp://example.com", 1);
    CHECK(aws_client_new(g_creds, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "AWS_ENDPOINT_URL_SQS") != NULL);
    unsetenv("AWS_ENDPOINT_URL_SQS");
    CHECK(aws_client_new(g_creds, "us-east-1.evil.com/", &err) == NULL);
    CHECK(aws_client_new(NULL, NULL, &err) == NULL);
    aws_client_free(NULL);
    aws_response_free(&r);

    c = client();
    CHECK(sqs_send_batch(c, "u", NULL, 0, NULL, &err) == -1);
    CHECK(sqs_receive(c, "u", 11, 0, -1, NULL, NULL, &err) == -1);
    CHECK(s3_put(c, "a", "k", "x", 1, NULL, &err) == -1); /* bucket name too short */
    CHECK(s3_put(c, "bucket", "", "x", 1, NULL, &err) == -1);
    aws_client_free(c);
}

static void test_xml(void)
{
    const char doc[] = "<?xml version=\"1.0\"?><R xmlns=\"x\"><Keys/><Key>a &amp; b &lt;c&gt; "
                       "&quot;d&quot; &apos;e&apos; &#233; &#x20AC; &bogus; &</Key>"
                       "<KeyCount>2</KeyCount><Key >second</Key ></R>";
    const char *in, *in_end, *next;
    char *t;

    t = aws_xml_text(doc, doc + sizeof(doc) - 1, "Key");
    CHECK_STR(t, "a & b <c> \"d\" 'e' \xc3\xa9 \xe2\x82\xac &bogus; &");
    free(t);
    next = aws_xml_find(doc, doc + sizeof(doc) - 1, "Keys", &in, &in_end);
    CHECK(next && in == in_end);
    next = aws_xml_find(doc, doc + sizeof(doc) - 1, "Key", &in, &in_end);
    t = next ? aws_xml_text(next, doc + sizeof(doc) - 1, "Key") : NULL;
    CHECK(t && strcmp(t, "second") == 0);
    free(t);
    CHECK(aws_xml_text(doc, doc + sizeof(doc) - 1, "Missing") == NULL);
    CHECK(aws_xml_text(doc, doc + 40, "Key") == NULL); /* cut before its end */
}

/* ------------------------------------------------------------------------------------------ */
/* SQS and S3 over the scripted server                                                        */

static void test_sqs_calls(void)
{
    struct aws_client *c = client();
    struct pr_error err;
    const char *bodies[] = {"a", "b", "c"};
    int ok[3] = {-1, -1, -1};
    struct sqs_message *m = NULL;
    size_t n = 0;
    cJSON *req, *attrs = NULL;
    char *url = NULL;

    /* MD5 of "a" and a wrong one for "c" */
    SCRIPT({ANSWER, 200, JSON_CT,
            "{\"Successful\":[{\"Id\":\"0\",\"MessageId\":\"m0\",\"MD5OfMessageBody\":"
            "\"0cc175b9c0f1b6a831c399e269772661\"},{\"Id\":\"2\",\"MessageId\":\"m2\","
            "\"MD5OfMessageBody\":\"00000000000000000000000000000000\"}],"
            "\"Failed\":[{\"Id\":\"1\",\"SenderFault\":true,\"Code\":\"InvalidMessageContents\","
            "\"Message\":\"bad\"}]}"});
    CHECK(sqs_send_batch(c, "http://q/1/q", bodies, 3, ok, &err) == 1);
    CHECK(ok[0] == 1 && ok[1] == 0 && ok[2] == 0);
    CHECK_MSG(strstr(err.msg, "entry 2") || strstr(err.msg, "entry 1: InvalidMessageContents: bad"),
              "%s", err.msg);
    CHECK_STR(header_in(F.headers.data, "X-Amz-Target"), "AmazonSQS.SendMessageBatch");
    CHECK_STR(header_in(F.headers.data, "Content-Type"), "application/x-amz-json-1.0");
    CHECK_STR(F.target.data, "/");
    req = cJSON_Parse(F.body.data);
    CHECK_STR(cJSON_GetObjectItem(req, "QueueUrl")->valuestring, "http://q/1/q");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(req, "Entries")) == 3);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(req, "Entries"), 2), "Id")
                  ->valuestring,
              "2");
    cJSON_Delete(req);

    SCRIPT({ANSWER, 200, JSON_CT,
            "{\"Messages\":[{\"MessageId\":\"id1\",\"ReceiptHandle\":\"rh1\",\"Body\":\"hello\","
            "\"Attributes\":{\"ApproximateReceiveCount\":\"3\","
            "\"ApproximateFirstReceiveTimestamp\":\"1700000000123\"}}]}"},
           {ANSWER, 200, JSON_CT, "{}"});
    CHECK(sqs_receive(c, "http://q/1/q", 10, 0, 30, &m, &n, &err) == 0);
    CHECK(n == 1);
    if (n == 1) {
        CHECK_STR(m[0].body, "hello");
        CHECK_STR(m[0].receipt_handle, "rh1");
        CHECK(m[0].receive_count == 3 && m[0].first_receive_ms == 1700000000123LL);
    }
    sqs_messages_free(m, n);
    req = cJSON_Parse(F.body.data);
    CHECK(cJSON_GetObjectItem(req, "VisibilityTimeout")->valueint == 30);
    CHECK(cJSON_GetObjectItem(req, "MaxNumberOfMessages")->valueint == 10);
    cJSON_Delete(req);
    CHECK(sqs_receive(c, "http://q/1/q", 1, 0, -1, &m, &n, &err) == 0 && n == 0);
    sqs_messages_free(m, n);

    SCRIPT({ANSWER, 200, JSON_CT, "{\"Successful\":[{\"Id\":\"1\"},{\"Id\":\"0\"}]}"});
    CHECK(sqs_delete_batch(c, "http://q/1/q", bodies, 2, ok, &err) == 0);
    CHECK(ok[0] == 1 && ok[1] == 1);
    SCRIPT({ANSWER, 200, JSON_CT, "{\"Successful\":[{\"Id\":\"0\"}]}"});
    CHECK(sqs_change_visibility_batch(c, "http://q/1/q", bodies, 2, 0, ok, &err) == 1);
    CHECK(ok[0] == 1 && ok[1] == 0);
    CHECK(strstr(err.msg, "entry 1 is missing") != NULL);
    CHECK_STR(header_in(F.headers.data, "X-Amz-Target"), "AmazonSQS.ChangeMessageVisibilityBatch");

    SCRIPT({ANSWER, 200, JSON_CT, "{\"Attributes\":{\"VisibilityTimeout\":\"30\"}}"},
           {ANSWER, 200, JSON_CT, "{\"QueueUrl\":\"http://sqs.x.localhost:1/000000000000/q\"}"});
    const char *names[] = {"VisibilityTimeout"};
    CHECK(sqs_get_attributes(c, "http://q/1/q", names, 1, &attrs, &err) == 0);
    CHECK(attrs && strcmp(cJSON_GetObjectItem(attrs, "VisibilityTimeout")->valuestring, "30") == 0);
    cJSON_Delete(attrs);
    CHECK(sqs_get_queue_url(c, "q", NULL, &url, &err) == 0);
    CHECK(url && strcmp(url, "http://sqs.x.localhost:1/000000000000/q") == 0);
    free(url);
    aws_client_free(c);
}

struct keys {
    struct strbuf all;
    int n;
};

static int on_key(void *ctx, const char *key, long long size)
{
    struct keys *k = ctx;
    sb_printf(&k->all, "%s=%lld;", key, size);
    return ++k->n == 100 ? 7 : 0;
}

static void test_s3_calls(const char *tmp)
{
    struct aws_client *c = client();
    struct pr_error err;
    struct strbuf got = {0};
    struct keys k = {{0}, 0};
    char hash[65], path[4096], *data;
    long long size = -1;
    size_t len;
    int fd;

    /* keys are encoded segment by segment, path-style on an overridden endpoint */
    script(NULL, 0);
    CHECK_MSG(s3_put(c, "my-bucket", "dir/a b+\xc3\xbc.txt", "hello", 5, NULL, &err) == 0, "%s",
              err.msg);
    CHECK_STR(F.method, "PUT");
    CHECK_STR(F.target.data, "/my-bucket/dir/a%20b%2B%C3%BC.txt");
    CHECK_STR(F.body.data, "hello");
    aws_sha256_hex("hello", 5, hash);
    CHECK_STR(header_in(F.headers.data, "x-amz-content-sha256"), hash);
    CHECK(strstr(header_in(F.headers.data, "Authorization"), "/us-east-1/s3/aws4_request"));
    struct s3_put_opts o = {.content_type = "text/plain", .sse_kms = 1, .kms_key_id = "alias/k"};
    CHECK(s3_put(c, "my-bucket", "k", "x", 1, &o, &err) == 0);
    CHECK_STR(header_in(F.headers.data, "x-amz-server-side-encryption"), "aws:kms");
    CHECK_STR(header_in(F.headers.data, "x-amz-server-side-encryption-aws-kms-key-id"), "alias/k");
    CHECK_STR(header_in(F.headers.data, "Content-Type"), "text/plain");

    /* get: found, missing key, missing bucket */
    SCRIPT({ANSWER, 200, NULL, "content"},
           {ANSWER, 404, NULL, "<Error><Code>NoSuchKey</Code><Message>no</Message></Error>"},
           {ANSWER, 404, NULL,
            "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not "
            "exist</Message></Error>"});
    CHECK(s3_get(c, "my-bucket", "k", &got, &err) == 1);
    CHECK_STR(got.data, "content");
    CHECK(s3_get(c, "my-bucket", "k", &got, &err) == 0);
    CHECK(s3_get(c, "my-bucket", "k", &got, &err) == -1);
    CHECK_STR(err.msg, "S3 GetObject: HTTP 404 NoSuchBucket: The specified bucket does not exist");
    sb_free(&got);

    /* head */
    SCRIPT({ANSWER, 200, NULL, "0123456789"}, {ANSWER, 404, NULL, ""}, {ANSWER, 403, NULL, ""});
    CHECK(s3_head(c, "my-bucket", "k", &size, &err) == 1 && size == 10);
    CHECK(s3_head(c, "my-bucket", "k", &size, &err) == 0);
    CHECK(s3_head(c, "my-bucket", "k", &size, &err) == -1);
    CHECK_STR(err.msg, "S3 HeadObject: HTTP 403 Forbidden");

    /* a download to a file, after an error answer that must not land in it */
    snprintf(path, sizeof(path), "%s/out.bin", tmp);
    SCRIPT({ANSWER, 500, NULL, "<Error><Code>InternalError</Code></Error>"},
           {ANSWER, 200, NULL, "the object's bytes"});
    CHECK_MSG(s3_get_file(c, "my-bucket", "k", path, &err) == 1, "%s", err.msg);
    data = pr_read_file(path, &len, &err);
    CHECK(data && strcmp(data, "the object's bytes") == 0);
    free(data);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), ".part");
    CHECK(access(path, F_OK) != 0);
    path[strlen(path) - 5] = '\0';
    SCRIPT({ANSWER, 404, NULL, "<Error><Code>NoSuchKey</Code></Error>"});
    CHECK(s3_get_file(c, "my-bucket", "k2", path, &err) == 0);

    /* listing: entities, pages, encoding-type=url */
    SCRIPT({ANSWER, 200, NULL,
            "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>p/a&amp;b</Key>"
            "<Size>1</Size></Contents><Contents><Key>p/&#x20AC;</Key><Size>2</Size></Contents>"
            "<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>"},
           {ANSWER, 200, NULL,
            "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
            "<Contents><Key>p/x+y%2Fz</Key><Size>3</Size></Contents></ListBucketResult>"});
    CHECK_MSG(s3_list_n(c, "my-bucket", "p/", 7, on_key, &k, &err) == 0, "%s", err.msg);
    CHECK_STR(k.all.data ? k.all.data : "", "p/a&b=1;p/\xe2\x82\xac=2;p/x y/z=3;");
    CHECK_STR(F.target.data, "/my-bucket?continuation-token=tok%2B%2F%3D&encoding-type=url&list-"
                             "type=2&max-keys=7&prefix=p%2F");
    sb_free(&k.all);

    /* delete: a missing key is no error */
    SCRIPT({ANSWER, 204, NULL, ""}, {ANSWER, 404, NULL, "<Error><Code>NoSuchKey</Code></Error>"});
    CHECK(s3_delete(c, "my-bucket", "k", &err) == 0);
    CHECK_STR(F.method, "DELETE");
    CHECK(s3_delete(c, "my-bucket", "k", &err) == 0);

    /* a multipart upload whose second part fails is aborted */
    snprintf(path, sizeof(path), "%s/big.bin", tmp);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, S3_MULTIPART_THRESHOLD + 100) == 0);
    CHECK(pwrite(fd, "tail", 4, S3_MULTIPART_THRESHOLD + 96) == 4);
    close(fd);
    SCRIPT({ANSWER, 200, NULL,
            "<InitiateMultipartUploadResult><UploadId>up/1+x</UploadId>"
            "</InitiateMultipartUploadResult>"},
           {ANSWER, 200, "ETag: \"e1\"\r\n", ""},
           {ANSWER, 400, NULL, "<Error><Code>InvalidArgument</Code><Message>m</Message></Error>"},
           {ANSWER, 204, NULL, ""});
    CHECK(s3_put_file(c, "my-bucket", "big", path, NULL, &err) == -1);
    CHECK_MSG(strstr(err.msg, "part 2 of 3: S3 UploadPart: HTTP 400 InvalidArgument: m"), "%s",
              err.msg);
    CHECK_STR(F.log.data, "POST /my-bucket/big?uploads=\n"
                          "PUT /my-bucket/big?partNumber=1&uploadId=up%2F1%2Bx\n"
                          "PUT /my-bucket/big?partNumber=2&uploadId=up%2F1%2Bx\n"
                          "DELETE /my-bucket/big?uploadId=up%2F1%2Bx\n");
    /* and a good one sends every byte and the part list */
    SCRIPT({ANSWER, 200, NULL, "<InitiateMultipartUploadResult><UploadId>U</UploadId>"},
           {ANSWER, 200, "ETag: \"e1\"\r\n", ""}, {ANSWER, 200, "ETag: \"e2\"\r\n", ""},
           {ANSWER, 200, "ETag: \"e3\"\r\n", ""},
           {ANSWER, 200, NULL, "<CompleteMultipartUploadResult/>"});
    CHECK_MSG(s3_put_file(c, "my-bucket", "big", path, NULL, &err) == 0, "%s", err.msg);
    CHECK_STR(F.body.data, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                           "2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;"
                           "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;"
                           "</ETag></Part><Part><PartNumber>3</PartNumber><ETag>&quot;e3&quot;"
                           "</ETag></Part></CompleteMultipartUpload>");
    /* an error inside a 200 answer to the completion */
    SCRIPT({ANSWER, 200, NULL, "<InitiateMultipartUploadResult><UploadId>U</UploadId>"},
           {ANSWER, 200, "ETag: \"e1\"\r\n", ""}, {ANSWER, 200, "ETag: \"e2\"\r\n", ""},
           {ANSWER, 200, "ETag: \"e3\"\r\n", ""},
           {ANSWER, 200, NULL, "<Error><Code>InvalidPart</Code><Message>gone</Message></Error>"});
    CHECK(s3_put_file(c, "my-bucket", "big", path, NULL, &err) == -1);
    CHECK(strstr(err.msg, "HTTP 200 InvalidPart: gone") != NULL);
    CHECK(strstr(F.log.data, "DELETE /my-bucket/big?uploadId=U") != NULL);
    aws_client_free(c);
}

/* The last part of a streamed upload reaches the server byte for byte. */
static void test_stream_upload(const char *tmp)
{
    struct aws_client *c = client();
    struct pr_error err;
    struct aws_response r;
    char path[4096];
    int fd;
    struct aws_request rq = {.method = "PUT",
                             .service = "s3",
                             .path = "/b/k",
                             .body_fd = -1,
                             .body_len = 5,
                             .body_offset = 3,
                             .out_fd = -1,
                             .operation = "PutObject"};

    snprintf(path, sizeof(path), "%s/up.bin", tmp);
    pr_write_file(path, "0123456789", 10, &err);
    fd = open(path, O_RDONLY);
    rq.body_fd = fd;
    aws_response_init(&r);
    SCRIPT({ANSWER, 503, NULL, ""}, {ANSWER, 200, NULL, ""});
    CHECK_MSG(aws_call(c, &rq, &r, &err) == 0, "%s", err.msg);
    CHECK_STR(F.body.data, "34567");
    CHECK_STR(header_in(F.headers.data, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    /* a file shorter than promised */
    rq.body_offset = 8;
    script(NULL, 0);
    CHECK(aws_call(c, &rq, &r, &err) == -1);
    CHECK_STR(err.msg, "S3 PutObject: cannot read the upload: the file is shorter than expected");
    close(fd);
    aws_response_free(&r);
    aws_client_free(c);
}

int main(void)
{
    struct pr_error err;
    char *tmp = pr_make_temp_dir(NULL, "pestrun-aws-retry", &err);
    char url[64];

    if (!tmp || fake_start() < 0) {
        printf("FAIL: cannot set up: %s\n", tmp ? strerror(errno) : err.msg);
        return 1;
    }
    /* credentials from the environment only, nothing from this machine */
    setenv("HOME", tmp, 1);
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("PESTRUN_AWS_RETRY_BASE_MS", "1", 1);
    const char *drop[] = {"AWS_SESSION_TOKEN",
                          "AWS_PROFILE",
                          "AWS_MAX_ATTEMPTS",
                          "AWS_ENDPOINT_URL_SQS",
                          "AWS_ENDPOINT_URL_S3",
                          "AWS_CONFIG_FILE",
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "AWS_CA_BUNDLE",
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "AWS_DEFAULT_REGION"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        unsetenv(drop[i]);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", F.port);
    setenv("AWS_ENDPOINT_URL", url, 1);
    g_creds = aws_creds_chain_new();

    test_retries();
    test_not_retried();
    test_max_attempts();
    test_expired_token();
    test_reuse_and_signature();
    test_abort();
    test_no_server();
    test_endpoints();
    test_inval();
    test_xml();
    test_sqs_calls();
    test_s3_calls(tmp);
    test_stream_upload(tmp);

    aws_creds_provider_free(g_creds);
    fake_stop();
    pr_remove_tree(tmp, &err);
    free(tmp);
    return check_done();
}
