# The network: a VPC with a public, an app and a data subnet in each availability zone in use, NAT
# gateways for the private subnets' egress (package installation; one per zone, or one with
# var.single_nat_gateway), optional VPC endpoints, and VPC flow logs. With var.existing_vpc_id,
# nothing here is created but the flow log (and the endpoints): the instances use
# var.existing_private_subnet_ids and the load balancer var.existing_public_subnet_ids.

# Zones are pinned by name (the region's zones a to f, the first var.az_count of them in order, or
# all of them when the region has fewer), so the set never grows silently when AWS adds a zone.
data "aws_availability_zones" "available" {
  count = local.create_vpc ? 1 : 0

  state = "available"

  filter {
    name   = "zone-name"
    values = [for letter in ["a", "b", "c", "d", "e", "f"] : "${var.region}${letter}"]
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) >= 2
      error_message = "The region ${var.region} has fewer than two available zones named ${var.region}a to ${var.region}f (${join(", ", self.names)}): the stack needs two, so that replicas and Sentinels live in different zones."
    }
  }
}

# An existing VPC: its DNS settings and CIDR blocks, and the zones of the given subnets.
data "aws_vpc" "existing" {
  count = local.create_vpc ? 0 : 1

  id = var.existing_vpc_id

  lifecycle {
    postcondition {
      condition     = self.enable_dns_support && self.enable_dns_hostnames
      error_message = "The VPC ${var.existing_vpc_id} must have DNS support and DNS hostnames enabled (enableDnsSupport, enableDnsHostnames): the machines find each other through a private Route 53 zone."
    }
  }
}

data "aws_subnet" "private" {
  for_each = local.create_vpc ? toset([]) : toset(var.existing_private_subnet_ids)

  id = each.value

  lifecycle {
    postcondition {
      condition     = self.vpc_id == var.existing_vpc_id
      error_message = "The subnet ${self.id} in existing_private_subnet_ids is in ${self.vpc_id}, not in existing_vpc_id ${coalesce(var.existing_vpc_id, "-")}."
    }
  }
}

data "aws_subnet" "public" {
  for_each = local.create_vpc ? toset([]) : toset(var.existing_public_subnet_ids)

  id = each.value

  lifecycle {
    postcondition {
      condition     = self.vpc_id == var.existing_vpc_id
      error_message = "The subnet ${self.id} in existing_public_subnet_ids is in ${self.vpc_id}, not in existing_vpc_id ${coalesce(var.existing_vpc_id, "-")}."
    }
  }
}

locals {
  create_vpc = var.existing_vpc_id == null
  vpc_id     = local.create_vpc ? aws_vpc.this[0].id : var.existing_vpc_id
  # The zones in use: a new VPC's first az_count zones of the region (fewer when the region has
  # fewer), or the zones of an existing VPC's private subnets.
  azs = local.create_vpc ? slice(data.aws_availability_zones.available[0].names, 0, min(var.az_count, length(data.aws_availability_zones.available[0].names))) : sort(distinct([for s in data.aws_subnet.private : s.availability_zone]))

  nat_count = local.create_vpc ? (var.single_nat_gateway ? 1 : length(local.azs)) : 0

  vpc_cidr_blocks = local.create_vpc ? [var.vpc_cidr] : concat(
    [data.aws_vpc.existing[0].cidr_block],
    [for a in data.aws_vpc.existing[0].cidr_block_associations : a.cidr_block if a.cidr_block != data.aws_vpc.existing[0].cidr_block],
  )

  public_subnet_ids = local.create_vpc ? aws_subnet.public[*].id : var.existing_public_subnet_ids
  # Zones of the public subnets (for the load balancer's precondition).
  public_subnet_zones = local.create_vpc ? local.azs : distinct([for s in data.aws_subnet.public : s.availability_zone])
  # Private subnet per tier and zone: the Tyk components in "app", Redis, Sentinels and databases
  # in "data". In an existing VPC both are the private subnets (the first, by ID, of each zone).
  existing_subnet_by_zone = local.create_vpc ? {} : { for z in local.azs : z => sort([for id, s in data.aws_subnet.private : id if s.availability_zone == z])[0] }
  subnet_by_zone = {
    app  = local.create_vpc ? { for i, z in local.azs : z => aws_subnet.app[i].id } : local.existing_subnet_by_zone
    data = local.create_vpc ? { for i, z in local.azs : z => aws_subnet.data[i].id } : local.existing_subnet_by_zone
  }
}

