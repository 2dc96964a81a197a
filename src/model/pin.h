/* Placing workers on cores with hwloc: one worker per physical core before any hyperthread is
 * used, spread across packages (and NUMA nodes), within the cpuset this process may use. The
 * placement is a pure function of a topology and an allowed cpuset, so it is tested against
 * synthetic and recorded topologies, not only the machine it runs on. */
#ifndef PR_PIN_H
#define PR_PIN_H

#include <hwloc.h>

#include "../util/pr_error.h"

struct pin_plan {
    int n;              /* workers placed */
    int *pu;            /* OS index of the processing unit (PU) of each worker */
    int oversubscribed; /* more workers than allowed PUs: some PUs are shared */
};

/* Load this machine's topology. Returns 0 or -1 with err set. */
int pin_topology_load(hwloc_topology_t *topo, struct pr_error *err);

/* The cpuset this process may use: the topology's allowed cpuset intersected with the
 * process's current binding (sched_getaffinity), so a cpuset given by mpirun, Slurm, taskset
 * or a container is honoured. out must be allocated by the caller (hwloc_bitmap_alloc). */
int pin_allowed_cpuset(hwloc_topology_t topo, hwloc_bitmap_t out, struct pr_error *err);

/* Default number of workers: the number of physical cores with at least one allowed PU. */
int pin_default_workers(hwloc_topology_t topo, hwloc_const_bitmap_t allowed);

/* Place n workers on the allowed PUs: first one PU on each core, taking cores round-robin
 * across packages (then NUMA nodes) so both sockets fill evenly; then the second PU of each
 * core in the same order; past that, wrap around (oversubscribed). Deterministic.
 * Returns 0 or -1 with err set (n < 1, or no allowed PU). Free with pin_plan_free. */
int pin_plan_make(hwloc_topology_t topo, hwloc_const_bitmap_t allowed, int n, struct pin_plan *plan,
                  struct pr_error *err);
void pin_plan_free(struct pin_plan *plan);

/* Bind the calling process (all its threads, and the children it starts later) to the PU
 * with OS index pu. Returns 0 or -1 with err set. */
int pin_bind_self(hwloc_topology_t topo, int pu, struct pr_error *err);

/* The PU OS indexes the calling process may run on, as text ("3" or "0-3"), for logs. */
void pin_describe_self(char *buf, size_t n);

#endif
