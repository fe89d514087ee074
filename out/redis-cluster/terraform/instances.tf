# One EC2 instance per machine of the topology, from local.machines. Every instance is private
# (no public address): the Tyk components in the "app" subnets, Redis, Sentinels and databases in
# the "data" subnets. Machines are spread over the zones by az_index (a tier's machines in
# consecutive zones, the tiers offset from each other) and keep the zone of their first apply
# (terraform_data.placement). IMDSv2 only, encrypted root volumes; Redis and database machines
# get a separate encrypted data volume, snapshotted daily and on destroy.
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

  # Generated from the topology: machine => role, Ansible group, security group tier (also the
  # machine class of var.instance_types), subnet tier, zone index (taken modulo the number of
  # zones in use) and whether it has a data volume.
  machines = {
    "gateway-1" = {
      role           = "gateway"
      group          = "tyk_gateway"
      security_group = "gateway"
      subnet         = "app"
      az_index       = 3
      data_volume    = false
    }
    "gateway-2" = {
      role           = "gateway"
      group          = "tyk_gateway"
      security_group = "gateway"
      subnet         = "app"
      az_index       = 4
      data_volume    = false
    }
    "gateway-3" = {
      role           = "gateway"
      group          = "tyk_gateway"
      security_group = "gateway"
      subnet         = "app"
      az_index       = 5
      data_volume    = false
    }
    "dashboard-1" = {
      role           = "dashboard"
      group          = "tyk_dashboard"
      security_group = "dashboard"
      subnet         = "app"
      az_index       = 0
      data_volume    = false
    }
    "pump-1" = {
      role           = "pump"
      group          = "tyk_pump"
      security_group = "pump"
      subnet         = "app"
      az_index       = 4
      data_volume    = false
    }
    "redis-1" = {
      role           = "redis"
      group          = "redis"
      security_group = "redis"
      subnet         = "data"
      az_index       = 1
      data_volume    = true
    }
    "redis-2" = {
      role           = "redis"
      group          = "redis"
      security_group = "redis"
      subnet         = "data"
      az_index       = 2
      data_volume    = true
    }
    "redis-3" = {
      role           = "redis"
      group          = "redis"
      security_group = "redis"
      subnet         = "data"
      az_index       = 3
      data_volume    = true
    }
    "redis-4" = {
      role           = "redis"
      group          = "redis"
      security_group = "redis"
      subnet         = "data"
      az_index       = 4
      data_volume    = true
    }
    "redis-5" = {
      role           = "redis"
      group          = "redis"
      security_group = "redis"
      subnet         = "data"
      az_index       = 5
      data_volume    = true
    }
    "redis-6" = {
      role           = "redis"
      group          = "redis"
      security_group = "redis"
      subnet         = "data"
      az_index       = 6
      data_volume    = true
    }
    "cache-redis-1" = {
      role           = "redis"
      group          = "cache_redis"
      security_group = "cache-redis"
      subnet         = "data"
      az_index       = 5
      data_volume    = true
    }
    "cache-redis-2" = {
      role           = "redis"
      group          = "cache_redis"
      security_group = "cache-redis"
      subnet         = "data"
      az_index       = 6
      data_volume    = true
    }
    "cache-sentinel-1" = {
      role           = "sentinel"
      group          = "cache_redis_sentinel"
      security_group = "cache-sentinel"
      subnet         = "data"
      az_index       = 6
      data_volume    = false
    }
    "cache-sentinel-2" = {
      role           = "sentinel"
      group          = "cache_redis_sentinel"
      security_group = "cache-sentinel"
      subnet         = "data"
      az_index       = 7
      data_volume    = false
    }
    "cache-sentinel-3" = {
      role           = "sentinel"
      group          = "cache_redis_sentinel"
      security_group = "cache-sentinel"
      subnet         = "data"
      az_index       = 8
      data_volume    = false
    }
    "analytics-redis-1" = {
      role           = "redis"
      group          = "analytics_redis"
      security_group = "analytics-redis"
      subnet         = "data"
      az_index       = 7
      data_volume    = true
    }
    "analytics-redis-2" = {
      role           = "redis"
      group          = "analytics_redis"
      security_group = "analytics-redis"
      subnet         = "data"
      az_index       = 8
      data_volume    = true
    }
    "analytics-sentinel-1" = {
      role           = "sentinel"
      group          = "analytics_redis_sentinel"
      security_group = "analytics-sentinel"
      subnet         = "data"
      az_index       = 8
      data_volume    = false
    }
    "analytics-sentinel-2" = {
      role           = "sentinel"
      group          = "analytics_redis_sentinel"
      security_group = "analytics-sentinel"
      subnet         = "data"
      az_index       = 9
      data_volume    = false
    }
    "analytics-sentinel-3" = {
      role           = "sentinel"
      group          = "analytics_redis_sentinel"
      security_group = "analytics-sentinel"
      subnet         = "data"
      az_index       = 10
      data_volume    = false
    }
    "postgres-1" = {
      role           = "postgres"
      group          = "postgres_primary"
      security_group = "postgres"
      subnet         = "data"
      az_index       = 2
      data_volume    = true
    }
    "postgres-2" = {
      role           = "postgres"
      group          = "postgres_replica"
      security_group = "postgres"
      subnet         = "data"
      az_index       = 3
      data_volume    = true
    }
  }
}

