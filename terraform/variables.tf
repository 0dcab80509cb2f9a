# ---- General -------------------------------------------------------------------------------

variable "name" {
  type        = string
  description = "Name of the deployment; every resource (function, tables, role, key alias, log groups, alarms) is named from it."
  default     = "otpbot"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,39}$", var.name))
    error_message = "name must start with a letter and hold at most 40 letters, digits or hyphens."
  }
}

variable "aws_region" {
  type        = string
  description = "AWS region to deploy into; null uses the provider's usual sources (AWS_REGION, the profile)."
  default     = null

  validation {
    condition     = var.aws_region == null || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like eu-west-1, or be null."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource (through the provider's default_tags)."
  default     = {}
}

# ---- Function ------------------------------------------------------------------------------

variable "lambda_zip" {
  type        = string
  description = "Path of the function zip built by `cargo lambda build --release --arm64 --output-format zip`."
  default     = "../target/lambda/otpbot/bootstrap.zip"

  validation {
    condition     = endswith(var.lambda_zip, ".zip")
    error_message = "lambda_zip must be the path of a .zip file."
  }
}

variable "reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions of the function: a cap on cost and on load against DynamoDB and SSM."
  default     = 10

  validation {
    condition     = var.reserved_concurrency >= 1 && floor(var.reserved_concurrency) == var.reserved_concurrency
    error_message = "reserved_concurrency must be a whole number of at least 1 (0 would disable the function)."
  }
}

variable "code_signing_config_arn" {
  type        = string
  description = "Optional ARN of an aws_lambda_code_signing_config; null deploys unsigned code."
  default     = null

  validation {
    condition     = var.code_signing_config_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:code-signing-config:csc-[a-z0-9]+$", var.code_signing_config_arn))
    error_message = "code_signing_config_arn must be a Lambda code signing config ARN, or null."
  }
}

# ---- Endpoint ------------------------------------------------------------------------------

variable "endpoint_type" {
  type        = string
  description = "How the function is exposed over HTTPS: \"http_api\" (API Gateway HTTP API, throttled and access-logged) or \"function_url\" (Lambda function URL)."
  default     = "http_api"

  validation {
    condition     = contains(["http_api", "function_url"], var.endpoint_type)
    error_message = "endpoint_type must be \"http_api\" or \"function_url\"."
  }
}

variable "throttle_burst_limit" {
  type        = number
  description = "HTTP API burst limit (requests) for every route. Ignored with function_url."
  default     = 20

  validation {
    condition     = var.throttle_burst_limit >= 1 && floor(var.throttle_burst_limit) == var.throttle_burst_limit
    error_message = "throttle_burst_limit must be a whole number of at least 1."
  }
}

variable "throttle_rate_limit" {
  type        = number
  description = "HTTP API steady-state rate limit (requests per second) for every route. Ignored with function_url."
  default     = 10

  validation {
    condition     = var.throttle_rate_limit > 0
    error_message = "throttle_rate_limit must be greater than 0."
  }
}

# ---- otpbot settings -----------------------------------------------------------------------

variable "ssm_prefix" {
  type        = string
  description = "SSM Parameter Store path under which otpbot keeps its secrets and tool seeds (OTPBOT_SSM_PREFIX)."
  default     = "/otpbot"

  validation {
    condition = (
      length(var.ssm_prefix) <= 200
      && can(regex("^/[A-Za-z0-9/_.-]*[A-Za-z0-9_.-]$", var.ssm_prefix))
      && !can(regex("^/(aws|ssm)(/|$)", lower(var.ssm_prefix)))
    )
    error_message = "ssm_prefix must start with \"/\", not end with \"/\", use only letters, digits and / _ . -, hold at most 200 characters, and not begin with /aws or /ssm."
  }
}

variable "slack_team_ids" {
  type        = list(string)
  description = "Slack workspace ids (T...) and Enterprise Grid ids (E...) the bot serves (OTPBOT_SLACK_TEAM_IDS)."
  default     = []

  validation {
    condition     = alltrue([for id in var.slack_team_ids : can(regex("^[TE][A-Z0-9]{2,30}$", id))])
    error_message = "Each slack_team_ids entry must be a Slack team id like T0123ABCD or an enterprise id like E0123ABCD."
  }
}

