/* Signed HTTP calls to AWS on libcurl (see http.h).
 *
 * One easy handle per client, driven through a private multi handle: the multi handle keeps
 * the connection and DNS caches between calls (so connections are reused), and lets the
 * transfer loop wake every 100 ms to honour the abort flag even while a long poll is silent. */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sigv4.h"

#define RETRY_CAP_MS 20000
#define RETRY_TOKENS 500 /* the standard mode's retry quota */
#define RETRY_COST 5
#define RETRY_COST_TIMEOUT 10
#define POLL_MS 100

struct endpoint {
    char *url;       /* scheme://host[:port][/base], no trailing slash */
    char *scheme;    /* "http" or "https" */
    char *hostport;  /* host[:port] as in the URL */
    char *host_hdr;  /* hostport without a default port: the Host header */
    char *base_path; /* "" or "/base" */
    int is_override;
};

struct aws_client {
    CURL *curl;
    CURLM *multi;
    struct aws_creds_provider *creds;
    char *region;
    char *ca_bundle; /* AWS_CA_BUNDLE, or NULL */
    struct endpoint sqs, s3;
    const atomic_int *abort_flag;
    struct aws_client_stats stats;
    int max_attempts;
    long base_ms;
    int tokens;
    time_t skew; /* server clock minus ours, learnt from a "request time too skewed" answer */
    uint64_t rng;
    char errbuf[CURL_ERROR_SIZE];
};

/* The state of one attempt, shared with the curl callbacks. */
struct xfer {
    const struct aws_client *c;
    const struct aws_request *rq;
    struct aws_response *resp;
    long long sent;
    int read_errno;
    int write_errno;
    long long written;     /* bytes written to out_fd */
    long status;           /* of the response being received */
    char query_error[128]; /* x-amzn-query-error: the SQS Query-protocol error code */
    char error_type[128];  /* x-amzn-ErrorType */
    char bucket_region[64];
    time_t server_date;
};

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                              */

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static uint64_t rng_next(struct aws_client *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int aborted(const struct aws_client *c)
{
    return c->abort_flag && atomic_load(c->abort_flag) != 0;
}

/* Read a whole-number environment variable. Returns 0 (with *out untouched when unset), -1
 * with err when it is set to something else than a number in [min, max]. */
static int env_long(const char *name, long min, long max, long *out, struct pr_error *err)
{
    const char *s = getenv(name);
    char *end;
    long v;

    if (!s || !*s) return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return pr_error_set(err, "%s: expected a whole number from %ld to %ld, got '%s'", name, min,
                            max, s);
    *out = v;
    return 0;
}

static const char *service_label(const char *service)
{
    if (strcmp(service, "sqs") == 0) return "SQS";
    if (strcmp(service, "s3") == 0) return "S3";
    return service;
}

static const char *find_header(const struct aws_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0) return rq->headers[i].value;
    return NULL;
}

/* The operation named in messages: the caller's, else X-Amz-Target's after its last dot. */
static const char *operation_name(const struct aws_request *rq)
{
    const char *t;

    if (rq->operation) return rq->operation;
    t = find_header(rq, "X-Amz-Target");
    if (t) return strrchr(t, '.') ? strrchr(t, '.') + 1 : t;
    return rq->method;
}

/* ------------------------------------------------------------------------------------------ */
/* endpoints                                                                                  */

static void endpoint_free(struct endpoint *ep)
{
    free(ep->url);
    free(ep->scheme);
    free(ep->hostport);
    free(ep->host_hdr);
    free(ep->base_path);
    memset(ep, 0, sizeof(*ep));
}

/* Split url ("http[s]://host[:port][/base]") into ep. what names the setting in errors. */
static int endpoint_parse(const char *url, const char *what, int is_override, struct endpoint *ep,
                          struct pr_error *err)
{
    size_t slen, hlen, blen;
    const char *host, *path;

