variable "name" {
  description = "Name of the queue; its DLQ, if any, is `<name>-dlq`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.name))
    error_message = "name must be 1-76 letters, digits, hyphens or underscores (80 with the -dlq suffix is SQS's limit)."
  }
}

variable "message_retention_seconds" {
  description = "How long the queue keeps a message (SQS default: 4 days)."
  type        = number
  default     = 345600
  nullable    = false

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600 && floor(var.message_retention_seconds) == var.message_retention_seconds
    error_message = "message_retention_seconds must be a whole number from 60 to 1209600 (14 days)."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a received message stays hidden; must cover the consumer's processing time, or a message still being processed is received again."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds must be a whole number from 0 to 43200 (12 hours)."
  }
}

variable "receive_wait_time_seconds" {
  description = "Long polling wait of a receive (0 = short polling)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20 && floor(var.receive_wait_time_seconds) == var.receive_wait_time_seconds
    error_message = "receive_wait_time_seconds must be a whole number from 0 to 20."
  }
}

variable "deny_insecure_transport" {
  description = "Start the queue's policy with a statement denying requests without TLS (the DLQ's policy always does). Off only for a queue whose policy already names its one sender, e.g. an SNS topic."
  type        = bool
  default     = true
  nullable    = false
}

variable "policy_statements" {
  description = "Statements added to the queue's policy, as objects of an IAM policy document (e.g. a topic's sqs:SendMessage). Each needs a Sid and a Principal."
  type        = any
  default     = []
  nullable    = false

  validation {
    condition     = can(length(var.policy_statements)) && alltrue([for s in var.policy_statements : can(s.Sid) && can(s.Principal)])
    error_message = "policy_statements must be a list of policy statements, each with a Sid and a Principal."
  }
}

# --- dead-letter queue ----------------------------------------------------------

variable "create_dlq" {
  description = "Create the dead-letter queue `<name>-dlq` and redrive to it after max_receive_count receives."
  type        = bool
  default     = false
  nullable    = false
}

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the DLQ (with create_dlq)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the DLQ keeps a message. A standard queue keeps a message's original enqueue time when it moves to the DLQ, so this must be at least message_retention_seconds (checked by a precondition). Default: the maximum, 14 days."
  type        = number
  default     = 1209600
  nullable    = false

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600 && floor(var.dlq_message_retention_seconds) == var.dlq_message_retention_seconds
    error_message = "dlq_message_retention_seconds must be a whole number from 60 to 1209600 (14 days)."
  }
}

variable "dlq_policy_statements" {
  description = "Statements added to the DLQ's policy (with create_dlq), like policy_statements."
  type        = any
  default     = []
  nullable    = false

  validation {
    condition     = can(length(var.dlq_policy_statements)) && alltrue([for s in var.dlq_policy_statements : can(s.Sid) && can(s.Principal)])
    error_message = "dlq_policy_statements must be a list of policy statements, each with a Sid and a Principal."
  }
}

variable "tags" {
  description = "Tags of the queue and its DLQ."
  type        = map(string)
  default     = {}
  nullable    = false
}
