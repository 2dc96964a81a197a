variable "name" {
  description = "Deployment name."
  type        = string
}

variable "region" {
  description = "Region (for the awslogs driver and AWS_REGION)."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster name."
  type        = string
}

variable "service_name" {
  description = "ECS service name."
  type        = string
}

variable "image" {
  description = "Agent image reference."
  type        = string
}

variable "cpu" {
  description = "Task CPU units (1024 = 1 vCPU)."
  type        = number
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
}

variable "slots" {
  description = "Model runs at once per task (PESTRUN_SLOTS)."
  type        = number
}

variable "ephemeral_storage_gib" {
  description = "Ephemeral storage per task (21-200 GiB)."
  type        = number
  default     = 21
}

variable "task_role_arn" {
  description = "Agent task role."
  type        = string
}

variable "execution_role_arn" {
  description = "Task execution role."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the tasks."
  type        = list(string)
}

variable "log_group" {
  description = "CloudWatch log group of the agents."
  type        = string
}

variable "task_queue_url" {
  description = "Task queue URL (PESTRUN_QUEUE_URL)."
  type        = string
}

variable "task_queue_name" {
  description = "Task queue name (for the scaling alarms)."
  type        = string
}

variable "bucket" {
  description = "Bucket (PESTRUN_BUCKET)."
  type        = string
}

variable "prefix" {
  description = "Key prefix (PESTRUN_PREFIX)."
  type        = string
}

variable "idle_exit" {
  description = "PESTRUN_IDLE_EXIT; 0 leaves it unset."
  type        = number
  default     = 0
}

variable "drain_seconds" {
  description = "PESTRUN_DRAIN_SECONDS (below the stopTimeout of 120)."
  type        = number
  default     = 100
}

variable "max_tasks" {
  description = "Auto scaling maximum."
  type        = number
}

variable "on_demand_base" {
  description = "Tasks on on-demand FARGATE before FARGATE_SPOT takes the rest."
  type        = number
  default     = 1
}

variable "enable_autoscaling" {
  description = "Step scaling on the task queue backlog, down to zero when it stays empty."
  type        = bool
  default     = true
}

variable "scale_in_minutes" {
  description = "Minutes of an empty task queue before scaling to zero."
  type        = number
  default     = 10
}
