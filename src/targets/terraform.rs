//! The `terraform` target: an AWS root module with one EC2 instance per machine of the topology.
//!
//! `out/<profile>/terraform/`: `versions.tf`, `variables.tf`, `network.tf`, `iam.tf`,
//! `security_groups.tf`, `instances.tf`, `load_balancer.tf` (when the profile has one), `dns.tf`,
//! `outputs.tf`, `terraform.tfvars.example`, a README and `tests/*.tftest.hcl`. Decisions:
//!
//! - **The topology lives in `locals`, as literals:** `local.machines` (machine → role, Ansible
//!   group, security group, subnet tier, AZ index, data volume), `local.sg_rules` (one entry per
//!   (from, to, port) of the topology's links) and `local.inventory_groups` (Ansible group →
//!   hosts). Every resource iterates over them with `for_each`, so the rendered module has one
//!   `aws_instance` block, and tests can compare these literals with the topology.
//! - **Security groups per tier:** a tier is a role within its Redis deployment (`redis`,
//!   `cache-redis`, `sentinel`, `postgres`, ...): the machine name without `-<n>`. A Pump that
//!   only uses the analytics Redis therefore cannot reach the main one. Ingress *and* egress
//!   follow the links; the only other rules are SSH from `var.admin_cidrs`, the Dashboard from
//!   `var.dashboard_allowed_cidrs`, the load balancer (or, without one, the Gateways) from its
//!   allowed CIDRs, and egress on 80/443 for package installation.
//! - **Every instance is private** (no public address): the data tier in `data` subnets, the Tyk
//!   tier in `app` subnets, only the load balancer and the NAT gateways in public subnets.
//!   Operators reach machines over a network routed into the VPC (VPN, peering) or SSM.
//! - **Names:** a private zone for the profile's domain (an A record per machine), or the records
//!   in an existing zone (`private_zone_id`: a shared VPC holds one zone of a name). Reverse zones
//!   (a PTR record per machine, one zone per /16 of the VPC) only with `reverse_dns`: PostgreSQL's
//!   `pg_hba.conf` names subnets, and a reverse zone takes over the resolver's names of its /16.
//! - **Placement:** [`az_indexes`] spreads each tier over consecutive zones and offsets the tiers
//!   (the Dashboard and the primaries first); `terraform_data.placement` keeps each machine's zone
//!   from its first apply, so changing `az_count` fails the plan instead of moving data.
//! - **Sizing per machine class** (the tier): `instance_types` and `data_volume_size_gb` are keyed
//!   by it, so cache and analytics Redis are sized apart from the main one.
//! - **Shipped tests:** `tests/*.tftest.hcl` run `terraform test` against a mocked provider: plan
//!   and apply, instances and rules against the topology, the inventory, validation, and what real
//!   accounts hit first; literals in them come from the same topology as the module.
//! - **AMI:** the newest Canonical Ubuntu 24.04 unless `ami_id` is set; with MongoDB older than
//!   8.0, which has no Ubuntu 24.04 packages, Ubuntu 22.04 for every machine ([`ubuntu`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Context;
use crate::output::{FileMode, FileSet};
use crate::topology::{Link, Machine, Peer, Role, Service, Topology};

/// The security-group key of the load balancer in `local.sg_rules`.
pub const LB_TIER: &str = "lb";

/// One machine, as `local.machines` lists it.
#[derive(Debug, Serialize)]
struct TfMachine {
    name: String,
    role: &'static str,
    group: String,
    tier: String,
    subnet: &'static str,
    az_index: usize,
    data_volume: bool,
}

/// One security group.
#[derive(Debug, Serialize)]
struct TfTier {
    name: String,
    role: &'static str,
    description: String,
}

/// One ingress (and mirrored egress) rule between two security groups.
#[derive(Debug, Serialize)]
struct TfRule {
    key: String,
    from: String,
    to: String,
    port: u16,
    description: String,
}

/// An Ansible group and its hosts, with the padding `terraform fmt` puts after the key.
#[derive(Debug, Serialize)]
struct TfGroup {
    name: String,
    pad: String,
    hosts: Vec<String>,
}

