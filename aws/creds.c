/* The standard AWS credentials chain: environment, shared files, ECS container endpoint, EC2
 * instance metadata (IMDSv2 only: the token-less IMDSv1 is never tried).
 *
 * Each source either gives credentials, or says in a few words why it gave none and the next
 * one is tried; the error lists every reason. Half-configured static keys (an access key
 * without its secret, in the environment or a profile) stop the chain with an error instead:
 * silently falling through to an instance role would sign as someone the user did not mean.
 *
 * No message, here or in the callers' errors, holds a secret key, a session token, an
 * authorization token or a reply body: only names, paths, URLs (without user info and
 * query) and HTTP statuses. */
#include "creds.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "util/strbuf.h"
#include "util/text.h"

#define REFRESH_AHEAD_S 300     /* fetch again this long before the credentials expire */
#define RETRY_AFTER_FAIL_S 30   /* a failed refresh of still valid credentials waits this long */
#define NO_EXPIRY_REFETCH_S 900 /* endpoint credentials without Expiration are fetched again */
#define REPLY_MAX (64 * 1024)
#define IMDS_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_TTL_S "21600"
#define ECS_ENDPOINT "http://169.254.170.2"

struct aws_creds_provider {
    pthread_mutex_t lock;
    struct aws_creds cur;
    int have;
    time_t refresh_at; /* 0: never */
};

/* ---- small helpers ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *trim(char *s)
{
    size_t n;
    while (isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int has_line_break(const char *s)
{
    return strchr(s, '\n') || strchr(s, '\r');
}

static void set_creds(struct aws_creds *out, const char *ak, const char *sk, const char *tok,
                      time_t expires, const char *source)
{
    out->access_key = xstrdup(ak);
    out->secret_key = xstrdup(sk);
    out->session_token = tok && *tok ? xstrdup(tok) : NULL;
    out->expires = expires;
    snprintf(out->source, sizeof(out->source), "%s", source);
}

/* "; " between the reasons of the sources */
static void why_add(struct strbuf *why, const char *fmt, ...) PR_PRINTF(2, 3);
static void why_add(struct strbuf *why, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (why->len) sb_puts(why, "; ");
    sb_puts(why, buf);
}

/* ---- ISO 8601 ---- */

static int num(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int lit(const char **p, char c)
{
    if (**p != c) return -1;
    (*p)++;
    return 0;
}

int aws_parse_iso8601(const char *s, time_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    time_t t;

    if (!s || !out) return -1;
    if (num(&s, 4, &y) || lit(&s, '-') || num(&s, 2, &mo) || lit(&s, '-') || num(&s, 2, &d))
        return -1;
    if (*s != 'T' && *s != 't') return -1;
    s++;
    if (num(&s, 2, &h) || lit(&s, ':') || num(&s, 2, &mi) || lit(&s, ':') || num(&s, 2, &sec))
        return -1;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s)) return -1;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '+' ? 1 : -1;
        if (num(&s, 2, &oh)) return -1;
        if (*s == ':') s++;
        if (num(&s, 2, &om) || oh > 23 || om > 59) return -1;
    } else {
        return -1;
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    *out = t - sign * (oh * 3600 + om * 60);
    return 0;
}

/* ---- shared files ---- */

/* The path of a shared file: the variable's value ("~/" expanded) or ~/.aws/NAME. NULL when
 * HOME is needed and not set. */
static char *shared_file(const char *var, const char *name)
{
    const char *v = env(var), *home = env("HOME");
    struct strbuf sb = {0};

    if (v && strncmp(v, "~/", 2) != 0) return xstrdup(v);
    if (!home) return NULL;
    if (v)
        sb_printf(&sb, "%s/%s", home, v + 2);
    else
        sb_printf(&sb, "%s/.aws/%s", home, name);
    return sb_take(&sb);
}

