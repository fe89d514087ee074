//! The `ansible` target: an Ansible project that installs and configures every machine of the
//! topology on bare metal or existing VMs (`out/<profile>/ansible/`).
//!
//! Decisions:
//! - **One inventory group per `Machine::group()`**, hosts named like the machines. A machine
//!   with a pinned address gets it as `ansible_host` in `inventory/hosts.yml`; the others get
//!   `<machine>.CHANGE-ME.invalid` (RFC 2606: `.invalid` never resolves) in the user-owned
//!   `inventory/addresses.yml` (created once, never rewritten: `FileSet::add_user`), so re-renders
//!   never fight the operator's addresses; the pre-flight play refuses a host without one.
//! - **Variables live beside the inventory** (`inventory/group_vars/all/main.yml`,
//!   `inventory/host_vars/<machine>.yml`), so `ansible-inventory`, `ansible-playbook` and
//!   `ansible-lint` all load them without extra flags. The vault goes to
//!   `inventory/group_vars/all/vault.yml` (from `vault.yml.example`), one `vault_<secret>`
//!   variable per secret of the topology.
//! - **Configuration files are the bundle's bytes**: `files/<machine>/<name>`, copied to their
//!   install path with `ansible.builtin.copy` (never templated), each host's list in its
//!   `host_vars` (`tykgen_files`).
//! - **Files the service rewrites** (`redis.conf`, `sentinel.conf`: Sentinel failovers, `CONFIG
//!   REWRITE`) are installed as a reference copy `<dest>.tykgen` and copied over the live file
//!   only when the reference or the host's secret include files change, so a re-run never undoes
//!   a failover, while a rendered change or a password rotation re-seeds the live file.
//! - **Data volumes**: the machines Terraform gives a data volume get its mount point (their
//!   server's data folder) in `host_vars`; `common` formats and mounts it once the operator sets
//!   `tykgen_data_volume_device`.
//! - **Secrets** reach machines only from vault variables: `SecretUse::Env`/`EnvTemplate` become
//!   `tykgen_env` (written to `/etc/default/<service>` by a Jinja template, mode 0600,
//!   `no_log`), `SecretUse::File` becomes `tykgen_secret_files` (the same placeholders, filled in
//!   from the vault). The placeholders and templates are data (`!unsafe`), never Jinja.
//! - **Every profile-derived string** in YAML goes through the `ansible` filter: `!unsafe "…"`
//!   when it holds a `{` (so Ansible never templates it), a plain `"…"` otherwise (so a version,
//!   mode or name reaches the roles as a string: ansible-core 2.19 types a tagged scalar by its
//!   text, reading `!unsafe "7.2"` as the float 7.2).
//! - **Only `ansible.builtin`** modules: it is all that ansible-core ships (no `ansible.posix`
//!   or `community.general` in the tested toolchain), so sysctls, limits and the firewall are
//!   files plus handlers.

use std::collections::BTreeSet;

use serde::Serialize;

use super::Context;
use crate::config::tls_paths;
use crate::output::{FileMode, FileSet};
use crate::profile::{Engine, RedisMode};
use crate::render::Prepared;
use crate::topology::{Machine, POSTGRES_PORT, Peer, Replication, Role, SecretUse, Service, Store};

/// Suffix of placeholder `ansible_host` values (RFC 2606: never resolves).
pub const PLACEHOLDER_SUFFIX: &str = ".CHANGE-ME.invalid";

#[derive(Serialize)]
struct HostEntry {
    name: String,
    ansible_host: String,
    placeholder: bool,
}

#[derive(Serialize)]
struct Group {
    name: String,
    hosts: Vec<HostEntry>,
}

#[derive(Serialize)]
struct SecretEntry {
    name: String,
    description: String,
    generated: bool,
    /// Where it is used (machine names), for the vault example.
    used_by: Vec<String>,
}

