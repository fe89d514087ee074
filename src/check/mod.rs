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

// Sources are public: Tyk's docs pages, release notes and sources at a tag, the servers' own docs,
// or this project's docs. The Planning for Production guidance now lives on Tyk's "Database
// Management" page; its section names are quoted as they appear there.
const PFP_SPLIT: &str = "Tyk docs, Planning for Production > Database Management, \"Split out Your Databases\" (https://tyk.io/docs/planning-for-production/database-settings)";
const PFP_REDIS_DATA: &str = "Tyk docs, Planning for Production > Database Management, \"Protection of Redis data\" (https://tyk.io/docs/planning-for-production/database-settings)";
const PFP_TLS: &str = "Tyk docs, Planning for Production > Database Management, \"Redis Encryption\" (https://tyk.io/docs/planning-for-production/database-settings)";
const PFP_POOL: &str = "Tyk docs, Planning for Production > Database Management, \"Make sure you have enough Redis connections\" (https://tyk.io/docs/planning-for-production/database-settings)";

/// Every rule, in the order of `docs/check-rules.md`.
pub const RULES: &[Rule] = &[
    Rule {
        id: "TYK-PROFILE",
        family: Family::Profile,
        severity: Severity::Error,
        title: "the profile loads and is structurally valid (reported by `check --format json|sarif` too)",
        source: "the tykgen profile format (`tykgen schema`) and its structural rules (docs/check-rules.md)",
    },
    Rule {
        id: "TYK-COMPAT-REDIS",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "each Redis version is one the Tyk Gateway/Dashboard version (and the Pump reading it) supports",
        source: "Tyk release notes, \"3rd Party Dependencies & Tools\" (https://tyk.io/docs/developer-support/release-notes/gateway, https://tyk.io/docs/developer-support/release-notes/pump); Planning for Production > Database Management, \"Supported Versions\" (https://tyk.io/docs/planning-for-production/database-settings)",
    },
    Rule {
        id: "TYK-COMPAT-POSTGRES",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "the PostgreSQL version is one the Tyk Dashboard version (and the Pump) supports",
        source: "Tyk release notes, \"3rd Party Dependencies & Tools\" (https://tyk.io/docs/developer-support/release-notes/dashboard, https://tyk.io/docs/developer-support/release-notes/pump)",
    },
    Rule {
        id: "TYK-COMPAT-MONGODB",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "the MongoDB version is one the Tyk Dashboard version (and the Pump) supports",
        source: "Tyk release notes, \"3rd Party Dependencies & Tools\" (https://tyk.io/docs/developer-support/release-notes/dashboard, https://tyk.io/docs/developer-support/release-notes/pump)",
    },
    Rule {
        id: "TYK-COMPAT-PUMP",
        family: Family::Compatibility,
        severity: Severity::Warning,
        title: "the Pump is not older than the release paired with the Gateway version",
        source: "Tyk Pump release notes (https://tyk.io/docs/developer-support/release-notes/pump): 1.9.0 moves to the storage library of Tyk 5.3; each Tyk release names the Pump it ships with",
    },
    Rule {
        id: "TYK-COMPAT-TLS-CA",
        family: Family::Compatibility,
        severity: Severity::Note,
        title: "Redis TLS with verification before Tyk 5.3 / Pump 1.9: no `ca_file`, the CA must be in the system trust store",
        source: "Tyk Gateway 5.3.0 release notes (https://tyk.io/docs/developer-support/release-notes/gateway): Redis `ca_file`, `cert_file`, `key_file` and TLS versions (TT-10949); Planning for Production > Database Management, \"Redis Encryption\" (https://tyk.io/docs/planning-for-production/database-settings)",
    },
    Rule {
        id: "TYK-COMPAT-RATE-LIMITER-TLS",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "verified or mutual Redis TLS with a Gateway whose rate limiter ignores the CA and client certificate (fixed in 5.8.6 / 5.10.0)",
        source: "Tyk Gateway 5.8.6 and 5.10.0 release notes, TT-14564 (https://tyk.io/docs/developer-support/release-notes/gateway); TykTechnologies/tyk internal/rate/storage.go at v5.8.2 and v5.8.6",
    },
    Rule {
        id: "TYK-COMPAT-SHARDED-LOGS",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "SQL table sharding with a Dashboard whose Log Browser queries the unsharded table (fixed in 5.8.7 / 5.10.1)",
        source: "Tyk Dashboard 5.8.7 and 5.10.1 release notes (https://tyk.io/docs/developer-support/release-notes/dashboard)",
    },
    Rule {
        id: "TYK-COMPAT-DISTRO",
        family: Family::Compatibility,
        severity: Severity::Error,
        title: "with `targets.ansible.packages: distro`, a supported operating system ships the profile's Redis and database versions",
        source: "the distributions' package archives: https://packages.debian.org/bookworm/redis-server, https://packages.ubuntu.com/noble/redis-server, https://packages.ubuntu.com/jammy/redis-server (and `postgresql` there)",
    },
    Rule {
        id: "TYK-AVAIL-GATEWAYS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "at least 2 Gateways",
        source: "Tyk docs, Planning for Production > Database Management, \"Split out Your Databases\": two or more Gateway nodes (https://tyk.io/docs/planning-for-production/database-settings)",
    },
    Rule {
        id: "TYK-AVAIL-LB",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "several Gateways have a load balancer in front",
        source: "Tyk docs, Planning for Production > Database Management, \"Split out Your Databases\": Gateways load balanced (https://tyk.io/docs/planning-for-production/database-settings)",
    },
    Rule {
        id: "TYK-AVAIL-REDIS-FAILOVER",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "the main Redis has failover (Sentinel or Cluster) in a profile that claims production (a note otherwise)",
        source: "Tyk docs, Planning for Production > Database Management, \"Split out Your Databases\": a separate Redis server with fail-over or cluster (https://tyk.io/docs/planning-for-production/database-settings)",
    },
    Rule {
        id: "TYK-AVAIL-SENTINELS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "Sentinel mode has an odd number of Sentinels, at least 3",
        source: "Redis docs, High availability with Redis Sentinel: at least three Sentinel instances, a majority to fail over (https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/)",
    },
    Rule {
        id: "TYK-AVAIL-CLUSTER-REPLICAS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "a Redis Cluster has a replica for each shard",
        source: "Tyk docs, Planning for Production > Database Management, \"Protection of Redis data\": easy to fail over (https://tyk.io/docs/planning-for-production/database-settings); Redis docs, Scale with Redis Cluster: replicas for availability (https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/)",
    },
    Rule {
        id: "TYK-AVAIL-DB-REPLICAS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "the database has replicas",
        source: "Tyk docs, Planning for Production > Database Management, \"Split out Your Databases\": a separate MongoDB or PostgreSQL cluster (https://tyk.io/docs/planning-for-production/database-settings)",
    },
    Rule {
        id: "TYK-AVAIL-MONGO-MEMBERS",
        family: Family::Availability,
        severity: Severity::Warning,
        title: "a MongoDB replica set has an odd number of members, so it can elect a primary after a loss",
        source: "Tyk docs, Planning for Production > Database Management, \"Split out Your Databases\" (https://tyk.io/docs/planning-for-production/database-settings); MongoDB docs, Replica Set Deployment Architectures: an odd number of voting members (https://www.mongodb.com/docs/manual/core/replica-set-architectures/)",
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
        source: "Tyk docs, Analytics Storage Management: capped collections (https://tyk.io/docs/api-management/dashboard-analytics/analytics-storage-management)",
    },
    Rule {
        id: "TYK-DATA-MONGO-CAP-NEW",
        family: Family::Data,
        severity: Severity::Note,
        title: "capping applies only when the Pump creates the analytics collection",
        source: "Tyk docs, Analytics Storage Management: the Pump caps a collection when it creates it; DocumentDB has no capped collections (https://tyk.io/docs/api-management/dashboard-analytics/analytics-storage-management); TykTechnologies/tyk-pump pumps/mongo.go `capCollection` at v1.12.2",
    },
    Rule {
        id: "TYK-DATA-PG-RETENTION",
        family: Family::Data,
        severity: Severity::Warning,
        title: "PostgreSQL analytics are sharded into daily tables with a retention",
        source: "Tyk docs, Analytics Storage Management: SQL table sharding, no capping (https://tyk.io/docs/api-management/dashboard-analytics/analytics-storage-management)",
    },
    Rule {
        id: "TYK-DATA-DETAILED",
        family: Family::Data,
        severity: Severity::Warning,
        title: "detailed recording is off (full requests and responses make storage grow fast)",
        source: "Tyk docs, Analytics Storage Management: detailed recording is the biggest driver of storage growth (https://tyk.io/docs/api-management/dashboard-analytics/analytics-storage-management)",
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
        source: "tykgen: `extra_config` only adds keys tykgen does not model; `override` is the explicit exception (docs/check-rules.md)",
    },
    Rule {
        id: "TYK-SEC-DB-TLS",
        family: Family::Security,
        severity: Severity::Warning,
        title: "the database uses TLS",
        source: "Tyk docs, Tyk Dashboard Configuration Options: `storage.<layer>.connection_string`, `mongo_use_ssl` (https://tyk.io/docs/tyk-dashboard/configuration); PostgreSQL docs, SSL Support: `sslmode` (https://www.postgresql.org/docs/current/libpq-ssl.html)",
    },
    Rule {
        id: "TYK-SEC-CONTROL-TLS",
        family: Family::Security,
        severity: Severity::Warning,
        title: "with TLS to Redis or the database, the Tyk control plane uses TLS too (`tyk.tls`)",
        source: "Tyk docs, Implement TLS > Using TLS with Tyk Dashboard (https://tyk.io/docs/api-management/implement-tls#using-tls-with-tyk-dashboard)",
    },
    Rule {
        id: "TYK-SEC-VERIFY",
        family: Family::Security,
        severity: Severity::Warning,
        title: "clients verify the server certificate (`verify: true`)",
        source: "Tyk docs, Planning for Production > Database Management, \"Redis Encryption\": skipping verification is not recommended for production (https://tyk.io/docs/planning-for-production/database-settings)",
    },
    Rule {
        id: "TYK-SEC-TLS-MIN",
        family: Family::Security,
        severity: Severity::Warning,
        title: "TLS versions below 1.2 are not accepted",
        source: "Tyk docs, Planning for Production > Database Management, \"Redis Encryption\": TLS 1.2 or 1.3 (https://tyk.io/docs/planning-for-production/database-settings)",
    },
    Rule {
        id: "TYK-SEC-MTLS-VERIFY",
        family: Family::Security,
        severity: Severity::Warning,
        title: "mutual TLS also verifies the server (the CA file mutual TLS builds on)",
        source: "Tyk docs, Planning for Production > Database Management, \"Redis Encryption\": mTLS builds on a verified TLS connection (https://tyk.io/docs/planning-for-production/database-settings)",
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
        source: "Tyk docs, Planning for Production > Database Management, \"Make sure you have enough Redis connections\" (https://tyk.io/docs/planning-for-production/database-settings); TykTechnologies/tyk storage/connection_handler.go and internal/rate/storage.go at v5.8.15 (four pools per Gateway)",
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
        source: "Tyk docs, Planning for Production > Database Management, \"Split out Your Databases\": each component installed on a separate machine (https://tyk.io/docs/planning-for-production/database-settings)",
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
    /// The reason from the profile's `check.accept`, when the profile accepts this finding: it is
    /// still reported, but does not count as a warning or note (nor fail `--strict`).
    pub accepted: Option<String>,
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
            accepted: None,
        }
    }
}

