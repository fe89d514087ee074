# Inputs of the "lab" stack. Copy terraform.tfvars.example to terraform.tfvars and fill it in.
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

variable "environment" {
  description = "Name of this deployment of the profile (e.g. staging, prod), added to every account-unique name (KMS alias, log group, IAM roles, security groups) and as the Environment tag, so one profile can be deployed twice in an account. Empty: names use the profile alone."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z][a-z0-9-]{0,14}[a-z0-9])?$", var.environment))
    error_message = "The environment must be empty or 2 to 16 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource (provider default_tags), e.g. cost centre and owner. Profile, ManagedBy, Generator (and Environment) are set by the module."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Every tag key must have 1 to 128 characters and not start with aws:, every value at most 256 characters."
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
  description = "Number of availability zones to spread the machines over (replicas and Sentinels land in different zones). A region with fewer available zones uses what it has (at least two). A machine keeps the zone of its first apply: lowering az_count below a zone in use fails with a message instead of moving machines and their data."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4 && floor(var.az_count) == var.az_count
    error_message = "The az_count must be a whole number from 2 to 4."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the whole VPC instead of one per zone: cheaper (a lab, staging), but the private subnets lose package downloads when its zone fails."
  type        = bool
  default     = false
}

variable "vpc_endpoints" {
  description = "Interface endpoints for Systems Manager (ssm, ssmmessages, ec2messages) and a gateway endpoint for S3 in the VPC, so Session Manager and S3 keep working without the NAT gateways."
  type        = bool
  default     = false
}

variable "instance_types" {
  description = "EC2 instance type per machine class (a role within its Redis deployment: cache-redis and analytics-redis are sized apart from redis)."
  type        = map(string)
  default = {
    gateway   = "c6i.large"
    dashboard = "m6i.large"
    pump      = "t3.medium"
    redis     = "r6i.large"
    postgres  = "m6i.large"
  }

  validation {
    condition     = alltrue([for role in ["gateway", "dashboard", "pump", "redis", "postgres"] : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_types[role]))])
    error_message = "The instance_types map needs a type such as m6i.large for every machine class: gateway, dashboard, pump, redis, postgres."
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
  description = "Size of the separate encrypted data volume of each Redis and database machine, per machine class, in GiB."
  type        = map(number)
  default = {
    redis    = 50
    postgres = 100
  }

  validation {
    condition     = alltrue([for role in ["redis", "postgres"] : try(var.data_volume_size_gb[role] >= 1 && var.data_volume_size_gb[role] <= 16384, false)])
    error_message = "The data_volume_size_gb map needs a size from 1 to 16384 for every machine class: redis, postgres."
  }
}

variable "data_snapshot_retain_count" {
  description = "Daily snapshots of the data volumes (Data Lifecycle Manager, 03:00 UTC) to keep; 0 creates no snapshot policy."
  type        = number
  default     = 7

  validation {
    condition     = var.data_snapshot_retain_count >= 0 && var.data_snapshot_retain_count <= 1000 && floor(var.data_snapshot_retain_count) == var.data_snapshot_retain_count
    error_message = "The data_snapshot_retain_count must be a whole number from 0 to 1000."
  }
}

variable "data_volume_final_snapshot" {
  description = "Take a snapshot of a data volume when Terraform destroys or replaces it. Opt out (false) only for throw-away stacks."
  type        = bool
  default     = true
}

variable "ami_id" {
  description = "AMI of every instance. Null selects the newest Ubuntu 24.04 LTS (amd64) AMI published by Canonical."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must look like ami-0123456789abcdef0, or be null."
  }
}

variable "ssh_key_name" {
  description = "Name of an existing EC2 key pair whose public key is installed on every instance (Ansible connects with it over SSH, directly or through Session Manager). Null: no key pair (Session Manager shell access only)."
  type        = string
  default     = null

  validation {
    condition     = var.ssh_key_name == null || try(length(var.ssh_key_name) > 0 && length(var.ssh_key_name) <= 255 && !can(regex("(?i)(^my-|example|change-?me|placeholder)", var.ssh_key_name)), false)
    error_message = "The ssh_key_name must be the name of an existing EC2 key pair in the region, not the example's placeholder."
  }
}

variable "ansible_user" {
  description = "User Ansible logs in as (the AMI's default user: ubuntu for Canonical's Ubuntu images)."
  type        = string
  default     = "ubuntu"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.ansible_user))
    error_message = "The ansible_user must be a Linux user name such as ubuntu."
  }
}

variable "ansible_via_ssm" {
  description = "In the ansible_inventory output, reach every host through AWS Systems Manager (SSH over an AWS-StartSSHSession tunnel to the instance ID: needs the AWS CLI and its Session Manager plugin where Ansible runs) instead of SSH to the private address."
  type        = bool
  default     = false
}

variable "private_zone_id" {
  description = "ID of an existing private Route 53 hosted zone for the profile's domain (local.domain), associated with the VPC, to put the machines' A records in. Null creates that zone; in a shared VPC that already has one, creating another fails (ConflictingDomainExists)."
  type        = string
  default     = null

  validation {
    condition     = var.private_zone_id == null || can(regex("^Z[0-9A-Z]{1,31}$", var.private_zone_id))
    error_message = "The private_zone_id must be a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ, or null."
  }
}

variable "reverse_dns" {
  description = "Create private reverse zones (one per /16 of the VPC) with a PTR record per machine. Nothing in the stack needs them (PostgreSQL's pg_hba.conf names subnets); they take over the VPC resolver's reverse names for the whole /16, which collides in a shared VPC."
  type        = bool
  default     = false
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

variable "client_allowed_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the Tyk Gateways on port 8080 (this profile has no load balancer)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.client_allowed_cidrs : can(cidrhost(c, 0)) && !endswith(c, "/0")])
    error_message = "The client_allowed_cidrs must be IPv4 CIDR blocks, none of them /0."
  }
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
