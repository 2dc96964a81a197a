/* Model bundles with libarchive: a pax tar (ustar headers, pax records only for long names)
 * written through a callback that hashes every byte, and an extractor that checks each entry
 * itself before archive_write_disk's own checks run as a second line of defence. */
#include "bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

#define DEFAULT_MAX_BYTES (16ULL << 30)
#define DEFAULT_MAX_ENTRIES 1000000ULL
#define MAX_LINK_HOPS 40
#define IO_BLOCK (1 << 16)

/* libarchive's message, which may be missing. */
static const char *why_archive(struct archive *a)
{
    const char *s = archive_error_string(a);
    return s ? s : "unknown error";
}

/* --- paths ----------------------------------------------------------------------------------- */

/* An entry name fit for a message: control bytes shown as '?', long names cut. */
static const char *shown(const char *name, char *buf, size_t n)
{
    size_t i = 0;

    for (; name[i] && i + 4 < n; i++)
        buf[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
    if (name[i]) memcpy(buf + i, "...", 3), i += 3;
    buf[i] = '\0';
    return buf;
}

/* Normalise a relative path into out ("" for the folder itself): empty and "." components
 * dropped. Returns NULL, or why the path is refused. */
static const char *normalize_rel(const char *path, struct strbuf *out)
{
    sb_reset(out);
    if (path[0] == '/') return "an absolute path";
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') return "a '..' component leaves the folder";
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (out->len) sb_putc(out, '/');
            sb_append(out, p, n);
        }
        p += n + (p[n] == '/');
    }
    if (!out->data) sb_puts(out, "");
    return NULL;
}

/* Does target, read relative to the folder of the link at rel, stay inside the root? Only
 * the text is looked at; link_leaves() follows the links on disk. */
static int target_inside(const char *rel, const char *target)
{
    long depth = 0;

    if (target[0] == '/') return 0;
    for (const char *p = rel; *p; p++)
        depth += *p == '/';
    for (const char *p = target; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0) return 0;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n + (p[n] == '/');
    }
    return 1;
}

static void pop_component(struct strbuf *cur)
{
    char *slash = strrchr(cur->data, '/');
    cur->len = slash ? (size_t)(slash - cur->data) : 0;
    cur->data[cur->len] = '\0';
}

/* Follow the link at root/rel as the kernel would, every link met on the way included, and
 * see whether any step leaves root: checking each target's text alone misses "esc -> d/up/.."
 * where d/up -> "..". Components that do not exist are taken as folders, which can only make
 * the answer stricter. Returns 0 inside, 1 leaves root, 2 too many links (a loop). */
static int link_leaves(const char *root, const char *rel)
{
    struct strbuf cur = {0}, rest = {0}, next = {0}, full = {0};
    char target[PATH_MAX];
    const char *slash = strrchr(rel, '/');
    size_t off = 0;
    int hops = 0, rc = 0;

    sb_append(&cur, rel, slash ? (size_t)(slash - rel) : 0);
    sb_puts(&rest, slash ? slash + 1 : rel);
    while (off < rest.len) {
        const char *p = rest.data + off;
        size_t n = strcspn(p, "/");
        struct stat st;
        ssize_t len;

        off += n + (p[n] == '/');
        if (n == 0 || (n == 1 && p[0] == '.')) continue;
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (cur.len == 0) {
                rc = 1;
                break;
            }
            pop_component(&cur);
            continue;
        }
        if (cur.len) sb_putc(&cur, '/');
        sb_append(&cur, p, n);
        sb_reset(&full);
        sb_printf(&full, "%s/%s", root, cur.data);
        if (lstat(full.data, &st) < 0 || !S_ISLNK(st.st_mode)) continue;
        len = readlink(full.data, target, sizeof(target) - 1);
        if (++hops > MAX_LINK_HOPS || len < 0) {
            rc = 2;
            break;
        }
        target[len] = '\0';
        if (target[0] == '/') {
            rc = 1;
            break;
        }
        pop_component(&cur);
        sb_reset(&next);
        sb_printf(&next, "%s/%s", target, rest.data + off);
        sb_reset(&rest);
        sb_append(&rest, next.data, next.len);
        off = 0;
    }
    sb_free(&cur);
    sb_free(&rest);
    sb_free(&next);
    sb_free(&full);
    return rc;
}

