//! The rules themselves, one function per family. Each finding points at the profile key it is
//! about; `docs/check-rules.md` lists them all.

use super::{Finding, rule};
use crate::diagnostic::Severity;
use crate::profile::{Engine, Loaded, PackageSource, Persistence, Profile, Redis, RedisMode, TlsVersion, Version};
use crate::topology::{self, Role, Store, Topology};
use crate::versions::{
    self, ANY, Range, in_range, pump_mongodb, pump_postgres, pump_redis, tyk_mongodb, tyk_postgres, tyk_redis,
};

/// Every finding of every rule, in rule order.
pub(super) fn all(loaded: &Loaded, topology: &Topology) -> Vec<Finding> {
    let mut c = Checker { loaded, p: &loaded.profile, t: topology, out: Vec::new() };
    c.compatibility();
    c.defects();
    c.distro_packages();
    c.availability();
    c.data();
    c.security();
    c.capacity();
    c.placement();
    c.out
}

struct Checker<'a> {
    loaded: &'a Loaded,
    p: &'a Profile,
    t: &'a Topology,
    out: Vec<Finding>,
}

fn show_bound((major, minor): (u32, u32)) -> String {
    if minor == ANY { format!("{major}.x") } else { format!("{major}.{minor}") }
}

fn show_range((lo, hi): Range) -> String {
    format!("{} to {}", show_bound(lo), show_bound(hi))
}

/// The oldest Pump paired with a Gateway version: `(gateway, pump)` pairs, newest first.
type Triple = (u32, u32, u32);

const PUMP_PAIRS: &[(Triple, Triple)] = &[((5, 13, 0), (1, 14, 0)), ((5, 6, 0), (1, 11, 0)), ((5, 3, 0), (1, 9, 0))];

/// True when the profile says it is for production: its name or description has the word
/// `prod` or `production` (not preceded by `non`, `not` or `pre`).
/// What the supported operating systems ship (`tykgen_supported_os` of the Ansible target):
/// (name, Redis (major, minor), PostgreSQL major). None ships MongoDB.
const DISTRO_PACKAGES: &[(&str, (u32, u32), u32)] =
    &[("Debian 12", (7, 0), 15), ("Ubuntu 22.04", (6, 0), 14), ("Ubuntu 24.04", (7, 0), 16)];

pub(super) fn claims_production(p: &Profile) -> bool {
    [p.name.as_str(), p.description.as_str()].iter().any(|text| {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
        words.iter().enumerate().any(|(i, w)| {
            matches!(*w, "prod" | "production") && !(i > 0 && matches!(words[i - 1], "non" | "not" | "pre"))
        })
    })
}

impl<'a> Checker<'a> {
    fn add(&mut self, id: &str, path: &str, message: String, help: impl Into<String>) {
        let rule = rule(id);
        self.add_as(id, rule.severity, path, message, help);
    }

    fn add_as(&mut self, id: &str, severity: Severity, path: &str, message: String, help: impl Into<String>) {
        self.out.push(Finding {
            rule: rule(id),
            severity,
            path: path.to_owned(),
            message,
            help: Some(help.into()),
            loc: Some(self.loaded.loc(path)),
            accepted: None,
        });
    }

    /// Every Redis deployment with its profile key.
    fn redis_deployments(&self) -> Vec<(Store, &'static str, &'a Redis)> {
        let p = self.p;
        [
            (Store::Main, Some(&p.redis)),
            (Store::Cache, p.cache_redis.as_ref()),
            (Store::Analytics, p.analytics_redis.as_ref()),
        ]
        .into_iter()
        .filter_map(|(s, r)| r.map(|r| (s, s.profile_key(), r)))
        .collect()
    }

    fn pump_reads(&self, store: Store) -> bool {
        super::budget::clients(self.t, store).contains_key(&Role::Pump)
    }