/* A path for messages, with the home folder written "~". */
static void show_path(const char *path, char *buf, size_t n)
{
    const char *home = env("HOME");
    size_t hl = home ? strlen(home) : 0;

    if (hl > 1 && strncmp(path, home, hl) == 0 && path[hl] == '/')
        snprintf(buf, n, "~%s", path + hl);
    else
        snprintf(buf, n, "%s", path);
}

struct profile_vals {
    char *access_key, *secret_key, *token, *region;
    char unsupported[32]; /* a key naming a kind of profile this chain does not implement */
};

static void profile_vals_clear(struct profile_vals *v)
{
    free(v->access_key);
    if (v->secret_key) explicit_bzero(v->secret_key, strlen(v->secret_key));
    free(v->secret_key);
    if (v->token) explicit_bzero(v->token, strlen(v->token));
    free(v->token);
    free(v->region);
    memset(v, 0, sizeof(*v));
}

static void take_value(char **slot, const char *value)
{
    if (*slot) explicit_bzero(*slot, strlen(*slot));
    free(*slot);
    *slot = xstrdup(value);
}

/* Read the keys of [section] from an INI text (the AWS shared-file dialect: '#' and ';'
 * comments, also after a value when a space precedes them; indented lines are sub-settings
 * and ignored; a section given twice is merged, the later value winning). Returns 1 when
 * the section is there, 0 when not. The text is modified. */
static int ini_read_section(char *text, const char *section, struct profile_vals *v)
{
    static const char *const unsupported[] = {
        "role_arn",      "credential_process",      "sso_session",
        "sso_start_url", "web_identity_token_file", NULL};
    int in = 0, found = 0;
    char *line = text, *next;

    for (; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (*line == ' ' || *line == '\t') continue;
        char *l = trim(line);
        if (*l == '#' || *l == ';' || !*l) continue;
        if (*l == '[') {
            char *end = strrchr(l, ']');
            if (!end) {
                in = 0;
                continue;
            }
            *end = '\0';
            in = strcmp(trim(l + 1), section) == 0;
            found |= in;
            continue;
        }
        if (!in) continue;
        char *eq = strchr(l, '=');
        if (!eq) continue;
        *eq = '\0';
        char *key = trim(l), *val = eq + 1;
        for (char *c = val; *c; c++)
            if ((*c == '#' || *c == ';') && c > val && (c[-1] == ' ' || c[-1] == '\t')) {
                *c = '\0';
                break;
            }
        val = trim(val);
        if (strcasecmp(key, "aws_access_key_id") == 0)
            take_value(&v->access_key, val);
        else if (strcasecmp(key, "aws_secret_access_key") == 0)
            take_value(&v->secret_key, val);
        else if (strcasecmp(key, "aws_session_token") == 0)
            take_value(&v->token, val);
        else if (strcasecmp(key, "region") == 0)
            take_value(&v->region, val);
        for (int i = 0; unsupported[i]; i++)
            if (strcasecmp(key, unsupported[i]) == 0)
                snprintf(v->unsupported, sizeof(v->unsupported), "%s", unsupported[i]);
    }
    return found;
}

/* Read [section] of the file at path into v. Returns 1 when there, 0 when not, with why
 * ("~/.aws/config not found", "no [x] in ~/.aws/config", "~/.aws/config: cannot read: ..."). */
static int read_profile_file(const char *path, const char *section, struct profile_vals *v,
                             char *why, size_t whylen)
{
    struct pr_error err;
    struct stat st;
    char shown[256], *text;
    size_t len;
    int found;

    show_path(path, shown, sizeof(shown));
    if (stat(path, &st) != 0 && errno == ENOENT) {
        snprintf(why, whylen, "%s not found", shown);
        return 0;
    }
    text = pr_read_file(path, &len, &err);
    if (!text) {
        snprintf(why, whylen, "%s", err.msg);
        return 0;
    }
    found = ini_read_section(text, section, v);
    explicit_bzero(text, len);
    free(text);
    if (!found) snprintf(why, whylen, "no [%s] in %s", section, shown);
    return found;
}

