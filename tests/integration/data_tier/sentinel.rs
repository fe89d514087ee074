//! Redis Sentinel from the production profile (TLS + mutual TLS): a primary, two replicas and
//! three Sentinels from the generated files; the primary is killed, a replica promoted, Tyk's
//! settings (tyk.conf, tyk_analytics.conf, pump.conf) reach the new primary through the live
//! Sentinels, and the old primary rejoins as a replica.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::redis::{Cli, ClientTls, RedisNode, logs, secs, wait_replicas_linked};
use super::{Pki, RedisTools, Rendered, pin, render, tls_path, wait_for};

/// How one Tyk component reaches one Redis deployment, read back from its generated file.
#[derive(Debug)]
pub(crate) struct TykRedis {
    pub(crate) component: String,
    pub(crate) addrs: Vec<(String, u16)>,
    pub(crate) master_name: Option<String>,
    pub(crate) cluster: bool,
    pub(crate) tls: Option<ClientTls>,
    pub(crate) password: String,
    pub(crate) sentinel_password: Option<String>,
}

impl TykRedis {
    /// The Redis settings of `machine`'s generated `file`: the Gateway's `storage` block, the
    /// Pump's `analytics_storage_config` or the Dashboard's flat `redis_*` keys. TLS files are
    /// taken from the machine's test TLS folder `tls`; passwords from the environment variables
    /// the generated secrets name.
    pub(crate) fn read(r: &Rendered, machine: &str, file: &str, tls: &Path) -> Self {
        let conf = r.json(machine, file);
        let (block, prefix, env, ssl) = match file {
            "tyk.conf" => (&conf["storage"], "", "TYK_GW_STORAGE_", ""),
            "pump.conf" => (&conf["analytics_storage_config"], "", "TYK_PMP_ANALYTICSSTORAGECONFIG_", "ssl_"),
            "tyk_analytics.conf" => (&conf, "redis_", "TYK_DB_REDIS", "redis_"),
            other => panic!("no Redis settings in {other}"),
        };
        let get = |key: &str| -> &Value { &block[format!("{prefix}{key}")] };
        let addrs = get("addrs")
            .as_array()
            .unwrap_or_else(|| panic!("{machine}/{file}: no {prefix}addrs"))
            .iter()
            .map(|a| {
                let a = a.as_str().expect("address string");
                let (host, port) = a.rsplit_once(':').expect("host:port");
                (host.to_owned(), port.parse().expect("port"))
            })
            .collect();
        let use_ssl = get("use_ssl").as_bool().unwrap_or(false);
        let tls = use_ssl.then(|| {
            let file_key = |k: &str| tls_path(&block[format!("{ssl}{k}_file")], tls);
            ClientTls {
                ca: file_key("ca").unwrap_or_else(|| panic!("{machine}/{file}: TLS without a CA file")),
                cert: file_key("cert").zip(file_key("key")),
            }
        });
        let has_sentinel = get("master_name").is_string();
        Self {
            component: format!("{machine}/{file}"),
            addrs,
            master_name: get("master_name").as_str().map(str::to_owned),
            cluster: block["enable_cluster"].as_bool().unwrap_or(false),
            tls,
            password: r.secret_env(machine, &format!("{env}PASSWORD")),
            sentinel_password: has_sentinel.then(|| r.secret_env(machine, &format!("{env}SENTINELPASSWORD"))),
        }
    }

    fn cli(&self, tools: &RedisTools, host: &str, port: u16, password: &str) -> Cli {
        Cli {
            cli: tools.cli.clone(),
            host: host.to_owned(),
            port,
            tls: self.tls.clone(),
            password: Some(password.to_owned()),
        }
    }

    /// Through every listed Sentinel: the primary's address, checked to be a writable primary
    /// by writing `key` there.
    pub(crate) fn primary_via_sentinels(&self, tools: &RedisTools, key: &str) -> Result<String, String> {
        let name = self.master_name.as_deref().ok_or("no master_name")?;
        let spw = self.sentinel_password.as_deref().ok_or("no Sentinel password")?;
        let mut seen = Vec::new();
        for (host, port) in &self.addrs {
            let reply = self.cli(tools, host, *port, spw).ok(&["SENTINEL", "get-master-addr-by-name", name])?;
            let mut lines = reply.lines();
            let (Some(h), Some(p)) = (lines.next(), lines.next()) else {
                return Err(format!("{}: Sentinel {host}:{port} knows no master {name:?}: {reply:?}", self.component));
            };
            let primary = self.cli(tools, h, p.parse().map_err(|e| format!("{p}: {e}"))?, &self.password);
            let role = primary.ok(&["ROLE"])?;
            if role.lines().next() != Some("master") {
                return Err(format!(
                    "{}: {h}:{p} (from Sentinel {host}:{port}) is not a primary: {role}",
                    self.component
                ));
            }
            primary.ok(&["SET", key, &self.component])?;
            seen.push(format!("{h}:{p}"));
        }
        seen.dedup();
        if seen.len() != 1 {
            return Err(format!("{}: the Sentinels disagree: {seen:?}", self.component));
        }
        Ok(seen.remove(0))
    }
}

