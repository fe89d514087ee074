//! Every key of every `tyk_analytics.conf` and `pump.conf` of every built-in profile must be named
//! in the key tables of `docs/tyk-reference.md` (§1.2 Dashboard, §1.3 Pump): neither has a JSON
//! schema, so these tables are the contract.
//!
//! The tables are prose with backticked names. The parser drops parenthesised asides (defaults,
//! env names, notes: `redis_max_active` (default 500)), skips values (`type` ∈ `mongo`|`postgres`,
//! JSON examples, env names in capitals), expands the brace shorthand (`storage.{main,logs}.type`,
//! `health_check_endpoint_{name,port}`) and treats `<layer>`-style placeholders and a trailing `*`
//! as wildcards. §1.3 is read by its labelled lines (`Top level:`, `analytics_storage_config` ...,
//! `Mongo pumps meta` ...), each giving the keys of one place in `pump.conf`.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::common::{builtins, files_named, read_json, render_all};
use crate::tools::shared_dir;

/// A key path pattern: segments, where `<x>` matches one segment and a final `*` one or more.
type Pattern = Vec<String>;

struct Tables {
    dashboard: Vec<Pattern>,
    pump_top: Vec<Pattern>,
    pump_storage: Vec<Pattern>,
    pump_entry: Vec<Pattern>,
    pump_types: BTreeSet<String>,
    mongo_meta: Vec<Pattern>,
    mongo_only: Vec<Pattern>,
    mongo_aggregate: Vec<Pattern>,
    sql_meta: Vec<Pattern>,
    sql_aggregate: Vec<Pattern>,
    uptime: Vec<Pattern>,
}

fn reference() -> String {
    let path = shared_dir().join("docs").join("tyk-reference.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of the `### <number>` section.
fn section<'a>(doc: &'a str, number: &str) -> &'a str {
    let head = format!("### {number} ");
    let start = doc.find(&head).unwrap_or_else(|| panic!("tyk-reference.md has no section {number}"));
    let rest = &doc[start + head.len()..];
    let body = &rest[rest.find('\n').unwrap_or(0)..];
    let end = ["\n### ", "\n## ", "\n---"].iter().filter_map(|m| body.find(m)).min().unwrap_or(body.len());
    &body[..end]
}

/// `line` without parenthesised asides, outside backticks and inside them (`a.{b,c (note)}`).
fn strip_parens(line: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut in_tick = false;
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '`' if depth == 0 => {
                in_tick = !in_tick;
                out.push(c);
            }
            '(' if !in_tick || chars.get(i.wrapping_sub(1)) == Some(&' ') || depth > 0 => {
                if depth == 0 && out.ends_with(' ') {
                    out.pop();
                }
                depth += 1;
            }
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// The backticked tokens of `text` that name keys (see the module comment).
fn key_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let parts: Vec<&str> = text.split('`').collect();
    for (i, token) in parts.iter().enumerate().skip(1).step_by(2) {
        let before = parts[i - 1].trim_end();
        let after = parts.get(i + 1).map_or("", |s| s.trim_start());
        let is_value = before.ends_with('|') || before.ends_with('∈') || after.starts_with('|');
        let token = token.split(':').next().unwrap_or("").trim();
        let bad = token.is_empty()
            || is_value
            || token.contains(['"', '=', ' ', '/', '…'])
            || !token.starts_with(|c: char| c.is_ascii_lowercase())
            || token.ends_with(['_', '-']);
        if !bad {
            out.push(token.to_owned());
        }
    }
    out
}

/// `a.{b,c}.{d,e}` -> `a.b.d`, `a.b.e`, `a.c.d`, `a.c.e`; also within a segment (`x_{a,b}`).
fn expand(token: &str) -> Vec<String> {
    let Some(open) = token.find('{') else { return vec![token.to_owned()] };
    let close = open + token[open..].find('}').unwrap_or_else(|| panic!("unclosed brace in `{token}`"));
    let (head, tail) = (&token[..open], &token[close + 1..]);
    token[open + 1..close].split(',').flat_map(|alt| expand(&format!("{head}{}{tail}", alt.trim()))).collect()
}

fn patterns(tokens: impl IntoIterator<Item = String>) -> Vec<Pattern> {
    tokens.into_iter().flat_map(|t| expand(&t)).map(|p| p.split('.').map(str::to_owned).collect()).collect()
}

fn matches(pattern: &Pattern, path: &[String]) -> bool {
    if pattern.last().is_some_and(|s| s == "*") {
        let n = pattern.len() - 1;
        return path.len() > n && pattern[..n].iter().zip(path).all(|(p, s)| seg_matches(p, s));
    }
    pattern.len() == path.len() && pattern.iter().zip(path).all(|(p, s)| seg_matches(p, s))
}

