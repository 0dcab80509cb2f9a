# Optional VPC placement (var.vpc_id). The function then has no internet route: it reaches
# SSM, KMS and CloudWatch Logs through interface endpoints and DynamoDB and S3 (the sealed
# audit periods) through gateway endpoints. Set create_vpc_endpoints = false when the VPC already has these endpoints.

data "aws_vpc" "selected" {
  count = local.use_vpc ? 1 : 0

  id = var.vpc_id
}

data "aws_prefix_list" "dynamodb" {
  count = local.use_vpc ? 1 : 0

  name = "com.amazonaws.${local.region}.dynamodb"
}

data "aws_prefix_list" "s3" {
  count = local.use_vpc ? 1 : 0

  name = "com.amazonaws.${local.region}.s3"
}

resource "aws_security_group" "lambda" {
  count = local.use_vpc ? 1 : 0

  name        = "${var.name}-lambda"
  description = "${var.name} Lambda: no ingress; HTTPS out to the VPC (endpoints) and DynamoDB only"
  vpc_id      = var.vpc_id

  # Nothing connects to a Lambda function's network interfaces.
  ingress = []

  egress {
    description = "HTTPS to interface VPC endpoints (SSM, KMS, CloudWatch Logs)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.selected[0].cidr_block]
  }

  egress {
    description     = "HTTPS to DynamoDB through the gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [data.aws_prefix_list.dynamodb[0].id]
  }

  egress {
    description     = "HTTPS to S3 (sealed audit periods) through the gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [data.aws_prefix_list.s3[0].id]
  }
}

resource "aws_security_group" "endpoints" {
  count = local.create_endpoints ? 1 : 0

  name        = "${var.name}-endpoints"
  description = "${var.name} interface VPC endpoints: HTTPS from the ${var.name} Lambda only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "HTTPS from the ${var.name} Lambda function"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    security_groups = [aws_security_group.lambda[0].id]
  }

  # Endpoint network interfaces only answer; they open no connections.
  egress = []
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.create_endpoints ? toset(["ssm", "kms", "logs"]) : toset([])

  vpc_id              = var.vpc_id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = var.private_subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]

  tags = { Name = "${var.name}-${each.key}" }
}

resource "aws_vpc_endpoint" "dynamodb" {
  count = local.create_endpoints ? 1 : 0

  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${local.region}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.private_route_table_ids

  tags = { Name = "${var.name}-dynamodb" }
}

resource "aws_vpc_endpoint" "s3" {
  count = local.create_endpoints ? 1 : 0

  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.private_route_table_ids

  tags = { Name = "${var.name}-s3" }
}