variable "teams_tenant_ids" {
  type        = list(string)
  description = "Microsoft Entra tenant ids (GUIDs) whose Teams users the bot serves (OTPBOT_TEAMS_TENANT_IDS)."
  default     = []

  validation {
    condition     = alltrue([for id in var.teams_tenant_ids : can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", id))])
    error_message = "Each teams_tenant_ids entry must be a GUID."
  }
}

variable "teams_app_id" {
  type        = string
  description = "Microsoft App ID (GUID) of the Teams bot registration, the audience of Bot Framework tokens (OTPBOT_TEAMS_APP_ID); empty when Teams is not used."
  default     = ""

  validation {
    condition     = var.teams_app_id == "" || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.teams_app_id))
    error_message = "teams_app_id must be empty or a GUID."
  }
}

variable "bootstrap_admins" {
  type        = list(string)
  description = "Principals that are always admins, like slack:T0123:U0456 (OTPBOT_ADMINS). Use them to grant the first roles."
  default     = []

  validation {
    condition     = alltrue([for p in var.bootstrap_admins : can(regex("^(slack|teams|cli):[A-Za-z0-9._-]{1,64}:[A-Za-z0-9._-]{1,64}$", p))])
    error_message = "Each bootstrap_admins entry must be a principal like slack:T0123:U0456 (platform slack, teams or cli)."
  }
}

variable "seed_cache_secs" {
  type        = number
  description = "Seconds a tool seed read from SSM is reused by a warm function (OTPBOT_SEED_CACHE_SECS); 0 turns the cache off."
  default     = 60

  validation {
    condition     = var.seed_cache_secs >= 0 && var.seed_cache_secs <= 3600 && floor(var.seed_cache_secs) == var.seed_cache_secs
    error_message = "seed_cache_secs must be a whole number from 0 to 3600."
  }
}

variable "rate_per_tool" {
  type        = string
  description = "Codes one caller may get for one tool per window, like 10/10m (OTPBOT_RATE_PER_TOOL). Window units: m, h, d, w."
  default     = "10/10m"

  validation {
    condition     = can(regex("^[1-9][0-9]*/[0-9]{1,6}[mhdw]$", var.rate_per_tool))
    error_message = "rate_per_tool must look like 10/10m (count/window, window unit m, h, d or w)."
  }
}

variable "rate_per_caller" {
  type        = string
  description = "Commands one caller may send per window, like 30/10m (OTPBOT_RATE_PER_CALLER). Window units: m, h, d, w."
  default     = "30/10m"

  validation {
    condition     = can(regex("^[1-9][0-9]*/[0-9]{1,6}[mhdw]$", var.rate_per_caller))
    error_message = "rate_per_caller must look like 30/10m (count/window, window unit m, h, d or w)."
  }
}

variable "log_level" {
  type        = string
  description = "Log filter (OTPBOT_LOG), e.g. info, warn or otpbot=debug."
  default     = "info"

  validation {
    condition     = can(regex("^[A-Za-z0-9_:=,.-]+$", var.log_level))
    error_message = "log_level must be a filter like info or otpbot=debug (no spaces)."
  }
}

# ---- Data and logs -------------------------------------------------------------------------

variable "deletion_protection" {
  type        = bool
  description = "Deletion protection on the access table. The audit table always has it."
  default     = true
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the function's and the API's CloudWatch log groups, in days (a value CloudWatch Logs accepts; 0 keeps logs forever)."
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

# ---- Alarms --------------------------------------------------------------------------------

variable "alarm_sns_topic_arn" {
  type        = string
  description = "Optional SNS topic ARN notified when an alarm fires and clears; null leaves alarms without actions."
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN, or null."
  }
}

