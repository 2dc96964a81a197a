variable "bucket" {
  description = "Bucket name."
  type        = string
}

variable "prefix" {
  description = "Key prefix of the deployment (PREFIX/jobs/ expires)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS; null for SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "jobs_expiry_days" {
  description = "Days after which PREFIX/jobs/ objects expire."
  type        = number
  default     = 7
}

variable "noncurrent_expiry_days" {
  description = "Days after which noncurrent versions expire."
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Allow destroying a non-empty bucket."
  type        = bool
  default     = false
}
