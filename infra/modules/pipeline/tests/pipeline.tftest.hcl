# Plan-only tests of the wiring against a mocked provider: offline, a few seconds.
# The environments' own values are tested in envs/*/tests.

mock_provider "aws" {
  source = "../../tests/mocks/eu-west-1"
}

variables {
  name              = "imgpipe"
  slack_webhook_url = "https://hooks.slack.com/services/T000/B000/secret-token" # checkov:skip=CKV_SECRET_14:a made-up webhook URL of this test, not a credential
  labeling = {
    bucket_name = "imgpipe-test-images"
    zip_path    = "build/lambdas/labeler.zip"
    zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  }
  alerting = {
    zip_path   = "build/lambdas/slack_notifier.zip"
    zip_sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  }
  catalog = {
    upload_bucket_name = "imgpipe-test-upload"
    served_bucket_name = "imgpipe-test-served"
    cdn_host           = "image.example.com"
    resize_zip_path    = "build/lambdas/resize.zip"
    resize_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    loader_zip_path    = "build/lambdas/catalog_loader.zip"
    loader_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  }
}

run "outputs_come_from_their_system" {
  command = plan

  assert {
    condition = (
      output.region == "eu-west-1" &&
      output.account_id == "123456789012" &&
      output.bucket == output.systems.labeling.bucket_name &&
      output.max_receive_count == output.systems.labeling.queue_settings.redrive_policy.maxReceiveCount &&
      output.alarm_name == output.systems.alerting.alarm_names["labeler_dlq"] &&
      output.labeler_function == output.systems.labeling.function_name &&
      output.notifier_function == output.systems.alerting.notifier_function_name &&
      output.webhook_parameter_name == output.systems.alerting.webhook_parameter_name &&
      output.resize_function == output.catalog.resize_function &&
      output.catalog_loader_function == output.catalog.loader_function
    )
    error_message = "Each output the harness reads is its system's value."
  }

  assert {
    condition = (
      output.catalog.dlq_alarm_name == "imgpipe-catalog-dlq-not-empty" &&
      output.catalog.resize_failures_alarm_name == "imgpipe-resize-failures-not-empty" &&
      output.catalog.dlq_name == output.systems.alerting.alarm_settings["catalog_dlq"].queue_name &&
      output.catalog.resize_failures_queue_name == output.systems.alerting.alarm_settings["resize_failures"].queue_name &&
      output.catalog.image_sizes == output.systems.catalog.image_sizes &&
      output.catalog.schedule_expression == output.systems.catalog.schedule.expression
    )
    error_message = "The catalog output names system B's alarms and queues as the alerting module watches them."
  }
}

run "alarms_topic_policy_and_notifier_filter_agree" {
  command = plan

  assert {
    condition = output.systems.labeling.trusted_alarm_arns == output.systems.alerting.subscription_filter_policy.AlarmArn && output.systems.alerting.subscription_filter_policy == { AlarmArn = [
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-catalog-dlq-not-empty",
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-labeler-dlq-not-empty",
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-notifier-failures-not-empty",
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-resize-failures-not-empty",
    ] }
    error_message = "The topic trusts exactly the alarms the notifier filters on: one per watched queue of both systems."
  }

  assert {
    condition = { for k, a in output.systems.alerting.alarm_settings : k => a.queue_name } == {
      labeler_dlq       = "imgpipe-labeler-dlq"
      catalog_dlq       = "imgpipe-catalog-dlq"
      notifier_failures = "imgpipe-notifier-failures"
      resize_failures   = "imgpipe-resize-failures"
    }
    error_message = "Both DLQs, the resize-failures queue and the notifier's failures queue are watched."
  }

  assert {
    condition = (
      output.notifier_failures_queue_name == "imgpipe-notifier-failures" &&
      output.notifier_failures_alarm_name == "imgpipe-notifier-failures-not-empty" &&
      length(output.systems.alerting.alarm_actions["notifier_failures"]) == 2 &&
      length(output.systems.alerting.alarm_actions["labeler_dlq"]) == 1
    )
    error_message = "The notifier-failures alarm has a second action, the fallback topic (its ARN: modules/alerting tests); the others go to Slack only."
  }
}

