#include "wire.h"

#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define WIRE_MAGIC 0x31575250u /* "PRW1" */
#define WIRE_MAX_COUNT (1u << 28)

/* Header layout (56 bytes): u32 magic, u32 type, u64 batch, u32 run, u32 attempt, i64 pgid,
 * i32 status, u32 npar, u32 nobs, u32 text_len, f64 seconds. */

static void put32(struct strbuf *b, uint32_t v)
{
    sb_append(b, (const char *)&v, 4);
}

static void put64(struct strbuf *b, uint64_t v)
{
    sb_append(b, (const char *)&v, 8);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

void wire_encode(const struct wire_msg *m, struct strbuf *out)
{
    uint64_t secbits;
    size_t nval = m->values ? m->npar : 0;
    size_t nobs = m->obs ? m->nobs : 0;
    size_t tl = m->text ? (m->text_len ? m->text_len : strlen(m->text)) : 0;

    sb_reserve(out, WIRE_HEADER_SIZE + 8 * (nval + nobs) + tl);
    put32(out, WIRE_MAGIC);
    put32(out, (uint32_t)m->type);
    put64(out, m->key.batch);
    put32(out, m->key.run);
    put32(out, m->key.attempt);
    put64(out, (uint64_t)m->pgid);
    put32(out, (uint32_t)m->status);
    put32(out, (uint32_t)nval);
    put32(out, (uint32_t)nobs);
    put32(out, (uint32_t)tl);
    memcpy(&secbits, &m->seconds, 8);
    put64(out, secbits);
    if (nval) sb_append(out, (const char *)m->values, 8 * nval);
    if (nobs) sb_append(out, (const char *)m->obs, 8 * nobs);
    if (tl) sb_append(out, m->text, tl);
}

long wire_message_size(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (len < WIRE_HEADER_SIZE) return 0;
    if (get32(p) != WIRE_MAGIC) return -1;
    uint32_t npar = get32(p + 36), nobs = get32(p + 40), tl = get32(p + 44);
    if (npar > WIRE_MAX_COUNT || nobs > WIRE_MAX_COUNT || tl > WIRE_MAX_COUNT) return -1;
    return (long)(WIRE_HEADER_SIZE + 8 * ((size_t)npar + nobs) + tl);
}

int wire_decode(const void *buf, size_t len, struct wire_msg *m, struct strbuf *scratch,
                struct pr_error *err)
{
    const unsigned char *p = buf;
    long size = wire_message_size(buf, len);
    uint64_t secbits;

    if (size <= 0 || (size_t)size != len)
        return pr_error_set(err, "malformed message (%zu bytes)", len);
    memset(m, 0, sizeof(*m));
    m->type = (enum wire_type)get32(p + 4);
    m->key.batch = get64(p + 8);
    m->key.run = get32(p + 16);
    m->key.attempt = get32(p + 20);
    m->pgid = (int64_t)get64(p + 24);
    m->status = (int32_t)get32(p + 32);
    m->npar = get32(p + 36);
    m->nobs = get32(p + 40);
    m->text_len = get32(p + 44);
    secbits = get64(p + 48);
    memcpy(&m->seconds, &secbits, 8);
    if (m->type < WIRE_HELLO || m->type > WIRE_PING)
        return pr_error_set(err, "unknown message type %d", (int)m->type);
    /* copy the arrays to aligned memory, and NUL-terminate the text */
    sb_reset(scratch);
    sb_reserve(scratch, 8 * (m->npar + m->nobs) + m->text_len + 8);
    char *base = scratch->data;
    size_t off = WIRE_HEADER_SIZE;
    memcpy(base, p + off, 8 * (m->npar + m->nobs));
    m->values = m->npar ? (const double *)(void *)base : NULL;
    m->obs = m->nobs ? (const double *)(void *)(base + 8 * m->npar) : NULL;
    off += 8 * (m->npar + m->nobs);
    char *text = base + 8 * (m->npar + m->nobs);
    memcpy(text, p + off, m->text_len);
    text[m->text_len] = '\0';
    m->text = m->text_len ? text : NULL;
    scratch->len = 8 * (m->npar + m->nobs) + m->text_len + 1;
    return 0;
}

long wire_read_fd(int fd, struct strbuf *in, struct pr_error *err)
{
    sb_reserve(in, 65536);
    ssize_t n = read(fd, in->data + in->len, in->cap - in->len - 1);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -2;
        return pr_error_set(err, "read: %s", strerror(errno));
    }
    in->len += (size_t)n;
    in->data[in->len] = '\0';
    return (long)n;
}

int wire_take(struct strbuf *in, struct wire_msg *m, struct strbuf *scratch, struct pr_error *err)
{
    long size = wire_message_size(in->data, in->len);
    if (size < 0) return pr_error_set(err, "malformed message from the other side");
    if (size == 0 || (size_t)size > in->len) return 0;
    if (wire_decode(in->data, (size_t)size, m, scratch, err) < 0) return -1;
    memmove(in->data, in->data + size, in->len - (size_t)size);
    in->len -= (size_t)size;
    in->data[in->len] = '\0';
    return 1;
}

int wire_send_fd(int fd, const struct wire_msg *m, struct strbuf *tmp, struct pr_error *err)
{
    size_t off = 0;
    sb_reset(tmp);
    wire_encode(m, tmp);
    while (off < tmp->len) {
        ssize_t n = send(fd, tmp->data + off, tmp->len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) n = write(fd, tmp->data + off, tmp->len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                poll(&p, 1, -1);
                continue;
            }
            return pr_error_set(err, "send: %s", strerror(errno));
        }
        off += (size_t)n;
    }
    return 0;
}
