//! Structural errors: profiles that type-check but describe something that cannot be built.
//!
//! These stop `render`. Advice about production readiness (a profile that works but goes against
//! Tyk's guidance) belongs to `check`, not here. Every error points at the key it is about.

mod extra;

pub use extra::override_paths;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::profile::{Engine, Loaded, Redis, RedisMode};
use crate::topology;

/// Tyk versions tykgen generates configuration for.
const MIN_TYK: (u32, u32) = (5, 0);
/// Pump versions tykgen generates configuration for.
const MIN_PUMP: (u32, u32) = (1, 8);

/// Every structural error of a loaded profile.
///
/// # Errors
/// All problems found, each at the key it is about.
pub fn validate(loaded: &Loaded) -> Result<(), Diagnostics> {
    let mut v = Validator { loaded, errors: Vec::new() };
    v.versions();
    v.tiers();
    let p = &loaded.profile;
    v.redis("redis", &p.redis);
    if let Some(r) = &p.cache_redis {
        v.redis("cache_redis", r);
    }
    if let Some(r) = &p.analytics_redis {
        v.redis("analytics_redis", r);
    }
    v.database();
    v.addresses();
    v.accepted_rules();
    // Everything below builds the topology, so only once its size is known to be bounded.
    if v.limits() {
        let topology = topology::build(&loaded.profile);
        v.machines(&topology);
        v.compose_subnet(&topology);
        v.extra_config(&topology);
    }
    if v.errors.is_empty() { Ok(()) } else { Err(Diagnostics(v.errors)) }
}

struct Validator<'a> {
    loaded: &'a Loaded,
    errors: Vec<Diagnostic>,
}

