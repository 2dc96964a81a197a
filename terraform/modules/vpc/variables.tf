variable "name" {
  description = "Deployment name (resource name prefix)."
  type        = string
}

variable "region" {
  description = "Region (for the VPC endpoint service names)."
  type        = string
}

variable "cidr" {
  description = "VPC CIDR block."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones of the private agent subnets (the public master subnet uses the first)."
  type        = list(string)
}

variable "interface_endpoints" {
  description = "Interface endpoints the agents need without a NAT gateway (SQS, ECR API and registry, CloudWatch Logs)."
  type        = list(string)
  default     = ["sqs", "ecr.api", "ecr.dkr", "logs"]
}

variable "endpoint_subnet_count" {
  description = "Private subnets that get interface endpoint ENIs (each endpoint costs about $0.01/h per subnet; agents in other zones use them across zones)."
  type        = number
  default     = 1
}
