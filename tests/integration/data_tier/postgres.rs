//! PostgreSQL from the production profile (TLS, `sslmode=verify-full`): a primary from the
//! generated `postgresql.conf`/`pg_hba.conf` and `bootstrap-primary.sql`, a replica made by the
//! generated `bootstrap-replica.sh`; it streams, clients outside `pg_hba.conf` are refused, the
//! connection strings of the generated `tyk_analytics.conf` and `pump.conf` connect over TLS, and
//! after the primary dies and the replica is promoted they reach the new primary.
//!
//! Every loopback connection leaves from 127.0.0.1, so the replica (`postgres-2`) and the Pump
//! are pinned to 127.0.0.1: that is the address the primary's `pg_hba.conf` must let in.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::redis::secs;
use super::{CMD_TIMEOUT, Pki, Proc, Rendered, localize, pin, render, tail, text, wait_for, write};
use crate::tools::{command, run, tool};

struct PgTools {
    postgres: PathBuf,
    initdb: PathBuf,
    pg_ctl: PathBuf,
    psql: PathBuf,
    openssl: PathBuf,
    uid: u32,
    gid: u32,
}

impl PgTools {
    fn find() -> Option<Self> {
        let hint = "apt-get install postgresql (.ci/run)";
        let postgres = tool("postgres", hint)?;
        let initdb = tool("initdb", hint)?;
        let pg_ctl = tool("pg_ctl", hint)?;
        tool("pg_basebackup", hint)?;
        let psql = tool("psql", hint)?;
        let openssl = tool("openssl", "apt-get install openssl (.ci/run)")?;
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        let (Some(uid), Some(gid)) = (id("-u"), id("-g")) else {
            tool("postgres-user", "the `postgres` user, created by apt-get install postgresql")?;
            return None;
        };
        Some(Self { postgres, initdb, pg_ctl, psql, openssl, uid, gid })
    }

    /// The installed major version (the profile is rendered for it).
    fn major(&self) -> String {
        let out = run(command(&self.postgres).arg("--version"), CMD_TIMEOUT);
        let t = text(&out);
        let v = t.split(')').nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or_else(|| panic!("{t}"));
        v.split('.').next().unwrap().to_owned()
    }

    /// `cmd` run as the `postgres` user through `runuser`, with the server programs on PATH.
    fn as_postgres(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = command(Path::new("runuser"));
        cmd.args(["-u", "postgres", "--"]).arg(program).args(args);
        let bin = self.postgres.parent().unwrap().to_path_buf();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::iter::once(bin).chain(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).unwrap());
        cmd
    }
}

/// `chown -R postgres:postgres path`.
fn chown_pg(t: &PgTools, path: &Path) {
    chown(path, Some(t.uid), Some(t.gid)).unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    if path.is_dir() {
        for e in fs::read_dir(path).unwrap() {
            chown_pg(t, &e.unwrap().path());
        }
    }
}

/// One PostgreSQL server: data directory and socket directory under `root/<machine>/`.
struct PgNode {
    machine: String,
    data: PathBuf,
    sock: PathBuf,
    tls: PathBuf,
    proc: Option<Proc>,
}

impl PgNode {
    fn new(t: &PgTools, root: &Path, machine: &str, tls: &Path) -> Self {
        let dir = root.join(machine);
        let sock = dir.join("sock");
        fs::create_dir_all(&sock).unwrap();
        chown_pg(t, &dir);
        // The server's key must belong to the server's user, mode 0600.
        chown_pg(t, tls);
        fs::set_permissions(tls.join("machine.key"), fs::Permissions::from_mode(0o600)).unwrap();
        Self { machine: machine.to_owned(), data: dir.join("data"), sock, tls: tls.to_path_buf(), proc: None }
    }

    /// The generated postgresql.conf and pg_hba.conf, TLS paths localized, into the data folder.
    fn install_conf(&self, t: &PgTools, r: &Rendered) {
        for name in ["postgresql.conf", "pg_hba.conf"] {
            let path = self.data.join(name);
            write(&path, &localize(r.file(&self.machine, name), &self.data, &self.tls));
            chown_pg(t, &path);
        }
    }

