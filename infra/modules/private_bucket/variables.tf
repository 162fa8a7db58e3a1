variable "bucket_name" {
  description = "Name of the bucket. Must be globally unique on AWS."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !strcontains(var.bucket_name, "..")
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the bucket while it still holds objects. Throw-away environments only."
  type        = bool
  default     = false
  nullable    = false
}

variable "versioning_enabled" {
  description = "Enable object versioning (protects the objects against overwrites and deletes)."
  type        = bool
  default     = false
  nullable    = false
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Abort multipart uploads not completed within this many days (their parts are invisible but billed); null = no lifecycle rule. Set it on buckets that receive large uploads in parts."
  type        = number
  default     = null

  validation {
    condition     = var.abort_incomplete_multipart_upload_days == null ? true : var.abort_incomplete_multipart_upload_days >= 1 && floor(var.abort_incomplete_multipart_upload_days) == var.abort_incomplete_multipart_upload_days
    error_message = "abort_incomplete_multipart_upload_days must be null or a whole number >= 1."
  }
}

variable "policy_statements" {
  description = "Statements added to the bucket policy after the one denying requests without TLS, as objects of an IAM policy document (`Sid`, `Effect`, `Principal`, `Action`, `Resource`, `Condition`), e.g. a CDN's read access. Each needs a Sid and a Principal."
  type        = any
  default     = []
  nullable    = false

  validation {
    condition     = can(length(var.policy_statements)) && alltrue([for s in var.policy_statements : can(s.Sid) && can(s.Principal)])
    error_message = "policy_statements must be a list of policy statements, each with a Sid and a Principal."
  }
}

variable "tags" {
  description = "Tags of the bucket."
  type        = map(string)
  default     = {}
  nullable    = false
}
