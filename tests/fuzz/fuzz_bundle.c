/* libFuzzer target for bundle extraction: the input is a bundle, extracted with small limits
 * into a new folder inside $TMPDIR/fuzz_bundle.XXXXXX (/tmp without TMPDIR). A refused bundle
 * must leave nothing behind; an accepted one must hold no link with an absolute target or
 * one leaving the folder. Either way the folder around the destination must end up empty:
 * nothing is ever written next to it. */
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/sqs/bundle.h"
#include "util/fsutil.h"

static char *box_path;

static void remove_box(void)
{
    rmdir(box_path);
}

static const char *box(void)
{
    struct pr_error err;

    if (!box_path) {
        if (!(box_path = pr_make_temp_dir(NULL, "fuzz_bundle", &err))) abort();
        atexit(remove_box);
    }
    return box_path;
}

/* Every link under dir resolves (where it exists) inside root. */
static void check_links(const char *root, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d) return;
    while ((e = readdir(d))) {
        char path[PATH_MAX], target[PATH_MAX], real[PATH_MAX];
        struct stat st;
        ssize_t n;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) < 0) abort();
        if (S_ISDIR(st.st_mode)) check_links(root, path);
        if (!S_ISLNK(st.st_mode)) continue;
        n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0 || target[0] == '/') abort();
        if (realpath(path, real) && (strncmp(real, root, strlen(root)) != 0 ||
                                     (real[strlen(root)] != '/' && real[strlen(root)])))
            abort();
    }
    closedir(d);
}

static int is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d) return 0;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bundle_limits lim = {1 << 20, 64};
    struct pr_error err = {{0}};
    char dest[PATH_MAX], real[PATH_MAX];
    struct stat st;

    snprintf(dest, sizeof(dest), "%s/dest", box());
    if (bundle_extract_mem(data, size, dest, &lim, &err) == 0) {
        if (!realpath(dest, real)) abort();
        check_links(real, real);
        if (pr_remove_tree(dest, &err) < 0) abort();
    } else if (!err.msg[0] || lstat(dest, &st) == 0) {
        abort();
    }
    if (!is_empty(box())) abort();
    return 0;
}
