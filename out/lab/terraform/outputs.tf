locals {
  # Generated from the topology: Ansible group => hosts, the same groups and host names as the
  # Ansible target's inventory.
  inventory_groups = {
    "postgres_primary" = ["postgres-1"]
    "redis"            = ["redis-1"]
    "tyk_dashboard"    = ["dashboard-1"]
    "tyk_gateway"      = ["gateway-1"]
    "tyk_pump"         = ["pump-1"]
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

output "vpc_id" {
  description = "ID of the VPC the stack runs in."
  value       = local.vpc_id
}

output "ansible_inventory" {
  description = "Ansible YAML inventory: terraform output -raw ansible_inventory > ../ansible/inventory/hosts.yml"
  value = yamlencode({
    all = {
      children = {
        for group, hosts in local.inventory_groups : group => {
          hosts = { for host in hosts : host => { ansible_host = aws_instance.machine[host].private_ip } }
        }
      }
    }
  })
}
