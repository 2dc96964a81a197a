/* The credentials chain against a small HTTP server on 127.0.0.1 playing the ECS container
 * endpoint and EC2 instance metadata (IMDSv2): the order of the sources, profiles in the
 * shared files, the ECS token file, refresh before expiry, many threads, the error that
 * lists every source and holds no secret, ISO 8601 times, bad arguments. HOME points to a
 * temporary folder, so the real ~/.aws is never read. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "aws/creds.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

static char tmpdir[] = "/tmp/test_aws_creds.XXXXXX";

/* ---- the server ---- */

static struct {
    int fd, port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock;
    /* behaviour */
    int imds_ttl;     /* seconds until the credentials it hands out expire */
    int imds_no_role; /* 404 on the role list */
    int imds_broken;  /* 500 on everything */
    char ecs_auth[64];
    /* what it saw */
    int n_token, n_creds, n_ecs, n_refused, gen;
    char token[32];
} srv;

static const char *header(const char *req, const char *name)
{
    static __thread char val[256];
    size_t n = strlen(name);
    for (const char *p = strstr(req, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n, *end = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(val, sizeof(val), "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
            return val;
        }
    }
    return NULL;
}

static void reply(int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     strlen(body));
    send(fd, head, (size_t)n, MSG_NOSIGNAL);
    send(fd, body, strlen(body), MSG_NOSIGNAL);
}

static void creds_json(char *buf, size_t n, const char *kind, int gen, int ttl)
{
    time_t exp = time(NULL) + ttl;
    struct tm tm;
    char iso[32];
    gmtime_r(&exp, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(buf, n,
             "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIA%s%d\","
             "\"SecretAccessKey\":\"s3cr3t-%s-%d\",\"Token\":\"t0ken-%s-%d\","
             "\"Expiration\":\"%s\"}",
             kind, gen, kind, gen, kind, gen, iso);
}

static void serve(int fd)
{
    char req[8192], method[16], path[512], body[1024];
    size_t len = 0;
    const char *tok;

    while (len < sizeof(req) - 1) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;
        if (poll(&pfd, 1, 2000) <= 0) return;
        n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
        if (n <= 0) return;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
    if (sscanf(req, "%15s %511s", method, path) != 2) return;
    pthread_mutex_lock(&srv.lock);
    tok = header(req, "X-aws-ec2-metadata-token");
    if (srv.imds_broken) {
        reply(fd, 500, "broken");
    } else if (strcmp(path, "/latest/api/token") == 0) {
        const char *ttl = header(req, "X-aws-ec2-metadata-token-ttl-seconds");
        if (strcmp(method, "PUT") != 0 || !ttl || atoi(ttl) < 1) {
            reply(fd, 400, "");
        } else {
            srv.n_token++;
            snprintf(srv.token, sizeof(srv.token), "IMDSTOKEN%d", srv.n_token);
            reply(fd, 200, srv.token);
        }
    } else if (strncmp(path, "/latest/", 8) == 0 && (!tok || strcmp(tok, srv.token) != 0)) {
        srv.n_refused++;
        reply(fd, 401, "");
    } else if (strcmp(path, "/latest/meta-data/iam/security-credentials/") == 0) {
        reply(fd, srv.imds_no_role ? 404 : 200, srv.imds_no_role ? "" : "test-role\n");
    } else if (strcmp(path, "/latest/meta-data/iam/security-credentials/test-role") == 0) {
        srv.n_creds++;
        creds_json(body, sizeof(body), "IMDS", ++srv.gen, srv.imds_ttl);
        reply(fd, 200, body);
    } else if (strcmp(path, "/ecs/creds") == 0) {
        const char *auth = header(req, "Authorization");
        if (!auth || strcmp(auth, srv.ecs_auth) != 0) {
            srv.n_refused++;
            reply(fd, 401, "");
        } else {
            srv.n_ecs++;
            creds_json(body, sizeof(body), "ECS", srv.n_ecs, 3600);
            reply(fd, 200, body);
        }
    } else {
        reply(fd, 404, "");
    }
    pthread_mutex_unlock(&srv.lock);
}

static void *server_main(void *arg)
{
    while (!atomic_load(&srv.stop)) {
        struct pollfd pfd = {srv.fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0) continue;
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0) continue;
        serve(c);
        close(c);
    }
    return NULL;
}

