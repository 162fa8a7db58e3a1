terraform {
  # use_lockfile (S3-native state locking) needs Terraform 1.10.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }

  # Partial configuration: pass bucket, key and region at init, e.g.
  #   terraform init -backend-config=bucket=<state-bucket> \
  #     -backend-config=key=imgpipe/system-a.tfstate -backend-config=region=<region>
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
