#include "spawn.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef PESTRUN_HAVE_PMIX
#include <pmix.h>
#endif

#include "util/strbuf.h"

extern char **environ;

int spawn_worker_rank(void)
{
    const char *r = getenv(SPAWN_ENV_RANK);
    if (!r || !getenv("OMPI_PARENT_PORT")) return 0;
    int v = atoi(r);
    return v > 0 ? v : 0;
}

#ifdef PESTRUN_HAVE_PMIX

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
    return strncmp(e, SPAWN_ENV_RANK "=", sizeof(SPAWN_ENV_RANK)) != 0;
}

/* This rank's launch as NUL-separated fields: node, executable, folder, argc, the arguments,
 * then the environment. The node is the name mpirun knows it by (PMIX_HOSTNAME). */
static void describe_launch(struct strbuf *b)
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
static int app_from_launch(pmix_app_t *app, const char *d, size_t len, int rank, const char *port,
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
    app->env = xcalloc(nenv + 3, sizeof(char *));
    size_t k = 0;
    for (const char *e; (e = field(&p, end));)
        app->env[k++] = xstrdup(e);
    struct strbuf sb = {0};
    sb_printf(&sb, "OMPI_PARENT_PORT=%s", port);
    app->env[k++] = sb_take(&sb);
    sb_printf(&sb, SPAWN_ENV_RANK "=%d", rank);
    app->env[k++] = sb_take(&sb);
    PMIX_INFO_CREATE(app->info, 1);
    app->ninfo = 1;
    PMIX_INFO_LOAD(&app->info[0], PMIX_HOST, node, PMIX_STRING);
    return 0;
}

static void on_connect_timeout(int sig)
{
    static const char msg[] = "pestrun: the spawned worker ranks did not connect to the master "
                              "in time; the job ends\n";
    (void)sig;
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(1);
}

/* Rank 0: one app a worker, one recoverable job; then accept their connection. 0 with *inter
 * set, -1 with why set when nothing was spawned. Workers spawned that do not connect end the
 * job (MPI_Abort). */
static int spawn_from(const char *all, const int *lens, const int *displs, int n, double timeout_s,
                      MPI_Comm *inter, char *why, size_t whylen)
{
    char port[MPI_MAX_PORT_NAME];
    pmix_app_t *apps = NULL;
    pmix_info_t *job = NULL;
    pmix_proc_t me;
    pmix_nspace_t ns;
    int rc = -1, pmix_up = 0;

    if (MPI_Open_port(MPI_INFO_NULL, port) != MPI_SUCCESS) {
        snprintf(why, whylen, "MPI_Open_port failed");
        return -1;
    }
    PMIX_APP_CREATE(apps, (size_t)n);
    for (int i = 0; i < n; i++)
        if (app_from_launch(&apps[i], all + displs[i + 1], (size_t)lens[i + 1], i + 1, port, why,
                            whylen) < 0)
            goto done;
    pmix_status_t st = PMIx_Init(&me, NULL, 0);
    if (st != PMIX_SUCCESS) {
        snprintf(why, whylen, "PMIx_Init: %s", PMIx_Error_string(st));
        goto done;
    }
    pmix_up = 1;
    bool yes = true;
    PMIX_INFO_CREATE(job, 3);
    PMIX_INFO_LOAD(&job[0], PMIX_JOB_RECOVERABLE, &yes, PMIX_BOOL);
    /* the launch ranks still hold their slots until the launch job ends */
    PMIX_INFO_LOAD(&job[1], PMIX_MAPBY, "slot:OVERSUBSCRIBE", PMIX_STRING);
    PMIX_INFO_LOAD(&job[2], PMIX_BINDTO, "none", PMIX_STRING); /* each worker binds itself */
    st = PMIx_Spawn(job, 3, apps, (size_t)n, ns);
    if (st != PMIX_SUCCESS) {
        snprintf(why, whylen, "PMIx_Spawn: %s", PMIx_Error_string(st));
        goto done;
    }
    /* MPI_Comm_accept has no time-out: a worker that never connects must not hang the job */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_connect_timeout;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    alarm((unsigned)ceil(timeout_s));
    int arc = MPI_Comm_accept(port, MPI_INFO_NULL, 0, MPI_COMM_SELF, inter);
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    int remote = 0;
    if (arc == MPI_SUCCESS) MPI_Comm_remote_size(*inter, &remote);
    if (arc != MPI_SUCCESS || remote != n) {
        /* they are running but out of reach: they would hold mpirun open at the end */
        fprintf(stderr, "pestrun: the spawned worker ranks did not connect (%d of %d)\n", remote,
                n);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    rc = 0;
done:
    if (job) PMIX_INFO_FREE(job, 3);
    PMIX_APP_FREE(apps, (size_t)n);
    if (pmix_up) PMIx_Finalize(NULL, 0);
    MPI_Close_port(port);
    return rc;
}

int spawn_workers(MPI_Comm world, double connect_timeout_s, MPI_Comm *workers, char *why,
                  size_t whylen)
{
    int rank, size, attempt = 0, spawned = 0;
    MPI_Comm_rank(world, &rank);
    MPI_Comm_size(world, &size);
    if (rank == 0) {
        const char *s = getenv("PESTRUN_MPI_SPAWN");
        if (s && strcmp(s, "0") == 0)
            snprintf(why, whylen, "PESTRUN_MPI_SPAWN=0");
        else if (!getenv("OMPI_MCA_orte_hnp_uri"))
            snprintf(why, whylen, "not started by Open MPI's mpirun");
        else
            attempt = 1;
    }
    MPI_Bcast(&attempt, 1, MPI_INT, 0, world);
    if (!attempt) return 0;

    struct strbuf mine = {0};
    if (rank != 0) describe_launch(&mine);
    int len = (int)mine.len, *lens = NULL, *displs = NULL;
    char *all = NULL;
    if (rank == 0) lens = xcalloc((size_t)size, sizeof(int));
    MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, world);
    if (rank == 0) {
        displs = xcalloc((size_t)size + 1, sizeof(int));
        for (int i = 0; i < size; i++)
            displs[i + 1] = displs[i] + lens[i];
        all = xmalloc((size_t)displs[size] + 1);
    }
    MPI_Gatherv(mine.data ? mine.data : "", len, MPI_CHAR, all, lens, displs, MPI_CHAR, 0, world);
    sb_free(&mine);
    if (rank == 0) {
        MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
        spawned =
            spawn_from(all, lens, displs, size - 1, connect_timeout_s, workers, why, whylen) == 0;
    }
    free(all);
    free(lens);
    free(displs);
    MPI_Bcast(&spawned, 1, MPI_INT, 0, world);
    return spawned;
}

#else /* no PMIx headers at build time */

int spawn_workers(MPI_Comm world, double connect_timeout_s, MPI_Comm *workers, char *why,
                  size_t whylen)
{
    (void)world;
    (void)connect_timeout_s;
    (void)workers;
    snprintf(why, whylen, "this pestrun was built without PMIx");
    return 0;
}

#endif