/* --- packing --------------------------------------------------------------------------------- */

struct pack_item {
    char *rel;
    char *target; /* symbolic links */
    mode_t mode;
    off_t size;
};

struct pack {
    const char *dir;
    char **exclude;
    size_t nexclude;
    struct pack_item *items;
    size_t n, cap;
    dev_t out_dev; /* a bundle already at out_path is never packed into the next one */
    ino_t out_ino;
    int have_out;
};

static int is_excluded(const struct pack *p, const char *rel)
{
    for (size_t i = 0; i < p->nexclude; i++)
        if (strcmp(p->exclude[i], rel) == 0) return 1;
    return 0;
}

static void add_item(struct pack *p, char *rel, char *target, const struct stat *st)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->items = xrealloc(p->items, p->cap * sizeof(*p->items));
    }
    p->items[p->n++] = (struct pack_item){rel, target, st->st_mode, st->st_size};
}

static int check_link(const struct pack *p, const char *rel, const char *path, char **target,
                      struct pr_error *err)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    int leaves;

    if (n < 0) return pr_error_set(err, "%s: cannot read link: %s", path, strerror(errno));
    buf[n] = '\0';
    leaves = !target_inside(rel, buf) ? 1 : link_leaves(p->dir, rel);
    if (leaves == 1)
        return pr_error_set(err,
                            "%s: symbolic link to '%s' points outside the folder; a bundle "
                            "keeps only links inside it (copy the file in, or exclude the link)",
                            path, buf);
    if (leaves == 2)
        return pr_error_set(err, "%s: symbolic link to '%s': too many levels of links", path, buf);
    *target = xstrdup(buf);
    return 0;
}

/* Add one directory entry (and, for a folder, everything below it). */
static int walk_dir(struct pack *p, const char *rel, struct pr_error *err);

static int walk_entry(struct pack *p, char *rel, struct pr_error *err)
{
    char *path = pr_path_join(p->dir, rel), *target = NULL;
    struct stat st;
    int rc = 0;

    if (lstat(path, &st) < 0) {
        rc = pr_error_set(err, "%s: %s", path, strerror(errno));
    } else if (p->have_out && st.st_dev == p->out_dev && st.st_ino == p->out_ino) {
        rc = 1;
    } else if (S_ISREG(st.st_mode)) {
        add_item(p, rel, NULL, &st);
    } else if (S_ISDIR(st.st_mode)) {
        add_item(p, rel, NULL, &st);
        free(path);
        return walk_dir(p, rel, err);
    } else if (S_ISLNK(st.st_mode)) {
        rc = check_link(p, rel, path, &target, err);
        if (rc == 0) add_item(p, rel, target, &st);
    } else {
        rc = 1; /* sockets, fifos and devices are no part of a model */
    }
    free(path);
    if (rc != 0) free(rel);
    return rc < 0 ? -1 : 0;
}

static int walk_dir(struct pack *p, const char *rel, struct pr_error *err)
{
    char *path = rel[0] ? pr_path_join(p->dir, rel) : xstrdup(p->dir);
    DIR *d = opendir(path);
    struct dirent *e;
    int rc = 0;

    if (!d) {
        pr_error_set(err, "%s: cannot list folder: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    while (rc == 0 && (e = readdir(d))) {
        struct strbuf child = {0};
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        sb_printf(&child, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        if (is_excluded(p, child.data)) {
            sb_free(&child);
            continue;
        }
        rc = walk_entry(p, sb_take(&child), err);
    }
    closedir(d);
    free(path);
    return rc;
}

static int cmp_items(const void *a, const void *b)
{
    return strcmp(((const struct pack_item *)a)->rel, ((const struct pack_item *)b)->rel);
}

static void pack_free(struct pack *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].rel);
        free(p->items[i].target);
    }
    free(p->items);
    for (size_t i = 0; i < p->nexclude; i++)
        free(p->exclude[i]);
    free(p->exclude);
}

