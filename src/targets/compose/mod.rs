//! The `compose` target: a docker-compose lab with one container per machine of the topology.
//!
//! `out/<profile>/compose/`: `compose.yaml`, `config/<machine>/<file>` (byte for byte the core
//! bundle's files, mounted read-only), `haproxy/haproxy.cfg` (with a load balancer),
//! `.env.example` and a README. Decisions:
//!
//! - **Services:** one per machine (`hostname` = the machine's host name, which is also a network
//!   alias so the bundle's host names resolve), plus one-shot services: `tykgen-init` (copies a
//!   static busybox for the healthchecks of the shell-less Tyk and HAProxy images, and the lab TLS
//!   material into one volume per machine, owned by the image's user), `<store>redis-cluster-init`
//!   (creates a Redis Cluster) and `mongodb-init` (initiates the replica set). PostgreSQL replicas
//!   bootstrap themselves with the bundle's `bootstrap-replica.sh` on first start.
//! - **Networks:** one per *server group* that some link points to (`gateway`, `dashboard`, each
//!   Redis deployment, the database). A service is on its own group's network when something links
//!   to it, and on the network of every group it links to; nothing else ([`service_networks`]).
//! - **Fixed addresses:** the PostgreSQL network and the network of every Redis Cluster have fixed
//!   subnets (derived from `targets.compose.subnet`) and every service on them a fixed address:
//!   PostgreSQL members get `extra_hosts` for their clients and peers, so `pg_hba.conf`'s host-name
//!   entries pass PostgreSQL's reverse and forward lookups; Redis Cluster nodes find each other at
//!   the addresses `nodes.conf` recorded after `docker compose down`/`up` ([`fixed_addresses`]).
//! - **Rewritten configuration:** Sentinels, and Redis servers under Sentinel, rewrite their
//!   configuration file: they run a writable copy in a state volume, seeded from the mounted bundle
//!   file and seeded again when it or the secrets change ([`seed_script`]).
//! - **Images:** pinned to exact tags ([`images`]); never `latest`.
//! - **Secrets:** every value is `${NAME:?description}` interpolated from `.env` into
//!   `environment:`; secret *files* (Redis includes, the MongoDB key file) are written at container
//!   start from those variables by a small shell entrypoint. No secret is in any rendered file.

pub mod images;
pub mod lab;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use serde::Serialize;

use super::Context;
use crate::config::tls_paths;
use crate::fast_hash::FastSet;
use crate::output::{FileMode, FileSet};
use crate::profile::{Engine, RedisMode};
use crate::render::Prepared;
use crate::topology::{
    DASHBOARD_PORT, GATEWAY_CONTROL_PORT, GATEWAY_PORT, MONGODB_PORT, Machine, POSTGRES_PORT, PUMP_HEALTH_PORT, Peer,
    REDIS_PORT, Replication, Role, SENTINEL_PORT, SecretUse, Store, Topology,
};
use crate::versions;

/// The one-shot service that prepares the tools and TLS volumes.
pub const INIT_SERVICE: &str = "tykgen-init";
/// The load-balancer service.
pub const LB_SERVICE: &str = crate::topology::LB_HOST;
/// The MongoDB replica-set initiation service.
pub const MONGO_INIT_SERVICE: &str = "mongodb-init";
/// Where the static busybox is mounted in services whose image has no shell or HTTP client.
const TOOLS_DIR: &str = "/tykgen-tools";
/// The named volume holding busybox.
const TOOLS_VOLUME: &str = "tykgen-tools";
/// Where read-only copies of files that the container rewrites are mounted.
const SHARE_DIR: &str = "/usr/local/share/tykgen";
/// The folder (in the compose folder) `tykgen lab-secrets` writes the signing key pair into.
pub const SIGNING_SRC: &str = "signing";
/// Published port of the Gateway (or the load balancer in front of it).
const LB_PORT: u16 = 8080;
/// Container user ids of the images (for TLS key ownership).
const UID_TYK: u32 = 65532; // distroless `nonroot`
const UID_DATA: u32 = 999; // redis, postgres and mongodb users of the official images

/// The name of the `.env` variable of secret `name`.
#[must_use]
pub fn env_name(secret: &str) -> String {
    secret.to_ascii_uppercase()
}

/// Name of the Redis Cluster creation service of a deployment.
#[must_use]
pub fn cluster_init_service(store: Store) -> String {
    format!("{}redis-cluster-init", store.prefix())
}

/// The compose network of the server group `m` belongs to.
#[must_use]
pub fn group_network(m: &Machine) -> String {
    match m.role {
        Role::Gateway => "gateway".to_owned(),
        Role::Dashboard => "dashboard".to_owned(),
        Role::Pump => "pump".to_owned(),
        Role::Redis | Role::Sentinel => format!("{}redis", m.store.unwrap_or(Store::Main).prefix()),
        Role::Postgres => "postgres".to_owned(),
        Role::Mongodb => "mongodb".to_owned(),
    }
}

/// The networks of a machine's service: its own group's network when something links to it, and
/// the network of every machine it links to.
#[must_use]
pub fn service_networks(t: &Topology, m: &Machine) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if t.links_to(&m.name).next().is_some() {
        out.insert(group_network(m));
    }
    for l in t.links_from(&m.name) {
        // A group's members share one network: the first one's is every member's.
        if let Some(target) = t.members(&l.to).find(|target| target.name != m.name) {
            out.insert(group_network(target));
        }
    }
    out
}

/// The networks of the load balancer: those of the Gateways it links to.
#[must_use]
pub fn lb_networks(t: &Topology) -> BTreeSet<String> {
    t.links.iter().filter(|l| l.from == Peer::LoadBalancer).flat_map(|l| t.members(&l.to).map(group_network)).collect()
}

/// True when any Redis deployment, the database or the Tyk control plane uses TLS: the lab then
/// needs certificates.
#[must_use]
pub fn tls_in_use(ctx: &Context<'_>) -> bool {
    ctx.profile.tyk.tls.enabled
        || ctx.topology.redis.iter().any(|r| r.settings.tls.enabled)
        || ctx.profile.database.as_ref().is_some_and(|d| d.tls.enabled && ctx.topology.database.is_some())
}

// ------------------------------------------------------------------------- the template model

/// One piece of an environment value: literal text, or a `${VAR:?message}` interpolation.
#[derive(Serialize, Clone)]
struct Part {
    lit: String,
    var: Option<String>,
    msg: String,
}

#[derive(Serialize)]
struct EnvVar {
    key: String,
    parts: Vec<Part>,
}

#[derive(Serialize)]
struct Net {
    name: String,
    aliases: Vec<String>,
    ipv4_address: Option<String>,
}

/// A network of `compose.yaml`, with its fixed subnet when it has one ([`fixed_addresses`]).
#[derive(Serialize)]
struct NetDef {
    name: String,
    subnet: Option<String>,
    gateway: Option<String>,
    /// The PostgreSQL network (else a Redis Cluster's), for the comment.
    postgres: bool,
}

#[derive(Serialize)]
struct Dep {
    service: String,
    condition: &'static str,
}

#[derive(Serialize)]
struct Health {
    test: Vec<String>,
    start_period: &'static str,
}

