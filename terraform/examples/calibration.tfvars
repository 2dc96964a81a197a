# terraform apply -var-file=examples/calibration.tfvars   (copy it and adjust)
region = "eu-west-1"
name   = "gwcal"
prefix = "pestrun"

# The agent image pushed to the ECR repository (see docs/aws.md): one new tag per build.
image_tag = "2025-01-15-a"

# Agents: 2 vCPU / 4 GiB Fargate tasks, one model run per vCPU, at most 16 tasks (32 runs at once).
agent_cpu       = 2048
agent_memory    = 4096
max_agent_tasks = 16
on_demand_base  = 1

# A MODFLOW run takes up to ~2 minutes: 10 minutes before a lost agent's run is retried.
visibility_timeout_seconds = 600

# The master builds pestrun from this tarball (git archive -o ../pestrun-src.tar.gz HEAD).
pestrun_source_tarball = "../pestrun-src.tar.gz"

alarm_email        = "hydro-team@example.org"
log_retention_days = 14
jobs_expiry_days   = 7
