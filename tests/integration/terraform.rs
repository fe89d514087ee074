//! The Terraform target, judged by the tools its users run, for every built-in profile:
//! `terraform init -plugin-dir` + `terraform validate` + the module's own `terraform test` with the
//! real `hashicorp/aws` 5.100 provider (mocked, so offline), `terraform fmt -check`, every
//! `resource`/`data` argument against the 6.25.0 schema dump and 5.100's real schema (hcl-rs),
//! checkov, the instance set and the security-group rules against the topology, and the
//! `ansible_inventory` output evaluated by a real `terraform apply` of a provider-free copy of it
//! (with stand-in addresses) and read by `ansible-inventory`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use hcl::eval::{Context as EvalContext, Evaluate};
use hcl::{Block, Body, Expression};
use serde_json::Value;
use tempfile::TempDir;
use tykgen::profile::{Input, load};
use tykgen::targets::Target;
use tykgen::topology::{self, Peer, Role, Topology};

use crate::common::builtins;
use crate::tools::{command, run, shared_dir, tool};

/// Checks that `#checkov:skip` is allowed for, each with its reason in `load_balancer.tf` /
/// `security_groups.tf` (and in the closing note of the Terraform issue).
const ALLOWED_CHECKOV_SKIPS: &[&str] =
    &["CKV2_AWS_5", "CKV2_AWS_28", "CKV2_AWS_76", "CKV2_AWS_20", "CKV_AWS_2", "CKV_AWS_103", "CKV_AWS_378"];

/// Meta-arguments Terraform accepts in every resource and data block.
const META_ARGUMENTS: &[&str] = &["count", "for_each", "depends_on", "provider"];
/// Meta-blocks Terraform accepts in every resource (and `lifecycle` in data) block.
const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection"];

/// The profiles the real-provider tests render: the built-ins and the small valid fixture.
fn profiles_and_fixtures() -> Vec<String> {
    let mut out = builtins();
    out.push(crate::tools::repo_root().join("tests/fixtures/good/profile.yaml").display().to_string());
    out
}

/// Renders `profile` with `-t terraform` into a fresh temporary folder and returns it with the
/// path of the `terraform/` folder.
fn render(profile: &str) -> (TempDir, PathBuf) {
    let input = Input { profile: Some(profile.to_owned()), ..Input::default() };
    let rendered = tykgen::render_profile(&input, Target::Terraform, None)
        .unwrap_or_else(|e| panic!("rendering {profile} -t terraform: {e:#}"));
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("terraform");
    let set = rendered.sets.iter().find(|(d, _)| d == "terraform").map(|(_, s)| s).expect("a terraform file set");
    for (rel, contents, _) in set.iter() {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
    }
    (tmp, dir)
}

fn topology_of(profile: &str) -> Topology {
    let loaded =
        load(&Input { profile: Some(profile.to_owned()), ..Input::default() }).expect("a built-in profile loads");
    topology::build(&loaded.profile)
}

/// Every `*.tf` file of `dir`, parsed.
fn parse_dir(dir: &Path) -> BTreeMap<String, Body> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tf") {
            let text = std::fs::read_to_string(&path).unwrap();
            let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            out.insert(path.file_name().unwrap().to_string_lossy().into_owned(), body);
        }
    }
    out
}

/// The value of `locals { <name> = ... }` in `body`, evaluated (it must be a literal).
fn local(body: &Body, name: &str) -> Value {
    let expr = body
        .blocks()
        .filter(|b| b.identifier.as_str() == "locals")
        .flat_map(|b| b.body.attributes())
        .find(|a| a.key.as_str() == name)
        .map(|a| a.expr.clone())
        .unwrap_or_else(|| panic!("no local `{name}`"));
    let value = expr.evaluate(&EvalContext::new()).unwrap_or_else(|e| panic!("local `{name}` is not a literal: {e}"));
    serde_json::to_value(value).unwrap()
}

/// The blocks `<kind> "<type>" "<name>"` of every file.
fn blocks<'a>(files: &'a BTreeMap<String, Body>, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Block)> + 'a {
    files
        .iter()
        .flat_map(move |(f, b)| b.blocks().filter(move |bl| bl.identifier.as_str() == kind).map(move |bl| (f, bl)))
}

fn label(block: &Block, i: usize) -> &str {
    block.labels.get(i).map_or("", |l| l.as_str())
}

// ---------------------------------------------------------------------------------------------
// The AWS provider schema check.

fn aws_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = shared_dir().join("schemas").join("aws-provider-6.25.0.json");
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
    })
}

/// One block of `terraform providers schema -json` in the dump's shape: settable attributes
/// (`{type, required}`; computed-only ones left out) and nested blocks (`{type: {block}}`).
fn dump_block(block: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (name, a) in block["attributes"].as_object().into_iter().flatten() {
        let settable = a["required"] == true || a["optional"] == true;
        if settable {
            out.insert(name.clone(), serde_json::json!({ "type": a["type"], "required": a["required"] == true }));
        }
    }
    for (name, b) in block["block_types"].as_object().into_iter().flatten() {
        let required = b["min_items"].as_u64().unwrap_or(0) > 0;
        out.insert(
            name.clone(),
            serde_json::json!({ "type": { "block": dump_block(&b["block"]) }, "required": required }),
        );
    }
    Value::Object(out)
}