#[derive(Serialize)]
struct Service {
    name: String,
    kind: &'static str,
    machine: Option<String>,
    image: String,
    hostname: Option<String>,
    network_mode: Option<String>,
    /// Size of `/dev/shm` (PostgreSQL: its `shared_buffers`).
    shm_size: Option<String>,
    restart: &'static str,
    user: Option<String>,
    entrypoint: Vec<String>,
    command: Vec<String>,
    #[serde(serialize_with = "crate::render::shared")]
    environment: Vec<EnvVar>,
    volumes: Vec<String>,
    ports: Vec<String>,
    networks: Vec<Net>,
    extra_hosts: Vec<String>,
    #[serde(serialize_with = "crate::render::shared")]
    depends_on: Vec<Dep>,
    #[serde(serialize_with = "crate::render::shared")]
    healthcheck: Option<Health>,
}

impl Service {
    fn new(name: &str, kind: &'static str, image: String) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            machine: None,
            image,
            hostname: None,
            network_mode: None,
            shm_size: None,
            restart: if kind == "one-shot" { "no" } else { "unless-stopped" },
            user: None,
            entrypoint: Vec::new(),
            command: Vec::new(),
            environment: Vec::new(),
            volumes: Vec::new(),
            ports: Vec::new(),
            networks: Vec::new(),
            extra_hosts: Vec::new(),
            depends_on: Vec::new(),
            healthcheck: None,
        }
    }

    fn depend(&mut self, service: &str, condition: &'static str) {
        self.depend_on_all([(service, condition)]);
    }

    /// Adds each `(service, condition)` whose service it does not depend on yet (a Gateway waits
    /// for every node of a Redis Cluster, the load balancer for every Gateway: hundreds, looked
    /// up in a set).
    fn depend_on_all<'a>(&mut self, deps: impl IntoIterator<Item = (&'a str, &'static str)>) {
        let mut have: FastSet<&str> = self.depends_on.iter().map(|d| d.service.as_str()).collect();
        let new: Vec<Dep> = deps
            .into_iter()
            .filter(|(service, _)| have.insert(service))
            .map(|(service, condition)| Dep { service: service.to_owned(), condition })
            .collect();
        self.depends_on.extend(new);
    }

    fn env_secret(&mut self, key: &str, secret: &str, t: &Topology) {
        self.environment.push(EnvVar { key: key.to_owned(), parts: vec![secret_part(t, secret)] });
    }
}

fn secret_part(t: &Topology, secret: &str) -> Part {
    let description = t.secrets.iter().find(|s| s.name == secret).map_or(secret, |s| s.description.as_str());
    // `}` would end the interpolation and `$` start another: keep the message plain.
    let msg: String = description.chars().filter(|c| !matches!(c, '}' | '{' | '$' | '"' | '\\' | '`')).collect();
    Part { lit: String::new(), var: Some(env_name(secret)), msg: format!("{msg} (set it in .env)") }
}

/// `template` with `{secret}` placeholders as literal and interpolation parts.
fn template_parts(t: &Topology, template: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        let name = &rest[open + 1..open + close];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            parts.push(Part { lit: rest[..=open].to_owned(), var: None, msg: String::new() });
            rest = &rest[open + 1..];
            continue;
        }
        if open > 0 {
            parts.push(Part { lit: rest[..open].to_owned(), var: None, msg: String::new() });
        }
        parts.push(secret_part(t, name));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part { lit: rest.to_owned(), var: None, msg: String::new() });
    }
    parts
}

/// Shell lines that write a `SecretUse::File` from `TYKGEN_<SECRET>` variables, and the variables.
fn secret_file_script(path: &str, template: &str, owner: &str) -> anyhow::Result<(String, Vec<String>)> {
    let mut fmt = String::new();
    let mut args = Vec::new();
    let mut secrets = Vec::new();
    let mut rest = template;
    loop {
        match rest.find('{').and_then(|o| rest[o..].find('}').map(|c| (o, o + c))) {
            Some((open, close)) => {
                push_printf(&mut fmt, &rest[..open]);
                let name = &rest[open + 1..close];
                fmt.push_str("%s");
                args.push(format!("\"$TYKGEN_{}\"", env_name(name)));
                secrets.push(name.to_owned());
                rest = &rest[close + 1..];
            }
            None => {
                push_printf(&mut fmt, rest);
                break;
            }
        }
    }
    let dir = path.rsplit_once('/').map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
    let script = format!(
        "mkdir -p {dir}\n(umask 077 && printf '{}' {} > {path})\nchown {owner} {path}\nchmod 0400 {path}\n",
        crate::escape::shell_single_string(&fmt)?,
        args.join(" ")
    );
    Ok((script, secrets))
}

fn push_printf(fmt: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '%' => fmt.push_str("%%"),
            '\\' => fmt.push_str("\\\\"),
            '\n' => fmt.push_str("\\n"),
            c => fmt.push(c),
        }
    }
}

// ------------------------------------------------------------------------------- rendering