/// Per machine class (a tier: a role within its Redis deployment) variable defaults.
#[derive(Debug, Serialize)]
struct TfRole {
    /// The class, the key of `var.instance_types` and `var.data_volume_size_gb`.
    role: String,
    pad: String,
    instance_type: &'static str,
    hourly_usd: &'static str,
    monthly_usd: u32,
    count: usize,
    data_volume_gb: Option<u32>,
}

/// The Ubuntu release of the default AMI (`data "aws_ami" "ubuntu"`).
#[derive(Debug, Serialize)]
struct Ubuntu {
    version: &'static str,
    codename: &'static str,
    /// Canonical's AMI name prefix: gp3 images from 23.10 on, gp2 (`hvm-ssd`) before.
    image: &'static str,
    /// Why not the newest LTS, when it is not.
    reason: Option<String>,
}

impl Ubuntu {
    /// The `name` filter of Canonical's AMIs of this release (amd64 server images).
    fn ami_name(&self) -> String {
        format!("ubuntu/images/{}/ubuntu-{}-{}-amd64-server-*", self.image, self.codename, self.version)
    }
}

/// Ubuntu 24.04 (noble), unless the profile has MongoDB older than 8.0, which MongoDB publishes
/// no noble packages for (the Ansible role refuses it): then every machine gets 22.04 (jammy),
/// which every role supports, so one AMI serves the whole module.
fn ubuntu(profile: &crate::profile::Profile) -> Ubuntu {
    match profile.database.as_ref() {
        Some(db) if db.engine == crate::profile::Engine::Mongodb && !db.version.at_least(8, 0, 0) => Ubuntu {
            version: "22.04",
            codename: "jammy",
            image: "hvm-ssd",
            reason: Some(format!(
                "MongoDB {} has no packages for Ubuntu 24.04 (MongoDB 8.0 is the first)",
                db.version.as_str()
            )),
        },
        _ => Ubuntu { version: "24.04", codename: "noble", image: "hvm-ssd-gp3", reason: None },
    }
}

#[derive(Debug, Serialize)]
struct SizingProbe {
    class: String,
    machine: String,
    other: String,
    other_type: &'static str,
}

#[derive(Serialize)]
struct TfContext<'a> {
    profile: &'a str,
    description: &'a str,
    region: &'a str,
    domain: &'a str,
    load_balancer: bool,
    /// Where the target group checks the Gateways' health (their control port).
    gateway_control_port: u16,
    has_dashboard: bool,
    has_data_volumes: bool,
    machines: Vec<TfMachine>,
    tiers: Vec<TfTier>,
    rules: Vec<TfRule>,
    groups: Vec<TfGroup>,
    roles: Vec<TfRole>,
    volume_roles: Vec<&'a TfRole>,
    ubuntu: Ubuntu,
    ami_name: String,
    /// The target group's health check path (`/ready` where the Tyk version has it).
    gateway_health_path: &'static str,
    /// The Gateways serve HTTPS (`tyk.tls`): the target group and its health check use it.
    tyk_tls: bool,
    /// Tiers of the databases, which the Gateways must never reach.
    database_tiers: Vec<String>,
    /// The Dashboard and the first machine of the main Redis and database tiers (primaries).
    primaries: Vec<String>,
    /// A machine class the shipped sizing test resizes, one of its machines, and a machine of
    /// another class with its default type.
    sizing_probe: SizingProbe,
    /// The first machine of every tier (the Dashboard, the primaries) and tiers with several members.
    first_machines: Vec<String>,
    spread_tiers: Vec<Vec<String>>,
}

/// The security-group tier of a machine: its name without the trailing `-<index>`.
#[must_use]
pub fn tier_of(machine: &Machine) -> String {
    machine.server_group()
}

/// True for machines that get a separate data volume (Redis servers and databases).
#[must_use]
pub fn has_data_volume(role: Role) -> bool {
    matches!(role, Role::Redis | Role::Postgres | Role::Mongodb)
}

/// Default instance type, rough on-demand price (eu-west-1, USD per hour) and data volume size.
fn role_defaults(role: Role) -> (&'static str, &'static str, Option<u32>) {
    match role {
        Role::Gateway => ("c6i.large", "0.10", None),
        Role::Dashboard => ("m6i.large", "0.11", None),
        Role::Pump => ("t3.medium", "0.05", None),
        Role::Redis => ("r6i.large", "0.14", Some(50)),
        Role::Sentinel => ("t3.small", "0.02", None),
        Role::Postgres => ("m6i.large", "0.11", Some(100)),
        Role::Mongodb => ("m6i.large", "0.11", Some(100)),
    }
}

