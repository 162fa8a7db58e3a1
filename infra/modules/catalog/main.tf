# System B, the image catalog:
#   upload bucket (origin/) -> S3 notification -> resize Lambda -> served bucket
#   (+ rejection records in rejected/, failed invocations -> resize-failures queue)
#   -> work queue (+ DLQ) <- catalog loader Lambda <- EventBridge Scheduler
#   (every minute 07:00-20:59 Asia/Seoul) -> MySQL celeb.celeb_image_url
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
  dlq_name            = "${var.name}-catalog-dlq"
  failures_queue_name = "${var.name}-resize-failures"
  schedule_name       = "${var.name}-catalog-loader"
  schedule_group      = "default"
  scheduler_role_name = "${var.name}-catalog-scheduler"
  db_secret_name      = "${var.name}/catalog/database"

  upload_bucket_arn  = "arn:${local.partition}:s3:::${var.upload_bucket_name}"
  served_bucket_arn  = "arn:${local.partition}:s3:::${var.served_bucket_name}"
  queue_arn          = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"
  dlq_arn            = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.dlq_name}"
  failures_queue_arn = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.failures_queue_name}"
  resize_arn         = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.resize_name}"
  loader_arn         = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.loader_name}"
  # Secrets Manager appends 6 random characters to a secret's ARN.
  db_secret_arn_pattern = "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.db_secret_name}-??????"

  resize_log_group     = "/aws/lambda/${local.resize_name}"
  loader_log_group     = "/aws/lambda/${local.loader_name}"
  resize_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.resize_log_group}"
  loader_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.loader_log_group}"

  image_sizes = join(",", [for name, edge in var.image_sizes : "${name}=${edge}"])

  resize_environment = {
    ORIGIN_PREFIX     = local.origin_prefix
    REJECTED_PREFIX   = local.rejected_prefix
    SERVED_BUCKET     = var.served_bucket_name
    QUEUE_URL         = aws_sqs_queue.work.url
    IMAGE_SIZES       = local.image_sizes
    JPEG_QUALITY      = tostring(var.jpeg_quality)
    MAX_SOURCE_PIXELS = tostring(floor(var.max_source_megapixels * 1000000))
  }

  loader_environment = {
    QUEUE_URL            = aws_sqs_queue.work.url
    DB_SECRET_ID         = aws_secretsmanager_secret.db.arn
    CDN_HOST             = var.cdn_host
    RECEIVE_WAIT_SECONDS = tostring(var.loader_receive_wait_seconds)
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

  lambda_assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tls_only = { Bool = { "aws:SecureTransport" = "false" } }
}

# --- buckets --------------------------------------------------------------------

resource "aws_s3_bucket" "upload" {
  #checkov:skip=CKV_AWS_18:Access logs would need a third bucket; CloudTrail data events are the account-wide audit choice.
  #checkov:skip=CKV_AWS_144:Cross-region replication is not needed: originals can be uploaded again and renditions recomputed from them.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is set explicitly; SSE-KMS would add kms grants for the resize function without excluding any reader.
  bucket        = var.upload_bucket_name
  force_destroy = var.bucket_force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket" "served" {
  #checkov:skip=CKV_AWS_18:Access logs would need a third bucket; CloudTrail data events are the account-wide audit choice.
  #checkov:skip=CKV_AWS_144:Cross-region replication is not needed: originals can be uploaded again and renditions recomputed from them.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is set explicitly; the renditions are public through the CDN, and SSE-KMS would need key grants for CloudFront.
  #checkov:skip=CKV2_AWS_62:Nothing consumes changes of the served renditions: the CDN reads them on request.
  bucket        = var.served_bucket_name
  force_destroy = var.bucket_force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "upload" {
  bucket = aws_s3_bucket.upload.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Public access stays blocked: the CDN reads through origin access control.
resource "aws_s3_bucket_public_access_block" "served" {
  bucket = aws_s3_bucket.served.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "upload" {
  bucket = aws_s3_bucket.upload.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "served" {
  bucket = aws_s3_bucket.served.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "upload" {
  count  = var.bucket_versioning_enabled ? 1 : 0
  bucket = aws_s3_bucket.upload.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_versioning" "served" {
  count  = var.bucket_versioning_enabled ? 1 : 0
  bucket = aws_s3_bucket.served.id

  versioning_configuration {
    status = "Enabled"
  }
}

# An interrupted multipart upload (`harness upload` sends files over 8 MiB in
# parts) leaves invisible, billed parts behind: abort them after a week.
resource "aws_s3_bucket_lifecycle_configuration" "upload" {
  bucket = aws_s3_bucket.upload.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "served" {
  bucket = aws_s3_bucket.served.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "upload" {
  bucket = aws_s3_bucket.upload.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [local.upload_bucket_arn, "${local.upload_bucket_arn}/*"]
      Condition = local.tls_only
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.upload]
}

resource "aws_s3_bucket_policy" "served" {
  bucket = aws_s3_bucket.served.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.served_bucket_arn, "${local.served_bucket_arn}/*"]
        Condition = local.tls_only
      }],
      var.cdn_distribution_arn == null ? [] : [{
        Sid       = "AllowCdnRead"
        Effect    = "Allow"
        Principal = { Service = "cloudfront.amazonaws.com" }
        Action    = "s3:GetObject"
        Resource  = "${local.served_bucket_arn}/*"
        Condition = { StringEquals = { "AWS:SourceArn" = var.cdn_distribution_arn } }
      }],
    )
  })

  depends_on = [aws_s3_bucket_public_access_block.served]
}

