variable "name" {
  description = "Deployment name."
  type        = string
}

variable "log_groups" {
  description = "Log group names by key (agents, master)."
  type        = map(string)
}

variable "retention_days" {
  description = "Retention of the log groups."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "KMS key for the log groups (null: CloudWatch's own encryption)."
  type        = string
  default     = null
}

variable "dlq_names" {
  description = "Dead-letter queue names to alarm on, by key."
  type        = map(string)
}

variable "alarm_email" {
  description = "E-mail subscribed to the alarms (null: no notification)."
  type        = string
  default     = null
}

variable "region" {
  description = "Region of the dashboard's metrics."
  type        = string
}

variable "queue_names" {
  description = "Task queue names shown on the dashboard, by key."
  type        = map(string)
  default     = {}
}
