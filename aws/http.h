/* Signed HTTP calls to AWS services on libcurl: one client per thread, connections reused,
 * TLS verification always on, the AWS "standard" retry behaviour (up to AWS_MAX_ATTEMPTS,
 * default 3, attempts; exponential backoff with full jitter, base 100 ms, cap 20 s) on
 * throttling errors, HTTP 429/500/502/503/504 and network errors (connection refused or
 * reset, timeouts, empty replies), within the standard mode's retry quota (500 tokens, 5 per
 * retry, 10 per timeout). Endpoints: AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_S3, then
 * AWS_ENDPOINT_URL, then the public AWS endpoint of the region. AWS_CA_BUNDLE names extra CA
 * certificates. PESTRUN_AWS_RETRY_BASE_MS replaces the 100 ms backoff base (tests use 1). */
#ifndef PR_AWS_HTTP_H
#define PR_AWS_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "aws.h"
#include "creds.h"
#include "util/pr_error.h"
#include "util/strbuf.h"

struct aws_client;

/* A client for region (NULL: aws_region_from_env(), else "us-east-1") using the credential
 * provider p (shared, not owned). Returns NULL with err. */
struct aws_client *aws_client_new(struct aws_creds_provider *p, const char *region,
                                  struct pr_error *err);
void aws_client_free(struct aws_client *c);
const char *aws_client_region(const struct aws_client *c);

/* The endpoint base URL for a service ("sqs", "s3"), without a trailing slash, and whether
 * it is an override (then S3 uses path-style addressing). */
const char *aws_client_endpoint(const struct aws_client *c, const char *service, int *is_override);

/* While *flag is non-zero, transfers in progress are aborted (the call returns -1 with
 * err "aborted") and no retry is made. Used to end a long poll at once. NULL: none. */
void aws_client_set_abort_flag(struct aws_client *c, const atomic_int *flag);
const atomic_int *aws_client_abort_flag(const struct aws_client *c);

/* Retries and requests made by this client so far (for benchmarks and tests). */
struct aws_client_stats {
    unsigned long requests; /* HTTP requests sent, retries included */
    unsigned long retries;
};
void aws_client_stats(const struct aws_client *c, struct aws_client_stats *out);

struct aws_request {
    const char *method;  /* "GET", "PUT", "POST", "HEAD", "DELETE" */
    const char *service; /* "sqs" or "s3": the signing name and the endpoint */
    /* The operation named in error messages ("GetObject"); NULL: taken from X-Amz-Target. */
    const char *operation;
    /* The URL path and query as on the wire (percent-encoded), appended to the endpoint; for
     * S3 virtual-host addressing, bucket (when not NULL) goes into the host name instead of
     * the path (the helpers in s3.c build this). */
    const char *bucket;
    const char *path;             /* "/" or "/key" ... */
    const char *query;            /* without '?', NULL for none */
    const struct aws_kv *headers; /* Content-Type, X-Amz-Target, ... (not Host/Authorization) */
    size_t nheaders;
    const void *body; /* NULL for none */
    size_t body_len;
    /* Instead of body (body NULL, body_len > 0): stream body_len bytes from this open file at
     * body_offset (large S3 uploads). */
    int body_fd;
    long long body_offset;
    /* Send x-amz-content-sha256 with the body's hash (UNSIGNED-PAYLOAD for body_fd). Always
     * done for service "s3", which requires it. */
    int s3_payload_header;
    /* Stream a 2xx response body into this fd instead of resp->body (large downloads); -1 or 0
     * (a zeroed request): no. A retry truncates the fd back to where the call found it. */
    int out_fd;
    long timeout_s; /* whole-request limit; 0: 60 s */
};

struct aws_response {
    long status;          /* HTTP status of the last attempt */
    struct strbuf body;   /* the body (unless streamed to out_fd) */
    char etag[128];       /* the ETag header, quotes kept */
    char request_id[128]; /* x-amzn-RequestId or x-amz-request-id */
    long long content_length;
    char error_code[128]; /* the AWS error code: SQS's x-amzn-query-error code when given
                             ("AWS.SimpleQueueService.NonExistentQueue"), else the error body's
                             (JSON "__type" without any "prefix#", or XML <Code>) */
};

void aws_response_init(struct aws_response *r);
void aws_response_free(struct aws_response *r);

/* Make the call, signing each attempt with fresh credentials. An answer that the credentials
 * expired (ExpiredToken, InvalidClientTokenId, ExpiredTokenException) invalidates them at the
 * provider and the call is made once more; so is one that the clock is off by more than 4
 * minutes (the service's Date is used from then on). Returns 0 when the service
 * answered 2xx, 1 when it answered with another status after the retries (resp holds the
 * status and error code; err is set to "SERVICE OPERATION: HTTP 400 CODE: message"), -1 with
 * err set when no answer came (network, credentials, abort). */
int aws_call(struct aws_client *c, const struct aws_request *rq, struct aws_response *resp,
             struct pr_error *err);

/* Minimal XML for AWS answers (no DTDs, CDATA or namespaces prefixes in them).
 * aws_xml_find: the first element <tag ...>...</tag> or <tag/> in [p, end); returns the
 * pointer past it with [*in, *in_end) its content, NULL when there is none.
 * aws_xml_decode: [p, end) with &amp; &lt; &gt; &quot; &apos; and &#N; &#xH; decoded,
 * malloc'd. aws_xml_text: the decoded content of the first <tag>, malloc'd, NULL if none. */
const char *aws_xml_find(const char *p, const char *end, const char *tag, const char **in,
                         const char **in_end);
char *aws_xml_decode(const char *p, const char *end);
char *aws_xml_text(const char *p, const char *end, const char *tag);

#endif
