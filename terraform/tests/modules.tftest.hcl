# The modules one by one, so the assertions can look at the planned resources themselves.

mock_provider "aws" {}

variables {
  queue_arns = {
    task       = "arn:aws:sqs:eu-west-1:123456789012:t-tasks"
    task_dlq   = "arn:aws:sqs:eu-west-1:123456789012:t-tasks-dlq"
    result     = "arn:aws:sqs:eu-west-1:123456789012:t-results"
    result_dlq = "arn:aws:sqs:eu-west-1:123456789012:t-results-dlq"
  }
}

run "vpc_security_groups" {
  command = plan
  module {
    source = "./modules/vpc"
  }
  variables {
    name               = "t"
    region             = "eu-west-1"
    cidr               = "10.42.0.0/16"
    availability_zones = ["eu-west-1a", "eu-west-1b"]
  }

  assert {
    condition = alltrue([for sg in [aws_security_group.endpoints, aws_security_group.agents, aws_security_group.master] :
    alltrue([for r in sg.ingress : !contains(coalesce(r.cidr_blocks, []), "0.0.0.0/0") && !contains(coalesce(r.ipv6_cidr_blocks, []), "::/0")])])
    error_message = "a security group accepts traffic from anywhere"
  }
  assert {
    condition     = length(aws_security_group.agents.ingress) == 0 && length(aws_security_group.master.ingress) == 0
    error_message = "agents and master must have no ingress at all"
  }
  assert {
    condition     = alltrue([for r in aws_security_group.endpoints.ingress : r.from_port == 443 && r.to_port == 443 && toset(r.cidr_blocks) == toset(["10.42.0.0/16"])])
    error_message = "endpoints accept HTTPS from the VPC only"
  }
  assert {
    condition     = length(aws_route_table.private.route) == 0
    error_message = "private subnets must have no route out (no NAT gateway)"
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["sqs", "ecr.api", "ecr.dkr", "logs"])
    error_message = "agents need SQS, ECR and CloudWatch Logs endpoints"
  }
  assert {
    condition     = aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway"
    error_message = "S3 must be reached through a gateway endpoint"
  }
}

run "s3_bucket" {
  command = plan
  module {
    source = "./modules/s3"
  }
  variables {
    bucket           = "b"
    prefix           = "p"
    jobs_expiry_days = 5
  }

  assert {
    condition = (aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.block_public_policy &&
    aws_s3_bucket_public_access_block.this.ignore_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets)
    error_message = "public access block must be all true"
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.tls_only.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false" && jsondecode(aws_s3_bucket_policy.tls_only.policy).Statement[0].Effect == "Deny"
    error_message = "the bucket policy must deny non-TLS requests"
  }
  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Enabled"
    error_message = "versioning must be on"
  }
  assert {
    condition = anytrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule :
    r.id == "expire-jobs" && one(r.filter).prefix == "p/jobs/" && try(one(r.expiration).days, 0) == 5])
    error_message = "PREFIX/jobs/ must expire"
  }
}

run "sqs_queues" {
  command = plan
  module {
    source = "./modules/sqs"
  }
  variables {
    queues                     = { task = "t-tasks", task_dlq = "t-tasks-dlq", result = "t-results", result_dlq = "t-results-dlq" }
    visibility_timeout_seconds = 600
    message_retention_seconds  = 86400
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.main["task"].redrive_policy).deadLetterTargetArn == "arn:aws:sqs:eu-west-1:123456789012:t-tasks-dlq"
    error_message = "the task queue must redrive to its DLQ"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.main["result"].redrive_policy).deadLetterTargetArn == "arn:aws:sqs:eu-west-1:123456789012:t-results-dlq"
    error_message = "the result queue must redrive to its DLQ"
  }
  assert {
    condition     = alltrue([for q in concat(values(aws_sqs_queue.main), values(aws_sqs_queue.dlq)) : q.sqs_managed_sse_enabled == true && q.receive_wait_time_seconds == 20])
    error_message = "queues must be encrypted and long-polled"
  }
  assert {
    condition     = aws_sqs_queue.main["task"].visibility_timeout_seconds == 600
    error_message = "task queue visibility timeout comes from the variable"
  }
  assert {
    condition     = length(aws_sqs_queue_policy.tls_only) == 4
    error_message = "every queue must refuse non-TLS requests"
  }
}

