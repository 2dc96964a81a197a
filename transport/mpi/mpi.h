/* The MPI transport: rank 0 is the master (the scheduler and the algorithm run there, over
 * this transport), the workers run the shared agent loop, each bound to one core of its node,
 * with its own copy of the model folder in node-local scratch.
 *
 * The launcher (mpirun, srun --mpi=pmix) starts the ranks and says where each runs; that is
 * all it is used for. The ranks meet once through PMIx (launch.h): every worker rank publishes
 * where it runs, rank 0 listens on a Unix socket in a private folder (for the workers on its
 * node) and, when a worker is on another node, on TCP at the address this node reaches that
 * node from (PESTRUN_MPI_ADDR chooses another; PESTRUN_MPI_TCP=1 makes the workers of its own
 * node use TCP too), and publishes where to connect with a random token. A worker connects,
 * shows the token (a process that cannot is shut out), and from then on master and workers
 * speak the wire protocol over the socket with the same code as the local transport
 * (src/sched/wlinks.h, agent/agent_fd.h): every wait is a poll() in the kernel, no MPI call
 * follows the start, MPI_Init is never called (so no MPI_Finalize busy-waits at the end).
 *
 * MPI is joined only when pestrun runs under mpirun/srun with more than one rank (or
 * --transport mpi forces it); a plain `pestrun sweep` never does. The split between master and
 * workers happens in engine_start (src/cli/engine.c): mpi_start never returns on a worker (the
 * process exits once the master says QUIT), so the commands' code before engine_start must not
 * write files or print anything every rank would duplicate.
 *
 * The workers: under Open MPI's mpirun the master spawns one worker for every other rank of
 * the launch as a recoverable job and those ranks leave (spawn.h), so that a worker that dies
 * does not make mpirun end the job; otherwise (srun, PESTRUN_MPI_SPAWN=0, a failed spawn)
 * ranks 1..N-1 of the launch are the workers. Either way a worker is named by its launch rank.
 *
 * Liveness: a worker whose process ends closes its socket, on any node: it is lost at once
 * (WORKER_LOST; the scheduler re-queues its run). A worker sends WIRE_PING whenever it has
 * sent nothing for lost_after_s / 12 (at most 5 s, at least 0.2 s), idle or running; the
 * master declares a worker silent for lost_after_s (default 60 s) lost and closes its link
 * (which ends it, should it still be there). A worker whose case has other parameter or
 * observation names than the master's reports it in its HELLO and is lost with that reason.
 *
 * Ending: the master's destroy sends QUIT to every worker and waits (at most 10 s) for each to
 * close its end, which a worker does last, after removing its folder. A worker receiving
 * SIGTERM (the job torn down) kills its model and removes its folder before it exits. Should
 * the launcher abort the job anyway (the master lost), the journal has every finished run and
 * `... --resume` continues. */
#ifndef PR_MPI_H
#define PR_MPI_H

#include "model/runner.h"
#include "pest/pst.h"
#include "sched/transport.h"

struct mpi_opts {
    int pin;              /* bind each worker rank (and its models) to one core */
    const char *workroot; /* node-local folder for the workers' copies; NULL: $TMPDIR or /tmp */
    int keep_workdirs;
    double lost_after_s; /* a worker silent this long is lost (<= 0: 60 s) */
    struct runner_opts ropts;
};

/* 1 when this process was launched by mpirun/srun with more than one rank (looked up in the
 * environment: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK), or is a worker the master spawned
 * (whose own job may have one rank), without joining the launch. */
int mpi_launched(void);

/* Join the launch and take this rank's part:
 *  - rank 0: create the master side of the transport in *tr (spawning the workers when it
 *    can) and return 0;
 *  - a worker (spawned, or another rank of the launch): run the worker for case c until the
 *    master says QUIT and exit the process (0 after QUIT); never returns;
 *  - another rank of the launch once the master has spawned its stand-in: exit 0; never
 *    returns.
 * Returns -1 with err set on rank 0 when there is no launch or only one rank. */
int mpi_start(const struct pst_case *c, const struct mpi_opts *opts, struct transport *tr,
              struct pr_error *err);

/* The number of worker ranks, and a description of where their folders are. */
int mpi_nworkers(const struct transport *tr);
const char *mpi_workroot(const struct transport *tr);

#endif