fn seg_matches(pattern: &str, seg: &str) -> bool {
    pattern == seg || (pattern.starts_with('<') && pattern.ends_with('>'))
}

fn known(patterns: &[Pattern], path: &[String]) -> bool {
    patterns.iter().any(|p| matches(p, path))
}

/// §1.2: every key token, except bare names that are also an inner segment of a documented
/// dotted path (prose like "`table_sharding` on Dashboard layers" or "fall back to `main`").
fn dashboard_keys(text: &str) -> Vec<Pattern> {
    let mut tokens = Vec::new();
    for line in text.lines() {
        let line = strip_parens(line);
        // A prose label before the first backtick ("Redis :", "Storage layers :").
        let line = match (line.find(':'), line.find('`')) {
            (Some(c), Some(t)) if c < t && line.starts_with(char::is_uppercase) => line[c + 1..].to_owned(),
            _ => line,
        };
        tokens.extend(key_tokens(&line));
    }
    let all = patterns(tokens);
    let inner: BTreeSet<&String> = all.iter().filter(|p| p.len() > 1).flat_map(|p| p[1..].iter()).collect();
    all.iter().filter(|p| p.len() > 1 || !inner.contains(&p[0])).cloned().collect()
}

/// Dashboard keys §1.2 does not list, each checked in Tyk's generated Dashboard reference
/// (tyk-docs 95922c952e677f1b455f06028c04b4b7bb9e10bf `snippets/dashboard-config.mdx`, by line).
const DASHBOARD_VERIFIED: &[(&str, &str)] = &[
    ("hash_keys", "dashboard-config.mdx:651 TYK_DB_HASHKEYS"),
    ("enable_hashed_keys_listing", "dashboard-config.mdx:678 TYK_DB_ENABLEHASHEDKEYSLISTING"),
    ("enable_aggregate_lookups", "dashboard-config.mdx:1143 TYK_DB_ENABLEAGGREGATELOOKUPS"),
    ("notify_on_change", "dashboard-config.mdx:639 TYK_DB_NOTIFYONCHANGE"),
    ("private_key_path", "dashboard-config.mdx:1340 TYK_DB_PRIVATEKEYPATH"),
];

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let doc = reference();
        let mut dashboard = dashboard_keys(section(&doc, "1.2"));
        dashboard.extend(patterns(DASHBOARD_VERIFIED.iter().map(|(k, _)| (*k).to_owned())));
        let pump = section(&doc, "1.3");

        // Labelled lines of §1.3: (label prefix, context); an unlabelled line continues the previous
        // context until a blank line.
        const LABELS: &[(&str, &str)] = &[
            ("Top level:", "top"),
            ("`analytics_storage_config` (", "storage"),
            ("Pump automatically", ""),
            ("Pump types (", "types"),
            ("Mongo pumps `meta`", "mongo"),
            ("`mongo` pump adds", "mongo_only"),
            ("Capping only", ""),
            ("`mongo-pump-aggregate` adds", "mongo_aggregate"),
            ("SQL pumps `meta`", "sql"),
            ("`sql_aggregate` adds", "sql_aggregate"),
            ("SQL has no", ""),
            ("Uptime:", "uptime"),
            ("Reference templates", ""),
        ];
        let mut seen = BTreeSet::new();
        let mut ctx = "";
        let mut by_ctx: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        let mut entry_keys = Vec::new();
        let mut types = BTreeSet::new();
        for raw in pump.lines() {
            if raw.trim().is_empty() {
                ctx = "";
                continue;
            }
            let mut rest = strip_parens(raw.trim());
            if let Some((label, c)) = LABELS.iter().find(|(l, _)| raw.starts_with(l)) {
                seen.insert(*label);
                ctx = c;
                // Drop the label: up to "adds", or its first `:` outside backticks.
                let cut = rest
                    .find("adds")
                    .map(|i| i + 4)
                    .or_else(|| {
                        let mut tick = false;
                        rest.char_indices().find_map(|(i, ch)| {
                            if ch == '`' {
                                tick = !tick;
                            }
                            (ch == ':' && !tick).then_some(i + 1)
                        })
                    })
                    .unwrap_or(0);
                rest = rest[cut..].to_owned();
            }
            if let Some(arrow) = raw.find('→').filter(|_| ctx == "top") {
                // `pumps` (map name → `{type, meta, ...}`): the keys of each entry.
                let shape = &raw[arrow..];
                let inner = &shape[shape.find('{').unwrap() + 1..shape.find('}').unwrap()];
                entry_keys.extend(inner.split(',').map(|k| k.trim().to_owned()));
            }
            match ctx {
                "" => {}
                "types" => types.extend(type_tokens(&rest)),
                "uptime" => by_ctx.entry(ctx).or_default().extend(json_keys(raw)),
                c => by_ctx.entry(c).or_default().extend(key_tokens(&rest)),
            }
        }
        let missing: Vec<_> = LABELS.iter().map(|(l, _)| *l).filter(|l| !seen.contains(l)).collect();
        assert!(missing.is_empty(), "tyk-reference.md §1.3 changed shape; labels not found: {missing:?}");
        let mut take = |c: &str| patterns(by_ctx.remove(c).unwrap_or_default());
        let mongo_meta = take("mongo");
        let sql_meta = take("sql");
        // The uptime pump reads a Mongo or an SQL connection (`UptimeConf` embeds both confs).
        let mut uptime = take("uptime");
        uptime.extend(mongo_meta.iter().cloned());
        uptime.extend(sql_meta.iter().cloned());
        Tables {
            dashboard,
            pump_top: take("top"),
            pump_storage: take("storage"),
            pump_entry: patterns(entry_keys),
            pump_types: types,
            mongo_only: take("mongo_only"),
            mongo_aggregate: take("mongo_aggregate"),
            sql_aggregate: take("sql_aggregate"),
            mongo_meta,
            sql_meta,
            uptime,
        }
    })
}

