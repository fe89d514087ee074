//! Hostile profile values never change the structure of an output file.
//!
//! A profile whose free-form strings (`description`, `extra_config.{gateway,dashboard,pump}` values)
//! hold quotes, newlines, `${...}`, `%{`, `{{ }}`, `$HOME`, control characters, U+0085 and U+2028 is
//! rendered with `-t all`, and so is the same profile with a plain marker in their place. Every
//! output that can be parsed (JSON: `*.json` and JSON `*.conf`; YAML: `*.yml`/`*.yaml`; HCL: `*.tf`)
//! must parse, have the same shape as the benign render, and each string must equal the benign
//! string with the marker replaced by the hostile value: the value came back unchanged, where it
//! was put, and nothing else moved.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

use crate::common::{files, read_json, render_all, tykgen};

const MARKER: &str = "BENIGN_VALUE_7f3a";

const HOSTILE: &str = "He said \"hi\" & 'bye'\nsecond line\r\n${file(\"/etc/passwd\")} %{ if true }x%{ endif } \
    {{ lookup('pipe','id') }} {% raw %} $HOME $$ \\ back\\slash\ttab \u{1} \u{1b}[31mred\u{1b}[0m \u{7f} \u{0} \
    next\u{85}line\u{2028}sep\u{2029}para # not: a comment\n- item\n---\n...\n<!-- x --> é 😀 \u{feff}";

/// A YAML double-quoted scalar of `s`: every character outside YAML's printable set (and the
/// line breaks YAML 1.1 knows) as an escape, so the profile itself is always valid YAML.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20
                || (0x7f..=0x9f).contains(&(c as u32))
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn profile(name: &str, description: &str, value: &str) -> String {
    let d = yaml_quoted(description);
    let v = yaml_quoted(value);
    format!(
        "name: {name}\ndescription: {d}\ntyk: {{version: \"5.8.2\", pump_version: \"1.12.0\"}}\n\
         gateway: {{nodes: 2}}\ndashboard: {{nodes: 1}}\npump: {{nodes: 1}}\nredis: {{version: \"7.2\"}}\n\
         database: {{engine: postgres, version: \"16\"}}\n\
         extra_config:\n  gateway:\n    hostile_note: {v}\n    nested: {{deep: {v}, list: [{v}, plain]}}\n\
         \x20 dashboard:\n    hostile_note: {v}\n  pump:\n    hostile_note: {v}\n"
    )
}

/// Renders a profile text with `-t all` into `out`.
fn render_text(text: &str, dir: &Path, out: &Path) {
    let path = dir.join("profile.yaml");
    std::fs::write(&path, text).unwrap();
    render_all(path.to_str().unwrap(), out, &[]);
}

/// Every parseable output under `dir` as JSON values, by relative path; `None` for other files.
fn parsed(dir: &Path) -> BTreeMap<String, Option<Value>> {
    files(dir)
        .into_iter()
        // `tykgen-source.json` records where the profile file is, which differs between the two
        // renders by the folder name alone; it holds no profile value.
        .filter(|path| path.file_name().is_none_or(|n| n != "tykgen-source.json"))
        .map(|path| {
            let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            (rel, parse(&path))
        })
        .collect()
}

fn parse(path: &Path) -> Option<Value> {
    let name = path.file_name()?.to_str()?;
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: not UTF-8: {e}", path.display()));
    let ext = name.rsplit('.').next().unwrap_or("");
    match ext {
        "json" => Some(read_json(path)),
        "conf" if text.trim_start().starts_with('{') => Some(read_json(path)),
        "yml" | "yaml" => Some(
            serde_saphyr::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("{} is not YAML: {e}\n{text}", path.display())),
        ),
        "tf" => Some(hcl_json(&hcl::parse(&text).unwrap_or_else(|e| panic!("{} is not HCL: {e}", path.display())))),
        _ => None,
    }
}

/// An HCL body as JSON: blocks as `{"<type> <labels>": [bodies]}`, attributes evaluated without
/// variables (an expression that refers to one becomes `"<expression>"` in both renders).
fn hcl_json(body: &hcl::Body) -> Value {
    use hcl::eval::Evaluate as _;
    let mut map = serde_json::Map::new();
    let ctx = hcl::eval::Context::new();
    for s in body.iter() {
        match s {
            hcl::Structure::Attribute(a) => {
                let v = a
                    .expr
                    .evaluate(&ctx)
                    .ok()
                    .and_then(|v| serde_json::to_value(v).ok())
                    .unwrap_or_else(|| Value::String("<expression>".into()));
                map.insert(a.key.as_str().to_owned(), v);
            }
            hcl::Structure::Block(b) => {
                let mut key = b.identifier.as_str().to_owned();
                for l in &b.labels {
                    key.push(' ');
                    key.push_str(l.as_str());
                }
                let entry = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry {
                    items.push(hcl_json(&b.body));
                }
            }
        }
    }
    Value::Object(map)
}