run "iam_least_privilege" {
  command = plan
  module {
    source = "./modules/iam"
  }
  variables {
    name           = "t"
    bucket_arn     = "arn:aws:s3:::b"
    prefix         = "p"
    service_arn    = "arn:aws:ecs:eu-west-1:123456789012:service/t-agents/t-agent"
    ecr_arn        = "arn:aws:ecr:eu-west-1:123456789012:repository/t-agent"
    log_group_arns = { agents = "arn:aws:logs:eu-west-1:123456789012:log-group:/pestrun/t/agents", master = "arn:aws:logs:eu-west-1:123456789012:log-group:/pestrun/t/master" }
  }

  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.agent_task.policy).Statement : alltrue([for r in s.Resource : r != "*"])])
    error_message = "the agent role names a \"*\" resource"
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.agent_task.policy).Statement : s.Resource])) == toset([
      "arn:aws:sqs:eu-west-1:123456789012:t-tasks", "arn:aws:sqs:eu-west-1:123456789012:t-results",
      "arn:aws:sqs:eu-west-1:123456789012:pestrun-ctl-*",
    "arn:aws:s3:::b/p/bundles/*", "arn:aws:s3:::b/p/jobs/*", "arn:aws:s3:::b/p/agents/*"])
    error_message = "the agent role reaches beyond its queues and bucket prefix"
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.master.policy).Statement : s.Resource if contains(s.Action, "ecs:UpdateService")] == [
    ["arn:aws:ecs:eu-west-1:123456789012:service/t-agents/t-agent"]]
    error_message = "the master may scale its own ECS service only"
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.master.policy).Statement : s.Resource if contains(s.Action, "sqs:SendMessage")]), "arn:aws:sqs:eu-west-1:123456789012:pestrun-ctl-*")
    error_message = "the master must send cancels to the agents' control queues"
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.master.policy).Statement : s.Resource if contains(s.Action, "sqs:ReceiveMessage")]), "arn:aws:sqs:eu-west-1:123456789012:t-tasks-dlq")
    error_message = "the master must read the task DLQ"
  }
  assert {
    condition     = endswith(aws_iam_role_policy_attachment.master_ssm.policy_arn, "AmazonSSMManagedInstanceCore")
    error_message = "the master needs Session Manager"
  }
}

run "ecs_scale_to_zero" {
  command = plan
  module {
    source = "./modules/ecs_agents"
  }
  variables {
    name               = "t"
    region             = "eu-west-1"
    cluster_name       = "t-agents"
    service_name       = "t-agent"
    image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/t-agent:abc"
    cpu                = 2048
    memory             = 4096
    slots              = 2
    task_role_arn      = "arn:aws:iam::123456789012:role/t-agent-task"
    execution_role_arn = "arn:aws:iam::123456789012:role/t-agent-execution"
    subnet_ids         = ["subnet-1"]
    security_group_ids = ["sg-1"]
    log_group          = "/pestrun/t/agents"
    task_queue_url     = "https://sqs.eu-west-1.amazonaws.com/123456789012/t-tasks"
    task_queue_name    = "t-tasks"
    bucket             = "b"
    prefix             = "p"
    max_tasks          = 8
  }

  assert {
    condition     = aws_ecs_service.agents.desired_count == 0
    error_message = "desired count must start at 0"
  }
  assert {
    condition     = aws_appautoscaling_target.agents[0].min_capacity == 0 && aws_appautoscaling_target.agents[0].max_capacity == 8
    error_message = "auto scaling must go from 0 to max_tasks"
  }
  assert {
    condition     = toset([for s in aws_ecs_service.agents.capacity_provider_strategy : s.capacity_provider]) == toset(["FARGATE", "FARGATE_SPOT"])
    error_message = "the service must use FARGATE_SPOT with a FARGATE base"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.agent.container_definitions)[0].stopTimeout == 120
    error_message = "stopTimeout must be 120 s (Spot interruption notice)"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.agent.container_definitions)[0].logConfiguration.logDriver == "awslogs"
    error_message = "agents must log to CloudWatch"
  }
  assert {
    condition = { for e in jsondecode(aws_ecs_task_definition.agent.container_definitions)[0].environment : e.name => e.value if startswith(e.name, "PESTRUN_") } == {
      PESTRUN_QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/t-tasks", PESTRUN_BUCKET = "b", PESTRUN_PREFIX = "p",
      PESTRUN_SLOTS     = "2", PESTRUN_DRAIN_SECONDS = "100", PESTRUN_WORKDIR = "/work", PESTRUN_HEALTH_FILE = "/tmp/pestrun/health"
    }
    error_message = "agent environment"
  }
}

