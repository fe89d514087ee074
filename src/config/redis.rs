//! `redis.conf` for every Redis server and `sentinel.conf` for every Sentinel.
//!
//! Decisions (each also explained in the rendered file):
//! - **bind**: the machine's pinned address when it is an IP address, else `0.0.0.0`. Which
//!   machines may connect is decided by the network rules derived from the topology's links
//!   (security groups, compose networks, host firewalls), not by `bind`; binding a host name
//!   would tie start-up to DNS.
//! - **announce**: in Sentinel mode every Redis server announces its own endpoint
//!   (`replica-announce-ip`), and every Sentinel its own (`sentinel announce-ip`), so Sentinels
//!   and Tyk learn the names the certificates carry (or the pinned address) instead of whatever
//!   address a connection happens to come from. In Cluster mode a pinned IP is announced with
//!   `cluster-announce-ip`; host names with `cluster-announce-hostname` +
//!   `cluster-preferred-endpoint-type hostname` (Redis 7+), so `CLUSTER SLOTS` hands go-redis
//!   names it can resolve and verify.
//! - **secrets**: never in these files. The last line includes a private file the target writes
//!   from a [`SecretUse::File`]; being last, it wins over anything above it.

use serde::Serialize;

use super::{ConfigFile, tls_paths};
use crate::output::FileMode;
use crate::profile::{Persistence, Profile, RedisMode, TlsVersion};
use crate::render::Renderer;
use crate::topology::{
    Machine, REDIS_PORT, RedisDeployment, Replication, Role, SENTINEL_PORT, SecretUse, Store, Topology,
};

/// Where `redis.conf` is installed.
pub(crate) const REDIS_CONF: &str = "/etc/redis/redis.conf";
/// Where `sentinel.conf` is installed (a writable copy: Sentinel rewrites it).
pub(crate) const SENTINEL_CONF: &str = "/etc/redis/sentinel.conf";
/// The private file with `requirepass`/`masterauth`, included last by `redis.conf`.
pub(crate) const REDIS_SECRETS: &str = "/etc/redis/tykgen-secrets.conf";
/// The private file with the Sentinel's passwords, included last by `sentinel.conf`.
pub(crate) const SENTINEL_SECRETS: &str = "/etc/redis/tykgen-sentinel-secrets.conf";

#[derive(Serialize)]
struct Tls {
    cert: &'static str,
    key: &'static str,
    ca: &'static str,
    auth_clients: bool,
    protocols: String,
}

#[derive(Serialize)]
struct ReplicationCtx {
    /// Endpoint of the primary (replicas only).
    primary: Option<String>,
    primary_name: Option<String>,
    /// This node's own endpoint.
    announce: String,
}

#[derive(Serialize)]
struct ClusterCtx {
    announce_ip: Option<String>,
    announce_hostname: Option<String>,
    ip_only_note: Option<&'static str>,
}

#[derive(Serialize)]
struct RedisCtx<'a> {
    machine: &'a str,
    part: String,
    profile: &'a str,
    version: &'a str,
    bind: String,
    bind_note: &'static str,
    port: u16,
    maxclients: u32,
    tls: Option<Tls>,
    persistence: &'static str,
    replication: Option<ReplicationCtx>,
    cluster: Option<ClusterCtx>,
    secrets_file: &'static str,
}

#[derive(Serialize)]
struct SentinelCtx<'a> {
    machine: &'a str,
    profile: &'a str,
    version: &'a str,
    store: &'static str,
    nodes: String,
    bind: String,
    bind_note: &'static str,
    port: u16,
    tls: Option<Tls>,
    hostnames: bool,
    announce: &'a str,
    master: &'a str,
    primary: &'a str,
    redis_port: u16,
    quorum: u32,
    secrets_file: &'static str,
}

/// True when `endpoint` is an IP address (a pinned address), false for a host name.
pub(super) fn is_ip(endpoint: &str) -> bool {
    endpoint.parse::<std::net::IpAddr>().is_ok()
}

/// What to listen on: the pinned IP address, else every IPv4 interface.
pub(super) fn listen_on(m: &Machine) -> (String, bool) {
    match m.address.as_deref().filter(|a| is_ip(a)) {
        Some(ip) => (ip.to_owned(), true),
        None => ("0.0.0.0".to_owned(), false),
    }
}

