//! Redis servers from the generated `redis.conf`, a `redis-cli` wrapper, and the standalone
//! tests: persistence across a restart, and the password from the secrets file being required.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::{CMD_TIMEOUT, Proc, RedisTools, Rendered, localize, password, pin, render, tail, text, wait_for, write};
use crate::tools::{command, run};

/// One Redis server or Sentinel of a rendered profile, with its files under `dir`.
pub(crate) struct RedisNode {
    pub(crate) machine: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
    conf: PathBuf,
    program: PathBuf,
    args: Vec<String>,
    pub(crate) proc: Option<Proc>,
}

impl RedisNode {
    /// Writes `machine`'s generated `redis.conf` (or `sentinel.conf`) and its secrets file into
    /// `root/<machine>/`, localized (see `localize`), TLS files from `tls`.
    pub(crate) fn prepare(tools: &RedisTools, r: &Rendered, machine: &str, root: &Path, tls: &Path) -> Self {
        let sentinel = r.bundle.get(machine).is_some_and(|mc| mc.files.iter().any(|f| f.name == "sentinel.conf"));
        let (name, program, port) =
            if sentinel { ("sentinel.conf", &tools.sentinel, 26379) } else { ("redis.conf", &tools.server, 6379) };
        let dir = root.join(machine);
        let generated = r.file(machine, name);
        let conf = dir.join(name);
        write(&conf, &localize(generated, &dir, tls));
        let (secret_path, secrets) = r.secret_file(machine);
        let file_name = secret_path.strip_prefix("/etc/redis/").unwrap_or_else(|| panic!("{secret_path}"));
        assert!(
            generated.contains(&format!("include \"{secret_path}\"")),
            "{machine}: {name} does not include {secret_path}"
        );
        write(&dir.join(file_name), &secrets);
        let args = if sentinel { Vec::new() } else { vec!["--repl-diskless-sync-delay".to_owned(), "0".to_owned()] };
        Self {
            machine: machine.to_owned(),
            host: r.address(machine),
            port,
            dir,
            conf,
            program: program.clone(),
            args,
            proc: None,
        }
    }

    /// Starts the server (test-only override: `repl-diskless-sync-delay 0`).
    pub(crate) fn start(&mut self) {
        assert!(self.proc.is_none(), "{} already started", self.machine);
        let mut cmd = Command::new(&self.program);
        cmd.arg(&self.conf).args(&self.args).current_dir(&self.dir);
        self.proc = Some(Proc::spawn(&self.machine, &mut cmd, &self.dir.join("stdout.log")));
    }

    /// SIGKILL by PID; returns the PID.
    pub(crate) fn kill(&mut self) -> u32 {
        let mut p = self.proc.take().unwrap_or_else(|| panic!("{} is not running", self.machine));
        let pid = p.pid();
        p.kill();
        pid
    }

    /// SIGTERM by PID (Redis shuts down cleanly), waiting up to 15 s.
    pub(crate) fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop("TERM", Duration::from_secs(15));
        }
    }

    /// The server's log (the rendered file logs to stdout; the test points it at `server.log`).
    pub(crate) fn log(&self) -> String {
        format!(
            "--- {} ({}:{}) log:\n{}\n{}",
            self.machine,
            self.host,
            self.port,
            tail(&self.dir.join("server.log"), 12),
            tail(&self.dir.join("stdout.log"), 5)
        )
    }

    /// A client of this node.
    pub(crate) fn cli(&self, tools: &RedisTools, tls: Option<ClientTls>, password: Option<String>) -> Cli {
        Cli { cli: tools.cli.clone(), host: self.host.clone(), port: self.port, tls, password }
    }
}

/// The logs of `nodes`, for failure messages.
pub(crate) fn logs(nodes: &[&RedisNode]) -> String {
    nodes.iter().map(|n| n.log()).collect::<Vec<_>>().join("\n")
}

/// TLS settings of a `redis-cli` client.
#[derive(Clone, Debug)]
pub(crate) struct ClientTls {
    pub(crate) ca: String,
    /// Client certificate and key (mutual TLS).
    pub(crate) cert: Option<(String, String)>,
}

impl ClientTls {
    /// The CA and (when `mutual`) the certificate of a machine's test TLS folder.
    pub(crate) fn of(dir: &Path, mutual: bool) -> Self {
        let p = |f: &str| dir.join(f).display().to_string();
        Self { ca: p("ca.crt"), cert: mutual.then(|| (p("machine.crt"), p("machine.key"))) }
    }
}

/// `redis-cli` against one server; the password goes through `REDISCLI_AUTH`.
#[derive(Clone, Debug)]
pub(crate) struct Cli {
    pub(crate) cli: PathBuf,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: Option<ClientTls>,
    pub(crate) password: Option<String>,
}

/// First words of `redis-cli` output that mean the command did not succeed (it exits 0 on error
/// replies).
const ERRORS: &[&str] = &[
    "ERR",
    "NOAUTH",
    "WRONGPASS",
    "NOPERM",
    "MOVED",
    "ASK",
    "CLUSTERDOWN",
    "LOADING",
    "MASTERDOWN",
    "READONLY",
    "Could",
    "Error:",
    "AUTH",
    "IDONTKNOW",
    "NOREPLICAS",
    "BUSY",
    "TRYAGAIN",
    "Unrecognized",
];

