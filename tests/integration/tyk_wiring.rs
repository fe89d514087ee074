//! How the Tyk components are wired to each other, on the parsed output of every built-in profile
//! (issue 10, part B): the variable names each secret reaches the Dashboard and Pump by, the
//! Dashboard keys that must match the Gateway and the Pump, and the same in every target.
//!
//! Facts, by source: tyk-docs `snippets/dashboard-config.mdx` (the Dashboard is closed source),
//! tyk-docs `api-management/dashboard-analytics/analytics-storage-management.mdx`, tyk-charts
//! `components/tyk-dashboard/templates/deployment-dashboard.yaml`, tyk-pump v1.12.0 `pumps/sql.go`.

use std::path::Path;

use serde_json::Value;

use crate::common::{builtins, files_named, read_json, render_all};

/// Every built-in rendered with `-t all`, once per test.
fn rendered() -> Vec<(String, tempfile::TempDir)> {
    builtins()
        .into_iter()
        .map(|name| {
            let tmp = tempfile::tempdir().unwrap();
            render_all(&name, tmp.path(), &[]);
            (name, tmp)
        })
        .collect()
}

/// `(machine, role, variable)` of every environment variable in `machines.json`.
fn env_vars(dir: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for path in files_named(dir, "machines.json") {
        let doc = read_json(&path);
        for m in doc["machines"].as_array().unwrap() {
            for s in m["secrets"].as_array().unwrap() {
                if let Some(var) = s["var"].as_str() {
                    out.push((
                        m["name"].as_str().unwrap().to_owned(),
                        m["role"].as_str().unwrap().to_owned(),
                        var.into(),
                    ));
                }
            }
        }
    }
    out
}

