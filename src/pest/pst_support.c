#include "pst_support.h"

#include <stdlib.h>
#include <string.h>

#include "pst_options.h"
#include "../util/strbuf.h"
#include "../util/text.h"

#define NCOMMANDS 6 /* the letters of a table row: run, sweep, jacobian, glm, panther, ies */

static const char *const command_names[] = {"check", "run",     "sweep", "jacobian",
                                            "glm",   "panther", "ies"};

const char *pst_command_name(enum pst_cmd cmd)
{
    return (unsigned)cmd < sizeof(command_names) / sizeof(command_names[0]) ? command_names[cmd]
                                                                            : "?";
}

static enum pst_support support_of(const struct pst_option_info *row, enum pst_cmd cmd)
{
    size_t at = (size_t)(cmd - PST_CMD_RUN);
    if (at >= strlen(row->status)) return PST_SUPPORT_UNUSED; /* a shorter row: not used */
    switch (row->status[at]) {
    case 'P':
        return PST_SUPPORT_IGNORED;
    case 'I':
        return PST_SUPPORT_IMPLEMENTED;
    case 'T':
        return PST_SUPPORT_TRANSPORT;
    case 'R':
        return PST_SUPPORT_REPLACED;
    case 'H':
        return PST_SUPPORT_HARMLESS;
    case 'X':
        return PST_SUPPORT_CHANGES_RESULT;
    default:
        return PST_SUPPORT_UNUSED;
    }
}

static int reported(enum pst_support s)
{
    return s >= PST_SUPPORT_REPLACED;
}

/* ------------------------------------------------------------------------------------------ */
/* is the value PEST++'s default?                                                             */

static size_t number_list(const char *text, double *v, size_t max, int *bad)
{
    char *copy = xstrdup(text);
    char *tok[64];
    size_t n = pr_tokenize(copy, ", \t", tok, 64);
    for (size_t i = 0; i < n && i < max; i++)
        if (pr_parse_double(tok[i], &v[i], 0) < 0) *bad = 1;
    free(copy);
    return n;
}

static int same_text(const char *a, const char *b)
{
    char *x = xstrdup(a), *y = xstrdup(b);
    int same = pr_strieq(pr_strip(x, " \t"), pr_strip(y, " \t"));
    free(x);
    free(y);
    return same;
}