    if (strncmp(url, "https://", 8) == 0)
        slen = 5;
    else if (strncmp(url, "http://", 7) == 0)
        slen = 4;
    else
        return pr_error_set(err, "%s: '%s' is not an http:// or https:// URL", what, url);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == '@' || *p == '\\')
            return pr_error_set(err, "%s: '%s': expected scheme://host[:port][/path] only", what,
                                url);
    host = url + slen + 3;
    path = strchr(host, '/');
    hlen = path ? (size_t)(path - host) : strlen(host);
    if (hlen == 0) return pr_error_set(err, "%s: '%s' has no host name", what, url);
    blen = path ? strlen(path) : 0;
    while (blen > 0 && path[blen - 1] == '/')
        blen--;

    ep->scheme = xstrndup(url, slen);
    ep->hostport = xstrndup(host, hlen);
    ep->base_path = xstrndup(path ? path : "", blen);
    ep->host_hdr = xstrdup(ep->hostport);
    size_t n = strlen(ep->host_hdr);
    const char *dflt = slen == 5 ? ":443" : ":80";
    if (n > strlen(dflt) && strcmp(ep->host_hdr + n - strlen(dflt), dflt) == 0)
        ep->host_hdr[n - strlen(dflt)] = '\0';
    ep->url = xmalloc(slen + 3 + hlen + blen + 1);
    sprintf(ep->url, "%s://%s%s", ep->scheme, ep->hostport, ep->base_path);
    ep->is_override = is_override;
    return 0;
}

/* The endpoint of service: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, or AWS's own. */
static int endpoint_for(const char *service, const char *region, struct endpoint *ep,
                        struct pr_error *err)
{
    char var[64], url[256];
    const char *v;

    snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", service_label(service));
    v = getenv(var);
    if (v && *v) return endpoint_parse(v, var, 1, ep, err);
    v = getenv("AWS_ENDPOINT_URL");
    if (v && *v) return endpoint_parse(v, "AWS_ENDPOINT_URL", 1, ep, err);
    /* China regions live under their own domain */
    snprintf(url, sizeof(url), "https://%s.%s.amazonaws.com%s", service, region,
             strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    return endpoint_parse(url, "endpoint", 0, ep, err);
}

/* ------------------------------------------------------------------------------------------ */
/* the client                                                                                 */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int region_ok(const char *r)
{
    if (!*r || strlen(r) > 40) return 0;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-')) return 0;
    return 1;
}

struct aws_client *aws_client_new(struct aws_creds_provider *p, const char *region,
                                  struct pr_error *err)
{
    struct aws_client *c = xcalloc(1, sizeof(*c));
    long attempts = 3, base_ms = 100;
    struct timespec ts;
    const char *ca;

    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        pr_error_set(err, "libcurl: cannot initialise: %s", curl_easy_strerror(curl_init_rc));
        goto error;
    }
    if (!p) {
        pr_error_set(err, "aws_client_new: no credential provider");
        goto error;
    }
    c->creds = p;
    c->region = region ? xstrdup(region) : aws_region_from_env();
    if (!c->region) c->region = xstrdup("us-east-1");
    if (!region_ok(c->region)) {
        pr_error_set(err, "AWS region '%s': expected a name like us-east-1", c->region);
        goto error;
    }
    if (env_long("AWS_MAX_ATTEMPTS", 1, 100, &attempts, err) < 0 ||
        env_long("PESTRUN_AWS_RETRY_BASE_MS", 0, RETRY_CAP_MS, &base_ms, err) < 0)
        goto error;
    c->max_attempts = (int)attempts;
    c->base_ms = base_ms;
    c->tokens = RETRY_TOKENS;
    if (endpoint_for("sqs", c->region, &c->sqs, err) < 0 ||
        endpoint_for("s3", c->region, &c->s3, err) < 0)
        goto error;
    ca = getenv("AWS_CA_BUNDLE");
    if (ca && *ca) c->ca_bundle = xstrdup(ca);
    c->curl = curl_easy_init();
    c->multi = curl_multi_init();
    if (!c->curl || !c->multi) {
        pr_error_set(err, "libcurl: cannot create a transfer handle");
        goto error;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    c->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40) ^
             (uint64_t)(uintptr_t)c;
    return c;
error:
    aws_client_free(c);
    return NULL;
}

void aws_client_free(struct aws_client *c)
{
    int saved = errno;

    if (!c) return;
    if (c->multi) curl_multi_cleanup(c->multi);
    if (c->curl) curl_easy_cleanup(c->curl);
    endpoint_free(&c->sqs);
    endpoint_free(&c->s3);
    free(c->region);
    free(c->ca_bundle);
    free(c);
    errno = saved;
}

const char *aws_client_region(const struct aws_client *c)
{
    return c->region;
}

static const struct endpoint *client_endpoint(const struct aws_client *c, const char *service)
{
    if (strcmp(service, "sqs") == 0) return &c->sqs;
    if (strcmp(service, "s3") == 0) return &c->s3;
    return NULL;
}

const char *aws_client_endpoint(const struct aws_client *c, const char *service, int *is_override)
{
    const struct endpoint *ep = client_endpoint(c, service);

    if (is_override) *is_override = ep ? ep->is_override : 0;
    return ep ? ep->url : NULL;
}

