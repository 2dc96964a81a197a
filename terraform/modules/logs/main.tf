# Log groups with retention, and an alarm whenever a dead-letter queue holds a message
# (a model run that failed max_receive_count times, or a result the master could not read).

resource "aws_cloudwatch_log_group" "this" {
  for_each = var.log_groups

  name              = each.value
  retention_in_days = var.retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_sns_topic" "alarms" {
  count = var.alarm_email == null ? 0 : 1

  name              = "${var.name}-alarms"
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  for_each = var.dlq_names

  alarm_name          = "${each.value}-not-empty"
  alarm_description   = "Messages in the pestrun dead-letter queue ${each.value}: look at them with aws sqs receive-message."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = aws_sns_topic.alarms[*].arn
  ok_actions          = aws_sns_topic.alarms[*].arn
}

# The master's progress lines are in CloudWatch's embedded metric format (pestrun
# --log-format json, shipped by run_master.sh): metrics in the namespace pestrun, each both per
# Case and with no dimension (which the alarms below use). A dashboard shows them beside the
# task queue.
locals {
  pestrun_metric = { namespace = "pestrun", period = 60, stat = "Maximum" }
}

resource "aws_cloudwatch_dashboard" "pestrun" {
  dashboard_name = "${var.name}-pestrun"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Model runs"
          region  = var.region
          stat    = local.pestrun_metric.stat
          period  = local.pestrun_metric.period
          metrics = [["pestrun", "RunsDone"], ["pestrun", "RunsFailed"], ["pestrun", "RunsInFlight"]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "Agents (slots)"
          region  = var.region
          stat    = local.pestrun_metric.stat
          period  = local.pestrun_metric.period
          metrics = [["pestrun", "WorkersAlive"], ["pestrun", "WorkersBusy"], ["pestrun", "WorkersLost"]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Mean model run time (s)"
          region  = var.region
          stat    = "Average"
          period  = local.pestrun_metric.period
          metrics = [["pestrun", "MeanRunSeconds"]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Task queue"
          region  = var.region
          stat    = "Maximum"
          period  = local.pestrun_metric.period
          metrics = [for q in values(var.queue_names) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
        }
      },
    ]
  })
}

# Model runs failing for good: the master's RunsFailed count rose within the last 5 minutes.
resource "aws_cloudwatch_metric_alarm" "runs_failing" {
  alarm_name          = "${var.name}-model-runs-failing"
  alarm_description   = "pestrun reported model runs failed for good (after max_run_fail attempts): see the master's log."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = aws_sns_topic.alarms[*].arn

  metric_query {
    id = "failed"
    metric {
      namespace   = "pestrun"
      metric_name = "RunsFailed"
      period      = 300
      stat        = "Maximum"
    }
  }
  metric_query {
    id          = "rise"
    expression  = "DIFF(failed)"
    label       = "runs failed in 5 minutes"
    return_data = true
  }
}

# A stalled calibration: runs in flight for 30 minutes and none done.
resource "aws_cloudwatch_metric_alarm" "stalled" {
  alarm_name          = "${var.name}-calibration-stalled"
  alarm_description   = "pestrun has had runs in flight for 30 minutes without finishing one: are the agents up and able to reach the queues?"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = aws_sns_topic.alarms[*].arn

  metric_query {
    id = "done"
    metric {
      namespace   = "pestrun"
      metric_name = "RunsDone"
      period      = 1800
      stat        = "Maximum"
    }
  }
  metric_query {
    id = "inflight"
    metric {
      namespace   = "pestrun"
      metric_name = "RunsInFlight"
      period      = 1800
      stat        = "Minimum"
    }
  }
  metric_query {
    id          = "stall"
    expression  = "IF(inflight > 0 AND DIFF(done) <= 0, 1, 0)"
    label       = "stalled"
    return_data = true
  }
}