/* A value that cannot be read as the row's type counts as not the default: it is reported. */
static int is_default(const struct pst_option_info *row, const char *value)
{
    double a, b, va[64], vb[64];
    int x, y, bad = 0;

    if (!row->dflt) return 0;
    switch (row->type) {
    case 'b':
        return pr_parse_bool(value, &x) == 0 && pr_parse_bool(row->dflt, &y) == 0 && !x == !y;
    case 'i':
    case 'd':
        return pr_parse_double(value, &a, 0) == 0 && pr_parse_double(row->dflt, &b, 0) == 0 &&
               a == b;
    case 'l': {
        size_t n = number_list(value, va, 64, &bad), m = number_list(row->dflt, vb, 64, &bad);
        if (bad || n != m || n > 64) return 0;
        for (size_t i = 0; i < n; i++)
            if (va[i] != vb[i]) return 0;
        return 1;
    }
    default:
        return same_text(value, row->dflt);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* messages                                                                                   */

static void lower_into(struct strbuf *sb, const char *s)
{
    for (; *s; s++)
        sb_putc(sb, (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s));
}

/* How the case gives it: "++name(value)", "'name value'" or "SPLITSWH 1.5 (control data)". */
static void describe(struct strbuf *sb, const struct pst_option *o,
                     const struct pst_option_info *row, int control)
{
    int keep = row && (row->flags & PST_OPT_KEEP_CASE);
    if (control) {
        sb_printf(sb, "%s %s (%s)", o->key, o->value, row ? row->section : "control data");
        return;
    }
    sb_puts(sb, o->plusplus ? "++" : "'");
    lower_into(sb, o->name);
    sb_puts(sb, o->plusplus ? "(" : " ");
    if (keep)
        sb_puts(sb, o->value);
    else
        lower_into(sb, o->value);
    sb_puts(sb, o->plusplus ? ")" : "'");
    if (row && !pr_strieq(o->name, o->key)) {
        sb_puts(sb, " (");
        lower_into(sb, o->key);
        sb_puts(sb, ")");
    }
}

/* "'pestrun sweep', 'pestrun jacobian' and 'pestrun glm'" */
static void command_list(struct strbuf *sb, const enum pst_cmd *cmds, size_t n)
{
    if (n == NCOMMANDS) {
        sb_puts(sb, "every pestrun command");
        return;
    }
    for (size_t i = 0; i < n; i++)
        sb_printf(sb, "%s'pestrun %s'",
                  i == 0       ? ""
                  : i + 1 == n ? " and "
                               : ", ",
                  pst_command_name(cmds[i]));
}

static void note(struct strbuf *sb, const struct pst_option_info *row, const char *before,
                 const char *after)
{
    if (row->note) sb_printf(sb, "%s%s%s", before, row->note, after);
}

#define HONOURED                                                                                   \
    "; pestrun's scheduler honours max_run_fail, overdue_resched_fac, overdue_giveup_fac and "     \
    "overdue_giveup_minutes"

static void message(struct strbuf *sb, enum pst_support s, const struct pst_option_info *row,
                    const enum pst_cmd *cmds, size_t ncmds, int check, int forgive)
{
    switch (s) {
    case PST_SUPPORT_CHANGES_RESULT:
        sb_puts(sb, check ? " is not implemented by pestrun and changes the result of "
                          : " is not implemented by ");
        command_list(sb, cmds, ncmds);
        if (check) {
            note(sb, row, " (", ")");
            sb_printf(sb, ": %s unless --forgive-unimplemented is given",
                      ncmds == 1 ? "it stops" : "they stop");
        } else if (forgive) {
            sb_puts(sb, " and changes the result");
            note(sb, row, " (", ")");
            sb_puts(sb, "; ignored (--forgive-unimplemented)");
        } else {
            sb_puts(sb, " and changes the result");
            note(sb, row, ": ", "");
            sb_puts(sb, ". Remove it, or give --forgive-unimplemented to run without it");
        }
        break;
    case PST_SUPPORT_REPLACED:
        sb_puts(sb, " is a transport setting that pestrun's own transport replaces in ");
        command_list(sb, cmds, ncmds);
        note(sb, row, " (", ")");
        sb_puts(sb, HONOURED);
        break;
    case PST_SUPPORT_HARMLESS:
        sb_puts(sb, " is read but not implemented by ");
        command_list(sb, cmds, ncmds);
        note(sb, row, " (", ")");
        sb_puts(sb, "; it does not change the result");
        break;
    default: /* PST_SUPPORT_UNKNOWN */
        sb_puts(sb, " is not an option of PEST++ 5.2.23; it is kept but not used (PEST++ stops on "
                    "it unless ++forgive_unknown_args(true))");
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */

static void add_finding(struct pst_support_report *r, const struct pst_option *o,
                        const char *option, enum pst_support s, int is_error, char *text)
{
    r->findings = xrealloc(r->findings, (r->n + 1) * sizeof(*r->findings));
    struct pst_support_finding *f = &r->findings[r->n++];
    f->option = option;
    f->loc = o->loc;
    f->status = s;
    f->is_error = is_error;
    f->text = text;
    if (is_error)
        r->errors++;
    else
        r->warnings++;
}

/* The finding for one option or field o (row NULL: an unknown option), if any. */
static void judge(const struct pst_case *c, enum pst_cmd cmd, int forgive,
                  const struct pst_option *o, const struct pst_option_info *row, int control,
                  struct pst_support_report *r)
{
    enum pst_cmd cmds[NCOMMANDS];
    size_t ncmds = 0;
    enum pst_support worst = PST_SUPPORT_UNKNOWN;

    if (row) {
        if ((row->flags & PST_OPT_REGUL_MODE) &&
            pst_control(c)->pestmode != PST_MODE_REGULARIZATION)
            return; /* PEST++ uses it only in regularization mode */
        if (is_default(row, o->value)) return;
        worst = PST_SUPPORT_UNUSED;
        /* check: the most serious status over the commands, and the commands it applies to */
        for (enum pst_cmd k = PST_CMD_RUN; k <= PST_CMD_IES; k++) {
            if (cmd != PST_CMD_CHECK && k != cmd) continue;
            enum pst_support s = support_of(row, k);
            if (!reported(s)) continue;
            if (s > worst) {
                worst = s;
                ncmds = 0;
            }
            if (s == worst) cmds[ncmds++] = k;
        }
        if (!reported(worst)) return;
    }
    struct strbuf sb = {0};
    sb_printf(&sb, "%s:%d: ", o->loc.file, o->loc.line);
    describe(&sb, o, row, control);
    message(&sb, worst, row, cmds, ncmds, cmd == PST_CMD_CHECK, forgive);
    int is_error = worst == PST_SUPPORT_CHANGES_RESULT && cmd != PST_CMD_CHECK && !forgive;
    add_finding(r, o, row ? row->names[0] : o->key, worst, is_error, sb_take(&sb));
}

int pst_check_support(const struct pst_case *c, enum pst_cmd cmd, int forgive,
                      struct pst_support_report *out, struct pr_error *err)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < pst_noptions(c); i++) {
        const struct pst_option *o = pst_option(c, i);
        judge(c, cmd, forgive, o, pst_option_info(o->key), 0, out);
    }
    for (size_t i = 0; i < pst_ncontrol_keys(c); i++) {
        const struct pst_option *o = pst_control_key(c, i);
        const struct pst_option_info *row = pst_control_info(o->key);
        if (row) judge(c, cmd, forgive, o, row, 1, out);
    }
    for (size_t i = 0; i < out->n; i++)
        if (out->findings[i].is_error) return pr_error_set(err, "%s", out->findings[i].text);
    return 0;
}

void pst_support_report_free(struct pst_support_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++)
        free(r->findings[i].text);
    free(r->findings);
    memset(r, 0, sizeof(*r));
}

char *pst_support_text(const struct pst_support_report *r, const char *indent)
{
    struct strbuf sb = {0};
    for (size_t i = 0; i < r->n; i++)
        sb_printf(&sb, "%s%s\n", indent ? indent : "", r->findings[i].text);
    return sb_take(&sb);
}

void pst_support_fprint(FILE *f, const struct pst_case *c, enum pst_cmd cmd)
{
    struct pst_support_report r;
    pst_check_support(c, cmd, 1, &r, NULL);
    if (r.n > 0) {
        char *text = pst_support_text(&r, "  ");
        fprintf(f, "Options and control data 'pestrun %s' does not implement:\n%s\n",
                pst_command_name(cmd), text);
        free(text);
    }
    pst_support_report_free(&r);
}