void aws_client_set_abort_flag(struct aws_client *c, const atomic_int *flag)
{
    c->abort_flag = flag;
}

const atomic_int *aws_client_abort_flag(const struct aws_client *c)
{
    return c->abort_flag;
}

void aws_client_stats(const struct aws_client *c, struct aws_client_stats *out)
{
    *out = c->stats;
}

void aws_response_init(struct aws_response *r)
{
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
}

void aws_response_free(struct aws_response *r)
{
    if (!r) return;
    sb_free(&r->body);
}

/* ------------------------------------------------------------------------------------------ */
/* curl callbacks                                                                             */

static void header_value(char *dst, size_t cap, const char *v, const char *end)
{
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    copy_field(dst, cap, v, (size_t)(end - v));
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    struct aws_response *r = x->resp;
    size_t len = size * n;
    const char *colon, *end = buf + len;
    char tmp[64];

    if (len > 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue, say): forget the previous one's headers */
        const char *sp = memchr(buf, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = r->request_id[0] = '\0';
        r->content_length = -1;
        x->query_error[0] = x->error_type[0] = x->bucket_region[0] = '\0';
        x->server_date = 0;
        return len;
    }
    colon = memchr(buf, ':', len);
    if (!colon) return len;
    size_t nl = (size_t)(colon - buf);
#define IS(name) (nl == strlen(name) && strncasecmp(buf, name, nl) == 0)
    if (IS("ETag")) {
        header_value(r->etag, sizeof(r->etag), colon + 1, end);
    } else if (IS("x-amzn-RequestId") || IS("x-amz-request-id")) {
        header_value(r->request_id, sizeof(r->request_id), colon + 1, end);
    } else if (IS("Content-Length")) {
        header_value(tmp, sizeof(tmp), colon + 1, end);
        r->content_length = strtoll(tmp, NULL, 10);
    } else if (IS("x-amzn-query-error")) {
        header_value(x->query_error, sizeof(x->query_error), colon + 1, end);
        x->query_error[strcspn(x->query_error, ";")] = '\0';
    } else if (IS("x-amzn-ErrorType")) {
        header_value(x->error_type, sizeof(x->error_type), colon + 1, end);
        x->error_type[strcspn(x->error_type, ":")] = '\0';
    } else if (IS("x-amz-bucket-region")) {
        header_value(x->bucket_region, sizeof(x->bucket_region), colon + 1, end);
    } else if (IS("Date")) {
        header_value(tmp, sizeof(tmp), colon + 1, end);
        time_t t = curl_getdate(tmp, NULL);
        x->server_date = t > 0 ? t : 0;
    }
#undef IS
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n, done = 0;

    /* only a success is streamed: an error answer goes to resp->body to be read */
    if (x->rq->out_fd > 0 && x->status >= 200 && x->status < 300) {
        while (done < len) {
            ssize_t w = write(x->rq->out_fd, buf + done, len - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                x->write_errno = w < 0 ? errno : EIO;
                return 0;
            }
            done += (size_t)w;
            x->written += w;
        }
        return len;
    }
    sb_append(&x->resp->body, buf, len);
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    const struct aws_request *rq = x->rq;
    size_t want = size * n;
    long long left = (long long)rq->body_len - x->sent;

    if (left <= 0) return 0;
    if ((long long)want > left) want = (size_t)left;
    if (rq->body) {
        memcpy(buf, (const char *)rq->body + x->sent, want);
    } else {
        ssize_t r;
        do
            r = pread(rq->body_fd, buf, want, (off_t)(rq->body_offset + x->sent));
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
            x->read_errno = r < 0 ? errno : ENODATA; /* ENODATA: the file is shorter */
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)r;
    }
    x->sent += (long long)want;
    return want;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct xfer *x = ud;

    if (origin != SEEK_SET || offset < 0 || offset > (curl_off_t)x->rq->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = offset;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    return aborted(((struct xfer *)ud)->c);
}

/* ------------------------------------------------------------------------------------------ */
/* one attempt                                                                                */

