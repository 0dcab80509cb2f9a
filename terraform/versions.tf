terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  # null falls back to AWS_REGION / the profile's region.
  region = var.aws_region

  default_tags {
    tags = merge({ Application = var.name, ManagedBy = "terraform" }, var.tags)
  }
}