# A set key pair must exist: fail at plan, not halfway through apply.
data "aws_key_pair" "ssh" {
  count = var.ssh_key_name == null ? 0 : 1

  key_name = var.ssh_key_name
}

# The zone of every machine, fixed on its first apply: changing az_count (or an existing VPC's
# subnets) later must not move a machine and replace its data volume. To move one deliberately
# (after a snapshot): terraform apply -replace='terraform_data.placement["<machine>"]'.
resource "terraform_data" "placement" {
  for_each = local.machines

  input = local.azs[each.value.az_index % length(local.azs)]

  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_instance" "machine" {
  for_each = local.machines

  ami                         = local.ami_id
  instance_type               = var.instance_types[each.value.security_group]
  subnet_id                   = try(local.subnet_by_zone[each.value.subnet][terraform_data.placement[each.key].output], null)
  vpc_security_group_ids      = [aws_security_group.tier[each.value.security_group].id]
  key_name                    = try(data.aws_key_pair.ssh[0].key_name, null)
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
    Name    = "${local.name}-${each.key}"
    Role    = each.value.role
    Group   = each.value.group
    Machine = each.key
  }

  lifecycle {
    # A newer Ubuntu AMI must not replace running machines; roll them deliberately.
    ignore_changes = [ami]

    precondition {
      condition     = length(local.azs) >= 2
      error_message = "The instances need private subnets in at least two availability zones (existing_private_subnet_ids)."
    }
    precondition {
      condition     = contains(local.azs, terraform_data.placement[each.key].output)
      error_message = "${each.key} was placed in ${terraform_data.placement[each.key].output} on its first apply, which is no longer among the zones in use (${join(", ", local.azs)}): lowering az_count or dropping that zone's subnet would move it and replace its data. Restore the zone, or move the machine deliberately after a snapshot: terraform apply -replace='terraform_data.placement[\"${each.key}\"]'."
    }
  }
}

resource "aws_ebs_volume" "data" {
  for_each = { for name, m in local.machines : name => m if m.data_volume }

  availability_zone = terraform_data.placement[each.key].output
  size              = var.data_volume_size_gb[each.value.security_group]
  type              = "gp3"
  encrypted         = true
  kms_key_id        = aws_kms_key.this.arn
  # Replacing or destroying the volume leaves a snapshot of its data (var.data_volume_final_snapshot).
  final_snapshot = var.data_volume_final_snapshot

  tags = {
    Name     = "${local.name}-${each.key}-data"
    Role     = each.value.role
    Machine  = each.key
    Snapshot = "${local.name}-data"
  }
}

# Daily snapshots of every data volume (tag Snapshot), the newest data_snapshot_retain_count kept.
resource "aws_dlm_lifecycle_policy" "data" {
  count = var.data_snapshot_retain_count > 0 ? 1 : 0

  description        = "tykgen ${local.name} daily snapshots of the data volumes"
  execution_role_arn = aws_iam_role.snapshots[0].arn
  state              = "ENABLED"

  policy_details {
    resource_types = ["VOLUME"]
    target_tags = {
      Snapshot = "${local.name}-data"
    }

    schedule {
      name      = "daily"
      copy_tags = true

      create_rule {
        interval      = 24
        interval_unit = "HOURS"
        times         = ["03:00"]
      }

      retain_rule {
        count = var.data_snapshot_retain_count
      }
    }
  }
}

# Appears as /dev/nvme1n1 on Nitro instances, and always as
# /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_<volume ID without the dash> (the
# tykgen_data_volume_device of the ansible_inventory output); the Ansible step formats and mounts it.
resource "aws_volume_attachment" "data" {
  for_each = aws_ebs_volume.data

  device_name = "/dev/sdf"
  volume_id   = each.value.id
  instance_id = aws_instance.machine[each.key].id
}