fn bind_note(pinned: bool) -> &'static str {
    if pinned {
        "Listens on the pinned address only. Who may connect is decided by the network rules derived from the topology's links."
    } else {
        "Listens on every interface: the machine has no pinned IP address, and who may connect is decided by the network rules derived from the topology's links (security groups, compose networks, host firewalls)."
    }
}

/// `tls-protocols` from the profile's min/max versions (default TLS 1.2 to 1.3).
fn tls_protocols(min: Option<TlsVersion>, max: Option<TlsVersion>) -> String {
    let min = min.unwrap_or(TlsVersion::V1_2);
    let max = max.unwrap_or(TlsVersion::V1_3).max(min);
    [TlsVersion::V1_0, TlsVersion::V1_1, TlsVersion::V1_2, TlsVersion::V1_3]
        .into_iter()
        .filter(|v| *v >= min && *v <= max)
        .map(|v| match v {
            TlsVersion::V1_0 => "TLSv1",
            TlsVersion::V1_1 => "TLSv1.1",
            TlsVersion::V1_2 => "TLSv1.2",
            TlsVersion::V1_3 => "TLSv1.3",
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn tls_ctx(dep: &RedisDeployment) -> Option<Tls> {
    let tls = &dep.settings.tls;
    tls.enabled.then(|| Tls {
        cert: tls_paths::CERT,
        key: tls_paths::KEY,
        ca: tls_paths::CA,
        auth_clients: tls.mutual,
        protocols: tls_protocols(tls.min_version, tls.max_version),
    })
}

fn store_word(store: Store) -> &'static str {
    match store {
        Store::Main => "main",
        Store::Cache => "cache",
        Store::Analytics => "analytics",
    }
}

fn persistence(p: Persistence) -> &'static str {
    match p {
        Persistence::Aof => "aof",
        Persistence::Rdb => "rdb",
        Persistence::AofRdb => "aof+rdb",
        Persistence::None => "none",
    }
}

fn deployment<'a>(t: &'a Topology, m: &Machine) -> anyhow::Result<&'a RedisDeployment> {
    t.redis
        .iter()
        .find(|d| Some(d.store) == m.store)
        .ok_or_else(|| anyhow::anyhow!("machine {} belongs to no Redis deployment", m.name))
}

fn endpoint_of<'a>(t: &'a Topology, name: &'a str) -> anyhow::Result<&'a str> {
    t.machine(name).map(Machine::endpoint).ok_or_else(|| anyhow::anyhow!("unknown machine {name}"))
}

/// The configuration of one Redis server or Sentinel.
pub(super) fn machine(
    profile: &Profile,
    t: &Topology,
    m: &Machine,
    r: &Renderer,
) -> anyhow::Result<(Vec<ConfigFile>, Vec<SecretUse>)> {
    let dep = deployment(t, m)?;
    match m.role {
        Role::Redis => server(profile, t, m, dep, r),
        Role::Sentinel => sentinel(profile, t, m, dep, r),
        other => anyhow::bail!("redis::machine called for a {} machine", other.as_str()),
    }
}

