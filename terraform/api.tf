# The public HTTPS endpoint: an HTTP API (default) or a Lambda function URL. Neither can
# authenticate Slack or Bot Framework callers (they cannot sign SigV4 or present AWS tokens);
# otpbot verifies every request itself: Slack's HMAC signature with the signing secret, and
# Bot Framework's JWT against Microsoft's signing keys and var.teams_app_id.

# ---- HTTP API ----------------------------------------------------------------------------

resource "aws_apigatewayv2_api" "otpbot" {
  count = local.use_http_api ? 1 : 0

  name          = var.name
  description   = "otpbot: Slack slash commands and Teams messages"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "otpbot" {
  count = local.use_http_api ? 1 : 0

  api_id                 = aws_apigatewayv2_api.otpbot[0].id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.otpbot.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "otpbot" {
  #checkov:skip=CKV_AWS_309:Slack and Bot Framework cannot use an API Gateway authorizer; each request carries its own Slack signature or Bot Framework JWT, which the function verifies before doing anything. /healthz returns a constant.
  for_each = local.use_http_api ? toset(["POST /slack/commands", "POST /teams/messages", "GET /healthz"]) : toset([])

  api_id             = aws_apigatewayv2_api.otpbot[0].id
  route_key          = each.key
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.otpbot[0].id}"
}

resource "aws_cloudwatch_log_group" "api_access" {
  count = local.use_http_api ? 1 : 0

  name              = local.api_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.otpbot.arn
}

resource "aws_apigatewayv2_stage" "default" {
  count = local.use_http_api ? 1 : 0

  api_id      = aws_apigatewayv2_api.otpbot[0].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit   = var.throttle_burst_limit
    throttling_rate_limit    = var.throttle_rate_limit
    detailed_metrics_enabled = true
  }

  # No bodies or query strings: Slack command text stays out of the access log.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access[0].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
    })
  }
}

resource "aws_lambda_permission" "http_api" {
  count = local.use_http_api ? 1 : 0

  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.otpbot.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.otpbot[0].execution_arn}/*/*"
}

# ---- Function URL ------------------------------------------------------------------------

# With authorization_type NONE the AWS provider adds the public lambda:InvokeFunctionUrl
# statement itself. Function URLs created since October 2025 also need lambda:InvokeFunction
# limited by lambda:InvokedViaFunctionUrl, which provider 5.x cannot express: docs/aws.md shows the one command that adds it.
resource "aws_lambda_function_url" "otpbot" {
  #checkov:skip=CKV_AWS_258:Slack and Bot Framework cannot sign requests with SigV4, so the URL must be public; otpbot verifies each request's Slack signature or Bot Framework JWT itself and rejects everything else.
  count = local.use_function_url ? 1 : 0

  function_name      = aws_lambda_function.otpbot.function_name
  authorization_type = "NONE"
}
