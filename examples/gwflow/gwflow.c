/* gwflow: steady-state 2-D confined groundwater flow, the model of pestrun's example case.
 *
 *   usage: gwflow [INPUT]        (INPUT defaults to gwflow.in)
 *
 * The grid is fixed: 20 rows x 25 columns of 100 m x 100 m cells, one confined layer split into
 * four hydraulic-conductivity zones (zone_map below). Column 1 and column 25 are constant-head
 * cells (the west and east river); rows 1 and 20 are no-flow edges. INPUT gives the conductivity
 * of each zone, the layer thickness, a uniform recharge rate, the two river stages, pumping wells
 * and head-observation wells, in MODFLOW-6-like BEGIN/END blocks (see gwflow.in.tpl).
 *
 * The model solves  sum_j C_ij (h_j - h_i) + W_i = 0  for every variable-head cell i, where
 * C_ij is the harmonic-mean conductance between neighbouring cells and W_i is recharge plus
 * pumping, by conjugate gradients with a Jacobi preconditioner. It writes, in the current
 * directory:
 *   gwflow.hob.out  simulated heads at the observation wells, laid out as MODFLOW's HOB package
 *                   writes them;
 *   gwflow.lst      a MODFLOW-style listing: inputs, heads, volumetric budget with percent
 *                   discrepancy, and a RIVER LEAKAGE SUMMARY table.
 * Units are metres and days throughout.
 *
 * Exit status: 0 on success (nothing is printed), 1 on bad input or an I/O error, 2 when the
 * solver does not converge. Both output files are removed before anything else, so a failed run
 * never leaves outputs behind that look valid. Results are deterministic. */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NROW 20
#define NCOL 25
#define NCELL (NROW * NCOL)
#define NZONE 4
#define CELL_SIZE 100.0 /* m, rows and columns alike */
#define MAX_WELLS 16
#define MAX_HOBS 64
#define NAME_MAX_LEN 20

#define HOB_FILE "gwflow.hob.out"
#define LST_FILE "gwflow.lst"

#define PCG_MAX_ITER 5000
#define PCG_HCLOSE 1e-10 /* m: largest head change in the last iteration */
#define PCG_RCLOSE 1e-12 /* relative flow residual, see flow_tolerance() */

#if defined(__GNUC__)
#define GW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GW_PRINTF(a, b)
#endif

/* Zone of each cell, row 1 at the top. Zone 1: western sand and gravel; zone 2: northern till;
 * zone 3: a buried sandy channel running south-west to east; zone 4: eastern outwash. */
static const char zone_map[NROW][NCOL + 1] = {
    "1111111122222222222244444", "1111111122222222222244444", "1111111112222222222244444",
    "1111111112222222222224444", "1111111111222222222224444", "1111111111222222222222444",
    "1111111111122222222222444", "1111111111332222222222444", "1111111113333322222222444",
    "1111111133333333222222444", "1111111333333333332224444", "1111113333333333333344444",
    "1111133333333333333344444", "1111333333333333333444444", "1113333333333333334444444",
    "1113333333333333344444444", "1133333333333333444444444", "1133333333333334444444444",
    "1113333333333344444444444", "1111333333333444444444444",
};

struct gw_error {
    char msg[512];
};

struct site {
    char name[NAME_MAX_LEN + 1];
    int row, col; /* 1-based, as written in the input */
    double value; /* pumping rate (m3/d, negative = pumping) or observed head (m) */
};

/* Everything read from INPUT. Reals not yet given are NAN. */
struct model_input {
    const char *path;
    double hk[NZONE];
    double thick, rech, stage_west, stage_east;
    struct site wells[MAX_WELLS];
    struct site hobs[MAX_HOBS];
    int nwells, nhobs;
};

/* The discretised flow equation. cr[i] is the conductance between cell i and its east
 * neighbour, cc[i] between cell i and its south neighbour (0 on the last column / row).
 * Cells are numbered row by row: i = (row - 1) * NCOL + (col - 1). */
struct flow_system {
    double cr[NCELL], cc[NCELL];
    double source[NCELL]; /* recharge + wells, m3/d, variable-head cells only */
    double diag[NCELL];   /* sum of the conductances around each cell */
};

