output "cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service."
  value       = aws_ecs_service.agents.name
}

output "image" {
  description = "Image of the task definition."
  value       = var.image
}

output "desired_count" {
  description = "Desired count terraform sets (0: nothing runs, nothing is billed, until a calibration)."
  value       = aws_ecs_service.agents.desired_count
}

output "autoscaling_min_capacity" {
  description = "Auto scaling minimum (0), or null without auto scaling."
  value       = one(aws_appautoscaling_target.agents[*].min_capacity)
}

output "stop_timeout" {
  description = "Seconds ECS waits after SIGTERM before SIGKILL."
  value       = local.container.stopTimeout
}
