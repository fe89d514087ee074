//! `tykgen explain`: what a profile will build, as data a reviewer (or a tool) can read before
//! anything is deployed.
//!
//! [`explain`] turns the pipeline's values (the topology, the per-machine configuration, the check
//! findings) into an [`Explanation`]; it derives nothing of its own, so what it shows is what the
//! targets render. [`Changes`] compares two explanations for a change review. The formats live in
//! `text.rs` (tables) and `diagram.rs` (Mermaid and Graphviz); JSON is the serde form of
//! [`Explanation`], with a JSON Schema from schemars (`tykgen explain --schema`).

mod diagram;
mod text;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::Serialize;

pub use diagram::{dot, mermaid};
pub use text::text;

use crate::check::Finding;
use crate::check::budget::{self, Budget};
use crate::config::Bundle;
use crate::profile::{Engine, Profile};
use crate::targets::{self, Context, Target};
use crate::topology::{Link, Machine, Peer, Replication, Role, SecretUse, Service, Store, Topology};

/// Everything `explain` shows about one profile.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Explanation {
    /// The profile's name.
    pub profile: String,
    /// Its one-line description.
    pub description: String,
    /// The versions it deploys, by profile key (`tyk.version`, `redis.version`, ...).
    pub versions: BTreeMap<String, String>,
    /// Every machine, in the topology's order.
    pub machines: Vec<MachineView>,
    /// Every connection: who opens it, to whom, on which port.
    pub links: Vec<LinkView>,
    /// Each Redis deployment, main first.
    pub redis: Vec<RedisView>,
    /// The database cluster, when there is a Dashboard.
    pub database: Option<DatabaseView>,
    /// What each target renders.
    pub targets: Vec<TargetView>,
    /// What `tykgen check` finds, most severe first.
    pub findings: Vec<FindingView>,
    /// With `--against`: what changed since the old profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

/// One machine.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MachineView {
    /// `<role>-<n>`, e.g. `gateway-1`.
    pub name: String,
    /// What it runs: `gateway`, `dashboard`, `pump`, `redis`, `sentinel`, `postgres`, `mongodb`.
    pub role: String,
    /// The tier it is drawn in: `tyk`, `redis`, `cache-redis`, `analytics-redis` or `database`.
    pub tier: String,
    /// Its part in replication: `primary`, `replica of <machine>`, `cluster node`, `sentinel`,
    /// `member`, or empty.
    pub replication: String,
    /// Its host name.
    pub host: String,
    /// The pinned address (`machines.<name>.address`), if any.
    pub address: Option<String>,
    /// The Terraform zone slot (the module places it in zone `zone_slot mod az_count`).
    pub zone_slot: u32,
    /// The ports it listens on, with the service.
    pub listens: Vec<PortView>,
    /// Who connects to it (`<peer>:<port>`; a peer `<group>-*` is every machine of a server group).
    pub links_in: Vec<String>,
    /// Whom it connects to (`<peer>:<port>`, as in `links_in`).
    pub links_out: Vec<String>,
    /// The secrets it needs, by name (values come from `.env`, the vault, or your secret store).
    pub secrets: Vec<String>,
}

/// A port a machine listens on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct PortView {
    /// TCP port.
    pub port: u16,
    /// The protocol (`gateway`, `redis`, `sentinel`, ...).
    pub service: String,
    /// True when the port only speaks TLS.
    pub tls: bool,
}

/// One connection. A peer `<group>-*` is every machine of a server group (`gateway-*`,
/// `cache-redis-*`): every member of `from` connects to every member of `to`, a machine never to
/// itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct LinkView {
    /// The client: a machine, a server group `<group>-*`, or `load-balancer`, `clients`, `admins`.
    pub from: String,
    /// The server: a machine or a server group `<group>-*`.
    pub to: String,
    /// TCP port on `to`.
    pub port: u16,
    /// The protocol.
    pub service: String,
    /// True when the connection is encrypted.
    pub tls: bool,
}

/// One Redis deployment.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RedisView {
    /// Its profile key: `redis`, `cache_redis` or `analytics_redis`.
    pub key: String,
    /// `standalone`, `sentinel` or `cluster`.
    pub mode: String,
    /// The Redis version.
    pub version: String,
    /// Redis servers, primary first.
    pub nodes: Vec<String>,
    /// Sentinels (sentinel mode).
    pub sentinels: Vec<String>,
    /// The monitored master name (sentinel mode).
    pub master_name: Option<String>,
    /// Sentinels that must agree before a failover (sentinel mode).
    pub quorum: Option<u32>,
    /// Cluster shards and replicas per shard (cluster mode).
    pub shards: Option<u32>,
    /// Replicas of each shard's primary (cluster mode).
    pub replicas_per_shard: Option<u32>,
    /// TLS: `off`, `on`, `on, verified`, `mutual, verified`, ...
    pub tls: String,
    /// `aof`, `rdb`, `aof+rdb` or `none`.
    pub persistence: String,
    /// The pools of the Tyk machines against `maxclients` (the `TYK-CAP-MAXCLIENTS` computation).
    pub budget: Budget,
}

