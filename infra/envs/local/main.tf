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
}

module "labeling" {
  source = "../../modules/labeling"

  name                 = var.name_prefix
  bucket_name          = "${var.name_prefix}-images"
  bucket_force_destroy = true
  alarm_names          = [local.dlq_alarm_name]
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
  }

  # Fires on the first sample with a message: LocalStack evaluates every
  # period x evaluation_periods seconds.
  alarm_period              = 10
  alarm_evaluation_periods  = 1
  alarm_datapoints_to_alarm = 1
  alarm_threshold           = 1
  alarm_statistic           = "Maximum"

  slack_webhook_url     = var.slack_webhook_url
  lambda_zip_path       = var.notifier_zip_path
  lambda_zip_sha256     = var.notifier_zip_sha256
  log_retention_in_days = 1
}
