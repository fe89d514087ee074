# One EC2 instance per machine of the topology, from local.machines. Every instance is private
# (no public address): the Tyk components in the "app" subnets, Redis, Sentinels and databases in
# the "data" subnets. Machines of one role are spread over the zones by az_index. IMDSv2 only,
# encrypted root volumes; Redis and database machines get a separate encrypted data volume.
data "aws_ami" "ubuntu" {
  most_recent = true
  owners      = ["099720109477"] # Canonical

  filter {
    name   = "name"
    values = ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

locals {
  ami_id = coalesce(var.ami_id, data.aws_ami.ubuntu.id)

  # Generated from the topology: machine => role, Ansible group, security group tier, subnet tier,
  # zone index (taken modulo the number of zones) and whether it has a data volume.
  machines = {
    "gateway-1" = {
      role           = "gateway"
      group          = "tyk_gateway"
      security_group = "gateway"
      subnet         = "app"
      az_index       = 0
      data_volume    = false
    }
    "gateway-2" = {
      role           = "gateway"
      group          = "tyk_gateway"
      security_group = "gateway"
      subnet         = "app"
      az_index       = 1
      data_volume    = false
    }
    "redis-1" = {
      role           = "redis"
      group          = "redis"
      security_group = "redis"
      subnet         = "data"
      az_index       = 0
      data_volume    = true
    }
    "redis-2" = {
      role           = "redis"
      group          = "redis"
      security_group = "redis"
      subnet         = "data"
      az_index       = 1
      data_volume    = true
    }
    "sentinel-1" = {
      role           = "sentinel"
      group          = "redis_sentinel"
      security_group = "sentinel"
      subnet         = "data"
      az_index       = 0
      data_volume    = false
    }
    "sentinel-2" = {
      role           = "sentinel"
      group          = "redis_sentinel"
      security_group = "sentinel"
      subnet         = "data"
      az_index       = 1
      data_volume    = false
    }
    "sentinel-3" = {
      role           = "sentinel"
      group          = "redis_sentinel"
      security_group = "sentinel"
      subnet         = "data"
      az_index       = 2
      data_volume    = false
    }
  }
}

resource "aws_instance" "machine" {
  for_each = local.machines

  ami                         = local.ami_id
  instance_type               = var.instance_types[each.value.role]
  subnet_id                   = local.subnet_ids[each.value.subnet][each.value.az_index % length(local.subnet_ids[each.value.subnet])]
  vpc_security_group_ids      = [aws_security_group.tier[each.value.security_group].id]
  key_name                    = var.ssh_key_name
  iam_instance_profile        = aws_iam_instance_profile.instance.name
  associate_public_ip_address = false
  ebs_optimized               = true
  monitoring                  = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    encrypted             = true
    kms_key_id            = aws_kms_key.this.arn
    delete_on_termination = true
  }

  tags = {
    Name    = "${local.profile}-${each.key}"
    Role    = each.value.role
    Group   = each.value.group
    Machine = each.key
  }

  lifecycle {
    # A newer Ubuntu AMI must not replace running machines; roll them deliberately.
    ignore_changes = [ami]

    precondition {
      condition     = length(local.subnet_ids.app) >= 2 && length(local.subnet_ids.data) >= 2
      error_message = "The instances need private subnets in at least two availability zones (existing_private_subnet_ids)."
    }
  }
}

resource "aws_ebs_volume" "data" {
  for_each = { for name, m in local.machines : name => m if m.data_volume }

  availability_zone = aws_instance.machine[each.key].availability_zone
  size              = var.data_volume_size_gb[each.value.role]
  type              = "gp3"
  encrypted         = true
  kms_key_id        = aws_kms_key.this.arn

  tags = {
    Name    = "${local.profile}-${each.key}-data"
    Role    = each.value.role
    Machine = each.key
  }
}

# Appears as /dev/nvme1n1 on Nitro instances; the Ansible step formats and mounts it.
resource "aws_volume_attachment" "data" {
  for_each = aws_ebs_volume.data

  device_name = "/dev/sdf"
  volume_id   = each.value.id
  instance_id = aws_instance.machine[each.key].id
}
