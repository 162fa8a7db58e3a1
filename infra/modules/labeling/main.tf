# System A labeling pipeline:
#   S3 bucket (ingest/) -> event notification -> SNS topic (CMK) -> filter policy
#   -> SQS queue (+ DLQ) -> labeler Lambda (Rekognition DetectLabels) -> results/
#
# Policies are built with jsonencode() from ARNs derived from names (see
# locals), so they are known at plan time (reviewable, and testable with a
# mocked provider) and do not create dependency cycles. Postconditions check
# that the derived ARNs match what AWS (or LocalStack) returns.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  prefixes = {
    ingest   = "ingest/"
    results  = "results/"
    failures = "failures/"
  }

  topic_name     = "${var.name}-events"
  queue_name     = "${var.name}-labeler"
  dlq_name       = "${var.name}-labeler-dlq"
  function_name  = "${var.name}-labeler"
  log_group_name = "/aws/lambda/${local.function_name}"

  bucket_arn    = "arn:${local.partition}:s3:::${var.bucket_name}"
  topic_arn     = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.topic_name}"
  queue_arn     = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"
  dlq_arn       = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.dlq_name}"
  log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"
  alarm_arns    = [for n in var.alarm_names : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${n}"]
  account_root  = "arn:${local.partition}:iam::${local.account_id}:root"

  # Subscription filter of the labeler queue (seed value): only object-created
  # events under ingest/ reach the queue; alarm notifications on the same topic
  # do not.
  queue_filter_policy = {
    Records = {
      s3        = { object = { key = [{ prefix = local.prefixes.ingest }] } }
      eventName = [{ prefix = "ObjectCreated:" }]
    }
  }

  lambda_environment = merge(
    {
      INGEST_PREFIX   = local.prefixes.ingest
      RESULTS_PREFIX  = local.prefixes.results
      FAILURES_PREFIX = local.prefixes.failures
      # Where failure records of messages naming no bucket (malformed bodies) go.
      FAILURES_BUCKET = var.bucket_name
      MIN_CONFIDENCE  = tostring(var.min_confidence)
      MAX_LABELS      = tostring(var.max_labels)
    },
    var.rekognition_endpoint == null ? {} : { AWS_ENDPOINT_URL_REKOGNITION = var.rekognition_endpoint },
  )
}

# --- bucket -------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access logs would need a second bucket; the bucket holds derived data and CloudTrail data events are the account-wide audit choice.
  #checkov:skip=CKV_AWS_144:Cross-region replication is not needed: uploads are copies (the web service keeps the originals) and results can be recomputed.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is set explicitly; SSE-KMS would add kms:Decrypt grants for the labeler and Rekognition reads without excluding any reader.
  #checkov:skip=CKV2_AWS_61:Object retention is a product decision of the web service that owns the uploads; nothing here expires them.
  bucket        = var.bucket_name
  force_destroy = var.bucket_force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  count  = var.bucket_versioning_enabled ? 1 : 0
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  # A bucket policy put while the public access block is being created can fail.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# No suffix filter: .jpeg, .png, .JPG must trigger too (the seed's `.jpg`
# filter silently ignored them); the labeler rejects non-images visibly.
resource "aws_s3_bucket_notification" "this" {
  bucket = aws_s3_bucket.this.id

  topic {
    id            = "ingest-object-created"
    topic_arn     = aws_sns_topic.this.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = local.prefixes.ingest
  }
}

# --- topic and its key --------------------------------------------------------

