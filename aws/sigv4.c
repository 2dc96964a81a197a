/* AWS Signature Version 4 on OpenSSL, checked against the AWS SigV4 test suite.
 *
 * Paths: every service but S3 signs the wire path (already percent-encoded once) after
 * removing dot segments and repeated slashes, and encodes it once more ("%20" is signed as
 * "%2520"), because those services check the signature against the path before decoding it.
 * S3 neither normalises nor double-encodes: "/a/./b" and "//k" are distinct object keys, and
 * S3 signs the path exactly as sent, so s3.c must send keys encoded once (RFC 3986 unreserved
 * kept, '/' kept). Query strings are decoded (%XX only) and encoded again so that encoded and
 * raw input sign alike; '+' is a literal plus, never a space (send spaces as %20). */
#include "sigv4.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/strbuf.h"

#define SIGV4_ALGO "AWS4-HMAC-SHA256"
#define PRESIGN_MAX_EXPIRES 604800 /* seven days, the SigV4 limit */

static const char hexdig[] = "0123456789ABCDEF";
static const char hexlow[] = "0123456789abcdef";

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexlow[d[i] >> 4];
        out[2 * i + 1] = hexlow[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void aws_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (!data) len = 0;
    if (!EVP_Digest(data ? data : "", len, md, &n, EVP_sha256(), NULL) || n != 32) {
        out[0] = '\0';
        return;
    }
    to_hex(md, 32, out);
}

static int is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static void encode_into(struct strbuf *sb, const char *s, size_t len, int keep_slash)
{
    sb_reserve(sb, len * 3);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            sb->data[sb->len++] = (char)c;
        } else {
            sb->data[sb->len++] = '%';
            sb->data[sb->len++] = hexdig[c >> 4];
            sb->data[sb->len++] = hexdig[c & 15];
        }
    }
    sb->data[sb->len] = '\0';
}

char *aws_uri_encode(const char *s, size_t len, int keep_slash)
{
    struct strbuf sb = {0};

    if (!s && len) return NULL;
    encode_into(&sb, s ? s : "", len, keep_slash);
    return sb_take(&sb);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode %XX (a '%' not followed by two hex digits stays as it is), then encode as SigV4 says. */
static char *query_part_canonical(const char *s, size_t len)
{
    struct strbuf raw = {0};
    char *enc;

    sb_reserve(&raw, len);
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            sb_putc(&raw, (char)(hi * 16 + lo));
            i += 2;
        } else {
            sb_putc(&raw, s[i]);
        }
    }
    enc = aws_uri_encode(raw.data ? raw.data : "", raw.len, 0);
    sb_free(&raw);
    return enc;
}

/* ---- validation ---- */

static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_token(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s)) return 0;
    return 1;
}

/* Region and service go into the credential scope, between slashes. */
static int is_scope_word(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!isalnum(c) && c != '-' && c != '_' && c != '.') return 0;
    }
    return 1;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

