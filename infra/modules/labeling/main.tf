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

  topic_name    = "${var.name}-events"
  queue_name    = "${var.name}-labeler"
  dlq_name      = "${var.name}-labeler-dlq"
  function_name = "${var.name}-labeler"

  bucket_arn   = "arn:${local.partition}:s3:::${var.bucket_name}"
  topic_arn    = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.topic_name}"
  queue_arn    = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"
  dlq_arn      = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.dlq_name}"
  alarm_arns   = [for n in var.alarm_names : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${n}"]
  account_root = "arn:${local.partition}:iam::${local.account_id}:root"

  # Subscription filter of the labeler queue (seed value): only object-created
  # events under ingest/ reach the queue; alarm notifications on the same topic
  # do not.
  queue_filter_policy = {
    Records = {
      s3        = { object = { key = [{ prefix = local.prefixes.ingest }] } }
      eventName = [{ prefix = "ObjectCreated:" }]
    }
  }

  # AWS's rule for a queue that triggers a function (the seed's 300 s was below 6 x
  # its 180 s timeout): a given value is checked against it by a precondition.
  visibility_rule_seconds    = 6 * var.lambda_timeout + var.maximum_batching_window_in_seconds
  visibility_timeout_seconds = coalesce(var.queue_visibility_timeout_seconds, local.visibility_rule_seconds)

  lambda_environment = merge(
    {
      INGEST_PREFIX   = local.prefixes.ingest
      RESULTS_PREFIX  = local.prefixes.results
      FAILURES_PREFIX = local.prefixes.failures
      # Where failure records of messages naming no bucket (malformed bodies) go.
      FAILURES_BUCKET  = var.bucket_name
      MIN_CONFIDENCE   = tostring(var.min_confidence)
      MAX_LABELS       = tostring(var.max_labels)
      SAFETY_MARGIN_MS = tostring(var.safety_margin_ms)
    },
    var.rekognition_endpoint == null ? {} : { AWS_ENDPOINT_URL_REKOGNITION = var.rekognition_endpoint },
  )
}

# --- bucket -------------------------------------------------------------------

module "bucket" {
  source = "../private_bucket"

  bucket_name        = var.bucket_name
  force_destroy      = var.bucket_force_destroy
  versioning_enabled = var.bucket_versioning_enabled
  tags               = var.tags
}

# No suffix filter: .jpeg, .png, .JPG must trigger too (the seed's `.jpg`
# filter silently ignored them); the labeler rejects non-images visibly.
resource "aws_s3_bucket_notification" "this" {
  bucket = module.bucket.id

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

# The queue (`<name>-labeler`) and its DLQ (`<name>-labeler-dlq`).
module "queue" {
  source = "../queue"

  name                       = local.queue_name
  message_retention_seconds  = var.queue_message_retention_seconds
  receive_wait_time_seconds  = var.queue_receive_wait_time_seconds
  visibility_timeout_seconds = local.visibility_timeout_seconds
  tags                       = var.tags

  # Only the topic delivers to the queue.
  deny_insecure_transport = false
  policy_statements = [{
    Sid       = "AllowTopicDelivery"
    Effect    = "Allow"
    Principal = { Service = "sns.amazonaws.com" }
    Action    = "sqs:SendMessage"
    Resource  = local.queue_arn
    Condition = { ArnEquals = { "aws:SourceArn" = local.topic_arn } }
  }]

  create_dlq                    = true
  max_receive_count             = var.max_receive_count
  dlq_message_retention_seconds = var.dlq_message_retention_seconds
  dlq_policy_statements = [{
    Sid       = "OwnerAccountOnly"
    Effect    = "Allow"
    Principal = { AWS = local.account_root }
    Action    = "sqs:*"
    Resource  = local.dlq_arn
  }]
}

# Raw message delivery stays off: the labeler parses the SNS envelope.
resource "aws_sns_topic_subscription" "queue" {
  topic_arn            = aws_sns_topic.this.arn
  protocol             = "sqs"
  endpoint             = module.queue.arn
  raw_message_delivery = false
  filter_policy_scope  = "MessageBody"
  filter_policy        = jsonencode(local.queue_filter_policy)
}

# --- labeler function ---------------------------------------------------------

module "function" {
  source = "../lambda_function"

  function_name         = local.function_name
  description           = "Labels images under ${local.prefixes.ingest} with Rekognition DetectLabels"
  zip_path              = var.lambda_zip_path
  zip_sha256            = var.lambda_zip_sha256
  runtime               = var.lambda_runtime
  architecture          = var.lambda_architecture
  memory_size           = var.lambda_memory_size
  timeout               = var.lambda_timeout
  environment_variables = local.lambda_environment
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags

  policy_name = "labeler"
  policy_statements = [
    {
      # What the event source mapping does with the function's role; the code
      # itself never calls SQS (no self-deletion, unlike the seed).
      Sid      = "ConsumeQueue"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      Resource = local.queue_arn
    },
    {
      # GetObject: the labeler's HeadObject. GetObjectVersion: DetectLabels with
      # S3Object.Version (every event of a versioned bucket has a versionId), which
      # Rekognition reads with the caller's permissions; GetObject does not cover a
      # read of a given version (issue 12).
      Sid      = "ReadIngest"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:GetObjectVersion"]
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
}

# Invoked synchronously by the mapping: failed messages go to the queue's DLQ
# (redrive policy), so the function needs no DLQ of its own.
resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn                   = module.queue.arn
  function_name                      = module.function.arn
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
  depends_on = [module.function]

  lifecycle {
    # AWS's rule (and AWS refuses a mapping whose visibility is below the timeout):
    # a batch must not become visible again while the function may still be
    # processing it, retries after throttling and the batching window included.
    precondition {
      condition     = local.visibility_timeout_seconds >= local.visibility_rule_seconds
      error_message = "queue_visibility_timeout_seconds (${local.visibility_timeout_seconds}) must be >= 6 x lambda_timeout + maximum_batching_window_in_seconds (6 x ${var.lambda_timeout} + ${var.maximum_batching_window_in_seconds} = ${local.visibility_rule_seconds}), AWS's rule for a queue that triggers a function; leave it null to get exactly that. Keep tests fast with a short lambda_timeout instead."
    }
    precondition {
      condition     = var.safety_margin_ms < var.lambda_timeout * 1000
      error_message = "safety_margin_ms (${var.safety_margin_ms}) must be below lambda_timeout (${var.lambda_timeout} s = ${var.lambda_timeout * 1000} ms), or the labeler never starts an object."
    }
    precondition {
      condition     = var.batch_size <= 10 || var.maximum_batching_window_in_seconds >= 1
      error_message = "batch_size above 10 requires maximum_batching_window_in_seconds >= 1."
    }
  }
}
