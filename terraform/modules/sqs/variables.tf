variable "queues" {
  description = "Queue names: task, task_dlq, result, result_dlq."
  type        = map(string)
}

variable "queue_arns" {
  description = "Queue ARNs by the same keys (derived from the names)."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS; null for SQS-managed SSE."
  type        = string
  default     = null
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the task queue (the result queue uses 60 s or more)."
  type        = number
}

variable "message_retention_seconds" {
  description = "Retention of the task and result queues."
  type        = number
}

variable "max_receive_count" {
  description = "Receives before a message moves to its dead-letter queue."
  type        = number
  default     = 3
}