    /// Starts `postgres` as the postgres user (its PID is ours to kill). Test-only: the socket
    /// folder (`unix_socket_directories`), like a pid file, is moved into the test's folder.
    fn start(&mut self, t: &PgTools) {
        let mut cmd = Command::new(&t.postgres);
        // HOME as the postgres user would have it (not root's: libpq in the WAL receiver looks
        // for ~/.postgresql/postgresql.crt there).
        cmd.uid(t.uid).gid(t.gid).env("HOME", self.data.parent().unwrap()).arg("-D").arg(&self.data);
        cmd.arg("-c").arg(format!("unix_socket_directories={}", self.sock.display()));
        let log = self.data.parent().unwrap().join("server.log");
        self.proc = Some(Proc::spawn(&self.machine, &mut cmd, &log).with_stop_signal("INT"));
        wait_for(
            &format!("{} to accept connections", self.machine),
            Duration::from_secs(30),
            || self.log(),
            || self.local(t, "select 1").map(|_| ()),
        );
    }

    fn log(&self) -> String {
        format!("--- {} log:\n{}", self.machine, tail(&self.data.parent().unwrap().join("server.log"), 20))
    }

    /// `sql` as the superuser through the local socket (peer authentication).
    fn local(&self, t: &PgTools, sql: &str) -> Result<String, String> {
        let sock = self.sock.display().to_string();
        let out =
            run(&mut t.as_postgres(&t.psql, &["-h", &sock, "-X", "-At", "-d", "postgres", "-c", sql]), CMD_TIMEOUT);
        if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned()) } else { Err(text(&out)) }
    }
}

/// `psql "<conninfo>"` as a client (root, the way a Tyk machine would connect), with `password`.
fn client(t: &PgTools, conninfo: &str, password: &str, sql: &str) -> Output {
    run(
        command(&t.psql)
            .args([conninfo, "-X", "-At", "-c", sql])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "10"),
        CMD_TIMEOUT,
    )
}

/// The `tyk` role's password as the Dashboard and the Pump get it: inside
/// `TYK_DB_STORAGE_MAIN_CONNECTIONSTRING` and `TYK_PMP_PUMPS_SQL_META_CONNECTIONSTRING`, whose
/// strings are the files' `connection_string` plus ` password=...`.
fn tyk_password(r: &Rendered) -> String {
    let mut found = Vec::new();
    for (machine, var, file) in [
        ("dashboard-1", "TYK_DB_STORAGE_MAIN_CONNECTIONSTRING", "tyk_analytics.conf"),
        ("pump-1", "TYK_PMP_PUMPS_SQL_META_CONNECTIONSTRING", "pump.conf"),
    ] {
        let value = r.env_template(machine, var);
        let (conninfo, pw) = value.rsplit_once(" password=").unwrap_or_else(|| panic!("{machine} {var}: {value}"));
        let mut in_file = Vec::new();
        connection_strings(&r.json(machine, file), &mut in_file);
        assert!(in_file.iter().any(|c| c == conninfo), "{machine}: {var} is not the file's connection string");
        found.push(pw.to_owned());
    }
    assert_eq!(found[0], found[1], "the Dashboard and the Pump use different passwords");
    found.swap_remove(0)
}

/// Every `connection_string` in a generated Tyk JSON file.
fn connection_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s) if k == "connection_string" => out.push(s.clone()),
                    _ => connection_strings(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| connection_strings(x, out)),
        _ => {}
    }
}

/// The connection strings of `machine`'s generated `file`, with TLS paths in `tls`.
fn tyk_conninfos(r: &Rendered, machine: &str, file: &str, tls: &Path) -> Vec<String> {
    let mut all = Vec::new();
    connection_strings(&r.json(machine, file), &mut all);
    all.sort();
    all.dedup();
    assert!(!all.is_empty(), "{machine}/{file} has no connection_string");
    all.iter().map(|c| c.replace("/etc/tykgen/tls", &tls.display().to_string())).collect()
}

