# Generic queue alerting: one CloudWatch alarm per watched queue on
# ApproximateNumberOfMessagesVisible -> SNS topic (given) -> Slack notifier
# Lambda, subscribed with a filter policy on the alarms' ARNs so the other
# traffic on a shared topic (e.g. S3 events) never reaches it.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  function_name          = "${var.name}-slack-notifier"
  webhook_parameter_name = coalesce(var.webhook_parameter_name, "/${var.name}/slack-webhook-url")
  webhook_parameter_arn  = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${local.webhook_parameter_name}"

  # Derived like the caller derives them for the topic policy; postconditions
  # on the alarms check the format.
  alarm_arns = {
    for k, q in var.watched_queues :
    k => "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${q.alarm_name}"
  }

  # Derived from the names (known at plan time even while the queues are being
  # created) so the notifier's policy can be reviewed in the plan; the alarms'
  # precondition checks them against the queue_arn values given.
  queue_arns = {
    for k, q in var.watched_queues :
    k => "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${q.queue_name}"
  }
}

# --- alarms -------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  for_each = var.watched_queues

  alarm_name          = each.value.alarm_name
  alarm_description   = coalesce(each.value.alarm_description, "Messages are waiting in ${each.value.queue_name}")
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.queue_name }
  statistic           = var.alarm_statistic
  period              = var.alarm_period
  evaluation_periods  = var.alarm_evaluation_periods
  datapoints_to_alarm = var.alarm_datapoints_to_alarm
  threshold           = var.alarm_threshold
  comparison_operator = var.alarm_comparison_operator
  treat_missing_data  = var.alarm_treat_missing_data
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = var.alarm_datapoints_to_alarm == null ? true : var.alarm_datapoints_to_alarm <= var.alarm_evaluation_periods
      error_message = "alarm_datapoints_to_alarm must not exceed alarm_evaluation_periods."
    }
    # The alarm's only dimension is the queue's name: it watches that name in
    # this account and region, whatever ARN the caller gave.
    precondition {
      condition     = each.value.queue_arn == local.queue_arns[each.key]
      error_message = "Each watched queue must be in this account and region, named queue_name (its queue_arn differs from the derived ARN)."
    }
    postcondition {
      condition     = self.arn == local.alarm_arns[each.key]
      error_message = "The alarm ARN (${self.arn}) differs from the derived one (${local.alarm_arns[each.key]}) used in the subscription filter."
    }
  }
}

# --- webhook secret -----------------------------------------------------------

resource "aws_ssm_parameter" "webhook_url" {
  name        = local.webhook_parameter_name
  description = "Slack incoming-webhook URL of ${local.function_name}"
  type        = "SecureString"
  key_id      = var.ssm_kms_key_arn # null: the AWS-managed aws/ssm key
  value       = var.slack_webhook_url
  tags        = var.tags
}

# --- notifier function --------------------------------------------------------

# A lost notice loses no data: the alarm stays in ALARM and the DLQ keeps its
# messages; failed invocations are in the function's log group.
module "notifier" {
  source = "../lambda_function"

  function_name         = local.function_name
  description           = "Posts CloudWatch alarm notifications to Slack"
  zip_path              = var.lambda_zip_path
  zip_sha256            = var.lambda_zip_sha256
  runtime               = var.lambda_runtime
  architecture          = var.lambda_architecture
  memory_size           = var.lambda_memory_size
  timeout               = var.lambda_timeout
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags

  # The webhook URL itself is never an environment variable (visible to anyone
  # with lambda:GetFunctionConfiguration): the function reads the parameter.
  environment_variables = {
    WEBHOOK_PARAMETER_NAME = aws_ssm_parameter.webhook_url.name
    NOTIFY_ON_OK           = tostring(var.notify_on_ok)
    HTTP_TIMEOUT_SECONDS   = tostring(var.http_timeout_seconds)
  }

  policy_name = "slack-notifier"
  policy_statements = concat(
    [
      {
        Sid      = "ReadWebhookUrl"
        Effect   = "Allow"
        Action   = "ssm:GetParameter"
        Resource = local.webhook_parameter_arn
      },
      {
        # To add the queue's current depth to the notice.
        Sid      = "DescribeWatchedQueues"
        Effect   = "Allow"
        Action   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
        Resource = values(local.queue_arns)
      },
    ],
    # The AWS-managed aws/ssm key needs no statement (its key policy allows
    # use through SSM by principals of the account); a customer-managed key
    # does.
    var.ssm_kms_key_arn == null ? [] : [
      {
        Sid       = "DecryptWebhookUrl"
        Effect    = "Allow"
        Action    = "kms:Decrypt"
        Resource  = var.ssm_kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = "ssm.${local.region}.amazonaws.com" } }
      },
    ],
  )
}

# The seed had no such permission: SNS could not invoke its Slack function.
resource "aws_lambda_permission" "sns" {
  statement_id  = "AllowInvokeFromAlarmTopic"
  action        = "lambda:InvokeFunction"
  function_name = module.notifier.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = var.alarm_topic_arn
}

resource "aws_sns_topic_subscription" "notifier" {
  topic_arn           = var.alarm_topic_arn
  protocol            = "lambda"
  endpoint            = module.notifier.arn
  filter_policy_scope = "MessageBody"
  filter_policy       = jsonencode({ AlarmArn = values(local.alarm_arns) })

  depends_on = [aws_lambda_permission.sns]

  lifecycle {
    # SNS retries a delivery that fails: the notifier must raise its HTTP error
    # before Lambda times it out.
    precondition {
      condition     = var.http_timeout_seconds < var.lambda_timeout
      error_message = "http_timeout_seconds must be below lambda_timeout, or a slow webhook times the function out before the error is raised."
    }
  }
}