static int server_start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);

    pthread_mutex_init(&srv.lock, NULL);
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) || listen(srv.fd, 64) ||
        getsockname(srv.fd, (struct sockaddr *)&a, &alen))
        return -1;
    srv.port = ntohs(a.sin_port);
    srv.imds_ttl = 3600;
    return pthread_create(&srv.thread, NULL, server_main, NULL) ? -1 : 0;
}

static void server_stop(void)
{
    atomic_store(&srv.stop, 1);
    pthread_join(srv.thread, NULL);
    close(srv.fd);
    pthread_mutex_destroy(&srv.lock);
}

static void server_set(int ttl, int no_role, int broken)
{
    pthread_mutex_lock(&srv.lock);
    srv.imds_ttl = ttl;
    srv.imds_no_role = no_role;
    srv.imds_broken = broken;
    pthread_mutex_unlock(&srv.lock);
}

static int server_count(const int *counter)
{
    int v;
    pthread_mutex_lock(&srv.lock);
    v = *counter;
    pthread_mutex_unlock(&srv.lock);
    return v;
}

/* ---- environment and files ---- */

static const char *const aws_vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_PROFILE",
                                       "AWS_DEFAULT_PROFILE",
                                       "AWS_SHARED_CREDENTIALS_FILE",
                                       "AWS_CONFIG_FILE",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                       "AWS_EC2_METADATA_DISABLED",
                                       "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                       "AWS_REGION",
                                       "AWS_DEFAULT_REGION",
                                       NULL};

/* Nothing configured but the IMDS endpoint, which points to the test server. */
static void env_reset(void)
{
    char url[64];
    for (int i = 0; aws_vars[i]; i++)
        unsetenv(aws_vars[i]);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    server_set(3600, 0, 0);
}

static void path_in_tmp(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void write_tmp(const char *name, const char *text)
{
    char path[512];
    struct pr_error err;
    path_in_tmp(path, sizeof(path), name);
    CHECK_MSG(pr_write_file(path, text, strlen(text), &err) == 0, "%s", err.msg);
}

static void set_tmp_env(const char *var, const char *name)
{
    char path[512];
    path_in_tmp(path, sizeof(path), name);
    setenv(var, path, 1);
}

static void set_ecs(const char *token_file_text)
{
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ecs/creds", srv.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    write_tmp("ecs-token", token_file_text);
    set_tmp_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "ecs-token");
}

/* Get credentials from a fresh provider; *source receives where they came from. */
static int get_once(struct aws_creds *c, struct pr_error *err)
{
    struct aws_creds_provider *p = aws_creds_chain_new();
    int rc = aws_creds_get(p, c, err);
    aws_creds_provider_free(p);
    return rc;
}

/* Every secret the tests plant holds one of these. */
static const char *const secrets[] = {"s3cr3t", "ecs-auth-", "IMDSTOKEN", "t0ken", NULL};

static int holds_secret(const char *msg)
{
    for (int i = 0; secrets[i]; i++)
        if (strstr(msg, secrets[i])) return 1;
    return 0;
}

/* ---- tests ---- */

