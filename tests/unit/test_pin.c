/* Worker placement against synthetic and recorded topologies (the XML files in tests/topologies/),
 * then real binding of forked children on this machine. */
#include <errno.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "model/pin.h"
#include "util/text.h"

extern char **environ;

/* --- helpers ------------------------------------------------------------------------------- */

static hwloc_topology_t load_synthetic(const char *desc)
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) < 0) return NULL;
    if (hwloc_topology_set_synthetic(topo, desc) < 0 || hwloc_topology_load(topo) < 0) {
        printf("FAIL: cannot load synthetic topology '%s'\n", desc);
        check_failed++;
        hwloc_topology_destroy(topo);
        return NULL;
    }
    return topo;
}

static hwloc_topology_t load_xml(const char *name)
{
    char path[4096];
    struct pr_error err = {{0}};
    hwloc_topology_t topo = NULL;
    size_t len;
    char *text;

    snprintf(path, sizeof(path), "%s/tests/topologies/%s", PESTRUN_SOURCE_DIR, name);
    text = pr_read_file(path, &len, &err);
    CHECK_MSG(text != NULL, "%s", err.msg);
    if (!text) return NULL;
    if (hwloc_topology_init(&topo) < 0 || hwloc_topology_set_xmlbuffer(topo, text, (int)len) < 0 ||
        hwloc_topology_load(topo) < 0) {
        printf("FAIL: cannot load %s\n", path);
        check_failed++;
        if (topo) hwloc_topology_destroy(topo);
        topo = NULL;
    }
    free(text);
    return topo;
}

static hwloc_obj_t pu_obj(hwloc_topology_t topo, int pu)
{
    return hwloc_get_pu_obj_by_os_index(topo, (unsigned)pu);
}

static int package_of(hwloc_topology_t topo, int pu)
{
    hwloc_obj_t p = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, pu_obj(topo, pu));
    return p ? (int)p->logical_index : -1;
}

/* The core (or the PU itself on topologies without cores), as a logical index. */
static int core_of(hwloc_topology_t topo, int pu)
{
    hwloc_obj_t o = pu_obj(topo, pu), c = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, o);
    return c ? (int)c->logical_index : (int)o->logical_index;
}

/* 0 for the first hardware thread of its core, 1 for the second, ... */
static int thread_of(hwloc_topology_t topo, int pu)
{
    hwloc_obj_t o = pu_obj(topo, pu);
    return o->parent && o->parent->type == HWLOC_OBJ_CORE ? (int)o->sibling_rank : 0;
}

static int numa_of(hwloc_topology_t topo, int pu)
{
    hwloc_obj_t p;
    for (p = pu_obj(topo, pu); p; p = p->parent)
        if (p->memory_first_child) return (int)p->memory_first_child->logical_index;
    return -1;
}

static int distinct(const int *v, int n, int max)
{
    char *seen = calloc((size_t)max, 1);
    int i, ok = 1;
    for (i = 0; i < n && ok; i++) {
        if (v[i] < 0 || v[i] >= max || seen[v[i]])
            ok = 0;
        else
            seen[v[i]] = 1;
    }
    free(seen);
    return ok;
}

/* The plan's PUs mapped through f. Caller frees. */
static int *map_plan(hwloc_topology_t topo, const struct pin_plan *plan,
                     int (*f)(hwloc_topology_t, int))
{
    int *v = malloc((size_t)plan->n * sizeof(*v)), i;
    for (i = 0; i < plan->n; i++)
        v[i] = f(topo, plan->pu[i]);
    return v;
}

static int make(hwloc_topology_t topo, hwloc_const_bitmap_t allowed, int n, struct pin_plan *plan)
{
    struct pr_error err = {{0}};
    int rc = pin_plan_make(topo, allowed, n, plan, &err);
    CHECK_MSG(rc == 0, "n=%d: %s", n, err.msg);
    return rc;
}

/* n workers on distinct cores, first hardware threads only, package i % npkg for worker i. */
static void check_one_per_core(hwloc_topology_t topo, hwloc_const_bitmap_t allowed, int n, int npkg)
{
    struct pin_plan plan;
    int *core, i, pkg_ok = 1, thread_ok = 1;

    if (make(topo, allowed, n, &plan) < 0) return;
    core = map_plan(topo, &plan, core_of);
    CHECK(plan.n == n && !plan.oversubscribed);
    CHECK_MSG(distinct(core, n, 4096), "n=%d: two workers share a core", n);
    for (i = 0; i < n; i++) {
        if (npkg > 0 && package_of(topo, plan.pu[i]) != i % npkg) pkg_ok = 0;
        if (!allowed && thread_of(topo, plan.pu[i]) != 0) thread_ok = 0;
    }
    CHECK_MSG(pkg_ok, "n=%d: workers do not alternate packages", n);
    CHECK_MSG(thread_ok, "n=%d: a hyperthread sibling is used before all cores are", n);
    free(core);
    pin_plan_free(&plan);
}