/// The database cluster.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DatabaseView {
    /// `postgres` or `mongodb`.
    pub engine: String,
    /// Its version.
    pub version: String,
    /// Members, primary first, each with its part in replication.
    pub members: Vec<MemberView>,
    /// The MongoDB replica-set name.
    pub replica_set: Option<String>,
    /// TLS, as for Redis.
    pub tls: String,
}

/// One database member.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MemberView {
    /// The machine.
    pub name: String,
    /// `primary`, `replica of <machine>` or `member`.
    pub replication: String,
}

/// What one target renders.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TargetView {
    /// `config`, `compose`, `terraform` or `ansible`.
    pub target: String,
    /// Its folder under `OUT/<profile>/`.
    pub folder: String,
    /// How many files it writes.
    pub files: usize,
    /// What it creates, one line each.
    pub creates: Vec<String>,
}

/// One `tykgen check` finding.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FindingView {
    /// The rule id.
    pub rule: String,
    /// `error`, `warning` or `note`.
    pub severity: String,
    /// The message.
    pub message: String,
    /// The profile's reason when its `check.accept` accepts this finding.
    pub accepted: Option<String>,
}

/// What changed between an old and a new profile.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Changes {
    /// The old profile's name.
    pub against: String,
    /// Machines only the new profile has.
    pub machines_added: Vec<String>,
    /// Machines only the old profile has.
    pub machines_removed: Vec<String>,
    /// Connections only the new profile has.
    pub links_added: Vec<LinkView>,
    /// Connections only the old profile has.
    pub links_removed: Vec<LinkView>,
    /// Versions that differ: `(key, old, new)`; a version one side lacks is shown as `-`.
    pub versions_changed: Vec<VersionChange>,
    /// Machines of the old profile, for drawing the removed ones.
    #[serde(skip)]
    pub old_machines: Vec<MachineView>,
}

/// A version that differs between the two sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct VersionChange {
    /// The profile key.
    pub key: String,
    /// The old value, or `-`.
    pub old: String,
    /// The new value, or `-`.
    pub new: String,
}

impl Changes {
    /// True when nothing changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.machines_added.is_empty()
            && self.machines_removed.is_empty()
            && self.links_added.is_empty()
            && self.links_removed.is_empty()
            && self.versions_changed.is_empty()
    }
}

/// A serde enum's wire name (`"sentinel"` for `RedisMode::Sentinel`).
fn word<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// What a server group's name ends with in a view (`redis-*`: every `redis-<n>`).
pub const GROUP_SUFFIX: &str = "-*";

fn peer_name(p: &Peer) -> String {
    match p {
        Peer::Machine(name) => name.clone(),
        Peer::Group(g) => format!("{g}{GROUP_SUFFIX}"),
        Peer::LoadBalancer => "load-balancer".to_owned(),
        Peer::Clients => "clients".to_owned(),
        Peer::Admins => "admins".to_owned(),
    }
}

fn tls_word(enabled: bool, verify: bool, mutual: bool) -> String {
    match (enabled, verify, mutual) {
        (false, ..) => "off".to_owned(),
        (true, true, true) => "mutual, verified".to_owned(),
        (true, false, true) => "mutual, not verified".to_owned(),
        (true, true, false) => "on, verified".to_owned(),
        (true, false, false) => "on, not verified".to_owned(),
    }
}

fn replication_word(r: &Replication) -> String {
    match r {
        Replication::None => String::new(),
        Replication::Primary => "primary".to_owned(),
        Replication::ReplicaOf(of) => format!("replica of {of}"),
        Replication::ClusterNode => "cluster node".to_owned(),
        Replication::Sentinel => "sentinel".to_owned(),
        Replication::Member => "member".to_owned(),
    }
}

/// The tier a machine is drawn in.
fn tier(m: &Machine) -> String {
    match (m.role, m.store) {
        (Role::Gateway | Role::Dashboard | Role::Pump, _) => "tyk".to_owned(),
        (Role::Redis | Role::Sentinel, store) => format!("{}redis", store.unwrap_or(Store::Main).prefix()),
        (Role::Postgres | Role::Mongodb, _) => "database".to_owned(),
    }
}

