#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "util/hash.h"

char *registry_folder(const char *prefix, const char *queue_url)
{
    char qid[17];
    struct strbuf sb = {0};
    sqs_hex64(pr_hash64(queue_url, strlen(queue_url), 0x5153), qid);
    sb_printf(&sb, "%s%sagents/%s/", prefix, *prefix ? "/" : "", qid);
    return sb_take(&sb);
}

int registry_put(struct aws_client *c, const char *bucket, const char *prefix,
                 const char *queue_url, const char *agent_id, int slots, time_t expires, char **key,
                 struct pr_error *err)
{
    char *folder = registry_folder(prefix, queue_url);
    struct strbuf k = {0};
    sb_printf(&k, "%s%s.%d.%lld", folder, agent_id, slots, (long long)expires);
    free(folder);
    if (s3_put(c, bucket, k.data, "", 0, NULL, err) < 0) {
        sb_free(&k);
        return -1;
    }
    if (*key) {
        struct pr_error e2;
        s3_delete(c, bucket, *key, &e2); /* an old record left behind expires anyway */
        free(*key);
    }
    *key = sb_take(&k);
    return 0;
}

struct scan {
    time_t now;
    const char *const *exclude;
    size_t nexclude;
    int slots, agents;
};

static int scan_one(void *ctx, const char *key, long long size)
{
    struct scan *s = ctx;
    const char *name = strrchr(key, '/');
    name = name ? name + 1 : key;
    const char *dot2 = strrchr(name, '.');
    if (!dot2 || dot2 == name) return 0;
    const char *dot1 = dot2 - 1;
    while (dot1 > name && *dot1 != '.')
        dot1--;
    if (*dot1 != '.') return 0;
    char *end;
    long slots = strtol(dot1 + 1, &end, 10);
    if (end != dot2 || slots < 1 || slots > 100000) return 0;
    long long expires = strtoll(dot2 + 1, &end, 10);
    if (*end || expires < s->now) return 0;
    for (size_t i = 0; i < s->nexclude; i++)
        if (strlen(s->exclude[i]) == (size_t)(dot1 - name) &&
            memcmp(s->exclude[i], name, (size_t)(dot1 - name)) == 0)
            return 0;
    s->slots += (int)slots;
    s->agents++;
    (void)size;
    return 0;
}

int registry_scan(struct aws_client *c, const char *bucket, const char *prefix,
                  const char *queue_url, time_t now, const char *const *exclude, size_t nexclude,
                  int *slots, int *agents, struct pr_error *err)
{
    struct scan s = {.now = now, .exclude = exclude, .nexclude = nexclude};
    char *folder = registry_folder(prefix, queue_url);
    int rc = s3_list(c, bucket, folder, scan_one, &s, err);
    free(folder);
    if (rc < 0) return -1;
    *slots = s.slots;
    *agents = s.agents;
    return 0;
}
