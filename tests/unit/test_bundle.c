/* Model bundles: a case folder packs and extracts into an identical tree, packing is
 * deterministic (mtimes and creation order do not matter), excludes work, links leaving the
 * folder are refused when packing, and hostile archives are refused on extraction with a
 * message naming the entry, nothing written outside and no destination left behind.
 * With PESTRUN_BUNDLE_SEEDS=DIR set, the fuzzer's seed archives are written to DIR. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "transport/sqs/bundle.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return pr_path_join(tmpdir, name);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void put(const char *root, const char *rel, const char *data, size_t len, mode_t mode)
{
    struct pr_error err;
    char *p = pr_path_join(root, rel);

    if (pr_write_file(p, data, len, &err) < 0) printf("setup: %s\n", err.msg);
    chmod(p, mode);
    free(p);
}

static void put_dir(const char *root, const char *rel, mode_t mode)
{
    char *p = pr_path_join(root, rel);
    mkdir(p, 0755);
    chmod(p, mode);
    free(p);
}

static void put_link(const char *root, const char *rel, const char *target)
{
    char *p = pr_path_join(root, rel);
    if (symlink(target, p) < 0) printf("setup: %s: %s\n", p, strerror(errno));
    free(p);
}

#define LONG_DIR "a_folder_name_long_enough_that_ustar_cannot_hold_the_whole_path_in_its_name"
#define LONG_NAME                                                                                  \
    LONG_DIR "/and_a_file_name_long_enough_too_so_pax_records_are_needed_0123456789.dat"

/* A small model case. reverse creates the same files in the opposite order (so the folders
 * list them in another order). */
static void make_case(const char *root, int reverse)
{
    static char heads[100000];
    for (size_t i = 0; i < sizeof(heads); i++)
        heads[i] = (char)("0123456789 .E+-\n"[(i * 7919u + i / 13) % 16]);

    mkdir(root, 0755);
    for (int k = 0; k < 3; k++) {
        int step = reverse && k < 2 ? 1 - k : k;
        if (step == 0) {
            put_dir(root, "data", 0755);
            put_dir(root, "data/sub", 0750);
            put(root, "data/heads.dat", heads, sizeof(heads), 0644);
            put(root, "data/sub/k.txt", "1.0e-4\n", 7, 0600);
            put_dir(root, "empty", 0700);
            put_dir(root, LONG_DIR, 0755);
            put(root, LONG_NAME, "x", 1, 0644);
        } else if (step == 1) {
            put(root, "model.nam", "BAS6 1 model.bas\n", 17, 0644);
            put(root, "run.sh", "#!/bin/sh\nexit 0\n", 17, 0755);
            put(root, "readonly.txt", "keep\n", 5, 0444);
            put(root, "zero.bin", "", 0, 0644);
        } else {
            put_link(root, "heads", "data/heads.dat");
            put_link(root, "data/sub/up", "../../model.nam");
            put_link(root, "long", LONG_NAME);
        }
    }
}

/* Same types, permission bits, bytes and link targets under a and b, entry for entry. */
static int same_tree(const char *a, const char *b)
{
    struct stat sa, sb;
    struct pr_error err;
    int same = 1, na = 0, nb = 0;
    DIR *d;
    struct dirent *e;

    if (lstat(a, &sa) < 0 || lstat(b, &sb) < 0) return 0;
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) return 0;
    if (!S_ISLNK(sa.st_mode) && (sa.st_mode & 0777) != (sb.st_mode & 0777)) {
        printf("mode of %s: %o != %o\n", b, sa.st_mode & 0777, sb.st_mode & 0777);
        return 0;
    }
    if (S_ISLNK(sa.st_mode)) {
        char ta[4096] = {0}, tb[4096] = {0};
        return readlink(a, ta, sizeof(ta) - 1) > 0 && readlink(b, tb, sizeof(tb) - 1) > 0 &&
               strcmp(ta, tb) == 0;
    }
    if (S_ISREG(sa.st_mode)) {
        size_t la, lb;
        char *da = pr_read_file(a, &la, &err), *db = pr_read_file(b, &lb, &err);
        same = da && db && la == lb && memcmp(da, db, la) == 0;
        free(da);
        free(db);
        return same;
    }
    if ((d = opendir(b))) {
        while ((e = readdir(d)))
            nb += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
        closedir(d);
    }
    if (!(d = opendir(a))) return 0;
    while (same && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *ca = pr_path_join(a, e->d_name), *cb = pr_path_join(b, e->d_name);
        na++;
        same = same_tree(ca, cb);
        if (!same) printf("differs: %s\n", cb);
        free(ca);
        free(cb);
    }
    closedir(d);
    return same && na == nb;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[32];
    unsigned n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, data, len);
    EVP_DigestFinal_ex(md, d, &n);
    EVP_MD_CTX_free(md);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* --- 1. round trip --------------------------------------------------------------------------- */

