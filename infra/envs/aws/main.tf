# AWS root: the pipeline module with production values (the seed's semantics
# minus its defects). No endpoints, no emulated services. outputs.tf and moved.tf
# are links to the files every environment shares.

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
  # Bucket names are global: suffixed with the account and region.
  bucket_suffix   = "${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  labeler_timeout = 60
}

module "pipeline" {
  source = "../../modules/pipeline"

  name                  = var.name_prefix
  slack_webhook_url     = var.slack_webhook_url
  lambda_architecture   = var.lambda_architecture
  lambda_runtime        = var.lambda_runtime
  log_retention_in_days = 30
  tags                  = local.tags

  labeling = {
    bucket_name               = coalesce(var.bucket_name, "${var.name_prefix}-images-${local.bucket_suffix}")
    bucket_versioning_enabled = true

    # Seed: 2 days retention, 15 s long polling. Visibility: the module's AWS rule,
    # 6 x the function timeout + the batching window = 365 s (the seed's 300 s was
    # below 6 x its 180 s timeout).
    queue_message_retention_seconds = 172800
    queue_receive_wait_time_seconds = 15

    # The seed's 100 receives x 300 s kept a poison image cycling for ~8 hours
    # before the DLQ alarm could fire. 5 receives still absorb transient
    # Rekognition throttling; a bad image reaches the DLQ (and Slack) in
    # under an hour at worst.
    max_receive_count = 5

    zip_path    = var.labeler_zip_path
    zip_sha256  = var.labeler_zip_sha256
    timeout     = local.labeler_timeout
    memory_size = 512

    # Uploads arrive in bursts around midnight: fill batches, and cap the
    # concurrency so DetectLabels stays under its per-account TPS quota.
    batch_size                         = 10
    maximum_batching_window_in_seconds = 5
    maximum_concurrency                = 5
  }

  # Seed semantics: Average over 5 minutes, 2 of 2 periods, threshold 1, missing
  # data not breaching. A notice that fails after Lambda's 2 retries waits in the
  # notifier-failures queue, whose alarm also e-mails alerts_fallback_emails.
  alerting = {
    zip_path   = var.notifier_zip_path
    zip_sha256 = var.notifier_zip_sha256
    timeout    = 10

    alarm_period              = 300
    alarm_evaluation_periods  = 2
    alarm_datapoints_to_alarm = 2
    alarm_threshold           = 1
    alarm_statistic           = "Average"
    alarm_treat_missing_data  = "notBreaching"

    fallback_email_addresses = var.alerts_fallback_emails
  }

  # System B: the module's defaults are the production values (four sizes, every
  # minute from 07:00 to 21:00 inclusive, Asia/Seoul, 4 days in the work queue, 5
  # receives).
  catalog = {
    upload_bucket_name        = coalesce(var.catalog_upload_bucket_name, "${var.name_prefix}-image-upload-${local.bucket_suffix}")
    served_bucket_name        = coalesce(var.catalog_served_bucket_name, "${var.name_prefix}-image-served-${local.bucket_suffix}")
    bucket_versioning_enabled = true
    cdn_host                  = var.catalog_cdn_host
    cdn_distribution_arn      = var.catalog_cdn_distribution_arn

    resize_zip_path   = var.resize_zip_path
    resize_zip_sha256 = var.resize_zip_sha256
    loader_zip_path   = var.loader_zip_path
    loader_zip_sha256 = var.loader_zip_sha256
    loader_vpc_config = var.catalog_loader_vpc_config
  }
}
