# Plan-only tests against a mocked provider: offline, a few seconds.

mock_provider "aws" {
  source = "../../tests/mocks/eu-west-1"
}

variables {
  name            = "imgpipe"
  alarm_topic_arn = "arn:aws:sns:eu-west-1:123456789012:imgpipe-events"
  watched_queues = {
    labeler_dlq = {
      queue_name = "imgpipe-labeler-dlq"
      queue_arn  = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-labeler-dlq"
      alarm_name = "imgpipe-labeler-dlq-not-empty"
    }
  }
  slack_webhook_url = "https://hooks.slack.com/services/T000/B000/secret-token" # checkov:skip=CKV_SECRET_14:a made-up webhook URL of this test, not a credential
  lambda_zip_path   = "build/lambdas/slack_notifier.zip"
  lambda_zip_sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

  fallback_topic_kms_key_id = "alias/imgpipe-events"
}

run "alarm_has_seed_semantics_by_default" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].alarm_name == "imgpipe-labeler-dlq-not-empty" &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].namespace == "AWS/SQS" &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].metric_name == "ApproximateNumberOfMessagesVisible" &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].dimensions == tomap({ QueueName = "imgpipe-labeler-dlq" })
    )
    error_message = "One alarm on the DLQ's visible messages."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].statistic == "Average" &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].period == 300 &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].evaluation_periods == 2 &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].threshold == 1 &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].comparison_operator == "GreaterThanOrEqualToThreshold" &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].treat_missing_data == "notBreaching"
    )
    error_message = "Seed alarm semantics: Average, 300 s, 2 periods, >= 1, missing data not breaching."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:imgpipe-events"]) &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].ok_actions == toset(["arn:aws:sns:eu-west-1:123456789012:imgpipe-events"])
    )
    error_message = "ALARM and OK transitions publish to the topic."
  }
}

run "notifier_subscription_permission_and_secret" {
  command = plan

  assert {
    condition = (
      aws_sns_topic_subscription.notifier.protocol == "lambda" &&
      aws_sns_topic_subscription.notifier.topic_arn == "arn:aws:sns:eu-west-1:123456789012:imgpipe-events" &&
      aws_sns_topic_subscription.notifier.filter_policy_scope == "MessageBody"
    )
    error_message = "The notifier is subscribed to the topic with a body filter."
  }

  assert {
    condition = jsondecode(aws_sns_topic_subscription.notifier.filter_policy) == {
      AlarmArn = [
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-labeler-dlq-not-empty",
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-notifier-failures-not-empty",
      ]
    }
    error_message = "The filter policy lets only the watched alarms (and the notifier-failures one) through."
  }

  assert {
    condition = (
      aws_lambda_permission.sns.principal == "sns.amazonaws.com" &&
      aws_lambda_permission.sns.action == "lambda:InvokeFunction" &&
      aws_lambda_permission.sns.source_arn == "arn:aws:sns:eu-west-1:123456789012:imgpipe-events" &&
      aws_lambda_permission.sns.function_name == "imgpipe-slack-notifier"
    )
    error_message = "SNS may invoke the notifier, from the topic only (the seed lacked this permission)."
  }

  assert {
    condition = (
      aws_ssm_parameter.webhook_url.type == "SecureString" &&
      aws_ssm_parameter.webhook_url.name == "/imgpipe/slack-webhook-url"
    )
    error_message = "The webhook URL is a SecureString parameter."
  }

  assert {
    condition = module.notifier.environment == tomap({
      WEBHOOK_PARAMETER_NAME = "/imgpipe/slack-webhook-url"
      NOTIFY_ON_OK           = "false"
      HTTP_TIMEOUT_SECONDS   = "5"
    })
    error_message = "The environment names the parameter; it does not hold the URL."
  }

  assert {
    condition = alltrue([
      for v in values(module.notifier.environment) : !strcontains(v, "hooks.slack.com")
    ])
    error_message = "No plaintext webhook URL in the function environment."
  }

  assert {
    condition = (
      module.notifier.code.runtime == "python3.12" &&
      module.notifier.settings.handler == "app.handler" &&
      module.notifier.settings.timeout == 10 &&
      module.notifier.settings.memory_size == 128
    )
    error_message = "Notifier: python3.12, 10 s (the seed's 3 s was too short), 128 MB."
  }

  assert {
    condition     = module.notifier.log_group_name == "/aws/lambda/imgpipe-slack-notifier"
    error_message = "The notifier has its own log group."
  }
}

