output "alarm_names" {
  description = "Alarm names, keyed like watched_queues."
  value       = { for k, a in aws_cloudwatch_metric_alarm.queue_depth : k => a.alarm_name }
}

output "alarm_arns" {
  description = "Alarm ARNs, keyed like watched_queues."
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

# --- effective settings (for review, and for the environments' tests) ---------

output "alarm_settings" {
  description = "Effective settings of each alarm, keyed like watched_queues."
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
