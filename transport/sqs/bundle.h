/* Model bundles: a case folder packed once into a deterministic archive (tar compressed with
 * zstd, or gzip when libarchive has no zstd) named by the SHA-256 of its bytes, and extracted
 * safely on the agents. */
#ifndef PR_BUNDLE_H
#define PR_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/pr_error.h"

struct bundle_info {
    char sha256[65];
    const char *ext; /* ".tar.zst" or ".tar.gz" */
    uint64_t files;  /* entries packed */
    uint64_t bytes;  /* uncompressed bytes of the regular files */
    uint64_t archive_bytes;
};

/* Pack the folder dir into out_path. Deterministic: the same files give the same bytes
 * (entries sorted by path; owner 0/0, names empty, mtime 0; the mode's permission bits kept).
 * Regular files, folders and symbolic links that point inside dir are packed; any path
 * relative to dir in exclude (a file or a whole folder) is left out, as are sockets, fifos
 * and devices. Returns 0 with *info, -1 with err. */
int bundle_pack(const char *dir, const char *const *exclude, size_t nexclude, const char *out_path,
                struct bundle_info *info, struct pr_error *err);

struct bundle_limits {
    uint64_t max_bytes;   /* total uncompressed bytes (0: 16 GiB) */
    uint64_t max_entries; /* (0: 1,000,000) */
};

/* Extract the archive at path (any format libarchive reads) into dest, which is created and
 * must not exist. Refused, with err naming the entry: an absolute path, a ".." component, a
 * symbolic link whose target is absolute or leaves dest, a hard link, a device, fifo or
 * socket, more than the limits. Nothing is written outside dest; on failure dest is removed.
 * Returns 0 or -1. */
int bundle_extract(const char *path, const char *dest, const struct bundle_limits *lim,
                   struct pr_error *err);
/* The same from memory (tests and fuzzing). */
int bundle_extract_mem(const void *data, size_t len, const char *dest,
                       const struct bundle_limits *lim, struct pr_error *err);

#endif