/// The (from tier, to tier, port) rules the topology's links need, keyed `<from>-to-<to>-<port>`.
/// A tier is a server group, so a group link is one rule that references the other tier's
/// security group. The load balancer is the tier [`LB_TIER`]; links from clients or admins are
/// CIDR rules, not listed here.
#[must_use]
pub fn sg_rules(topology: &Topology) -> BTreeMap<String, (String, String, u16, Service)> {
    let tier = |peer: &Peer| match peer {
        Peer::Machine(name) => topology.machine(name).map(tier_of),
        Peer::Group(g) => Some(g.clone()),
        Peer::LoadBalancer => Some(LB_TIER.to_owned()),
        Peer::Clients | Peer::Admins => None,
    };
    let mut out = BTreeMap::new();
    for Link { from, to, port, service } in &topology.links {
        if matches!(to, Peer::LoadBalancer) {
            continue;
        }
        let (Some(from), Some(to)) = (tier(from), tier(to)) else { continue };
        out.entry(format!("{from}-to-{to}-{port}")).or_insert((from, to, *port, *service));
    }
    out
}

fn service_word(service: Service) -> &'static str {
    match service {
        Service::Gateway => "Tyk Gateway HTTP",
        Service::GatewayControl => "Tyk Gateway control API and health checks",
        Service::Dashboard => "Tyk Dashboard HTTP",
        Service::Redis => "Redis",
        Service::RedisBus => "Redis Cluster bus",
        Service::Sentinel => "Redis Sentinel",
        Service::Postgres => "PostgreSQL",
        Service::Mongodb => "MongoDB",
    }
}

fn tier_description(tier: &str, role: Role) -> String {
    let what = match role {
        Role::Gateway => "Tyk Gateways",
        Role::Dashboard => "the Tyk Dashboard",
        Role::Pump => "Tyk Pumps",
        Role::Redis => "Redis servers",
        Role::Sentinel => "Redis Sentinels",
        Role::Postgres => "PostgreSQL servers",
        Role::Mongodb => "MongoDB replica-set members",
    };
    format!("{tier}: {what}")
}

/// Spaces that align `=` after a quoted key of `len` characters in a block of keys up to `width`.
fn pad(len: usize, width: usize) -> String {
    " ".repeat(width.saturating_sub(len))
}

/// Tiers whose first machine is a single point of the stack (the Dashboard, the main Redis
/// primary, the database primary), in the order they get zones 0, 1, 2.
const PRIMARY_TIERS: [&str; 4] = ["dashboard", "redis", "postgres", "mongodb"];

/// Zone index of every machine (taken modulo the number of zones in use): consecutive within a tier,
/// so its replicas and Sentinels land in different zones, and offset per tier: the primary tiers
/// first ([`PRIMARY_TIERS`], so the Dashboard and the primaries get different zones), then the
/// others in topology order.
#[must_use]
pub fn az_indexes(topology: &Topology) -> BTreeMap<String, usize> {
    let mut tiers: Vec<String> = Vec::new();
    for m in &topology.machines {
        let tier = tier_of(m);
        if !tiers.contains(&tier) {
            tiers.push(tier);
        }
    }
    let rank = |tier: &String| PRIMARY_TIERS.iter().position(|p| p == tier).unwrap_or(PRIMARY_TIERS.len());
    tiers.sort_by_key(rank); // stable: the other tiers keep the topology's order
    topology
        .machines
        .iter()
        .map(|m| {
            let offset = tiers.iter().position(|t| *t == tier_of(m)).unwrap_or(0);
            (m.name.clone(), offset + m.index.saturating_sub(1) as usize)
        })
        .collect()
}

