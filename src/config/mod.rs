//! Per-machine configuration files, built once and shared by every target.
//!
//! Tyk's JSON files are typed Rust values serialised with serde_json (`tyk.rs`); Redis, Sentinel,
//! PostgreSQL and MongoDB files come from templates (`redis.rs`, `database.rs`). No file holds a
//! secret: each machine's `SecretUse`s say by name which secrets it needs and how its program
//! receives them (environment variables, or a private file the target writes).

mod database;
mod redis;
mod tyk;

pub(crate) use tyk::{extra_of, generated as tyk_generated, scheme as tyk_scheme};

pub use database::SHARED_BUFFERS;
pub(crate) use redis::{REDIS_CONF, SENTINEL_CONF};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::fast_hash::FastSet;
use crate::output::FileMode;
use crate::profile::Profile;
use crate::render::Renderer;
use crate::topology::{Machine, Role, SecretUse, Topology};

/// One configuration file of one machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigFile {
    /// File name inside the machine's folder of the bundle (e.g. `tyk.conf`, `redis.conf`).
    pub name: String,
    /// Where the file goes on the machine (e.g. `/opt/tyk-gateway/tyk.conf`).
    pub install_path: String,
    /// The bytes (shared by every target that ships the file, and by every template context).
    #[serde(serialize_with = "crate::render::shared_text")]
    pub contents: Arc<str>,
    /// File mode on the machine (0644 unless it must be private).
    #[serde(skip)]
    pub mode: FileMode,
}

/// Everything one machine needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineConfig {
    /// The machine (in a template context, one value with the topology's).
    #[serde(serialize_with = "crate::render::shared")]
    pub machine: Machine,
    /// Its configuration files.
    pub files: Vec<ConfigFile>,
    /// The secrets it needs and how its program receives them (in a template context, one
    /// value for every machine that needs the same).
    #[serde(serialize_with = "crate::render::shared")]
    pub secrets: Vec<SecretUse>,
}

/// The configuration of every machine, keyed by machine name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bundle {
    /// Per machine, in topology order.
    pub machines: BTreeMap<String, MachineConfig>,
}

impl Bundle {
    /// The configuration of machine `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&MachineConfig> {
        self.machines.get(name)
    }
}

/// Builds every machine's configuration.
///
/// # Errors
/// A template that fails to render, or `extra_config` that cannot merge.
pub fn bundle(profile: &Profile, topology: &Topology, renderer: &Renderer) -> anyhow::Result<Bundle> {
    let mut machines = BTreeMap::new();
    // Machines of one group often get the same bytes (every Gateway's `tyk.conf`): equal files
    // share one allocation, in the bundle and in every target that ships them.
    let mut distinct: FastSet<Arc<str>> = FastSet::default();
    // A Tyk machine's files depend on its role alone: they are made once per role.
    let mut tyk_roles: BTreeMap<Role, (Vec<ConfigFile>, Vec<SecretUse>)> = BTreeMap::new();
    for machine in &topology.machines {
        let (files, secrets) = match machine.role {
            Role::Gateway | Role::Dashboard | Role::Pump => match tyk_roles.get(&machine.role) {
                Some(made) => made.clone(),
                None => {
                    let made = share_equal(tyk::machine(profile, topology, machine.role)?, &mut distinct);
                    tyk_roles.insert(machine.role, made.clone());
                    made
                }
            },
            Role::Redis | Role::Sentinel => {
                share_equal(redis::machine(profile, topology, machine, renderer)?, &mut distinct)
            }
            Role::Postgres | Role::Mongodb => {
                share_equal(database::machine(profile, topology, machine, renderer)?, &mut distinct)
            }
        };
        machines.insert(machine.name.clone(), MachineConfig { machine: machine.clone(), files, secrets });
    }
    Ok(Bundle { machines })
}