impl Validator<'_> {
    /// `check.accept` names warning or note rules, each with a reason.
    fn accepted_rules(&mut self) {
        for (id, reason) in &self.loaded.profile.check.accept {
            let path = format!("check.accept.{id}");
            if let Err(message) = crate::check::acceptable(id) {
                self.error(&path, message);
            } else if reason.trim().is_empty() {
                self.error(&path, format!("`{path}` has no reason: say why this profile accepts {id}"));
            }
        }
    }

    fn error(&mut self, path: &str, message: String) -> &mut Diagnostic {
        self.errors.push(Diagnostic::error(message, Some(self.loaded.loc(path))));
        // INVARIANT: pushed on the line above.
        self.errors.last_mut().expect("just pushed")
    }

    fn versions(&mut self) {
        let tyk = &self.loaded.profile.tyk;
        if !tyk.version.at_least(MIN_TYK.0, MIN_TYK.1, 0) {
            self.error(
                "tyk.version",
                format!("tykgen generates configuration for Tyk 5.0 and later, not {}", tyk.version),
            );
        }
        if self.loaded.profile.pump.nodes > 0 && !tyk.pump().at_least(MIN_PUMP.0, MIN_PUMP.1, 0) {
            self.error(
                "tyk.pump_version",
                format!("tykgen generates configuration for Pump 1.8 and later, not {}", tyk.pump()),
            );
        }
    }

    fn tiers(&mut self) {
        let p = &self.loaded.profile;
        match (&p.database, p.dashboard.nodes) {
            (Some(_), 0) => {
                self.error(
                    "database",
                    "`database` is only used by the Dashboard and Pump, but `dashboard.nodes` is 0".into(),
                )
                .help = Some("remove the `database` block, or set `dashboard.nodes: 1`".into());
            }
            (None, n) if n > 0 => {
                self.error("dashboard.nodes", "the Dashboard needs a database: add a `database` block".into()).help =
                    Some("for example `database: {engine: postgres, version: \"16\"}`".into());
            }
            _ => {}
        }
        if p.pump.nodes > 0 && (p.database.is_none() || p.dashboard.nodes == 0) {
            self.error(
                "pump.nodes",
                "the Pump writes analytics to the Dashboard's database, and there is none".into(),
            )
            .help = Some("set `pump.nodes: 0`, or add a Dashboard and a `database`".into());
        }
        if p.analytics_redis.is_some() && p.pump.nodes == 0 {
            self.error("analytics_redis", "`analytics_redis` holds records for the Pump, but `pump.nodes` is 0".into());
        }
        let engine = p.database.as_ref().map(|d| d.engine);
        if self.loaded.is_set("analytics.capping.max_size") && engine != Some(Engine::Mongodb) {
            self.error(
                "analytics.capping",
                "`analytics.capping` caps a MongoDB collection; the database is not MongoDB".into(),
            )
            .help = Some("with PostgreSQL use `analytics.retention_days`".into());
        }
        if self.loaded.is_set("analytics.retention_days") && engine != Some(Engine::Postgres) {
            self.error(
                "analytics.retention_days",
                "`analytics.retention_days` drops PostgreSQL tables; the database is not PostgreSQL".into(),
            )
            .help = Some("with MongoDB use `analytics.capping.max_size`".into());
        }
    }

    fn redis(&mut self, key: &str, r: &Redis) {
        let path = |k: &str| format!("{key}.{k}");
        let only_in = |this: &mut Self, field: &str, mode: &str| {
            if this.loaded.is_set(&path(field)) {
                this.error(
                    &path(field),
                    format!("`{}` is only used in {mode} mode; `{key}.mode` is {}", path(field), mode_name(r.mode)),
                );
            }
        };
        match r.mode {
            RedisMode::Standalone => {
                for f in ["replicas", "sentinels", "master_name"] {
                    only_in(self, f, "sentinel");
                }
                for f in ["shards", "replicas_per_shard"] {
                    only_in(self, f, "cluster");
                }
            }
            RedisMode::Sentinel => {
                for f in ["shards", "replicas_per_shard"] {
                    only_in(self, f, "cluster");
                }
                if r.replicas == Some(0) {
                    self.error(&path("replicas"), "sentinel mode needs at least 1 replica to promote".into());
                }
                if r.sentinels == Some(0) {
                    self.error(&path("sentinels"), "sentinel mode needs at least 1 Sentinel".into());
                }
            }
            RedisMode::Cluster => {
                for f in ["replicas", "sentinels", "master_name"] {
                    only_in(self, f, "sentinel");
                }
                if r.shards.is_some_and(|s| s < 3) {
                    self.error(&path("shards"), "a Redis Cluster needs at least 3 shards (primaries)".into());
                }
            }
        }
        if r.tls.enabled && r.version.major() < 6 {
            self.error(&path("version"), format!("Redis supports TLS from 6.0, not {}", r.version));
        }
        if !r.tls.enabled {
            for f in ["mutual", "min_version", "max_version"] {
                let p = path(&format!("tls.{f}"));
                if (r.tls.mutual || f != "mutual") && self.loaded.is_set(&p) {
                    self.error(&p, format!("`{p}` needs `{key}.tls.enabled: true`"));
                }
            }
        }
        if let (Some(min), Some(max)) = (r.tls.min_version, r.tls.max_version)
            && min > max
        {
            self.error(
                &path("tls.min_version"),
                format!("`min_version` {} is above `max_version` {}", min.as_str(), max.as_str()),
            );
        }
        // CA, certificate, key and TLS-version settings exist in Tyk 5.3+ and Pump 1.9+ only.
        let needs_files = r.tls.enabled && (r.tls.mutual || r.tls.min_version.is_some() || r.tls.max_version.is_some());
        let p = &self.loaded.profile;
        if needs_files {
            let what = if r.tls.mutual {
                "mutual"
            } else if r.tls.min_version.is_some() {
                "min_version"
            } else {
                "max_version"
            };
            let at = path(&format!("tls.{what}"));
            if !p.tyk.version.at_least(5, 3, 0) {
                self.error(&at, format!("`{at}` needs Tyk 5.3 or later (the Redis TLS certificate and version settings), but `tyk.version` is {}", p.tyk.version))
                    .help = Some("raise `tyk.version` to 5.3 or later, or remove the setting".into());
            }
            let pump_uses =
                p.pump.nodes > 0 && (key == "analytics_redis" || (key == "redis" && p.analytics_redis.is_none()));
            if pump_uses && !p.tyk.pump().at_least(1, 9, 0) {
                self.error(
                    &at,
                    format!("`{at}` needs Pump 1.9 or later, but `tyk.pump_version` is {}", p.tyk.pump()),
                )
                .help = Some("raise `tyk.pump_version` to 1.9 or later".into());
            }
        }
    }

    fn database(&mut self) {
        let Some(db) = &self.loaded.profile.database else { return };
        if db.engine == Engine::Postgres && self.loaded.is_set("database.replica_set") {
            self.error("database.replica_set", "`database.replica_set` is for MongoDB; the engine is postgres".into());
        }
        if !db.tls.enabled && db.tls.mutual {
            self.error("database.tls.mutual", "`database.tls.mutual` needs `database.tls.enabled: true`".into());
        }
    }

    fn machines(&mut self, topology: &topology::Topology) {
        let names: Vec<&str> = topology.machines.iter().map(|m| m.name.as_str()).collect();
        for name in self.loaded.profile.machines.keys() {
            if !names.contains(&name.as_str()) {
                let help = did_you_mean(name, names.iter().copied())
                    .map(|n| format!("did you mean `{n}`?"))
                    .unwrap_or_else(|| format!("this profile's machines: {}", names.join(", ")));
                self.error(&format!("machines.{name}"), format!("there is no machine `{name}` in this topology"))
                    .help = Some(help);
            }
        }
    }
}