/// initdb as the postgres user (`runuser`), the generated files, the server, then the generated
/// `bootstrap-primary.sql` (which must refuse to run without its passwords, and is idempotent).
fn start_primary(t: &PgTools, r: &Rendered, p1: &mut PgNode, scripts: &Path) {
    let data = p1.data.display().to_string();
    let out = run(
        &mut t.as_postgres(&t.initdb, &["-D", &data, "-A", "peer", "-U", "postgres", "-E", "UTF8", "--locale=C"]),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "initdb failed: {}", text(&out));
    p1.install_conf(t, r);
    p1.start(t);
    let sql = scripts.join("bootstrap-primary.sql");
    write(&sql, r.file("postgres-1", "bootstrap-primary.sql"));
    let sock = p1.sock.display().to_string();
    let bootstrap = |env: &[(&str, String)]| {
        let mut cmd = t.as_postgres(
            &t.psql,
            &["-h", &sock, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", &sql.display().to_string()],
        );
        for var in ["POSTGRES_PASSWORD", "POSTGRES_TYK_PASSWORD", "POSTGRES_REPLICATION_PASSWORD"] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().map(|(k, v)| (*k, v)));
        run(&mut cmd, Duration::from_secs(60))
    };
    let out = bootstrap(&[]);
    assert!(
        !out.status.success() && text(&out).contains("set POSTGRES_PASSWORD"),
        "bootstrap without passwords must fail: {}",
        text(&out)
    );
    let env: Vec<(&str, String)> = ["POSTGRES_PASSWORD", "POSTGRES_TYK_PASSWORD", "POSTGRES_REPLICATION_PASSWORD"]
        .into_iter()
        .map(|v| (v, r.secret_env("postgres-1", v)))
        .collect();
    for run_no in 1..=2 {
        let out = bootstrap(&env);
        assert!(out.status.success(), "bootstrap-primary.sql run {run_no} failed: {}\n{}", text(&out), p1.log());
    }
}

/// `sql` as the superuser in `database` through `node`'s local socket.
fn local_in(t: &PgTools, node: &PgNode, database: &str, sql: &str) -> Result<String, String> {
    let sock = node.sock.display().to_string();
    let out = run(&mut t.as_postgres(&t.psql, &["-h", &sock, "-X", "-At", "-d", database, "-c", sql]), CMD_TIMEOUT);
    if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned()) } else { Err(text(&out)) }
}

