/* Worker placement with hwloc.
 *
 * The plan is built in three steps: collect the "units" (physical cores, or PUs on topologies
 * without Core objects) that have at least one allowed PU, with the allowed PUs of each in
 * logical order; order the units so that consecutive ones alternate packages, then NUMA nodes
 * within a package; then take the first PU of every unit in that order, the second PU of every
 * unit, and so on. Nothing here keeps state between calls or writes to the topology. */
#include "pin.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/strbuf.h"

enum { LEVEL_PACKAGE, LEVEL_NUMA, NLEVELS };

struct unit {
    int key[NLEVELS]; /* package and NUMA node logical indexes, -1 when absent */
    int index;        /* position in logical order */
    int first, npu;   /* its allowed PUs: units->pu[first .. first + npu) */
};

struct units {
    struct unit *u;
    int n;
    int *pu; /* OS indexes */
    int npu;
};

/* The nearest NUMA node of obj: the first NUMA node among the memory children of its closest
 * ancestor that has memory attached (hwloc 2 attaches NUMA nodes beside the CPU tree, possibly
 * behind memory-side caches). */
static int numa_of(hwloc_obj_t obj)
{
    hwloc_obj_t p, m;
    for (p = obj; p; p = p->parent) {
        for (m = p->memory_first_child; m && m->type != HWLOC_OBJ_NUMANODE;)
            m = m->memory_first_child;
        if (m) return (int)m->logical_index;
    }
    return -1;
}

static void units_free(struct units *us)
{
    free(us->u);
    free(us->pu);
    memset(us, 0, sizeof(*us));
}

/* PUs are visited in logical order, which follows the tree, so the PUs of a core are adjacent. */
static void units_collect(hwloc_topology_t topo, hwloc_const_bitmap_t allowed, struct units *us)
{
    int max = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    hwloc_obj_t pu = NULL, owner, last = NULL, pkg;

    if (max < 1) max = 1;
    us->u = xcalloc((size_t)max, sizeof(*us->u));
    us->pu = xcalloc((size_t)max, sizeof(*us->pu));
    us->n = us->npu = 0;
    while ((pu = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PU, pu)) != NULL) {
        if (!hwloc_bitmap_isset(allowed, pu->os_index)) continue;
        owner = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu);
        if (!owner) owner = pu;
        if (owner != last) {
            struct unit *u = &us->u[us->n];
            pkg = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, owner);
            u->key[LEVEL_PACKAGE] = pkg ? (int)pkg->logical_index : -1;
            u->key[LEVEL_NUMA] = numa_of(owner);
            u->index = us->n;
            u->first = us->npu;
            u->npu = 0;
            us->n++;
            last = owner;
        }
        us->pu[us->npu++] = (int)pu->os_index;
        us->u[us->n - 1].npu++;
    }
}

