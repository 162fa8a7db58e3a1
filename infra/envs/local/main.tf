# LocalStack root: deploy with `tflocal` (the harness does), which injects
# endpoints and test credentials. Values here are tuned for fast tests.

provider "aws" {
  region = var.region
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# No tags here: LocalStack drops CloudWatch alarm tags, which would show as a
# change on every plan, and tags serve nothing locally.
locals {
  dlq_alarm_name = "${var.name_prefix}-labeler-dlq-not-empty"
  # Every alarm that publishes to the events topic, keyed like the alerting
  # module's watched_queues: values() lists both maps in the same (key) order.
  alarm_names = {
    catalog_dlq     = "${var.name_prefix}-catalog-dlq-not-empty"
    labeler_dlq     = local.dlq_alarm_name
    resize_failures = "${var.name_prefix}-resize-failures-not-empty"
  }
}

module "labeling" {
  source = "../../modules/labeling"

  name                 = var.name_prefix
  bucket_name          = "${var.name_prefix}-images"
  bucket_force_destroy = true
  alarm_names          = values(local.alarm_names)
  create_topic_kms_key = var.encrypt_topic

  kms_key_deletion_window_in_days  = 7
  queue_receive_wait_time_seconds  = 0
  queue_visibility_timeout_seconds = var.labeler_timeout
  max_receive_count                = 3

  lambda_zip_path       = var.labeler_zip_path
  lambda_zip_sha256     = var.labeler_zip_sha256
  lambda_timeout        = var.labeler_timeout
  rekognition_endpoint  = var.rekognition_endpoint
  log_retention_in_days = 1

  batch_size                         = 10
  maximum_batching_window_in_seconds = 0
}

module "alerting" {
  source = "../../modules/alerting"

  name            = var.name_prefix
  alarm_topic_arn = module.labeling.topic_arn
  watched_queues = {
    labeler_dlq = {
      queue_name = module.labeling.dlq_name
      queue_arn  = module.labeling.dlq_arn
      alarm_name = local.dlq_alarm_name
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

  # Fires on the first sample with a message: LocalStack evaluates every
  # period x evaluation_periods seconds.
  alarm_period              = 10
  alarm_evaluation_periods  = 1
  alarm_datapoints_to_alarm = 1
  alarm_threshold           = 1
  alarm_statistic           = "Maximum"
  # LocalStack publishes SQS metrics from a timer that lags under load: a period with no
  # datapoint must keep the state, or the alarm flaps (and posts to Slack twice).
  alarm_treat_missing_data = "ignore"

  slack_webhook_url     = var.slack_webhook_url
  lambda_zip_path       = var.notifier_zip_path
  lambda_zip_sha256     = var.notifier_zip_sha256
  log_retention_in_days = 1
}

# System B: resize to four sizes, catalog into MySQL on a schedule. LocalStack's
# Scheduler stores the schedule but never fires it: `harness clock tick` invokes
# the loader with the schedule's own target and payload instead.
module "catalog" {
  source = "../../modules/catalog"

  name                 = var.name_prefix
  upload_bucket_name   = "${var.name_prefix}-catalog-upload"
  served_bucket_name   = "${var.name_prefix}-catalog-served"
  bucket_force_destroy = true
  cdn_host             = var.cdn_host

  resize_zip_path             = var.resize_zip_path
  resize_zip_sha256           = var.resize_zip_sha256
  resize_timeout              = 30
  resize_reserved_concurrency = var.resize_concurrency
  resize_retry_attempts       = 1

  loader_zip_path                  = var.loader_zip_path
  loader_zip_sha256                = var.loader_zip_sha256
  loader_timeout                   = 30
  loader_receive_wait_seconds      = 0
  queue_visibility_timeout_seconds = 30
  max_receive_count                = 3

  db_secret_recovery_window_in_days = 0
  log_retention_in_days             = 1
}
