resource "aws_lambda_function" "otpbot" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway / the function URL; the scheduled sealing run is asynchronous but idempotent, and the next run seals whatever a failed one left, so a dead-letter queue would hold nothing to act on.

  function_name                  = var.name
  description                    = "otpbot: TOTP codes for shared accounts over Slack and Microsoft Teams"
  role                           = aws_iam_role.lambda.arn
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  handler                        = "bootstrap"
  filename                       = var.lambda_zip
  source_code_hash               = filebase64sha256(var.lambda_zip)
  memory_size                    = 256
  timeout                        = local.lambda_timeout
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = aws_kms_key.otpbot.arn
  code_signing_config_arn        = var.code_signing_config_arn

  tracing_config {
    mode = "Active"
  }

  # Names and settings only: every secret is read from SSM at run time.
  environment {
    variables = {
      OTPBOT_BACKEND                    = "aws"
      OTPBOT_ACCESS_TABLE               = aws_dynamodb_table.access.name
      OTPBOT_AUDIT_TABLE                = aws_dynamodb_table.audit.name
      OTPBOT_SSM_PREFIX                 = var.ssm_prefix
      OTPBOT_KMS_KEY_ID                 = aws_kms_key.otpbot.arn
      OTPBOT_SLACK_TEAM_IDS             = join(",", var.slack_team_ids)
      OTPBOT_TEAMS_TENANT_IDS           = join(",", var.teams_tenant_ids)
      OTPBOT_TEAMS_APP_ID               = var.teams_app_id
      OTPBOT_ADMINS                     = join(",", var.bootstrap_admins)
      OTPBOT_SLACK_SIGNING_SECRET_PARAM = local.ssm_parameter_names.slack_signing_secret
      OTPBOT_AUDIT_KEY_PARAM            = local.ssm_parameter_names.audit_hmac_key
      OTPBOT_TEAMS_CLIENT_SECRET_PARAM  = local.ssm_parameter_names.teams_client_secret
      OTPBOT_SEED_CACHE_SECS            = tostring(var.seed_cache_secs)
      OTPBOT_RATE_PER_TOOL              = var.rate_per_tool
      OTPBOT_RATE_PER_CALLER            = var.rate_per_caller
      OTPBOT_LOG_FORMAT                 = "json"
      OTPBOT_LOG                        = var.log_level
      OTPBOT_AUDIT_BUCKET               = aws_s3_bucket.audit.id
      OTPBOT_AUDIT_BUCKET_PREFIX        = var.audit_bucket_prefix
      OTPBOT_SEAL_PERIOD_SECS           = tostring(var.seal_schedule_minutes * 60)
      OTPBOT_SEAL_GRACE_SECS            = tostring(local.lambda_timeout + 60)
      OTPBOT_CHECKPOINT_KMS_KEY         = aws_kms_key.checkpoint.arn
      OTPBOT_REQUEST_REMIND_AFTER       = var.request_remind_after
      OTPBOT_GRANT_EXPIRY_NOTICE        = var.grant_expiry_notice
    }
  }

  dynamic "vpc_config" {
    for_each = local.use_vpc ? [1] : []
    content {
      subnet_ids         = var.private_subnet_ids
      security_group_ids = [aws_security_group.lambda[0].id]
    }
  }

  lifecycle {
    precondition {
      condition     = var.vpc_id == null || length(var.private_subnet_ids) > 0
      error_message = "private_subnet_ids must list at least one subnet when vpc_id is set."
    }
    precondition {
      condition     = !(var.vpc_id != null && var.create_vpc_endpoints) || length(var.private_route_table_ids) > 0
      error_message = "private_route_table_ids must list the private subnets' route tables when vpc_id is set and create_vpc_endpoints is true (the DynamoDB gateway endpoint needs them)."
    }
  }

  # The log group must exist (with its retention and key) before Lambda would create one.
  depends_on = [
    aws_cloudwatch_log_group.lambda,
    aws_iam_role_policy.lambda,
    aws_iam_role_policy_attachment.xray,
    aws_iam_role_policy_attachment.vpc_access,
  ]
}
