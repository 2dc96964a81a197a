#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

/* Secrets are wiped before their memory goes back to the allocator. */
static void free_secret(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void aws_creds_clear(struct aws_creds *c)
{
    if (!c) return;
    free(c->access_key);
    free_secret(c->secret_key);
    free_secret(c->session_token);
    memset(c, 0, sizeof(*c));
}

/* dst is overwritten, not freed first: clear it before reusing it. On failure dst is left as
 * it was. An empty session token is copied as none. */
int aws_creds_copy(struct aws_creds *dst, const struct aws_creds *src)
{
    if (!dst || !src || !src->access_key || !src->secret_key) return -1;
    dst->access_key = xstrdup(src->access_key);
    dst->secret_key = xstrdup(src->secret_key);
    dst->session_token =
        src->session_token && src->session_token[0] ? xstrdup(src->session_token) : NULL;
    dst->expires = src->expires;
    memcpy(dst->source, src->source, sizeof(dst->source));
    dst->source[sizeof(dst->source) - 1] = '\0';
    return 0;
}