/// Every finding of every rule on a loaded, structurally valid profile and its topology, most
/// severe first.
#[must_use]
pub fn run(loaded: &Loaded, topology: &Topology) -> Vec<Finding> {
    let mut findings = rules::all(loaded, topology);
    accept(loaded, &mut findings);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.loc.as_ref().map(|l| l.line).cmp(&b.loc.as_ref().map(|l| l.line)))
            .then_with(|| a.rule.id.cmp(b.rule.id))
    });
    findings
}

/// Marks the findings the profile's `check.accept` accepts (never an error: `validate` refuses
/// to accept an error rule), and adds a note for each accepted rule that finds nothing, so a
/// stale acceptance does not hide the rule's next real finding unnoticed.
fn accept(loaded: &Loaded, findings: &mut Vec<Finding>) {
    let accepted = &loaded.profile.check.accept;
    for f in findings.iter_mut() {
        if f.severity < Severity::Error {
            f.accepted = accepted.get(f.rule.id).cloned();
        }
    }
    for id in accepted.keys() {
        let Some(rule) = RULES.iter().find(|r| r.id == id) else { continue };
        if !findings.iter().any(|f| f.rule.id == id) {
            let path = format!("check.accept.{id}");
            findings.push(Finding {
                rule,
                severity: Severity::Note,
                message: format!("`check.accept` accepts {id}, but nothing in this profile triggers it: remove `{path}`"),
                help: Some("an acceptance is for a finding you have decided to live with; without one it hides the rule's next finding".to_owned()),
                loc: Some(loaded.loc(&path)),
                path,
                accepted: None,
            });
        }
    }
}