fn server(
    profile: &Profile,
    t: &Topology,
    m: &Machine,
    dep: &RedisDeployment,
    r: &Renderer,
) -> anyhow::Result<(Vec<ConfigFile>, Vec<SecretUse>)> {
    let s = &dep.settings;
    let (bind, pinned) = listen_on(m);
    let replication = match (&m.replication, s.mode) {
        (Replication::Primary, _) => {
            Some(ReplicationCtx { primary: None, primary_name: None, announce: m.endpoint().to_owned() })
        }
        (Replication::ReplicaOf(primary), _) => Some(ReplicationCtx {
            primary: Some(endpoint_of(t, primary)?.to_owned()),
            primary_name: Some(primary.clone()),
            announce: m.endpoint().to_owned(),
        }),
        _ => None,
    };
    let cluster = (s.mode == RedisMode::Cluster).then(|| {
        let endpoint = m.endpoint();
        if is_ip(endpoint) {
            ClusterCtx { announce_ip: Some(endpoint.to_owned()), announce_hostname: None, ip_only_note: None }
        } else if s.version.at_least(7, 0, 0) {
            ClusterCtx { announce_ip: None, announce_hostname: Some(endpoint.to_owned()), ip_only_note: None }
        } else {
            ClusterCtx {
                announce_ip: None,
                announce_hostname: None,
                ip_only_note: Some(
                    "Redis before 7.0 announces IP addresses only: CLUSTER SLOTS gives Tyk IPs, so TLS certificates need IP SANs (or pin addresses).",
                ),
            }
        }
    });
    let part = match (&m.replication, s.mode) {
        (Replication::Primary, _) => format!("initial primary of the {} Redis", store_word(dep.store)),
        (Replication::ReplicaOf(p), _) => format!("replica of {p}, {} Redis", store_word(dep.store)),
        (_, RedisMode::Cluster) => format!("cluster node of the {} Redis", store_word(dep.store)),
        _ => format!("standalone {} Redis", store_word(dep.store)),
    };
    let ctx = RedisCtx {
        machine: &m.name,
        part,
        profile: &profile.name,
        version: s.version.as_str(),
        bind,
        bind_note: bind_note(pinned),
        port: REDIS_PORT,
        maxclients: s.maxclients,
        tls: tls_ctx(dep),
        persistence: persistence(s.persistence),
        replication,
        cluster,
        secrets_file: REDIS_SECRETS,
    };
    let contents = r.render("config/redis.conf.tera", &ctx)?;
    let pw = &dep.password_secret;
    let secrets = vec![SecretUse::File {
        path: REDIS_SECRETS.to_owned(),
        template: format!("requirepass {{{pw}}}\nmasterauth {{{pw}}}\n"),
        secrets: vec![pw.clone()],
    }];
    Ok((
        vec![ConfigFile {
            name: "redis.conf".to_owned(),
            install_path: REDIS_CONF.to_owned(),
            contents: contents.into(),
            mode: FileMode::Normal,
        }],
        secrets,
    ))
}

