use std::collections::BTreeSet;
use std::path::PathBuf;

use super::*;
use crate::profile::{Input, load};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check")
}

fn ids(report: &Report, severity: Severity) -> BTreeSet<&'static str> {
    report.findings.iter().filter(|f| f.severity == severity).map(|f| f.rule.id).collect()
}

fn builtin(name: &str, sets: &[&str]) -> Report {
    let input =
        Input { profile: Some(name.into()), sets: sets.iter().map(|s| (*s).to_owned()).collect(), ..Input::default() };
    crate::commands::check::report(&input, true)
}

fn fixture(rule_id: &str) -> Report {
    let dir = fixtures();
    let mut input = Input { profile: Some(dir.join("clean.yaml").display().to_string()), ..Input::default() };
    if rule_id != "clean" {
        input.overlays.push(dir.join(format!("{rule_id}.yaml")));
    }
    crate::commands::check::report(&input, true)
}

#[test]
fn rule_ids_are_unique_well_formed_and_documented() {
    let doc = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/check-rules.md")).unwrap();
    let mut seen = BTreeSet::new();
    for r in RULES {
        assert!(seen.insert(r.id), "duplicate {}", r.id);
        assert!(r.id.starts_with("TYK-") && r.id.bytes().all(|b| b.is_ascii_uppercase() || b == b'-'), "{}", r.id);
        assert!(doc.contains(&format!("`{}`", r.id)), "{} is missing from docs/check-rules.md", r.id);
        assert!(!r.source.is_empty() && !r.title.is_empty());
    }
}

#[test]
fn rule_sources_are_public() {
    // Users have Tyk's public docs, release notes and sources, and this project's docs: nothing
    // else. Every source names a URL, a source file at a tag, or the project's own docs.
    let doc = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/check-rules.md")).unwrap();
    for r in RULES {
        for private in ["tyk-reference", "shared/", "§", "seed-planning"] {
            assert!(!r.source.contains(private), "{}: source cites {private:?}: {}", r.id, r.source);
        }
        let public = r.source.contains("https://") || r.source.contains("docs/check-rules.md");
        assert!(public, "{}: source names no public page: {}", r.id, r.source);
    }
    for private in ["tyk-reference", "shared/", "§", "seed-planning"] {
        assert!(!doc.contains(private), "docs/check-rules.md cites {private:?}");
    }
}

#[test]
fn the_clean_fixture_has_no_finding() {
    let r = fixture("clean");
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.passed());
}

#[test]
fn each_fixture_triggers_exactly_its_rule() {
    for rule in RULES {
        let report = fixture(rule.id);
        let got: BTreeSet<&str> = report.findings.iter().map(|f| f.rule.id).collect();
        assert_eq!(got, BTreeSet::from([rule.id]), "fixture {}: {:#?}", rule.id, report.findings);
        let f = &report.findings[0];
        if rule.id != "TYK-PROFILE" {
            assert_eq!(f.severity, rule.severity, "{}", rule.id);
            let loc = f.loc.as_ref().expect("located");
            assert!(loc.source.name.ends_with(&format!("{}.yaml", rule.id)), "{} at {}", rule.id, loc.position());
        }
    }
}

#[test]
fn production_builtins_pass_strict() {
    for name in ["production", "production-mongo", "redis-cluster"] {
        let r = builtin(name, &[]);
        let bad: Vec<_> = r.findings.iter().filter(|f| f.severity >= Severity::Warning).collect();
        assert!(bad.is_empty(), "{name}: {bad:#?}");
        assert!(r.passed(), "{name}: {:#?}", r.findings);
    }
    assert_eq!(ids(&builtin("production-mongo", &[]), Severity::Note), BTreeSet::from(["TYK-DATA-MONGO-CAP-NEW"]));
}

#[test]
fn lab_and_oss_show_only_lab_warnings() {
    let lab = builtin("lab", &[]);
    assert!(ids(&lab, Severity::Error).is_empty());
    assert_eq!(
        ids(&lab, Severity::Warning),
        BTreeSet::from([
            "TYK-AVAIL-DB-REPLICAS",
            "TYK-AVAIL-GATEWAYS",
            "TYK-DATA-DETAILED",
            "TYK-SEC-DB-TLS",
            "TYK-SEC-REDIS-TLS",
        ])
    );
    assert_eq!(ids(&lab, Severity::Note), BTreeSet::from(["TYK-AVAIL-REDIS-FAILOVER"]));
    let oss = builtin("oss", &[]);
    assert!(oss.findings.is_empty(), "{:#?}", oss.findings);
}

