# Plan-only tests against a mocked provider: offline, a few seconds.

mock_provider "aws" {
  source = "../../tests/mocks/eu-west-1"
}

variables {
  bucket_name = "imgpipe-test-images"
}

run "private_encrypted_and_tls_only" {
  command = plan

  assert {
    condition     = [for r in aws_s3_bucket_server_side_encryption_configuration.this.rule : r.apply_server_side_encryption_by_default[0].sse_algorithm] == ["AES256"]
    error_message = "The bucket must default to SSE-S3 (AES256)."
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "All public access must be blocked."
  }

  assert {
    condition = jsondecode(aws_s3_bucket_policy.this.policy).Statement == [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = ["arn:aws:s3:::imgpipe-test-images", "arn:aws:s3:::imgpipe-test-images/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
    error_message = "The bucket policy must deny requests without TLS, and grant nothing by default."
  }

  assert {
    condition = (
      length(aws_s3_bucket_versioning.this) == 0 &&
      aws_s3_bucket.this.force_destroy == false &&
      length(aws_s3_bucket_lifecycle_configuration.this) == 0
    )
    error_message = "Versioning, force_destroy and lifecycle rules are off by default."
  }

  assert {
    condition = output.settings == {
      force_destroy      = false
      versioning_enabled = false
      public_access_block = {
        block_public_acls       = true
        block_public_policy     = true
        ignore_public_acls      = true
        restrict_public_buckets = true
      }
      sse_algorithms                         = ["AES256"]
      abort_incomplete_multipart_upload_days = null
    }
    error_message = "The settings output reports what is planned."
  }
}

run "versioning_force_destroy_and_multipart_abort" {
  command = plan

  variables {
    force_destroy                          = true
    versioning_enabled                     = true
    abort_incomplete_multipart_upload_days = 7
  }

  assert {
    condition     = length(aws_s3_bucket_versioning.this) == 1 && aws_s3_bucket_versioning.this[0].versioning_configuration[0].status == "Enabled" && aws_s3_bucket.this.force_destroy
    error_message = "Versioning and force_destroy follow the variables."
  }

  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.this[0].rule[0].status == "Enabled" &&
      aws_s3_bucket_lifecycle_configuration.this[0].rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 7 &&
      output.settings.abort_incomplete_multipart_upload_days == 7
    )
    error_message = "Interrupted multipart uploads are aborted after the given days."
  }
}

run "extra_statements_follow_the_tls_deny" {
  command = plan

  variables {
    policy_statements = [{
      Sid       = "AllowCdnRead"
      Effect    = "Allow"
      Principal = { Service = "cloudfront.amazonaws.com" }
      Action    = "s3:GetObject"
      Resource  = "arn:aws:s3:::imgpipe-test-images/*"
      Condition = { StringEquals = { "AWS:SourceArn" = "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456" } }
    }]
  }

  assert {
    condition     = [for s in output.policy.Statement : s.Sid] == ["DenyInsecureTransport", "AllowCdnRead"]
    error_message = "The caller's statements come after the TLS deny."
  }
}

# --- rejected inputs ----------------------------------------------------------

run "bad_bucket_name_is_rejected" {
  command = plan
  variables {
    bucket_name = "Images_Bucket"
  }
  expect_failures = [var.bucket_name]
}

run "zero_multipart_abort_days_is_rejected" {
  command = plan
  variables {
    abort_incomplete_multipart_upload_days = 0
  }
  expect_failures = [var.abort_incomplete_multipart_upload_days]
}

run "statement_without_principal_is_rejected" {
  command = plan
  variables {
    policy_statements = [{ Sid = "NoPrincipal", Effect = "Allow", Action = "s3:GetObject", Resource = "*" }]
  }
  expect_failures = [var.policy_statements]
}
