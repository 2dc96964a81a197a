#include "spawn.h"

#include <pmix.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int spawn_worker_rank(void)
{
    const char *r = getenv(SPAWN_ENV_RANK);
    if (!r || !getenv(SPAWN_ENV_MASTER)) return 0;
    int v = atoi(r);
    return v > 0 ? v : 0;
}

int spawn_wanted(char *why, size_t whylen)
{
    const char *s = getenv("PESTRUN_MPI_SPAWN");
    if (s && strcmp(s, "0") == 0) {
        snprintf(why, whylen, "PESTRUN_MPI_SPAWN=0");
        return 0;
    }
    if (!getenv("OMPI_MCA_orte_hnp_uri")) {
        snprintf(why, whylen, "not started by Open MPI's mpirun");
        return 0;
    }
    return 1;
}

static void put_str(struct strbuf *b, const char *s)
{
    sb_append(b, s, strlen(s) + 1); /* with its NUL: the fields are NUL-separated */
}

/* What the spawned worker inherits of this rank's environment: everything but the
 * variables that name this process to the runtime (mpirun sets the worker's own). */
static int env_passed(const char *e)
{
    if (strncmp(e, "PMIX_", 5) == 0) return 0;
    if (strncmp(e, "OMPI_", 5) == 0)
        return strncmp(e, "OMPI_MCA_", 9) == 0 || strncmp(e, "OMPI_ALLOW_RUN_AS_ROOT", 22) == 0;
    if (strncmp(e, "OPENBLAS_NUM_THREADS=", 21) == 0) return 0; /* set for the worker */
    return strncmp(e, SPAWN_ENV_RANK "=", sizeof(SPAWN_ENV_RANK)) != 0 &&
           strncmp(e, SPAWN_ENV_MASTER "=", sizeof(SPAWN_ENV_MASTER)) != 0;
}

/* This rank's launch as NUL-separated fields: node, executable, folder, argc, the arguments,
 * then the environment. The node is the name mpirun knows it by (PMIX_HOSTNAME). */
void spawn_describe(struct strbuf *b)
{
    char path[PATH_MAX], host[256];
    const char *node = getenv("PMIX_HOSTNAME");
    if (!node || !*node) {
        if (gethostname(host, sizeof(host)) < 0) snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = 0;
        node = host;
    }
    put_str(b, node);
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    path[n > 0 ? n : 0] = 0;
    put_str(b, path);
    put_str(b, getcwd(path, sizeof(path)) ? path : "");
    struct strbuf cmd = {0};
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char chunk[4096];
        ssize_t got;
        while ((got = read(fd, chunk, sizeof(chunk))) > 0)
            sb_append(&cmd, chunk, (size_t)got);
        close(fd);
    }
    int argc = 0;
    for (size_t i = 0; i < cmd.len; i++)
        argc += cmd.data[i] == 0;
    char num[16];
    snprintf(num, sizeof(num), "%d", argc);
    put_str(b, num);
    sb_append(b, cmd.data ? cmd.data : "", cmd.len);
    sb_free(&cmd);
    for (char **e = environ; *e; e++)
        if (env_passed(*e)) put_str(b, *e);
}

/* Next NUL-terminated field of [*p, end), or NULL at the end. */
static const char *field(const char **p, const char *end)
{
    if (*p >= end) return NULL;
    const char *s = *p;
    const char *z = memchr(s, 0, (size_t)(end - s));
    if (!z) return NULL;
    *p = z + 1;
    return s;
}

/* Fill app from one rank's launch description; the strings are malloc'd, as PMIx frees them.
 * -1 with why set when the description is incomplete. */
static int app_from_launch(pmix_app_t *app, const char *d, size_t len, int rank, const char *master,
                           char *why, size_t whylen)
{
    const char *p = d, *end = d + len;
    const char *node = field(&p, end), *exe = field(&p, end), *cwd = field(&p, end);
    const char *nargs = field(&p, end);
    if (!nargs || !*exe || !*cwd || !*node) {
        snprintf(why, whylen, "rank %d could not describe its command line", rank);
        return -1;
    }
    int argc = atoi(nargs);
    app->cmd = xstrdup(exe);
    app->cwd = xstrdup(cwd);
    app->maxprocs = 1;
    app->argv = xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++) {
        const char *a = field(&p, end);
        app->argv[i] = xstrdup(a ? a : "");
    }
    size_t nenv = 0;
    for (const char *q = p; field(&q, end);)
        nenv++;
    app->env = xcalloc(nenv + 4, sizeof(char *));
    size_t k = 0;
    for (const char *e; (e = field(&p, end));)
        app->env[k++] = xstrdup(e);
    struct strbuf sb = {0};
    sb_printf(&sb, SPAWN_ENV_MASTER "=%s", master);
    app->env[k++] = sb_take(&sb);
    sb_printf(&sb, SPAWN_ENV_RANK "=%d", rank);
    app->env[k++] = sb_take(&sb);
    /* A worker does no linear algebra, and OpenBLAS's threads spin for about 0.1 s of CPU each
     * after the library loads, taken from the models beside it (the models get the same). */
    app->env[k++] = xstrdup("OPENBLAS_NUM_THREADS=1");
    PMIX_INFO_CREATE(app->info, 1);
    app->ninfo = 1;
    PMIX_INFO_LOAD(&app->info[0], PMIX_HOST, node, PMIX_STRING);
    return 0;
}

int spawn_workers(char *const *desc, const size_t *len, int n, char *const *master, char *why,
                  size_t whylen)
{
    pmix_app_t *apps = NULL;
    pmix_info_t *job = NULL;
    pmix_nspace_t ns;
    int rc = -1;

    PMIX_APP_CREATE(apps, (size_t)n);
    for (int i = 0; i < n; i++)
        if (app_from_launch(&apps[i], desc[i], len[i], i + 1, master[i], why, whylen) < 0)
            goto done;
    bool yes = true;
    PMIX_INFO_CREATE(job, 3);
    PMIX_INFO_LOAD(&job[0], PMIX_JOB_RECOVERABLE, &yes, PMIX_BOOL);
    /* the launch ranks still hold their slots until they have left */
    PMIX_INFO_LOAD(&job[1], PMIX_MAPBY, "slot:OVERSUBSCRIBE", PMIX_STRING);
    PMIX_INFO_LOAD(&job[2], PMIX_BINDTO, "none", PMIX_STRING); /* each worker binds itself */
    pmix_status_t st = PMIx_Spawn(job, 3, apps, (size_t)n, ns);
    if (st != PMIX_SUCCESS) {
        snprintf(why, whylen, "PMIx_Spawn: %s", PMIx_Error_string(st));
        goto done;
    }
    rc = 0;
done:
    if (job) PMIX_INFO_FREE(job, 3);
    PMIX_APP_FREE(apps, (size_t)n);
    return rc;
}
