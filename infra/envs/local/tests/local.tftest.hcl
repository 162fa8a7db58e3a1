# Plan-only tests of the LocalStack wiring against a mocked provider (offline).

mock_provider "aws" {
  source = "../../tests/mocks/localstack"
}

variables {
  labeler_zip_path    = "build/lambdas/labeler.zip"
  labeler_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  notifier_zip_path   = "build/lambdas/slack_notifier.zip"
  notifier_zip_sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  resize_zip_path     = "build/lambdas/resize.zip"
  resize_zip_sha256   = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  loader_zip_path     = "build/lambdas/catalog_loader.zip"
  loader_zip_sha256   = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "outputs_the_harness_reads" {
  command = plan

  assert {
    condition = (
      output.region == "us-east-1" &&
      output.account_id == "000000000000" &&
      output.bucket == "imgpipe-images" &&
      output.ingest_prefix == "ingest/" &&
      output.results_prefix == "results/" &&
      output.failures_prefix == "failures/" &&
      output.queue_name == "imgpipe-labeler" &&
      output.dlq_name == "imgpipe-labeler-dlq" &&
      output.max_receive_count == 3 &&
      output.alarm_name == "imgpipe-labeler-dlq-not-empty" &&
      output.labeler_function == "imgpipe-labeler" &&
      output.labeler_log_group == "/aws/lambda/imgpipe-labeler" &&
      output.notifier_function == "imgpipe-slack-notifier" &&
      output.notifier_log_group == "/aws/lambda/imgpipe-slack-notifier" &&
      output.webhook_parameter_name == "/imgpipe/slack-webhook-url"
    )
    error_message = "Outputs known at plan time have their expected values."
  }
}

run "alarm_topic_policy_and_notifier_filter_agree" {
  command = plan

  assert {
    condition     = module.pipeline.systems.labeling.trusted_alarm_arns == module.pipeline.systems.alerting.subscription_filter_policy.AlarmArn
    error_message = "The alarm ARNs the topic trusts must be those the notifier filters on."
  }

  assert {
    condition = module.pipeline.systems.alerting.subscription_filter_policy == { AlarmArn = [
      "arn:aws:cloudwatch:us-east-1:000000000000:alarm:imgpipe-catalog-dlq-not-empty",
      "arn:aws:cloudwatch:us-east-1:000000000000:alarm:imgpipe-labeler-dlq-not-empty",
      "arn:aws:cloudwatch:us-east-1:000000000000:alarm:imgpipe-notifier-failures-not-empty",
      "arn:aws:cloudwatch:us-east-1:000000000000:alarm:imgpipe-resize-failures-not-empty",
    ] }
    error_message = "Alarm ARNs use LocalStack's account and region; system B's two queues are watched too."
  }

  assert {
    condition     = module.pipeline.systems.alerting.alarm_settings["labeler_dlq"].queue_name == "imgpipe-labeler-dlq"
    error_message = "The alarm watches the DLQ."
  }
}

run "the_aws_alarm_scaled_in_time" {
  command = plan

  assert {
    condition = module.pipeline.systems.alerting.alarm_settings["labeler_dlq"] == {
      queue_name          = "imgpipe-labeler-dlq"
      statistic           = "Average"
      period              = 10
      evaluation_periods  = 2
      datapoints_to_alarm = 2
      threshold           = 1
      comparison_operator = "GreaterThanOrEqualToThreshold"
      treat_missing_data  = "notBreaching"
    }
    error_message = "envs/aws's alarm (Average, 2 of 2, >= 1, missing data not breaching) with a 10 s period instead of 300 s."
  }

  assert {
    condition = alltrue([
      for k, a in module.pipeline.systems.alerting.alarm_settings :
      a.period == 10 && a.statistic == "Average" && a.evaluation_periods == 2 && a.datapoints_to_alarm == 2 && a.treat_missing_data == "notBreaching"
    ])
    error_message = "Every alarm, the notifier-failures one included, is the same alarm."
  }

  assert {
    condition = (
      module.pipeline.systems.labeling.function_timeout == 4 &&
      module.pipeline.systems.labeling.queue_settings.visibility_timeout_seconds == 24 &&
      module.pipeline.systems.labeling.function_environment["SAFETY_MARGIN_MS"] == "2000" &&
      module.pipeline.systems.labeling.queue_settings.receive_wait_time_seconds == 0 &&
      module.pipeline.systems.labeling.queue_settings.redrive_policy.maxReceiveCount == 3 &&
      module.pipeline.systems.labeling.event_source_mapping_settings.maximum_batching_window_in_seconds == 0
    )
    error_message = "A short labeler timeout (4 s), AWS's visibility rule (6 x 4 s), no long polling, 3 receives."
  }

  assert {
    condition     = module.pipeline.systems.labeling.bucket_settings.force_destroy
    error_message = "The local bucket can be destroyed with its objects."
  }
}

run "failed_notices_are_kept_as_on_aws" {
  command = plan

  assert {
    condition = (
      output.notifier_failures_queue_name == "imgpipe-notifier-failures" &&
      output.notifier_failures_alarm_name == "imgpipe-notifier-failures-not-empty" &&
      module.pipeline.systems.alerting.notifier_async_invocation == {
        maximum_retry_attempts       = 2
        maximum_event_age_in_seconds = 21600
        on_failure_destination       = "arn:aws:sqs:us-east-1:000000000000:imgpipe-notifier-failures"
      }
    )
    error_message = "The notifier keeps AWS's 2 retries and sends what still fails to its failures queue."
  }

  assert {
    condition     = module.pipeline.systems.alerting.fallback_topic_name == "imgpipe-alerts-fallback" && length(module.pipeline.systems.alerting.fallback_email_addresses) == 0
    error_message = "The fallback topic exists locally too, without e-mail subscriptions."
  }
}

run "stubs_are_wired_without_leaking_the_webhook" {
  command = plan

  assert {
    condition     = module.pipeline.systems.labeling.function_environment["AWS_ENDPOINT_URL_REKOGNITION"] == "http://127.0.0.1:4580"
    error_message = "The labeler calls the Rekognition stub."
  }

  assert {
    condition     = alltrue([for v in values(module.pipeline.systems.alerting.notifier_environment) : !strcontains(v, "4581")])
    error_message = "No plaintext webhook URL in the notifier environment."
  }

  assert {
    condition     = module.pipeline.systems.alerting.notifier_environment["WEBHOOK_PARAMETER_NAME"] == output.webhook_parameter_name
    error_message = "The notifier reads the webhook from the parameter."
  }
}

run "name_prefix_renames_everything" {
  command = plan

  variables {
    name_prefix = "e2e-1234"
  }

  assert {
    condition = (
      output.bucket == "e2e-1234-images" &&
      output.queue_name == "e2e-1234-labeler" &&
      output.alarm_name == "e2e-1234-labeler-dlq-not-empty" &&
      output.webhook_parameter_name == "/e2e-1234/slack-webhook-url"
    )
    error_message = "Parallel stacks differ by name_prefix."
  }
}

run "topic_key_as_on_aws_by_default" {
  command = plan

  assert {
    condition     = module.pipeline.systems.labeling.kms_alias_name == "alias/imgpipe-events"
    error_message = "The topic is encrypted with the module's key, as on AWS."
  }
}

run "topic_key_can_be_turned_off" {
  command = plan

  variables {
    encrypt_topic = false
  }

  assert {
    condition     = module.pipeline.systems.labeling.kms_alias_name == null
    error_message = "encrypt_topic = false creates no key."
  }
}

run "labeler_timeout_out_of_range_is_rejected" {
  command = plan
  variables {
    labeler_timeout = 120
  }
  expect_failures = [var.labeler_timeout]
}

run "labeler_timeout_below_its_safety_margin_is_rejected" {
  command = plan
  variables {
    labeler_timeout = 2
  }
  expect_failures = [var.labeler_timeout]
}

run "catalog_is_wired_for_local_use" {
  command = plan

  assert {
    condition = (
      output.catalog.upload_bucket == "imgpipe-catalog-upload" &&
      output.catalog.served_bucket == "imgpipe-catalog-served" &&
      output.catalog.origin_prefix == "origin/" &&
      output.catalog.cdn_host == "image.catalog.test" &&
      output.catalog.schedule_expression == "cron(* 7-20 * * ? *)" &&
      [for s in output.catalog.schedules : s.expression] == ["cron(* 7-20 * * ? *)", "cron(0 21 * * ? *)"] &&
      output.catalog.schedule_window == { first_hour = 7, last_hour = 21, timezone = "Asia/Seoul" } &&
      output.catalog.schedule_timezone == "Asia/Seoul" &&
      output.catalog.dlq_alarm_name == "imgpipe-catalog-dlq-not-empty" &&
      output.resize_function == "imgpipe-resize" &&
      output.catalog_loader_function == "imgpipe-catalog-loader"
    )
    error_message = "The harness finds system B through these outputs."
  }

  assert {
    condition = (
      module.pipeline.systems.alerting.alarm_settings["catalog_dlq"].queue_name == "imgpipe-catalog-dlq" &&
      module.pipeline.systems.alerting.alarm_settings["resize_failures"].queue_name == "imgpipe-resize-failures" &&
      module.pipeline.systems.alerting.alarm_settings["catalog_dlq"].period == 10
    )
    error_message = "The catalog DLQ and the resize-failures queue have fast local alarms."
  }

  assert {
    condition = (
      module.pipeline.systems.catalog.function_settings.loader_timeout == 30 &&
      module.pipeline.systems.catalog.queue_settings.visibility_timeout_seconds == 30 &&
      module.pipeline.systems.catalog.queue_settings.redrive_policy.maxReceiveCount == 3 &&
      module.pipeline.systems.catalog.function_settings.resize_reserved_concurrency == 8 &&
      module.pipeline.systems.catalog.loader_environment["RECEIVE_WAIT_SECONDS"] == "0" &&
      module.pipeline.systems.catalog.bucket_settings.force_destroy
    )
    error_message = "Short local timeouts, bounded resize processes, no long polling."
  }
}