/* The config file names a profile "[profile NAME]", except the default one, "[default]". */
static void config_section(const char *profile, char *buf, size_t n)
{
    if (strcmp(profile, "default") == 0)
        snprintf(buf, n, "default");
    else
        snprintf(buf, n, "profile %s", profile);
}

/* ---- HTTP (credential endpoints) ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct reply {
    long status;
    struct strbuf body;
    int too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t len = size * n;

    if (r->body.len + len > REPLY_MAX) {
        r->too_big = 1;
        return 0;
    }
    sb_append(&r->body, data, len);
    return len;
}

static void reply_free(struct reply *r)
{
    if (r->body.data) explicit_bzero(r->body.data, r->body.len);
    sb_free(&r->body);
    memset(r, 0, sizeof(*r));
}

/* The URL as it may be shown: scheme, host, port and path; no user info, no query. */
static void show_url(const char *url, char *buf, size_t n)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        snprintf(buf, n, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
                 path ? path : "");
    } else {
        snprintf(buf, n, "(a URL that does not parse)");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

/* One request with no body. Returns 0 when an answer came (r->status), -1 with why (libcurl's
 * message) when none did. Proxies are never used: the endpoints are link-local or loopback,
 * and a proxy would see the tokens. TLS verification stays libcurl's default (on). */
static int http_fetch(const char *method, const char *url, const char *const *headers,
                      long connect_ms, long total_ms, struct reply *r, char *why, size_t whylen)
{
    char ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hl = NULL;
    CURLcode rc;
    CURL *c;

    pthread_once(&curl_once, curl_init_once);
    memset(r, 0, sizeof(*r));
    c = curl_easy_init();
    if (!c) {
        snprintf(why, whylen, "libcurl cannot start");
        return -1;
    }
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    } else if (r->too_big) {
        snprintf(why, whylen, "reply larger than %d KiB", REPLY_MAX / 1024);
    } else {
        snprintf(why, whylen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) reply_free(r);
    return rc == CURLE_OK ? 0 : -1;
}

/* {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} as ECS and IMDS send them.
 * Returns 0, or -1 with why. */
static int creds_from_json(const char *body, const char *source, struct aws_creds *out, char *why,
                           size_t whylen)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *ak, *sk, *tok, *exp, *code;
    time_t expires = 0;
    int rc = -1;

    if (!cJSON_IsObject(j)) {
        snprintf(why, whylen, "the reply is not a JSON object");
        goto done;
    }
    code = cJSON_GetObjectItemCaseSensitive(j, "Code");
    if (cJSON_IsString(code) && strcmp(code->valuestring, "Success") != 0) {
        snprintf(why, whylen, "the reply says Code '%.60s'", code->valuestring);
        goto done;
    }
    ak = cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId");
    sk = cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey");
    tok = cJSON_GetObjectItemCaseSensitive(j, "Token");
    exp = cJSON_GetObjectItemCaseSensitive(j, "Expiration");
    if (!cJSON_IsString(ak) || !cJSON_IsString(sk) || !ak->valuestring[0] || !sk->valuestring[0]) {
        snprintf(why, whylen, "the reply lacks AccessKeyId or SecretAccessKey");
        goto done;
    }
    if (exp && (!cJSON_IsString(exp) || aws_parse_iso8601(exp->valuestring, &expires))) {
        snprintf(why, whylen, "the reply's Expiration is not an ISO 8601 time");
        goto done;
    }
    set_creds(out, ak->valuestring, sk->valuestring, cJSON_IsString(tok) ? tok->valuestring : NULL,
              expires, source);
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

/* ---- the sources: 0 found, 1 nothing here (reason added to why), -1 stop (err set) ---- */

static int from_env(struct aws_creds *out, struct strbuf *why, struct pr_error *err)
{
    const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");

    if (!ak && !sk) {
        why_add(why, "environment: AWS_ACCESS_KEY_ID not set");
        return 1;
    }
    if (!sk)
        return pr_error_set(err, "AWS credentials: the environment has AWS_ACCESS_KEY_ID but not "
                                 "AWS_SECRET_ACCESS_KEY: set both, or unset AWS_ACCESS_KEY_ID to "
                                 "use the shared files or a role");
    if (!ak)
        return pr_error_set(err, "AWS credentials: the environment has AWS_SECRET_ACCESS_KEY but "
                                 "not AWS_ACCESS_KEY_ID: set both, or unset "
                                 "AWS_SECRET_ACCESS_KEY to use the shared files or a role");
    set_creds(out, ak, sk, env("AWS_SESSION_TOKEN"), 0, "environment");
    return 0;
}

static int from_profile(struct aws_creds *out, struct strbuf *why, struct pr_error *err)
{
    const char *name = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
    char *paths[2] = {shared_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
                      shared_file("AWS_CONFIG_FILE", "config")};
    char sections[2][256], reasons[2][512] = {"", ""}, shown[256], source[128];
    int rc = 1;

    snprintf(sections[0], sizeof(sections[0]), "%s", name);
    config_section(name, sections[1], sizeof(sections[1]));
    for (int i = 0; i < 2 && rc == 1; i++) {
        struct profile_vals v = {0};
        if (!paths[i]) {
            snprintf(reasons[i], sizeof(reasons[i]), "HOME not set");
            continue;
        }
        show_path(paths[i], shown, sizeof(shown));
        if (!read_profile_file(paths[i], sections[i], &v, reasons[i], sizeof(reasons[i]))) {
            profile_vals_clear(&v);
            continue;
        }
        if (v.access_key && *v.access_key && v.secret_key && *v.secret_key) {
            snprintf(source, sizeof(source), "profile %s (%s)", name, shown);
            set_creds(out, v.access_key, v.secret_key, v.token, 0, source);
            rc = 0;
        } else if ((v.access_key && *v.access_key) || (v.secret_key && *v.secret_key)) {
            pr_error_set(
                err, "AWS credentials: [%s] in %s has %s but no %s", sections[i], shown,
                v.access_key && *v.access_key ? "aws_access_key_id" : "aws_secret_access_key",
                v.access_key && *v.access_key ? "aws_secret_access_key" : "aws_access_key_id");
            rc = -1;
        } else if (v.unsupported[0]) {
            snprintf(reasons[i], sizeof(reasons[i]),
                     "[%s] in %s uses %s, which pestrun does not "
                     "support",
                     sections[i], shown, v.unsupported);
        } else {
            snprintf(reasons[i], sizeof(reasons[i]), "[%s] in %s has no aws_access_key_id",
                     sections[i], shown);
        }
        profile_vals_clear(&v);
    }
    if (rc == 1) why_add(why, "profile %s: %s, %s", name, reasons[0], reasons[1]);
    free(paths[0]);
    free(paths[1]);
    return rc;
}

/* Plain http is allowed only to the container agents' addresses and loopback, since the
 * request carries an authorization token; any host with https. */
static int full_uri_allowed(const char *url)
{
    static const char *const hosts[] = {"169.254.170.2", "169.254.170.23", "[fd00:ec2::23]",
                                        "localhost",     "[::1]",          NULL};
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = 0;

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        if (strcasecmp(scheme, "https") == 0) ok = 1;
        if (strcasecmp(scheme, "http") == 0) {
            ok = strncmp(host, "127.", 4) == 0;
            for (int i = 0; hosts[i]; i++)
                ok |= strcasecmp(host, hosts[i]) == 0;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* The authorization token: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read on every fetch, as
 * it is rotated) over AWS_CONTAINER_AUTHORIZATION_TOKEN. Returns 0 with *tok (NULL: none)
 * or -1 with why. */
static int ecs_token(char **tok, char *why, size_t whylen)
{
    const char *file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *val = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    struct pr_error err;
    char *text;

    *tok = NULL;
    if (file) {
        if (!(text = pr_read_file(file, NULL, &err))) {
            snprintf(why, whylen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s", err.msg);
            return -1;
        }
        *tok = xstrdup(trim(text));
        explicit_bzero(text, strlen(text));
        free(text);
    } else if (val) {
        *tok = xstrdup(val);
    }
    if (*tok && has_line_break(*tok)) {
        snprintf(why, whylen, "the authorization token holds a line break");
        explicit_bzero(*tok, strlen(*tok));
        free(*tok);
        *tok = NULL;
        return -1;
    }
    return 0;
}

static int from_ecs(struct aws_creds *out, struct strbuf *why, int *temporary)
{
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char shown[300], reason[512], *tok = NULL, *auth = NULL;
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    struct strbuf url = {0};
    struct reply r;
    int rc = 1;

    if (!rel && !full) {
        why_add(why, "ECS: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI not set");
        return 1;
    }
    if (rel)
        sb_printf(&url, "%s%s%s", ECS_ENDPOINT, rel[0] == '/' ? "" : "/", rel);
    else
        sb_puts(&url, full);
    show_url(url.data, shown, sizeof(shown));
    if (has_line_break(url.data) || strchr(url.data, ' ')) {
        why_add(why, "ECS: the endpoint URL holds a space or a line break");
        goto done;
    }
    if (!rel && !full_uri_allowed(full)) {
        why_add(why,
                "ECS: AWS_CONTAINER_CREDENTIALS_FULL_URI %s is neither https nor a loopback "
                "or container-agent address",
                shown);
        goto done;
    }
    if (ecs_token(&tok, reason, sizeof(reason))) {
        why_add(why, "ECS: %s", reason);
        goto done;
    }
    if (tok) {
        struct strbuf sb = {0};
        sb_printf(&sb, "Authorization: %s", tok);
        auth = sb_take(&sb);
        headers[1] = auth;
    }
    if (http_fetch("GET", url.data, headers, 2000, 5000, &r, reason, sizeof(reason))) {
        why_add(why, "ECS: %s: %s", shown, reason);
        goto done;
    }
    if (r.status != 200)
        why_add(why, "ECS: %s answered HTTP %ld", shown, r.status);
    else if (creds_from_json(r.body.data ? r.body.data : "", "ECS container endpoint", out, reason,
                             sizeof(reason)))
        why_add(why, "ECS: %s: %s", shown, reason);
    else
        rc = 0;
    reply_free(&r);
    *temporary = 1;
done:
    if (tok) explicit_bzero(tok, strlen(tok));
    if (auth) explicit_bzero(auth, strlen(auth));
    free(tok);
    free(auth);
    sb_free(&url);
    return rc;
}

/* GET base+path with the IMDSv2 token. Returns 0 with a 200 reply, else -1 with why. */
static int imds_get(const char *base, const char *path, const char *tok_hdr, struct reply *r,
                    char *why, size_t whylen)
{
    const char *headers[2] = {tok_hdr, NULL};
    struct strbuf url = {0};
    char reason[300];
    int rc;

    sb_printf(&url, "%s%s", base, path);
    rc = http_fetch("GET", url.data, headers, 1000, 2000, r, reason, sizeof(reason));
    sb_free(&url);
    if (rc) {
        snprintf(why, whylen, "%s: %s", path, reason);
        return -1;
    }
    if (r->status != 200) {
        if (r->status == 404 && strcmp(path, "/latest/meta-data/iam/security-credentials/") == 0)
            snprintf(why, whylen, "no IAM role attached to this instance");
        else
            snprintf(why, whylen, "%s answered HTTP %ld", path, r->status);
        reply_free(r);
        return -1;
    }
    return 0;
}

static int from_imds(struct aws_creds *out, struct strbuf *why, int *temporary)
{
    const char *disabled = env("AWS_EC2_METADATA_DISABLED");
    const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *put_headers[2] = {"X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL_S, NULL};
    char base[512], shown[300], reason[512], *tok_hdr = NULL, *role;
    struct strbuf sb = {0};
    struct reply r;
    int rc = 1;

    if (disabled && strcasecmp(disabled, "true") == 0) {
        why_add(why, "EC2 instance metadata: disabled by AWS_EC2_METADATA_DISABLED");
        return 1;
    }
    snprintf(base, sizeof(base), "%s", ep ? ep : IMDS_ENDPOINT);
    for (size_t n = strlen(base); n && base[n - 1] == '/'; n--)
        base[n - 1] = '\0';
    show_url(base, shown, sizeof(shown));
    if (has_line_break(base) || strchr(base, ' ')) {
        why_add(why, "EC2 instance metadata: the endpoint URL holds a space or a line break");
        return 1;
    }
    sb_printf(&sb, "%s/latest/api/token", base);
    if (http_fetch("PUT", sb.data, put_headers, 1000, 2000, &r, reason, sizeof(reason))) {
        why_add(why, "EC2 instance metadata (%s): token request: %s", shown, reason);
        goto done;
    }
    if (r.status != 200 || !r.body.len || has_line_break(trim(r.body.data))) {
        why_add(why, "EC2 instance metadata (%s): token request answered HTTP %ld%s", shown,
                r.status, r.status == 200 ? " without a usable token" : "");
        reply_free(&r);
        goto done;
    }
    sb_reset(&sb);
    sb_printf(&sb, "X-aws-ec2-metadata-token: %s", trim(r.body.data));
    tok_hdr = sb_take(&sb);
    reply_free(&r);
    if (imds_get(base, "/latest/meta-data/iam/security-credentials/", tok_hdr, &r, reason,
                 sizeof(reason))) {
        why_add(why, "EC2 instance metadata (%s): %s", shown, reason);
        goto done;
    }
    role = trim(r.body.data ? r.body.data : "");
    role[strcspn(role, "\r\n")] = '\0';
    role = trim(role);
    if (!*role || strchr(role, '/') || strchr(role, '?') || strchr(role, ' ')) {
        why_add(why, "EC2 instance metadata (%s): no usable IAM role name", shown);
        reply_free(&r);
        goto done;
    }
    sb_printf(&sb, "/latest/meta-data/iam/security-credentials/%s", role);
    reply_free(&r);
    if (imds_get(base, sb.data, tok_hdr, &r, reason, sizeof(reason))) {
        why_add(why, "EC2 instance metadata (%s): %s", shown, reason);
        goto done;
    }
    if (creds_from_json(r.body.data ? r.body.data : "", "EC2 instance metadata (IMDSv2)", out,
                        reason, sizeof(reason)))
        why_add(why, "EC2 instance metadata (%s): %s", shown, reason);
    else
        rc = 0;
    reply_free(&r);
    *temporary = 1;
done:
    if (tok_hdr) explicit_bzero(tok_hdr, strlen(tok_hdr));
    free(tok_hdr);
    sb_free(&sb);
    return rc;
}

/* Try the sources in order. Returns 0 with *out, or -1 with err. *temporary: the credentials
 * came from an endpoint (fetch them again even when they carry no expiry). */
static int fetch_chain(struct aws_creds *out, int *temporary, struct pr_error *err)
{
    struct strbuf why = {0};
    int rc;

    *temporary = 0;
    rc = from_env(out, &why, err);
    if (rc == 1) rc = from_profile(out, &why, err);
    if (rc == 1) rc = from_ecs(out, &why, temporary);
    if (rc == 1) rc = from_imds(out, &why, temporary);
    if (rc == 1) pr_error_set(err, "no AWS credentials: %s", why.data);
    sb_free(&why);
    return rc == 0 ? 0 : -1;
}

/* ---- the provider ---- */

struct aws_creds_provider *aws_creds_chain_new(void)
{
    struct aws_creds_provider *p = xcalloc(1, sizeof(*p));

    pthread_once(&curl_once, curl_init_once);
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void aws_creds_provider_free(struct aws_creds_provider *p)
{
    int saved = errno;

    if (!p) return;
    aws_creds_clear(&p->cur);
    pthread_mutex_destroy(&p->lock);
    free(p);
    errno = saved;
}

/* Fetching happens under the lock, so that many threads asking at once cause one fetch. A
 * failed refresh of credentials that have not expired yet is not an error: they are used
 * and the refresh is tried again RETRY_AFTER_FAIL_S later. */
int aws_creds_get(struct aws_creds_provider *p, struct aws_creds *out, struct pr_error *err)
{
    struct aws_creds fresh = {0};
    struct pr_error ferr;
    time_t now = time(NULL);
    int temporary, rc = 0;

    if (!p || !out) return pr_error_set(err, "aws_creds_get: no provider or no output");
    pthread_mutex_lock(&p->lock);
    if (!p->have || (p->refresh_at && now >= p->refresh_at)) {
        if (fetch_chain(&fresh, &temporary, &ferr) == 0) {
            aws_creds_clear(&p->cur);
            p->cur = fresh;
            p->have = 1;
            if (fresh.expires)
                p->refresh_at = fresh.expires - REFRESH_AHEAD_S;
            else
                p->refresh_at = temporary ? now + NO_EXPIRY_REFETCH_S : 0;
        } else if (p->have && (!p->cur.expires || now < p->cur.expires)) {
            p->refresh_at = now + RETRY_AFTER_FAIL_S;
            if (p->cur.expires && p->refresh_at > p->cur.expires) p->refresh_at = p->cur.expires;
        } else {
            aws_creds_clear(&p->cur);
            p->have = 0;
            if (err) *err = ferr;
            rc = -1;
        }
    }
    if (rc == 0 && aws_creds_copy(out, &p->cur) != 0)
        rc = pr_error_set(err, "aws_creds_get: the cached credentials are incomplete");
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void aws_creds_invalidate(struct aws_creds_provider *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    aws_creds_clear(&p->cur);
    p->have = 0;
    p->refresh_at = 0;
    pthread_mutex_unlock(&p->lock);
}

char *aws_region_from_env(void)
{
    const char *name = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
    struct profile_vals v = {0};
    char section[256], why[512], *path, *region = NULL;

    if (env("AWS_REGION")) return xstrdup(env("AWS_REGION"));
    if (env("AWS_DEFAULT_REGION")) return xstrdup(env("AWS_DEFAULT_REGION"));
    path = shared_file("AWS_CONFIG_FILE", "config");
    config_section(name, section, sizeof(section));
    if (path && read_profile_file(path, section, &v, why, sizeof(why)) && v.region && *v.region)
        region = xstrdup(v.region);
    profile_vals_clear(&v);
    free(path);
    return region;
}

void aws_creds_explain(struct aws_creds_provider *p, struct pr_error *err)
{
    static const char *const refusals[] = {"HTTP 403", "SignatureDoesNotMatch",
                                           "InvalidClientTokenId", "InvalidAccessKeyId",
                                           "ExpiredToken", "AccessDenied", "UnrecognizedClient"};
    int refused = 0;
    for (size_t i = 0; i < sizeof(refusals) / sizeof(*refusals); i++)
        refused |= strstr(err->msg, refusals[i]) != NULL;
    if (!refused || !p) return;
    struct aws_creds c;
    struct pr_error e2;
    memset(&c, 0, sizeof(c));
    if (aws_creds_get(p, &c, &e2) < 0) return;
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n, " [credentials from %s, access key id %s]",
             c.source, c.access_key ? c.access_key : "?");
    aws_creds_clear(&c);
}