/// `made` with each file's bytes replaced by the allocation of an equal file already in
/// `distinct` (added there when there is none).
fn share_equal(
    (mut files, secrets): (Vec<ConfigFile>, Vec<SecretUse>),
    distinct: &mut FastSet<Arc<str>>,
) -> (Vec<ConfigFile>, Vec<SecretUse>) {
    for f in &mut files {
        match distinct.get(&*f.contents) {
            Some(same) => f.contents = Arc::clone(same),
            None => {
                distinct.insert(Arc::clone(&f.contents));
            }
        }
    }
    (files, secrets)
}

/// TLS file paths shared by every machine (see `topology::TLS_DIR`).
pub mod tls_paths {
    /// The CA certificate that signed every machine's certificate.
    pub const CA: &str = "/etc/tykgen/tls/ca.crt";
    /// This machine's certificate (server and client use).
    pub const CERT: &str = "/etc/tykgen/tls/machine.crt";
    /// This machine's private key.
    pub const KEY: &str = "/etc/tykgen/tls/machine.key";
    /// Certificate and key in one PEM file (MongoDB's `certificateKeyFile`, Tyk's Mongo client,
    /// the Tyk listeners' `ssl_certificates`).
    pub const PEM: &str = "/etc/tykgen/tls/machine.pem";
    /// The CA again, in the system trust store of the Gateways: Go reads every file of
    /// `/etc/ssl/certs` into the system roots (golang/go src/crypto/x509/root_linux.go
    /// `certDirectories`, root_unix.go `loadSystemRoots`), the only roots the Gateway's Dashboard
    /// client uses.
    pub const TRUSTED_CA: &str = "/etc/ssl/certs/tykgen-ca.crt";
}

/// The key pair the Dashboard signs its change notifications with (tyk-docs
/// security-best-practices.mdx "Sign payloads between the Dashboard and Gateway"): an RSA key,
/// the only kind the Gateway's verifier takes (TykTechnologies/goverify util.go
/// `parsePublicKey`, `rsa_verifier.go`). Never rendered: `tykgen lab-secrets` makes it for the
/// lab, Ansible on the Dashboard host.
pub mod signing_paths {
    /// Their folder.
    pub const DIR: &str = "/etc/tykgen/signing";
    /// The private key, on the Dashboard only (`private_key_path`).
    pub const PRIVATE: &str = "/etc/tykgen/signing/private.pem";
    /// The public key, on every Gateway (`public_key_path`).
    pub const PUBLIC: &str = "/etc/tykgen/signing/public.pem";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Input, load};

    #[test]
    fn machines_with_equal_files_share_one_allocation_and_each_keeps_its_own_secrets() {
        let loaded = load(&Input {
            profile: Some("production".into()),
            sets: vec!["gateway.nodes=4".into()],
            ..Input::default()
        })
        .unwrap();
        let topology = crate::topology::build(&loaded.profile);
        let bundle = bundle(&loaded.profile, &topology, &Renderer::new(None).unwrap()).unwrap();
        let of_role = |role: Role| bundle.machines.values().filter(move |mc| mc.machine.role == role);
        let first = of_role(Role::Gateway).next().unwrap();
        assert_eq!(of_role(Role::Gateway).count(), 4);
        for gw in of_role(Role::Gateway) {
            assert!(Arc::ptr_eq(&gw.files[0].contents, &first.files[0].contents), "{}", gw.machine.name);
            assert_eq!(gw.secrets, first.secrets);
        }
        // Each machine is still its own, and the other roles have their own files.
        let names: Vec<&str> = of_role(Role::Gateway).map(|mc| mc.machine.name.as_str()).collect();
        assert_eq!(names, ["gateway-1", "gateway-2", "gateway-3", "gateway-4"]);
        let dashboard = of_role(Role::Dashboard).next().unwrap();
        assert_eq!(dashboard.files[0].name, "tyk_analytics.conf");
        assert_ne!(dashboard.files[0].contents, first.files[0].contents);
    }
}