# S3 and CloudWatch cannot publish to a topic encrypted with the AWS-managed
# aws/sns key (its policy cannot be changed), hence a customer-managed key.
resource "aws_kms_key" "this" {
  count = var.create_topic_kms_key ? 1 : 0

  description             = "SNS topic ${local.topic_name}"
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  enable_key_rotation     = true
  tags                    = var.tags

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid       = "AccountAdministration"
          Effect    = "Allow"
          Principal = { AWS = local.account_root }
          Action    = "kms:*"
          Resource  = "*"
        },
        {
          Sid       = "AllowS3EventNotifications"
          Effect    = "Allow"
          Principal = { Service = "s3.amazonaws.com" }
          Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
          Resource  = "*"
          Condition = {
            StringEquals = { "aws:SourceAccount" = local.account_id }
            ArnEquals    = { "aws:SourceArn" = local.bucket_arn }
          }
        },
      ],
      length(local.alarm_arns) == 0 ? [] : [
        {
          Sid       = "AllowCloudWatchAlarms"
          Effect    = "Allow"
          Principal = { Service = "cloudwatch.amazonaws.com" }
          Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
          Resource  = "*"
          Condition = {
            StringEquals = { "aws:SourceAccount" = local.account_id }
            ArnLike      = { "aws:SourceArn" = local.alarm_arns }
          }
        },
      ],
    )
  })
}

resource "aws_kms_alias" "this" {
  count = var.create_topic_kms_key ? 1 : 0

  name          = "alias/${local.topic_name}"
  target_key_id = aws_kms_key.this[0].key_id
}

resource "aws_sns_topic" "this" {
  name              = local.topic_name
  kms_master_key_id = var.create_topic_kms_key ? aws_kms_alias.this[0].name : null # alias: known at plan time
  tags              = var.tags

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid       = "AllowS3EventNotifications"
          Effect    = "Allow"
          Principal = { Service = "s3.amazonaws.com" }
          Action    = "sns:Publish"
          Resource  = local.topic_arn
          Condition = {
            ArnEquals    = { "aws:SourceArn" = local.bucket_arn }
            StringEquals = { "aws:SourceAccount" = local.account_id }
          }
        },
      ],
      # The seed let CloudWatch publish without any condition.
      length(local.alarm_arns) == 0 ? [] : [
        {
          Sid       = "AllowCloudWatchAlarms"
          Effect    = "Allow"
          Principal = { Service = "cloudwatch.amazonaws.com" }
          Action    = "sns:Publish"
          Resource  = local.topic_arn
          Condition = {
            ArnLike      = { "aws:SourceArn" = local.alarm_arns }
            StringEquals = { "aws:SourceAccount" = local.account_id }
          }
        },
      ],
    )
  })

  lifecycle {
    postcondition {
      condition     = self.arn == local.topic_arn
      error_message = "The topic ARN (${self.arn}) differs from the one the policies were built with (${local.topic_arn})."
    }
  }
}

# --- queues -------------------------------------------------------------------

resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags

  # Only the main queue may use this queue as its DLQ. Its ARN is derived, not
  # referenced: the main queue references this one in its redrive policy.
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn]
  })

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = local.dlq_arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "OwnerAccountOnly"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "sqs:*"
        Resource  = local.dlq_arn
      },
    ]
  })

  lifecycle {
    postcondition {
      condition     = self.arn == local.dlq_arn
      error_message = "The DLQ ARN (${self.arn}) differs from the one the policies were built with (${local.dlq_arn})."
    }
  }
}

resource "aws_sqs_queue" "main" {
  name                       = local.queue_name
  message_retention_seconds  = var.queue_message_retention_seconds
  receive_wait_time_seconds  = var.queue_receive_wait_time_seconds
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  sqs_managed_sse_enabled    = true
  tags                       = var.tags

  # Derived DLQ ARN (checked by the DLQ's postcondition) keeps the policy
  # known at plan time; depends_on keeps the ordering.
  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dlq_arn
    maxReceiveCount     = var.max_receive_count
  })

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AllowTopicDelivery"
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = local.queue_arn
      Condition = { ArnEquals = { "aws:SourceArn" = local.topic_arn } }
    }]
  })

  depends_on = [aws_sqs_queue.dlq]

  lifecycle {
    precondition {
      condition     = var.queue_visibility_timeout_seconds >= var.lambda_timeout
      error_message = "queue_visibility_timeout_seconds (${var.queue_visibility_timeout_seconds}) must be >= lambda_timeout (${var.lambda_timeout}); AWS recommends 6x lambda_timeout."
    }
    postcondition {
      condition     = self.arn == local.queue_arn
      error_message = "The queue ARN (${self.arn}) differs from the one the policies were built with (${local.queue_arn})."
    }
  }
}