    fn compatibility(&mut self) {
        let tyk = self.p.tyk.version.clone();
        let pump = self.p.tyk.pump();
        for (store, key, r) in self.redis_deployments() {
            let at = format!("{key}.version");
            let range = tyk_redis(&tyk);
            if !in_range(&r.version, range) {
                self.add(
                    "TYK-COMPAT-REDIS",
                    &at,
                    format!(
                        "Tyk {tyk} supports Redis {}, not {}: change `{at}` or `tyk.version`",
                        show_range(range),
                        r.version
                    ),
                    format!(
                        "set `{at}` to a version from {}, or raise `tyk.version` to one that supports Redis {}",
                        show_range(range),
                        r.version
                    ),
                );
            } else if self.pump_reads(store)
                && let Some(range) = pump_redis(&pump).filter(|range| !in_range(&r.version, *range))
            {
                self.add(
                    "TYK-COMPAT-REDIS",
                    &at,
                    format!(
                        "Pump {pump} supports Redis {}, not {}: change `{at}` or `tyk.pump_version`",
                        show_range(range),
                        r.version
                    ),
                    "Pump 1.12.1 and later support Redis 8 up to 8.2, Pump 1.14 and later up to 8.4",
                );
            }
        }
        if let Some(db) = &self.p.database {
            let (id, name, tyk_range, pump_range) = match db.engine {
                Engine::Postgres => ("TYK-COMPAT-POSTGRES", "PostgreSQL", tyk_postgres(&tyk), pump_postgres(&pump)),
                Engine::Mongodb => ("TYK-COMPAT-MONGODB", "MongoDB", tyk_mongodb(&tyk), pump_mongodb(&pump)),
            };
            let v = db.version.clone();
            if !in_range(&v, tyk_range) {
                self.add(
                    id,
                    "database.version",
                    format!(
                        "Tyk {tyk} supports {name} {}, not {v}: change `database.version` or `tyk.version`",
                        show_range(tyk_range)
                    ),
                    format!("set `database.version` to a {name} version from {}", show_range(tyk_range)),
                );
            } else if self.p.pump.nodes > 0
                && let Some(range) = pump_range.filter(|range| !in_range(&v, *range))
            {
                self.add(
                    id,
                    "database.version",
                    format!(
                        "Pump {pump} supports {name} {}, not {v}: change `database.version` or `tyk.pump_version`",
                        show_range(range)
                    ),
                    format!(
                        "raise `tyk.pump_version`, or set `database.version` to a {name} version from {}",
                        show_range(range)
                    ),
                );
            }
        }
        if self.p.pump.nodes > 0
            && let Some(&(gw, min)) = PUMP_PAIRS.iter().find(|((a, b, c), _)| tyk.at_least(*a, *b, *c))
            && !pump.at_least(min.0, min.1, min.2)
        {
            self.add(
                "TYK-COMPAT-PUMP",
                "tyk.pump_version",
                format!(
                    "Pump {pump} is older than the Pump {}.{} paired with Tyk {}.{} and later: raise `tyk.pump_version`",
                    min.0, min.1, gw.0, gw.1
                ),
                format!("use Pump {}.{} or later with Tyk {tyk}", min.0, min.1),
            );
        }
        for (store, key, r) in self.redis_deployments() {
            if !(r.tls.enabled && r.tls.verify) {
                continue;
            }
            let gateway_old = !tyk.at_least(5, 3, 0);
            let pump_old = self.pump_reads(store) && !pump.at_least(1, 9, 0);
            if gateway_old || pump_old {
                let who = match (gateway_old, pump_old) {
                    (true, true) => format!("Tyk {tyk} and Pump {pump} have"),
                    (true, false) => format!("Tyk {tyk} has"),
                    _ => format!("Pump {pump} has"),
                };
                self.add(
                    "TYK-COMPAT-TLS-CA",
                    if gateway_old { "tyk.version" } else { "tyk.pump_version" },
                    format!("{who} no Redis `ca_file`: the CA of `{key}` must be in each Tyk machine's system trust store"),
                    "install the Redis CA into the system trust store of every Tyk machine, or raise `tyk.version` to 5.3 (and `tyk.pump_version` to 1.9) or later",
                );
            }
        }
    }