impl Validator<'_> {
    /// Caps on machines and Redis Cluster size (links are linear in machines: no cap of their own); false (with errors) when one is passed.
    fn limits(&mut self) -> bool {
        let p = &self.loaded.profile;
        let size = topology::size(p);
        let mut ok = true;
        for (key, nodes) in ["redis", "cache_redis", "analytics_redis"].into_iter().zip(size.redis) {
            let cluster = match key {
                "redis" => Some(&p.redis),
                "cache_redis" => p.cache_redis.as_ref(),
                _ => p.analytics_redis.as_ref(),
            }
            .is_some_and(|r| r.mode == RedisMode::Cluster);
            if let Some(n) = nodes.filter(|n| cluster && *n > topology::MAX_CLUSTER_NODES) {
                ok = false;
                self.error(
                    &format!("{key}.shards"),
                    format!(
                        "`{key}` would be a Redis Cluster of {n} nodes (`shards` x (1 + `replicas_per_shard`)); \
                         Redis Cluster is designed for at most {} nodes",
                        topology::MAX_CLUSTER_NODES
                    ),
                )
                .help = Some("use fewer shards or fewer replicas per shard".into());
            }
        }
        // The tier that contributes most is where the fix usually is.
        let biggest = [
            ("gateway.nodes", u64::from(p.gateway.nodes)),
            ("dashboard.nodes", u64::from(p.dashboard.nodes)),
            ("pump.nodes", u64::from(p.pump.nodes)),
            ("redis", size.redis[0].unwrap_or(0)),
        ]
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or("gateway.nodes", |(k, _)| k);
        if size.machines > topology::MAX_MACHINES {
            ok = false;
            self.error(
                biggest,
                format!(
                    "this profile describes {} machines; tykgen renders at most {}",
                    size.machines,
                    topology::MAX_MACHINES
                ),
            );
        } else if size.client_endpoints > topology::MAX_CLIENT_ENDPOINTS {
            ok = false;
            self.error(
                biggest,
                format!(
                    "the Tyk machines' configuration would list {} Redis endpoints together (each lists every node of \
                     the deployments it uses); tykgen renders at most {}",
                    size.client_endpoints,
                    topology::MAX_CLIENT_ENDPOINTS
                ),
            )
            .help = Some("use fewer Gateways or fewer Redis Cluster nodes".into());
        }
        ok
    }

    /// `extra_config` adds keys; it cannot replace tykgen's or carry a secret.
    fn extra_config(&mut self, t: &topology::Topology) {
        for (key, message) in extra::problems(&self.loaded.profile, t) {
            self.error(&key, message);
        }
    }

    /// `machines.*.address`: an IP address or a host name, nothing else.
    fn addresses(&mut self) {
        let bad: Vec<(String, String)> = self
            .loaded
            .profile
            .machines
            .iter()
            .filter_map(|(name, m)| Some((name.clone(), address_problem(m.address.as_deref()?)?)))
            .collect();
        for (name, problem) in bad {
            self.error(&format!("machines.{name}.address"), problem).help =
                Some("for example `10.0.1.10`, `fd00::10` or `gw1.example.internal`".into());
        }
    }

    /// `targets.compose.subnet`: parsed, private, and big enough for the lab's fixed-address
    /// networks (the same derivation the compose target makes, so `check` fails where `render`
    /// would).
    fn compose_subnet(&mut self, t: &topology::Topology) {
        use crate::targets::compose;
        let key = "targets.compose.subnet";
        let text = compose::subnet_of(&self.loaded.profile);
        let (network, prefix) = match compose::parse_subnet(&text) {
            Ok(v) => v,
            Err(e) => {
                self.error(key, strip_key(&e.to_string(), key));
                return;
            }
        };
        if !network.is_private() {
            self.error(key, format!("{text} is not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"))
                .help = Some("the lab's networks are Docker bridges on one machine: use a private range".into());
            return;
        }
        // Fixed-address networks: PostgreSQL's, then each Redis Cluster's (see compose::fixed_addresses).
        let mut nets: Vec<(String, usize)> = Vec::new();
        let mut add = |t: &topology::Topology, first: Option<&topology::Machine>, extra: usize| {
            let Some(first) = first else { return };
            let name = compose::group_network(first);
            if nets.iter().any(|(n, _)| *n == name) {
                return;
            }
            let members = t.machines.iter().filter(|m| compose::service_networks(t, m).contains(&name)).count();
            nets.push((name, members + extra));
        };
        add(t, t.machines.iter().find(|m| m.role == topology::Role::Postgres), 0);
        for d in t.redis.iter().filter(|d| d.settings.mode == RedisMode::Cluster) {
            add(t, d.nodes.first().and_then(|n| t.machine(n)), 1); // + the cluster-create one-shot
        }
        if let Err(e) = compose::derive_subnets(&text, nets.len()) {
            self.error(key, strip_key(&e.to_string(), key));
            return;
        }
        let usable = (1usize << (32 - prefix)) - 3;
        if let Some((name, n)) = nets.iter().find(|(_, n)| *n > usable) {
            self.error(
                key,
                format!("{text} leaves room for {usable} services per network; the {name} network needs {n}"),
            )
            .help = Some(format!("use a shorter prefix: /{} or shorter", longest_prefix_holding(*n)));
        }
    }
}