static void test_roundtrip(void)
{
    struct pr_error err = {{0}};
    struct bundle_info info;
    char *src = tmp_path("rt"), *out = tmp_path("rt.bundle"), *dest = tmp_path("rt.out");
    char *dest2 = tmp_path("rt.mem"), *data, hex[65];
    size_t len;
    int rc;

    make_case(src, 0);
    rc = bundle_pack(src, NULL, 0, out, &info, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc < 0) goto done;
    CHECK_STR(info.ext, ".tar.zst");
    CHECK(info.files == 14);
    CHECK(info.bytes == 100000 + 7 + 1 + 17 + 17 + 5);
    data = pr_read_file(out, &len, &err);
    CHECK(data && info.archive_bytes == len);
    sha256_hex(data, len, hex);
    CHECK_STR(info.sha256, hex);
    CHECK(info.archive_bytes < 20000);

    rc = bundle_extract(out, dest, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(same_tree(src, dest));
    CHECK(access(dest, F_OK) == 0);
    rc = bundle_extract_mem(data, len, dest2, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(same_tree(src, dest2));
    /* only the destinations: no temporary folder left next to them */
    {
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        int stray = 0;
        while ((e = readdir(d)))
            stray += strstr(e->d_name, ".tmp-") != NULL;
        closedir(d);
        CHECK(stray == 0);
    }
    /* an existing destination is refused and left alone */
    CHECK(bundle_extract(out, dest, NULL, &err) == -1 && strstr(err.msg, "already exists"));
    CHECK(same_tree(src, dest));
    free(data);
done:
    free(src);
    free(out);
    free(dest);
    free(dest2);
}

#define HEADS_UTF8 "h\xc3\xa9" /* split: "\xa9a" would be one escape */ "ads \xc3\xbc.dat"

/* Names that are not ASCII go in as their bytes, whatever the locale (this one is "C"). */
static void test_non_ascii(void)
{
    struct pr_error err = {{0}};
    struct bundle_info i1, i2;
    char *src = tmp_path("na"), *out = tmp_path("na.b"), *dest = tmp_path("na.out");

    mkdir(src, 0755);
    put(src, HEADS_UTF8, "1 2 3\n", 6, 0644);
    put(src, "latin1-\xe9.txt", "x", 1, 0644);
    put_link(src, "l\xc3\xa9", HEADS_UTF8);
    CHECK_MSG(bundle_pack(src, NULL, 0, out, &i1, &err) == 0, "%s", err.msg);
    CHECK_MSG(bundle_pack(src, NULL, 0, out, &i2, &err) == 0, "%s", err.msg);
    CHECK_STR(i1.sha256, i2.sha256);
    CHECK_MSG(bundle_extract(out, dest, NULL, &err) == 0, "%s", err.msg);
    CHECK(same_tree(src, dest));
    free(src);
    free(out);
    free(dest);
}

/* --- 2. deterministic ------------------------------------------------------------------------ */

static void touch_all(const char *root)
{
    const char *names[] = {"model.nam",      "run.sh", "data", "data/heads.dat",
                           "data/sub/k.txt", "empty",  "heads"};
    struct timeval tv[2] = {{1000000000, 5}, {1234567890, 77}};

    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        char *p = pr_path_join(root, names[i]);
        lutimes(p, tv);
        free(p);
    }
}

static void test_deterministic(void)
{
    struct pr_error err = {{0}};
    struct bundle_info i1, i2, i3, i4;
    char *src = tmp_path("det"), *copy = tmp_path("det.copy");
    char *o1 = tmp_path("det1.b"), *o2 = tmp_path("det2.b"), *o3 = tmp_path("det3.b");
    char *o4 = tmp_path("det4.b"), *d1, *d2, *d3;
    size_t l1, l2, l3;

    make_case(src, 0);
    make_case(copy, 1);
    CHECK_MSG(bundle_pack(src, NULL, 0, o1, &i1, &err) == 0, "%s", err.msg);
    sleep(1);
    touch_all(src);
    CHECK_MSG(bundle_pack(src, NULL, 0, o2, &i2, &err) == 0, "%s", err.msg);
    CHECK_MSG(bundle_pack(copy, NULL, 0, o3, &i3, &err) == 0, "%s", err.msg);
    CHECK_STR(i1.sha256, i2.sha256);
    CHECK_STR(i1.sha256, i3.sha256);
    d1 = pr_read_file(o1, &l1, &err);
    d2 = pr_read_file(o2, &l2, &err);
    d3 = pr_read_file(o3, &l3, &err);
    CHECK(d1 && d2 && d3 && l1 == l2 && l1 == l3);
    CHECK(d1 && d2 && d3 && memcmp(d1, d2, l1) == 0 && memcmp(d1, d3, l1) == 0);
    /* one byte or one mode more and the name changes */
    put(copy, "model.nam", "BAS6 1 model.bas\n", 17, 0640);
    CHECK_MSG(bundle_pack(copy, NULL, 0, o4, &i4, &err) == 0, "%s", err.msg);
    CHECK(strcmp(i1.sha256, i4.sha256) != 0);
    free(d1);
    free(d2);
    free(d3);
    free(src);
    free(copy);
    free(o1);
    free(o2);
    free(o3);
    free(o4);
}

/* --- 3. excludes and what packing refuses ---------------------------------------------------- */

static void test_excludes(void)
{
    struct pr_error err = {{0}};
    struct bundle_info info, again;
    const char *ex[] = {"run.sh", "./data/sub/", "no/such/file"};
    const char *bad[] = {"../elsewhere"};
    char *src = tmp_path("ex"), *out = tmp_path("ex.b"), *dest = tmp_path("ex.out");
    char *inside = tmp_path("ex/bundle.tar.zst"), *p;

    make_case(src, 0);
    CHECK_MSG(bundle_pack(src, ex, 3, out, &info, &err) == 0, "%s", err.msg);
    CHECK_MSG(bundle_extract(out, dest, NULL, &err) == 0, "%s", err.msg);
    p = pr_path_join(dest, "run.sh");
    CHECK(!exists(p));
    free(p);
    p = pr_path_join(dest, "data/sub");
    CHECK(!exists(p));
    free(p);
    p = pr_path_join(dest, "data/heads.dat");
    CHECK(exists(p));
    free(p);
    CHECK(info.files == 10);

    CHECK(bundle_pack(src, bad, 1, out, &info, &err) == -1 && strstr(err.msg, "../elsewhere"));
    /* a bundle written inside the folder is not packed into the next one */
    CHECK_MSG(bundle_pack(src, ex, 3, inside, &info, &err) == 0, "%s", err.msg);
    CHECK_MSG(bundle_pack(src, ex, 3, inside, &again, &err) == 0, "%s", err.msg);
    CHECK_STR(info.sha256, again.sha256);
    free(src);
    free(out);
    free(dest);
    free(inside);
}

static void test_pack_refuses(void)
{
    struct pr_error err = {{0}};
    struct bundle_info info;
    char *src = tmp_path("pr"), *out = tmp_path("pr.b"), *fifo = tmp_path("pr/pipe");

    mkdir(src, 0755);
    put(src, "a.txt", "a", 1, 0644);
    CHECK(mkfifo(fifo, 0644) == 0);
    CHECK_MSG(bundle_pack(src, NULL, 0, out, &info, &err) == 0, "%s", err.msg);
    CHECK(info.files == 1); /* the fifo is left out */

    put_link(src, "etc", "/etc");
    CHECK(bundle_pack(src, NULL, 0, out, &info, &err) == -1 && strstr(err.msg, "pr/etc") &&
          strstr(err.msg, "outside the folder"));
    {
        char *p = pr_path_join(src, "etc");
        unlink(p);
        free(p);
    }
    put_link(src, "up", "../pr.b");
    CHECK(bundle_pack(src, NULL, 0, out, &info, &err) == -1 && strstr(err.msg, "pr/up"));
    {
        const char *ex[] = {"up"};
        CHECK_MSG(bundle_pack(src, ex, 1, out, &info, &err) == 0, "%s", err.msg);
    }
    {
        char *p = pr_path_join(src, "up");
        unlink(p);
        free(p);
    }
    /* each text stays inside, but followed on disk esc leaves */
    put_dir(src, "d", 0755);
    put_link(src, "d/up", "..");
    put_link(src, "esc", "d/up/..");
    CHECK(bundle_pack(src, NULL, 0, out, &info, &err) == -1 && strstr(err.msg, "pr/esc"));
    free(src);
    free(out);
    free(fifo);
}

/* --- 4. hostile archives --------------------------------------------------------------------- */

struct ent {
    const char *path;
    mode_t type;        /* AE_IFREG when 0 */
    const char *target; /* symbolic link target, or the hard link's source */
    size_t size;        /* bytes of 'x' */
};

/* An archive of the entries, in memory: format a pax tar unless zip; gz with gzip. */
static char *build(const struct ent *e, size_t n, int zip, int gz, size_t *len)
{
    struct archive *a = archive_write_new();
    size_t cap = 4 << 20, used = 0;
    char *buf = malloc(cap), *data = NULL;
    struct archive_entry *ae = archive_entry_new();

    if (zip)
        archive_write_set_format_zip(a);
    else
        archive_write_set_format_pax_restricted(a);
    if (gz) archive_write_add_filter_gzip(a);
    archive_write_open_memory(a, buf, cap, &used);
    for (size_t i = 0; i < n; i++) {
        mode_t type = e[i].type ? e[i].type : AE_IFREG;
        archive_entry_clear(ae);
        archive_entry_set_pathname(ae, e[i].path);
        archive_entry_set_filetype(ae, type);
        archive_entry_set_perm(ae, type == AE_IFDIR ? 0744 : 0644);
        if (type == AE_IFLNK) archive_entry_set_symlink(ae, e[i].target);
        if (type == AE_IFREG && e[i].target) archive_entry_set_hardlink(ae, e[i].target);
        if (type == AE_IFCHR) archive_entry_set_rdev(ae, makedev(1, 3));
        if (zip && type == AE_IFREG)
            archive_entry_unset_size(ae); /* streamed: the size follows the data */
        else
            archive_entry_set_size(ae, type == AE_IFREG ? (la_int64_t)e[i].size : 0);
        if (archive_write_header(a, ae) < ARCHIVE_WARN)
            printf("build %s: %s\n", e[i].path, archive_error_string(a));
        if (e[i].size) {
            data = realloc(data, e[i].size);
            memset(data, 'x', e[i].size);
            archive_write_data(a, data, e[i].size);
        }
    }
    archive_write_close(a);
    archive_write_free(a);
    archive_entry_free(ae);
    free(data);
    *len = used;
    return buf;
}

/* The archive is refused with a message holding want; nothing is left in the folder it
 * was extracted into (no dest, no temporary folder, no file an entry aimed outside). */
static void expect_refused(const char *what, const char *buf, size_t len,
                           const struct bundle_limits *lim, const char *want)
{
    struct pr_error err = {{0}};
    char *box = tmp_path("box"), *dest = tmp_path("box/dest");
    DIR *d;
    struct dirent *e;
    int left = 0;

    mkdir(box, 0755);
    CHECK_MSG(bundle_extract_mem(buf, len, dest, lim, &err) == -1, "%s was extracted", what);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s: '%s' has no '%s'", what, err.msg, want);
    CHECK_MSG(!exists(dest), "%s: dest is left", what);
    d = opendir(box);
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            printf("%s: left %s\n", what, e->d_name);
            left++;
        }
    if (d) closedir(d);
    CHECK_MSG(left == 0, "%s", what);
    free(box);
    free(dest);
}

