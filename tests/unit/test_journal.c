/* The run journal: many runs round-trip, torn and damaged tails are cut off, a writer killed at
 * random moments loses no run it reported, other cases and other files are refused, memory stays
 * flat in the number of records, bad arguments give errors. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sched/journal.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/names.h"
#include "util/text.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

#ifdef HAVE_ASAN
/* AddressSanitizer has its own allocator; mallinfo2 does not see it */
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_used(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
#endif

static char tmpdir[] = "/tmp/test_journal.XXXXXX";

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s * 0x2545f4914f6cdd1dULL;
}

/* Any bit pattern (NaN, inf, denormal, -0.0) half the time, an ordinary number otherwise. */
static double rng_double(uint64_t *s)
{
    uint64_t u = rng_next(s);
    double d;

    if (u & 1) {
        memcpy(&d, &u, sizeof(d));
        return d;
    }
    return ((double)(u >> 11) / 9007199254740992.0 - 0.5) * 1e4;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void path_in_tmp(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

/* --- hashes ---------------------------------------------------------------------------------- */

/* The CRC-32 one bit at a time, to check the table-driven one. */
static uint32_t crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;

    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
    }
    return ~crc;
}

static void test_hash(void)
{
    const char *ab_c[] = {"AB", "C"}, *a_bc[] = {"A", "BC"}, *obs[] = {"H1", "H2"};
    unsigned char buf[300];
    uint64_t s = 99;
    int same = 1;

    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)rng_next(&s);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof(buf); n++)
            same &= pr_crc32(0, buf + off, n) == crc32_bitwise(buf + off, n);
    CHECK(same);

    CHECK(pr_crc32(0, "123456789", 9) == 0xcbf43926u);
    CHECK(pr_crc32(pr_crc32(0, "1234", 4), "56789", 5) == 0xcbf43926u);
    CHECK(pr_crc32(0, "", 0) == 0);
    CHECK(pr_hash64("abc", 3, 0) != pr_hash64("abd", 3, 0));
    CHECK(pr_hash64("abc", 3, 0) != pr_hash64("abc", 3, 1));
    CHECK(journal_case_id(ab_c, 2, obs, 2) == journal_case_id(ab_c, 2, obs, 2));
    CHECK(journal_case_id(ab_c, 2, obs, 2) != journal_case_id(a_bc, 2, obs, 2));
    CHECK(journal_case_id(ab_c, 2, obs, 2) != journal_case_id(ab_c, 2, obs, 1));
    /* a name moved from the parameters to the observations */
    CHECK(journal_case_id(ab_c, 2, obs, 1) != journal_case_id(ab_c, 1, obs, 2));
    CHECK(journal_case_id(NULL, 0, NULL, 0) != journal_case_id(ab_c, 1, NULL, 0));
    /* the name-table form gives the same identity (names are stored upper-cased) */
    struct names *pt = names_create(), *ot = names_create();
    names_add(pt, "ab");
    names_add(pt, "C");
    names_add(ot, "h1");
    names_add(ot, "H2");
    CHECK(journal_case_id_names(pt, ot) == journal_case_id(ab_c, 2, obs, 2));
    CHECK(journal_case_id_names(ot, pt) != journal_case_id(ab_c, 2, obs, 2));
    names_destroy(pt);
    names_destroy(ot);
}

/* --- 1. a thousand runs round-trip ----------------------------------------------------------- */

#define RT_NPAR 7
#define RT_NOBS 13
#define RT_N 1000

struct run {
    double v[RT_NPAR], proc[RT_NPAR], obs[RT_NOBS], sec;
    int ok;
};

/* The latest ok run with exactly these values, or -1. */
static int expected_run(const struct run *runs, int n, const double *v)
{
    for (int i = n - 1; i >= 0; i--)
        if (runs[i].ok && memcmp(runs[i].v, v, sizeof(runs[i].v)) == 0) return i;
    return -1;
}

