/* The worker ranks as a job of their own, so that losing one does not end the launch.
 *
 * Open MPI 4.1's mpirun aborts the whole job when one of its processes dies by a signal (kill
 * -9, the OOM killer), unless mpirun itself was started with --enable-recovery. A job spawned
 * through PMIx with PMIX_JOB_RECOVERABLE is exempt: mpirun records the death of one of its
 * processes and lets the others run. So under mpirun, rank 0 spawns one worker for every other
 * rank of the launch, on that rank's node, in its folder, with its command line and its
 * environment, as one recoverable job; once they are connected the other ranks of the launch
 * finalise MPI and exit 0. A worker that dies later is a lost worker like any other.
 *
 * The spawned workers connect to the master in MPI_Init (OMPI_PARENT_PORT, as the children of
 * MPI_Comm_spawn do; MPI_Comm_get_parent gives the intercommunicator) and find the rank they
 * stand for in PESTRUN_MPI_RANK. Spawning is tried only under Open MPI's own launcher (srun
 * cannot spawn); PESTRUN_MPI_SPAWN=0 turns it off. When it is off or fails, the ranks of the
 * launch are the workers themselves. */
#ifndef PR_MPI_SPAWN_H
#define PR_MPI_SPAWN_H

#include <mpi.h>
#include <stddef.h>

#define SPAWN_ENV_RANK "PESTRUN_MPI_RANK"

/* The launch rank this process stands for when it is a worker spawned by spawn_workers, else
 * 0. Looked up in the environment, before or after MPI_Init. */
int spawn_worker_rank(void);

/* Collective over world, the launch job (at least 2 ranks). Rank 0 tries to spawn the workers
 * and waits at most connect_timeout_s for them to connect (past it, it prints why and exits:
 * the workers are out of reach and mpirun ends the job). Returns 1 when the workers were
 * spawned: on rank 0 *workers is the intercommunicator to them (its remote rank k is worker k),
 * and the other ranks are to finalise MPI and exit. Returns 0 when they were not: the ranks of
 * the launch are the workers, and on rank 0 why (whylen bytes) tells the reason. */
int spawn_workers(MPI_Comm world, double connect_timeout_s, MPI_Comm *workers, char *why,
                  size_t whylen);

#endif