static int unit_cmp(const void *a, const void *b)
{
    const struct unit *x = a, *y = b;
    int l;
    for (l = 0; l < NLEVELS; l++)
        if (x->key[l] != y->key[l]) return x->key[l] < y->key[l] ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Write into out the unit indexes of sorted[0..n) (sorted by key, then logical order) so that
 * consecutive entries come from different groups at this level whenever possible: the first unit
 * of each group, then the second of each group, and so on. Groups are ordered recursively. */
static void spread(const struct unit *sorted, int n, int level, int *out)
{
    int *tmp, *start, ngroup = 0, g, i, pos, round, more;

    if (level == NLEVELS) {
        for (i = 0; i < n; i++)
            out[i] = sorted[i].index;
        return;
    }
    tmp = xmalloc((size_t)n * sizeof(*tmp));
    start = xmalloc(((size_t)n + 1) * sizeof(*start));
    for (i = 0; i < n; i++)
        if (i == 0 || sorted[i].key[level] != sorted[i - 1].key[level]) start[ngroup++] = i;
    start[ngroup] = n;
    for (g = 0; g < ngroup; g++)
        spread(sorted + start[g], start[g + 1] - start[g], level + 1, tmp + start[g]);
    pos = 0;
    for (round = 0, more = 1; more; round++) {
        more = 0;
        for (g = 0; g < ngroup; g++) {
            if (start[g] + round >= start[g + 1]) continue;
            out[pos++] = tmp[start[g] + round];
            more = 1;
        }
    }
    free(start);
    free(tmp);
}

/* The PU OS indexes in placement order: the first allowed PU of each unit in spread order, then
 * the second, ... Returns a malloc'd array of us->npu entries. */
static int *placement_order(const struct units *us)
{
    struct unit *sorted = xmalloc((size_t)us->n * sizeof(*sorted));
    int *order = xmalloc((size_t)us->n * sizeof(*order));
    int *seq = xmalloc((size_t)us->npu * sizeof(*seq));
    int i, round, pos = 0, more;

    memcpy(sorted, us->u, (size_t)us->n * sizeof(*sorted));
    qsort(sorted, (size_t)us->n, sizeof(*sorted), unit_cmp);
    spread(sorted, us->n, 0, order);
    for (round = 0, more = 1; more; round++) {
        more = 0;
        for (i = 0; i < us->n; i++) {
            const struct unit *u = &us->u[order[i]];
            if (round >= u->npu) continue;
            seq[pos++] = us->pu[u->first + round];
            more = 1;
        }
    }
    free(order);
    free(sorted);
    return seq;
}

int pin_topology_load(hwloc_topology_t *topo, struct pr_error *err)
{
    hwloc_topology_t t;
    int e;

    if (hwloc_topology_init(&t) < 0)
        return pr_error_set(err, "hwloc: cannot initialise a topology: %s", strerror(errno));
    if (hwloc_topology_load(t) < 0) {
        e = errno;
        hwloc_topology_destroy(t);
        return pr_error_set(err, "hwloc: cannot read this machine's topology: %s", strerror(e));
    }
    *topo = t;
    return 0;
}

int pin_allowed_cpuset(hwloc_topology_t topo, hwloc_bitmap_t out, struct pr_error *err)
{
    hwloc_bitmap_t bound = hwloc_bitmap_alloc();
    hwloc_const_bitmap_t allowed = hwloc_topology_get_allowed_cpuset(topo);
    char *a = NULL, *b = NULL;

    if (!bound) return pr_error_set(err, "hwloc: out of memory");
    /* A topology loaded from XML or a synthetic description has no binding to ask about. */
    if (hwloc_get_cpubind(topo, bound, HWLOC_CPUBIND_PROCESS) < 0)
        hwloc_bitmap_copy(bound, allowed);
    if (hwloc_bitmap_intersects(allowed, bound)) {
        hwloc_bitmap_and(out, allowed, bound);
        hwloc_bitmap_free(bound);
        return 0;
    }
    hwloc_bitmap_list_asprintf(&a, allowed);
    hwloc_bitmap_list_asprintf(&b, bound);
    pr_error_set(err,
                 "no usable processing unit: this process is bound to PUs %s, none of which is "
                 "among the machine's allowed PUs %s",
                 b ? b : "?", a ? a : "?");
    free(a);
    free(b);
    hwloc_bitmap_free(bound);
    return -1;
}

int pin_default_workers(hwloc_topology_t topo, hwloc_const_bitmap_t allowed)
{
    struct units us;
    int n;

    if (!allowed) allowed = hwloc_topology_get_allowed_cpuset(topo);
    units_collect(topo, allowed, &us);
    n = us.n;
    units_free(&us);
    return n;
}

/* On failure the plan is left empty (n = 0, pu = NULL), so pin_plan_free is safe either way.
 * A NULL allowed set means the topology's allowed cpuset. */
int pin_plan_make(hwloc_topology_t topo, hwloc_const_bitmap_t allowed, int n, struct pin_plan *plan,
                  struct pr_error *err)
{
    struct units us;
    int *seq, i;
    char *text = NULL;

    memset(plan, 0, sizeof(*plan));
    if (n < 1) return pr_error_set(err, "number of workers must be at least 1 (got %d)", n);
    if (!allowed) allowed = hwloc_topology_get_allowed_cpuset(topo);
    units_collect(topo, allowed, &us);
    if (us.npu == 0) {
        if (hwloc_bitmap_iszero(allowed)) {
            pr_error_set(err, "no usable processing unit: the allowed cpuset is empty");
        } else {
            hwloc_bitmap_list_asprintf(&text, allowed);
            pr_error_set(err,
                         "no usable processing unit: none of the allowed PUs %s is in this "
                         "machine's topology",
                         text ? text : "?");
            free(text);
        }
        units_free(&us);
        return -1;
    }
    seq = placement_order(&us);
    plan->pu = xmalloc((size_t)n * sizeof(*plan->pu));
    for (i = 0; i < n; i++)
        plan->pu[i] = seq[i % us.npu];
    plan->n = n;
    plan->oversubscribed = n > us.npu;
    free(seq);
    units_free(&us);
    return 0;
}

void pin_plan_free(struct pin_plan *plan)
{
    if (!plan) return;
    free(plan->pu);
    plan->pu = NULL;
    plan->n = 0;
    plan->oversubscribed = 0;
}

/* On a topology that is not this machine's (XML, synthetic), hwloc would pretend to bind and
 * succeed; refuse instead, so a misconfiguration cannot silently leave workers unpinned. */
int pin_bind_self(hwloc_topology_t topo, int pu, struct pr_error *err)
{
    hwloc_obj_t obj;
    hwloc_bitmap_t set;
    int e;

    if (!hwloc_topology_is_thissystem(topo))
        return pr_error_set(err,
                            "cannot bind to PU %d: the hwloc topology is not this "
                            "machine's (loaded from XML or a synthetic description)",
                            pu);
    obj = pu >= 0 ? hwloc_get_pu_obj_by_os_index(topo, (unsigned)pu) : NULL;
    if (!obj) return pr_error_set(err, "cannot bind to PU %d: no such processing unit", pu);
    set = hwloc_bitmap_dup(obj->cpuset);
    if (!set) return pr_error_set(err, "cannot bind to PU %d: out of memory", pu);
    hwloc_bitmap_singlify(set);
    if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) < 0) {
        e = errno;
        hwloc_bitmap_free(set);
        return pr_error_set(err, "cannot bind to PU %d (processing unit, OS index): %s", pu,
                            strerror(e));
    }
    hwloc_bitmap_free(set);
    return 0;
}