static int set_excludes(struct pack *p, const char *const *exclude, size_t nexclude,
                        struct pr_error *err)
{
    struct strbuf sb = {0};

    p->exclude = xcalloc(nexclude ? nexclude : 1, sizeof(*p->exclude));
    for (size_t i = 0; i < nexclude; i++) {
        const char *why = exclude[i] ? normalize_rel(exclude[i], &sb) : "missing";
        if (!why && sb.len == 0) why = "it is the whole folder";
        if (why) {
            pr_error_set(err, "exclude '%s': %s; give a path relative to %s",
                         exclude[i] ? exclude[i] : "(null)", why, p->dir);
            sb_free(&sb);
            return -1;
        }
        p->exclude[p->nexclude++] = xstrdup(sb.data);
    }
    sb_free(&sb);
    return 0;
}

/* The archive bytes go to a file and into the SHA-256 on their way. */
struct sink {
    int fd;
    EVP_MD_CTX *md;
    uint64_t bytes;
};

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
    struct sink *s = ctx;

    for (size_t off = 0; off < n;) {
        ssize_t w = write(s->fd, (const char *)buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            archive_set_error(a, errno, "cannot write: %s", strerror(errno));
            return -1;
        }
        off += (size_t)w;
    }
    EVP_DigestUpdate(s->md, buf, n);
    s->bytes += n;
    return (la_ssize_t)n;
}

/* Names are written as their bytes when any is not ASCII: converting them to UTF-8 would
 * depend on the locale (and fail in the C locale). That takes a pax record per entry, which is
 * why ASCII names, almost always the case, keep the plain ustar headers. */
static void set_format(struct archive *a, int binary_names)
{
    archive_write_set_format_pax_restricted(a);
    if (binary_names) archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY");
}

/* A tar writer with zstd, or gzip without a timestamp in its header when libarchive has no
 * zstd library (ARCHIVE_WARN means it would run an external zstd program). pax restricted
 * writes plain ustar headers and adds a pax record only for what ustar cannot hold (long
 * names and link targets), with no times and no process id in it. */
static struct archive *new_writer(int binary_names, const char **ext, struct pr_error *err)
{
    struct archive *a = archive_write_new();

    set_format(a, binary_names);
    if (archive_write_add_filter_zstd(a) == ARCHIVE_OK) {
        *ext = ".tar.zst";
        return a;
    }
    archive_write_free(a);
    a = archive_write_new();
    set_format(a, binary_names);
    if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
        archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK) {
        pr_error_set(err, "libarchive can write neither zstd nor deterministic gzip: %s",
                     why_archive(a));
        archive_write_free(a);
        return NULL;
    }
    *ext = ".tar.gz";
    return a;
}

/* Copy exactly size bytes of the file into the archive: a file that grew or shrank since it
 * was listed would give a bundle that matches no state of the folder. */
static int write_file_data(struct archive *a, const char *path, int fd, off_t size,
                           struct pr_error *err)
{
    char *buf = xmalloc(IO_BLOCK);
    off_t done = 0;
    int rc = 0;