    /// Known defects of particular releases, for the features the profile uses (`versions`).
    fn defects(&mut self) {
        let p = self.p;
        let tyk = &p.tyk.version;
        // The rate limiter uses `storage`, the main Redis (tyk v5.8.15 `config/development_off.go`).
        let tls = &p.redis.tls;
        if tls.enabled
            && (tls.verify || tls.mutual)
            && let Some(fixed) = versions::rate_limiter_tls_fixed_in(tyk)
        {
            let fixed = versions::show(fixed);
            self.add(
                "TYK-COMPAT-RATE-LIMITER-TLS",
                "tyk.version",
                format!(
                    "Tyk {tyk}'s rate limiter connects to `redis` over TLS without its CA{}: raise `tyk.version` to {fixed} or later",
                    if tls.mutual { " or client certificate" } else { "" }
                ),
                format!(
                    "the Gateway's separate rate-limiter Redis client fails the TLS handshake and rate-limited requests get HTTP 429; fixed in Gateway {fixed} (TT-14564)"
                ),
            );
        }
        let sharded = p.dashboard.nodes > 0
            && p.pump.nodes > 0
            && p.analytics.retention_days.is_some()
            && p.database.as_ref().is_some_and(|d| d.engine == Engine::Postgres);
        if sharded && let Some(fixed) = versions::sharded_log_browser_fixed_in(tyk) {
            let fixed = versions::show(fixed);
            self.add(
                "TYK-COMPAT-SHARDED-LOGS",
                "tyk.version",
                format!(
                    "Dashboard {tyk} shows no logs with SQL table sharding (on with `analytics.retention_days`): raise `tyk.version` to {fixed} or later"
                ),
                format!(
                    "its Log Browser queries `tyk_analytics` instead of the daily `tyk_analytics_YYYYMMDD` tables; fixed in Dashboard {fixed}"
                ),
            );
        }
    }

    /// `targets.ansible.packages: distro` installs what the operating system ships: say which
    /// supported systems satisfy the profile's versions, and fail when none does.
    fn distro_packages(&mut self) {
        if self.p.targets.ansible.packages != PackageSource::Distro {
            return;
        }
        let at = "targets.ansible.packages";
        let redis: Vec<(&str, &Version)> =
            self.redis_deployments().into_iter().map(|(_, key, r)| (key, &r.version)).collect();
        let db = self.p.database.as_ref().map(|d| (d.engine, &d.version));
        let fits = |(_, (rmaj, rmin), pg): &(&str, (u32, u32), u32)| {
            redis.iter().all(|(_, v)| (v.major(), v.minor()) == (*rmaj, *rmin))
                && db.is_none_or(|(e, v)| e == Engine::Postgres && v.major() == *pg)
        };
        let ok: Vec<&str> = DISTRO_PACKAGES.iter().filter(|d| fits(d)).map(|d| d.0).collect();
        let shipped = DISTRO_PACKAGES
            .iter()
            .map(|(os, (rmaj, rmin), pg)| format!("{os}: Redis {rmaj}.{rmin}, PostgreSQL {pg}"))
            .collect::<Vec<_>>()
            .join("; ");
        let wanted = redis
            .iter()
            .map(|(key, v)| format!("Redis {v} (`{key}.version`)"))
            .chain(db.map(|(e, v)| match e {
                Engine::Postgres => format!("PostgreSQL {v}"),
                Engine::Mongodb => format!("MongoDB {v} (no distribution ships it)"),
            }))
            .collect::<Vec<_>>()
            .join(", ");
        if ok.is_empty() {
            self.add(
                "TYK-COMPAT-DISTRO",
                at,
                format!("no supported operating system ships {wanted}: change the versions or `{at}`"),
                format!("the distributions ship {shipped}; use `upstream` or `mirror` for other versions"),
            );
        } else {
            self.add_as(
                "TYK-COMPAT-DISTRO",
                Severity::Note,
                at,
                format!("distribution packages satisfy {wanted} only on {}", ok.join(", ")),
                format!("the distributions ship {shipped}; the roles check the installed version"),
            );
        }
    }