pub(in crate::targets) fn render(ctx: &Context<'_>) -> anyhow::Result<FileSet> {
    let t = ctx.topology;
    let p = ctx.profile;
    let tls = tls_in_use(ctx);
    let bind = &p.targets.compose.bind_address;
    let mut set = FileSet::new();
    let mut services = Vec::new();
    let mut volumes: BTreeSet<String> = BTreeSet::new();
    volumes.insert(TOOLS_VOLUME.to_owned());

    // The bundle's files, byte for byte.
    for m in &t.machines {
        let mc = ctx.bundle.get(&m.name).with_context(|| format!("no configuration for {}", m.name))?;
        for f in &mc.files {
            set.add(format!("config/{}/{}", m.name, f.name), f.contents.clone(), f.mode)?;
        }
    }

    // tykgen-init: busybox for healthchecks, TLS material per machine.
    let mut init = Service::new(INIT_SERVICE, "one-shot", images::busybox());
    init.user = Some("0:0".into());
    init.volumes.push(format!("{TOOLS_VOLUME}:/tools"));
    let mut script = String::from("set -eu\ncp /bin/busybox /tools/busybox\nchmod 0755 /tools/busybox\n");
    if tls {
        init.volumes.push("./tls:/tls-src:ro".into());
        script.push_str(
            "if [ ! -f /tls-src/ca.crt ]; then\n  echo 'tls/ca.crt is missing: run `tykgen lab-secrets` for this profile first (see README.md)' >&2\n  exit 1\nfi\n",
        );
        for m in &t.machines {
            let uid = if m.role.is_data_tier() { UID_DATA } else { UID_TYK };
            let vol = format!("{}-tls", m.name);
            init.volumes.push(format!("{vol}:/tls/{}", m.name));
            volumes.insert(vol);
            let n = &m.name;
            script.push_str(&format!(
                "cp /tls-src/ca.crt /tls-src/{n}/machine.crt /tls-src/{n}/machine.key /tls-src/{n}/machine.pem /tls/{n}/\n\
                 chown -R {uid}:{uid} /tls/{n}\nchmod 0644 /tls/{n}/ca.crt /tls/{n}/machine.crt\n\
                 chmod 0600 /tls/{n}/machine.key /tls/{n}/machine.pem\n"
            ));
        }
    }
    // The payload-signing key pair: the private key to the Dashboard only, the public key to
    // every Gateway, each into its own volume owned by the image's user.
    if t.with_role(Role::Dashboard).next().is_some() {
        init.volumes.push(format!("./{SIGNING_SRC}:/signing-src:ro"));
        script.push_str(&format!(
            "if [ ! -f /signing-src/private.pem ] || [ ! -f /signing-src/public.pem ]; then\n  \
             echo '{SIGNING_SRC}/private.pem is missing: run `tykgen lab-secrets` for this profile first (see README.md)' >&2\n  \
             exit 1\nfi\n"
        ));
        for m in t.machines.iter().filter(|m| matches!(m.role, Role::Dashboard | Role::Gateway)) {
            let vol = signing_volume(m);
            init.volumes.push(format!("{vol}:/signing/{}", m.name));
            volumes.insert(vol);
            let (file, mode) = if m.role == Role::Dashboard { ("private.pem", "0600") } else { ("public.pem", "0644") };
            let n = &m.name;
            script.push_str(&format!(
                "cp /signing-src/{file} /signing/{n}/{file}\nchown -R {UID_TYK}:{UID_TYK} /signing/{n}\n\
                 chmod {mode} /signing/{n}/{file}\n"
            ));
        }
    }
    init.entrypoint = vec!["/bin/sh".into(), "-c".into(), script];
    services.push(init);

    for m in &t.machines {
        services.extend(machine_services(ctx, m, tls, bind, &mut volumes)?);
    }

    if t.load_balancer {
        let gateways: Vec<&Machine> = t.with_role(Role::Gateway).collect();
        let mut lb = Service::new(LB_SERVICE, "load-balancer", images::haproxy());
        lb.hostname = Some(format!("{LB_SERVICE}.{}", t.domain));
        lb.volumes.push("./haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro".into());
        lb.volumes.push(format!("{TOOLS_VOLUME}:{TOOLS_DIR}:ro"));
        if p.tyk.tls.enabled {
            lb.volumes.push(format!("./tls/ca.crt:{HAPROXY_CA}:ro"));
        }
        lb.ports.push(publish(bind, LB_PORT, LB_PORT));
        // The host name is an alias too: `host_config.override_hostname` names it.
        let host = format!("{LB_SERVICE}.{}", t.domain);
        lb.networks = lb_networks(t)
            .into_iter()
            .map(|name| Net { name, aliases: vec![host.clone()], ipv4_address: None })
            .collect();
        lb.depend(INIT_SERVICE, "service_completed_successfully");
        lb.depend_on_all(gateways.iter().map(|g| (g.name.as_str(), "service_healthy")));
        lb.healthcheck = Some(wget_health("http://127.0.0.1:8404/healthz"));
        services.push(lb);
        set.add(
            "haproxy/haproxy.cfg",
            haproxy_cfg(t, &gateways, versions::gateway_health_path(&p.tyk.version), p.tyk.tls.enabled),
            FileMode::Normal,
        )?;
    }

    let fixed = fixed_addresses(ctx, &mut services)?;
    let networks: BTreeSet<String> = services.iter().flat_map(|s| s.networks.iter().map(|n| n.name.clone())).collect();
    let networks: Vec<NetDef> = networks
        .into_iter()
        .map(|name| match fixed.iter().find(|f| f.name == name) {
            Some(net) => NetDef {
                name,
                subnet: Some(net.subnet.clone()),
                gateway: Some(net.gateway.clone()),
                postgres: net.postgres,
            },
            None => NetDef { name, subnet: None, gateway: None, postgres: false },
        })
        .collect();
    // What the README says of each service, taken before the services go: only their template
    // values are kept while `compose.yaml` renders (the largest context of any target).
    let readme_services = services
        .iter()
        .map(|s| ReadmeService {
            name: s.name.clone(),
            kind: s.kind,
            image: s.image.clone(),
            ports: s.ports.join(", "),
            networks: s.networks.iter().map(|n| n.name.clone()).collect::<Vec<_>>().join(", "),
        })
        .collect();
    let compose = {
        // The template's context: `profile`, `services`, `networks`, `volumes`.
        let prepared = Prepared::build(|c| {
            c.insert("profile", &p.name)?;
            c.list("services", services)?;
            c.insert("networks", &networks)?;
            c.insert("volumes", &volumes)
        })
        .context("building the context for template `compose/compose.yaml.tera`")?;
        ctx.renderer.render_prepared("compose/compose.yaml.tera", &prepared)?
    };
    set.add("compose.yaml", compose, FileMode::Normal)?;
    set.add(".env.example", env_example(t), FileMode::Normal)?;
    // The PostgreSQL primary's retention.sql, which production targets run daily (not the lab).
    let retention =
        t.machines.iter().filter(|m| m.role == Role::Postgres && m.replication == Replication::Primary).find_map(|m| {
            let f = ctx.bundle.get(&m.name)?.files.iter().find(|f| f.name == "retention.sql")?;
            Some((m.name.as_str(), f.install_path.as_str()))
        });
    let readme = ReadmeCtx {
        profile: &p.name,
        domain: &t.domain,
        services: readme_services,
        tls,
        gateway_url: gateway_url(ctx),
        dashboard_url: (p.dashboard.nodes > 0)
            .then(|| format!("{}://{}:{DASHBOARD_PORT}", crate::config::tyk_scheme(p), host_of(bind))),
        licence: p.dashboard.nodes > 0,
        retention_days: retention.map(|_| p.analytics.retention_days.unwrap_or_default()),
        pg_primary: retention.map(|(m, _)| m.to_owned()),
        retention_path: retention.map(|(_, path)| path.to_owned()),
        pg_subnet: fixed.iter().find(|n| n.postgres).map(|n| n.subnet.clone()),
        first_subnet: subnet_of(p),
        subnet_set: p.targets.compose.subnet.is_some(),
        redis_subnets: fixed
            .iter()
            .filter(|n| !n.postgres)
            .map(|n| FixedSubnet { name: n.name.clone(), subnet: n.subnet.clone() })
            .collect(),
        secrets: t
            .secrets
            .iter()
            .map(|s| EnvSecret { name: env_name(&s.name), description: s.description.clone(), generated: s.generated })
            .collect(),
    };
    set.add("README.md", ctx.renderer.render("compose/README.md.tera", &readme)?, FileMode::Normal)?;
    Ok(set)
}

#[derive(Serialize)]
struct ReadmeService {
    name: String,
    kind: &'static str,
    image: String,
    ports: String,
    networks: String,
}

#[derive(Serialize)]
struct ReadmeCtx<'a> {
    profile: &'a str,
    domain: &'a str,
    services: Vec<ReadmeService>,
    tls: bool,
    gateway_url: String,
    dashboard_url: Option<String>,
    licence: bool,
    secrets: Vec<EnvSecret>,
    pg_subnet: Option<String>,
    redis_subnets: Vec<FixedSubnet>,
    /// The first fixed subnet, and whether the profile set it.
    first_subnet: String,
    subnet_set: bool,
    /// `analytics.retention_days`, when the PostgreSQL primary carries `retention.sql`.
    retention_days: Option<u32>,
    pg_primary: Option<String>,
    retention_path: Option<String>,
}