static void check_lookup(struct journal *j, const struct run *runs, int n, const double *v)
{
    double proc[RT_NPAR], obs[RT_NOBS], sec = -1;
    struct pr_error err = {{0}};
    int e = expected_run(runs, n, v);
    int rc = journal_lookup(j, v, proc, obs, &sec, &err);

    if (e < 0) {
        CHECK_MSG(rc == 0, "rc %d: %s", rc, err.msg);
        return;
    }
    CHECK_MSG(rc == 1, "rc %d: %s", rc, err.msg);
    if (rc != 1) return;
    CHECK(memcmp(proc, runs[e].proc, sizeof(proc)) == 0);
    CHECK(memcmp(obs, runs[e].obs, sizeof(obs)) == 0);
    CHECK(memcmp(&sec, &runs[e].sec, sizeof(sec)) == 0);
}

static void check_all_runs(struct journal *j, const struct run *runs, int n)
{
    for (int i = 0; i < n; i++) {
        double v[RT_NPAR];
        uint64_t u;
        int k = i % RT_NPAR;

        check_lookup(j, runs, n, runs[i].v);
        /* the same values but one bit */
        memcpy(v, runs[i].v, sizeof(v));
        memcpy(&u, &v[k], sizeof(u));
        u ^= 1;
        memcpy(&v[k], &u, sizeof(u));
        check_lookup(j, runs, n, v);
        memcpy(v, runs[i].v, sizeof(v));
        if (isfinite(v[k])) {
            v[k] = nextafter(v[k], INFINITY);
            check_lookup(j, runs, n, v);
        }
    }
}

static void test_roundtrip(void)
{
    struct run *runs = calloc(RT_N, sizeof(*runs));
    struct pr_error err = {{0}};
    char path[256];
    uint64_t s = 88172645463325252ULL;
    int nok = 0, ndup = 0, nfound_failed = 0;
    struct journal *j;

    path_in_tmp(path, sizeof(path), "roundtrip.journal");
    j = journal_open(path, 42, RT_NPAR, RT_NOBS, 0, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) goto done;
    for (int i = 0; i < RT_N; i++) {
        struct run *r = &runs[i];
        if (i >= 2 && i % 10 == 9) {
            /* values seen before: the latest ok record must win */
            memcpy(r->v, runs[i - 1 - (int)(rng_next(&s) % 40 % (uint64_t)i)].v, sizeof(r->v));
            ndup++;
        } else {
            for (int k = 0; k < RT_NPAR; k++)
                r->v[k] = i == 0 ? 0.0 : i == 1 ? -0.0 : rng_double(&s);
        }
        r->ok = i < 2 || rng_next(&s) % 10 < 7;
        for (int k = 0; k < RT_NPAR; k++)
            r->proc[k] = rng_double(&s);
        for (int k = 0; k < RT_NOBS; k++)
            r->obs[k] = rng_double(&s);
        r->sec = rng_double(&s);
        nok += r->ok;
        CHECK(journal_append(j, r->v, r->ok, r->ok ? r->proc : NULL, r->ok ? r->obs : NULL, r->sec,
                             r->ok ? NULL : "model.exe exited with status 3", &err) == 0);
    }
    for (int i = 0; i < RT_N; i++)
        nfound_failed += !runs[i].ok && expected_run(runs, RT_N, runs[i].v) >= 0;
    CHECK(ndup > 50 && nfound_failed > 0);
    CHECK(journal_count(j) == RT_N);
    CHECK(journal_count_ok(j) == (size_t)nok);
    check_all_runs(j, runs, RT_N);
    CHECK(journal_sync(j, &err) == 0);
    journal_close(j);

    j = journal_open(path, 42, RT_NPAR, RT_NOBS, 1, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) goto done;
    CHECK(journal_count(j) == RT_N);
    CHECK(journal_count_ok(j) == (size_t)nok);
    CHECK(journal_truncated(j) == 0);
    check_all_runs(j, runs, RT_N);
    /* 0.0 and -0.0 are different values */
    {
        double sec;
        CHECK(journal_lookup(j, runs[0].v, NULL, NULL, &sec, &err) == 1);
        CHECK(memcmp(&sec, &runs[0].sec, sizeof(sec)) == 0);
        CHECK(journal_lookup(j, runs[1].v, NULL, NULL, &sec, &err) == 1);
        CHECK(memcmp(&sec, &runs[1].sec, sizeof(sec)) == 0);
    }
    journal_close(j);
done:
    free(runs);
}

