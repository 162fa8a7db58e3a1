output "url" {
  description = "URL of the queue."
  value       = aws_sqs_queue.this.url
}

output "arn" {
  description = "ARN of the queue."
  value       = aws_sqs_queue.this.arn
}

output "name" {
  description = "Name of the queue."
  value       = aws_sqs_queue.this.name
}

output "dlq_url" {
  description = "URL of the DLQ (null without create_dlq)."
  value       = try(aws_sqs_queue.dlq[0].url, null)
}

output "dlq_arn" {
  description = "ARN of the DLQ (null without create_dlq)."
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "dlq_name" {
  description = "Name of the DLQ (null without create_dlq)."
  value       = try(aws_sqs_queue.dlq[0].name, null)
}

# --- effective settings (for review, and for the callers' tests) --------------

output "settings" {
  description = "Effective settings of the queue; redrive_policy decoded (null without a DLQ)."
  value = {
    visibility_timeout_seconds = aws_sqs_queue.this.visibility_timeout_seconds
    receive_wait_time_seconds  = aws_sqs_queue.this.receive_wait_time_seconds
    message_retention_seconds  = aws_sqs_queue.this.message_retention_seconds
    redrive_policy             = var.create_dlq ? jsondecode(aws_sqs_queue.this.redrive_policy) : null
  }
}

output "dlq_settings" {
  description = "Effective settings of the DLQ, redrive_allow_policy decoded (null without create_dlq)."
  value = var.create_dlq ? {
    message_retention_seconds = aws_sqs_queue.dlq[0].message_retention_seconds
    redrive_allow_policy      = jsondecode(aws_sqs_queue.dlq[0].redrive_allow_policy)
  } : null
}

output "policy" {
  description = "The queue's policy (decoded)."
  value       = jsondecode(aws_sqs_queue.this.policy)
}

output "dlq_policy" {
  description = "The DLQ's policy (decoded; null without create_dlq)."
  value       = var.create_dlq ? jsondecode(aws_sqs_queue.dlq[0].policy) : null
}

output "encrypted" {
  description = "Whether the queue and its DLQ use SSE-SQS (always, in this module)."
  value       = alltrue(concat([aws_sqs_queue.this.sqs_managed_sse_enabled], aws_sqs_queue.dlq[*].sqs_managed_sse_enabled))
}
