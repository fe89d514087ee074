//! The generated data tier on real servers (issue 6): `redis-server`, `redis-sentinel` and
//! `postgres` started from the per-machine files tykgen renders, then broken on purpose.
//!
//! Rules (see `docs/validators.md`, "Real servers", in the shared folder):
//! - every machine of a rendered profile is pinned to its own loopback address
//!   (`--set machines.<m>.address=127.0.N.M`); each test uses its own `127.0.N.x` range, so the
//!   tests run in parallel on the standard ports;
//! - a server runs the rendered file with only its data directory, pid file, log file, included
//!   secrets file and TLS file paths changed ([`localize`] checks that nothing else changed);
//!   command-line overrides are test-only timings (`repl-diskless-sync-delay 0`);
//! - every wait polls against a deadline ([`wait_for`]); every process is a [`Proc`] whose `Drop`
//!   kills it by its PID, also when the test panics.
//!
//! Without the servers installed the tests skip with one line (`tools::tool`); with
//! `TYKGEN_REQUIRE_TOOLS=1` a missing server is a failure.

mod cluster;
mod postgres;
mod redis;
mod sentinel;
mod tls;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tykgen::config::Bundle;
use tykgen::topology::{SecretUse, Topology};

use crate::tools::{command, run, tool};

/// How long one client command (redis-cli, psql, openssl) may take.
pub(crate) const CMD_TIMEOUT: Duration = Duration::from_secs(20);

/// The Redis programs, or `None` (after one `skipping:` line) when one is missing.
pub(crate) struct RedisTools {
    pub(crate) server: PathBuf,
    pub(crate) sentinel: PathBuf,
    pub(crate) cli: PathBuf,
    pub(crate) openssl: PathBuf,
}

impl RedisTools {
    pub(crate) fn find(need_sentinel: bool) -> Option<Self> {
        let server = tool("redis-server", "apt-get install redis-server (.ci/run)")?;
        let sentinel = if need_sentinel {
            tool("redis-sentinel", "apt-get install redis-sentinel (.ci/run)")?
        } else {
            server.clone()
        };
        let cli = tool("redis-cli", "apt-get install redis-tools (.ci/run)")?;
        let openssl = tool("openssl", "apt-get install openssl (.ci/run)")?;
        Some(Self { server, sentinel, cli, openssl })
    }

    /// `major.minor` of the installed Redis (the profile is rendered for it).
    pub(crate) fn version(&self) -> String {
        let out = run(command(&self.server).arg("--version"), CMD_TIMEOUT);
        let text = String::from_utf8_lossy(&out.stdout);
        let v = text.split_whitespace().find_map(|w| w.strip_prefix("v=")).unwrap_or_else(|| panic!("{text}"));
        v.split('.').take(2).collect::<Vec<_>>().join(".")
    }
}

// ------------------------------------------------------------------------------------ rendering

/// A profile rendered in memory: its topology and every machine's files.
pub(crate) struct Rendered {
    pub(crate) profile: tykgen::profile::Profile,
    pub(crate) topology: Topology,
    pub(crate) bundle: Bundle,
}

/// Renders built-in `profile` with `sets` (`key.path=value`), as `tykgen render` would.
pub(crate) fn render(profile: &str, sets: &[String]) -> Rendered {
    let input = tykgen::profile::Input {
        profile: Some(profile.to_owned()),
        sets: sets.to_vec(),
        ..tykgen::profile::Input::default()
    };
    let loaded = tykgen::profile::load(&input).unwrap_or_else(|e| panic!("{profile} {sets:?}: {e:?}"));
    tykgen::validate::validate(&loaded).unwrap_or_else(|e| panic!("{profile} {sets:?}: {e:?}"));
    let renderer = tykgen::render::Renderer::new(None).expect("built-in templates");
    let topology = tykgen::topology::build(&loaded.profile);
    let bundle = tykgen::config::bundle(&loaded.profile, &topology, &renderer)
        .unwrap_or_else(|e| panic!("{profile} {sets:?}: {e:#}"));
    Rendered { profile: loaded.profile, topology, bundle }
}

/// `machines.<m>.address=<a>` for each pair.
pub(crate) fn pin(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs.iter().map(|(m, a)| format!("machines.{m}.address={a}")).collect()
}

impl Rendered {
    /// The contents of `machine`'s generated file `name`.
    pub(crate) fn file(&self, machine: &str, name: &str) -> &str {
        let mc = self.bundle.get(machine).unwrap_or_else(|| panic!("no machine {machine}"));
        &mc.files
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{machine} has no generated {name}"))
            .contents
    }

