/* hang: a model that never finishes.
 *
 *   usage: hang [--with-child]
 *
 * Reads nothing, writes nothing and waits for signals forever. Signal dispositions are left at
 * their defaults, so SIGTERM, SIGINT, SIGHUP and SIGKILL end it; any other signal that is caught
 * or ignored only restarts the wait. With --with-child it first forks one child that does the same
 * and prints "hang: pids PARENT CHILD" on stderr, so a test can check that killing the run's
 * process group also ends grandchildren. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--with-child")) {
        pid_t child = fork();
        if (child < 0) {
            perror("hang: fork");
            return 1;
        }
        if (child > 0) fprintf(stderr, "hang: pids %ld %ld\n", (long)getpid(), (long)child);
    } else if (argc != 1) {
        fprintf(stderr, "usage: hang [--with-child]\n");
        return 1;
    }
    for (;;)
        pause();
}