pub(super) fn render(ctx: &Context<'_>) -> anyhow::Result<FileSet> {
    let t = ctx.topology;
    let az = az_indexes(t);
    let machines: Vec<TfMachine> = t
        .machines
        .iter()
        .map(|m| TfMachine {
            name: m.name.clone(),
            role: m.role.as_str(),
            group: m.group(),
            tier: tier_of(m),
            subnet: if m.role.is_data_tier() { "data" } else { "app" },
            az_index: az[&m.name],
            data_volume: has_data_volume(m.role),
        })
        .collect();

    let mut seen = BTreeSet::new();
    let tiers: Vec<TfTier> = t
        .machines
        .iter()
        .filter_map(|m| {
            let name = tier_of(m);
            seen.insert(name.clone()).then(|| TfTier {
                description: tier_description(&name, m.role),
                name,
                role: m.role.as_str(),
            })
        })
        .collect();

    let rules = sg_rules(t)
        .into_iter()
        .map(|(key, (from, to, port, service))| TfRule {
            description: format!("{} from {from} to {to} on {port}", service_word(service)),
            key,
            from,
            to,
            port,
        })
        .collect();

    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &t.machines {
        by_group.entry(m.group()).or_default().push(m.name.clone());
    }
    let width = by_group.keys().map(String::len).max().unwrap_or(0);
    let groups =
        by_group.into_iter().map(|(name, hosts)| TfGroup { pad: pad(name.len(), width), name, hosts }).collect();

    // Sizing is per machine class (tier), so a cache or analytics Redis is sized apart from the
    // main one.
    let width = tiers.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let roles: Vec<TfRole> = tiers
        .iter()
        .map(|class| {
            let role = t.machines.iter().find(|m| tier_of(m) == class.name).map_or(Role::Gateway, |m| m.role);
            let (instance_type, hourly_usd, data_volume_gb) = role_defaults(role);
            let count = t.machines.iter().filter(|m| tier_of(m) == class.name).count();
            // Rough on-demand price of a month (730 hours), in whole dollars.
            let monthly_usd = hourly_usd.parse::<f64>().map_or(0, |h| (h * 730.0).round() as u32);
            TfRole {
                role: class.name.clone(),
                pad: pad(class.name.len(), width),
                instance_type,
                hourly_usd,
                monthly_usd,
                count,
                data_volume_gb,
            }
        })
        .collect();
    let volume_width = roles.iter().filter(|r| r.data_volume_gb.is_some()).map(|r| r.role.len()).max().unwrap_or(0);
    let volume_roles_owned: Vec<TfRole> = roles
        .iter()
        .filter(|r| r.data_volume_gb.is_some())
        .map(|r| TfRole { pad: pad(r.role.len(), volume_width), role: r.role.clone(), ..*r })
        .collect();

    let database_tiers =
        tiers.iter().filter(|c| matches!(c.role, "postgres" | "mongodb")).map(|c| c.name.clone()).collect();
    let primaries = PRIMARY_TIERS
        .iter()
        .filter_map(|tier| t.machines.iter().find(|m| tier_of(m) == *tier).map(|m| m.name.clone()))
        .collect();
    // Prefer a class that is not its role's name (cache-redis): sizing by role got those wrong.
    let probe_class = tiers
        .iter()
        .find(|c| c.name != c.role)
        .or_else(|| tiers.iter().find(|c| c.role == "redis"))
        .or(tiers.first())
        .map_or_else(String::new, |c| c.name.clone());
    let member = |want: bool| t.machines.iter().find(|m| (tier_of(m) == probe_class) == want);
    let sizing_probe = SizingProbe {
        class: probe_class.clone(),
        machine: member(true).map_or_else(String::new, |m| m.name.clone()),
        other: member(false).map_or_else(String::new, |m| m.name.clone()),
        other_type: member(false).map_or("", |m| role_defaults(m.role).0),
    };
    let first_machines =
        tiers.iter().filter_map(|c| t.machines.iter().find(|m| tier_of(m) == c.name).map(|m| m.name.clone())).collect();
    let spread_tiers = tiers
        .iter()
        .map(|c| t.machines.iter().filter(|m| tier_of(m) == c.name).map(|m| m.name.clone()).collect::<Vec<_>>())
        .filter(|members| members.len() >= 2)
        .collect();

    let tf = TfContext {
        profile: &ctx.profile.name,
        description: &ctx.profile.description,
        region: &ctx.profile.targets.terraform.region,
        domain: &t.domain,
        load_balancer: t.load_balancer,
        gateway_control_port: crate::topology::GATEWAY_CONTROL_PORT,
        has_dashboard: t.machines.iter().any(|m| m.role == Role::Dashboard),
        has_data_volumes: !volume_roles_owned.is_empty(),
        machines,
        tiers,
        rules,
        groups,
        roles,
        volume_roles: volume_roles_owned.iter().collect(),
        ami_name: ubuntu(ctx.profile).ami_name(),
        ubuntu: ubuntu(ctx.profile),
        gateway_health_path: crate::versions::gateway_health_path(&ctx.profile.tyk.version),
        tyk_tls: ctx.profile.tyk.tls.enabled,
        database_tiers,
        primaries,
        sizing_probe,
        first_machines,
        spread_tiers,
    };

    let mut set = FileSet::new();
    let mut files = vec![
        "versions.tf",
        "variables.tf",
        "network.tf",
        "iam.tf",
        "security_groups.tf",
        "instances.tf",
        "dns.tf",
        "outputs.tf",
        "terraform.tfvars.example",
        "README.md",
        "tests/module.tftest.hcl",
        "tests/real_account.tftest.hcl",
        "tests/placement.tftest.hcl",
    ];
    if tf.load_balancer {
        files.push("load_balancer.tf");
    }
    let prepared = crate::render::Prepared::new(&tf)?;
    for file in files {
        let text = ctx.renderer.render_prepared(&format!("terraform/{file}.tera"), &prepared)?;
        set.add(file, text, FileMode::Normal)?;
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Input, load};
    use crate::topology::tests::topo;

    #[test]
    fn tiers_keep_the_redis_deployment_apart() {
        let t = topo("redis-cluster");
        let tiers: BTreeSet<String> = t.machines.iter().map(tier_of).collect();
        assert!(tiers.contains("cache-redis") && tiers.contains("analytics-sentinel") && tiers.contains("redis"));
        let rules = sg_rules(&t);
        assert!(rules.contains_key("pump-to-analytics-redis-6379"), "{:?}", rules.keys());
        assert!(!rules.contains_key("pump-to-redis-6379"));
        assert!(rules.contains_key("redis-to-redis-16379"), "cluster bus between the nodes");
    }

    #[test]
    fn mongodb_before_8_gets_ubuntu_22_04() {
        let profile = |name: &str, sets: &[&str]| {
            let input = Input {
                profile: Some(name.into()),
                sets: sets.iter().map(|s| (*s).to_owned()).collect(),
                ..Input::default()
            };
            load(&input).unwrap().profile
        };
        let u = ubuntu(&profile("production-mongo", &[]));
        assert_eq!(u.ami_name(), "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*");
        assert!(u.reason.unwrap().contains("MongoDB 7.0"));
        let u = ubuntu(&profile("production-mongo", &["database.version=8.0"]));
        assert_eq!((u.codename, u.reason), ("noble", None));
        let u = ubuntu(&profile("production", &[]));
        assert_eq!(u.ami_name(), "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*");
    }

    #[test]
    fn primaries_and_their_replicas_spread_over_the_zones() {
        let az = az_indexes(&topo("production"));
        let zone = |m: &str| az[m] % 3;
        // Before, every `-1` machine was in zone 0.
        let primaries: BTreeSet<usize> = ["dashboard-1", "redis-1", "postgres-1"].iter().map(|m| zone(m)).collect();
        assert_eq!(primaries.len(), 3, "{az:?}");
        assert_ne!(zone("redis-1"), zone("redis-2"));
        assert_ne!(zone("postgres-1"), zone("postgres-2"));
        let sentinels: BTreeSet<usize> = ["sentinel-1", "sentinel-2", "sentinel-3"].iter().map(|m| zone(m)).collect();
        assert_eq!(sentinels.len(), 3);
    }

    #[test]
    fn the_load_balancer_is_its_own_tier() {
        let rules = sg_rules(&topo("production"));
        assert_eq!(rules.get("lb-to-gateway-8080").map(|r| (r.0.as_str(), r.2)), Some(("lb", 8080)));
        assert!(sg_rules(&topo("lab")).keys().all(|k| !k.starts_with("lb-")));
    }
}
