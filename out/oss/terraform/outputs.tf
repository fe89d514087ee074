locals {
  # Generated from the topology: Ansible group => hosts, the same groups and host names as the
  # Ansible target's inventory.
  inventory_groups = {
    "redis"          = ["redis-1", "redis-2"]
    "redis_sentinel" = ["sentinel-1", "sentinel-2", "sentinel-3"]
    "tyk_gateway"    = ["gateway-1", "gateway-2"]
  }
}

output "private_ips" {
  description = "Private IPv4 address of every machine."
  value       = { for name, instance in aws_instance.machine : name => instance.private_ip }
}

output "host_names" {
  description = "DNS name of every machine in the private zone (what the configuration files use)."
  value       = { for name, record in aws_route53_record.machine : name => record.fqdn }
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer in front of the Gateways (point the API host name's CNAME or alias here)."
  value       = aws_lb.gateway.dns_name
}

output "load_balancer_zone_id" {
  description = "Route 53 hosted zone ID of the load balancer, for an alias record of the API host name."
  value       = aws_lb.gateway.zone_id
}

output "target_group_arn" {
  description = "ARN of the Gateways' target group (to attach further Gateways or an autoscaling group)."
  value       = aws_lb_target_group.gateway.arn
}

output "instance_ids" {
  description = "EC2 instance ID of every machine (Session Manager: aws ssm start-session --target <id>)."
  value       = { for name, instance in aws_instance.machine : name => instance.id }
}

output "security_group_ids" {
  description = "Security group ID of every tier and of the load balancer (lb)."
  value       = local.sg_ids
}

output "vpc_id" {
  description = "ID of the VPC the stack runs in."
  value       = local.vpc_id
}

output "ansible_inventory" {
  description = "Ansible YAML inventory of the machines (the Ansible target never writes this file): terraform output -raw ansible_inventory > ../ansible/inventory/terraform.yml"
  value = yamlencode({
    all = {
      vars = merge(
        { ansible_user = var.ansible_user },
        # SSH through a Session Manager tunnel to the instance ID (AWS CLI + Session Manager plugin).
        var.ansible_via_ssm ? { ansible_ssh_common_args = "-o ProxyCommand='aws ssm start-session --region ${var.region} --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p'" } : {},
      )
      children = {
        for group, hosts in local.inventory_groups : group => {
          hosts = {
            for host in hosts : host => merge(
              {
                ansible_host       = var.ansible_via_ssm ? aws_instance.machine[host].id : aws_instance.machine[host].private_ip
                tykgen_instance_id = aws_instance.machine[host].id
              },
              # The data volume by its stable NVMe name (roles/common formats and mounts it).
              local.machines[host].data_volume ? { tykgen_data_volume_device = "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${replace(aws_ebs_volume.data[host].id, "-", "")}" } : {},
            )
          }
        }
      }
    }
  })
}
