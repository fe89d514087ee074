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
