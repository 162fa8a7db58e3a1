# Addresses of deployments made before the bucket, the queues and the function
# moved into the reusable modules: moved, not destroyed and created again.
# (tests/infra/test_moved_blocks.py checks that every old address is covered.)

moved {
  from = aws_s3_bucket.this
  to   = module.bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.this
  to   = module.bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this
  to   = module.bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.this
  to   = module.bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_policy.this
  to   = module.bucket.aws_s3_bucket_policy.this
}

moved {
  from = aws_sqs_queue.main
  to   = module.queue.aws_sqs_queue.this
}

moved {
  from = aws_sqs_queue.dlq
  to   = module.queue.aws_sqs_queue.dlq[0]
}

moved {
  from = aws_cloudwatch_log_group.this
  to   = module.function.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.this
  to   = module.function.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.this
  to   = module.function.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.this
  to   = module.function.aws_lambda_function.this
}
