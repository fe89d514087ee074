# Inputs of the "production-mongo" stack. Copy terraform.tfvars.example to terraform.tfvars and fill it in.
# No variable has a secret default: the stack's passwords are handled by the Ansible step.

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "The region must be an AWS region code such as eu-west-1."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC this module creates (ignored with existing_vpc_id). Split into a public, an app and a data subnet per availability zone."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "The vpc_cidr must be an IPv4 CIDR block with a prefix length from /16 to /24."
  }
}

variable "existing_vpc_id" {
  description = "ID of an existing VPC to deploy into instead of creating one. Requires existing_public_subnet_ids and existing_private_subnet_ids (at least two each, in different availability zones, the private ones with NAT egress)."
  type        = string
  default     = null

  validation {
    condition     = var.existing_vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", var.existing_vpc_id))
    error_message = "The existing_vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "existing_public_subnet_ids" {
  description = "Public subnets of existing_vpc_id, for the load balancer."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.existing_public_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "Every subnet ID must look like subnet-0123456789abcdef0."
  }
}

variable "existing_private_subnet_ids" {
  description = "Private subnets of existing_vpc_id (with NAT egress), for the instances."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.existing_private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "Every subnet ID must look like subnet-0123456789abcdef0."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread the machines over (replicas and Sentinels land in different zones)."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4 && floor(var.az_count) == var.az_count
    error_message = "The az_count must be a whole number from 2 to 4."
  }
}

variable "instance_types" {
  description = "EC2 instance type per role."
  type        = map(string)
  default = {
    gateway   = "c6i.large"
    dashboard = "m6i.large"
    pump      = "t3.medium"
    redis     = "r6i.large"
    sentinel  = "t3.small"
    mongodb   = "m6i.large"
  }

  validation {
    condition     = alltrue([for role in ["gateway", "dashboard", "pump", "redis", "sentinel", "mongodb"] : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_types[role]))])
    error_message = "The instance_types map needs a type such as m6i.large for every role: gateway, dashboard, pump, redis, sentinel, mongodb."
  }
}

variable "root_volume_size_gb" {
  description = "Size of every instance's encrypted root volume, in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.root_volume_size_gb >= 8 && var.root_volume_size_gb <= 1024
    error_message = "The root_volume_size_gb must be from 8 to 1024."
  }
}

variable "data_volume_size_gb" {
  description = "Size of the separate encrypted data volume of each Redis and database machine, per role, in GiB."
  type        = map(number)
  default = {
    redis   = 50
    mongodb = 100
  }

  validation {
    condition     = alltrue([for role in ["redis", "mongodb"] : try(var.data_volume_size_gb[role] >= 1 && var.data_volume_size_gb[role] <= 16384, false)])
    error_message = "The data_volume_size_gb map needs a size from 1 to 16384 for every role: redis, mongodb."
  }
}

variable "ami_id" {
  description = "AMI of every instance. Null selects the newest Ubuntu 22.04 LTS (amd64) AMI published by Canonical."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must look like ami-0123456789abcdef0, or be null."
  }
}

variable "ssh_key_name" {
  description = "Name of an existing EC2 key pair whose public key is installed on every instance (Ansible connects with it)."
  type        = string

  validation {
    condition     = length(var.ssh_key_name) > 0 && length(var.ssh_key_name) <= 255
    error_message = "The ssh_key_name must be the name of an existing EC2 key pair."
  }
}

variable "admin_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach every instance on SSH (22). They must be routed into the VPC (VPN, Direct Connect, peering, a bastion): no instance has a public address."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0)) && !endswith(c, "/0")])
    error_message = "The admin_cidrs must be one or more IPv4 CIDR blocks, none of them /0 (SSH is never open to the internet)."
  }
}

variable "dashboard_allowed_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the Tyk Dashboard on port 3000 (its users and API clients), routed into the VPC like admin_cidrs."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.dashboard_allowed_cidrs : can(cidrhost(c, 0)) && !endswith(c, "/0")])
    error_message = "The dashboard_allowed_cidrs must be IPv4 CIDR blocks, none of them /0."
  }
}

variable "public_load_balancer" {
  description = "True for an internet-facing load balancer in the public subnets; false (the default) for an internal one. Only a public load balancer may allow 0.0.0.0/0."
  type        = bool
  default     = false
}

variable "lb_allowed_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer's HTTPS listener (443). 0.0.0.0/0 is accepted only with public_load_balancer = true."
  type        = list(string)

  validation {
    condition     = length(var.lb_allowed_cidrs) > 0 && alltrue([for c in var.lb_allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "The lb_allowed_cidrs must be one or more IPv4 CIDR blocks."
  }
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate the load balancer's HTTPS listener presents (the API host name clients use)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "The certificate_arn must be the ARN of an ACM certificate."
  }
}

variable "lb_access_logs_bucket" {
  description = "Existing S3 bucket that receives the load balancer's access logs (its policy must allow Elastic Load Balancing to write)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.lb_access_logs_bucket))
    error_message = "The lb_access_logs_bucket must be an S3 bucket name."
  }
}

variable "lb_deletion_protection" {
  description = "Protect the load balancer from deletion. Set to false before terraform destroy."
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  description = "Days to keep the VPC flow logs in CloudWatch Logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "The flow_log_retention_days must be a retention period CloudWatch Logs supports (e.g. 30, 90, 365)."
  }
}