/// The real 5.100 provider's schema (`terraform providers schema -json` in the shared init),
/// in the dump's shape.
fn aws_schema_5_100(terraform: &Path, init: &Path) -> Value {
    let out = run(
        command(terraform).arg(format!("-chdir={}", init.display())).args(["providers", "schema", "-json"]),
        Duration::from_secs(300),
    );
    assert!(out.status.success(), "terraform providers schema: {}", String::from_utf8_lossy(&out.stderr));
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    let aws = &all["provider_schemas"]["registry.terraform.io/hashicorp/aws"];
    let section = |key: &str| -> Value {
        let map = aws[key].as_object().expect("a schema section");
        Value::Object(map.iter().map(|(ty, s)| (ty.clone(), dump_block(&s["block"]))).collect())
    };
    serde_json::json!({ "resources": section("resource_schemas"), "data_sources": section("data_source_schemas") })
}

/// The nested block schema of an argument's type, if the argument is a block (`{block}` or
/// `{array: {block}}`).
fn nested_block(spec: &Value) -> Option<&serde_json::Map<String, Value>> {
    let ty = spec.get("type")?;
    ty.get("block").or_else(|| ty.get("array").and_then(|a| a.get("block"))).and_then(Value::as_object)
}

/// Checks one block body against its schema: every argument and nested block exists (meta
/// arguments aside when `top`), every required one is set. `dynamic "x"` counts as block `x`
/// and its `content` is checked against `x`'s schema.
fn check_body(body: &Body, schema: &serde_json::Map<String, Value>, at: &str, top: bool, errors: &mut Vec<String>) {
    let mut set = BTreeSet::new();
    for attr in body.attributes() {
        let key = attr.key.as_str();
        if top && META_ARGUMENTS.contains(&key) {
            continue;
        }
        match schema.get(key) {
            None => errors.push(format!("{at}: unknown argument `{key}`")),
            Some(spec) if nested_block(spec).is_some() => {
                errors.push(format!("{at}: `{key}` is a block, not an argument"));
            }
            Some(_) => {
                set.insert(key.to_owned());
            }
        }
    }
    for block in body.blocks() {
        let id = block.identifier.as_str();
        if top && META_BLOCKS.contains(&id) {
            continue;
        }
        let (name, inner) = if id == "dynamic" {
            let content = block.body.blocks().find(|b| b.identifier.as_str() == "content");
            let Some(content) = content else {
                errors.push(format!("{at}: dynamic `{}` has no content block", label(block, 0)));
                continue;
            };
            (label(block, 0), &content.body)
        } else {
            (id, &block.body)
        };
        match schema.get(name).map(|spec| (spec, nested_block(spec))) {
            None => errors.push(format!("{at}: unknown block `{name}`")),
            Some((_, None)) => errors.push(format!("{at}: `{name}` is an argument, not a block")),
            Some((_, Some(nested))) => {
                check_body(inner, nested, &format!("{at}.{name}"), false, errors);
                set.insert(name.to_owned());
            }
        }
    }
    for (name, spec) in schema {
        if spec.get("required").and_then(Value::as_bool) == Some(true) && !set.contains(name) {
            errors.push(format!("{at}: required `{name}` is not set"));
        }
    }
}

/// Every `resource` and `data` block of the files against the AWS provider schema.
fn schema_errors(files: &BTreeMap<String, Body>) -> Vec<String> {
    schema_errors_in(files, aws_schema())
}

/// Every AWS `resource` and `data` block of the files against `schema` (Terraform's own
/// `terraform_data` is not the provider's).
fn schema_errors_in(files: &BTreeMap<String, Body>, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for (kind, section) in [("resource", "resources"), ("data", "data_sources")] {
        for (file, block) in blocks(files, kind) {
            let ty = label(block, 0);
            if !ty.starts_with("aws_") {
                continue;
            }
            let at = format!("{file}: {kind} \"{ty}\" \"{}\"", label(block, 1));
            match schema[section].get(ty).and_then(Value::as_object) {
                None => errors.push(format!("{at}: unknown {kind} type")),
                Some(args) => check_body(&block.body, args, &at, true, &mut errors),
            }
        }
    }
    errors
}

#[test]
fn every_argument_exists_in_the_aws_provider_and_every_required_one_is_set() {
    for profile in builtins() {
        let (_tmp, dir) = render(&profile);
        let files = parse_dir(&dir);
        assert!(blocks(&files, "resource").count() > 20, "{profile}: too few resources parsed");
        let errors = schema_errors(&files);
        assert!(errors.is_empty(), "{profile}: against aws-provider-6.25.0.json:\n{}", errors.join("\n"));
    }
}

#[test]
fn the_schema_check_catches_a_misspelt_or_missing_argument() {
    let (_tmp, dir) = render("production");
    let text = std::fs::read_to_string(dir.join("instances.tf")).unwrap();
    assert!(text.contains("ebs_optimized"));
    let mut files = BTreeMap::new();
    files.insert("instances.tf".to_owned(), hcl::parse(&text.replace("ebs_optimized", "ebs_optimised")).unwrap());
    let errors = schema_errors(&files);
    assert!(errors.iter().any(|e| e.contains("unknown argument `ebs_optimised`")), "{errors:?}");

    let text = std::fs::read_to_string(dir.join("dns.tf")).unwrap();
    files.clear();
    files.insert("dns.tf".to_owned(), hcl::parse(&text.replace("  zone_id = ", "  # zone_id = ")).unwrap());
    let errors = schema_errors(&files);
    assert!(errors.iter().any(|e| e.contains("required `zone_id` is not set")), "{errors:?}");

    files.clear();
    let bad = text.replace("  vpc {", "  vpcs {");
    files.insert("dns.tf".to_owned(), hcl::parse(&bad).unwrap());
    let errors = schema_errors(&files);
    assert!(errors.iter().any(|e| e.contains("unknown block `vpcs`")), "{errors:?}");
}

// ---------------------------------------------------------------------------------------------
// terraform fmt and checkov.

