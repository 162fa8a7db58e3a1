# Addresses of deployments made before the buckets, the queues and the functions
# moved into the reusable modules: moved, not destroyed and created again.
# (tests/infra/test_moved_blocks.py checks that every old address is covered.)

moved {
  from = aws_s3_bucket.upload
  to   = module.upload_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.upload
  to   = module.upload_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.upload
  to   = module.upload_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.upload
  to   = module.upload_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_policy.upload
  to   = module.upload_bucket.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.upload
  to   = module.upload_bucket.aws_s3_bucket_lifecycle_configuration.this[0]
}

moved {
  from = aws_s3_bucket.served
  to   = module.served_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.served
  to   = module.served_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.served
  to   = module.served_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.served
  to   = module.served_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_policy.served
  to   = module.served_bucket.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.served
  to   = module.served_bucket.aws_s3_bucket_lifecycle_configuration.this[0]
}

moved {
  from = aws_sqs_queue.work
  to   = module.work_queue.aws_sqs_queue.this
}

moved {
  from = aws_sqs_queue.dlq
  to   = module.work_queue.aws_sqs_queue.dlq[0]
}

moved {
  from = aws_sqs_queue.resize_failures
  to   = module.resize_failures_queue.aws_sqs_queue.this
}

moved {
  from = aws_cloudwatch_log_group.resize
  to   = module.resize.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.resize
  to   = module.resize.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.resize
  to   = module.resize.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.resize
  to   = module.resize.aws_lambda_function.this
}

moved {
  from = aws_lambda_function_event_invoke_config.resize
  to   = module.resize.aws_lambda_function_event_invoke_config.this[0]
}

moved {
  from = aws_cloudwatch_log_group.loader
  to   = module.loader.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.loader
  to   = module.loader.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.loader
  to   = module.loader.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.loader
  to   = module.loader.aws_lambda_function.this
}

moved {
  from = aws_lambda_function_event_invoke_config.loader
  to   = module.loader.aws_lambda_function_event_invoke_config.this[0]
}

moved {
  from = aws_iam_role_policy_attachment.loader_vpc
  to   = module.loader.aws_iam_role_policy_attachment.vpc
}

# The loader's schedule became two (every minute of the window, and its last run at
# 21:00): the existing schedule is the every-minute one, keeping its name.
moved {
  from = aws_scheduler_schedule.loader
  to   = aws_scheduler_schedule.loader["every_minute"]
}
