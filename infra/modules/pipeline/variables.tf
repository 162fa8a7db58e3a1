# The environment's values. Each setting is validated once, by the module that
# uses it (labeling, alerting, catalog and their building blocks); an optional
# attribute left out (null) takes that module's default.

variable "name" {
  description = "Prefix of every resource name (`<name>-events`, `<name>-labeler`, `<name>-catalog`, ...); distinct values run stacks side by side."
  type        = string
}

variable "labeling" {
  description = "System A: the images bucket, its queue and the labeler (see modules/labeling/variables.tf for each attribute; zip_path, zip_sha256, timeout and memory_size are the labeler's lambda_* settings)."
  type = object({
    bucket_name                        = string
    zip_path                           = string
    zip_sha256                         = string
    bucket_force_destroy               = optional(bool)
    bucket_versioning_enabled          = optional(bool)
    create_topic_kms_key               = optional(bool)
    kms_key_deletion_window_in_days    = optional(number)
    queue_message_retention_seconds    = optional(number)
    queue_receive_wait_time_seconds    = optional(number)
    queue_visibility_timeout_seconds   = optional(number)
    max_receive_count                  = optional(number)
    timeout                            = optional(number)
    memory_size                        = optional(number)
    safety_margin_ms                   = optional(number)
    rekognition_endpoint               = optional(string)
    batch_size                         = optional(number)
    maximum_batching_window_in_seconds = optional(number)
    maximum_concurrency                = optional(number)
  })
}

variable "alerting" {
  description = "The DLQ alarms, the Slack notifier and its failed notices (see modules/alerting/variables.tf; zip_path, zip_sha256 and timeout are the notifier's lambda_* settings)."
  type = object({
    zip_path                  = string
    zip_sha256                = string
    timeout                   = optional(number)
    alarm_period              = optional(number)
    alarm_evaluation_periods  = optional(number)
    alarm_datapoints_to_alarm = optional(number)
    alarm_threshold           = optional(number)
    alarm_statistic           = optional(string)
    alarm_treat_missing_data  = optional(string)

    # Notices that fail after Lambda's retries: kept in <name>-notifier-failures,
    # whose alarm also publishes to <name>-alerts-fallback (these addresses).
    notifier_retry_attempts        = optional(number)
    notifier_max_event_age_seconds = optional(number)
    fallback_email_addresses       = optional(list(string))
  })
}

variable "catalog" {
  description = "System B: upload and served buckets, resize, work queue, loader and its schedule (see modules/catalog/variables.tf)."
  type = object({
    upload_bucket_name                = string
    served_bucket_name                = string
    cdn_host                          = string
    resize_zip_path                   = string
    resize_zip_sha256                 = string
    loader_zip_path                   = string
    loader_zip_sha256                 = string
    bucket_force_destroy              = optional(bool)
    bucket_versioning_enabled         = optional(bool)
    cdn_distribution_arn              = optional(string)
    resize_timeout                    = optional(number)
    resize_reserved_concurrency       = optional(number)
    resize_retry_attempts             = optional(number)
    loader_timeout                    = optional(number)
    loader_receive_wait_seconds       = optional(number)
    queue_visibility_timeout_seconds  = optional(number)
    max_receive_count                 = optional(number)
    db_secret_recovery_window_in_days = optional(number)
    schedule_first_hour               = optional(number)
    schedule_last_hour                = optional(number)
    schedule_timezone                 = optional(string)
    loader_vpc_config = optional(object({
      subnet_ids         = list(string)
      security_group_ids = list(string)
    }))
  })

  # Also checked by modules/catalog; checked here too because `terraform validate` of
  # an environment evaluates this variable (given literally by the root), not the
  # catalog module's, which it receives through a reference.
  validation {
    condition = alltrue([
      for hour in [var.catalog.schedule_first_hour, var.catalog.schedule_last_hour] :
      hour == null ? true : (hour >= 0 && hour <= 23 && floor(hour) == hour)
    ])
    error_message = "catalog.schedule_first_hour and catalog.schedule_last_hour must be whole hours from 0 to 23 (the loader runs every minute from first_hour:00 to last_hour:00, in catalog.schedule_timezone); got ${coalesce(var.catalog.schedule_first_hour, 7)} and ${coalesce(var.catalog.schedule_last_hour, 21)}."
  }
}

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL, stored only in an SSM SecureString parameter (modules/alerting)."
  type        = string
  sensitive   = true
}

# --- every function, log group and taggable resource ----------------------------

variable "lambda_architecture" {
  description = "Instruction set of every function: x86_64 or arm64; the zips must be built for it."
  type        = string
  default     = "x86_64"
  nullable    = false
}

variable "lambda_runtime" {
  description = "Lambda runtime of every function (python3.12, ...); the zips' dependencies must be built for its Python version."
  type        = string
  default     = "python3.12"
  nullable    = false
}

variable "log_retention_in_days" {
  description = "Retention of every function's log group (0 = never expire)."
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
