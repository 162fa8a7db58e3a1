# Plan-only tests against a mocked provider: offline, a few seconds.

mock_provider "aws" {
  source = "../../tests/mocks/ap-northeast-2"
}

variables {
  name               = "imgpipe"
  upload_bucket_name = "imgpipe-test-upload"
  served_bucket_name = "imgpipe-test-served"
  cdn_host           = "image.example.com"
  resize_zip_path    = "build/lambdas/resize.zip"
  resize_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  loader_zip_path    = "build/lambdas/catalog_loader.zip"
  loader_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "upload_notification_covers_origin_without_suffix" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket_notification.upload.lambda_function) == 1 && length(aws_s3_bucket_notification.upload.topic) == 0 && length(aws_s3_bucket_notification.upload.queue) == 0
    error_message = "Exactly one notification, to the resize function."
  }

  assert {
    condition = (
      aws_s3_bucket_notification.upload.lambda_function[0].filter_prefix == "origin/" &&
      aws_s3_bucket_notification.upload.lambda_function[0].filter_suffix == null &&
      aws_s3_bucket_notification.upload.lambda_function[0].events == toset(["s3:ObjectCreated:*"])
    )
    error_message = "Every object created under origin/ triggers the resize (no suffix filter: bad files must be rejected visibly)."
  }

  assert {
    condition = (
      aws_lambda_permission.upload_bucket.principal == "s3.amazonaws.com" &&
      aws_lambda_permission.upload_bucket.source_arn == "arn:aws:s3:::imgpipe-test-upload" &&
      aws_lambda_permission.upload_bucket.source_account == "123456789012" &&
      aws_lambda_permission.upload_bucket.function_name == "imgpipe-resize"
    )
    error_message = "S3 may invoke the resize function only for the upload bucket of this account."
  }
}

run "buckets_are_private_encrypted_and_tls_only" {
  command = plan

  assert {
    condition = alltrue([
      for b in [module.upload_bucket.settings.public_access_block, module.served_bucket.settings.public_access_block] :
      b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets
    ])
    error_message = "All public access is blocked on both buckets."
  }

  assert {
    condition = alltrue([
      for b in [module.upload_bucket.settings, module.served_bucket.settings] : b.sse_algorithms == ["AES256"]
    ])
    error_message = "Both buckets default to SSE-S3."
  }

  assert {
    condition     = [for s in module.served_bucket.policy.Statement : s.Sid] == ["DenyInsecureTransport"]
    error_message = "Without a CDN distribution the served bucket policy only denies plain HTTP."
  }

  assert {
    condition     = module.upload_bucket.policy.Statement[0].Resource == ["arn:aws:s3:::imgpipe-test-upload", "arn:aws:s3:::imgpipe-test-upload/*"]
    error_message = "The upload bucket denies plain HTTP on the bucket and its objects."
  }

  assert {
    condition = alltrue([
      for b in [module.upload_bucket.settings, module.served_bucket.settings] : b.abort_incomplete_multipart_upload_days == 7
    ])
    error_message = "Interrupted multipart uploads are aborted after a week in both buckets."
  }
}

run "cdn_distribution_may_read_the_served_bucket" {
  command = plan

  variables {
    cdn_distribution_arn = "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456"
  }

  assert {
    condition = [for s in module.served_bucket.policy.Statement : s if s.Sid == "AllowCdnRead"][0] == {
      Sid       = "AllowCdnRead"
      Effect    = "Allow"
      Principal = { Service = "cloudfront.amazonaws.com" }
      Action    = "s3:GetObject"
      Resource  = "arn:aws:s3:::imgpipe-test-served/*"
      Condition = { StringEquals = { "AWS:SourceArn" = "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456" } }
    }
    error_message = "Only that distribution may read the renditions."
  }
}