static void test_order(void)
{
    struct aws_creds c = {0};
    struct pr_error err = {{0}};

    env_reset();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-env", 1);
    setenv("AWS_SESSION_TOKEN", "env-t0ken-1", 1);
    write_tmp("order-credentials", "[default]\naws_access_key_id = AKIDPROFILE\n"
                                   "aws_secret_access_key = s3cr3t-profile\n");
    set_tmp_env("AWS_SHARED_CREDENTIALS_FILE", "order-credentials");
    strcpy(srv.ecs_auth, "ecs-auth-1");
    set_ecs("ecs-auth-1\n");

    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    CHECK(c.access_key && strcmp(c.access_key, "AKIDENV") == 0);
    CHECK(c.session_token && strcmp(c.session_token, "env-t0ken-1") == 0);
    CHECK_STR(c.source, "environment");
    CHECK(c.expires == 0);
    aws_creds_clear(&c);

    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    CHECK(c.access_key && strcmp(c.access_key, "AKIDPROFILE") == 0 && !c.session_token);
    CHECK_MSG(strncmp(c.source, "profile default (", 17) == 0 && strstr(c.source, "order-cred"),
              "%s", c.source);
    aws_creds_clear(&c);

    set_tmp_env("AWS_SHARED_CREDENTIALS_FILE", "no-such-file");
    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    CHECK(c.access_key && strcmp(c.access_key, "ASIAECS1") == 0);
    CHECK(c.secret_key && strcmp(c.secret_key, "s3cr3t-ECS-1") == 0);
    CHECK(c.session_token && strcmp(c.session_token, "t0ken-ECS-1") == 0);
    CHECK_STR(c.source, "ECS container endpoint");
    CHECK(c.expires > time(NULL) + 3500 && c.expires <= time(NULL) + 3600);
    aws_creds_clear(&c);

    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    int before = server_count(&srv.n_creds);
    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    CHECK(c.access_key && strncmp(c.access_key, "ASIAIMDS", 8) == 0);
    CHECK(c.session_token && strncmp(c.session_token, "t0ken-IMDS-", 11) == 0);
    CHECK_STR(c.source, "EC2 instance metadata (IMDSv2)");
    CHECK(server_count(&srv.n_creds) == before + 1);
    aws_creds_clear(&c);
}

