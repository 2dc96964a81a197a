/* The SQS transport's message envelopes: base64 against RFC 4648's vectors, run and result
 * envelopes round-tripped with the wire message inside, status and cancel envelopes with the
 * run copies they name, and bodies that are not ours refused. */
#include <stdint.h>

#include "check.h"
#include "aws/sqs.h"
#include "sched/wire.h"
#include "transport/sqs/msg.h"
#include "transport/sqs/registry.h"

static void test_base64(void)
{
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        struct strbuf e = {0}, d = {0};
        b64_encode(plain[i], strlen(plain[i]), &e);
        CHECK_STR(e.data ? e.data : "", coded[i]);
        CHECK(b64_decode(coded[i], strlen(coded[i]), &d) == 0);
        CHECK(d.len == strlen(plain[i]) && memcmp(d.data ? d.data : "", plain[i], d.len) == 0);
        sb_free(&e);
        sb_free(&d);
    }
    /* every byte value survives */
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct strbuf e = {0}, d = {0};
    b64_encode(all, sizeof(all), &e);
    CHECK(b64_decode(e.data, e.len, &d) == 0 && d.len == 256 && memcmp(d.data, all, 256) == 0);
    sb_free(&e);
    sb_free(&d);
    static const char *bad[] = {"Zg=", "Z===", "Zg=a", "Zm9v!A==", "=AAA", "Zg==Zg=="};
    for (int i = 0; i < 6; i++) {
        struct strbuf x = {0};
        CHECK_MSG(b64_decode(bad[i], strlen(bad[i]), &x) < 0, "'%s' accepted", bad[i]);
        sb_free(&x);
    }
}

static void test_run_envelope(void)
{
    double v[3] = {1.5, -2.25e-300, 12345.678901234567};
    struct wire_msg w = {
        .type = WIRE_RUN, .key = {7, 42, 1}, .npar = 3, .values = v, .text = "par_name:K1"};
    struct sqs_msg m = {.type = SQS_MSG_RUN,
                        .bundle = "pestrun/bundles/ab.tar.zst",
                        .pst = "case.pst",
                        .result_queue = "http://q/r",
                        .exec = 1,
                        .timeout_s = 60};
    memcpy(m.job, "0123456789abcdef", 17);
    memcpy(m.case_id, "fedcba9876543210", 17);
    wire_encode(&w, &m.wire);
    struct strbuf body = {0};
    sqs_msg_encode(&m, &body);
    struct sqs_msg d;
    struct pr_error err;
    CHECK(sqs_msg_decode(body.data, &d, &err) == 0);
    CHECK(d.type == SQS_MSG_RUN);
    CHECK_STR(d.job, "0123456789abcdef");
    CHECK_STR(d.case_id, "fedcba9876543210");
    CHECK_STR(d.bundle, "pestrun/bundles/ab.tar.zst");
    CHECK_STR(d.pst, "case.pst");
    CHECK_STR(d.result_queue, "http://q/r");
    CHECK(d.exec == 1 && d.timeout_s == 60);
    CHECK(d.payload_key == NULL);
    struct wire_msg back;
    struct strbuf scratch = {0};
    CHECK(wire_decode(d.wire.data, d.wire.len, &back, &scratch, &err) == 0);
    CHECK(back.type == WIRE_RUN && run_key_eq(&back.key, &w.key) && back.npar == 3);
    CHECK(memcmp(back.values, v, sizeof(v)) == 0); /* bit for bit */
    CHECK_STR(back.text, "par_name:K1");
    sqs_msg_free(&d);
    sb_free(&scratch);
    sb_free(&body);
    sb_free(&m.wire);
}

