# Mocked data sources of the plan-only tests (mock_provider "aws" { source = ... }):
# account 000000000000, region us-east-1.

mock_data "aws_caller_identity" {
  defaults = { account_id = "000000000000" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}

mock_data "aws_region" {
  defaults = { name = "us-east-1" }
}
