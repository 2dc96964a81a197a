/* Which agents serve a task queue: each agent keeps an empty S3 object
 *   PREFIX/agents/QUEUE_ID/AGENT_ID.SLOTS.EXPIRES
 * (QUEUE_ID: a hash of the task queue URL; EXPIRES: Unix seconds) and replaces it with a later
 * EXPIRES every minute, deleting it when it stops. The master lists the folder to learn how
 * many slots are there, so it keeps exactly as many runs out as agents can run at once and
 * the queue holds no run waiting (a run's clock, for overdue copies, starts when it is sent).
 * An agent killed outright leaves a record that expires within REGISTRY_TTL_S; a master whose
 * runs it was running takes it for dead sooner (master.h). */
#ifndef PR_SQS_REGISTRY_H
#define PR_SQS_REGISTRY_H

#include <time.h>

#include "aws/s3.h"

#define REGISTRY_TTL_S 180
#define REGISTRY_REFRESH_S 60

/* The folder for queue_url (malloc'd, ends with '/'). */
char *registry_folder(const char *prefix, const char *queue_url);

/* Write the agent's record expiring at expires and delete the previous one (*key, replaced by
 * the new key; NULL at first). Returns 0 or -1 with err. */
int registry_put(struct aws_client *c, const char *bucket, const char *prefix,
                 const char *queue_url, const char *agent_id, int slots, time_t expires, char **key,
                 struct pr_error *err);

/* Sum the slots of the records not expired at now, leaving out the agents named in exclude
 * (the master took them for dead). */
int registry_scan(struct aws_client *c, const char *bucket, const char *prefix,
                  const char *queue_url, time_t now, const char *const *exclude, size_t nexclude,
                  int *slots, int *agents, struct pr_error *err);

#endif
