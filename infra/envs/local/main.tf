# LocalStack root: deploy with `tflocal` (the harness does), which injects
# endpoints and test credentials. Values here are envs/aws's, scaled for fast
# tests; every difference, with its reason, is in infra/envs/differences.yaml
# (tests/infra/test_env_parity.py compares the two plans against it). The wiring
# and the outputs are the pipeline module's (outputs.tf and moved.tf are links to
# the files every environment shares).

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
    bucket_name                     = "${var.name_prefix}-images"
    bucket_force_destroy            = true
    bucket_versioning_enabled       = true
    create_topic_kms_key            = var.encrypt_topic
    kms_key_deletion_window_in_days = 7
    queue_receive_wait_time_seconds = 0
    max_receive_count               = 3

    # Fast tests by a short function timeout, not by breaking AWS's rule: the queue's
    # visibility is the module's 6 x timeout + batching window (6 x 4 + 0 = 24 s), so
    # a poison message reaches the DLQ after about 3 x 24 s. 4 s: a warm batch of ten
    # takes 0.3-3 s here, up to ~7 s on a loaded machine under throttling faults
    # (measured); the labeler starts no object with less than 2 s left (AWS's 3 s
    # margin would leave 1 s of a 4 s invocation), and the rest are retried.
    zip_path             = var.labeler_zip_path
    zip_sha256           = var.labeler_zip_sha256
    timeout              = var.labeler_timeout
    safety_margin_ms     = 2000
    rekognition_endpoint = var.rekognition_endpoint

    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
  }

  # The AWS alarm scaled in time only: same metric, statistic, comparison,
  # threshold, datapoints (2 of 2) and missing-data treatment as envs/aws; the
  # period is 10 s instead of 300 s (the shortest CloudWatch accepts; LocalStack
  # evaluates every period x evaluation periods, 20 s). Differences:
  # infra/envs/differences.yaml.
  alerting = {
    zip_path   = var.notifier_zip_path
    zip_sha256 = var.notifier_zip_sha256
    timeout    = 10

    alarm_period              = 10
    alarm_evaluation_periods  = 2
    alarm_datapoints_to_alarm = 2
    alarm_threshold           = 1
    alarm_statistic           = "Average"
    alarm_treat_missing_data  = "notBreaching"
  }

  # System B: resize to four sizes, catalog into MySQL on a schedule. LocalStack's
  # Scheduler stores the schedule but never fires it: `harness clock tick` invokes
  # the loader with the schedule's own target and payload instead.
  catalog = {
    upload_bucket_name        = "${var.name_prefix}-catalog-upload"
    served_bucket_name        = "${var.name_prefix}-catalog-served"
    bucket_force_destroy      = true
    bucket_versioning_enabled = true
    cdn_host                  = var.cdn_host

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