static void refuse_entries(const char *what, const struct ent *e, size_t n, const char *want)
{
    size_t len;
    char *buf = build(e, n, 0, 0, &len);
    expect_refused(what, buf, len, NULL, want);
    free(buf);
}

#define REFUSE(what, want, ...)                                                                    \
    do {                                                                                           \
        const struct ent list_[] = {__VA_ARGS__};                                                  \
        refuse_entries(what, list_, sizeof(list_) / sizeof(*list_), want);                         \
    } while (0)

static void test_hostile_paths(void)
{
    char abs_evil[512];

    snprintf(abs_evil, sizeof(abs_evil), "%s/box/evil", tmpdir);
    REFUSE("absolute", "an absolute path", {"ok.txt", 0, NULL, 3}, {abs_evil, 0, NULL, 3});
    REFUSE("dotdot", "bundle entry '../evil': a '..' component leaves the folder",
           {"../evil", 0, NULL, 3});
    REFUSE("deep dotdot", "bundle entry 'a/../../evil': a '..' component",
           {"a/", AE_IFDIR, NULL, 0}, {"a/../../evil", 0, NULL, 3});
    REFUSE("inner dotdot", "'..'", {"a/../b", 0, NULL, 3});
    REFUSE("link to /etc", "bundle entry 'etc': symbolic link to '/etc' has an absolute target",
           {"etc", AE_IFLNK, "/etc", 0});
    REFUSE("link up", "bundle entry 'a/x': symbolic link to '../../y' leaves the folder",
           {"a", AE_IFDIR, NULL, 0}, {"a/x", AE_IFLNK, "../../y", 0});
    REFUSE("write through absolute link", "bundle entry 'link': symbolic link to",
           {"link", AE_IFLNK, "/tmp", 0}, {"link/evil", 0, NULL, 3});
    REFUSE("write through link",
           "bundle entry 'link/evil': the path goes through the symbolic "
           "link 'link'",
           {"sub", AE_IFDIR, NULL, 0}, {"link", AE_IFLNK, "sub", 0}, {"link/evil", 0, NULL, 3});
    REFUSE("links chained out", "bundle entry 'esc': symbolic link leaves the folder through",
           {"d", AE_IFDIR, NULL, 0}, {"d/up", AE_IFLNK, "..", 0}, {"esc", AE_IFLNK, "d/up/..", 0});
    REFUSE("link loop", "too many levels", {"l1", AE_IFLNK, "l2", 0}, {"l2", AE_IFLNK, "l1", 0});
    REFUSE("hard link", "bundle entry 'h': a hard link is not allowed", {"f", 0, NULL, 3},
           {"h", 0, "f", 0});
    REFUSE("fifo", "bundle entry 'p': a fifo is not allowed", {"p", AE_IFIFO, NULL, 0});
    REFUSE("device", "bundle entry 'null': a device is not allowed", {"null", AE_IFCHR, NULL, 0});
    REFUSE("twice", "bundle entry 'f': appears twice", {"f", 0, NULL, 3}, {"f", 0, NULL, 4});
    REFUSE("file over folder", "appears twice", {"f/", AE_IFDIR, NULL, 0}, {"f", 0, NULL, 4});
    REFUSE("empty name", "an empty name", {"", 0, NULL, 3});
}