static int header_ok(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

/* The request's headers, signed with cr, as a curl list (free with curl_slist_free_all); NULL
 * with err when signing fails. Every header sent but Authorization is signed, except the
 * ones curl adds on its own (User-Agent, Accept, Content-Length). */
static struct curl_slist *signed_headers(struct aws_client *c, const struct aws_request *rq,
                                         const char *sign_path, const char *host,
                                         const char *payload_hash, const struct aws_creds *cr,
                                         struct pr_error *err)
{
    struct aws_kv *kv = xcalloc(rq->nheaders + 4, sizeof(*kv));
    struct sigv4_request sr = {0};
    struct sigv4_out so = {0};
    struct curl_slist *l = NULL;
    struct strbuf line = {0};
    char date[32];
    size_t nkv = 0;
    time_t now = time(NULL) + c->skew;
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    kv[nkv++] = (struct aws_kv){"Host", host};
    kv[nkv++] = (struct aws_kv){"X-Amz-Date", date};
    if (cr->session_token) kv[nkv++] = (struct aws_kv){"X-Amz-Security-Token", cr->session_token};
    if (rq->s3_payload_header || strcmp(rq->service, "s3") == 0)
        kv[nkv++] = (struct aws_kv){"x-amz-content-sha256", payload_hash};
    for (size_t i = 0; i < rq->nheaders; i++)
        kv[nkv++] = rq->headers[i];
    sr.method = rq->method;
    sr.path = sign_path;
    sr.query = rq->query;
    sr.headers = kv;
    sr.nheaders = nkv;
    sr.payload_hash = payload_hash;
    sr.region = c->region;
    sr.service = rq->service;
    sr.now = now;
    if (sigv4_sign(&sr, cr, &so, err) == 0) {
        for (size_t i = 0; i < nkv; i++) {
            sb_reset(&line);
            if (*kv[i].value)
                sb_printf(&line, "%s: %s", kv[i].name, kv[i].value);
            else
                sb_printf(&line, "%s;", kv[i].name); /* curl's way to send an empty header */
            l = curl_slist_append(l, line.data);
        }
        sb_reset(&line);
        sb_printf(&line, "Authorization: %s", so.authorization);
        l = curl_slist_append(l, line.data);
        l = curl_slist_append(l, "Expect:"); /* no 100-continue round trip */
        if (!find_header(rq, "Content-Type"))
            l = curl_slist_append(l, "Content-Type:"); /* not curl's form type on a POST */
    }
    sb_free(&line);
    sigv4_out_free(&so);
    free(kv);
    return l;
}

/* Set every curl option of an attempt. */
static void set_options(struct aws_client *c, const struct aws_request *rq, const char *url,
                        struct curl_slist *headers, struct xfer *x)
{
    CURL *h = c->curl;

    curl_easy_reset(h); /* keeps the connection cache (in the multi handle) */
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* S3 keys may hold "." and ".." segments */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, rq->timeout_s > 0 ? rq->timeout_s : 60L);
    /* a stalled transfer ends after a minute even under a long whole-request limit */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "pestrun/" PESTRUN_VERSION);
    if (c->ca_bundle) curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, x);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
    if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
}

/* Run the prepared transfer, waking every POLL_MS to look at the abort flag. */
static CURLcode perform(struct aws_client *c)
{
    CURLcode cc = CURLE_OK;
    CURLMcode mc;
    CURLMsg *m;
    int running = 1, left;

    if (curl_multi_add_handle(c->multi, c->curl) != CURLM_OK) return CURLE_FAILED_INIT;
    for (;;) {
        mc = curl_multi_perform(c->multi, &running);
        if (mc != CURLM_OK) {
            snprintf(c->errbuf, sizeof(c->errbuf), "%s", curl_multi_strerror(mc));
            cc = CURLE_FAILED_INIT;
            break;
        }
        if (!running) break;
        if (aborted(c)) {
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        curl_multi_poll(c->multi, NULL, 0, POLL_MS, NULL);
    }
    while (!running && (m = curl_multi_info_read(c->multi, &left)))
        if (m->msg == CURLMSG_DONE) cc = m->data.result;
    curl_multi_remove_handle(c->multi, c->curl);
    return cc;
}

/* ------------------------------------------------------------------------------------------ */
/* answers                                                                                    */

static int in_list(const char *code, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(code, *list) == 0) return 1;
    return 0;
}

static const char *const throttle_codes[] = {"Throttling",
                                             "ThrottlingException",
                                             "ThrottledException",
                                             "RequestThrottledException",
                                             "TooManyRequestsException",
                                             "ProvisionedThroughputExceededException",
                                             "TransactionInProgressException",
                                             "RequestLimitExceeded",
                                             "BandwidthLimitExceeded",
                                             "LimitExceededException",
                                             "RequestThrottled",
                                             "SlowDown",
                                             "PriorRequestNotComplete",
                                             "EC2ThrottledException",
                                             NULL};