/// The longest IPv4 prefix whose network holds `services` addresses beside the network, gateway
/// and broadcast addresses.
fn longest_prefix_holding(services: usize) -> u32 {
    (2..=30).rev().find(|p| (1usize << (32 - p)) - 3 >= services).unwrap_or(2)
}

/// The message without a leading `key: ` (the location already names it).
fn strip_key(message: &str, key: &str) -> String {
    message.strip_prefix(&format!("{key}: ")).unwrap_or(message).to_owned()
}

/// Why `text` is not an IP address or host name, if it is not.
fn address_problem(text: &str) -> Option<String> {
    use std::net::IpAddr;
    if text.parse::<IpAddr>().is_ok() {
        return None;
    }
    if text.contains('/') {
        return Some(format!("`{text}` is a network (CIDR), not one machine's address"));
    }
    if text.starts_with('[') || text.contains(':') {
        let port = text.rsplit_once(':').is_some_and(|(host, port)| {
            port.bytes().all(|b| b.is_ascii_digit()) && host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
                || !host.contains(':')
        });
        return Some(if port {
            format!("`{text}` has a port; give the address alone (tykgen adds each service's port)")
        } else {
            format!("`{text}` is not a valid IP address")
        });
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Some(format!("`{text}` is not a valid IPv4 address (four numbers from 0 to 255)"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let name = text.strip_suffix('.').unwrap_or(text);
    let tld_numeric = name.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if name.len() > 253 || !name.split('.').all(label_ok) || tld_numeric {
        return Some(format!("`{text}` is neither an IP address nor a valid host name"));
    }
    None
}

fn mode_name(mode: RedisMode) -> &'static str {
    match mode {
        RedisMode::Standalone => "standalone",
        RedisMode::Sentinel => "sentinel",
        RedisMode::Cluster => "cluster",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Input, load};

    fn errors_for(sets: &[&str]) -> Vec<String> {
        let loaded = load(&Input {
            profile: Some("production".into()),
            sets: sets.iter().map(|s| (*s).to_owned()).collect(),
            ..Input::default()
        })
        .unwrap();
        validate(&loaded).err().map(|d| d.0.into_iter().map(|e| e.message).collect()).unwrap_or_default()
    }

    #[test]
    fn builtin_profiles_are_valid() {
        for (name, _) in crate::profile::builtins() {
            let loaded = load(&Input { profile: Some(name.clone()), ..Input::default() }).unwrap();
            assert!(validate(&loaded).is_ok(), "{name}: {:?}", validate(&loaded));
        }
    }

    #[test]
    fn structural_impossibilities() {
        assert!(errors_for(&["redis.replicas=0"])[0].contains("at least 1 replica"));
        assert!(
            errors_for(&[
                "redis.mode=cluster",
                "redis.replicas=null",
                "redis.sentinels=null",
                "redis.master_name=null",
                "redis.shards=2"
            ])[0]
                .contains("at least 3 shards")
        );
        assert!(errors_for(&["dashboard.nodes=0"]).iter().any(|e| e.contains("only used by the Dashboard")));
        assert!(errors_for(&["tyk.version=5.2.0"]).iter().any(|e| e.contains("needs Tyk 5.3")));
        assert!(errors_for(&["tyk.pump_version=1.8.0"]).iter().any(|e| e.contains("needs Pump 1.9")));
        assert!(errors_for(&["machines.gatway-1.address=10.0.0.1"])[0].contains("no machine `gatway-1`"));
        assert!(errors_for(&["redis.shards=3"])[0].contains("only used in cluster mode"));
    }
}
