#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../pest/ins.h"
#include "../pest/tpl.h"
#include "../util/strbuf.h"
#include "../util/text.h"
#include "util/clock.h"

extern char **environ;

struct input_file {
    struct tpl *tpl; /* owned by the first input that names this template */
    int owner;
    const char *tpl_name, *model_name;
};

struct output_file {
    struct ins *ins;
    const char *ins_name, *model_name;
};

struct model_runner {
    const struct pst_case *c;
    char *workdir;
    struct runner_opts opts;
    struct tpl_opts tpl_opts;
    struct input_file *inputs;
    size_t ninputs;
    struct output_file *outputs;
    size_t noutputs;
    char **envp;

    /* the current run */
    size_t npar, nobs;
    double *processed;
    unsigned char *written;
    double *obs;
    unsigned char *seen;
    struct strbuf scratch;
    size_t next_cmd;
    pid_t pid;
    int pidfd;
    int running;
    double start, deadline, seconds;
    char kill_reason[256];
    int dry_pending; /* a dry run started and not yet stepped */
};


static char *work_path(const struct model_runner *r, const char *name)
{
    return pr_path_join(r->workdir, name);
}

/* The model's environment: ours, with one thread per model for the usual threading runtimes
 * (each worker owns one core). */
static char **make_env(void)
{
    static const char *const single[] = {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1",
                                         "MKL_NUM_THREADS=1", NULL};
    size_t n = 0, k = 0;
    char **env;

    while (environ && environ[n])
        n++;
    env = xcalloc(n + 4, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        int overridden = 0;
        for (size_t s = 0; single[s]; s++)
            if (strncmp(environ[i], single[s], strchr(single[s], '=') - single[s] + 1) == 0)
                overridden = 1;
        if (!overridden) env[k++] = xstrdup(environ[i]);
    }
    for (size_t s = 0; single[s]; s++)
        env[k++] = xstrdup(single[s]);
    env[k] = NULL;
    return env;
}

static int load_inputs(struct model_runner *r, struct pr_error *err)
{
    const struct pst_case *c = r->c;
    r->ninputs = pst_ninputs(c);
    r->inputs = xcalloc(r->ninputs, sizeof(*r->inputs));
    for (size_t i = 0; i < r->ninputs; i++) {
        const struct pst_io *io = pst_input(c, i);
        struct input_file *in = &r->inputs[i];
        in->tpl_name = io->pest_file;
        in->model_name = io->model_file;
        for (size_t k = 0; k < i; k++)
            if (strcmp(r->inputs[k].tpl_name, io->pest_file) == 0) in->tpl = r->inputs[k].tpl;
        if (in->tpl) continue;
        char *path = work_path(r, io->pest_file);
        size_t len;
        char *buf = pr_read_file(path, &len, err);
        free(path);
        if (!buf) return pr_error_prefix(err, "%s:%d: template", io->loc.file, io->loc.line);
        in->tpl = tpl_parse(buf, len, io->pest_file, err);
        free(buf);
        if (!in->tpl) return -1;
        in->owner = 1;
        if (tpl_bind(in->tpl, pst_param_names(c), err) < 0) return -1;
    }
    return 0;
}

static int load_outputs(struct model_runner *r, struct pr_error *err)
{
    const struct pst_case *c = r->c;
    const char *delims = pst_opt_str(c, "additional_ins_delimiters", "");
    unsigned char *covered = xcalloc(pst_nobs(c) + 1, 1);
    int rc = -1;

    r->noutputs = pst_noutputs(c);
    r->outputs = xcalloc(r->noutputs, sizeof(*r->outputs));
    for (size_t i = 0; i < r->noutputs; i++) {
        const struct pst_io *io = pst_output(c, i);
        struct output_file *out = &r->outputs[i];
        char *path = work_path(r, io->pest_file);
        size_t len;
        char *buf = pr_read_file(path, &len, err);
        free(path);
        out->ins_name = io->pest_file;
        out->model_name = io->model_file;
        if (!buf) {
            pr_error_prefix(err, "%s:%d: instruction file", io->loc.file, io->loc.line);
            goto done;
        }
        out->ins = ins_parse(buf, len, io->pest_file, delims, err);
        free(buf);
        if (!out->ins || ins_bind(out->ins, pst_obs_names(c), err) < 0) goto done;
        for (size_t k = 0; k < ins_nobs(out->ins); k++) {
            int idx = names_find(pst_obs_names(c), ins_obs_name(out->ins, k));
            if (covered[idx]) {
                pr_error_set(err, "%s:%d: observation '%s' is read by more than one instruction",
                             io->pest_file, ins_obs_line(out->ins, k), ins_obs_name(out->ins, k));
                goto done;
            }
            covered[idx] = 1;
        }
    }
    for (size_t i = 0; i < pst_nobs(c); i++)
        if (!covered[i]) {
            const struct pst_obs *o = pst_obs(c, i);
            pr_error_set(err, "%s:%d: observation '%s' is not read by any instruction file",
                         o->loc.file, o->loc.line, o->name);
            goto done;
        }
    rc = 0;
done:
    free(covered);
    return rc;
}

