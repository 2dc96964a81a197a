/* Amazon S3 (REST, XML answers): objects up to any size, with multipart upload for large ones
 * and optional SSE-KMS. Path-style addressing when the endpoint is overridden (emulators) or
 * the bucket name has dots; virtual-host style on AWS. Keys are percent-encoded per segment. */
#ifndef PR_AWS_S3_H
#define PR_AWS_S3_H

#include <stddef.h>

#include "http.h"

#define S3_MULTIPART_THRESHOLD (16LL << 20) /* s3_put_file uses multipart above this */
#define S3_PART_SIZE (8LL << 20)

struct s3_put_opts {
    const char *content_type; /* NULL: application/octet-stream */
    const char *kms_key_id;   /* SSE-KMS with this key (id, ARN or alias); NULL: the bucket's */
    int sse_kms;              /* request SSE-KMS (with kms_key_id or the AWS-managed key) */
};

/* PutObject of a memory buffer (x-amz-content-sha256 = the body's hash). */
int s3_put(struct aws_client *c, const char *bucket, const char *key, const void *data, size_t len,
           const struct s3_put_opts *o, struct pr_error *err);
/* Upload a file: one PutObject, or a multipart upload (Create, UploadPart each S3_PART_SIZE,
 * Complete; Abort on failure) above S3_MULTIPART_THRESHOLD. */
int s3_put_file(struct aws_client *c, const char *bucket, const char *key, const char *path,
                const struct s3_put_opts *o, struct pr_error *err);
/* GetObject into out (appended). Returns 1, 0 when there is no such key (404 NoSuchKey), -1
 * with err. */
int s3_get(struct aws_client *c, const char *bucket, const char *key, struct strbuf *out,
           struct pr_error *err);
/* GetObject streamed into a file (written to path.part, renamed on success). 1/0/-1 as s3_get. */
int s3_get_file(struct aws_client *c, const char *bucket, const char *key, const char *path,
                struct pr_error *err);
/* HeadObject: 1 with *size when it exists, 0 when not, -1 with err. */
int s3_head(struct aws_client *c, const char *bucket, const char *key, long long *size,
            struct pr_error *err);
/* ListObjectsV2 of every key under prefix (following continuation tokens): fn is called per
 * key; a non-zero return from fn stops the listing (and is returned). -1 with err. */
int s3_list(struct aws_client *c, const char *bucket, const char *prefix,
            int (*fn)(void *ctx, const char *key, long long size), void *ctx, struct pr_error *err);
/* s3_list asking for at most max_keys keys a page (1 to 1000; 0: the service's 1000). */
int s3_list_n(struct aws_client *c, const char *bucket, const char *prefix, int max_keys,
              int (*fn)(void *ctx, const char *key, long long size), void *ctx,
              struct pr_error *err);
/* DeleteObject (a missing key is not an error). */
int s3_delete(struct aws_client *c, const char *bucket, const char *key, struct pr_error *err);

#endif