#[derive(Serialize)]
struct RedisDep {
    store: &'static str,
    mode: &'static str,
    version: String,
    group: String,
    sentinel_group: Option<String>,
    nodes: Vec<String>,
    sentinels: Vec<String>,
    master_name: Option<String>,
    replicas_per_shard: u32,
    password_secret: String,
    tls: bool,
}

#[derive(Serialize)]
struct DbCtx {
    engine: &'static str,
    version: String,
    major: u32,
    minor: u32,
    members: Vec<String>,
    first: String,
    replicas: Vec<String>,
    replica_set: Option<String>,
    tls: bool,
    /// Fingerprint of MongoDB's release signing key of this version ("" when unknown).
    key_fingerprint: &'static str,
}

/// MongoDB's release signing keys (`server-<major>.0.asc`), as published by MongoDB and used by
/// the official container images.
fn mongodb_key_fingerprint(major: u32) -> &'static str {
    match major {
        6 => "39BD841E4BE5FB195A65400E6A26B1AE64C3C388",
        7 => "E58830201F7DD82CD808AA84160D26BB1785BA38",
        8 => "4B0752C1BCA238C0B4EE14DC41DE058A4E7DCA05",
        _ => "",
    }
}

#[derive(Serialize)]
struct ProjectCtx<'a> {
    profile: &'a str,
    description: &'a str,
    domain: &'a str,
    tyk_version: String,
    /// Only with a Pump.
    pump_version: Option<String>,
    /// The Gateway's health endpoint (`/ready` where the version has it, see `versions`).
    gateway_health_path: &'static str,
    /// True when it is `/ready`: 200 only with Redis connected and the APIs loaded.
    gateway_ready: bool,
    /// `https` when the Tyk listeners serve TLS (`tyk.tls`), else `http`.
    tyk_scheme: &'static str,
    gateway_serial: u32,
    /// `targets.ansible.packages`: where Redis and the database come from.
    packages: &'static str,
    groups: Vec<Group>,
    /// Every server group of the topology (`tykgen_server_groups`).
    server_groups: Vec<ServerGroup>,
    secrets: Vec<SecretEntry>,
    redis: Vec<RedisDep>,
    database: Option<DbCtx>,
    gateways: Vec<String>,
    dashboards: Vec<String>,
    pumps: Vec<String>,
    /// Every Redis server.
    redis_servers: Vec<String>,
    /// Groups of Sentinels.
    sentinel_groups: Vec<String>,
    /// Redis Cluster deployments.
    clusters: Vec<RedisDep>,
    placeholders: Vec<String>,
    has_tls: bool,
    load_balancer: bool,
}

#[derive(Serialize)]
struct FileVar {
    src: String,
    dest: String,
    mode: String,
    owner: &'static str,
    group: &'static str,
    /// The service rewrites the live file (Sentinel always; Redis on failover or CONFIG
    /// REWRITE): installed as a reference copy `<dest>.tykgen`, and over the live file only when
    /// the reference or the host's secret include files change.
    rewritten: bool,
    /// pg_hba.conf: installed with each machine's host name replaced by its inventory address as
    /// a CIDR (`/32`, `/128`), so PostgreSQL matches clients without reverse DNS.
    by_address: bool,
}

/// The separate data volume of a data-tier machine (Terraform attaches one at `/dev/sdf`).
#[derive(Serialize)]
struct DataVolume {
    /// Where it is mounted: the server's data folder.
    mount: &'static str,
    /// File system created on an empty device.
    fstype: &'static str,
    /// The systemd unit that must not start without it (`RequiresMountsFor=` drop-in).
    unit: &'static str,
}

