# An SQS queue encrypted with SSE-SQS, with an optional dead-letter queue
# (`<name>-dlq`) that only this queue may redrive to and that denies requests
# without TLS.
#
# ARNs are derived from the names, so the policies and the redrive settings are
# known at plan time and do not create dependency cycles; postconditions check
# them against what the API returns.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  arn_prefix = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  arn        = "${local.arn_prefix}:${var.name}"
  dlq_name   = "${var.name}-dlq"
  dlq_arn    = "${local.arn_prefix}:${local.dlq_name}"

  deny_insecure_transport = {
    Sid       = "DenyInsecureTransport"
    Effect    = "Deny"
    Principal = "*"
    Action    = "sqs:*"
    Condition = { Bool = { "aws:SecureTransport" = "false" } }
  }
}

resource "aws_sqs_queue" "dlq" {
  count = var.create_dlq ? 1 : 0

  name                      = local.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags

  # Only the queue of this module may use this one as its DLQ. Its ARN is
  # derived, not referenced: the queue references this one in its redrive policy.
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.arn]
  })

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [merge(local.deny_insecure_transport, { Resource = local.dlq_arn })],
      var.dlq_policy_statements,
    )
  })

  lifecycle {
    postcondition {
      condition     = self.arn == local.dlq_arn
      error_message = "The DLQ ARN (${self.arn}) differs from the one the policies were built with (${local.dlq_arn})."
    }
  }
}

resource "aws_sqs_queue" "this" {
  name                       = var.name
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = var.receive_wait_time_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  sqs_managed_sse_enabled    = true
  tags                       = var.tags

  # Derived DLQ ARN (checked by the DLQ's postcondition) keeps the policy
  # known at plan time; depends_on keeps the ordering.
  redrive_policy = var.create_dlq ? jsonencode({
    deadLetterTargetArn = local.dlq_arn
    maxReceiveCount     = var.max_receive_count
  }) : null

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      var.deny_insecure_transport ? [merge(local.deny_insecure_transport, { Resource = local.arn })] : [],
      var.policy_statements,
    )
  })

  depends_on = [aws_sqs_queue.dlq]

  lifecycle {
    precondition {
      condition     = !var.create_dlq || var.dlq_message_retention_seconds >= var.message_retention_seconds
      error_message = "dlq_message_retention_seconds must be >= message_retention_seconds: a message keeps its enqueue time when it moves to the DLQ."
    }
    postcondition {
      condition     = self.arn == local.arn
      error_message = "The queue ARN (${self.arn}) differs from the one the policies were built with (${local.arn})."
    }
  }
}
