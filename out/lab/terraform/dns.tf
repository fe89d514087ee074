# Machine names: an A record per machine (<machine>.<domain>) in a private Route 53 zone for the
# profile's domain, so the host names in the configuration bundle resolve inside the VPC. The zone
# is created here, or (var.private_zone_id) an existing one is used: a shared VPC can hold only one
# private zone of a name (ConflictingDomainExists).

resource "aws_route53_zone" "private" {
  count = var.private_zone_id == null ? 1 : 0

  name    = local.domain
  comment = "tykgen ${local.name}: machines of the Tyk stack"

  vpc {
    vpc_id = local.vpc_id
  }
}

# An existing zone must be the profile's domain, or the configuration files' names do not resolve.
data "aws_route53_zone" "existing" {
  count = var.private_zone_id == null ? 0 : 1

  zone_id = var.private_zone_id

  lifecycle {
    postcondition {
      condition     = trimsuffix(self.name, ".") == local.domain
      error_message = "The private_zone_id ${var.private_zone_id} is the zone ${self.name}; it must be the private zone ${local.domain}, associated with the stack's VPC."
    }
  }
}

locals {
  zone_id = var.private_zone_id == null ? aws_route53_zone.private[0].zone_id : var.private_zone_id
}

resource "aws_route53_record" "machine" {
  for_each = local.machines

  zone_id = local.zone_id
  name    = "${each.key}.${local.domain}"
  type    = "A"
  ttl     = 60
  records = [aws_instance.machine[each.key].private_ip]
}

# gateway-control.<domain>: one address per Gateway. The Dashboard calls the Gateway API
# (tyk_api_config) by this name on the control port, so losing one Gateway loses no key
# management: its client tries the next address.
resource "aws_route53_record" "gateway_control" {
  zone_id = local.zone_id
  name    = "gateway-control.${local.domain}"
  type    = "A"
  ttl     = 60
  records = sort([for name, m in local.machines : aws_instance.machine[name].private_ip if m.role == "gateway"])
}


# Reverse names, only with var.reverse_dns: nothing in the stack needs them (pg_hba.conf names
# subnets, not hosts). A private reverse zone per /16 of the VPC's CIDR blocks (in-addr.arpa names
# have one label per octet, so a zone starts at /8, /16 or /24, and a VPC block of /16 to /28 lies
# in one /16) with a PTR record <machine>.<domain> per machine. Such a zone takes over the VPC
# resolver's automatic ip-... reverse names for its whole /16, so other instances in a shared VPC
# lose theirs; that is why it is off by default.
locals {
  # "10.40.0.0/16" -> "40.10.in-addr.arpa"
  reverse_zones = var.reverse_dns ? toset([
    for c in local.vpc_cidr_blocks : join(".", concat(reverse(slice(split(".", cidrhost(c, 0)), 0, 2)), ["in-addr.arpa"]))
  ]) : toset([])
}

resource "aws_route53_zone" "reverse" {
  for_each = local.reverse_zones

  name    = each.key
  comment = "tykgen ${local.name}: reverse names of the machines"

  vpc {
    vpc_id = local.vpc_id
  }
}

# One PTR record per machine: <reversed private IP>.in-addr.arpa -> <machine>.<domain>, in the
# zone of the /16 that holds the address.
resource "aws_route53_record" "machine_ptr" {
  for_each = var.reverse_dns ? local.machines : {}

  zone_id = aws_route53_zone.reverse[join(".", concat(reverse(slice(split(".", aws_instance.machine[each.key].private_ip), 0, 2)), ["in-addr.arpa"]))].zone_id
  name    = "${join(".", reverse(split(".", aws_instance.machine[each.key].private_ip)))}.in-addr.arpa"
  type    = "PTR"
  ttl     = 60
  records = ["${each.key}.${local.domain}"]
}
