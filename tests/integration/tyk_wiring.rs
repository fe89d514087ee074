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
                host.contains("var: !unsafe \"TYK_DB_NODESECRET\"")
                    && host.contains("var: !unsafe \"TYK_DB_TYKAPI_SECRET\""),
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