    fn availability(&mut self) {
        let p = self.p;
        if p.gateway.nodes < 2 {
            self.add(
                "TYK-AVAIL-GATEWAYS",
                "gateway.nodes",
                format!("{} Gateway: set `gateway.nodes` to 2 or more so one can fail", p.gateway.nodes),
                "Tyk's production topology has two or more load-balanced Gateways, each on its own machine",
            );
        } else if !p.gateway.load_balancer {
            self.add(
                "TYK-AVAIL-LB",
                "gateway.load_balancer",
                format!("{} Gateways without a load balancer: set `gateway.load_balancer: true`", p.gateway.nodes),
                "without a load balancer, clients must know every Gateway and fail over themselves",
            );
        }
        if p.redis.mode == RedisMode::Standalone {
            let prod = claims_production(p);
            let severity = if prod { Severity::Warning } else { Severity::Note };
            let why = if prod { "this profile claims production" } else { "fine for a lab" };
            self.add_as(
                "TYK-AVAIL-REDIS-FAILOVER",
                severity,
                "redis.mode",
                format!("the main Redis has no failover ({why}): set `redis.mode` to `sentinel` or `cluster`"),
                "API keys, sessions and rate limits live in the main Redis; when it is down, every Gateway fails",
            );
        }
        for (_, key, r) in self.redis_deployments() {
            match r.mode {
                RedisMode::Sentinel => {
                    let n = r.sentinels.unwrap_or(3);
                    if n < 3 || n % 2 == 0 {
                        self.add(
                            "TYK-AVAIL-SENTINELS",
                            &format!("{key}.sentinels"),
                            format!("{n} Sentinel{}: set `{key}.sentinels` to an odd number, at least 3", if n == 1 { "" } else { "s" }),
                            "a majority of Sentinels must agree to fail over; with fewer than 3, or an even number, one lost Sentinel can block it",
                        );
                    }
                }
                RedisMode::Cluster => {
                    if r.replicas_per_shard == Some(0) {
                        self.add(
                            "TYK-AVAIL-CLUSTER-REPLICAS",
                            &format!("{key}.replicas_per_shard"),
                            format!("the Redis Cluster has no replicas: set `{key}.replicas_per_shard` to 1 or more"),
                            "without a replica, losing one primary loses its slots and the cluster stops serving them",
                        );
                    }
                }
                RedisMode::Standalone => {}
            }
        }
        if let Some(db) = &p.database {
            if db.replicas == 0 {
                self.add(
                    "TYK-AVAIL-DB-REPLICAS",
                    "database.replicas",
                    "the database has no replica: set `database.replicas` to 1 or more".into(),
                    "the Dashboard and Pump stop when their only database machine is lost",
                );
            } else if db.engine == Engine::Mongodb && (db.replicas + 1) % 2 == 0 {
                self.add(
                    "TYK-AVAIL-MONGO-MEMBERS",
                    "database.replicas",
                    format!(
                        "a replica set of {} members: set `database.replicas` to {} for an odd number of members",
                        db.replicas + 1,
                        db.replicas + 1
                    ),
                    "a MongoDB primary needs a majority of members; an even-sized set tolerates no more losses than one member fewer",
                );
            }
        }
    }

    fn data(&mut self) {
        let p = self.p;
        if p.redis.persistence == Persistence::None {
            self.add(
                "TYK-DATA-PERSISTENCE",
                "redis.persistence",
                "the main Redis persists nothing: set `redis.persistence` to `aof` (or `aof+rdb`)".into(),
                "Tyk keeps API keys and OAuth clients in Redis: a restart without persistence loses them all",
            );
        }
        if let Some(db) = &p.database
            && p.pump.nodes > 0
        {
            match db.engine {
                Engine::Mongodb if p.analytics.capping.max_size.is_none() => self.add(
                    "TYK-DATA-MONGO-CAP",
                    "analytics.capping",
                    "MongoDB analytics are not capped: set `analytics.capping.max_size`, e.g. \"5GiB\"".into(),
                    "without a cap, the analytics collection grows until the disk is full",
                ),
                Engine::Mongodb => self.add(
                    "TYK-DATA-MONGO-CAP-NEW",
                    "analytics.capping.max_size",
                    "the cap applies only when the Pump creates `tyk_analytics`; an existing collection stays uncapped".into(),
                    "cap an existing collection by hand (`convertToCapped`); Amazon DocumentDB does not support capped collections",
                ),
                Engine::Postgres if p.analytics.retention_days.is_none() => self.add(
                    "TYK-DATA-PG-RETENTION",
                    "analytics",
                    "PostgreSQL analytics are kept forever: set `analytics.retention_days`, e.g. 30".into(),
                    "SQL analytics cannot be capped: tykgen shards them into daily tables and drops the oldest",
                ),
                Engine::Postgres => {}
            }
        }
        if p.analytics.detailed_recording {
            self.add(
                "TYK-DATA-DETAILED",
                "analytics.detailed_recording",
                "detailed recording stores every request and response: set `analytics.detailed_recording: false`"
                    .into(),
                "turn it on per API or per key while debugging instead",
            );
        }
    }