#[derive(Serialize)]
struct FixedSubnet {
    name: String,
    subnet: String,
}

#[derive(Serialize)]
struct EnvSecret {
    name: String,
    description: String,
    generated: bool,
}

fn host_of(bind: &str) -> &str {
    if bind == "0.0.0.0" { "127.0.0.1" } else { bind }
}

/// The lab's load balancer listens on plain HTTP; without one the first Gateway is published,
/// over HTTPS with `tyk.tls`.
fn gateway_url(ctx: &Context<'_>) -> String {
    let scheme = if ctx.topology.load_balancer { "http" } else { crate::config::tyk_scheme(ctx.profile) };
    format!("{scheme}://{}:{LB_PORT}", host_of(&ctx.profile.targets.compose.bind_address))
}

fn publish(bind: &str, host_port: u16, container_port: u16) -> String {
    format!("{bind}:{host_port}:{container_port}")
}

fn wget_health(url: &str) -> Health {
    let mut test = vec!["CMD".into(), format!("{TOOLS_DIR}/busybox"), "wget".into(), "-q".into()];
    if url.starts_with("https:") {
        test.push("--no-check-certificate".into());
    }
    test.extend(["-O".into(), "/dev/null".into(), url.into()]);
    Health { test, start_period: "30s" }
}

fn shell_health(cmd: String) -> Health {
    Health { test: vec!["CMD-SHELL".into(), cmd], start_period: "60s" }
}