# Raw message delivery stays off: the labeler parses the SNS envelope.
resource "aws_sns_topic_subscription" "queue" {
  topic_arn            = aws_sns_topic.this.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.main.arn
  raw_message_delivery = false
  filter_policy_scope  = "MessageBody"
  filter_policy        = jsonencode(local.queue_filter_policy)
}

# --- labeler function ---------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; the labeler logs no secrets.
  #checkov:skip=CKV_AWS_338:Operational logs, not audit logs: retention is the log_retention_in_days variable (30 days on AWS).
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_iam_role" "this" {
  name = local.function_name
  tags = var.tags

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "this" {
  name = "labeler"
  role = aws_iam_role.this.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${local.log_group_arn}:*"
      },
      {
        # What the event source mapping does with the function's role; the code
        # itself never calls SQS (no self-deletion, unlike the seed).
        Sid      = "ConsumeQueue"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        Resource = local.queue_arn
      },
      {
        Sid      = "ReadIngest"
        Effect   = "Allow"
        Action   = "s3:GetObject"
        Resource = "${local.bucket_arn}/${local.prefixes.ingest}*"
      },
      {
        Sid      = "ReadWriteResults"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = "${local.bucket_arn}/${local.prefixes.results}*"
      },
      {
        Sid      = "ManageFailureRecords"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = "${local.bucket_arn}/${local.prefixes.failures}*"
      },
      {
        # Without s3:ListBucket a missing object answers 403 instead of 404.
        # No s3:prefix condition: S3 checks ListBucket for that purpose on the
        # GetObject request, which carries no s3:prefix, so a condition would
        # bring the 403 back. ListBucket reveals key names only, not content.
        Sid      = "ListBucketFor404"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = local.bucket_arn
      },
      {
        # DetectLabels supports no resource-level permissions.
        Sid      = "DetectLabels"
        Effect   = "Allow"
        Action   = "rekognition:DetectLabels"
        Resource = "*"
      },
    ]
  })
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the SQS event source mapping; failed messages go to the queue's DLQ (redrive policy), a function DLQ would never be used.
  #checkov:skip=CKV_AWS_117:Calls only public AWS APIs (S3, Rekognition); a VPC would add NAT or endpoints and protect nothing.
  #checkov:skip=CKV_AWS_115:Concurrency is capped by the event source mapping (maximum_concurrency); reserved concurrency fails on accounts with the default quota.
  #checkov:skip=CKV_AWS_272:Packages are built reproducibly from the reviewed commit and deployed by Terraform with their SHA-256; no AWS Signer profile is used.
  #checkov:skip=CKV_AWS_173:The environment holds prefixes and limits only, no secrets; Lambda encrypts it at rest with its service key.
  #checkov:skip=CKV_AWS_50:X-Ray would need xray:PutTraceSegments on *; logs, the DLQ and its alarm cover operations.
  function_name    = local.function_name
  description      = "Labels images under ${local.prefixes.ingest} with Rekognition DetectLabels"
  role             = aws_iam_role.this.arn
  runtime          = var.lambda_runtime
  handler          = "app.handler"
  filename         = var.lambda_zip_path
  source_code_hash = var.lambda_zip_sha256
  memory_size      = var.lambda_memory_size
  timeout          = var.lambda_timeout
  architectures    = [var.lambda_architecture]
  tags             = var.tags

  environment {
    variables = local.lambda_environment
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn                   = aws_sqs_queue.main.arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = var.maximum_concurrency == null ? [] : [var.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  # Creating the mapping checks that the role may read the queue.
  depends_on = [aws_iam_role_policy.this]

  lifecycle {
    precondition {
      condition     = var.batch_size <= 10 || var.maximum_batching_window_in_seconds >= 1
      error_message = "batch_size above 10 requires maximum_batching_window_in_seconds >= 1."
    }
  }
}
