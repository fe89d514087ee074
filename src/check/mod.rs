//! `tykgen check`: Tyk's production guidance as rules applied to a profile.
//!
//! Each rule has a stable id (`TYK-<FAMILY>-<NAME>`, listed in [`RULES`] and in
//! `docs/check-rules.md`), a default severity, and the guidance it comes from. A rule produces
//! [`Finding`]s, each at the profile key it is about. `render` runs the same rules: errors stop
//! it, warnings are printed (see [`gate`]).
//!
//! Severities follow `diagnostic::Severity`: an *error* is a plan Tyk does not support (outside
//! its compatibility matrix) or that breaks the guidance's first rule (data on a Gateway's
//! machine); a *warning* works but goes against Tyk's guidance; a *note* is worth knowing.

pub mod budget;
mod format;
mod rules;

use std::io::IsTerminal;

use crate::diagnostic::{Diagnostic, Diagnostics, Loc, Severity};
use crate::profile::Loaded;
use crate::topology::Topology;

pub use format::{human, json, sarif};

/// The family of a rule, the middle part of its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// The profile does not load or is structurally invalid (not a `check` rule proper).
    Profile,
    /// Versions that Tyk supports together.
    Compatibility,
    /// Surviving the loss of a machine.
    Availability,
    /// Not losing keys, and not filling disks with analytics.
    Data,
    /// Encryption and certificate verification.
    Security,
    /// Connection pools and Redis limits.
    Capacity,
    /// Which machines share an address.
    Placement,
}

/// A rule: its stable id, default severity, what it checks and where the guidance comes from.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, e.g. `TYK-COMPAT-REDIS`.
    pub id: &'static str,
    /// Its family.
    pub family: Family,
    /// The severity of its findings (a few rules lower it, see `docs/check-rules.md`).
    pub severity: Severity,
    /// What it checks, in one line.
    pub title: &'static str,
    /// The guidance it comes from (document and section).
    pub source: &'static str,
}

const PFP_SPLIT: &str = "Planning for Production: Split out your Database";
const PFP_REDIS_DATA: &str = "Planning for Production: Protection of Redis data";
const PFP_TLS: &str = "Planning for Production: Redis Encryption";
const PFP_POOL: &str = "Planning for Production: Make sure you have enough Redis connections";

