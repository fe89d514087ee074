//! `tykgen check`: the rule fixtures through the binary, exit codes, `--strict`, the JSON and
//! SARIF outputs against their schemas, and `render` stopping on check errors.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::tykgen;
use crate::tools::repo_root;

const FIXTURES: &str = "tests/fixtures/check";

fn schema(name: &str) -> jsonschema::Validator {
    let path = repo_root().join("tests/fixtures/schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::options().should_validate_formats(true).build(&schema).expect("schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not validate:\n{}\n{doc:#}", errors.join("\n"));
}

/// Runs `tykgen check ARGS`, returns (exit code, stdout).
fn check(args: &[&str]) -> (i32, String) {
    let out = tykgen().arg("check").args(args).output().expect("tykgen check runs");
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).expect("utf-8"))
}

fn ids(doc: &Value) -> BTreeSet<String> {
    doc["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
}

fn rule_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join(FIXTURES))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".yaml").map(str::to_owned))
        .filter(|n| n.starts_with("TYK-"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_rule_fixture_triggers_exactly_its_rule_in_json_and_sarif() {
    let json_schema = schema("tykgen-check.schema.json");
    let sarif_schema = schema("sarif-schema-2.1.0.json");
    let base = format!("{FIXTURES}/clean.yaml");
    let fixtures = rule_fixtures();
    assert!(fixtures.len() >= 28, "{fixtures:?}");
    for id in &fixtures {
        let overlay = format!("{FIXTURES}/{id}.yaml");
        let (code, out) = check(&[&base, "-f", &overlay, "--format", "json"]);
        let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{id}: {e}\n{out}"));
        assert_valid(&json_schema, &doc, id);
        assert_eq!(ids(&doc), BTreeSet::from([id.clone()]), "{id}: {doc:#}");
        let severity = doc["findings"][0]["severity"].as_str().unwrap();
        assert_eq!(code, i32::from(severity == "error"), "{id}: exit code for a {severity}");
        let (_, out) = check(&[&base, "-f", &overlay, "--format", "sarif", "--strict"]);
        let sarif: Value = serde_json::from_str(&out).unwrap();
        assert_valid(&sarif_schema, &sarif, &format!("{id} (sarif)"));
        assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], id.as_str());
    }
    let (code, out) = check(&[&base, "--format", "json", "--strict"]);
    assert_eq!(code, 0, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert!(ids(&doc).is_empty() && doc["passed"] == true, "{doc:#}");
}

#[test]
fn sarif_of_a_builtin_profile_points_at_its_file_in_the_repository() {
    let (code, out) = check(&["lab", "--format", "sarif"]);
    assert_eq!(code, 0);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    assert_valid(&schema("sarif-schema-2.1.0.json"), &sarif, "lab (sarif)");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let uri = &r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert_eq!(uri, "profiles/lab.yaml", "{r:#}");
        assert!(repo_root().join(uri.as_str().unwrap()).is_file());
    }
    // A `--set` value has no file: only its logical location.
    let (_, out) =
        check(&["lab", "--set", "gateway.nodes=3", "--set", "gateway.load_balancer=false", "--format", "sarif"]);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    assert_valid(&schema("sarif-schema-2.1.0.json"), &sarif, "lab --set (sarif)");
    let lb = sarif["runs"][0]["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "TYK-AVAIL-LB").unwrap();
    assert_eq!(lb["locations"][0]["logicalLocations"][0]["fullyQualifiedName"], "gateway.load_balancer");
    assert!(lb["locations"][0].get("physicalLocation").is_none(), "{lb:#}");
}

#[test]
fn builtin_profiles() {
    // Every built-in passes --strict as it is: the production ones because `maxclients` covers
    // every pool (four per Gateway towards the main Redis) and their Tyk release has no known
    // defect they hit; `lab` because it accepts its five lab-only warnings in `check.accept`.
    for name in ["production", "production-mongo", "redis-cluster", "oss", "lab"] {
        let (code, out) = check(&[name, "--strict"]);
        assert_eq!(code, 0, "{name}: {out}");
    }
    // A TLS profile on 5.8.2: its rate limiter cannot verify Redis until 5.8.6.
    let (code, out) = check(&["production", "--set", "tyk.version=5.8.2"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error[TYK-COMPAT-RATE-LIMITER-TLS]") && out.contains("5.8.6"), "{out}");
}

#[test]
fn accepted_findings_are_reported_but_do_not_fail_strict() {
    let (code, out) = check(&["lab", "--format", "json", "--strict"]);
    assert_eq!(code, 0, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_valid(&schema("tykgen-check.schema.json"), &doc, "lab");
    assert_eq!(doc["summary"], serde_json::json!({ "errors": 0, "warnings": 0, "notes": 1, "accepted": 5 }));
    let accepted: BTreeSet<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["accepted"].is_string())
        .map(|f| format!("{} {}", f["severity"].as_str().unwrap(), f["id"].as_str().unwrap()))
        .collect();
    assert!(accepted.contains("warning TYK-AVAIL-GATEWAYS") && accepted.len() == 5, "{accepted:?}");
    // SARIF marks them suppressed in source, with the profile's reason.
    let (_, out) = check(&["lab", "--format", "sarif"]);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let gw = results.iter().find(|r| r["ruleId"] == "TYK-AVAIL-GATEWAYS").unwrap();
    assert_eq!(gw["suppressions"][0]["kind"], "inSource", "{gw:#}");
    assert!(gw["suppressions"][0]["justification"].as_str().unwrap().contains("one Gateway"), "{gw:#}");
    // Without the acceptances (`--set check=` removes the key) the same warnings fail --strict.
    let (code, out) = check(&["lab", "--set", "check=", "--format", "json", "--strict"]);
    assert_eq!(code, 1, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["summary"], serde_json::json!({ "errors": 0, "warnings": 5, "notes": 1, "accepted": 0 }));
    // Errors cannot be accepted, unknown ids get a did-you-mean, and a stale acceptance is a note.
    let (code, out) = check(&["production", "--set", "check.accept.TYK-COMPAT-REDIS=because"]);
    assert_eq!(code, 1);
    assert!(out.contains("TYK-COMPAT-REDIS finds errors") && out.contains("--set:1:14"), "{out}");
    let (code, out) = check(&["production", "--set", "check.accept.TYK-AVAIL-GATEWAY=because"]);
    assert_eq!(code, 1);
    assert!(out.contains("did you mean TYK-AVAIL-GATEWAYS?"), "{out}");
    let (code, out) = check(&["production", "--set", "check.accept.TYK-AVAIL-GATEWAYS=because", "--strict"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("note[TYK-AVAIL-GATEWAYS]: `check.accept` accepts TYK-AVAIL-GATEWAYS, but nothing"), "{out}");
    let (code, out) = check(&["production", "--set", "check.accept.TYK-AVAIL-GATEWAYS=\"\""]);
    assert_eq!(code, 1);
    assert!(out.contains("has no reason"), "{out}");
}

#[test]
fn human_output_names_rule_location_help_and_source_without_colour_when_piped() {
    let out = tykgen().args(["check", "lab", "--set", "check="]).env_remove("NO_COLOR").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no colour on a pipe: {text}");
    assert!(text.contains("warning[TYK-AVAIL-GATEWAYS]: 1 Gateway: set `gateway.nodes` to 2 or more"), "{text}");
    assert!(text.contains("--> <built-in>/profiles/lab.yaml:"), "{text}");
    assert!(text.contains("= help: "), "{text}");
    assert!(
        text.contains(
            "= source: Tyk docs, Planning for Production > Database Management, \"Split out Your Databases\""
        ),
        "{text}"
    );
    assert!(text.contains("note[TYK-AVAIL-REDIS-FAILOVER]"), "{text}");
    assert!(text.trim_end().ends_with("lab: 0 errors, 5 warnings, 1 note; check passed"), "{text}");
}

#[test]
fn a_profile_that_does_not_load_is_reported_in_every_format() {
    let base = format!("{FIXTURES}/clean.yaml");
    let overlay = format!("{FIXTURES}/TYK-PROFILE.yaml");
    let (code, out) = check(&[&base, "-f", &overlay]);
    assert_eq!(code, 1);
    assert!(out.contains("unknown key `gatway`") && out.contains("check failed"), "{out}");
    let (code, out) = check(&["no-such-profile", "--format", "json"]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_valid(&schema("tykgen-check.schema.json"), &doc, "load error");
    assert_eq!(doc["profile"], Value::Null);
    assert_eq!(doc["findings"][0]["id"], "TYK-PROFILE");
}

#[test]
fn render_stops_on_check_errors_and_prints_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().display().to_string();
    let out = tykgen().args(["render", "lab", "-o", &out_dir, "--set", "redis.version=6.0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[TYK-COMPAT-REDIS]"), "{stderr}");
    assert!(!dir.path().join("lab").exists(), "nothing written");
    let out = tykgen().args(["render", "lab", "-o", &out_dir]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("TYK-SEC-REDIS-TLS"), "accepted warnings are for `check` only: {stderr}");
    let out = tykgen().args(["render", "lab", "-o", &out_dir, "--set", "check="]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning[TYK-SEC-REDIS-TLS]"), "{stderr}");
    assert!(!stderr.contains("note["), "notes are for `check` only: {stderr}");
}
