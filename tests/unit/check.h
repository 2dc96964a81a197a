/* A minimal test harness: each test program prints one line per failed check and a closing
 * "N passed, N failed" line, and exits non-zero when anything failed. */
#ifndef PR_CHECK_H
#define PR_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                 \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                 \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b) CHECK_MSG(strcmp((a), (b)) == 0, "'%s' != '%s'", (a), (b))
#define CHECK_NEAR(a, b, tol)                                                                      \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.17g != %.17g", (double)(a), (double)(b))

/* The folder of shared fixtures (../shared from the project root), or NULL when absent:
 * tests that need it print "skipped" and pass. */
static inline const char *check_shared_dir(void)
{
    static char path[4096];
    const char *env = getenv("PESTRUN_SHARED");
    FILE *f;
    snprintf(path, sizeof(path), "%s/pest/SPEC.md", env ? env : PESTRUN_SOURCE_DIR "/../shared");
    f = fopen(path, "r");
    if (!f) return NULL;
    fclose(f);
    snprintf(path, sizeof(path), "%s", env ? env : PESTRUN_SOURCE_DIR "/../shared");
    return path;
}

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