static void test_result_payload(void)
{
    struct sqs_msg m = {.type = SQS_MSG_RESULT,
                        .agent = "host-1-abcd",
                        .payload_key = "pestrun/jobs/j/results/1-2-0-host"};
    memcpy(m.job, "0000000000000001", 17);
    memcpy(m.case_id, "0000000000000002", 17);
    struct strbuf body = {0};
    sqs_msg_encode(&m, &body);
    CHECK(strstr(body.data, "\"wire\"") == NULL);
    struct sqs_msg d;
    struct pr_error err;
    CHECK(sqs_msg_decode(body.data, &d, &err) == 0);
    CHECK(d.type == SQS_MSG_RESULT);
    CHECK_STR(d.agent, "host-1-abcd");
    CHECK_STR(d.payload_key, "pestrun/jobs/j/results/1-2-0-host");
    sqs_msg_free(&d);
    sb_free(&body);
}

static void test_status_and_cancel(void)
{
    struct run_key keys[3] = {{1, 0, 0}, {999999999999999ULL, 4294967295U, 7}, {12, 345, 2}};
    struct sqs_msg m = {.type = SQS_MSG_STATUS,
                        .agent = "host-2-beef",
                        .ctl = "http://sqs.x/000000000000/pestrun-ctl-host-2-beef",
                        .slots = 4,
                        .keys = keys,
                        .nkeys = 3};
    memcpy(m.job, "00000000000000aa", 17);
    memcpy(m.case_id, "00000000000000bb", 17);
    struct strbuf body = {0};
    sqs_msg_encode(&m, &body);
    CHECK(strstr(body.data, "\"wire\"") == NULL && strstr(body.data, "\"payload\"") == NULL);
    struct sqs_msg d;
    struct pr_error err;
    CHECK(sqs_msg_decode(body.data, &d, &err) == 0);
    CHECK(d.type == SQS_MSG_STATUS && d.slots == 4 && d.nkeys == 3);
    CHECK_STR(d.agent, "host-2-beef");
    CHECK_STR(d.ctl, "http://sqs.x/000000000000/pestrun-ctl-host-2-beef");
    for (size_t i = 0; i < 3 && d.nkeys == 3; i++)
        CHECK_MSG(run_key_eq(&d.keys[i], &keys[i]), "key %zu", i);
    sqs_msg_free(&d);
    sb_free(&body);

    /* a cancel names the copies only; an empty list is fine */
    struct sqs_msg c = {.type = SQS_MSG_CANCEL, .keys = keys + 2, .nkeys = 1};
    memcpy(c.job, "00000000000000aa", 17);
    memcpy(c.case_id, "00000000000000bb", 17);
    sqs_msg_encode(&c, &body);
    CHECK(strstr(body.data, "\"agent\"") == NULL);
    CHECK(sqs_msg_decode(body.data, &d, &err) == 0);
    CHECK(d.type == SQS_MSG_CANCEL && d.nkeys == 1 && run_key_eq(&d.keys[0], &keys[2]));
    CHECK(d.agent == NULL && d.wire.len == 0 && d.ended == 0);
    sqs_msg_free(&d);
    sb_free(&body);
    c.ended = 1;
    c.nkeys = 0;
    sqs_msg_encode(&c, &body);
    CHECK(sqs_msg_decode(body.data, &d, &err) == 0);
    CHECK(d.type == SQS_MSG_CANCEL && d.ended == 1 && d.nkeys == 0);
    sqs_msg_free(&d);
    sb_free(&body);

    /* a result carries the copies still running beside its wire */
    struct sqs_msg r = {.type = SQS_MSG_RESULT, .agent = "a", .slots = 1, .keys = keys, .nkeys = 1};
    memcpy(r.job, "00000000000000aa", 17);
    memcpy(r.case_id, "00000000000000bb", 17);
    sb_append(&r.wire, "xyz", 3);
    sqs_msg_encode(&r, &body);
    CHECK(sqs_msg_decode(body.data, &d, &err) == 0);
    CHECK(d.type == SQS_MSG_RESULT && d.nkeys == 1 && d.ctl == NULL && d.wire.len == 3);
    sqs_msg_free(&d);
    sb_free(&body);
    sb_free(&r.wire);
}

