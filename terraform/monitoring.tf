resource "aws_cloudwatch_log_group" "lambda" {
  name              = local.lambda_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.otpbot.arn
}

# ---- Metrics from otpbot's JSON log lines ------------------------------------------------
# With OTPBOT_LOG_FORMAT=json each event's message is a top-level "message" field.

resource "aws_cloudwatch_log_metric_filter" "denials" {
  name           = "${var.name}-denials"
  log_group_name = aws_cloudwatch_log_group.lambda.name
  pattern        = "{ $.message = \"refused\" }"

  metric_transformation {
    name          = "Denials"
    namespace     = var.name
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "internal_errors" {
  name           = "${var.name}-internal-errors"
  log_group_name = aws_cloudwatch_log_group.lambda.name
  pattern        = "{ $.message = \"request failed\" }"

  metric_transformation {
    name          = "InternalErrors"
    namespace     = var.name
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

# ---- Alarms --------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  alarm_name          = "${var.name}-lambda-errors"
  alarm_description   = "The ${var.name} function failed (crashed, timed out or returned an error)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.otpbot.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  alarm_name          = "${var.name}-lambda-throttles"
  alarm_description   = "Invocations of ${var.name} were throttled (reserved concurrency reached)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.otpbot.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "lambda_duration_p99" {
  alarm_name          = "${var.name}-lambda-duration-p99"
  alarm_description   = "p99 duration of ${var.name} is above ${var.duration_p99_threshold_ms} ms (Slack gives up after 3 s)."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.otpbot.function_name }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.duration_p99_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "denials" {
  alarm_name          = "${var.name}-denials"
  alarm_description   = "More than ${var.denials_threshold} refused requests in 5 minutes: someone may be probing for codes."
  namespace           = aws_cloudwatch_log_metric_filter.denials.metric_transformation[0].namespace
  metric_name         = aws_cloudwatch_log_metric_filter.denials.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.denials_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "internal_errors" {
  alarm_name          = "${var.name}-internal-errors"
  alarm_description   = "${var.name} failed to serve a request (store, SSM or KMS error): see the function's log."
  namespace           = aws_cloudwatch_log_metric_filter.internal_errors.metric_transformation[0].namespace
  metric_name         = aws_cloudwatch_log_metric_filter.internal_errors.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# ---- Dashboard -----------------------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "otpbot" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "metric"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title  = "Invocations, errors, throttles"
          region = local.region
          view   = "timeSeries"
          stat   = "Sum"
          period = 300
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.otpbot.function_name],
            [".", "Errors", ".", "."],
            [".", "Throttles", ".", "."],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 12
        height = 6
        properties = {
          title  = "Duration (ms)"
          region = local.region
          view   = "timeSeries"
          period = 300
          metrics = [
            ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.otpbot.function_name, { stat = "p50", label = "p50" }],
            ["...", { stat = "p99", label = "p99" }],
          ]
          annotations = {
            horizontal = [{ label = "p99 alarm", value = var.duration_p99_threshold_ms }]
          }
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Denials (refused requests)"
          region  = local.region
          view    = "timeSeries"
          stat    = "Sum"
          period  = 300
          metrics = [[var.name, "Denials"]]
          annotations = {
            horizontal = [{ label = "alarm", value = var.denials_threshold }]
          }
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Internal errors (request failed)"
          region  = local.region
          view    = "timeSeries"
          stat    = "Sum"
          period  = 300
          metrics = [[var.name, "InternalErrors"]]
        }
      },
    ]
  })
}