static void test_profiles(void)
{
    struct aws_creds c = {0};
    struct pr_error err = {{0}};
    char *region;

    env_reset();
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    write_tmp("credentials", "# comment\n"
                             "[default]\n"
                             "aws_access_key_id=AKIDDEFAULT\n"
                             "aws_secret_access_key=s3cr3t-default\n"
                             "\n"
                             "[ dev ]\n"
                             "  ; indented comment\n"
                             "aws_access_key_id = AKIDDEV   # inline comment\n"
                             "AWS_SECRET_ACCESS_KEY = s3cr3t/dev+x=\n"
                             "aws_session_token = t0ken-DEV\n"
                             "s3 =\n"
                             "    aws_access_key_id = NOT-THIS-ONE\n"
                             "[half]\n"
                             "aws_access_key_id = AKIDHALF\n"
                             "[secretonly]\n"
                             "aws_secret_access_key = s3cr3t-only\n"
                             "[regiononly]\n"
                             "region = ap-south-1\n");
    write_tmp("config", "[default]\n"
                        "region = eu-north-1\n"
                        "[profile cfgonly]\n"
                        "aws_access_key_id = AKIDCFG\n"
                        "aws_secret_access_key = s3cr3t-cfg\n"
                        "region = us-west-2\n"
                        "[cfgonly]\n"
                        "region = wrong-one\n"
                        "[profile assume]\n"
                        "role_arn = arn:aws:iam::123456789012:role/x\n"
                        "source_profile = default\n");
    /* "~/" is the home folder (HOME is tmpdir) */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "~/credentials", 1);
    set_tmp_env("AWS_CONFIG_FILE", "config");

    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    CHECK(c.access_key && strcmp(c.access_key, "AKIDDEFAULT") == 0);
    CHECK_MSG(strcmp(c.source, "profile default (~/credentials)") == 0, "%s", c.source);
    aws_creds_clear(&c);

    setenv("AWS_PROFILE", "dev", 1);
    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    CHECK(c.access_key && strcmp(c.access_key, "AKIDDEV") == 0);
    CHECK(c.secret_key && strcmp(c.secret_key, "s3cr3t/dev+x=") == 0);
    CHECK(c.session_token && strcmp(c.session_token, "t0ken-DEV") == 0);
    aws_creds_clear(&c);

    setenv("AWS_PROFILE", "cfgonly", 1);
    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    CHECK(c.access_key && strcmp(c.access_key, "AKIDCFG") == 0);
    CHECK_MSG(strstr(c.source, "profile cfgonly (") && strstr(c.source, "config"), "%s", c.source);
    aws_creds_clear(&c);
    region = aws_region_from_env();
    CHECK(region && strcmp(region, "us-west-2") == 0);
    free(region);

    /* a profile in neither file, or without keys: the chain goes on, and says why */
    setenv("AWS_PROFILE", "missing", 1);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "profile missing: no [missing] in ~/credentials, no [profile "
                              "missing] in ") != NULL,
              "%s", err.msg);
    CHECK(c.access_key == NULL);
    setenv("AWS_PROFILE", "regiononly", 1);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "[regiononly] in ~/credentials has no aws_access_key_id"), "%s",
              err.msg);
    setenv("AWS_PROFILE", "assume", 1);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "uses role_arn, which pestrun does not support"), "%s", err.msg);

    /* half a key pair stops the chain */
    setenv("AWS_PROFILE", "half", 1);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "[half] in ~/credentials has aws_access_key_id but no "
                              "aws_secret_access_key"),
              "%s", err.msg);
    setenv("AWS_PROFILE", "secretonly", 1);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "aws_secret_access_key but no aws_access_key_id") &&
                  !holds_secret(err.msg),
              "%s", err.msg);

    /* the region */
    unsetenv("AWS_PROFILE");
    region = aws_region_from_env();
    CHECK(region && strcmp(region, "eu-north-1") == 0);
    free(region);
    setenv("AWS_DEFAULT_REGION", "ca-central-1", 1);
    region = aws_region_from_env();
    CHECK(region && strcmp(region, "ca-central-1") == 0);
    free(region);
    setenv("AWS_REGION", "sa-east-1", 1);
    region = aws_region_from_env();
    CHECK(region && strcmp(region, "sa-east-1") == 0);
    free(region);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_PROFILE", "dev", 1);
    CHECK(aws_region_from_env() == NULL);
    set_tmp_env("AWS_CONFIG_FILE", "no-such-config");
    unsetenv("AWS_PROFILE");
    CHECK(aws_region_from_env() == NULL);
}

static void test_env_partial(void)
{
    struct aws_creds c = {0};
    struct pr_error err = {{0}};

    env_reset();
    setenv("AWS_ACCESS_KEY_ID", "AKIDONLY", 1);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "has AWS_ACCESS_KEY_ID but not AWS_SECRET_ACCESS_KEY"), "%s",
              err.msg);
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-only", 1);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "AWS_SECRET_ACCESS_KEY but not AWS_ACCESS_KEY_ID") &&
                  !holds_secret(err.msg),
              "%s", err.msg);
    /* empty counts as unset */
    setenv("AWS_SECRET_ACCESS_KEY", "", 1);
    setenv("AWS_ACCESS_KEY_ID", "", 1);
    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    CHECK_STR(c.source, "EC2 instance metadata (IMDSv2)");
    aws_creds_clear(&c);
}

