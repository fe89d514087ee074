# A private Route 53 zone for the profile's domain with one A record per machine
# (<machine>.<domain>), so the host names in the configuration bundle resolve inside the VPC.

resource "aws_route53_zone" "private" {
  name    = local.domain
  comment = "tykgen ${local.profile}: machines of the Tyk stack"

  vpc {
    vpc_id = local.vpc_id
  }
}

resource "aws_route53_record" "machine" {
  for_each = local.machines

  zone_id = aws_route53_zone.private.zone_id
  name    = "${each.key}.${local.domain}"
  type    = "A"
  ttl     = 60
  records = [aws_instance.machine[each.key].private_ip]
}

# gateway-control.<domain>: one address per Gateway. The Dashboard calls the Gateway API
# (tyk_api_config) by this name on the control port, so losing one Gateway loses no key
# management: its client tries the next address.
resource "aws_route53_record" "gateway_control" {
  zone_id = aws_route53_zone.private.zone_id
  name    = "gateway-control.${local.domain}"
  type    = "A"
  ttl     = 60
  records = sort([for name, m in local.machines : aws_instance.machine[name].private_ip if m.role == "gateway"])
}

# Reverse names: pg_hba.conf names the Dashboard, Pump and replica machines by host name, and
# PostgreSQL accepts such a client only when a reverse lookup of its address gives that name (and
# the name resolves back to the address). The VPC resolver's own reverse names are
# ip-a-b-c-d.<region>.compute.internal, so a private reverse zone gives every machine a PTR record
# <machine>.<domain>.
#
# Zone boundary: in-addr.arpa names have one label per octet, so a zone can only start at /8, /16
# or /24. A VPC's CIDR blocks are /16 to /28, so the /16 containing each block holds all of it:
# one zone per distinct /16 of the VPC's blocks (one zone for a VPC this module creates), whatever
# the subnets are. A /8 zone would also claim addresses outside the VPC. The zone takes over the
# VPC resolver's automatic reverse names for that /16, so other instances in it (in an existing
# VPC) no longer get their ip-... reverse names; give them PTR records here if they need them.
#
# With existing_vpc_id the CIDR blocks come from the VPC itself (var.vpc_cidr is ignored then).
data "aws_vpc" "existing" {
  count = local.create_vpc ? 0 : 1

  id = var.existing_vpc_id
}

locals {
  vpc_cidr_blocks = local.create_vpc ? [var.vpc_cidr] : concat(
    [data.aws_vpc.existing[0].cidr_block],
    [for a in data.aws_vpc.existing[0].cidr_block_associations : a.cidr_block],
  )
  # "10.40.0.0/16" -> "40.10.in-addr.arpa"
  reverse_zones = toset([
    for c in local.vpc_cidr_blocks : join(".", concat(reverse(slice(split(".", cidrhost(c, 0)), 0, 2)), ["in-addr.arpa"]))
  ])
}

resource "aws_route53_zone" "reverse" {
  for_each = local.reverse_zones

  name    = each.key
  comment = "tykgen ${local.profile}: reverse names of the machines (PostgreSQL checks pg_hba.conf host names by reverse lookup)"

  vpc {
    vpc_id = local.vpc_id
  }
}

# One PTR record per machine: <reversed private IP>.in-addr.arpa -> <machine>.<domain>, in the
# zone of the /16 that holds the address.
resource "aws_route53_record" "machine_ptr" {
  for_each = local.machines

  zone_id = aws_route53_zone.reverse[join(".", concat(reverse(slice(split(".", aws_instance.machine[each.key].private_ip), 0, 2)), ["in-addr.arpa"]))].zone_id
  name    = "${join(".", reverse(split(".", aws_instance.machine[each.key].private_ip)))}.in-addr.arpa"
  type    = "PTR"
  ttl     = 60
  records = ["${each.key}.${local.domain}"]
}
