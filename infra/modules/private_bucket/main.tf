# A private S3 bucket, hardened the same way everywhere in this project: public
# access blocked, SSE-S3 by default, a policy that denies requests without TLS
# (plus the caller's statements), optional versioning, optional abort of
# incomplete multipart uploads. Notifications are the caller's: they belong next
# to the consumer they feed.
#
# The policy's ARNs are derived from the name, so the policy is known at plan
# time (reviewable, testable with a mocked provider).

data "aws_partition" "current" {}

locals {
  arn = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access logs would need another bucket for every bucket; CloudTrail data events are the account-wide audit choice.
  #checkov:skip=CKV_AWS_144:Cross-region replication is not needed: the buckets hold copies and derived data (uploads can be sent again, results and renditions recomputed).
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is set explicitly; SSE-KMS would add key grants for every reader (functions, Rekognition, the CDN) without excluding any.
  #checkov:skip=CKV2_AWS_61:Lifecycle rules are the caller's choice (abort_incomplete_multipart_upload_days); object retention is a product decision of the data's owner.
  #checkov:skip=CKV2_AWS_62:Notifications are wired by the caller next to their consumer (labeling, catalog); a bucket nothing consumes, such as the served one, has none.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  count  = var.versioning_enabled ? 1 : 0
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

# An interrupted multipart upload leaves invisible, billed parts behind.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count  = var.abort_incomplete_multipart_upload_days == null ? 0 : 1
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.arn, "${local.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }],
      var.policy_statements,
    )
  })

  # A bucket policy put while the public access block is being created can fail.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
