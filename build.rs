//! Rebuild when embedded templates or built-in profiles change (include_dir! does not track them).
fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=profiles");
}