#[test]
fn terraform_fmt_accepts_every_profile() {
    let Some(terraform) = tool("terraform", "preinstalled at /usr/local/bin/terraform") else { return };
    for profile in builtins() {
        let (_tmp, dir) = render(&profile);
        // fmt ignores `*.example`: check the example tfvars under a name it reads.
        std::fs::copy(dir.join("terraform.tfvars.example"), dir.join("example.auto.tfvars")).unwrap();
        let out =
            run(command(&terraform).args(["fmt", "-check", "-diff", "-recursive"]).arg(&dir), Duration::from_secs(60));
        assert!(
            out.status.success(),
            "{profile}: terraform fmt -check failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn checkov_reports_no_failed_check() {
    let Some(checkov) = tool("checkov", "pip install checkov (.ci/run)") else { return };
    for profile in builtins() {
        let (_tmp, dir) = render(&profile);
        let out = run(
            command(&checkov)
                .args(["-d"])
                .arg(&dir)
                .args(["--framework", "terraform", "--skip-download", "--compact", "--quiet", "-o", "json"])
                .env("BC_SKIP_MAPPING", "TRUE")
                .env("NO_COLOR", "1"),
            Duration::from_secs(300),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{profile}: checkov printed no JSON ({e}, {}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        // One framework: an object; several: a list of them.
        let reports = match report {
            Value::Array(list) => list,
            other => vec![other],
        };
        let tf = reports
            .iter()
            .find(|r| r["check_type"] == "terraform")
            .unwrap_or_else(|| panic!("{profile}: no terraform report from checkov:\n{stdout}"));
        let summary = &tf["summary"];
        let failed: Vec<String> = tf["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{} {} ({}:{})", c["check_id"], c["resource"], c["file_path"], c["file_line_range"]))
            .collect();
        assert!(
            failed.is_empty() && summary["failed"] == 0,
            "{profile}: checkov failed checks:\n{}",
            failed.join("\n")
        );
        assert_eq!(summary["parsing_errors"], 0, "{profile}: checkov could not parse:\n{stdout}");
        assert!(summary["passed"].as_u64().unwrap_or(0) > 100, "{profile}: checkov checked too little: {summary}");
        for skipped in tf["results"]["skipped_checks"].as_array().into_iter().flatten() {
            let id = skipped["check_id"].as_str().unwrap_or("");
            assert!(
                ALLOWED_CHECKOV_SKIPS.contains(&id),
                "{profile}: checkov check {id} skipped without being documented: {skipped}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The instance set and the security-group rules against the topology.

fn tier(name: &str) -> String {
    name.rsplit_once('-').map_or(name, |(t, _)| t).to_owned()
}

#[test]
fn instances_and_security_group_rules_match_the_topology() {
    for profile in builtins() {
        let (_tmp, dir) = render(&profile);
        let files = parse_dir(&dir);
        let topo = topology_of(&profile);

        // One aws_instance block, for_each over local.machines.
        let instances: Vec<_> = blocks(&files, "resource").filter(|(_, b)| label(b, 0) == "aws_instance").collect();
        assert_eq!(instances.len(), 1, "{profile}: exactly one aws_instance block");
        let for_each = instances[0].1.body.attributes().find(|a| a.key.as_str() == "for_each").expect("for_each");
        assert_eq!(hcl::format::to_string(&for_each.expr).unwrap().trim(), "local.machines");

        let machines = local(&files["instances.tf"], "machines");
        let machines = machines.as_object().expect("local.machines is a map");
        let names: BTreeSet<&str> = machines.keys().map(String::as_str).collect();
        let expected: BTreeSet<&str> = topo.machines.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, expected, "{profile}: instances differ from the topology's machines");
        for m in &topo.machines {
            let got = &machines[&m.name];
            assert_eq!(got["role"], m.role.as_str(), "{profile}: {}", m.name);
            assert_eq!(got["group"], m.group(), "{profile}: {}", m.name);
            assert_eq!(got["security_group"], tier(&m.name), "{profile}: {}", m.name);
            assert_eq!(got["subnet"], if m.role.is_data_tier() { "data" } else { "app" }, "{profile}: {}", m.name);
            let volume = matches!(m.role, Role::Redis | Role::Postgres | Role::Mongodb);
            assert_eq!(got["data_volume"], volume, "{profile}: {}", m.name);
            let az = tykgen::targets::terraform::az_indexes(&topo)[&m.name];
            assert_eq!(got["az_index"], az, "{profile}: {}", m.name);
        }
        // Replicas and Sentinels of one role land in different zones (with >= 2 zones).
        for role in [Role::Gateway, Role::Redis, Role::Sentinel, Role::Postgres, Role::Mongodb] {
            let of_role: Vec<_> =
                topo.with_role(role).filter(|m| m.store.is_none_or(|s| s.prefix().is_empty())).collect();
            if of_role.len() >= 2 {
                let zones: BTreeSet<u64> =
                    of_role.iter().take(2).map(|m| machines[&m.name]["az_index"].as_u64().unwrap() % 2).collect();
                assert_eq!(zones.len(), 2, "{profile}: the first two {role:?} machines share a zone");
            }
        }

        // Security groups: one per tier; every tier has machines.
        let sgs = local(&files["security_groups.tf"], "security_groups");
        let sg_names: BTreeSet<String> = sgs.as_object().unwrap().keys().cloned().collect();
        let tiers: BTreeSet<String> = topo.machines.iter().map(|m| tier(&m.name)).collect();
        assert_eq!(sg_names, tiers, "{profile}: security groups differ from the machine tiers");

        // Rules: exactly the (from tier, to tier, port) triples the links need.
        let rules = local(&files["security_groups.tf"], "sg_rules");
        let got: BTreeSet<(String, String, u64)> = rules
            .as_object()
            .unwrap()
            .values()
            .map(|r| {
                let description = r["description"].as_str().unwrap_or("");
                assert!(!description.is_empty(), "{profile}: a rule without a description: {r}");
                (
                    r["from"].as_str().unwrap().to_owned(),
                    r["to"].as_str().unwrap().to_owned(),
                    r["port"].as_u64().unwrap(),
                )
            })
            .collect();
        let mut want = BTreeSet::new();
        let mut cidr_links = BTreeSet::new();
        for link in &topo.links {
            // A server group is a tier; a machine's tier is its name without `-<n>`.
            let to = match &link.to {
                Peer::Machine(m) => tier(m),
                Peer::Group(g) => g.clone(),
                other => panic!("{profile}: a link to a non-machine: {other:?}"),
            };
            let from = match &link.from {
                Peer::Machine(m) => tier(m),
                Peer::Group(g) => g.clone(),
                Peer::LoadBalancer => "lb".to_owned(),
                Peer::Clients | Peer::Admins => {
                    cidr_links.insert((format!("{:?}", link.from), to, u64::from(link.port)));
                    continue;
                }
            };
            want.insert((from, to, u64::from(link.port)));
        }
        assert_eq!(got, want, "{profile}: security-group rules differ from the topology's links");

        // Links from outside the VPC are CIDR rules on their own variables, never 0.0.0.0/0.
        let sg_file = &files["security_groups.tf"];
        let has_rule = |name: &str| {
            sg_file.blocks().any(|b| label(b, 0) == "aws_vpc_security_group_ingress_rule" && label(b, 1) == name)
        };
        for (from, to, port) in &cidr_links {
            match (from.as_str(), to.as_str(), port) {
                ("Admins", "dashboard", 3000) => assert!(has_rule("dashboard"), "{profile}: no Dashboard CIDR rule"),
                ("Clients", "gateway", 8080) => assert!(has_rule("clients"), "{profile}: no client CIDR rule"),
                other => panic!("{profile}: unexpected link from outside: {other:?}"),
            }
        }
        // Reverse DNS (only with var.reverse_dns): one PTR record per machine, naming
        // <machine>.<domain>, in a private reverse zone of the VPC.
        let dns = &files["dns.tf"];
        let resource = |kind: &str, name: &str| {
            dns.blocks()
                .find(|b| b.identifier.as_str() == "resource" && label(b, 0) == kind && label(b, 1) == name)
                .unwrap_or_else(|| panic!("{profile}: no {kind}.{name} in dns.tf"))
        };
        let attr = |b: &Block, key: &str| {
            let a = b.body.attributes().find(|a| a.key.as_str() == key);
            let text = hcl::format::to_string(&a.unwrap_or_else(|| panic!("{profile}: no {key}")).expr).unwrap();
            text.split_whitespace().collect::<String>()
        };
        let ptrs: Vec<&Block> =
            dns.blocks().filter(|b| label(b, 0) == "aws_route53_record" && attr(b, "type") == "\"PTR\"").collect();
        assert_eq!(ptrs.len(), 1, "{profile}: exactly one PTR record block");
        let ptr = ptrs[0];
        assert_eq!(label(ptr, 1), "machine_ptr");
        assert_eq!(attr(ptr, "for_each"), "var.reverse_dns?local.machines:{}", "{profile}: one PTR per machine");
        assert_eq!(attr(ptr, "records"), "[\"${each.key}.${local.domain}\"]", "{profile}: PTR target");
        let name = attr(ptr, "name");
        assert!(
            name.contains("aws_instance.machine[each.key].private_ip") && name.ends_with(".in-addr.arpa\""),
            "{profile}: PTR name {name}"
        );
        assert!(attr(ptr, "zone_id").starts_with("aws_route53_zone.reverse["), "{profile}: PTR zone");
        let zone = resource("aws_route53_zone", "reverse");
        assert_eq!(attr(zone, "for_each"), "local.reverse_zones");
        assert!(
            zone.body.blocks().any(|b| b.identifier.as_str() == "vpc"),
            "{profile}: the reverse zone is not private"
        );
        // With an existing VPC, its CIDR blocks come from a data source, not var.vpc_cidr.
        assert!(
            files["network.tf"].blocks().any(|b| b.identifier.as_str() == "data" && label(b, 0) == "aws_vpc"),
            "{profile}: no aws_vpc data source for an existing VPC's CIDR"
        );
        assert_eq!(topo.load_balancer, files.contains_key("load_balancer.tf"), "{profile}: load balancer");
        for (file, block) in blocks(&files, "resource") {
            if label(block, 0) != "aws_vpc_security_group_ingress_rule" {
                continue;
            }
            for attr in block.body.attributes() {
                let text = hcl::format::to_string(&attr.expr).unwrap();
                assert!(!text.contains("0.0.0.0/0"), "{profile}: {file}: an ingress rule open to the world: {text}");
            }
            let described = block.body.attributes().any(|a| a.key.as_str() == "description");
            assert!(described, "{profile}: {file}: ingress rule {} has no description", label(block, 1));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The ansible_inventory output.

/// `inventory_groups`: group → hosts, as the topology says.
fn topology_groups(topo: &Topology) -> BTreeMap<String, BTreeSet<String>> {
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &topo.machines {
        groups.entry(m.group()).or_default().insert(m.name.clone());
    }
    groups
}

/// A provider-free copy of the inventory output: `local.inventory_groups`, `local.machines` and
/// the output expression, with the instances' private addresses, instance IDs and volume IDs
/// replaced by `local.ips`, `local.ids` and `local.volumes`, and the variables it reads declared.
fn inventory_module(outputs: &Body, instances: &Body, hosts: &[String]) -> String {
    let machines = instances
        .blocks()
        .filter(|b| b.identifier.as_str() == "locals")
        .flat_map(|b| b.body.attributes())
        .find(|a| a.key.as_str() == "machines")
        .expect("local.machines")
        .expr
        .clone();
    let groups = outputs
        .blocks()
        .filter(|b| b.identifier.as_str() == "locals")
        .flat_map(|b| b.body.attributes())
        .find(|a| a.key.as_str() == "inventory_groups")
        .expect("local.inventory_groups")
        .expr
        .clone();
    let value: Expression = outputs
        .blocks()
        .find(|b| b.identifier.as_str() == "output" && label(b, 0) == "ansible_inventory")
        .expect("output ansible_inventory")
        .body
        .attributes()
        .find(|a| a.key.as_str() == "value")
        .expect("its value")
        .expr
        .clone();
    let value = hcl::format::to_string(&value).unwrap();
    let replaced = [
        ("aws_instance.machine[host].private_ip", "local.ips[host]"),
        ("aws_instance.machine[host].id", "local.ids[host]"),
        ("aws_ebs_volume.data[host].id", "local.volumes[host]"),
    ];
    assert!(value.contains(replaced[0].0), "the inventory does not use the instances' private addresses: {value}");
    let value = replaced.iter().fold(value, |v, (from, to)| v.replace(from, to));
    let map = |f: &dyn Fn(usize) -> String| -> String {
        hosts.iter().enumerate().map(|(i, h)| format!("    \"{h}\" = \"{}\"\n", f(i))).collect()
    };
    format!(
        "variable \"ansible_user\" {{\n  default = \"ubuntu\"\n}}\nvariable \"ansible_via_ssm\" {{\n  default = false\n}}\n\
         variable \"region\" {{\n  default = \"eu-west-1\"\n}}\n\
         locals {{\n  inventory_groups = {}\n  machines = {}\n  ips = {{\n{}  }}\n  ids = {{\n{}  }}\n  volumes = {{\n{}  }}\n}}\n\n\
         output \"ansible_inventory\" {{\n  value = {}\n}}\n",
        hcl::format::to_string(&groups).unwrap(),
        hcl::format::to_string(&machines).unwrap(),
        map(&|i| format!("198.51.100.{}", i + 1)),
        map(&|i| format!("i-0{i:016x}")),
        map(&|i| format!("vol-0{i:016x}")),
        value,
    )
}

#[test]
fn the_ansible_inventory_has_the_topologys_groups_and_hosts() {
    let terraform = tool("terraform", "preinstalled at /usr/local/bin/terraform");
    let ansible_inventory = tool("ansible-inventory", "pip install ansible-core (.ci/run)");
    for profile in builtins() {
        let (tmp, dir) = render(&profile);
        let files = parse_dir(&dir);
        let topo = topology_of(&profile);
        let want = topology_groups(&topo);

        // The literal map the output is built from.
        let groups: BTreeMap<String, BTreeSet<String>> =
            serde_json::from_value(local(&files["outputs.tf"], "inventory_groups")).unwrap();
        assert_eq!(groups, want, "{profile}: local.inventory_groups differs from the topology's groups");

        // The output itself, evaluated by Terraform: init (no providers), apply, output -raw.
        let Some(terraform) = &terraform else { continue };
        let hosts: Vec<String> = topo.machines.iter().map(|m| m.name.clone()).collect();
        let scratch = tmp.path().join("inventory-eval");
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::write(scratch.join("main.tf"), inventory_module(&files["outputs.tf"], &files["instances.tf"], &hosts))
            .unwrap();
        for args in
            [&["init", "-input=false", "-no-color"][..], &["apply", "-auto-approve", "-input=false", "-no-color"]]
        {
            let out = run(
                command(terraform).arg(format!("-chdir={}", scratch.display())).args(args),
                Duration::from_secs(120),
            );
            assert!(
                out.status.success(),
                "{profile}: terraform {} failed:\n{}{}",
                args[0],
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = run(
            command(terraform).arg(format!("-chdir={}", scratch.display())).args([
                "output",
                "-raw",
                "ansible_inventory",
            ]),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "{profile}: terraform output failed: {}", String::from_utf8_lossy(&out.stderr));
        let yaml = String::from_utf8(out.stdout).unwrap();
        let inventory: Value =
            serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{profile}: not YAML ({e}):\n{yaml}"));
        assert_eq!(inventory["all"]["vars"]["ansible_user"], "ubuntu", "{profile}: no ansible_user:\n{yaml}");
        let children =
            inventory["all"]["children"].as_object().unwrap_or_else(|| panic!("{profile}: no all.children:\n{yaml}"));
        let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (group, body) in children {
            for (host, vars) in body["hosts"].as_object().unwrap() {
                let index =
                    hosts.iter().position(|h| h == host).unwrap_or_else(|| panic!("{profile}: unknown host {host}"));
                assert_eq!(vars["ansible_host"], format!("198.51.100.{}", index + 1), "{profile}: {host}");
                assert_eq!(vars["tykgen_instance_id"], format!("i-0{index:016x}"), "{profile}: {host}");
                let machine = topo.machine(host).unwrap();
                let device = format!("/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0{index:016x}");
                let want_device = if matches!(machine.role, Role::Redis | Role::Postgres | Role::Mongodb) {
                    Value::from(device)
                } else {
                    Value::Null
                };
                assert_eq!(
                    vars.get("tykgen_data_volume_device").cloned().unwrap_or(Value::Null),
                    want_device,
                    "{profile}: {host}"
                );
                got.entry(group.clone()).or_default().insert(host.clone());
            }
        }
        assert_eq!(got, want, "{profile}: the evaluated ansible_inventory differs from the topology's groups");

        // And Ansible reads it the same way.
        let Some(ansible_inventory) = &ansible_inventory else { continue };
        let path = scratch.join("hosts.yml");
        std::fs::write(&path, &yaml).unwrap();
        let out = run(
            command(ansible_inventory)
                .args(["-i"])
                .arg(&path)
                .arg("--list")
                .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true"),
            Duration::from_secs(120),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !stderr.contains("[WARNING]"), "{profile}: ansible-inventory: {stderr}");
        let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
        for (group, hosts) in &want {
            let listed_hosts: BTreeSet<String> =
                serde_json::from_value(listed[group]["hosts"].clone()).unwrap_or_default();
            assert_eq!(&listed_hosts, hosts, "{profile}: ansible-inventory group {group}");
        }
    }
}

#[test]
fn hostile_profile_values_stay_literal_hcl_strings() {
    // Validation rejects these values; the target must still never let one change the HCL, so
    // render from a profile altered after validation.
    let hostile_region =
        "eu-west-1\"\n}\nresource \"null_resource\" \"pwn\" {\n${file(\"/etc/passwd\")}%{ if true }$${x}";
    let hostile_domain = "tyk.internal${path.cwd}%{for x in y}\\";
    let mut loaded = load(&Input { profile: Some("production".to_owned()), ..Input::default() }).unwrap();
    loaded.profile.targets.terraform.region = hostile_region.to_owned();
    loaded.profile.domain = hostile_domain.to_owned();
    let renderer = tykgen::render::Renderer::new(None).unwrap();
    let topo = topology::build(&loaded.profile);
    let bundle = tykgen::config::bundle(&loaded.profile, &topo, &renderer).unwrap();
    let ctx = tykgen::targets::Context::new(&loaded.profile, &topo, &bundle, &renderer);
    let set = tykgen::targets::render(Target::Terraform, &ctx).unwrap();
    let text = |name: &str| String::from_utf8(set.get(name).unwrap().0.to_vec()).unwrap();

    let versions = hcl::parse(&text("versions.tf")).unwrap();
    assert_eq!(local(&versions, "domain"), hostile_domain);
    let variables = hcl::parse(&text("variables.tf")).unwrap();
    let region = variables
        .blocks()
        .find(|b| b.identifier.as_str() == "variable" && label(b, 0) == "region")
        .and_then(|b| b.body.attributes().find(|a| a.key.as_str() == "default"))
        .map(|a| serde_json::to_value(a.expr.evaluate(&EvalContext::new()).unwrap()).unwrap())
        .unwrap();
    assert_eq!(region, hostile_region);
    for name in ["versions.tf", "variables.tf", "terraform.tfvars.example"] {
        let body = hcl::parse(&text(name)).unwrap();
        assert!(!body.blocks().any(|b| label(b, 0) == "null_resource"), "{name}: a block was injected");
    }
}

/// `terraform init` + `terraform plan` of `variables.tf` alone (no provider needed), with
/// `args`; returns success and the combined output.
fn plan_variables(terraform: &Path, scratch: &Path, args: &[&str]) -> (bool, String) {
    let chdir = format!("-chdir={}", scratch.display());
    if !scratch.join(".terraform").exists() {
        let out =
            run(command(terraform).arg(&chdir).args(["init", "-input=false", "-no-color"]), Duration::from_secs(120));
        assert!(out.status.success(), "terraform init: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = run(
        command(terraform).arg(&chdir).args(["plan", "-input=false", "-no-color", "-lock=false"]).args(args),
        Duration::from_secs(120),
    );
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn variable_validations_accept_the_example_and_reject_wrong_values() {
    let Some(terraform) = tool("terraform", "preinstalled at /usr/local/bin/terraform") else { return };
    for profile in builtins() {
        let (tmp, dir) = render(&profile);
        let scratch = tmp.path().join("variables-only");
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::copy(dir.join("variables.tf"), scratch.join("variables.tf")).unwrap();
        std::fs::copy(dir.join("terraform.tfvars.example"), scratch.join("example.tfvars")).unwrap();
        let (ok, text) = plan_variables(&terraform, &scratch, &["-var-file=example.tfvars"]);
        assert!(
            ok && !text.contains("undeclared variable"),
            "{profile}: the example tfvars is not accepted as is:\n{text}"
        );

        // The example's commented placeholders, uncommented as they are, are rejected by name.
        let example = std::fs::read_to_string(scratch.join("example.tfvars")).unwrap();
        let placeholders = ["ssh_key_name", "certificate_arn", "lb_access_logs_bucket"];
        let mut uncommented = Vec::new();
        let text: String = example
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if placeholders.iter().any(|p| rest.starts_with(&format!("{p} "))) => {
                    uncommented.push(rest.split_whitespace().next().unwrap().to_owned());
                    format!("{rest}\n")
                }
                _ => format!("{l}\n"),
            })
            .collect();
        assert!(uncommented.contains(&"ssh_key_name".to_owned()), "{profile}: no key pair placeholder");
        std::fs::write(scratch.join("placeholders.tfvars"), text).unwrap();
        let (ok, text) = plan_variables(&terraform, &scratch, &["-var-file=placeholders.tfvars"]);
        for name in &uncommented {
            assert!(
                !ok && text.contains(&format!("var.{name}")),
                "{profile}: the placeholder {name} was accepted:\n{text}"
            );
        }

        let wrong: &[(&str, &str)] = &[
            ("admin_cidrs=[\"0.0.0.0/0\"]", "admin_cidrs"),
            ("admin_cidrs=[]", "admin_cidrs"),
            ("vpc_cidr=10.0.0.0/8", "vpc_cidr"),
            ("az_count=1", "az_count"),
            ("region=mars-1", "region"),
            ("instance_types={gateway=\"c6i.large\"}", "instance_types"),
            ("ami_id=ubuntu", "ami_id"),
        ];
        for (var, name) in wrong {
            let (ok, text) = plan_variables(&terraform, &scratch, &["-var-file=example.tfvars", "-var", var]);
            assert!(!ok && text.contains(&format!("var.{name}")), "{profile}: `{var}` was accepted:\n{text}");
        }
    }
}

/// What `terraform validate` would check first and cannot offline (it needs the provider):
/// every `var.x`, `local.x`, `data.t.n` and `aws_t.n` reference names something declared.
#[test]
fn every_reference_is_declared() {
    let reference =
        regex::Regex::new(r"\b(var|local|data\.aws_[a-z0-9_]+|aws_[a-z0-9_]+)\.([a-z_][a-z0-9_]*)").unwrap();
    for profile in builtins() {
        let (_tmp, dir) = render(&profile);
        let files = parse_dir(&dir);
        let mut declared = BTreeSet::new();
        for (_, block) in blocks(&files, "variable") {
            declared.insert(format!("var.{}", label(block, 0)));
        }
        for (_, block) in blocks(&files, "locals") {
            for attr in block.body.attributes() {
                declared.insert(format!("local.{}", attr.key.as_str()));
            }
        }
        for (_, block) in blocks(&files, "resource") {
            declared.insert(format!("{}.{}", label(block, 0), label(block, 1)));
        }
        for (_, block) in blocks(&files, "data") {
            declared.insert(format!("data.{}.{}", label(block, 0), label(block, 1)));
        }
        let mut missing = BTreeSet::new();
        for name in files.keys() {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                for c in reference.captures_iter(line) {
                    let name = format!("{}.{}", &c[1], &c[2]);
                    if !declared.contains(&name) {
                        missing.insert(name);
                    }
                }
            }
        }
        assert!(missing.is_empty(), "{profile}: undeclared references: {missing:?}");
        assert!(declared.contains("local.machines") && declared.contains("aws_instance.machine"));
    }
}

/// The issue's least-privilege claims, spelled out for `production` and `redis-cluster`.
#[test]
fn security_groups_are_least_privilege() {
    let sources = |profile: &str, to: &str| -> BTreeSet<(String, u64)> {
        let (_tmp, dir) = render(profile);
        let files = parse_dir(&dir);
        let rules = local(&files["security_groups.tf"], "sg_rules");
        rules
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["to"] == to)
            .map(|r| (r["from"].as_str().unwrap().to_owned(), r["port"].as_u64().unwrap()))
            .collect()
    };
    let set = |items: &[(&str, u64)]| items.iter().map(|(s, p)| ((*s).to_owned(), *p)).collect::<BTreeSet<_>>();
    // The database only from the Dashboard and Pump (and its own replicas).
    assert_eq!(sources("production", "postgres"), set(&[("dashboard", 5432), ("pump", 5432), ("postgres", 5432)]));
    // The Gateways only from the load balancer (traffic on 8080, health checks on the control
    // port) and the Dashboard (the Gateway API on the control port only).
    assert_eq!(sources("production", "gateway"), set(&[("lb", 8080), ("lb", 9696), ("dashboard", 9696)]));
    // Redis and Sentinel only from the roles that talk to them.
    assert_eq!(
        sources("production", "redis"),
        set(&[("gateway", 6379), ("dashboard", 6379), ("pump", 6379), ("redis", 6379), ("sentinel", 6379)])
    );
    assert_eq!(
        sources("production", "sentinel"),
        set(&[("gateway", 26379), ("dashboard", 26379), ("pump", 26379), ("sentinel", 26379)])
    );
    // With a separate analytics Redis, the Pump reaches only that one.
    assert!(!sources("redis-cluster", "redis").iter().any(|(from, _)| from == "pump"));
    assert!(sources("redis-cluster", "analytics-redis").iter().any(|(from, _)| from == "pump"));
    assert!(sources("redis-cluster", "cache-redis").iter().all(|(from, _)| from != "pump" && from != "dashboard"));
}

/// The default AMI is Ubuntu 24.04, except with MongoDB older than 8.0 (no Ubuntu 24.04 packages;
/// the Ansible role refuses it): then Ubuntu 22.04, and the README says why.
#[test]
fn the_default_ami_is_a_release_the_database_supports() {
    let mut jammy = 0;
    for profile in builtins() {
        let loaded = load(&Input { profile: Some(profile.clone()), ..Input::default() }).unwrap();
        let old_mongo = loaded
            .profile
            .database
            .as_ref()
            .is_some_and(|d| d.engine == tykgen::profile::Engine::Mongodb && !d.version.at_least(8, 0, 0));
        let (_tmp, dir) = render(&profile);
        let files = parse_dir(&dir);
        let (_, ami) = blocks(&files, "data").find(|(_, b)| label(b, 0) == "aws_ami").expect("data aws_ami");
        let names: Vec<String> = ami
            .body
            .blocks()
            .filter(|b| b.identifier() == "filter")
            .filter(|b| b.body.attributes().any(|a| a.key() == "name" && a.expr == Expression::from("name")))
            .flat_map(|b| b.body.attributes().filter(|a| a.key() == "values").map(|a| a.expr.to_string()))
            .collect();
        assert_eq!(names.len(), 1, "{profile}: {names:?}");
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        if old_mongo {
            jammy += 1;
            assert!(
                names[0].contains("ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"),
                "{profile}: {names:?}"
            );
            assert!(readme.contains("## Operating system") && readme.contains("Ubuntu 22.04 LTS (jammy)"), "{profile}");
        } else {
            assert!(
                names[0].contains("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"),
                "{profile}: {names:?}"
            );
            assert!(!readme.contains("## Operating system"), "{profile}");
        }
    }
    assert!(jammy > 0, "no built-in profile has MongoDB older than 8.0");
}

// ---------------------------------------------------------------------------------------------
// The real AWS provider: terraform init -plugin-dir, validate, and the module's own tests.

/// Where the `hashicorp/aws` provider is unpacked as a plugin directory
/// (`<dir>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/terraform-provider-aws_*`):
/// `$TYKGEN_TF_PLUGIN_DIR`, else where the CI image and Terraform's docs put it.
pub(crate) fn aws_plugin_dir() -> Option<PathBuf> {
    let holds_aws = |dir: &Path| {
        let versions = dir.join("registry.terraform.io/hashicorp/aws");
        std::fs::read_dir(&versions).into_iter().flatten().flatten().any(|v| {
            std::fs::read_dir(v.path()).into_iter().flatten().flatten().any(|arch| {
                std::fs::read_dir(arch.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|f| f.file_name().to_string_lossy().starts_with("terraform-provider-aws_"))
            })
        })
    };
    if let Some(dir) = std::env::var_os("TYKGEN_TF_PLUGIN_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        assert!(holds_aws(&dir), "TYKGEN_TF_PLUGIN_DIR={} holds no hashicorp/aws provider", dir.display());
        return Some(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let candidates = [
        PathBuf::from("/opt/tf-plugins"),
        home.join(".terraform.d/plugins"),
        home.join(".local/share/terraform/plugins"),
        PathBuf::from("/usr/local/share/terraform/plugins"),
        PathBuf::from("/usr/share/terraform/plugins"),
    ];
    candidates.into_iter().find(|d| holds_aws(d))
}

/// One `terraform init -backend=false -plugin-dir` for the whole run, in a folder holding only
/// the module's `versions.tf`: its data folder (`TF_DATA_DIR`, a few symlinks into the plugin
/// dir) and lock file serve every rendered module, as every module has the same requirements.
struct SharedInit {
    _tmp: TempDir,
    dir: PathBuf,
}

fn shared_init(terraform: &Path, plugin_dir: &Path) -> SharedInit {
    let (_render_tmp, module) = render("production");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::copy(module.join("versions.tf"), dir.join("versions.tf")).unwrap();
    // versions.tf refers to var.region and var.environment/tags (provider block, locals).
    std::fs::write(
        dir.join("variables.tf"),
        "variable \"region\" {\n  default = \"eu-west-1\"\n}\nvariable \"environment\" {\n  default = \"\"\n}\nvariable \"tags\" {\n  default = {}\n}\n",
    )
    .unwrap();
    let out = run(
        command(terraform)
            .arg(format!("-chdir={}", dir.display()))
            .args(["init", "-backend=false", "-input=false", "-no-color"])
            .arg(format!("-plugin-dir={}", plugin_dir.display())),
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "terraform init -plugin-dir={}: {}{}",
        plugin_dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    SharedInit { _tmp: tmp, dir }
}

/// `terraform validate` and `terraform test` of one rendered profile with the shared init;
/// returns the seconds it took, or the failure.
fn validate_and_test(terraform: &Path, init: &SharedInit, profile: &str) -> Result<f64, String> {
    let started = std::time::Instant::now();
    let (_tmp, dir) = render(profile);
    std::fs::copy(init.dir.join(".terraform.lock.hcl"), dir.join(".terraform.lock.hcl")).unwrap();
    for args in [&["validate", "-no-color"][..], &["test", "-no-color"]] {
        let out = run(
            command(terraform)
                .arg(format!("-chdir={}", dir.display()))
                .args(args)
                .env("TF_DATA_DIR", init.dir.join(".terraform"))
                .env("TF_IN_AUTOMATION", "1"),
            Duration::from_secs(900),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || stdout.lines().any(|l| l.trim_end().ends_with("... fail")) {
            return Err(format!(
                "{profile}: terraform {} failed ({}):\n{stdout}{}",
                args[0],
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if args[0] == "test" && !stdout.contains("Success!") {
            return Err(format!("{profile}: terraform test ran no test:\n{stdout}"));
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

#[test]
fn terraform_validate_and_test_pass_with_the_real_aws_provider() {
    let Some(terraform) = tool("terraform", "preinstalled at /usr/local/bin/terraform") else { return };
    let Some(plugin_dir) = aws_plugin_dir() else {
        assert!(
            !crate::tools::require_tools(),
            "the hashicorp/aws provider plugin dir was not found (TYKGEN_REQUIRE_TOOLS=1): set TYKGEN_TF_PLUGIN_DIR"
        );
        eprintln!("skipping: no hashicorp/aws plugin dir (set TYKGEN_TF_PLUGIN_DIR)");
        return;
    };
    let started = std::time::Instant::now();
    let init = shared_init(&terraform, &plugin_dir);

    // Every argument against the real provider's schema too (the dump is 6.25.0).
    let schema = aws_schema_5_100(&terraform, &init.dir);
    for profile in builtins() {
        let (_tmp, dir) = render(&profile);
        let errors = schema_errors_in(&parse_dir(&dir), &schema);
        assert!(errors.is_empty(), "{profile}: against hashicorp/aws 5.100.0:\n{}", errors.join("\n"));
    }

    // Two workers: terraform test is mostly the provider's CPU, and CI has two cores.
    let queue = std::sync::Mutex::new(profiles_and_fixtures());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some(profile) = queue.lock().unwrap().pop() else { break };
                    let result = validate_and_test(&terraform, &init, &profile);
                    results.lock().unwrap().push((profile, result));
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let mut failures = Vec::new();
    for (profile, result) in &results {
        match result {
            Ok(secs) => eprintln!("terraform validate + test: {profile}: {secs:.0} s"),
            Err(e) => failures.push(e.clone()),
        }
    }
    eprintln!("terraform validate + test: all profiles in {:.0} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
