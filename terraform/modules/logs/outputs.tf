output "log_group_names" {
  description = "Log group names by key."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "alarm_names" {
  description = "Dead-letter queue alarms."
  value       = [for a in aws_cloudwatch_metric_alarm.dlq : a.alarm_name]
}

output "sns_topic_arn" {
  description = "SNS topic of the alarms (null without alarm_email)."
  value       = one(aws_sns_topic.alarms[*].arn)
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of the master's metrics."
  value       = aws_cloudwatch_dashboard.pestrun.dashboard_name
}

output "metric_alarm_names" {
  description = "Alarms on the master's embedded metrics."
  value       = [aws_cloudwatch_metric_alarm.runs_failing.alarm_name, aws_cloudwatch_metric_alarm.stalled.alarm_name]
}
