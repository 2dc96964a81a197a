output "instance_id" {
  description = "Instance id (aws ssm start-session --target ID)."
  value       = aws_instance.master.id
}

output "http_tokens" {
  description = "IMDS token requirement (required = IMDSv2 only)."
  value       = one(aws_instance.master.metadata_options).http_tokens
}

output "root_volume_encrypted" {
  description = "Root volume encryption."
  value       = one(aws_instance.master.root_block_device).encrypted
}
