variable "name" {
  description = "Name prefix: functions and roles `<name>-resize` and `<name>-catalog-loader`, queues `<name>-catalog`, `<name>-catalog-dlq` and `<name>-resize-failures`, schedule `<name>-catalog-loader`, secret `<name>/catalog/database`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

# --- buckets ------------------------------------------------------------------

variable "upload_bucket_name" {
  description = "Bucket the operators upload originals to (`origin/{vertical}/{cd_idx}_{sequence}.jpg`); rejection records go to its `rejected/`. Globally unique on AWS (seed: celebtide-image-upload). Checked by modules/private_bucket."
  type        = string
}

variable "served_bucket_name" {
  description = "Bucket of the renditions, `{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg`, behind the CDN (seed: celebtide). Checked by modules/private_bucket."
  type        = string
}

variable "bucket_force_destroy" {
  description = "Allow `terraform destroy` to delete both buckets while they hold objects. Throw-away environments only."
  type        = bool
  default     = false
  nullable    = false
}

variable "bucket_versioning_enabled" {
  description = "Enable versioning on both buckets (protects originals and renditions against overwrites and deletes)."
  type        = bool
  default     = false
  nullable    = false
}

variable "cdn_distribution_arn" {
  description = "ARN of the CloudFront distribution that serves the served bucket (with origin access control); null = no CDN statement in the bucket policy. The distribution itself is not part of this module."
  type        = string
  default     = null

  validation {
    condition     = var.cdn_distribution_arn == null ? true : can(regex("^arn:[a-z-]+:cloudfront::[0-9]{12}:distribution/[A-Z0-9]+$", var.cdn_distribution_arn))
    error_message = "cdn_distribution_arn must be a CloudFront distribution ARN."
  }
}

variable "cdn_host" {
  description = "Host name of the CDN in the catalog URLs, `https://<cdn_host>/{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg` (seed: image.mycelebs.com)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$", var.cdn_host))
    error_message = "cdn_host must be a lowercase host name (optionally with :port), without scheme or path."
  }
}

# --- resize function ----------------------------------------------------------

variable "image_sizes" {
  description = "Renditions: size name -> longest edge in pixels. The name appears in keys and URLs. Each image gets one row per size in the catalog."
  type        = map(number)
  default = {
    large  = 1280
    medium = 800
    small  = 400
    thumb  = 160
  }
  nullable = false

  validation {
    condition     = length(var.image_sizes) >= 1 && alltrue([for k, v in var.image_sizes : can(regex("^[a-z0-9]{1,20}$", k)) && v >= 16 && v <= 8192 && floor(v) == v])
    error_message = "image_sizes must name at least one size; names of 1-20 lowercase letters or digits, edges whole numbers from 16 to 8192."
  }
}

variable "jpeg_quality" {
  description = "JPEG quality of the renditions (1-95)."
  type        = number
  default     = 85
  nullable    = false

  validation {
    condition     = var.jpeg_quality >= 1 && var.jpeg_quality <= 95 && floor(var.jpeg_quality) == var.jpeg_quality
    error_message = "jpeg_quality must be a whole number from 1 to 95."
  }
}

variable "max_source_megapixels" {
  description = "Originals with more pixels are rejected (a decompression bomb guard; 12 MP photos need about 40 MB decoded)."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.max_source_megapixels >= 1 && var.max_source_megapixels <= 500
    error_message = "max_source_megapixels must be from 1 to 500."
  }
}

variable "resize_zip_path" {
  description = "Path of the resize function's zip (build/<...>/lambdas-<arch>-py<version>/resize.zip)."
  type        = string
}

variable "resize_zip_sha256" {
  description = "Base64-encoded SHA-256 of the resize zip; a change redeploys the code. Checked by modules/lambda_function."
  type        = string
}

variable "resize_memory_size" {
  description = "Memory of the resize function in MB; Lambda's CPU share grows with it, and resizing is CPU-bound."
  type        = number
  default     = 1024
  nullable    = false

  validation {
    condition     = var.resize_memory_size >= 256 && var.resize_memory_size <= 10240 && floor(var.resize_memory_size) == var.resize_memory_size
    error_message = "resize_memory_size must be a whole number from 256 to 10240."
  }
}

variable "resize_timeout" {
  description = "Timeout of the resize function in seconds."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.resize_timeout >= 3 && var.resize_timeout <= 900 && floor(var.resize_timeout) == var.resize_timeout
    error_message = "resize_timeout must be a whole number from 3 to 900."
  }
}

variable "resize_reserved_concurrency" {
  description = "Reserved concurrency of the resize function; null = unreserved. A bulk upload of thousands of originals otherwise takes as many concurrent executions as the account allows."
  type        = number
  default     = null

  validation {
    condition     = var.resize_reserved_concurrency == null ? true : var.resize_reserved_concurrency >= 1 && floor(var.resize_reserved_concurrency) == var.resize_reserved_concurrency
    error_message = "resize_reserved_concurrency must be null or a whole number >= 1."
  }
}

variable "resize_retry_attempts" {
  description = "Lambda's retries of a failed asynchronous resize invocation (0-2) before the event goes to the resize-failures queue. Checked by modules/lambda_function."
  type        = number
  default     = 2
  nullable    = false
}

variable "resize_max_event_age_seconds" {
  description = "An upload event not resized within this many seconds (throttling) goes to the resize-failures queue. Checked by modules/lambda_function."
  type        = number
  default     = 21600
  nullable    = false
}

# --- work queue ---------------------------------------------------------------