/* --- 1. two packages, 48 cores each, two hyperthreads per core ------------------------------ */

static void test_2x48x2_synthetic(void)
{
    hwloc_topology_t topo = load_synthetic("pack:2 core:48 pu:2");
    hwloc_bitmap_t set = hwloc_bitmap_alloc(), plan_set = hwloc_bitmap_alloc();
    struct pin_plan plan;
    struct pr_error err = {{0}};
    int i, ok;

    if (!topo) goto out;
    CHECK(pin_default_workers(topo, hwloc_topology_get_allowed_cpuset(topo)) == 96);
    CHECK(pin_default_workers(topo, NULL) == 96);
    check_one_per_core(topo, NULL, 96, 2);
    check_one_per_core(topo, NULL, 10, 2);

    /* not bound to anything: the synthetic topology's allowed set */
    CHECK(pin_allowed_cpuset(topo, set, &err) == 0);
    CHECK(hwloc_bitmap_isequal(set, hwloc_topology_get_allowed_cpuset(topo)));

    if (make(topo, NULL, 192, &plan) == 0) {
        for (i = 0, ok = 1; i < 192; i++)
            if (thread_of(topo, plan.pu[i]) != (i >= 96)) ok = 0;
        CHECK_MSG(ok, "second hardware threads used before all first ones");
        CHECK(distinct(plan.pu, 192, 192) && !plan.oversubscribed);
        /* the second round keeps the first round's core order */
        for (i = 0, ok = 1; i < 96; i++)
            if (core_of(topo, plan.pu[i]) != core_of(topo, plan.pu[96 + i])) ok = 0;
        CHECK(ok);
        pin_plan_free(&plan);
    }
    if (make(topo, NULL, 200, &plan) == 0) {
        CHECK(plan.n == 200 && plan.oversubscribed);
        for (i = 192, ok = 1; i < 200; i++)
            if (plan.pu[i] != plan.pu[i - 192]) ok = 0;
        CHECK_MSG(ok, "oversubscription does not wrap around");
        pin_plan_free(&plan);
    }

    /* only package 1 allowed (e.g. a Slurm cpuset of one socket) */
    hwloc_bitmap_copy(set, hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 1)->cpuset);
    CHECK(pin_default_workers(topo, set) == 48);
    if (make(topo, set, 48, &plan) == 0) {
        int *core = map_plan(topo, &plan, core_of);
        for (i = 0, ok = 1; i < 48; i++)
            if (package_of(topo, plan.pu[i]) != 1 || thread_of(topo, plan.pu[i]) != 0) ok = 0;
        CHECK_MSG(ok, "a worker left package 1 or used a second hardware thread");
        CHECK(distinct(core, 48, 96));
        free(core);
        pin_plan_free(&plan);
    }
    if (make(topo, set, 96, &plan) == 0) {
        for (i = 0, ok = 1; i < 96; i++)
            if (package_of(topo, plan.pu[i]) != 1) ok = 0;
        CHECK(ok && !plan.oversubscribed && distinct(plan.pu, 96, 192));
        pin_plan_free(&plan);
    }

    /* only odd PUs allowed: one hardware thread per core, the second one */
    hwloc_bitmap_zero(set);
    for (i = 1; i < 192; i += 2)
        hwloc_bitmap_set(set, (unsigned)i);
    CHECK(pin_default_workers(topo, set) == 96);
    if (make(topo, set, 96, &plan) == 0) {
        int *core = map_plan(topo, &plan, core_of);
        for (i = 0, ok = 1; i < 96; i++) {
            if (plan.pu[i] % 2 != 1 || package_of(topo, plan.pu[i]) != i % 2) ok = 0;
            hwloc_bitmap_set(plan_set, (unsigned)plan.pu[i]);
        }
        CHECK(ok && !plan.oversubscribed);
        CHECK(distinct(core, 96, 96));
        CHECK(hwloc_bitmap_isequal(plan_set, set));
        free(core);
        pin_plan_free(&plan);
    }
    if (make(topo, set, 97, &plan) == 0) {
        CHECK(plan.oversubscribed && plan.pu[96] == plan.pu[0]);
        pin_plan_free(&plan);
    }

    /* uneven: 3 cores of package 0 and all of package 1; alternate while both have cores */
    hwloc_bitmap_copy(set, hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 1)->cpuset);
    hwloc_bitmap_set_range(set, 0, 5);
    CHECK(pin_default_workers(topo, set) == 51);
    if (make(topo, set, 51, &plan) == 0) {
        CHECK(plan.pu[0] == 0 && plan.pu[1] == 96 && plan.pu[2] == 2 && plan.pu[3] == 98);
        CHECK(plan.pu[4] == 4 && plan.pu[5] == 100 && plan.pu[6] == 102 && plan.pu[7] == 104);
        CHECK(plan.pu[50] == 190 && !plan.oversubscribed);
        pin_plan_free(&plan);
    }