variable "duration_p99_threshold_ms" {
  type        = number
  description = "Alarm when the function's p99 duration over 5 minutes exceeds this many milliseconds (in 2 of 3 periods)."
  default     = 2000

  validation {
    condition     = var.duration_p99_threshold_ms > 0 && var.duration_p99_threshold_ms <= 10000
    error_message = "duration_p99_threshold_ms must be between 1 and 10000 (the function's timeout)."
  }
}

variable "denials_threshold" {
  type        = number
  description = "Alarm when at least this many requests are refused within 5 minutes."
  default     = 20

  validation {
    condition     = var.denials_threshold >= 1
    error_message = "denials_threshold must be at least 1."
  }
}

# ---- Optional VPC placement ----------------------------------------------------------------

variable "vpc_id" {
  type        = string
  description = "VPC to place the function in; null (default) runs it outside any VPC."
  default     = null

  validation {
    condition     = var.vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC id like vpc-0123456789abcdef0, or null."
  }
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets for the function's network interfaces and the interface endpoints (required with vpc_id)."
  default     = []

  validation {
    condition     = alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "Each private_subnet_ids entry must be a subnet id like subnet-0123456789abcdef0."
  }
}

variable "private_route_table_ids" {
  type        = list(string)
  description = "Route tables of the private subnets, for the DynamoDB gateway endpoint (required with vpc_id when create_vpc_endpoints is true)."
  default     = []

  validation {
    condition     = alltrue([for r in var.private_route_table_ids : can(regex("^rtb-[0-9a-f]{8,17}$", r))])
    error_message = "Each private_route_table_ids entry must be a route table id like rtb-0123456789abcdef0."
  }
}

variable "create_vpc_endpoints" {
  type        = bool
  description = "With vpc_id: create the SSM, KMS and Logs interface endpoints and the DynamoDB gateway endpoint. Set false if the VPC already has them (they must then admit HTTPS from the function's security group)."
  default     = true
}

# --- Sealed audit periods ---------------------------------------------------------------------

variable "audit_retention_days" {
  type        = number
  description = "Days each sealed audit object is kept under Object Lock in compliance mode (nobody can delete or change it before then)."
  default     = 400

  validation {
    condition     = var.audit_retention_days >= 1
    error_message = "audit_retention_days must be at least 1."
  }
}

variable "audit_bucket_prefix" {
  type        = string
  description = "Key prefix of the sealed audit periods in the bucket; the function may write under it only."
  default     = "audit/"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+/$", var.audit_bucket_prefix))
    error_message = "audit_bucket_prefix must be one path segment ending in /, e.g. audit/."
  }
}

variable "seal_schedule_minutes" {
  type        = number
  description = "Minutes between scheduled runs that seal closed audit periods; also the length of a period."
  default     = 5

  validation {
    condition     = var.seal_schedule_minutes >= 1
    error_message = "seal_schedule_minutes must be at least 1."
  }
}

variable "sweep_schedule_minutes" {
  type        = number
  description = "Minutes between scheduled sweeps (reminders of open requests, requests that expired undecided, grant expiry warnings)."
  default     = 1

  validation {
    condition     = var.sweep_schedule_minutes >= 1 && floor(var.sweep_schedule_minutes) == var.sweep_schedule_minutes
    error_message = "sweep_schedule_minutes must be a whole number, at least 1."
  }
}

variable "request_remind_after" {
  type        = string
  description = "How long an access request waits undecided before its approvers are reminded, once (OTPBOT_REQUEST_REMIND_AFTER), e.g. 15m."
  default     = "15m"

  validation {
    condition     = can(regex("^[0-9]{1,6}[mhdw]$", var.request_remind_after))
    error_message = "request_remind_after must be like 15m, 1h or 1d."
  }
}

variable "grant_expiry_notice" {
  type        = string
  description = "How long before a grant ends its holder is warned, once, with a \"Request more time\" button (OTPBOT_GRANT_EXPIRY_NOTICE), e.g. 1h."
  default     = "1h"

  validation {
    condition     = can(regex("^[0-9]{1,6}[mhdw]$", var.grant_expiry_notice))
    error_message = "grant_expiry_notice must be like 30m, 1h or 1d."
  }
}
