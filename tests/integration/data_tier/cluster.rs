//! Redis Cluster from the redis-cluster profile (TLS + mutual TLS, `tls-cluster`): six nodes from
//! the generated files, created with `redis-cli --cluster create ... --cluster-replicas N` as the
//! targets do; a master is killed, its replica takes over, `cluster_state:ok` again, and Tyk's
//! settings (tyk.conf, tyk_analytics.conf) reach the data through the live nodes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::redis::{Cli, ClientTls, RedisNode, logs, secs};
use super::sentinel::TykRedis;
use super::{Pki, RedisTools, pin, render, text, wait_for};
use crate::tools::run;

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
struct ClusterNode {
    id: String,
    host: String,
    master: bool,
    failed: bool,
    master_id: String,
    slots: Vec<(u16, u16)>,
}

fn cluster_nodes(cli: &Cli) -> Result<Vec<ClusterNode>, String> {
    let reply = cli.ok(&["CLUSTER", "NODES"])?;
    reply
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return Err(format!("bad CLUSTER NODES line {l:?}"));
            }
            let host = f[1].split([':', '@', ',']).next().unwrap_or_default().to_owned();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| {
                    let (a, b) = s.split_once('-').unwrap_or((s, s));
                    Some((a.parse().ok()?, b.parse().ok()?))
                })
                .collect();
            Ok(ClusterNode {
                id: f[0].to_owned(),
                host,
                master: f[2].contains("master"),
                failed: f[2].contains("fail"),
                master_id: f[3].to_owned(),
                slots,
            })
        })
        .collect()
}

fn cluster_ok(cli: &Cli) -> Result<(), String> {
    let state = cli.info_field("cluster", "cluster_enabled").and_then(|_| {
        let info = cli.ok(&["CLUSTER", "INFO"])?;
        Ok(info.lines().find_map(|l| l.trim().strip_prefix("cluster_state:")).unwrap_or_default().to_owned())
    })?;
    if state == "ok" { Ok(()) } else { Err(format!("{}: cluster_state:{state}", cli.host)) }
}

