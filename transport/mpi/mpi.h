/* The MPI transport: rank 0 is the master (the scheduler and the algorithm run there, over
 * this transport), ranks 1..N-1 are workers, each bound to one core of its node, with its own
 * copy of the model folder in node-local scratch, running the shared agent loop.
 *
 * MPI is initialised only when pestrun runs under mpirun/srun with more than one rank (or
 * --transport mpi forces it); a plain `pestrun sweep` never calls MPI_Init. The split between
 * master and workers happens in engine_start (src/cli/engine.c): mpi_start never returns on a
 * worker rank (the process exits once the master says QUIT), so the commands' code before
 * engine_start must not write files or print anything every rank would duplicate.
 *
 * MPI has no file descriptor to block on, so both sides wait with a bounded back-off: test the
 * MPI side (Iprobe), then poll() on the fd that matters (the master's extra fd, the worker's
 * model pidfd) for 1 ms, doubling up to 50 ms while nothing happens and back to 1 ms on any
 * activity. An idle master or worker wakes at most 20 times a second; while runs are out the
 * master caps its back-off at 1/20 of the mean run time (at least 1 ms), so short models are
 * not slowed by it, and a worker resets its back-off whenever it sends (the next run follows).
 *
 * Liveness: a worker sends WIRE_PING whenever it has sent nothing for lost_after_s / 12 (at
 * most 5 s, at least 0.2 s), idle or running; the master declares a worker silent for
 * lost_after_s (default 60 s) lost (WORKER_LOST; the scheduler re-queues its run) and sends it
 * QUIT. A worker whose case has other parameter or observation names than the master's (the
 * master broadcasts journal_case_id once) reports it in its HELLO and is lost with that reason.
 *
 * Ending: the master's destroy sends QUIT to every worker; MPI_Finalize runs at the master's
 * exit (atexit), after the command wrote its outputs, so a hung rank cannot hold them back
 * (mpirun itself then waits for that rank). MPI_ERRORS_RETURN is set on the communicators; a
 * rank killed outright usually makes Open MPI abort the whole job: the journal has every
 * finished run, and `mpirun ... --resume` continues. A worker rank receiving SIGTERM (mpirun
 * tearing the job down) kills its model and removes its folder before it exits. */
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
 * environment: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK), without initialising MPI. */
int mpi_launched(void);

/* Initialise MPI (when it is not yet) and take this rank's part:
 *  - rank 0: create the master side of the transport in *tr and return 0;
 *  - other ranks: run the worker for case c until the master says QUIT, finalise MPI and
 *    exit the process (0 after QUIT); never returns.
 * Returns -1 with err set on rank 0 when MPI cannot start or there is only one rank (MPI is
 * then finalised). */
int mpi_start(const struct pst_case *c, const struct mpi_opts *opts, struct transport *tr,
              struct pr_error *err);

/* The number of worker ranks, and a description of where their folders are. */
int mpi_nworkers(const struct transport *tr);
const char *mpi_workroot(const struct transport *tr);

#endif
