/* AWS credentials from the standard chain, in the standard order:
 *  1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 *  2. AWS_PROFILE (default "default") in the shared files: AWS_SHARED_CREDENTIALS_FILE
 *     (~/.aws/credentials) then AWS_CONFIG_FILE (~/.aws/config, "[profile NAME]" sections);
 *  3. the ECS container credentials endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
 *     http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI, with
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
 *  4. EC2 instance metadata with IMDSv2 (PUT /latest/api/token, then
 *     /latest/meta-data/iam/security-credentials/ROLE); AWS_EC2_METADATA_DISABLED=true skips
 *     it, AWS_EC2_METADATA_SERVICE_ENDPOINT moves it (tests).
 * Credentials that expire are fetched again 5 minutes before they do. The provider is safe to
 * use from several threads. Secrets are never logged. */
#ifndef PR_AWS_CREDS_H
#define PR_AWS_CREDS_H

#include "aws.h"
#include "util/pr_error.h"

struct aws_creds_provider;

struct aws_creds_provider *aws_creds_chain_new(void);
void aws_creds_provider_free(struct aws_creds_provider *p);

/* Copy the current credentials into *out (aws_creds_clear it afterwards), fetching or
 * refreshing them when needed. Returns 0, or -1 with err saying, for each source tried, why
 * it gave nothing (e.g. "no AWS credentials: environment: AWS_ACCESS_KEY_ID not set; profile
 * default: ~/.aws/credentials not found; ECS: ...; EC2 instance metadata: ..."). */
int aws_creds_get(struct aws_creds_provider *p, struct aws_creds *out, struct pr_error *err);

/* Forget the cached credentials (after the service said they are invalid or expired), so the
 * next aws_creds_get fetches again. */
void aws_creds_invalidate(struct aws_creds_provider *p);

/* When err looks like the service refused the credentials (HTTP 403, a signature or token
 * error), add which credentials were used: their source and access key id (never the
 * secret), so the user knows which to fix. */
void aws_creds_explain(struct aws_creds_provider *p, struct pr_error *err);

/* The region: AWS_REGION, AWS_DEFAULT_REGION, the profile's "region" in the config file, or
 * NULL when none is set. Returns a malloc'd string. */
char *aws_region_from_env(void);

/* Parse an ISO 8601 UTC time as the credential endpoints write it ("2015-08-30T12:36:00Z",
 * with optional fractional seconds and a "+01:00" or "-0130" offset instead of "Z").
 * Returns 0 with *out, or -1. */
int aws_parse_iso8601(const char *s, time_t *out);

#endif
