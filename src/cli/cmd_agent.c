/* pestrun agent: serve an SQS task queue (transport/sqs/agent_main.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "transport/sqs/agent_main.h"
#include "util/text.h"

static const char agent_usage[] =
    "usage: pestrun agent --queue-url URL --bucket NAME [options]\n"
    "Run the model runs a master (`pestrun sweep|glm ... --transport sqs`) puts on an SQS task\n"
    "queue: the model folder comes from the bucket, the results go to the job's result queue.\n"
    "Each option can also come from the environment variable shown.\n"
    "      --queue-url URL     the task queue (PESTRUN_QUEUE_URL)\n"
    "      --bucket NAME       the bucket of the bundles (PESTRUN_BUCKET)\n"
    "      --prefix P          key prefix in the bucket, as the master's (PESTRUN_PREFIX;\n"
    "                          default pestrun)\n"
    "      --slots N           runs at once (PESTRUN_SLOTS; default: the CPUs this process\n"
    "                          may use, from its affinity and cgroup quota)\n"
    "      --idle-exit SEC     exit after SEC seconds without a run (PESTRUN_IDLE_EXIT)\n"
    "      --drain-seconds SEC on SIGTERM, let runs that can end within SEC seconds end; the\n"
    "                          others go back to the queue at once (PESTRUN_DRAIN_SECONDS;\n"
    "                          default 90)\n"
    "      --workdir DIR       bundles and the workers' folders (PESTRUN_WORKDIR; default: a\n"
    "                          new folder under $TMPDIR, removed at exit)\n"
    "      --health-file PATH  touched every 10 s while the agent is healthy\n"
    "                          (PESTRUN_HEALTH_FILE)\n"
    "      --no-pin            do not bind each slot to its own core\n"
    "      --keep-workdirs     keep the work folder at the end\n"
    "  -q, --quiet             print errors only\n"
    "Credentials and region come from the standard AWS chain (environment, AWS_PROFILE, the\n"
    "ECS container endpoint, EC2 instance metadata); AWS_ENDPOINT_URL* override endpoints.\n";

static int num_opt(const char *name, const char *arg, double *out)
{
    if (pr_parse_double(arg, out, 1) < 0 || *out < 0) {
        cli_error("%s: expected a number of seconds, got '%s'", name, arg);
        return -1;
    }
    return 0;
}

int cmd_agent(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"queue-url", required_argument, NULL, 'u'},
        {"bucket", required_argument, NULL, 'b'},
        {"prefix", required_argument, NULL, 'p'},
        {"slots", required_argument, NULL, 's'},
        {"idle-exit", required_argument, NULL, 'i'},
        {"drain-seconds", required_argument, NULL, 'd'},
        {"workdir", required_argument, NULL, 'w'},
        {"health-file", required_argument, NULL, 'H'},
        {"no-pin", no_argument, NULL, 'P'},
        {"keep-workdirs", no_argument, NULL, 'K'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sqs_agent_opts o = {.pin = 1, .drain_s = 90};
    const char *e;
    o.queue_url = getenv("PESTRUN_QUEUE_URL");
    o.bucket = getenv("PESTRUN_BUCKET");
    o.prefix = getenv("PESTRUN_PREFIX");
    o.workdir = getenv("PESTRUN_WORKDIR");
    o.health_file = getenv("PESTRUN_HEALTH_FILE");
    if ((e = getenv("PESTRUN_SLOTS")) && *e && (pr_parse_int(e, &o.slots) < 0 || o.slots < 0)) {
        cli_error("PESTRUN_SLOTS: expected a number, got '%s'", e);
        return 2;
    }
    if ((e = getenv("PESTRUN_IDLE_EXIT")) && *e &&
        num_opt("PESTRUN_IDLE_EXIT", e, &o.idle_exit_s) < 0)
        return 2;
    if ((e = getenv("PESTRUN_DRAIN_SECONDS")) && *e &&
        num_opt("PESTRUN_DRAIN_SECONDS", e, &o.drain_s) < 0)
        return 2;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            o.queue_url = optarg;
            break;
        case 'b':
            o.bucket = optarg;
            break;
        case 'p':
            o.prefix = optarg;
            break;
        case 's':
            if (pr_parse_int(optarg, &o.slots) < 0 || o.slots < 1) {
                cli_error("--slots: expected a number of slots, got '%s'", optarg);
                return 2;
            }
            break;
        case 'i':
            if (num_opt("--idle-exit", optarg, &o.idle_exit_s) < 0) return 2;
            break;
        case 'd':
            if (num_opt("--drain-seconds", optarg, &o.drain_s) < 0) return 2;
            break;
        case 'w':
            o.workdir = optarg;
            break;
        case 'H':
            o.health_file = optarg;
            break;
        case 'P':
            o.pin = 0;
            break;
        case 'K':
            o.keep_workdirs = 1;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            fputs(agent_usage, stdout);
            return 0;
        default:
            fputs(agent_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        cli_error("agent: unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!o.queue_url || !*o.queue_url || !o.bucket || !*o.bucket) {
        cli_error("agent: --queue-url and --bucket (or PESTRUN_QUEUE_URL and PESTRUN_BUCKET) are "
                  "needed");
        fputs(agent_usage, stderr);
        return 2;
    }
    return sqs_agent_main(&o);
}