# No suffix filter: a .png or .JPG under origin/ must reach the function so that
# it is rejected with a reason, instead of silently never being processed.
resource "aws_s3_bucket_notification" "upload" {
  bucket = aws_s3_bucket.upload.id

  lambda_function {
    id                  = "origin-object-created"
    lambda_function_arn = aws_lambda_function.resize.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.origin_prefix
  }

  depends_on = [aws_lambda_permission.upload_bucket]
}

# --- queues ---------------------------------------------------------------------

resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn]
  })

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "sqs:*"
      Resource  = local.dlq_arn
      Condition = local.tls_only
    }]
  })

  lifecycle {
    postcondition {
      condition     = self.arn == local.dlq_arn
      error_message = "The DLQ ARN (${self.arn}) differs from the derived one (${local.dlq_arn})."
    }
  }
}

resource "aws_sqs_queue" "work" {
  name                       = local.queue_name
  message_retention_seconds  = var.queue_message_retention_seconds
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  sqs_managed_sse_enabled    = true
  tags                       = var.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dlq_arn
    maxReceiveCount     = var.max_receive_count
  })

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "sqs:*"
      Resource  = local.queue_arn
      Condition = local.tls_only
    }]
  })

  depends_on = [aws_sqs_queue.dlq]

  lifecycle {
    precondition {
      condition     = var.queue_visibility_timeout_seconds >= var.loader_timeout
      error_message = "queue_visibility_timeout_seconds (${var.queue_visibility_timeout_seconds}) must be >= loader_timeout (${var.loader_timeout})."
    }
    precondition {
      condition     = var.dlq_message_retention_seconds >= var.queue_message_retention_seconds
      error_message = "dlq_message_retention_seconds must be >= queue_message_retention_seconds: a message keeps its enqueue time when it moves to the DLQ."
    }
    postcondition {
      condition     = self.arn == local.queue_arn
      error_message = "The work queue ARN (${self.arn}) differs from the derived one (${local.queue_arn})."
    }
  }
}

# Where Lambda puts an upload event whose resize failed after every retry (S3 or
# SQS unavailable, a bug): the event and the error, for a replay.
resource "aws_sqs_queue" "resize_failures" {
  name                      = local.failures_queue_name
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "sqs:*"
      Resource  = local.failures_queue_arn
      Condition = local.tls_only
    }]
  })

  lifecycle {
    postcondition {
      condition     = self.arn == local.failures_queue_arn
      error_message = "The resize-failures queue ARN (${self.arn}) differs from the derived one (${local.failures_queue_arn})."
    }
  }
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

resource "aws_cloudwatch_log_group" "resize" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; the functions log no secrets.
  #checkov:skip=CKV_AWS_338:Operational logs, not audit logs: retention is the log_retention_in_days variable (30 days on AWS).
  name              = local.resize_log_group
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_iam_role" "resize" {
  name               = local.resize_name
  assume_role_policy = local.lambda_assume_role_policy
  tags               = var.tags
}

resource "aws_iam_role_policy" "resize" {
  name = "resize"
  role = aws_iam_role.resize.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${local.resize_log_group_arn}:*"
      },
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
  })
}

resource "aws_lambda_function" "resize" {
  #checkov:skip=CKV_AWS_272:Packages are built reproducibly from the reviewed commit and deployed by Terraform with their SHA-256; no AWS Signer profile is used.
  #checkov:skip=CKV_AWS_50:X-Ray would need xray:PutTraceSegments on *; logs, the queues and their alarms cover operations.
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the resize-failures queue through the on-failure destination, which also keeps the error (a function DLQ would not).
  #checkov:skip=CKV_AWS_117:Calls only public AWS APIs (S3, SQS); a VPC would add NAT or endpoints and protect nothing.
  #checkov:skip=CKV_AWS_173:The environment holds bucket names, sizes and limits only, no secrets; Lambda encrypts it at rest with its service key.
  function_name                  = local.resize_name
  description                    = "Resizes ${local.origin_prefix}{vertical}/{cd_idx}_{sequence}.jpg into ${length(var.image_sizes)} sizes"
  role                           = aws_iam_role.resize.arn
  runtime                        = var.lambda_runtime
  handler                        = "app.handler"
  filename                       = var.resize_zip_path
  source_code_hash               = var.resize_zip_sha256
  memory_size                    = var.resize_memory_size
  timeout                        = var.resize_timeout
  architectures                  = [var.lambda_architecture]
  reserved_concurrent_executions = var.resize_reserved_concurrency == null ? -1 : var.resize_reserved_concurrency
  tags                           = var.tags

  environment {
    variables = local.resize_environment
  }

  depends_on = [aws_cloudwatch_log_group.resize, aws_iam_role_policy.resize]

  lifecycle {
    postcondition {
      condition     = self.arn == local.resize_arn
      error_message = "The resize function ARN (${self.arn}) differs from the derived one (${local.resize_arn})."
    }
  }
}