run "notifier_role_is_least_privilege" {
  command = plan

  assert {
    condition = { for s in module.notifier.policy.Statement : s.Sid => [s.Action, s.Resource] } == {
      WriteOwnLogs          = [["logs:CreateLogStream", "logs:PutLogEvents"], "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/imgpipe-slack-notifier:*"]
      ReadWebhookUrl        = ["ssm:GetParameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/imgpipe/slack-webhook-url"]
      DescribeWatchedQueues = [["sqs:GetQueueUrl", "sqs:GetQueueAttributes"], ["arn:aws:sqs:eu-west-1:123456789012:imgpipe-labeler-dlq", "arn:aws:sqs:eu-west-1:123456789012:imgpipe-notifier-failures"]]
      ReportFailedNotices   = ["sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:imgpipe-notifier-failures"]
    }
    error_message = "Logs on its group, the one parameter, the alarmed queues, sending to its on-failure destination; no KMS statement with the aws/ssm key."
  }
}

run "failed_notices_are_kept_and_alarmed_outside_slack" {
  command = plan

  assert {
    condition = module.notifier.async_invocation == {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 21600
      on_failure_destination       = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-notifier-failures"
    }
    error_message = "AWS's defaults (2 retries, 6 hours), then the notifier-failures queue."
  }

  assert {
    condition     = module.failures_queue.name == "imgpipe-notifier-failures" && module.failures_queue.encrypted && output.notifier_failures_queue_settings.message_retention_seconds == 1209600
    error_message = "The failures queue is SSE-SQS encrypted and keeps a notice 14 days."
  }

  assert {
    condition = output.notifier_failures_queue_policy.Statement == [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-notifier-failures"
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "AllowNotifierOnFailureDestination"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::123456789012:role/imgpipe-slack-notifier" }
        Action    = "sqs:SendMessage"
        Resource  = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-notifier-failures"
      },
      {
        Sid       = "DenySendersOtherThanTheNotifier"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:SendMessage"
        Resource  = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-notifier-failures"
        Condition = { ArnNotEquals = { "aws:PrincipalArn" = "arn:aws:iam::123456789012:role/imgpipe-slack-notifier" } }
      },
    ]
    error_message = "TLS only; only the notifier's role (Lambda delivers the destination with it) may send."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.queue_depth["notifier_failures"].alarm_name == "imgpipe-notifier-failures-not-empty" &&
      aws_cloudwatch_metric_alarm.queue_depth["notifier_failures"].dimensions == tomap({ QueueName = "imgpipe-notifier-failures" }) &&
      aws_cloudwatch_metric_alarm.queue_depth["notifier_failures"].statistic == aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].statistic &&
      aws_cloudwatch_metric_alarm.queue_depth["notifier_failures"].period == aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].period &&
      aws_cloudwatch_metric_alarm.queue_depth["notifier_failures"].threshold == 1
    )
    error_message = "The failures queue is alarmed like the watched queues."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.queue_depth["notifier_failures"].alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:imgpipe-events", "arn:aws:sns:eu-west-1:123456789012:imgpipe-alerts-fallback"]) &&
      aws_cloudwatch_metric_alarm.queue_depth["notifier_failures"].ok_actions == aws_cloudwatch_metric_alarm.queue_depth["notifier_failures"].alarm_actions &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:imgpipe-events"])
    )
    error_message = "Only the failures alarm has a second action (the fallback topic): Slack alone could hide it."
  }

  assert {
    condition = (
      aws_sns_topic.fallback.name == "imgpipe-alerts-fallback" &&
      aws_sns_topic.fallback.kms_master_key_id == "alias/imgpipe-events" &&
      output.fallback_topic_policy.Statement == [{
        Sid       = "AllowNotifierFailuresAlarm"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = "arn:aws:sns:eu-west-1:123456789012:imgpipe-alerts-fallback"
        Condition = {
          ArnLike      = { "aws:SourceArn" = ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-notifier-failures-not-empty"] }
          StringEquals = { "aws:SourceAccount" = "123456789012" }
        }
      }]
    )
    error_message = "The fallback topic is encrypted with the given key; only the failures alarm publishes to it."
  }

  assert {
    condition     = length(aws_sns_topic_subscription.fallback_email) == 0
    error_message = "No e-mail subscription unless addresses are given."
  }
}

run "fallback_emails_subscribe" {
  command = plan

  variables {
    fallback_email_addresses     = ["oncall@example.com", "team@example.com"]
    notifier_failures_alarm_name = "custom-notices-failed"
    notifier_retry_attempts      = 1
  }

  assert {
    condition = (
      length(aws_sns_topic_subscription.fallback_email) == 2 &&
      aws_sns_topic_subscription.fallback_email["oncall@example.com"].protocol == "email"
    )
    error_message = "Each address gets an e-mail subscription to the fallback topic."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.queue_depth["notifier_failures"].alarm_name == "custom-notices-failed" && module.notifier.async_invocation.maximum_retry_attempts == 1
    error_message = "The alarm name and the retries follow the variables."
  }
}

