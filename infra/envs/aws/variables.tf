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
  description = "Path of the labeler zip (build/lambdas-<arch>-py<version>/labeler.zip)."
  type        = string
}

variable "labeler_zip_sha256" {
  description = "Base64-encoded SHA-256 of the labeler zip."
  type        = string
}

variable "notifier_zip_path" {
  description = "Path of the Slack notifier zip (build/lambdas-<arch>-py<version>/slack_notifier.zip)."
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

variable "lambda_architecture" {
  description = "Instruction set of both functions: x86_64 or arm64 (arm64 costs less per GB-second). The zips must be built for it: `harness promote` does."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

variable "lambda_runtime" {
  description = "Lambda runtime of both functions (python3.12, ...); the zips' dependencies must be built for its Python version: `harness promote` does."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.1[2-9]$", var.lambda_runtime))
    error_message = "lambda_runtime must be python3.12 or a later python3 runtime."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# --- system B (catalog) ---------------------------------------------------------

variable "resize_zip_path" {
  description = "Path of the resize zip (build/lambdas-<arch>-py<version>/resize.zip)."
  type        = string
}

variable "resize_zip_sha256" {
  description = "Base64-encoded SHA-256 of the resize zip."
  type        = string
}

variable "loader_zip_path" {
  description = "Path of the catalog loader zip (build/lambdas-<arch>-py<version>/catalog_loader.zip)."
  type        = string
}

variable "loader_zip_sha256" {
  description = "Base64-encoded SHA-256 of the catalog loader zip."
  type        = string
}

variable "catalog_cdn_host" {
  description = "Host of the catalog URLs, the CDN in front of the served bucket (seed: image.mycelebs.com)."
  type        = string
}

variable "catalog_cdn_distribution_arn" {
  description = "CloudFront distribution allowed to read the served bucket; null = none yet."
  type        = string
  default     = null
}

variable "catalog_upload_bucket_name" {
  description = "Upload bucket name; null = `<name_prefix>-image-upload-<account id>-<region>`."
  type        = string
  default     = null
}

variable "catalog_served_bucket_name" {
  description = "Served bucket name; null = `<name_prefix>-image-served-<account id>-<region>`."
  type        = string
  default     = null
}

variable "catalog_loader_vpc_config" {
  description = "Subnets and security groups of the loader when the database (RDS) is in a VPC; null = no VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "alerts_fallback_emails" {
  description = "E-mail addresses that receive the notifier-failures alarm through the `<name_prefix>-alerts-fallback` topic, without Slack (so a Slack outage cannot hide that notices are waiting). Each address confirms its subscription once; empty: subscribe another endpoint to the topic yourself."
  type        = list(string)
  default     = []
  nullable    = false
}