struct model_runner *runner_create(const struct pst_case *c, const char *workdir,
                                   const struct runner_opts *opts, struct pr_error *err)
{
    struct model_runner *r = xcalloc(1, sizeof(*r));
    int force = 0, zeros = 0;

    r->c = c;
    r->workdir = xstrdup(workdir);
    if (opts) r->opts = *opts;
    r->pid = -1;
    r->pidfd = -1;
    r->npar = pst_nparams(c);
    r->nobs = pst_nobs(c);
    r->processed = xcalloc(r->npar + 1, sizeof(double));
    r->written = xcalloc(r->npar + 1, 1);
    r->obs = xcalloc(r->nobs + 1, sizeof(double));
    r->seen = xcalloc(r->nobs + 1, 1);
    if (pst_opt_bool(c, "tpl_force_decimal", 0, &force, err) < 0 ||
        pst_opt_bool(c, "fill_tpl_zeros", 0, &zeros, err) < 0)
        goto error;
    r->tpl_opts.force_decimal = force;
    r->tpl_opts.fill_zeros = zeros;
    if (pst_ncommands(c) == 0) {
        pr_error_set(err, "%s: no model command: expected a '* model command line' section",
                     pst_path(c));
        goto error;
    }
    if (load_inputs(r, err) < 0 || load_outputs(r, err) < 0) goto error;
    r->envp = make_env();
    return r;
error:
    runner_destroy(r);
    return NULL;
}

void runner_destroy(struct model_runner *r)
{
    if (!r) return;
    if (r->running) runner_kill(r, "the runner was destroyed");
    for (size_t i = 0; i < r->ninputs; i++)
        if (r->inputs[i].owner) tpl_destroy(r->inputs[i].tpl);
    free(r->inputs);
    for (size_t i = 0; i < r->noutputs; i++)
        ins_destroy(r->outputs[i].ins);
    free(r->outputs);
    for (size_t i = 0; r->envp && r->envp[i]; i++)
        free(r->envp[i]);
    free(r->envp);
    free(r->processed);
    free(r->written);
    free(r->obs);
    free(r->seen);
    sb_free(&r->scratch);
    free(r->workdir);
    free(r);
}

/* ------------------------------------------------------------------------------------------ */

static int remove_model_files(struct model_runner *r, struct pr_error *err)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? r->noutputs : r->ninputs;
        for (size_t i = 0; i < n; i++) {
            const char *name = pass ? r->outputs[i].model_name : r->inputs[i].model_name;
            char *path = work_path(r, name);
            int rc = unlink(path);
            int e = errno;
            free(path);
            if (rc < 0 && e != ENOENT)
                return pr_error_set(err, "cannot delete the old model file '%s': %s", name,
                                    strerror(e));
        }
    }
    return 0;
}

