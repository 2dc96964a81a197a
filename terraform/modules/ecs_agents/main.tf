# The agents: an ECS service on Fargate Spot (with an on-demand base) that sits at zero tasks.
# run_master.sh sets the desired count for a calibration and back to zero at the end; auto
# scaling adds tasks while the task queue has a backlog and returns to zero when it stays empty.
# On a Spot interruption ECS sends SIGTERM; the agent drains for drain_seconds (< stopTimeout
# 120) and the runs it cannot finish become visible again in the queue for another agent.

resource "aws_ecs_cluster" "this" {
  name = var.cluster_name

  setting {
    name  = "containerInsights"
    value = "disabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = 1
  }
}

locals {
  environment = concat([
    { name = "AWS_REGION", value = var.region },
    { name = "PESTRUN_QUEUE_URL", value = var.task_queue_url },
    { name = "PESTRUN_BUCKET", value = var.bucket },
    { name = "PESTRUN_PREFIX", value = var.prefix },
    { name = "PESTRUN_SLOTS", value = tostring(var.slots) },
    { name = "PESTRUN_DRAIN_SECONDS", value = tostring(var.drain_seconds) },
    { name = "PESTRUN_WORKDIR", value = "/work" },
    { name = "PESTRUN_HEALTH_FILE", value = "/tmp/pestrun/health" },
    ], var.idle_exit > 0 ? [
    { name = "PESTRUN_IDLE_EXIT", value = tostring(var.idle_exit) },
  ] : [])

  container = {
    name        = "agent"
    image       = var.image
    essential   = true
    stopTimeout = 120
    environment = local.environment
    user        = "10001:10001"
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/pestrun-healthcheck"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group
        awslogs-region        = var.region
        awslogs-stream-prefix = "agent"
      }
    }
  }
}

resource "aws_ecs_task_definition" "agent" {
  family                   = "${var.name}-agent"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  task_role_arn            = var.task_role_arn
  execution_role_arn       = var.execution_role_arn
  container_definitions    = jsonencode([local.container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  ephemeral_storage {
    size_in_gib = var.ephemeral_storage_gib
  }
}

resource "aws_ecs_service" "agents" {
  name                               = var.service_name
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.agent.arn
  desired_count                      = 0
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = var.on_demand_base
    weight            = 0
  }

  capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = 1
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  lifecycle {
    # run_master.sh and auto scaling own the desired count; terraform leaves it alone.
    ignore_changes = [desired_count]
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

# ------------------------------------------------------------------ auto scaling
resource "aws_appautoscaling_target" "agents" {
  count = var.enable_autoscaling ? 1 : 0

  service_namespace  = "ecs"
  resource_id        = "service/${var.cluster_name}/${var.service_name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 0
  max_capacity       = var.max_tasks

  depends_on = [aws_ecs_service.agents]
}

# Backlog: add tasks while runs wait in the queue (more at once for a long queue).
resource "aws_appautoscaling_policy" "scale_out" {
  count = var.enable_autoscaling ? 1 : 0

  name               = "${var.name}-agents-backlog"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.agents[0].service_namespace
  resource_id        = aws_appautoscaling_target.agents[0].resource_id
  scalable_dimension = aws_appautoscaling_target.agents[0].scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_lower_bound = 0
      metric_interval_upper_bound = 10 * var.slots
      scaling_adjustment          = 1
    }

    step_adjustment {
      metric_interval_lower_bound = 10 * var.slots
      metric_interval_upper_bound = 100 * var.slots
      scaling_adjustment          = 3
    }

    step_adjustment {
      metric_interval_lower_bound = 100 * var.slots
      scaling_adjustment          = 10
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "backlog" {
  count = var.enable_autoscaling ? 1 : 0

  alarm_name          = "${var.name}-agents-backlog"
  alarm_description   = "Runs waiting in ${var.task_queue_name}: scale the agents out."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.task_queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.scale_out[0].arn]
}

# Idle: nothing visible and nothing in flight for scale_in_minutes -> exactly zero tasks.
resource "aws_appautoscaling_policy" "scale_to_zero" {
  count = var.enable_autoscaling ? 1 : 0

  name               = "${var.name}-agents-idle"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.agents[0].service_namespace
  resource_id        = aws_appautoscaling_target.agents[0].resource_id
  scalable_dimension = aws_appautoscaling_target.agents[0].scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = 0
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "idle" {
  count = var.enable_autoscaling ? 1 : 0

  alarm_name          = "${var.name}-agents-idle"
  alarm_description   = "${var.task_queue_name} empty (visible + in flight) for ${var.scale_in_minutes} min: agents to zero."
  evaluation_periods  = var.scale_in_minutes
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = 0
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_appautoscaling_policy.scale_to_zero[0].arn]

  metric_query {
    id          = "backlog"
    expression  = "visible + inflight"
    label       = "runs queued or running"
    return_data = true
  }

  metric_query {
    id = "visible"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.task_queue_name }
      period      = 60
      stat        = "Maximum"
    }
  }

  metric_query {
    id = "inflight"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      dimensions  = { QueueName = var.task_queue_name }
      period      = 60
      stat        = "Maximum"
    }
  }
}