/// The data volume of a machine that Terraform gives one, mounted at its server's data folder.
fn data_volume(role: Role) -> Option<DataVolume> {
    if !super::terraform::has_data_volume(role) {
        return None;
    }
    match role {
        Role::Redis => Some(DataVolume { mount: "/var/lib/redis", fstype: "ext4", unit: "redis-server.service" }),
        // The server runs as postgresql@<major>-main; the drop-in of the template covers it.
        Role::Postgres => {
            Some(DataVolume { mount: "/var/lib/postgresql", fstype: "ext4", unit: "postgresql@.service" })
        }
        // MongoDB's production notes recommend XFS for WiredTiger.
        Role::Mongodb => Some(DataVolume { mount: "/var/lib/mongodb", fstype: "xfs", unit: "mongod.service" }),
        _ => None,
    }
}

#[derive(Serialize)]
struct EnvVar {
    var: String,
    template: String,
    secrets: Vec<String>,
}

#[derive(Serialize)]
struct SecretFileVar {
    path: String,
    template: String,
    secrets: Vec<String>,
    owner: &'static str,
    group: &'static str,
    /// Write each value double-quoted with redis.conf escapes.
    redis_quoted: bool,
}

#[derive(Serialize)]
struct TlsFileVar {
    name: String,
    dest: String,
    mode: &'static str,
    group: &'static str,
}

#[derive(Serialize)]
struct FirewallRule {
    port: u16,
    service: &'static str,
    /// Machine names.
    machines: Vec<String>,
    /// Server groups (`tykgen_server_groups`): every member but this host.
    groups: Vec<String>,
    /// `load_balancer`, `clients`, `admins`: sources from group_vars.
    external: Vec<&'static str>,
}

/// A server group of the topology and its machines, for the firewall's sets.
#[derive(Serialize)]
struct ServerGroup {
    name: String,
    members: Vec<String>,
}

#[derive(Serialize)]
struct HostCtx<'a> {
    profile: &'a str,
    machine: &'a str,
    host: &'a str,
    group: String,
    role: &'static str,
    part: &'static str,
    service: &'static str,
    env_file: Option<String>,
    files: Vec<FileVar>,
    env: Vec<EnvVar>,
    secret_files: Vec<SecretFileVar>,
    secrets: Vec<String>,
    tls_files: Vec<TlsFileVar>,
    firewall: Vec<FirewallRule>,
    redis_host: bool,
    redis_version: Option<String>,
    /// Redis `maxclients` of a Redis server (its unit's open-file limit is at least this + 32,
    /// the descriptors Redis keeps for itself, so it never lowers maxclients).
    redis_maxclients: Option<u32>,
    /// The Redis deployment of a Redis or Sentinel host: (TLS, vault variable of its password,
    /// Sentinel master name), for the health checks.
    redis_tls: bool,
    redis_password_variable: Option<String>,
    redis_master_name: Option<String>,
    sentinel_password_variable: Option<String>,
    /// A Sentinel-watched deployment: its Redis servers (the profile's initial primary first) and
    /// its Sentinels, by machine name, for the discovery of the live primary and the rolling order.
    redis_nodes: Vec<String>,
    redis_sentinels: Vec<String>,
    data_volume: Option<DataVolume>,
}

fn engine_word(e: Engine) -> &'static str {
    match e {
        Engine::Postgres => "postgres",
        Engine::Mongodb => "mongodb",
    }
}

fn mode_word(m: RedisMode) -> &'static str {
    match m {
        RedisMode::Standalone => "standalone",
        RedisMode::Sentinel => "sentinel",
        RedisMode::Cluster => "cluster",
    }
}

fn store_word(s: Store) -> &'static str {
    match s {
        Store::Main => "main",
        Store::Cache => "cache",
        Store::Analytics => "analytics",
    }
}

fn service_word(s: Service) -> &'static str {
    match s {
        Service::Gateway => "tyk-gateway",
        Service::GatewayControl => "tyk-gateway-control",
        Service::Dashboard => "tyk-dashboard",
        Service::Redis => "redis",
        Service::RedisBus => "redis-cluster-bus",
        Service::Sentinel => "redis-sentinel",
        Service::Postgres => "postgresql",
        Service::Mongodb => "mongodb",
    }
}

