# Least privilege. The agent task role reaches only its task queue (receive), its result queue
# (send), its own control queue (pestrun-ctl-*: made, read and deleted by each agent; the master
# sends cancels there) and its bucket prefix (bundles/ and jobs/ to read, agents/ for its slot record) - no
# "*" resource anywhere. The task
# execution role pulls the image and writes the agents' logs. The master instance role has the
# agent's permissions plus what a master does: send runs, read results and dead letters, keep
# cases and results under its prefix, and scale its own ECS service - no other.

locals {
  objects = "${var.bucket_arn}/${var.prefix}"
  # each agent's own control queue (cancels of overdue copies), made and deleted by the agent
  control_queues = "${join(":", slice(split(":", var.queue_arns["task"]), 0, 5))}:pestrun-ctl-*"
  kms            = var.kms_key_arn == null ? [] : [var.kms_key_arn]

  agent_statements = concat([
    {
      Sid      = "TaskQueueConsume"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
      Resource = [var.queue_arns["task"]]
    },
    {
      Sid      = "ResultQueueSend"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [var.queue_arns["result"]]
    },
    {
      Sid      = "OwnControlQueue"
      Effect   = "Allow"
      Action   = ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
      Resource = [local.control_queues]
    },
    {
      Sid      = "ReadBundlesAndJobs"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${local.objects}/bundles/*", "${local.objects}/jobs/*"]
    },
    {
      Sid      = "WriteLargeResults"
      Effect   = "Allow"
      Action   = ["s3:PutObject"]
      Resource = ["${local.objects}/jobs/*"]
    },
    {
      # each agent keeps a record of its slots under agents/ (the master counts them)
      Sid      = "RegisterSlots"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:DeleteObject"]
      Resource = ["${local.objects}/agents/*"]
    },
    ], length(local.kms) == 0 ? [] : [{
      Sid      = "UseTheKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = local.kms
  }])

  agent_policy = jsonencode({ Version = "2012-10-17", Statement = local.agent_statements })

  master_policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.agent_statements, [
      {
        Sid      = "TaskQueueSend"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
        Resource = [var.queue_arns["task"]]
      },
      {
        Sid      = "CancelOnAgents"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [local.control_queues]
      },
      {
        Sid      = "ResultsAndDeadLetters"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        Resource = [var.queue_arns["result"], var.queue_arns["task_dlq"], var.queue_arns["result_dlq"]]
      },
      {
        Sid       = "ListOwnPrefix"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [var.bucket_arn]
        Condition = { StringLike = { "s3:prefix" = ["${var.prefix}/*", "${var.prefix}"] } }
      },
      {
        Sid      = "OwnPrefixObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = ["${local.objects}/*"]
      },
      {
        Sid      = "ScaleOwnAgents"
        Effect   = "Allow"
        Action   = ["ecs:UpdateService", "ecs:DescribeServices"]
        Resource = [var.service_arn]
      },
      {
        Sid      = "MasterLog"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = ["${var.log_group_arns["master"]}:*"]
      },
    ])
  })

  execution_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "EcrLogin"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"] # GetAuthorizationToken has no resource-level permissions
      },
      {
        Sid      = "PullAgentImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        Resource = [var.ecr_arn]
      },
      {
        Sid      = "AgentLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${var.log_group_arns["agents"]}:*"]
      },
    ]
  })

  ecs_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  ec2_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role" "agent_task" {
  name               = "${var.name}-agent-task"
  description        = "pestrun agents: their task queue, result queue and bucket prefix only"
  assume_role_policy = local.ecs_trust
}

resource "aws_iam_role_policy" "agent_task" {
  name   = "pestrun-agent"
  role   = aws_iam_role.agent_task.id
  policy = local.agent_policy
}

resource "aws_iam_role" "task_execution" {
  name               = "${var.name}-agent-execution"
  description        = "ECS: pull the agent image, write the agent logs"
  assume_role_policy = local.ecs_trust
}

resource "aws_iam_role_policy" "task_execution" {
  name   = "pestrun-agent-execution"
  role   = aws_iam_role.task_execution.id
  policy = local.execution_policy
}

resource "aws_iam_role" "master" {
  name               = "${var.name}-master"
  description        = "pestrun master: send runs, read results, its bucket prefix, scale its own agents"
  assume_role_policy = local.ec2_trust
}

resource "aws_iam_role_policy" "master" {
  name   = "pestrun-master"
  role   = aws_iam_role.master.id
  policy = local.master_policy
}

resource "aws_iam_role_policy_attachment" "master_ssm" {
  role       = aws_iam_role.master.name
  policy_arn = "arn:${var.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "master" {
  name = "${var.name}-master"
  role = aws_iam_role.master.name
}
