/* The run journal (see journal.h).
 *
 * File format, version 1. Integers and doubles are little-endian on every host; a double is
 * stored as its IEEE 754 bits, so -0.0, NaN payloads and denormals come back unchanged.
 *
 *   header, 48 bytes:
 *      0 "PRJOURN1"             8 u32 format version (1)    12 u32 0 (reserved)
 *     16 u64 case_id           24 u64 npar                 32 u64 nobs
 *     40 u32 CRC-32 of bytes 0..39                         44 u32 0 (reserved)
 *   then records, back to back:
 *      0 u32 magic "PRUN"       4 u32 payload length        8 u32 CRC-32 of the payload
 *     12 payload: u64 hash of the requested values (pr_hash64 of their stored bytes, VALUES_SEED),
 *                 u8 ok (1 or 0), f64 seconds, f64 requested[npar], then
 *                 when ok:     f64 processed[npar], f64 obs[nobs]
 *                 when failed: u32 reason length, the reason's bytes (no NUL; at most REASON_MAX)
 *
 * Each record reaches the file in one write(2) on an O_APPEND descriptor, so a crash leaves at
 * most the last record torn (or, after a power loss without journal_sync, a tail of garbage);
 * opening with resume keeps the longest run of intact records and cuts the rest off.
 *
 * Memory: the index is an open-addressing table of (hash, offset) pairs, 16 bytes a slot at a
 * load of at most 3/4, holding only the latest ok record for each distinct value vector; the
 * outputs stay on disk and a lookup preads one record. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/hash.h"
#include "../util/names.h"
#include "../util/strbuf.h"
#include "../util/text.h"

#define HEADER_SIZE 48
#define HEADER_MAGIC "PRJOURN1"
#define FORMAT_VERSION 1
#define RECORD_MAGIC 0x4e555250u /* the bytes "PRUN" */
#define RECORD_HEAD 12
#define PAYLOAD_FIXED 17 /* hash, ok, seconds */
#define REASON_MAX 65536
#define VALUES_SEED 0x70726a76616c7565ULL
#define CASE_SEED 0x70726a6361736531ULL
#define MAX_RECORD 0x7fff0000u /* bytes of values and observations: a record stays under 2 GB */
#define READ_CHUNK (1u << 20)

struct slot {
    uint64_t hash;
    uint64_t off; /* 0: empty (offset 0 is the header) */
};

struct journal {
    int fd;
    char *path;
    uint64_t case_id;
    size_t npar, nobs;
    size_t ok_len;   /* payload length of an ok record */
    size_t fail_min; /* payload length of a failed record with an empty reason */
    uint64_t end;    /* file offset after the last record */
    size_t count, count_ok, truncated;
    int broken; /* a failed append could not be cut off again */
    struct slot *slots;
    size_t nslots, used;
    unsigned char *buf; /* one record being written or read */
    size_t bufcap;
    unsigned char *query; /* 8 * npar: the values looked up, as stored */
    unsigned char *cmp;   /* 8 * npar: values read back to compare on insert */
};

/* A sequential reader over the file for the scan at open. */
struct reader {
    int fd;
    uint64_t size; /* of the file */
    uint64_t base; /* file offset of buf[0] */
    size_t len, cap;
    unsigned char *buf;
};

struct record {
    uint32_t len; /* payload */
    int ok;
    uint64_t hash;
    const unsigned char *payload; /* in the reader's buffer, valid until its next read */
};

/* --- little-endian encoding ------------------------------------------------------------------ */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE32(x) __builtin_bswap32(x)
#define LE64(x) __builtin_bswap64(x)
#else
#define LE32(x) (x)
#define LE64(x) (x)
#endif

static void put_u32(unsigned char *p, uint32_t v)
{
    v = LE32(v);
    memcpy(p, &v, sizeof(v));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    v = LE64(v);
    memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return LE32(v);
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return LE64(v);
}

static void put_f64s(unsigned char *p, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof(u));
        put_u64(p + 8 * i, u);
    }
}