out:
    hwloc_bitmap_free(plan_set);
    hwloc_bitmap_free(set);
    if (topo) hwloc_topology_destroy(topo);
}

/* --- 2. NUMA nodes within packages, no cores, single-threaded cores ------------------------- */

static void test_numa(void)
{
    hwloc_topology_t topo = load_synthetic("pack:2 numa:2 core:8 pu:2");
    struct pin_plan plan;
    int i, ok;

    if (!topo) return;
    CHECK(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE) == 4);
    CHECK(pin_default_workers(topo, NULL) == 32);
    check_one_per_core(topo, NULL, 32, 2);
    if (make(topo, NULL, 64, &plan) == 0) {
        /* pkg0/numa0, pkg1/numa2, pkg0/numa1, pkg1/numa3, ... */
        for (i = 0, ok = 1; i < 64; i++)
            if (numa_of(topo, plan.pu[i]) != (i % 2) * 2 + (i / 2) % 2) ok = 0;
        CHECK_MSG(ok, "workers do not alternate NUMA nodes within a package");
        CHECK(plan.pu[0] == 0 && plan.pu[1] == 32 && plan.pu[2] == 16 && plan.pu[3] == 48);
        CHECK(plan.pu[4] == 2 && plan.pu[32] == 1 && plan.pu[33] == 33);
        CHECK(distinct(plan.pu, 64, 64) && !plan.oversubscribed);
        pin_plan_free(&plan);
    }
    hwloc_topology_destroy(topo);

    /* one package, four NUMA nodes (e.g. AMD NPS4) */
    topo = load_synthetic("pack:1 numa:4 core:4 pu:1");
    if (topo) {
        if (make(topo, NULL, 8, &plan) == 0) {
            static const int want[8] = {0, 4, 8, 12, 1, 5, 9, 13};
            CHECK(memcmp(plan.pu, want, sizeof(want)) == 0);
            pin_plan_free(&plan);
        }
        hwloc_topology_destroy(topo);
    }
}

static void test_no_cores(void)
{
    hwloc_topology_t topo = load_synthetic("pu:4");
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    struct pin_plan plan;

    if (topo) {
        CHECK(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) == 0);
        CHECK(pin_default_workers(topo, NULL) == 4);
        if (make(topo, NULL, 4, &plan) == 0) {
            CHECK(plan.pu[0] == 0 && plan.pu[1] == 1 && plan.pu[2] == 2 && plan.pu[3] == 3);
            CHECK(!plan.oversubscribed);
            pin_plan_free(&plan);
        }
        if (make(topo, NULL, 5, &plan) == 0) {
            CHECK(plan.oversubscribed && plan.pu[4] == 0);
            pin_plan_free(&plan);
        }
        hwloc_bitmap_set(set, 1);
        hwloc_bitmap_set(set, 3);
        CHECK(pin_default_workers(topo, set) == 2);
        if (make(topo, set, 3, &plan) == 0) {
            CHECK(plan.pu[0] == 1 && plan.pu[1] == 3 && plan.pu[2] == 1 && plan.oversubscribed);
            pin_plan_free(&plan);
        }
        hwloc_topology_destroy(topo);
    }
    topo = load_synthetic("core:2 pu:1");
    if (topo) {
        CHECK(pin_default_workers(topo, NULL) == 2);
        if (make(topo, NULL, 2, &plan) == 0) {
            CHECK(plan.pu[0] == 0 && plan.pu[1] == 1 && !plan.oversubscribed);
            pin_plan_free(&plan);
        }
        if (make(topo, NULL, 3, &plan) == 0) {
            CHECK(plan.pu[2] == 0 && plan.oversubscribed);
            pin_plan_free(&plan);
        }
        hwloc_topology_destroy(topo);
    }
    hwloc_bitmap_free(set);
}

/* --- 3. recorded topologies ----------------------------------------------------------------- */

