//! Who may reach whom: the host firewalls (Ansible, nftables) and the security groups (Terraform)
//! of every built-in, expanded into (source, server, port) triples and compared with a committed
//! snapshot. The snapshots were taken from the per-pair link model, before links could name a
//! server group, so they prove the group model admits exactly the same connections.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::{builtins, render_all};

/// `(source, server, port)`: a machine, an external source (`clients`, `admins`,
/// `load_balancer`) or a tier on the source side.
type Triple = (String, String, u16);

fn yaml(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Every connection the rendered host firewalls accept, besides SSH: each host's
/// `tykgen_firewall_rules` with machines, external sources and server groups (a group's members
/// from `tykgen_server_groups`, the host itself left out, as the nftables template does).
fn firewall(ansible: &Path) -> BTreeSet<Triple> {
    let all = yaml(&ansible.join("inventory/group_vars/all/main.yml"));
    let groups: BTreeMap<String, Vec<String>> = all["tykgen_server_groups"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), strings(v))).collect())
        .unwrap_or_default();
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(ansible.join("inventory/host_vars")).unwrap() {
        let path = entry.unwrap().path();
        let host = path.file_stem().unwrap().to_str().unwrap().to_owned();
        for rule in yaml(&path)["tykgen_firewall_rules"].as_array().into_iter().flatten() {
            let port = u16::try_from(rule["port"].as_u64().unwrap()).unwrap();
            let mut sources: Vec<String> = strings(&rule["machines"]);
            sources.extend(strings(&rule["external"]));
            for g in strings(&rule["groups"]) {
                let members =
                    groups.get(&g).unwrap_or_else(|| panic!("{host}: group {g} is not in tykgen_server_groups"));
                sources.extend(members.iter().filter(|m| **m != host).cloned());
            }
            for s in sources {
                out.insert((s, host.clone(), port));
            }
        }
    }
    out
}

/// `local.sg_rules` of the rendered `security_groups.tf`: (from tier, to tier, port).
fn security_groups(terraform: &Path) -> BTreeSet<Triple> {
    let text = std::fs::read_to_string(terraform.join("security_groups.tf")).unwrap();
    let body = hcl::parse(&text).expect("security_groups.tf parses");
    let locals = body.blocks().filter(|b| b.identifier() == "locals");
    let rules = locals
        .flat_map(|b| b.body().attributes())
        .find(|a| a.key() == "sg_rules")
        .expect("local.sg_rules")
        .expr()
        .clone();
    let hcl::Expression::Object(rules) = rules else { panic!("sg_rules is an object") };
    let field = |o: &hcl::Object<hcl::ObjectKey, hcl::Expression>, k: &str| {
        o.iter()
            .find(|(key, _)| matches!(key, hcl::ObjectKey::Identifier(i) if i.as_str() == k))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("sg rule without {k}"))
    };
    rules
        .values()
        .map(|r| {
            let hcl::Expression::Object(r) = r else { panic!("an sg rule is an object") };
            let text = |e: hcl::Expression| match e {
                hcl::Expression::String(s) => s,
                other => panic!("expected a string, got {other:?}"),
            };
            let port = match field(r, "port") {
                hcl::Expression::Number(n) => u16::try_from(n.as_u64().unwrap()).unwrap(),
                other => panic!("expected a port, got {other:?}"),
            };
            (text(field(r, "from")), text(field(r, "to")), port)
        })
        .collect()
}

fn listing(firewall: &BTreeSet<Triple>, sg: &BTreeSet<Triple>) -> String {
    let mut out = format!("# host firewall: {} (source, host, port)\n", firewall.len());
    for (s, h, p) in firewall {
        out.push_str(&format!("fw {s} -> {h}:{p}\n"));
    }
    out.push_str(&format!("# security groups: {} (from tier, to tier, port)\n", sg.len()));
    for (s, h, p) in sg {
        out.push_str(&format!("sg {s} -> {h}:{p}\n"));
    }
    out
}

/// The built-ins, plus two Dashboards (Gateway and Dashboard links run both ways) with three
/// PostgreSQL members, and a single Sentinel (no Sentinel peers).
fn cases() -> Vec<(String, String, Vec<&'static str>)> {
    let mut cases: Vec<(String, String, Vec<&str>)> =
        builtins().into_iter().map(|p| (p.clone(), p, Vec::new())).collect();
    cases.push((
        "production-2-dashboards".into(),
        "production".into(),
        vec!["--set", "dashboard.nodes=2", "--set", "gateway.nodes=3", "--set", "database.replicas=2"],
    ));
    cases.push(("production-1-sentinel".into(), "production".into(), vec!["--set", "redis.sentinels=1"]));
    cases
}

#[test]
fn firewalls_and_security_groups_admit_the_same_connections_as_the_per_pair_links() {
    for (name, profile, extra) in cases() {
        let dir = tempfile::tempdir().unwrap();
        render_all(&profile, dir.path(), &extra);
        let root = dir.path().join(&profile);
        let text = listing(&firewall(&root.join("ansible")), &security_groups(&root.join("terraform")));
        insta::assert_snapshot!(format!("reach_{name}"), text, &format!("{profile} {}", extra.join(" ")));
    }
}
