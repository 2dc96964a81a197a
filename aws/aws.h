/* Types shared by the AWS plumbing (SigV4, credentials, HTTP, SQS, S3), written on libcurl,
 * OpenSSL and cJSON. */
#ifndef PR_AWS_H
#define PR_AWS_H

#include <stddef.h>
#include <time.h>

/* A header or query pair. */
struct aws_kv {
    const char *name;
    const char *value;
};

/* One set of credentials. The strings are owned by the struct (aws_creds_clear frees them). */
struct aws_creds {
    char *access_key;
    char *secret_key;
    char *session_token; /* NULL when none */
    time_t expires;      /* 0: does not expire */
    char source[96]; /* where they came from: "environment", "profile default (~/.aws/credentials)",
                        "ECS container endpoint", "EC2 instance metadata (IMDSv2)" */
};

void aws_creds_clear(struct aws_creds *c);
int aws_creds_copy(struct aws_creds *dst, const struct aws_creds *src);

#endif