/// Pump type names: `mongo-mcp(-aggregate)` stands for `mongo-mcp` and `mongo-mcp-aggregate`.
fn type_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in text.split('`').skip(1).step_by(2) {
        if let Some((base, opt)) = t.split_once('(') {
            out.push(base.to_owned());
            out.push(format!("{base}{}", opt.trim_end_matches(')')));
        } else {
            out.push(t.to_owned());
        }
    }
    out
}

/// The `"key":` names of the JSON examples on a line.
fn json_keys(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("\":") {
        let head = &rest[..i];
        if let Some(q) = head.rfind('"') {
            out.push(head[q + 1..].to_owned());
        }
        rest = &rest[i + 2..];
    }
    out
}

/// Leaf key paths of a JSON value (arrays are leaves; an empty object is a leaf).
fn leaf_paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                prefix.push(k.clone());
                leaf_paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => out.push(prefix.clone()),
    }
}

fn leaves(value: &Value) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    leaf_paths(value, &mut Vec::new(), &mut out);
    out
}

/// The key paths of a `tyk_analytics.conf` that §1.2 does not name.
fn dashboard_unknown(conf: &Value) -> Vec<String> {
    let t = tables();
    leaves(conf).into_iter().filter(|p| !known(&t.dashboard, p)).map(|p| p.join(".")).collect()
}

/// The key paths of a `pump.conf` that §1.3 does not name (and unknown pump types).
fn pump_unknown(conf: &Value) -> Vec<String> {
    let t = tables();
    let mut bad = Vec::new();
    let Some(map) = conf.as_object() else { return vec!["<root is not an object>".into()] };
    for (key, value) in map {
        let top = vec![key.clone()];
        if !known(&t.pump_top, &top) {
            bad.push(key.clone());
            continue;
        }
        let sub = |patterns: &[Pattern], value: &Value, at: &str, bad: &mut Vec<String>| {
            if let Some(obj) = value.as_object() {
                for p in leaves(&Value::Object(obj.clone())) {
                    if !known(patterns, &p) {
                        bad.push(format!("{at}.{}", p.join(".")));
                    }
                }
            }
        };
        match key.as_str() {
            "analytics_storage_config" => sub(&t.pump_storage, value, key, &mut bad),
            "uptime_pump_config" => sub(&t.uptime, value, key, &mut bad),
            "pumps" => {
                for (name, entry) in value.as_object().into_iter().flatten() {
                    let at = format!("pumps.{name}");
                    for k in entry.as_object().into_iter().flatten().map(|(k, _)| k) {
                        if !known(&t.pump_entry, std::slice::from_ref(k)) {
                            bad.push(format!("{at}.{k}"));
                        }
                    }
                    let ty = entry.get("type").and_then(Value::as_str).unwrap_or_default().to_lowercase();
                    if !t.pump_types.contains(&ty) {
                        bad.push(format!("{at}.type = {ty:?} (not a pump type)"));
                    }
                    let meta_keys: Vec<Pattern> = match ty.as_str() {
                        "mongo" => [&t.mongo_meta[..], &t.mongo_only[..]].concat(),
                        "mongo-pump-aggregate" => [&t.mongo_meta[..], &t.mongo_aggregate[..]].concat(),
                        m if m.starts_with("mongo") => t.mongo_meta.clone(),
                        "sql" => t.sql_meta.clone(),
                        "sql_aggregate" => [&t.sql_meta[..], &t.sql_aggregate[..]].concat(),
                        s if s.starts_with("sql") => t.sql_meta.clone(),
                        _ => Vec::new(),
                    };
                    if ty.starts_with("mongo") || ty.starts_with("sql") {
                        sub(&meta_keys, entry.get("meta").unwrap_or(&Value::Null), &format!("{at}.meta"), &mut bad);
                    }
                }
            }
            _ if value.is_object() => sub(&[], value, key, &mut bad),
            _ => {}
        }
    }
    bad
}

