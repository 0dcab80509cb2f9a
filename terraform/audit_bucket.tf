# Sealed audit periods: each closed period's records (JSON Lines) and its seal, written once by
# the function under var.audit_bucket_prefix and kept unchangeable by Object Lock in compliance
# mode, which nobody, the account root included, can shorten or lift.

resource "aws_s3_bucket" "audit" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket the module does not own; reads and writes of the sealed periods are recorded by CloudTrail data events if the account enables them.
  #checkov:skip=CKV_AWS_144:Cross-region replication would need a second bucket, role and key per deployment; Object Lock in compliance mode already keeps every version for the retention period.
  #checkov:skip=CKV2_AWS_62:Event notifications are the reader's choice (a SIEM's SQS queue, see docs/audit.md); the module does not pick a consumer.
  #checkov:skip=CKV2_AWS_61:Objects must outlive their retention; no lifecycle rule may expire them earlier, and later deletion is an operator decision.
  bucket_prefix       = "${var.name}-audit-"
  object_lock_enabled = true
}

resource "aws_s3_bucket_versioning" "audit" {
  bucket = aws_s3_bucket.audit.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "audit" {
  bucket = aws_s3_bucket.audit.id

  rule {
    default_retention {
      mode = "COMPLIANCE"
      days = var.audit_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.audit]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "audit" {
  bucket = aws_s3_bucket.audit.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.otpbot.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "audit" {
  bucket                  = aws_s3_bucket.audit.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

data "aws_iam_policy_document" "audit_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.audit.arn, "${aws_s3_bucket.audit.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "audit" {
  bucket = aws_s3_bucket.audit.id
  policy = data.aws_iam_policy_document.audit_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.audit]
}

# The schedule that seals closed periods: the same function, invoked with EventBridge's
# "Scheduled Event".
resource "aws_cloudwatch_event_rule" "seal" {
  name                = "${var.name}-seal-audit"
  description         = "Seal closed audit periods of ${var.name} into Object Lock storage"
  schedule_expression = "rate(${var.seal_schedule_minutes} minutes)"
}

resource "aws_cloudwatch_event_target" "seal" {
  rule = aws_cloudwatch_event_rule.seal.name
  arn  = aws_lambda_function.otpbot.arn
}

resource "aws_lambda_permission" "seal" {
  statement_id  = "AllowEventBridgeSeal"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.otpbot.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.seal.arn
}