/// Every rule, in the order of `docs/check-rules.md`.
pub const RULES: &[Rule] = &[
    Rule {
        id: "TYK-PROFILE",
        family: Family::Profile,
        severity: Severity::Error,
        title: "the profile loads and is structurally valid (reported by `check --format json|sarif` too)",
        source: "tykgen profile format (`tykgen schema`) and src/validate.rs",
    },
    Rule {
        id: "TYK-COMPAT-REDIS",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "each Redis version is one the Tyk Gateway/Dashboard version (and the Pump reading it) supports",
        source: "tyk-reference.md §3 compatibility matrix (Redis column, Pump line); Planning for Production: Supported Versions",
    },
    Rule {
        id: "TYK-COMPAT-POSTGRES",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "the PostgreSQL version is one the Tyk Dashboard version (and the Pump) supports",
        source: "tyk-reference.md §3 compatibility matrix (PostgreSQL column, Pump line)",
    },
    Rule {
        id: "TYK-COMPAT-MONGODB",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "the MongoDB version is one the Tyk Dashboard version (and the Pump) supports",
        source: "tyk-reference.md §3 compatibility matrix (MongoDB column, Pump line)",
    },
    Rule {
        id: "TYK-COMPAT-PUMP",
        family: Family::Compatibility,
        severity: Severity::Warning,
        title: "the Pump is not older than the release paired with the Gateway version",
        source: "tyk-reference.md §1.4 version gate (Pump 1.9 = Tyk 5.3 storage library) and §3 pairings seen in official repos",
    },
    Rule {
        id: "TYK-COMPAT-TLS-CA",
        family: Family::Compatibility,
        severity: Severity::Note,
        title: "Redis TLS with verification before Tyk 5.3 / Pump 1.9: no `ca_file`, the CA must be in the system trust store",
        source: "tyk-reference.md §1.4 version gate; Planning for Production: Redis Encryption",
    },
    Rule {
        id: "TYK-COMPAT-RATE-LIMITER-TLS",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "verified or mutual Redis TLS with a Gateway whose rate limiter ignores the CA and client certificate (fixed in 5.8.6 / 5.10.0)",
        source: "tyk-docs release-notes/gateway.mdx 5.8.6 and 5.10.0 (TT-14564); tyk v5.8.2 and v5.8.6 internal/rate/storage.go",
    },
    Rule {
        id: "TYK-COMPAT-SHARDED-LOGS",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "SQL table sharding with a Dashboard whose Log Browser queries the unsharded table (fixed in 5.8.7 / 5.10.1)",
        source: "tyk-docs release-notes/dashboard.mdx 5.8.7 and 5.10.1",
    },
    Rule {
        id: "TYK-COMPAT-DISTRO",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "with `targets.ansible.packages: distro`, a supported operating system ships the profile's Redis and database versions",
        source: "the distributions' package archives (Debian 12: redis 5:7.0.15, postgresql-15; Ubuntu 24.04: redis 5:7.0.15, postgresql-16; Ubuntu 22.04: redis 5:6.0.16, postgresql-14)",
    },
    Rule {
        id: "TYK-AVAIL-GATEWAYS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "at least 2 Gateways",
        source: "Planning for Production: Split out your Database (two or more Gateway nodes)",
    },
    Rule {
        id: "TYK-AVAIL-LB",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "several Gateways have a load balancer in front",
        source: "Planning for Production: Split out your Database (Gateways load balanced)",
    },
    Rule {
        id: "TYK-AVAIL-REDIS-FAILOVER",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "the main Redis has failover (Sentinel or Cluster) in a profile that claims production (a note otherwise)",
        source: "Planning for Production: Split out your Database (a separate Redis server with fail-over or cluster)",
    },
    Rule {
        id: "TYK-AVAIL-SENTINELS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "Sentinel mode has an odd number of Sentinels, at least 3",
        source: "tyk-reference.md §3 recommended production topology (Sentinel for HA); Redis Sentinel quorum",
    },
    Rule {
        id: "TYK-AVAIL-CLUSTER-REPLICAS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "a Redis Cluster has a replica for each shard",
        source: "Planning for Production: Protection of Redis data (easy to fail over); tyk-reference.md §3 recommended topology",
    },
    Rule {
        id: "TYK-AVAIL-DB-REPLICAS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "the database has replicas",
        source: "Planning for Production: Split out your Database (a separate MongoDB or PostgreSQL cluster)",
    },
    Rule {
        id: "TYK-AVAIL-MONGO-MEMBERS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "a MongoDB replica set has an odd number of members, so it can elect a primary after a loss",
        source: "Planning for Production: Split out your Database (a MongoDB cluster); MongoDB replica-set elections",
    },
    Rule {
        id: "TYK-DATA-PERSISTENCE",
        family: Family::Data,
        severity: Severity::Warning,
        title: "the main Redis persists its data (API keys and OAuth clients live there)",
        source: PFP_REDIS_DATA,
    },
    Rule {
        id: "TYK-DATA-MONGO-CAP",
        family: Family::Data,
        severity: Severity::Warning,
        title: "MongoDB analytics are capped",
        source: "Planning for Production: Capping Analytics; tyk-reference.md §4.6",
    },
    Rule {
        id: "TYK-DATA-MONGO-CAP-NEW",
        family: Family::Data,
        severity: Severity::Note,
        title: "capping applies only when the Pump creates the analytics collection",
        source: "tyk-reference.md §1.3 (`capCollection()` ignores an existing collection) and §4.6",
    },
    Rule {
        id: "TYK-DATA-PG-RETENTION",
        family: Family::Data,
        severity: Severity::Warning,
        title: "PostgreSQL analytics are sharded into daily tables with a retention",
        source: "Planning for Production: Capping Analytics; tyk-reference.md §1.3 (SQL has no capping) and §4.6",
    },
    Rule {
        id: "TYK-DATA-DETAILED",
        family: Family::Data,
        severity: Severity::Warning,
        title: "detailed recording is off (full requests and responses make storage grow fast)",
        source: "Planning for Production: Capping Analytics; tyk-reference.md §5 item 10 (analytics growth)",
    },
    Rule {
        id: "TYK-SEC-REDIS-TLS",
        family: Family::Security,
        severity: Severity::Warning,
        title: "every Redis deployment uses TLS",
        source: PFP_TLS,
    },
    Rule {
        id: "TYK-SEC-EXTRA-OVERRIDE",
        family: Family::Security,
        severity: Severity::Warning,
        title: "no `extra_config.override` key replaces a value tykgen sets",
        source: "tykgen: `extra_config` only adds keys tykgen does not model; `override` is the explicit exception",
    },
    Rule {
        id: "TYK-SEC-DB-TLS",
        family: Family::Security,
        severity: Severity::Warning,
        title: "the database uses TLS",
        source: "tyk-reference.md §1.2 (PostgreSQL `sslmode`, `mongo_use_ssl`) and §5 item 11",
    },
    Rule {
        id: "TYK-SEC-CONTROL-TLS",
        family: Family::Security,
        severity: Severity::Warning,
        title: "with TLS to Redis or the database, the Tyk control plane uses TLS too (`tyk.tls`)",
        source: "https://tyk.io/docs/api-management/implement-tls#using-tls-with-tyk-dashboard",
    },
    Rule {
        id: "TYK-SEC-VERIFY",
        family: Family::Security,
        severity: Severity::Warning,
        title: "clients verify the server certificate (`verify: true`)",
        source: "Planning for Production: Redis Encryption (skipping verification is not recommended for production)",
    },
    Rule {
        id: "TYK-SEC-TLS-MIN",
        family: Family::Security,
        severity: Severity::Warning,
        title: "TLS versions below 1.2 are not accepted",
        source: "Planning for Production: Redis Encryption (1.2 or 1.3); tyk-reference.md §1.1 `tls_min_version`",
    },
    Rule {
        id: "TYK-SEC-MTLS-VERIFY",
        family: Family::Security,
        severity: Severity::Warning,
        title: "mutual TLS also verifies the server (the CA file mutual TLS builds on)",
        source: "Planning for Production: Redis Encryption (mTLS: follow the steps for a secure TLS connection first)",
    },
    Rule {
        id: "TYK-CAP-POOL-ORDER",
        family: Family::Capacity,
        severity: Severity::Warning,
        title: "`pool.max_active` is not below `pool.max_idle`",
        source: PFP_POOL,
    },
    Rule {
        id: "TYK-CAP-MAXCLIENTS",
        family: Family::Capacity,
        severity: Severity::Warning,
        title: "the pools of all Gateways, Pumps and Dashboards using a Redis fit in its `maxclients`",
        source: "tyk-reference.md §4.7 (connection budget); Planning for Production: Make sure you have enough Redis connections",
    },
    Rule {
        id: "TYK-CAP-POOL-ADVICE",
        family: Family::Capacity,
        severity: Severity::Warning,
        title: "with several Gateways, the main Redis pool is not far below Tyk's advice (2000 idle, 4000 active)",
        source: PFP_POOL,
    },
    Rule {
        id: "TYK-PLACE-GATEWAY-DATA",
        family: Family::Placement,
        severity: Severity::Error,
        title: "no Redis, Sentinel or database machine is pinned to a Gateway's address",
        source: PFP_SPLIT,
    },
    Rule {
        id: "TYK-PLACE-SHARED",
        family: Family::Placement,
        severity: Severity::Warning,
        title: "no two machines are pinned to the same address",
        source: "Planning for Production: Split out your Database (each component on its own machine)",
    },
];

