//! TLS on the Tyk control plane (issue 10 item 12), on the parsed output of every built-in: the
//! Dashboard and the Gateways serve HTTPS, the Gateways reach the Dashboard by an `https` URL
//! whose host the lab certificate names and whose CA sits in their system trust store, and every
//! target agrees. Then the real judge: the certificates `tykgen lab-secrets` makes are verified
//! by `openssl verify`, and a TLS handshake with `openssl s_server`/`s_client` checks each host
//! name exactly as the clients' configuration spells it.
//!
//! Facts, by source: tyk@v5.8.15 config/config.go:464,529,535 (`use_ssl`, `ssl_certificates`,
//! `min_version`), gateway/dashboard_register.go:67-95 (the Dashboard client: system roots),
//! gateway/proxy_muxer.go:173-185 (one protocol for every port); tyk-docs 95922c952e67
//! snippets/dashboard-config.mdx:826-858, api-management/implement-tls.mdx:480-534.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{builtins, read_json, render_all, tykgen};

/// The built-ins that ask for control-plane TLS (`tyk.tls.enabled`), read from the profile.
fn wants_tls(name: &str) -> bool {
    let text = std::fs::read_to_string(crate::tools::repo_root().join(format!("profiles/{name}.yaml"))).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    doc["tyk"]["tls"]["enabled"].as_bool() == Some(true)
}

fn conf(dir: &Path, machine: &str, file: &str) -> Option<Value> {
    let p = dir.join(format!("config/{machine}/{file}"));
    p.exists().then(|| read_json(&p))
}

/// Host of an `http(s)://host:port` URL.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest.split([':', '/']).next().unwrap().to_owned()
}

/// Every `(client, https host)` the rendered configuration of `dir` calls, and checks the TLS keys.
fn https_names(name: &str, dir: &Path, tls: bool) -> Vec<(String, String)> {
    let mut names = Vec::new();
    let gw = conf(dir, "gateway-1", "tyk.conf").unwrap();
    let h = &gw["http_server_options"];
    assert_eq!(h["use_ssl"].as_bool(), Some(tls), "{name}: Gateway use_ssl");
    let dash = conf(dir, "dashboard-1", "tyk_analytics.conf");
    if tls {
        assert_eq!(h["ssl_certificates"], serde_json::json!(["/etc/tykgen/tls/machine.pem"]), "{name}");
        assert_eq!(h["min_version"], 771, "{name}: TLS 1.2 floor");
        assert_eq!(h["ssl_insecure_skip_verify"], false, "{name}: the Dashboard is verified");
    } else {
        assert!(h.get("ssl_certificates").is_none(), "{name}");
    }
    let scheme = if tls { "https://" } else { "http://" };
    if let Some(d) = &dash {
        for url in [&gw["db_app_conf_options"]["connection_string"], &gw["policies"]["policy_connection_string"]] {
            let url = url.as_str().unwrap();
            assert!(url.starts_with(scheme), "{name}: Gateway -> Dashboard {url}");
            names.push(("gateway-1".to_owned(), host_of(url)));
        }
        let dh = &d["http_server_options"];
        assert_eq!(dh["use_ssl"].as_bool(), Some(tls), "{name}: Dashboard use_ssl");
        assert_eq!(d["host_config"]["generate_secure_paths"].as_bool(), Some(tls), "{name}");
        let api = d["tyk_api_config"]["Host"].as_str().unwrap();
        assert!(api.starts_with(scheme), "{name}: Dashboard -> Gateway API {api}");
        if tls {
            assert_eq!(dh["ssl_certificates"], serde_json::json!(["/etc/tykgen/tls/machine.pem"]), "{name}");
            assert_eq!(dh["min_version"], 771, "{name}");
            names.push(("dashboard-1".to_owned(), host_of(api)));
        }
    }
    names
}

