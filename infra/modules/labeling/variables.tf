variable "name" {
  description = "Name prefix of every resource of the pipeline: topic `<name>-events`, queues `<name>-labeler` and `<name>-labeler-dlq`, function and role `<name>-labeler`, key alias `alias/<name>-events`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "bucket_name" {
  description = "Name of the images bucket (holds ingest/, results/ and failures/). Must be globally unique on AWS. Checked by modules/private_bucket."
  type        = string
}

variable "bucket_force_destroy" {
  description = "Allow `terraform destroy` to delete the bucket while it still holds objects. Meant for throw-away environments only."
  type        = bool
  default     = false
  nullable    = false
}

variable "bucket_versioning_enabled" {
  description = "Enable object versioning on the bucket (protects uploads and results against overwrites and deletes)."
  type        = bool
  default     = false
  nullable    = false
}

variable "alarm_names" {
  description = "Names of the CloudWatch alarms (in this account and region) that may publish to the topic; `*` wildcards allowed. The topic and key policies turn them into `aws:SourceArn` conditions. Names, not alarm resources, so that the alarms can live in another module that itself needs this module's outputs."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for n in var.alarm_names : length(n) >= 1 && length(n) <= 255])
    error_message = "alarm_names must hold names of 1-255 characters."
  }
}

variable "create_topic_kms_key" {
  description = "Encrypt the topic with a customer-managed KMS key (created here, with a key policy for S3 and the alarms). Keep it on for AWS. false leaves the topic unencrypted: for emulators whose KMS cannot create keys (LocalStack 4.13.x on Python 3.11 without a uuid5 shim)."
  type        = bool
  default     = true
  nullable    = false
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the topic's KMS key is deleted after `terraform destroy`."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30 && floor(var.kms_key_deletion_window_in_days) == var.kms_key_deletion_window_in_days
    error_message = "kms_key_deletion_window_in_days must be a whole number from 7 to 30."
  }
}

# --- queues -------------------------------------------------------------------

variable "queue_message_retention_seconds" {
  description = "How long the main queue keeps a message (seed: 2 days). Checked by modules/queue."
  type        = number
  default     = 172800
  nullable    = false
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message. A standard queue keeps a message's original enqueue time when it is moved to the DLQ, so this must exceed the main queue's retention or messages expire soon after landing in the DLQ. Default: the maximum, 14 days. Checked by modules/queue."
  type        = number
  default     = 1209600
  nullable    = false
}

variable "queue_receive_wait_time_seconds" {
  description = "Long polling wait of the main queue (seed: 15 s; 0-1 s locally). Checked by modules/queue."
  type        = number
  default     = 15
  nullable    = false
}

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the main queue; null = AWS's rule for a queue that triggers a function, 6 x lambda_timeout + maximum_batching_window_in_seconds, so a throttled or retried batch does not become visible again while it is still being processed. A value given must follow the same rule (checked by a precondition). Checked by modules/queue."
  type        = number
  default     = null
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to the DLQ. The seed used 100, which with a 300 s visibility timeout kept a poison image cycling for about 8 hours before anyone was alerted. 5 retries transient errors (throttling, timeouts) a few times and surfaces a bad image within minutes. Checked by modules/queue."
  type        = number
  default     = 5
  nullable    = false
}

# --- labeler function ---------------------------------------------------------

variable "lambda_zip_path" {
  description = "Path of the labeler deployment zip (built outside Terraform, handler `app.handler`). Checked by modules/lambda_function."
  type        = string
}

variable "lambda_zip_sha256" {
  description = "Base64-encoded SHA-256 of the labeler zip (`openssl dgst -sha256 -binary f.zip | base64`); a change redeploys the code. Checked by modules/lambda_function."
  type        = string
}

variable "lambda_memory_size" {
  description = "Memory of the labeler in MB (also scales its CPU share). Checked by modules/lambda_function."
  type        = number
  default     = 512
  nullable    = false
}

variable "lambda_timeout" {
  description = "Timeout of the labeler in seconds (one invocation handles a whole batch). Checked by modules/lambda_function."
  type        = number
  default     = 60
  nullable    = false
}

variable "safety_margin_ms" {
  description = "The labeler starts no new object with less than this left of its invocation (env SAFETY_MARGIN_MS): such objects fail as TimeBudgetExhausted and are retried, instead of being cut off by the timeout. Default 3000: one DetectLabels call (2 attempts) fits on AWS. Must be below lambda_timeout (a precondition checks it)."
  type        = number
  default     = 3000
  nullable    = false

  validation {
    condition     = var.safety_margin_ms >= 0 && floor(var.safety_margin_ms) == var.safety_margin_ms
    error_message = "safety_margin_ms must be a whole number of milliseconds >= 0."
  }
}

variable "lambda_runtime" {
  description = "Lambda runtime of the labeler; must match the Python version the zip's dependencies were built for (harness promote --python-version). Checked by modules/lambda_function."
  type        = string
  default     = "python3.12"
  nullable    = false
}

variable "lambda_architecture" {
  description = "Instruction set of the labeler: x86_64 or arm64 (must match the wheels bundled in the zip). Checked by modules/lambda_function."
  type        = string
  default     = "x86_64"
  nullable    = false
}

variable "min_confidence" {
  description = "DetectLabels MinConfidence (env MIN_CONFIDENCE)."
  type        = number
  default     = 70
  nullable    = false

  validation {
    condition     = var.min_confidence >= 0 && var.min_confidence <= 100
    error_message = "min_confidence must be from 0 to 100."
  }
}

variable "max_labels" {
  description = "DetectLabels MaxLabels (env MAX_LABELS)."
  type        = number
  default     = 25
  nullable    = false

  validation {
    condition     = var.max_labels >= 1 && var.max_labels <= 1000 && floor(var.max_labels) == var.max_labels
    error_message = "max_labels must be a whole number from 1 to 1000."
  }
}

variable "rekognition_endpoint" {
  description = "Endpoint URL of a Rekognition stand-in, set as AWS_ENDPOINT_URL_REKOGNITION. Local emulation only; leave null on AWS."
  type        = string
  default     = null

  validation {
    condition     = var.rekognition_endpoint == null || can(regex("^https?://[^[:space:]/]+(/.*)?$", var.rekognition_endpoint))
    error_message = "rekognition_endpoint must be null or an http(s) URL."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the labeler's log group (0 = never expire). Checked by modules/lambda_function."
  type        = number
  default     = 30
  nullable    = false
}

# --- event source mapping -----------------------------------------------------

variable "batch_size" {
  description = "Maximum SQS messages per invocation. Above 10 requires maximum_batching_window_in_seconds >= 1."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number from 1 to 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the event source mapping may wait to fill a batch (0 = invoke as soon as messages arrive)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300 && floor(var.maximum_batching_window_in_seconds) == var.maximum_batching_window_in_seconds
    error_message = "maximum_batching_window_in_seconds must be a whole number from 0 to 300."
  }
}

variable "maximum_concurrency" {
  description = "Maximum concurrent invocations the event source mapping starts (2-1000), e.g. to stay under the DetectLabels TPS quota; null = no limit."
  type        = number
  default     = null

  validation {
    condition     = var.maximum_concurrency == null ? true : (var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000 && floor(var.maximum_concurrency) == var.maximum_concurrency)
    error_message = "maximum_concurrency must be null or a whole number from 2 to 1000."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