/// True when `link` is encrypted: Redis, Sentinel and the cluster bus follow the deployment's TLS
/// (`redis.conf` has `tls-replication`/`tls-cluster`, `sentinel.conf` `tls-port`), the database
/// its own, the Gateways and the Dashboard `tyk.tls`.
fn link_tls(p: &Profile, t: &Topology, link: &Link) -> bool {
    // A group's members share their deployment's settings: the first one stands for all.
    let Some(m) = t.members(&link.to).next() else { return false };
    match link.service {
        Service::Redis | Service::RedisBus | Service::Sentinel => {
            m.store.is_some_and(|s| t.redis_for(s).settings.tls.enabled)
        }
        Service::Postgres | Service::Mongodb => p.database.as_ref().is_some_and(|d| d.tls.enabled),
        // The Tyk listeners follow `tyk.tls` (one switch for both Gateway ports).
        Service::Gateway | Service::GatewayControl | Service::Dashboard => p.tyk.tls.enabled,
    }
}

fn link_view(p: &Profile, t: &Topology, link: &Link) -> LinkView {
    LinkView {
        from: peer_name(&link.from),
        to: peer_name(&link.to),
        port: link.port,
        service: word(&link.service),
        tls: link_tls(p, t, link),
    }
}

fn secret_names(uses: &[SecretUse]) -> Vec<String> {
    let mut names = BTreeSet::new();
    for u in uses {
        match u {
            SecretUse::Env { secret, .. } => {
                names.insert(secret.clone());
            }
            SecretUse::EnvTemplate { secrets, .. } | SecretUse::File { secrets, .. } => {
                names.extend(secrets.iter().cloned());
            }
        }
    }
    names.into_iter().collect()
}

fn versions(p: &Profile, t: &Topology) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("tyk.version".to_owned(), p.tyk.version.to_string());
    if let Some(pump) = p.tyk.pump_version.as_ref().filter(|_| p.pump.nodes > 0) {
        v.insert("tyk.pump_version".to_owned(), pump.to_string());
    }
    for dep in &t.redis {
        v.insert(format!("{}.version", dep.store.profile_key()), dep.settings.version.to_string());
    }
    if let (Some(db), Some(_)) = (&p.database, &t.database) {
        v.insert("database.version".to_owned(), format!("{} {}", word(&db.engine), db.version));
    }
    v
}

fn machine_views(p: &Profile, t: &Topology, bundle: &Bundle) -> Vec<MachineView> {
    let zones = targets::terraform::az_indexes(t);
    t.machines
        .iter()
        .map(|m| {
            let mut listens: BTreeSet<PortView> = BTreeSet::new();
            let mut links_in = Vec::new();
            for l in t.links_to(&m.name) {
                listens.insert(PortView { port: l.port, service: word(&l.service), tls: link_tls(p, t, l) });
                links_in.push(format!("{}:{}", peer_name(&l.from), l.port));
            }
            let links_out = t.links_from(&m.name).map(|l| format!("{}:{}", peer_name(&l.to), l.port)).collect();
            MachineView {
                name: m.name.clone(),
                role: m.role.as_str().to_owned(),
                tier: tier(m),
                replication: replication_word(&m.replication),
                host: m.host.clone(),
                address: m.address.clone(),
                zone_slot: zones.get(&m.name).map_or(0, |z| u32::try_from(*z).unwrap_or(u32::MAX)),
                listens: listens.into_iter().collect(),
                links_in,
                links_out,
                secrets: bundle.machines.get(&m.name).map(|c| secret_names(&c.secrets)).unwrap_or_default(),
            }
        })
        .collect()
}

fn redis_views(t: &Topology) -> Vec<RedisView> {
    t.redis
        .iter()
        .map(|dep| {
            let s = &dep.settings;
            let sentinel = !dep.sentinels.is_empty();
            let cluster = s.mode == crate::profile::RedisMode::Cluster;
            RedisView {
                key: dep.store.profile_key().to_owned(),
                mode: word(&s.mode),
                version: s.version.to_string(),
                nodes: dep.nodes.clone(),
                sentinels: dep.sentinels.clone(),
                master_name: dep.master_name.clone(),
                quorum: sentinel.then_some(dep.quorum),
                shards: cluster.then(|| s.shards.unwrap_or(3)),
                replicas_per_shard: cluster.then(|| s.replicas_per_shard.unwrap_or(1)),
                tls: tls_word(s.tls.enabled, s.tls.verify, s.tls.mutual),
                persistence: word(&s.persistence),
                // INVARIANT: the deployment exists, so its budget does.
                budget: budget::budget(t, dep.store).expect("a budget for an existing deployment"),
            }
        })
        .collect()
}

