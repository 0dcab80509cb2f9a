output "endpoint_url" {
  description = "Base HTTPS URL of otpbot: the HTTP API endpoint or the function URL (no trailing slash)."
  value       = local.endpoint_url
}

output "slack_commands_url" {
  description = "Request URL for the Slack slash command."
  value       = "${local.endpoint_url}/slack/commands"
}

output "teams_messages_url" {
  description = "Messaging endpoint for the Teams (Azure Bot) registration."
  value       = "${local.endpoint_url}/teams/messages"
}

output "access_table_name" {
  description = "DynamoDB table of tools, grants, roles and counters."
  value       = aws_dynamodb_table.access.name
}

output "audit_table_name" {
  description = "DynamoDB audit table."
  value       = aws_dynamodb_table.audit.name
}

output "audit_bucket_name" {
  description = "S3 bucket of the sealed audit periods (OTPBOT_AUDIT_BUCKET for otpbot audit verify)."
  value       = aws_s3_bucket.audit.id
}

output "checkpoint_key_arn" {
  description = "ARN of the KMS key that signs audit checkpoints (OTPBOT_CHECKPOINT_KMS_KEY for otpbot audit public-key and verify)."
  value       = aws_kms_key.checkpoint.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key; pass it as OTPBOT_KMS_KEY_ID to the otpbot CLI when writing SSM parameters."
  value       = aws_kms_key.otpbot.arn
}

output "kms_key_alias" {
  description = "Alias of the KMS key."
  value       = aws_kms_alias.otpbot.name
}

output "ssm_parameter_names" {
  description = "SSM parameters the function reads. Terraform does not create them: write the values with the otpbot CLI."
  value       = local.ssm_parameter_names
}

output "lambda_function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.otpbot.function_name
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.lambda.name
}

output "slack_app_manifest" {
  description = "Slack app manifest (JSON), as manifest/slack/manifest.json but with the slash command pointing at this deployment."
  value = jsonencode({
    _metadata = {
      major_version = 1
      minor_version = 1
    }
    display_information = {
      name             = var.name
      description      = "TOTP codes for shared accounts, to the people allowed to have them; every issuance audited."
      background_color = "#1f3a5f"
    }
    features = {
      bot_user = {
        display_name  = var.name
        always_online = false
      }
      slash_commands = [
        {
          command       = "/otp"
          url           = "${local.endpoint_url}/slack/commands"
          description   = "TOTP codes for shared accounts"
          usage_hint    = "<tool> | list | request <tool> | done <tool> | help"
          should_escape = true
        },
      ]
    }
    oauth_config = {
      scopes = {
        bot = ["commands", "chat:write", "im:write", "usergroups:read"]
      }
    }
    settings = {
      interactivity = {
        is_enabled  = true
        request_url = "${local.endpoint_url}/slack/interactions"
      }
      org_deploy_enabled     = false
      socket_mode_enabled    = false
      token_rotation_enabled = false
    }
  })
}