static size_t put_range(char *buf, size_t n, size_t pos, int lo, int hi)
{
    int w;
    if (pos >= n) return pos;
    if (lo == hi)
        w = snprintf(buf + pos, n - pos, "%s%d", pos ? "," : "", lo);
    else
        w = snprintf(buf + pos, n - pos, "%s%d-%d", pos ? "," : "", lo, hi);
    return w < 0 ? n : pos + (size_t)w;
}

void pin_describe_self(char *buf, size_t n)
{
    int ncpu = 1024, cpu, lo = -1;
    size_t size = 0, pos = 0;
    cpu_set_t *set;

    if (!buf || n == 0) return;
    buf[0] = '\0';
    for (;;) { /* the kernel's mask may be wider than cpu_set_t on very large machines */
        set = CPU_ALLOC(ncpu);
        if (!set) break;
        size = CPU_ALLOC_SIZE(ncpu);
        if (sched_getaffinity(0, size, set) == 0) break;
        CPU_FREE(set);
        set = NULL;
        if (errno != EINVAL || ncpu >= (1 << 20)) break;
        ncpu *= 2;
    }
    if (!set) {
        snprintf(buf, n, "?");
        return;
    }
    for (cpu = 0; cpu <= ncpu; cpu++) {
        int in = cpu < ncpu && CPU_ISSET_S((size_t)cpu, size, set);
        if (in && lo < 0) lo = cpu;
        if (!in && lo >= 0) {
            pos = put_range(buf, n, pos, lo, cpu - 1);
            lo = -1;
        }
    }
    CPU_FREE(set);
}
