# Generic queue alerting: one CloudWatch alarm per watched queue on
# ApproximateNumberOfMessagesVisible -> SNS topic (given) -> Slack notifier
# Lambda, subscribed with a filter policy on the alarms' ARNs so the other
# traffic on a shared topic (e.g. S3 events) never reaches it.
#
# A notice is never lost: a notifier invocation that still fails after Lambda's
# retries (Slack down longer than the retry window) goes, with its error, to the
# notifier's on-failure destination, the `<name>-notifier-failures` queue, until
# an operator redrives it (`harness dlq redrive --queue notifier-failures` invokes
# the notifier with each record). That queue is alarmed like the watched ones, and
# its alarm publishes to a second topic, `<name>-alerts-fallback`, as well: a Slack
# outage cannot hide the alarm that says notices are waiting.

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

  failures_queue_name = "${var.name}-notifier-failures"
  failures_queue_arn  = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.failures_queue_name}"
  failures_alarm_name = coalesce(var.notifier_failures_alarm_name, "${var.name}-notifier-failures-not-empty")
  fallback_topic_name = "${var.name}-alerts-fallback"
  fallback_topic_arn  = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.fallback_topic_name}"
  # From the role's name (known at plan time, so the queue policy can be reviewed in
  # the plan), which also makes the queue wait for the role: SQS refuses a policy
  # naming a principal that does not exist yet.
  notifier_role_arn = "arn:${local.partition}:iam::${local.account_id}:role/${module.notifier.role_name}"

  # The caller's queues and the notifier's own failures queue, alarmed alike. The
  # failures queue's ARN is derived, so `module.failures_queue.arn` is not needed
  # (nor known) when the alarms are planned.
  alarmed_queues = merge(var.watched_queues, {
    notifier_failures = {
      queue_name        = local.failures_queue_name
      queue_arn         = local.failures_queue_arn
      alarm_name        = local.failures_alarm_name
      alarm_description = "Slack notices failed after the notifier's retries and wait in ${local.failures_queue_name}: fix the cause, then `harness dlq redrive --queue notifier-failures` (this alarm also goes to ${local.fallback_topic_name}, not only to Slack)"
    }
  })

  # Derived like the caller derives them for the topic policy; postconditions
  # on the alarms check the format.
  alarm_arns = {
    for k, q in local.alarmed_queues :
    k => "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${q.alarm_name}"
  }

  # Derived from the names (known at plan time even while the queues are being
  # created) so the notifier's policy can be reviewed in the plan; the alarms'
  # precondition checks them against the queue_arn values given.
  queue_arns = {
    for k, q in local.alarmed_queues :
    k => "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${q.queue_name}"
  }
}

# --- alarms -------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  for_each = local.alarmed_queues

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
  # The failures queue's alarm reaches people through the fallback topic too.
  # (Derived ARN, known at plan time; depends_on creates the topic first.)
  alarm_actions = each.key == "notifier_failures" ? [var.alarm_topic_arn, local.fallback_topic_arn] : [var.alarm_topic_arn]
  ok_actions    = each.key == "notifier_failures" ? [var.alarm_topic_arn, local.fallback_topic_arn] : [var.alarm_topic_arn]
  tags          = var.tags

  depends_on = [aws_sns_topic.fallback]

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

# Invoked asynchronously by SNS. Lambda retries a failed invocation
# (notifier_retry_attempts, AWS's default 2), then sends the event and the error to
# the notifier-failures queue (its on-failure destination, delivered with the
# function's role), where it waits for a redrive.
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

  async_invocation = {
    maximum_retry_attempts       = var.notifier_retry_attempts
    maximum_event_age_in_seconds = var.notifier_max_event_age_seconds
    # The derived ARN from the queue's name: known at plan time, and the invoke
    # config still waits for the queue (Lambda checks the destination exists).
    on_failure = { destination = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${module.failures_queue.name}" }
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
      {
        # Lambda delivers the on-failure destination with the function's role.
        Sid      = "ReportFailedNotices"
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = local.failures_queue_arn
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

# --- notices that failed after the retries ------------------------------------

# The notifier's on-failure destination: each message is Lambda's failure record
# (the SNS event in `requestPayload`, the error in `responsePayload`). Nothing
# consumes it automatically (an event source mapping would loop while Slack is
# down): `harness dlq redrive --queue notifier-failures` invokes the notifier with
# each record once Slack answers again, deleting a message only after Lambda
# accepted its invocation.
module "failures_queue" {
  source = "../queue"

  name                      = local.failures_queue_name
  message_retention_seconds = var.failures_message_retention_seconds
  tags                      = var.tags

  # Only the notifier's role sends here (Lambda delivers the destination with it);
  # operators read and delete with their own IAM permissions.
  policy_statements = [
    {
      Sid       = "AllowNotifierOnFailureDestination"
      Effect    = "Allow"
      Principal = { AWS = local.notifier_role_arn }
      Action    = "sqs:SendMessage"
      Resource  = local.failures_queue_arn
    },
    {
      Sid       = "DenySendersOtherThanTheNotifier"
      Effect    = "Deny"
      Principal = "*"
      Action    = "sqs:SendMessage"
      Resource  = local.failures_queue_arn
      Condition = { ArnNotEquals = { "aws:PrincipalArn" = local.notifier_role_arn } }
    },
  ]
}

# --- fallback: the failures alarm without Slack ---------------------------------

# The alarm on the failures queue publishes here as well as to the alarm topic, so
# it reaches people even while Slack (and so the notifier) is down: e-mail
# subscriptions on AWS (fallback_email_addresses; each address confirms once),
# any other subscriber an operator adds. Encrypted with the alarm topic's key.
resource "aws_sns_topic" "fallback" {
  name              = local.fallback_topic_name
  kms_master_key_id = var.fallback_topic_kms_key_id
  tags              = var.tags

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AllowNotifierFailuresAlarm"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = local.fallback_topic_arn
      Condition = {
        ArnLike      = { "aws:SourceArn" = [local.alarm_arns["notifier_failures"]] }
        StringEquals = { "aws:SourceAccount" = local.account_id }
      }
    }]
  })

  lifecycle {
    postcondition {
      condition     = self.arn == local.fallback_topic_arn
      error_message = "The fallback topic ARN (${self.arn}) differs from the one its policy was built with (${local.fallback_topic_arn})."
    }
  }
}

resource "aws_sns_topic_subscription" "fallback_email" {
  for_each = toset(var.fallback_email_addresses)

  topic_arn = aws_sns_topic.fallback.arn
  protocol  = "email"
  endpoint  = each.value
}
