output "alarm_names" {
  description = "Alarm names, keyed like watched_queues, plus notifier_failures (the notifier-failures queue's)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.queue_depth : k => a.alarm_name }
}

output "alarm_arns" {
  description = "Alarm ARNs, keyed like alarm_names."
  value       = { for k, a in aws_cloudwatch_metric_alarm.queue_depth : k => a.arn }
}

output "notifier_function_name" {
  description = "Name of the Slack notifier function."
  value       = module.notifier.function_name
}

output "notifier_function_arn" {
  description = "ARN of the Slack notifier function."
  value       = module.notifier.arn
}

output "notifier_log_group_name" {
  description = "Log group of the Slack notifier."
  value       = module.notifier.log_group_name
}

output "webhook_parameter_name" {
  description = "Name of the SSM SecureString parameter holding the webhook URL."
  value       = aws_ssm_parameter.webhook_url.name
}

output "webhook_parameter_arn" {
  description = "ARN of the webhook parameter."
  value       = aws_ssm_parameter.webhook_url.arn
}

output "subscription_arn" {
  description = "ARN of the notifier's topic subscription."
  value       = aws_sns_topic_subscription.notifier.arn
}

output "notifier_failures_queue_url" {
  description = "URL of the notifier-failures queue (the notifier's on-failure destination: notices that failed after Lambda's retries)."
  value       = module.failures_queue.url
}

output "notifier_failures_queue_name" {
  description = "Name of the notifier-failures queue."
  value       = module.failures_queue.name
}

output "notifier_failures_queue_arn" {
  description = "ARN of the notifier-failures queue."
  value       = module.failures_queue.arn
}

output "fallback_topic_arn" {
  description = "ARN of the `<name>-alerts-fallback` topic: the notifier-failures alarm, without Slack."
  value       = aws_sns_topic.fallback.arn
}

output "fallback_topic_name" {
  description = "Name of the fallback topic."
  value       = aws_sns_topic.fallback.name
}

# --- effective settings (for review, and for the environments' tests) ---------

output "alarm_settings" {
  description = "Effective settings of each alarm, keyed like alarm_names."
  value = {
    for k, a in aws_cloudwatch_metric_alarm.queue_depth : k => {
      queue_name          = a.dimensions["QueueName"]
      statistic           = a.statistic
      period              = a.period
      evaluation_periods  = a.evaluation_periods
      datapoints_to_alarm = a.datapoints_to_alarm
      threshold           = a.threshold
      comparison_operator = a.comparison_operator
      treat_missing_data  = a.treat_missing_data
    }
  }
}

output "subscription_filter_policy" {
  description = "Filter policy of the notifier's subscription (decoded)."
  value       = jsondecode(aws_sns_topic_subscription.notifier.filter_policy)
}

output "notifier_environment" {
  description = "Environment variables of the notifier (never the webhook URL)."
  value       = module.notifier.environment
}

output "notifier_timeout" {
  description = "Timeout of the notifier in seconds."
  value       = module.notifier.settings.timeout
}

output "notifier_code" {
  description = "Runtime, architectures and code hash of the notifier: what decides a code redeploy."
  value       = module.notifier.code
}

output "notifier_async_invocation" {
  description = "Retries, maximum event age and on-failure destination of the notifier's asynchronous invocations."
  value       = module.notifier.async_invocation
}

output "notifier_failures_queue_policy" {
  description = "Policy of the notifier-failures queue (decoded)."
  value       = module.failures_queue.policy
}

output "notifier_failures_queue_settings" {
  description = "Effective settings of the notifier-failures queue."
  value       = module.failures_queue.settings
}

output "alarm_actions" {
  description = "Where each alarm's ALARM transition publishes, keyed like alarm_names."
  value       = { for k, a in aws_cloudwatch_metric_alarm.queue_depth : k => a.alarm_actions }
}

output "fallback_topic_policy" {
  description = "Policy of the fallback topic (decoded)."
  value       = jsondecode(aws_sns_topic.fallback.policy)
}

output "fallback_email_addresses" {
  description = "E-mail addresses subscribed to the fallback topic."
  value       = sort([for s in aws_sns_topic_subscription.fallback_email : s.endpoint])
}