static const char *const transient_codes[] = {"RequestTimeout", "RequestTimeoutException",
                                              "InternalError", NULL};
static const char *const expired_codes[] = {"ExpiredToken", "InvalidClientTokenId",
                                            "ExpiredTokenException", NULL};
static const char *const skew_codes[] = {"RequestTimeTooSkewed",
                                         "RequestExpired",
                                         "RequestInTheFuture",
                                         "InvalidSignatureException",
                                         "SignatureDoesNotMatch",
                                         "AuthFailure",
                                         NULL};

/* The error of an answer: its codes (the JSON protocol's and, for SQS, the Query protocol's
 * of x-amzn-query-error) and message. */
struct answer_error {
    char code[128];     /* as reported: the Query code when there is one */
    char alt_code[128]; /* the JSON __type code */
    char message[400];
};

static void strip_type(char *code)
{
    char *hash = strrchr(code, '#');
    if (hash) memmove(code, hash + 1, strlen(hash + 1) + 1);
    code[strcspn(code, ":")] = '\0'; /* "Code:http://internal.amazon.com/..." */
}

static void clean_message(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ') *s = ' ';
}

static void parse_error(const struct xfer *x, struct answer_error *ae)
{
    const struct strbuf *b = &x->resp->body;
    const char *p = b->data ? b->data : "";
    const char *end = p + b->len;

    memset(ae, 0, sizeof(*ae));
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    if (p < end && *p == '{') {
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(end - p));
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
        if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(j, "Message");
        if (!cJSON_IsString(t)) t = cJSON_GetObjectItemCaseSensitive(j, "code");
        if (cJSON_IsString(t)) snprintf(ae->alt_code, sizeof(ae->alt_code), "%s", t->valuestring);
        if (cJSON_IsString(m)) snprintf(ae->message, sizeof(ae->message), "%s", m->valuestring);
        cJSON_Delete(j);
    } else if (p < end && *p == '<') {
        char *code = aws_xml_text(p, end, "Code");
        char *msg = aws_xml_text(p, end, "Message");
        if (code) snprintf(ae->alt_code, sizeof(ae->alt_code), "%s", code);
        if (msg) snprintf(ae->message, sizeof(ae->message), "%s", msg);
        free(code);
        free(msg);
    }
    if (!ae->alt_code[0] && x->error_type[0])
        snprintf(ae->alt_code, sizeof(ae->alt_code), "%s", x->error_type);
    strip_type(ae->alt_code);
    snprintf(ae->code, sizeof(ae->code), "%s", x->query_error[0] ? x->query_error : ae->alt_code);
    if (!ae->code[0]) {
        /* a HEAD answer has no body: name the status as the SDKs do */
        const char *s = x->status == 400   ? "BadRequest"
                        : x->status == 403 ? "Forbidden"
                        : x->status == 404 ? "NotFound"
                        : x->status == 301 ? "PermanentRedirect"
                                           : "";
        snprintf(ae->code, sizeof(ae->code), "%s", s);
    }
    if (!ae->alt_code[0]) snprintf(ae->alt_code, sizeof(ae->alt_code), "%s", ae->code);
    clean_message(ae->message);
}

static int code_in(const struct answer_error *ae, const char *const *list)
{
    return (ae->code[0] && in_list(ae->code, list)) ||
           (ae->alt_code[0] && in_list(ae->alt_code, list));
}