run "ecr_immutable" {
  command = plan
  module {
    source = "./modules/ecr"
  }
  variables {
    name = "t-agent"
  }

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE" && one(aws_ecr_repository.this.image_scanning_configuration).scan_on_push
    error_message = "tags must be immutable and images scanned on push"
  }
}

run "master_hardened" {
  command = plan
  module {
    source = "./modules/ec2_master"
  }
  variables {
    name                  = "t"
    region                = "eu-west-1"
    ami                   = "ami-0123456789abcdef0"
    subnet_id             = "subnet-1"
    security_group_ids    = ["sg-1"]
    instance_profile_name = "t-master"
    startup_script        = "#!/bin/bash\necho hi\n"
    settings              = { PESTRUN_BUCKET = "b", PESTRUN_PREFIX = "p" }
  }

  assert {
    condition     = one(aws_instance.master.metadata_options).http_tokens == "required"
    error_message = "IMDSv2 must be required"
  }
  assert {
    condition     = one(aws_instance.master.root_block_device).encrypted
    error_message = "the root volume must be encrypted"
  }
  assert {
    condition     = strcontains(aws_instance.master.user_data, "PESTRUN_BUCKET=b") && strcontains(aws_instance.master.user_data, "pestrun-startup-master")
    error_message = "user data must write /etc/pestrun.env and run the startup script"
  }
}

run "master_needs_its_boot_script" {
  command = plan
  module {
    source = "./modules/ec2_master"
  }
  variables {
    name                  = "t"
    region                = "eu-west-1"
    ami                   = "ami-0123456789abcdef0"
    subnet_id             = "subnet-1"
    security_group_ids    = ["sg-1"]
    instance_profile_name = "t-master"
    startup_script        = ""
    settings              = {}
  }
  expect_failures = [aws_instance.master]
}

run "logs_dashboard_and_metric_alarms" {
  command = plan
  module {
    source = "./modules/logs"
  }
  variables {
    name        = "t"
    region      = "eu-west-1"
    log_groups  = { agents = "/pestrun/t/agents", master = "/pestrun/t/master" }
    dlq_names   = { task = "t-tasks-dlq" }
    queue_names = { task = "t-tasks" }
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.pestrun.dashboard_body).widgets) == 4
    error_message = "the dashboard should have the runs, agents, run time and queue widgets"
  }
  assert {
    condition     = contains(flatten(jsondecode(aws_cloudwatch_dashboard.pestrun.dashboard_body).widgets[0].properties.metrics), "RunsDone")
    error_message = "the dashboard does not show the master's RunsDone metric"
  }
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.runs_failing.metric_query : q.metric[0].namespace if q.id == "failed"]) == "pestrun"
    error_message = "the failing-runs alarm must read the pestrun namespace"
  }
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.stalled.metric_query : q.expression if q.id == "stall"]) == "IF(inflight > 0 AND DIFF(done) <= 0, 1, 0)"
    error_message = "the stalled alarm's expression changed"
  }
}