/* Linux numbering on a 2-socket Intel node: PU = thread * 96 + package * 48 + core. */
static void test_recorded_2x48x2(void)
{
    hwloc_topology_t topo = load_xml("2x48x2.xml");
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    struct pr_error err = {{0}};
    struct pin_plan plan;
    int i, ok;

    if (!topo) goto out;
    CHECK(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU) == 192);
    CHECK(pin_default_workers(topo, NULL) == 96);
    CHECK(pin_allowed_cpuset(topo, set, &err) == 0);
    CHECK(hwloc_bitmap_weight(set) == 192);
    CHECK(pin_default_workers(topo, set) == 96);
    check_one_per_core(topo, set, 96, 2);
    if (make(topo, set, 192, &plan) == 0) {
        for (i = 0, ok = 1; i < 192; i++) {
            int j = i % 96, want = (i / 96) * 96 + (j % 2) * 48 + j / 2;
            if (plan.pu[i] != want) {
                CHECK_MSG(0, "worker %d on PU %d, expected %d", i, plan.pu[i], want);
                ok = 0;
                break;
            }
        }
        CHECK(ok && !plan.oversubscribed);
        pin_plan_free(&plan);
    }

    /* a Slurm-like cpuset: 12 cores per socket without their hyperthreads */
    hwloc_bitmap_list_sscanf(set, "0-11,48-59");
    CHECK(pin_default_workers(topo, set) == 24);
    check_one_per_core(topo, set, 24, 2);
    /* the same cores with their hyperthreads: cores first, then siblings */
    hwloc_bitmap_list_sscanf(set, "0-11,48-59,96-107,144-155");
    CHECK(pin_default_workers(topo, set) == 24);
    if (make(topo, set, 48, &plan) == 0) {
        CHECK(plan.pu[0] == 0 && plan.pu[1] == 48 && plan.pu[23] == 59);
        CHECK(plan.pu[24] == 96 && plan.pu[25] == 144 && plan.pu[47] == 155);
        pin_plan_free(&plan);
    }
out:
    hwloc_bitmap_free(set);
    if (topo) hwloc_topology_destroy(topo);
}

static void test_recorded_vm(void)
{
    hwloc_topology_t topo = load_xml("debian-vm-2core.xml");
    struct pin_plan plan;

    if (!topo) return;
    CHECK(pin_default_workers(topo, NULL) == 2);
    check_one_per_core(topo, NULL, 2, 1);
    if (make(topo, NULL, 2, &plan) == 0) {
        CHECK(plan.pu[0] == 0 && plan.pu[1] == 1 && !plan.oversubscribed);
        pin_plan_free(&plan);
    }
    if (make(topo, NULL, 3, &plan) == 0) {
        CHECK(plan.pu[2] == 0 && plan.oversubscribed);
        pin_plan_free(&plan);
    }
    hwloc_topology_destroy(topo);
}

/* --- 5. real binding ------------------------------------------------------------------------ */

/* In a child: bind to pu, report the affinity seen by this process and by a process it spawns.
 * Writes "self=LIST\nCpus_allowed_list:\tLIST\n" or "skip=MESSAGE\n" to fd. */
static void child_bind(hwloc_topology_t topo, int pu, int fd)
{
    struct pr_error err = {{0}};
    char buf[256], *argv[] = {"/bin/sh", "-c", "grep Cpus_allowed_list /proc/self/status", NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 1;

    if (pin_bind_self(topo, pu, &err) < 0) {
        dprintf(fd, "skip=%s\n", err.msg);
        _exit(errno == EPERM ? 3 : 1);
    }
    pin_describe_self(buf, sizeof(buf));
    dprintf(fd, "self=%s\n", buf);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    if (posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ) == 0) waitpid(pid, &status, 0);
    posix_spawn_file_actions_destroy(&fa);
    _exit(status == 0 ? 0 : 2);
}

static int run_child(hwloc_topology_t topo, int pu, char *out, size_t n)
{
    int fds[2], status;
    size_t len = 0;
    ssize_t r;
    pid_t pid;

    if (pipe(fds) < 0) return -1;
    fflush(stdout);
    pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fds[0]);
        child_bind(topo, pu, fds[1]);
    }
    close(fds[1]);
    while (len + 1 < n && (r = read(fds[0], out + len, n - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void read_status_list(char *buf, size_t n)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[512];
    buf[0] = '\0';
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "Cpus_allowed_list: %255s", buf) == 1) break;
    if (f) fclose(f);
    (void)n;
}