/// (service, env file, owner/group of its files and TLS key) of a machine's role.
fn role_facts(m: &Machine) -> (&'static str, Option<String>, &'static str) {
    match m.role {
        Role::Gateway => ("tyk-gateway", Some("/etc/default/tyk-gateway".into()), "tyk"),
        Role::Dashboard => ("tyk-dashboard", Some("/etc/default/tyk-dashboard".into()), "tyk"),
        Role::Pump => ("tyk-pump", Some("/etc/default/tyk-pump".into()), "tyk"),
        Role::Redis => ("redis-server", None, "redis"),
        Role::Sentinel => ("redis-sentinel", None, "redis"),
        Role::Postgres => ("postgresql", None, "postgres"),
        Role::Mongodb => ("mongod", None, "mongodb"),
    }
}

fn part(m: &Machine, redis_mode: Option<RedisMode>) -> &'static str {
    match (&m.replication, redis_mode) {
        (Replication::Primary, _) => "primary",
        (Replication::ReplicaOf(_), _) => "replica",
        (Replication::ClusterNode, _) => "cluster_node",
        (Replication::Sentinel, _) => "sentinel",
        (Replication::Member, _) => "member",
        (Replication::None, Some(_)) => "standalone",
        (Replication::None, None) => "tyk",
    }
}

