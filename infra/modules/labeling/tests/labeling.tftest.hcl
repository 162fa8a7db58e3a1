# Plan-only tests against a mocked provider: offline, a few seconds.

mock_provider "aws" {
  source = "../../tests/mocks/eu-west-1"
}

variables {
  name              = "imgpipe"
  bucket_name       = "imgpipe-test-images"
  alarm_names       = ["imgpipe-labeler-dlq-not-empty"]
  lambda_zip_path   = "build/lambdas/labeler.zip"
  lambda_zip_sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "bucket_is_private_encrypted_and_tls_only" {
  command = plan

  assert {
    condition     = module.bucket.settings.sse_algorithms == ["AES256"]
    error_message = "The bucket must default to SSE-S3 (AES256)."
  }

  assert {
    condition = module.bucket.settings.public_access_block == {
      block_public_acls       = true
      block_public_policy     = true
      ignore_public_acls      = true
      restrict_public_buckets = true
    }
    error_message = "All public access must be blocked."
  }

  assert {
    condition = [for st in module.bucket.policy.Statement : [st.Sid, st.Resource]] == [
      ["DenyInsecureTransport", ["arn:aws:s3:::imgpipe-test-images", "arn:aws:s3:::imgpipe-test-images/*"]],
    ]
    error_message = "The bucket policy must deny requests without TLS, on this bucket, and grant nothing."
  }

  assert {
    condition     = output.bucket_settings == { force_destroy = false, versioning_enabled = false }
    error_message = "Versioning and force_destroy are off by default."
  }
}

run "notification_has_prefix_and_no_suffix" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket_notification.this.topic) == 1
    error_message = "Exactly one notification (to the topic)."
  }

  assert {
    condition     = aws_s3_bucket_notification.this.topic[0].events == toset(["s3:ObjectCreated:*"])
    error_message = "All object-created events must be notified."
  }

  assert {
    condition     = aws_s3_bucket_notification.this.topic[0].filter_prefix == "ingest/"
    error_message = "The notification must filter on ingest/."
  }

  assert {
    condition     = aws_s3_bucket_notification.this.topic[0].filter_suffix == null
    error_message = "No suffix filter: .jpeg, .png and .JPG must trigger too."
  }
}

