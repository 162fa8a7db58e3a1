# A Lambda function with what every function of this project has: its own log
# group, an execution role named after it with one inline policy (writing to its
# own log group, plus the caller's statements), the code from a zip built outside
# Terraform; optionally a VPC (with the managed ENI policy) and the settings of
# asynchronous invocations. Triggers (event source mappings, subscriptions,
# permissions) are the caller's: they wire the function to its sources.
#
# The log group's and the function's ARNs are derived from the name, so the
# policy is known at plan time (reviewable, testable with a mocked provider).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition      = data.aws_partition.current.partition
  region_account = "${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"

  log_group_name = "/aws/lambda/${var.function_name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region_account}:log-group:${local.log_group_name}"
  arn            = "arn:${local.partition}:lambda:${local.region_account}:function:${var.function_name}"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; the functions log no secrets.
  #checkov:skip=CKV_AWS_338:Operational logs, not audit logs: retention is the log_retention_in_days variable (30 days on AWS).
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_iam_role" "this" {
  name = var.function_name
  tags = var.tags

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AssumedByLambda"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "this" {
  name = var.policy_name
  role = aws_iam_role.this.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${local.log_group_arn}:*"
      }],
      var.policy_statements,
    )
  })
}

# ENIs in the VPC: only for a function in one.
resource "aws_iam_role_policy_attachment" "vpc" {
  count      = var.vpc_config == null ? 0 : 1
  role       = aws_iam_role.this.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Failures are kept where each trigger keeps them: the source queue's DLQ, the on-failure destination (async_invocation) or the next scheduled run.
  #checkov:skip=CKV_AWS_117:A VPC is opt-in (vpc_config) for a function that reaches private resources; the others call only public AWS APIs, where a VPC protects nothing.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is opt-in (reserved_concurrent_executions): reserving it fails on accounts with the default quota, and SQS mappings cap concurrency themselves.
  #checkov:skip=CKV_AWS_272:Packages are built reproducibly from the reviewed commit and deployed by Terraform with their SHA-256; no AWS Signer profile is used.
  #checkov:skip=CKV_AWS_173:Environments hold names, prefixes and limits, never secrets (those are read from SSM or Secrets Manager); Lambda encrypts them at rest with its service key.
  #checkov:skip=CKV_AWS_50:X-Ray would need xray:PutTraceSegments on *; logs, the queues and their alarms cover operations.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  runtime                        = var.runtime
  handler                        = var.handler
  filename                       = var.zip_path
  source_code_hash               = var.zip_sha256
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  architectures                  = [var.architecture]
  reserved_concurrent_executions = var.reserved_concurrent_executions
  tags                           = var.tags

  environment {
    variables = var.environment_variables
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc]

  lifecycle {
    postcondition {
      condition     = self.arn == local.arn
      error_message = "The function ARN (${self.arn}) differs from the derived one (${local.arn})."
    }
  }
}

# Retries, event age and on-failure destination of asynchronous invocations (S3
# notifications, schedules); Lambda delivers the destination with the role.
resource "aws_lambda_function_event_invoke_config" "this" {
  count = var.async_invocation == null ? 0 : 1

  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.async_invocation.maximum_retry_attempts
  maximum_event_age_in_seconds = var.async_invocation.maximum_event_age_in_seconds

  # An object, not the ARN itself, decides whether the block exists: the
  # destination's ARN may be unknown until its queue is created.
  dynamic "destination_config" {
    for_each = var.async_invocation.on_failure == null ? [] : [var.async_invocation.on_failure]
    content {
      on_failure {
        destination = destination_config.value.destination
      }
    }
  }

  depends_on = [aws_iam_role_policy.this]
}