fn host_ctx<'a>(ctx: &'a Context<'_>, m: &'a Machine) -> HostCtx<'a> {
    let t = ctx.topology;
    let (service, env_file, owner) = role_facts(m);
    let dep = m.store.map(|s| t.redis_for(s));
    let mc = ctx.bundle.get(&m.name);
    let file_owner = match m.role {
        Role::Redis | Role::Sentinel | Role::Postgres => owner,
        _ => "root",
    };
    let files: Vec<FileVar> = mc
        .map(|mc| {
            mc.files
                .iter()
                .map(|f| FileVar {
                    src: format!("{}/{}", m.name, f.name),
                    dest: f.install_path.clone(),
                    mode: format!("{:04o}", f.mode.bits()),
                    owner: file_owner,
                    group: file_owner,
                    rewritten: matches!(
                        (m.role, f.install_path.as_str()),
                        (Role::Redis, "/etc/redis/redis.conf") | (Role::Sentinel, "/etc/redis/sentinel.conf")
                    ),
                    by_address: m.role == Role::Postgres && f.name == "pg_hba.conf",
                })
                .collect()
        })
        .unwrap_or_default();
    let mut env = Vec::new();
    let mut secret_files = Vec::new();
    let mut secrets = BTreeSet::new();
    for u in mc.map(|mc| mc.secrets.as_slice()).unwrap_or_default() {
        match u {
            SecretUse::Env { var, secret } => {
                secrets.insert(secret.clone());
                env.push(EnvVar { var: var.clone(), template: format!("{{{secret}}}"), secrets: vec![secret.clone()] });
            }
            SecretUse::EnvTemplate { var, template, secrets: s } => {
                secrets.extend(s.iter().cloned());
                env.push(EnvVar { var: var.clone(), template: template.clone(), secrets: s.clone() });
            }
            SecretUse::File { path, template, secrets: s } => {
                secrets.extend(s.iter().cloned());
                secret_files.push(SecretFileVar {
                    path: path.clone(),
                    template: template.clone(),
                    secrets: s.clone(),
                    owner,
                    group: owner,
                    redis_quoted: matches!(m.role, Role::Redis | Role::Sentinel),
                });
            }
        }
    }
    // TLS files: exactly those the machine's configuration refers to.
    let all_text: String = mc.map(|mc| mc.files.iter().map(|f| &*f.contents).collect()).unwrap_or_default();
    let mut tls_files: Vec<TlsFileVar> =
        [(tls_paths::CA, "0644"), (tls_paths::CERT, "0644"), (tls_paths::KEY, "0640"), (tls_paths::PEM, "0640")]
            .into_iter()
            .filter(|(p, _)| all_text.contains(p))
            .map(|(p, mode)| TlsFileVar {
                name: p.rsplit('/').next().unwrap_or(p).to_owned(),
                dest: p.to_owned(),
                mode,
                group: owner,
            })
            .collect();
    // A Gateway verifies the Dashboard's HTTPS certificate against the system roots only: the CA
    // goes into the system trust store too (see `tls_paths::TRUSTED_CA`).
    if m.role == Role::Gateway && all_text.contains("\"https://") {
        tls_files.push(TlsFileVar {
            name: "ca.crt".to_owned(),
            dest: tls_paths::TRUSTED_CA.to_owned(),
            mode: "0644",
            group: "root",
        });
    }
    // Firewall: one rule per (port, service) this machine serves, sources from the links.
    let mut firewall: Vec<FirewallRule> = Vec::new();
    for l in t.links_to(&m.name) {
        let rule = match firewall.iter_mut().find(|r| r.port == l.port) {
            Some(r) => r,
            None => {
                firewall.push(FirewallRule {
                    port: l.port,
                    service: service_word(l.service),
                    machines: Vec::new(),
                    groups: Vec::new(),
                    external: Vec::new(),
                });
                firewall.last_mut().expect("just pushed") // INVARIANT: pushed above.
            }
        };
        match &l.from {
            Peer::Machine(n) => rule.machines.push(n.clone()),
            Peer::Group(g) => rule.groups.push(g.clone()),
            Peer::LoadBalancer => rule.external.push("load_balancer"),
            Peer::Clients => rule.external.push("clients"),
            Peer::Admins => rule.external.push("admins"),
        }
    }
    // Every database member admits the others on its port: after a promotion, the old primary
    // re-attaches to the new one (the topology's links only run replica -> first primary).
    if m.role == Role::Postgres && t.database.as_ref().is_some_and(|db| db.members.len() > 1) {
        match firewall.iter_mut().find(|r| r.port == POSTGRES_PORT) {
            Some(r) => r.groups.push(m.server_group()),
            None => firewall.push(FirewallRule {
                port: POSTGRES_PORT,
                service: service_word(Service::Postgres),
                machines: Vec::new(),
                groups: vec![m.server_group()],
                external: Vec::new(),
            }),
        }
    }
    for r in &mut firewall {
        r.groups.sort();
        r.groups.dedup();
        // A machine its group already admits needs no rule of its own.
        r.machines.retain(|n| t.machine(n).is_none_or(|x| !r.groups.contains(&x.server_group())));
        r.machines.sort();
        r.machines.dedup();
        r.external.sort_unstable();
        r.external.dedup();
    }
    firewall.sort_by_key(|r| r.port);
    HostCtx {
        profile: &ctx.profile.name,
        machine: &m.name,
        host: &m.host,
        group: m.group(),
        role: m.role.as_str(),
        part: part(m, dep.map(|d| d.settings.mode)),
        service,
        env_file,
        files,
        env,
        secret_files,
        secrets: secrets.into_iter().collect(),
        tls_files,
        firewall,
        redis_host: matches!(m.role, Role::Redis | Role::Sentinel),
        redis_version: dep.map(|d| d.settings.version.as_str().to_owned()),
        redis_maxclients: dep.filter(|_| m.role == Role::Redis).map(|d| d.settings.maxclients),
        redis_tls: dep.is_some_and(|d| d.settings.tls.enabled),
        redis_password_variable: dep.map(|d| format!("vault_{}", d.password_secret)),
        redis_master_name: dep.and_then(|d| d.master_name.clone()),
        sentinel_password_variable: dep.and_then(|d| d.sentinel_secret.as_ref()).map(|s| format!("vault_{s}")),
        redis_nodes: dep.filter(|d| !d.sentinels.is_empty()).map(|d| d.nodes.clone()).unwrap_or_default(),
        redis_sentinels: dep.map(|d| d.sentinels.clone()).unwrap_or_default(),
        data_volume: data_volume(m.role),
    }
}