static void test_ecs(void)
{
    struct aws_creds c = {0};
    struct pr_error err = {{0}};
    char url[96];

    env_reset();
    setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
    strcpy(srv.ecs_auth, "ecs-auth-2");
    /* the token file wins over the variable, and is read at every fetch */
    set_ecs("  ecs-auth-2\n");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-wrong", 1);
    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    CHECK_STR(c.source, "ECS container endpoint");
    aws_creds_clear(&c);

    write_tmp("ecs-token", "ecs-auth-rotated-away");
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "ECS: http://127.0.0.1:") && strstr(err.msg, "/ecs/creds answered "
                                                                           "HTTP 401"),
              "%s", err.msg);
    CHECK_MSG(!holds_secret(err.msg), "%s", err.msg);

    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-2", 1);
    CHECK_MSG(get_once(&c, &err) == 0, "%s", err.msg);
    aws_creds_clear(&c);

    set_tmp_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "no-such-token");
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: ") &&
                  strstr(err.msg, "no-such-token"),
              "%s", err.msg);
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

    /* the token never goes over plain http to another host; user info and query not shown */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://user:pw@example.com:8080/c?k=s3cr3t", 1);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "http://example.com:8080/c is neither https nor") &&
                  !strstr(err.msg, "pw") && !holds_secret(err.msg),
              "%s", err.msg);
    /* a line break in the token would add a header */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ecs/creds", srv.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-2\r\nX-Evil: 1", 1);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "line break") && !holds_secret(err.msg), "%s", err.msg);
}

static void test_imds(void)
{
    struct aws_creds_provider *p;
    struct aws_creds c1 = {0}, c2 = {0}, c3 = {0};
    struct pr_error err = {{0}};
    char *key1 = NULL;
    int creds0, tokens0;

    /* the server refuses metadata requests without the token */
    {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)srv.port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        char buf[256] = "";
        const char *rq = "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n"
                         "Host: x\r\n\r\n";
        CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
        CHECK(send(fd, rq, strlen(rq), MSG_NOSIGNAL) == (ssize_t)strlen(rq));
        CHECK(recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL) > 0 &&
              strncmp(buf, "HTTP/1.1 401", 12) == 0);
        close(fd);
    }

    /* credentials expiring in 4 minutes are fetched again at the next get */
    env_reset();
    server_set(240, 0, 0);
    p = aws_creds_chain_new();
    creds0 = server_count(&srv.n_creds);
    tokens0 = server_count(&srv.n_token);
    CHECK_MSG(aws_creds_get(p, &c1, &err) == 0, "%s", err.msg);
    CHECK(c1.expires > time(NULL) + 200 && c1.expires <= time(NULL) + 240);
    CHECK(aws_creds_get(p, &c2, &err) == 0);
    CHECK_MSG(c1.access_key && c2.access_key && strcmp(c1.access_key, c2.access_key) != 0, "%s %s",
              c1.access_key, c2.access_key);
    CHECK(server_count(&srv.n_creds) == creds0 + 2);
    CHECK(server_count(&srv.n_token) == tokens0 + 2);
    key1 = c2.access_key ? xstrdup(c2.access_key) : NULL;
    aws_creds_clear(&c1);
    aws_creds_clear(&c2);

    /* a failed refresh while they are still valid keeps them */
    server_set(3600, 0, 1);
    CHECK_MSG(aws_creds_get(p, &c1, &err) == 0, "%s", err.msg);
    CHECK(c1.access_key && key1 && strcmp(c1.access_key, key1) == 0);
    aws_creds_clear(&c1);

    /* credentials valid for an hour are kept; invalidate fetches again */
    server_set(3600, 0, 0);
    aws_creds_invalidate(p);
    CHECK(aws_creds_get(p, &c1, &err) == 0);
    creds0 = server_count(&srv.n_creds);
    CHECK(aws_creds_get(p, &c2, &err) == 0);
    CHECK(aws_creds_get(p, &c3, &err) == 0);
    CHECK(server_count(&srv.n_creds) == creds0);
    CHECK(c1.access_key && c3.access_key && strcmp(c1.access_key, c3.access_key) == 0);
    CHECK(c1.access_key && key1 && strcmp(c1.access_key, key1) != 0);
    aws_creds_clear(&c1);
    aws_creds_clear(&c2);
    aws_creds_clear(&c3);
    aws_creds_provider_free(p);
    free(key1);

    /* no role, broken service, disabled */
    server_set(3600, 1, 0);
    CHECK(get_once(&c1, &err) == -1);
    CHECK_MSG(strstr(err.msg, "no IAM role attached to this instance"), "%s", err.msg);
    server_set(3600, 0, 1);
    CHECK(get_once(&c1, &err) == -1);
    CHECK_MSG(strstr(err.msg, "token request answered HTTP 500"), "%s", err.msg);
    server_set(3600, 0, 0);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    CHECK(get_once(&c1, &err) == -1);
    CHECK_MSG(strstr(err.msg, "EC2 instance metadata: disabled by AWS_EC2_METADATA_DISABLED"), "%s",
              err.msg);
    CHECK(c1.access_key == NULL);
}

