//! Every environment variable name tykgen hands to a Tyk component is one that component reads.
//!
//! `tests/fixtures/tyk-env-names.json` lists the names from tyk-docs' generated configuration
//! references (its source commit and paths are in the file). For every built-in profile, the
//! names given to each Gateway, Dashboard and Pump are collected from every place tykgen writes
//! them (the bundle's `machines.json` and README, the compose services' `environment`, the Ansible
//! host variables that `env.j2` turns into `/etc/default/tyk-*`) and looked up in that list. An
//! env name is never derived by a rule: a JSON key path does not give the Dashboard's name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::common::{builtins, read_json, render_all};
use crate::tools::repo_root;

/// Names emitted today that the fixture does not list, each waiting for a fix on another branch.
/// The test fails when one is no longer emitted, so the entry is removed with the fix. (Empty
/// since the Dashboard's `PGPASSWORD` moved into `TYK_DB_STORAGE_<LAYER>_CONNECTIONSTRING`.)
const PENDING: &[(&str, &str)] = &[];

/// `tykgen`'s own variables, read by its entrypoint scripts, never by a Tyk process.
const OWN_PREFIX: &str = "TYKGEN_";

struct Fixture {
    names: BTreeMap<&'static str, BTreeSet<String>>,
}

impl Fixture {
    fn load() -> Self {
        let doc = read_json(&repo_root().join("tests/fixtures/tyk-env-names.json"));
        assert_eq!(doc["source"]["repo"], "TykTechnologies/tyk-docs", "the fixture names its source");
        assert!(doc["source"]["commit"].as_str().is_some_and(|c| c.len() == 40), "and its commit");
        let list = |v: &Value| -> BTreeSet<String> {
            v.as_array().expect("a list of names").iter().map(|n| n.as_str().unwrap().to_owned()).collect()
        };
        let mut names = BTreeMap::new();
        names.insert("gateway", list(&doc["gateway"]));
        names.insert("dashboard", list(&doc["dashboard"]));
        let mut pump = list(&doc["pump"]);
        pump.extend(list(&doc["pump_libpq"]["names"]));
        names.insert("pump", pump);
        for (component, set) in &names {
            assert!(set.len() > 150, "{component}: only {} names in the fixture", set.len());
        }
        Self { names }
    }

    fn reads(&self, component: &str, name: &str) -> bool {
        self.names.get(component).is_some_and(|s| s.contains(name))
    }
}

/// `(component, name, where)` for every env name given to a Tyk machine in a rendered profile.
fn emitted(dir: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let machines = read_json(&dir.join("config/machines.json"));
    let mut role_of = BTreeMap::new();
    for m in machines["machines"].as_array().unwrap() {
        let (name, role) = (m["name"].as_str().unwrap(), m["role"].as_str().unwrap());
        role_of.insert(name.to_owned(), role.to_owned());
        for s in m["secrets"].as_array().unwrap() {
            if let Some(var) = s["var"].as_str() {
                out.push((role.to_owned(), var.to_owned(), format!("config/machines.json {name}")));
            }
        }
    }
    // README: "- `<machine>`:" then "  - environment `NAME` = ..." lines.
    let readme = std::fs::read_to_string(dir.join("config/README.md")).unwrap();
    let mut current = None;
    for line in readme.lines() {
        if let Some(m) = line.strip_prefix("- `").and_then(|l| l.strip_suffix("`:")) {
            current = role_of.get(m).map(|r| (m.to_owned(), r.clone()));
        } else if let (Some((m, role)), Some(rest)) = (&current, line.trim_start().strip_prefix("- environment `")) {
            let var = rest.split('`').next().unwrap();
            out.push((role.clone(), var.to_owned(), format!("config/README.md {m}")));
        }
    }
    let compose: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(dir.join("compose/compose.yaml")).unwrap()).unwrap();
    for (name, s) in compose["services"].as_object().unwrap() {
        let Some(role) = s["labels"]["com.tykgen.machine"].as_str().and_then(|m| role_of.get(m)) else { continue };
        for var in s["environment"].as_object().into_iter().flat_map(|e| e.keys()) {
            out.push((role.clone(), var.clone(), format!("compose/compose.yaml {name}")));
        }
    }
    for (m, role) in &role_of {
        let path = dir.join(format!("ansible/inventory/host_vars/{m}.yml"));
        let host: Value = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for e in host["tykgen_env"].as_array().into_iter().flatten() {
            out.push((role.clone(), e["var"].as_str().unwrap().to_owned(), format!("ansible host_vars/{m}.yml")));
        }
    }
    out.retain(|(role, var, _)| {
        matches!(role.as_str(), "gateway" | "dashboard" | "pump") && !var.starts_with(OWN_PREFIX)
    });
    out
}

#[test]
fn every_env_name_given_to_a_tyk_component_is_one_it_reads() {
    let fixture = Fixture::load();
    let tmp = tempfile::tempdir().unwrap();
    let mut unknown = BTreeSet::new();
    let mut seen_pending = BTreeSet::new();
    let mut counted = 0;
    for profile in builtins() {
        render_all(&profile, tmp.path(), &["--force"]);
        for (component, var, place) in emitted(&tmp.path().join(&profile)) {
            counted += 1;
            if fixture.reads(&component, &var) {
                continue;
            }
            if PENDING.contains(&(component.as_str(), var.as_str())) {
                seen_pending.insert((component, var));
            } else {
                unknown.insert(format!("{profile}: {place}: {component} does not read `{var}`"));
            }
        }
    }
    assert!(counted > 50, "only {counted} env names found: the collector lost track of the output");
    assert!(
        unknown.is_empty(),
        "names not in tests/fixtures/tyk-env-names.json:\n{}",
        unknown.into_iter().collect::<Vec<_>>().join("\n")
    );
    for (component, var) in PENDING {
        assert!(
            seen_pending.contains(&((*component).to_owned(), (*var).to_owned())),
            "{component} no longer gets `{var}`: remove it from PENDING"
        );
    }
}

#[test]
fn the_fixture_has_the_names_issue_10_is_about() {
    let f = Fixture::load();
    // The Dashboard's names come from its Go field names, not its JSON keys.
    assert!(f.reads("dashboard", "TYK_DB_NODESECRET") && !f.reads("dashboard", "TYK_DB_SHAREDNODESECRET"));
    assert!(f.reads("dashboard", "TYK_DB_TYKAPI_SECRET") && !f.reads("dashboard", "TYK_DB_TYKAPICONFIG_SECRET"));
    assert!(f.reads("dashboard", "TYK_DB_STORAGE_MAIN_CONNECTIONSTRING") && !f.reads("dashboard", "PGPASSWORD"));
    assert!(f.reads("gateway", "TYK_GW_STORAGE_SENTINELPASSWORD"));
    assert!(f.reads("pump", "TYK_PMP_ANALYTICSSTORAGECONFIG_PASSWORD") && f.reads("pump", "PGPASSWORD"));
}
