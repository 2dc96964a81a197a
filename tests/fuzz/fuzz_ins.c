/* libFuzzer target for instruction files: the input is an instruction file and an output file,
 * split at the first NUL byte (or halfway when there is none). Whatever parses is bound to its
 * own observations and applied; nothing may crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pest/ins.h"
#include "util/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = size ? memchr(text, '\0', size) : NULL;
    size_t ins_len = nul ? (size_t)(nul - text) : size / 2;
    size_t out_off = nul ? ins_len + 1 : ins_len;
    /* odd sizes also exercise ++additional_ins_delimiters */
    const char *extra = size % 2 ? "|;" : NULL;
    struct pr_error err;
    struct ins *in;
    struct names *obs;
    double *values;
    unsigned char *seen;

    in = ins_parse(text, ins_len, "fuzz.ins", extra, &err);
    if (!in) return 0;
    obs = names_create();
    for (size_t i = 0; i < ins_nobs(in); i++)
        names_add(obs, ins_obs_name(in, i));
    values = calloc(ins_nobs(in) + 1, sizeof(double));
    seen = calloc(ins_nobs(in) + 1, 1);
    if (values && seen && ins_bind(in, obs, &err) == 0)
        ins_apply(in, text + out_off, size - out_off, "fuzz.out", values, seen, &err);
    free(values);
    free(seen);
    names_destroy(obs);
    ins_destroy(in);
    return 0;
}
