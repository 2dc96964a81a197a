/* Amazon S3 over REST (see s3.h). Each function builds one aws_request per S3 operation; the
 * answers are read with the minimal XML helpers of http.h. */
#include "s3.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigv4.h"

#define S3_MAX_PARTS 10000
#define S3_MAX_KEY 1024

/* ------------------------------------------------------------------------------------------ */
/* addressing                                                                                 */

static int bucket_ok(const char *b)
{
    size_t n = b ? strlen(b) : 0;

    if (n < 3 || n > 255) return 0;
    for (; *b; b++)
        if (!((*b >= 'a' && *b <= 'z') || (*b >= 'A' && *b <= 'Z') || (*b >= '0' && *b <= '9') ||
              *b == '.' || *b == '-' || *b == '_'))
            return 0;
    return 1;
}

/* Can the bucket be a host name label under s3.REGION.amazonaws.com (with a TLS wildcard
 * certificate, so no dots)? */
static int bucket_vhost_ok(const char *b)
{
    size_t n = strlen(b);

    if (n > 63 || b[0] == '-' || b[n - 1] == '-') return 0;
    for (; *b; b++)
        if (!((*b >= 'a' && *b <= 'z') || (*b >= '0' && *b <= '9') || *b == '-')) return 0;
    return 1;
}

/* Fill rq->path (returned in *path, to free) and rq->bucket for bucket and key (NULL: the
 * bucket itself), path-style on an overridden endpoint or for a bucket that cannot be a host
 * name, virtual-host style otherwise. Returns 0 or -1 with err. */
static int s3_address(struct aws_client *c, const char *op, const char *bucket, const char *key,
                      struct aws_request *rq, char **path, struct pr_error *err)
{
    int is_override = 0;
    char *ek = NULL;
    struct strbuf sb = {0};

    *path = NULL;
    if (!bucket_ok(bucket))
        return pr_error_set(err,
                            "S3 %s: '%s' is not a bucket name (3 to 63 lower-case letters, "
                            "digits, dots and hyphens)",
                            op, bucket ? bucket : "(none)");
    if (key && (!*key || strlen(key) > S3_MAX_KEY))
        return pr_error_set(err, "S3 %s: an object key is 1 to %d bytes (got %zu)", op, S3_MAX_KEY,
                            strlen(key));
    if (key) ek = aws_uri_encode(key, strlen(key), 1); /* '/' kept: encoded segment by segment */
    aws_client_endpoint(c, "s3", &is_override);
    if (is_override || !bucket_vhost_ok(bucket)) {
        sb_printf(&sb, "/%s%s%s", bucket, ek ? "/" : "", ek ? ek : "");
        rq->bucket = NULL;
    } else {
        sb_printf(&sb, "/%s", ek ? ek : "");
        rq->bucket = bucket;
    }
    free(ek);
    *path = sb_take(&sb);
    rq->path = *path;
    return 0;
}

static void request_init(struct aws_request *rq, const char *method, const char *op)
{
    memset(rq, 0, sizeof(*rq));
    rq->method = method;
    rq->operation = op;
    rq->service = "s3";
    rq->s3_payload_header = 1;
    rq->body_fd = -1;
    rq->out_fd = -1;
}

/* A whole-request time limit for moving bytes: a minute plus 64 KiB/s at worst (the stall
 * limit of http.c ends a dead transfer sooner). */
static long transfer_timeout(long long bytes)
{
    return 60 + (long)(bytes / (64 * 1024));
}