/* Messages name the field at fault, never a secret's value. */
static int check_request(const struct sigv4_request *rq, const struct aws_creds *creds,
                         struct pr_error *err)
{
    if (!rq) return pr_error_set(err, "sigv4: no request to sign");
    if (!creds || !creds->access_key || !creds->secret_key)
        return pr_error_set(err, "sigv4: no credentials to sign with");
    if (!creds->access_key[0] || !creds->secret_key[0])
        return pr_error_set(err, "sigv4: the access key or the secret key is empty");
    for (const char *p = creds->access_key; *p; p++)
        if (*p == '/' || isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
            return pr_error_set(err, "sigv4: the access key holds '/', a space or a control byte");
    if (creds->session_token && has_ctl(creds->session_token))
        return pr_error_set(err, "sigv4: the session token holds a control byte");
    if (!is_token(rq->method))
        return pr_error_set(err, "sigv4: method '%s' is not an HTTP method name",
                            rq->method ? rq->method : "(null)");
    if (!rq->path || rq->path[0] != '/')
        return pr_error_set(err, "sigv4: path '%s' does not start with '/'",
                            rq->path ? rq->path : "(null)");
    if (has_ctl(rq->path) || strchr(rq->path, '?') || strchr(rq->path, '#'))
        return pr_error_set(err, "sigv4: path holds a control byte, '?' or '#' (the query "
                                 "goes in the query field)");
    if (rq->query && has_ctl(rq->query))
        return pr_error_set(err, "sigv4: query holds a control byte");
    if (!is_scope_word(rq->region))
        return pr_error_set(err, "sigv4: region '%s' is empty or not a region name",
                            rq->region ? rq->region : "(null)");
    if (!is_scope_word(rq->service))
        return pr_error_set(err, "sigv4: service '%s' is empty or not a service name",
                            rq->service ? rq->service : "(null)");
    if (!rq->payload_hash || !rq->payload_hash[0] || has_ctl(rq->payload_hash) ||
        strchr(rq->payload_hash, ' '))
        return pr_error_set(err, "sigv4: payload hash missing or malformed (expected the hex "
                                 "SHA-256 of the body or UNSIGNED-PAYLOAD)");
    if (rq->nheaders && !rq->headers)
        return pr_error_set(err, "sigv4: %zu headers announced but none given", rq->nheaders);
    return 0;
}

/* ---- time ---- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "20150830T123600Z", possibly surrounded by spaces. */
static int parse_amz_date(const char *v, char out[17])
{
    int y, mo, d, h, mi, s;
    size_t n;

    while (*v == ' ' || *v == '\t')
        v++;
    n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n != 16 || v[8] != 'T' || v[15] != 'Z') return -1;
    if (digits(v, 4, &y) || digits(v + 4, 2, &mo) || digits(v + 6, 2, &d) || digits(v + 9, 2, &h) ||
        digits(v + 11, 2, &mi) || digits(v + 13, 2, &s))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return -1;
    memcpy(out, v, 16);
    out[16] = '\0';
    return 0;
}

static int format_amz_date(time_t t, char out[17])
{
    struct tm tm;

    if (t < 0 || !gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999) return -1;
    return strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 16 ? 0 : -1;
}

/* ---- headers ---- */

struct canon_hdr {
    char *name; /* lower case */
    const char *value;
    size_t order; /* position given, so that repeated headers keep their order */
};

static int hdr_cmp(const void *a, const void *b)
{
    const struct canon_hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static const char *find_header(const struct sigv4_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->nheaders; i++)
        if (rq->headers[i].name && strcasecmp(rq->headers[i].name, name) == 0)
            return rq->headers[i].value;
    return NULL;
}

/* Append value trimmed, with runs of spaces, tabs and obs-folds (a line break followed by a
 * space or tab) turned into one space. A line break not starting a fold is refused: it would
 * let a value smuggle in another header. */
static int append_value(struct strbuf *sb, const char *name, const char *v, struct pr_error *err)
{
    int pending_space = 0, any = 0;

    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' || c == '\n') {
            const char *q = p;
            if (*q == '\r' && q[1] == '\n') q++;
            if (q[1] == '\0') break; /* a trailing line break is trimmed like a space */
            if (q[1] != ' ' && q[1] != '\t') {
                return pr_error_set(err,
                                    "sigv4: header %s: a line break not followed by a "
                                    "space or tab",
                                    name);
            }
            pending_space = 1;
            p = q;
        } else if (c == ' ' || c == '\t') {
            pending_space = 1;
        } else if (c < 0x20 || c == 0x7f) {
            return pr_error_set(err, "sigv4: header %s: value holds a control byte", name);
        } else {
            if (pending_space && any) sb_putc(sb, ' ');
            pending_space = 0;
            any = 1;
            sb_putc(sb, (char)c);
        }
    }
    return 0;
}

/* The canonical headers block ("name:value\n" each) into canon and "a;b;c" into signed_hdrs.
 * extra holds the headers the signer adds (X-Amz-Date, X-Amz-Security-Token). */
static int build_headers(const struct sigv4_request *rq, const struct aws_kv *extra, size_t nextra,
                         struct strbuf *canon, struct strbuf *signed_hdrs, struct pr_error *err)
{
    size_t n = rq->nheaders + nextra, i;
    struct canon_hdr *h = xcalloc(n, sizeof(*h));
    int have_host = 0, rc = -1;