resource "aws_lambda_permission" "upload_bucket" {
  statement_id   = "AllowInvokeFromUploadBucket"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.resize.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.upload_bucket_arn
  source_account = local.account_id
}

resource "aws_lambda_function_event_invoke_config" "resize" {
  function_name                = aws_lambda_function.resize.function_name
  maximum_retry_attempts       = var.resize_retry_attempts
  maximum_event_age_in_seconds = var.resize_max_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.resize_failures.arn
    }
  }

  depends_on = [aws_iam_role_policy.resize]
}

# --- catalog loader -------------------------------------------------------------

resource "aws_cloudwatch_log_group" "loader" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; the loader logs no credentials.
  #checkov:skip=CKV_AWS_338:Operational logs, not audit logs: retention is the log_retention_in_days variable (30 days on AWS).
  name              = local.loader_log_group
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_iam_role" "loader" {
  name               = local.loader_name
  assume_role_policy = local.lambda_assume_role_policy
  tags               = var.tags
}

resource "aws_iam_role_policy" "loader" {
  name = "catalog-loader"
  role = aws_iam_role.loader.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "WriteOwnLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "${local.loader_log_group_arn}:*"
        },
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
  })
}

# ENIs in the VPC: only when the database is in one.
resource "aws_iam_role_policy_attachment" "loader_vpc" {
  count      = var.loader_vpc_config == null ? 0 : 1
  role       = aws_iam_role.loader.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "loader" {
  #checkov:skip=CKV_AWS_272:Packages are built reproducibly from the reviewed commit and deployed by Terraform with their SHA-256; no AWS Signer profile is used.
  #checkov:skip=CKV_AWS_50:X-Ray would need xray:PutTraceSegments on *; logs, the queues and their alarms cover operations.
  #checkov:skip=CKV_AWS_116:Run by the schedule every minute and not retried: a failed run loses nothing (the messages stay queued) and the next minute's run is the retry.
  #checkov:skip=CKV_AWS_115:One run per minute by the schedule, each ending before the next (timeout below 60 s); reserved concurrency fails on accounts with the default quota.
  #checkov:skip=CKV_AWS_173:The environment holds the queue URL, the secret's ARN and the CDN host, no credentials (those are in Secrets Manager).
  function_name    = local.loader_name
  description      = "Loads ${local.queue_name} into MySQL celeb.celeb_image_url on a schedule"
  role             = aws_iam_role.loader.arn
  runtime          = var.lambda_runtime
  handler          = "app.handler"
  filename         = var.loader_zip_path
  source_code_hash = var.loader_zip_sha256
  memory_size      = var.loader_memory_size
  timeout          = var.loader_timeout
  architectures    = [var.lambda_architecture]
  tags             = var.tags

  environment {
    variables = local.loader_environment
  }

  dynamic "vpc_config" {
    for_each = var.loader_vpc_config == null ? [] : [var.loader_vpc_config]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  depends_on = [aws_cloudwatch_log_group.loader, aws_iam_role_policy.loader, aws_iam_role_policy_attachment.loader_vpc]

  lifecycle {
    postcondition {
      condition     = self.arn == local.loader_arn
      error_message = "The loader function ARN (${self.arn}) differs from the derived one (${local.loader_arn})."
    }
  }
}

# The schedule is the retry: a failed run is not retried by Lambda, the next
# minute's run picks the messages up.
resource "aws_lambda_function_event_invoke_config" "loader" {
  function_name                = aws_lambda_function.loader.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

# --- schedule -------------------------------------------------------------------

resource "aws_iam_role" "scheduler" {
  name = local.scheduler_role_name
  tags = var.tags

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
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
  name        = local.schedule_name
  group_name  = local.schedule_group
  description = "Runs ${local.loader_name}: ${var.schedule_expression} in ${var.schedule_timezone}"
  state       = var.schedule_enabled ? "ENABLED" : "DISABLED"

  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.loader.arn
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
}