#[test]
fn cluster_survives_a_master_failure_and_tyk_follows() {
    let Some(tools) = RedisTools::find(false) else { return };
    let _range = super::claim_range(23);
    let version = tools.version();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut pins: Vec<(String, String)> = (1..=6).map(|i| (format!("redis-{i}"), format!("127.0.23.{i}"))).collect();
    pins.push(("gateway-1".into(), "127.0.23.21".into()));
    pins.push(("dashboard-1".into(), "127.0.23.31".into()));
    let pairs: Vec<(&str, &str)> = pins.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut sets = pin(&pairs);
    for store in ["redis", "cache_redis", "analytics_redis"] {
        sets.push(format!("{store}.version={version}"));
    }
    let r = render("redis-cluster", &sets);
    let dep = &r.topology.redis[0];
    assert!(dep.settings.tls.enabled && dep.settings.tls.mutual);
    let names: Vec<&str> = dep.nodes.iter().map(String::as_str).collect();
    assert_eq!(names.len(), 6);
    let pki = Pki::new(&tools.openssl, &tmp.path().join("pki"));
    let mut machines = names.clone();
    machines.extend(["gateway-1", "dashboard-1"]);
    let certs = pki.machines(&r, &machines);
    let root = tmp.path().join("run");
    let mut nodes: Vec<RedisNode> =
        names.iter().map(|m| RedisNode::prepare(&tools, &r, m, &root, &certs[*m])).collect();
    let pw = super::password(&dep.password_secret);
    let client_tls = ClientTls::of(&certs["gateway-1"], true);
    let clis: Vec<Cli> = nodes.iter().map(|n| n.cli(&tools, Some(client_tls.clone()), Some(pw.clone()))).collect();
    for n in &mut nodes {
        n.start();
    }
    let all_logs = |nodes: &[RedisNode]| logs(&nodes.iter().collect::<Vec<_>>());
    for c in &clis {
        c.wait_ready(|| all_logs(&nodes));
    }

    // Created as the targets create it.
    let replicas = dep.settings.replicas_per_shard.unwrap_or(1).to_string();
    let addrs: Vec<String> = nodes.iter().map(|n| format!("{}:6379", n.host)).collect();
    let mut create = clis[0].command(&["--cluster", "create"]);
    create.args(&addrs).args(["--cluster-replicas", &replicas, "--cluster-yes"]);
    let started = Instant::now();
    let out = run(&mut create, Duration::from_secs(60));
    assert!(
        out.status.success() && text(&out).contains("All 16384 slots covered"),
        "cluster create failed:\n{}\n{}",
        text(&out),
        all_logs(&nodes)
    );
    let wait_all_ok = |clis: &[&Cli], nodes: &[RedisNode], what: &str| {
        for c in clis {
            wait_for(what, Duration::from_secs(30), || all_logs(nodes), || cluster_ok(c));
        }
    };
    wait_all_ok(&clis.iter().collect::<Vec<_>>(), &nodes, "cluster_state:ok on every node");
    // Every replica linked before a master is killed (else the failover can stall).
    let topo = wait_for(
        "3 masters and 3 linked replicas",
        Duration::from_secs(30),
        || all_logs(&nodes),
        || {
            let list = cluster_nodes(&clis[0])?;
            let (m, s): (Vec<_>, Vec<_>) = list.iter().partition(|n| n.master);
            if m.len() != 3 || s.len() != 3 {
                return Err(format!("{} masters, {} replicas", m.len(), s.len()));
            }
            for replica in &s {
                let i = nodes.iter().position(|n| n.host == replica.host).ok_or("unknown node")?;
                let link = clis[i].info_field("replication", "master_link_status")?;
                if link != "up" {
                    return Err(format!("{}: master_link_status:{link}", replica.host));
                }
            }
            Ok(list)
        },
    );
    eprintln!("data_tier: cluster created and ok in {:.2} s", secs(started));

    // The master that owns our key, and its replica.
    let key = "tykgen:cluster";
    let slot: u16 = clis[0].ok(&["CLUSTER", "KEYSLOT", key]).unwrap().parse().unwrap();
    let owner =
        topo.iter().find(|n| n.master && n.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))).unwrap().clone();
    let replica = topo.iter().find(|n| n.master_id == owner.id).expect("the owner has a replica").clone();
    let o = nodes.iter().position(|n| n.host == owner.host).unwrap();
    let rp = nodes.iter().position(|n| n.host == replica.host).unwrap();
    assert_eq!(clis[o].ok(&["SET", key, "before-failover"]).unwrap(), "OK");
    assert_eq!(clis[o].ok(&["WAIT", "1", "5000"]).unwrap(), "1", "the replica acknowledges the write");

    // Kill the master by its PID.
    let started = Instant::now();
    let pid = nodes[o].kill();
    wait_for(
        &format!("replica {} to take over from {}", replica.host, owner.host),
        Duration::from_secs(60),
        || all_logs(&nodes),
        || {
            let role = clis[rp].ok(&["ROLE"])?;
            if role.starts_with("master") { Ok(()) } else { Err(role) }
        },
    );
    let survivors: Vec<&Cli> = clis.iter().enumerate().filter(|(i, _)| *i != o).map(|(_, c)| c).collect();
    wait_all_ok(&survivors, &nodes, "cluster_state:ok on every surviving node");
    let failover = secs(started);
    eprintln!(
        "data_tier: cluster failover ({} killed (pid {pid}) -> {}) took {failover:.2} s",
        owner.host, replica.host
    );
    let view = cluster_nodes(survivors[0]).unwrap();
    assert!(view.iter().any(|n| n.id == owner.id && n.failed), "the killed master is marked failed: {view:?}");

    // Tyk's view: every live address of tyk.conf and tyk_analytics.conf reaches the data.
    for (machine, file) in [("gateway-1", "tyk.conf"), ("dashboard-1", "tyk_analytics.conf")] {
        let v = TykRedis::read(&r, machine, file, &certs[machine]);
        assert!(v.cluster && v.master_name.is_none(), "{}: {v:?}", v.component);
        let listed: BTreeMap<&str, u16> = v.addrs.iter().map(|(h, p)| (h.as_str(), *p)).collect();
        for n in &nodes {
            assert_eq!(listed.get(n.host.as_str()), Some(&6379), "{}: {} not listed", v.component, n.host);
        }
        for (host, port) in v.addrs.iter().filter(|(h, _)| *h != owner.host) {
            let c = Cli {
                cli: tools.cli.clone(),
                host: host.clone(),
                port: *port,
                tls: v.tls.clone(),
                password: Some(v.password.clone()),
            };
            assert_eq!(c.ok(&["-c", "GET", key]).unwrap_or_else(|e| panic!("{}: {e}", v.component)), "before-failover");
            let own = format!("tykgen:view:{host}");
            assert_eq!(c.ok(&["-c", "SET", &own, &v.component]).unwrap(), "OK");
            assert_eq!(c.ok(&["-c", "GET", &own]).unwrap(), v.component);
        }
    }

    // The killed master, restarted from its files, rejoins as a replica.
    let started = Instant::now();
    nodes[o].start();
    wait_for(
        "the old master to rejoin as a replica",
        Duration::from_secs(60),
        || all_logs(&nodes),
        || {
            let role = clis[o].ok(&["ROLE"])?;
            if !role.starts_with("slave") {
                return Err(format!("ROLE {role:?}"));
            }
            match clis[o].info_field("replication", "master_link_status")?.as_str() {
                "up" => Ok(()),
                other => Err(format!("master_link_status:{other}")),
            }
        },
    );
    wait_all_ok(&clis.iter().collect::<Vec<_>>(), &nodes, "cluster_state:ok with the old master back");
    eprintln!("data_tier: old cluster master rejoined as a replica in {:.2} s", secs(started));
}