/// The text of every file of `dir` whose name is `name`.
fn texts(dir: &Path, name: &str) -> Vec<String> {
    files_named(dir, name).iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

#[test]
fn dashboard_secrets_use_the_documented_variable_names() {
    let mut dashboards = 0;
    for (name, tmp) in rendered() {
        let vars = env_vars(tmp.path());
        let dash: Vec<&str> = vars.iter().filter(|v| v.1 == "dashboard").map(|v| v.2.as_str()).collect();
        if dash.is_empty() {
            continue;
        }
        dashboards += 1;
        // dashboard-config.mdx: shared_node_secret -> TYK_DB_NODESECRET, tyk_api_config.Secret -> TYK_DB_TYKAPI_SECRET.
        for v in ["TYK_DB_NODESECRET", "TYK_DB_TYKAPI_SECRET", "TYK_DB_ADMINSECRET"] {
            assert!(dash.contains(&v), "{name}: the Dashboard does not get {v}: {dash:?}");
        }
        for v in ["TYK_DB_SHAREDNODESECRET", "TYK_DB_TYKAPICONFIG_SECRET", "PGPASSWORD"] {
            assert!(!dash.contains(&v), "{name}: the Dashboard reads no {v}");
        }
        // The same names reach the compose lab and the Ansible hosts.
        for compose in texts(tmp.path(), "compose.yaml") {
            assert!(compose.contains("TYK_DB_NODESECRET:") && compose.contains("TYK_DB_TYKAPI_SECRET:"), "{name}");
            // (PGPASSWORD stays for the replica's pg_basebackup, with the replication password.)
            let tyk_pgpassword = compose.contains("PGPASSWORD: \"${POSTGRES_TYK_PASSWORD");
            assert!(!compose.contains("TYK_DB_SHAREDNODESECRET") && !tyk_pgpassword, "{name}");
        }
        for host in texts(tmp.path(), "dashboard-1.yml") {
            assert!(
                host.contains("var: \"TYK_DB_NODESECRET\"") && host.contains("var: \"TYK_DB_TYKAPI_SECRET\""),
                "{name}"
            );
        }
    }
    assert!(dashboards >= 4, "only {dashboards} built-ins have a Dashboard");
}

#[test]
fn postgres_passwords_travel_inside_the_documented_connection_strings() {
    let mut seen = 0;
    for (name, tmp) in rendered() {
        let Some(machines) = files_named(tmp.path(), "machines.json").first().map(|p| read_json(p)) else { continue };
        for m in machines["machines"].as_array().unwrap() {
            let role = m["role"].as_str().unwrap();
            let wanted: &[&str] = match role {
                "dashboard" => &[
                    "TYK_DB_STORAGE_MAIN_CONNECTIONSTRING",
                    "TYK_DB_STORAGE_ANALYTICS_CONNECTIONSTRING",
                    "TYK_DB_STORAGE_LOGS_CONNECTIONSTRING",
                    "TYK_DB_STORAGE_UPTIME_CONNECTIONSTRING",
                ],
                "pump" => &[
                    "TYK_PMP_PUMPS_SQL_META_CONNECTIONSTRING",
                    "TYK_PMP_PUMPS_SQLAGGREGATE_META_CONNECTIONSTRING",
                    "TYK_PMP_UPTIMEPUMPCONFIG_CONNECTIONSTRING",
                ],
                _ => continue,
            };
            let secrets = m["secrets"].as_array().unwrap();
            if !secrets.iter().any(|s| {
                s["secrets"].to_string().contains("postgres_tyk_password") || s["secret"] == "postgres_tyk_password"
            }) {
                continue;
            }
            seen += 1;
            for var in wanted {
                let s = secrets.iter().find(|s| s["var"] == *var);
                let s = s.unwrap_or_else(|| panic!("{name}: {} has no {var}: {secrets:?}", m["name"]));
                let template = s["template"].as_str().unwrap();
                assert!(template.contains("password={postgres_tyk_password}"), "{name}: {var} = {template}");
                assert!(template.contains("target_session_attrs=read-write"), "{name}: {var} = {template}");
            }
            assert!(!secrets.iter().any(|s| s["var"] == "PGPASSWORD"), "{name}: {} still uses PGPASSWORD", m["name"]);
        }
    }
    assert!(seen >= 6, "checked {seen} PostgreSQL clients");
}

#[test]
fn the_dashboard_matches_the_gateway_and_the_pump() {
    let mut checked = 0;
    for (name, tmp) in rendered() {
        for path in files_named(tmp.path(), "tyk_analytics.conf") {
            let dash = read_json(&path);
            let at = format!("{name}: {}", path.display());
            let host = &dash["host_config"];
            assert!(host.get("gateway_hostname").is_none(), "{at}: gateway_hostname is no Dashboard key");
            let lb = name != "lab";
            let expected = if lb { "load-balancer.tyk.internal" } else { "gateway-1.tyk.internal" };
            assert_eq!(host["override_hostname"], expected, "{at}: users call the load balancer");
            // Key hashing as on the Gateway (tyk.conf has both true), aggregates read, reloads pushed.
            for k in ["hash_keys", "enable_hashed_keys_listing", "enable_aggregate_lookups", "notify_on_change"] {
                assert_eq!(dash[k], true, "{at}: {k}");
            }
            if let Some(storage) = dash.get("storage") {
                let pump = read_json(&path.parent().unwrap().parent().unwrap().join("pump-1").join("pump.conf"));
                let sharded = pump["pumps"]["sql"]["meta"]["table_sharding"] == true;
                for layer in ["analytics", "logs", "uptime"] {
                    let value = storage[layer].get("table_sharding").cloned().unwrap_or(Value::Bool(false));
                    assert_eq!(value, Value::Bool(sharded), "{at}: storage.{layer} shards like the sql pump");
                }
                assert_eq!(pump["uptime_pump_config"]["table_sharding"], Value::Bool(sharded), "{at}");
            }
            checked += 1;
        }
        for path in files_named(tmp.path(), "tyk.conf") {
            let gw = read_json(&path);
            assert_eq!((gw["hash_keys"].clone(), gw["enable_hashed_keys_listing"].clone()), (true.into(), true.into()));
        }
    }
    assert!(checked >= 12, "checked {checked} Dashboard configurations");
}

#[test]
fn the_capped_analytics_collection_exists_before_the_pump_starts() {
    let mut checked = 0;
    for (name, tmp) in rendered() {
        for pump_path in files_named(tmp.path(), "pump.conf") {
            let pump = read_json(&pump_path);
            let meta = &pump["pumps"]["mongo"]["meta"];
            if meta["collection_cap_enable"] != true {
                continue;
            }
            let bundle = pump_path.parent().unwrap().parent().unwrap();
            let script = std::fs::read_to_string(bundle.join("mongodb-1").join("mongo-init-replica-set.js")).unwrap();
            let want = format!(
                "const capped = {{ name: {}, maxBytes: {} }};",
                meta["collection_name"], meta["collection_cap_max_size_bytes"]
            );
            assert!(script.contains(&want), "{name}: the init script does not create {want}");
            assert!(
                script.contains("createCollection(capped.name, { capped: true, size: capped.maxBytes })"),
                "{name}"
            );
            checked += 1;
        }
        // The lab runs the script (mongodb-init) before the Pump and the Dashboard start.
        for compose in files_named(tmp.path(), "compose.yaml") {
            let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(&compose).unwrap()).unwrap();
            if doc["services"].get("mongodb-init").is_none() {
                continue;
            }
            for s in ["pump-1", "dashboard-1"] {
                let cond = &doc["services"][s]["depends_on"]["mongodb-init"]["condition"];
                assert_eq!(cond, "service_completed_successfully", "{name}: {s} starts before mongodb-init ends");
            }
        }
    }
    assert!(checked >= 3, "checked {checked} capped Pump configurations");
}