fn project_ctx<'a>(ctx: &'a Context<'_>) -> ProjectCtx<'a> {
    let t = ctx.topology;
    let p = ctx.profile;
    let mut groups: Vec<Group> = Vec::new();
    let mut placeholders = Vec::new();
    for m in &t.machines {
        let (ansible_host, placeholder) = match &m.address {
            Some(a) => (a.clone(), false),
            None => (format!("{}{PLACEHOLDER_SUFFIX}", m.name), true),
        };
        if placeholder {
            placeholders.push(m.name.clone());
        }
        let entry = HostEntry { name: m.name.clone(), ansible_host, placeholder };
        let g = m.group();
        match groups.iter_mut().find(|x| x.name == g) {
            Some(x) => x.hosts.push(entry),
            None => groups.push(Group { name: g, hosts: vec![entry] }),
        }
    }
    let mut server_groups: Vec<ServerGroup> = Vec::new();
    for m in &t.machines {
        let g = m.server_group();
        match server_groups.iter_mut().find(|x| x.name == g) {
            Some(x) => x.members.push(m.name.clone()),
            None => server_groups.push(ServerGroup { name: g, members: vec![m.name.clone()] }),
        }
    }
    let secrets = t
        .secrets
        .iter()
        .map(|s| SecretEntry {
            name: s.name.clone(),
            description: s.description.clone(),
            generated: s.generated,
            used_by: ctx
                .bundle
                .machines
                .values()
                .filter(|mc| {
                    mc.secrets.iter().any(|u| match u {
                        SecretUse::Env { secret, .. } => *secret == s.name,
                        SecretUse::EnvTemplate { secrets, .. } | SecretUse::File { secrets, .. } => {
                            secrets.contains(&s.name)
                        }
                    })
                })
                .map(|mc| mc.machine.name.clone())
                .collect(),
        })
        .collect();
    let redis: Vec<RedisDep> = t
        .redis
        .iter()
        .map(|d| {
            let group = t.machine(&d.nodes[0]).map(Machine::group).unwrap_or_default();
            RedisDep {
                store: store_word(d.store),
                mode: mode_word(d.settings.mode),
                version: d.settings.version.as_str().to_owned(),
                group,
                sentinel_group: d.sentinels.first().and_then(|s| t.machine(s)).map(Machine::group),
                nodes: d.nodes.clone(),
                sentinels: d.sentinels.clone(),
                master_name: d.master_name.clone(),
                replicas_per_shard: d.settings.replicas_per_shard.unwrap_or(1),
                password_secret: d.password_secret.clone(),
                tls: d.settings.tls.enabled,
            }
        })
        .collect();
    let mut sentinel_groups: Vec<String> = t.with_role(Role::Sentinel).map(Machine::group).collect();
    sentinel_groups.dedup();
    let clusters = t
        .redis
        .iter()
        .filter(|d| d.settings.mode == RedisMode::Cluster)
        .map(|d| RedisDep {
            store: store_word(d.store),
            mode: "cluster",
            version: d.settings.version.as_str().to_owned(),
            group: t.machine(&d.nodes[0]).map(Machine::group).unwrap_or_default(),
            sentinel_group: None,
            nodes: d.nodes.clone(),
            sentinels: Vec::new(),
            master_name: None,
            replicas_per_shard: d.settings.replicas_per_shard.unwrap_or(1),
            password_secret: d.password_secret.clone(),
            tls: d.settings.tls.enabled,
        })
        .collect();
    let database = t.database.as_ref().zip(p.database.as_ref()).map(|(d, settings)| DbCtx {
        engine: engine_word(d.engine),
        version: settings.version.as_str().to_owned(),
        major: settings.version.major(),
        minor: settings.version.minor(),
        members: d.members.clone(),
        first: d.members[0].clone(),
        replicas: d.members[1..].to_vec(),
        replica_set: d.replica_set.clone(),
        tls: settings.tls.enabled,
        key_fingerprint: if d.engine == Engine::Mongodb {
            mongodb_key_fingerprint(settings.version.major())
        } else {
            ""
        },
    });
    let names = |role: Role| t.with_role(role).map(|m| m.name.clone()).collect::<Vec<_>>();
    ProjectCtx {
        profile: &p.name,
        description: &p.description,
        domain: &t.domain,
        tyk_version: p.tyk.version.as_str().to_owned(),
        pump_version: (p.pump.nodes > 0).then(|| p.tyk.pump().as_str().to_owned()),
        gateway_health_path: crate::versions::gateway_health_path(&p.tyk.version),
        gateway_ready: crate::versions::gateway_has_ready(&p.tyk.version),
        tyk_scheme: crate::config::tyk_scheme(p),
        gateway_serial: p.targets.ansible.gateway_serial,
        packages: p.targets.ansible.packages.as_str(),
        groups,
        server_groups,
        secrets,
        has_tls: p.tyk.tls.enabled || redis.iter().any(|r| r.tls) || database.as_ref().is_some_and(|d| d.tls),
        redis,
        database,
        gateways: names(Role::Gateway),
        dashboards: names(Role::Dashboard),
        pumps: names(Role::Pump),
        redis_servers: names(Role::Redis),
        sentinel_groups,
        clusters,
        placeholders,
        load_balancer: t.load_balancer,
    }
}