/// The services of one machine (its own, plus a one-shot it drives).
fn machine_services(
    ctx: &Context<'_>,
    m: &Machine,
    tls: bool,
    bind: &str,
    volumes: &mut BTreeSet<String>,
) -> anyhow::Result<Vec<Service>> {
    let t = ctx.topology;
    let p = ctx.profile;
    let mc = ctx.bundle.get(&m.name).with_context(|| format!("no configuration for {}", m.name))?;
    let image = images::for_machine(p, m)?;
    let mut s = Service::new(&m.name, "machine", image.clone());
    s.machine = Some(m.name.clone());
    s.hostname = Some(m.host.clone());
    // Every Gateway also answers to the control name the Dashboard calls (Docker's DNS returns
    // the address of each running Gateway for it).
    let control = t.gateway_control_host();
    s.networks = service_networks(t, m)
        .into_iter()
        .map(|name| {
            let mut aliases = vec![m.host.clone()];
            if m.role == Role::Gateway && name == group_network(m) {
                aliases.push(control.clone());
            }
            Net { name, aliases, ipv4_address: None }
        })
        .collect();
    s.depend(INIT_SERVICE, "service_completed_successfully");
    if tls {
        s.volumes.push(format!("{}-tls:{}:ro", m.name, crate::topology::TLS_DIR));
    }
    if matches!(m.role, Role::Dashboard | Role::Gateway) && t.with_role(Role::Dashboard).next().is_some() {
        s.volumes.push(format!("{}:{}:ro", signing_volume(m), crate::config::signing_paths::DIR));
    }
    // Config files at their install paths. Those the server rewrites (Sentinel's, and a Redis
    // server's under Sentinel, which has it CONFIG REWRITE on failover) go to SHARE_DIR, the seed
    // of a writable copy in the state volume (see `seed_script`).
    let rewritten = rewrites_config(t, m);
    for f in &mc.files {
        let target = match (m.role, f.name.as_str()) {
            (Role::Sentinel, _) => format!("{SHARE_DIR}/{}", f.name),
            (Role::Redis, "redis.conf") if rewritten => format!("{SHARE_DIR}/{}", f.name),
            (Role::Postgres, "bootstrap-primary.sql") => "/docker-entrypoint-initdb.d/bootstrap-primary.sql".into(),
            _ => f.install_path.clone(),
        };
        s.volumes.push(format!("./config/{}/{}:{target}:ro", m.name, f.name));
    }
    // Start order from the links (see `depends_on_for`).
    s.depend_on_all(depends_on_for(t, m).iter().map(|(service, condition)| (service.as_str(), *condition)));
    let mut extra = Vec::new();
    let mut files_script = String::new();
    let mut file_secrets = BTreeSet::new();
    let owner = match m.role {
        Role::Redis | Role::Sentinel => "redis:redis",
        Role::Postgres => "postgres:postgres",
        _ => "mongodb:mongodb",
    };
    for u in &mc.secrets {
        match u {
            SecretUse::Env { var, secret } => {
                // A MongoDB member's own variables are for `mongo-init-replica-set.js`, run by
                // the `mongodb-init` one-shot: only that service gets them.
                if m.role != Role::Mongodb {
                    s.env_secret(var, secret, t);
                }
            }
            SecretUse::EnvTemplate { var, template, .. } => {
                s.environment.push(EnvVar { key: var.clone(), parts: template_parts(t, template) })
            }
            SecretUse::File { path, template, .. } => {
                let (script, secrets) = secret_file_script(path, template, owner)?;
                files_script.push_str(&script);
                file_secrets.extend(secrets);
            }
        }
    }
    for secret in &file_secrets {
        s.env_secret(&format!("TYKGEN_{}", env_name(secret)), secret, t);
    }
    let redis_tls = |store: Store| {
        let dep = t.redis_for(store);
        if dep.settings.tls.enabled {
            format!(" --tls --cacert {} --cert {} --key {}", tls_paths::CA, tls_paths::CERT, tls_paths::KEY)
        } else {
            String::new()
        }
    };
    let data = format!("{}-data", m.name);
    match m.role {
        Role::Gateway | Role::Dashboard | Role::Pump => {
            s.volumes.push(format!("{TOOLS_VOLUME}:{TOOLS_DIR}:ro"));
            let (port, path) = match m.role {
                // `/ready` where the release has it (503 until Redis is up and the APIs are loaded),
                // on the control port, where Tyk 5.8 serves its health endpoints.
                Role::Gateway => (GATEWAY_CONTROL_PORT, versions::gateway_health_path(&p.tyk.version)),
                Role::Dashboard => (DASHBOARD_PORT, "/hello"),
                _ => (PUMP_HEALTH_PORT, "/health"),
            };
            // Over TLS the probe is encrypted but unverified (busybox wget checks no
            // certificate; the certificate names the host, not 127.0.0.1): it carries no secret.
            let scheme = if m.role == Role::Pump { "http" } else { crate::config::tyk_scheme(p) };
            s.healthcheck = Some(wget_health(&format!("{scheme}://127.0.0.1:{port}{path}")));
            // A Gateway verifies the Dashboard's certificate against the system roots only,
            // where this puts the lab CA (see `tls_paths::TRUSTED_CA`).
            if m.role == Role::Gateway && p.tyk.tls.enabled && t.with_role(Role::Dashboard).next().is_some() {
                s.volumes.push(format!("./tls/ca.crt:{}:ro", tls_paths::TRUSTED_CA));
            }
            let index = u16::try_from(m.index.saturating_sub(1)).unwrap_or(0);
            match m.role {
                Role::Gateway if !t.load_balancer => s.ports.push(publish(bind, LB_PORT + index, GATEWAY_PORT)),
                Role::Dashboard => s.ports.push(publish(bind, DASHBOARD_PORT + index, DASHBOARD_PORT)),
                _ => {}
            }
        }
        Role::Redis => {
            let store = m.store.unwrap_or(Store::Main);
            volumes.insert(data.clone());
            s.volumes.push(format!("{data}:/var/lib/redis"));
            let conf = crate::config::REDIS_CONF;
            let (state_script, owned) = if rewritten {
                let state = format!("{}-state", m.name);
                volumes.insert(state.clone());
                s.volumes.push(format!("{state}:/etc/redis"));
                let secrets = secret_paths(&mc.secrets);
                (seed_script(&format!("{SHARE_DIR}/redis.conf"), conf, &secrets), " /etc/redis")
            } else {
                (String::new(), "")
            };
            s.entrypoint = vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "set -eu\n{files_script}{state_script}mkdir -p /run/redis /var/lib/redis\n\
                     chown -R redis:redis /run/redis /var/lib/redis{owned}\n\
                     exec docker-entrypoint.sh redis-server {conf}\n"
                ),
            ];
            let dep = t.redis_for(store);
            s.healthcheck = Some(shell_health(format!(
                "REDISCLI_AUTH=\"$TYKGEN_{}\" redis-cli -h 127.0.0.1 -p {REDIS_PORT}{} ping | grep -q PONG",
                env_name(&dep.password_secret),
                redis_tls(store)
            )));
            if dep.settings.mode == RedisMode::Cluster && dep.nodes.first() == Some(&m.name) {
                extra.push(cluster_init(ctx, m, store, tls)?);
            }
        }
        Role::Sentinel => {
            let store = m.store.unwrap_or(Store::Main);
            let dep = t.redis_for(store);
            let state = format!("{}-state", m.name);
            volumes.insert(state.clone());
            s.volumes.push(format!("{state}:/etc/redis"));
            s.entrypoint = vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "set -eu\n{files_script}{seed}mkdir -p /run/sentinel /var/lib/redis\n\
                     chown -R redis:redis /etc/redis /run/sentinel /var/lib/redis\n\
                     exec docker-entrypoint.sh redis-server {conf} --sentinel\n",
                    seed = seed_script(
                        &format!("{SHARE_DIR}/sentinel.conf"),
                        crate::config::SENTINEL_CONF,
                        &secret_paths(&mc.secrets)
                    ),
                    conf = crate::config::SENTINEL_CONF,
                ),
            ];
            let sentinel_secret = dep.sentinel_secret.clone().unwrap_or_default();
            s.healthcheck = Some(shell_health(format!(
                "REDISCLI_AUTH=\"$TYKGEN_{}\" redis-cli -h 127.0.0.1 -p {SENTINEL_PORT}{} ping | grep -q PONG",
                env_name(&sentinel_secret),
                redis_tls(store)
            )));
            if !file_secrets.contains(&sentinel_secret) {
                s.env_secret(&format!("TYKGEN_{}", env_name(&sentinel_secret)), &sentinel_secret, t);
            }
        }
        Role::Postgres => {
            volumes.insert(data.clone());
            s.volumes.push(format!("{data}:/var/lib/postgresql/data"));
            let mut args = vec!["postgres".to_owned()];
            for f in &mc.files {
                let key = match f.name.as_str() {
                    "postgresql.conf" => "config_file",
                    "pg_hba.conf" => "hba_file",
                    "pg_ident.conf" => "ident_file",
                    _ => continue,
                };
                args.push("-c".into());
                args.push(format!("{key}={}", f.install_path));
            }
            if matches!(m.replication, Replication::ReplicaOf(_)) {
                let script = mc
                    .files
                    .iter()
                    .find(|f| f.name == "bootstrap-replica.sh")
                    .map_or_else(String::new, |f| f.install_path.clone());
                s.entrypoint = vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    format!(
                        "set -eu\n# First start: copy the primary with pg_basebackup -R (bootstrap-replica.sh).\n\
                         if [ ! -s \"$PGDATA/PG_VERSION\" ]; then\n  mkdir -p \"$PGDATA\"\n  chown postgres:postgres \"$PGDATA\"\n  \
                         chmod 0700 \"$PGDATA\"\n  gosu postgres sh {script} \"$PGDATA\"\nfi\nexec docker-entrypoint.sh \"$@\"\n"
                    ),
                    "tykgen-entrypoint".into(),
                ];
            }
            s.command = args;
            s.shm_size = Some(crate::config::SHARED_BUFFERS.to_ascii_lowercase());
            s.healthcheck = Some(shell_health(format!("pg_isready -q -h 127.0.0.1 -p {POSTGRES_PORT} -U postgres")));
        }
        Role::Mongodb => {
            volumes.insert(data.clone());
            s.volumes.push(format!("{data}:/var/lib/mongodb"));
            s.entrypoint = vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "set -eu\n{files_script}mkdir -p /var/lib/mongodb /var/log/mongodb\n\
                     chown mongodb:mongodb /var/lib/mongodb /var/log/mongodb\n\
                     exec docker-entrypoint.sh mongod --config /etc/mongod.conf\n"
                ),
            ];
            s.healthcheck = Some(shell_health(format!(
                "mongosh --quiet{} \"mongodb://127.0.0.1:{MONGODB_PORT}/admin?directConnection=true\" --eval 'db.adminCommand({{ping: 1}}).ok' | grep -q 1",
                mongo_tls(p)
            )));
            if mc.files.iter().any(|f| f.name == "mongo-init-replica-set.js") {
                extra.push(mongo_init(ctx, m, tls)?);
            }
        }
    }
    let mut out = vec![s];
    out.extend(extra);
    Ok(out)
}

/// The volume holding a Dashboard's private or a Gateway's public signing key.
fn signing_volume(m: &Machine) -> String {
    format!("{}-signing", m.name)
}

/// True when `m` rewrites its own configuration file: a Sentinel, and a Redis server under
/// Sentinel (Sentinel sends it `REPLICAOF` + `CONFIG REWRITE` on failover). A Redis Cluster node
/// keeps its state in `nodes.conf` (`cluster-config-file`, under `dir`, in the data volume) and
/// never rewrites `redis.conf`; a standalone server does not either.
fn rewrites_config(t: &Topology, m: &Machine) -> bool {
    match m.role {
        Role::Sentinel => true,
        Role::Redis => t.redis_for(m.store.unwrap_or(Store::Main)).settings.mode == RedisMode::Sentinel,
        _ => false,
    }
}