/// The rule with `id`.
///
/// # Panics
/// When `id` is not in [`RULES`] (a programming error, caught by the tests).
#[must_use]
pub fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("unknown rule id {id}"))
}

/// One finding of a rule.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The rule.
    pub rule: &'static Rule,
    /// Its severity (the rule's, or lower for a few rules).
    pub severity: Severity,
    /// The profile key it is about, e.g. `redis.version` (empty when unknown).
    pub path: String,
    /// What to change, in one line.
    pub message: String,
    /// How to change it.
    pub help: Option<String>,
    /// Where it is.
    pub loc: Option<Loc>,
}

impl Finding {
    /// As a `Diagnostic` for the human renderer: the help line is followed by the source.
    #[must_use]
    pub fn diagnostic(&self) -> Diagnostic {
        let source = self.rule.source;
        let (id, help) = if self.rule.family == Family::Profile {
            (None, self.help.clone())
        } else {
            let help = match &self.help {
                Some(h) => format!("{h}\n= source: {source}"),
                None => format!("see {source}"),
            };
            (Some(self.rule.id), Some(help))
        };
        Diagnostic { severity: self.severity, id, message: self.message.clone(), loc: self.loc.clone(), help }
    }

    /// A finding for a load or structural error (rule `TYK-PROFILE`).
    #[must_use]
    pub fn from_profile_error(d: &Diagnostic) -> Self {
        Self {
            rule: rule("TYK-PROFILE"),
            severity: d.severity,
            path: String::new(),
            message: d.message.clone(),
            help: d.help.clone(),
            loc: d.loc.clone(),
        }
    }
}