#[test]
fn the_gateway_api_has_its_own_port_that_only_the_dashboard_and_health_checks_reach() {
    let mut checked = 0;
    for (name, tmp) in rendered() {
        let dir = tmp.path().join(&name);
        let gw = read_json(&dir.join("config/gateway-1/tyk.conf"));
        assert_eq!(gw["control_api_port"], 9696, "{name}: no separate control port");
        assert_eq!(gw["listen_port"], 8080, "{name}");
        let dash_path = dir.join("config/dashboard-1/tyk_analytics.conf");
        if dash_path.exists() {
            let dash = read_json(&dash_path);
            // A name with every Gateway's address: losing gateway-1 loses no key management.
            let host = dash["tyk_api_config"]["Host"].as_str().unwrap();
            assert!(host.ends_with("://gateway-control.tyk.internal"), "{name}: tyk_api_config.Host = {host}");
            assert_eq!(dash["tyk_api_config"]["Port"], "9696", "{name}");
        }
        // compose: every Gateway answers to the control name; who can reach it follows the links.
        let compose: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(dir.join("compose/compose.yaml")).unwrap()).unwrap();
        let services = compose["services"].as_object().unwrap();
        for (s, svc) in services.iter().filter(|(s, _)| s.starts_with("gateway-")) {
            let aliases = &svc["networks"]["gateway"]["aliases"];
            assert!(aliases.as_array().unwrap().iter().any(|a| a == "gateway-control.tyk.internal"), "{name}: {s}");
            let health = svc["healthcheck"]["test"].to_string();
            assert!(health.contains(":9696/"), "{name}: {s} is checked off the control port: {health}");
        }
        for (s, svc) in services {
            let on_gateway_net = svc["networks"].get("gateway").is_some();
            let allowed = s.starts_with("gateway-") || s.starts_with("dashboard-") || s == "load-balancer";
            assert!(!on_gateway_net || allowed, "{name}: {s} can reach the Gateways' control port");
        }
        // The load balancer forwards only the proxy port and checks health on the control port.
        if let Ok(haproxy) = std::fs::read_to_string(dir.join("compose/haproxy/haproxy.cfg")) {
            assert!(!haproxy.lines().any(|l| l.contains("bind") && l.contains("9696")), "{name}: {haproxy}");
            for l in haproxy.lines().filter(|l| l.trim_start().starts_with("server ")) {
                assert!(l.contains(":8080 check port 9696"), "{name}: {l}");
            }
            let tf = std::fs::read_to_string(dir.join("terraform/load_balancer.tf")).unwrap();
            let tf: hcl::Body = hcl::from_str(&tf).unwrap();
            let tg = tf
                .blocks()
                .find(|b| {
                    b.identifier() == "resource" && b.labels().iter().any(|l| l.as_str() == "aws_lb_target_group")
                })
                .unwrap();
            let attr = |body: &hcl::Body, k: &str| {
                body.attributes().find(|a| a.key() == k).map(|a| a.expr().to_string()).unwrap_or_default()
            };
            assert_eq!(attr(tg.body(), "port"), "8080", "{name}");
            let hc = tg.body().blocks().find(|b| b.identifier() == "health_check").unwrap();
            assert_eq!(attr(hc.body(), "port"), "\"9696\"", "{name}");
            for b in tf.blocks().filter(|b| b.labels().iter().any(|l| l.as_str() == "aws_lb_listener")) {
                let body = hcl::to_string(b.body()).unwrap();
                assert!(!body.contains("9696"), "{name}: a listener forwards the control port");
            }
        }
        // Terraform security groups and the host firewall: the control port from the Dashboard
        // (and the load balancer's health checks) only.
        let sg = std::fs::read_to_string(dir.join("terraform/security_groups.tf")).unwrap();
        let control_rules: Vec<&str> = sg.lines().filter(|l| l.contains("-to-gateway-9696\"")).map(str::trim).collect();
        for r in &control_rules {
            assert!(r.starts_with("\"dashboard-to-") || r.starts_with("\"lb-to-"), "{name}: {r}");
        }
        if dash_path.exists() {
            assert!(control_rules.iter().any(|r| r.starts_with("\"dashboard-to-")), "{name}: {control_rules:?}");
            let host_vars = std::fs::read_to_string(dir.join("ansible/inventory/host_vars/gateway-1.yml")).unwrap();
            let rule = host_vars.split("  - port: ").find(|r| r.starts_with("9696\n")).unwrap_or_default();
            // The Dashboards as a server group (tykgen_server_groups), no Pump.
            assert!(rule.contains("\"dashboard\"") && !rule.contains("pump"), "{name}: {rule}");
        }
        checked += 1;
    }
    assert!(checked >= 5, "checked {checked} profiles");
}