#[test]
fn production_claim_comes_from_name_or_description() {
    let mut p = load(&Input { profile: Some("lab".into()), ..Input::default() }).unwrap().profile;
    assert!(!rules::claims_production(&p));
    p.description = "Our PROD stack".into();
    assert!(rules::claims_production(&p));
    p.description = "a non-production lab".into();
    assert!(!rules::claims_production(&p));
    p.name = "eu-production".into();
    assert!(rules::claims_production(&p));
    p.name = "products".into();
    assert!(!rules::claims_production(&p));
}

#[test]
fn compatibility_matrix_examples() {
    // `lab` without table sharding, whose Log Browser defect these old releases have.
    let matrix = |sets: &[&str]| builtin("lab", &[sets, &["analytics.retention_days=null"]].concat());
    // The example: Tyk 5.2 and earlier support only Redis 6.0 and 6.2.
    let r = matrix(&["tyk.version=5.2.0", "database.version=15"]);
    assert_eq!(ids(&r, Severity::Error), BTreeSet::from(["TYK-COMPAT-REDIS"]));
    assert!(
        r.findings[0].message.contains("Tyk 5.2.0 supports Redis 6.0 to 6.2, not 7.2"),
        "{}",
        r.findings[0].message
    );
    assert!(
        ids(&matrix(&["tyk.version=5.2.0", "redis.version=6.0", "database.version=15"]), Severity::Error).is_empty()
    );
    // Redis 8 from Tyk 5.9, but Pump 1.12.0 reads the main Redis and supports it from 1.12.1 only.
    let r = matrix(&["tyk.version=5.9.0", "redis.version=8.0", "tyk.pump_version=1.12.0"]);
    assert_eq!(ids(&r, Severity::Error), BTreeSet::from(["TYK-COMPAT-REDIS"]));
    assert!(r.findings[0].message.starts_with("Pump 1.12.0 supports Redis"), "{}", r.findings[0].message);
    assert!(
        ids(&matrix(&["tyk.version=5.9.0", "redis.version=8.0", "tyk.pump_version=1.12.1"]), Severity::Error)
            .is_empty()
    );
    // PostgreSQL 17 from Tyk 5.3.11, not in 5.4 to 5.7.
    assert!(ids(&matrix(&["tyk.version=5.3.11", "database.version=17"]), Severity::Error).is_empty());
    assert_eq!(
        ids(&matrix(&["tyk.version=5.5.0", "database.version=17"]), Severity::Error),
        BTreeSet::from(["TYK-COMPAT-POSTGRES"])
    );
}

#[test]
fn capacity_counts_the_machines_that_use_each_redis() {
    // redis-cluster: the Pump reads the analytics Redis, not the main one.
    // With a separate cache and analytics Redis each Gateway opens two pools towards the main one.
    let r = builtin("redis-cluster", &["redis.maxclients=27999"]);
    let f = r.findings.iter().find(|f| f.rule.id == "TYK-CAP-MAXCLIENTS").expect("finding");
    assert!(
        f.message.contains("28000 connections (3 gateways × 2 pools × 4000 + 1 dashboard × 4000)"),
        "{}",
        f.message
    );
    assert_eq!(f.path, "redis.maxclients");
    let r = builtin("redis-cluster", &["analytics_redis.maxclients=7999"]);
    let f = r.findings.iter().find(|f| f.rule.id == "TYK-CAP-MAXCLIENTS").expect("finding");
    assert!(f.message.contains("(3 gateways × 2000 + 1 pump × 2000)"), "{}", f.message);
    // Without them, four: default, cache, analytics and the rate limiter.
    let r = builtin("production", &["redis.maxclients=39999"]);
    let f = r.findings.iter().find(|f| f.rule.id == "TYK-CAP-MAXCLIENTS").expect("finding");
    assert!(
        f.message.contains("40000 connections (2 gateways × 4 pools × 4000 + 1 dashboard × 4000 + 1 pump × 4000)"),
        "{}",
        f.message
    );
    assert!(builtin("production", &["redis.maxclients=40000"]).passed());
}

