//! Writes two tables a run would otherwise build at every start:
//! - `$OUT_DIR/templates.rs`: every `templates/**/*.tera` as `(relative name, include_str!(file),
//!   its Tera syntax)`, sorted by name, so a run finds them without walking a tree, building names,
//!   checking UTF-8 or scanning them for delimiters (`src/render/syntax.rs`, shared with `render`);
//! - `$OUT_DIR/profile_schema.rs`: `docs/profile.schema.json` as a static `Schema` value
//!   (`src/profile/schema.rs`), so loading a profile does not parse 28 KB of JSON first.
//!
//! Reruns when a template, the schema or a built-in profile changes (include_dir! does not track
//! the profiles).
use std::path::{Path, PathBuf};

#[path = "src/render/syntax.rs"]
mod syntax;

fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=profiles");
    println!("cargo:rerun-if-changed=docs/profile.schema.json");
    println!("cargo:rerun-if-changed=src/render/syntax.rs");
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut templates = Vec::new();
    collect(&root.join("templates"), "", &mut templates);
    templates.sort();
    let mut table = String::from(
        "/// Every built-in template as `(name, source, syntax)`, sorted by name (written by `build.rs`).\n",
    );
    table.push_str("pub(crate) static BUILTIN_TEMPLATES: &[(&str, &str, Syntax)] = &[\n");
    for (name, path) in &templates {
        let source = std::fs::read_to_string(path).expect("reading a template (UTF-8)");
        let syntax::Syntax { any, names_another } = syntax::Syntax::of(&source);
        table.push_str(&format!(
            "    ({name:?}, include_str!({:?}), Syntax {{ any: {any:?}, names_another: {names_another:?} }}),\n",
            path.display().to_string()
        ));
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("templates.rs"), table).expect("writing the template table");

    let text =
        std::fs::read_to_string(root.join("docs/profile.schema.json")).expect("reading docs/profile.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("docs/profile.schema.json is JSON");
    let code = format!(
        "/// `docs/profile.schema.json` (written by `build.rs`).\npub(crate) static PROFILE_SCHEMA: Schema = {};\n",
        schema_expr(&schema)
    );
    std::fs::write(out.join("profile_schema.rs"), code).expect("writing the schema table");
}

/// `value` as a Rust expression of type `Schema`.
fn schema_expr(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "Schema::Null".to_owned(),
        Value::Bool(b) => format!("Schema::Bool({b})"),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), ..) => format!("Schema::UInt({u})"),
            (None, Some(i), _) => format!("Schema::Int({i})"),
            (.., Some(f)) => format!("Schema::Float({f:?})"),
            _ => panic!("a number JSON cannot hold: {n}"),
        },
        Value::String(s) => format!("Schema::String({s:?})"),
        Value::Array(items) => {
            format!("Schema::Array(&[{}])", items.iter().map(schema_expr).collect::<Vec<_>>().join(", "))
        }
        Value::Object(fields) => format!(
            "Schema::Object(&[{}])",
            fields.iter().map(|(k, v)| format!("({k:?}, {})", schema_expr(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The `*.tera` files under `dir`, named `prefix` + their `/`-separated path below it.
fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("reading templates/") {
        let entry = entry.expect("reading templates/");
        let path = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_str().expect("template names are UTF-8"));
        if entry.file_type().expect("reading templates/").is_dir() {
            collect(&path, &format!("{name}/"), out);
        } else if name.ends_with(".tera") {
            out.push((name, path));
        }
    }
}