#[test]
fn dashboard_notifications_are_signed_and_no_key_is_rendered() {
    let mut checked = 0;
    for (name, tmp) in rendered() {
        let dir = tmp.path().join(&name);
        let dash_path = dir.join("config/dashboard-1/tyk_analytics.conf");
        let gw = read_json(&dir.join("config/gateway-1/tyk.conf"));
        assert_eq!(gw["allow_insecure_configs"], false, "{name}");
        // No key material in any rendered file.
        for f in crate::common::files(tmp.path()) {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            assert!(!text.contains("-----BEGIN"), "{name}: {} holds a key or certificate", f.display());
        }
        if !dash_path.exists() {
            continue;
        }
        let dash = read_json(&dash_path);
        assert_eq!(dash["private_key_path"], "/etc/tykgen/signing/private.pem", "{name}");
        assert_eq!(gw["public_key_path"], "/etc/tykgen/signing/public.pem", "{name}");
        // compose: the private key reaches the Dashboard only, the public key every Gateway.
        let compose: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(dir.join("compose/compose.yaml")).unwrap()).unwrap();
        for (s, svc) in compose["services"].as_object().unwrap() {
            let mounts = svc["volumes"].to_string();
            let has = mounts.contains(&format!("\"{s}-signing:/etc/tykgen/signing:ro\""));
            let wanted = s.starts_with("gateway-") || s.starts_with("dashboard-");
            assert_eq!(has, wanted, "{name}: {s} signing mount: {mounts}");
        }
        let init = compose["services"]["tykgen-init"]["entrypoint"][2].as_str().unwrap();
        assert!(init.contains("cp /signing-src/private.pem /signing/dashboard-1/private.pem"), "{name}: {init}");
        assert!(!init.contains("private.pem /signing/gateway-"), "{name}: a Gateway gets the private key");
        // Ansible: made on the Dashboard host, the public key copied to the Gateways.
        let role = std::fs::read_to_string(dir.join("ansible/roles/tyk_dashboard/tasks/main.yml")).unwrap();
        assert!(role.contains("creates: /etc/tykgen/signing/private.pem"), "{name}");
        let role = std::fs::read_to_string(dir.join("ansible/roles/tyk_gateway/tasks/main.yml")).unwrap();
        assert!(role.contains("dest: /etc/tykgen/signing/public.pem"), "{name}");
        checked += 1;
    }
    assert!(checked >= 4, "checked {checked} profiles");
}

/// `tykgen lab-secrets` makes an RSA pair that OpenSSL (the tool Tyk's docs make it with) accepts:
/// the public key is the private key's, and a signature of one verifies with the other.
#[test]
fn lab_secrets_make_a_working_signing_key_pair() {
    let Some(openssl) = crate::tools::tool("openssl", "apt-get install openssl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = crate::common::tykgen().args(["lab-secrets", "lab", "-o"]).arg(tmp.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tmp.path().join("lab/compose/signing");
    let (private, public) = (dir.join("private.pem"), dir.join("public.pem"));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&private).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(std::fs::read_to_string(&public).unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    let ossl = |args: &[&str]| {
        let o = crate::tools::run(crate::tools::command(&openssl).args(args), std::time::Duration::from_secs(30));
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let p = |x: &Path| x.to_str().unwrap().to_owned();
    let text = String::from_utf8(ossl(&["pkey", "-in", &p(&private), "-text", "-noout"])).unwrap();
    assert!(text.contains("Private-Key: (2048 bit"), "{text}");
    let derived = ossl(&["pkey", "-in", &p(&private), "-pubout"]);
    assert_eq!(derived, std::fs::read(&public).unwrap(), "public.pem is not the private key's");
    let msg = tmp.path().join("msg");
    let sig = tmp.path().join("sig");
    std::fs::write(&msg, b"{\"Command\":\"ApiUpdated\"}").unwrap();
    ossl(&["dgst", "-sha256", "-sign", &p(&private), "-out", &p(&sig), &p(&msg)]);
    ossl(&["dgst", "-sha256", "-verify", &p(&public), "-signature", &p(&sig), &p(&msg)]);
}
