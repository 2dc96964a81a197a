/* The monotonic clock in seconds, for run times, deadlines and time-outs. */
#ifndef PR_CLOCK_H
#define PR_CLOCK_H

#include <time.h>

static inline double pr_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
