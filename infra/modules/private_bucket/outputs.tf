output "id" {
  description = "ID of the bucket (its name, known after apply): for resources of the caller that attach to it."
  value       = aws_s3_bucket.this.id
}

output "bucket" {
  description = "Name of the bucket."
  value       = aws_s3_bucket.this.bucket
}

output "arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

# --- effective settings (for review, and for the callers' tests) --------------

output "settings" {
  description = "Effective protection settings: force_destroy, versioning, the public access block, default encryption and the abort of incomplete multipart uploads (null when off)."
  value = {
    force_destroy      = aws_s3_bucket.this.force_destroy
    versioning_enabled = length(aws_s3_bucket_versioning.this) == 1
    public_access_block = {
      block_public_acls       = aws_s3_bucket_public_access_block.this.block_public_acls
      block_public_policy     = aws_s3_bucket_public_access_block.this.block_public_policy
      ignore_public_acls      = aws_s3_bucket_public_access_block.this.ignore_public_acls
      restrict_public_buckets = aws_s3_bucket_public_access_block.this.restrict_public_buckets
    }
    sse_algorithms = [
      for r in aws_s3_bucket_server_side_encryption_configuration.this.rule :
      r.apply_server_side_encryption_by_default[0].sse_algorithm
    ]
    abort_incomplete_multipart_upload_days = try(
      aws_s3_bucket_lifecycle_configuration.this[0].rule[0].abort_incomplete_multipart_upload[0].days_after_initiation, null
    )
  }
}

output "policy" {
  description = "The bucket policy (decoded)."
  value       = jsondecode(aws_s3_bucket_policy.this.policy)
}