static void test_nothing(void)
{
    struct aws_creds c = {0};
    struct pr_error err = {{0}};
    int fd;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    char url[64];
    const char *want = "no AWS credentials: environment: AWS_ACCESS_KEY_ID not set; profile "
                       "default: ~/.aws/credentials not found, ~/.aws/config not found; ECS: "
                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                       "AWS_CONTAINER_CREDENTIALS_FULL_URI not set; EC2 instance metadata "
                       "(http://127.0.0.1:";

    env_reset();
    /* a port nobody listens on: bound but not listening refuses connections at once */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    CHECK(get_once(&c, &err) == -1);
    printf("  nothing found: %s\n", err.msg);
    CHECK_MSG(strncmp(err.msg, want, strlen(want)) == 0 && strstr(err.msg, "/): token request: "),
              "%s", err.msg);
    CHECK(c.access_key == NULL && c.secret_key == NULL);
    close(fd);

    /* every source configured and failing: still no secret in the message */
    env_reset();
    setenv("AWS_SESSION_TOKEN", "env-t0ken-x", 1);
    write_tmp("nothing-credentials", "[default]\naws_session_token = t0ken-x\n");
    set_tmp_env("AWS_SHARED_CREDENTIALS_FILE", "nothing-credentials");
    strcpy(srv.ecs_auth, "ecs-auth-3");
    set_ecs("ecs-auth-s3cr3t-x");
    server_set(3600, 1, 0);
    CHECK(get_once(&c, &err) == -1);
    CHECK_MSG(strstr(err.msg, "environment: ") && strstr(err.msg, "profile default: ") &&
                  strstr(err.msg, "ECS: ") && strstr(err.msg, "EC2 instance metadata ("),
              "%s", err.msg);
    CHECK_MSG(!holds_secret(err.msg), "%s", err.msg);
}

struct worker {
    struct aws_creds_provider *p;
    int ok;
    char key[64];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 50; i++) {
        struct aws_creds c = {0};
        struct pr_error err;
        if (aws_creds_get(w->p, &c, &err) == 0 && c.access_key) {
            w->ok++;
            snprintf(w->key, sizeof(w->key), "%s", c.access_key);
        }
        if (i == 25) aws_creds_invalidate(w->p);
        aws_creds_clear(&c);
    }
    return NULL;
}

static void test_threads(void)
{
    struct worker w[8];
    pthread_t t[8];
    struct aws_creds_provider *p;
    int creds0;

    env_reset();
    p = aws_creds_chain_new();
    creds0 = server_count(&srv.n_creds);
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){.p = p};
        CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].ok == 50);
    }
    /* one fetch for 400 gets, and perhaps one per invalidation */
    CHECK_MSG(server_count(&srv.n_creds) - creds0 >= 1 && server_count(&srv.n_creds) - creds0 <= 9,
              "%d fetches", server_count(&srv.n_creds) - creds0);
    aws_creds_provider_free(p);
}

