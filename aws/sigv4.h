/* AWS Signature Version 4: the header form (Authorization) and the presigned-query form, as
 * specified by the AWS SigV4 test suite. */
#ifndef PR_AWS_SIGV4_H
#define PR_AWS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "aws.h"
#include "util/pr_error.h"

struct sigv4_request {
    const char *method; /* "GET", "POST", ... */
    /* The path as sent on the wire (already percent-encoded). For every service but s3 it is
     * normalised (dot segments, repeated slashes) and encoded once more, as the suite says; for
     * s3 it is used as it is. */
    const char *path;
    const char *query; /* as sent, without '?'; NULL or "" for none */
    /* Every header to sign, as it will be sent, Host included (names in any case; values are
     * trimmed and inner runs of spaces folded when canonicalised). If an X-Amz-Date header is
     * among them its value is the signing time; otherwise the time comes from `now` and the
     * caller must send X-Amz-Date: out->amz_date (it is signed as if present). Likewise, when
     * creds has a session token and no X-Amz-Security-Token header is among them, the header
     * form signs it as if present and the caller must send it. */
    const struct aws_kv *headers;
    size_t nheaders;
    /* The hex SHA-256 of the body, or "UNSIGNED-PAYLOAD". */
    const char *payload_hash;
    const char *region;
    const char *service;
    time_t now;
    /* Non-zero: the path is encoded once more but not normalised (the test suite's
     * "normalize": false cases); s3 ignores it. Zero for every real service call. */
    int no_path_normalize;
};

struct sigv4_out {
    char amz_date[17];       /* 20150830T123600Z */
    char *canonical_request; /* malloc'd */
    char *string_to_sign;    /* malloc'd */
    char signature[65];
    char *authorization; /* the Authorization header's value, malloc'd */
};

/* Sign rq with creds. Returns 0 with out filled (free with sigv4_out_free), -1 with err. */
int sigv4_sign(const struct sigv4_request *rq, const struct aws_creds *creds, struct sigv4_out *out,
               struct pr_error *err);
void sigv4_out_free(struct sigv4_out *out);

/* The presigned-query form: returns the whole malloc'd query string to send (the request's own
 * query parameters and X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders, X-Amz-Security-Token when there is one, then X-Amz-Signature), or NULL
 * with err. rq->payload_hash is usually "UNSIGNED-PAYLOAD". out (may be NULL) receives the
 * canonical request and string to sign. */
char *sigv4_presign(const struct sigv4_request *rq, const struct aws_creds *creds, int expires_s,
                    struct sigv4_out *out, struct pr_error *err);

/* Helpers. */
void aws_sha256_hex(const void *data, size_t len, char out[65]);
/* Percent-encode s as SigV4 says (unreserved A-Z a-z 0-9 - _ . ~ kept); '/' kept when
 * keep_slash. Returns a malloc'd string. */
char *aws_uri_encode(const char *s, size_t len, int keep_slash);

#endif
