data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  dns_suffix = data.aws_partition.current.dns_suffix

  use_http_api     = var.endpoint_type == "http_api"
  use_function_url = var.endpoint_type == "function_url"
  use_vpc          = var.vpc_id != null
  create_endpoints = local.use_vpc && var.create_vpc_endpoints

  # Log groups. Their ARNs are built from names (not read from the resources) because the
  # KMS key policy must name them before the key, and so the log groups, exist.
  lambda_log_group_name = "/aws/lambda/${var.name}"
  api_log_group_name    = "/aws/apigateway/${var.name}-access"
  lambda_log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.lambda_log_group_name}"
  api_log_group_arn     = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.api_log_group_name}"
  encrypted_log_groups  = local.use_http_api ? [local.lambda_log_group_arn, local.api_log_group_arn] : [local.lambda_log_group_arn]

  # SSM parameter names. The values are secrets written by operators with the otpbot CLI;
  # Terraform never creates these parameters (their values would land in state).
  ssm_parameter_names = {
    slack_signing_secret = "${var.ssm_prefix}/slack/signing-secret"
    audit_hmac_key       = "${var.ssm_prefix}/audit/hmac-key"
    teams_client_secret  = "${var.ssm_prefix}/teams/client-secret"
    tool_seed_prefix     = "${var.ssm_prefix}/tools/"
  }
  ssm_parameter_arn_pattern = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.ssm_prefix}/*"

  kms_via_services = [
    "ssm.${local.region}.${local.dns_suffix}",
    "dynamodb.${local.region}.${local.dns_suffix}",
  ]

  # Public base URL without a trailing slash (function URLs end in "/").
  endpoint_url = (
    local.use_http_api
    ? aws_apigatewayv2_api.otpbot[0].api_endpoint
    : trimsuffix(aws_lambda_function_url.otpbot[0].function_url, "/")
  )

  # Seconds; a period is sealed only once this much and a minute more has passed since its end.
  lambda_timeout = 10

  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
}