run "left_out_settings_take_the_modules_defaults" {
  command = plan

  assert {
    condition = (
      output.systems.labeling.queue_settings.visibility_timeout_seconds == 6 * 60 + 0 &&
      output.systems.labeling.function_environment["SAFETY_MARGIN_MS"] == "3000" &&
      output.systems.alerting.notifier_async_invocation.maximum_retry_attempts == 2 &&
      output.systems.catalog.schedule_window == { first_hour = 7, last_hour = 21, timezone = "Asia/Seoul" } &&
      output.systems.labeling.queue_settings.redrive_policy.maxReceiveCount == 5 &&
      output.systems.labeling.function_timeout == 60 &&
      output.systems.labeling.bucket_settings == { force_destroy = false, versioning_enabled = false } &&
      output.systems.labeling.kms_alias_name == "alias/imgpipe-events" &&
      output.systems.alerting.alarm_settings["labeler_dlq"].statistic == "Average" &&
      output.systems.alerting.alarm_settings["labeler_dlq"].treat_missing_data == "notBreaching" &&
      output.systems.alerting.notifier_timeout == 10 &&
      output.systems.catalog.function_settings.loader_timeout == 50 &&
      output.systems.catalog.function_settings.resize_reserved_concurrency == -1 &&
      output.systems.catalog.queue_settings.redrive_policy.maxReceiveCount == 5
    )
    error_message = "An attribute left out (null) takes the default of the module that uses it."
  }
}

run "platform_reaches_every_function" {
  command = plan

  variables {
    lambda_architecture = "arm64"
    lambda_runtime      = "python3.13"
  }

  assert {
    condition = alltrue([
      for code in [
        output.systems.labeling.function_code,
        output.systems.alerting.notifier_code,
        output.systems.catalog.function_code.resize,
        output.systems.catalog.function_code.loader,
      ] : code.runtime == "python3.13" && code.architectures == tolist(["arm64"])
    ])
    error_message = "The four functions run on the configured runtime and architecture."
  }
}

run "settings_given_reach_their_module" {
  command = plan

  variables {
    labeling = {
      bucket_name                      = "imgpipe-test-images"
      zip_path                         = "build/lambdas/labeler.zip"
      zip_sha256                       = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      timeout                          = 10
      queue_visibility_timeout_seconds = 60
      safety_margin_ms                 = 2000
      create_topic_kms_key             = false
      rekognition_endpoint             = "http://127.0.0.1:4580"
    }
    alerting = {
      zip_path                 = "build/lambdas/slack_notifier.zip"
      zip_sha256               = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      alarm_period             = 10
      alarm_treat_missing_data = "ignore"
      notifier_retry_attempts  = 1
      fallback_email_addresses = ["oncall@example.com"]
    }
    catalog = {
      upload_bucket_name  = "imgpipe-test-upload"
      served_bucket_name  = "imgpipe-test-served"
      cdn_host            = "image.example.com"
      resize_zip_path     = "build/lambdas/resize.zip"
      resize_zip_sha256   = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      loader_zip_path     = "build/lambdas/catalog_loader.zip"
      loader_zip_sha256   = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      schedule_first_hour = 8
      schedule_last_hour  = 20
    }
  }

  assert {
    condition = (
      output.systems.labeling.function_timeout == 10 &&
      output.systems.labeling.kms_alias_name == null &&
      output.systems.labeling.function_environment["AWS_ENDPOINT_URL_REKOGNITION"] == "http://127.0.0.1:4580" &&
      output.systems.alerting.alarm_settings["catalog_dlq"].period == 10 &&
      output.systems.alerting.alarm_settings["catalog_dlq"].treat_missing_data == "ignore" &&
      output.systems.labeling.queue_settings.visibility_timeout_seconds == 60 &&
      output.systems.labeling.function_environment["SAFETY_MARGIN_MS"] == "2000" &&
      output.systems.alerting.notifier_async_invocation.maximum_retry_attempts == 1 &&
      output.systems.alerting.fallback_email_addresses == tolist(["oncall@example.com"]) &&
      output.systems.alerting.fallback_topic_policy.Statement[0].Principal == { Service = "cloudwatch.amazonaws.com" }
    )
    error_message = "Each given setting reaches the module that uses it."
  }

  assert {
    condition     = [for s in output.catalog.schedules : s.expression] == ["cron(* 8-19 * * ? *)", "cron(0 20 * * ? *)"]
    error_message = "The schedule's hours reach the catalog module."
  }
}

run "schedule_hour_outside_the_day_is_rejected" {
  command = plan

  variables {
    catalog = {
      upload_bucket_name = "imgpipe-test-upload"
      served_bucket_name = "imgpipe-test-served"
      cdn_host           = "image.example.com"
      resize_zip_path    = "build/lambdas/resize.zip"
      resize_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      loader_zip_path    = "build/lambdas/catalog_loader.zip"
      loader_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      schedule_last_hour = 24
    }
  }

  expect_failures = [var.catalog]
}
