variable "name" {
  description = "Name prefix: notifier function and role `<name>-slack-notifier`, default parameter `/<name>/slack-webhook-url`, queue `<name>-notifier-failures` (and its alarm `<name>-notifier-failures-not-empty` by default), topic `<name>-alerts-fallback`."
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

  validation {
    condition     = !contains(keys(var.watched_queues), "notifier_failures")
    error_message = "notifier_failures is the key of the notifier's own failures queue (this module alarms on it); name watched queues otherwise."
  }
}

# --- alarms -------------------------------------------------------------------

variable "alarm_period" {
  description = "Period of the alarms in seconds (seed: 300). CloudWatch accepts 10, 30 or a multiple of 60 (10 and 30 are high-resolution alarms)."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = contains([10, 30], var.alarm_period) || (var.alarm_period >= 60 && var.alarm_period % 60 == 0)
    error_message = "alarm_period must be 10, 30 or a multiple of 60."
  }
}

variable "alarm_evaluation_periods" {
  description = "Number of most recent periods the alarm evaluates (seed: 2)."
  type        = number
  default     = 2
  nullable    = false

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
  nullable    = false

  validation {
    condition     = var.alarm_threshold >= 0
    error_message = "alarm_threshold must be >= 0."
  }
}

variable "alarm_statistic" {
  description = "Statistic of the alarms (seed: Average). Maximum reacts to a single sample, which suits short local periods."
  type        = string
  default     = "Average"
  nullable    = false

  validation {
    condition     = contains(["SampleCount", "Average", "Sum", "Minimum", "Maximum"], var.alarm_statistic)
    error_message = "alarm_statistic must be SampleCount, Average, Sum, Minimum or Maximum."
  }
}

variable "alarm_comparison_operator" {
  description = "Comparison of the statistic with alarm_threshold."
  type        = string
  default     = "GreaterThanOrEqualToThreshold"
  nullable    = false

  validation {
    condition     = contains(["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"], var.alarm_comparison_operator)
    error_message = "alarm_comparison_operator must be GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold or LessThanOrEqualToThreshold."
  }
}

variable "alarm_treat_missing_data" {
  description = "How the alarms treat missing datapoints (an idle queue publishes no metric in some setups)."
  type        = string
  default     = "notBreaching"
  nullable    = false

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
  description = "Path of the notifier deployment zip (built outside Terraform, handler `app.handler`). Checked by modules/lambda_function."
  type        = string
}

variable "lambda_zip_sha256" {
  description = "Base64-encoded SHA-256 of the notifier zip; a change redeploys the code. Checked by modules/lambda_function."
  type        = string
}

variable "lambda_timeout" {
  description = "Timeout of the notifier in seconds. The seed's 3 s was too short for the Slack call; 10 s leaves room for the SSM read and http_timeout_seconds. Checked by modules/lambda_function."
  type        = number
  default     = 10
  nullable    = false
}

variable "lambda_memory_size" {
  description = "Memory of the notifier in MB (128 or 256 is plenty). Checked by modules/lambda_function."
  type        = number
  default     = 128
  nullable    = false
}

variable "lambda_runtime" {
  description = "Lambda runtime of the notifier; must match the Python version the zip's dependencies were built for (harness promote --python-version). Checked by modules/lambda_function."
  type        = string
  default     = "python3.12"
  nullable    = false
}

variable "lambda_architecture" {
  description = "Instruction set of the notifier: x86_64 or arm64. Checked by modules/lambda_function."
  type        = string
  default     = "x86_64"
  nullable    = false
}

variable "notify_on_ok" {
  description = "Also post to Slack when an alarm returns to OK (env NOTIFY_ON_OK)."
  type        = bool
  default     = false
  nullable    = false
}

variable "http_timeout_seconds" {
  description = "Timeout of the webhook POST (env HTTP_TIMEOUT_SECONDS); must be below lambda_timeout."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.http_timeout_seconds > 0 && var.http_timeout_seconds <= 60
    error_message = "http_timeout_seconds must be above 0 and at most 60."
  }
}

# --- notices that failed after the retries ---------------------------------------

variable "notifier_retry_attempts" {
  description = "Lambda's retries of a failed asynchronous notifier invocation (0-2; AWS's default, 2) before the event goes to the notifier-failures queue. Checked by modules/lambda_function."
  type        = number
  default     = 2
  nullable    = false
}

variable "notifier_max_event_age_seconds" {
  description = "A notice not delivered within this many seconds (Lambda throttled, or retries still pending) goes to the notifier-failures queue (60-21600; AWS's default, 6 hours). Checked by modules/lambda_function."
  type        = number
  default     = 21600
  nullable    = false
}

variable "failures_message_retention_seconds" {
  description = "How long the notifier-failures queue keeps a failed notice (default: the maximum, 14 days; longer than any Slack outage worth redriving). Checked by modules/queue."
  type        = number
  default     = 1209600
  nullable    = false
}

variable "notifier_failures_alarm_name" {
  description = "Name of the alarm on the notifier-failures queue; null = `<name>-notifier-failures-not-empty`. Given by a caller that must know it in advance (the alarm topic's policy trusts it: the alarm publishes there too)."
  type        = string
  default     = null

  validation {
    condition     = var.notifier_failures_alarm_name == null ? true : length(var.notifier_failures_alarm_name) >= 1 && length(var.notifier_failures_alarm_name) <= 255 && !strcontains(var.notifier_failures_alarm_name, "*")
    error_message = "notifier_failures_alarm_name must be null or 1-255 characters without '*'."
  }
}

variable "fallback_topic_kms_key_id" {
  description = "KMS key (ID, ARN or alias) encrypting the `<name>-alerts-fallback` topic, e.g. the alarm topic's customer-managed key, whose policy must let cloudwatch.amazonaws.com use it for the notifier-failures alarm; null = unencrypted (emulators whose KMS cannot create keys)."
  type        = string
}

variable "fallback_email_addresses" {
  description = "E-mail addresses subscribed to the `<name>-alerts-fallback` topic, which receives the notifier-failures alarm without going through Slack. Each address must confirm its subscription once (SNS sends a link); empty = no e-mail subscription (the topic is still there for other subscribers)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for a in var.fallback_email_addresses : can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", a))])
    error_message = "fallback_email_addresses must be e-mail addresses."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the notifier's log group (0 = never expire). Checked by modules/lambda_function."
  type        = number
  default     = 30
  nullable    = false
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
