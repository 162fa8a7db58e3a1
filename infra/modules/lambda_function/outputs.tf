output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the execution role."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "Log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

# --- effective settings (for review, and for the callers' tests) --------------

output "environment" {
  description = "Environment variables of the function."
  value       = aws_lambda_function.this.environment[0].variables
}

output "settings" {
  description = "Effective settings: handler, memory, timeout, reserved concurrency, log retention, VPC subnets (empty without a VPC), managed policies attached to the role."
  value = {
    handler                        = aws_lambda_function.this.handler
    memory_size                    = aws_lambda_function.this.memory_size
    timeout                        = aws_lambda_function.this.timeout
    reserved_concurrent_executions = aws_lambda_function.this.reserved_concurrent_executions
    log_retention_in_days          = aws_cloudwatch_log_group.this.retention_in_days
    vpc_subnet_ids                 = flatten(aws_lambda_function.this.vpc_config[*].subnet_ids)
    managed_policy_arns            = aws_iam_role_policy_attachment.vpc[*].policy_arn
  }
}

output "code" {
  description = "Runtime, architectures and code hash: what decides a code redeploy."
  value = {
    runtime          = aws_lambda_function.this.runtime
    architectures    = aws_lambda_function.this.architectures
    source_code_hash = aws_lambda_function.this.source_code_hash
  }
}

output "policy" {
  description = "The execution role's inline policy (decoded)."
  value       = jsondecode(aws_iam_role_policy.this.policy)
}

output "async_invocation" {
  description = "Effective settings of asynchronous invocations (null when Lambda's defaults apply)."
  value = var.async_invocation == null ? null : {
    maximum_retry_attempts       = aws_lambda_function_event_invoke_config.this[0].maximum_retry_attempts
    maximum_event_age_in_seconds = aws_lambda_function_event_invoke_config.this[0].maximum_event_age_in_seconds
    on_failure_destination       = try(var.async_invocation.on_failure.destination, null)
  }
}
