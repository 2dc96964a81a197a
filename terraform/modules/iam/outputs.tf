output "agent_task_role_arn" {
  description = "Task role of the agents."
  value       = aws_iam_role.agent_task.arn
}

output "task_execution_role_arn" {
  description = "Task execution role (image pull, logs)."
  value       = aws_iam_role.task_execution.arn
}

output "master_role_arn" {
  description = "Role of the master instance."
  value       = aws_iam_role.master.arn
}

output "master_instance_profile_name" {
  description = "Instance profile of the master."
  value       = aws_iam_instance_profile.master.name
}

output "agent_policy_json" {
  description = "The agent task role's policy."
  value       = local.agent_policy
}

output "master_policy_json" {
  description = "The master role's policy."
  value       = local.master_policy
}

output "agent_policy_has_wildcard_resource" {
  description = "Whether any statement of the agent policy names a resource \"*\" (false)."
  value       = anytrue([for s in local.agent_statements : anytrue([for r in s.Resource : r == "*" || endswith(r, ":*:*")])])
}
