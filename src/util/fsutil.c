#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strbuf.h"
#include "text.h"

static int copy_file(const char *src, const char *dst, mode_t mode, struct pr_error *err)
{
    char buf[1 << 16];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out;

    if (in < 0) return pr_error_set(err, "%s: cannot read: %s", src, strerror(errno));
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
    if (out < 0) {
        int e = errno;
        close(in);
        return pr_error_set(err, "%s: cannot write: %s", dst, strerror(e));
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            pr_error_set(err, "%s: cannot read: %s", src, strerror(errno));
            goto error;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR) continue;
                pr_error_set(err, "%s: cannot write: %s", dst, strerror(errno));
                goto error;
            }
            off += w;
        }
    }
    close(in);
    if (close(out) < 0) return pr_error_set(err, "%s: cannot write: %s", dst, strerror(errno));
    return 0;
error:
    close(in);
    close(out);
    return -1;
}

static int copy_entry(const char *src, const char *dst, const char *skip_abs, struct pr_error *err);

static int copy_dir(const char *src, const char *dst, mode_t mode, const char *skip_abs,
                    struct pr_error *err)
{
    DIR *d;
    struct dirent *e;
    int rc = 0;

    if (mkdir(dst, (mode & 07777) | 0700) < 0 && errno != EEXIST)
        return pr_error_set(err, "%s: cannot create directory: %s", dst, strerror(errno));
    d = opendir(src);
    if (!d) return pr_error_set(err, "%s: cannot list directory: %s", src, strerror(errno));
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *s = pr_path_join(src, e->d_name);
        char *t = pr_path_join(dst, e->d_name);
        rc = copy_entry(s, t, skip_abs, err);
        free(s);
        free(t);
    }
    closedir(d);
    return rc;
}

static int copy_entry(const char *src, const char *dst, const char *skip_abs, struct pr_error *err)
{
    struct stat st;

    if (lstat(src, &st) < 0) return pr_error_set(err, "%s: %s", src, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        if (skip_abs) {
            char real[PATH_MAX];
            if (realpath(src, real) && strcmp(real, skip_abs) == 0) return 0;
        }
        return copy_dir(src, dst, st.st_mode, skip_abs, err);
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof(target) - 1);
        if (n < 0) return pr_error_set(err, "%s: %s", src, strerror(errno));
        target[n] = '\0';
        if (symlink(target, dst) < 0 && errno != EEXIST)
            return pr_error_set(err, "%s: cannot create link: %s", dst, strerror(errno));
        return 0;
    }
    if (S_ISREG(st.st_mode)) return copy_file(src, dst, st.st_mode, err);
    return 0; /* sockets, fifos and devices are not part of a model folder */
}

int pr_copy_tree(const char *src, const char *dst, const char *skip, struct pr_error *err)
{
    char real[PATH_MAX];
    const char *skip_abs = NULL;

    /* Never copy the destination into itself when it lies inside the source. */
    if (skip && realpath(skip, real)) skip_abs = real;
    return copy_dir(src, dst, 0755, skip_abs, err);
}

int pr_remove_tree(const char *path, struct pr_error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : pr_error_set(err, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        int rc = 0;
        if (!d) return pr_error_set(err, "%s: cannot list directory: %s", path, strerror(errno));
        while (rc == 0 && (e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char *p = pr_path_join(path, e->d_name);
            rc = pr_remove_tree(p, err);
            free(p);
        }
        closedir(d);
        if (rc < 0) return -1;
        if (rmdir(path) < 0)
            return pr_error_set(err, "%s: cannot remove: %s", path, strerror(errno));
        return 0;
    }
    if (unlink(path) < 0) return pr_error_set(err, "%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

char *pr_make_temp_dir(const char *parent, const char *prefix, struct pr_error *err)
{
    struct strbuf sb = {0};
    const char *base = parent;
    if (!base) {
        base = getenv("TMPDIR");
        if (!base || !*base) base = "/tmp";
    }
    sb_printf(&sb, "%s/%s.XXXXXX", base, prefix);
    if (!mkdtemp(sb.data)) {
        pr_error_set(err, "%s: cannot create a temporary directory: %s", sb.data, strerror(errno));
        sb_free(&sb);
        return NULL;
    }
    return sb_take(&sb);
}

char *pr_resolve_file(const char *dir, const char *name)
{
    char *path = pr_path_join(dir, name);
    if (access(path, F_OK) == 0 || strchr(name, '/')) return path;
    DIR *d = opendir(dir ? dir : ".");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (pr_strieq(e->d_name, name)) {
            free(path);
            path = pr_path_join(dir, e->d_name);
            break;
        }
    if (d) closedir(d);
    return path;
}
