# pestrun on AWS: agents in ECS (Fargate Spot) pull model runs from SQS and exchange files through
# S3; a small EC2 master runs `pestrun glm|sweep --transport sqs`. Everything scales to zero.
#
# Names and ARNs are derived here from the account, region and deployment name, so the IAM
# policies are complete at plan time (and can be asserted by terraform/tests) and no module
# depends on another's resources being created first.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  bucket = coalesce(var.bucket_name, "${var.name}-${local.account}-${local.region}")

  queues = {
    task       = "${var.name}-tasks"
    task_dlq   = "${var.name}-tasks-dlq"
    result     = "${var.name}-results"
    result_dlq = "${var.name}-results-dlq"
  }
  queue_arns = { for k, q in local.queues : k => "arn:${local.partition}:sqs:${local.region}:${local.account}:${q}" }

  cluster_name = "${var.name}-agents"
  service_name = "${var.name}-agent"
  service_arn  = "arn:${local.partition}:ecs:${local.region}:${local.account}:service/${local.cluster_name}/${local.service_name}"

  ecr_name = "${var.name}-agent"
  ecr_arn  = "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/${local.ecr_name}"

  log_groups = {
    agents = "/pestrun/${var.name}/agents"
    master = "/pestrun/${var.name}/master"
  }
  log_group_arns = { for k, g in local.log_groups : k => "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${g}" }

  agent_slots = coalesce(var.agent_slots, max(1, floor(var.agent_cpu / 1024)))

  startup_script_path = coalesce(var.master_startup_script, "${path.root}/../scripts/startup_master.sh")
  startup_script      = fileexists(local.startup_script_path) ? file(local.startup_script_path) : ""

  source_key     = "${var.prefix}/src/pestrun-src.tar.gz"
  pestrun_source = coalesce(var.pestrun_source, "s3://${local.bucket}/${local.source_key}")
}

module "vpc" {
  source = "./modules/vpc"

  name               = var.name
  region             = local.region
  cidr               = var.vpc_cidr
  availability_zones = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  interface_endpoints   = var.interface_endpoints_enabled ? ["sqs", "ecr.api", "ecr.dkr", "logs"] : []
  endpoint_subnet_count = var.endpoint_subnet_count
}

module "s3" {
  source = "./modules/s3"

  bucket                 = local.bucket
  prefix                 = var.prefix
  kms_key_arn            = var.kms_key_arn
  jobs_expiry_days       = var.jobs_expiry_days
  noncurrent_expiry_days = var.noncurrent_expiry_days
  force_destroy          = var.force_destroy
}

module "sqs" {
  source = "./modules/sqs"

  queues                     = local.queues
  queue_arns                 = local.queue_arns
  kms_key_arn                = var.kms_key_arn
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  max_receive_count          = var.max_receive_count
}

module "ecr" {
  source = "./modules/ecr"

  name          = local.ecr_name
  keep_images   = var.ecr_keep_images
  force_destroy = var.force_destroy
}

module "logs" {
  source = "./modules/logs"

  name           = var.name
  log_groups     = local.log_groups
  retention_days = var.log_retention_days
  kms_key_arn    = null
  dlq_names      = { task = local.queues.task_dlq, result = local.queues.result_dlq }
  alarm_email    = var.alarm_email
  region         = local.region
  queue_names    = { task = local.queues.task }
}

module "iam" {
  source = "./modules/iam"

  name           = var.name
  partition      = local.partition
  bucket_arn     = "arn:${local.partition}:s3:::${local.bucket}"
  prefix         = var.prefix
  queue_arns     = local.queue_arns
  service_arn    = local.service_arn
  ecr_arn        = local.ecr_arn
  log_group_arns = local.log_group_arns
  kms_key_arn    = var.kms_key_arn
}

module "ecs_agents" {
  source = "./modules/ecs_agents"

  name                  = var.name
  region                = local.region
  cluster_name          = local.cluster_name
  service_name          = local.service_name
  image                 = coalesce(var.agent_image, "${module.ecr.repository_url}:${var.image_tag}")
  cpu                   = var.agent_cpu
  memory                = var.agent_memory
  slots                 = local.agent_slots
  ephemeral_storage_gib = var.agent_ephemeral_storage_gib
  task_role_arn         = module.iam.agent_task_role_arn
  execution_role_arn    = module.iam.task_execution_role_arn
  subnet_ids            = module.vpc.private_subnet_ids
  security_group_ids    = [module.vpc.agent_security_group_id]
  log_group             = module.logs.log_group_names["agents"]
  task_queue_url        = module.sqs.queue_urls["task"]
  task_queue_name       = local.queues.task
  bucket                = local.bucket
  prefix                = var.prefix
  idle_exit             = var.agent_idle_exit
  drain_seconds         = var.agent_drain_seconds
  max_tasks             = var.max_agent_tasks
  on_demand_base        = var.on_demand_base
  enable_autoscaling    = var.enable_autoscaling
  scale_in_minutes      = var.scale_in_minutes
}

resource "aws_s3_object" "source" {
  count = var.pestrun_source_tarball == null ? 0 : 1

  bucket      = module.s3.bucket_name
  key         = local.source_key
  source      = var.pestrun_source_tarball
  source_hash = filemd5(var.pestrun_source_tarball)
  kms_key_id  = var.kms_key_arn
}

module "ec2_master" {
  source = "./modules/ec2_master"

  name                  = var.name
  region                = local.region
  ami                   = var.master_ami
  instance_type         = var.master_instance_type
  volume_gb             = var.master_volume_gb
  subnet_id             = module.vpc.public_subnet_id
  security_group_ids    = [module.vpc.master_security_group_id]
  instance_profile_name = module.iam.master_instance_profile_name
  startup_script        = local.startup_script
  kms_key_arn           = var.kms_key_arn

  settings = {
    PESTRUN_REGION           = local.region
    PESTRUN_QUEUE_URL        = module.sqs.queue_urls["task"]
    PESTRUN_RESULT_QUEUE_URL = module.sqs.queue_urls["result"]
    PESTRUN_TASK_DLQ_URL     = module.sqs.queue_urls["task_dlq"]
    PESTRUN_BUCKET           = local.bucket
    PESTRUN_PREFIX           = var.prefix
    PESTRUN_KMS_KEY_ID       = var.kms_key_arn == null ? "" : var.kms_key_arn
    PESTRUN_ECS_CLUSTER      = local.cluster_name
    PESTRUN_ECS_SERVICE      = local.service_name
    PESTRUN_MAX_TASKS        = tostring(var.max_agent_tasks)
    PESTRUN_SLOTS_PER_TASK   = tostring(local.agent_slots)
    PESTRUN_LOG_GROUP        = module.logs.log_group_names["master"]
    PESTRUN_SOURCE           = local.pestrun_source
  }
}