    for (;;) {
        ssize_t n = read(fd, buf, IO_BLOCK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = pr_error_set(err, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
        if (n == 0) break;
        if (n > size - done) {
            rc = pr_error_set(err, "%s: the file changed while it was packed", path);
            break;
        }
        if (archive_write_data(a, buf, (size_t)n) != n) {
            rc = pr_error_set(err, "%s: %s", path, why_archive(a));
            break;
        }
        done += n;
    }
    if (rc == 0 && done != size)
        rc = pr_error_set(err, "%s: the file changed while it was packed", path);
    free(buf);
    return rc;
}

static int write_item(struct archive *a, struct archive_entry *e, const struct pack *p,
                      const struct pack_item *it, struct pr_error *err)
{
    char *path = pr_path_join(p->dir, it->rel);
    int fd = -1, rc = -1;
    struct stat st;

    archive_entry_clear(e);
    archive_entry_copy_pathname(e, it->rel);
    archive_entry_set_mode(e, (it->mode & S_IFMT) | (it->mode & 0777));
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_size(e, S_ISREG(it->mode) ? it->size : 0);
    if (it->target) archive_entry_copy_symlink(e, it->target);
    if (S_ISREG(it->mode)) {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            pr_error_set(err, "%s: cannot read: %s", path, strerror(errno));
            goto done;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != it->size) {
            pr_error_set(err, "%s: the file changed while it was packed", path);
            goto done;
        }
    }
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        pr_error_set(err, "%s: cannot pack: %s", path, why_archive(a));
        goto done;
    }
    if (fd >= 0 && write_file_data(a, path, fd, it->size, err) < 0) goto done;
    rc = 0;
done:
    if (fd >= 0) close(fd);
    free(path);
    return rc;
}

static int write_archive(struct archive *a, const struct pack *p, struct sink *s,
                         struct bundle_info *info, struct pr_error *err)
{
    struct archive_entry *e = archive_entry_new();
    int rc = 0;

    /* no zero padding after the compressed stream: readers take it for a broken frame */
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open(a, s, NULL, sink_write, NULL) != ARCHIVE_OK)
        rc = pr_error_set(err, "%s", why_archive(a));
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        rc = write_item(a, e, p, &p->items[i], err);
        info->files++;
        if (S_ISREG(p->items[i].mode)) info->bytes += (uint64_t)p->items[i].size;
    }
    if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
        rc = pr_error_set(err, "%s", why_archive(a));
    archive_entry_free(e);
    return rc;
}

static int has_non_ascii(const struct pack *p)
{
    for (size_t i = 0; i < p->n; i++) {
        for (const char *c = p->items[i].rel; *c; c++)
            if ((unsigned char)*c >= 0x80) return 1;
        for (const char *c = p->items[i].target; c && *c; c++)
            if ((unsigned char)*c >= 0x80) return 1;
    }
    return 0;
}

