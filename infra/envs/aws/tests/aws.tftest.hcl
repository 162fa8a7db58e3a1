# Plan-only tests of the production wiring against a mocked provider (offline;
# the S3 backend is not used by `terraform test`).

mock_provider "aws" {
  source = "../../tests/mocks/ap-northeast-2"
}

variables {
  region              = "ap-northeast-2"
  labeler_zip_path    = "build/lambdas/labeler.zip"
  labeler_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  notifier_zip_path   = "build/lambdas/slack_notifier.zip"
  notifier_zip_sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  slack_webhook_url   = "https://hooks.slack.com/services/T000/B000/secret-token" # checkov:skip=CKV_SECRET_14:a made-up webhook URL of this test, not a credential
  resize_zip_path     = "build/lambdas/resize.zip"
  resize_zip_sha256   = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  loader_zip_path     = "build/lambdas/catalog_loader.zip"
  loader_zip_sha256   = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  catalog_cdn_host    = "image.mycelebs.com"
}

run "no_emulator_endpoints" {
  command = plan

  assert {
    condition = length([
      for k in concat(keys(module.pipeline.systems.labeling.function_environment), keys(module.pipeline.systems.alerting.notifier_environment)) :
      k if startswith(k, "AWS_ENDPOINT_URL")
    ]) == 0
    error_message = "No AWS_ENDPOINT_URL_* variable on AWS."
  }

  assert {
    condition     = alltrue([for v in values(module.pipeline.systems.alerting.notifier_environment) : !strcontains(v, "hooks.slack.com")])
    error_message = "No plaintext webhook URL in the notifier environment."
  }
}

run "seed_alarm_semantics" {
  command = plan

  assert {
    condition = module.pipeline.systems.alerting.alarm_settings["labeler_dlq"] == {
      queue_name          = "imgpipe-labeler-dlq"
      statistic           = "Average"
      period              = 300
      evaluation_periods  = 2
      datapoints_to_alarm = 2
      threshold           = 1
      comparison_operator = "GreaterThanOrEqualToThreshold"
      treat_missing_data  = "notBreaching"
    }
    error_message = "Average over 300 s, 2 of 2 periods, >= 1 message in the DLQ."
  }

  assert {
    condition = module.pipeline.systems.alerting.subscription_filter_policy == { AlarmArn = [
      "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:imgpipe-catalog-dlq-not-empty",
      "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:imgpipe-labeler-dlq-not-empty",
      "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:imgpipe-notifier-failures-not-empty",
      "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:imgpipe-resize-failures-not-empty",
    ] }
    error_message = "The notifier filter names the DLQ alarms of both systems and its own failures queue's."
  }

  assert {
    condition     = module.pipeline.systems.labeling.trusted_alarm_arns == module.pipeline.systems.alerting.subscription_filter_policy.AlarmArn
    error_message = "The topic trusts exactly the alarms the notifier filters on."
  }

  assert {
    condition     = module.pipeline.systems.alerting.notifier_timeout == 10
    error_message = "Notifier timeout 10 s."
  }
}

run "failed_notices_are_kept_and_reach_people_without_slack" {
  command = plan

  variables {
    alerts_fallback_emails = ["oncall@example.com"]
  }

  assert {
    condition = module.pipeline.systems.alerting.notifier_async_invocation == {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 21600
      on_failure_destination       = "arn:aws:sqs:ap-northeast-2:123456789012:imgpipe-notifier-failures"
    }
    error_message = "AWS's default retries, then the notifier-failures queue."
  }

  assert {
    condition = (
      module.pipeline.systems.alerting.alarm_settings["notifier_failures"].period == 300 &&
      module.pipeline.systems.alerting.fallback_email_addresses == tolist(["oncall@example.com"]) &&
      module.pipeline.systems.alerting.fallback_topic_name == "imgpipe-alerts-fallback"
    )
    error_message = "The failures queue is alarmed like the DLQs, and its alarm is e-mailed through the fallback topic."
  }
}

run "queue_and_function_values" {
  command = plan

  assert {
    condition = (
      module.pipeline.systems.labeling.function_timeout == 60 &&
      module.pipeline.systems.labeling.queue_settings.visibility_timeout_seconds == 6 * module.pipeline.systems.labeling.function_timeout + module.pipeline.systems.labeling.event_source_mapping_settings.maximum_batching_window_in_seconds &&
      module.pipeline.systems.labeling.queue_settings.message_retention_seconds == 172800 &&
      module.pipeline.systems.labeling.queue_settings.receive_wait_time_seconds == 15 &&
      module.pipeline.systems.labeling.queue_settings.redrive_policy.maxReceiveCount == 5
    )
    error_message = "60 s labeler, visibility 6x + batching window, 2 days retention, 15 s polling, 5 receives."
  }

  assert {
    condition     = module.pipeline.systems.labeling.event_source_mapping_settings.maximum_concurrency == 5
    error_message = "Concurrency is capped on AWS."
  }

  assert {
    condition = (
      output.bucket == "imgpipe-images-123456789012-ap-northeast-2" &&
      module.pipeline.systems.labeling.bucket_settings == { force_destroy = false, versioning_enabled = true }
    )
    error_message = "Globally unique, versioned, protected bucket."
  }
}