static void test_not_ours(void)
{
    static const char *bodies[] = {
        "",
        "hello",
        "[]",
        "{}",
        "{\"pestrun\":2,\"type\":\"run\"}",
        "{\"pestrun\":1,\"type\":\"walk\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\"}",
        "{\"pestrun\":1,\"type\":\"run\",\"job\":\"0123\",\"case\":\"0123456789abcdef\"}",
        "{\"pestrun\":1,\"type\":\"run\",\"job\":\"0123456789abcdeX\",\"case\":"
        "\"0123456789abcdef\"}",
        /* a run without its bundle */
        "{\"pestrun\":1,\"type\":\"run\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\","
        "\"pst\":\"a.pst\",\"rq\":\"q\",\"wire\":\"\"}",
        /* bad base64 */
        "{\"pestrun\":1,\"type\":\"result\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\",\"agent\":\"a\",\"wire\":\"@@@@\"}",
        /* run copies that are not [batch, run, attempt] integers in range */
        "{\"pestrun\":1,\"type\":\"status\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\",\"agent\":\"a\",\"running\":[[1,2]]}",
        "{\"pestrun\":1,\"type\":\"status\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\",\"agent\":\"a\",\"running\":[[1,2,-1]]}",
        "{\"pestrun\":1,\"type\":\"cancel\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\",\"running\":[[1,4294967296,0]]}",
        "{\"pestrun\":1,\"type\":\"cancel\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\",\"running\":[[1.5,2,0]]}",
        "{\"pestrun\":1,\"type\":\"cancel\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\",\"running\":[[1000000000000000,2,0]]}",
        "{\"pestrun\":1,\"type\":\"cancel\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\",\"running\":{\"a\":1}}",
        /* a status without its agent */
        "{\"pestrun\":1,\"type\":\"status\",\"job\":\"0123456789abcdef\",\"case\":"
        "\"0123456789abcdef\",\"running\":[]}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
        struct sqs_msg d;
        struct pr_error err;
        CHECK_MSG(sqs_msg_decode(bodies[i], &d, &err) < 0, "accepted: %s", bodies[i]);
        CHECK(strlen(err.msg) > 0);
    }
}

static void test_ids(void)
{
    char a[17], b[17];
    sqs_new_job_id(a);
    sqs_new_job_id(b);
    CHECK(strlen(a) == 16 && strspn(a, "0123456789abcdef") == 16);
    CHECK(strcmp(a, b) != 0);
    sqs_hex64(0x1234abcdULL, a);
    CHECK_STR(a, "000000001234abcd");
    char *f1 = registry_folder("pestrun", "http://127.0.0.1:1/000000000000/tasks");
    char *f2 = registry_folder("pestrun", "http://127.0.0.1:1/000000000000/other");
    CHECK(strncmp(f1, "pestrun/agents/", 15) == 0 && f1[strlen(f1) - 1] == '/');
    CHECK(strcmp(f1, f2) != 0);
    free(f1);
    free(f2);
    f1 = registry_folder("", "q");
    CHECK(strncmp(f1, "agents/", 7) == 0);
    free(f1);
}

static void test_region(void)
{
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_PROFILE");
    setenv("AWS_CONFIG_FILE", "/nonexistent/pestrun-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/pestrun-credentials", 1);
    setenv("HOME", "/nonexistent", 1);
    char *r = sqs_region_for("https://sqs.eu-west-1.amazonaws.com/123456789012/tasks");
    CHECK(r && strcmp(r, "eu-west-1") == 0);
    free(r);
    CHECK(sqs_region_for("http://sqs.us-east-1.localhost:4566/000000000000/q") == NULL);
    CHECK(sqs_region_for("http://127.0.0.1:4566/000000000000/q") == NULL);
    CHECK(sqs_region_for("https://sqs.amazonaws.com/1/q") == NULL);
    setenv("AWS_REGION", "ap-south-1", 1);
    r = sqs_region_for("https://sqs.eu-west-1.amazonaws.com/123456789012/tasks");
    CHECK(r && strcmp(r, "ap-south-1") == 0); /* the environment wins */
    free(r);
    unsetenv("AWS_REGION");
}

int main(void)
{
    test_region();
    test_base64();
    test_run_envelope();
    test_result_payload();
    test_status_and_cancel();
    test_not_ours();
    test_ids();
    return check_done();
}