static void test_hostile_sizes(void)
{
    struct bundle_limits small = {1000, 10};
    struct ent many[20], big[] = {{"big.dat", 0, NULL, 1 << 20}};
    char names[20][16], *buf, *cut;
    size_t len;

    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "f%02d", i);
        many[i] = (struct ent){names[i], 0, NULL, 1};
    }
    buf = build(many, 20, 0, 0, &len);
    expect_refused("entries", buf, len, &small, "bundle entry 'f10': more than 10 entries");
    free(buf);
    buf = build(big, 1, 0, 1, &len);
    expect_refused("bytes", buf, len, &small, "bundle entry 'big.dat': more than 1000 bytes");
    free(buf);
    /* no size in the header: the bytes are counted as they arrive */
    buf = build(big, 1, 1, 0, &len);
    expect_refused("zip stream", buf, len, &small, "bundle entry 'big.dat': more than 1000 bytes");
    free(buf);
    /* a header promising more bytes than the archive holds */
    big[0].size = 4000;
    buf = build(big, 1, 0, 0, &len);
    cut = malloc(len);
    memcpy(cut, buf, len);
    expect_refused("truncated", cut, 512 + 1000, NULL, "big.dat");
    free(cut);
    free(buf);
}

/* A tar made with "tar -C dir ." names entries "./x" and has "./" itself. */
static void test_dot_entries(void)
{
    const struct ent e[] = {{"./", AE_IFDIR, NULL, 0},
                            {"./a", AE_IFDIR, NULL, 0},
                            {"./a/b.txt", 0, NULL, 5},
                            {".//a/./c", AE_IFLNK, "b.txt", 0}};
    struct pr_error err = {{0}};
    char *dest = tmp_path("dots"), *p = tmp_path("dots/a/c");
    size_t len, n;
    char *buf = build(e, 4, 0, 1, &len), *data;

    CHECK_MSG(bundle_extract_mem(buf, len, dest, NULL, &err) == 0, "%s", err.msg);
    data = pr_read_file(p, &n, &err);
    CHECK(data && n == 5 && memcmp(data, "xxxxx", 5) == 0);
    free(data);
    free(buf);
    /* a folder listed after its files */
    {
        const struct ent late[] = {{"a/b.txt", 0, NULL, 2}, {"a", AE_IFDIR, NULL, 0}};
        char *dest2 = tmp_path("late"), *a = tmp_path("late/a");
        struct stat st;
        buf = build(late, 2, 0, 0, &len);
        CHECK_MSG(bundle_extract_mem(buf, len, dest2, NULL, &err) == 0, "%s", err.msg);
        CHECK(stat(a, &st) == 0 && (st.st_mode & 0777) == 0744);
        free(buf);
        free(dest2);
        free(a);
    }
    free(dest);
    free(p);
}

