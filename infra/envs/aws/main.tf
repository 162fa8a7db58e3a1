# AWS root: the same modules as envs/local with production values (the seed's
# semantics minus its defects). No endpoints, no stubs.

provider "aws" {
  region = var.region
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  tags = merge(var.tags, {
    Project     = "imgpipe"
    Environment = "aws"
  })
  bucket_name     = coalesce(var.bucket_name, "${var.name_prefix}-images-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}")
  dlq_alarm_name  = "${var.name_prefix}-labeler-dlq-not-empty"
  labeler_timeout = 60
  batching_window = 5

  # Every alarm that publishes to the events topic, keyed like the alerting
  # module's watched_queues: values() lists both maps in the same (key) order.
  alarm_names = {
    catalog_dlq     = "${var.name_prefix}-catalog-dlq-not-empty"
    labeler_dlq     = local.dlq_alarm_name
    resize_failures = "${var.name_prefix}-resize-failures-not-empty"
  }
  catalog_bucket_suffix = "${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}

module "labeling" {
  source = "../../modules/labeling"

  name                      = var.name_prefix
  bucket_name               = local.bucket_name
  bucket_versioning_enabled = true
  alarm_names               = values(local.alarm_names)

  # Seed: 2 days retention, 15 s long polling. Visibility follows AWS's
  # recommendation, 6x the function timeout plus the batching window (the
  # seed's 300 s was below 6 x its 180 s timeout).
  queue_message_retention_seconds  = 172800
  queue_receive_wait_time_seconds  = 15
  queue_visibility_timeout_seconds = 6 * local.labeler_timeout + local.batching_window

  # The seed's 100 receives x 300 s kept a poison image cycling for ~8 hours
  # before the DLQ alarm could fire. 5 receives still absorb transient
  # Rekognition throttling; a bad image reaches the DLQ (and Slack) in
  # under an hour at worst.
  max_receive_count = 5

  lambda_zip_path       = var.labeler_zip_path
  lambda_zip_sha256     = var.labeler_zip_sha256
  lambda_architecture   = var.lambda_architecture
  lambda_runtime        = var.lambda_runtime
  lambda_timeout        = local.labeler_timeout
  lambda_memory_size    = 512
  log_retention_in_days = 30

  # Uploads arrive in bursts around midnight: fill batches, and cap the
  # concurrency so DetectLabels stays under its per-account TPS quota.
  batch_size                         = 10
  maximum_batching_window_in_seconds = local.batching_window
  maximum_concurrency                = 5

  tags = local.tags
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

  # Seed semantics: Average over 5 minutes, 2 of 2 periods, threshold 1.
  alarm_period              = 300
  alarm_evaluation_periods  = 2
  alarm_datapoints_to_alarm = 2
  alarm_threshold           = 1
  alarm_statistic           = "Average"

  slack_webhook_url     = var.slack_webhook_url
  lambda_zip_path       = var.notifier_zip_path
  lambda_zip_sha256     = var.notifier_zip_sha256
  lambda_architecture   = var.lambda_architecture
  lambda_runtime        = var.lambda_runtime
  lambda_timeout        = 10
  log_retention_in_days = 30

  tags = local.tags
}

# System B: the module's defaults are the production values (four sizes, every
# minute 07:00-20:59 Asia/Seoul, 4 days in the work queue, 5 receives).
module "catalog" {
  source = "../../modules/catalog"

  name                      = var.name_prefix
  upload_bucket_name        = coalesce(var.catalog_upload_bucket_name, "${var.name_prefix}-image-upload-${local.catalog_bucket_suffix}")
  served_bucket_name        = coalesce(var.catalog_served_bucket_name, "${var.name_prefix}-image-served-${local.catalog_bucket_suffix}")
  bucket_versioning_enabled = true
  cdn_host                  = var.catalog_cdn_host
  cdn_distribution_arn      = var.catalog_cdn_distribution_arn

  resize_zip_path     = var.resize_zip_path
  resize_zip_sha256   = var.resize_zip_sha256
  loader_zip_path     = var.loader_zip_path
  loader_zip_sha256   = var.loader_zip_sha256
  loader_vpc_config   = var.catalog_loader_vpc_config
  lambda_architecture = var.lambda_architecture
  lambda_runtime      = var.lambda_runtime

  log_retention_in_days = 30
  tags                  = local.tags
}