run "schedule_every_minute_0700_to_2100_inclusive_seoul" {
  command = plan

  assert {
    condition = (
      aws_scheduler_schedule.loader["every_minute"].schedule_expression == "cron(* 7-20 * * ? *)" &&
      aws_scheduler_schedule.loader["every_minute"].schedule_expression_timezone == "Asia/Seoul" &&
      aws_scheduler_schedule.loader["every_minute"].state == "ENABLED" &&
      aws_scheduler_schedule.loader["every_minute"].name == "imgpipe-catalog-loader"
    )
    error_message = "Every minute from 07:00 to 20:59, Korean time (the name of the one schedule before)."
  }

  assert {
    condition = (
      aws_scheduler_schedule.loader["last_run"].schedule_expression == "cron(0 21 * * ? *)" &&
      aws_scheduler_schedule.loader["last_run"].schedule_expression_timezone == "Asia/Seoul" &&
      aws_scheduler_schedule.loader["last_run"].state == "ENABLED" &&
      aws_scheduler_schedule.loader["last_run"].name == "imgpipe-catalog-loader-last-run"
    )
    error_message = "And at 21:00 exactly: the seed's \"from 07:00 to 21:00\" includes 21:00."
  }

  assert {
    condition = (
      aws_scheduler_schedule.loader["last_run"].target[0].input == aws_scheduler_schedule.loader["every_minute"].target[0].input &&
      aws_scheduler_schedule.loader["last_run"].target[0].retry_policy[0].maximum_retry_attempts == 0
    )
    error_message = "Both schedules start the loader with the same input (the target is the same module.loader.arn in main.tf), without retries."
  }

  assert {
    condition     = output.schedule_window == { first_hour = 7, last_hour = 21, timezone = "Asia/Seoul" } && [for s in output.schedules : s.expression] == ["cron(* 7-20 * * ? *)", "cron(0 21 * * ? *)"]
    error_message = "The outputs name the window and both schedules, every-minute first."
  }

  assert {
    condition     = aws_scheduler_schedule.loader["every_minute"].flexible_time_window[0].mode == "OFF"
    error_message = "Runs on the minute, no flexible window."
  }

  assert {
    condition = (
      aws_scheduler_schedule.loader["every_minute"].target[0].retry_policy[0].maximum_retry_attempts == 0 &&
      aws_scheduler_schedule.loader["every_minute"].target[0].retry_policy[0].maximum_event_age_in_seconds == 60
    )
    error_message = "No retries: the next minute's run is the retry."
  }

  assert {
    condition = jsondecode(aws_scheduler_schedule.loader["every_minute"].target[0].input) == {
      source         = "aws.scheduler"
      schedule_arn   = "<aws.scheduler.schedule-arn>"
      scheduled_time = "<aws.scheduler.scheduled-time>"
      execution_id   = "<aws.scheduler.execution-id>"
      attempt_number = "<aws.scheduler.attempt-number>"
    }
    error_message = "The payload identifies the run with Scheduler's context attributes."
  }

  assert {
    condition     = strcontains(aws_scheduler_schedule.loader["every_minute"].target[0].input, "\"<aws.scheduler.scheduled-time>\"")
    error_message = "The placeholders are literal, not JSON-escaped (Scheduler would not substitute \\u003c...\\u003e)."
  }

  assert {
    condition = jsondecode(aws_iam_role.scheduler.assume_role_policy).Statement == [{
      Sid       = "AssumedBySchedulerOfThisAccount"
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = "123456789012" } }
    }]
    error_message = "Only Scheduler of this account assumes the scheduler role."
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.scheduler.policy).Statement == [{
      Sid      = "InvokeLoader"
      Effect   = "Allow"
      Action   = "lambda:InvokeFunction"
      Resource = ["arn:aws:lambda:ap-northeast-2:123456789012:function:imgpipe-catalog-loader", "arn:aws:lambda:ap-northeast-2:123456789012:function:imgpipe-catalog-loader:*"]
    }]
    error_message = "The scheduler role may invoke the loader and nothing else."
  }
}

run "schedule_can_be_paused" {
  command = plan

  variables {
    schedule_enabled = false
  }

  assert {
    condition     = alltrue([for s in aws_scheduler_schedule.loader : s.state == "DISABLED"])
    error_message = "schedule_enabled = false disables both schedules."
  }
}

run "work_queue_redrives_to_the_dlq" {
  command = plan

  assert {
    condition = module.work_queue.settings.redrive_policy == {
      deadLetterTargetArn = "arn:aws:sqs:ap-northeast-2:123456789012:imgpipe-catalog-dlq"
      maxReceiveCount     = 5
    }
    error_message = "Malformed messages reach the DLQ after 5 receives."
  }

  assert {
    condition = module.work_queue.dlq_settings.redrive_allow_policy == {
      redrivePermission = "byQueue"
      sourceQueueArns   = ["arn:aws:sqs:ap-northeast-2:123456789012:imgpipe-catalog"]
    }
    error_message = "Only the work queue may use the DLQ."
  }

  assert {
    condition = (
      module.work_queue.settings.message_retention_seconds == 345600 &&
      module.work_queue.settings.visibility_timeout_seconds == 120 &&
      module.work_queue.dlq_settings.message_retention_seconds == 1209600 &&
      module.resize_failures_queue.settings.message_retention_seconds == 1209600
    )
    error_message = "4 days in the work queue (the night's uploads wait for 07:00), 14 days in the DLQs."
  }

  assert {
    condition = module.work_queue.encrypted && module.resize_failures_queue.encrypted && alltrue([
      for p in [module.work_queue.policy, module.work_queue.dlq_policy, module.resize_failures_queue.policy] :
      p.Statement[0].Condition == { Bool = { "aws:SecureTransport" = "false" } }
    ])
    error_message = "All three queues are encrypted and deny plain HTTP."
  }
}

