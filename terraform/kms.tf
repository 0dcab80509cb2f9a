# One customer managed key for the DynamoDB tables, the SSM SecureString parameters (written by
# operators with `otpbot`, which passes OTPBOT_KMS_KEY_ID), the Lambda environment and the logs.

data "aws_iam_policy_document" "kms_key" {
  #checkov:skip=CKV_AWS_109:This document is only the KMS key policy: its "*" resource means this key alone, and kms:* goes to the account root, which delegates key administration to IAM (the AWS default key policy).
  #checkov:skip=CKV_AWS_111:This document is only the KMS key policy: its "*" resource means this key alone; the logs service is limited by kms:EncryptionContext:aws:logs:arn and the function role by kms:ViaService.
  #checkov:skip=CKV_AWS_356:This document is only the KMS key policy, where Resource must be "*" (the key the policy is attached to); identity policies in iam.tf name the key ARN.

  statement {
    sid       = "AccountAdministersKey"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid    = "CloudWatchLogsEncryptsLogGroups"
    effect = "Allow"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.${local.dns_suffix}"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.encrypted_log_groups
    }
  }

  statement {
    sid       = "FunctionDecryptsViaSsmAndDynamoDb"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.lambda.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }
  }
}

resource "aws_kms_key" "otpbot" {
  description             = "${var.name}: DynamoDB tables, SSM secrets, Lambda environment and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_key.json
}

resource "aws_kms_alias" "otpbot" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.otpbot.key_id
}