    for (i = 0; i < n; i++) {
        const struct aws_kv *kv = i < rq->nheaders ? &rq->headers[i] : &extra[i - rq->nheaders];
        if (!is_token(kv->name)) {
            pr_error_set(err, "sigv4: header %zu: name '%s' is empty or not an HTTP token", i + 1,
                         kv->name ? kv->name : "(null)");
            goto done;
        }
        if (!kv->value) {
            pr_error_set(err, "sigv4: header %s has no value", kv->name);
            goto done;
        }
        if (strcasecmp(kv->name, "authorization") == 0) {
            pr_error_set(err, "sigv4: an Authorization header cannot be signed");
            goto done;
        }
        h[i].name = xstrdup(kv->name);
        for (char *p = h[i].name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        h[i].value = kv->value;
        h[i].order = i;
        if (strcmp(h[i].name, "host") == 0) have_host = 1;
    }
    if (!have_host) {
        pr_error_set(err, "sigv4: no Host header among the headers to sign");
        goto done;
    }
    qsort(h, n, sizeof(*h), hdr_cmp);
    for (i = 0; i < n; i++) {
        int same = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        if (same) {
            sb_putc(canon, ',');
        } else {
            if (i > 0) {
                sb_putc(canon, '\n');
                sb_putc(signed_hdrs, ';');
            }
            sb_puts(canon, h[i].name);
            sb_putc(canon, ':');
            sb_puts(signed_hdrs, h[i].name);
        }
        if (append_value(canon, h[i].name, h[i].value, err)) goto done;
    }
    sb_putc(canon, '\n');
    rc = 0;
done:
    for (i = 0; i < n; i++)
        free(h[i].name);
    free(h);
    return rc;
}

/* ---- path and query ---- */

/* Remove "." and empty segments and let ".." drop the one before, keeping a trailing slash,
 * as the suite's reference signer does. */
static char *normalize_path(const char *path)
{
    size_t len = strlen(path), nseg = 0;
    const char **seg = xcalloc(len / 2 + 2, sizeof(*seg));
    size_t *seglen = xcalloc(len / 2 + 2, sizeof(*seglen));
    struct strbuf sb = {0};
    const char *p = path;

    while (*p) {
        const char *s;
        while (*p == '/')
            p++;
        s = p;
        while (*p && *p != '/')
            p++;
        size_t l = (size_t)(p - s);
        if (l == 0 || (l == 1 && s[0] == '.')) continue;
        if (l == 2 && s[0] == '.' && s[1] == '.') {
            if (nseg) nseg--;
            continue;
        }
        seg[nseg] = s;
        seglen[nseg++] = l;
    }
    sb_putc(&sb, '/');
    for (size_t i = 0; i < nseg; i++) {
        sb_append(&sb, seg[i], seglen[i]);
        if (i + 1 < nseg || (len && path[len - 1] == '/')) sb_putc(&sb, '/');
    }
    free(seg);
    free(seglen);
    return sb_take(&sb);
}

static void append_canonical_path(struct strbuf *sb, const struct sigv4_request *rq)
{
    char *norm;

    if (strcmp(rq->service, "s3") == 0) {
        sb_puts(sb, rq->path);
        return;
    }
    norm = rq->no_path_normalize ? xstrdup(rq->path) : normalize_path(rq->path);
    encode_into(sb, norm, strlen(norm), 1);
    free(norm);
}

struct qparam {
    char *key; /* canonical (encoded) */
    char *value;
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

struct qlist {
    struct qparam *p;
    size_t n, cap;
};

static void qlist_add(struct qlist *q, char *key, char *value)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 16;
        q->p = xrealloc(q->p, q->cap * sizeof(*q->p));
    }
    q->p[q->n].key = key;
    q->p[q->n++].value = value;
}

static void qlist_free(struct qlist *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->p[i].key);
        free(q->p[i].value);
    }
    free(q->p);
}

static const char *const presign_params[] = {
    "X-Amz-Algorithm",     "X-Amz-Credential",     "X-Amz-Date",      "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature", NULL};

/* Split the query into canonical pairs ("a" alone is "a="; empty pieces are skipped). With
 * presign, parameters the presigned form adds must not already be there. */
