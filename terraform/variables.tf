variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of this deployment; prefixes every resource name (lower case, digits and dashes)."
  type        = string
  default     = "pestrun"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 characters of a-z, 0-9 and '-', starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

# ------------------------------------------------------------------ network
variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.42.0.0/16"
}

variable "az_count" {
  description = "Number of availability zones (one private agent subnet in each)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 1 && var.az_count <= 6
    error_message = "az_count must be between 1 and 6."
  }
}

variable "interface_endpoints_enabled" {
  description = "Create the SQS, ECR and CloudWatch Logs interface endpoints the agents need (about $0.04/h in all). Set false between calibration campaigns to stop that charge; agents cannot start without them."
  type        = bool
  default     = true
}

variable "endpoint_subnet_count" {
  description = "Number of private subnets holding interface endpoint ENIs (cost scales with it; 1 is enough for a calibration)."
  type        = number
  default     = 1
}

# ------------------------------------------------------------------ storage
variable "bucket_name" {
  description = "Name of the S3 bucket; null makes NAME-ACCOUNT-REGION."
  type        = string
  default     = null
}

variable "prefix" {
  description = "Key prefix of this deployment in the bucket (bundles/, jobs/, cases/, results/ live under it)."
  type        = string
  default     = "pestrun"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.prefix))
    error_message = "prefix must be a key prefix without leading or trailing '/'."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for S3 and SQS encryption; null uses AES256 (S3) and SQS-managed SSE."
  type        = string
  default     = null
}

variable "jobs_expiry_days" {
  description = "Days after which objects under PREFIX/jobs/ (large run payloads and results) expire."
  type        = number
  default     = 7
}

variable "noncurrent_expiry_days" {
  description = "Days after which noncurrent object versions expire."
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Let terraform destroy delete a non-empty bucket and ECR repository (everything in them is lost)."
  type        = bool
  default     = false
}

# ------------------------------------------------------------------ queues
variable "visibility_timeout_seconds" {
  description = "Task queue visibility timeout. Rule: at least 3-5 times the agent heartbeat interval (the agent extends visibility while a model runs), and at least 60 s. A lost agent's run comes back after this long."
  type        = number
  default     = 300

  validation {
    condition     = var.visibility_timeout_seconds >= 60 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 60 and 43200."
  }
}

variable "message_retention_seconds" {
  description = "How long unreceived messages stay in the queues (DLQs keep them 14 days)."
  type        = number
  default     = 345600
}

variable "max_receive_count" {
  description = "Receives of a task message before it goes to the dead-letter queue."
  type        = number
  default     = 3
}

# ------------------------------------------------------------------ images
variable "ecr_keep_images" {
  description = "Number of images the ECR lifecycle policy keeps."
  type        = number
  default     = 10
}

variable "image_tag" {
  description = "Tag of the agent image in the ECR repository (the repository is IMMUTABLE: push a new tag, e.g. the git sha, per build)."
  type        = string
  default     = "0.1.0"
}

variable "agent_image" {
  description = "Full agent image reference; null uses ECR_REPOSITORY_URL:image_tag."
  type        = string
  default     = null
}

# ------------------------------------------------------------------ agents
variable "agent_cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 2048
}

variable "agent_memory" {
  description = "Fargate task memory in MiB (must suit agent_cpu)."
  type        = number
  default     = 4096
}

variable "agent_slots" {
  description = "Model runs at once per agent task; null = one per vCPU."
  type        = number
  default     = null
}

variable "agent_ephemeral_storage_gib" {
  description = "Fargate ephemeral storage per task (21-200 GiB): room for one model copy per slot."
  type        = number
  default     = 30
}

variable "max_agent_tasks" {
  description = "Upper bound of the agent service (run_master.sh and auto scaling never go above it)."
  type        = number
  default     = 10
}

variable "on_demand_base" {
  description = "Agent tasks placed on on-demand FARGATE before the rest go to FARGATE_SPOT."
  type        = number
  default     = 1
}

variable "agent_idle_exit" {
  description = "Seconds an agent waits idle before exiting (PESTRUN_IDLE_EXIT); 0 leaves it unset, which suits an ECS service that scales to zero itself."
  type        = number
  default     = 0
}

variable "agent_drain_seconds" {
  description = "Seconds the agent drains after SIGTERM (Spot interruption); must be below the ECS stopTimeout of 120."
  type        = number
  default     = 100

  validation {
    condition     = var.agent_drain_seconds > 0 && var.agent_drain_seconds < 120
    error_message = "agent_drain_seconds must be between 1 and 119 (the task's stopTimeout is 120)."
  }
}

variable "enable_autoscaling" {
  description = "Scale the agent service out on queue backlog and back to zero when the task queue stays empty."
  type        = bool
  default     = true
}

variable "scale_in_minutes" {
  description = "Minutes the task queue must be empty (visible + in flight = 0) before auto scaling sets the agents to zero."
  type        = number
  default     = 10
}

# ------------------------------------------------------------------ master
variable "master_instance_type" {
  description = "EC2 instance type of the master."
  type        = string
  default     = "t3.medium"
}

variable "master_ami" {
  description = "AMI of the master; null uses the newest official Debian 12 amd64 AMI."
  type        = string
  default     = null
}

variable "master_volume_gb" {
  description = "Size of the master's encrypted root volume (GiB)."
  type        = number
  default     = 30
}

variable "master_startup_script" {
  description = "Path of scripts/startup_master.sh (null: ../scripts/startup_master.sh from this folder)."
  type        = string
  default     = null
}

variable "pestrun_source" {
  description = "Where the master gets pestrun's source: an s3:// URL of a source tarball (`git archive`), or a git URL (optionally URL#REF). null: s3://BUCKET/PREFIX/src/pestrun-src.tar.gz."
  type        = string
  default     = null
}

variable "pestrun_source_tarball" {
  description = "Local path of a pestrun source tarball that terraform uploads to s3://BUCKET/PREFIX/src/pestrun-src.tar.gz for the master (null: upload it yourself)."
  type        = string
  default     = null
}

# ------------------------------------------------------------------ logs and alarms
variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups."
  type        = number
  default     = 30
}

variable "alarm_email" {
  description = "E-mail address subscribed to the dead-letter queue alarms (null: alarms without notification)."
  type        = string
  default     = null
}
