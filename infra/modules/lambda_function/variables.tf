variable "function_name" {
  description = "Name of the function; also of its execution role and of its log group `/aws/lambda/<function_name>`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "What the function does (shown in the console)."
  type        = string
  default     = null
}

variable "zip_path" {
  description = "Path of the deployment zip, built outside Terraform."
  type        = string

  validation {
    condition     = endswith(var.zip_path, ".zip")
    error_message = "zip_path must name a .zip file."
  }
}

variable "zip_sha256" {
  description = "Base64-encoded SHA-256 of the zip (`openssl dgst -sha256 -binary f.zip | base64`); a change redeploys the code."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.zip_sha256))
    error_message = "zip_sha256 must be a base64-encoded SHA-256 digest (44 characters ending in '=')."
  }
}

variable "handler" {
  description = "Entry point in the zip."
  type        = string
  default     = "app.handler"
  nullable    = false
}

variable "runtime" {
  description = "Lambda runtime; must match the Python version the zip's dependencies were built for."
  type        = string
  default     = "python3.12"
  nullable    = false

  validation {
    condition     = can(regex("^python3\\.1[2-9]$", var.runtime))
    error_message = "runtime must be python3.12 or a later python3 runtime."
  }
}

variable "architecture" {
  description = "Instruction set: x86_64 or arm64 (must match the wheels bundled in the zip)."
  type        = string
  default     = "x86_64"
  nullable    = false

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory in MB (Lambda's CPU share grows with it)."
  type        = number
  default     = 128
  nullable    = false

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number from 128 to 10240."
  }
}

variable "timeout" {
  description = "Timeout of one invocation in seconds."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number from 1 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; -1 = unreserved (the account's pool)."
  type        = number
  default     = -1
  nullable    = false

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 or a whole number >= 0."
  }
}

variable "environment_variables" {
  description = "Environment of the function: names and settings, never secrets (the function reads those from SSM or Secrets Manager)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "policy_name" {
  description = "Name of the execution role's inline policy."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,128}$", var.policy_name))
    error_message = "policy_name must be 1-128 characters of letters, digits and +=,.@_-."
  }
}

variable "policy_statements" {
  description = "What the function may do besides writing to its own log group (which the policy always grants first): IAM statements as objects (`Sid`, `Effect`, `Action`, `Resource`, `Condition`), each scoped to the resources the code uses."
  type        = any
  default     = []
  nullable    = false

  validation {
    condition     = can(length(var.policy_statements)) && alltrue([for s in var.policy_statements : can(s.Sid) && can(s.Action) && can(s.Resource)])
    error_message = "policy_statements must be a list of statements, each with a Sid, an Action and a Resource."
  }
}

variable "vpc_config" {
  description = "Subnets and security groups when the function must reach resources in a VPC (e.g. RDS); null = no VPC. Adds the managed AWSLambdaVPCAccessExecutionRole policy (ENIs)."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "async_invocation" {
  description = "Retries, maximum event age and on-failure destination (`on_failure = { destination = <SQS queue ARN> }`, or left out) of asynchronous invocations; null = Lambda's defaults (2 retries, 6 hours, no destination). The role must be allowed to send to the destination."
  type = object({
    maximum_retry_attempts       = number
    maximum_event_age_in_seconds = number
    on_failure = optional(object({
      destination = string
    }))
  })
  default = null

  validation {
    condition = var.async_invocation == null ? true : (
      contains([0, 1, 2], var.async_invocation.maximum_retry_attempts) &&
      var.async_invocation.maximum_event_age_in_seconds >= 60 && var.async_invocation.maximum_event_age_in_seconds <= 21600
    )
    error_message = "async_invocation needs maximum_retry_attempts 0, 1 or 2 and maximum_event_age_in_seconds from 60 to 21600."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group (0 = never expire)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "tags" {
  description = "Tags of the function, its role and its log group."
  type        = map(string)
  default     = {}
  nullable    = false
}