/* The headers of a PutObject or CreateMultipartUpload: content type and SSE-KMS. */
static size_t put_headers(const struct s3_put_opts *o, struct aws_kv h[3])
{
    size_t n = 0;

    h[n++] = (struct aws_kv){"Content-Type",
                             o && o->content_type ? o->content_type : "application/octet-stream"};
    if (o && (o->sse_kms || o->kms_key_id)) {
        h[n++] = (struct aws_kv){"x-amz-server-side-encryption", "aws:kms"};
        if (o->kms_key_id)
            h[n++] = (struct aws_kv){"x-amz-server-side-encryption-aws-kms-key-id", o->kms_key_id};
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* single objects                                                                             */

/* PutObject of len bytes from memory (data), or from the open file fd when fd >= 0. */
static int put_object(struct aws_client *c, const char *bucket, const char *key, const void *data,
                      int fd, long long len, const struct s3_put_opts *o, struct pr_error *err)
{
    struct aws_request rq;
    struct aws_response resp;
    struct aws_kv h[3];
    char *path;
    int rc;

    request_init(&rq, "PUT", "PutObject");
    if (s3_address(c, "PutObject", bucket, key, &rq, &path, err) < 0) return -1;
    rq.headers = h;
    rq.nheaders = put_headers(o, h);
    if (fd >= 0)
        rq.body_fd = fd;
    else
        rq.body = len ? data : NULL;
    rq.body_len = (size_t)len;
    rq.timeout_s = transfer_timeout(len);
    aws_response_init(&resp);
    rc = aws_call(c, &rq, &resp, err) == 0 ? 0 : -1;
    aws_response_free(&resp);
    free(path);
    return rc;
}

int s3_put(struct aws_client *c, const char *bucket, const char *key, const void *data, size_t len,
           const struct s3_put_opts *o, struct pr_error *err)
{
    return put_object(c, bucket, key, data, -1, (long long)len, o, err);
}

/* Is a non-2xx answer the "no such object" one? (A HEAD answer has no body to tell a missing
 * bucket from a missing key: both are "NotFound".) */
static int no_such_key(const struct aws_response *r)
{
    return r->status == 404 &&
           (strcmp(r->error_code, "NoSuchKey") == 0 || strcmp(r->error_code, "NotFound") == 0);
}

int s3_get(struct aws_client *c, const char *bucket, const char *key, struct strbuf *out,
           struct pr_error *err)
{
    struct aws_request rq;
    struct aws_response resp;
    char *path;
    int rc;

    if (!out) return pr_error_set(err, "S3 GetObject: no output buffer");
    request_init(&rq, "GET", "GetObject");
    if (s3_address(c, "GetObject", bucket, key, &rq, &path, err) < 0) return -1;
    rq.timeout_s = 900;
    aws_response_init(&resp);
    rc = aws_call(c, &rq, &resp, err);
    if (rc == 0) {
        if (out->len == 0) { /* hand the buffer over rather than copy it */
            struct strbuf t = *out;
            *out = resp.body;
            resp.body = t;
        } else {
            sb_append(out, resp.body.data ? resp.body.data : "", resp.body.len);
        }
        rc = 1;
    } else if (rc == 1 && no_such_key(&resp)) {
        rc = 0;
    } else {
        rc = -1;
    }
    aws_response_free(&resp);
    free(path);
    return rc;
}

int s3_get_file(struct aws_client *c, const char *bucket, const char *key, const char *path,
                struct pr_error *err)
{
    struct aws_request rq;
    struct aws_response resp;
    struct strbuf part = {0};
    char *upath = NULL;
    int fd, rc = -1;

    if (!path || !*path) return pr_error_set(err, "S3 GetObject: no output file");
    request_init(&rq, "GET", "GetObject");
    if (s3_address(c, "GetObject", bucket, key, &rq, &upath, err) < 0) return -1;
    sb_printf(&part, "%s.part", path);
    fd = open(part.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        pr_error_set(err, "S3 GetObject: %s: cannot create: %s", part.data, strerror(errno));
        goto out;
    }
    rq.out_fd = fd;
    rq.timeout_s = 24 * 3600; /* any size: the stall limit ends a dead download */
    aws_response_init(&resp);
    rc = aws_call(c, &rq, &resp, err);
    if (rc == 1 && no_such_key(&resp)) {
        rc = 0;
    } else if (rc == 0) {
        rc = 1;
        if (close(fd) < 0) {
            rc = pr_error_set(err, "S3 GetObject: %s: %s", part.data, strerror(errno));
        } else if (rename(part.data, path) < 0) {
            rc = pr_error_set(err, "S3 GetObject: cannot rename %s to %s: %s", part.data, path,
                              strerror(errno));
        }
        fd = -1;
    } else {
        rc = -1;
    }
    aws_response_free(&resp);
    if (fd >= 0) close(fd);
    if (rc != 1) unlink(part.data);
out:
    sb_free(&part);
    free(upath);
    return rc;
}

int s3_head(struct aws_client *c, const char *bucket, const char *key, long long *size,
            struct pr_error *err)
{
    struct aws_request rq;
    struct aws_response resp;
    char *path;
    int rc;

    request_init(&rq, "HEAD", "HeadObject");
    if (s3_address(c, "HeadObject", bucket, key, &rq, &path, err) < 0) return -1;
    aws_response_init(&resp);
    rc = aws_call(c, &rq, &resp, err);
    if (rc == 0) {
        if (size) *size = resp.content_length;
        rc = 1;
    } else {
        rc = rc == 1 && no_such_key(&resp) ? 0 : -1;
    }
    aws_response_free(&resp);
    free(path);
    return rc;
}

int s3_delete(struct aws_client *c, const char *bucket, const char *key, struct pr_error *err)
{
    struct aws_request rq;
    struct aws_response resp;
    char *path;
    int rc;

    request_init(&rq, "DELETE", "DeleteObject");
    if (s3_address(c, "DeleteObject", bucket, key, &rq, &path, err) < 0) return -1;
    aws_response_init(&resp);
    rc = aws_call(c, &rq, &resp, err);
    rc = rc == 0 || (rc == 1 && no_such_key(&resp)) ? 0 : -1;
    aws_response_free(&resp);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* multipart upload                                                                           */

struct upload {
    struct aws_client *c;
    const char *bucket, *key;
    char *upload_id;
    char *enc_id; /* upload_id percent-encoded for the query */
    char **etags;
    size_t nparts;
};

/* A 200 answer that carries an <Error> (S3 may answer CompleteMultipartUpload so): its code
 * and message in err. Returns 1 when it is one, else 0. */
static int error_in_200(const char *op, const struct aws_response *r, char *code, size_t cap,
                        struct pr_error *err)
{
    const char *b = r->body.data ? r->body.data : "", *end = b + r->body.len, *in, *in_end;
    char *cd, *msg;

    if (!aws_xml_find(b, end, "Error", &in, &in_end)) return 0;
    cd = aws_xml_text(in, in_end, "Code");
    msg = aws_xml_text(in, in_end, "Message");
    snprintf(code, cap, "%s", cd ? cd : "");
    pr_error_set(err, "S3 %s: HTTP 200 %s: %s", op, cd ? cd : "Error", msg ? msg : "");
    free(cd);
    free(msg);
    return 1;
}

static int upload_create(struct upload *u, const struct s3_put_opts *o, struct pr_error *err)
{
    struct aws_request rq;
    struct aws_response resp;
    struct aws_kv h[3];
    char *path;
    int rc = -1;

    request_init(&rq, "POST", "CreateMultipartUpload");
    if (s3_address(u->c, rq.operation, u->bucket, u->key, &rq, &path, err) < 0) return -1;
    rq.query = "uploads=";
    rq.headers = h;
    rq.nheaders = put_headers(o, h);
    aws_response_init(&resp);
    if (aws_call(u->c, &rq, &resp, err) == 0) {
        const char *b = resp.body.data ? resp.body.data : "";
        u->upload_id = aws_xml_text(b, b + resp.body.len, "UploadId");
        if (u->upload_id && *u->upload_id) {
            u->enc_id = aws_uri_encode(u->upload_id, strlen(u->upload_id), 0);
            rc = 0;
        } else {
            pr_error_set(err, "S3 CreateMultipartUpload: the answer has no UploadId");
        }
    }
    aws_response_free(&resp);
    free(path);
    return rc;
}

static int upload_part(struct upload *u, size_t i, int fd, long long off, long long len,
                       struct pr_error *err)
{
    struct aws_request rq;
    struct aws_response resp;
    struct strbuf q = {0};
    char *path;
    int rc = -1;

    request_init(&rq, "PUT", "UploadPart");
    if (s3_address(u->c, rq.operation, u->bucket, u->key, &rq, &path, err) < 0) return -1;
    sb_printf(&q, "partNumber=%zu&uploadId=%s", i + 1, u->enc_id);
    rq.query = q.data;
    rq.body_fd = fd;
    rq.body_offset = off;
    rq.body_len = (size_t)len;
    rq.timeout_s = transfer_timeout(len);
    aws_response_init(&resp);
    if (aws_call(u->c, &rq, &resp, err) == 0) {
        if (resp.etag[0]) {
            u->etags[i] = xstrdup(resp.etag);
            rc = 0;
        } else {
            pr_error_set(err, "S3 UploadPart: part %zu: the answer has no ETag", i + 1);
        }
    }
    if (rc < 0) pr_error_prefix(err, "part %zu of %zu", i + 1, u->nparts);
    aws_response_free(&resp);
    sb_free(&q);
    free(path);
    return rc;
}

static int upload_complete(struct upload *u, struct pr_error *err)
{
    struct aws_request rq;
    struct aws_response resp;
    struct aws_kv h[1] = {{"Content-Type", "application/xml"}};
    struct strbuf q = {0}, body = {0};
    char *path, code[64];
    int rc = -1;

    request_init(&rq, "POST", "CompleteMultipartUpload");
    if (s3_address(u->c, rq.operation, u->bucket, u->key, &rq, &path, err) < 0) return -1;
    sb_printf(&q, "uploadId=%s", u->enc_id);
    sb_puts(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t i = 0; i < u->nparts; i++) {
        sb_printf(&body, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
        sb_put_xml(&body, u->etags[i]);
        sb_puts(&body, "</ETag></Part>");
    }
    sb_puts(&body, "</CompleteMultipartUpload>");
    rq.query = q.data;
    rq.headers = h;
    rq.nheaders = 1;
    rq.body = body.data;
    rq.body_len = body.len;
    rq.timeout_s = 600; /* S3 assembles the parts before it answers */
    aws_response_init(&resp);
    /* an error inside a 200 answer is retried as aws_call would retry it */
    for (int tries = 0; tries < 3; tries++) {
        if (aws_call(u->c, &rq, &resp, err) != 0) break;
        if (!error_in_200(rq.operation, &resp, code, sizeof(code), err)) {
            rc = 0;
            break;
        }
        if (strcmp(code, "InternalError") != 0 && strcmp(code, "SlowDown") != 0) break;
    }
    aws_response_free(&resp);
    sb_free(&q);
    sb_free(&body);
    free(path);
    return rc;
}

/* AbortMultipartUpload, so the parts stop costing storage. Best effort: it runs after a
 * failure (even an abort of the client), with a short time limit, and its own failure is
 * not reported over the first one. */
static void upload_abort(struct upload *u)
{
    struct aws_request rq;
    struct aws_response resp;
    struct strbuf q = {0};
    char *path;
    const atomic_int *flag = aws_client_abort_flag(u->c);

    request_init(&rq, "DELETE", "AbortMultipartUpload");
    if (s3_address(u->c, rq.operation, u->bucket, u->key, &rq, &path, NULL) < 0) return;
    sb_printf(&q, "uploadId=%s", u->enc_id);
    rq.query = q.data;
    rq.timeout_s = 10;
    aws_response_init(&resp);
    aws_client_set_abort_flag(u->c, NULL);
    aws_call(u->c, &rq, &resp, NULL);
    aws_client_set_abort_flag(u->c, flag);
    aws_response_free(&resp);
    sb_free(&q);
    free(path);
}

static int put_multipart(struct aws_client *c, const char *bucket, const char *key, int fd,
                         long long size, const struct s3_put_opts *o, struct pr_error *err)
{
    struct upload u = {.c = c, .bucket = bucket, .key = key};
    long long part = S3_PART_SIZE;
    int rc = -1;

    while ((size + part - 1) / part > S3_MAX_PARTS) /* S3 takes at most 10,000 parts */
        part *= 2;
    u.nparts = (size_t)((size + part - 1) / part);
    u.etags = xcalloc(u.nparts, sizeof(*u.etags));
    if (upload_create(&u, o, err) < 0) goto out;
    for (size_t i = 0; i < u.nparts; i++) {
        long long off = (long long)i * part;
        long long len = size - off < part ? size - off : part;
        if (upload_part(&u, i, fd, off, len, err) < 0) goto fail;
    }
    if (upload_complete(&u, err) < 0) goto fail;
    rc = 0;
    goto out;
fail:
    upload_abort(&u);
out:
    for (size_t i = 0; i < u.nparts; i++)
        free(u.etags[i]);
    free(u.etags);
    free(u.upload_id);
    free(u.enc_id);
    return rc;
}

int s3_put_file(struct aws_client *c, const char *bucket, const char *key, const char *path,
                const struct s3_put_opts *o, struct pr_error *err)
{
    struct stat st;
    int fd, rc;

    if (!path) return pr_error_set(err, "S3 PutObject: no file");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pr_error_set(err, "S3 PutObject: %s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pr_error_set(err, "S3 PutObject: %s: not a regular file", path);
    }
    if (st.st_size > S3_MULTIPART_THRESHOLD)
        rc = put_multipart(c, bucket, key, fd, (long long)st.st_size, o, err);
    else
        rc = put_object(c, bucket, key, NULL, fd, (long long)st.st_size, o, err);
    close(fd);
    if (rc < 0) pr_error_prefix(err, "%s", path);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* listing                                                                                    */

/* Undo encoding-type=url ("+" is a space, as S3 writes it). */
static void url_decode(char *s)
{
    char *w = s;

    for (; *s; s++) {
        if (*s == '+') {
            *w++ = ' ';
        } else if (*s == '%' && s[1] && s[2] && strchr("0123456789abcdefABCDEF", s[1]) &&
                   strchr("0123456789abcdefABCDEF", s[2])) {
            char hex[3] = {s[1], s[2], 0};
            *w++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

/* Call fn for each <Contents> of a ListObjectsV2 page. Returns fn's first non-zero value, 0,
 * or -1 with err on an entry without a key. */
static int list_page(const char *b, const char *end, int decode,
                     int (*fn)(void *ctx, const char *key, long long size), void *ctx,
                     struct pr_error *err)
{
    const char *in, *in_end, *p = b;

    while ((p = aws_xml_find(p, end, "Contents", &in, &in_end))) {
        char *key = aws_xml_text(in, in_end, "Key");
        char *size = aws_xml_text(in, in_end, "Size");
        int r;
        if (!key) {
            free(size);
            return pr_error_set(err, "S3 ListObjectsV2: an entry of the answer has no Key");
        }
        if (decode) url_decode(key);
        r = fn(ctx, key, size ? strtoll(size, NULL, 10) : -1);
        free(key);
        free(size);
        if (r) return r;
    }
    return 0;
}

int s3_list_n(struct aws_client *c, const char *bucket, const char *prefix, int max_keys,
              int (*fn)(void *ctx, const char *key, long long size), void *ctx,
              struct pr_error *err)
{
    struct aws_request rq;
    struct aws_response resp;
    char *path, *token = NULL, *eprefix;
    int rc = 0;

    if (!fn || max_keys < 0 || max_keys > 1000)
        return pr_error_set(err, "S3 ListObjectsV2: need a callback and 0 to 1000 keys a page");
    request_init(&rq, "GET", "ListObjectsV2");
    if (s3_address(c, rq.operation, bucket, NULL, &rq, &path, err) < 0) return -1;
    eprefix = aws_uri_encode(prefix ? prefix : "", prefix ? strlen(prefix) : 0, 0);
    aws_response_init(&resp);
    do {
        struct strbuf q = {0};
        const char *b, *end;
        char *etoken = token ? aws_uri_encode(token, strlen(token), 0) : NULL;
        char *enc, *trunc, *next;
        if (etoken) sb_printf(&q, "continuation-token=%s&", etoken);
        sb_puts(&q, "encoding-type=url&list-type=2");
        if (max_keys) sb_printf(&q, "&max-keys=%d", max_keys);
        sb_printf(&q, "&prefix=%s", eprefix);
        free(etoken);
        rq.query = q.data;
        rc = aws_call(c, &rq, &resp, err) == 0 ? 0 : -1;
        sb_free(&q);
        if (rc < 0) break;
        b = resp.body.data ? resp.body.data : "";
        end = b + resp.body.len;
        enc = aws_xml_text(b, end, "EncodingType");
        rc = list_page(b, end, enc && strcmp(enc, "url") == 0, fn, ctx, err);
        free(enc);
        if (rc) break;
        trunc = aws_xml_text(b, end, "IsTruncated");
        next = aws_xml_text(b, end, "NextContinuationToken");
        if (!trunc || strcmp(trunc, "true") != 0) {
            free(next);
            next = NULL;
        } else if (!next || !*next || (token && strcmp(next, token) == 0)) {
            rc = pr_error_set(err, "S3 ListObjectsV2: a truncated answer without a new "
                                   "continuation token");
        }
        free(trunc);
        free(token);
        token = next;
    } while (token && rc == 0);
    free(token);
    free(eprefix);
    free(path);
    aws_response_free(&resp);
    return rc;
}

int s3_list(struct aws_client *c, const char *bucket, const char *prefix,
            int (*fn)(void *ctx, const char *key, long long size), void *ctx, struct pr_error *err)
{
    return s3_list_n(c, bucket, prefix, 0, fn, ctx, err);
}
