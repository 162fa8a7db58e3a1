output "upload_bucket_name" {
  description = "Bucket the originals are uploaded to."
  value       = module.upload_bucket.bucket
}

output "served_bucket_name" {
  description = "Bucket of the renditions."
  value       = module.served_bucket.bucket
}

output "served_bucket_arn" {
  description = "ARN of the served bucket (for a CloudFront origin)."
  value       = module.served_bucket.arn
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
  value       = module.work_queue.url
}

output "queue_name" {
  description = "Work queue name."
  value       = module.work_queue.name
}

output "dlq_url" {
  description = "URL of the work queue's DLQ (messages the loader could not load)."
  value       = module.work_queue.dlq_url
}

output "dlq_name" {
  description = "Name of the work queue's DLQ."
  value       = module.work_queue.dlq_name
}

output "dlq_arn" {
  description = "ARN of the work queue's DLQ (for the alarm)."
  value       = module.work_queue.dlq_arn
}

output "resize_failures_queue_url" {
  description = "URL of the queue holding upload events whose resize failed after every retry."
  value       = module.resize_failures_queue.url
}

output "resize_failures_queue_name" {
  description = "Name of the resize-failures queue."
  value       = module.resize_failures_queue.name
}

output "resize_failures_queue_arn" {
  description = "ARN of the resize-failures queue (for the alarm)."
  value       = module.resize_failures_queue.arn
}

output "resize_function_name" {
  description = "Name of the resize function."
  value       = module.resize.function_name
}

output "loader_function_name" {
  description = "Name of the catalog loader function."
  value       = module.loader.function_name
}

output "loader_function_arn" {
  description = "ARN of the catalog loader function."
  value       = module.loader.arn
}

output "resize_log_group_name" {
  description = "Log group of the resize function."
  value       = module.resize.log_group_name
}

output "loader_log_group_name" {
  description = "Log group of the loader."
  value       = module.loader.log_group_name
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
  description = "The loader's every-minute schedule (the window but its last run): name, group, expression, time zone, state."
  value = {
    name       = aws_scheduler_schedule.loader["every_minute"].name
    group      = aws_scheduler_schedule.loader["every_minute"].group_name
    expression = aws_scheduler_schedule.loader["every_minute"].schedule_expression
    timezone   = aws_scheduler_schedule.loader["every_minute"].schedule_expression_timezone
    state      = aws_scheduler_schedule.loader["every_minute"].state
  }
}

output "schedules" {
  description = "Every schedule of the loader (every minute of the window, and its last run at the last hour's :00), each with name, group, expression, time zone, state; the loader runs when any of them fires."
  value = [
    for key in ["every_minute", "last_run"] : {
      key        = key
      name       = aws_scheduler_schedule.loader[key].name
      group      = aws_scheduler_schedule.loader[key].group_name
      expression = aws_scheduler_schedule.loader[key].schedule_expression
      timezone   = aws_scheduler_schedule.loader[key].schedule_expression_timezone
      state      = aws_scheduler_schedule.loader[key].state
    }
  ]
}

output "schedule_window" {
  description = "The loader's window: every minute from first_hour:00 to last_hour:00 inclusive, in timezone."
  value = {
    first_hour = var.schedule_first_hour
    last_hour  = var.schedule_last_hour
    timezone   = var.schedule_timezone
  }
}

# --- effective settings (for review, and for the environments' tests) ---------

output "resize_environment" {
  description = "Environment variables of the resize function."
  value       = module.resize.environment
}

output "loader_environment" {
  description = "Environment variables of the loader (no credentials: those are in the secret)."
  value       = module.loader.environment
}

output "function_settings" {
  description = "Timeouts, memory and reserved concurrency of both functions."
  value = {
    resize_timeout              = module.resize.settings.timeout
    resize_memory_size          = module.resize.settings.memory_size
    resize_reserved_concurrency = module.resize.settings.reserved_concurrent_executions
    loader_timeout              = module.loader.settings.timeout
    loader_memory_size          = module.loader.settings.memory_size
  }
}

output "function_code" {
  description = "Runtime, architectures and code hash of both functions: what decides a code redeploy."
  value = {
    resize = module.resize.code
    loader = module.loader.code
  }
}

output "queue_settings" {
  description = "Effective settings of the work queue."
  value = {
    visibility_timeout_seconds = module.work_queue.settings.visibility_timeout_seconds
    message_retention_seconds  = module.work_queue.settings.message_retention_seconds
    redrive_policy             = module.work_queue.settings.redrive_policy
  }
}

output "bucket_settings" {
  description = "force_destroy and versioning of both buckets."
  value = {
    force_destroy      = module.upload_bucket.settings.force_destroy && module.served_bucket.settings.force_destroy
    versioning_enabled = var.bucket_versioning_enabled
  }
}
