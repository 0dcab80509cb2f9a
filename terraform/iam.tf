# The function's execution role. Every inline statement names its resources; the only AWS
# managed policies attached are X-Ray's daemon write access and, with VPC placement, the
# network-interface permissions Lambda needs.

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    sid     = "LambdaAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-lambda"
  description        = "Execution role of the ${var.name} Lambda function"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

data "aws_iam_policy_document" "lambda" {
  # Each decision is one TransactWriteItems whose Put, Update, Delete and ConditionCheck parts
  # are authorized as PutItem, UpdateItem, DeleteItem and ConditionCheckItem (an approval
  # updates its request; the sweep marks a request or a grant with a conditional Update); its
  # reads are one BatchGetItem.
  # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
  statement {
    sid    = "AccessTable"
    effect = "Allow"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
    ]
    resources = [
      aws_dynamodb_table.access.arn,
      "${aws_dynamodb_table.access.arn}/index/grants-by-tool",
    ]
  }

  # Append and read only: nothing here can change or remove an audit record.
  statement {
    sid    = "AuditTableAppendAndRead"
    effect = "Allow"
    actions = [
      "dynamodb:PutItem",
      "dynamodb:Query",
    ]
    resources = [
      aws_dynamodb_table.audit.arn,
      "${aws_dynamodb_table.audit.arn}/index/*",
    ]
  }

  statement {
    sid       = "ReadOwnParameters"
    effect    = "Allow"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = [local.ssm_parameter_arn_pattern]
  }

  statement {
    sid       = "DecryptViaSsmAndDynamoDb"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.otpbot.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }
  }

  # Each seal's checkpoint: Sign with the checkpoint key, ECDSA_SHA_256 only. No
  # GetPublicKey at run time and no other use of the key.
  statement {
    sid       = "SignAuditCheckpoints"
    effect    = "Allow"
    actions   = ["kms:Sign"]
    resources = [aws_kms_key.checkpoint.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:SigningAlgorithm"
      values   = ["ECDSA_SHA_256"]
    }
  }

  # Sealed audit periods: write new objects under the prefix, nothing else on the bucket (no
  # read, no delete, no retention or legal-hold change, no governance bypass).
  statement {
    sid       = "WriteSealedAuditPeriods"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.audit.arn}/${var.audit_bucket_prefix}*"]
  }

  # SSE-KMS on those writes, only through S3 and only for this bucket.
  statement {
    sid       = "EncryptSealedAuditPeriods"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.otpbot.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.${local.dns_suffix}"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [aws_s3_bucket.audit.arn, "${aws_s3_bucket.audit.arn}/*"]
    }
  }

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "${var.name}-lambda"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_iam_role_policy_attachment" "xray" {
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_iam_role_policy_attachment" "vpc_access" {
  count = local.use_vpc ? 1 : 0

  role       = aws_iam_role.lambda.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
