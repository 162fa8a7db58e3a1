# Plan-only tests against a mocked provider: offline, a few seconds.

mock_provider "aws" {
  source = "../../tests/mocks/eu-west-1"
}

variables {
  name = "imgpipe-work"
}

run "encrypted_tls_only_queue_without_dlq_by_default" {
  command = plan

  assert {
    condition     = aws_sqs_queue.this.name == "imgpipe-work" && aws_sqs_queue.this.sqs_managed_sse_enabled && length(aws_sqs_queue.dlq) == 0
    error_message = "One queue, SSE-SQS, no DLQ by default."
  }

  assert {
    condition = jsondecode(aws_sqs_queue.this.policy).Statement == [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "sqs:*"
      Resource  = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-work"
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
    error_message = "The queue denies plain HTTP and grants nothing by default."
  }

  assert {
    condition = output.settings == {
      visibility_timeout_seconds = 30
      receive_wait_time_seconds  = 0
      message_retention_seconds  = 345600
      redrive_policy             = null
    }
    error_message = "SQS's defaults, no redrive without a DLQ."
  }
}

run "dlq_redrive_and_policies" {
  command = plan

  variables {
    create_dlq                 = true
    max_receive_count          = 3
    message_retention_seconds  = 172800
    visibility_timeout_seconds = 360
    receive_wait_time_seconds  = 15
    deny_insecure_transport    = false
    policy_statements = [{
      Sid       = "AllowBucketNotifications"
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-work"
      Condition = { ArnLike = { "aws:SourceArn" = "arn:aws:s3:::imgpipe-upload" } }
    }]
    dlq_policy_statements = [{
      Sid       = "OwnerAccountOnly"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::123456789012:root" }
      Action    = "sqs:*"
      Resource  = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-work-dlq"
    }]
  }

  assert {
    condition     = aws_sqs_queue.this.sqs_managed_sse_enabled && aws_sqs_queue.dlq[0].sqs_managed_sse_enabled && output.encrypted
    error_message = "Both queues must use SSE-SQS."
  }

  assert {
    condition = jsondecode(aws_sqs_queue.this.redrive_policy) == {
      deadLetterTargetArn = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-work-dlq"
      maxReceiveCount     = 3
    }
    error_message = "Redrive to <name>-dlq after max_receive_count receives."
  }

  assert {
    condition = jsondecode(aws_sqs_queue.dlq[0].redrive_allow_policy) == {
      redrivePermission = "byQueue"
      sourceQueueArns   = ["arn:aws:sqs:eu-west-1:123456789012:imgpipe-work"]
    }
    error_message = "Only this queue may use the DLQ."
  }

  assert {
    condition = (
      aws_sqs_queue.this.message_retention_seconds == 172800 &&
      aws_sqs_queue.this.receive_wait_time_seconds == 15 &&
      aws_sqs_queue.this.visibility_timeout_seconds == 360 &&
      aws_sqs_queue.dlq[0].message_retention_seconds == 1209600
    )
    error_message = "Queue settings follow the variables; the DLQ keeps 14 days by default."
  }

  assert {
    condition     = [for s in output.policy.Statement : s.Sid] == ["AllowBucketNotifications"]
    error_message = "Without the TLS deny the queue's policy holds only the caller's statements."
  }

  assert {
    condition     = [for s in output.dlq_policy.Statement : s.Sid] == ["DenyInsecureTransport", "OwnerAccountOnly"]
    error_message = "The DLQ denies plain HTTP whatever deny_insecure_transport says, then the caller's statements."
  }

  assert {
    condition = alltrue([
      for s in output.dlq_policy.Statement :
      contains(keys(s), "Principal") && s.Resource == "arn:aws:sqs:eu-west-1:123456789012:imgpipe-work-dlq"
    ])
    error_message = "Every DLQ policy statement has a Principal and the DLQ as resource."
  }
}

run "tls_deny_on_both_queues" {
  command = plan

  variables {
    create_dlq = true
  }

  assert {
    condition = alltrue([
      for q in [aws_sqs_queue.this, aws_sqs_queue.dlq[0]] :
      jsondecode(q.policy).Statement[0].Condition == { Bool = { "aws:SecureTransport" = "false" } }
    ])
    error_message = "Both queues deny plain HTTP."
  }
}

# --- rejected inputs ----------------------------------------------------------

run "dlq_retention_below_queue_retention_is_rejected" {
  command = plan
  variables {
    create_dlq                    = true
    message_retention_seconds     = 1209600
    dlq_message_retention_seconds = 86400
  }
  expect_failures = [aws_sqs_queue.this]
}

run "zero_max_receive_count_is_rejected" {
  command = plan
  variables {
    max_receive_count = 0
  }
  expect_failures = [var.max_receive_count]
}

run "long_polling_above_20_is_rejected" {
  command = plan
  variables {
    receive_wait_time_seconds = 21
  }
  expect_failures = [var.receive_wait_time_seconds]
}

run "statement_without_principal_is_rejected" {
  command = plan
  variables {
    policy_statements = [{ Sid = "NoPrincipal", Effect = "Allow", Action = "sqs:SendMessage", Resource = "*" }]
  }
  expect_failures = [var.policy_statements]
}
