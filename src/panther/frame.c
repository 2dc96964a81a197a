#include "frame.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char security_code[PANTHER_CODE_SIZE] = {1, 3, 5, 7, 9};

static void put_bytes(unsigned char *p, size_t *off, const void *v, size_t n)
{
    memcpy(p + *off, v, n);
    *off += n;
}

void panther_encode(struct strbuf *out, uint32_t type, int64_t group, int64_t run, const char *desc,
                    const void *data, size_t len)
{
    unsigned char head[PANTHER_FRAME_MIN];
    int64_t size = (int64_t)(PANTHER_HEADER_SIZE + len);
    size_t off = 0, k = 0;

    memset(head, 0, sizeof(head));
    put_bytes(head, &off, security_code, sizeof(security_code));
    put_bytes(head, &off, &size, sizeof(size));
    put_bytes(head, &off, &type, sizeof(type));
    put_bytes(head, &off, &group, sizeof(group));
    put_bytes(head, &off, &run, sizeof(run));
    for (const char *d = desc; d && *d && k < PANTHER_DESC_SIZE - 1; d++)
        if ((unsigned char)*d >= 32 && (unsigned char)*d <= 126)
            head[off + k++] = (unsigned char)*d;
    sb_append(out, (const char *)head, sizeof(head));
    if (len) sb_append(out, data, len);
}

int panther_decode(const void *buf, size_t len, struct panther_msg *m, size_t *used,
                   struct pr_error *err)
{
    const unsigned char *p = buf;
    int64_t size;

    if (len < PANTHER_CODE_SIZE) return 0;
    if (memcmp(p, security_code, PANTHER_CODE_SIZE) != 0)
        return pr_error_set(err,
                            "not a PANTHER message: wrong security code %02x %02x %02x %02x "
                            "%02x (expected 01 03 05 07 09)",
                            p[0], p[1], p[2], p[3], p[4]);
    if (len < PANTHER_CODE_SIZE + sizeof(size)) return 0;
    memcpy(&size, p + PANTHER_CODE_SIZE, sizeof(size));
    if (size < PANTHER_HEADER_SIZE || (uint64_t)size - PANTHER_HEADER_SIZE > PANTHER_MAX_DATA)
        return pr_error_set(err,
                            "PANTHER message with an impossible size %lld (header %d, at "
                            "most %zu data bytes)",
                            (long long)size, PANTHER_HEADER_SIZE, PANTHER_MAX_DATA);
    size_t total = PANTHER_CODE_SIZE + (size_t)size;
    if (len < total) return 0;

    size_t off = PANTHER_CODE_SIZE + sizeof(size);
    memcpy(&m->type, p + off, sizeof(m->type));
    off += sizeof(m->type);
    memcpy(&m->group, p + off, sizeof(m->group));
    off += sizeof(m->group);
    memcpy(&m->run, p + off, sizeof(m->run));
    off += sizeof(m->run);
    for (size_t i = 0; i < PANTHER_DESC_SIZE - 1; i++) {
        unsigned char c = p[off + i];
        if (c != 0 && (c < 32 || c > 126))
            return pr_error_set(err,
                                "%s message with a non-printable byte 0x%02x in its "
                                "description",
                                panther_type_name(m->type), c);
    }
    memcpy(m->desc, p + off, PANTHER_DESC_SIZE - 1);
    m->desc[PANTHER_DESC_SIZE - 1] = 0; /* receivers force desc[1000] = 0 */
    off += PANTHER_DESC_SIZE;
    m->data = p + off;
    m->len = total - off;
    *used = total;
    return 1;
}

const char *panther_type_name(uint32_t type)
{
    static const char *const names[] = {"UNKN",
                                        "OK",
                                        "CONFIRM_OK",
                                        "READY",
                                        "REQ_RUNDIR",
                                        "RUNDIR",
                                        "REQ_LINPACK",
                                        "LINPACK",
                                        "PAR_NAMES",
                                        "OBS_NAMES",
                                        "START_RUN",
                                        "RUN_FINISHED",
                                        "RUN_FAILED",
                                        "RUN_KILLED",
                                        "TERMINATE",
                                        "PING",
                                        "REQ_KILL",
                                        "IO_ERROR",
                                        "CORRUPT_MESG",
                                        "DEBUG_LOOP",
                                        "DEBUG_FAIL_FREEZE",
                                        "START_FILE_WRKR2MSTR",
                                        "CONT_FILE_WRKR2MSTR",
                                        "FINISH_FILE_WRKR2MSTR"};
    static __thread char other[32];
    if (type < sizeof(names) / sizeof(names[0])) return names[type];
    snprintf(other, sizeof(other), "type %u", type);
    return other;
}

/* ------------------------------------------------------------------------------------------ */
/* name tables                                                                                */

#define LIST_MAX 20 /* names listed in a mismatch message */

static void list_name(struct strbuf *sb, size_t *count, const char *name)
{
    if (*count < LIST_MAX) sb_printf(sb, "%s%s", *count ? ", " : "", name);
    (*count)++;
}

static void list_end(struct strbuf *sb, size_t count)
{
    if (count > LIST_MAX) sb_printf(sb, " and %zu more", count - LIST_MAX);
}

long panther_map_names(const unsigned char *data, size_t len, const struct names *local,
                       const char *kind, size_t **map, struct pr_error *err)
{
    size_t nlocal = names_count(local), n = 0, cap = 16, missing = 0, extra = 0;
    size_t *m = xmalloc(cap * sizeof(size_t));
    char *seen = xcalloc(nlocal + 1, 1);
    struct strbuf lacks = {0}, more = {0}, name = {0};
    long rc = -1;

    *map = NULL;
    for (size_t i = 0; i < len; i++)
        if (data[i] != 0 && (data[i] < 32 || data[i] > 126)) {
            pr_error_set(err, "the master's %s names hold a non-printable byte 0x%02x", kind,
                         data[i]);
            goto done;
        }
    for (size_t i = 0; i < len;) {
        size_t k = i;
        while (k < len && data[k])
            k++;
        if (k > i) {
            sb_reset(&name);
            for (size_t j = i; j < k; j++)
                sb_putc(&name, (char)toupper(data[j]));
            int idx = names_find(local, name.data);
            if (idx < 0) {
                list_name(&lacks, &missing, name.data);
            } else if (seen[idx]) {
                pr_error_set(err, "the master sent the %s name %s twice", kind, name.data);
                goto done;
            } else {
                seen[idx] = 1;
                if (n == cap) m = xrealloc(m, (cap *= 2) * sizeof(size_t));
                m[n++] = (size_t)idx;
            }
        }
        i = k + 1;
    }
    for (size_t i = 0; i < nlocal; i++)
        if (!seen[i]) list_name(&more, &extra, names_get(local, i));
    if (missing || extra) {
        list_end(&lacks, missing);
        list_end(&more, extra);
        pr_error_set(err, "the master's case and this case have different %s names:%s%s%s%s%s%s",
                     kind, missing ? " only the master has " : "", missing ? lacks.data : "",
                     missing && extra ? ";" : "", extra ? " only this case has " : "",
                     extra ? more.data : "",
                     " (PEST++ requires the same names on the master and every agent)");
        goto done;
    }
    *map = m;
    m = NULL;
    rc = (long)n;
done:
    free(m);
    free(seen);
    sb_free(&lacks);
    sb_free(&more);
    sb_free(&name);
    return rc;
}
