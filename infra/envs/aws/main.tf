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
}

module "labeling" {
  source = "../../modules/labeling"

  name                      = var.name_prefix
  bucket_name               = local.bucket_name
  bucket_versioning_enabled = true
  alarm_names               = [local.dlq_alarm_name]

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
  lambda_timeout        = 10
  log_retention_in_days = 30

  tags = local.tags
}
