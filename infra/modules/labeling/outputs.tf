output "bucket_name" {
  description = "Name of the images bucket."
  value       = module.bucket.bucket
}

output "bucket_arn" {
  description = "ARN of the images bucket."
  value       = module.bucket.arn
}

output "prefixes" {
  description = "Key prefixes of the bucket layout: ingest (uploads), results (label JSON), failures (failure records)."
  value       = local.prefixes
}

output "topic_arn" {
  description = "ARN of the SNS topic receiving S3 events (and alarm notifications)."
  value       = aws_sns_topic.this.arn
}

output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting the topic (null when create_topic_kms_key is false)."
  value       = try(aws_kms_key.this[0].arn, null)
}

output "kms_alias_name" {
  description = "Alias of the topic's KMS key (null when create_topic_kms_key is false)."
  value       = try(aws_kms_alias.this[0].name, null)
}

output "queue_url" {
  description = "URL of the labeler queue."
  value       = module.queue.url
}

output "queue_arn" {
  description = "ARN of the labeler queue."
  value       = module.queue.arn
}

output "queue_name" {
  description = "Name of the labeler queue."
  value       = module.queue.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.queue.dlq_url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = module.queue.dlq_arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = module.queue.dlq_name
}

output "max_receive_count" {
  description = "Receives before a message moves to the DLQ."
  value       = var.max_receive_count
}

output "function_name" {
  description = "Name of the labeler function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the labeler function."
  value       = module.function.arn
}

output "role_arn" {
  description = "ARN of the labeler's execution role."
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "Log group of the labeler."
  value       = module.function.log_group_name
}

output "event_source_mapping_uuid" {
  description = "UUID of the queue -> labeler event source mapping."
  value       = aws_lambda_event_source_mapping.this.uuid
}

# --- effective settings (for review, and for the environments' tests) ---------

output "trusted_alarm_arns" {
  description = "ARNs of the alarms the topic and key policies let publish."
  value       = local.alarm_arns
}

output "function_environment" {
  description = "Environment variables of the labeler (no secrets)."
  value       = module.function.environment
}

output "function_timeout" {
  description = "Timeout of the labeler in seconds."
  value       = module.function.settings.timeout
}

output "queue_settings" {
  description = "Effective settings of the labeler queue."
  value       = module.queue.settings
}

output "event_source_mapping_settings" {
  description = "Effective settings of the queue -> labeler event source mapping."
  value = {
    batch_size                         = aws_lambda_event_source_mapping.this.batch_size
    maximum_batching_window_in_seconds = aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds
    maximum_concurrency                = try(aws_lambda_event_source_mapping.this.scaling_config[0].maximum_concurrency, null)
    function_response_types            = aws_lambda_event_source_mapping.this.function_response_types
  }
}

output "bucket_settings" {
  description = "Effective protection settings of the bucket."
  value = {
    force_destroy      = module.bucket.settings.force_destroy
    versioning_enabled = module.bucket.settings.versioning_enabled
  }
}

output "function_code" {
  description = "Runtime, architectures and code hash of the labeler: what decides a code redeploy."
  value       = module.function.code
}