    /// A generated Tyk JSON file, parsed.
    pub(crate) fn json(&self, machine: &str, name: &str) -> Value {
        serde_json::from_str(self.file(machine, name)).unwrap_or_else(|e| panic!("{machine}/{name}: {e}"))
    }

    /// The endpoint (pinned address) of `machine`.
    pub(crate) fn address(&self, machine: &str) -> String {
        self.topology.machine(machine).unwrap_or_else(|| panic!("no machine {machine}")).endpoint().to_owned()
    }

    /// The private file `machine` gets from its `SecretUse::File`, filled with the test
    /// passwords: `(install path, contents)`.
    pub(crate) fn secret_file(&self, machine: &str) -> (String, String) {
        let mc = self.bundle.get(machine).unwrap_or_else(|| panic!("no machine {machine}"));
        mc.secrets
            .iter()
            .find_map(|s| match s {
                SecretUse::File { path, template, secrets } => Some((path.clone(), fill(template, secrets))),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{machine} has no secret file"))
    }

    /// The test value of the secret `machine` receives in environment variable `var`.
    pub(crate) fn secret_env(&self, machine: &str, var: &str) -> String {
        let mc = self.bundle.get(machine).unwrap_or_else(|| panic!("no machine {machine}"));
        mc.secrets
            .iter()
            .find_map(|s| match s {
                SecretUse::Env { var: v, secret } if v == var => Some(password(secret)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{machine} gets no {var}"))
    }

    /// The value the Tyk component on `machine` gets in `var` when it is built from a template
    /// (`SecretUse::EnvTemplate`), with the test values of its secrets filled in.
    pub(crate) fn env_template(&self, machine: &str, var: &str) -> String {
        let mc = self.bundle.get(machine).unwrap_or_else(|| panic!("no machine {machine}"));
        mc.secrets
            .iter()
            .find_map(|s| match s {
                SecretUse::EnvTemplate { var: v, template, secrets } if v == var => Some(fill(template, secrets)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{machine} gets no {var}"))
    }
}

/// The test value of secret `name`.
pub(crate) fn password(name: &str) -> String {
    format!("t3st-{}", name.replace('_', "-"))
}

/// `template` with every `{secret}` replaced by its test value.
fn fill(template: &str, secrets: &[String]) -> String {
    let mut out = template.to_owned();
    for s in secrets {
        out = out.replace(&format!("{{{s}}}"), &password(s));
    }
    assert!(!out.contains('{'), "unfilled placeholder in {out:?}");
    out
}

/// The rendered `text` with only the file paths a test must change replaced: `dir`, `pidfile`,
/// `logfile`, the included secrets file (into `dir`), and the TLS folder (into `tls`). Panics if
/// any other line would change, so a test can never quietly alter a real setting.
pub(crate) fn localize(text: &str, dir: &Path, tls: &Path) -> String {
    let d = dir.display();
    let mut out = String::new();
    for line in text.lines() {
        let new = if line.starts_with("dir ") {
            format!("dir \"{d}\"")
        } else if line.starts_with("pidfile ") {
            format!("pidfile \"{d}/server.pid\"")
        } else if line.starts_with("logfile ") {
            format!("logfile \"{d}/server.log\"")
        } else {
            line.replace("\"/etc/redis/", &format!("\"{d}/")).replace("/etc/tykgen/tls", &tls.display().to_string())
        };
        if new != line {
            let key = line.split_whitespace().next().unwrap_or_default();
            let allowed = ["dir", "pidfile", "logfile", "include"].contains(&key)
                || key.starts_with("tls-") && key.ends_with("-file")
                || key.starts_with("ssl_") && key.ends_with("_file")
                || line.starts_with("conninfo=");
            assert!(allowed, "localize would change a real setting: {line:?}");
        }
        out.push_str(&new);
        out.push('\n');
    }
    out
}

/// Writes `contents` to `path` (creating its folder).
pub(crate) fn write(path: &Path, contents: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

// ---------------------------------------------------------------------------------- processes

/// A server process, killed by its PID when dropped (also on panic).
pub(crate) struct Proc {
    child: Option<Child>,
    /// Sent first on `Drop` (a graceful or immediate stop), then SIGKILL after 5 s.
    stop_signal: Option<&'static str>,
}

impl Proc {
    /// Starts `cmd` with stdin closed and stdout/stderr appended to `log`.
    pub(crate) fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Self {
        let file = fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
        cmd.stdin(Stdio::null()).stdout(file.try_clone().expect("log file")).stderr(file);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Self { child: Some(child), stop_signal: None }
    }

    /// Send `signal` (e.g. `QUIT`) before SIGKILL when dropped.
    pub(crate) fn with_stop_signal(mut self, signal: &'static str) -> Self {
        self.stop_signal = Some(signal);
        self
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL by PID, then reap.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `signal` by PID, wait up to `grace` for the exit, then SIGKILL.
    pub(crate) fn stop(&mut self, signal: &str, grace: Duration) {
        let Some(mut c) = self.child.take() else { return };
        if matches!(c.try_wait(), Ok(None)) {
            // Not yet reaped, so the PID is still ours.
            let _ = Command::new("kill").args(["-s", signal, &c.id().to_string()]).status();
            let deadline = Instant::now() + grace;
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        match self.stop_signal {
            Some(sig) => self.stop(sig, Duration::from_secs(5)),
            None => self.kill(),
        }
    }
}

/// The last `n` lines of `path`.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Polls `check` every 50 ms until it returns `Ok`, for at most `timeout`; then panics with
/// `what`, the last error and `context()` (e.g. server logs).
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => {
                panic!("timed out after {:.1} s waiting for {what}; last: {e}\n{}", timeout.as_secs_f64(), context())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Holds the loopback range `127.0.<n>.0/24` for one test: an exclusive lock on a file in the
/// temp folder, so two test runs on one machine (two checkouts, two engineers) take turns
/// instead of colliding on the same addresses. Released when dropped.
pub(crate) fn claim_range(n: u8) -> fs::File {
    let path = std::env::temp_dir().join(format!("tykgen-data-tier-127.0.{n}.lock"));
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).expect("lock file");
    wait_for(
        &format!("another test run to release {} (127.0.{n}.0/24)", path.display()),
        Duration::from_secs(170),
        String::new,
        || file.try_lock().map_err(|e| e.to_string()),
    );
    file
}

/// stdout + stderr of `out`, trimmed.
pub(crate) fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim().to_owned()
}

// ---------------------------------------------------------------------------------------- TLS

/// A throw-away CA and per-machine certificates made with `openssl`.
pub(crate) struct Pki {
    openssl: PathBuf,
    dir: PathBuf,
}

impl Pki {
    /// A new CA under `dir` (`ca.crt`, `ca.key`).
    pub(crate) fn new(openssl: &Path, dir: &Path) -> Self {
        fs::create_dir_all(dir).expect("pki dir");
        let pki = Self { openssl: openssl.to_path_buf(), dir: dir.to_path_buf() };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=tykgen test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        pki
    }

    fn openssl(&self, args: &[&str]) {
        let out = run(command(&self.openssl).args(args).current_dir(&self.dir), CMD_TIMEOUT);
        assert!(out.status.success(), "openssl {args:?} failed: {}", text(&out));
    }

    /// A folder with `ca.crt`, `machine.crt`, `machine.key` and `machine.pem` for `machine`:
    /// CN and DNS SAN `host`, IP SAN `ip`, usable as server and client certificate.
    pub(crate) fn machine(&self, machine: &str, host: &str, ip: &str) -> PathBuf {
        let out = self.dir.join(machine);
        fs::create_dir_all(&out).expect("cert dir");
        let ext = self.dir.join(format!("{machine}.ext"));
        write(
            &ext,
            &format!(
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
                 extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:{ip},DNS:{host}\n"
            ),
        );
        let (key, csr, crt) = (out.join("machine.key"), out.join("machine.csr"), out.join("machine.crt"));
        let p = |p: &Path| p.display().to_string();
        let subj = format!("/CN={host}");
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &subj,
            "-keyout",
            &p(&key),
            "-out",
            &p(&csr),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &p(&csr),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &p(&ext),
            "-out",
            &p(&crt),
        ]);
        fs::copy(self.dir.join("ca.crt"), out.join("ca.crt")).expect("copy ca");
        let pem = fs::read_to_string(&crt).unwrap() + &fs::read_to_string(&key).unwrap();
        write(&out.join("machine.pem"), &pem);
        out
    }

    /// Certificates for every named machine of `r`, keyed by machine name.
    pub(crate) fn machines(&self, r: &Rendered, names: &[&str]) -> BTreeMap<String, PathBuf> {
        names
            .iter()
            .map(|n| {
                let m = r.topology.machine(n).unwrap_or_else(|| panic!("no machine {n}"));
                ((*n).to_owned(), self.machine(n, &m.host, m.endpoint()))
            })
            .collect()
    }
}

/// A client-side path from a generated Tyk file: `/etc/tykgen/tls/x` in machine `tls`'s folder.
pub(crate) fn tls_path(generated: &Value, tls: &Path) -> Option<String> {
    generated.as_str().map(|p| p.replace("/etc/tykgen/tls", &tls.display().to_string()))
}