fn database_view(p: &Profile, t: &Topology) -> Option<DatabaseView> {
    let (db, cluster) = (p.database.as_ref()?, t.database.as_ref()?);
    let members = cluster
        .members
        .iter()
        .map(|name| MemberView {
            name: name.clone(),
            replication: t.machine(name).map(|m| replication_word(&m.replication)).unwrap_or_default(),
        })
        .collect();
    Some(DatabaseView {
        engine: word(&db.engine),
        version: db.version.to_string(),
        members,
        replica_set: cluster.replica_set.clone(),
        tls: tls_word(db.tls.enabled, db.tls.verify, db.tls.mutual),
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What each target creates, from the same topology functions the targets use.
fn target_views(ctx: &Context<'_>) -> anyhow::Result<Vec<TargetView>> {
    let t = ctx.topology;
    let machines = t.machines.len();
    let tiers: BTreeSet<String> = t.machines.iter().map(targets::terraform::tier_of).collect();
    let groups: BTreeSet<String> = t.machines.iter().map(Machine::group).collect();
    let mut out = Vec::new();
    for target in Target::All.expand() {
        let files = targets::render(target, ctx)?.len();
        let creates = match target {
            Target::Config => vec![format!(
                "the files of each of the {} (`machines.json` lists them)",
                plural(machines, "machine", "machines")
            )],
            Target::Compose => {
                let mut c = vec![format!("one container per machine ({machines}), with its host name")];
                if t.load_balancer {
                    c.push("an HAProxy container in front of the Gateways".to_owned());
                }
                c.push("networks from the links; ports published on the bind address only".to_owned());
                c
            }
            Target::Terraform => {
                let mut c = vec![
                    format!("{} (`aws_instance`)", plural(machines, "instance", "instances")),
                    format!(
                        "{} from the links (plus the load balancer's)",
                        plural(tiers.len(), "security group", "security groups")
                    ),
                ];
                let volumes = t.machines.iter().filter(|m| targets::terraform::has_data_volume(m.role)).count();
                if volumes > 0 {
                    c.push(format!("{} (encrypted EBS)", plural(volumes, "data volume", "data volumes")));
                }
                if t.load_balancer {
                    c.push("an application load balancer in front of the Gateways".to_owned());
                }
                c.push(format!("a private DNS record per machine in `{}`", t.domain));
                c
            }
            Target::Ansible => vec![
                format!(
                    "an inventory of {} in {}",
                    plural(machines, "host", "hosts"),
                    plural(groups.len(), "group", "groups")
                ),
                "`playbooks/site.yml`: one role per component, data tier first".to_owned(),
            ],
            Target::All => Vec::new(),
        };
        out.push(TargetView { target: target.dir().to_owned(), folder: target.dir().to_owned(), files, creates });
    }
    Ok(out)
}

/// The explanation of a profile from its rendering context and its check findings.
///
/// # Errors
/// A template that fails to render (the target summaries render each target in memory).
pub fn explain(ctx: &Context<'_>, findings: &[Finding]) -> anyhow::Result<Explanation> {
    let mut e = topology_view(ctx);
    e.targets = target_views(ctx)?;
    e.findings = findings
        .iter()
        .map(|f| FindingView {
            rule: f.rule.id.to_owned(),
            severity: word(&f.severity),
            message: f.message.clone(),
            accepted: f.accepted.clone(),
        })
        .collect();
    Ok(e)
}

/// The machines, links and data tier alone (no target summaries, no findings): what the diagrams
/// draw.
#[must_use]
pub fn topology_view(ctx: &Context<'_>) -> Explanation {
    let (p, t) = (ctx.profile, ctx.topology);
    Explanation {
        profile: p.name.clone(),
        description: p.description.clone(),
        versions: versions(p, t),
        machines: machine_views(p, t, ctx.bundle),
        links: t.links.iter().map(|l| link_view(p, t, l)).collect(),
        redis: redis_views(t),
        database: database_view(p, t),
        targets: Vec::new(),
        findings: Vec::new(),
        changes: None,
    }
}

/// Mermaid's default `maxTextSize`: GitHub and GitLab refuse to draw a longer diagram.
pub const MERMAID_MAX_TEXT: usize = 50_000;

/// The Mermaid diagram for the rendered README, or `None` when it is too long to be drawn.
#[must_use]
pub fn readme_diagram(ctx: &Context<'_>) -> Option<String> {
    Some(mermaid(&topology_view(ctx))).filter(|d| d.len() <= MERMAID_MAX_TEXT)
}

/// What changed from `old` to `new`: machines and links by identity, versions by key.
#[must_use]
pub fn changes(old: &Explanation, new: &Explanation) -> Changes {
    let names = |e: &Explanation| e.machines.iter().map(|m| m.name.clone()).collect::<BTreeSet<_>>();
    let (old_names, new_names) = (names(old), names(new));
    // A link is the same link when its ends, port and service are; TLS is compared separately.
    let key = |l: &LinkView| (l.from.clone(), l.to.clone(), l.port, l.service.clone());
    let old_links: BTreeSet<_> = old.links.iter().map(key).collect();
    let new_links: BTreeSet<_> = new.links.iter().map(key).collect();
    let mut versions_changed = Vec::new();
    let keys: BTreeSet<&String> = old.versions.keys().chain(new.versions.keys()).collect();
    for k in keys {
        let (o, n) = (old.versions.get(k), new.versions.get(k));
        if o != n {
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "-".to_owned());
            versions_changed.push(VersionChange { key: k.clone(), old: show(o), new: show(n) });
        }
    }
    Changes {
        against: old.profile.clone(),
        machines_added: new_names.difference(&old_names).cloned().collect(),
        machines_removed: old_names.difference(&new_names).cloned().collect(),
        links_added: new.links.iter().filter(|l| !old_links.contains(&key(l))).cloned().collect(),
        links_removed: old.links.iter().filter(|l| !new_links.contains(&key(l))).cloned().collect(),
        versions_changed,
        old_machines: old.machines.iter().filter(|m| !new_names.contains(&m.name)).cloned().collect(),
    }
}

/// The JSON Schema of `--format json`.
#[must_use]
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Explanation)).unwrap_or_default()
}

