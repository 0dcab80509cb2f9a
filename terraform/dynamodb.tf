# The schema here must match src/store/aws/schema.rs exactly: a test parses these blocks and
# creates emulator tables from them, so attribute, index and TTL blocks stay literal.

resource "aws_dynamodb_table" "access" {
  name                        = "${var.name}-access"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "gsi1pk"
    type = "S"
  }

  attribute {
    name = "gsi1sk"
    type = "S"
  }

  global_secondary_index {
    name            = "grants-by-tool"
    hash_key        = "gsi1pk"
    range_key       = "gsi1sk"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.otpbot.arn
  }
}

resource "aws_dynamodb_table" "audit" {
  name                        = "${var.name}-audit"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "stream"
  range_key                   = "id"
  deletion_protection_enabled = true

  attribute {
    name = "stream"
    type = "S"
  }

  attribute {
    name = "id"
    type = "S"
  }

  attribute {
    name = "tool"
    type = "S"
  }

  attribute {
    name = "actor"
    type = "S"
  }

  global_secondary_index {
    name            = "by-tool"
    hash_key        = "tool"
    range_key       = "id"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by-actor"
    hash_key        = "actor"
    range_key       = "id"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.otpbot.arn
  }
}
