//! The three outputs of `tykgen check`: human (the diagnostic renderer), JSON (schema in
//! `tests/fixtures/schemas/tykgen-check.schema.json`) and SARIF 2.1.0.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Family, Finding, RULES, Report};
use crate::diagnostic::{Loc, Severity};

/// The human report: each finding with its source line, help and guidance, then a summary.
#[must_use]
pub fn human(report: &Report, color: bool) -> String {
    let (accepted, open): (Vec<&Finding>, Vec<&Finding>) = report.findings.iter().partition(|f| f.accepted.is_some());
    let mut out: String = open.iter().map(|f| f.diagnostic().render(color) + "\n").collect();
    // Accepted findings get one line each: the profile already says why it lives with them.
    for f in &accepted {
        let at = f.loc.as_ref().map(|l| format!(" ({})", l.position())).unwrap_or_default();
        let why = f.accepted.as_deref().unwrap_or_default();
        let _ = writeln!(out, "accepted[{}]{at}: {} (the profile says: {why})", f.rule.id, f.message);
    }
    if !accepted.is_empty() {
        out.push('\n');
    }
    let name = report.profile.as_deref().unwrap_or("the profile");
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (e, w, n) = (report.count(Severity::Error), report.count(Severity::Warning), report.count(Severity::Note));
    let verdict = if report.passed() {
        "passed"
    } else if e > 0 {
        "failed"
    } else {
        "failed (--strict: warnings fail the check)"
    };
    let accepted = match report.accepted() {
        0 => String::new(),
        a => format!(", {a} accepted"),
    };
    let _ = writeln!(
        out,
        "{name}: {}, {}, {}{accepted}; check {verdict}",
        plural(e, "error"),
        plural(w, "warning"),
        plural(n, "note")
    );
    out
}

fn location(loc: &Loc) -> Value {
    json!({ "file": loc.source.name, "line": loc.line, "column": loc.col, "length": loc.len.max(1) })
}

/// The `--format json` document.
#[must_use]
pub fn json(report: &Report) -> Value {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "id": f.rule.id,
                "severity": f.severity,
                "family": f.rule.family,
                "message": f.message,
                "help": f.help,
                "source": f.rule.source,
                "path": (!f.path.is_empty()).then_some(&f.path),
                "location": f.loc.as_ref().map(location),
                "accepted": f.accepted,
            })
        })
        .collect();
    json!({
        "tool": "tykgen",
        "version": env!("CARGO_PKG_VERSION"),
        "profile": report.profile,
        "strict": report.strict,
        "passed": report.passed(),
        "summary": {
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
            "notes": report.count(Severity::Note),
            "accepted": report.accepted(),
        },
        "findings": findings,
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// The URI of a profile source for SARIF: built-in profiles by their path in this repository,
/// files as given (percent-encoded, absolute paths as `file://`); `None` for `--set`.
fn artifact_uri(name: &str) -> Option<String> {
    if name == "--set" {
        return None;
    }
    let path = name.strip_prefix("<built-in>/").unwrap_or(name);
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Some(if path.starts_with('/') { format!("file://{out}") } else { out })
}

fn sarif_result(f: &Finding) -> Value {
    let index = RULES.iter().position(|r| r.id == f.rule.id).unwrap_or_default();
    let mut text = f.message.clone();
    if let Some(help) = &f.help {
        text.push_str(&format!(" ({help})"));
    }
    let mut result = json!({
        "ruleId": f.rule.id,
        "ruleIndex": index,
        "level": level(f.severity),
        "message": { "text": text },
    });
    let mut location = serde_json::Map::new();
    if let Some(loc) = &f.loc
        && let Some(uri) = artifact_uri(&loc.source.name)
    {
        location.insert(
            "physicalLocation".into(),
            json!({
                "artifactLocation": { "uri": uri },
                "region": {
                    "startLine": loc.line,
                    "startColumn": loc.col,
                    "endColumn": loc.col + loc.len.max(1),
                },
            }),
        );
    }
    if !f.path.is_empty() {
        location.insert("logicalLocations".into(), json!([{ "fullyQualifiedName": f.path, "kind": "member" }]));
    }
    if !location.is_empty() {
        result["locations"] = json!([Value::Object(location)]);
    }
    if let Some(why) = &f.accepted {
        result["suppressions"] = json!([{ "kind": "inSource", "justification": why }]);
    }
    result
}

/// The `--format sarif` document (SARIF 2.1.0).
#[must_use]
pub fn sarif(report: &Report) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "shortDescription": { "text": r.title },
                "fullDescription": { "text": format!("{} Source: {}.", r.title, r.source) },
                "help": { "text": format!("See docs/check-rules.md ({}).", r.id) },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": { "family": r.family, "source": r.source, "tags": [family_tag(r.family)] },
            })
        })
        .collect();
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "tykgen",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": report.findings.iter().map(sarif_result).collect::<Vec<_>>(),
        }],
    })
}

fn family_tag(f: Family) -> &'static str {
    match f {
        Family::Profile => "profile",
        Family::Compatibility => "compatibility",
        Family::Availability => "availability",
        Family::Data => "data-safety",
        Family::Security => "security",
        Family::Capacity => "capacity",
        Family::Placement => "placement",
    }
}
