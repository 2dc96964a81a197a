output "queue_urls" {
  description = "Queue URLs by key (task, task_dlq, result, result_dlq)."
  value = merge(
    { for k, q in aws_sqs_queue.main : k => q.url },
    { for k, q in aws_sqs_queue.dlq : k => q.url },
  )
}

output "queue_arns" {
  description = "Queue ARNs by key."
  value       = var.queue_arns
}

output "encryption" {
  description = "Encryption of each queue: \"sqs-managed\" or the KMS key."
  value = merge(
    { for k, q in aws_sqs_queue.main : k => q.sqs_managed_sse_enabled == true ? "sqs-managed" : coalesce(q.kms_master_key_id, "none") },
    { for k, q in aws_sqs_queue.dlq : k => q.sqs_managed_sse_enabled == true ? "sqs-managed" : coalesce(q.kms_master_key_id, "none") },
  )
}

output "redrive_max_receive_count" {
  description = "maxReceiveCount of each main queue's redrive policy."
  value       = { for k, q in aws_sqs_queue.main : k => jsondecode(q.redrive_policy).maxReceiveCount }
}