static int parse_query(const char *query, int presign, struct qlist *q, struct pr_error *err)
{
    const char *p = query ? query : "";

    while (*p) {
        const char *end = strchr(p, '&'), *eq;
        if (!end) end = p + strlen(p);
        if (end > p) {
            eq = memchr(p, '=', (size_t)(end - p));
            const char *kend = eq ? eq : end;
            char *k = query_part_canonical(p, (size_t)(kend - p));
            char *v = eq ? query_part_canonical(eq + 1, (size_t)(end - eq - 1)) : xstrdup("");
            qlist_add(q, k, v);
            for (int i = 0; presign && presign_params[i]; i++)
                if (strcmp(k, presign_params[i]) == 0)
                    return pr_error_set(err, "sigv4: the query already holds %s", k);
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

static void append_query(struct strbuf *sb, struct qlist *q)
{
    if (q->n) qsort(q->p, q->n, sizeof(*q->p), qparam_cmp);
    for (size_t i = 0; i < q->n; i++) {
        if (i) sb_putc(sb, '&');
        sb_puts(sb, q->p[i].key);
        sb_putc(sb, '=');
        sb_puts(sb, q->p[i].value);
    }
}

/* ---- signing ---- */

static int hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n) &&
                   n == 32
               ? 0
               : -1;
}

/* signature = hex(HMAC(kSigning, sts)), kSigning derived from the secret, date, region, service. */
static int compute_signature(const char *secret, const char *date8, const char *region,
                             const char *service, const char *sts, char out[65])
{
    size_t slen = strlen(secret);
    char *k0 = xmalloc(slen + 5);
    unsigned char k[32], k2[32];
    int rc;

    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen + 1);
    rc = hmac(k0, slen + 4, date8, k) || hmac(k, 32, region, k2) || hmac(k2, 32, service, k) ||
         hmac(k, 32, "aws4_request", k2) || hmac(k2, 32, sts, k);
    if (!rc) to_hex(k, 32, out);
    OPENSSL_cleanse(k0, slen + 4);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(k2, sizeof(k2));
    free(k0);
    return rc ? -1 : 0;
}

void sigv4_out_free(struct sigv4_out *out)
{
    if (!out) return;
    free(out->canonical_request);
    free(out->string_to_sign);
    free(out->authorization);
    memset(out, 0, sizeof(*out));
}

static int has_token(const struct aws_creds *creds)
{
    return creds->session_token && creds->session_token[0];
}

/* The common part of both forms: fills out (amz_date, canonical request, string to sign,
 * signature) and *scope; presign_expires > 0 selects the query form, whose canonical query
 * is left in *query. */
static int sign_common(const struct sigv4_request *rq, const struct aws_creds *creds,
                       int presign_expires, struct sigv4_out *out, struct strbuf *scope,
                       struct strbuf *signed_hdrs, struct strbuf *query, struct pr_error *err)
{
    struct strbuf canon = {0}, hdrs = {0}, sts = {0};
    struct qlist q = {0};
    struct aws_kv extra[2];
    size_t nextra = 0;
    const char *date_hdr;
    char date8[9], hash[65];

    if (check_request(rq, creds, err)) return -1;
    date_hdr = find_header(rq, "x-amz-date");
    if (date_hdr && parse_amz_date(date_hdr, out->amz_date))
        return pr_error_set(err, "sigv4: X-Amz-Date '%s' is not like 20150830T123600Z", date_hdr);
    if (!date_hdr && format_amz_date(rq->now, out->amz_date))
        return pr_error_set(err, "sigv4: signing time %lld is out of range", (long long)rq->now);
    memcpy(date8, out->amz_date, 8);
    date8[8] = '\0';
    sb_printf(scope, "%s/%s/%s/aws4_request", date8, rq->region, rq->service);

