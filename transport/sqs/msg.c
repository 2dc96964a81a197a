#include "msg.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void b64_encode(const void *data, size_t len, struct strbuf *out)
{
    const unsigned char *p = data;
    sb_reserve(out, (len + 2) / 3 * 4 + 1);
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len) v |= p[i + 2];
        char q[4] = {b64_alphabet[(v >> 18) & 63], b64_alphabet[(v >> 12) & 63],
                     i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=',
                     i + 2 < len ? b64_alphabet[v & 63] : '='};
        sb_append(out, q, 4);
    }
    sb_append(out, "", 0); /* terminated even when empty */
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int b64_decode(const char *s, size_t len, struct strbuf *out)
{
    if (len % 4) return -1;
    sb_append(out, "", 0); /* terminated even when empty */
    sb_reserve(out, len / 4 * 3 + 1);
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad) return -1; /* data after padding */
            v[k] = b64_value(s[i + k]);
            if (v[k] < 0) return -1;
        }
        unsigned w =
            (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        char b[3] = {(char)(w >> 16), (char)(w >> 8), (char)w};
        sb_append(out, b, (size_t)(3 - pad));
    }
    return 0;
}

void sqs_hex64(uint64_t v, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)v);
}

void sqs_new_job_id(char out[17])
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 48;
    }
    sqs_hex64(v, out);
}

void sqs_msg_free(struct sqs_msg *m)
{
    if (!m) return;
    free(m->bundle);
    free(m->pst);
    free(m->result_queue);
    free(m->agent);
    free(m->ctl);
    free(m->keys);
    free(m->payload_key);
    sb_free(&m->wire);
    memset(m, 0, sizeof(*m));
}

void sqs_msg_encode(const struct sqs_msg *m, struct strbuf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pestrun", 1);
    static const char *const names[] = {"", "run", "result", "status", "cancel"};
    cJSON_AddStringToObject(o, "type", names[m->type]);
    cJSON_AddStringToObject(o, "job", m->job);
    cJSON_AddStringToObject(o, "case", m->case_id);
    if (m->type == SQS_MSG_RUN) {
        cJSON_AddStringToObject(o, "bundle", m->bundle ? m->bundle : "");
        cJSON_AddStringToObject(o, "pst", m->pst ? m->pst : "");
        cJSON_AddStringToObject(o, "rq", m->result_queue ? m->result_queue : "");
        cJSON_AddNumberToObject(o, "exec", m->exec);
        cJSON_AddNumberToObject(o, "timeout", m->timeout_s);
    } else if (m->type != SQS_MSG_CANCEL) {
        cJSON_AddStringToObject(o, "agent", m->agent ? m->agent : "");
        if (m->ctl) cJSON_AddStringToObject(o, "ctl", m->ctl);
        cJSON_AddNumberToObject(o, "slots", m->slots);
    }
    if (m->type == SQS_MSG_CANCEL && m->ended) cJSON_AddNumberToObject(o, "ended", 1);
    if (m->type != SQS_MSG_RUN) {
        cJSON *keys = cJSON_AddArrayToObject(o, "running");
        for (size_t i = 0; i < m->nkeys; i++) {
            cJSON *k = cJSON_CreateArray();
            cJSON_AddItemToArray(k, cJSON_CreateNumber((double)m->keys[i].batch));
            cJSON_AddItemToArray(k, cJSON_CreateNumber(m->keys[i].run));
            cJSON_AddItemToArray(k, cJSON_CreateNumber(m->keys[i].attempt));
            cJSON_AddItemToArray(keys, k);
        }
    }
    if (m->type == SQS_MSG_STATUS || m->type == SQS_MSG_CANCEL) {
        /* no run or result inside */
    } else if (m->payload_key) {
        cJSON_AddStringToObject(o, "payload", m->payload_key);
    } else {
        struct strbuf b = {0};
        b64_encode(m->wire.data, m->wire.len, &b);
        cJSON_AddStringToObject(o, "wire", b.data ? b.data : "");
        sb_free(&b);
    }
    char *s = cJSON_PrintUnformatted(o);
    sb_puts(out, s);
    cJSON_free(s);
    cJSON_Delete(o);
}

static char *dup_field(const cJSON *o, const char *name, int required, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v)) {
        if (required) *bad = 1;
        return NULL;
    }
    return xstrdup(v->valuestring);
}

