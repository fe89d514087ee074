//! Writes the table of built-in templates (`$OUT_DIR/templates.rs`): every `templates/**/*.tera`
//! as `(relative name, include_str!(file))`, sorted by name, so a run finds them without walking
//! a tree, building names or checking UTF-8 (the compiler did). Reruns when a template or a
//! built-in profile changes (include_dir! does not track the profiles).
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=profiles");
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut templates = Vec::new();
    collect(&root.join("templates"), "", &mut templates);
    templates.sort();
    let mut table =
        String::from("/// Every built-in template as `(name, source)`, sorted by name (written by `build.rs`).\n");
    table.push_str("pub(crate) static BUILTIN_TEMPLATES: &[(&str, &str)] = &[\n");
    for (name, path) in &templates {
        table.push_str(&format!("    ({name:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("templates.rs");
    std::fs::write(out, table).expect("writing the template table");
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
