/* The option tables of the pestrun command (src/cli/options.c): the getopt_long table and the
 * --help text are both made from one table; usage errors name the option and give status 2;
 * a table that names an option or an id twice is refused. The real commands' tables are
 * checked against the binary by tests/e2e/help_options.sh. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cli/options.c"

enum { OPT_IN = 300, OPT_KEEP_WORKDIRS, OPT_KEEP };

static const struct cli_option own[] = {
    {"in", OPT_IN, "FILE", "the input CSV"},
    {"quiet", 'q', NULL, "no progress lines"},
    {"workers", 'j', "N", "worker processes (default: one per core this process may use)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option more[] = {
    {"keep-workdirs", OPT_KEEP_WORKDIRS, NULL, "keep the folders"},
    {"keep", OPT_KEEP, NULL, "keep"},
    {"forgive-unimplemented", 301 + 100, NULL, "go on"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_group groups[] = {
    {NULL, own},
    {"more options, with a title long enough to be wrapped on two lines:", more},
    {NULL, NULL}};

static const struct cli_command cmd = {
    .name = "demo",
    .synopsis = "[OPTIONS] CASE.pst",
    .about = "Does nothing.\n",
    .exit_status = {"done", "failed", "bad usage", NULL},
    .groups = groups,
};

/* Run fn with stderr (fd 2) going to a buffer; returns what was written. */
static char captured[4096];

