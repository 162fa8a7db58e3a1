output "upload_bucket_name" {
  description = "Bucket the originals are uploaded to."
  value       = aws_s3_bucket.upload.bucket
}

output "served_bucket_name" {
  description = "Bucket of the renditions."
  value       = aws_s3_bucket.served.bucket
}

output "served_bucket_arn" {
  description = "ARN of the served bucket (for a CloudFront origin)."
  value       = aws_s3_bucket.served.arn
}

output "prefixes" {
  description = "Prefixes in the upload bucket: originals (origin) and rejection records (rejected)."
  value       = { origin = local.origin_prefix, rejected = local.rejected_prefix }
}

output "image_sizes" {
  description = "Size name -> longest edge of the renditions."
  value       = var.image_sizes
}

output "cdn_host" {
  description = "Host of the catalog URLs."
  value       = var.cdn_host
}

output "queue_url" {
  description = "Work queue URL (resize -> loader)."
  value       = aws_sqs_queue.work.url
}

output "queue_name" {
  description = "Work queue name."
  value       = aws_sqs_queue.work.name
}

output "dlq_url" {
  description = "URL of the work queue's DLQ (messages the loader could not load)."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_name" {
  description = "Name of the work queue's DLQ."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_arn" {
  description = "ARN of the work queue's DLQ (for the alarm)."
  value       = aws_sqs_queue.dlq.arn
}

output "resize_failures_queue_url" {
  description = "URL of the queue holding upload events whose resize failed after every retry."
  value       = aws_sqs_queue.resize_failures.url
}

output "resize_failures_queue_name" {
  description = "Name of the resize-failures queue."
  value       = aws_sqs_queue.resize_failures.name
}

output "resize_failures_queue_arn" {
  description = "ARN of the resize-failures queue (for the alarm)."
  value       = aws_sqs_queue.resize_failures.arn
}

output "resize_function_name" {
  description = "Name of the resize function."
  value       = aws_lambda_function.resize.function_name
}

output "loader_function_name" {
  description = "Name of the catalog loader function."
  value       = aws_lambda_function.loader.function_name
}

output "loader_function_arn" {
  description = "ARN of the catalog loader function."
  value       = aws_lambda_function.loader.arn
}

output "resize_log_group_name" {
  description = "Log group of the resize function."
  value       = aws_cloudwatch_log_group.resize.name
}

output "loader_log_group_name" {
  description = "Log group of the loader."
  value       = aws_cloudwatch_log_group.loader.name
}

output "db_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the loader's database account."
  value       = aws_secretsmanager_secret.db.arn
}

output "db_secret_name" {
  description = "Name of the database secret."
  value       = aws_secretsmanager_secret.db.name
}

output "schedule" {
  description = "The loader's schedule: name, group, expression, time zone, state."
  value = {
    name       = aws_scheduler_schedule.loader.name
    group      = aws_scheduler_schedule.loader.group_name
    expression = aws_scheduler_schedule.loader.schedule_expression
    timezone   = aws_scheduler_schedule.loader.schedule_expression_timezone
    state      = aws_scheduler_schedule.loader.state
  }
}

# --- effective settings (for review, and for the environments' tests) ---------

output "resize_environment" {
  description = "Environment variables of the resize function."
  value       = aws_lambda_function.resize.environment[0].variables
}

output "loader_environment" {
  description = "Environment variables of the loader (no credentials: those are in the secret)."
  value       = aws_lambda_function.loader.environment[0].variables
}

output "function_settings" {
  description = "Timeouts, memory and reserved concurrency of both functions."
  value = {
    resize_timeout              = aws_lambda_function.resize.timeout
    resize_memory_size          = aws_lambda_function.resize.memory_size
    resize_reserved_concurrency = aws_lambda_function.resize.reserved_concurrent_executions
    loader_timeout              = aws_lambda_function.loader.timeout
    loader_memory_size          = aws_lambda_function.loader.memory_size
  }
}

output "queue_settings" {
  description = "Effective settings of the work queue."
  value = {
    visibility_timeout_seconds = aws_sqs_queue.work.visibility_timeout_seconds
    message_retention_seconds  = aws_sqs_queue.work.message_retention_seconds
    redrive_policy             = jsondecode(aws_sqs_queue.work.redrive_policy)
  }
}

output "bucket_settings" {
  description = "force_destroy and versioning of both buckets."
  value = {
    force_destroy      = aws_s3_bucket.upload.force_destroy && aws_s3_bucket.served.force_destroy
    versioning_enabled = var.bucket_versioning_enabled
  }
}