/// The generated `retention.sql` (run as the deployment runs it: `psql -f`, no database given)
/// drops the Pump's daily tables older than `analytics.retention_days` and nothing else; it is
/// idempotent, and on a standby it does nothing.
fn retention_drops_old_daily_tables(t: &PgTools, r: &Rendered, primary: &PgNode, standby: &PgNode, scripts: &Path) {
    let days: i64 = r.profile.analytics.retention_days.expect("the profile sets analytics.retention_days").into();
    assert!(
        r.topology
            .machines
            .iter()
            .filter(|m| m.name != "postgres-1")
            .all(|m| { r.bundle.get(&m.name).is_none_or(|b| b.files.iter().all(|f| f.name != "retention.sql")) }),
        "retention.sql outside the primary"
    );
    let path = scripts.join("retention.sql");
    write(&path, r.file("postgres-1", "retention.sql"));
    let run_on = |node: &PgNode| {
        let sock = node.sock.display().to_string();
        let out = run(
            &mut t.as_postgres(
                &t.psql,
                &["-h", &sock, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", &path.display().to_string()],
            ),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "retention.sql on {} failed: {}\n{}", node.machine, text(&out), node.log());
        text(&out)
    };
    // Daily tables of every sharded pump: today, N-1, N (kept), N+1, N+5 days ago (dropped); and
    // look-alikes that must stay: unsharded, not a date, another name, another schema.
    let ages = [0, days - 1, days, days + 1, days + 5];
    let prefixes = ["tyk_analytics", "tyk_aggregated", "tyk_uptime_analytics"];
    let mut create = vec![
        "create schema if not exists archive".to_owned(),
        "create table archive.tyk_analytics_20000101(x int)".to_owned(),
    ];
    for table in ["tyk_analytics", "tyk_analytics_20001399", "tyk_analytics_x_20000101", "other_20000101"] {
        create.push(format!("create table {table}(x int)"));
    }
    let day = |age: i64| format!("to_char(current_date - {age}, 'YYYYMMDD')");
    let mut sql = create.join("; ");
    sql.push_str("; do $$ begin ");
    for prefix in prefixes {
        for age in ages {
            sql.push_str(&format!("execute 'create table {prefix}_' || {} || '(x int)'; ", day(age)));
        }
    }
    sql.push_str("end $$");
    let create = sql;
    local_in(t, primary, "tyk_analytics", &create).unwrap_or_else(|e| panic!("{e}"));
    let tables = |node: &PgNode| -> BTreeSet<String> {
        local_in(
            t,
            node,
            "tyk_analytics",
            "select schemaname || '.' || tablename from pg_tables where schemaname in ('public', 'archive')",
        )
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
    };
    let before = tables(primary);
    let mut want = before.clone();
    for prefix in prefixes {
        for age in [days + 1, days + 5] {
            let name = local_in(t, primary, "postgres", &format!("select 'public.{prefix}_' || {}", day(age))).unwrap();
            assert!(want.remove(&name), "{name} was not created: {before:?}");
        }
    }
    assert_eq!(before.len(), 4 + 3 * 5 + 1, "{before:?}");
    // On the standby: nothing dropped, no error.
    wait_for(
        "the daily tables to reach the standby",
        Duration::from_secs(20),
        || standby.log(),
        || {
            if tables(standby) == before { Ok(()) } else { Err(format!("{:?}", tables(standby))) }
        },
    );
    assert!(run_on(standby).contains("standby"), "retention.sql on a standby must say it does nothing");
    assert_eq!(tables(primary), before);
    for run_no in 1..=2 {
        let out = run_on(primary);
        assert_eq!(tables(primary), want, "run {run_no}: {out}");
        assert!(out.contains("tyk_analytics_20001399 does not end in a date"), "{out}");
    }
}

const WHO: &str = "select current_user || '|' || inet_server_addr() || '|' || (select ssl from pg_stat_ssl where pid = pg_backend_pid())";

#[test]
fn postgres_replicates_refuses_strangers_and_tyk_connects() {
    let Some(t) = PgTools::find() else { return };
    let _range = super::claim_range(24);
    let tmp = tempfile::tempdir().expect("tempdir");
    // The postgres user must reach its files under the test's folder.
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let major = t.major();
    let sets_with = |pump: &str| {
        let mut sets = pin(&[
            ("postgres-1", "127.0.24.1"),
            ("postgres-2", "127.0.0.1"),
            ("pump-1", pump),
            ("dashboard-1", "127.0.24.4"),
        ]);
        sets.push(format!("database.version={major}"));
        sets
    };
    let r = render("production", &sets_with("127.0.0.1"));
    let db = &r.topology.database.as_ref().expect("a database");
    assert_eq!(db.members, ["postgres-1", "postgres-2"]);
    let pki = Pki::new(&t.openssl, &tmp.path().join("pki"));
    let certs = pki.machines(&r, &["postgres-1", "postgres-2", "pump-1", "dashboard-1"]);
    let root = tmp.path().join("pg");
    let mut p1 = PgNode::new(&t, &root, "postgres-1", &certs["postgres-1"]);
    let mut p2 = PgNode::new(&t, &root, "postgres-2", &certs["postgres-2"]);
    let logs = |a: &PgNode, b: &PgNode| format!("{}\n{}", a.log(), b.log());

    // Primary: initdb as the postgres user, the generated files, then bootstrap-primary.sql.
    let scripts = tmp.path().join("scripts");
    start_primary(&t, &r, &mut p1, &scripts);

    // Replica: the generated bootstrap-replica.sh (pg_basebackup -R), then its own files.
    let script = scripts.join("bootstrap-replica.sh");
    write(&script, &localize(r.file("postgres-2", "bootstrap-replica.sh"), &scripts, &p2.tls));
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let started = Instant::now();
    let out = run(
        t.as_postgres(&script, &[&p2.data.display().to_string()])
            .env("PGPASSWORD", r.secret_env("postgres-2", "PGPASSWORD")),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "bootstrap-replica.sh failed: {}\n{}", text(&out), p1.log());
    assert!(p2.data.join("standby.signal").is_file(), "pg_basebackup -R wrote no standby.signal");
    p2.install_conf(&t, &r);
    p2.start(&t);
    let streaming = wait_for(
        "the replica to stream (pg_stat_replication)",
        Duration::from_secs(30),
        || logs(&p1, &p2),
        || match p1.local(&t, "select application_name || '|' || state from pg_stat_replication")?.as_str() {
            s if s.ends_with("|streaming") => Ok(s.to_owned()),
            other => Err(format!("pg_stat_replication: {other:?}")),
        },
    );
    eprintln!(
        "data_tier: PostgreSQL replica streaming ({streaming}) {:.2} s after bootstrap-replica.sh started",
        secs(started)
    );
    assert_eq!(streaming, "postgres_2|streaming");
    assert_eq!(p2.local(&t, "select pg_is_in_recovery()").unwrap(), "t");
    // The permanent slot of the replica holds back at most max_slot_wal_keep_size of WAL.
    for node in [&p1, &p2] {
        assert_eq!(node.local(&t, "show max_slot_wal_keep_size").unwrap(), "10GB", "{}", node.machine);
    }
    assert_eq!(
        p1.local(
            &t,
            "select slot_name || '|' || wal_status || '|' || (safe_wal_size is not null) from pg_replication_slots"
        )
        .unwrap(),
        "postgres_2|reserved|true"
    );

    // Analytics retention on the primary (and a no-op on the standby).
    retention_drops_old_daily_tables(&t, &r, &p1, &p2, &scripts);

    // Tyk's connection strings (Dashboard and Pump) connect to the primary over TLS.
    // The password of the role `tyk` reaches the Dashboard and the Pump inside the connection
    // strings of their documented variables (the files hold the strings without it).
    let tyk_pw = tyk_password(&r);
    let mut conninfos = Vec::new();
    for (machine, file) in [("dashboard-1", "tyk_analytics.conf"), ("pump-1", "pump.conf")] {
        for c in tyk_conninfos(&r, machine, file, &certs[machine]) {
            assert!(c.contains("sslmode=verify-full"), "{machine}/{file}: {c}");
            let out = client(&t, &c, &tyk_pw, WHO);
            assert_eq!(text(&out), "tyk|127.0.24.1/32|true", "{machine}/{file}: {c}\n{}", p1.log());
            conninfos.push(c);
        }
    }
    let pump = conninfos.last().unwrap().clone();
    let out = client(&t, &pump, &tyk_pw, "create table tykgen_probe(x int); insert into tykgen_probe values (42)");
    assert!(out.status.success(), "{}", text(&out));
    wait_for(
        "the write to reach the replica",
        Duration::from_secs(20),
        || logs(&p1, &p2),
        || {
            let sql = "select x from tykgen_probe";
            let sock = p2.sock.display().to_string();
            let out = run(
                &mut t.as_postgres(&t.psql, &["-h", &sock, "-X", "-At", "-d", "tyk_analytics", "-c", sql]),
                CMD_TIMEOUT,
            );
            if text(&out) == "42" { Ok(()) } else { Err(text(&out)) }
        },
    );

    // Refused: no TLS, a wrong password, another database.
    let refused = |conninfo: &str, password: &str, want: &str| {
        let out = client(&t, conninfo, password, "select 1");
        assert!(!out.status.success(), "{conninfo} must be refused: {}", text(&out));
        assert!(text(&out).contains(want), "{conninfo}: expected {want:?}, got {}", text(&out));
    };
    let one_host = "host=127.0.24.1 dbname=tyk_analytics user=tyk";
    refused(&format!("{one_host} sslmode=disable"), &tyk_pw, "no pg_hba.conf entry");
    refused(&pump, "wrong", "password authentication failed");
    refused(&pump.replace("dbname=tyk_analytics", "dbname=postgres"), &tyk_pw, "no pg_hba.conf entry");
    // A client outside pg_hba.conf: the same profile with the Pump elsewhere leaves no Tyk machine
    // on 127.0.0.1; with that rendering's pg_hba.conf the connection from 127.0.0.1 is refused.
    let moved = render("production", &sets_with("127.0.24.3"));
    let hba = p1.data.join("pg_hba.conf");
    write(&hba, moved.file("postgres-1", "pg_hba.conf"));
    assert_eq!(p1.local(&t, "select pg_reload_conf()").unwrap(), "t");
    wait_for(
        "the reloaded pg_hba.conf to refuse 127.0.0.1",
        Duration::from_secs(10),
        || p1.log(),
        || {
            let out = client(&t, &pump, &tyk_pw, "select 1");
            let t = text(&out);
            if !out.status.success() && t.contains("no pg_hba.conf entry for host \"127.0.0.1\"") {
                Ok(())
            } else {
                Err(t)
            }
        },
    );
    write(&hba, r.file("postgres-1", "pg_hba.conf"));
    chown_pg(&t, &hba);
    assert_eq!(p1.local(&t, "select pg_reload_conf()").unwrap(), "t");

    // Failover: the primary dies (immediate shutdown), the replica is promoted, and the same
    // connection strings (target_session_attrs=read-write) find it.
    let started = Instant::now();
    p1.proc.take().unwrap().stop("QUIT", Duration::from_secs(10));
    let data2 = p2.data.display().to_string();
    let out = run(&mut t.as_postgres(&t.pg_ctl, &["-D", &data2, "promote", "-w", "-t", "30"]), Duration::from_secs(40));
    assert!(out.status.success(), "pg_ctl promote failed: {}\n{}", text(&out), p2.log());
    for c in &conninfos {
        wait_for(
            "Tyk's connection string to reach the promoted replica",
            Duration::from_secs(30),
            || p2.log(),
            || {
                let out = client(&t, c, &tyk_pw, &format!("{WHO}; insert into tykgen_probe values (43)"));
                match text(&out).lines().next() {
                    Some("tyk|127.0.0.1/32|true") if out.status.success() => Ok(()),
                    _ => Err(text(&out)),
                }
            },
        );
    }
    eprintln!("data_tier: PostgreSQL promote + Tyk reconnect took {:.2} s", secs(started));
}

/// The production profile with `database.tls.mutual: true` (`clientcert=verify-ca`): Tyk's
/// connection strings, which carry the machine's certificate, connect; without a certificate, or
/// with one from another CA, the primary refuses.
#[test]
fn postgres_mutual_tls_requires_a_client_certificate() {
    let Some(t) = PgTools::find() else { return };
    let _range = super::claim_range(26);
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let mut sets = pin(&[
        ("postgres-1", "127.0.26.1"),
        ("postgres-2", "127.0.26.2"),
        ("pump-1", "127.0.0.1"),
        ("dashboard-1", "127.0.26.4"),
    ]);
    sets.push(format!("database.version={}", t.major()));
    sets.push("database.tls.mutual=true".to_owned());
    let r = render("production", &sets);
    let pki = Pki::new(&t.openssl, &tmp.path().join("pki"));
    let certs = pki.machines(&r, &["postgres-1", "pump-1"]);
    let mut p1 = PgNode::new(&t, &tmp.path().join("pg"), "postgres-1", &certs["postgres-1"]);
    start_primary(&t, &r, &mut p1, &tmp.path().join("scripts"));
    let tyk_pw = tyk_password(&r);
    let conninfos = tyk_conninfos(&r, "pump-1", "pump.conf", &certs["pump-1"]);
    for c in &conninfos {
        assert!(c.contains(" sslcert=") && c.contains(" sslkey="), "mutual TLS without a client certificate: {c}");
        let out = client(&t, c, &tyk_pw, WHO);
        assert_eq!(text(&out), "tyk|127.0.26.1/32|true", "{c}\n{}", p1.log());
    }
    let with_cert = &conninfos[0];
    let cert_at = with_cert.find(" sslcert=").unwrap();
    let without: String = with_cert[..cert_at].to_owned();
    let out = client(&t, &format!("{without} sslcert=/nonexistent sslkey=/nonexistent"), &tyk_pw, "select 1");
    assert!(!out.status.success(), "a client without a certificate got through: {}", text(&out));
    assert!(text(&out).contains("connection requires a valid client certificate"), "{}", text(&out));
    let stranger =
        Pki::new(&t.openssl, &tmp.path().join("other-pki")).machine("stranger", "pump-1.tyk.internal", "127.0.0.1");
    let p = |f: &str| stranger.join(f).display().to_string();
    let out =
        client(&t, &format!("{without} sslcert={} sslkey={}", p("machine.crt"), p("machine.key")), &tyk_pw, "select 1");
    assert!(!out.status.success(), "a certificate from another CA got through: {}", text(&out));
    assert!(text(&out).contains("unknown ca"), "{}", text(&out));
}