static int write_inputs(struct model_runner *r, const double *values, struct pr_error *err)
{
    memset(r->written, 0, r->npar);
    for (size_t i = 0; i < r->ninputs; i++) {
        struct input_file *in = &r->inputs[i];
        sb_reset(&r->scratch);
        if (tpl_fill(in->tpl, values, &r->tpl_opts, &r->scratch, r->processed, r->written, err) < 0)
            return -1;
        char *path = work_path(r, in->model_name);
        int rc = pr_write_file(path, r->scratch.data ? r->scratch.data : "", r->scratch.len, err);
        free(path);
        if (rc < 0)
            return pr_error_prefix(err, "model input file from template '%s'", in->tpl_name);
    }
    for (size_t i = 0; i < r->npar; i++)
        if (!r->written[i]) r->processed[i] = values[i];
    return 0;
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* Split a command on single spaces as PEST++ does (repeated spaces give empty arguments). */
static char **split_exec(const char *cmd)
{
    size_t n = 1;
    for (const char *p = cmd; *p; p++)
        n += *p == ' ';
    char **argv = xcalloc(n + 1, sizeof(char *));
    char *copy = xstrdup(cmd);
    size_t k = 0;
    char *p = copy;
    for (;;) {
        char *sp = strchr(p, ' ');
        if (sp) *sp = '\0';
        argv[k++] = xstrdup(p);
        if (!sp) break;
        p = sp + 1;
    }
    free(copy);
    return argv;
}

/* A command with no shell syntax is what /bin/sh would run as words split on blanks; starting
 * it directly saves one exec per model run. */
static int needs_shell(const char *cmd)
{
    return cmd[strcspn(cmd, "|&;<>()$`\\\"'*?[]#~=%{}!\n")] != '\0';
}

static char **split_blanks(const char *cmd)
{
    char *copy = xstrdup(cmd);
    size_t n = 1;
    for (const char *p = cmd; *p; p++)
        n += *p == ' ' || *p == '\t';
    char **argv = xcalloc(n + 1, sizeof(char *));
    char **tok = xcalloc(n + 1, sizeof(char *));
    size_t k = pr_tokenize(copy, " \t", tok, n);
    for (size_t i = 0; i < k && i < n; i++)
        argv[i] = xstrdup(tok[i]);
    free(tok);
    free(copy);
    return argv;
}

static int spawn_command(struct model_runner *r, struct pr_error *err)
{
    const struct pst_command *cmd = pst_command(r->c, r->next_cmd);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, deflt;
    char **argv;
    char *logpath = r->opts.log_name ? work_path(r, r->opts.log_name) : NULL;
    int rc;

    if (r->opts.exec == RUNNER_EXEC) {
        argv = split_exec(cmd->line);
    } else if (!needs_shell(cmd->line) && cmd->line[0]) {
        argv = split_blanks(cmd->line);
    } else {
        argv = xcalloc(4, sizeof(char *));
        argv[0] = xstrdup("/bin/sh");
        argv[1] = xstrdup("-c");
        argv[2] = xstrdup(cmd->line);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, r->workdir);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logpath ? logpath : "/dev/null",
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGPIPE);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGTERM);
    sigaddset(&deflt, SIGCHLD);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &deflt);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    fflush(NULL);
    rc = posix_spawnp(&r->pid, argv[0], &fa, &attr, argv, r->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
    free(logpath);
    if (rc != 0) {
        r->pid = -1;
        return pr_error_set(err, "%s:%d: cannot start model command '%s': %s", cmd->loc.file,
                            cmd->loc.line, cmd->line, strerror(rc));
    }
    r->running = 1;
    r->pidfd = pidfd_open_(r->pid);
    if (r->pidfd < 0) {
        int e = errno;
        runner_kill(r, "pidfd_open failed");
        return pr_error_set(err,
                            "cannot watch the model process (pidfd_open: %s); pestrun needs "
                            "Linux 5.3 or later",
                            strerror(e));
    }
    return 0;
}

int runner_start(struct model_runner *r, const double *model_values, struct pr_error *err)
{
    if (r->running) return pr_error_set(err, "a model run is already in progress");
    r->start = pr_now_s();
    r->deadline = r->opts.timeout_s > 0 ? r->start + r->opts.timeout_s : 0;
    r->next_cmd = 0;
    r->kill_reason[0] = '\0';
    memset(r->seen, 0, r->nobs);
    if (r->opts.dry) {
        memcpy(r->processed, model_values, r->npar * sizeof(double));
        for (size_t i = 0; i < r->nobs; i++)
            r->obs[i] = pst_obs(r->c, i)->value;
        r->seconds = 0;
        r->dry_pending = 1;
        return 0;
    }
    if (remove_model_files(r, err) < 0 || write_inputs(r, model_values, err) < 0) return -1;
    return spawn_command(r, err);
}

int runner_fd(const struct model_runner *r)
{
    return r->running ? r->pidfd : -1;
}

size_t runner_nparams(const struct model_runner *r)
{
    return r->npar;
}

size_t runner_nobs(const struct model_runner *r)
{
    return r->nobs;
}

int runner_pid(const struct model_runner *r)
{
    return r->running ? (int)r->pid : -1;
}

int runner_timeout_ms(const struct model_runner *r)
{
    if (!r->running || r->deadline <= 0) return -1;
    double left = r->deadline - pr_now_s();
    return left <= 0 ? 0 : (int)(left * 1000.0) + 1;
}

void runner_kill(struct model_runner *r, const char *reason)
{
    if (!r->running) return;
    killpg(r->pid, SIGKILL);
    while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (r->pidfd >= 0) close(r->pidfd);
    r->pidfd = -1;
    r->pid = -1;
    r->running = 0;
    snprintf(r->kill_reason, sizeof(r->kill_reason), "%s", reason ? reason : "killed");
}

