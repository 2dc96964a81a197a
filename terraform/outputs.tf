output "region" {
  description = "Region of the deployment."
  value       = local.region
}

output "bucket" {
  description = "S3 bucket of bundles, large payloads, cases and results."
  value       = module.s3.bucket_name
}

output "prefix" {
  description = "Key prefix of this deployment in the bucket."
  value       = var.prefix
}

output "task_queue_url" {
  description = "SQS queue the master sends model runs to (--queue-url)."
  value       = module.sqs.queue_urls["task"]
}

output "result_queue_url" {
  description = "SQS queue the agents send results to (--result-queue-url)."
  value       = module.sqs.queue_urls["result"]
}

output "dead_letter_queue_urls" {
  description = "Dead-letter queues of the task and result queues."
  value       = { task = module.sqs.queue_urls["task_dlq"], result = module.sqs.queue_urls["result_dlq"] }
}

output "ecr_repository_url" {
  description = "Where to push the agent image (docker tag/push IMAGE REPO:TAG)."
  value       = module.ecr.repository_url
}

output "agent_image" {
  description = "Image the agent task definition runs."
  value       = module.ecs_agents.image
}

output "ecs_cluster_name" {
  description = "ECS cluster of the agents."
  value       = local.cluster_name
}

output "ecs_service_name" {
  description = "ECS service of the agents (desired count 0 when idle)."
  value       = local.service_name
}

output "master_instance_id" {
  description = "EC2 master: aws ssm start-session --target THIS."
  value       = module.ec2_master.instance_id
}

output "log_groups" {
  description = "CloudWatch log groups."
  value       = module.logs.log_group_names
}

output "security_summary" {
  description = "Security properties the terraform tests assert (also handy in reviews)."
  value = {
    bucket_public_access_blocked = module.s3.public_access_blocked
    bucket_sse_algorithm         = module.s3.sse_algorithm
    bucket_tls_only              = module.s3.tls_only
    queue_sse                    = module.sqs.encryption
    queue_redrive                = module.sqs.redrive_max_receive_count
    open_ingress_rules           = module.vpc.open_ingress_rule_count
    agent_policy_has_wildcard    = module.iam.agent_policy_has_wildcard_resource
    ecs_desired_count            = module.ecs_agents.desired_count
    autoscaling_min              = module.ecs_agents.autoscaling_min_capacity
    master_imds_tokens           = module.ec2_master.http_tokens
  }
}

output "connect_command" {
  description = "Open a shell on the master (Session Manager; needs the session-manager-plugin)."
  value       = "aws ssm start-session --region ${local.region} --target ${module.ec2_master.instance_id}"
}

output "master_command" {
  description = "The pestrun master command line for this deployment (run on the master, beside CASE.pst)."
  value = join(" ", compact([
    "pestrun glm CASE.pst --transport sqs",
    "--queue-url ${module.sqs.queue_urls["task"]}",
    "--result-queue-url ${module.sqs.queue_urls["result"]}",
    "--bucket ${module.s3.bucket_name} --prefix ${var.prefix}",
    var.kms_key_arn == null ? "" : "--kms-key-id ${var.kms_key_arn}",
  ]))
}

output "agent_command" {
  description = "The pestrun agent command line (what each ECS task runs; also for an agent on any machine with the agent role)."
  value       = "pestrun agent --queue-url ${module.sqs.queue_urls["task"]} --bucket ${module.s3.bucket_name} --prefix ${var.prefix} --slots ${local.agent_slots} --drain-seconds ${var.agent_drain_seconds}"
}

output "run_master_command" {
  description = "On the master: upload the case, scale the agents, calibrate, save results, scale back to zero."
  value       = "pestrun-run-master ~/CASE CASE.pst glm"
}