/// The paths of a machine's secret files (written at every start by its entrypoint).
fn secret_paths(uses: &[SecretUse]) -> Vec<String> {
    uses.iter()
        .filter_map(|u| match u {
            SecretUse::File { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

/// Shell lines that keep `live` (in a state volume) a writable copy of the mounted bundle file
/// `seed`: copied on first start, and copied again whenever `seed` or one of the `secrets` files
/// (written just before from `.env`) changed since, which the SHA-256 of their concatenation,
/// kept in `<live>.tykgen-seed`, tells. Otherwise the live file, with the server's rewrites
/// (current primary, known replicas and Sentinels), is kept. Re-seeding matters because the
/// server rewrites the included passwords into the live file *after* the include line, where
/// they win: a rotated password in `.env`, or a newly rendered file, would never take effect.
/// The checksum file holds no secret that the state volume does not already hold in clear.
#[must_use]
pub fn seed_script(seed: &str, live: &str, secrets: &[String]) -> String {
    let inputs = std::iter::once(seed).chain(secrets.iter().map(String::as_str)).collect::<Vec<_>>().join(" ");
    format!(
        "# {live} is rewritten by the server: it runs a writable copy in the state volume, seeded\n\
         # from {seed} again whenever that file or its secrets change (checksum in {live}.tykgen-seed).\n\
         sum=$(cat {inputs} | sha256sum | cut -d ' ' -f 1)\n\
         if [ ! -f {live} ] || [ \"$(cat {live}.tykgen-seed 2>/dev/null || true)\" != \"$sum\" ]; then\n  \
         cp {seed} {live}\n  chmod 0600 {live}\n  printf '%s\\n' \"$sum\" > {live}.tykgen-seed\n  \
         echo \"tykgen: {live} seeded from {seed}\"\nfi\n"
    )
}

/// A network with fixed addressing.
struct FixedNet {
    name: String,
    subnet: String,
    gateway: String,
    /// The PostgreSQL network (its members also get `extra_hosts`).
    postgres: bool,
}

/// `targets.compose.subnet` as (network address, prefix length): an IPv4 network address (no host
/// bits set) with a prefix from /8 to /29.
///
/// # Errors
/// The text is not such a subnet.
pub fn parse_subnet(text: &str) -> anyhow::Result<(std::net::Ipv4Addr, u8)> {
    let bad = || anyhow::anyhow!("targets.compose.subnet: {text:?} is not an IPv4 subnet like 172.30.0.0/24");
    let (addr, prefix) = text.split_once('/').ok_or_else(bad)?;
    let addr: std::net::Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    anyhow::ensure!(
        (8..=29).contains(&prefix),
        "targets.compose.subnet: {text} has a /{prefix} prefix; use one from /8 to /29"
    );
    let mask = u32::MAX << (32 - prefix);
    let network = std::net::Ipv4Addr::from(u32::from(addr) & mask);
    anyhow::ensure!(
        network == addr,
        "targets.compose.subnet: {text} has host bits set; the network is {network}/{prefix}"
    );
    Ok((addr, prefix))
}

/// The private IPv4 ranges (RFC 1918).
const PRIVATE_RANGES: [(std::net::Ipv4Addr, u8); 3] = [
    (std::net::Ipv4Addr::new(10, 0, 0, 0), 8),
    (std::net::Ipv4Addr::new(172, 16, 0, 0), 12),
    (std::net::Ipv4Addr::new(192, 168, 0, 0), 16),
];

/// The lab's first subnet: `targets.compose.subnet`, else the one derived from the profile name.
#[must_use]
pub fn subnet_of(p: &crate::profile::Profile) -> String {
    p.targets.compose.subnet.clone().unwrap_or_else(|| default_subnet(&p.name))
}

/// The lab's first fixed subnet when `targets.compose.subnet` is not set: a /24 derived from the
/// profile's name (FNV-1a), the first of a group of four consecutive /24s (the PostgreSQL network
/// and up to three Redis Cluster networks), one of the 128 such groups of 172.30.0.0/15. Private
/// (RFC 1918) and clear of Docker's default bridge 172.17.0.0/16.
#[must_use]
pub fn default_subnet(profile: &str) -> String {
    let hash = profile.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let group = hash % 128;
    format!("172.{}.{}.0/24", 30 + group / 64, (group % 64) * 4)
}

/// The subnets of `count` fixed-address networks, derived from `targets.compose.subnet`: the
/// first is that subnet, each next one the block of the same size right after it (with the
/// default `172.30.0.0/24`: `172.30.0.0/24`, `172.30.1.0/24`, ...). They must stay inside the
/// IPv4 space, and inside the private range (RFC 1918) the subnet is in, if any.
///
/// # Errors
/// The text is not a subnet ([`parse_subnet`]), or the blocks do not fit.
pub fn derive_subnets(text: &str, count: usize) -> anyhow::Result<Vec<(std::net::Ipv4Addr, u8)>> {
    let (network, prefix) = parse_subnet(text)?;
    let size = 1u64 << (32 - prefix);
    let first = u64::from(u32::from(network));
    let last = first + size * count.max(1) as u64 - 1; // the last address of the last block
    let (limit, range) = PRIVATE_RANGES
        .iter()
        .find(|(range, len)| u32::from(network) >> (32 - len) == u32::from(*range) >> (32 - len))
        .map_or((u64::from(u32::MAX), "the IPv4 address space".to_owned()), |(range, len)| {
            (u64::from(u32::from(*range)) + (1u64 << (32 - len)) - 1, format!("the private range {range}/{len}"))
        });
    anyhow::ensure!(
        last <= limit,
        "targets.compose.subnet: the lab needs {count} networks with fixed addresses, a /{prefix} each from \
         {text} on, which leaves {range}; choose a lower subnet or a longer prefix"
    );
    Ok((0..count as u64)
        // Every block starts at or below `last`, which fits in a u32.
        .map(|i| (std::net::Ipv4Addr::from(u32::try_from(first + i * size).unwrap_or(u32::MAX)), prefix))
        .collect())
}

/// The networks that get fixed addresses, in allocation order: the PostgreSQL network, then the
/// network of every Redis deployment in Cluster mode (topology order); only those with services.
fn fixed_network_names(t: &Topology, services: &[Service]) -> Vec<(String, bool)> {
    let mut names: Vec<(String, bool)> = Vec::new();
    if let Some(pg) = t.machines.iter().find(|m| m.role == Role::Postgres) {
        names.push((group_network(pg), true));
    }
    for d in t.redis.iter().filter(|d| d.settings.mode == RedisMode::Cluster) {
        if let Some(first) = d.nodes.first().and_then(|n| t.machine(n)) {
            let name = group_network(first);
            if !names.iter().any(|(n, _)| *n == name) {
                names.push((name, false));
            }
        }
    }
    names.retain(|(n, _)| services.iter().any(|s| s.networks.iter().any(|x| x.name == *n)));
    names
}

/// Fixed subnets and addresses for the networks that need them, and `/etc/hosts` entries on the
/// PostgreSQL members.
///
/// - **PostgreSQL:** `pg_hba.conf` names the Dashboard, Pump and member machines by host name
///   (when their address is not pinned). PostgreSQL accepts such an entry only when a reverse
///   lookup of the client's address gives that name and the name resolves forward to the same
///   address. Docker's embedded DNS answers reverse lookups with `<container>.<network>`, so the
///   bundle's entries would refuse every client. Without changing the bundle: every service on
///   the network gets a fixed `ipv4_address`, and every PostgreSQL member an `extra_hosts` line
///   `<host name>:<address>` for every machine on the network (its clients and the members,
///   itself included). The postgres images are Debian-based (`hosts: files dns` in
///   `nsswitch.conf`), so both lookups are answered from `/etc/hosts` first.
/// - **Redis Cluster:** every node records its peers' IP addresses in `nodes.conf`, kept in its
///   data volume. Docker hands out addresses in start order, so after `docker compose down` and
///   `up` they may shuffle and the nodes would look for each other at stale addresses; fixed
///   addresses keep the cluster whole.
///
/// Each network gets a subnet from [`derive_subnets`] (in [`fixed_network_names`] order; the
/// gateway is its first host address), and every service on it an address from the second host
/// address on, in service order. Redis under Sentinel and MongoDB need nothing of the kind: they
/// find each other by host name, and neither matches clients by name.
fn fixed_addresses(ctx: &Context<'_>, services: &mut [Service]) -> anyhow::Result<Vec<FixedNet>> {
    let t = ctx.topology;
    let names = fixed_network_names(t, services);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let p = ctx.profile;
    let subnet = subnet_of(p);
    let blocks = derive_subnets(&subnet, names.len())?;
    let mut out = Vec::new();
    for ((name, postgres), (network, prefix)) in names.into_iter().zip(blocks) {
        let subnet = format!("{network}/{prefix}");
        let count = services.iter().filter(|s| s.networks.iter().any(|n| n.name == name)).count();
        let base = u32::from(network);
        let usable = (1u64 << (32 - prefix)) - 3; // minus network, gateway and broadcast addresses
        anyhow::ensure!(
            count as u64 <= usable,
            "targets.compose.subnet: the {name} network gets {subnet}, with room for {usable} services; it needs {count}"
        );
        let mut hosts = Vec::new();
        let mut next = base + 2;
        for s in services.iter_mut() {
            let Some(n) = s.networks.iter_mut().find(|n| n.name == name) else { continue };
            let ip = std::net::Ipv4Addr::from(next).to_string();
            next += 1;
            n.ipv4_address = Some(ip.clone());
            if s.machine.is_some()
                && let Some(host) = &s.hostname
            {
                hosts.push(format!("{host}:{ip}"));
            }
        }
        if postgres {
            for s in services.iter_mut() {
                if s.machine.as_deref().and_then(|m| t.machine(m)).is_some_and(|m| m.role == Role::Postgres) {
                    s.extra_hosts.clone_from(&hosts);
                }
            }
        }
        out.push(FixedNet { name, subnet, gateway: std::net::Ipv4Addr::from(base + 1).to_string(), postgres });
    }
    Ok(out)
}

fn mongo_tls(p: &crate::profile::Profile) -> String {
    if p.database.as_ref().is_some_and(|d| d.tls.enabled) {
        format!(
            " --tls --tlsCAFile {} --tlsCertificateKeyFile {} --tlsAllowInvalidHostnames",
            tls_paths::CA,
            tls_paths::PEM
        )
    } else {
        String::new()
    }
}

/// `depends_on` from the links of `m`: every machine it links to must be healthy first, except
/// where the peer links back (peers of one cluster, Sentinels, MongoDB members: they start
/// together), with two exceptions that break such pairs one way: a replica waits for its primary
/// and a Gateway for the Dashboard. A Tyk component waits for the PostgreSQL primary only. A link to a Redis Cluster node or a MongoDB member also waits
/// for the one-shot that forms the cluster or replica set (named once per such link:
/// [`Service::depend_on_all`] keeps the first).
fn depends_on_for(t: &Topology, m: &Machine) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let reaches_back = t.reached_by(m);
    let waits_anyway = |target: &Machine| {
        matches!(&m.replication, Replication::ReplicaOf(primary) if *primary == target.name)
            || (m.role == Role::Gateway && target.role == Role::Dashboard)
    };
    // A group that links back to `m` as a group (the peers of a Redis Cluster, hundreds of
    // them) gives only the members that wait anyway: every other member reaches back.
    let back_as_group: Vec<&str> = t
        .links_to(&m.name)
        .filter_map(|l| match &l.from {
            Peer::Group(g) => Some(g.as_str()),
            _ => None,
        })
        .collect();
    let mut targets: Vec<&Machine> = t
        .links_from(&m.name)
        .flat_map(|l| {
            let whole_group_back = matches!(&l.to, Peer::Group(g) if back_as_group.contains(&g.as_str()));
            t.members(&l.to).filter(move |target| !whole_group_back || waits_anyway(target))
        })
        .filter(|target| target.name != m.name)
        .collect();
    // By name, as the per-pair links were sorted.
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    targets.dedup_by(|a, b| a.name == b.name);
    for target in targets {
        let to = &target.name;
        if reaches_back(target) && !waits_anyway(target) {
            continue;
        }
        // A Tyk component writes to the PostgreSQL primary; a replica is not needed to start.
        if !m.role.is_data_tier()
            && target.role == Role::Postgres
            && matches!(target.replication, Replication::ReplicaOf(_))
        {
            continue;
        }
        out.push((to.clone(), "service_healthy"));
        if target.role == Role::Redis
            && let Some(store) = target.store
            && t.redis_for(store).settings.mode == RedisMode::Cluster
        {
            out.push((cluster_init_service(store), "service_completed_successfully"));
        }
        if target.role == Role::Mongodb {
            out.push((MONGO_INIT_SERVICE.to_owned(), "service_completed_successfully"));
        }
    }
    out
}

/// The one-shot that creates a Redis Cluster, in the network namespace of its first node.
fn cluster_init(ctx: &Context<'_>, first: &Machine, store: Store, tls: bool) -> anyhow::Result<Service> {
    let t = ctx.topology;
    let dep = t.redis_for(store);
    let name = cluster_init_service(store);
    let mut s = Service::new(&name, "one-shot", images::for_machine(ctx.profile, first)?);
    s.network_mode = Some(format!("service:{}", first.name));
    if tls {
        s.volumes.push(format!("{}-tls:{}:ro", first.name, crate::topology::TLS_DIR));
    }
    s.env_secret(&format!("TYKGEN_{}", env_name(&dep.password_secret)), &dep.password_secret, t);
    s.depend(INIT_SERVICE, "service_completed_successfully");
    for n in &dep.nodes {
        s.depend(n, "service_healthy");
    }
    let flags = if dep.settings.tls.enabled {
        format!(" --tls --cacert {} --cert {} --key {}", tls_paths::CA, tls_paths::CERT, tls_paths::KEY)
    } else {
        String::new()
    };
    let hosts: Vec<&str> = dep.nodes.iter().filter_map(|n| t.machine(n)).map(Machine::endpoint).collect();
    let replicas = dep.settings.replicas_per_shard.unwrap_or(1);
    let script = format!(
        "set -eu\nexport REDISCLI_AUTH=\"$TYKGEN_{pw}\"\n\
         known=$(redis-cli -h 127.0.0.1 -p {REDIS_PORT}{flags} cluster info | tr -d '\\r' | sed -n 's/^cluster_known_nodes://p')\n\
         if [ \"${{known:-1}}\" -gt 1 ]; then echo 'the cluster already exists'; exit 0; fi\n\
         # CLUSTER MEET takes IP addresses: resolve the nodes' host names first.\n\
         addrs=''\nfor h in {hosts}; do\n  ip=$(getent hosts \"$h\" | awk '{{print $1; exit}}')\n  \
         [ -n \"$ip\" ] || {{ echo \"cannot resolve $h\" >&2; exit 1; }}\n  addrs=\"$addrs $ip:{REDIS_PORT}\"\ndone\n\
         redis-cli{flags} --cluster create $addrs --cluster-replicas {replicas} --cluster-yes\n\
         for i in $(seq 1 60); do\n  \
         if redis-cli -h 127.0.0.1 -p {REDIS_PORT}{flags} cluster info | grep -q '^cluster_state:ok'; then echo 'cluster ready'; exit 0; fi\n  \
         sleep 1\ndone\necho 'the cluster did not reach cluster_state:ok within 60 s' >&2\nexit 1\n",
        pw = env_name(&dep.password_secret),
        hosts = hosts.join(" "),
    );
    s.entrypoint = vec!["/bin/sh".into(), "-c".into(), script];
    Ok(s)
}

/// The one-shot that initiates the MongoDB replica set, through the first member's loopback
/// (MongoDB's localhost exception), as `mongo-init-replica-set.js` expects.
fn mongo_init(ctx: &Context<'_>, first: &Machine, tls: bool) -> anyhow::Result<Service> {
    let t = ctx.topology;
    let mc = ctx.bundle.get(&first.name).with_context(|| format!("no configuration for {}", first.name))?;
    let mut s = Service::new(MONGO_INIT_SERVICE, "one-shot", images::for_machine(ctx.profile, first)?);
    s.network_mode = Some(format!("service:{}", first.name));
    if tls {
        s.volumes.push(format!("{}-tls:{}:ro", first.name, crate::topology::TLS_DIR));
    }
    let script = mc
        .files
        .iter()
        .find(|f| f.name == "mongo-init-replica-set.js")
        .context("no mongo-init-replica-set.js on the first MongoDB member")?;
    s.volumes.push(format!("./config/{}/{}:{}:ro", first.name, script.name, script.install_path));
    for u in &mc.secrets {
        if let SecretUse::Env { var, secret } = u {
            s.env_secret(var, secret, t);
        }
    }
    s.depend(INIT_SERVICE, "service_completed_successfully");
    if let Some(db) = &t.database {
        for n in &db.members {
            s.depend(n, "service_healthy");
        }
    }
    let mut cmd = vec!["mongosh".to_owned(), "--quiet".to_owned()];
    cmd.extend(mongo_tls(ctx.profile).split_whitespace().map(str::to_owned));
    cmd.push(format!("mongodb://127.0.0.1:{MONGODB_PORT}/admin?directConnection=true"));
    cmd.push(script.install_path.clone());
    s.command = cmd;
    Ok(s)
}

/// Where HAProxy finds the lab CA that signed the Gateways' certificates.
const HAPROXY_CA: &str = "/usr/local/etc/haproxy/tykgen-ca.crt";

fn haproxy_cfg(t: &Topology, gateways: &[&Machine], health: &str, tls: bool) -> String {
    let mut out = format!(
        "# haproxy.cfg of the load balancer, generated by tykgen from profile \"{}\".\n\
         # Spreads client traffic over the Gateways, each checked on {health}.\n\
         global\n    log stdout format raw local0\n\n\
         defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\n\
         resolvers docker\n    nameserver dns 127.0.0.11:53\n    hold valid 10s\n\n\
         frontend health\n    bind 127.0.0.1:8404\n    monitor-uri /healthz\n\n\
         frontend gateways\n    bind :{LB_PORT}\n    default_backend gateways\n\n\
         backend gateways\n    balance roundrobin\n    option httpchk GET {health}\n",
        t.name
    );
    for g in gateways {
        // Over TLS (`tyk.tls`: Tyk serves the proxy and control ports alike) HAProxy verifies
        // each Gateway's certificate and host name; `check-ssl` because the checks go to
        // another port. HAProxy 2.8 configuration.txt: `ssl`, `verify`, `ca-file`, `verifyhost`,
        // `check-ssl`.
        let ssl = if tls {
            format!(" ssl verify required ca-file {HAPROXY_CA} verifyhost {} check-ssl", g.endpoint())
        } else {
            String::new()
        };
        out.push_str(&format!(
            // Traffic to the proxy port; health checks to the control port, where Tyk 5.8 serves
            // them. No frontend forwards to the control port.
            "    server {} {}:{GATEWAY_PORT} check port {GATEWAY_CONTROL_PORT}{ssl} resolvers docker init-addr last,libc,none\n",
            g.name,
            g.endpoint()
        ));
    }
    out
}

fn env_example(t: &Topology) -> String {
    let mut out = format!(
        "# .env.example of the compose lab of profile \"{}\", generated by tykgen.\n\
         # Every secret the lab needs, by name, without values. Create .env (mode 0600) with strong\n\
         # random values with `tykgen lab-secrets`, run in this folder (it never overwrites an\n\
         # existing .env), or copy this file to .env and fill it in.\n\
         # Every value may contain only A-Z a-z 0-9 . _ ~ - (the pattern [A-Za-z0-9._~-]+): values are\n\
         # pasted unencoded into URLs (the MongoDB connection string), configuration files and shell\n\
         # commands, where @ : / ? # % $ quotes or spaces would break them.\n",
        t.name
    );
    for s in &t.secrets {
        out.push_str(&format!(
            "\n# {}{}\n{}=\n",
            s.description,
            if s.generated { "" } else { " - yours to supply" },
            env_name(&s.name)
        ));
    }
    out
}

/// The `.env` secrets of a profile: `(variable, description, generated)`.
#[must_use]
pub fn env_secrets(t: &Topology) -> Vec<(String, String, bool)> {
    t.secrets.iter().map(|s| (env_name(&s.name), s.description.clone(), s.generated)).collect()
}

/// The machines that need lab TLS material, with the names their certificate must carry:
/// `(machine, [host name, service name, address?])`.
#[must_use]
pub fn tls_subjects(t: &Topology) -> Vec<(String, Vec<String>)> {
    t.machines
        .iter()
        .map(|m| {
            let mut names = vec![m.host.clone(), m.name.clone()];
            names.extend(m.address.clone());
            // The Dashboard calls every Gateway by the shared control name.
            if m.role == Role::Gateway {
                names.push(t.gateway_control_host());
            }
            (m.name.clone(), names)
        })
        .collect()
}

/// Service names by kind, for tests: `BTreeMap<service, kind>`.
#[doc(hidden)]
#[must_use]
pub fn expected_services(t: &Topology) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    out.insert(INIT_SERVICE.to_owned(), "one-shot");
    for m in &t.machines {
        out.insert(m.name.clone(), "machine");
    }
    for d in &t.redis {
        if d.settings.mode == RedisMode::Cluster {
            out.insert(cluster_init_service(d.store), "one-shot");
        }
    }
    if t.database.as_ref().is_some_and(|d| d.engine == Engine::Mongodb) {
        out.insert(MONGO_INIT_SERVICE.to_owned(), "one-shot");
    }
    if t.load_balancer {
        out.insert(LB_SERVICE.to_owned(), "load-balancer");
    }
    out
}
