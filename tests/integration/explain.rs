//! `tykgen explain`, judged by the tools that read its output: Graphviz's `dot` draws the `dot`
//! format (one node per machine, one edge per link in the SVG), the real Mermaid parser reads the
//! `mermaid` format, the JSON validates against the committed schema, and the text is a snapshot.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::common::{builtins, tykgen};
use crate::tools::{self, repo_root, tool};

/// `tykgen explain ARGS...` standard output; panics unless it succeeds.
fn explain(args: &[&str]) -> String {
    let out = tykgen().arg("explain").args(args).output().expect("tykgen explain runs");
    assert!(out.status.success(), "tykgen explain {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&explain(&all)).expect("explain --format json is JSON")
}

/// Machine names, and the peers outside the topology that links use (`clients`, `admins`,
/// `load-balancer`): every node a diagram must draw. (A server group `<group>-*` is a box
/// around its machines, not a node.)
fn nodes_of(e: &serde_json::Value) -> BTreeSet<String> {
    let mut nodes: BTreeSet<String> =
        e["machines"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_owned()).collect();
    for l in e["links"].as_array().unwrap() {
        let from = l["from"].as_str().unwrap();
        if !from.ends_with("-*") {
            nodes.insert(from.to_owned());
        }
    }
    nodes
}

/// The node Graphviz draws a link's end at: the machine, or a server group's first machine
/// (the edge is clipped at the group's cluster).
fn anchor(e: &serde_json::Value, end: &str) -> String {
    let Some(group) = end.strip_suffix("-*") else { return end.to_owned() };
    let names = e["machines"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap());
    names
        .into_iter()
        .find(|n| n.rsplit_once('-').is_some_and(|(g, i)| g == group && i.bytes().all(|b| b.is_ascii_digit())))
        .unwrap_or_else(|| panic!("no machine in group {group}"))
        .to_owned()
}

fn schema_path() -> PathBuf {
    repo_root().join("docs/explain.schema.json")
}

#[test]
fn the_committed_json_schema_is_the_generated_one() {
    let generated: serde_json::Value = serde_json::from_str(&explain(&["--schema"])).unwrap();
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path()).expect("docs/explain.schema.json")).unwrap();
    assert!(
        generated == committed,
        "docs/explain.schema.json is stale: run `cargo run -q -- explain --schema > docs/explain.schema.json`"
    );
}

#[test]
fn json_of_every_builtin_validates_against_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for p in builtins() {
        let e = json(&[&p]);
        let errors: Vec<String> =
            validator.iter_errors(&e).map(|err| format!("{err} at {}", err.instance_path())).collect();
        assert!(errors.is_empty(), "{p}: {errors:#?}");
        // And a broken document is refused, so the check can fail.
        let mut broken = e.clone();
        broken["machines"][0]["zone_slot"] = serde_json::json!("zero");
        assert!(!validator.is_valid(&broken), "{p}: a string zone_slot passed the schema");
    }
}