/* --- 5. bad arguments ------------------------------------------------------------------------ */

static void test_inval(void)
{
    struct pr_error err = {{0}};
    struct bundle_info info;
    char *missing = tmp_path("no/such"), *dest = tmp_path("inval.out");
    char *garbage = tmp_path("garbage.b"), *file = tmp_path("inval.txt");
    const char junk[] = "this is not an archive, only some words\n";

    put(tmpdir, "inval.txt", "x", 1, 0644);
    put(tmpdir, "garbage.b", junk, sizeof(junk), 0644);
    CHECK(bundle_pack(NULL, NULL, 0, garbage, &info, &err) == -1 && err.msg[0]);
    CHECK(bundle_pack(tmpdir, NULL, 0, NULL, &info, NULL) == -1);
    CHECK(bundle_pack(tmpdir, NULL, 0, garbage, NULL, &err) == -1);
    CHECK(bundle_pack(tmpdir, NULL, 1, garbage, &info, &err) == -1);
    CHECK(bundle_pack(missing, NULL, 0, garbage, &info, &err) == -1 && strstr(err.msg, missing));
    CHECK(bundle_pack(file, NULL, 0, garbage, &info, &err) == -1 &&
          strstr(err.msg, "not a folder"));
    CHECK(bundle_pack(tmpdir, NULL, 0, missing, &info, &err) == -1 && strstr(err.msg, missing));

    CHECK(bundle_extract(NULL, dest, NULL, &err) == -1);
    CHECK(bundle_extract(garbage, NULL, NULL, &err) == -1);
    CHECK(bundle_extract_mem(NULL, 5, dest, NULL, &err) == -1);
    CHECK(bundle_extract(missing, dest, NULL, &err) == -1 && strstr(err.msg, missing));
    CHECK(bundle_extract(tmpdir, dest, NULL, &err) == -1 && strstr(err.msg, tmpdir));
    CHECK(bundle_extract(garbage, dest, NULL, &err) == -1 && strstr(err.msg, garbage));
    CHECK(!exists(dest));
    CHECK(bundle_extract_mem(junk, sizeof(junk), dest, NULL, &err) == -1 && err.msg[0]);
    CHECK(bundle_extract_mem(junk, 0, dest, NULL, &err) == -1 && err.msg[0]);
    CHECK(!exists(dest));
    CHECK(bundle_extract_mem(junk, sizeof(junk), missing, NULL, &err) == -1 &&
          strstr(err.msg, "no"));
    CHECK(bundle_extract_mem(junk, sizeof(junk), file, NULL, &err) == -1 &&
          strstr(err.msg, "already exists"));
    CHECK(bundle_extract_mem(junk, sizeof(junk), "/", NULL, &err) == -1);
    free(missing);
    free(dest);
    free(garbage);
    free(file);
}