run "failed_resizes_go_to_their_queue" {
  command = plan

  assert {
    condition = (
      module.resize.async_invocation.maximum_retry_attempts == 2 &&
      module.resize.async_invocation.maximum_event_age_in_seconds == 21600 &&
      module.resize.function_name == "imgpipe-resize"
    )
    error_message = "Two retries of a failed resize, events kept up to 6 hours."
  }

  assert {
    condition     = module.loader.async_invocation.maximum_retry_attempts == 0
    error_message = "A failed loader run is not retried by Lambda; the schedule is the retry."
  }
}

run "resize_function_and_least_privilege" {
  command = plan

  assert {
    condition = (
      module.resize.code.runtime == "python3.12" &&
      module.resize.settings.handler == "app.handler" &&
      module.resize.settings.memory_size == 1024 &&
      module.resize.settings.timeout == 60 &&
      module.resize.settings.reserved_concurrent_executions == -1
    )
    error_message = "Resize: python3.12, 1 GB (CPU), 60 s, unreserved concurrency by default."
  }

  assert {
    condition = (
      module.resize.environment["IMAGE_SIZES"] == "large=1280,medium=800,small=400,thumb=160" &&
      module.resize.environment["SERVED_BUCKET"] == "imgpipe-test-served" &&
      module.resize.environment["ORIGIN_PREFIX"] == "origin/" &&
      module.resize.environment["REJECTED_PREFIX"] == "rejected/" &&
      module.resize.environment["JPEG_QUALITY"] == "85" &&
      module.resize.environment["MAX_SOURCE_PIXELS"] == "100000000"
    )
    error_message = "Four default sizes and the buckets reach the resize environment."
  }

  assert {
    condition = { for s in module.resize.policy.Statement : s.Sid => [s.Action, s.Resource] } == {
      WriteOwnLogs            = [["logs:CreateLogStream", "logs:PutLogEvents"], "arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/imgpipe-resize:*"]
      ReadOriginals           = ["s3:GetObject", "arn:aws:s3:::imgpipe-test-upload/origin/*"]
      ListUploadBucketFor404  = ["s3:ListBucket", "arn:aws:s3:::imgpipe-test-upload"]
      ManageRejectionRecords  = [["s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::imgpipe-test-upload/rejected/*"]
      WriteRenditions         = ["s3:PutObject", "arn:aws:s3:::imgpipe-test-served/*"]
      SendWork                = ["sqs:SendMessage", "arn:aws:sqs:ap-northeast-2:123456789012:imgpipe-catalog"]
      ReportFailedInvocations = ["sqs:SendMessage", "arn:aws:sqs:ap-northeast-2:123456789012:imgpipe-resize-failures"]
    }
    error_message = "The resize role grants exactly these actions on these resources."
  }
}

run "loader_function_and_least_privilege" {
  command = plan

  assert {
    condition = (
      module.loader.code.runtime == "python3.12" &&
      module.loader.settings.timeout == 50 &&
      module.loader.settings.memory_size == 256 &&
      length(module.loader.settings.vpc_subnet_ids) == 0 &&
      length(module.loader.settings.managed_policy_arns) == 0
    )
    error_message = "Loader: 50 s (ends before the next minute's run), no VPC by default."
  }

  assert {
    condition = (
      module.loader.environment["CDN_HOST"] == "image.example.com" &&
      module.loader.environment["RECEIVE_WAIT_SECONDS"] == "1" &&
      !contains(keys(module.loader.environment), "DB_PASSWORD")
    )
    error_message = "The loader gets the CDN host; credentials only through the secret."
  }

  assert {
    condition = { for s in module.loader.policy.Statement : s.Sid => [s.Action, s.Resource] } == {
      WriteOwnLogs       = [["logs:CreateLogStream", "logs:PutLogEvents"], "arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/imgpipe-catalog-loader:*"]
      ConsumeWork        = [["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"], "arn:aws:sqs:ap-northeast-2:123456789012:imgpipe-catalog"]
      ReadDatabaseSecret = ["secretsmanager:GetSecretValue", "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:imgpipe/catalog/database-??????"]
    }
    error_message = "The loader role grants exactly these actions on these resources."
  }

  assert {
    condition     = aws_secretsmanager_secret.db.name == "imgpipe/catalog/database" && aws_secretsmanager_secret.db.recovery_window_in_days == 30
    error_message = "The database secret, recoverable for 30 days."
  }
}

run "loader_in_a_vpc_with_a_customer_key" {
  command = plan

  variables {
    loader_vpc_config = {
      subnet_ids         = ["subnet-0123456789abcdef0"]
      security_group_ids = ["sg-0123456789abcdef0"]
    }
    db_secret_kms_key_arn = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" # checkov:skip=CKV_SECRET_6:the KMS key id of AWS's documentation examples, not a credential
  }

  assert {
    condition     = module.loader.settings.managed_policy_arns == ["arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"] && module.loader.settings.vpc_subnet_ids == ["subnet-0123456789abcdef0"]
    error_message = "A VPC loader gets the managed ENI policy."
  }

  assert {
    condition = [for s in module.loader.policy.Statement : s if s.Sid == "DecryptDatabaseSecret"][0].Condition == {
      StringEquals = { "kms:ViaService" = "secretsmanager.ap-northeast-2.amazonaws.com" }
    }
    error_message = "A customer-managed key is used through Secrets Manager only."
  }
}

run "custom_sizes_and_local_values" {
  command = plan

  variables {
    image_sizes                 = { big = 1000, tiny = 50 }
    resize_reserved_concurrency = 2
    loader_timeout              = 20
    loader_receive_wait_seconds = 0
  }

  assert {
    condition     = module.resize.environment["IMAGE_SIZES"] == "big=1000,tiny=50"
    error_message = "image_sizes reaches the function as name=edge pairs."
  }

  assert {
    condition     = module.resize.settings.reserved_concurrent_executions == 2
    error_message = "resize_reserved_concurrency reserves concurrency."
  }
}

# --- rejected inputs ----------------------------------------------------------

run "visibility_below_loader_timeout_is_rejected" {
  command = plan
  variables {
    loader_timeout                   = 60
    queue_visibility_timeout_seconds = 30
  }
  expect_failures = [aws_scheduler_schedule.loader]
}

run "bad_size_name_is_rejected" {
  command = plan
  variables {
    image_sizes = { "Large" = 1280 }
  }
  expect_failures = [var.image_sizes]
}

run "no_sizes_is_rejected" {
  command = plan
  variables {
    image_sizes = {}
  }
  expect_failures = [var.image_sizes]
}

run "cdn_host_with_scheme_is_rejected" {
  command = plan
  variables {
    cdn_host = "https://image.example.com"
  }
  expect_failures = [var.cdn_host]
}

run "bad_timezone_is_rejected" {
  command = plan
  variables {
    schedule_timezone = "KST"
  }
  expect_failures = [var.schedule_timezone]
}

run "other_window_builds_both_expressions" {
  command = plan
  variables {
    schedule_first_hour = 9
    schedule_last_hour  = 10
  }
  assert {
    condition     = [for s in output.schedules : s.expression] == ["cron(* 9 * * ? *)", "cron(0 10 * * ? *)"]
    error_message = "09:00-10:00: every minute of hour 9, then 10:00."
  }
}

run "hour_24_is_rejected" {
  command = plan
  variables {
    schedule_last_hour = 24
  }
  expect_failures = [var.schedule_last_hour]
}

run "negative_hour_is_rejected" {
  command = plan
  variables {
    schedule_first_hour = -1
  }
  expect_failures = [var.schedule_first_hour]
}

run "fractional_hour_is_rejected" {
  command = plan
  variables {
    schedule_first_hour = 7.5
  }
  expect_failures = [var.schedule_first_hour]
}

run "window_ending_before_it_starts_is_rejected" {
  command = plan
  variables {
    schedule_first_hour = 21
    schedule_last_hour  = 7
  }
  expect_failures = [aws_scheduler_schedule.loader]
}

run "quality_above_95_is_rejected" {
  command = plan
  variables {
    jpeg_quality = 100
  }
  expect_failures = [var.jpeg_quality]
}
