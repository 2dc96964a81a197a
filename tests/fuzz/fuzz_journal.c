/* libFuzzer target for the run journal. The first byte picks what the rest becomes:
 *   0: the whole journal file;
 *   1: the records after a valid header;
 *   2: runs appended through the API, then bytes of the file changed, checksums optionally
 *      recomputed (so the checks behind the CRC are reached) and the file optionally cut.
 * Then the journal is opened with resume, looked up, appended to and opened again: a run appended
 * must be found, and the second open must keep every record of the first. The file is
 * $TMPDIR/fuzz_journal.PID (/tmp without TMPDIR). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/journal.h"
#include "util/hash.h"
#include "util/text.h"

#define CASE_ID 0x6a6f75726e616cULL
#define NPAR 2
#define NOBS 3
#define HEADER_SIZE 48

struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned take_byte(struct input *in)
{
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static void take_doubles(struct input *in, double *v, size_t n)
{
    memset(v, 0, n * sizeof(*v));
    for (size_t i = 0; i < n && in->n; i++) {
        size_t k = in->n < sizeof(*v) ? in->n : sizeof(*v);
        memcpy(&v[i], in->p, k);
        in->p += k;
        in->n -= k;
    }
}

static const char *journal_path(void)
{
    static char path[4096];

    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof(path), "%s/fuzz_journal.%ld", dir && *dir ? dir : "/tmp",
                 (long)getpid());
    }
    return path;
}

/* The header of a journal of this case, written once by the journal itself. */
static const unsigned char *case_header(void)
{
    static unsigned char h[HEADER_SIZE];
    static int done;
    struct pr_error err;

    if (!done) {
        struct journal *j = journal_open(journal_path(), CASE_ID, NPAR, NOBS, 0, &err);
        size_t len;
        char *data;

        journal_close(j);
        data = pr_read_file(journal_path(), &len, &err);
        if (!j || !data || len != HEADER_SIZE) abort();
        memcpy(h, data, HEADER_SIZE);
        free(data);
        done = 1;
    }
    return h;
}

static void write_file(const void *head, size_t nhead, const void *rest, size_t nrest)
{
    char *buf = malloc(nhead + nrest + 1);
    struct pr_error err;

    if (nhead) memcpy(buf, head, nhead);
    if (nrest) memcpy(buf + nhead, rest, nrest);
    if (pr_write_file(journal_path(), buf, nhead + nrest, &err) < 0) abort();
    free(buf);
}

/* Give every record whose length fits in the file a correct CRC. */
static void fix_checksums(unsigned char *d, size_t n)
{
    size_t off = HEADER_SIZE;

    while (off + 12 <= n) {
        uint32_t len, crc;
        memcpy(&len, d + off + 4, 4);
        if (len > n - off - 12) break;
        crc = pr_crc32(0, d + off + 12, len);
        memcpy(d + off + 8, &crc, 4);
        off += 12 + (size_t)len;
    }
}

/* The runs appended in mode 2. */
struct runs {
    unsigned n;
    int ok[8];
    double v[8][NPAR], obs[8][NOBS];
};

/* Mode 2: returns 1 when the file was left intact (every appended run must be there). */
static int build_from_runs(struct input *in, struct runs *runs)
{
    struct pr_error err;
    struct journal *j;
    unsigned nedits, flags;
    unsigned char *d;
    size_t n;

    write_file(case_header(), HEADER_SIZE, NULL, 0);
    j = journal_open(journal_path(), CASE_ID, NPAR, NOBS, 1, &err);
    if (!j) abort();
    runs->n = take_byte(in) % 8;
    for (unsigned r = 0; r < runs->n; r++) {
        double *v = runs->v[r], *obs = runs->obs[r];
        char reason[32];
        size_t rlen;

        runs->ok[r] = take_byte(in) & 1;
        rlen = take_byte(in) % sizeof(reason);
        take_doubles(in, v, NPAR);
        take_doubles(in, obs, NOBS);
        for (size_t i = 0; i < rlen; i++)
            reason[i] = (char)(take_byte(in) | 1);
        reason[rlen] = '\0';
        if (journal_append(j, v, runs->ok[r], v, obs, obs[0], runs->ok[r] ? NULL : reason, &err) <
            0)
            abort();
    }
    journal_close(j);

    nedits = take_byte(in) % 4;
    flags = take_byte(in);
    d = (unsigned char *)pr_read_file(journal_path(), &n, &err);
    if (!d) abort();
    for (unsigned e = 0; e < nedits; e++) {
        size_t pos = (take_byte(in) | take_byte(in) << 8) % n;
        d[pos] ^= (unsigned char)take_byte(in);
    }
    if (flags & 1) fix_checksums(d, n);
    if (flags & 2) n = (take_byte(in) | take_byte(in) << 8) % (n + 1);
    write_file(d, n, NULL, 0);
    free(d);
    return nedits == 0 && !(flags & 2);
}

/* Every ok run appended in mode 2 is found with the outputs of the latest ok run with its
 * values. */
static void check_runs(struct journal *j, const struct runs *runs)
{
    struct pr_error err;

    for (unsigned r = 0; r < runs->n; r++) {
        double got[NOBS], sec;
        unsigned q = runs->n;

        while (q-- > 0)
            if (runs->ok[q] && memcmp(runs->v[q], runs->v[r], sizeof(runs->v[r])) == 0) break;
        if (journal_lookup(j, runs->v[r], NULL, got, &sec, &err) != (q < runs->n)) abort();
        if (q < runs->n &&
            (memcmp(got, runs->obs[q], sizeof(got)) || memcmp(&sec, &runs->obs[q][0], sizeof(sec))))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    unsigned mode = take_byte(&in) % 3;
    double v[NPAR], mine[NPAR] = {3.5, -1.0}, obs[NOBS] = {1, 2, 3}, got[NOBS], proc[NPAR], sec;
    struct pr_error err;
    struct journal *j;
    struct runs runs = {0};
    size_t count;
    int intact = 0;

    if (mode == 0) write_file(NULL, 0, in.p, in.n);
    if (mode == 1) write_file(case_header(), HEADER_SIZE, in.p, in.n);
    if (mode == 2) intact = build_from_runs(&in, &runs);

    j = journal_open(journal_path(), CASE_ID, NPAR, NOBS, 1, &err);
    if (!j) goto done;
    if (intact && (journal_truncated(j) || journal_count(j) != runs.n)) abort();
    if (intact) check_runs(j, &runs);
    count = journal_count(j);
    if (journal_count_ok(j) > count) abort();
    /* values from the input, where records of mode 1 and 2 keep theirs */
    for (size_t off = 1; off + sizeof(v) <= size && off < 64; off += 5) {
        memcpy(v, data + off, sizeof(v));
        journal_lookup(j, v, proc, got, &sec, &err);
    }
    memset(v, 0, sizeof(v));
    journal_lookup(j, v, NULL, NULL, NULL, &err);
    if (journal_append(j, mine, 1, mine, obs, 0.5, NULL, &err) < 0) abort();
    if (journal_lookup(j, mine, proc, got, &sec, &err) != 1 || memcmp(got, obs, sizeof(obs)) ||
        sec != 0.5)
        abort();
    journal_close(j);

    /* everything the first open kept is kept again */
    j = journal_open(journal_path(), CASE_ID, NPAR, NOBS, 1, &err);
    if (!j || journal_truncated(j) || journal_count(j) != count + 1) abort();
    if (journal_lookup(j, mine, NULL, got, NULL, &err) != 1 || memcmp(got, obs, sizeof(obs)))
        abort();
    journal_close(j);
done:
    unlink(journal_path());
    return 0;
}