/* --- seeds for the fuzzer -------------------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, const char *buf, size_t len)
{
    struct pr_error err;
    char *p = pr_path_join(dir, name);
    if (pr_write_file(p, buf, len, &err) < 0) printf("seed: %s\n", err.msg);
    free(p);
}

static void write_seeds(const char *dir)
{
    const struct ent two[] = {{"model.nam", 0, NULL, 20}, {"data/k.txt", 0, NULL, 8}};
    const struct ent dotdot[] = {{"ok", 0, NULL, 2}, {"../evil", 0, NULL, 4}};
    const struct ent plain[] = {{"../evil", 0, NULL, 0}};
    const struct ent links[] = {{"d", AE_IFDIR, NULL, 0},
                                {"d/up", AE_IFLNK, "..", 0},
                                {"esc", AE_IFLNK, "d/up/..", 0},
                                {"esc/x", 0, NULL, 1}};
    struct pr_error err;
    struct bundle_info info;
    char *src = tmp_path("seed"), *out = tmp_path("seed.b"), *buf;
    size_t len;

    buf = build(two, 2, 0, 1, &len);
    write_seed(dir, "two_files.tar.gz", buf, len);
    free(buf);
    buf = build(plain, 1, 0, 0, &len);
    write_seed(dir, "dotdot.tar", buf, len);
    free(buf);
    buf = build(dotdot, 2, 0, 1, &len);
    write_seed(dir, "dotdot.tar.gz", buf, len);
    free(buf);
    buf = build(links, 4, 0, 1, &len);
    write_seed(dir, "links.tar.gz", buf, len);
    free(buf);
    buf = build(two, 2, 1, 0, &len);
    write_seed(dir, "stream.zip", buf, len);
    free(buf);
    mkdir(src, 0755);
    put(src, "model.nam", "BAS6 1 model.bas\n", 17, 0644);
    put(src, "run.sh", "#!/bin/sh\n", 10, 0755);
    put_link(src, "m", "model.nam");
    if (bundle_pack(src, NULL, 0, out, &info, &err) == 0 && (buf = pr_read_file(out, &len, &err))) {
        write_seed(dir, "packed.tar.zst", buf, len);
        free(buf);
    }
    free(src);
    free(out);
}

int main(void)
{
    struct pr_error err = {{0}};
    const char *seeds = getenv("PESTRUN_BUNDLE_SEEDS");

    umask(022);
    tmpdir = pr_make_temp_dir(NULL, "test_bundle", &err);
    if (!tmpdir) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    test_roundtrip();
    test_non_ascii();
    test_deterministic();
    test_excludes();
    test_pack_refuses();
    test_hostile_paths();
    test_hostile_sizes();
    test_dot_entries();
    test_inval();
    if (seeds) write_seeds(seeds);
    CHECK_MSG(pr_remove_tree(tmpdir, &err) == 0, "%s", err.msg);
    free(tmpdir);
    return check_done();
}
