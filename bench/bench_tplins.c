/* Benchmark: writing all templates and reading all instruction files of a large case
 * (10,000 parameters, 100,000 observations) against the fork+exec of /bin/true, measured in the
 * same run. The fill and the read must cost well under starting the model itself.
 *
 * Usage: bench_tplins [NPAR NOBS REPEATS] */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pest/ins.h"
#include "pest/tpl.h"
#include "util/names.h"
#include "util/strbuf.h"
#include "util/text.h"

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void die(const char *what, const struct pr_error *err)
{
    fprintf(stderr, "bench_tplins: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* A MODFLOW-like array template: 10 fields of 20 characters a line. */
static void make_template(struct strbuf *sb, struct names *params, int npar)
{
    sb_puts(sb, "ptf ~\n# hydraulic conductivity, one value per cell\n");
    for (int i = 0; i < npar; i++) {
        char name[32];
        snprintf(name, sizeof(name), "hk_%05d", i);
        names_add(params, name);
        sb_printf(sb, "~ %-16s ~%s", name, (i % 10 == 9 || i == npar - 1) ? "\n" : " ");
    }
}

/* An output file of heads, 10 to a line, and its instruction file (l1 then w !o! pairs). */
static void make_output(struct strbuf *ins, struct strbuf *out, struct names *obs, int nobs)
{
    sb_puts(ins, "pif ~\n~HEADS~\n");
    sb_puts(out, "model output\n HEADS IN LAYER 1\n");
    for (int i = 0; i < nobs; i++) {
        char name[32];
        snprintf(name, sizeof(name), "h_%06d", i);
        names_add(obs, name);
        if (i % 10 == 0) sb_puts(ins, "l1");
        sb_printf(ins, " !%s!", name);
        sb_printf(out, " %14.7E", 100.0 + i * 1e-3);
        if (i % 10 == 9 || i == nobs - 1) {
            sb_putc(ins, '\n');
            sb_putc(out, '\n');
        }
    }
}

static double spawn_true_us(int repeats)
{
    char *argv[] = {"/bin/true", NULL};
    double t0 = now_us();
    for (int i = 0; i < repeats; i++) {
        pid_t pid;
        int status;
        if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
            die("posix_spawn /bin/true", NULL);
        waitpid(pid, &status, 0);
    }
    return (now_us() - t0) / repeats;
}

int main(int argc, char **argv)
{
    int npar = argc > 1 ? atoi(argv[1]) : 10000;
    int nobs = argc > 2 ? atoi(argv[2]) : 100000;
    int repeats = argc > 3 ? atoi(argv[3]) : 50;
    struct names *params = names_create(), *obs = names_create();
    struct strbuf tpltext = {0}, instext = {0}, outtext = {0}, filled = {0};
    struct pr_error err;
    char path[] = "/tmp/bench_tplins.XXXXXX";
    int fd = mkstemp(path);

    if (fd < 0) die("mkstemp", NULL);
    close(fd);
    make_template(&tpltext, params, npar);
    make_output(&instext, &outtext, obs, nobs);
    pr_write_file(path, outtext.data, outtext.len, &err);

    double t0 = now_us();
    struct tpl *t = tpl_parse(tpltext.data, tpltext.len, "bench.tpl", &err);
    if (!t || tpl_bind(t, params, &err) < 0) die("template", &err);
    struct ins *in = ins_parse(instext.data, instext.len, "bench.ins", "", &err);
    if (!in || ins_bind(in, obs, &err) < 0) die("instructions", &err);
    double compile_us = now_us() - t0;

    double *values = calloc((size_t)npar, sizeof(double));
    double *processed = calloc((size_t)npar, sizeof(double));
    unsigned char *written = calloc((size_t)npar, 1);
    double *ovals = calloc((size_t)nobs, sizeof(double));
    unsigned char *seen = calloc((size_t)nobs, 1);
    for (int i = 0; i < npar; i++)
        values[i] = 1e-3 * (i + 1);

    t0 = now_us();
    for (int r = 0; r < repeats; r++) {
        sb_reset(&filled);
        memset(written, 0, (size_t)npar);
        if (tpl_fill(t, values, &(struct tpl_opts){0, 0}, &filled, processed, written, &err) < 0)
            die("fill", &err);
        if (pr_write_file(path, filled.data, filled.len, &err) < 0) die("write", &err);
    }
    double fill_us = (now_us() - t0) / repeats;
    pr_write_file(path, outtext.data, outtext.len, &err);

    struct strbuf outbuf = {0};
    t0 = now_us();
    for (int r = 0; r < repeats; r++) {
        if (pr_read_file_into(path, &outbuf, &err) < 0 ||
            ins_apply(in, outbuf.data, outbuf.len, "bench.out", ovals, seen, &err) < 0)
            die("read", &err);
    }
    sb_free(&outbuf);
    double read_us = (now_us() - t0) / repeats;
    double spawn_us = spawn_true_us(repeats * 4);

    printf("case: %d parameters (%zu bytes of template), %d observations (%zu bytes of output)\n",
           npar, tpltext.len, nobs, outtext.len);
    printf("compile template + instructions once: %.0f us\n", compile_us);
    printf("fill + write all templates:           %.1f us per run\n", fill_us);
    printf("read + apply all instruction files:   %.1f us per run\n", read_us);
    printf("fork+exec+wait of /bin/true:          %.1f us per run (baseline)\n", spawn_us);
    printf("ratio (fill + read) / fork+exec:      %.2f\n", (fill_us + read_us) / spawn_us);
    printf("per item: %.3f us per parameter, %.3f us per observation\n", fill_us / npar,
           read_us / nobs);

    unlink(path);
    tpl_destroy(t);
    ins_destroy(in);
    names_destroy(params);
    names_destroy(obs);
    sb_free(&tpltext);
    sb_free(&instext);
    sb_free(&outtext);
    sb_free(&filled);
    free(values);
    free(processed);
    free(written);
    free(ovals);
    free(seen);
    return 0;
}
