variable "region" {
  description = "AWS region to deploy to (the seed used ap-northeast-2)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as ap-northeast-2."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "imgpipe"
}

variable "bucket_name" {
  description = "Images bucket name (globally unique); null = `<name_prefix>-images-<account id>-<region>`."
  type        = string
  default     = null
}

variable "labeler_zip_path" {
  description = "Path of the labeler zip (build/lambdas/labeler.zip)."
  type        = string
}

variable "labeler_zip_sha256" {
  description = "Base64-encoded SHA-256 of the labeler zip."
  type        = string
}

variable "notifier_zip_path" {
  description = "Path of the Slack notifier zip (build/lambdas/slack_notifier.zip)."
  type        = string
}

variable "notifier_zip_sha256" {
  description = "Base64-encoded SHA-256 of the Slack notifier zip."
  type        = string
}

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL (https). Pass it through TF_VAR_slack_webhook_url, not on the command line; it ends up in the (encrypted) state and in an SSM SecureString parameter."
  type        = string
  sensitive   = true

  validation {
    condition     = startswith(var.slack_webhook_url, "https://")
    error_message = "slack_webhook_url must be an https URL."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