struct solver_report {
    int iterations;
    double max_dh, max_residual;
};

/* Rates in m3/d. A river's inflow is water entering the aquifer from it. */
struct budget {
    double rch_in, rch_out, wel_in, wel_out;
    double west_in, west_out, east_in, east_out;
};

static int gw_fail(struct gw_error *err, const char *fmt, ...) GW_PRINTF(2, 3);

static int gw_fail(struct gw_error *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static int is_constant_head(int i)
{
    int col = i % NCOL;
    return col == 0 || col == NCOL - 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Input                                                                                        */

static int parse_real(const char *tok, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(tok, &end);
    return (end == tok || *end != '\0' || errno == ERANGE || !isfinite(*out)) ? -1 : 0;
}

static int parse_index(const char *tok, int max, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(tok, &end, 10);
    if (end == tok || *end != '\0' || errno == ERANGE || v < 1 || v > max) return -1;
    *out = (int)v;
    return 0;
}

/* Split a line (modified in place) on blanks into at most max tokens, stopping at a '#'
 * comment. Returns the number of tokens found, which may exceed max. */
static int tokenize(char *line, char **tok, int max)
{
    int n = 0;

    line[strcspn(line, "#\r\n")] = '\0';
    for (char *p = line + strspn(line, " \t"); *p; p += strspn(p, " \t")) {
        char *end = p + strcspn(p, " \t");
        if (n < max) tok[n] = p;
        n++;
        if (*end) *end++ = '\0';
        p = end;
    }
    return n;
}

/* The value that keyword key of block sets, or NULL if the block has no such keyword. */
static double *keyword_slot(struct model_input *in, const char *block, const char *key)
{
    const struct {
        const char *block, *key;
        double *slot;
    } table[] = {
        {"LPF", "hk1", &in->hk[0]},       {"LPF", "hk2", &in->hk[1]},
        {"LPF", "hk3", &in->hk[2]},       {"LPF", "hk4", &in->hk[3]},
        {"LPF", "thick", &in->thick},     {"RCH", "rech", &in->rech},
        {"CHD", "west", &in->stage_west}, {"CHD", "east", &in->stage_east},
    };

    for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++)
        if (!strcmp(block, table[k].block) && !strcmp(key, table[k].key)) return table[k].slot;
    return NULL;
}

/* Store "KEY VALUE" in the slot named KEY; each key may be given once. */
static int set_keyword(struct model_input *in, const char *block, char **tok, int ntok, int lineno,
                       struct gw_error *err)
{
    double *slot = keyword_slot(in, block, tok[0]);
    double v;

    if (!slot)
        return gw_fail(err, "%s:%d: unknown keyword '%s' in block %s", in->path, lineno, tok[0],
                       block);
    if (ntok != 2) return gw_fail(err, "%s:%d: expected '%s VALUE'", in->path, lineno, tok[0]);
    if (parse_real(tok[1], &v) < 0)
        return gw_fail(err, "%s:%d: %s: '%s' is not a number", in->path, lineno, tok[0], tok[1]);
    if (!isnan(*slot)) return gw_fail(err, "%s:%d: %s is given twice", in->path, lineno, tok[0]);
    *slot = v;
    return 0;
}

/* Append "NAME ROW COL VALUE" (a well or an observation well) to list. */
static int add_site(struct site *list, int *n, int max, char **tok, int ntok, const char *path,
                    int lineno, struct gw_error *err)
{
    struct site *s = &list[*n];

    if (ntok != 4) return gw_fail(err, "%s:%d: expected 'NAME ROW COLUMN VALUE'", path, lineno);
    if (*n == max)
        return gw_fail(err, "%s:%d: more than %d entries in this block", path, lineno, max);
    if (strlen(tok[0]) > NAME_MAX_LEN)
        return gw_fail(err, "%s:%d: name '%s' is longer than %d characters", path, lineno, tok[0],
                       NAME_MAX_LEN);
    if (parse_index(tok[1], NROW, &s->row) < 0)
        return gw_fail(err, "%s:%d: %s: row '%s' is not between 1 and %d", path, lineno, tok[0],
                       tok[1], NROW);
    if (parse_index(tok[2], NCOL, &s->col) < 0)
        return gw_fail(err, "%s:%d: %s: column '%s' is not between 1 and %d", path, lineno, tok[0],
                       tok[2], NCOL);
    if (parse_real(tok[3], &s->value) < 0)
        return gw_fail(err, "%s:%d: %s: '%s' is not a number", path, lineno, tok[0], tok[3]);
    strcpy(s->name, tok[0]);
    (*n)++;
    return 0;
}

/* Handle "BEGIN NAME" / "END NAME"; block is "" outside any block. Returns 1 if the line was a
 * block line, 0 if not, -1 on error. */
static int block_line(char *block, char **tok, int ntok, const char *path, int lineno,
                      struct gw_error *err)
{
    static const char *const known[] = {"LPF", "RCH", "CHD", "WEL", "HOB"};
    int is_begin = !strcmp(tok[0], "BEGIN"), is_end = !strcmp(tok[0], "END");

    if (!is_begin && !is_end) return 0;
    if (ntok != 2) return gw_fail(err, "%s:%d: expected '%s BLOCKNAME'", path, lineno, tok[0]);
    if (is_end) {
        if (strcmp(block, tok[1]))
            return gw_fail(err, "%s:%d: 'END %s' does not close block '%s'", path, lineno, tok[1],
                           block);
        block[0] = '\0';
        return 1;
    }
    if (block[0])
        return gw_fail(err, "%s:%d: block %s is not closed before BEGIN %s", path, lineno, block,
                       tok[1]);
    for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
        if (!strcmp(tok[1], known[k])) {
            strcpy(block, known[k]);
            return 1;
        }
    return gw_fail(err, "%s:%d: unknown block '%s' (expected LPF, RCH, CHD, WEL or HOB)", path,
                   lineno, tok[1]);
}

static int parse_line(struct model_input *in, char *block, char *line, int lineno,
                      struct gw_error *err)
{
    char *tok[8];
    int ntok = tokenize(line, tok, 8);
    int rc;

    if (ntok == 0) return 0;
    rc = block_line(block, tok, ntok, in->path, lineno, err);
    if (rc != 0) return rc < 0 ? -1 : 0;
    if (!block[0])
        return gw_fail(err, "%s:%d: '%s' is outside any BEGIN/END block", in->path, lineno, tok[0]);
    if (!strcmp(block, "WEL"))
        return add_site(in->wells, &in->nwells, MAX_WELLS, tok, ntok, in->path, lineno, err);
    if (!strcmp(block, "HOB"))
        return add_site(in->hobs, &in->nhobs, MAX_HOBS, tok, ntok, in->path, lineno, err);
    return set_keyword(in, block, tok, ntok, lineno, err);
}

static int check_positive(const char *path, const char *what, double v, struct gw_error *err)
{
    if (isnan(v)) return gw_fail(err, "%s: %s is missing (block LPF)", path, what);
    if (v <= 0.0) return gw_fail(err, "%s: %s must be positive, got %g", path, what, v);
    return 0;
}

/* Every value must be present, conductivities and thickness positive, and no well in a
 * constant-head cell. */
static int check_input(const struct model_input *in, struct gw_error *err)
{
    static const char *const hk_keys[NZONE] = {"hk1", "hk2", "hk3", "hk4"};

    for (int z = 0; z < NZONE; z++)
        if (check_positive(in->path, hk_keys[z], in->hk[z], err) < 0) return -1;
    if (check_positive(in->path, "thick", in->thick, err) < 0) return -1;
    if (isnan(in->rech)) return gw_fail(err, "%s: rech is missing (block RCH)", in->path);
    if (isnan(in->stage_west) || isnan(in->stage_east))
        return gw_fail(err, "%s: both river stages 'west' and 'east' are needed (block CHD)",
                       in->path);
    for (int w = 0; w < in->nwells; w++)
        if (in->wells[w].col == 1 || in->wells[w].col == NCOL)
            return gw_fail(err, "%s: well %s is in column %d, a constant-head cell", in->path,
                           in->wells[w].name, in->wells[w].col);
    if (in->nhobs == 0) return gw_fail(err, "%s: no observation wells (block HOB)", in->path);
    return 0;
}

/* Read and check the model input. On error the message names the file and line. */
static int read_input(const char *path, struct model_input *in, struct gw_error *err)
{
    char line[1024], block[8] = "";
    int lineno = 0;
    FILE *fp = fopen(path, "r");

    *in = (struct model_input){.path = path, .thick = NAN, .rech = NAN};
    in->stage_west = in->stage_east = NAN;
    for (int z = 0; z < NZONE; z++)
        in->hk[z] = NAN;
    if (!fp) return gw_fail(err, "cannot open %s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), fp)) {
        lineno++;
        if (parse_line(in, block, line, lineno, err) < 0) {
            fclose(fp);
            return -1;
        }
    }
    fclose(fp);
    if (block[0]) return gw_fail(err, "%s: block %s has no END line", path, block);
    return check_input(in, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Flow system and solver                                                                       */

static double transmissivity(const struct model_input *in, int i)
{
    return in->hk[zone_map[i / NCOL][i % NCOL] - '1'] * in->thick;
}

/* Conductance between two cells of transmissivities t1, t2 (square cells: width / length = 1). */
static double harmonic_conductance(double t1, double t2)
{
    return 2.0 * t1 * t2 / (t1 + t2);
}

static void build_system(const struct model_input *in, struct flow_system *fs)
{
    memset(fs, 0, sizeof(*fs));
    for (int i = 0; i < NCELL; i++) {
        if (i % NCOL < NCOL - 1)
            fs->cr[i] = harmonic_conductance(transmissivity(in, i), transmissivity(in, i + 1));
        if (i / NCOL < NROW - 1)
            fs->cc[i] = harmonic_conductance(transmissivity(in, i), transmissivity(in, i + NCOL));
        if (!is_constant_head(i)) fs->source[i] = in->rech * CELL_SIZE * CELL_SIZE;
    }
    for (int w = 0; w < in->nwells; w++) /* check_input keeps wells off constant-head cells */
        fs->source[(in->wells[w].row - 1) * NCOL + in->wells[w].col - 1] += in->wells[w].value;
    for (int i = 0; i < NCELL; i++) {
        if (i % NCOL > 0) fs->diag[i] += fs->cr[i - 1];
        if (i / NCOL > 0) fs->diag[i] += fs->cc[i - NCOL];
        fs->diag[i] += fs->cr[i] + fs->cc[i];
    }
}

/* Net flow out of cell i through its four faces, sum_j C_ij (v_i - v_j), for the values v. */
static double cell_outflow(const struct flow_system *fs, const double *v, int i)
{
    double q = 0.0;

    if (i % NCOL > 0) q += fs->cr[i - 1] * (v[i] - v[i - 1]);
    if (i % NCOL < NCOL - 1) q += fs->cr[i] * (v[i] - v[i + 1]);
    if (i / NCOL > 0) q += fs->cc[i - NCOL] * (v[i] - v[i - NCOL]);
    if (i / NCOL < NROW - 1) q += fs->cc[i] * (v[i] - v[i + NCOL]);
    return q;
}

/* q = A p, A being the conductance matrix of the variable-head cells. p and q are zero at
 * constant-head cells, which eliminates those cells from the system. */
static void apply_matrix(const struct flow_system *fs, const double *p, double *q)
{
    for (int i = 0; i < NCELL; i++)
        q[i] = is_constant_head(i) ? 0.0 : cell_outflow(fs, p, i);
}

static double dot(const double *a, const double *b)
{
    double s = 0.0;

    for (int i = 0; i < NCELL; i++)
        s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a)
{
    double m = 0.0;

    for (int i = 0; i < NCELL; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* r = source - net outflow, the flow imbalance of each variable-head cell for the heads h. */
static void flow_residual(const struct flow_system *fs, const double *h, double *r)
{
    for (int i = 0; i < NCELL; i++)
        r[i] = is_constant_head(i) ? 0.0 : fs->source[i] - cell_outflow(fs, h, i);
}

static void jacobi(const struct flow_system *fs, const double *r, double *z)
{
    for (int i = 0; i < NCELL; i++)
        z[i] = is_constant_head(i) ? 0.0 : r[i] / fs->diag[i];
}

/* Largest flow residual (m3/d) accepted: PCG_RCLOSE times the largest term of any cell's
 * equation, diag_i * |h|, so the test stays above rounding noise whatever the units' scale. */
static double flow_tolerance(const struct flow_system *fs, const double *h)
{
    return PCG_RCLOSE * max_abs(fs->diag) * fmax(max_abs(h), 1.0);
}

/* Solve for the heads h, which on entry hold the river stages at constant-head cells and a
 * starting guess elsewhere. Returns 0 when the head change of the last iteration is below
 * PCG_HCLOSE and the flow residual below flow_tolerance(), -1 otherwise (h then holds the last
 * iterate). rep->max_residual is the true residual of h, not the recurrence's. */
static int solve_pcg(const struct flow_system *fs, double *h, struct solver_report *rep)
{
    double r[NCELL], z[NCELL], p[NCELL], q[NCELL];
    double rtol = flow_tolerance(fs, h), rz;
    int converged;

    flow_residual(fs, h, r);
    jacobi(fs, r, z);
    memcpy(p, z, sizeof(p));
    rz = dot(r, z);
    *rep = (struct solver_report){0, 0.0, max_abs(r)};
    converged = rz == 0.0; /* the starting heads already balance */
    while (!converged && rep->iterations < PCG_MAX_ITER) {
        apply_matrix(fs, p, q);
        double alpha = rz / dot(p, q);
        rep->max_dh = 0.0;
        for (int i = 0; i < NCELL; i++) {
            h[i] += alpha * p[i];
            r[i] -= alpha * q[i];
            rep->max_dh = fmax(rep->max_dh, fabs(alpha * p[i]));
        }
        rep->iterations++;
        converged = max_abs(r) == 0.0 || (rep->max_dh < PCG_HCLOSE && max_abs(r) <= rtol);
        if (converged) break;
        jacobi(fs, r, z);
        double rz_new = dot(r, z);
        for (int i = 0; i < NCELL; i++)
            p[i] = z[i] + (rz_new / rz) * p[i];
        rz = rz_new;
    }
    flow_residual(fs, h, r);
    rep->max_residual = max_abs(r);
    if (!converged || !isfinite(rep->max_residual) || rep->max_residual > rtol) return -1;
    return 0;
}

static void initial_heads(const struct model_input *in, double *h)
{
    for (int i = 0; i < NCELL; i++) {
        int col = i % NCOL;
        h[i] = col == 0          ? in->stage_west
               : col == NCOL - 1 ? in->stage_east
                                 : 0.5 * (in->stage_west + in->stage_east);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Budget and output                                                                            */

static void add_signed(double q, double *in, double *out)
{
    if (q >= 0.0)
        *in += q;
    else
        *out -= q;
}

/* Rates across the model boundary for the solved heads h. Flow between two constant-head
 * cells is not part of the aquifer budget, as in MODFLOW. */
static void compute_budget(const struct model_input *in, const struct flow_system *fs,
                           const double *h, struct budget *b)
{
    *b = (struct budget){0};
    for (int i = 0; i < NCELL; i++) {
        if (is_constant_head(i)) continue;
        add_signed(in->rech * CELL_SIZE * CELL_SIZE, &b->rch_in, &b->rch_out);
        if (i % NCOL == 1) add_signed(fs->cr[i - 1] * (h[i - 1] - h[i]), &b->west_in, &b->west_out);
        if (i % NCOL == NCOL - 2)
            add_signed(fs->cr[i] * (h[i + 1] - h[i]), &b->east_in, &b->east_out);
    }
    for (int w = 0; w < in->nwells; w++)
        add_signed(in->wells[w].value, &b->wel_in, &b->wel_out);
}

static double head_at(const double *h, const struct site *s)
{
    return h[(s->row - 1) * NCOL + s->col - 1];
}

static int close_output(FILE *fp, const char *path, struct gw_error *err)
{
    int failed = ferror(fp);

    if (fclose(fp) != 0 || failed)
        return gw_fail(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Simulated and observed heads, one well a line, in the layout of MODFLOW's HOB output file. */
static int write_hob(const struct model_input *in, const double *h, struct gw_error *err)
{
    FILE *fp = fopen(HOB_FILE, "w");

    if (!fp) return gw_fail(err, "cannot create %s: %s", HOB_FILE, strerror(errno));
    fprintf(fp, "\"SIMULATED EQUIVALENT\"   \"OBSERVED VALUE\"    \"OBSERVATION NAME\"\n");
    for (int k = 0; k < in->nhobs; k++)
        fprintf(fp, " %20.12g %20.12g  %s\n", head_at(h, &in->hobs[k]), in->hobs[k].value,
                in->hobs[k].name);
    return close_output(fp, HOB_FILE, err);
}

static void write_lst_inputs(FILE *fp, const struct model_input *in)
{
    int count[NZONE] = {0};

    for (int i = 0; i < NCELL; i++)
        if (!is_constant_head(i)) count[zone_map[i / NCOL][i % NCOL] - '1']++;
    fprintf(fp, "\n HYDRAULIC CONDUCTIVITY (L/T) BY ZONE\n");
    for (int z = 0; z < NZONE; z++)
        fprintf(fp, "   ZONE %d: HK = %15.8E   (%3d VARIABLE-HEAD CELLS)\n", z + 1, in->hk[z],
                count[z]);
    fprintf(fp, "\n LAYER THICKNESS (L)          = %15.8E\n", in->thick);
    fprintf(fp, " RECHARGE RATE (L/T)          = %15.8E\n", in->rech);
    fprintf(fp, " STAGE IN COLUMN  1 (WEST)    = %15.8E\n", in->stage_west);
    fprintf(fp, " STAGE IN COLUMN %2d (EAST)    = %15.8E\n", NCOL, in->stage_east);
    fprintf(fp, "\n %d WELLS\n     NAME                  ROW  COL        RATE (L**3/T)\n",
            in->nwells);
    for (int w = 0; w < in->nwells; w++)
        fprintf(fp, "     %-20s %4d %4d   %15.8E\n", in->wells[w].name, in->wells[w].row,
                in->wells[w].col, in->wells[w].value);
}

static void write_lst_heads(FILE *fp, const double *h, const struct solver_report *rep)
{
    fprintf(fp, "\n PCG SOLVER (JACOBI PRECONDITIONER) CONVERGED IN %d ITERATIONS\n",
            rep->iterations);
    fprintf(fp, "   LAST MAXIMUM HEAD CHANGE = %10.3E   MAXIMUM FLOW RESIDUAL = %10.3E\n",
            rep->max_dh, rep->max_residual);
    fprintf(fp, "\n HEAD IN LAYER 1 AT END OF STEADY STATE\n");
    for (int c0 = 0; c0 < NCOL; c0 += 10) {
        fprintf(fp, "\n ROW/COL");
        for (int c = c0; c < NCOL && c < c0 + 10; c++)
            fprintf(fp, " %9d", c + 1);
        fprintf(fp, "\n");
        for (int r = 0; r < NROW; r++) {
            fprintf(fp, " %7d", r + 1);
            for (int c = c0; c < NCOL && c < c0 + 10; c++)
                fprintf(fp, " %9.4f", h[r * NCOL + c]);
            fprintf(fp, "\n");
        }
    }
}

static void write_lst_budget(FILE *fp, const struct budget *b)
{
    double in = b->rch_in + b->wel_in + b->west_in + b->east_in;
    double out = b->rch_out + b->wel_out + b->west_out + b->east_out;
    double discrepancy = in + out > 0.0 ? 100.0 * (in - out) / (0.5 * (in + out)) : 0.0;

    fprintf(fp, "\n VOLUMETRIC BUDGET FOR ENTIRE MODEL AT END OF STEADY STATE\n");
    fprintf(fp, " --------------------------------------------------------\n\n");
    fprintf(fp, "     RATES (L**3/T)\n\n           IN:\n           ---\n");
    fprintf(fp, "       CONSTANT HEAD = %18.8E\n", b->west_in + b->east_in);
    fprintf(fp, "               WELLS = %18.8E\n", b->wel_in);
    fprintf(fp, "            RECHARGE = %18.8E\n\n", b->rch_in);
    fprintf(fp, "            TOTAL IN = %18.8E\n\n          OUT:\n          ----\n", in);
    fprintf(fp, "       CONSTANT HEAD = %18.8E\n", b->west_out + b->east_out);
    fprintf(fp, "               WELLS = %18.8E\n", b->wel_out);
    fprintf(fp, "            RECHARGE = %18.8E\n\n", b->rch_out);
    fprintf(fp, "           TOTAL OUT = %18.8E\n\n", out);
    fprintf(fp, "            IN - OUT = %18.8E\n\n", in - out);
    fprintf(fp, " PERCENT DISCREPANCY = %18.8E\n", discrepancy);
}

/* The table gwflow.lst.ins reads: find the marker line, then the NET OUTFLOW column. */
static void write_lst_rivers(FILE *fp, const struct budget *b)
{
    fprintf(fp, "\n RIVER LEAKAGE SUMMARY (L**3/T, CONSTANT-HEAD CELLS, OUTFLOW = AQUIFER TO "
                "RIVER)\n");
    fprintf(fp, " ---------------------------------------------------------------------------\n");
    fprintf(fp, "   BOUNDARY                 INFLOW               OUTFLOW           NET OUTFLOW\n");
    fprintf(fp, "   WEST RIVER  %20.12E  %20.12E  %20.12E\n", b->west_in, b->west_out,
            b->west_out - b->west_in);
    fprintf(fp, "   EAST RIVER  %20.12E  %20.12E  %20.12E\n", b->east_in, b->east_out,
            b->east_out - b->east_in);
}

static int write_lst(const struct model_input *in, const double *h, const struct solver_report *rep,
                     const struct budget *b, struct gw_error *err)
{
    FILE *fp = fopen(LST_FILE, "w");

    if (!fp) return gw_fail(err, "cannot create %s: %s", LST_FILE, strerror(errno));
    fprintf(fp, "                                   GWFLOW\n");
    fprintf(fp, "      STEADY-STATE 2-D CONFINED GROUNDWATER FLOW (MODFLOW-STYLE LISTING)\n\n");
    fprintf(fp, " INPUT FILE: %s\n", in->path);
    fprintf(fp, " %d ROWS, %d COLUMNS, CELL SIZE %.1f x %.1f (L), 1 CONFINED LAYER\n", NROW, NCOL,
            CELL_SIZE, CELL_SIZE);
    write_lst_inputs(fp, in);
    write_lst_heads(fp, h, rep);
    write_lst_budget(fp, b);
    write_lst_rivers(fp, b);
    fprintf(fp, "\n NORMAL TERMINATION OF GWFLOW\n");
    return close_output(fp, LST_FILE, err);
}

/* ------------------------------------------------------------------------------------------ */

static int run(const char *input_path, struct gw_error *err)
{
    struct model_input in;
    struct flow_system fs;
    struct solver_report rep;
    struct budget b;
    double h[NCELL];

    if (read_input(input_path, &in, err) < 0) return 1;
    build_system(&in, &fs);
    initial_heads(&in, h);
    if (solve_pcg(&fs, h, &rep) < 0) {
        gw_fail(err, "solver did not converge: %d iterations, maximum flow residual %.3g m3/d",
                rep.iterations, rep.max_residual);
        return 2;
    }
    compute_budget(&in, &fs, h, &b);
    if (write_hob(&in, h, err) < 0 || write_lst(&in, h, &rep, &b, err) < 0) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    struct gw_error err = {{0}};
    int status;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: gwflow [INPUT]   (default INPUT: gwflow.in)\n");
        return 1;
    }
    remove(HOB_FILE);
    remove(LST_FILE);
    status = run(argc == 2 ? argv[1] : "gwflow.in", &err);
    if (status != 0) {
        fprintf(stderr, "gwflow: %s\n", err.msg);
        remove(HOB_FILE);
        remove(LST_FILE);
    }
    return status;
}