static int capture(int (*fn)(void *), void *ctx)
{
    fflush(stderr);
    fflush(stdout);
    FILE *tmp = tmpfile();
    int saved_err = dup(2), saved_out = dup(1);
    dup2(fileno(tmp), 2);
    dup2(fileno(tmp), 1);
    int rc = fn(ctx);
    fflush(stderr);
    fflush(stdout);
    dup2(saved_err, 2);
    dup2(saved_out, 1);
    close(saved_err);
    close(saved_out);
    rewind(tmp);
    size_t n = fread(captured, 1, sizeof(captured) - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
    return rc;
}

struct run {
    char *argv[12];
    int argc;
    int ids[12];
    const char *args[12];
    int n, last, status, next;
};

/* Parse argv (NULL-terminated words) to the end: the options seen, then CLI_END or CLI_STOP. */
static int parse_all(void *ctx)
{
    struct run *r = ctx;
    struct cli_parser p;
    const char *arg;
    int opt;
    cli_parser_init(&p, &cmd, r->argc, r->argv);
    while ((opt = cli_next(&p, &arg)) > 0 && r->n < 12) {
        r->ids[r->n] = opt;
        r->args[r->n++] = arg;
    }
    r->last = opt;
    r->status = p.status;
    r->next = p.next;
    return opt;
}

static struct run parse_words(const char *const *words)
{
    static char store[12][64];
    struct run r;
    memset(&r, 0, sizeof(r));
    for (int i = 0; words[i] && i < 11; i++) {
        snprintf(store[i], sizeof(store[i]), "%s", words[i]);
        r.argv[i] = store[i];
        r.argc++;
    }
    capture(parse_all, &r);
    return r;
}

static void test_parse(void)
{
    const char *w1[] = {"demo",        "--in",  "a.csv", "-q",     "-j3", "case.pst",
                        "--workers=4", "--wor", "5",     "--keep", NULL};
    struct run r = parse_words(w1);
    CHECK(r.last == CLI_END && r.n == 6);
    CHECK(r.ids[0] == OPT_IN && r.args[0] && strcmp(r.args[0], "a.csv") == 0);
    CHECK(r.ids[1] == 'q' && r.args[1] == NULL);
    CHECK(r.ids[2] == 'j' && r.args[2] && strcmp(r.args[2], "3") == 0);
    CHECK(r.ids[3] == 'j' && r.args[3] && strcmp(r.args[3], "4") == 0);
    CHECK(r.ids[4] == 'j' && r.args[4] && strcmp(r.args[4], "5") == 0); /* an abbreviation */
    CHECK(r.ids[5] == OPT_KEEP); /* an exact name is not ambiguous with keep-workdirs */
    CHECK(r.next == 9 && strcmp(r.argv[r.next], "case.pst") == 0); /* operands moved last */
    CHECK_STR(captured, "");

    static const struct {
        const char *words[4];
        const char *message;
    } bad[] = {
        {{"demo", "--bogus", "x.pst"},
         "pestrun demo: unknown option '--bogus' (see 'pestrun demo --help')\n"},
        {{"demo", "--bogus=3"},
         "pestrun demo: unknown option '--bogus' (see 'pestrun demo --help')\n"},
        {{"demo", "--kee"},
         "pestrun demo: ambiguous option '--kee': --keep-workdirs, --keep? (see 'pestrun demo "
         "--help')\n"},
        {{"demo", "--quiet=1"},
         "pestrun demo: option '--quiet' takes no value (see 'pestrun demo --help')\n"},
        {{"demo", "-j"},
         "pestrun demo: option '--workers' (-j) needs a value (see 'pestrun demo --help')\n"},
        {{"demo", "--in"},
         "pestrun demo: option '--in' needs a value (see 'pestrun demo --help')\n"},
        {{"demo", "-x"}, "pestrun demo: unknown option '-x' (see 'pestrun demo --help')\n"},
        {{"demo", "-h", "--bogus"}, NULL}, /* --help first: printed, status 0 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = parse_words(bad[i].words);
        CHECK_MSG(r.last == CLI_STOP && r.status == (bad[i].message ? 2 : 0),
                  "%s: last %d status %d", bad[i].words[1], r.last, r.status);
        if (bad[i].message)
            CHECK_STR(captured, bad[i].message);
        else
            CHECK_MSG(strncmp(captured, "usage: pestrun demo [OPTIONS] CASE.pst\n", 39) == 0, "%s",
                      captured);
    }
}

static int operands(void *ctx)
{
    int *want = ctx; /* {argc, min, max} */
    char *argv[] = {"demo", "a.pst", "b.pst", NULL};
    struct cli_parser p;
    const char *arg;
    cli_parser_init(&p, &cmd, want[0], argv);
    while (cli_next(&p, &arg) > 0)
        ;
    int rc = cli_operands(&p, want[1], want[2], "one control file, CASE.pst");
    return rc < 0 ? -p.status : p.next;
}

static void test_operands(void)
{
    int a[] = {2, 1, 1}, b[] = {1, 1, 1}, c[] = {3, 1, 1}, d[] = {3, 0, 2};
    CHECK(capture(operands, a) == 1);
    CHECK(capture(operands, b) == -2);
    CHECK_STR(captured,
              "pestrun demo: expected one control file, CASE.pst (see 'pestrun demo --help')\n");
    CHECK(capture(operands, c) == -2);
    CHECK_STR(captured, "pestrun demo: unexpected argument 'b.pst': expected one control file, "
                        "CASE.pst (see 'pestrun demo --help')\n");
    CHECK(capture(operands, d) == 1);
}

static void test_tables(void)
{
    struct cli_parser p;
    char *argv[] = {"demo", NULL};
    cli_parser_init(&p, &cmd, 1, argv);
    CHECK_STR(p.shortopts, ":qj:h");
    const char *names[] = {
        "in", "quiet", "workers", "keep-workdirs", "keep", "forgive-unimplemented", "help"};
    int has_arg[] = {1, 0, 1, 0, 0, 0, 0};
    int n = 0;
    while (p.longopts[n].name)
        n++;
    CHECK(n == 7);
    for (int i = 0; i < n && i < 7; i++) {
        CHECK_STR(p.longopts[i].name, names[i]);
        CHECK(p.longopts[i].has_arg == (has_arg[i] ? required_argument : no_argument));
        CHECK(p.longopts[i].flag == NULL);
    }

    /* the help: every option of the table, in its order, and nothing else */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_help(&cmd, f);
    fclose(f);
    CHECK_STR(text,
              "usage: pestrun demo [OPTIONS] CASE.pst\n"
              "\n"
              "Does nothing.\n"
              "\n"
              "exit status:\n"
              "  0    done\n"
              "  1    failed\n"
              "  2    bad usage\n"
              "\n"
              "options:\n"
              "      --in FILE           the input CSV\n"
              "  -q, --quiet             no progress lines\n"
              "  -j, --workers N         worker processes (default: one per core this process\n"
              "                          may use)\n"
              "  -h, --help              this help\n"
              "\n"
              "more options, with a title long enough to be wrapped on two lines:\n"
              "      --keep-workdirs     keep the folders\n"
              "      --keep              keep\n"
              "      --forgive-unimplemented\n"
              "                          go on\n");
    free(text);
}

static void test_wrap(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_wrap(f, "aaaa bbbb cccc\ndddd averyveryverylongword e", 2, 4, 12);
    fclose(f);
    CHECK_STR(text, "aaaa bbbb\n    cccc\n    dddd\n    averyveryverylongword\n    e\n");
    free(text);
}

/* A table giving a name or an id twice is a programming error: cli_parser_init aborts. */
static void test_inval(void)
{
    static const struct cli_option twice_name[] = {
        {"in", 300, "F", "x"}, {"in", 301, "F", "y"}, {NULL, 0, NULL, NULL}};
    static const struct cli_option twice_id[] = {
        {"in", 300, "F", "x"}, {"out", 300, "F", "y"}, {NULL, 0, NULL, NULL}};
    static const struct cli_option help_again[] = {{"hilfe", 'h', NULL, "x"},
                                                   {NULL, 0, NULL, NULL}};
    static const struct cli_option low_id[] = {{"odd", 7, NULL, "x"}, {NULL, 0, NULL, NULL}};
    const struct cli_option *tables[] = {twice_name, twice_id, help_again, low_id};
    for (int i = 0; i < 4; i++) {
        struct cli_group g[] = {{NULL, tables[i]}, {NULL, NULL}};
        struct cli_command c = cmd;
        c.groups = g;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            struct cli_parser p;
            char *argv[] = {"demo", NULL};
            (void)!freopen("/dev/null", "w", stderr);
            cli_parser_init(&p, &c, 1, argv);
            _exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "table %d was accepted", i);
    }
}

int main(void)
{
    test_parse();
    test_operands();
    test_tables();
    test_wrap();
    test_inval();
    return check_done();
}
