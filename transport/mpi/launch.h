/* This process's place in an MPI launch (mpirun or srun --mpi=pmix), through PMIx, the
 * launcher's own key-value exchange (what MPI_Init uses for its wire-up). The MPI transport
 * needs only a rendezvous from the launch: rank 0 learns where each rank runs and publishes
 * where to connect, then every byte goes over sockets. MPI_Init would add 0.2-0.7 s of start
 * (its transport layers' wire-up) and a busy-waiting finalize for nothing. */
#ifndef PR_MPI_LAUNCH_H
#define PR_MPI_LAUNCH_H

#include <stddef.h>

#include "util/pr_error.h"

struct launch;

/* Join the launch. NULL with err set when this process was not started by a PMIx launcher. */
struct launch *launch_join(struct pr_error *err);
int launch_rank(const struct launch *l);
int launch_size(const struct launch *l);
/* Publish len bytes under key for the other ranks (seen by them after the next fence). */
int launch_put(struct launch *l, const char *key, const void *data, size_t len,
               struct pr_error *err);
/* Wait for every rank of the launch, exchanging what they put. */
int launch_fence(struct launch *l, struct pr_error *err);
/* What rank put under key (before the last fence): a malloc'd copy in *data (NUL-terminated
 * past *len), or -1 with err set. */
int launch_get(struct launch *l, int rank, const char *key, char **data, size_t *len,
               struct pr_error *err);
/* Leave the launch (the process goes on). NULL-safe. */
void launch_leave(struct launch *l);

/* Where this process of launch l runs, as a string equal for two processes exactly when a Unix
 * socket and a pid of one mean the same to the other: the launcher's name of its node, the
 * host name, the boot, the network, mount and pid namespaces. */
void launch_scope(struct launch *l, char *buf, size_t n);

#endif
