# Mocked data sources of the plan-only tests (mock_provider "aws" { source = ... }):
# account 123456789012, region ap-northeast-2.

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}

mock_data "aws_region" {
  defaults = { name = "ap-northeast-2" }
}
