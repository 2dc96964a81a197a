#include "launch.h"

#include <pmix.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/strbuf.h"

struct launch {
    pmix_proc_t me, all;
    int size;
};

struct launch *launch_join(struct pr_error *err)
{
    struct launch *l = xcalloc(1, sizeof(*l));
    pmix_value_t *v = NULL;
    pmix_status_t st = PMIx_Init(&l->me, NULL, 0);
    if (st != PMIX_SUCCESS) {
        pr_error_set(err, "not started by mpirun or srun --mpi=pmix (PMIx_Init: %s)",
                     PMIx_Error_string(st));
        free(l);
        return NULL;
    }
    PMIX_LOAD_PROCID(&l->all, l->me.nspace, PMIX_RANK_WILDCARD);
    st = PMIx_Get(&l->all, PMIX_JOB_SIZE, NULL, 0, &v);
    if (st != PMIX_SUCCESS || !v) {
        pr_error_set(err, "the launcher does not tell the job's size (PMIx_Get: %s)",
                     PMIx_Error_string(st));
        PMIx_Finalize(NULL, 0);
        free(l);
        return NULL;
    }
    l->size = v->type == PMIX_UINT32 ? (int)v->data.uint32 : v->data.integer;
    PMIX_VALUE_RELEASE(v);
    return l;
}

int launch_rank(const struct launch *l)
{
    return (int)l->me.rank;
}

int launch_size(const struct launch *l)
{
    return l->size;
}

int launch_put(struct launch *l, const char *key, const void *data, size_t len,
               struct pr_error *err)
{
    pmix_value_t v;
    PMIX_VALUE_CONSTRUCT(&v);
    v.type = PMIX_BYTE_OBJECT;
    v.data.bo.bytes = (char *)(uintptr_t)data; /* PMIx_Put copies it */
    v.data.bo.size = len;
    pmix_status_t st = PMIx_Put(PMIX_GLOBAL, key, &v);
    if (st == PMIX_SUCCESS) st = PMIx_Commit();
    (void)l;
    if (st != PMIX_SUCCESS)
        return pr_error_set(err, "publishing %s to the launch: %s", key, PMIx_Error_string(st));
    return 0;
}

int launch_fence(struct launch *l, struct pr_error *err)
{
    pmix_info_t info;
    bool yes = true;
    PMIX_INFO_CONSTRUCT(&info);
    PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);
    pmix_status_t st = PMIx_Fence(&l->all, 1, &info, 1);
    PMIX_INFO_DESTRUCT(&info);
    if (st != PMIX_SUCCESS)
        return pr_error_set(err, "waiting for the other ranks: %s", PMIx_Error_string(st));
    return 0;
}

int launch_get(struct launch *l, int rank, const char *key, char **data, size_t *len,
               struct pr_error *err)
{
    pmix_proc_t p;
    pmix_value_t *v = NULL;
    PMIX_LOAD_PROCID(&p, l->me.nspace, (pmix_rank_t)rank);
    pmix_status_t st = PMIx_Get(&p, key, NULL, 0, &v);
    if (st != PMIX_SUCCESS || !v || v->type != PMIX_BYTE_OBJECT) {
        if (v) PMIX_VALUE_RELEASE(v);
        return pr_error_set(err, "rank %d did not publish %s (%s)", rank, key,
                            st == PMIX_SUCCESS ? "wrong type" : PMIx_Error_string(st));
    }
    *len = v->data.bo.size;
    *data = xmalloc(*len + 1);
    memcpy(*data, v->data.bo.bytes, *len);
    (*data)[*len] = 0;
    PMIX_VALUE_RELEASE(v);
    return 0;
}

void launch_leave(struct launch *l)
{
    if (!l) return;
    PMIx_Finalize(NULL, 0);
    free(l);
}

static void read_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    buf[0] = 0;
    if (!f) return;
    if (!fgets(buf, (int)n, f)) buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
}

void launch_scope(struct launch *l, char *buf, size_t n)
{
    char host[128], boot[64], net[64] = "", mnt[64] = "", pid[64] = "", node[256] = "";
    pmix_value_t *v = NULL;
    if (PMIx_Get(&l->me, PMIX_HOSTNAME, NULL, 0, &v) == PMIX_SUCCESS && v &&
        v->type == PMIX_STRING && v->data.string)
        snprintf(node, sizeof(node), "%s", v->data.string);
    if (v) PMIX_VALUE_RELEASE(v);
    if (gethostname(host, sizeof(host)) < 0) snprintf(host, sizeof(host), "?");
    host[sizeof(host) - 1] = 0;
    read_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
    ssize_t k = readlink("/proc/self/ns/net", net, sizeof(net) - 1);
    net[k > 0 ? k : 0] = 0;
    k = readlink("/proc/self/ns/mnt", mnt, sizeof(mnt) - 1);
    mnt[k > 0 ? k : 0] = 0;
    k = readlink("/proc/self/ns/pid", pid, sizeof(pid) - 1);
    pid[k > 0 ? k : 0] = 0;
    /* the node first: the master reads it to find a route to the node */
    snprintf(buf, n, "%s/%s/%s/%s/%s/%s", *node ? node : host, host, boot, net, mnt, pid);
}