/// The static files of the project: (output path, template). Rendered with the project context.
const PROJECT_TEMPLATES: &[&str] = &[
    "ansible.cfg",
    ".yamllint",
    ".ansible-lint",
    "README.md",
    "vault.yml.example",
    "inventory/hosts.yml",
    "inventory/group_vars/all/main.yml",
    "playbooks/site.yml",
    "playbooks/preflight.yml",
    "playbooks/common.yml",
    "playbooks/redis.yml",
    "playbooks/dashboard.yml",
    "playbooks/gateways.yml",
    "playbooks/health.yml",
    "playbooks/data_tier.yml",
    "playbooks/data_health.yml",
    "roles/common/defaults/main.yml",
    "roles/common/tasks/main.yml",
    "roles/common/tasks/os.yml",
    "roles/common/tasks/vault.yml",
    "roles/common/tasks/hosts.yml",
    "roles/common/tasks/tls.yml",
    "roles/common/tasks/kernel.yml",
    "roles/common/tasks/data_volume.yml",
    "roles/common/tasks/firewall.yml",
    "roles/common/tasks/apt_repo.yml",
    "roles/common/tasks/config_files.yml",
    "roles/common/handlers/main.yml",
    "roles/common/meta/main.yml",
    "roles/common/templates/env.j2",
    "roles/common/templates/secret_file.j2",
    "roles/common/templates/firewall.nft.j2",
    "roles/common/templates/sysctl.conf.j2",
    "roles/common/templates/by_address.j2",
    "roles/tyk_gateway/tasks/main.yml",
    "roles/tyk_gateway/handlers/main.yml",
    "roles/tyk_gateway/meta/main.yml",
    "roles/tyk_dashboard/tasks/main.yml",
    "roles/tyk_dashboard/handlers/main.yml",
    "roles/tyk_dashboard/meta/main.yml",
    "roles/redis/tasks/main.yml",
    "roles/redis/tasks/install.yml",
    "roles/redis/tasks/live_primary.yml",
    "roles/redis/tasks/live_config.yml",
    "roles/redis/tasks/failover.yml",
    "roles/redis/handlers/main.yml",
    "roles/redis/meta/main.yml",
    "roles/redis_sentinel/tasks/main.yml",
    "roles/redis_sentinel/handlers/main.yml",
    "roles/redis_sentinel/meta/main.yml",
];

