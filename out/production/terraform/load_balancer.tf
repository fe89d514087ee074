# An Application Load Balancer in front of the Gateways: HTTPS on 443 (TLS 1.2 or newer) from
# var.lb_allowed_cidrs, forwarding to every Gateway on 8080, healthy when GET /hello answers 200.
# Without var.certificate_arn (a lab): plain HTTP on 80 instead.

resource "aws_security_group" "lb" {
  name_prefix = "${local.name}-lb-"
  description = "tykgen ${local.name} lb: load balancer in front of the Tyk Gateways"
  vpc_id      = local.vpc_id

  tags = {
    Name = "${local.name}-lb"
    Role = "load_balancer"
  }

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  listener_port = var.certificate_arn == null ? 80 : 443
}

resource "aws_vpc_security_group_ingress_rule" "lb_https" {
  for_each = toset(var.lb_allowed_cidrs)

  security_group_id = aws_security_group.lb.id
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = local.listener_port
  to_port           = local.listener_port
  description       = "${var.certificate_arn == null ? "HTTP" : "HTTPS"} listener from ${each.value}"
}

resource "aws_lb" "gateway" {
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is an account-level choice (rules, cost); attach yours with aws_wafv2_web_acl_association. The Gateway itself authenticates and rate-limits every API.
  #checkov:skip=CKV2_AWS_76:Same as CKV2_AWS_28: no WAF web ACL is created by this module.
  #checkov:skip=CKV2_AWS_20:With certificate_arn there is no HTTP listener to redirect; without one (a lab) HTTP is the only listener, and the check http_only_listener warns.
  name_prefix                = "tyk-"
  internal                   = !var.public_load_balancer
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.lb.id]
  subnets                    = var.public_load_balancer ? local.public_subnet_ids : values(local.subnet_by_zone.app)
  drop_invalid_header_fields = true
  enable_deletion_protection = var.lb_deletion_protection

  access_logs {
    bucket  = coalesce(var.lb_access_logs_bucket, "-")
    prefix  = "tykgen/${local.name}"
    enabled = var.lb_access_logs_bucket != null
  }

  tags = {
    Name = "${local.name}-gateway"
  }

  lifecycle {
    precondition {
      condition     = var.public_load_balancer || !contains(var.lb_allowed_cidrs, "0.0.0.0/0")
      error_message = "lb_allowed_cidrs may contain 0.0.0.0/0 only with public_load_balancer = true."
    }
    precondition {
      condition     = !var.public_load_balancer || length(local.public_subnet_zones) >= 2
      error_message = "A public load balancer needs public subnets in at least two availability zones: existing_public_subnet_ids has ${length(local.public_subnet_ids)} subnet(s) in ${length(local.public_subnet_zones)} zone(s)."
    }
  }
}

resource "aws_lb_target_group" "gateway" {
  # The Gateways serve HTTPS (the profile's tyk.tls): the load balancer re-encrypts to them. AWS
  # documents that an ALB does not verify target certificates; the security groups admit only it.
  name_prefix          = "tyk-"
  port                 = 8080
  protocol             = "HTTPS"
  vpc_id               = local.vpc_id
  target_type          = "instance"
  deregistration_delay = 30

  # Tyk 5.8 serves its health endpoints on the control port (control_api_port), which no
  # listener forwards to: the security groups let the load balancer reach it for this only.
  health_check {
    path                = "/ready"
    port                = "9696"
    protocol            = "HTTPS"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = {
    Name = "${local.name}-gateway"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_target_group_attachment" "gateway" {
  for_each = { for name, m in local.machines : name => m if m.role == "gateway" }

  target_group_arn = aws_lb_target_group.gateway.arn
  target_id        = aws_instance.machine[each.key].id
  port             = 8080
}

resource "aws_lb_listener" "https" {
  count = var.certificate_arn == null ? 0 : 1

  load_balancer_arn = aws_lb.gateway.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.gateway.arn
  }
}

# Without a certificate (a lab): plain HTTP on 80. API keys and Dashboard sessions then cross the
# network in clear text, hence the check below.
resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Created only without certificate_arn (a lab); the check http_only_listener warns on every plan.
  #checkov:skip=CKV_AWS_103:Same listener as CKV_AWS_2: no TLS without a certificate.
  count = var.certificate_arn == null ? 1 : 0

  load_balancer_arn = aws_lb.gateway.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.gateway.arn
  }
}

check "http_only_listener" {
  assert {
    condition     = var.certificate_arn != null
    error_message = "No certificate_arn: the load balancer listens on plain HTTP (port 80). Fine for a lab; set certificate_arn for anything else."
  }
}

check "load_balancer_access_logs" {
  assert {
    condition     = var.lb_access_logs_bucket != null
    error_message = "No lb_access_logs_bucket: the load balancer keeps no access logs. Set it (an S3 bucket whose policy lets Elastic Load Balancing write) outside a lab."
  }
}

# load-balancer.<domain>: the name users call, which the Dashboard shows
# (host_config.override_hostname).
resource "aws_route53_record" "load_balancer" {
  zone_id = local.zone_id
  name    = "load-balancer.${local.domain}"
  type    = "A"

  alias {
    name                   = aws_lb.gateway.dns_name
    zone_id                = aws_lb.gateway.zone_id
    evaluate_target_health = true
  }
}