static int retryable_status(long s)
{
    return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static int retryable_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

/* Sleep the backoff before retry number `retry` (1, 2, ...): full jitter over
 * min(cap, base * 2^(retry-1)). Returns -1 when the abort flag rose meanwhile. */
static int backoff(struct aws_client *c, int retry)
{
    double ceiling = (double)c->base_ms * (double)(1ULL << (retry - 1 < 30 ? retry - 1 : 30));
    double ms = ceiling < RETRY_CAP_MS ? ceiling : RETRY_CAP_MS;
    long long wait_us = (long long)((double)(rng_next(c) >> 11) / 9007199254740992.0 * ms * 1e3);

    while (wait_us > 0) {
        long long step = wait_us < 20000 ? wait_us : 20000;
        struct timespec ts = {0, (long)step * 1000};
        if (aborted(c)) return -1;
        nanosleep(&ts, NULL);
        wait_us -= step;
    }
    return aborted(c) ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the call                                                                                   */

static int check_request(const struct aws_client *c, const struct aws_request *rq,
                         struct pr_error *err)
{
    if (!rq || !rq->method || !rq->service || !rq->path || rq->path[0] != '/')
        return pr_error_set(err,
                            "aws_call: method, service and a path starting with '/' are needed");
    if (!client_endpoint(c, rq->service))
        return pr_error_set(err, "aws_call: unknown service '%s'", rq->service);
    if (!rq->body && rq->body_len > 0 && (rq->body_fd < 0 || strcmp(rq->service, "s3") != 0))
        return pr_error_set(err, "aws_call: a body streamed from a file needs an open body_fd, "
                                 "and only S3 takes one");
    if (!header_ok(rq->path) || (rq->query && !header_ok(rq->query)) ||
        (rq->bucket && (!header_ok(rq->bucket) || strchr(rq->bucket, '/'))))
        return pr_error_set(err, "aws_call: bad characters in the path, query or bucket");
    for (size_t i = 0; i < rq->nheaders; i++)
        if (!rq->headers[i].name || !rq->headers[i].value || !header_ok(rq->headers[i].name) ||
            !header_ok(rq->headers[i].value) || strchr(rq->headers[i].name, ':'))
            return pr_error_set(err, "aws_call: header %zu is not a valid name and value", i);
    return 0;
}

/* The payload's SHA-256 as SigV4 wants it. */
static void payload_hash(const struct aws_request *rq, char out[65])
{
    if (!rq->body && rq->body_len > 0)
        snprintf(out, 65, "UNSIGNED-PAYLOAD");
    else
        aws_sha256_hex(rq->body ? rq->body : "", rq->body ? rq->body_len : 0, out);
}

/* Put the output fd back where the call started, so a retry does not append to the part
 * of a failed attempt. Returns -1 when that cannot be done (a pipe written to). */
static int rewind_out(const struct aws_request *rq, off_t start, long long written)
{
    if (rq->out_fd <= 0 || written == 0) return 0;
    if (start < 0) return -1;
    if (ftruncate(rq->out_fd, start) < 0 || lseek(rq->out_fd, start, SEEK_SET) < 0) return -1;
    return 0;
}

/* One aws_call across its attempts. */
struct call {
    struct aws_client *c;
    const struct aws_request *rq;
    struct aws_response *resp;
    const struct endpoint *ep;
    const char *svc, *op;
    struct strbuf url, host, spath;
    char hash[65];
    int attempt, sent, refreshed, reskewed, spent, cost;
    long long written; /* by the last attempt into out_fd */
};

enum outcome {
    SUCCEEDED,  /* a 2xx answer */
    ANSWERED,   /* another answer, final (err set) */
    FAILED,     /* no answer, final (err set) */
    RETRY,      /* retry after a backoff, at k->cost retry tokens */
    RETRY_FREE, /* retry at once, off the attempt count (fresh credentials, clock skew) */
};

/* Why an attempt without an answer failed; the outcome. */
static enum outcome no_answer(struct call *k, CURLcode cc, const struct xfer *x,
                              struct pr_error *err)
{
    struct aws_client *c = k->c;

    if (cc == CURLE_ABORTED_BY_CALLBACK && aborted(c)) {
        pr_error_set(err, "%s %s: aborted", k->svc, k->op);
        return FAILED;
    }
    if (cc == CURLE_WRITE_ERROR && x->write_errno) {
        pr_error_set(err, "%s %s: cannot write the download: %s", k->svc, k->op,
                     strerror(x->write_errno));
        return FAILED;
    }
    if (cc == CURLE_ABORTED_BY_CALLBACK && x->read_errno) {
        pr_error_set(err, "%s %s: cannot read the upload: %s", k->svc, k->op,
                     x->read_errno == ENODATA ? "the file is shorter than expected"
                                              : strerror(x->read_errno));
        return FAILED;
    }
    k->cost = cc == CURLE_OPERATION_TIMEDOUT ? RETRY_COST_TIMEOUT : RETRY_COST;
    if (retryable_curl(cc) && k->attempt < c->max_attempts && c->tokens >= k->cost) return RETRY;
    pr_error_set(err, "%s %s: no answer from %s: %s (%d attempt%s%s)", k->svc, k->op, k->ep->url,
                 c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc), k->sent, k->sent > 1 ? "s" : "",
                 c->tokens < k->cost ? ", retry quota used up" : "");
    return FAILED;
}

/* What to do after a non-2xx answer; err says why when it is final. */
static enum outcome error_answer(struct call *k, const struct xfer *x, struct pr_error *err)
{
    struct aws_client *c = k->c;
    struct answer_error ae;
    struct strbuf m = {0};

    parse_error(x, &ae);
    snprintf(k->resp->error_code, sizeof(k->resp->error_code), "%s", ae.code);
    if (!k->refreshed && code_in(&ae, expired_codes)) {
        /* the cached credentials went stale: fetch them again, once */
        aws_creds_invalidate(c->creds);
        k->refreshed = 1;
        return RETRY_FREE;
    }
    if (!k->reskewed && code_in(&ae, skew_codes) && x->server_date &&
        labs((long)(x->server_date - (time(NULL) + c->skew))) > 240) {
        c->skew = x->server_date - time(NULL); /* our clock is off: sign in the service's */
        k->reskewed = 1;
        return RETRY_FREE;
    }
    k->cost = RETRY_COST;
    if ((retryable_status(x->status) || code_in(&ae, throttle_codes) ||
         code_in(&ae, transient_codes)) &&
        k->attempt < c->max_attempts && c->tokens >= k->cost)
        return RETRY;
    sb_printf(&m, "%s %s: HTTP %ld", k->svc, k->op, x->status);
    if (ae.code[0]) sb_printf(&m, " %s", ae.code);
    if (ae.message[0]) sb_printf(&m, ": %s", ae.message);
    if (x->bucket_region[0] && strcmp(x->bucket_region, c->region) != 0)
        sb_printf(&m, " (the bucket is in region %s, not %s)", x->bucket_region, c->region);
    if (k->sent > 1) sb_printf(&m, " (after %d attempts)", k->sent);
    pr_error_set(err, "%s", m.data);
    sb_free(&m);
    return ANSWERED;
}

static enum outcome attempt(struct call *k, struct pr_error *err)
{
    struct aws_client *c = k->c;
    struct aws_response *resp = k->resp;
    struct xfer x = {.c = c, .rq = k->rq, .resp = resp};
    struct aws_creds cr = {0};
    struct curl_slist *headers;
    CURLcode cc;

    if (aborted(c)) {
        pr_error_set(err, "%s %s: aborted", k->svc, k->op);
        return FAILED;
    }
    if (aws_creds_get(c->creds, &cr, err) < 0) {
        pr_error_prefix(err, "%s %s", k->svc, k->op);
        return FAILED;
    }
    headers = signed_headers(c, k->rq, k->spath.data, k->host.data, k->hash, &cr, err);
    aws_creds_clear(&cr);
    if (!headers) {
        pr_error_prefix(err, "%s %s", k->svc, k->op);
        return FAILED;
    }
    sb_reset(&resp->body);
    resp->status = 0;
    resp->etag[0] = resp->request_id[0] = resp->error_code[0] = '\0';
    resp->content_length = -1;
    set_options(c, k->rq, k->url.data, headers, &x);
    k->attempt++;
    k->sent++;
    c->stats.requests++;
    cc = perform(c);
    curl_slist_free_all(headers);
    k->written = x.written;
    if (cc != CURLE_OK) return no_answer(k, cc, &x, err);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    x.status = resp->status;
    return resp->status >= 200 && resp->status < 300 ? SUCCEEDED : error_answer(k, &x, err);
}

int aws_call(struct aws_client *c, const struct aws_request *rq, struct aws_response *resp,
             struct pr_error *err)
{
    struct call k = {.c = c, .rq = rq, .resp = resp};
    off_t out_start = -1;
    int rc = -1, has_query;

    if (!c || !resp) return pr_error_set(err, "aws_call: no client or response");
    if (check_request(c, rq, err) < 0) return -1;
    k.ep = client_endpoint(c, rq->service);
    k.svc = service_label(rq->service);
    k.op = operation_name(rq);
    has_query = rq->query && *rq->query;
    sb_printf(&k.host, "%s%s%s", rq->bucket ? rq->bucket : "", rq->bucket ? "." : "",
              k.ep->host_hdr);
    sb_printf(&k.spath, "%s%s", k.ep->base_path, rq->path);
    sb_printf(&k.url, "%s://%s%s%s%s%s%s", k.ep->scheme, rq->bucket ? rq->bucket : "",
              rq->bucket ? "." : "", k.ep->hostport, k.spath.data, has_query ? "?" : "",
              has_query ? rq->query : "");
    payload_hash(rq, k.hash);
    if (rq->out_fd > 0) out_start = lseek(rq->out_fd, 0, SEEK_CUR);

    for (;;) {
        enum outcome o = attempt(&k, err);
        if (o == SUCCEEDED) {
            /* the standard mode's quota: a success pays back what its retries cost */
            c->tokens += k.spent ? k.spent : 1;
            if (c->tokens > RETRY_TOKENS) c->tokens = RETRY_TOKENS;
            rc = 0;
            break;
        }
        if (o == ANSWERED) rc = 1;
        if (o == ANSWERED || o == FAILED) break;
        if (rewind_out(rq, out_start, k.written) < 0) {
            pr_error_set(err, "%s %s: cannot retry: the download's output cannot be rewound", k.svc,
                         k.op);
            break;
        }
        c->stats.retries++;
        if (o == RETRY_FREE) {
            k.attempt--;
            continue;
        }
        c->tokens -= k.cost;
        k.spent += k.cost;
        if (backoff(c, k.attempt) < 0) {
            pr_error_set(err, "%s %s: aborted", k.svc, k.op);
            break;
        }
    }
    sb_free(&k.url);
    sb_free(&k.host);
    sb_free(&k.spath);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* XML, minimally                                                                             */

const char *aws_xml_find(const char *p, const char *end, const char *tag, const char **in,
                         const char **in_end)
{
    size_t tl = strlen(tag);

    while (p && p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt || (size_t)(end - lt) < tl + 2) return NULL;
        p = lt + 1;
        if (memcmp(p, tag, tl) != 0) continue;
        char after = p[tl];
        if (after != '>' && after != '/' && after != ' ' && after != '\t' && after != '\n' &&
            after != '\r')
            continue;
        const char *gt = memchr(p + tl, '>', (size_t)(end - (p + tl)));
        if (!gt) return NULL;
        if (gt[-1] == '/') { /* <Tag/> */
            *in = *in_end = gt + 1;
            return gt + 1;
        }
        const char *q = gt + 1;
        while (q < end) {
            const char *close = memchr(q, '<', (size_t)(end - q));
            if (!close || (size_t)(end - close) < tl + 3) return NULL;
            if (close[1] == '/' && memcmp(close + 2, tag, tl) == 0) {
                const char *r = close + 2 + tl;
                while (r < end && (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r'))
                    r++;
                if (r < end && *r == '>') {
                    *in = gt + 1;
                    *in_end = close;
                    return r + 1;
                }
            }
            q = close + 1;
        }
        return NULL;
    }
    return NULL;
}

static void put_utf8(struct strbuf *sb, unsigned long cp)
{
    char b[4];

    if (cp < 0x80) {
        b[0] = (char)cp;
        sb_append(sb, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        sb_append(sb, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        sb_append(sb, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        sb_append(sb, b, 4);
    }
}

/* Decode the entity at p (just past '&') into sb; returns the bytes consumed after '&', or 0
 * when it is not an entity XML defines (then '&' is kept as it is). */
static size_t decode_entity(const char *p, const char *end, struct strbuf *sb)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);

    if (!semi) return 0;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        size_t n = strlen(named[i].name);
        if ((size_t)(semi + 1 - p) == n && memcmp(p, named[i].name, n) == 0) {
            sb_putc(sb, named[i].c);
            return n;
        }
    }
    if (*p == '#' && semi > p + 1) {
        int hex = p[1] == 'x' || p[1] == 'X';
        const char *d = p + 1 + hex;
        unsigned long cp = 0;
        if (d == semi) return 0;
        for (; d < semi; d++) {
            int v = (*d >= '0' && *d <= '9')          ? *d - '0'
                    : hex && (*d >= 'a' && *d <= 'f') ? *d - 'a' + 10
                    : hex && (*d >= 'A' && *d <= 'F') ? *d - 'A' + 10
                                                      : -1;
            if (v < 0 || cp > 0x10FFFF) return 0;
            cp = cp * (hex ? 16 : 10) + (unsigned long)v;
        }
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        put_utf8(sb, cp);
        return (size_t)(semi + 1 - p);
    }
    return 0;
}

char *aws_xml_decode(const char *p, const char *end)
{
    struct strbuf sb = {0};

    sb_reserve(&sb, (size_t)(end - p) + 1);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp) {
            sb_append(&sb, p, (size_t)(end - p));
            break;
        }
        sb_append(&sb, p, (size_t)(amp - p));
        size_t n = decode_entity(amp + 1, end, &sb);
        if (!n) sb_putc(&sb, '&');
        p = amp + 1 + n;
    }
    return sb_take(&sb);
}

char *aws_xml_text(const char *p, const char *end, const char *tag)
{
    const char *in, *in_end;

    if (!aws_xml_find(p, end, tag, &in, &in_end)) return NULL;
    return aws_xml_decode(in, in_end);
}