/// Templates rendered only when the topology has the part they configure.
const CLUSTER_TEMPLATES: &[&str] =
    &["playbooks/redis_cluster.yml", "roles/redis_cluster/tasks/main.yml", "roles/redis_cluster/meta/main.yml"];
const SENTINEL_TEMPLATES: &[&str] = &["playbooks/sentinels.yml"];
/// With a Pump only: `tyk.pump_version` (which they pin) is optional without one.
const PUMP_TEMPLATES: &[&str] = &[
    "playbooks/pump.yml",
    "roles/tyk_pump/tasks/main.yml",
    "roles/tyk_pump/handlers/main.yml",
    "roles/tyk_pump/meta/main.yml",
];
const POSTGRES_TEMPLATES: &[&str] = &[
    "playbooks/postgres.yml",
    "roles/postgresql/defaults/main.yml",
    "roles/postgresql/tasks/main.yml",
    "roles/postgresql/tasks/primary.yml",
    "roles/postgresql/tasks/replica.yml",
    "roles/postgresql/handlers/main.yml",
    "roles/postgresql/meta/main.yml",
];
const MONGODB_TEMPLATES: &[&str] = &[
    "playbooks/mongodb.yml",
    "roles/mongodb/tasks/main.yml",
    "roles/mongodb/tasks/init.yml",
    "roles/mongodb/handlers/main.yml",
    "roles/mongodb/meta/main.yml",
];

/// `text` ending in exactly one newline (templates with trailing blocks leave blank lines, which
/// yamllint rejects).
fn one_final_newline(text: &str) -> String {
    format!("{}\n", text.trim_end_matches('\n'))
}

/// Renders the Ansible project.
///
/// # Errors
/// A template that fails to render.
pub(super) fn render(ctx: &Context<'_>) -> anyhow::Result<FileSet> {
    let mut set = FileSet::new();
    let project = project_ctx(ctx);
    let t = ctx.topology;
    let mut names: Vec<&str> = PROJECT_TEMPLATES.to_vec();
    if !project.clusters.is_empty() {
        names.extend(CLUSTER_TEMPLATES);
    }
    if !project.sentinel_groups.is_empty() {
        names.extend(SENTINEL_TEMPLATES);
    }
    if !project.pumps.is_empty() {
        names.extend(PUMP_TEMPLATES);
    }
    match project.database.as_ref().map(|d| d.engine) {
        Some("postgres") => names.extend(POSTGRES_TEMPLATES),
        Some("mongodb") => names.extend(MONGODB_TEMPLATES),
        _ => {}
    }
    let prepared = Prepared::new(&project)?;
    for name in names {
        let text = ctx.renderer.render_prepared(&format!("ansible/{name}.tera"), &prepared)?;
        set.add(name, one_final_newline(&text), FileMode::Normal)?;
    }
    // The files the README tells the user to edit are the user's: created once, never rewritten.
    for name in ["inventory/addresses.yml", "inventory/group_vars/all/user.yml"] {
        let text = ctx.renderer.render_prepared(&format!("ansible/{name}.tera"), &prepared)?;
        set.add_user(name, one_final_newline(&text), FileMode::Normal)?;
    }
    for m in &t.machines {
        let host = host_ctx(ctx, m);
        let text = ctx.renderer.render("ansible/inventory/host_vars/machine.yml.tera", &host)?;
        set.add(format!("inventory/host_vars/{}.yml", m.name), one_final_newline(&text), FileMode::Normal)?;
        if let Some(mc) = ctx.bundle.get(&m.name) {
            for f in &mc.files {
                set.add(format!("files/{}/{}", m.name, f.name), f.contents.clone(), f.mode)?;
            }
        }
    }
    Ok(set)
}