    fn security(&mut self) {
        for path in crate::validate::override_paths(self.p) {
            self.add(
                "TYK-SEC-EXTRA-OVERRIDE",
                &path,
                format!("`{path}` replaces a value tykgen sets from the profile or as a hardened default"),
                "prefer the profile key tykgen names when the same key is under plain `extra_config`",
            );
        }
        for (_, key, r) in self.redis_deployments() {
            let tls = &r.tls;
            if !tls.enabled {
                self.add(
                    "TYK-SEC-REDIS-TLS",
                    &format!("{key}.tls.enabled"),
                    format!("`{key}` is reached without TLS: set `{key}.tls.enabled: true`"),
                    "Redis holds API keys and sessions; Redis supports TLS from 6.0",
                );
                continue;
            }
            self.verification(key, tls.verify, tls.mutual);
            let low = [("min_version", tls.min_version), ("max_version", tls.max_version)]
                .into_iter()
                .find(|(_, v)| v.is_some_and(|v| v < TlsVersion::V1_2));
            if let Some((field, Some(v))) = low {
                self.add(
                    "TYK-SEC-TLS-MIN",
                    &format!("{key}.tls.{field}"),
                    format!("`{key}.tls.{field}` is {}: accept TLS 1.2 and 1.3 only", v.as_str()),
                    format!("set `{key}.tls.min_version: \"1.2\"` (and `max_version: \"1.3\"`)"),
                );
            }
        }
        self.control_plane_tls();
        if let Some(db) = &self.p.database {
            if db.tls.enabled {
                self.verification("database", db.tls.verify, db.tls.mutual);
            } else {
                self.add(
                    "TYK-SEC-DB-TLS",
                    "database.tls.enabled",
                    "the database is reached without TLS: set `database.tls.enabled: true`".into(),
                    "the Dashboard's database holds API definitions, policies and users",
                );
            }
        }
    }

    /// The Gateways send the node secret to the Dashboard and the Dashboard the Gateway secret
    /// to the Gateways: a profile that encrypts its data tier should not send those in clear.
    fn control_plane_tls(&mut self) {
        let data_tls = self.redis_deployments().iter().any(|(_, _, r)| r.tls.enabled)
            || self.p.database.as_ref().is_some_and(|d| d.tls.enabled);
        if data_tls && self.p.dashboard.nodes > 0 && !self.p.tyk.tls.enabled {
            self.add(
                "TYK-SEC-CONTROL-TLS",
                "tyk.tls.enabled",
                "Redis or the database uses TLS but the Dashboard and the Gateways talk plain HTTP: set `tyk.tls.enabled: true`".into(),
                "the node secret, the Gateway API secret and Dashboard logins would cross the network unencrypted",
            );
        }
    }

    fn verification(&mut self, key: &str, verify: bool, mutual: bool) {
        if verify {
            return;
        }
        let at = format!("{key}.tls.verify");
        if mutual {
            self.add(
                "TYK-SEC-MTLS-VERIFY",
                &at,
                format!("mutual TLS to `{key}` without verifying the server: set `{at}: true`"),
                "clients would present their certificates to any server; mutual TLS builds on a verified server certificate (the CA file)",
            );
        } else {
            self.add(
                "TYK-SEC-VERIFY",
                &at,
                format!("clients of `{key}` do not verify its certificate: set `{at}: true`"),
                "without verification TLS does not stop a man-in-the-middle",
            );
        }
    }

