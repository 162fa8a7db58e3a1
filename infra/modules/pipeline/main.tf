# Both systems as every environment deploys them: system A (labeling, its alarm
# to Slack) and system B (catalog), wired together once. An environment calls
# this module with its own values and nothing else; the outputs are the ones the
# harness reads, the same for every environment.
#
# Cycle-free alerting: the alarm names are chosen here and given to both the
# labeling module (which turns them into the `aws:SourceArn` conditions of its
# topic and key policies) and the alerting module (which names the alarms and
# filters the notifier's subscription on their ARNs).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  # Every alarm that publishes to the events topic, keyed like the alerting
  # module's alarm_names (its watched_queues plus its own notifier_failures):
  # values() lists both maps in the same (key) order.
  alarm_names = {
    catalog_dlq       = "${var.name}-catalog-dlq-not-empty"
    labeler_dlq       = "${var.name}-labeler-dlq-not-empty"
    notifier_failures = "${var.name}-notifier-failures-not-empty"
    resize_failures   = "${var.name}-resize-failures-not-empty"
  }
}

module "labeling" {
  source = "../labeling"

  name                  = var.name
  alarm_names           = values(local.alarm_names)
  lambda_architecture   = var.lambda_architecture
  lambda_runtime        = var.lambda_runtime
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags

  bucket_name                        = var.labeling.bucket_name
  bucket_force_destroy               = var.labeling.bucket_force_destroy
  bucket_versioning_enabled          = var.labeling.bucket_versioning_enabled
  create_topic_kms_key               = var.labeling.create_topic_kms_key
  kms_key_deletion_window_in_days    = var.labeling.kms_key_deletion_window_in_days
  queue_message_retention_seconds    = var.labeling.queue_message_retention_seconds
  queue_receive_wait_time_seconds    = var.labeling.queue_receive_wait_time_seconds
  queue_visibility_timeout_seconds   = var.labeling.queue_visibility_timeout_seconds
  max_receive_count                  = var.labeling.max_receive_count
  lambda_zip_path                    = var.labeling.zip_path
  lambda_zip_sha256                  = var.labeling.zip_sha256
  lambda_timeout                     = var.labeling.timeout
  lambda_memory_size                 = var.labeling.memory_size
  safety_margin_ms                   = var.labeling.safety_margin_ms
  rekognition_endpoint               = var.labeling.rekognition_endpoint
  batch_size                         = var.labeling.batch_size
  maximum_batching_window_in_seconds = var.labeling.maximum_batching_window_in_seconds
  maximum_concurrency                = var.labeling.maximum_concurrency
}

module "alerting" {
  source = "../alerting"

  name                  = var.name
  alarm_topic_arn       = module.labeling.topic_arn
  slack_webhook_url     = var.slack_webhook_url
  lambda_architecture   = var.lambda_architecture
  lambda_runtime        = var.lambda_runtime
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags

  watched_queues = {
    labeler_dlq = {
      queue_name = module.labeling.dlq_name
      queue_arn  = module.labeling.dlq_arn
      alarm_name = local.alarm_names.labeler_dlq
    }
    catalog_dlq = {
      queue_name = module.catalog.dlq_name
      queue_arn  = module.catalog.dlq_arn
      alarm_name = local.alarm_names.catalog_dlq
    }
    resize_failures = {
      queue_name = module.catalog.resize_failures_queue_name
      queue_arn  = module.catalog.resize_failures_queue_arn
      alarm_name = local.alarm_names.resize_failures
    }
  }

  alarm_period              = var.alerting.alarm_period
  alarm_evaluation_periods  = var.alerting.alarm_evaluation_periods
  alarm_datapoints_to_alarm = var.alerting.alarm_datapoints_to_alarm
  alarm_threshold           = var.alerting.alarm_threshold
  alarm_statistic           = var.alerting.alarm_statistic
  alarm_treat_missing_data  = var.alerting.alarm_treat_missing_data
  lambda_zip_path           = var.alerting.zip_path
  lambda_zip_sha256         = var.alerting.zip_sha256
  lambda_timeout            = var.alerting.timeout

  # Notices that fail after the retries wait in <name>-notifier-failures; its alarm
  # publishes to the events topic (trusted above) and to the fallback topic,
  # encrypted with the events topic's key (whose policy trusts the same alarms).
  notifier_failures_alarm_name   = local.alarm_names.notifier_failures
  notifier_retry_attempts        = var.alerting.notifier_retry_attempts
  notifier_max_event_age_seconds = var.alerting.notifier_max_event_age_seconds
  fallback_topic_kms_key_id      = module.labeling.kms_alias_name
  fallback_email_addresses       = var.alerting.fallback_email_addresses
}

# System B. Its DLQ and its resize-failures queue are watched by the alerting
# module like system A's DLQ.
module "catalog" {
  source = "../catalog"

  name                  = var.name
  lambda_architecture   = var.lambda_architecture
  lambda_runtime        = var.lambda_runtime
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags

  upload_bucket_name                = var.catalog.upload_bucket_name
  served_bucket_name                = var.catalog.served_bucket_name
  bucket_force_destroy              = var.catalog.bucket_force_destroy
  bucket_versioning_enabled         = var.catalog.bucket_versioning_enabled
  cdn_host                          = var.catalog.cdn_host
  cdn_distribution_arn              = var.catalog.cdn_distribution_arn
  resize_zip_path                   = var.catalog.resize_zip_path
  resize_zip_sha256                 = var.catalog.resize_zip_sha256
  resize_timeout                    = var.catalog.resize_timeout
  resize_reserved_concurrency       = var.catalog.resize_reserved_concurrency
  resize_retry_attempts             = var.catalog.resize_retry_attempts
  loader_zip_path                   = var.catalog.loader_zip_path
  loader_zip_sha256                 = var.catalog.loader_zip_sha256
  loader_timeout                    = var.catalog.loader_timeout
  loader_receive_wait_seconds       = var.catalog.loader_receive_wait_seconds
  loader_vpc_config                 = var.catalog.loader_vpc_config
  queue_visibility_timeout_seconds  = var.catalog.queue_visibility_timeout_seconds
  max_receive_count                 = var.catalog.max_receive_count
  db_secret_recovery_window_in_days = var.catalog.db_secret_recovery_window_in_days
  schedule_first_hour               = var.catalog.schedule_first_hour
  schedule_last_hour                = var.catalog.schedule_last_hour
  schedule_timezone                 = var.catalog.schedule_timezone
}
