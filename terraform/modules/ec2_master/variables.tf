variable "name" {
  description = "Deployment name."
  type        = string
}

variable "region" {
  description = "Region."
  type        = string
}

variable "ami" {
  description = "AMI id; null uses the newest official Debian 12 amd64 image."
  type        = string
  default     = null
}

variable "instance_type" {
  description = "Instance type."
  type        = string
  default     = "t3.medium"
}

variable "volume_gb" {
  description = "Root volume size (GiB)."
  type        = number
  default     = 30
}

variable "subnet_id" {
  description = "Subnet (public: the master fetches Debian packages and the source)."
  type        = string
}

variable "security_group_ids" {
  description = "Security groups (egress only)."
  type        = list(string)
}

variable "instance_profile_name" {
  description = "Instance profile of the master role."
  type        = string
}

variable "startup_script" {
  description = "Content of scripts/startup_master.sh."
  type        = string
}

variable "settings" {
  description = "Deployment settings written to /etc/pestrun.env (PESTRUN_* variables)."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "KMS key for the root volume (null: the account's default EBS key)."
  type        = string
  default     = null
}
