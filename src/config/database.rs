//! PostgreSQL (`postgresql.conf`, `pg_hba.conf`, bootstrap files) and MongoDB (`mongod.conf`,
//! the replica-set initiation script) for every database member.
//!
//! Decisions:
//! - **listen**: the pinned IP address when there is one, else all interfaces; who may connect
//!   is decided by the network rules derived from the topology's links (and, for PostgreSQL,
//!   by `pg_hba.conf`, which names exactly the Dashboard, Pump and member machines).
//! - **PostgreSQL replicas** are created by `bootstrap-replica.sh` (`pg_basebackup -R`), which
//!   writes `standby.signal` and `primary_conninfo` into the copied data directory, so no file
//!   of the bundle carries `primary_conninfo` (it would hold the replication password).
//!   `PGPASSWORD` comes from the environment.
//! - **PostgreSQL roles and database** are created by `bootstrap-primary.sql`, run with `psql`
//!   on the primary; it reads the passwords from the environment with backquoted `printenv`
//!   (works with every supported psql, unlike `\getenv` which needs 15+), and is idempotent.
//! - **Analytics retention** (PostgreSQL, `analytics.retention_days`): the Pump shards its tables
//!   by day, and the primary carries `retention.sql`, which drops the daily tables older than the
//!   retention (a `DO` block that finds them by name; idempotent, no secret). The deployment runs
//!   it on a schedule; it does nothing on a standby.
//! - **Replication slots**: replicas are created with a permanent slot (`pg_basebackup -C -S`), so
//!   `max_slot_wal_keep_size` (PostgreSQL 13+) caps the WAL a slot may hold back on every member:
//!   a replica that stays down invalidates its slot (and must be bootstrapped again) instead of
//!   filling the primary's disk.
//! - **Mutual TLS** (PostgreSQL): `clientcert=verify-ca` (a certificate signed by the CA, plus
//!   the scram password). Not `verify-full`: it compares the certificate's CN with the role
//!   name (`tyk`, `replicator`), which per-machine certificates (CN = host name) do not match,
//!   and PostgreSQL rejects `map=` (a CN-to-role mapping) with `scram-sha-256`.
//! - **MongoDB**: members authenticate each other with a key file written from the
//!   `mongodb_keyfile` secret; the first member carries `mongo-init-replica-set.js`, run with
//!   `mongosh` through loopback (MongoDB's localhost exception), passwords from `process.env`.

use serde::Serialize;

use super::redis::{is_ip, listen_on};
use super::{ConfigFile, tls_paths};
use crate::output::FileMode;
use crate::profile::{Database, Engine, Profile};
use crate::render::Renderer;
use crate::topology::{MONGODB_PORT, Machine, POSTGRES_PORT, Replication, Role, SecretUse, Service, Topology};

/// `shared_buffers` of every PostgreSQL server, sized for a machine with about 4 GB of RAM. The
/// compose lab gives each PostgreSQL container a `/dev/shm` of this size (`shm_size`): Docker's
/// 64 MB default is too small for the dynamic shared memory of parallel queries.
pub const SHARED_BUFFERS: &str = "1GB";