    if (!presign_expires) {
        if (!date_hdr) extra[nextra++] = (struct aws_kv){"X-Amz-Date", out->amz_date};
        if (has_token(creds) && !find_header(rq, "x-amz-security-token"))
            extra[nextra++] = (struct aws_kv){"X-Amz-Security-Token", creds->session_token};
    }
    if (build_headers(rq, extra, nextra, &hdrs, signed_hdrs, err)) goto error;
    if (parse_query(rq->query, presign_expires > 0, &q, err)) goto error;
    if (presign_expires) {
        char *cred = xmalloc(strlen(creds->access_key) + scope->len + 2);
        char exp[16];
        sprintf(cred, "%s/%s", creds->access_key, scope->data);
        snprintf(exp, sizeof(exp), "%d", presign_expires);
        qlist_add(&q, xstrdup("X-Amz-Algorithm"), xstrdup(SIGV4_ALGO));
        qlist_add(&q, xstrdup("X-Amz-Credential"), aws_uri_encode(cred, strlen(cred), 0));
        qlist_add(&q, xstrdup("X-Amz-Date"), xstrdup(out->amz_date));
        qlist_add(&q, xstrdup("X-Amz-Expires"), xstrdup(exp));
        qlist_add(&q, xstrdup("X-Amz-SignedHeaders"),
                  aws_uri_encode(signed_hdrs->data, signed_hdrs->len, 0));
        if (has_token(creds))
            qlist_add(&q, xstrdup("X-Amz-Security-Token"),
                      aws_uri_encode(creds->session_token, strlen(creds->session_token), 0));
        free(cred);
    }
    append_query(query, &q);

    sb_printf(&canon, "%s\n", rq->method);
    append_canonical_path(&canon, rq);
    sb_putc(&canon, '\n');
    sb_append(&canon, query->data ? query->data : "", query->len);
    sb_putc(&canon, '\n');
    sb_append(&canon, hdrs.data, hdrs.len);
    sb_putc(&canon, '\n');
    sb_printf(&canon, "%s\n%s", signed_hdrs->data, rq->payload_hash);

    aws_sha256_hex(canon.data, canon.len, hash);
    sb_printf(&sts, SIGV4_ALGO "\n%s\n%s\n%s", out->amz_date, scope->data, hash);
    if (compute_signature(creds->secret_key, date8, rq->region, rq->service, sts.data,
                          out->signature)) {
        pr_error_set(err, "sigv4: HMAC-SHA256 failed in OpenSSL");
        goto error;
    }
    out->canonical_request = sb_take(&canon);
    out->string_to_sign = sb_take(&sts);
    sb_free(&hdrs);
    qlist_free(&q);
    return 0;
error:
    sb_free(&canon);
    sb_free(&hdrs);
    sb_free(&sts);
    qlist_free(&q);
    return -1;
}

int sigv4_sign(const struct sigv4_request *rq, const struct aws_creds *creds, struct sigv4_out *out,
               struct pr_error *err)
{
    struct strbuf scope = {0}, signed_hdrs = {0}, query = {0}, auth = {0};

    if (!out) return pr_error_set(err, "sigv4: no output to fill");
    memset(out, 0, sizeof(*out));
    if (sign_common(rq, creds, 0, out, &scope, &signed_hdrs, &query, err)) {
        sigv4_out_free(out);
        sb_free(&scope);
        sb_free(&signed_hdrs);
        sb_free(&query);
        return -1;
    }
    sb_printf(&auth, SIGV4_ALGO " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
              creds->access_key, scope.data, signed_hdrs.data, out->signature);
    out->authorization = sb_take(&auth);
    sb_free(&scope);
    sb_free(&signed_hdrs);
    sb_free(&query);
    return 0;
}

char *sigv4_presign(const struct sigv4_request *rq, const struct aws_creds *creds, int expires_s,
                    struct sigv4_out *out, struct pr_error *err)
{
    struct strbuf scope = {0}, signed_hdrs = {0}, query = {0};
    struct sigv4_out local;

    memset(&local, 0, sizeof(local));
    if (out) memset(out, 0, sizeof(*out));
    if (expires_s < 1 || expires_s > PRESIGN_MAX_EXPIRES) {
        pr_error_set(err, "sigv4: presigned URL lifetime %d s is outside 1..%d s", expires_s,
                     PRESIGN_MAX_EXPIRES);
        return NULL;
    }
    if (sign_common(rq, creds, expires_s, &local, &scope, &signed_hdrs, &query, err)) {
        sigv4_out_free(&local);
        sb_free(&scope);
        sb_free(&signed_hdrs);
        sb_free(&query);
        return NULL;
    }
    if (query.len) sb_putc(&query, '&');
    sb_printf(&query, "X-Amz-Signature=%s", local.signature);
    if (out)
        *out = local;
    else
        sigv4_out_free(&local);
    sb_free(&scope);
    sb_free(&signed_hdrs);
    return sb_take(&query);
}