#[test]
fn dot_of_every_builtin_is_drawn_by_graphviz_with_a_node_per_machine_and_an_edge_per_link() {
    let Some(dot) = tool("dot", "Debian package graphviz (bash .ci/run installs it)") else { return };
    let title = regex::Regex::new(r"<title>([^<]*)</title>").unwrap();
    for p in builtins() {
        let e = json(&[&p]);
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("topology.dot");
        std::fs::write(&src, explain(&[&p, "--format", "dot"])).unwrap();
        let out = tools::run(tools::command(&dot).arg("-Tsvg").arg(&src), Duration::from_secs(120));
        assert!(out.status.success(), "{p}: dot -Tsvg failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let svg = String::from_utf8(out.stdout).unwrap();
        // Graphviz writes one <g class="node"> / <g class="edge"> per node and edge, titled
        // `name` and `from->to`.
        let mut nodes = BTreeSet::new();
        let mut edges = Vec::new();
        for block in svg.split("<g id=").skip(1) {
            let Some(t) = title.captures(block).map(|c| c[1].replace("&#45;", "-").replace("&gt;", ">")) else {
                continue;
            };
            if block.contains("class=\"node\"") {
                nodes.insert(t);
            } else if block.contains("class=\"edge\"") {
                edges.push(t);
            }
        }
        assert_eq!(nodes, nodes_of(&e), "{p}: the SVG's nodes are not the machines and outside peers");
        let links = e["links"].as_array().unwrap();
        assert_eq!(edges.len(), links.len(), "{p}: one edge per link");
        for l in links {
            let t = format!("{}->{}", anchor(&e, l["from"].as_str().unwrap()), anchor(&e, l["to"].as_str().unwrap()));
            assert!(edges.contains(&t), "{p}: no edge {t} in the SVG");
        }
    }
}

/// The real Mermaid parser (npm `mermaid` under Node.js with jsdom, `tests/tools/mermaid/`).
fn mermaid_parser() -> Option<(PathBuf, PathBuf)> {
    let node = tool("node", "Node.js (on the machine image)")?;
    let dir = repo_root().join("tests/tools/mermaid");
    if !dir.join("node_modules/mermaid/package.json").is_file() {
        let hint = "npm ci --prefix tests/tools/mermaid (bash .ci/run does it)";
        assert!(!tools::require_tools(), "the Mermaid parser is not installed (TYKGEN_REQUIRE_TOOLS=1): {hint}");
        eprintln!("skipping: the Mermaid parser is not installed ({hint})");
        return None;
    }
    Some((node, dir.join("parse.mjs")))
}

fn mermaid_parse(node: &PathBuf, script: &PathBuf, text: &str) -> Result<serde_json::Value, String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(node)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("parse.mjs prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn mermaid_of_every_builtin_is_read_by_the_mermaid_parser_with_a_node_per_machine() {
    let Some((node, script)) = mermaid_parser() else { return };
    for p in builtins() {
        let e = json(&[&p]);
        let parsed = mermaid_parse(&node, &script, &explain(&[&p, "--format", "mermaid"]))
            .unwrap_or_else(|err| panic!("{p}: Mermaid refused the diagram: {err}"));
        assert_eq!(parsed["type"], "flowchart-v2", "{p}");
        // An edge to a server group ends at its subgraph, which Mermaid also lists as a vertex:
        // the vertices that are not subgraphs are the machines and outside peers.
        let ids = |k: &str| -> BTreeSet<String> {
            parsed[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
        };
        let (vertices, subgraphs) = (ids("vertexIds"), ids("subgraphIds"));
        let machines = vertices.difference(&subgraphs).count();
        assert_eq!(machines, nodes_of(&e).len(), "{p}: vertices that are not subgraphs: {vertices:?}");
        assert!(vertices.intersection(&subgraphs).all(|g| g.starts_with("g_")), "{p}: an edge ends at a tier box");
        assert_eq!(parsed["edges"].as_u64().unwrap() as usize, e["links"].as_array().unwrap().len(), "{p}: edges");
    }
    // The parser is a real judge: a diagram with a broken edge is refused.
    assert!(mermaid_parse(&node, &script, "flowchart LR\n  a -->|\"x| b\n").is_err());
}

#[test]
fn the_rendered_readme_embeds_the_mermaid_diagram() {
    let Some((node, script)) = mermaid_parser() else { return };
    let readme = std::fs::read_to_string(repo_root().join("out/production/README.md")).unwrap();
    let block = readme.split("```mermaid\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a mermaid block");
    assert!(
        block == explain(&["production", "--format", "mermaid"]),
        "out/production/README.md's diagram is not `explain --format mermaid`"
    );
    mermaid_parse(&node, &script, block).expect("the README's diagram parses");
}

#[test]
fn against_shows_exactly_the_added_gateways() {
    let e = json(&["production", "--set", "gateway.nodes=4", "--against", "production"]);
    let c = &e["changes"];
    assert_eq!(c["machines_added"], serde_json::json!(["gateway-3", "gateway-4"]));
    assert_eq!(c["machines_removed"], serde_json::json!([]));
    assert_eq!(c["links_removed"], serde_json::json!([]));
    assert_eq!(c["versions_changed"], serde_json::json!([]));
    let text = explain(&["production", "--set", "gateway.nodes=4", "--against", "production"]);
    assert!(text.contains("machines added (2):\n    + gateway-3\n    + gateway-4\n"), "{text}");
    // The diagrams colour them.
    let mermaid =
        explain(&["production", "--set", "gateway.nodes=4", "--against", "production", "--format", "mermaid"]);
    assert!(mermaid.contains("class n_gateway_3,n_gateway_4 added"), "{mermaid}");
    let dot = explain(&["production", "--set", "gateway.nodes=4", "--against", "production", "--format", "dot"]);
    assert!(dot.contains("\"gateway-3\" [label=\"gateway-3\\ngateway\", color=\"#1a7f37\""), "{dot}");
}

#[test]
fn text_of_production_is_stable() {
    insta::assert_snapshot!(explain(&["production"]));
}

#[test]
fn the_readme_png_is_the_current_production_diagram() {
    let Some(dot) = tool("dot", "Debian package graphviz (bash .ci/run installs it)") else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("production.dot");
    std::fs::write(&src, explain(&["production", "--format", "dot"])).unwrap();
    let out = tools::run(tools::command(&dot).arg("-Tpng").arg(&src), Duration::from_secs(120));
    assert!(out.status.success(), "dot -Tpng failed: {}", String::from_utf8_lossy(&out.stderr));
    let committed =
        std::fs::read(repo_root().join("docs/production-topology.png")).expect("docs/production-topology.png");
    assert!(
        out.stdout == committed,
        "docs/production-topology.png is stale: run `cargo run -q -- explain production --format dot | dot -Tpng -o docs/production-topology.png`"
    );
}
