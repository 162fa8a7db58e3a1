# System B, the image catalog:
#   upload bucket (origin/) -> S3 notification -> resize Lambda -> served bucket
#   (+ rejection records in rejected/, failed invocations -> resize-failures queue)
#   -> work queue (+ DLQ) <- catalog loader Lambda <- EventBridge Scheduler
#   (every minute from 07:00 to 21:00 inclusive, Asia/Seoul) -> MySQL celeb.celeb_image_url
#
# As in the labeling module, policies are built from ARNs derived from names, so
# they are known at plan time (reviewable, testable with a mocked provider);
# postconditions check the derived ARNs against what the API returns.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  origin_prefix   = "origin/"
  rejected_prefix = "rejected/"

  resize_name         = "${var.name}-resize"
  loader_name         = "${var.name}-catalog-loader"
  queue_name          = "${var.name}-catalog"
  failures_queue_name = "${var.name}-resize-failures"
  schedule_group      = "default"
  scheduler_role_name = "${var.name}-catalog-scheduler"
  db_secret_name      = "${var.name}/catalog/database"

  upload_bucket_arn  = "arn:${local.partition}:s3:::${var.upload_bucket_name}"
  served_bucket_arn  = "arn:${local.partition}:s3:::${var.served_bucket_name}"
  queue_arn          = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"
  failures_queue_arn = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.failures_queue_name}"
  loader_arn         = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.loader_name}"
  # Secrets Manager appends 6 random characters to a secret's ARN.
  db_secret_arn_pattern = "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.db_secret_name}-??????"

  image_sizes = join(",", [for name, edge in var.image_sizes : "${name}=${edge}"])

  resize_environment = {
    ORIGIN_PREFIX     = local.origin_prefix
    REJECTED_PREFIX   = local.rejected_prefix
    SERVED_BUCKET     = var.served_bucket_name
    QUEUE_URL         = module.work_queue.url
    IMAGE_SIZES       = local.image_sizes
    JPEG_QUALITY      = tostring(var.jpeg_quality)
    MAX_SOURCE_PIXELS = tostring(floor(var.max_source_megapixels * 1000000))
  }

  loader_environment = {
    QUEUE_URL            = module.work_queue.url
    DB_SECRET_ID         = aws_secretsmanager_secret.db.arn
    CDN_HOST             = var.cdn_host
    RECEIVE_WAIT_SECONDS = tostring(var.loader_receive_wait_seconds)
  }

  # The seed's "every minute from 07:00 to 21:00", 21:00 included: one cron
  # expression cannot say it (`* 7-21` would also run 21:01-21:59), so two schedules
  # with the same target and input: every minute of the hours before the last one,
  # and the last hour's :00. The harness's evaluator
  # (harness/systems/catalog/schedule.py, `window_expressions`) builds the same two.
  window_hours = (
    var.schedule_last_hour - 1 > var.schedule_first_hour
    ? "${var.schedule_first_hour}-${var.schedule_last_hour - 1}"
    : tostring(var.schedule_first_hour)
  )
  window = "${format("%02d:00", var.schedule_first_hour)}-${format("%02d:00", var.schedule_last_hour)} inclusive"
  schedules = {
    every_minute = {
      name       = "${var.name}-catalog-loader"
      expression = "cron(* ${local.window_hours} * * ? *)"
      about      = "every minute ${format("%02d:00", var.schedule_first_hour)}-${format("%02d:59", var.schedule_last_hour - 1)}"
    }
    last_run = {
      name       = "${var.name}-catalog-loader-last-run"
      expression = "cron(0 ${var.schedule_last_hour} * * ? *)"
      about      = "${format("%02d:00", var.schedule_last_hour)}, the window's last run"
    }
  }

  # What the schedule sends: EventBridge Scheduler fills in the <aws.scheduler.*>
  # context attributes on every run (so does `harness clock tick` locally).
  scheduler_input = {
    source         = "aws.scheduler"
    schedule_arn   = "<aws.scheduler.schedule-arn>"
    scheduled_time = "<aws.scheduler.scheduled-time>"
    execution_id   = "<aws.scheduler.execution-id>"
    attempt_number = "<aws.scheduler.attempt-number>"
  }
}

# --- buckets --------------------------------------------------------------------
# Both abort interrupted multipart uploads after a week (`harness upload` sends
# files over 8 MiB in parts; their parts are billed until aborted).

module "upload_bucket" {
  source = "../private_bucket"

  bucket_name                            = var.upload_bucket_name
  force_destroy                          = var.bucket_force_destroy
  versioning_enabled                     = var.bucket_versioning_enabled
  abort_incomplete_multipart_upload_days = 7
  tags                                   = var.tags
}