impl Cli {
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = command(&self.cli);
        cmd.args(["-h", &self.host, "-p", &self.port.to_string()]);
        if let Some(tls) = &self.tls {
            cmd.args(["--tls", "--cacert", &tls.ca]);
            if let Some((cert, key)) = &tls.cert {
                cmd.args(["--cert", cert, "--key", key]);
            }
        }
        match &self.password {
            Some(pw) => cmd.env("REDISCLI_AUTH", pw),
            None => cmd.env_remove("REDISCLI_AUTH"),
        };
        cmd.args(args);
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args), CMD_TIMEOUT)
    }

    /// The reply, or `Err` with the output when the command failed or got an error reply.
    pub(crate) fn ok(&self, args: &[&str]) -> Result<String, String> {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let first = stdout.split_whitespace().next().unwrap_or_default();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success()
            || ERRORS.contains(&first)
            || stderr.contains("Could not connect")
            || stderr.contains("AUTH failed")
        {
            return Err(format!("redis-cli -h {} -p {} {}: {}", self.host, self.port, args.join(" "), text(&out)));
        }
        Ok(stdout)
    }

    /// `INFO <section>` as key/value pairs.
    pub(crate) fn info(&self, section: &str) -> Result<Vec<(String, String)>, String> {
        let reply = self.ok(&["INFO", section])?;
        Ok(reply.lines().filter_map(|l| l.trim().split_once(':')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    /// One `INFO` field.
    pub(crate) fn info_field(&self, section: &str, key: &str) -> Result<String, String> {
        self.info(section)?
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("no {key} in INFO {section} of {}:{}", self.host, self.port))
    }

    /// Waits until the server answers `PING` (a fresh server, or one loading its data).
    pub(crate) fn wait_ready(&self, context: impl Fn() -> String) {
        wait_for(
            &format!("{}:{} to answer PING", self.host, self.port),
            Duration::from_secs(20),
            context,
            || match self.ok(&["PING"])?.as_str() {
                "PONG" => Ok(()),
                other => Err(other.to_owned()),
            },
        );
    }
}

/// Waits until every replica in `replicas` has `master_link_status:up`.
pub(crate) fn wait_replicas_linked(replicas: &[Cli], context: impl Fn() -> String) {
    for c in replicas {
        wait_for(
            &format!("replica {}:{} to link to its primary (master_link_status:up)", c.host, c.port),
            Duration::from_secs(30),
            &context,
            || match c.info_field("replication", "master_link_status")?.as_str() {
                "up" => Ok(()),
                other => Err(format!("master_link_status:{other}")),
            },
        );
    }
}

/// Seconds since `start`, for the timing lines the tests print.
pub(crate) fn secs(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 100.0).round() / 100.0
}

// ------------------------------------------------------------------------------------- tests

/// The lab profile's standalone Redis (`persistence: aof`) keeps its keys across a restart; the
/// same profile with `persistence: none` does not (so the check can fail), and the password from
/// the secrets file is required.
#[test]
fn standalone_keeps_keys_across_restart_and_requires_the_password() {
    let Some(tools) = RedisTools::find(false) else { return };
    let _range = super::claim_range(21);
    let version = tools.version();
    let tmp = tempfile::tempdir().expect("tempdir");
    // persistence: aof (the lab profile's own), and none as the control.
    for (persistence, addr, survives) in [("aof", "127.0.21.1", true), ("none", "127.0.21.2", false)] {
        let mut sets = pin(&[("redis-1", addr)]);
        sets.push(format!("redis.version={version}"));
        sets.push(format!("redis.persistence={persistence}"));
        let r = render("lab", &sets);
        let root = tmp.path().join(persistence);
        let mut node = RedisNode::prepare(&tools, &r, "redis-1", &root, Path::new("/nonexistent-no-tls"));
        node.start();
        let pw = password(&r.topology.redis[0].password_secret);
        let cli = node.cli(&tools, None, Some(pw.clone()));
        cli.wait_ready(|| node.log());

        if survives {
            // auth: no password, a wrong password, the right one.
            let anon = Cli { password: None, ..cli.clone() };
            let err = anon.ok(&["SET", "k", "v"]).expect_err("a client without the password must be refused");
            assert!(err.contains("NOAUTH"), "{err}");
            let wrong = Cli { password: Some("wrong".into()), ..cli.clone() };
            let err = wrong.ok(&["GET", "k"]).expect_err("a wrong password must be refused");
            assert!(err.contains("WRONGPASS") || err.contains("NOAUTH"), "{err}");
        }

        let mut mset = vec!["MSET".to_owned()];
        for i in 0..200 {
            mset.push(format!("tykgen:key:{i}"));
            mset.push(format!("value-{i}"));
        }
        let args: Vec<&str> = mset.iter().map(String::as_str).collect();
        assert_eq!(cli.ok(&args).unwrap(), "OK");
        assert_eq!(cli.ok(&["DBSIZE"]).unwrap(), "200");

        node.stop();
        node.start();
        cli.wait_ready(|| node.log());
        let size = cli.ok(&["DBSIZE"]).unwrap();
        if survives {
            assert_eq!(size, "200", "persistence {persistence}: keys lost across a restart\n{}", node.log());
            assert_eq!(cli.ok(&["GET", "tykgen:key:199"]).unwrap(), "value-199");
            assert!(node.dir.join("appendonlydir").is_dir(), "no append-only file in {}", node.dir.display());
        } else {
            assert_eq!(size, "0", "persistence none: keys survived a restart\n{}", node.log());
        }
        node.stop();
    }
}
