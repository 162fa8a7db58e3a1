# Addresses of deployments made before the notifier moved into the reusable
# lambda_function module: moved, not destroyed and created again.
# (tests/infra/test_moved_blocks.py checks that every old address is covered.)

moved {
  from = aws_cloudwatch_log_group.this
  to   = module.notifier.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.this
  to   = module.notifier.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.this
  to   = module.notifier.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.this
  to   = module.notifier.aws_lambda_function.this
}