/// The rules a profile may accept: those whose findings are warnings or notes.
pub fn acceptable(id: &str) -> Result<(), String> {
    match RULES.iter().find(|r| r.id == id) {
        Some(r) if r.severity == Severity::Error => {
            Err(format!("{id} finds errors (a plan Tyk does not support); errors cannot be accepted"))
        }
        Some(_) => Ok(()),
        None => Err(match crate::diagnostic::did_you_mean(id, RULES.iter().map(|r| r.id)) {
            Some(near) => format!("no check rule {id}: did you mean {near}?"),
            None => format!("no check rule {id} (the rules are listed in docs/check-rules.md)"),
        }),
    }
}

/// What `render` does with the rules: any error stops it (all findings are returned as
/// `Diagnostics`); otherwise warnings are printed to stderr and rendering goes on.
///
/// # Errors
/// The findings, when any is an error.
pub fn gate(loaded: &Loaded, topology: &Topology) -> Result<(), Diagnostics> {
    let findings = run(loaded, topology);
    let diags = Diagnostics(
        findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning && f.accepted.is_none())
            .map(Finding::diagnostic)
            .collect(),
    );
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

    /// How many findings have `severity` (accepted ones are not counted).
    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity && f.accepted.is_none()).count()
    }

    /// How many findings the profile accepts.
    #[must_use]
    pub fn accepted(&self) -> usize {
        self.findings.iter().filter(|f| f.accepted.is_some()).count()
    }

    /// True when the check passes: no errors, and with `strict` no warnings.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.count(Severity::Error) == 0 && !(self.strict && self.count(Severity::Warning) > 0)
    }
}

#[cfg(test)]
mod tests;
