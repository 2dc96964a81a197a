/* libFuzzer target for templates: parse any bytes, bind against a small parameter table, fill
 * in every option mode; and format a double taken from the bytes at widths 1..30. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pest/tpl.h"

static const char *const param_names[] = {"A", "B", "K1", "RCH", "~", "X Y"};
#define NPARAMS (sizeof(param_names) / sizeof(param_names[0]))

static void fuzz_format(const uint8_t *data, size_t size)
{
    double v;
    char out[31];

    if (size < sizeof(v)) return;
    memcpy(&v, data, sizeof(v));
    for (int mode = 0; mode < 4; mode++) {
        struct tpl_opts opts = {mode & 1, (mode >> 1) & 1};
        for (int w = 1; w <= 30; w++) {
            memset(out, 'x', sizeof(out));
            if (tpl_format(v, w, &opts, out) == 0 && strlen(out) != (size_t)w) abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const double values[NPARAMS] = {1.0, -2.5e-7, 1234.5678, 0.0, 1e300, -0.001};
    struct pr_error err;
    struct tpl *t;

    fuzz_format(data, size);
    t = tpl_parse((const char *)data, size, "fuzz.tpl", &err);
    if (t) {
        struct names *params = names_create();
        for (size_t i = 0; i < NPARAMS; i++)
            names_add(params, param_names[i]);
        for (size_t i = 0; i < tpl_nparams(t); i++)
            if (!tpl_param_name(t, i) || tpl_param_line(t, i) < 2) abort();
        if (tpl_bind(t, params, &err) == 0) {
            for (int mode = 0; mode < 4; mode++) {
                struct tpl_opts opts = {mode & 1, (mode >> 1) & 1};
                struct strbuf out = {0};
                double processed[NPARAMS];
                unsigned char written[NPARAMS] = {0};
                tpl_fill(t, values, &opts, &out, processed, written, &err);
                sb_free(&out);
            }
        }
        names_destroy(params);
        tpl_destroy(t);
    }
    return 0;
}
