/* The MPI transport: rank 0 is the master (the scheduler and the algorithm run there, over
 * this transport), the workers run the shared agent loop, each bound to one core of its node,
 * with its own copy of the model folder in node-local scratch.
 *
 * MPI is initialised only when pestrun runs under mpirun/srun with more than one rank (or
 * --transport mpi forces it); a plain `pestrun sweep` never calls MPI_Init. The split between
 * master and workers happens in engine_start (src/cli/engine.c): mpi_start never returns on a
 * worker (the process exits once the master says QUIT), so the commands' code before
 * engine_start must not write files or print anything every rank would duplicate.
 *
 * The workers: under Open MPI's mpirun the master spawns one worker for every other rank of
 * the launch as a recoverable job and those ranks leave (spawn.h), so that a worker that dies
 * does not make mpirun end the job; otherwise (srun, PESTRUN_MPI_SPAWN=0, a failed spawn)
 * ranks 1..N-1 of the launch are the workers. Either way a worker is named by its launch rank.
 *
 * MPI has no file descriptor to block on, so both sides wait with a bounded back-off: test the
 * MPI side (Iprobe), then poll() on the fds that matter (the master's extra fd and pidfds, the
 * worker's model pidfd) for 1 ms, doubling up to 50 ms while nothing happens and back to 1 ms
 * on any activity. An idle master or worker wakes at most 20 times a second; while runs are
 * out the master caps its back-off at 1/20 of the mean run time (at least 1 ms), so short
 * models are not slowed by it, and a worker resets its back-off whenever it sends.
 *
 * Liveness: a worker sends WIRE_PING whenever it has sent nothing for lost_after_s / 12 (at
 * most 5 s, at least 0.2 s), idle or running; the master declares a worker silent for
 * lost_after_s (default 60 s) lost (WORKER_LOST; the scheduler re-queues its run) and sends it
 * QUIT. A worker on the master's node (same host, boot and pid namespace) is watched through a
 * pidfd too: its end is a loss at once. A worker whose case has other parameter or observation
 * names than the master's (the master sends journal_case_id at the start) reports it in its
 * HELLO and is lost with that reason.
 *
 * Ending: MPI_Finalize does not synchronise the ranks (ompi_async_mpi_finalize, set before
 * MPI_Init: with a lost rank a barrier would never end). Instead the master's destroy sends
 * QUIT to every worker and waits (at most 10 s) for each one's goodbye (a PING with status 1),
 * its last message; MPI_Finalize runs at the master's exit (atexit), after the command wrote
 * its outputs. MPI_ERRORS_RETURN is set on the communicators. Should the MPI runtime abort the
 * job anyway (the master lost, a launch that cannot spawn), the journal has every finished
 * run and `... --resume` continues. A worker receiving SIGTERM (the job torn down) kills its
 * model and removes its folder before it exits. */
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
 * (whose own job may have one rank), without initialising MPI. */
int mpi_launched(void);

/* Initialise MPI (when it is not yet) and take this rank's part:
 *  - rank 0: create the master side of the transport in *tr (spawning the workers when it
 *    can) and return 0;
 *  - a worker (spawned, or another rank of the launch): run the worker for case c until the
 *    master says QUIT, finalise MPI and exit the process (0 after QUIT); never returns;
 *  - another rank of the launch once its spawned worker has connected: finalise MPI and exit
 *    0; never returns.
 * Returns -1 with err set on rank 0 when MPI cannot start or there is only one rank (MPI is
 * then finalised). */
int mpi_start(const struct pst_case *c, const struct mpi_opts *opts, struct transport *tr,
              struct pr_error *err);

/* The number of worker ranks, and a description of where their folders are. */
int mpi_nworkers(const struct transport *tr);
const char *mpi_workroot(const struct transport *tr);

#endif
