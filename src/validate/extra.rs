//! `extra_config` may add keys tykgen does not model, nothing else: a key tykgen sets (from the
//! profile, or as a hardened default) is an error naming what to use instead, unless it is under
//! the explicit `extra_config.override` map (which `check` warns about); a secret is an error
//! anywhere, because secrets never go into a rendered file.

use serde_json::{Map, Value};

use crate::profile::Profile;
use crate::topology::{Role, Topology};

/// Where a key tykgen models comes from, by config path prefix: (component, prefix, what to
/// set instead). Paths not listed but present in the generated file are hardened defaults.
const MODELLED: &[(Role, &str, &str)] = &[
    (Role::Gateway, "listen_port", "nothing: the Gateway port is fixed by the topology (8080)"),
    (Role::Gateway, "storage", "`redis`"),
    (Role::Gateway, "cache_storage", "`cache_redis`"),
    (Role::Gateway, "enable_separate_cache_store", "`cache_redis`"),
    (Role::Gateway, "analytics_storage", "`analytics_redis`"),
    (Role::Gateway, "enable_separate_analytics_store", "`analytics_redis`"),
    (Role::Gateway, "enable_analytics", "`analytics`"),
    (Role::Gateway, "analytics_config", "`analytics`"),
    (Role::Gateway, "use_db_app_configs", "`dashboard.nodes`"),
    (Role::Gateway, "db_app_conf_options", "`dashboard.nodes`"),
    (Role::Gateway, "policies", "`dashboard.nodes`"),
    (Role::Dashboard, "listen_port", "nothing: the Dashboard port is fixed by the topology (3000)"),
    (Role::Dashboard, "tyk_api_config", "`gateway` (the Dashboard reaches the Gateways tykgen renders)"),
    (Role::Dashboard, "redis_", "`redis`"),
    (Role::Dashboard, "enable_cluster", "`redis.mode`"),
    (Role::Dashboard, "storage", "`database`"),
    (Role::Dashboard, "mongo_url", "`database`"),
    (Role::Dashboard, "host_config", "`domain`"),
    (Role::Pump, "analytics_storage_type", "`analytics_redis` (or `redis`)"),
    (Role::Pump, "analytics_storage_config", "`analytics_redis` (or `redis`)"),
    (Role::Pump, "pumps", "`database` and `analytics`"),
    (Role::Pump, "uptime_pump_config", "`database`"),
    (Role::Pump, "health_check_endpoint_port", "nothing: the Pump health port is fixed by the topology (8083)"),
];

/// One problem: the profile key path it is at, and the message.
pub(super) type Problem = (String, String);

fn section(role: Role) -> &'static str {
    match role {
        Role::Dashboard => "dashboard",
        Role::Pump => "pump",
        _ => "gateway",
    }
}

/// Every leaf path of a JSON object, `.`-joined, with its value.
fn leaves<'a>(prefix: &str, map: &'a Map<String, Value>, out: &mut Vec<(String, &'a Value)>) {
    for (k, v) in map {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Object(m) if !m.is_empty() => leaves(&path, m, out),
            _ => out.push((path, v)),
        }
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, k| v.as_object()?.get(k))
}

/// The secret a key or value would hold, if it looks like one.
fn secret_kind(path: &str, value: &Value) -> Option<&'static str> {
    let key = path.rsplit('.').next().unwrap_or(path).to_ascii_lowercase();
    let credentials_in_url = value.as_str().is_some_and(|s| {
        s.split_once("://").is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && rest
                    .split(['/', '?'])
                    .next()
                    .is_some_and(|auth| auth.rsplit_once('@').is_some_and(|(ui, _)| ui.contains(':')))
        })
    });
    if key.contains("password") || key.contains("passwd") || key.ends_with("pass") {
        Some("a password")
    } else if key.contains("secret") {
        Some("a secret")
    } else if key.contains("license") {
        Some("the Dashboard licence")
    } else if key.contains("private_key") || key.ends_with("_key_data") {
        Some("a private key")
    } else if credentials_in_url || (key.contains("connection") && value.as_str().is_some_and(|s| s.contains('@'))) {
        Some("credentials in a connection string")
    } else {
        None
    }
}

/// The problems of `extra_config` (errors) and the override keys (for `check`'s warning).
pub(super) fn problems(p: &Profile, t: &Topology) -> Vec<Problem> {
    let mut out = Vec::new();
    for role in [Role::Gateway, Role::Dashboard, Role::Pump] {
        let (extra, over) = crate::config::extra_of(p, role);
        if extra.is_empty() && over.is_empty() {
            continue;
        }
        let generated = crate::config::tyk_generated(p, t, role).unwrap_or(Value::Null);
        let s = section(role);
        let mut paths = Vec::new();
        leaves("", extra, &mut paths);
        for (path, value) in paths {
            let key = format!("extra_config.{s}.{path}");
            if let Some(kind) = secret_kind(&path, value) {
                out.push((key, secret_message(kind)));
                continue;
            }
            let table = MODELLED.iter().find(|(r, prefix, _)| {
                *r == role
                    && (path == *prefix
                        || path.starts_with(&format!("{prefix}."))
                        || (prefix.ends_with('_') && path.starts_with(prefix)))
            });
            let generated_here = path
                .split('.')
                .scan(String::new(), |acc, k| {
                    if !acc.is_empty() {
                        acc.push('.');
                    }
                    acc.push_str(k);
                    Some(acc.clone())
                })
                .any(|prefix| {
                    lookup(&generated, &prefix).is_some_and(|v| !v.is_object())
                        || prefix == path && lookup(&generated, &prefix).is_some()
                });
            match table {
                Some((_, _, instead)) => out.push((
                    key,
                    format!("`{path}` is set by tykgen from the profile: use {instead} instead (or, to replace tykgen's value anyway, `extra_config.override.{s}.{path}`)"),
                )),
                None if generated_here => out.push((
                    key,
                    format!("tykgen sets `{path}` itself (a hardened default); to replace it anyway, put it under `extra_config.override.{s}`, which `tykgen check` reports"),
                )),
                None => {}
            }
        }
        let mut paths = Vec::new();
        leaves("", over, &mut paths);
        for (path, value) in paths {
            if let Some(kind) = secret_kind(&path, value) {
                out.push((format!("extra_config.override.{s}.{path}"), secret_message(kind)));
            }
        }
    }
    out
}

fn secret_message(kind: &str) -> String {
    format!(
        "this would write {kind} into a rendered file; tykgen never does: secrets reach the machines from the Ansible vault or the lab's `.env` (see each target's README)"
    )
}

/// Leaf paths under `extra_config.override`, for `check`'s warning.
#[must_use]
pub fn override_paths(p: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    for role in [Role::Gateway, Role::Dashboard, Role::Pump] {
        let (_, over) = crate::config::extra_of(p, role);
        let mut paths = Vec::new();
        leaves("", over, &mut paths);
        out.extend(paths.into_iter().map(|(path, _)| format!("extra_config.override.{}.{path}", section(role))));
    }
    out
}
