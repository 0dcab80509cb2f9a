# The sweep: the same function, invoked once a minute (by default) by a schedule of its own,
# beside the sealing one. Each run reminds approvers of requests still open after
# request_remind_after, updates the messages of requests that expired undecided and tells
# their requesters, and warns holders grant_expiry_notice before their grants end; each at
# most once, even when two runs overlap. The function tells this rule's events from the
# sealing rule's by the rule's name in the event's `resources` (it ends in "-sweep").
#
# EventBridge takes "rate(1 minute)" but "rate(5 minutes)": the unit is singular for 1
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html).
resource "aws_cloudwatch_event_rule" "sweep" {
  name                = "${var.name}-sweep"
  description         = "Reminders, expired requests and grant expiry warnings of ${var.name}"
  schedule_expression = "rate(${var.sweep_schedule_minutes} ${var.sweep_schedule_minutes == 1 ? "minute" : "minutes"})"
}

resource "aws_cloudwatch_event_target" "sweep" {
  rule = aws_cloudwatch_event_rule.sweep.name
  arn  = aws_lambda_function.otpbot.arn
}

resource "aws_lambda_permission" "sweep" {
  statement_id  = "AllowEventBridgeSweep"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.otpbot.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep.arn
}