/* The last non-empty line the model printed, to help explain a failure. */
static void last_log_line(const struct model_runner *r, char *out, size_t outsz)
{
    out[0] = '\0';
    if (!r->opts.log_name) return;
    char *path = work_path(r, r->opts.log_name);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return;
    char line[512];
    long size;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 4096)
        fseek(f, size - 4096, SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    while (fgets(line, sizeof(line), f)) {
        char *s = pr_strip(line, " \t\r\n");
        if (*s) snprintf(out, outsz, "%s", s);
    }
    fclose(f);
}

static int read_outputs(struct model_runner *r, struct pr_error *err)
{
    for (size_t i = 0; i < r->noutputs; i++) {
        struct output_file *out = &r->outputs[i];
        char *path = work_path(r, out->model_name);
        int rc = pr_read_file_into(path, &r->scratch, NULL);
        free(path);
        if (rc < 0)
            return pr_error_set(err, "model output file '%s' was not written by the model",
                                out->model_name);
        if (ins_apply(out->ins, r->scratch.data, r->scratch.len, out->model_name, r->obs, r->seen,
                      err) < 0)
            return -1;
    }
    for (size_t i = 0; i < r->nobs; i++)
        if (!r->seen[i])
            return pr_error_set(err, "observation '%s' was not read from the model's output",
                                pst_obs(r->c, i)->name);
    return 0;
}

static int command_failed(struct model_runner *r, int status, struct pr_error *err)
{
    const struct pst_command *cmd = pst_command(r->c, r->next_cmd);
    char last[400];
    last_log_line(r, last, sizeof(last));
    if (WIFEXITED(status))
        pr_error_set(err, "model command %zu '%s' exited with status %d%s%s", r->next_cmd + 1,
                     cmd->line, WEXITSTATUS(status), last[0] ? "; it printed: " : "", last);
    else if (WIFSIGNALED(status))
        pr_error_set(err, "model command %zu '%s' was killed by signal %d (%s)%s%s",
                     r->next_cmd + 1, cmd->line, WTERMSIG(status), strsignal(WTERMSIG(status)),
                     last[0] ? "; it printed: " : "", last);
    else
        pr_error_set(err, "model command %zu '%s' ended abnormally", r->next_cmd + 1, cmd->line);
    return -1;
}

int runner_step(struct model_runner *r, struct pr_error *err)
{
    if (r->dry_pending) {
        r->dry_pending = 0;
        return 0;
    }
    int status = 0;
    pid_t got;

    if (!r->running)
        return pr_error_set(err, "%s",
                            r->kill_reason[0] ? r->kill_reason : "no model run in progress");
    if (r->deadline > 0 && pr_now_s() >= r->deadline) {
        char why[128];
        snprintf(why, sizeof(why),
                 "the model ran longer than the time limit of %g s; its "
                 "process group was killed",
                 r->opts.timeout_s);
        runner_kill(r, why);
        return pr_error_set(err, "%s", why);
    }
    got = waitpid(r->pid, &status, WNOHANG);
    if (got == 0) return 1;
    if (got < 0 && errno == EINTR) return 1;
    if (r->pidfd >= 0) close(r->pidfd);
    r->pidfd = -1;
    r->running = 0;
    r->pid = -1;
    if (got < 0) return pr_error_set(err, "lost track of the model process: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return command_failed(r, status, err);
    r->next_cmd++;
    if (r->next_cmd < pst_ncommands(r->c)) {
        if (spawn_command(r, err) < 0) return -1;
        return 1;
    }
    if (read_outputs(r, err) < 0) return -1;
    r->seconds = pr_now_s() - r->start;
    return 0;
}

int runner_run(struct model_runner *r, const double *model_values, struct pr_error *err)
{
    int rc;

    if (runner_start(r, model_values, err) < 0) return -1;
    while ((rc = runner_step(r, err)) == 1) {
        int fd = runner_fd(r);
        int timeout = runner_timeout_ms(r);
        if (fd >= 0) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, timeout) < 0 && errno != EINTR)
                return pr_error_set(err, "poll: %s", strerror(errno));
        }
    }
    return rc;
}

const double *runner_processed(const struct model_runner *r)
{
    return r->processed;
}

const double *runner_observations(const struct model_runner *r)
{
    return r->obs;
}

double runner_seconds(const struct model_runner *r)
{
    return r->seconds;
}