/// The one database of the Dashboard and the Pump's analytics (PostgreSQL and MongoDB).
pub(crate) const DATABASE: &str = "tyk_analytics";
/// The role (PostgreSQL) / user (MongoDB) the Dashboard and Pump log in as.
pub(crate) const DB_USER: &str = "tyk";
/// The `mongo` pump's `collection_name`, capped when `analytics.capping.max_size` is set.
pub(crate) const ANALYTICS_COLLECTION: &str = "tyk_analytics";
/// The PostgreSQL streaming-replication role.
pub(crate) const REPLICATION_ROLE: &str = "replicator";
/// Where the bootstrap scripts are installed.
pub(crate) const SCRIPT_DIR: &str = "/usr/local/lib/tykgen";
/// The Pump's sharded tables `retention.sql` drops: `<prefix>_YYYYMMDD` (tyk-pump's
/// `analytics.SQLTable`, `AggregateSQLTable` and `UptimeSQLTable`).
pub(crate) const SHARDED_TABLE_PATTERN: &str = "^tyk_(analytics|aggregated|uptime_analytics)_[0-9]{8}$";
/// WAL a replication slot may hold back on a member (`max_slot_wal_keep_size`, PostgreSQL 13+).
pub(crate) const MAX_SLOT_WAL_KEEP_SIZE: &str = "10GB";
/// MongoDB's configuration file.
pub(crate) const MONGOD_CONF: &str = "/etc/mongod.conf";
/// MongoDB's key file (internal authentication), written from the `mongodb_keyfile` secret.
pub(crate) const MONGODB_KEYFILE: &str = "/etc/mongodb/keyfile";

/// PostgreSQL's configuration directory for `major` (Debian layout).
pub(crate) fn postgres_conf_dir(major: u32) -> String {
    format!("/etc/postgresql/{major}/main")
}

/// PostgreSQL's data directory for `major`.
pub(crate) fn postgres_data_dir(major: u32) -> String {
    format!("/var/lib/postgresql/{major}/main")
}

/// The configuration of one database member.
pub(super) fn machine(
    profile: &Profile,
    t: &Topology,
    m: &Machine,
    r: &Renderer,
) -> anyhow::Result<(Vec<ConfigFile>, Vec<SecretUse>)> {
    let db = profile
        .database
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("database machine {} without a database in the profile", m.name))?;
    match (m.role, db.engine) {
        (Role::Postgres, Engine::Postgres) => postgres(profile, db, t, m, r),
        (Role::Mongodb, Engine::Mongodb) => mongodb(profile, db, t, m, r),
        (role, _) => anyhow::bail!("database::machine called for a {} machine", role.as_str()),
    }
}

fn file(name: &str, install_path: String, contents: String, mode: FileMode) -> ConfigFile {
    ConfigFile { name: name.to_owned(), install_path, contents: contents.into(), mode }
}

fn members(t: &Topology) -> anyhow::Result<Vec<&Machine>> {
    let db = t.database.as_ref().ok_or_else(|| anyhow::anyhow!("the topology has no database"))?;
    db.members.iter().map(|n| t.machine(n).ok_or_else(|| anyhow::anyhow!("unknown database member {n}"))).collect()
}

// ---------------------------------------------------------------- PostgreSQL

#[derive(Serialize)]
struct PgTls {
    cert: &'static str,
    key: &'static str,
    ca: &'static str,
}

#[derive(Serialize)]
struct PgConfCtx<'a> {
    machine: &'a str,
    part: &'static str,
    profile: &'a str,
    version: &'a str,
    major: u32,
    listen: String,
    listen_note: &'static str,
    port: u16,
    tls: Option<PgTls>,
    max_slot_wal_keep_size: Option<&'static str>,
    shared_buffers: &'static str,
}

#[derive(Serialize)]
struct HbaEntry {
    machine: String,
    address: String,
}

#[derive(Serialize)]
struct HbaCtx<'a> {
    machine: &'a str,
    profile: &'a str,
    kind: &'static str,
    database: &'static str,
    role: &'static str,
    replication_role: &'static str,
    client_options: &'static str,
    mutual: bool,
    has_host_names: bool,
    clients: Vec<HbaEntry>,
    replicas: Vec<HbaEntry>,
}

#[derive(Serialize)]
struct PrimaryCtx<'a> {
    machine: &'a str,
    profile: &'a str,
    role: &'static str,
    replication_role: &'static str,
    database: &'static str,
}

#[derive(Serialize)]
struct RetentionCtx<'a> {
    machine: &'a str,
    profile: &'a str,
    database: &'static str,
    days: u32,
    pattern: &'static str,
    path: &'a str,
}

