variable "region" {
  description = "Region of the emulated account."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name; use distinct values to run several stacks side by side."
  type        = string
  default     = "imgpipe"
}

variable "labeler_zip_path" {
  description = "Path of the labeler zip built by the harness (build/local/lambdas-<arch>-py<version>/labeler.zip)."
  type        = string
}

variable "labeler_zip_sha256" {
  description = "Base64-encoded SHA-256 of the labeler zip."
  type        = string
}

variable "notifier_zip_path" {
  description = "Path of the Slack notifier zip built by the harness (build/local/lambdas-<arch>-py<version>/slack_notifier.zip)."
  type        = string
}

variable "notifier_zip_sha256" {
  description = "Base64-encoded SHA-256 of the Slack notifier zip."
  type        = string
}

variable "rekognition_endpoint" {
  description = "URL of the Rekognition stub (LocalStack community does not emulate Rekognition)."
  type        = string
  default     = "http://127.0.0.1:4580"
}

variable "slack_webhook_url" {
  description = "Webhook URL of the Slack sink stub."
  type        = string
  default     = "http://127.0.0.1:4581/services/T000LOCAL/B000LOCAL/localsecret"
  sensitive   = true
}

variable "labeler_timeout" {
  description = "Labeler timeout in seconds. The queue's visibility timeout follows AWS's rule, 6 x this (+ the batching window, 0 here), so a failed message is retried after 6 x this and reaches the DLQ after about max_receive_count (3) x 6 x this."
  type        = number
  default     = 4
  nullable    = false

  validation {
    condition     = var.labeler_timeout >= 3 && var.labeler_timeout <= 60 && floor(var.labeler_timeout) == var.labeler_timeout
    error_message = "labeler_timeout must be a whole number from 3 to 60 seconds locally (the labeler's 2 s safety margin must fit, with time to work)."
  }
}

variable "encrypt_topic" {
  description = "Encrypt the topic with the customer-managed KMS key, as on AWS. Set false for a LocalStack 4.13.x running on Python 3.11 without the harness's shim: its KMS CreateKey fails there (uuid5 with a bytes name, a Python 3.12 feature). The harness's IAM extension enforces the key policy (HARNESS_IAM=enforce); LocalStack alone does not."
  type        = bool
  default     = true
}

variable "resize_zip_path" {
  description = "Path of the resize zip built by the harness (build/local/lambdas-<arch>-py<version>/resize.zip)."
  type        = string
}

variable "resize_zip_sha256" {
  description = "Base64-encoded SHA-256 of the resize zip."
  type        = string
}

variable "loader_zip_path" {
  description = "Path of the catalog loader zip built by the harness (build/local/lambdas-<arch>-py<version>/catalog_loader.zip)."
  type        = string
}

variable "loader_zip_sha256" {
  description = "Base64-encoded SHA-256 of the catalog loader zip."
  type        = string
}

variable "cdn_host" {
  description = "Host of the catalog URLs (a reserved .test name: nothing serves it locally)."
  type        = string
  default     = "image.catalog.test"
}

variable "resize_concurrency" {
  description = "Reserved concurrency of the resize function: each execution environment is a local Python process, so a bulk upload starts at most this many."
  type        = number
  default     = 8
}