/* --- 2. torn and damaged tails --------------------------------------------------------------- */

#define TT_NPAR 3
#define TT_NOBS 5

static void tt_values(int i, double *v)
{
    for (int k = 0; k < TT_NPAR; k++)
        v[k] = 100.0 * i + k + 0.25;
}

static void tt_obs(int i, double *obs)
{
    for (int k = 0; k < TT_NOBS; k++)
        obs[k] = -1.5 * i + k;
}

static int tt_append(struct journal *j, int i, int ok)
{
    double v[TT_NPAR], obs[TT_NOBS];
    struct pr_error err = {{0}};
    int rc;

    tt_values(i, v);
    tt_obs(i, obs);
    rc = journal_append(j, v, ok, v, ok ? obs : NULL, i, ok ? NULL : "run failed", &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return rc;
}

/* Is run i in the journal as an ok run with its observations? */
static int tt_found(struct journal *j, int i)
{
    double v[TT_NPAR], obs[TT_NOBS], want[TT_NOBS], sec;
    struct pr_error err = {{0}};

    tt_values(i, v);
    tt_obs(i, want);
    if (journal_lookup(j, v, NULL, obs, &sec, &err) != 1) return 0;
    return memcmp(obs, want, sizeof(obs)) == 0 && sec == i;
}

/* Runs 0..n-1 ok except every third one; returns the file size before the last append. */
static long tt_build(const char *path, int n, int last_ok)
{
    struct pr_error err = {{0}};
    struct journal *j = journal_open(path, 7, TT_NPAR, TT_NOBS, 0, &err);
    long before = -1;

    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return -1;
    for (int i = 0; i < n; i++) {
        if (i == n - 1) before = file_size(path);
        tt_append(j, i, i == n - 1 ? last_ok : i % 3 != 1);
    }
    journal_close(j);
    return before;
}

/* Open the damaged journal at path: runs 0..keep-1 are left, `dropped` records were cut off and
 * the file ends at good_end; a run appended then is there after another open. */
static void tt_check_repaired(const char *path, int keep, size_t dropped, long good_end)
{
    struct pr_error err = {{0}};
    struct journal *j = journal_open(path, 7, TT_NPAR, TT_NOBS, 1, &err);
    int all = 1;

    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return;
    CHECK_MSG(journal_count(j) == (size_t)keep, "%zu records, want %d", journal_count(j), keep);
    CHECK_MSG(journal_truncated(j) == dropped, "%zu dropped, want %zu", journal_truncated(j),
              dropped);
    CHECK(file_size(path) == good_end);
    for (int i = 0; i < keep; i++)
        all &= tt_found(j, i) == (i % 3 != 1);
    CHECK(all);
    CHECK(!tt_found(j, keep));
    tt_append(j, 1000, 1);
    CHECK(tt_found(j, 1000));
    journal_close(j);
    j = journal_open(path, 7, TT_NPAR, TT_NOBS, 1, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return;
    CHECK(journal_count(j) == (size_t)keep + 1 && journal_truncated(j) == 0);
    CHECK(tt_found(j, 1000) && (keep < 1 || tt_found(j, 0)));
    journal_close(j);
}

static void test_torn_tail(void)
{
    struct pr_error err = {{0}};
    char path[256];
    int bad = 0;

    path_in_tmp(path, sizeof(path), "torn.journal");
    for (int last_ok = 1; last_ok >= 0; last_ok--) {
        long before = tt_build(path, 6, last_ok), end = file_size(path);
        size_t len;
        char *data = pr_read_file(path, &len, &err);

        CHECK(data != NULL && before > 0 && (long)len == end);
        if (!data || before <= 0) {
            free(data);
            return;
        }
        /* cut at every byte of the last record, then one byte of it damaged at a time */
        for (long cut = before; cut < end; cut++) {
            int f0 = check_failed;
            pr_write_file(path, data, (size_t)cut, &err);
            tt_check_repaired(path, 5, cut > before, before);
            bad += check_failed > f0;
        }
        for (long pos = before; pos < end; pos++) {
            int f0 = check_failed;
            data[pos] ^= 0x10;
            pr_write_file(path, data, len, &err);
            data[pos] ^= 0x10;
            tt_check_repaired(path, 5, 1, before);
            bad += check_failed > f0;
        }
        free(data);
    }
    CHECK_MSG(bad == 0, "%d cuts or damaged bytes went wrong", bad);

    /* a damaged record in the middle drops it and the intact ones after it */
    {
        long before = tt_build(path, 2, 1), end;
        size_t len;
        char *data;

        tt_build(path, 6, 1);
        end = file_size(path);
        data = pr_read_file(path, &len, &err);
        CHECK(data != NULL && (long)len == end);
        if (data) {
            data[before + 20] ^= 1;
            pr_write_file(path, data, len, &err);
            tt_check_repaired(path, 1, 5, before);
            free(data);
        }
    }
    /* a tail of zeros, as a power loss can leave */
    {
        static const char zeros[4096];
        long good;
        int fd;

        tt_build(path, 4, 1);
        good = file_size(path);
        fd = open(path, O_WRONLY | O_APPEND);
        CHECK(fd >= 0 && write(fd, zeros, sizeof(zeros)) == (ssize_t)sizeof(zeros));
        if (fd >= 0) close(fd);
        tt_check_repaired(path, 4, 1, good);
    }
    /* only the beginning of the header: the journal was being created */
    {
        size_t len;
        char *data;

        tt_build(path, 1, 1);
        data = pr_read_file(path, &len, &err);
        CHECK(data != NULL);
        if (data) {
            for (size_t cut = 1; cut < 48; cut++) {
                struct journal *j;
                pr_write_file(path, data, cut, &err);
                j = journal_open(path, 7, TT_NPAR, TT_NOBS, 1, &err);
                CHECK_MSG(j != NULL, "cut %zu: %s", cut, err.msg);
                CHECK(journal_count(j) == 0 && file_size(path) == 48);
                journal_close(j);
            }
            free(data);
        }
    }
}

/* A record changed or removed on disk after the open is reported by lookup, never returned. */
static void test_changed_under(void)
{
    struct pr_error err = {{0}};
    double v[TT_NPAR], obs[TT_NOBS];
    char path[256];
    struct journal *j;
    int fd;

    path_in_tmp(path, sizeof(path), "changed.journal");
    tt_build(path, 3, 1);
    j = journal_open(path, 7, TT_NPAR, TT_NOBS, 1, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return;
    fd = open(path, O_RDWR);
    CHECK(fd >= 0 && pwrite(fd, "x", 1, file_size(path) - 1) == 1);
    tt_values(2, v);
    CHECK(journal_lookup(j, v, NULL, obs, NULL, &err) == -1);
    CHECK(strstr(err.msg, ": the run at offset ") && strstr(err.msg, " is damaged (checksum"));
    CHECK(fd >= 0 && ftruncate(fd, file_size(path) - 5) == 0);
    CHECK(journal_lookup(j, v, NULL, obs, NULL, &err) == -1 && strstr(err.msg, "is cut short"));
    CHECK(tt_found(j, 0));
    if (fd >= 0) close(fd);
    journal_close(j);
}

/* A write cut short (file size limit, as a full disk does) leaves no torn record behind it. */
static void test_write_error(void)
{
    struct pr_error err = {{0}};
    struct rlimit old, lim;
    char path[256];
    struct journal *j;
    long size;
    int rc;

    path_in_tmp(path, sizeof(path), "short-write.journal");
    j = journal_open(path, 7, TT_NPAR, TT_NOBS, 0, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return;
    tt_append(j, 0, 1);
    size = file_size(path);
    signal(SIGXFSZ, SIG_IGN);
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 50; /* half of the next record fits */
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    {
        double v[TT_NPAR], obs[TT_NOBS];
        tt_values(1, v);
        tt_obs(1, obs);
        rc = journal_append(j, v, 1, v, obs, 1, NULL, &err);
    }
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(rc == -1 && strstr(err.msg, "cannot append a run to the journal: File too large"));
    CHECK(file_size(path) == size);
    CHECK(journal_count(j) == 1 && !tt_found(j, 1));
    tt_append(j, 2, 1);
    journal_close(j);
    j = journal_open(path, 7, TT_NPAR, TT_NOBS, 1, &err);
    CHECK(j != NULL && journal_count(j) == 2 && journal_truncated(j) == 0);
    CHECK(j && tt_found(j, 0) && !tt_found(j, 1) && tt_found(j, 2));
    journal_close(j);
}

/* --- 3. a writer killed at random moments ---------------------------------------------------- */

#define KL_NPAR 4
#define KL_NOBS 4000

static void kl_run(uint64_t k, double *v, double *obs)
{
    for (int i = 0; i < KL_NPAR; i++)
        v[i] = (double)k + 0.125 * i;
    for (int i = 0; i < KL_NOBS; i++)
        obs[i] = (double)k * 1e-3 + i;
}

/* The child: append runs from the journal's count on, reporting the count after each. */
static void kl_child(const char *path, int wfd)
{
    static double v[KL_NPAR], obs[KL_NOBS];
    struct pr_error err;
    struct journal *j;
    uint64_t k;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    j = journal_open(path, 9, KL_NPAR, KL_NOBS, 1, &err);
    if (!j) _exit(2);
    for (k = journal_count(j); k < 1000000; k++) {
        kl_run(k, v, obs);
        if (journal_append(j, v, 1, v, obs, 1.0, NULL, &err) < 0) _exit(3);
        uint64_t done = k + 1;
        if (write(wfd, &done, sizeof(done)) != (ssize_t)sizeof(done)) _exit(4);
    }
    _exit(0);
}

static void test_killed_writer(void)
{
    static double v[KL_NPAR], obs[KL_NOBS], got[KL_NOBS];
    struct pr_error err = {{0}};
    char path[256];
    uint64_t s = 0x9e3779b97f4a7c15ULL, reported = 0;
    size_t torn = 0;
    struct journal *j;
    int iters = 12;

    path_in_tmp(path, sizeof(path), "killed.journal");
    j = journal_open(path, 9, KL_NPAR, KL_NOBS, 0, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    journal_close(j);
    for (int it = 0; it < iters; it++) {
        int fds[2], status;
        uint64_t target = reported + 3 + rng_next(&s) % 60, done;
        pid_t pid;

        if (pipe(fds) < 0) {
            CHECK(0);
            return;
        }
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            close(fds[0]);
            kl_child(path, fds[1]);
        }
        close(fds[1]);
        CHECK(pid > 0);
        while (read(fds[0], &done, sizeof(done)) == (ssize_t)sizeof(done)) {
            reported = done;
            if (done >= target) break;
        }
        usleep((useconds_t)(rng_next(&s) % 3000));
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        while (read(fds[0], &done, sizeof(done)) == (ssize_t)sizeof(done))
            reported = done;
        close(fds[0]);

        j = journal_open(path, 9, KL_NPAR, KL_NOBS, 1, &err);
        CHECK_MSG(j != NULL, "%s", err.msg);
        if (!j) return;
        CHECK_MSG(journal_count(j) >= reported, "%zu records, %llu reported", journal_count(j),
                  (unsigned long long)reported);
        CHECK(journal_truncated(j) <= 1);
        torn += journal_truncated(j);
        for (uint64_t k = 0; k < reported; k++) {
            kl_run(k, v, obs);
            if (journal_lookup(j, v, NULL, got, NULL, &err) != 1 ||
                memcmp(got, obs, sizeof(obs)) != 0) {
                CHECK_MSG(0, "run %llu of %llu reported is missing", (unsigned long long)k,
                          (unsigned long long)reported);
                break;
            }
        }
        reported = journal_count(j);
        journal_close(j);
    }
    printf("journal: writer killed %d times, %llu runs, %zu torn records cut off\n", iters,
           (unsigned long long)reported, torn);
}

/* --- 4. other cases, other files ------------------------------------------------------------- */

static void test_other_case(void)
{
    struct pr_error err = {{0}};
    char path[256], other[256], want[PR_ERROR_MAX];
    struct journal *j;
    uint64_t s = 12345;

    path_in_tmp(path, sizeof(path), "case.journal");
    j = journal_open(path, 0xabcdef0123456789ULL, TT_NPAR, TT_NOBS, 0, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return;
    tt_append(j, 0, 1);
    tt_append(j, 1, 0);
    journal_close(j);

    j = journal_open(path, 0x1111, TT_NPAR, TT_NOBS, 1, &err);
    CHECK(j == NULL);
    snprintf(want, sizeof(want),
             "%s: this journal belongs to another case (journal: case id abcdef0123456789, 3 "
             "parameters, 5 observations; this case: case id 0000000000001111, 3 parameters, 5 "
             "observations); remove it or start without --resume",
             path);
    CHECK_STR(err.msg, want);
    j = journal_open(path, 0xabcdef0123456789ULL, 2, TT_NOBS, 1, &err);
    CHECK(j == NULL);
    snprintf(want, sizeof(want),
             "%s: this journal belongs to another case (journal: case id abcdef0123456789, 3 "
             "parameters, 5 observations; this case: case id abcdef0123456789, 2 parameters, 5 "
             "observations); remove it or start without --resume",
             path);
    CHECK_STR(err.msg, want);
    j = journal_open(path, 0xabcdef0123456789ULL, TT_NPAR, 6, 1, &err);
    CHECK(j == NULL && strstr(err.msg, "this case: case id abcdef0123456789, 3 parameters, 6 "
                                       "observations); remove it or start without --resume"));
    /* the refused opens left it alone */
    j = journal_open(path, 0xabcdef0123456789ULL, TT_NPAR, TT_NOBS, 1, &err);
    CHECK(j != NULL && journal_count(j) == 2 && tt_found(j, 0));

    /* a second process cannot open it while this one has it */
    if (j) {
        int fds[2], status;
        pid_t pid;
        char c = 0;

        CHECK(pipe(fds) == 0);
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            struct journal *j2 =
                journal_open(path, 0xabcdef0123456789ULL, TT_NPAR, TT_NOBS, 1, &err);
            c = j2 ? 'y' : 'n';
            if (write(fds[1], &c, 1) != 1) _exit(2);
            if (j2 || strstr(err.msg, "in use by another pestrun process (pid ") == NULL) _exit(1);
            _exit(0);
        }
        CHECK(read(fds[0], &c, 1) == 1 && c == 'n');
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(fds[0]);
        close(fds[1]);
    }
    journal_close(j);

    /* files that are not journals are refused and left alone */
    path_in_tmp(other, sizeof(other), "random.bin");
    for (int round = 0; round < 2; round++) {
        char data[1000], *back;
        size_t n = round ? 6 : sizeof(data), len;

        for (size_t i = 0; i < n; i++)
            data[i] = (char)rng_next(&s);
        if (round) memcpy(data, "hello\n", 6);
        pr_write_file(other, data, n, &err);
        j = journal_open(other, 1, 1, 1, 1, &err);
        CHECK(j == NULL);
        snprintf(want, sizeof(want),
                 "%s: not a pestrun run journal (it does not start with a PRJOURN1 header); "
                 "check the journal path",
                 other);
        CHECK_STR(err.msg, want);
        back = pr_read_file(other, &len, &err);
        CHECK(back && len == n && memcmp(back, data, n) == 0);
        free(back);
    }
    /* a damaged header; another format version */
    {
        unsigned char h[48];
        int fd = open(path, O_RDWR);
        CHECK(fd >= 0 && pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h));
        h[20] ^= 4;
        CHECK(pwrite(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h));
        j = journal_open(path, 0xabcdef0123456789ULL, TT_NPAR, TT_NOBS, 1, &err);
        CHECK(j == NULL && strstr(err.msg, ": the run journal's header is damaged"));
        h[20] ^= 4;
        h[8] = 2;
        uint32_t crc = pr_crc32(0, h, 40);
        memcpy(h + 40, &crc, 4);
        CHECK(pwrite(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h));
        j = journal_open(path, 0xabcdef0123456789ULL, TT_NPAR, TT_NOBS, 1, &err);
        CHECK(j == NULL && strstr(err.msg, "run journal format version 2 is not the one"));
        if (fd >= 0) close(fd);
    }
    /* resume = 0 replaces whatever was there */
    j = journal_open(path, 0x1111, 2, 2, 0, &err);
    CHECK_MSG(j != NULL && journal_count(j) == 0, "%s", err.msg);
    journal_close(j);
    j = journal_open(path, 0x1111, 2, 2, 1, &err);
    CHECK_MSG(j != NULL && journal_count(j) == 0 && journal_truncated(j) == 0, "%s", err.msg);
    journal_close(j);
    CHECK(file_size(path) == 48);
    /* an empty file and a missing file are new journals */
    pr_write_file(other, "", 0, &err);
    j = journal_open(other, 1, 1, 1, 1, &err);
    CHECK(j != NULL && journal_count(j) == 0 && file_size(other) == 48);
    journal_close(j);
    unlink(other);
    j = journal_open(other, 1, 1, 1, 1, &err);
    CHECK(j != NULL && journal_count(j) == 0 && file_size(other) == 48);
    journal_close(j);
}

/* --- 5. memory stays flat -------------------------------------------------------------------- */

#define MF_NPAR 10
#define MF_NOBS 1000

static void mf_values(size_t k, double *v)
{
    for (int i = 0; i < MF_NPAR; i++)
        v[i] = (double)k * 0.5 + i;
}

static void test_memory(void)
{
    static double v[MF_NPAR], obs[MF_NOBS], got[MF_NOBS];
    struct pr_error err = {{0}};
    char path[256];
    struct statvfs fs;
    size_t n = 20000, before, after, nlook = 2000, found = 0;
    double t0, t_append, t_open, t_hit, t_miss;
    uint64_t s = 777;
    struct journal *j;

    if (statvfs(tmpdir, &fs) == 0 && (double)fs.f_bavail * (double)fs.f_frsize < 1e9) n = 2000;
    path_in_tmp(path, sizeof(path), "big.journal");
    j = journal_open(path, 5, MF_NPAR, MF_NOBS, 0, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return;
    for (int i = 0; i < MF_NOBS; i++)
        obs[i] = i * 0.001;
    t0 = now();
    for (size_t k = 0; k < n; k++) {
        mf_values(k, v);
        obs[0] = (double)k;
        if (journal_append(j, v, 1, v, obs, 2.0, NULL, &err) < 0) {
            CHECK_MSG(0, "%s", err.msg);
            break;
        }
    }
    t_append = now() - t0;
    journal_close(j);

    before = heap_used();
    t0 = now();
    j = journal_open(path, 5, MF_NPAR, MF_NOBS, 1, &err);
    t_open = now() - t0;
    after = heap_used();
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return;
    CHECK(journal_count_ok(j) == n);
    CHECK_MSG(after - before < 64 * n + (1 << 20), "%zu bytes for %zu records", after - before, n);
    t0 = now();
    for (size_t i = 0; i < nlook; i++) {
        size_t k = rng_next(&s) % n;
        mf_values(k, v);
        if (journal_lookup(j, v, NULL, got, NULL, &err) == 1 && got[0] == (double)k &&
            got[MF_NOBS - 1] == obs[MF_NOBS - 1])
            found++;
    }
    t_hit = now() - t0;
    CHECK(found == nlook);
    t0 = now();
    for (size_t i = 0; i < nlook; i++) {
        mf_values(n + i, v);
        found += journal_lookup(j, v, NULL, got, NULL, &err);
    }
    t_miss = now() - t0;
    CHECK(found == nlook);
    printf("journal: %zu runs x %d observations (%.0f MB): append %.1f us, open %.2f s, "
           "index %.1f bytes/run, lookup %.1f us found, %.2f us not found\n",
           n, MF_NOBS, file_size(path) / 1e6, 1e6 * t_append / (double)n, t_open,
           (double)(after - before) / (double)n, 1e6 * t_hit / (double)nlook,
           1e6 * t_miss / (double)nlook);
    journal_close(j);
    unlink(path);
}

/* --- 6. bad arguments ------------------------------------------------------------------------ */

static void test_inval(void)
{
    struct pr_error err = {{0}};
    char path[256], missing[256];
    double v[2] = {1, 2}, obs[3] = {4, 5, 6};
    struct journal *j;
    char *reason;
    long size;

    path_in_tmp(path, sizeof(path), "inval.journal");
    path_in_tmp(missing, sizeof(missing), "no/such/folder/x.journal");
    CHECK(journal_open(NULL, 1, 2, 3, 0, &err) == NULL && err.msg[0]);
    CHECK(journal_open(NULL, 1, 2, 3, 0, NULL) == NULL);
    CHECK(journal_open("", 1, 2, 3, 0, &err) == NULL);
    CHECK(journal_open(path, 1, 2, 3, 2, &err) == NULL && strstr(err.msg, "resume"));
    CHECK(journal_open(path, 1, SIZE_MAX, 3, 0, &err) == NULL && strstr(err.msg, "too many"));
    CHECK(journal_open(path, 1, 2, SIZE_MAX / 8, 0, &err) == NULL);
    CHECK(journal_open(tmpdir, 1, 2, 3, 1, &err) == NULL && strstr(err.msg, tmpdir));
    CHECK(journal_open(missing, 1, 2, 3, 1, &err) == NULL && strstr(err.msg, missing));
    CHECK(journal_open("/dev/null", 1, 2, 3, 1, &err) == NULL && strstr(err.msg, "regular file"));
    journal_close(NULL);
    CHECK(journal_count(NULL) == 0 && journal_count_ok(NULL) == 0 && journal_truncated(NULL) == 0);
    CHECK(journal_sync(NULL, &err) == -1);
    CHECK(journal_lookup(NULL, v, NULL, NULL, NULL, &err) == -1);
    CHECK(journal_append(NULL, v, 1, v, obs, 1, NULL, &err) == -1);

    j = journal_open(path, 1, 2, 3, 0, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j) return;
    CHECK(journal_append(j, NULL, 1, v, obs, 1, NULL, &err) == -1);
    CHECK(journal_append(j, v, 1, v, NULL, 1, NULL, &err) == -1);
    CHECK(journal_append(j, v, 1, NULL, obs, 1, NULL, &err) == -1);
    CHECK(journal_append(j, v, 2, v, obs, 1, NULL, &err) == -1);
    CHECK(journal_lookup(j, NULL, NULL, NULL, NULL, &err) == -1);
    CHECK(journal_count(j) == 0 && file_size(path) == 48);
    CHECK(journal_lookup(j, v, NULL, NULL, NULL, &err) == 0);
    CHECK(journal_append(j, v, 0, NULL, NULL, 1, NULL, &err) == 0);
    CHECK(journal_lookup(j, v, NULL, NULL, NULL, &err) == 0);
    CHECK(journal_append(j, v, 1, v, obs, 1, "ignored", &err) == 0);
    CHECK(journal_lookup(j, v, NULL, NULL, NULL, &err) == 1);
    /* a long reason is cut at 64 KiB, not inside a UTF-8 sequence */
    reason = malloc(70000);
    memset(reason, 'a', 65535);
    strcpy(reason + 65535, "\xc3\xa9 and more");
    size = file_size(path);
    CHECK(journal_append(j, obs, 0, NULL, NULL, 1, reason, &err) == 0);
    CHECK(file_size(path) - size == 12 + 17 + 2 * 8 + 4 + 65535);
    free(reason);
    CHECK(journal_sync(j, &err) == 0);
    journal_close(j);
    j = journal_open(path, 1, 2, 3, 1, &err);
    CHECK(j != NULL && journal_count(j) == 3 && journal_count_ok(j) == 1);
    journal_close(j);

    /* no parameters and no observations */
    j = journal_open(path, 1, 0, 0, 0, &err);
    CHECK(j != NULL);
    CHECK(journal_append(j, v, 1, NULL, NULL, 3, NULL, &err) == 0);
    journal_close(j);
    j = journal_open(path, 1, 0, 0, 1, &err);
    {
        double sec = 0;
        CHECK(j != NULL && journal_lookup(j, v, NULL, NULL, &sec, &err) == 1 && sec == 3);
    }
    journal_close(j);
}

int main(void)
{
    struct pr_error err = {{0}};

    if (!mkdtemp(tmpdir)) {
        printf("FAIL: cannot create %s\n", tmpdir);
        return 1;
    }
    test_hash();
    test_roundtrip();
    test_torn_tail();
    test_write_error();
    test_changed_under();
    test_killed_writer();
    test_other_case();
    test_memory();
    test_inval();
    CHECK_MSG(pr_remove_tree(tmpdir, &err) == 0, "%s", err.msg);
    return check_done();
}
