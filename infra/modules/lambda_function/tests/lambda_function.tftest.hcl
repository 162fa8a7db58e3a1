# Plan-only tests against a mocked provider: offline, a few seconds.

mock_provider "aws" {
  source = "../../tests/mocks/eu-west-1"
}

variables {
  function_name         = "imgpipe-worker"
  description           = "Does the work"
  zip_path              = "build/lambdas/worker.zip"
  zip_sha256            = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  policy_name           = "worker"
  environment_variables = { QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/imgpipe-work" }
  policy_statements = [{
    Sid      = "ReadOriginals"
    Effect   = "Allow"
    Action   = "s3:GetObject"
    Resource = "arn:aws:s3:::imgpipe-upload/origin/*"
  }]
}

run "function_role_and_log_group" {
  command = plan

  assert {
    condition = (
      aws_lambda_function.this.function_name == "imgpipe-worker" &&
      aws_lambda_function.this.runtime == "python3.12" &&
      aws_lambda_function.this.handler == "app.handler" &&
      aws_lambda_function.this.memory_size == 128 &&
      aws_lambda_function.this.timeout == 3 &&
      aws_lambda_function.this.architectures == tolist(["x86_64"]) &&
      aws_lambda_function.this.reserved_concurrent_executions == -1 &&
      aws_lambda_function.this.source_code_hash == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" &&
      aws_lambda_function.this.filename == "build/lambdas/worker.zip"
    )
    error_message = "Defaults: python3.12 on x86_64, app.handler, 128 MB, 3 s, unreserved; code from the zip."
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables == tomap({ QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/imgpipe-work" })
    error_message = "The environment is the one given."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/imgpipe-worker" && aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "The function has its own log group with retention."
  }

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [{
      Sid       = "AssumedByLambda"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }] && aws_iam_role.this.name == "imgpipe-worker"
    error_message = "The role is named after the function and only Lambda assumes it."
  }

  assert {
    condition = aws_iam_role_policy.this.name == "worker" && { for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => [s.Action, s.Resource] } == {
      WriteOwnLogs  = [["logs:CreateLogStream", "logs:PutLogEvents"], "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/imgpipe-worker:*"]
      ReadOriginals = ["s3:GetObject", "arn:aws:s3:::imgpipe-upload/origin/*"]
    }
    error_message = "The role writes to its own log group first, then grants exactly the caller's statements."
  }

  assert {
    condition = (
      length(aws_lambda_function.this.vpc_config) == 0 &&
      length(aws_iam_role_policy_attachment.vpc) == 0 &&
      length(aws_lambda_function_event_invoke_config.this) == 0 &&
      output.async_invocation == null
    )
    error_message = "No VPC, no managed policy, Lambda's asynchronous defaults unless asked."
  }
}

run "platform_and_sizes_follow_the_variables" {
  command = plan

  variables {
    runtime                        = "python3.13"
    architecture                   = "arm64"
    memory_size                    = 1024
    timeout                        = 60
    reserved_concurrent_executions = 2
    log_retention_in_days          = 1
    zip_sha256                     = "LABELERLABELERLABELERLABELERLABELERLABELER0="
  }

  assert {
    condition = output.code == {
      runtime          = "python3.13"
      architectures    = tolist(["arm64"])
      source_code_hash = "LABELERLABELERLABELERLABELERLABELERLABELER0="
    }
    error_message = "The function runs on the configured runtime and architecture, with its own zip hash."
  }

  assert {
    condition = (
      output.settings.memory_size == 1024 &&
      output.settings.timeout == 60 &&
      output.settings.reserved_concurrent_executions == 2 &&
      output.settings.log_retention_in_days == 1
    )
    error_message = "Memory, timeout, reserved concurrency and log retention follow the variables."
  }
}

run "function_in_a_vpc" {
  command = plan

  variables {
    vpc_config = {
      subnet_ids         = ["subnet-0123456789abcdef0"]
      security_group_ids = ["sg-0123456789abcdef0"]
    }
  }

  assert {
    condition = (
      length(aws_iam_role_policy_attachment.vpc) == 1 &&
      aws_iam_role_policy_attachment.vpc[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole" &&
      output.settings.managed_policy_arns == ["arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]
    )
    error_message = "A VPC function gets the managed ENI policy."
  }

  assert {
    condition     = aws_lambda_function.this.vpc_config[0].subnet_ids == toset(["subnet-0123456789abcdef0"]) && aws_lambda_function.this.vpc_config[0].security_group_ids == toset(["sg-0123456789abcdef0"])
    error_message = "The function is placed in the given subnets and security groups."
  }
}

run "asynchronous_invocations_with_a_destination" {
  command = plan

  variables {
    async_invocation = {
      maximum_retry_attempts       = 1
      maximum_event_age_in_seconds = 3600
      on_failure                   = { destination = "arn:aws:sqs:eu-west-1:123456789012:imgpipe-failures" }
    }
  }

  assert {
    condition = (
      aws_lambda_function_event_invoke_config.this[0].function_name == "imgpipe-worker" &&
      aws_lambda_function_event_invoke_config.this[0].maximum_retry_attempts == 1 &&
      aws_lambda_function_event_invoke_config.this[0].maximum_event_age_in_seconds == 3600 &&
      aws_lambda_function_event_invoke_config.this[0].destination_config[0].on_failure[0].destination == "arn:aws:sqs:eu-west-1:123456789012:imgpipe-failures"
    )
    error_message = "Retries, event age and the on-failure destination follow async_invocation."
  }
}

run "asynchronous_invocations_without_a_destination" {
  command = plan

  variables {
    async_invocation = {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }

  assert {
    condition     = length(aws_lambda_function_event_invoke_config.this[0].destination_config) == 0 && output.async_invocation.maximum_retry_attempts == 0
    error_message = "No destination unless one is given."
  }
}

# --- rejected inputs ----------------------------------------------------------

run "bad_zip_hash_is_rejected" {
  command = plan
  variables {
    zip_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
  }
  expect_failures = [var.zip_sha256]
}

run "bad_architecture_is_rejected" {
  command = plan
  variables {
    architecture = "arm"
  }
  expect_failures = [var.architecture]
}

run "old_runtime_is_rejected" {
  command = plan
  variables {
    runtime = "python3.9"
  }
  expect_failures = [var.runtime]
}

run "bad_log_retention_is_rejected" {
  command = plan
  variables {
    log_retention_in_days = 2
  }
  expect_failures = [var.log_retention_in_days]
}

run "three_retries_are_rejected" {
  command = plan
  variables {
    async_invocation = {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 60
    }
  }
  expect_failures = [var.async_invocation]
}

run "statement_without_resource_is_rejected" {
  command = plan
  variables {
    policy_statements = [{ Sid = "Everything", Effect = "Allow", Action = "s3:GetObject" }]
  }
  expect_failures = [var.policy_statements]
}
