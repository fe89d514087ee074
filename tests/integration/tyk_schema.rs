//! Every Gateway `tyk.conf` of every built-in profile against Tyk's own schemas:
//! - the `tyk lint` schema (`schemas/tyk-gateway.schema.json`, draft-04), with the `host-no-port`
//!   format checked and `path` accepted (the Go linter checks that path on the Gateway's machine);
//! - its `storage`, `cache_storage` and `analytics_storage` blocks against the strict
//!   `StorageOptionsConf` of `tyk-gateway.generated.tyk-schemas-master-2025-02.schema.json`, because
//!   the lint schema's storage block accepts any key (`schemas/TYK-SCHEMAS-SOURCES.md`).

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::{Value, json};

use crate::common::{builtins, files_named, read_json, render_all};
use crate::tools::shared_dir;

/// The storage blocks of `tyk.conf`.
const STORAGE_BLOCKS: [&str; 3] = ["storage", "cache_storage", "analytics_storage"];

fn load_schema(file: &str) -> Value {
    let path = shared_dir().join("schemas").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A host without a `:port` (the Go linter's `host-no-port`); an IPv6 literal in brackets is fine.
fn host_no_port(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.ends_with(']');
    }
    s.matches(':').count() != 1
}

fn lint_validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema = load_schema("tyk-gateway.schema.json");
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
        jsonschema::draft4::options()
            .should_validate_formats(true)
            .with_format("host-no-port", host_no_port)
            .with_format("path", |_: &str| true)
            .build(&schema)
            .expect("the Tyk lint schema compiles")
    })
}

/// `StorageOptionsConf` of the generated schema, with every definition it may `$ref`.
fn storage_validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let full = load_schema("tyk-gateway.generated.tyk-schemas-master-2025-02.schema.json");
        let all = full["definitions"].as_object().expect("definitions");
        assert_eq!(all["StorageOptionsConf"]["additionalProperties"], false, "StorageOptionsConf should be strict");
        // Only the definitions StorageOptionsConf reaches: others (e.g. `Config`) hold `$ref`s
        // that are not valid URI references and would stop the schema from compiling.
        let mut defs = serde_json::Map::new();
        let mut todo = vec!["StorageOptionsConf".to_owned()];
        while let Some(name) = todo.pop() {
            if defs.contains_key(&name) {
                continue;
            }
            let def = all.get(&name).unwrap_or_else(|| panic!("no definition `{name}`")).clone();
            collect_refs(&def, &mut todo);
            defs.insert(name, def);
        }
        let schema = json!({
            "$schema": full["$schema"].clone(),
            "definitions": defs,
            "$ref": "#/definitions/StorageOptionsConf",
        });
        jsonschema::options().build(&schema).expect("StorageOptionsConf compiles")
    })
}

/// The definition names of every `#/definitions/<name>` reference in `value`.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        let name = r.strip_prefix("#/definitions/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
                        out.push(name.to_owned());
                    }
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn errors(v: &Validator, value: &Value) -> Vec<String> {
    v.iter_errors(value).map(|e| format!("{} (at `{}`)", e, e.instance_path())).collect()
}

/// The schema problems of one `tyk.conf`: lint schema, then each storage block.
fn problems(conf: &Value) -> Vec<String> {
    let mut out = errors(lint_validator(), conf);
    for block in STORAGE_BLOCKS {
        if let Some(b) = conf.get(block) {
            out.extend(errors(storage_validator(), b).into_iter().map(|e| format!("{block}: {e}")));
        }
    }
    out
}

#[test]
fn every_gateway_conf_of_every_builtin_fits_tyks_schemas() {
    let mut checked = 0;
    let mut storage_blocks = 0;
    for name in builtins() {
        let tmp = tempfile::tempdir().unwrap();
        render_all(&name, tmp.path(), &[]);
        let confs = files_named(tmp.path(), "tyk.conf");
        assert!(!confs.is_empty(), "{name}: no tyk.conf rendered");
        for path in confs {
            let conf = read_json(&path);
            let found = problems(&conf);
            assert!(found.is_empty(), "{name}: {} does not fit Tyk's schema:\n{}", path.display(), found.join("\n"));
            assert!(conf.get("storage").is_some(), "{name}: {} has no `storage`", path.display());
            storage_blocks += STORAGE_BLOCKS.iter().filter(|b| conf.get(**b).is_some()).count();
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} tyk.conf files checked");
    assert!(storage_blocks > checked, "no cache_storage/analytics_storage block was checked");
}

/// The strict check rejects the linter schema's wrong TLS spellings and keys Tyk does not read.
#[test]
fn the_strict_storage_check_can_fail() {
    let good = json!({"type": "redis", "addrs": ["redis-1.tyk.internal:6379"], "use_ssl": true,
        "ssl_insecure_skip_verify": false, "tls_min_version": "1.2"});
    assert!(errors(storage_validator(), &good).is_empty(), "{:?}", errors(storage_validator(), &good));
    for (key, value) in [
        ("min_version", json!("1.2")),
        ("max_version", json!("1.3")),
        ("ssl_secure_skip_verify", json!(true)),
        ("optimisation_max_idle", json!("lots")),
    ] {
        let mut bad = good.clone();
        bad[key] = value;
        assert!(!errors(storage_validator(), &bad).is_empty(), "a storage block with `{key}` passed the strict check");
        let conf = json!({"listen_port": 8080, "storage": bad});
        assert!(!problems(&conf).is_empty(), "a tyk.conf whose storage has `{key}` passed");
    }
    // The lint schema itself: host-no-port is checked, unknown top-level keys are rejected.
    assert!(!problems(&json!({"storage": {"host": "redis-1:6379"}})).is_empty(), "host-no-port not checked");
    assert!(problems(&json!({"storage": {"host": "redis-1.tyk.internal"}})).is_empty());
    assert!(!problems(&json!({"no_such_key": 1})).is_empty(), "unknown top-level key accepted");
}
