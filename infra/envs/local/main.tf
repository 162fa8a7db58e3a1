# LocalStack root: deploy with `tflocal` (the harness does), which injects
# endpoints and test credentials. Values here are tuned for fast tests; the
# wiring and the outputs are the pipeline module's (outputs.tf and moved.tf are
# links to the files every environment shares).

provider "aws" {
  region = var.region
}

# No tags here: LocalStack drops CloudWatch alarm tags, which would show as a
# change on every plan, and tags serve nothing locally.
module "pipeline" {
  source = "../../modules/pipeline"

  name                  = var.name_prefix
  slack_webhook_url     = var.slack_webhook_url
  log_retention_in_days = 1

  labeling = {
    bucket_name                      = "${var.name_prefix}-images"
    bucket_force_destroy             = true
    create_topic_kms_key             = var.encrypt_topic
    kms_key_deletion_window_in_days  = 7
    queue_receive_wait_time_seconds  = 0
    queue_visibility_timeout_seconds = var.labeler_timeout
    max_receive_count                = 3

    zip_path             = var.labeler_zip_path
    zip_sha256           = var.labeler_zip_sha256
    timeout              = var.labeler_timeout
    rekognition_endpoint = var.rekognition_endpoint

    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
  }

  alerting = {
    zip_path   = var.notifier_zip_path
    zip_sha256 = var.notifier_zip_sha256

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
  }

  # System B: resize to four sizes, catalog into MySQL on a schedule. LocalStack's
  # Scheduler stores the schedule but never fires it: `harness clock tick` invokes
  # the loader with the schedule's own target and payload instead.
  catalog = {
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
  }
}