    fn capacity(&mut self) {
        for (store, key, r) in self.redis_deployments() {
            let pool = &r.pool;
            if pool.max_active < pool.max_idle {
                self.add(
                    "TYK-CAP-POOL-ORDER",
                    &format!("{key}.pool.max_active"),
                    format!(
                        "`{key}.pool.max_active` ({}) is below `max_idle` ({}): raise `max_active` to at least {}",
                        pool.max_active, pool.max_idle, pool.max_idle
                    ),
                    "max_active is the upper limit of open connections; idle connections above it are never kept",
                );
            }
            let Some(budget) = super::budget::budget(self.t, store) else { continue };
            if !budget.fits() {
                let total = budget.total;
                let parts: Vec<String> = budget
                    .clients
                    .iter()
                    .map(|c| {
                        let pools = if c.pools == 1 { String::new() } else { format!(" × {} pools", c.pools) };
                        format!(
                            "{} {}{}{pools} × {}",
                            c.machines,
                            c.role,
                            if c.machines == 1 { "" } else { "s" },
                            c.max_active
                        )
                    })
                    .collect();
                self.add(
                    "TYK-CAP-MAXCLIENTS",
                    &format!("{key}.maxclients"),
                    format!(
                        "the pools towards `{key}` may open {total} connections ({}) but `{key}.maxclients` is {}: raise it to at least {total}, or lower `{key}.pool.max_active`",
                        parts.join(" + "),
                        budget.maxclients
                    ),
                    "Redis refuses connections above `maxclients` under load; leave headroom for replicas, Sentinels and operators",
                );
            }
        }
        let pool = &self.p.redis.pool;
        if self.p.gateway.nodes >= 2 && (pool.max_active < 1000 || pool.max_idle < 500) {
            self.add(
                "TYK-CAP-POOL-ADVICE",
                "redis.pool",
                format!(
                    "{} Gateways with a pool of {} idle / {} active: raise `redis.pool` towards 2000 idle / 4000 active",
                    self.p.gateway.nodes, pool.max_idle, pool.max_active
                ),
                "Tyk advises about 2000 idle and 4000 active connections for HA deployments; below a quarter of that, Gateways run out of Redis connections under load",
            );
        }
    }

    fn placement(&mut self) {
        let pinned: Vec<(&topology::Machine, String)> =
            self.t.machines.iter().filter_map(|m| m.address.as_deref().map(|a| (m, normalise_address(a)))).collect();
        for (i, (b, addr_b)) in pinned.iter().enumerate() {
            for (a, addr_a) in &pinned[..i] {
                if addr_a != addr_b {
                    continue;
                }
                let shown = b.address.as_deref().unwrap_or_default();
                let gateway_data = (a.role == Role::Gateway && b.role.is_data_tier())
                    || (b.role == Role::Gateway && a.role.is_data_tier());
                if gateway_data {
                    let (gw, data) = if a.role == Role::Gateway { (a, b) } else { (b, a) };
                    self.add(
                        "TYK-PLACE-GATEWAY-DATA",
                        &format!("machines.{}.address", data.name),
                        format!(
                            "`{}` is pinned to {shown}, the address of `{}`: give it its own machine",
                            data.name, gw.name
                        ),
                        "keep Redis and the database off the Gateway's machine: they use lots of RAM and contend with the Gateway for CPU",
                    );
                } else {
                    self.add(
                        "TYK-PLACE-SHARED",
                        &format!("machines.{}.address", b.name),
                        format!("`{}` and `{}` are both pinned to {shown}: give each its own address", a.name, b.name),
                        "two components on one machine fail together and compete for memory and CPU",
                    );
                }
            }
        }
    }
}

/// An address in a comparable form: IP addresses canonical, names lower-case.
fn normalise_address(a: &str) -> String {
    a.trim_matches(['[', ']']).parse::<std::net::IpAddr>().map_or_else(|_| a.to_ascii_lowercase(), |ip| ip.to_string())
}
