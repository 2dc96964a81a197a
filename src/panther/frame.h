/* The PEST++ PANTHER wire format (SPEC.md §5.2, §5.3), as PEST++ 5.2 speaks it: every message
 * is a frame of a 5-byte security code, a 1029-byte header (int64 size, uint32 type, int64
 * group id, int64 run id, 1001 bytes of description) and the data, all integers in native byte
 * order with no padding. Pure functions over buffers, so tests and the fuzzer feed them bytes. */
#ifndef PR_PANTHER_FRAME_H
#define PR_PANTHER_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "util/names.h"
#include "util/pr_error.h"
#include "util/strbuf.h"

#define PANTHER_CODE_SIZE 5
#define PANTHER_HEADER_SIZE 1029 /* after the security code: size, type, group, run, desc */
#define PANTHER_FRAME_MIN (PANTHER_CODE_SIZE + PANTHER_HEADER_SIZE)
#define PANTHER_DESC_SIZE 1001
/* Largest data part accepted from a peer: 64 MiB is 8 million doubles, far beyond any case. */
#define PANTHER_MAX_DATA ((size_t)64 << 20)

enum panther_type {
    PANTHER_UNKN = 0,
    PANTHER_OK = 1,
    PANTHER_CONFIRM_OK = 2,
    PANTHER_READY = 3,
    PANTHER_REQ_RUNDIR = 4,
    PANTHER_RUNDIR = 5,
    PANTHER_REQ_LINPACK = 6,
    PANTHER_LINPACK = 7,
    PANTHER_PAR_NAMES = 8,
    PANTHER_OBS_NAMES = 9,
    PANTHER_START_RUN = 10,
    PANTHER_RUN_FINISHED = 11,
    PANTHER_RUN_FAILED = 12,
    PANTHER_RUN_KILLED = 13,
    PANTHER_TERMINATE = 14,
    PANTHER_PING = 15,
    PANTHER_REQ_KILL = 16,
    PANTHER_IO_ERROR = 17,
    PANTHER_CORRUPT_MESG = 18,
    PANTHER_DEBUG_LOOP = 19,
    PANTHER_DEBUG_FAIL_FREEZE = 20,
    PANTHER_START_FILE_WRKR2MSTR = 21,
    PANTHER_CONT_FILE_WRKR2MSTR = 22,
    PANTHER_FINISH_FILE_WRKR2MSTR = 23,
};

/* A decoded frame. data points into the decoded buffer (valid while it is). */
struct panther_msg {
    uint32_t type;
    int64_t group, run;
    char desc[PANTHER_DESC_SIZE]; /* as sent, up to the first NUL (not lower-cased) */
    const unsigned char *data;
    size_t len;
};

/* Append one frame to out. Description bytes outside 32..126 are dropped and it is cut at 1000
 * bytes, as PEST++ senders do; desc may be NULL. */
void panther_encode(struct strbuf *out, uint32_t type, int64_t group, int64_t run, const char *desc,
                    const void *data, size_t len);

/* Decode the frame at the start of buf[0..len). Returns 1 with *m filled and *used set to the
 * frame's size, 0 when buf holds only part of a frame (nothing is consumed), -1 with err set
 * when the bytes cannot be a PANTHER frame (wrong security code, a size below the header or
 * above PANTHER_MAX_DATA, description bytes outside 0 and 32..126): the connection is then
 * corrupt, as PEST++ treats it. */
int panther_decode(const void *buf, size_t len, struct panther_msg *m, size_t *used,
                   struct pr_error *err);

/* "START_RUN", ...; "type 99" for an unknown type (in a static buffer). */
const char *panther_type_name(uint32_t type);

/* Map a master's name list (PAR_NAMES / OBS_NAMES data: NUL-terminated names, empty pieces
 * ignored; upper-cased here) onto the local case's names. On success returns the number of
 * names and sets *map (malloc'd; map[wire index] = local index). When the sets differ, or
 * the list is not printable or repeats a name, returns -1 with err naming the differing names
 * ("kind" is "parameter" or "observation"); *map is then NULL. */
long panther_map_names(const unsigned char *data, size_t len, const struct names *local,
                       const char *kind, size_t **map, struct pr_error *err);

#endif