#[derive(Serialize)]
struct ReplicaCtx<'a> {
    machine: &'a str,
    profile: &'a str,
    primary_name: &'a str,
    primary: &'a str,
    conninfo: String,
    slot: String,
    datadir: String,
    replication_role: &'static str,
}

/// A `pg_hba.conf` address for a client machine: its pinned IP as a single-host CIDR, else its
/// host name (which PostgreSQL checks by reverse and forward DNS).
fn hba_address(m: &Machine) -> String {
    match m.endpoint().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => format!("{ip}/32"),
        Ok(std::net::IpAddr::V6(ip)) => format!("{ip}/128"),
        Err(_) => m.endpoint().to_owned(),
    }
}

/// The replication slot of a replica (slot names allow `[a-z0-9_]`).
fn slot_name(m: &Machine) -> String {
    m.name.replace('-', "_")
}

fn postgres(
    profile: &Profile,
    db: &Database,
    t: &Topology,
    m: &Machine,
    r: &Renderer,
) -> anyhow::Result<(Vec<ConfigFile>, Vec<SecretUse>)> {
    let major = db.version.major();
    let conf_dir = postgres_conf_dir(major);
    let tls = db.tls.enabled;
    let mutual = tls && db.tls.mutual;
    let (listen, pinned) = listen_on(m);
    let listen = if pinned { listen } else { "*".to_owned() };
    let is_primary = m.replication == Replication::Primary;
    let part = if is_primary { "primary" } else { "streaming replica" };

    let conf = r.render(
        "config/postgresql.conf.tera",
        &PgConfCtx {
            machine: &m.name,
            part,
            profile: &profile.name,
            version: db.version.as_str(),
            major,
            listen,
            listen_note: if pinned {
                "Listens on the pinned address only (plus the local socket). Who may connect is decided by the network rules derived from the topology's links, and by pg_hba.conf."
            } else {
                "Listens on every interface: no pinned IP address. Who may connect is decided by the network rules derived from the topology's links, and by pg_hba.conf."
            },
            port: POSTGRES_PORT,
            tls: tls.then_some(PgTls { cert: tls_paths::CERT, key: tls_paths::KEY, ca: tls_paths::CA }),
            max_slot_wal_keep_size: (major >= 13).then_some(MAX_SLOT_WAL_KEEP_SIZE),
            shared_buffers: SHARED_BUFFERS,
        },
    )?;

    // Clients: the Dashboard and Pump machines that link to this member.
    let mut clients: Vec<&Machine> = t
        .links_to(&m.name)
        .filter(|l| l.service == Service::Postgres)
        .flat_map(|l| t.members(&l.from))
        .filter(|c| matches!(c.role, Role::Dashboard | Role::Pump))
        .collect();
    clients.sort_by(|a, b| a.name.cmp(&b.name));
    clients.dedup_by(|a, b| a.name == b.name);
    let others: Vec<&Machine> = members(t)?.into_iter().filter(|o| o.name != m.name).collect();
    let entry = |c: &Machine| HbaEntry { machine: c.name.clone(), address: hba_address(c) };
    let hba = r.render(
        "config/pg_hba.conf.tera",
        &HbaCtx {
            machine: &m.name,
            profile: &profile.name,
            kind: if tls { "hostssl" } else { "host" },
            database: DATABASE,
            role: DB_USER,
            replication_role: REPLICATION_ROLE,
            client_options: if mutual { " clientcert=verify-ca" } else { "" },
            mutual,
            has_host_names: clients.iter().chain(&others).any(|c| !is_ip(c.endpoint())),
            clients: clients.iter().map(|c| entry(c)).collect(),
            replicas: others.iter().map(|c| entry(c)).collect(),
        },
    )?;

    let mut files = vec![
        file("postgresql.conf", format!("{conf_dir}/postgresql.conf"), conf, FileMode::Normal),
        file("pg_hba.conf", format!("{conf_dir}/pg_hba.conf"), hba, FileMode::Normal),
    ];
    let mut secrets = Vec::new();
    match &m.replication {
        Replication::Primary => {
            let sql = r.render(
                "config/bootstrap-primary.sql.tera",
                &PrimaryCtx {
                    machine: &m.name,
                    profile: &profile.name,
                    role: DB_USER,
                    replication_role: REPLICATION_ROLE,
                    database: DATABASE,
                },
            )?;
            files.push(file(
                "bootstrap-primary.sql",
                format!("{SCRIPT_DIR}/bootstrap-primary.sql"),
                sql,
                FileMode::Normal,
            ));
            if let Some(days) = profile.analytics.retention_days {
                let path = format!("{SCRIPT_DIR}/retention.sql");
                let sql = r.render(
                    "config/retention.sql.tera",
                    &RetentionCtx {
                        machine: &m.name,
                        profile: &profile.name,
                        database: DATABASE,
                        days,
                        pattern: SHARDED_TABLE_PATTERN,
                        path: &path,
                    },
                )?;
                files.push(file("retention.sql", path, sql, FileMode::Normal));
            }
            for (var, secret) in [
                ("POSTGRES_PASSWORD", "postgres_superuser_password"),
                ("POSTGRES_TYK_PASSWORD", "postgres_tyk_password"),
                ("POSTGRES_REPLICATION_PASSWORD", "postgres_replication_password"),
            ] {
                secrets.push(SecretUse::Env { var: var.to_owned(), secret: secret.to_owned() });
            }
        }
        Replication::ReplicaOf(primary_name) => {
            let primary =
                t.machine(primary_name).ok_or_else(|| anyhow::anyhow!("unknown PostgreSQL primary {primary_name}"))?;
            let mut conninfo = format!("host={} port={POSTGRES_PORT} user={REPLICATION_ROLE}", primary.endpoint());
            if tls {
                let mode = if db.tls.verify { "verify-full" } else { "require" };
                conninfo.push_str(&format!(" sslmode={mode} sslrootcert={}", tls_paths::CA));
                if mutual {
                    conninfo.push_str(&format!(" sslcert={} sslkey={}", tls_paths::CERT, tls_paths::KEY));
                }
            }
            conninfo.push_str(&format!(" application_name={}", slot_name(m)));
            let sh = r.render(
                "config/bootstrap-replica.sh.tera",
                &ReplicaCtx {
                    machine: &m.name,
                    profile: &profile.name,
                    primary_name,
                    primary: primary.endpoint(),
                    conninfo,
                    slot: slot_name(m),
                    datadir: postgres_data_dir(major),
                    replication_role: REPLICATION_ROLE,
                },
            )?;
            files.push(file(
                "bootstrap-replica.sh",
                format!("{SCRIPT_DIR}/bootstrap-replica.sh"),
                sh,
                FileMode::Executable,
            ));
            secrets.push(SecretUse::Env {
                var: "PGPASSWORD".to_owned(),
                secret: "postgres_replication_password".to_owned(),
            });
        }
        other => anyhow::bail!("PostgreSQL machine {} with replication {other:?}", m.name),
    }
    Ok((files, secrets))
}