resource "aws_vpc" "this" {
  count = local.create_vpc ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "${local.name}-vpc"
  }
}

# The VPC's default security group, emptied: nothing may use it by accident.
resource "aws_default_security_group" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = {
    Name = "${local.name}-default-deny"
  }
}

resource "aws_internet_gateway" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = {
    Name = "${local.name}-igw"
  }
}

resource "aws_subnet" "public" {
  count = local.create_vpc ? length(local.azs) : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${local.name}-public-${local.azs[count.index]}"
    Tier = "public"
  }
}

resource "aws_subnet" "app" {
  count = local.create_vpc ? length(local.azs) : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, 4 + count.index)
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${local.name}-app-${local.azs[count.index]}"
    Tier = "app"
  }
}

resource "aws_subnet" "data" {
  count = local.create_vpc ? length(local.azs) : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, 8 + count.index)
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${local.name}-data-${local.azs[count.index]}"
    Tier = "data"
  }
}

resource "aws_eip" "nat" {
  count = local.nat_count

  domain = "vpc"

  tags = {
    Name = "${local.name}-nat-${local.azs[count.index]}"
  }
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = {
    Name = "${local.name}-nat-${local.azs[count.index]}"
  }

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = {
    Name = "${local.name}-public"
  }
}

resource "aws_route" "public_internet" {
  count = local.create_vpc ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = local.create_vpc ? length(local.azs) : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# One private route table per zone, each through its zone's NAT gateway (so each zone's egress
# survives the loss of another zone), or all through the single one.
resource "aws_route_table" "private" {
  count = local.create_vpc ? length(local.azs) : 0

  vpc_id = aws_vpc.this[0].id

  tags = {
    Name = "${local.name}-private-${local.azs[count.index]}"
  }
}

resource "aws_route" "private_nat" {
  count = local.create_vpc ? length(local.azs) : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

resource "aws_route_table_association" "app" {
  count = local.create_vpc ? length(local.azs) : 0

  subnet_id      = aws_subnet.app[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

resource "aws_route_table_association" "data" {
  count = local.create_vpc ? length(local.azs) : 0

  subnet_id      = aws_subnet.data[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# VPC endpoints (var.vpc_endpoints): Session Manager's three interface endpoints in the app
# subnets, reachable on 443 from the VPC, and (in a VPC this module creates) a gateway endpoint
# for S3 on the private route tables.
resource "aws_security_group" "endpoints" {
  count = var.vpc_endpoints ? 1 : 0

  name_prefix = "${local.name}-endpoints-"
  description = "tykgen ${local.name} endpoints: VPC interface endpoints (HTTPS from the VPC)"
  vpc_id      = local.vpc_id

  tags = {
    Name = "${local.name}-endpoints"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints" {
  for_each = var.vpc_endpoints ? toset(local.vpc_cidr_blocks) : toset([])

  security_group_id = aws_security_group.endpoints[0].id
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "HTTPS to the VPC endpoints from ${each.value}"
}

resource "aws_vpc_endpoint" "interface" {
  for_each = var.vpc_endpoints ? toset(["ssm", "ssmmessages", "ec2messages"]) : toset([])

  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = values(local.subnet_by_zone.app)
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true

  tags = {
    Name = "${local.name}-${each.key}"
  }
}

resource "aws_vpc_endpoint" "s3" {
  count = var.vpc_endpoints && local.create_vpc ? 1 : 0

  vpc_id            = local.vpc_id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = {
    Name = "${local.name}-s3"
  }
}

# VPC flow logs (accepted and rejected traffic) into an encrypted CloudWatch log group.
resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/tykgen/${local.name}/vpc-flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_flow_log" "this" {
  # Not local.vpc_id: checkov (CKV2_AWS_11) follows only a direct reference to aws_vpc.this.
  vpc_id               = local.create_vpc ? aws_vpc.this[0].id : var.existing_vpc_id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn
}