# Public access stays blocked: the CDN reads through origin access control.
module "served_bucket" {
  source = "../private_bucket"

  bucket_name                            = var.served_bucket_name
  force_destroy                          = var.bucket_force_destroy
  versioning_enabled                     = var.bucket_versioning_enabled
  abort_incomplete_multipart_upload_days = 7
  tags                                   = var.tags

  policy_statements = var.cdn_distribution_arn == null ? [] : [{
    Sid       = "AllowCdnRead"
    Effect    = "Allow"
    Principal = { Service = "cloudfront.amazonaws.com" }
    Action    = "s3:GetObject"
    Resource  = "${local.served_bucket_arn}/*"
    Condition = { StringEquals = { "AWS:SourceArn" = var.cdn_distribution_arn } }
  }]
}

# No suffix filter: a .png or .JPG under origin/ must reach the function so that
# it is rejected with a reason, instead of silently never being processed.
resource "aws_s3_bucket_notification" "upload" {
  bucket = module.upload_bucket.id

  lambda_function {
    id                  = "origin-object-created"
    lambda_function_arn = module.resize.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.origin_prefix
  }

  depends_on = [aws_lambda_permission.upload_bucket]
}

# --- queues ---------------------------------------------------------------------

# The work queue (resize -> loader) and its DLQ (`<name>-catalog-dlq`).
module "work_queue" {
  source = "../queue"

  name                          = local.queue_name
  message_retention_seconds     = var.queue_message_retention_seconds
  visibility_timeout_seconds    = var.queue_visibility_timeout_seconds
  create_dlq                    = true
  max_receive_count             = var.max_receive_count
  dlq_message_retention_seconds = var.dlq_message_retention_seconds
  tags                          = var.tags
}

# Where Lambda puts an upload event whose resize failed after every retry (S3 or
# SQS unavailable, a bug): the event and the error, for a replay.
module "resize_failures_queue" {
  source = "../queue"

  name                      = local.failures_queue_name
  message_retention_seconds = var.dlq_message_retention_seconds
  tags                      = var.tags
}

# --- database secret ------------------------------------------------------------

# The value ({"host", "port", "username", "password", "dbname"}, the RDS secret
# shape) is not managed here, so no password enters the Terraform state: on AWS
# RDS manages it or an operator puts it; locally the harness puts its MariaDB's.
resource "aws_secretsmanager_secret" "db" {
  #checkov:skip=CKV2_AWS_57:The value is a MySQL account managed outside Terraform (RDS-managed secrets rotate there); the loader re-reads the secret when access is denied, so rotation needs no redeploy.
  name                    = local.db_secret_name
  description             = "MySQL account of ${local.loader_name} (celeb.celeb_image_url)"
  kms_key_id              = var.db_secret_kms_key_arn
  recovery_window_in_days = var.db_secret_recovery_window_in_days
  tags                    = var.tags
}

# --- resize function ------------------------------------------------------------

# Failed asynchronous invocations go to the resize-failures queue through the
# on-failure destination, which also keeps the error (a function DLQ would not).
module "resize" {
  source = "../lambda_function"

  function_name                  = local.resize_name
  description                    = "Resizes ${local.origin_prefix}{vertical}/{cd_idx}_{sequence}.jpg into ${length(var.image_sizes)} sizes"
  zip_path                       = var.resize_zip_path
  zip_sha256                     = var.resize_zip_sha256
  runtime                        = var.lambda_runtime
  architecture                   = var.lambda_architecture
  memory_size                    = var.resize_memory_size
  timeout                        = var.resize_timeout
  reserved_concurrent_executions = var.resize_reserved_concurrency == null ? -1 : var.resize_reserved_concurrency
  environment_variables          = local.resize_environment
  log_retention_in_days          = var.log_retention_in_days
  tags                           = var.tags

  async_invocation = {
    maximum_retry_attempts       = var.resize_retry_attempts
    maximum_event_age_in_seconds = var.resize_max_event_age_seconds
    on_failure                   = { destination = module.resize_failures_queue.arn }
  }