run "customer_managed_ssm_key_adds_scoped_decrypt" {
  command = plan

  variables {
    ssm_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = [for s in module.notifier.policy.Statement : s if s.Sid == "DecryptWebhookUrl"][0] == {
      Sid       = "DecryptWebhookUrl"
      Effect    = "Allow"
      Action    = "kms:Decrypt"
      Resource  = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
      Condition = { StringEquals = { "kms:ViaService" = "ssm.eu-west-1.amazonaws.com" } }
    }
    error_message = "A customer-managed key adds kms:Decrypt through SSM only."
  }
}

run "fast_local_alarm" {
  command = plan

  variables {
    alarm_period              = 10
    alarm_evaluation_periods  = 1
    alarm_datapoints_to_alarm = 1
    alarm_statistic           = "Maximum"
    notify_on_ok              = true
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].period == 10 &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].evaluation_periods == 1 &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].datapoints_to_alarm == 1 &&
      aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"].statistic == "Maximum"
    )
    error_message = "Alarm settings follow the variables."
  }

  assert {
    condition     = module.notifier.environment["NOTIFY_ON_OK"] == "true"
    error_message = "notify_on_ok reaches the environment."
  }
}

run "two_queues_two_alarms_one_filter" {
  command = plan

  variables {
    watched_queues = {
      a_dlq = {
        queue_name = "a-dlq"
        queue_arn  = "arn:aws:sqs:eu-west-1:123456789012:a-dlq"
        alarm_name = "a-dlq-not-empty"
      }
      b_dlq = {
        queue_name        = "b-dlq"
        queue_arn         = "arn:aws:sqs:eu-west-1:123456789012:b-dlq"
        alarm_name        = "b-dlq-not-empty"
        alarm_description = "B is failing"
      }
    }
  }

  assert {
    condition = jsondecode(aws_sns_topic_subscription.notifier.filter_policy).AlarmArn == [
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a-dlq-not-empty",
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:b-dlq-not-empty",
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-notifier-failures-not-empty",
    ]
    error_message = "One subscription filter covers every alarm."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.queue_depth["b_dlq"].alarm_description == "B is failing"
    error_message = "alarm_description is used when given."
  }
}

# --- rejected inputs ----------------------------------------------------------

run "period_of_45_is_rejected" {
  command = plan
  variables {
    alarm_period = 45
  }
  expect_failures = [var.alarm_period]
}

run "period_of_90_is_rejected" {
  command = plan
  variables {
    alarm_period = 90
  }
  expect_failures = [var.alarm_period]
}

run "datapoints_above_evaluation_periods_is_rejected" {
  command = plan
  variables {
    alarm_evaluation_periods  = 1
    alarm_datapoints_to_alarm = 2
  }
  expect_failures = [aws_cloudwatch_metric_alarm.queue_depth]
}

run "bad_statistic_is_rejected" {
  command = plan
  variables {
    alarm_statistic = "p99"
  }
  expect_failures = [var.alarm_statistic]
}

run "webhook_that_is_not_a_url_is_rejected" {
  command = plan
  variables {
    slack_webhook_url = "hooks.slack.com/services/T000/B000/secret"
  }
  expect_failures = [var.slack_webhook_url]
}

run "no_watched_queue_is_rejected" {
  command = plan
  variables {
    watched_queues = {}
  }
  expect_failures = [var.watched_queues]
}

run "http_timeout_not_below_lambda_timeout_is_rejected" {
  command = plan
  variables {
    http_timeout_seconds = 10
  }
  expect_failures = [aws_sns_topic_subscription.notifier]
}

run "bad_treat_missing_data_is_rejected" {
  command = plan
  variables {
    alarm_treat_missing_data = "zero"
  }
  expect_failures = [var.alarm_treat_missing_data]
}

run "queue_in_another_account_is_rejected" {
  command = plan
  variables {
    watched_queues = {
      labeler_dlq = {
        queue_name = "imgpipe-labeler-dlq"
        queue_arn  = "arn:aws:sqs:eu-west-1:999999999999:imgpipe-labeler-dlq"
        alarm_name = "imgpipe-labeler-dlq-not-empty"
      }
    }
  }
  expect_failures = [aws_cloudwatch_metric_alarm.queue_depth]
}

run "watched_queue_named_like_the_failures_queue_is_rejected" {
  command = plan
  variables {
    watched_queues = {
      notifier_failures = {
        queue_name = "imgpipe-labeler-dlq"
        queue_arn  = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-labeler-dlq"
        alarm_name = "imgpipe-labeler-dlq-not-empty"
      }
    }
  }
  expect_failures = [var.watched_queues]
}

run "bad_fallback_email_is_rejected" {
  command = plan
  variables {
    fallback_email_addresses = ["not an address"]
  }
  expect_failures = [var.fallback_email_addresses]
}