static int copy_id(const cJSON *o, const char *name, char out[17])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v) || strlen(v->valuestring) != 16 ||
        strspn(v->valuestring, "0123456789abcdef") != 16)
        return -1;
    memcpy(out, v->valuestring, 17);
    return 0;
}

static int key_part(const cJSON *v, double max, double *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return -1;
    *out = v->valuedouble;
    return 0;
}

/* "running": an array (absent: empty) of [batch, run, attempt] integers (a batch below 10^15:
 * cJSON writes 15 significant digits). */
static int decode_keys(const cJSON *o, struct sqs_msg *m)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "running");
    if (!a) return 0;
    int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n > SQS_MSG_MAX_KEYS) return -1;
    if (n == 0) return 0;
    m->keys = xcalloc((size_t)n, sizeof(*m->keys));
    const cJSON *k;
    cJSON_ArrayForEach(k, a)
    {
        double b, r, t;
        if (!cJSON_IsArray(k) || cJSON_GetArraySize(k) != 3 ||
            key_part(cJSON_GetArrayItem(k, 0), 999999999999999.0, &b) < 0 ||
            key_part(cJSON_GetArrayItem(k, 1), 4294967295.0, &r) < 0 ||
            key_part(cJSON_GetArrayItem(k, 2), 4294967295.0, &t) < 0)
            return -1;
        m->keys[m->nkeys++] = (struct run_key){(uint64_t)b, (uint32_t)r, (uint32_t)t};
    }
    return 0;
}

int sqs_msg_decode(const char *body, struct sqs_msg *m, struct pr_error *err)
{
    memset(m, 0, sizeof(*m));
    cJSON *o = cJSON_Parse(body);
    int bad = 0;
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return pr_error_set(err, "not a pestrun message (not a JSON object)");
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(o, "pestrun");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsNumber(ver) || ver->valueint != 1 || !cJSON_IsString(type)) {
        cJSON_Delete(o);
        return pr_error_set(err, "not a pestrun message (no \"pestrun\":1 and \"type\")");
    }
    if (strcmp(type->valuestring, "run") == 0)
        m->type = SQS_MSG_RUN;
    else if (strcmp(type->valuestring, "result") == 0)
        m->type = SQS_MSG_RESULT;
    else if (strcmp(type->valuestring, "status") == 0)
        m->type = SQS_MSG_STATUS;
    else if (strcmp(type->valuestring, "cancel") == 0)
        m->type = SQS_MSG_CANCEL;
    else {
        cJSON_Delete(o);
        return pr_error_set(err, "pestrun message of unknown type");
    }
    if (copy_id(o, "job", m->job) < 0 || copy_id(o, "case", m->case_id) < 0) {
        cJSON_Delete(o);
        return pr_error_set(err, "pestrun message without a valid job or case id");
    }
    if (m->type == SQS_MSG_RUN) {
        m->bundle = dup_field(o, "bundle", 1, &bad);
        m->pst = dup_field(o, "pst", 1, &bad);
        m->result_queue = dup_field(o, "rq", 1, &bad);
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "exec");
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(o, "timeout");
        m->exec = cJSON_IsNumber(ex) && ex->valueint != 0;
        m->timeout_s = cJSON_IsNumber(to) && to->valuedouble > 0 ? to->valuedouble : 0;
    } else if (m->type != SQS_MSG_CANCEL) {
        m->agent = dup_field(o, "agent", 1, &bad);
        m->ctl = dup_field(o, "ctl", 0, &bad);
        const cJSON *sl = cJSON_GetObjectItemCaseSensitive(o, "slots");
        m->slots = cJSON_IsNumber(sl) && sl->valuedouble >= 1 && sl->valuedouble <= 100000
                       ? (int)sl->valuedouble
                       : 0;
    }
    if (m->type != SQS_MSG_RUN && decode_keys(o, m) < 0) bad = 1;
    if (m->type == SQS_MSG_CANCEL) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "ended");
        m->ended = cJSON_IsNumber(e) && e->valueint == 1;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "wire");
    if (m->type == SQS_MSG_STATUS || m->type == SQS_MSG_CANCEL) {
        /* no run or result inside */
    } else if (!(m->payload_key = dup_field(o, "payload", 0, &bad))) {
        if (!cJSON_IsString(w) || b64_decode(w->valuestring, strlen(w->valuestring), &m->wire) < 0)
            bad = 1;
    }
    cJSON_Delete(o);
    if (bad) {
        sqs_msg_free(m);
        return pr_error_set(err, "pestrun message with a missing or malformed field");
    }
    return 0;
}