  policy_name = "resize"
  policy_statements = [
    {
      Sid      = "ReadOriginals"
      Effect   = "Allow"
      Action   = "s3:GetObject"
      Resource = "${local.upload_bucket_arn}/${local.origin_prefix}*"
    },
    {
      # Without s3:ListBucket an original deleted before it was resized answers
      # 403 instead of 404 (see the labeling module for why no prefix condition).
      Sid      = "ListUploadBucketFor404"
      Effect   = "Allow"
      Action   = "s3:ListBucket"
      Resource = local.upload_bucket_arn
    },
    {
      Sid      = "ManageRejectionRecords"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:DeleteObject"]
      Resource = "${local.upload_bucket_arn}/${local.rejected_prefix}*"
    },
    {
      Sid      = "WriteRenditions"
      Effect   = "Allow"
      Action   = "s3:PutObject"
      Resource = "${local.served_bucket_arn}/*"
    },
    {
      Sid      = "SendWork"
      Effect   = "Allow"
      Action   = "sqs:SendMessage"
      Resource = local.queue_arn
    },
    {
      # Lambda delivers the on-failure destination with the function's role.
      Sid      = "ReportFailedInvocations"
      Effect   = "Allow"
      Action   = "sqs:SendMessage"
      Resource = local.failures_queue_arn
    },
  ]
}

resource "aws_lambda_permission" "upload_bucket" {
  statement_id   = "AllowInvokeFromUploadBucket"
  action         = "lambda:InvokeFunction"
  function_name  = module.resize.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.upload_bucket_arn
  source_account = local.account_id
}

# --- catalog loader -------------------------------------------------------------

# Run by the schedule every minute, each run ending before the next (timeout
# below 60 s), and not retried by Lambda: a failed run loses nothing (the
# messages stay queued) and the next minute's run is the retry.
module "loader" {
  source = "../lambda_function"

  function_name         = local.loader_name
  description           = "Loads ${local.queue_name} into MySQL celeb.celeb_image_url on a schedule"
  zip_path              = var.loader_zip_path
  zip_sha256            = var.loader_zip_sha256
  runtime               = var.lambda_runtime
  architecture          = var.lambda_architecture
  memory_size           = var.loader_memory_size
  timeout               = var.loader_timeout
  environment_variables = local.loader_environment
  vpc_config            = var.loader_vpc_config
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags

  async_invocation = {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }

  policy_name = "catalog-loader"
  policy_statements = concat(
    [
      {
        Sid      = "ConsumeWork"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
        Resource = local.queue_arn
      },
      {
        Sid      = "ReadDatabaseSecret"
        Effect   = "Allow"
        Action   = "secretsmanager:GetSecretValue"
        Resource = local.db_secret_arn_pattern
      },
    ],
    var.db_secret_kms_key_arn == null ? [] : [
      {
        Sid       = "DecryptDatabaseSecret"
        Effect    = "Allow"
        Action    = "kms:Decrypt"
        Resource  = var.db_secret_kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" } }
      },
    ],
  )
}

# --- schedule -------------------------------------------------------------------

resource "aws_iam_role" "scheduler" {
  name = local.scheduler_role_name
  tags = var.tags

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AssumedBySchedulerOfThisAccount"
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-catalog-loader"
  role = aws_iam_role.scheduler.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokeLoader"
      Effect   = "Allow"
      Action   = "lambda:InvokeFunction"
      Resource = [local.loader_arn, "${local.loader_arn}:*"]
    }]
  })
}

resource "aws_scheduler_schedule" "loader" {
  #checkov:skip=CKV_AWS_297:The schedule's input holds Scheduler placeholders only, no data; the AWS-owned key encrypts it.
  for_each = local.schedules

  name        = each.value.name
  group_name  = local.schedule_group
  description = "Runs ${local.loader_name} ${each.value.about} (window ${local.window}, ${var.schedule_timezone})"
  state       = var.schedule_enabled ? "ENABLED" : "DISABLED"

  schedule_expression          = each.value.expression
  schedule_expression_timezone = var.schedule_timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.loader.arn
    role_arn = aws_iam_role.scheduler.arn
    # jsonencode() escapes < and > (\u003c); Scheduler substitutes the literal
    # <aws.scheduler.*> placeholders only.
    input = replace(replace(jsonencode(local.scheduler_input), "\\u003c", "<"), "\\u003e", ">")

    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 0
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]

  lifecycle {
    precondition {
      condition     = var.schedule_first_hour < var.schedule_last_hour
      error_message = "schedule_first_hour (${var.schedule_first_hour}) must be before schedule_last_hour (${var.schedule_last_hour}): the window runs from the first hour's :00 to the last hour's :00, within one day."
    }
    # The schedule starts the loader, the work queue's consumer: a message it
    # received must stay hidden for the whole run, or it is loaded twice.
    precondition {
      condition     = var.queue_visibility_timeout_seconds >= var.loader_timeout
      error_message = "queue_visibility_timeout_seconds (${var.queue_visibility_timeout_seconds}) must be >= loader_timeout (${var.loader_timeout})."
    }
  }
}
