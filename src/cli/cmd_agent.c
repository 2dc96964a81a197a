/* pestrun agent: serve an SQS task queue (agent/sqs_agent.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "agent/sqs_agent.h"
#include "util/text.h"

enum {
    AGENT_OPT_QUEUE_URL = 256,
    AGENT_OPT_BUCKET,
    AGENT_OPT_PREFIX,
    AGENT_OPT_SLOTS,
    AGENT_OPT_IDLE_EXIT,
    AGENT_OPT_DRAIN,
    AGENT_OPT_WORKDIR,
    AGENT_OPT_HEALTH_FILE,
    AGENT_OPT_NO_PIN,
    AGENT_OPT_KEEP_WORKDIRS,
};

static const struct cli_option agent_options[] = {
    {"queue-url", AGENT_OPT_QUEUE_URL, "URL", "the task queue (PESTRUN_QUEUE_URL)"},
    {"bucket", AGENT_OPT_BUCKET, "NAME", "the bucket of the bundles (PESTRUN_BUCKET)"},
    {"prefix", AGENT_OPT_PREFIX, "P",
     "key prefix in the bucket, as the master's (PESTRUN_PREFIX; default pestrun)"},
    {"slots", AGENT_OPT_SLOTS, "N",
     "runs at once (PESTRUN_SLOTS; default: the CPUs this process may use, from its affinity "
     "and cgroup quota)"},
    {"idle-exit", AGENT_OPT_IDLE_EXIT, "SEC",
     "exit after SEC seconds without a run (PESTRUN_IDLE_EXIT)"},
    {"drain-seconds", AGENT_OPT_DRAIN, "SEC",
     "on SIGTERM, let runs that can end within SEC seconds end; the others go back to the "
     "queue at once (PESTRUN_DRAIN_SECONDS; default 90)"},
    {"workdir", AGENT_OPT_WORKDIR, "DIR",
     "bundles and the workers' folders (PESTRUN_WORKDIR; default: a new folder under $TMPDIR, "
     "removed at exit)"},
    {"health-file", AGENT_OPT_HEALTH_FILE, "PATH",
     "touched every 10 s while the agent is healthy (PESTRUN_HEALTH_FILE)"},
    {"no-pin", AGENT_OPT_NO_PIN, NULL, "do not bind each slot to its own core"},
    {"keep-workdirs", AGENT_OPT_KEEP_WORKDIRS, NULL, "keep the work folder at the end"},
    {"quiet", 'q', NULL, "print errors only"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_group agent_groups[] = {{NULL, agent_options}, {NULL, NULL}};

const struct cli_command cli_cmd_agent = {
    .name = "agent",
    .fn = cmd_agent,
    .summary = "serve an SQS task queue: run the model runs of masters using --transport sqs",
    .synopsis = "--queue-url URL --bucket NAME [OPTIONS]",
    .about = "Runs the model runs a master (`pestrun sweep|glm ... --transport sqs`) puts on an\n"
             "SQS task queue: the model folder comes from the bucket, the results go to the\n"
             "job's result queue. Each option can also come from the environment variable\n"
             "shown. Credentials and region come from the standard AWS chain (environment,\n"
             "AWS_PROFILE, the ECS container endpoint, EC2 instance metadata);\n"
             "AWS_ENDPOINT_URL* override endpoints.\n",
    .exit_status = {"stopped by SIGTERM or SIGINT after draining, or --idle-exit",
                    "the queue or the bucket failed (credentials, network, a queue that is not "
                    "there), or the work folder cannot be made",
                    "bad usage: no --queue-url or --bucket, a bad value of an option or of its "
                    "environment variable",
                    NULL},
    .groups = agent_groups,
};

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
    struct cli_parser p;
    const char *arg;
    int opt;
    cli_parser_init(&p, &cli_cmd_agent, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0) {
        switch (opt) {
        case AGENT_OPT_QUEUE_URL:
            o.queue_url = arg;
            break;
        case AGENT_OPT_BUCKET:
            o.bucket = arg;
            break;
        case AGENT_OPT_PREFIX:
            o.prefix = arg;
            break;
        case AGENT_OPT_SLOTS:
            if (pr_parse_int(arg, &o.slots) < 0 || o.slots < 1)
                return cli_bad_value(&p, "--slots", "a number of slots", arg);
            break;
        case AGENT_OPT_IDLE_EXIT:
            if (num_opt("--idle-exit", arg, &o.idle_exit_s) < 0) return 2;
            break;
        case AGENT_OPT_DRAIN:
            if (num_opt("--drain-seconds", arg, &o.drain_s) < 0) return 2;
            break;
        case AGENT_OPT_WORKDIR:
            o.workdir = arg;
            break;
        case AGENT_OPT_HEALTH_FILE:
            o.health_file = arg;
            break;
        case AGENT_OPT_NO_PIN:
            o.pin = 0;
            break;
        case AGENT_OPT_KEEP_WORKDIRS:
            o.keep_workdirs = 1;
            break;
        case 'q':
            o.quiet = 1;
            break;
        }
    }
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 0, 0, "options only") < 0) return p.status;
    if (!o.queue_url || !*o.queue_url || !o.bucket || !*o.bucket) {
        cli_error("agent: --queue-url and --bucket (or PESTRUN_QUEUE_URL and PESTRUN_BUCKET) are "
                  "needed (see 'pestrun agent --help')");
        return 2;
    }
    return sqs_agent_main(&o);
}