fn sentinel(
    profile: &Profile,
    t: &Topology,
    m: &Machine,
    dep: &RedisDeployment,
    r: &Renderer,
) -> anyhow::Result<(Vec<ConfigFile>, Vec<SecretUse>)> {
    let s = &dep.settings;
    let master =
        dep.master_name.as_deref().ok_or_else(|| anyhow::anyhow!("Sentinel {} without a master name", m.name))?;
    let sentinel_secret = dep
        .sentinel_secret
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("Sentinel {} without a Sentinel password", m.name))?;
    let primary_name =
        dep.nodes.first().ok_or_else(|| anyhow::anyhow!("Sentinel {} watches no Redis server", m.name))?;
    let primary = endpoint_of(t, primary_name)?;
    // Host names anywhere in this deployment (the primary, a replica that may be promoted, or a
    // Sentinel) need Sentinel's host-name support.
    let hostnames = dep.nodes.iter().chain(&dep.sentinels).filter_map(|n| t.machine(n)).any(|n| !is_ip(n.endpoint()));
    if hostnames && !s.version.at_least(6, 2, 0) {
        anyhow::bail!(
            "Redis Sentinel {} cannot use host names before Redis 6.2: pin IP addresses (machines.<name>.address) or use Redis 6.2+",
            s.version
        );
    }
    let (bind, pinned) = listen_on(m);
    let ctx = SentinelCtx {
        machine: &m.name,
        profile: &profile.name,
        version: s.version.as_str(),
        store: store_word(dep.store),
        nodes: dep.nodes.join(", "),
        bind,
        bind_note: bind_note(pinned),
        port: SENTINEL_PORT,
        tls: tls_ctx(dep),
        hostnames,
        announce: m.endpoint(),
        master,
        primary,
        redis_port: REDIS_PORT,
        quorum: dep.quorum,
        secrets_file: SENTINEL_SECRETS,
    };
    let contents = r.render("config/sentinel.conf.tera", &ctx)?;
    let pw = &dep.password_secret;
    let secrets = vec![SecretUse::File {
        path: SENTINEL_SECRETS.to_owned(),
        template: format!(
            "requirepass {{{sentinel_secret}}}\nsentinel auth-pass {master} {{{pw}}}\nsentinel sentinel-pass {{{sentinel_secret}}}\n"
        ),
        secrets: vec![sentinel_secret.to_owned(), pw.clone()],
    }];
    Ok((
        vec![ConfigFile {
            name: "sentinel.conf".to_owned(),
            install_path: SENTINEL_CONF.to_owned(),
            contents: contents.into(),
            mode: FileMode::Normal,
        }],
        secrets,
    ))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::MachineConfig;
    use crate::profile::{Input, builtins, load};
    use crate::topology::build;

    /// The bundle of built-in profile `name` with `sets` applied.
    pub(crate) fn bundle_of(name: &str, sets: &[&str]) -> (Topology, crate::config::Bundle) {
        let r = Renderer::new(None).unwrap();
        let input = Input {
            profile: Some(name.to_owned()),
            sets: sets.iter().map(|s| (*s).to_owned()).collect(),
            ..Input::default()
        };
        let loaded = load(&input).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let t = build(&loaded.profile);
        let b = crate::config::bundle(&loaded.profile, &t, &r).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        (t, b)
    }

    /// Every built-in profile's bundle.
    pub(crate) fn bundles() -> Vec<(Topology, crate::config::Bundle)> {
        builtins().into_iter().map(|(name, _)| bundle_of(&name, &[])).collect()
    }

    fn file<'a>(mc: &'a MachineConfig, name: &str) -> &'a str {
        &mc.files
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{} has no {name}", mc.machine.name))
            .contents
    }

    fn lines(s: &str) -> Vec<&str> {
        s.lines().filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()).collect()
    }

    /// Looks like a password or key: a long token of mixed letters and digits, or a
    /// `requirepass`/`masterauth`/`auth-pass` line.
    pub(crate) fn assert_no_secret(name: &str, contents: &str) {
        for l in lines(contents) {
            for bad in ["requirepass", "masterauth", "auth-pass", "sentinel-pass", "password="] {
                assert!(!l.contains(bad), "{name}: secret-bearing line {l:?}");
            }
        }
    }

    #[test]
    fn every_redis_file_is_right_for_its_role() {
        for (t, b) in bundles() {
            for dep in &t.redis {
                let tls = dep.settings.tls.enabled;
                for n in &dep.nodes {
                    let mc = b.get(n).unwrap();
                    let conf = file(mc, "redis.conf");
                    let ls = lines(conf);
                    assert_no_secret(n, conf);
                    assert_eq!(ls.last(), Some(&"include \"/etc/redis/tykgen-secrets.conf\""), "{n}");
                    let replicaof = ls.iter().any(|l| l.starts_with("replicaof "));
                    match &mc.machine.replication {
                        Replication::ReplicaOf(p) => {
                            let want = format!("replicaof \"{}\" 6379", t.machine(p).unwrap().endpoint());
                            assert!(ls.contains(&want.as_str()), "{n}: {conf}");
                        }
                        _ => assert!(!replicaof, "{n} must not be a replica"),
                    }
                    if dep.settings.mode == RedisMode::Cluster {
                        assert!(ls.contains(&"cluster-enabled yes"), "{n}");
                        assert!(ls.contains(&"tls-cluster yes") == tls, "{n}");
                    } else {
                        assert!(!conf.contains("cluster-enabled"), "{n}");
                    }
                    if tls {
                        assert!(ls.contains(&"port 0") && ls.contains(&"tls-port 6379"), "{n}");
                        assert!(ls.contains(&"tls-replication yes"), "{n}");
                        let auth = if dep.settings.tls.mutual { "tls-auth-clients yes" } else { "tls-auth-clients no" };
                        assert!(ls.contains(&auth), "{n}");
                    } else {
                        assert!(ls.contains(&"port 6379") && !conf.contains("tls-port"), "{n}");
                    }
                    let SecretUse::File { path, template, secrets } = &mc.secrets[0] else { panic!() };
                    assert_eq!(path, REDIS_SECRETS);
                    assert_eq!(secrets, &vec![dep.password_secret.clone()]);
                    assert!(template.starts_with(&format!("requirepass {{{}}}\n", dep.password_secret)));
                }
                for s in &dep.sentinels {
                    let mc = b.get(s).unwrap();
                    let conf = file(mc, "sentinel.conf");
                    assert_no_secret(s, conf);
                    let ls = lines(conf);
                    let master = dep.master_name.as_deref().unwrap();
                    let primary = t.machine(&dep.nodes[0]).unwrap().endpoint();
                    let want = format!("sentinel monitor \"{master}\" \"{primary}\" 6379 {}", dep.quorum);
                    assert!(ls.contains(&want.as_str()), "{s}: {conf}");
                    assert_eq!(ls.last(), Some(&"include \"/etc/redis/tykgen-sentinel-secrets.conf\""));
                    if tls {
                        assert!(ls.contains(&"port 0") && ls.contains(&"tls-port 26379"), "{s}");
                        assert!(ls.contains(&"tls-replication yes"), "{s}");
                    } else {
                        assert!(ls.contains(&"port 26379"), "{s}");
                    }
                    let SecretUse::File { template, .. } = &mc.secrets[0] else { panic!() };
                    assert!(template.contains(&format!("sentinel auth-pass {master} {{{}}}", dep.password_secret)));
                }
            }
        }
    }

    #[test]
    fn pinned_addresses_are_bound_and_announced() {
        let sets = [
            "machines.redis-1.address=127.0.1.1",
            "machines.redis-2.address=127.0.1.2",
            "machines.sentinel-1.address=127.0.1.5",
        ];
        let (t, b) = bundle_of("production", &sets);
        let r2 = file(b.get("redis-2").unwrap(), "redis.conf");
        assert!(r2.contains("bind \"127.0.1.2\"\n") && r2.contains("replicaof \"127.0.1.1\" 6379\n"), "{r2}");
        assert!(r2.contains("replica-announce-ip \"127.0.1.2\"\n"), "{r2}");
        let r3 = file(b.get("redis-3").unwrap(), "redis.conf");
        assert!(r3.contains("bind \"0.0.0.0\"\n") && r3.contains("replica-announce-ip \"redis-3.tyk.internal\"\n"));
        let s1 = file(b.get("sentinel-1").unwrap(), "sentinel.conf");
        // redis-3 is still a host name, so host-name support stays on.
        assert!(s1.contains("sentinel resolve-hostnames yes\n") && s1.contains("sentinel announce-ip \"127.0.1.5\"\n"));
        assert!(t.machine("redis-1").unwrap().address.is_some());
    }

    #[test]
    fn cluster_announces_host_names_on_redis_7() {
        let (_, b) = bundle_of("redis-cluster", &[]);
        let c = file(b.get("redis-1").unwrap(), "redis.conf");
        assert!(
            c.contains(
                "cluster-announce-hostname \"redis-1.tyk.internal\"\ncluster-preferred-endpoint-type hostname\n"
            ),
            "{c}"
        );
        let (_, b) = bundle_of("redis-cluster", &["redis.version=6.2"]);
        let c = file(b.get("redis-1").unwrap(), "redis.conf");
        assert!(!c.contains("cluster-announce-hostname"), "{c}");
    }

    #[test]
    fn persistence_modes() {
        for (mode, want, not) in [
            ("aof", vec!["appendonly yes", "appendfsync everysec", "save \"\""], vec!["save 60 10000"]),
            ("rdb", vec!["save 3600 1", "save 60 10000", "appendonly no"], vec!["appendonly yes"]),
            ("aof+rdb", vec!["appendonly yes", "save 300 100"], vec!["save \"\""]),
            ("none", vec!["save \"\"", "appendonly no"], vec!["appendonly yes", "save 60"]),
        ] {
            let set = format!("redis.persistence={mode}");
            let (_, b) = bundle_of("lab", &[&set]);
            let c = file(b.get("redis-1").unwrap(), "redis.conf");
            let ls = lines(c);
            for w in want {
                assert!(ls.contains(&w), "{mode}: {w}");
            }
            for n in not {
                assert!(!ls.iter().any(|l| l.starts_with(n)), "{mode}: {n}");
            }
        }
    }

    #[test]
    fn tls_protocol_ranges() {
        assert_eq!(tls_protocols(None, None), "TLSv1.2 TLSv1.3");
        assert_eq!(tls_protocols(Some(TlsVersion::V1_3), None), "TLSv1.3");
        assert_eq!(tls_protocols(Some(TlsVersion::V1_0), Some(TlsVersion::V1_2)), "TLSv1 TLSv1.1 TLSv1.2");
    }

    #[test]
    fn rendering_is_deterministic() {
        let a = bundles();
        let b = bundles();
        for ((_, x), (_, y)) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
    }
}