static void test_bind(void)
{
    hwloc_topology_t topo;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    struct pr_error err = {{0}};
    char out[1024], want[512], mine[256], proc[256];
    int pu, rc, tried = 0;

    CHECK_MSG(pin_topology_load(&topo, &err) == 0, "%s", err.msg);
    if (!topo) goto out;

    pin_describe_self(mine, sizeof(mine));
    read_status_list(proc, sizeof(proc));
    CHECK_STR(mine, proc);
    CHECK(pin_allowed_cpuset(topo, set, &err) == 0);
    CHECK(hwloc_bitmap_weight(set) >= 1);
    CHECK(pin_default_workers(topo, set) >= 1);

    hwloc_bitmap_foreach_begin(pu, set)
    {
        if (tried++ >= 8) break;
        rc = run_child(topo, pu, out, sizeof(out));
        if (rc == 3) {
            printf("skipped: binding not permitted here (%s)\n", out);
            break;
        }
        snprintf(want, sizeof(want), "self=%d\nCpus_allowed_list:\t%d\n", pu, pu);
        CHECK_MSG(rc == 0, "child for PU %d exited with %d: %s", pu, rc, out);
        CHECK_STR(out, want);
    }
    hwloc_bitmap_foreach_end();

    /* a process already bound (mpirun, taskset): only its own PUs are allowed */
    pu = hwloc_bitmap_last(set);
    fflush(stdout);
    {
        pid_t pid = fork();
        int status = -1;
        if (pid == 0) {
            cpu_set_t cs;
            hwloc_bitmap_t got = hwloc_bitmap_alloc();
            CPU_ZERO(&cs);
            CPU_SET(pu, &cs);
            if (sched_setaffinity(0, sizeof(cs), &cs) < 0) _exit(3);
            if (pin_allowed_cpuset(topo, got, &err) < 0) _exit(1);
            if (hwloc_bitmap_weight(got) != 1 || !hwloc_bitmap_isset(got, (unsigned)pu)) _exit(1);
            if (pin_default_workers(topo, got) != 1) _exit(1);
            hwloc_bitmap_free(got);
            _exit(0);
        }
        if (pid > 0) waitpid(pid, &status, 0);
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (rc == 3)
            printf("skipped: sched_setaffinity not permitted\n");
        else
            CHECK_MSG(rc == 0, "allowed cpuset ignores the process's own binding");
    }

    /* errors */
    CHECK(pin_bind_self(topo, 99999, &err) == -1);
    CHECK_STR(err.msg, "cannot bind to PU 99999: no such processing unit");
    CHECK(pin_bind_self(topo, -1, &err) == -1);
    hwloc_topology_destroy(topo);
out:
    hwloc_bitmap_free(set);
}

/* --- 6. errors ------------------------------------------------------------------------------ */

static void test_errors(void)
{
    hwloc_topology_t topo = load_synthetic("pack:2 core:4 pu:2");
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    struct pr_error err = {{0}};
    struct pin_plan plan = {3, NULL, 1};
    char buf[8];

    if (!topo) goto out;
    CHECK(pin_plan_make(topo, NULL, 0, &plan, &err) == -1);
    CHECK_STR(err.msg, "number of workers must be at least 1 (got 0)");
    CHECK(plan.n == 0 && plan.pu == NULL && !plan.oversubscribed);
    CHECK(pin_plan_make(topo, NULL, -2, &plan, &err) == -1);
    CHECK_STR(err.msg, "number of workers must be at least 1 (got -2)");

    CHECK(pin_plan_make(topo, set, 4, &plan, &err) == -1);
    CHECK_STR(err.msg, "no usable processing unit: the allowed cpuset is empty");
    CHECK(plan.n == 0 && plan.pu == NULL);
    CHECK(pin_default_workers(topo, set) == 0);
    hwloc_bitmap_set_range(set, 500, 503);
    CHECK(pin_plan_make(topo, set, 4, &plan, &err) == -1);
    CHECK_STR(
        err.msg,
        "no usable processing unit: none of the allowed PUs 500-503 is in this machine's topology");
    pin_plan_free(&plan);
    pin_plan_free(&plan);
    pin_plan_free(NULL);

    CHECK(pin_bind_self(topo, 0, &err) == -1);
    CHECK_STR(err.msg, "cannot bind to PU 0: the hwloc topology is not this machine's (loaded "
                       "from XML or a synthetic description)");

    pin_describe_self(buf, 1);
    CHECK_STR(buf, "");
    buf[0] = 'x';
    pin_describe_self(buf, 0);
    CHECK(buf[0] == 'x');
    hwloc_topology_destroy(topo);
out:
    hwloc_bitmap_free(set);
}

int main(void)
{
    test_2x48x2_synthetic();
    test_numa();
    test_no_cores();
    test_recorded_2x48x2();
    test_recorded_vm();
    test_bind();
    test_errors();
    return check_done();
}