variable "queue_message_retention_seconds" {
  description = "How long the work queue keeps a message. The loader runs only from 07:00 to 21:00 (Asia/Seoul), so messages of the night wait about 10 hours; the default (4 days) also covers a loader outage over a weekend."
  type        = number
  default     = 345600
  nullable    = false

  validation {
    condition     = var.queue_message_retention_seconds >= 3600 && var.queue_message_retention_seconds <= 1209600 && floor(var.queue_message_retention_seconds) == var.queue_message_retention_seconds
    error_message = "queue_message_retention_seconds must be a whole number from 3600 to 1209600 (14 days)."
  }
}

variable "queue_visibility_timeout_seconds" {
  description = "How long a message received by the loader stays hidden; must cover the loader's timeout, or a message in a batch still being written could be loaded twice (harmless, but wasteful). Checked by modules/queue."
  type        = number
  default     = 120
  nullable    = false
}

variable "max_receive_count" {
  description = "Receives of a message the loader cannot load (malformed) before SQS moves it to the DLQ. A database outage does not count: the loader receives nothing while the database is down. Checked by modules/queue."
  type        = number
  default     = 5
  nullable    = false
}

variable "dlq_message_retention_seconds" {
  description = "How long the DLQ and the resize-failures queue keep a message (default: the maximum, 14 days). Checked by modules/queue."
  type        = number
  default     = 1209600
  nullable    = false
}

# --- catalog loader -----------------------------------------------------------

variable "loader_zip_path" {
  description = "Path of the catalog loader's zip (build/<...>/lambdas-<arch>-py<version>/catalog_loader.zip)."
  type        = string
}

variable "loader_zip_sha256" {
  description = "Base64-encoded SHA-256 of the loader zip. Checked by modules/lambda_function."
  type        = string
}

variable "loader_timeout" {
  description = "Timeout of the loader in seconds. Below the schedule's period (60 s) so that one run ends before the next starts; the loader stops taking new batches 5 s before it."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = var.loader_timeout >= 10 && var.loader_timeout <= 900 && floor(var.loader_timeout) == var.loader_timeout
    error_message = "loader_timeout must be a whole number from 10 to 900."
  }
}

variable "loader_memory_size" {
  description = "Memory of the loader in MB. Checked by modules/lambda_function."
  type        = number
  default     = 256
  nullable    = false
}

variable "loader_receive_wait_seconds" {
  description = "SQS long polling of each receive by the loader; the run ends at the first empty receive (short polling can miss messages on AWS, so keep >= 1 there)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.loader_receive_wait_seconds >= 0 && var.loader_receive_wait_seconds <= 20 && floor(var.loader_receive_wait_seconds) == var.loader_receive_wait_seconds
    error_message = "loader_receive_wait_seconds must be a whole number from 0 to 20."
  }
}

variable "loader_vpc_config" {
  description = "Subnets and security groups when the database is in a VPC (RDS); null = no VPC. The subnets then need a route to SQS and Secrets Manager (VPC endpoints or NAT)."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "schedule_first_hour" {
  description = "First hour of the loader's window, in schedule_timezone: it runs every minute from <first>:00 (seed: \"from 07:00 to 21:00\", so 7). Read by the harness's schedule evaluator too."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.schedule_first_hour >= 0 && var.schedule_first_hour <= 23 && floor(var.schedule_first_hour) == var.schedule_first_hour
    error_message = "schedule_first_hour must be a whole hour from 0 to 23 (the hour of the first run, in schedule_timezone), not ${var.schedule_first_hour}."
  }
}

variable "schedule_last_hour" {
  description = "Last hour of the loader's window, inclusive: the last run is at <last>:00 exactly (seed: \"from 07:00 to 21:00\" read inclusively, so 21: 21:00 runs, 21:01 does not). Must be after schedule_first_hour. Read by the harness's schedule evaluator too."
  type        = number
  default     = 21
  nullable    = false

  validation {
    condition     = var.schedule_last_hour >= 0 && var.schedule_last_hour <= 23 && floor(var.schedule_last_hour) == var.schedule_last_hour
    error_message = "schedule_last_hour must be a whole hour from 0 to 23 (the hour of the last run, at :00, in schedule_timezone), not ${var.schedule_last_hour}."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone of the schedule's hours (the team works in Korea)."
  type        = string
  default     = "Asia/Seoul"
  nullable    = false

  validation {
    condition     = can(regex("^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+)+)$", var.schedule_timezone))
    error_message = "schedule_timezone must be an IANA time zone such as Asia/Seoul, or UTC."
  }
}

variable "schedule_enabled" {
  description = "Whether the schedule runs (false pauses loading; messages wait in the queue)."
  type        = bool
  default     = true
  nullable    = false
}

variable "db_secret_recovery_window_in_days" {
  description = "Days a deleted database secret can still be restored (0 = delete at once, for throw-away environments)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.db_secret_recovery_window_in_days == 0 || (var.db_secret_recovery_window_in_days >= 7 && var.db_secret_recovery_window_in_days <= 30)
    error_message = "db_secret_recovery_window_in_days must be 0 or from 7 to 30."
  }
}

variable "db_secret_kms_key_arn" {
  description = "Customer-managed KMS key of the database secret; null = the AWS-managed aws/secretsmanager key."
  type        = string
  default     = null
}

# --- common -------------------------------------------------------------------

variable "lambda_architecture" {
  description = "Instruction set of both functions: x86_64 or arm64 (must match the wheels bundled in the zips). Checked by modules/lambda_function."
  type        = string
  default     = "x86_64"
  nullable    = false
}

variable "lambda_runtime" {
  description = "Lambda runtime of both functions; must match the Python version the zips' dependencies were built for. Checked by modules/lambda_function."
  type        = string
  default     = "python3.12"
  nullable    = false
}

variable "log_retention_in_days" {
  description = "Retention of both functions' log groups (0 = never expire). Checked by modules/lambda_function."
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