run "topic_is_encrypted_with_the_cmk" {
  command = plan

  assert {
    condition     = module.pipeline.systems.labeling.kms_alias_name == "alias/imgpipe-events"
    error_message = "On AWS the topic is encrypted with the module's customer-managed key."
  }
}

run "explicit_bucket_name" {
  command = plan

  variables {
    bucket_name = "my-company-imgpipe"
  }

  assert {
    condition     = output.bucket == "my-company-imgpipe"
    error_message = "bucket_name overrides the derived name."
  }
}

run "plain_http_webhook_is_rejected" {
  command = plan
  variables {
    slack_webhook_url = "http://hooks.slack.com/services/T000/B000/secret-token"
  }
  expect_failures = [var.slack_webhook_url]
}

run "packages_follow_the_configured_platform" {
  command = plan

  variables {
    lambda_architecture = "arm64"
    lambda_runtime      = "python3.13"
    labeler_zip_sha256  = "LABELERLABELERLABELERLABELERLABELERLABELER0="
    notifier_zip_sha256 = "NOTIFIERNOTIFIERNOTIFIERNOTIFIERNOTIFIER000="
  }

  assert {
    condition = (
      module.pipeline.systems.labeling.function_code.runtime == "python3.13" &&
      module.pipeline.systems.labeling.function_code.architectures == tolist(["arm64"]) &&
      module.pipeline.systems.labeling.function_code.source_code_hash == "LABELERLABELERLABELERLABELERLABELERLABELER0="
    )
    error_message = "The labeler runs on the configured runtime and architecture, with its own zip hash."
  }

  assert {
    condition = (
      module.pipeline.systems.alerting.notifier_code.runtime == "python3.13" &&
      module.pipeline.systems.alerting.notifier_code.architectures == tolist(["arm64"]) &&
      module.pipeline.systems.alerting.notifier_code.source_code_hash == "NOTIFIERNOTIFIERNOTIFIERNOTIFIERNOTIFIER000="
    )
    error_message = "The notifier runs on the configured runtime and architecture, with its own zip hash."
  }
}

run "production_defaults_x86_64_python3_12" {
  command = plan

  assert {
    condition = (
      module.pipeline.systems.labeling.function_code.runtime == "python3.12" &&
      module.pipeline.systems.labeling.function_code.architectures == tolist(["x86_64"]) &&
      module.pipeline.systems.alerting.notifier_code.architectures == tolist(["x86_64"])
    )
    error_message = "Defaults: python3.12 on x86_64, the platform the harness builds for by default."
  }
}

run "redrive_reaches_the_dlq_within_an_hour" {
  command = plan

  assert {
    condition     = module.pipeline.systems.labeling.queue_settings.redrive_policy.maxReceiveCount * module.pipeline.systems.labeling.queue_settings.visibility_timeout_seconds <= 3600
    error_message = "maxReceiveCount x visibility bounds how long a poison image cycles before the DLQ alarm can fire (the seed's was ~8 hours)."
  }

  assert {
    condition     = module.pipeline.systems.labeling.queue_settings.redrive_policy.deadLetterTargetArn == "arn:aws:sqs:ap-northeast-2:123456789012:imgpipe-labeler-dlq"
    error_message = "The labeler queue redrives to its DLQ."
  }
}

run "unsupported_architecture_is_rejected" {
  command = plan
  variables {
    lambda_architecture = "aarch64"
  }
  expect_failures = [var.lambda_architecture]
}

run "unsupported_runtime_is_rejected" {
  command = plan
  variables {
    lambda_runtime = "python3.9"
  }
  expect_failures = [var.lambda_runtime]
}

run "catalog_production_values" {
  command = plan

  assert {
    condition = (
      [for s in output.catalog.schedules : s.expression] == ["cron(* 7-20 * * ? *)", "cron(0 21 * * ? *)"] &&
      output.catalog.schedule_timezone == "Asia/Seoul" &&
      output.catalog.cdn_host == "image.mycelebs.com" &&
      output.catalog.upload_bucket == "imgpipe-image-upload-123456789012-ap-northeast-2" &&
      output.catalog.served_bucket == "imgpipe-image-served-123456789012-ap-northeast-2"
    )
    error_message = "Every minute from 07:00 to 21:00 inclusive, Korean time; globally unique bucket names."
  }

  assert {
    condition = (
      module.pipeline.systems.catalog.bucket_settings == { force_destroy = false, versioning_enabled = true } &&
      module.pipeline.systems.catalog.queue_settings.redrive_policy.maxReceiveCount == 5 &&
      module.pipeline.systems.catalog.queue_settings.message_retention_seconds == 345600 &&
      module.pipeline.systems.catalog.function_settings.loader_timeout < 60
    )
    error_message = "Protected versioned buckets, 5 receives, 4 days retention, a run ends before the next minute."
  }

  assert {
    condition = length([
      for k in concat(keys(module.pipeline.systems.catalog.resize_environment), keys(module.pipeline.systems.catalog.loader_environment)) :
      k if startswith(k, "AWS_ENDPOINT_URL")
    ]) == 0
    error_message = "No emulator endpoints in system B's functions."
  }

  assert {
    condition     = module.pipeline.systems.alerting.alarm_settings["catalog_dlq"].statistic == "Average" && module.pipeline.systems.alerting.alarm_settings["resize_failures"].period == 300
    error_message = "System B's queues are alarmed like system A's DLQ."
  }
}