static void hex_digest(EVP_MD_CTX *md, char out[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    EVP_DigestFinal_ex(md, d, &n);
    for (unsigned i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Write the listed items to a temporary file next to out_path, renamed over it only when
 * complete, so a failed pack leaves whatever was at out_path untouched. */
static int pack_write(struct pack *p, const char *out_path, struct bundle_info *info,
                      struct pr_error *err)
{
    struct strbuf tmp = {0};
    struct sink s = {-1, NULL, 0};
    struct archive *a = NULL;
    int rc = -1;

    memset(info, 0, sizeof(*info));
    sb_printf(&tmp, "%s.XXXXXX", out_path);
    s.fd = mkostemp(tmp.data, O_CLOEXEC);
    if (s.fd < 0) {
        pr_error_set(err, "%s: cannot create: %s", out_path, strerror(errno));
        goto done;
    }
    fchmod(s.fd, 0644);
    s.md = EVP_MD_CTX_new();
    if (!s.md || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
        pr_error_set(err, "SHA-256 is not available from OpenSSL");
        goto done;
    }
    if (!(a = new_writer(has_non_ascii(p), &info->ext, err))) goto done;
    if (write_archive(a, p, &s, info, err) < 0) goto done;
    if (fsync(s.fd) < 0 || close(s.fd) < 0) {
        s.fd = -1;
        pr_error_set(err, "%s: cannot write: %s", out_path, strerror(errno));
        goto done;
    }
    s.fd = -1;
    if (rename(tmp.data, out_path) < 0) {
        pr_error_set(err, "%s: cannot write: %s", out_path, strerror(errno));
        goto done;
    }
    hex_digest(s.md, info->sha256);
    info->archive_bytes = s.bytes;
    rc = 0;
done:
    if (a) archive_write_free(a);
    if (s.fd >= 0) close(s.fd);
    if (rc < 0 && tmp.data) unlink(tmp.data);
    EVP_MD_CTX_free(s.md);
    sb_free(&tmp);
    return rc;
}

int bundle_pack(const char *dir, const char *const *exclude, size_t nexclude, const char *out_path,
                struct bundle_info *info, struct pr_error *err)
{
    struct pack p = {0};
    struct stat st;
    int rc = -1;

    if (!dir || !*dir || !out_path || !*out_path || !info || (nexclude && !exclude))
        return pr_error_set(err, "bundle_pack: missing folder, output path or info");
    if (stat(dir, &st) < 0) return pr_error_set(err, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return pr_error_set(err, "%s: not a folder", dir);
    p.dir = dir;
    if (stat(out_path, &st) == 0) {
        p.have_out = 1;
        p.out_dev = st.st_dev;
        p.out_ino = st.st_ino;
    }
    if (set_excludes(&p, exclude, nexclude, err) < 0) goto done;
    if (walk_dir(&p, "", err) < 0) goto done;
    if (p.n) qsort(p.items, p.n, sizeof(*p.items), cmp_items);
    if (pack_write(&p, out_path, info, err) < 0) goto done;
    rc = 0;
done:
    pack_free(&p);
    return rc;
}

/* --- extraction ------------------------------------------------------------------------------ */

struct extract {
    struct archive *in, *disk;
    const char *tmp; /* the private folder everything is written into */
    uint64_t max_bytes, max_entries, bytes, entries;
    struct strbuf rel, full;
    char **links; /* symbolic links written, checked again once every entry is there */
    size_t nlinks, caplinks;
};

static int refuse(struct pr_error *err, const char *name, const char *why)
{
    char buf[256];
    return pr_error_set(err, "bundle entry '%s': %s", shown(name, buf, sizeof(buf)), why);
}

static const char *type_refused(mode_t type)
{
    switch (type) {
    case AE_IFREG:
    case AE_IFDIR:
    case AE_IFLNK:
        return NULL;
    case AE_IFIFO:
        return "a fifo is not allowed";
    case AE_IFSOCK:
        return "a socket is not allowed";
    case AE_IFCHR:
    case AE_IFBLK:
        return "a device is not allowed";
    default:
        return "an entry of unknown type is not allowed";
    }
}

/* No folder on the way to rel may be a symbolic link: writing through one could land
 * anywhere the link points. */
static int through_link(struct extract *x, const char *name, struct pr_error *err)
{
    char msg[PATH_MAX + 64];
    struct stat st;

    for (size_t i = 0; i < x->rel.len; i++) {
        if (x->rel.data[i] != '/') continue;
        sb_reset(&x->full);
        sb_printf(&x->full, "%s/%.*s", x->tmp, (int)i, x->rel.data);
        if (lstat(x->full.data, &st) < 0) return 0;
        if (S_ISLNK(st.st_mode)) {
            snprintf(msg, sizeof(msg), "the path goes through the symbolic link '%.*s'", (int)i,
                     x->rel.data);
            return refuse(err, name, msg);
        }
    }
    return 0;
}

/* Our own checks of one entry, before archive_write_disk sees it. Returns 1 to write it, 0 to
 * skip it (the folder itself), -1 with err. */
static int check_entry(struct extract *x, struct archive_entry *e, struct pr_error *err)
{
    const char *name = archive_entry_pathname(e), *why, *target;
    mode_t type = archive_entry_filetype(e);
    struct stat st;

    if (!name)
        return pr_error_set(err, "bundle entry %llu: its name cannot be read",
                            (unsigned long long)x->entries);
    if (++x->entries > x->max_entries) {
        char msg[64];
        snprintf(msg, sizeof(msg), "more than %llu entries", (unsigned long long)x->max_entries);
        return refuse(err, name, msg);
    }
    if (!name[0]) return refuse(err, name, "an empty name");
    if ((why = normalize_rel(name, &x->rel))) return refuse(err, name, why);
    if (archive_entry_hardlink(e)) return refuse(err, name, "a hard link is not allowed");
    if ((why = type_refused(type))) return refuse(err, name, why);
    if (x->rel.len == 0) return type == AE_IFDIR ? 0 : refuse(err, name, "not a folder");
    if (type == AE_IFLNK) {
        char msg[PATH_MAX + 64], buf[256];
        target = archive_entry_symlink(e);
        if (!target || !target[0]) return refuse(err, name, "a symbolic link without a target");
        snprintf(msg, sizeof(msg), "symbolic link to '%s' %s", shown(target, buf, sizeof(buf)),
                 target[0] == '/' ? "has an absolute target" : "leaves the folder");
        if (!target_inside(x->rel.data, target)) return refuse(err, name, msg);
    }
    if (through_link(x, name, err) < 0) return -1;
    sb_reset(&x->full);
    sb_printf(&x->full, "%s/%s", x->tmp, x->rel.data);
    if (lstat(x->full.data, &st) == 0 && !(type == AE_IFDIR && S_ISDIR(st.st_mode)))
        return refuse(err, name, "appears twice");
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
        (uint64_t)archive_entry_size(e) > x->max_bytes - x->bytes) {
        char msg[64];
        snprintf(msg, sizeof(msg), "more than %llu bytes", (unsigned long long)x->max_bytes);
        return refuse(err, name, msg);
    }
    return 1;
}

/* Copy the entry's data, counting the bytes that arrive rather than trusting the header
 * (a zip entry streamed with a data descriptor has no size up front). A sparse block is
 * counted up to its end, so holes count too. */
static int copy_data(struct extract *x, const char *name, struct pr_error *err)
{
    uint64_t end_seen = 0;

    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        int r = archive_read_data_block(x->in, &buf, &size, &off);

        if (r == ARCHIVE_EOF) return 0;
        if (r < ARCHIVE_WARN) return refuse(err, name, why_archive(x->in));
        if (off < 0) return refuse(err, name, "a data block at a negative offset");
        if ((uint64_t)off + size > end_seen) {
            x->bytes += (uint64_t)off + size - end_seen;
            end_seen = (uint64_t)off + size;
        }
        if (x->bytes > x->max_bytes) {
            char msg[64];
            snprintf(msg, sizeof(msg), "more than %llu bytes", (unsigned long long)x->max_bytes);
            return refuse(err, name, msg);
        }
        if (archive_write_data_block(x->disk, buf, size, off) < ARCHIVE_OK)
            return refuse(err, name, why_archive(x->disk));
    }
}

static int extract_entry(struct extract *x, struct archive_entry *e, struct pr_error *err)
{
    char *name;
    int rc = check_entry(x, e, err);

    if (rc <= 0) return rc;
    name = xstrdup(archive_entry_pathname(e));
    sb_reset(&x->full);
    sb_printf(&x->full, "%s/%s", x->tmp, x->rel.data);
    archive_entry_copy_pathname(e, x->full.data);
    /* permission bits only (no set-id); folders stay writable so a failure can remove them */
    archive_entry_set_perm(e, (archive_entry_perm(e) & 0777) |
                                  (archive_entry_filetype(e) == AE_IFDIR ? 0700 : 0));
    if (archive_write_header(x->disk, e) != ARCHIVE_OK)
        rc = refuse(err, name, why_archive(x->disk));
    else if (copy_data(x, name, err) < 0)
        rc = -1;
    else if (archive_write_finish_entry(x->disk) != ARCHIVE_OK)
        rc = refuse(err, name, why_archive(x->disk));
    if (rc > 0 && archive_entry_filetype(e) == AE_IFLNK) {
        if (x->nlinks == x->caplinks) {
            x->caplinks = x->caplinks ? 2 * x->caplinks : 16;
            x->links = xrealloc(x->links, x->caplinks * sizeof(*x->links));
        }
        x->links[x->nlinks++] = xstrdup(x->rel.data);
    }
    free(name);
    return rc < 0 ? -1 : 0;
}

/* Once every entry is on disk, follow each link through the others. */
static int check_links(struct extract *x, struct pr_error *err)
{
    for (size_t i = 0; i < x->nlinks; i++) {
        int r = link_leaves(x->tmp, x->links[i]);
        if (r == 1)
            return refuse(err, x->links[i],
                          "symbolic link leaves the folder through "
                          "other links");
        if (r == 2) return refuse(err, x->links[i], "too many levels of symbolic links");
    }
    return 0;
}

static int extract_all(struct extract *x, struct pr_error *err)
{
    struct archive_entry *e;

    for (;;) {
        int r = archive_read_next_header(x->in, &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN)
            return pr_error_set(err, "cannot read the bundle after %llu entries: %s",
                                (unsigned long long)x->entries, why_archive(x->in));
        if (extract_entry(x, e, err) < 0) return -1;
    }
    /* close applies the folders' modes, which were left writable until the end */
    if (archive_write_close(x->disk) != ARCHIVE_OK)
        return pr_error_set(err, "cannot finish extracting: %s", why_archive(x->disk));
    return check_links(x, err);
}

/* Every archive format libarchive reads but mtree, whose entries may name files on this
 * machine to copy in ("contents=/etc/shadow"); compression only through libraries linked into
 * libarchive, never an external program started on the bytes of an untrusted bundle. */
static struct archive *new_reader(void)
{
    struct archive *a = archive_read_new();

    archive_read_support_format_7zip(a);
    archive_read_support_format_ar(a);
    archive_read_support_format_cab(a);
    archive_read_support_format_cpio(a);
    archive_read_support_format_iso9660(a);
    archive_read_support_format_lha(a);
    archive_read_support_format_rar(a);
    archive_read_support_format_rar5(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_warc(a);
    archive_read_support_format_xar(a);
    archive_read_support_format_zip(a);
    if (archive_zlib_version()) archive_read_support_filter_gzip(a);
    if (archive_libzstd_version()) archive_read_support_filter_zstd(a);
    if (archive_liblzma_version()) {
        archive_read_support_filter_xz(a);
        archive_read_support_filter_lzma(a);
    }
    if (archive_bzlib_version()) archive_read_support_filter_bzip2(a);
    if (archive_liblz4_version()) archive_read_support_filter_lz4(a);
    return a;
}

/* dest split into its real parent folder (no symbolic links: archive_write_disk refuses to
 * write through any) and its last name, which must be new. */
static int dest_path(const char *dest, struct strbuf *final, struct pr_error *err)
{
    char *copy = xstrdup(dest), *parent, *base, real[PATH_MAX];
    size_t n = strlen(copy);
    struct stat st;
    int rc = -1;

    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    base = strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy;
    parent = pr_dirname(copy);
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        pr_error_set(err, "%s: not a name for a new folder", dest);
    else if (lstat(copy, &st) == 0)
        pr_error_set(err, "%s: already exists; a bundle is extracted into a new folder", dest);
    else if (errno != ENOENT)
        pr_error_set(err, "%s: %s", dest, strerror(errno));
    else if (!realpath(parent, real))
        pr_error_set(err, "%s: cannot use folder %s: %s", dest, parent, strerror(errno));
    else {
        sb_printf(final, "%s/%s", strcmp(real, "/") ? real : "", base);
        rc = 0;
    }
    free(parent);
    free(copy);
    return rc;
}

/* A new folder final.tmp-XXXXXX made like mkdir(1) would (mode 0777 less the umask, which
 * mkdtemp's 0700 would not give) in tmp. */
static int make_temp_folder(const char *final, struct strbuf *tmp, struct pr_error *err)
{
    for (int tries = 0; tries < 100; tries++) {
        unsigned r = 0;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) < 0) r ^= (unsigned)getpid() * 2654435761u;
        sb_reset(tmp);
        sb_printf(tmp, "%s.tmp-%06x", final, (r + (unsigned)tries) & 0xffffff);
        if (mkdir(tmp->data, 0777) == 0) return 0;
        if (errno != EEXIST) break;
    }
    pr_error_set(err, "%s: cannot create: %s", tmp->data, strerror(errno));
    sb_free(tmp);
    return -1;
}

/* Extract from an opened reader into final.tmp-XXXXXX, then rename it to final (never over
 * anything that appeared meanwhile), so no half-extracted folder is ever seen. */
static int extract_to(struct archive *in, const char *final, const struct bundle_limits *lim,
                      struct pr_error *err)
{
    struct extract x = {.in = in};
    struct strbuf tmp = {0};
    struct pr_error ignored;
    int rc = -1;

    x.max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEFAULT_MAX_BYTES;
    x.max_entries = lim && lim->max_entries ? lim->max_entries : DEFAULT_MAX_ENTRIES;
    if (make_temp_folder(final, &tmp, err) < 0) return -1;
    x.tmp = tmp.data;
    x.disk = archive_write_disk_new();
    /* ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS cannot be used: every path handed over is
     * absolute, inside the private folder; check_entry refuses absolute entry names itself.
     * No ARCHIVE_EXTRACT_NO_OVERWRITE either: check_entry refuses an entry that exists, and a
     * folder listed after its files must still get its mode. */
    archive_write_disk_set_options(x.disk, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                               ARCHIVE_EXTRACT_SECURE_SYMLINKS);
    if (extract_all(&x, err) < 0) goto done;
    if (renameat2(AT_FDCWD, tmp.data, AT_FDCWD, final, RENAME_NOREPLACE) < 0) {
        pr_error_set(err, "%s: cannot create: %s", final, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    archive_write_free(x.disk);
    if (rc < 0) pr_remove_tree(tmp.data, &ignored);
    for (size_t i = 0; i < x.nlinks; i++)
        free(x.links[i]);
    free(x.links);
    sb_free(&x.rel);
    sb_free(&x.full);
    sb_free(&tmp);
    return rc;
}

/* The bundle is the file at path, or else the len bytes at data. */
static int extract(const char *path, const void *data, size_t len, const char *dest,
                   const struct bundle_limits *lim, struct pr_error *err)
{
    struct strbuf final = {0};
    struct archive *a = NULL;
    int rc = -1;

    if (dest_path(dest, &final, err) < 0) goto done;
    a = new_reader();
    if ((path ? archive_read_open_filename(a, path, IO_BLOCK)
              : archive_read_open_memory(a, len ? data : "", len)) != ARCHIVE_OK) {
        pr_error_set(err, "cannot read the bundle: %s", why_archive(a));
        goto done;
    }
    rc = extract_to(a, final.data, lim, err);
done:
    if (rc < 0 && path) pr_error_prefix(err, "%s", path);
    if (a) archive_read_free(a);
    sb_free(&final);
    return rc;
}

int bundle_extract(const char *path, const char *dest, const struct bundle_limits *lim,
                   struct pr_error *err)
{
    if (!path || !*path || !dest || !*dest)
        return pr_error_set(err, "bundle_extract: missing bundle path or destination");
    return extract(path, NULL, 0, dest, lim, err);
}

int bundle_extract_mem(const void *data, size_t len, const char *dest,
                       const struct bundle_limits *lim, struct pr_error *err)
{
    if ((!data && len) || !dest || !*dest)
        return pr_error_set(err, "bundle_extract_mem: missing bundle bytes or destination");
    return extract(NULL, data, len, dest, lim, err);
}
