# Security groups: one per tier (a role within its Redis deployment), with ingress and egress rules
# generated from the topology's links. A port is open exactly where a link needs it:
# local.sg_rules has one entry per (client tier, server tier, port); "lb" is the load balancer.
# Besides those: SSH from var.admin_cidrs; the Dashboard from var.dashboard_allowed_cidrs;
# HTTPS to the load balancer from var.lb_allowed_cidrs; egress on 80/443 for packages (NAT).

locals {
  security_groups = {
    "gateway" = {
      role        = "gateway"
      description = "gateway: Tyk Gateways"
    }
    "dashboard" = {
      role        = "dashboard"
      description = "dashboard: the Tyk Dashboard"
    }
    "pump" = {
      role        = "pump"
      description = "pump: Tyk Pumps"
    }
    "redis" = {
      role        = "redis"
      description = "redis: Redis servers"
    }
    "sentinel" = {
      role        = "sentinel"
      description = "sentinel: Redis Sentinels"
    }
    "postgres" = {
      role        = "postgres"
      description = "postgres: PostgreSQL servers"
    }
  }

  sg_rules = {
    "dashboard-to-gateway-9696" = {
      from        = "dashboard"
      to          = "gateway"
      port        = 9696
      description = "Tyk Gateway control API and health checks from dashboard to gateway on 9696"
    }
    "dashboard-to-postgres-5432" = {
      from        = "dashboard"
      to          = "postgres"
      port        = 5432
      description = "PostgreSQL from dashboard to postgres on 5432"
    }
    "dashboard-to-redis-6379" = {
      from        = "dashboard"
      to          = "redis"
      port        = 6379
      description = "Redis from dashboard to redis on 6379"
    }
    "dashboard-to-sentinel-26379" = {
      from        = "dashboard"
      to          = "sentinel"
      port        = 26379
      description = "Redis Sentinel from dashboard to sentinel on 26379"
    }
    "gateway-to-dashboard-3000" = {
      from        = "gateway"
      to          = "dashboard"
      port        = 3000
      description = "Tyk Dashboard HTTP from gateway to dashboard on 3000"
    }
    "gateway-to-redis-6379" = {
      from        = "gateway"
      to          = "redis"
      port        = 6379
      description = "Redis from gateway to redis on 6379"
    }
    "gateway-to-sentinel-26379" = {
      from        = "gateway"
      to          = "sentinel"
      port        = 26379
      description = "Redis Sentinel from gateway to sentinel on 26379"
    }
    "lb-to-gateway-8080" = {
      from        = "lb"
      to          = "gateway"
      port        = 8080
      description = "Tyk Gateway HTTP from lb to gateway on 8080"
    }
    "lb-to-gateway-9696" = {
      from        = "lb"
      to          = "gateway"
      port        = 9696
      description = "Tyk Gateway control API and health checks from lb to gateway on 9696"
    }
    "postgres-to-postgres-5432" = {
      from        = "postgres"
      to          = "postgres"
      port        = 5432
      description = "PostgreSQL from postgres to postgres on 5432"
    }
    "pump-to-postgres-5432" = {
      from        = "pump"
      to          = "postgres"
      port        = 5432
      description = "PostgreSQL from pump to postgres on 5432"
    }
    "pump-to-redis-6379" = {
      from        = "pump"
      to          = "redis"
      port        = 6379
      description = "Redis from pump to redis on 6379"
    }
    "pump-to-sentinel-26379" = {
      from        = "pump"
      to          = "sentinel"
      port        = 26379
      description = "Redis Sentinel from pump to sentinel on 26379"
    }
    "redis-to-redis-6379" = {
      from        = "redis"
      to          = "redis"
      port        = 6379
      description = "Redis from redis to redis on 6379"
    }
    "sentinel-to-redis-6379" = {
      from        = "sentinel"
      to          = "redis"
      port        = 6379
      description = "Redis from sentinel to redis on 6379"
    }
    "sentinel-to-sentinel-26379" = {
      from        = "sentinel"
      to          = "sentinel"
      port        = 26379
      description = "Redis Sentinel from sentinel to sentinel on 26379"
    }
  }

  # Security group IDs by tier, the load balancer's included.
  sg_ids = merge(
    { for tier, sg in aws_security_group.tier : tier => sg.id },
    { lb = aws_security_group.lb.id },
  )
}

resource "aws_security_group" "tier" {
  #checkov:skip=CKV2_AWS_5:Attached to aws_instance.machine through vpc_security_group_ids by for_each key, which checkov's graph does not resolve; the tests check every tier has machines.
  for_each = local.security_groups

  name_prefix = "${local.name}-${each.key}-"
  description = "tykgen ${local.name} ${each.value.description}"
  vpc_id      = local.vpc_id

  tags = {
    Name = "${local.name}-${each.key}"
    Role = each.value.role
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Server side of every link: the server tier accepts the client tier on the link's port.
resource "aws_vpc_security_group_ingress_rule" "link" {
  for_each = local.sg_rules

  security_group_id            = local.sg_ids[each.value.to]
  referenced_security_group_id = local.sg_ids[each.value.from]
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  description                  = each.value.description
}

# Client side of every link: the client tier may open the connection.
resource "aws_vpc_security_group_egress_rule" "link" {
  for_each = local.sg_rules

  security_group_id            = local.sg_ids[each.value.from]
  referenced_security_group_id = local.sg_ids[each.value.to]
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  description                  = each.value.description
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  for_each = { for pair in setproduct(keys(local.security_groups), var.admin_cidrs) : "${pair[0]}-${pair[1]}" => { tier = pair[0], cidr = pair[1] } }

  security_group_id = aws_security_group.tier[each.value.tier].id
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  description       = "SSH from the admin network ${each.value.cidr}"
}

resource "aws_vpc_security_group_ingress_rule" "dashboard" {
  for_each = toset(var.dashboard_allowed_cidrs)

  security_group_id = aws_security_group.tier["dashboard"].id
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 3000
  to_port           = 3000
  description       = "Tyk Dashboard HTTP from ${each.value}"
}

# Package installation (apt, the Tyk and database repositories) through the NAT gateways.
resource "aws_vpc_security_group_egress_rule" "packages" {
  for_each = { for pair in setproduct(keys(local.security_groups), [80, 443]) : "${pair[0]}-${pair[1]}" => { tier = pair[0], port = pair[1] } }

  security_group_id = aws_security_group.tier[each.value.tier].id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  description       = "Package downloads on ${each.value.port} through NAT"
}
