/* libFuzzer target for the SQS transport's message envelopes: any body a queue delivers is
 * decoded (JSON, ids, base64) and its wire bytes decoded in turn; an accepted body must
 * encode back to one that decodes to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/wire.h"
#include "transport/sqs/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size + 1);
    memcpy(body, data, size);
    body[size] = '\0';
    struct sqs_msg m;
    struct pr_error err;
    if (sqs_msg_decode(body, &m, &err) == 0) {
        struct wire_msg w;
        struct strbuf scratch = {0}, again = {0};
        if (!m.payload_key) wire_decode(m.wire.data, m.wire.len, &w, &scratch, &err);
        sqs_msg_encode(&m, &again);
        struct sqs_msg m2;
        if (sqs_msg_decode(again.data, &m2, &err) != 0) abort();
        if (m2.type != m.type || strcmp(m2.job, m.job) || strcmp(m2.case_id, m.case_id) ||
            m2.wire.len != m.wire.len ||
            (m.wire.len && memcmp(m2.wire.data, m.wire.data, m.wire.len)))
            abort();
        sqs_msg_free(&m2);
        sb_free(&scratch);
        sb_free(&again);
        sqs_msg_free(&m);
    }
    free(body);
    return 0;
}
