# The outputs the harness reads (`terraform output -json`), the same in every
# environment: infra/envs/outputs.tf forwards each one to the root.

output "region" {
  description = "Region of the stack."
  value       = data.aws_region.current.name
}

output "account_id" {
  description = "Account of the stack (000000000000 on LocalStack)."
  value       = data.aws_caller_identity.current.account_id
}

output "bucket" {
  description = "Images bucket."
  value       = module.labeling.bucket_name
}

output "ingest_prefix" {
  description = "Uploads under this prefix are labeled."
  value       = module.labeling.prefixes.ingest
}

output "results_prefix" {
  description = "Prefix of the result JSON objects."
  value       = module.labeling.prefixes.results
}

output "failures_prefix" {
  description = "Prefix of the failure records."
  value       = module.labeling.prefixes.failures
}

output "topic_arn" {
  description = "Events topic (S3 notifications and alarm notifications)."
  value       = module.labeling.topic_arn
}

output "queue_url" {
  description = "Labeler queue URL."
  value       = module.labeling.queue_url
}

output "queue_name" {
  description = "Labeler queue name."
  value       = module.labeling.queue_name
}

output "dlq_url" {
  description = "Dead-letter queue URL."
  value       = module.labeling.dlq_url
}

output "dlq_name" {
  description = "Dead-letter queue name."
  value       = module.labeling.dlq_name
}

output "max_receive_count" {
  description = "Receives before a message moves to the DLQ."
  value       = module.labeling.max_receive_count
}

output "alarm_name" {
  description = "Alarm on the DLQ depth."
  value       = module.alerting.alarm_names["labeler_dlq"]
}

output "alarm_arn" {
  description = "ARN of the DLQ alarm."
  value       = module.alerting.alarm_arns["labeler_dlq"]
}

output "labeler_function" {
  description = "Labeler function name."
  value       = module.labeling.function_name
}

output "labeler_log_group" {
  description = "Labeler log group."
  value       = module.labeling.log_group_name
}

output "notifier_function" {
  description = "Slack notifier function name."
  value       = module.alerting.notifier_function_name
}

output "notifier_log_group" {
  description = "Slack notifier log group."
  value       = module.alerting.notifier_log_group_name
}

output "webhook_parameter_name" {
  description = "SSM parameter holding the webhook URL."
  value       = module.alerting.webhook_parameter_name
}

output "notifier_failures_queue_url" {
  description = "Queue of the notices that failed after the notifier's retries (its on-failure destination); `harness dlq show` lists them, `harness dlq redrive --queue notifier-failures` delivers them."
  value       = module.alerting.notifier_failures_queue_url
}

output "notifier_failures_queue_name" {
  description = "Name of the notifier-failures queue."
  value       = module.alerting.notifier_failures_queue_name
}

output "notifier_failures_alarm_name" {
  description = "Alarm on the notifier-failures queue (publishes to the events topic and to the fallback topic)."
  value       = module.alerting.alarm_names["notifier_failures"]
}

output "alerts_fallback_topic_arn" {
  description = "Topic that receives the notifier-failures alarm without going through Slack."
  value       = module.alerting.fallback_topic_arn
}

# --- system B (catalog) ---------------------------------------------------------

output "resize_function" {
  description = "Resize function name."
  value       = module.catalog.resize_function_name
}

output "catalog_loader_function" {
  description = "Catalog loader function name."
  value       = module.catalog.loader_function_name
}

output "catalog" {
  description = "Everything the harness needs to drive system B: buckets, queues, schedule, sizes, and the database secret (on AWS, put the database account into it after the first apply)."
  value = {
    upload_bucket              = module.catalog.upload_bucket_name
    served_bucket              = module.catalog.served_bucket_name
    origin_prefix              = module.catalog.prefixes.origin
    rejected_prefix            = module.catalog.prefixes.rejected
    image_sizes                = module.catalog.image_sizes
    cdn_host                   = module.catalog.cdn_host
    queue_url                  = module.catalog.queue_url
    queue_name                 = module.catalog.queue_name
    dlq_url                    = module.catalog.dlq_url
    dlq_name                   = module.catalog.dlq_name
    resize_failures_queue_url  = module.catalog.resize_failures_queue_url
    resize_failures_queue_name = module.catalog.resize_failures_queue_name
    resize_function            = module.catalog.resize_function_name
    resize_log_group           = module.catalog.resize_log_group_name
    loader_function            = module.catalog.loader_function_name
    loader_function_arn        = module.catalog.loader_function_arn
    loader_log_group           = module.catalog.loader_log_group_name
    db_secret_arn              = module.catalog.db_secret_arn
    schedule_name              = module.catalog.schedule.name
    schedule_group             = module.catalog.schedule.group
    schedule_expression        = module.catalog.schedule.expression
    schedule_timezone          = module.catalog.schedule.timezone
    schedules                  = module.catalog.schedules
    schedule_window            = module.catalog.schedule_window
    dlq_alarm_name             = module.alerting.alarm_names["catalog_dlq"]
    resize_failures_alarm_name = module.alerting.alarm_names["resize_failures"]
  }
}

# --- review -----------------------------------------------------------------------

output "systems" {
  description = "Every output of the labeling, alerting and catalog modules: effective settings for review and for the environments' tests."
  value = {
    labeling = module.labeling
    alerting = module.alerting
    catalog  = module.catalog
  }
}