/// `hostile` is `benign` with every `MARKER` replaced by `value`, in keys and strings; else why not.
fn same_but_substituted(benign: &Value, hostile: &Value, value: &str, at: &str) -> Result<(), String> {
    match (benign, hostile) {
        (Value::String(b), Value::String(h)) => {
            let want = b.replace(MARKER, value);
            if *h == want { Ok(()) } else { Err(format!("{at}: expected {want:?}, found {h:?}")) }
        }
        (Value::Object(b), Value::Object(h)) => {
            let bk: Vec<String> = b.keys().map(|k| k.replace(MARKER, value)).collect();
            let hk: Vec<&String> = h.keys().collect();
            if bk.iter().collect::<Vec<_>>() != hk {
                return Err(format!("{at}: keys changed: {bk:?} became {hk:?}"));
            }
            for ((k, bv), hv) in b.iter().zip(h.values()) {
                same_but_substituted(bv, hv, value, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(b), Value::Array(h)) if b.len() == h.len() => b
            .iter()
            .zip(h)
            .enumerate()
            .try_for_each(|(i, (bv, hv))| same_but_substituted(bv, hv, value, &format!("{at}[{i}]"))),
        (b, h) if b == h => Ok(()),
        (b, h) => Err(format!("{at}: the structure changed: {b} became {h}")),
    }
}

#[test]
fn hostile_strings_come_back_unchanged_and_change_no_structure() {
    let tmp = tempfile::tempdir().unwrap();
    let (benign_out, hostile_out) = (tmp.path().join("benign"), tmp.path().join("hostile"));
    std::fs::create_dir_all(tmp.path().join("b")).unwrap();
    std::fs::create_dir_all(tmp.path().join("h")).unwrap();
    render_text(&profile("hostile", MARKER, MARKER), &tmp.path().join("b"), &benign_out);
    render_text(&profile("hostile", HOSTILE, HOSTILE), &tmp.path().join("h"), &hostile_out);

    let benign = parsed(&benign_out);
    let hostile = parsed(&hostile_out);
    assert_eq!(benign.keys().collect::<Vec<_>>(), hostile.keys().collect::<Vec<_>>(), "different files rendered");
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, b) in &benign {
        if let (Some(b), Some(Some(h))) = (b, hostile.get(path)) {
            checked += 1;
            if let Err(e) = same_but_substituted(b, h, HOSTILE, path) {
                problems.push(e);
            }
        }
    }
    assert!(problems.is_empty(), "hostile values changed the output:\n{}", problems.join("\n"));
    let reached: Vec<&String> = benign
        .iter()
        .filter(|(_, v)| v.as_ref().is_some_and(|v| v.to_string().contains(MARKER)))
        .map(|(p, _)| p)
        .collect();
    eprintln!("hostile values reached (and were checked in) {} parsed files: {reached:?}", reached.len());
    assert!(checked >= 4, "only {checked} parseable files");

    // Where they were put.
    let conf = |name: &str| {
        let path = files(&hostile_out).into_iter().find(|p| p.ends_with(name)).unwrap_or_else(|| panic!("no {name}"));
        read_json(&path)
    };
    let gw = conf("gateway-1/tyk.conf");
    assert_eq!(gw["hostile_note"], HOSTILE);
    assert_eq!(gw["nested"]["deep"], HOSTILE);
    assert_eq!(gw["nested"]["list"][0], HOSTILE);
    assert_eq!(conf("dashboard-1/tyk_analytics.conf")["hostile_note"], HOSTILE);
    assert_eq!(conf("pump-1/pump.conf")["hostile_note"], HOSTILE);
}

/// Each JSON output of a profile with `description` and `extra_config.gateway.prop_value` set.
fn render_prop(description: &str, value: &str) -> Result<BTreeMap<String, Value>, TestCaseError> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("profile.yaml");
    std::fs::write(&path, profile("prop", description, value).replace("hostile_note", "prop_value")).unwrap();
    let out = tmp.path().join("out");
    let result = tykgen().args(["render", path.to_str().unwrap(), "-t", "all", "-o"]).arg(&out).output().unwrap();
    prop_assert!(
        result.status.success(),
        "render failed for description {description:?}, value {value:?}:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let mut json = BTreeMap::new();
    for (rel, v) in parsed(&out) {
        if let Some(v) = v {
            json.insert(rel, v);
        }
    }
    Ok(json)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_string_survives_into_the_json(description in any::<String>(), value in any::<String>()) {
        let json = render_prop(&description, &value)?;
        let gateways: Vec<_> = json.iter().filter(|(p, _)| p.ends_with("tyk.conf")).collect();
        prop_assert!(!gateways.is_empty());
        for (path, conf) in gateways {
            prop_assert_eq!(conf["prop_value"].as_str(), Some(value.as_str()), "{}", path);
            prop_assert_eq!(conf["nested"]["deep"].as_str(), Some(value.as_str()), "{}", path);
        }
    }
}
