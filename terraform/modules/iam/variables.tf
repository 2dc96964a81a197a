variable "name" {
  description = "Deployment name (role name prefix)."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
  default     = "aws"
}

variable "bucket_arn" {
  description = "ARN of the bucket."
  type        = string
}

variable "prefix" {
  description = "The deployment's key prefix in the bucket."
  type        = string
}

variable "queue_arns" {
  description = "Queue ARNs: task, task_dlq, result, result_dlq."
  type        = map(string)
}

variable "service_arn" {
  description = "ARN of the agents' ECS service (the only service the master may scale)."
  type        = string
}

variable "ecr_arn" {
  description = "ARN of the agent image repository."
  type        = string
}

variable "log_group_arns" {
  description = "Log group ARNs: agents, master."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "KMS key of the bucket and queues (null: none)."
  type        = string
  default     = null
}
