/* The worker ranks as a job of their own, so that losing one does not end the launch.
 *
 * Open MPI 4.1's mpirun aborts the whole job when one of its processes dies by a signal (kill
 * -9, the OOM killer), unless mpirun itself was started with --enable-recovery; a process that
 * has left PMIx (or never joined it) is no exception. A job spawned through PMIx with
 * PMIX_JOB_RECOVERABLE is: mpirun records the death of one of its processes and lets the
 * others run. So under mpirun, rank 0 spawns one worker for every other rank of the launch,
 * on that rank's node, in its folder, with its command line and its environment, as one
 * recoverable job, and the other ranks of the launch leave (exit 0). A worker that dies later
 * is a lost worker like any other.
 *
 * A spawned worker is a plain process: it finds the rank it stands for in PESTRUN_MPI_RANK and
 * where and how to reach the master in PESTRUN_MPI_MASTER (which it removes from its
 * environment before any model runs), and talks to the master over a socket. Spawning is
 * tried only under Open MPI's own launcher (srun cannot spawn); PESTRUN_MPI_SPAWN=0 turns it
 * off. When it is off or fails, the ranks of the launch are the workers themselves. */
#ifndef PR_MPI_SPAWN_H
#define PR_MPI_SPAWN_H

#include <stddef.h>

#include "util/strbuf.h"

#define SPAWN_ENV_RANK "PESTRUN_MPI_RANK"
#define SPAWN_ENV_MASTER "PESTRUN_MPI_MASTER"

/* The launch rank this process stands for when it is a worker spawned by spawn_workers, else
 * 0. Looked up in the environment. */
int spawn_worker_rank(void);
/* 1 when the workers are to be spawned (Open MPI's mpirun, not PESTRUN_MPI_SPAWN=0); else 0
 * with why (whylen bytes) telling the reason. The same on every rank of a launch. */
int spawn_wanted(char *why, size_t whylen);
/* Append this process's launch (node, executable, folder, command line, environment) to b, in
 * the form spawn_workers takes. */
void spawn_describe(struct strbuf *b);
/* Rank 0, in the launch (PMIx joined): spawn worker i (0 <= i < n) for launch rank i + 1 from
 * that rank's description desc[i] (len[i] bytes), with master[i] as its PESTRUN_MPI_MASTER,
 * all n as one recoverable job. Returns 0 once they are started, or -1 with why set. */
int spawn_workers(char *const *desc, const size_t *len, int n, char *const *master, char *why,
                  size_t whylen);

#endif
