//! The `config` target: every machine's configuration files, as they go onto the machine.
//!
//! `out/<profile>/config/<machine>/<file>`, plus `machines.json` (machine, host, role, files with
//! their install paths, and the secrets each needs, by name) and a README that explains them.

use serde::Serialize;

use super::Context;
use crate::output::FileSet;
use crate::topology::{Secret, SecretUse};

/// `machines.json`, its keys in this order.
#[derive(Serialize)]
struct MachinesJson<'a> {
    profile: &'a str,
    secrets: &'a [Secret],
    machines: Vec<MachineEntry<'a>>,
}

/// What `machines.json` says of one machine: everything but the file contents.
#[derive(Serialize)]
struct MachineEntry<'a> {
    name: &'a str,
    role: crate::topology::Role,
    group: String,
    host: &'a str,
    address: Option<&'a str>,
    files: Vec<FileEntry<'a>>,
    secrets: &'a [SecretUse],
}

#[derive(Serialize)]
struct FileEntry<'a> {
    file: String,
    install_path: &'a str,
    mode: String,
}

pub(super) fn render(ctx: &Context<'_>) -> anyhow::Result<FileSet> {
    let mut set = FileSet::new();
    let mut entries = Vec::new();
    for machine in &ctx.topology.machines {
        let Some(mc) = ctx.bundle.get(&machine.name) else { continue };
        for f in &mc.files {
            set.add(format!("{}/{}", machine.name, f.name), f.contents.clone(), f.mode)?;
        }
        entries.push(MachineEntry {
            name: &machine.name,
            role: machine.role,
            group: machine.group(),
            host: &machine.host,
            address: machine.address.as_deref(),
            files: mc
                .files
                .iter()
                .map(|f| FileEntry {
                    file: format!("{}/{}", machine.name, f.name),
                    install_path: &f.install_path,
                    mode: format!("{:04o}", f.mode.bits()),
                })
                .collect(),
            secrets: &mc.secrets,
        });
    }
    // Written straight from the structs: a `serde_json::Value` of it would be the largest thing
    // a render holds at a few thousand machines.
    let mut json = serde_json::to_string_pretty(&MachinesJson {
        profile: &ctx.profile.name,
        secrets: &ctx.topology.secrets,
        machines: entries,
    })?;
    json.push('\n');
    set.add("machines.json", json, crate::output::FileMode::Normal)?;
    set.add(
        "README.md",
        ctx.renderer.render_prepared("docs/config-README.md.tera", &*ctx.prepared()?)?,
        crate::output::FileMode::Normal,
    )?;
    Ok(set)
}
