/* libFuzzer target for the PANTHER frame decoder and name tables (src/panther/frame.c), which
 * parse bytes from the network. The input is a byte stream as a master could send it: frames are
 * decoded one after another as the agent does (stopping at the first corrupt or incomplete one);
 * each decoded frame is re-encoded and decoded again to the same fields, and its data is read as
 * a name table against a small case. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panther/frame.h"

static struct names *local_names(void)
{
    static struct names *n;
    if (!n) {
        n = names_create();
        names_add(n, "X1");
        names_add(n, "X2");
        names_add(n, "K_02");
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pr_error err;
    struct panther_msg m, again;
    struct strbuf sb = {0};
    size_t off = 0, used;

    while (off < size) {
        int rc = panther_decode(data + off, size - off, &m, &used, &err);
        if (rc <= 0) break;
        if (used < PANTHER_FRAME_MIN || used > size - off) abort();
        if (m.len != used - PANTHER_FRAME_MIN || strlen(m.desc) >= PANTHER_DESC_SIZE) abort();
        sb_reset(&sb);
        panther_encode(&sb, m.type, m.group, m.run, m.desc, m.data, m.len);
        if (sb.len != used) abort();
        size_t used2;
        if (panther_decode(sb.data, sb.len, &again, &used2, &err) != 1 || used2 != used ||
            again.type != m.type || again.group != m.group || again.run != m.run ||
            strcmp(again.desc, m.desc) != 0 || again.len != m.len ||
            memcmp(again.data, m.data, m.len) != 0)
            abort();
        size_t *map = NULL;
        long n = panther_map_names(m.data, m.len, local_names(), "parameter", &map, &err);
        if (n >= 0) {
            if (n != 3 || !map) abort();
            for (long i = 0; i < n; i++)
                if (map[i] >= 3) abort();
        } else if (map) {
            abort();
        }
        free(map);
        off += used;
    }
    sb_free(&sb);
    return 0;
}