/// The engine word of the database, for headings.
fn engine_title(engine: &str) -> &'static str {
    match engine {
        e if e == word(&Engine::Mongodb) => "MongoDB",
        _ => "PostgreSQL",
    }
}

/// Machines grouped by tier, tiers in the order their first machine appears (Tyk, Redis, database).
fn by_tier(machines: &[MachineView]) -> Vec<(&str, Vec<&MachineView>)> {
    let mut tiers: Vec<(&str, Vec<&MachineView>)> = Vec::new();
    for m in machines {
        match tiers.iter_mut().find(|(t, _)| *t == m.tier) {
            Some((_, list)) => list.push(m),
            None => tiers.push((m.tier.as_str(), vec![m])),
        }
    }
    tiers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(name: &str, sets: &[&str]) -> Explanation {
        let input = crate::profile::Input {
            profile: Some(name.to_owned()),
            sets: sets.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        let planned = crate::plan(&input).unwrap();
        let findings = crate::check::run(&planned.loaded, &planned.topology);
        crate::with_bundle(&planned, None, |ctx| explain(ctx, &findings)).unwrap()
    }

    #[test]
    fn every_machine_and_link_of_the_topology_is_shown() {
        let e = explained("production", &[]);
        let t = crate::topology::tests::topo("production");
        assert_eq!(e.machines.len(), t.machines.len());
        assert_eq!(e.links.len(), t.links.len());
        let redis1 = e.machines.iter().find(|m| m.name == "redis-1").unwrap();
        assert_eq!(redis1.replication, "primary");
        assert!(redis1.listens.iter().any(|p| p.port == crate::topology::REDIS_PORT && p.tls), "{:?}", redis1.listens);
        assert!(redis1.secrets.contains(&"redis_password".to_owned()), "{:?}", redis1.secrets);
    }

    #[test]
    fn changes_name_exactly_the_added_gateways() {
        let old = explained("production", &[]);
        let new = explained("production", &["gateway.nodes=4"]);
        let c = changes(&old, &new);
        assert_eq!(c.machines_added, ["gateway-3", "gateway-4"]);
        assert!(c.machines_removed.is_empty() && c.links_removed.is_empty() && c.versions_changed.is_empty());
        assert!(c.links_added.iter().all(|l| l.from.starts_with("gateway-3")
            || l.from.starts_with("gateway-4")
            || l.to.starts_with("gateway-3")
            || l.to.starts_with("gateway-4")));
        let back = changes(&new, &old);
        assert_eq!(back.machines_removed, ["gateway-3", "gateway-4"]);
    }

    #[test]
    fn a_version_change_is_shown() {
        let old = explained("production", &[]);
        let new = explained("production", &["redis.version=\"7.0\""]);
        let c = changes(&old, &new);
        assert_eq!(c.versions_changed.len(), 1, "{:?}", c.versions_changed);
        assert_eq!(c.versions_changed[0].key, "redis.version");
    }
}
