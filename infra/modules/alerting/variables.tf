variable "name" {
  description = "Name prefix: notifier function and role `<name>-slack-notifier`, default parameter `/<name>/slack-webhook-url`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "alarm_topic_arn" {
  description = "ARN of the SNS topic the alarms publish to and the notifier subscribes to. Its policy (and key policy, if encrypted) must let cloudwatch.amazonaws.com publish for these alarms' ARNs."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN."
  }
}

variable "watched_queues" {
  description = "Queues to alarm on, keyed by a stable logical name. alarm_name is given by the caller (not derived here) so that the topic owner can compute the alarm ARNs (arn:<partition>:cloudwatch:<region>:<account>:alarm:<alarm_name>) for its policies without depending on this module."
  type = map(object({
    queue_name        = string
    queue_arn         = string
    alarm_name        = string
    alarm_description = optional(string)
  }))

  validation {
    condition     = length(var.watched_queues) >= 1
    error_message = "watched_queues must name at least one queue."
  }

  validation {
    condition     = alltrue([for q in values(var.watched_queues) : length(q.alarm_name) >= 1 && length(q.alarm_name) <= 255 && !strcontains(q.alarm_name, "*")])
    error_message = "Each alarm_name must be 1-255 characters without '*'."
  }

  validation {
    condition     = length(distinct([for q in values(var.watched_queues) : q.alarm_name])) == length(var.watched_queues)
    error_message = "alarm_name values must be unique."
  }
}

# --- alarms -------------------------------------------------------------------

variable "alarm_period" {
  description = "Period of the alarms in seconds (seed: 300). CloudWatch accepts 10, 30 or a multiple of 60 (10 and 30 are high-resolution alarms)."
  type        = number
  default     = 300

  validation {
    condition     = contains([10, 30], var.alarm_period) || (var.alarm_period >= 60 && var.alarm_period % 60 == 0)
    error_message = "alarm_period must be 10, 30 or a multiple of 60."
  }
}

variable "alarm_evaluation_periods" {
  description = "Number of most recent periods the alarm evaluates (seed: 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && floor(var.alarm_evaluation_periods) == var.alarm_evaluation_periods
    error_message = "alarm_evaluation_periods must be a whole number >= 1."
  }
}

variable "alarm_datapoints_to_alarm" {
  description = "Breaching datapoints among alarm_evaluation_periods that trigger ALARM; null = all of them."
  type        = number
  default     = null

  validation {
    condition     = var.alarm_datapoints_to_alarm == null ? true : (var.alarm_datapoints_to_alarm >= 1 && floor(var.alarm_datapoints_to_alarm) == var.alarm_datapoints_to_alarm)
    error_message = "alarm_datapoints_to_alarm must be null or a whole number >= 1."
  }
}

variable "alarm_threshold" {
  description = "Threshold on ApproximateNumberOfMessagesVisible (seed: 1)."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_threshold >= 0
    error_message = "alarm_threshold must be >= 0."
  }
}

variable "alarm_statistic" {
  description = "Statistic of the alarms (seed: Average). Maximum reacts to a single sample, which suits short local periods."
  type        = string
  default     = "Average"

  validation {
    condition     = contains(["SampleCount", "Average", "Sum", "Minimum", "Maximum"], var.alarm_statistic)
    error_message = "alarm_statistic must be SampleCount, Average, Sum, Minimum or Maximum."
  }
}

variable "alarm_comparison_operator" {
  description = "Comparison of the statistic with alarm_threshold."
  type        = string
  default     = "GreaterThanOrEqualToThreshold"

  validation {
    condition     = contains(["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"], var.alarm_comparison_operator)
    error_message = "alarm_comparison_operator must be GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold or LessThanOrEqualToThreshold."
  }
}

variable "alarm_treat_missing_data" {
  description = "How the alarms treat missing datapoints (an idle queue publishes no metric in some setups)."
  type        = string
  default     = "notBreaching"

  validation {
    condition     = contains(["missing", "ignore", "breaching", "notBreaching"], var.alarm_treat_missing_data)
    error_message = "alarm_treat_missing_data must be missing, ignore, breaching or notBreaching."
  }
}

# --- Slack notifier -----------------------------------------------------------

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL. Stored as an SSM SecureString parameter, never as a Lambda environment variable. It is still written to the Terraform state: keep the state encrypted."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^https?://[^[:space:]/]+/[^[:space:]]*$", var.slack_webhook_url))
    error_message = "slack_webhook_url must be an http(s) URL with a path."
  }
}

variable "webhook_parameter_name" {
  description = "Name of the SSM parameter holding the webhook URL; null = `/<name>/slack-webhook-url`."
  type        = string
  default     = null

  validation {
    condition     = var.webhook_parameter_name == null ? true : can(regex("^/[A-Za-z0-9_.\\-/]{1,1010}$", var.webhook_parameter_name))
    error_message = "webhook_parameter_name must be null or an absolute SSM parameter name (starts with '/', letters, digits, _ . - /)."
  }
}

variable "ssm_kms_key_arn" {
  description = "ARN of a customer-managed KMS key encrypting the parameter; null = the AWS-managed aws/ssm key (the notifier then needs no KMS permission)."
  type        = string
  default     = null

  validation {
    condition     = var.ssm_kms_key_arn == null ? true : can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.ssm_kms_key_arn))
    error_message = "ssm_kms_key_arn must be null or a KMS key ARN."
  }
}

variable "lambda_zip_path" {
  description = "Path of the notifier deployment zip (built outside Terraform, handler `app.handler`)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must name a .zip file."
  }
}

variable "lambda_zip_sha256" {
  description = "Base64-encoded SHA-256 of the notifier zip; a change redeploys the code."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.lambda_zip_sha256))
    error_message = "lambda_zip_sha256 must be a base64-encoded SHA-256 digest (44 characters ending in '=')."
  }
}

variable "lambda_timeout" {
  description = "Timeout of the notifier in seconds. The seed's 3 s was too short for the Slack call; 10 s leaves room for the SSM read and http_timeout_seconds."
  type        = number
  default     = 10

  validation {
    condition     = var.lambda_timeout >= 1 && var.lambda_timeout <= 900 && floor(var.lambda_timeout) == var.lambda_timeout
    error_message = "lambda_timeout must be a whole number from 1 to 900."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the notifier in MB (128 or 256 is plenty)."
  type        = number
  default     = 128

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "lambda_memory_size must be a whole number from 128 to 10240."
  }
}

variable "lambda_runtime" {
  description = "Lambda runtime of the notifier; must match the Python version the zip's dependencies were built for (harness promote --python-version)."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.1[2-9]$", var.lambda_runtime))
    error_message = "lambda_runtime must be python3.12 or a later python3 runtime."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of the notifier: x86_64 or arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

variable "notify_on_ok" {
  description = "Also post to Slack when an alarm returns to OK (env NOTIFY_ON_OK)."
  type        = bool
  default     = false
}

variable "http_timeout_seconds" {
  description = "Timeout of the webhook POST (env HTTP_TIMEOUT_SECONDS); must be below lambda_timeout."
  type        = number
  default     = 5

  validation {
    condition     = var.http_timeout_seconds > 0 && var.http_timeout_seconds <= 60
    error_message = "http_timeout_seconds must be above 0 and at most 60."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the notifier's log group (0 = never expire)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}