/// Every finding of every rule on a loaded, structurally valid profile and its topology, most
/// severe first.
#[must_use]
pub fn run(loaded: &Loaded, topology: &Topology) -> Vec<Finding> {
    let mut findings = rules::all(loaded, topology);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.loc.as_ref().map(|l| l.line).cmp(&b.loc.as_ref().map(|l| l.line)))
            .then_with(|| a.rule.id.cmp(b.rule.id))
    });
    findings
}

/// What `render` does with the rules: any error stops it (all findings are returned as
/// `Diagnostics`); otherwise warnings are printed to stderr and rendering goes on.
///
/// # Errors
/// The findings, when any is an error.
pub fn gate(loaded: &Loaded, topology: &Topology) -> Result<(), Diagnostics> {
    let findings = run(loaded, topology);
    let diags =
        Diagnostics(findings.iter().filter(|f| f.severity >= Severity::Warning).map(Finding::diagnostic).collect());
    if diags.has_errors() {
        return Err(diags);
    }
    if !diags.0.is_empty() {
        let color = crate::diagnostic::color(std::io::stderr().is_terminal());
        let text: String = diags.0.iter().map(|d| d.render(color) + "\n").collect();
        eprint!("{text}");
        let n = diags.0.len();
        eprintln!("{n} warning{} from `tykgen check` (see docs/check-rules.md)", if n == 1 { "" } else { "s" });
    }
    Ok(())
}

/// The outcome of `check` on some input: the profile name when it loaded, and every finding.
#[derive(Debug, Clone)]
pub struct Report {
    /// The profile's name, when it loaded.
    pub profile: Option<String>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// `--strict`: warnings fail the check too.
    pub strict: bool,
}

impl Report {
    /// The report of a profile that failed to load or validate: its problems as `TYK-PROFILE`
    /// findings.
    #[must_use]
    pub fn of_errors(profile: Option<String>, errors: &Diagnostics, strict: bool) -> Self {
        Self { profile, findings: errors.0.iter().map(Finding::from_profile_error).collect(), strict }
    }

    /// How many findings have `severity`.
    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    /// True when the check passes: no errors, and with `strict` no warnings.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.count(Severity::Error) == 0 && !(self.strict && self.count(Severity::Warning) > 0)
    }
}

#[cfg(test)]
mod tests;