#[test]
fn the_key_tables_parse() {
    let t = tables();
    let has = |ps: &[Pattern], path: &str| known(ps, &path.split('.').map(str::to_owned).collect::<Vec<_>>());
    for k in ["redis_addrs", "redis_tls_max_version", "storage.uptime.table_sharding", "tyk_api_config.Secret"] {
        assert!(has(&t.dashboard, k), "§1.2 should name `{k}`");
    }
    for k in ["storage.main.postgres.prefer_simple_protocol", "http_server_options.min_version"] {
        assert!(has(&t.dashboard, k), "§1.2 should name `{k}`");
    }
    for k in ["redis_max_idle", "redis_", "table_sharding", "main", "type", "mongo", "TYK_DB_REDISADDRS"] {
        assert!(!has(&t.dashboard, k), "§1.2 does not name a top-level `{k}`");
    }
    assert!(has(&t.pump_top, "health_check_endpoint_port") && has(&t.pump_top, "analytics_storage_type"));
    assert!(has(&t.pump_storage, "ssl_max_version") && has(&t.pump_storage, "optimisation_max_idle"));
    assert!(!has(&t.pump_storage, "tls_max_version") && !has(&t.pump_storage, "tyk-system-analytics"));
    assert!(has(&t.pump_entry, "meta") && has(&t.pump_entry, "omit_detailed_recording"));
    assert!(t.pump_types.contains("sql_aggregate") && t.pump_types.contains("mongo-mcp-aggregate"));
    assert!(has(&t.mongo_only, "collection_cap_max_size_bytes") && has(&t.mongo_meta, "mongo_ssl_pem_keyfile"));
    assert!(has(&t.sql_meta, "postgres.prefer_simple_protocol"), "{:?}", t.sql_meta);
    assert!(has(&t.sql_meta, "mysql.anything"), "{:?}", t.sql_meta);
    assert!(has(&t.sql_aggregate, "store_analytics_per_minute") && has(&t.mongo_aggregate, "use_mixed_collection"));
    assert!(has(&t.uptime, "uptime_type") && has(&t.uptime, "collection_name"));
}

#[test]
fn every_dashboard_and_pump_key_of_every_builtin_is_documented() {
    let (mut dashboards, mut pumps) = (0, 0);
    for name in builtins() {
        let tmp = tempfile::tempdir().unwrap();
        render_all(&name, tmp.path(), &[]);
        for path in files_named(tmp.path(), "tyk_analytics.conf") {
            let bad = dashboard_unknown(&read_json(&path));
            assert!(bad.is_empty(), "{name}: {} has keys not in tyk-reference.md §1.2: {bad:?}", path.display());
            dashboards += 1;
        }
        for path in files_named(tmp.path(), "pump.conf") {
            let bad = pump_unknown(&read_json(&path));
            assert!(bad.is_empty(), "{name}: {} has keys not in tyk-reference.md §1.3: {bad:?}", path.display());
            pumps += 1;
        }
    }
    assert!(dashboards >= 4 && pumps >= 4, "checked {dashboards} dashboard and {pumps} pump configurations");
}

#[test]
fn an_invented_key_fails_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    // Keys inside subtrees tykgen models go through `extra_config.override` (plain `extra_config`
    // refuses them), so that they reach the files this check reads.
    let extra = r#"extra_config={"pump": {"bogus_key": 1}, "override": {
        "pump": {"analytics_storage_config": {"tls_min_version": "1.2"}, "pumps": {"sql": {"meta": {"collection_cap_enable": true}}}},
        "dashboard": {"redis_max_idle": 10, "storage": {"main": {"bogus": 1}}}}}"#;
    render_all("production", tmp.path(), &["--set", &extra.replace('\n', " ")]);
    let pump = read_json(&files_named(tmp.path(), "pump.conf")[0]);
    let bad = pump_unknown(&pump);
    for k in ["bogus_key", "analytics_storage_config.tls_min_version", "pumps.sql.meta.collection_cap_enable"] {
        assert!(bad.iter().any(|b| b == k), "`{k}` was not reported: {bad:?}");
    }
    let dash = read_json(&files_named(tmp.path(), "tyk_analytics.conf")[0]);
    let bad = dashboard_unknown(&dash);
    for k in ["redis_max_idle", "storage.main.bogus"] {
        assert!(bad.iter().any(|b| b == k), "`{k}` was not reported: {bad:?}");
    }
    let bad = pump_unknown(&json!({"pumps": {"x": {"type": "carrier-pigeon", "meta": {}}}}));
    assert!(bad.iter().any(|b| b.contains("not a pump type")), "{bad:?}");
}
