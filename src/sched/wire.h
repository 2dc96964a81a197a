/* The byte form of the messages between a master and its workers, shared by the transports
 * that move bytes (local pipes, MPI, SQS payloads). A message is self-describing: a fixed
 * header then its arrays; integers and doubles in little-endian IEEE-754. */
#ifndef PR_WIRE_H
#define PR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "run.h"
#include "../util/pr_error.h"
#include "../util/strbuf.h"

enum wire_type {
    WIRE_HELLO = 1,   /* worker -> master: ready; text = description (pid, cpu) */
    WIRE_RUN = 2,     /* master -> worker: a run request */
    WIRE_STARTED = 3, /* worker -> master: the model of key started; pgid = its process group */
    WIRE_RESULT = 4,  /* worker -> master: a run result */
    WIRE_CANCEL = 5,  /* master -> worker: kill the run of key if it is still going */
    WIRE_QUIT = 6,    /* master -> worker: finish and exit */
    WIRE_PING = 7,    /* either way: liveness */
};

#define WIRE_HEADER_SIZE 56

struct wire_msg {
    enum wire_type type;
    struct run_key key;
    int64_t pgid;
    int32_t status;
    double seconds;
    size_t npar, nobs;
    const double *values; /* RUN: requested values; RESULT: processed values */
    const double *obs;    /* RESULT */
    const char *text;     /* RUN: info; RESULT: reason; HELLO: description */
    size_t text_len;
};

/* Append the encoded message to out. */
void wire_encode(const struct wire_msg *m, struct strbuf *out);

/* Total size of the message starting at buf when at least WIRE_HEADER_SIZE bytes are there,
 * or 0 when fewer; -1 when the header is not a message (bad magic or sizes). */
long wire_message_size(const void *buf, size_t len);

/* Decode one whole message of len bytes (as told by wire_message_size). The arrays and the
 * NUL-terminated text are copied into scratch (any alignment of buf works) and m points into
 * scratch until its next use. Returns 0 or -1 with err set on a malformed message. */
int wire_decode(const void *buf, size_t len, struct wire_msg *m, struct strbuf *scratch,
                struct pr_error *err);

/* Stream framing over a file descriptor (pipes, sockets). */

/* Read what is available from fd (non-blocking or after poll said readable) and append it to
 * in. Returns the number of bytes read, 0 at end of file, -1 with err set on an error
 * (EAGAIN/EINTR give a return of -2: nothing to read now). */
long wire_read_fd(int fd, struct strbuf *in, struct pr_error *err);
/* Take the first whole message off the front of in: 1 with *m filled (pointing into scratch),
 * 0 when in holds no whole message yet, -1 with err set when in does not hold a message. */
int wire_take(struct strbuf *in, struct wire_msg *m, struct strbuf *scratch, struct pr_error *err);
/* Encode m and write all of it to fd (blocking; no SIGPIPE). Returns 0 or -1 with err set. */
int wire_send_fd(int fd, const struct wire_msg *m, struct strbuf *tmp, struct pr_error *err);

#endif