#[test]
fn the_control_plane_serves_https_in_every_target_when_the_profile_asks() {
    let mut with_tls = 0;
    for name in builtins() {
        let tls = wants_tls(&name);
        with_tls += usize::from(tls);
        let tmp = tempfile::tempdir().unwrap();
        render_all(&name, tmp.path(), &[]);
        let dir = tmp.path().join(&name);
        let has_dashboard = conf(&dir, "dashboard-1", "tyk_analytics.conf").is_some();
        https_names(&name, &dir, tls);

        // compose: the CA in the Gateways' system trust store, https probes, HAProxy verifies.
        let compose: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(dir.join("compose/compose.yaml")).unwrap()).unwrap();
        let services = compose["services"].as_object().unwrap();
        for (svc, s) in services {
            let machine = s["labels"]["com.tykgen.machine"].as_str().unwrap_or("");
            let role = machine.split('-').next().unwrap_or("");
            let volumes: Vec<&str> = s["volumes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let trusted = volumes.contains(&"./tls/ca.crt:/etc/ssl/certs/tykgen-ca.crt:ro");
            if role == "gateway" {
                assert_eq!(trusted, tls && has_dashboard, "{name}: {svc} trusts the lab CA: {volumes:?}");
            }
            if matches!(role, "gateway" | "dashboard") {
                let test: Vec<&str> =
                    s["healthcheck"]["test"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
                let url = test.last().unwrap();
                assert_eq!(url.starts_with("https://"), tls, "{name}: {svc} probe {url}");
                if tls {
                    assert!(
                        volumes.iter().any(|v| v.ends_with(":/etc/tykgen/tls:ro")),
                        "{name}: {svc} has no certificate"
                    );
                }
            }
        }
        if let Ok(cfg) = std::fs::read_to_string(dir.join("compose/haproxy/haproxy.cfg")) {
            for line in cfg.lines().filter(|l| l.trim_start().starts_with("server gateway-")) {
                let host = line.split_whitespace().nth(2).unwrap().split(':').next().unwrap();
                let want = format!(
                    "ssl verify required ca-file /usr/local/etc/haproxy/tykgen-ca.crt verifyhost {host} check-ssl"
                );
                assert_eq!(line.contains(&want), tls, "{name}: {line}");
            }
            let lb = &services["load-balancer"];
            let mounts = lb["volumes"].to_string();
            assert_eq!(mounts.contains("./tls/ca.crt:/usr/local/etc/haproxy/tykgen-ca.crt:ro"), tls, "{name}");
        }

        // Terraform: the ALB target group and its health check speak HTTPS to the Gateways.
        let lb_tf = std::fs::read_to_string(dir.join("terraform/load_balancer.tf")).unwrap_or_default();
        if !lb_tf.is_empty() {
            let body = hcl::parse(&lb_tf).unwrap();
            let tg = body
                .blocks()
                .find(|b| {
                    let l: Vec<&str> = b.labels().iter().map(hcl::BlockLabel::as_str).collect();
                    b.identifier() == "resource" && l == ["aws_lb_target_group", "gateway"]
                })
                .unwrap();
            let attr = |b: &hcl::Body, k: &str| {
                b.attributes().find(|a| a.key() == k).map(|a| a.expr().to_string()).unwrap_or_default()
            };
            let want = if tls { "\"HTTPS\"" } else { "\"HTTP\"" };
            assert_eq!(attr(tg.body(), "protocol"), want, "{name}: target group");
            let hc = tg.body().blocks().find(|b| b.identifier() == "health_check").unwrap();
            assert_eq!(attr(hc.body(), "protocol"), want, "{name}: health check");
        }

        // Ansible: the CA into the Gateways' system trust store, https health gates.
        let host = std::fs::read_to_string(dir.join("ansible/inventory/host_vars/gateway-1.yml")).unwrap();
        assert_eq!(host.contains("dest: \"/etc/ssl/certs/tykgen-ca.crt\""), tls && has_dashboard, "{name}");
        assert_eq!(host.contains("dest: \"/etc/tykgen/tls/machine.pem\""), tls, "{name}: Gateway certificate");
        let health = std::fs::read_to_string(dir.join("ansible/playbooks/health.yml")).unwrap();
        assert_eq!(health.contains("url: \"https://127.0.0.1:9696"), tls, "{name}");
    }
    assert!(with_tls >= 3, "the production built-ins ask for control-plane TLS ({with_tls})");
    assert!(!wants_tls("lab"), "the lab stays on plain HTTP");
}

/// `openssl ARGS`, asserting success; its stdout.
fn ossl(openssl: &Path, args: &[&str]) -> String {
    let o = crate::tools::run(crate::tools::command(openssl).args(args), Duration::from_secs(30));
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A TLS handshake: `s_server` with `machine`'s lab certificate on 127.0.0.1, `s_client`
/// verifying the chain against the lab CA and the host name `host`. True when it verified.
fn handshake(openssl: &Path, tls: &Path, machine: &str, host: &str) -> bool {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p = |x: PathBuf| x.to_str().unwrap().to_owned();
    let mut server = crate::tools::command(openssl)
        // Two connections: the readiness probe below, then the handshake.
        .args(["s_server", "-quiet", "-naccept", "2", "-accept", &format!("127.0.0.1:{port}")])
        .args(["-cert", &p(tls.join(machine).join("machine.crt")), "-key", &p(tls.join(machine).join("machine.key"))])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = crate::tools::run(
        Command::new(openssl)
            .args(["s_client", "-brief", "-connect", &format!("127.0.0.1:{port}"), "-servername", host])
            .args(["-verify_hostname", host, "-verify_return_error", "-CAfile", &p(tls.join("ca.crt"))])
            .stdin(Stdio::null()),
        Duration::from_secs(20),
    );
    let _ = server.kill();
    let _ = server.wait();
    let err = String::from_utf8_lossy(&o.stderr);
    o.status.success() && err.contains("Verification: OK")
}

#[test]
fn lab_certificates_carry_every_https_name_and_verify_in_a_real_handshake() {
    let Some(openssl) = crate::tools::tool("openssl", "apt-get install openssl") else { return };
    let mut checked = BTreeSet::new();
    for name in builtins().into_iter().filter(|n| wants_tls(n)) {
        let tmp = tempfile::tempdir().unwrap();
        render_all(&name, tmp.path(), &[]);
        let out = tykgen().args(["lab-secrets", &name, "-o"]).arg(tmp.path()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let dir = tmp.path().join(&name);
        let tls = dir.join("compose/tls");
        let ca = tls.join("ca.crt");
        let mut pairs = https_names(&name, &dir, true);
        // HAProxy verifies each Gateway by the name on its `server` line.
        if let Ok(cfg) = std::fs::read_to_string(dir.join("compose/haproxy/haproxy.cfg")) {
            for line in cfg.lines().filter(|l| l.trim_start().starts_with("server gateway-")) {
                let mut w = line.split_whitespace();
                let (m, host) = (w.nth(1).unwrap(), w.next().unwrap().split(':').next().unwrap());
                pairs.push((format!("lb->{m}"), host.to_owned()));
            }
        }
        assert!(!pairs.is_empty(), "{name}: no https client");
        for (client, host) in pairs {
            // The server machine: the Dashboard for a Gateway client, every Gateway otherwise.
            let servers: Vec<String> = if client == "gateway-1" {
                vec!["dashboard-1".into()]
            } else if let Some(m) = client.strip_prefix("lb->") {
                vec![m.to_owned()]
            } else {
                std::fs::read_dir(&tls)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("gateway-"))
                    .collect()
            };
            assert!(!servers.is_empty(), "{name}: no server for {client}");
            for server in servers {
                let cert = tls.join(&server).join("machine.crt");
                let c = cert.to_str().unwrap();
                ossl(&openssl, &["verify", "-CAfile", ca.to_str().unwrap(), c]);
                let san = ossl(&openssl, &["x509", "-in", c, "-noout", "-ext", "subjectAltName"]);
                assert!(san.contains(&format!("DNS:{host}")), "{name}: {server}'s certificate lacks {host}: {san}");
                // The file the listener serves (`ssl_certificates`) is that certificate and its key.
                let pem = std::fs::read_to_string(tls.join(&server).join("machine.pem")).unwrap();
                assert!(pem.contains("BEGIN CERTIFICATE") && pem.contains("PRIVATE KEY"), "{name}: {server}");
                assert!(handshake(&openssl, &tls, &server, &host), "{name}: {client} -> {server} as {host}");
                // The same handshake fails for a name the certificate does not carry.
                assert!(!handshake(&openssl, &tls, &server, "elsewhere.invalid"), "{name}: the check cannot fail");
                checked.insert(format!("{client}->{server}:{host}"));
            }
        }
    }
    assert!(checked.iter().any(|c| c.contains("gateway-control.")), "{checked:?}");
    assert!(checked.iter().any(|c| c.contains(":dashboard-1.")), "{checked:?}");
}