// ------------------------------------------------------------------- MongoDB

#[derive(Serialize)]
struct MongoTls {
    pem: &'static str,
    ca: &'static str,
    mutual: bool,
}

#[derive(Serialize)]
struct MongodCtx<'a> {
    machine: &'a str,
    profile: &'a str,
    version: &'a str,
    replica_set: &'a str,
    dbpath: &'static str,
    logpath: &'static str,
    port: u16,
    bind_all: bool,
    bind: String,
    bind_note: &'static str,
    ipv6: bool,
    tls: Option<MongoTls>,
    keyfile: &'static str,
}

#[derive(Serialize)]
struct MongoInitCtx<'a> {
    machine: &'a str,
    profile: &'a str,
    replica_set: &'a str,
    members: Vec<String>,
    database: &'static str,
    user: &'static str,
    port: u16,
    mongosh_flags: String,
    /// The Pump's capped analytics collection, created here before the Pump or Dashboard starts.
    capped: Option<CappedCollection>,
}

/// `tyk_analytics` as a capped collection of `max_bytes` (`analytics.capping.max_size`).
#[derive(Serialize)]
struct CappedCollection {
    name: &'static str,
    max_bytes: u64,
}

fn mongodb(
    profile: &Profile,
    db: &Database,
    t: &Topology,
    m: &Machine,
    r: &Renderer,
) -> anyhow::Result<(Vec<ConfigFile>, Vec<SecretUse>)> {
    let replica_set = t
        .database
        .as_ref()
        .and_then(|d| d.replica_set.as_deref())
        .ok_or_else(|| anyhow::anyhow!("MongoDB without a replica-set name"))?;
    let (ip, pinned) = listen_on(m);
    let tls = db.tls.enabled;
    let conf = r.render(
        "config/mongod.conf.tera",
        &MongodCtx {
            machine: &m.name,
            profile: &profile.name,
            version: db.version.as_str(),
            replica_set,
            dbpath: "/var/lib/mongodb",
            logpath: "/var/log/mongodb/mongod.log",
            port: MONGODB_PORT,
            bind_all: !pinned,
            // Loopback too: the initiation script uses MongoDB's localhost exception.
            bind: if ip.contains(':') { format!("::1,{ip}") } else { format!("127.0.0.1,{ip}") },
            bind_note: if pinned {
                "The pinned address, and loopback for mongo-init-replica-set.js. Who may connect is decided by the network rules derived from the topology's links."
            } else {
                "Every interface: no pinned IP address. Who may connect is decided by the network rules derived from the topology's links."
            },
            ipv6: pinned && ip.contains(':'),
            tls: tls.then_some(MongoTls { pem: tls_paths::PEM, ca: tls_paths::CA, mutual: db.tls.mutual }),
            keyfile: MONGODB_KEYFILE,
        },
    )?;
    let mut files = vec![file("mongod.conf", MONGOD_CONF.to_owned(), conf, FileMode::Normal)];
    let mut secrets = vec![SecretUse::File {
        path: MONGODB_KEYFILE.to_owned(),
        template: "{mongodb_keyfile}".to_owned(),
        secrets: vec!["mongodb_keyfile".to_owned()],
    }];
    let all = members(t)?;
    if all.first().is_some_and(|first| first.name == m.name) {
        let mongosh_flags = if tls {
            // Through loopback the certificate's host name cannot match; the CA still is checked.
            format!(
                "--tls --tlsCAFile {} --tlsCertificateKeyFile {} --tlsAllowInvalidHostnames ",
                tls_paths::CA,
                tls_paths::PEM
            )
        } else {
            String::new()
        };
        let js = r.render(
            "config/mongo-init-replica-set.js.tera",
            &MongoInitCtx {
                machine: &m.name,
                profile: &profile.name,
                replica_set,
                members: all.iter().map(|x| t.addr(&x.name, MONGODB_PORT)).collect(),
                database: DATABASE,
                user: DB_USER,
                port: MONGODB_PORT,
                mongosh_flags,
                // The Pump caps only a collection it creates itself (tyk-pump@v1.12.0
                // pumps/mongo.go:259-306 `capCollection`: "already exists ... Ignoring"), and the
                // Dashboard may create it first, uncapped: so the init script creates it.
                capped: profile
                    .analytics
                    .capping
                    .max_size
                    .map(|size| CappedCollection { name: ANALYTICS_COLLECTION, max_bytes: size.0 }),
            },
        )?;
        files.push(file(
            "mongo-init-replica-set.js",
            format!("{SCRIPT_DIR}/mongo-init-replica-set.js"),
            js,
            FileMode::Normal,
        ));
        secrets.push(SecretUse::Env {
            var: "MONGODB_ADMIN_PASSWORD".to_owned(),
            secret: "mongodb_admin_password".to_owned(),
        });
        secrets
            .push(SecretUse::Env { var: "MONGODB_TYK_PASSWORD".to_owned(), secret: "mongodb_tyk_password".to_owned() });
    }
    Ok((files, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::redis::tests::{assert_no_secret, bundle_of, bundles};

    fn files_of<'a>(b: &'a crate::config::Bundle, name: &str) -> &'a [ConfigFile] {
        &b.get(name).unwrap().files
    }

    fn get<'a>(files: &'a [ConfigFile], name: &str) -> &'a str {
        &files.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no {name}")).contents
    }

    #[test]
    fn postgres_files_of_every_profile() {
        for (t, b) in bundles() {
            let Some(db) = &t.database else { continue };
            if db.engine != Engine::Postgres {
                continue;
            }
            for (i, member) in db.members.iter().enumerate() {
                let files = files_of(&b, member);
                for f in files {
                    assert_no_secret(&f.name, &f.contents);
                }
                let hba = get(files, "pg_hba.conf");
                assert!(!hba.contains("0.0.0.0/0") && !hba.contains("::/0") && !hba.contains(" all  all"), "{hba}");
                assert!(!hba.contains("gateway-"), "{member}: gateway in pg_hba: {hba}");
                assert!(hba.contains("dashboard-1.tyk.internal") && hba.contains("pump-1.tyk.internal"), "{hba}");
                let conf = get(files, "postgresql.conf");
                assert!(!conf.lines().any(|l| l.starts_with("data_directory") || l.starts_with("hba_file")));
                assert!(
                    conf.contains("wal_level = replica\n") && conf.contains("password_encryption = 'scram-sha-256'\n")
                );
                let tls = t.machine(member).is_some() && conf.contains("ssl = on\n");
                for l in hba.lines().filter(|l| !l.starts_with('#') && !l.starts_with("local")) {
                    assert!(l.starts_with(if tls { "hostssl " } else { "host " }), "{l}");
                    assert!(l.contains("scram-sha-256"), "{l}");
                }
                assert!(conf.contains("\nmax_slot_wal_keep_size = '10GB'\n"), "{member}: {conf}");
                let retention = files.iter().find(|f| f.name == "retention.sql");
                assert!(retention.is_none() || i == 0, "{member}: retention.sql on the primary only");
                if let Some(f) = retention {
                    assert_eq!(f.install_path, format!("{SCRIPT_DIR}/retention.sql"));
                    assert!(f.contents.contains(&format!("'{SHARDED_TABLE_PATTERN}'")), "{}", f.contents);
                    assert!(f.contents.contains("\\connect tyk_analytics\n") && f.contents.contains("DROP TABLE"));
                }
                if i == 0 {
                    let sql = get(files, "bootstrap-primary.sql");
                    assert!(sql.contains("CREATE DATABASE tyk_analytics OWNER tyk") && sql.contains("\\gexec"));
                    assert!(files.iter().all(|f| f.name != "bootstrap-replica.sh"));
                } else {
                    let sh = files.iter().find(|f| f.name == "bootstrap-replica.sh").unwrap();
                    assert_eq!(sh.mode, FileMode::Executable);
                    assert!(
                        sh.contents.contains("host=postgres-1.tyk.internal port=5432 user=replicator"),
                        "{}",
                        sh.contents
                    );
                    assert!(sh.contents.contains("pg_basebackup -d \"$conninfo\" -D \"$datadir\" -R -X stream -C -S"));
                    assert_eq!(
                        b.get(member).unwrap().secrets,
                        vec![SecretUse::Env {
                            var: "PGPASSWORD".into(),
                            secret: "postgres_replication_password".into()
                        }]
                    );
                }
            }
        }
    }

    #[test]
    fn retention_sql_follows_retention_days() {
        let (_, b) = bundle_of("production", &["analytics.retention_days=7"]);
        let sql = get(files_of(&b, "postgres-1"), "retention.sql");
        assert!(sql.contains("keep_from constant date := current_date - 7;"), "{sql}");
        assert!(!sql.contains("{{") && !sql.contains("{%"), "{sql}");
        // PostgreSQL 12 has no max_slot_wal_keep_size: the file says so instead of setting it.
        let (_, b) = bundle_of("production", &["database.version=12"]);
        let conf = get(files_of(&b, "postgres-1"), "postgresql.conf");
        assert!(!conf.lines().any(|l| l.starts_with("max_slot_wal_keep_size")), "{conf}");
        assert!(conf.contains("# max_slot_wal_keep_size needs PostgreSQL 13+"), "{conf}");
    }

    #[test]
    fn pinned_postgres_addresses() {
        let sets = ["machines.postgres-1.address=127.0.2.1", "machines.pump-1.address=2001:db8::7"];
        let (_, b) = bundle_of("production", &sets);
        let p1 = files_of(&b, "postgres-1");
        assert!(get(p1, "postgresql.conf").contains("listen_addresses = '127.0.2.1'\n"));
        let hba = get(p1, "pg_hba.conf");
        assert!(hba.contains("hostssl  tyk_analytics  tyk  2001:db8::7/128  scram-sha-256\n"), "{hba}");
        assert!(get(files_of(&b, "postgres-2"), "postgresql.conf").contains("listen_addresses = '*'\n"));
    }

    #[test]
    fn postgres_mutual_tls_maps_certificates() {
        let (_, b) = bundle_of("production", &["database.tls.mutual=true"]);
        let p1 = files_of(&b, "postgres-1");
        assert!(get(p1, "pg_hba.conf").contains("scram-sha-256 clientcert=verify-ca\n"));
        assert!(p1.iter().all(|f| f.name != "pg_ident.conf"));
        let sh = get(files_of(&b, "postgres-2"), "bootstrap-replica.sh");
        assert!(sh.contains("sslmode=verify-full sslrootcert=/etc/tykgen/tls/ca.crt sslcert="), "{sh}");
    }

    #[test]
    fn mongodb_members() {
        let (t, b) = bundle_of("production-mongo", &[]);
        let db = t.database.as_ref().unwrap();
        for (i, member) in db.members.iter().enumerate() {
            let mc = b.get(member).unwrap();
            let conf = get(&mc.files, "mongod.conf");
            let v: serde_json::Value = serde_saphyr::from_str(conf).unwrap();
            assert_eq!(v["replication"]["replSetName"], "tyk");
            assert_eq!(v["security"]["authorization"], "enabled");
            assert_eq!(v["security"]["keyFile"], MONGODB_KEYFILE);
            assert_eq!(v["net"]["port"], 27017);
            assert_eq!(v["net"]["tls"]["mode"], "requireTLS");
            assert_eq!(v["net"]["tls"]["allowConnectionsWithoutCertificates"], true);
            assert!(mc.secrets.contains(&SecretUse::File {
                path: MONGODB_KEYFILE.into(),
                template: "{mongodb_keyfile}".into(),
                secrets: vec!["mongodb_keyfile".into()],
            }));
            let init = mc.files.iter().find(|f| f.name == "mongo-init-replica-set.js");
            assert_eq!(init.is_some(), i == 0, "{member}");
            if let Some(init) = init {
                assert!(init.contents.contains(
                    "const members = [\"mongodb-1.tyk.internal:27017\",\"mongodb-2.tyk.internal:27017\",\"mongodb-3.tyk.internal:27017\"];"
                ), "{}", init.contents);
                assert!(
                    init.contents.contains("process.env.MONGODB_TYK_PASSWORD") && init.contents.contains("rs.status()")
                );
            }
        }
    }
}
