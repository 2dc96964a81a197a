# Task and result queues, each with a dead-letter queue, encrypted, long-polled, TLS only.
# Visibility timeout rule: at least 3-5 times the agents' heartbeat interval (an agent extends a
# message's visibility while its model runs), so a run comes back to the queue only when its
# agent is gone; a poison message goes to the DLQ after max_receive_count receives.

locals {
  sse = var.kms_key_arn == null

  queue_settings = {
    task = {
      visibility = var.visibility_timeout_seconds
      retention  = var.message_retention_seconds
      dlq        = "task_dlq"
    }
    result = {
      visibility = max(60, min(var.visibility_timeout_seconds, 300))
      retention  = var.message_retention_seconds
      dlq        = "result_dlq"
    }
  }
}

resource "aws_sqs_queue" "dlq" {
  for_each = { for k, v in local.queue_settings : v.dlq => k }

  name                              = var.queues[each.key]
  message_retention_seconds         = 1209600
  receive_wait_time_seconds         = 20
  sqs_managed_sse_enabled           = local.sse ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse ? null : 3600
}

resource "aws_sqs_queue" "main" {
  for_each = local.queue_settings

  name                              = var.queues[each.key]
  visibility_timeout_seconds        = each.value.visibility
  message_retention_seconds         = each.value.retention
  receive_wait_time_seconds         = 20
  max_message_size                  = 262144
  sqs_managed_sse_enabled           = local.sse ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.sse ? null : 3600

  redrive_policy = jsonencode({
    deadLetterTargetArn = var.queue_arns[each.value.dlq]
    maxReceiveCount     = var.max_receive_count
  })

  depends_on = [aws_sqs_queue.dlq]
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.queue_settings

  queue_url = aws_sqs_queue.dlq[each.value.dlq].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [var.queue_arns[each.key]]
  })
}

# Every queue refuses requests that do not use TLS.
resource "aws_sqs_queue_policy" "tls_only" {
  for_each = var.queues

  queue_url = each.key == "task" || each.key == "result" ? aws_sqs_queue.main[each.key].id : aws_sqs_queue.dlq[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "sqs:*"
      Resource  = var.queue_arns[each.key]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
}