static void test_iso8601(void)
{
    time_t t;

    CHECK(aws_parse_iso8601("2015-08-30T12:36:00Z", &t) == 0 && t == 1440938160);
    CHECK(aws_parse_iso8601("2015-08-30T12:36:00.123456Z", &t) == 0 && t == 1440938160);
    CHECK(aws_parse_iso8601("2015-08-30t12:36:00z", &t) == 0 && t == 1440938160);
    CHECK(aws_parse_iso8601("2015-08-30T14:36:00+02:00", &t) == 0 && t == 1440938160);
    CHECK(aws_parse_iso8601("2015-08-30T11:06:00-0130", &t) == 0 && t == 1440938160);
    CHECK(aws_parse_iso8601("2016-02-29T00:00:00Z", &t) == 0 && t == 1456704000);
    CHECK(aws_parse_iso8601("1970-01-01T00:00:00Z", &t) == 0 && t == 0);
    t = 42;
    CHECK(aws_parse_iso8601("2015-08-30T12:36:00", &t) == -1 && t == 42);
    CHECK(aws_parse_iso8601("2015-08-30 12:36:00Z", &t) == -1);
    CHECK(aws_parse_iso8601("2015-13-30T12:36:00Z", &t) == -1);
    CHECK(aws_parse_iso8601("2015-08-30T24:00:00Z", &t) == -1);
    CHECK(aws_parse_iso8601("2015-08-30T12:36:00ZZ", &t) == -1);
    CHECK(aws_parse_iso8601("2015-08-30T12:36:00.Z", &t) == -1);
    CHECK(aws_parse_iso8601("2015-08-30T12:36:00+2", &t) == -1);
    CHECK(aws_parse_iso8601("", &t) == -1);
    CHECK(aws_parse_iso8601(NULL, &t) == -1);
    CHECK(aws_parse_iso8601("2015-08-30T12:36:00Z", NULL) == -1);
}

static void test_inval(void)
{
    struct aws_creds c = {0}, d = {0};
    struct aws_creds src = {.access_key = "AK", .secret_key = "SK", .session_token = ""};
    struct aws_creds_provider *p = aws_creds_chain_new();
    struct pr_error err = {{0}};

    CHECK(aws_creds_get(NULL, &c, &err) == -1 && err.msg[0]);
    CHECK(aws_creds_get(p, NULL, &err) == -1);
    CHECK(aws_creds_get(NULL, NULL, NULL) == -1);
    aws_creds_invalidate(NULL);
    aws_creds_provider_free(NULL);
    aws_creds_provider_free(p);
    aws_creds_clear(NULL);
    aws_creds_clear(&c);
    CHECK(aws_creds_copy(NULL, &src) == -1);
    CHECK(aws_creds_copy(&d, NULL) == -1);
    CHECK(aws_creds_copy(&d, &c) == -1 && d.access_key == NULL);
    strcpy(src.source, "here");
    src.expires = 7;
    CHECK(aws_creds_copy(&d, &src) == 0);
    CHECK(d.access_key && strcmp(d.access_key, "AK") == 0 && d.secret_key &&
          strcmp(d.secret_key, "SK") == 0 && d.session_token == NULL && d.expires == 7);
    CHECK_STR(d.source, "here");
    aws_creds_clear(&d);
    CHECK(d.access_key == NULL && d.expires == 0 && d.source[0] == '\0');
}

int main(void)
{
    struct pr_error err = {{0}};

    if (!mkdtemp(tmpdir)) {
        printf("FAIL: cannot create %s\n", tmpdir);
        return 1;
    }
    setenv("HOME", tmpdir, 1);
    if (server_start()) {
        printf("skipped: cannot listen on 127.0.0.1\n");
        pr_remove_tree(tmpdir, &err);
        return 77;
    }
    test_iso8601();
    test_inval();
    test_order();
    test_profiles();
    test_env_partial();
    test_ecs();
    test_imds();
    test_nothing();
    test_threads();
    server_stop();
    CHECK_MSG(pr_remove_tree(tmpdir, &err) == 0, "%s", err.msg);
    return check_done();
}
