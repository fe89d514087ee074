# The network: a VPC with a public, an app and a data subnet in each of var.az_count availability
# zones, one NAT gateway per zone for the private subnets' egress (package installation), and VPC
# flow logs. With var.existing_vpc_id, nothing here is created but the flow log: the instances use
# var.existing_private_subnet_ids and the load balancer var.existing_public_subnet_ids.

# Zones are pinned by name (the region's zones a to f, first var.az_count of them in order), so
# the set never grows silently when AWS adds a zone.
data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "zone-name"
    values = [for letter in ["a", "b", "c", "d", "e", "f"] : "${var.region}${letter}"]
  }
}

locals {
  create_vpc = var.existing_vpc_id == null
  azs        = slice(data.aws_availability_zones.available.names, 0, var.az_count)
  vpc_id     = local.create_vpc ? aws_vpc.this[0].id : var.existing_vpc_id

  public_subnet_ids = local.create_vpc ? aws_subnet.public[*].id : var.existing_public_subnet_ids
  # Subnets per tier: the Tyk components in "app", Redis, Sentinels and databases in "data".
  subnet_ids = {
    app  = local.create_vpc ? aws_subnet.app[*].id : var.existing_private_subnet_ids
    data = local.create_vpc ? aws_subnet.data[*].id : var.existing_private_subnet_ids
  }
}

resource "aws_vpc" "this" {
  count = local.create_vpc ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "${local.profile}-vpc"
  }
}

# The VPC's default security group, emptied: nothing may use it by accident.
resource "aws_default_security_group" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = {
    Name = "${local.profile}-default-deny"
  }
}

resource "aws_internet_gateway" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = {
    Name = "${local.profile}-igw"
  }
}

resource "aws_subnet" "public" {
  count = local.create_vpc ? var.az_count : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${local.profile}-public-${local.azs[count.index]}"
    Tier = "public"
  }
}

resource "aws_subnet" "app" {
  count = local.create_vpc ? var.az_count : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, 4 + count.index)
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${local.profile}-app-${local.azs[count.index]}"
    Tier = "app"
  }
}

resource "aws_subnet" "data" {
  count = local.create_vpc ? var.az_count : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, 8 + count.index)
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${local.profile}-data-${local.azs[count.index]}"
    Tier = "data"
  }
}

resource "aws_eip" "nat" {
  count = local.create_vpc ? var.az_count : 0

  domain = "vpc"

  tags = {
    Name = "${local.profile}-nat-${local.azs[count.index]}"
  }
}

resource "aws_nat_gateway" "this" {
  count = local.create_vpc ? var.az_count : 0

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = {
    Name = "${local.profile}-nat-${local.azs[count.index]}"
  }

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = {
    Name = "${local.profile}-public"
  }
}

resource "aws_route" "public_internet" {
  count = local.create_vpc ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = local.create_vpc ? var.az_count : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# One private route table per zone, so each zone's egress survives the loss of another zone.
resource "aws_route_table" "private" {
  count = local.create_vpc ? var.az_count : 0

  vpc_id = aws_vpc.this[0].id

  tags = {
    Name = "${local.profile}-private-${local.azs[count.index]}"
  }
}

resource "aws_route" "private_nat" {
  count = local.create_vpc ? var.az_count : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[count.index].id
}

resource "aws_route_table_association" "app" {
  count = local.create_vpc ? var.az_count : 0

  subnet_id      = aws_subnet.app[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

resource "aws_route_table_association" "data" {
  count = local.create_vpc ? var.az_count : 0

  subnet_id      = aws_subnet.data[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# VPC flow logs (accepted and rejected traffic) into an encrypted CloudWatch log group.
resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/tykgen/${local.profile}/vpc-flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_flow_log" "this" {
  vpc_id               = local.create_vpc ? aws_vpc.this[0].id : var.existing_vpc_id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn
}