static void get_f64s(double *v, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t u = get_u64(p + 8 * i);
        memcpy(&v[i], &u, sizeof(u));
    }
}

/* --- system calls ---------------------------------------------------------------------------- */

/* Read n bytes at off. Returns the number read (fewer only at the end of the file) or -1. */
static ssize_t pread_full(int fd, void *p, size_t n, uint64_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = pread(fd, (char *)p + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* Write all n bytes (retrying interrupted and partial writes). Returns 0 or -1 with errno. */
static int write_full(int fd, const void *p, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = write(fd, (const char *)p + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

static int datasync(int fd)
{
    int rc;

    do
        rc = fdatasync(fd);
    while (rc < 0 && errno == EINTR);
    return rc;
}

/* Make a newly created journal's directory entry durable. Best effort: some file systems
 * refuse fsync on a directory. */
static void sync_parent_dir(const char *path)
{
    char *dir = pr_dirname(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        datasync(fd);
        close(fd);
    }
    free(dir);
}

/* A POSIX record lock against a second master on the same journal (it is not inherited by
 * forked workers). File systems without locking are used unlocked. */
static int lock_journal(struct journal *j, struct pr_error *err)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(j->fd, F_SETLK, &fl) == 0) return 0;
    if (errno != EACCES && errno != EAGAIN) return 0;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(j->fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
        return pr_error_set(err,
                            "%s: the run journal is in use by another pestrun process (pid %ld); "
                            "wait for it to end or choose another journal",
                            j->path, (long)fl.l_pid);
    return pr_error_set(err,
                        "%s: the run journal is in use by another pestrun process; wait for it "
                        "to end or choose another journal",
                        j->path);
}

/* --- the index ------------------------------------------------------------------------------- */

static void ensure_buf(struct journal *j, size_t n)
{
    if (n <= j->bufcap) return;
    j->buf = xrealloc(j->buf, n);
    j->bufcap = n;
}

/* Are the requested values of the record at off equal to values (stored form)? -1: read error. */
static int same_values(struct journal *j, uint64_t off, const unsigned char *values)
{
    size_t n = 8 * j->npar;
    ssize_t got = pread_full(j->fd, j->cmp, n, off + RECORD_HEAD + PAYLOAD_FIXED);

    if (got < 0 || (size_t)got < n) return -1;
    return memcmp(j->cmp, values, n) == 0;
}

static void index_grow(struct journal *j)
{
    size_t n = j->nslots ? 2 * j->nslots : 256;
    struct slot *s = xcalloc(n, sizeof(*s));

    for (size_t i = 0; i < j->nslots; i++) {
        size_t k;
        if (!j->slots[i].off) continue;
        for (k = j->slots[i].hash & (n - 1); s[k].off; k = (k + 1) & (n - 1))
            ;
        s[k] = j->slots[i];
    }
    free(j->slots);
    j->slots = s;
    j->nslots = n;
}

/* Point the entry of these values at off, the latest ok record for them. An entry whose record
 * cannot be read back is kept beside the new one: lookup takes the highest offset that matches. */
static void index_insert(struct journal *j, uint64_t hash, uint64_t off,
                         const unsigned char *values)
{
    size_t mask, i;

    if ((j->used + 1) * 4 > j->nslots * 3) index_grow(j);
    mask = j->nslots - 1;
    for (i = hash & mask; j->slots[i].off; i = (i + 1) & mask) {
        struct slot *s = &j->slots[i];
        if (s->hash == hash && same_values(j, s->off, values) == 1) {
            if (off > s->off) s->off = off;
            return;
        }
    }
    j->slots[i].hash = hash;
    j->slots[i].off = off;
    j->used++;
}

/* --- reading records ------------------------------------------------------------------------- */

/* Make the n bytes at off available in the reader's buffer. Returns 1 (*out set), 0 when the
 * file ends first, -1 on a read error (errno). */
static int reader_get(struct reader *r, uint64_t off, size_t n, const unsigned char **out)
{
    size_t keep = 0, want;
    ssize_t got;

    if (off > r->size || n > r->size - off) return 0;
    if (off >= r->base && off + n <= r->base + r->len) {
        *out = r->buf + (off - r->base);
        return 1;
    }
    if (off >= r->base && off < r->base + r->len) {
        keep = (size_t)(r->base + r->len - off);
        memmove(r->buf, r->buf + (off - r->base), keep);
    }
    r->base = off;
    r->len = keep;
    if (n > r->cap) {
        /* read ahead up to READ_CHUNK bytes, but no more than the file holds */
        uint64_t rest = r->size - off;
        r->cap = rest < READ_CHUNK ? (size_t)rest : READ_CHUNK;
        if (r->cap < n) r->cap = n;
        r->buf = xrealloc(r->buf, r->cap);
    }
    want = r->size - off < r->cap ? (size_t)(r->size - off) : r->cap;
    got = pread_full(r->fd, r->buf + keep, want - keep, off + keep);
    if (got < 0) return -1;
    r->len += (size_t)got;
    if (r->len < n) return 0;
    *out = r->buf;
    return 1;
}

static int length_possible(const struct journal *j, uint32_t len)
{
    return len == j->ok_len || (len >= j->fail_min && len - j->fail_min <= REASON_MAX);
}

/* Does a payload whose CRC matched also make sense: ok flag, length, hash of the values? */
static int payload_consistent(const struct journal *j, const unsigned char *p, uint32_t len)
{
    if (p[8] == 1) {
        if (len != j->ok_len) return 0;
    } else if (p[8] == 0) {
        if (len < j->fail_min || get_u32(p + j->fail_min - 4) != len - j->fail_min) return 0;
    } else {
        return 0;
    }
    return get_u64(p) == pr_hash64(p + PAYLOAD_FIXED, 8 * j->npar, VALUES_SEED);
}

/* Check the record at off. Returns 1 when it is intact (rec filled), 0 when it is torn or
 * damaged, -1 on a read error (errno). */
static int check_record(const struct journal *j, struct reader *r, uint64_t off, struct record *rec)
{
    const unsigned char *p;
    uint32_t len, crc;
    int rc = reader_get(r, off, RECORD_HEAD, &p);

    if (rc <= 0) return rc;
    len = get_u32(p + 4);
    crc = get_u32(p + 8);
    if (get_u32(p) != RECORD_MAGIC || !length_possible(j, len)) return 0;
    rc = reader_get(r, off + RECORD_HEAD, len, &p);
    if (rc <= 0) return rc;
    if (pr_crc32(0, p, len) != crc || !payload_consistent(j, p, len)) return 0;
    rec->len = len;
    rec->ok = p[8];
    rec->hash = get_u64(p);
    rec->payload = p;
    return 1;
}

/* Intact records in the part of the file from `from` on, found by their magic: they follow a
 * damaged record and are dropped with it. Returns the count or -1 on a read error. */
static long count_intact_after(const struct journal *j, struct reader *r, uint64_t from)
{
    unsigned char magic[4];
    long n = 0;
    uint64_t p = from;

    put_u32(magic, RECORD_MAGIC);
    while (p + RECORD_HEAD <= r->size) {
        size_t avail = r->size - p < READ_CHUNK ? (size_t)(r->size - p) : READ_CHUNK;
        const unsigned char *b, *hit;
        struct record rec;
        int rc = reader_get(r, p, avail, &b);

        if (rc < 0) return -1;
        if (rc == 0) break;
        hit = memmem(b, avail, magic, sizeof(magic));
        if (!hit) {
            p += avail - (sizeof(magic) - 1);
            continue;
        }
        p += (uint64_t)(hit - b);
        rc = check_record(j, r, p, &rec);
        if (rc < 0) return -1;
        p += rc ? RECORD_HEAD + rec.len : 1;
        n += rc;
    }
    return n;
}

/* Index the records after the header; cut a torn or damaged tail off. */
static int scan_records(struct journal *j, uint64_t size, struct pr_error *err)
{
    struct reader r = {j->fd, size, 0, 0, 0, NULL};
    struct record rec;
    uint64_t off = HEADER_SIZE;
    int rc, e = 0;

    while ((rc = check_record(j, &r, off, &rec)) == 1) {
        j->count++;
        if (rec.ok) {
            j->count_ok++;
            index_insert(j, rec.hash, off, rec.payload + PAYLOAD_FIXED);
        }
        off += RECORD_HEAD + rec.len;
    }
    if (rc == 0 && off < size) {
        long after = count_intact_after(j, &r, off + 1);
        if (after < 0)
            rc = -1;
        else
            j->truncated = 1 + (size_t)after;
    }
    if (rc < 0) e = errno;
    free(r.buf);
    if (rc < 0)
        return pr_error_set(err, "%s: cannot read the run journal: %s", j->path, strerror(e));
    j->end = off;
    if (off < size && (ftruncate(j->fd, (off_t)off) < 0 || datasync(j->fd) < 0))
        return pr_error_set(err, "%s: cannot cut off the damaged end of the run journal: %s",
                            j->path, strerror(errno));
    return 0;
}

static void build_header(const struct journal *j, unsigned char *h)
{
    memset(h, 0, HEADER_SIZE);
    memcpy(h, HEADER_MAGIC, 8);
    put_u32(h + 8, FORMAT_VERSION);
    put_u64(h + 16, j->case_id);
    put_u64(h + 24, j->npar);
    put_u64(h + 32, j->nobs);
    put_u32(h + 40, pr_crc32(0, h, 40));
}

/* Check the header of an existing journal and index its records. Returns 0, 1 when the file
 * holds only the beginning of this case's header (torn while it was created), -1 on error. */
static int load(struct journal *j, uint64_t size, struct pr_error *err)
{
    unsigned char h[HEADER_SIZE], want[HEADER_SIZE];
    ssize_t got = pread_full(j->fd, h, HEADER_SIZE, 0);

    if (got < 0)
        return pr_error_set(err, "%s: cannot read the run journal: %s", j->path, strerror(errno));
    build_header(j, want);
    if (got < HEADER_SIZE && memcmp(h, want, (size_t)got) == 0) return 1;
    if (got < HEADER_SIZE || memcmp(h, HEADER_MAGIC, 8) != 0)
        return pr_error_set(err,
                            "%s: not a pestrun run journal (it does not start with a %s "
                            "header); check the journal path",
                            j->path, HEADER_MAGIC);
    if (get_u32(h + 40) != pr_crc32(0, h, 40))
        return pr_error_set(err,
                            "%s: the run journal's header is damaged (checksum mismatch); "
                            "remove it or start without --resume",
                            j->path);
    if (get_u32(h + 8) != FORMAT_VERSION)
        return pr_error_set(err,
                            "%s: run journal format version %u is not the one this pestrun "
                            "reads (%d); remove it or start without --resume",
                            j->path, (unsigned)get_u32(h + 8), FORMAT_VERSION);
    if (memcmp(h, want, HEADER_SIZE) != 0)
        return pr_error_set(
            err,
            "%s: this journal belongs to another case (journal: case id %016llx, "
            "%llu parameters, %llu observations; this case: case id %016llx, "
            "%zu parameters, %zu observations); remove it or start without "
            "--resume",
            j->path, (unsigned long long)get_u64(h + 16), (unsigned long long)get_u64(h + 24),
            (unsigned long long)get_u64(h + 32), (unsigned long long)j->case_id, j->npar, j->nobs);
    return scan_records(j, size, err);
}

/* Empty the file and write the header. */
static int start_new(struct journal *j, struct pr_error *err)
{
    unsigned char h[HEADER_SIZE];

    build_header(j, h);
    if (ftruncate(j->fd, 0) < 0 || write_full(j->fd, h, HEADER_SIZE) < 0)
        return pr_error_set(err, "%s: cannot write the run journal: %s", j->path, strerror(errno));
    j->end = HEADER_SIZE;
    sync_parent_dir(j->path);
    return 0;
}

/* --- the interface --------------------------------------------------------------------------- */

struct journal *journal_open(const char *path, uint64_t case_id, size_t npar, size_t nobs,
                             int resume, struct pr_error *err)
{
    struct journal *j;
    struct stat st;
    int rc = 0;

    if (!path || !*path) {
        pr_error_set(err, "journal_open: no journal path given");
        return NULL;
    }
    if (resume != 0 && resume != 1) {
        pr_error_set(err, "%s: journal_open: resume must be 0 or 1, not %d", path, resume);
        return NULL;
    }
    if (npar > MAX_RECORD / 16 || nobs > MAX_RECORD / 8 ||
        16 * (uint64_t)npar + 8 * (uint64_t)nobs > MAX_RECORD) {
        pr_error_set(err, "%s: %zu parameters and %zu observations are too many for a run journal",
                     path, npar, nobs);
        return NULL;
    }
    j = xcalloc(1, sizeof(*j));
    j->fd = -1;
    j->path = xstrdup(path);
    j->case_id = case_id;
    j->npar = npar;
    j->nobs = nobs;
    j->ok_len = PAYLOAD_FIXED + 16 * npar + 8 * nobs;
    j->fail_min = PAYLOAD_FIXED + 8 * npar + 4;
    j->query = xmalloc(8 * npar + 1);
    j->cmp = xmalloc(8 * npar + 1);
    ensure_buf(j, RECORD_HEAD + j->ok_len);
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        pr_error_set(err, "%s: cannot open the run journal: %s", path, strerror(errno));
        goto error;
    }
    if (fstat(j->fd, &st) < 0) {
        pr_error_set(err, "%s: cannot open the run journal: %s", path, strerror(errno));
        goto error;
    }
    if (!S_ISREG(st.st_mode)) {
        pr_error_set(err, "%s: the run journal must be a regular file", path);
        goto error;
    }
    if (lock_journal(j, err) < 0) goto error;
    if (resume && st.st_size > 0) rc = load(j, (uint64_t)st.st_size, err);
    if (rc < 0) goto error;
    if ((!resume || st.st_size == 0 || rc == 1) && start_new(j, err) < 0) goto error;
    return j;
error:
    journal_close(j);
    return NULL;
}

void journal_close(struct journal *j)
{
    int saved = errno;

    if (!j) return;
    if (j->fd >= 0) {
        datasync(j->fd);
        close(j->fd);
    }
    free(j->slots);
    free(j->buf);
    free(j->query);
    free(j->cmp);
    free(j->path);
    free(j);
    errno = saved;
}

size_t journal_count(const struct journal *j)
{
    return j ? j->count : 0;
}

size_t journal_count_ok(const struct journal *j)
{
    return j ? j->count_ok : 0;
}

size_t journal_truncated(const struct journal *j)
{
    return j ? j->truncated : 0;
}

/* Read the ok record at off into j->buf and check it. */
static int load_ok_record(struct journal *j, uint64_t off, struct pr_error *err)
{
    size_t n = RECORD_HEAD + j->ok_len;
    ssize_t got = pread_full(j->fd, j->buf, n, off);
    const unsigned char *p = j->buf + RECORD_HEAD;

    if (got < 0)
        return pr_error_set(err, "%s: cannot read the run journal: %s", j->path, strerror(errno));
    if ((size_t)got < n)
        return pr_error_set(err,
                            "%s: the run at offset %llu is cut short (has another program "
                            "changed the journal?)",
                            j->path, (unsigned long long)off);
    if (get_u32(j->buf) != RECORD_MAGIC || get_u32(j->buf + 4) != j->ok_len ||
        get_u32(j->buf + 8) != pr_crc32(0, p, j->ok_len) || p[8] != 1)
        return pr_error_set(err,
                            "%s: the run at offset %llu is damaged (checksum mismatch); remove "
                            "the journal or start without --resume",
                            j->path, (unsigned long long)off);
    return 0;
}

int journal_lookup(struct journal *j, const double *values, double *processed, double *obs,
                   double *seconds, struct pr_error *err)
{
    size_t n, mask, i;
    uint64_t hash, best = 0;
    int in_buf = 0;
    const unsigned char *p;

    if (!j || !values) return pr_error_set(err, "journal_lookup: no journal or no values given");
    n = 8 * j->npar;
    put_f64s(j->query, values, j->npar);
    hash = pr_hash64(j->query, n, VALUES_SEED);
    if (!j->nslots) return 0;
    mask = j->nslots - 1;
    for (i = hash & mask; j->slots[i].off; i = (i + 1) & mask) {
        uint64_t off = j->slots[i].off;
        if (j->slots[i].hash != hash || off <= best) continue;
        if (load_ok_record(j, off, err) < 0) return -1;
        in_buf = memcmp(j->buf + RECORD_HEAD + PAYLOAD_FIXED, j->query, n) == 0;
        if (in_buf) best = off;
    }
    if (!best) return 0;
    if (!in_buf && load_ok_record(j, best, err) < 0) return -1;
    p = j->buf + RECORD_HEAD;
    if (seconds) get_f64s(seconds, p + 9, 1);
    if (processed) get_f64s(processed, p + PAYLOAD_FIXED + n, j->npar);
    if (obs) get_f64s(obs, p + PAYLOAD_FIXED + 2 * n, j->nobs);
    return 1;
}

/* Bytes of the reason to store: at most REASON_MAX, not ending inside a UTF-8 sequence. */
static size_t reason_length(const char *reason)
{
    size_t n;

    if (!reason) return 0;
    n = strnlen(reason, REASON_MAX + 1);
    if (n <= REASON_MAX) return n;
    n = REASON_MAX;
    while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
        n--;
    return n;
}

int journal_append(struct journal *j, const double *values, int ok, const double *processed,
                   const double *obs, double seconds, const char *reason, struct pr_error *err)
{
    size_t n, rlen = 0, len;
    unsigned char *p;
    uint64_t hash;

    if (!j || !values) return pr_error_set(err, "journal_append: no journal or no values given");
    if (ok != 0 && ok != 1)
        return pr_error_set(err, "%s: journal_append: ok must be 0 or 1, not %d", j->path, ok);
    if (ok && ((!processed && j->npar) || (!obs && j->nobs)))
        return pr_error_set(err,
                            "%s: journal_append: a successful run needs its processed "
                            "values and observations",
                            j->path);
    if (j->broken)
        return pr_error_set(err,
                            "%s: an earlier failed write to the run journal could not be undone; "
                            "no more runs are appended",
                            j->path);
    n = 8 * j->npar;
    if (!ok) rlen = reason_length(reason);
    len = ok ? j->ok_len : j->fail_min + rlen;
    ensure_buf(j, RECORD_HEAD + len);
    p = j->buf + RECORD_HEAD;
    put_f64s(p + PAYLOAD_FIXED, values, j->npar);
    hash = pr_hash64(p + PAYLOAD_FIXED, n, VALUES_SEED);
    put_u64(p, hash);
    p[8] = (unsigned char)ok;
    put_f64s(p + 9, &seconds, 1);
    if (ok) {
        put_f64s(p + PAYLOAD_FIXED + n, processed, j->npar);
        put_f64s(p + PAYLOAD_FIXED + 2 * n, obs, j->nobs);
    } else {
        put_u32(p + j->fail_min - 4, (uint32_t)rlen);
        if (rlen) memcpy(p + j->fail_min, reason, rlen);
    }
    put_u32(j->buf, RECORD_MAGIC);
    put_u32(j->buf + 4, (uint32_t)len);
    put_u32(j->buf + 8, pr_crc32(0, p, len));
    if (write_full(j->fd, j->buf, RECORD_HEAD + len) < 0) {
        int e = errno;
        /* leave no torn record in front of later appends */
        if (ftruncate(j->fd, (off_t)j->end) < 0) j->broken = 1;
        return pr_error_set(err, "%s: cannot append a run to the journal: %s", j->path,
                            strerror(e));
    }
    if (ok) {
        index_insert(j, hash, j->end, p + PAYLOAD_FIXED);
        j->count_ok++;
    }
    j->count++;
    j->end += RECORD_HEAD + len;
    return 0;
}

int journal_sync(struct journal *j, struct pr_error *err)
{
    if (!j) return pr_error_set(err, "journal_sync: no journal given");
    if (datasync(j->fd) < 0)
        return pr_error_set(err, "%s: cannot sync the run journal: %s", j->path, strerror(errno));
    return 0;
}

uint64_t journal_case_id(const char *const *par_names, size_t npar, const char *const *obs_names,
                         size_t nobs)
{
    unsigned char count[8];
    uint64_t h = CASE_SEED;

    /* counts first and a NUL after each name: the encoding is unambiguous */
    put_u64(count, npar);
    h = pr_hash64(count, sizeof(count), h);
    for (size_t i = 0; i < npar; i++) {
        const char *s = par_names && par_names[i] ? par_names[i] : "";
        h = pr_hash64(s, strlen(s) + 1, h);
    }
    put_u64(count, nobs);
    h = pr_hash64(count, sizeof(count), h);
    for (size_t i = 0; i < nobs; i++) {
        const char *s = obs_names && obs_names[i] ? obs_names[i] : "";
        h = pr_hash64(s, strlen(s) + 1, h);
    }
    return h;
}

uint64_t journal_case_id_names(const struct names *params, const struct names *obs)
{
    size_t np = names_count(params), no = names_count(obs);
    const char **pn = xcalloc(np + 1, sizeof(char *)), **on = xcalloc(no + 1, sizeof(char *));
    for (size_t i = 0; i < np; i++)
        pn[i] = names_get(params, i);
    for (size_t i = 0; i < no; i++)
        on[i] = names_get(obs, i);
    uint64_t id = journal_case_id(pn, np, on, no);
    free(pn);
    free(on);
    return id;
}

int journal_read_times(const char *path, double **times, size_t *n, struct pr_error *err)
{
    unsigned char h[HEADER_SIZE];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *times = NULL;
    *n = 0;
    if (fd < 0)
        return pr_error_set(err, "%s: cannot open the run journal: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || pread_full(fd, h, HEADER_SIZE, 0) != HEADER_SIZE ||
        memcmp(h, HEADER_MAGIC, 8) != 0 || get_u32(h + 40) != pr_crc32(0, h, 40) ||
        get_u32(h + 8) != FORMAT_VERSION) {
        close(fd);
        return pr_error_set(err, "%s: not a pestrun run journal (no intact %s header)", path,
                            HEADER_MAGIC);
    }
    struct journal j;
    memset(&j, 0, sizeof(j));
    j.npar = (size_t)get_u64(h + 24);
    j.nobs = (size_t)get_u64(h + 32);
    if (j.npar > MAX_RECORD / 16 || j.nobs > MAX_RECORD / 8) {
        close(fd);
        return pr_error_set(err, "%s: the run journal's header is not plausible", path);
    }
    j.ok_len = PAYLOAD_FIXED + 16 * j.npar + 8 * j.nobs;
    j.fail_min = PAYLOAD_FIXED + 8 * j.npar + 4;
    struct reader r = {fd, (uint64_t)st.st_size, 0, 0, 0, NULL};
    struct record rec;
    uint64_t off = HEADER_SIZE;
    size_t cap = 0;
    int rc;
    while ((rc = check_record(&j, &r, off, &rec)) == 1) {
        if (rec.ok) {
            double s;
            get_f64s(&s, rec.payload + 9, 1);
            if (*n == cap) {
                cap = cap ? cap * 2 : 256;
                *times = xrealloc(*times, cap * sizeof(double));
            }
            (*times)[(*n)++] = s;
        }
        off += RECORD_HEAD + rec.len;
    }
    int e = errno;
    free(r.buf);
    close(fd);
    if (rc < 0) {
        free(*times);
        *times = NULL;
        *n = 0;
        return pr_error_set(err, "%s: cannot read the run journal: %s", path, strerror(e));
    }
    return 0;
}