run "topic_is_encrypted_with_a_cmk_and_scoped" {
  command = plan

  assert {
    condition     = aws_sns_topic.this.name == "imgpipe-events" && aws_sns_topic.this.kms_master_key_id == "alias/imgpipe-events"
    error_message = "The topic must be encrypted with the module's own key."
  }

  assert {
    condition     = aws_kms_key.this[0].enable_key_rotation
    error_message = "Key rotation must be on."
  }

  assert {
    condition = [for s in jsondecode(aws_sns_topic.this.policy).Statement : s if s.Sid == "AllowS3EventNotifications"][0] == {
      Sid       = "AllowS3EventNotifications"
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = "arn:aws:sns:eu-west-1:123456789012:imgpipe-events"
      Condition = {
        ArnEquals    = { "aws:SourceArn" = "arn:aws:s3:::imgpipe-test-images" }
        StringEquals = { "aws:SourceAccount" = "123456789012" }
      }
    }
    error_message = "S3 may publish only for this bucket and account."
  }

  assert {
    condition = [for s in jsondecode(aws_sns_topic.this.policy).Statement : s if s.Sid == "AllowCloudWatchAlarms"][0].Condition == {
      ArnLike      = { "aws:SourceArn" = ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-labeler-dlq-not-empty"] }
      StringEquals = { "aws:SourceAccount" = "123456789012" }
    }
    error_message = "CloudWatch may publish only for the given alarms of this account."
  }

  assert {
    condition     = length(jsondecode(aws_sns_topic.this.policy).Statement) == 2
    error_message = "The topic policy grants nothing else."
  }

  assert {
    condition = [for s in jsondecode(aws_kms_key.this[0].policy).Statement : s.Sid] == [
      "AccountAdministration", "AllowS3EventNotifications", "AllowCloudWatchAlarms",
    ]
    error_message = "The key policy must hold the account, S3 and CloudWatch statements."
  }

  assert {
    condition = [for s in jsondecode(aws_kms_key.this[0].policy).Statement : s if s.Sid == "AllowS3EventNotifications"][0] == {
      Sid       = "AllowS3EventNotifications"
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
      Resource  = "*"
      Condition = {
        StringEquals = { "aws:SourceAccount" = "123456789012" }
        ArnEquals    = { "aws:SourceArn" = "arn:aws:s3:::imgpipe-test-images" }
      }
    }
    error_message = "S3 may use the key only for this bucket."
  }

  assert {
    condition = [for s in jsondecode(aws_kms_key.this[0].policy).Statement : s if s.Sid == "AllowCloudWatchAlarms"][0].Condition == {
      StringEquals = { "aws:SourceAccount" = "123456789012" }
      ArnLike      = { "aws:SourceArn" = ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imgpipe-labeler-dlq-not-empty"] }
    }
    error_message = "CloudWatch may use the key only for the given alarms."
  }
}

run "queues_subscription_and_redrive" {
  command = plan

  assert {
    condition     = module.queue.encrypted
    error_message = "Both queues must use SSE-SQS."
  }

  assert {
    condition = module.queue.settings.redrive_policy == {
      deadLetterTargetArn = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-labeler-dlq"
      maxReceiveCount     = 5
    }
    error_message = "Redrive to the DLQ after 5 receives by default."
  }

  assert {
    condition = (
      module.queue.settings.message_retention_seconds == 172800 &&
      module.queue.settings.receive_wait_time_seconds == 15 &&
      module.queue.settings.visibility_timeout_seconds == 360 &&
      module.queue.dlq_settings.message_retention_seconds == 1209600
    )
    error_message = "Queue defaults: 2 days retention, 15 s long polling, visibility 6 x the 60 s timeout + no batching window; DLQ keeps 14 days."
  }

  assert {
    condition = module.queue.policy.Statement == [{
      Sid       = "AllowTopicDelivery"
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-labeler"
      Condition = { ArnEquals = { "aws:SourceArn" = "arn:aws:sns:eu-west-1:123456789012:imgpipe-events" } }
    }]
    error_message = "Only the topic may send to the main queue."
  }

  assert {
    condition = module.queue.dlq_settings.redrive_allow_policy == {
      redrivePermission = "byQueue"
      sourceQueueArns   = ["arn:aws:sqs:eu-west-1:123456789012:imgpipe-labeler"]
    }
    error_message = "Only the main queue may use the DLQ."
  }

  assert {
    condition = alltrue([
      for s in module.queue.dlq_policy.Statement :
      contains(keys(s), "Principal") && s.Resource == "arn:aws:sqs:eu-west-1:123456789012:imgpipe-labeler-dlq"
    ])
    error_message = "Every DLQ policy statement needs a Principal and the DLQ as resource (the seed's had none)."
  }

  assert {
    condition     = [for s in module.queue.dlq_policy.Statement : s.Condition if s.Effect == "Deny"] == [{ Bool = { "aws:SecureTransport" = "false" } }]
    error_message = "The DLQ must deny requests without TLS."
  }

  assert {
    condition = jsondecode(aws_sns_topic_subscription.queue.filter_policy) == jsondecode(
      "{\"Records\":{\"s3\":{\"object\":{\"key\":[{\"prefix\":\"ingest/\"}]}},\"eventName\":[{\"prefix\":\"ObjectCreated:\"}]}}"
    )
    error_message = "The queue's filter policy must be the seed's."
  }

  assert {
    condition = (
      aws_sns_topic_subscription.queue.protocol == "sqs" &&
      aws_sns_topic_subscription.queue.filter_policy_scope == "MessageBody" &&
      aws_sns_topic_subscription.queue.raw_message_delivery == false
    )
    error_message = "SQS subscription, filter on the message body, SNS envelope kept."
  }
}

run "labeler_function_and_least_privilege" {
  command = plan

  assert {
    condition = (
      module.function.code.runtime == "python3.12" &&
      module.function.settings.handler == "app.handler" &&
      module.function.settings.memory_size == 512 &&
      module.function.settings.timeout == 60 &&
      module.function.code.architectures == tolist(["x86_64"]) &&
      module.function.code.source_code_hash == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    )
    error_message = "Labeler function settings."
  }

  assert {
    condition = module.function.environment == tomap({
      INGEST_PREFIX    = "ingest/"
      RESULTS_PREFIX   = "results/"
      FAILURES_PREFIX  = "failures/"
      FAILURES_BUCKET  = "imgpipe-test-images"
      MIN_CONFIDENCE   = "70"
      MAX_LABELS       = "25"
      SAFETY_MARGIN_MS = "3000"
    })
    error_message = "Environment without a Rekognition endpoint by default."
  }

  assert {
    condition     = module.function.log_group_name == "/aws/lambda/imgpipe-labeler" && module.function.settings.log_retention_in_days == 30
    error_message = "The labeler's log group with retention."
  }

  assert {
    condition = { for s in module.function.policy.Statement : s.Sid => [s.Action, s.Resource] } == {
      WriteOwnLogs         = [["logs:CreateLogStream", "logs:PutLogEvents"], "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/imgpipe-labeler:*"]
      ConsumeQueue         = [["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], "arn:aws:sqs:eu-west-1:123456789012:imgpipe-labeler"]
      ReadIngest           = [["s3:GetObject", "s3:GetObjectVersion"], "arn:aws:s3:::imgpipe-test-images/ingest/*"]
      ReadWriteResults     = [["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::imgpipe-test-images/results/*"]
      ManageFailureRecords = [["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::imgpipe-test-images/failures/*"]
      ListBucketFor404     = ["s3:ListBucket", "arn:aws:s3:::imgpipe-test-images"]
      DetectLabels         = ["rekognition:DetectLabels", "*"]
    }
    error_message = "The labeler role grants exactly these actions on these resources."
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.this.batch_size == 10 &&
      aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds == 0 &&
      aws_lambda_event_source_mapping.this.function_response_types == toset(["ReportBatchItemFailures"]) &&
      length(aws_lambda_event_source_mapping.this.scaling_config) == 0
    )
    error_message = "Event source mapping: batches of 10, partial batch failures, no concurrency cap by default."
  }
}

run "local_settings" {
  command = plan

  variables {
    rekognition_endpoint      = "http://127.0.0.1:4580"
    maximum_concurrency       = 2
    lambda_timeout            = 3
    safety_margin_ms          = 1500
    max_receive_count         = 3
    bucket_force_destroy      = true
    bucket_versioning_enabled = true
  }

  assert {
    condition     = module.queue.settings.visibility_timeout_seconds == 18 && module.function.environment["SAFETY_MARGIN_MS"] == "1500"
    error_message = "A short timeout gives a short visibility by the same rule (6 x 3 s); the margin fits in the timeout."
  }

  assert {
    condition     = module.function.environment["AWS_ENDPOINT_URL_REKOGNITION"] == "http://127.0.0.1:4580"
    error_message = "The Rekognition endpoint is set when given."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this.scaling_config[0].maximum_concurrency == 2
    error_message = "maximum_concurrency sets the scaling config."
  }

  assert {
    condition     = module.queue.settings.redrive_policy.maxReceiveCount == 3
    error_message = "max_receive_count reaches the redrive policy."
  }

  assert {
    condition     = output.bucket_settings == { force_destroy = true, versioning_enabled = true }
    error_message = "Versioning and force_destroy follow the variables."
  }
}

run "no_alarms_no_cloudwatch_grants" {
  command = plan

  variables {
    alarm_names = []
  }

  assert {
    condition     = [for s in jsondecode(aws_sns_topic.this.policy).Statement : s.Sid] == ["AllowS3EventNotifications"]
    error_message = "Without alarms CloudWatch gets no publish grant."
  }

  assert {
    condition     = [for s in jsondecode(aws_kms_key.this[0].policy).Statement : s.Sid] == ["AccountAdministration", "AllowS3EventNotifications"]
    error_message = "Without alarms CloudWatch gets no key grant."
  }
}

run "topic_without_cmk_for_emulators" {
  command = plan

  variables {
    create_topic_kms_key = false
  }

  assert {
    condition     = length(aws_kms_key.this) == 0 && length(aws_kms_alias.this) == 0 && aws_sns_topic.this.kms_master_key_id == null
    error_message = "No key and an unencrypted topic when create_topic_kms_key is false."
  }
}

# --- rejected inputs ----------------------------------------------------------
# (Bucket names, queue settings and the function's code, runtime, architecture and
# log retention are checked, and their rejections tested, by modules/private_bucket,
# modules/queue and modules/lambda_function.)

run "visibility_follows_the_batching_window" {
  command = plan
  variables {
    lambda_timeout                     = 60
    maximum_batching_window_in_seconds = 5
  }
  assert {
    condition     = module.queue.settings.visibility_timeout_seconds == 365
    error_message = "6 x 60 s + the 5 s batching window."
  }
}

run "visibility_above_the_rule_is_accepted" {
  command = plan
  variables {
    lambda_timeout                   = 10
    queue_visibility_timeout_seconds = 900
  }
  assert {
    condition     = module.queue.settings.visibility_timeout_seconds == 900
    error_message = "A longer visibility than the rule asks is kept."
  }
}

run "visibility_below_timeout_is_rejected" {
  command = plan
  variables {
    lambda_timeout                   = 60
    queue_visibility_timeout_seconds = 30
  }
  expect_failures = [aws_lambda_event_source_mapping.this]
}

run "visibility_equal_to_timeout_is_rejected" {
  command = plan
  variables {
    lambda_timeout                   = 10
    queue_visibility_timeout_seconds = 10
  }
  expect_failures = [aws_lambda_event_source_mapping.this]
}

run "visibility_without_the_batching_window_is_rejected" {
  command = plan
  variables {
    lambda_timeout                     = 60
    maximum_batching_window_in_seconds = 5
    queue_visibility_timeout_seconds   = 360
  }
  expect_failures = [aws_lambda_event_source_mapping.this]
}

run "safety_margin_not_below_timeout_is_rejected" {
  command = plan
  variables {
    lambda_timeout   = 3
    safety_margin_ms = 3000
  }
  expect_failures = [aws_lambda_event_source_mapping.this]
}

run "large_batch_without_window_is_rejected" {
  command = plan
  variables {
    batch_size = 20
  }
  expect_failures = [aws_lambda_event_source_mapping.this]
}

run "non_http_endpoint_is_rejected" {
  command = plan
  variables {
    rekognition_endpoint = "127.0.0.1:4580"
  }
  expect_failures = [var.rekognition_endpoint]
}