/// `SENTINEL MASTER <name>` as a map.
fn sentinel_master(cli: &Cli, name: &str) -> Result<BTreeMap<String, String>, String> {
    let reply = cli.ok(&["SENTINEL", "MASTER", name])?;
    let lines: Vec<&str> = reply.lines().collect();
    Ok(lines.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0].to_owned(), c[1].to_owned())).collect())
}

#[test]
fn sentinel_fails_over_and_tyk_follows() {
    let Some(tools) = RedisTools::find(true) else { return };
    let _range = super::claim_range(22);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut sets = pin(&[
        ("redis-1", "127.0.22.1"),
        ("redis-2", "127.0.22.2"),
        ("redis-3", "127.0.22.3"),
        ("sentinel-1", "127.0.22.11"),
        ("sentinel-2", "127.0.22.12"),
        ("sentinel-3", "127.0.22.13"),
        ("gateway-1", "127.0.22.21"),
        ("gateway-2", "127.0.22.22"),
        ("dashboard-1", "127.0.22.31"),
        ("pump-1", "127.0.22.41"),
    ]);
    sets.push(format!("redis.version={}", tools.version()));
    let r = render("production", &sets);
    let dep = &r.topology.redis[0];
    assert!(dep.settings.tls.enabled && dep.settings.tls.mutual, "production has mutual TLS to Redis");
    let pki = Pki::new(&tools.openssl, &tmp.path().join("pki"));
    let certs: BTreeMap<String, PathBuf> = pki.machines(
        &r,
        &[
            "redis-1",
            "redis-2",
            "redis-3",
            "sentinel-1",
            "sentinel-2",
            "sentinel-3",
            "gateway-1",
            "dashboard-1",
            "pump-1",
        ],
    );
    let root = tmp.path().join("run");
    let prepare = |m: &str| RedisNode::prepare(&tools, &r, m, &root, &certs[m]);
    let mut nodes: Vec<RedisNode> = dep.nodes.iter().map(|m| prepare(m)).collect();
    let mut sentinels: Vec<RedisNode> = dep.sentinels.iter().map(|m| prepare(m)).collect();
    let redis_pw = super::password(&dep.password_secret);
    let sentinel_pw = super::password(dep.sentinel_secret.as_deref().expect("sentinel secret"));
    // An operator's client: the gateway's certificate.
    let client_tls = ClientTls::of(&certs["gateway-1"], true);
    let node_cli: Vec<Cli> =
        nodes.iter().map(|n| n.cli(&tools, Some(client_tls.clone()), Some(redis_pw.clone()))).collect();
    let sentinel_cli: Vec<Cli> =
        sentinels.iter().map(|n| n.cli(&tools, Some(client_tls.clone()), Some(sentinel_pw.clone()))).collect();

    for n in &mut nodes {
        n.start();
    }
    let all_logs =
        |nodes: &[RedisNode], sentinels: &[RedisNode]| logs(&nodes.iter().chain(sentinels).collect::<Vec<_>>());
    for c in &node_cli {
        c.wait_ready(|| all_logs(&nodes, &sentinels));
    }
    // masterauth from the secrets file lets the replicas in.
    wait_replicas_linked(&node_cli[1..], || all_logs(&nodes, &sentinels));

    for s in &mut sentinels {
        s.start();
    }
    // master_name as Tyk has it.
    let gateway = TykRedis::read(&r, "gateway-1", "tyk.conf", &certs["gateway-1"]);
    let master = gateway.master_name.clone().expect("tyk.conf storage.master_name");
    for c in &sentinel_cli {
        wait_for(
            &format!("Sentinel {} to see 2 other Sentinels and 2 replicas of {master}", c.host),
            Duration::from_secs(30),
            || all_logs(&nodes, &sentinels),
            || {
                let m = sentinel_master(c, &master)?;
                let (others, replicas) = (m.get("num-other-sentinels"), m.get("num-slaves"));
                if others.map(String::as_str) == Some("2") && replicas.map(String::as_str) == Some("2") {
                    Ok(())
                } else {
                    Err(format!("num-other-sentinels {others:?}, num-slaves {replicas:?}"))
                }
            },
        );
    }
    // auth: the Sentinel and the Redis servers refuse a client without the password.
    let err = Cli { password: None, ..sentinel_cli[0].clone() }.ok(&["SENTINEL", "MASTERS"]).unwrap_err();
    assert!(err.contains("NOAUTH"), "{err}");
    let err = Cli { password: None, ..node_cli[0].clone() }.ok(&["GET", "x"]).unwrap_err();
    assert!(err.contains("NOAUTH"), "{err}");

    // Tyk's view before the failover: every component reaches redis-1 through the Sentinels.
    let views = [
        gateway,
        TykRedis::read(&r, "dashboard-1", "tyk_analytics.conf", &certs["dashboard-1"]),
        TykRedis::read(&r, "pump-1", "pump.conf", &certs["pump-1"]),
    ];
    let first = format!("{}:6379", r.address("redis-1"));
    for v in &views {
        assert_eq!(v.master_name.as_deref(), Some(master.as_str()), "{}", v.component);
        assert_eq!(v.addrs.len(), 3, "{}: {:?}", v.component, v.addrs);
        let primary = v
            .primary_via_sentinels(&tools, "tykgen:before")
            .unwrap_or_else(|e| panic!("{e}\n{}", all_logs(&nodes, &sentinels)));
        assert_eq!(primary, first, "{}", v.component);
    }
    assert_eq!(node_cli[0].ok(&["WAIT", "2", "5000"]).unwrap(), "2", "both replicas acknowledge the writes");

    // Kill the primary by its PID.
    let started = Instant::now();
    let pid = nodes[0].kill();
    let promoted = wait_for(
        &format!("the Sentinels to promote a replica of {master}"),
        Duration::from_secs(60),
        || all_logs(&nodes, &sentinels),
        || {
            let mut addrs = Vec::new();
            for c in &sentinel_cli {
                let reply = c.ok(&["SENTINEL", "get-master-addr-by-name", &master])?;
                addrs.push(reply.lines().next().unwrap_or_default().to_owned());
            }
            addrs.dedup();
            match addrs.as_slice() {
                [one] if *one != r.address("redis-1") => Ok(one.clone()),
                _ => Err(format!("Sentinels say {addrs:?}")),
            }
        },
    );
    let i = nodes.iter().position(|n| n.host == promoted).expect("the promoted node is one of ours");
    wait_for(
        &format!("{promoted} to be a primary"),
        Duration::from_secs(20),
        || all_logs(&nodes, &sentinels),
        || {
            let role = node_cli[i].ok(&["ROLE"])?;
            if role.starts_with("master") { Ok(()) } else { Err(role) }
        },
    );
    let failover = secs(started);
    eprintln!(
        "data_tier: Sentinel failover ({master}: {} killed (pid {pid}) -> {promoted} promoted) took {failover:.2} s",
        r.address("redis-1")
    );
    assert_eq!(
        node_cli[i].ok(&["GET", "tykgen:before"]).unwrap(),
        "pump-1/pump.conf",
        "data written before the failover"
    );

    // Tyk's view after the failover: the same settings reach the new primary.
    for v in &views {
        let primary = v
            .primary_via_sentinels(&tools, "tykgen:after")
            .unwrap_or_else(|e| panic!("{e}\n{}", all_logs(&nodes, &sentinels)));
        assert_eq!(primary, format!("{promoted}:6379"), "{}", v.component);
    }

    // The old primary, restarted from its own files, rejoins as a replica of the new one.
    let started = Instant::now();
    nodes[0].start();
    wait_for(
        "the old primary to rejoin as a replica",
        Duration::from_secs(60),
        || all_logs(&nodes, &sentinels),
        || {
            let role = node_cli[0].ok(&["ROLE"])?;
            let mut lines = role.lines();
            match (lines.next(), lines.next()) {
                (Some("slave"), Some(h)) if h == promoted => {}
                _ => return Err(format!("ROLE: {role:?}")),
            }
            match node_cli[0].info_field("replication", "master_link_status")?.as_str() {
                "up" => Ok(()),
                other => Err(format!("master_link_status:{other}")),
            }
        },
    );
    eprintln!("data_tier: old primary rejoined as a replica of {promoted} in {:.2} s", secs(started));
    assert_eq!(node_cli[0].ok(&["GET", "tykgen:after"]).unwrap(), "pump-1/pump.conf");
}