#[test]
fn known_defects_name_the_release_that_fixed_them() {
    // The example: a TLS profile on 5.8.2 needs 5.8.6 for its rate limiter.
    let r = builtin("production", &["tyk.version=5.8.2"]);
    let errors = ids(&r, Severity::Error);
    assert_eq!(errors, BTreeSet::from(["TYK-COMPAT-RATE-LIMITER-TLS", "TYK-COMPAT-SHARDED-LOGS"]));
    let f = r.findings.iter().find(|f| f.rule.id == "TYK-COMPAT-RATE-LIMITER-TLS").unwrap();
    assert!(f.message.contains("raise `tyk.version` to 5.8.6 or later"), "{}", f.message);
    let f = r.findings.iter().find(|f| f.rule.id == "TYK-COMPAT-SHARDED-LOGS").unwrap();
    assert!(f.message.contains("raise `tyk.version` to 5.8.7 or later"), "{}", f.message);
    // 5.9 has both again; the fixes are in 5.10.0 and 5.10.1.
    let r = builtin("production", &["tyk.version=5.9.2", "tyk.pump_version=1.13.0"]);
    assert!(r.findings.iter().any(|f| f.message.contains("to 5.10.0 or later")), "{:#?}", r.findings);
    assert!(r.findings.iter().any(|f| f.message.contains("to 5.10.1 or later")), "{:#?}", r.findings);
    // Without verification the rate limiter's TLS works; without a Pump nothing is sharded.
    assert!(ids(&builtin("oss", &["tyk.version=5.8.2", "redis.tls.verify=false"]), Severity::Error).is_empty());
    assert!(ids(&builtin("lab", &["tyk.version=5.8.2", "pump.nodes=0"]), Severity::Error).is_empty());
}

#[test]
fn render_stops_on_errors_only() {
    let input = |sets: &[&str]| Input {
        profile: Some("lab".into()),
        sets: sets.iter().map(|s| (*s).to_owned()).collect(),
        ..Input::default()
    };
    let planned = crate::plan(&input(&[])).unwrap();
    assert!(gate(&planned.loaded, &planned.topology).is_ok(), "warnings do not stop render");
    let planned = crate::plan(&input(&["redis.version=6.0", "check="])).unwrap();
    let err = gate(&planned.loaded, &planned.topology).unwrap_err();
    assert!(err.has_errors());
    let text = err.render(false);
    assert!(text.contains("error[TYK-COMPAT-REDIS]"), "{text}");
    assert!(text.contains("= source: Tyk release notes, \"3rd Party Dependencies & Tools\" (https://"), "{text}");
    assert!(text.contains("warning[TYK-AVAIL-GATEWAYS]"), "{text}");
    // What the profile accepts is not printed by render.
    let planned = crate::plan(&input(&["redis.version=6.0"])).unwrap();
    let text = gate(&planned.loaded, &planned.topology).unwrap_err().render(false);
    assert!(!text.contains("TYK-AVAIL-GATEWAYS"), "{text}");
}

#[test]
fn placement_compares_addresses_canonically() {
    let r =
        builtin("production", &["machines.gateway-1.address=2001:db8::1", "machines.postgres-1.address=2001:DB8:0::1"]);
    let f = r.findings.iter().find(|f| f.rule.id == "TYK-PLACE-GATEWAY-DATA").expect("finding");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.path, "machines.postgres-1.address");
}

#[test]
fn distro_packages_say_which_systems_ship_the_versions() {
    // production asks Redis 7.2 and PostgreSQL 16: no distribution ships 7.2.
    let r = builtin("production", &["targets.ansible.packages=distro"]);
    assert_eq!(ids(&r, Severity::Error), BTreeSet::from(["TYK-COMPAT-DISTRO"]));
    let f = r.findings.iter().find(|f| f.rule.id == "TYK-COMPAT-DISTRO").unwrap();
    assert!(f.message.contains("Redis 7.2 (`redis.version`)"), "{}", f.message);
    assert_eq!(f.path, "targets.ansible.packages");
    // Redis 7.0 and PostgreSQL 15: Debian 12 only.
    let r = builtin("production", &["targets.ansible.packages=distro", "redis.version=7.0", "database.version=15"]);
    assert!(ids(&r, Severity::Error).is_empty(), "{:?}", ids(&r, Severity::Error));
    let f = r.findings.iter().find(|f| f.rule.id == "TYK-COMPAT-DISTRO").unwrap();
    assert_eq!(f.severity, Severity::Note);
    assert!(f.message.ends_with("only on Debian 12"), "{}", f.message);
    // MongoDB: no distribution.
    let r = builtin("production-mongo", &["targets.ansible.packages=distro", "redis.version=7.0"]);
    assert!(ids(&r, Severity::Error).contains("TYK-COMPAT-DISTRO"));
    // The default (upstream) and mirror say nothing.
    for source in ["upstream", "mirror"] {
        let r = builtin("production", &[&format!("targets.ansible.packages={source}")]);
        assert!(r.findings.iter().all(|f| f.rule.id != "TYK-COMPAT-DISTRO"), "{source}");
    }
    // A typo is a located profile error.
    let r = builtin("production", &["targets.ansible.packages=distor"]);
    assert_eq!(ids(&r, Severity::Error), BTreeSet::from(["TYK-PROFILE"]));
}
