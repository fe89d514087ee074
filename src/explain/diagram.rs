//! `explain --format mermaid|dot`: the topology as a flowchart, one node per machine grouped by
//! tier and, within it, by server group, one edge per link labelled with its port, protocol and
//! TLS. A link of a whole server group (`redis-*`) is drawn to or from the group's box: a Mermaid
//! subgraph, a Graphviz cluster (`lhead`/`ltail` on an edge between its first members). Primaries,
//! replicas and Sentinels look different; with `--against`, added parts are green and removed
//! parts red.
//!
//! Every identifier and label comes from machine names (`[a-z0-9-]`, from the topology) and fixed
//! words, never from free profile text, so neither format needs more escaping than quoting.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Explanation, GROUP_SUFFIX, LinkView, MachineView};

/// What a node is, for its shape and style.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Clients, admins, the load balancer.
    External,
    /// A Tyk machine or a standalone/cluster Redis node.
    Plain,
    /// A replication primary.
    Primary,
    /// A replica.
    Replica,
    /// A Redis Sentinel.
    Sentinel,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Same,
    Added,
    Removed,
}

struct Node {
    name: String,
    label: String,
    kind: Kind,
    mark: Mark,
}

struct Edge {
    from: String,
    to: String,
    label: String,
    tls: bool,
    mark: Mark,
}

/// The drawing, format-neutral: tiers in drawing order, each with its nodes; then the edges.
struct Graph {
    title: String,
    tiers: Vec<(String, Vec<Node>)>,
    edges: Vec<Edge>,
}

const EXTERNAL_TIER: &str = "outside";

fn kind_of(m: &MachineView) -> Kind {
    match m.replication.as_str() {
        "primary" => Kind::Primary,
        "sentinel" => Kind::Sentinel,
        r if r.starts_with("replica of") => Kind::Replica,
        _ => Kind::Plain,
    }
}

fn tier_title(tier: &str) -> String {
    match tier {
        EXTERNAL_TIER => "Clients and operators".to_owned(),
        "tyk" => "Tyk".to_owned(),
        "database" => "Database".to_owned(),
        redis => format!("Redis ({})", redis.strip_suffix("-redis").unwrap_or("main")),
    }
}

fn edge_label(l: &LinkView) -> String {
    format!("{} {}{}", l.port, l.service, if l.tls { " TLS" } else { "" })
}

impl Graph {
    fn of(e: &Explanation) -> Self {
        let machine_names: std::collections::BTreeSet<&str> = e.machines.iter().map(|m| m.name.as_str()).collect();
        let added = |name: &str| e.changes.as_ref().is_some_and(|c| c.machines_added.iter().any(|a| a == name));
        let mut tiers: Vec<(String, Vec<Node>)> = Vec::new();
        let mut push = |tier: &str, node: Node| match tiers.iter_mut().find(|(t, _)| t == tier) {
            Some((_, nodes)) => nodes.push(node),
            None => tiers.push((tier.to_owned(), vec![node])),
        };
        // The peers outside the topology first, in a fixed order, when any link uses them.
        let removed_links = e.changes.iter().flat_map(|c| &c.links_removed);
        let all_links: Vec<&LinkView> = e.links.iter().chain(removed_links).collect();
        for external in ["clients", "admins", "load-balancer"] {
            if all_links.iter().any(|l| l.from == external || l.to == external) {
                let mark = if e.links.iter().any(|l| l.from == external) { Mark::Same } else { Mark::Removed };
                push(
                    EXTERNAL_TIER,
                    Node { name: external.to_owned(), label: external.to_owned(), kind: Kind::External, mark },
                );
            }
        }
        let removed: Vec<&MachineView> = e.changes.iter().flat_map(|c| &c.old_machines).collect();
        for m in e.machines.iter().chain(removed.iter().copied()) {
            let mark = if !machine_names.contains(m.name.as_str()) {
                Mark::Removed
            } else if added(&m.name) {
                Mark::Added
            } else {
                Mark::Same
            };
            let label = if m.replication.is_empty() || m.replication == "sentinel" {
                format!("{}\n{}", m.name, m.role)
            } else {
                format!("{}\n{}", m.name, m.replication)
            };
            push(&m.tier, Node { name: m.name.clone(), label, kind: kind_of(m), mark });
        }
        let link_mark = |l: &LinkView, list: fn(&super::Changes) -> &Vec<LinkView>| {
            e.changes.as_ref().is_some_and(|c| list(c).iter().any(|x| x == l))
        };
        let mut edges: Vec<Edge> = e
            .links
            .iter()
            .map(|l| Edge {
                from: l.from.clone(),
                to: l.to.clone(),
                label: edge_label(l),
                tls: l.tls,
                mark: if link_mark(l, |c| &c.links_added) { Mark::Added } else { Mark::Same },
            })
            .collect();
        for l in e.changes.iter().flat_map(|c| &c.links_removed) {
            edges.push(Edge {
                from: l.from.clone(),
                to: l.to.clone(),
                label: edge_label(l),
                tls: l.tls,
                mark: Mark::Removed,
            });
        }
        Self { title: e.profile.clone(), tiers, edges }
    }
}

/// A Mermaid node id: machine names with `_` for `-` (Mermaid reads `-` as part of an arrow); a
/// server group `<group>-*` is its subgraph, `g_<group>`.
fn mermaid_id(name: &str) -> String {
    match name.strip_suffix(GROUP_SUFFIX) {
        Some(group) => format!("g_{}", group.replace('-', "_")),
        None => format!("n_{}", name.replace('-', "_")),
    }
}

/// The server group of a machine: its name without `-<n>` (outside peers are their own).
fn group_of(name: &str) -> &str {
    name.rsplit_once('-').filter(|(_, n)| n.bytes().all(|b| b.is_ascii_digit())).map_or(name, |(g, _)| g)
}

/// The nodes of a tier by server group, groups in the order their first node appears.
fn by_group(nodes: &[Node]) -> Vec<(&str, Vec<&Node>)> {
    let mut groups: Vec<(&str, Vec<&Node>)> = Vec::new();
    for n in nodes {
        let g = group_of(&n.name);
        match groups.iter_mut().find(|(x, _)| *x == g) {
            Some((_, list)) => list.push(n),
            None => groups.push((g, vec![n])),
        }
    }
    groups
}

/// The explanation as a Mermaid flowchart.
#[must_use]
pub fn mermaid(e: &Explanation) -> String {
    let g = Graph::of(e);
    let mut out = String::from("flowchart LR\n");
    let mut classes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, (tier, nodes)) in g.tiers.iter().enumerate() {
        let _ = writeln!(out, "  subgraph tier_{i}[\"{}\"]", tier_title(tier));
        for (group, members) in by_group(nodes) {
            let grouped = tier != EXTERNAL_TIER;
            let indent = if grouped { "      " } else { "    " };
            if grouped {
                let _ = writeln!(
                    out,
                    "    subgraph {}[\"{group}{GROUP_SUFFIX}\"]",
                    mermaid_id(&format!("{group}{GROUP_SUFFIX}"))
                );
            }
            for n in members {
                let id = mermaid_id(&n.name);
                let label = n.label.replace('\n', "<br>");
                let shape = match n.kind {
                    Kind::External => format!("{id}((\"{label}\"))"),
                    Kind::Plain => format!("{id}[\"{label}\"]"),
                    Kind::Primary => format!("{id}[[\"{label}\"]]"),
                    Kind::Replica => format!("{id}([\"{label}\"])"),
                    Kind::Sentinel => format!("{id}{{{{\"{label}\"}}}}"),
                };
                let _ = writeln!(out, "{indent}{shape}");
                let class = match n.mark {
                    Mark::Added => "added",
                    Mark::Removed => "removed",
                    Mark::Same => match n.kind {
                        Kind::Primary => "primary",
                        Kind::Replica => "replica",
                        Kind::Sentinel => "sentinel",
                        Kind::External | Kind::Plain => continue,
                    },
                };
                classes.entry(class).or_default().push(id);
            }
            if grouped {
                out.push_str("    end\n");
            }
        }
        out.push_str("  end\n");
    }
    let mut styled: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, edge) in g.edges.iter().enumerate() {
        let arrow = match (edge.mark, edge.tls) {
            (Mark::Removed, _) => "-.->",
            (_, true) => "==>",
            (_, false) => "-->",
        };
        let _ = writeln!(out, "  {} {arrow}|\"{}\"| {}", mermaid_id(&edge.from), edge.label, mermaid_id(&edge.to));
        match edge.mark {
            Mark::Added => styled.entry("added").or_default().push(i),
            Mark::Removed => styled.entry("removed").or_default().push(i),
            Mark::Same => {}
        }
    }
    out.push_str(
        "  classDef primary stroke-width:3px\n  classDef replica stroke-dasharray:5 5\n  classDef sentinel fill:#fff4cc\n  classDef added fill:#d4f7dc,stroke:#1a7f37,stroke-width:2px\n  classDef removed fill:#ffe0e0,stroke:#cf222e,stroke-dasharray:3 3\n",
    );
    for (class, ids) in classes {
        let _ = writeln!(out, "  class {} {class}", ids.join(","));
    }
    for (mark, indices) in styled {
        let color = if mark == "added" { "#1a7f37" } else { "#cf222e" };
        let list: Vec<String> = indices.iter().map(usize::to_string).collect();
        let _ = writeln!(out, "  linkStyle {} stroke:{color},stroke-width:2px", list.join(","));
    }
    out
}

/// A double-quoted Graphviz string (labels hold only names, digits and `\n`).
fn dot_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// The Graphviz cluster of a server group.
fn dot_cluster(group: &str) -> String {
    format!("cluster_g_{}", group.replace('-', "_"))
}

/// The explanation as a Graphviz digraph.
#[must_use]
pub fn dot(e: &Explanation) -> String {
    let g = Graph::of(e);
    let mut anchors: BTreeMap<String, String> = BTreeMap::new();
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  compound=true;\n  label={};\n  labelloc=t;\n  fontname=\"Helvetica\";\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];\n",
        dot_str("tykgen"),
        dot_str(&format!("tykgen explain {}", g.title))
    );
    for (i, (tier, nodes)) in g.tiers.iter().enumerate() {
        let _ =
            writeln!(out, "  subgraph cluster_{i} {{\n    label={};\n    style=rounded;", dot_str(&tier_title(tier)));
        for (group, members) in by_group(nodes) {
            let grouped = tier != EXTERNAL_TIER;
            if grouped {
                let _ = writeln!(
                    out,
                    "    subgraph {} {{\n      label={};",
                    dot_cluster(group),
                    dot_str(&format!("{group}{GROUP_SUFFIX}"))
                );
                anchors.entry(group.to_owned()).or_insert_with(|| members[0].name.clone());
            }
            for n in members {
                let mut attrs = vec![format!("label={}", dot_str(&n.label))];
                match n.kind {
                    Kind::External => attrs.push("shape=ellipse".to_owned()),
                    Kind::Plain => {}
                    Kind::Primary => attrs.push("peripheries=2".to_owned()),
                    Kind::Replica => attrs.push("style=dashed".to_owned()),
                    Kind::Sentinel => attrs.push("shape=hexagon".to_owned()),
                }
                match n.mark {
                    Mark::Added => attrs.push("color=\"#1a7f37\", fontcolor=\"#1a7f37\", penwidth=2".to_owned()),
                    Mark::Removed => attrs.push("color=\"#cf222e\", fontcolor=\"#cf222e\", style=dotted".to_owned()),
                    Mark::Same => {}
                }
                let _ = writeln!(out, "    {} [{}];", dot_str(&n.name), attrs.join(", "));
            }
            if grouped {
                out.push_str("    }\n");
            }
        }
        out.push_str("  }\n");
    }
    for edge in &g.edges {
        let mut attrs = vec![format!("label={}", dot_str(&edge.label))];
        // A group's edge runs between first members, clipped at the group's box; a group's edge
        // to itself is a loop on its first member (Graphviz cannot clip both ends at one box).
        let end = |name: &str| match name.strip_suffix(GROUP_SUFFIX) {
            Some(group) => (anchors.get(group).cloned().unwrap_or_else(|| name.to_owned()), Some(dot_cluster(group))),
            None => (name.to_owned(), None),
        };
        let ((from, tail), (to, head)) = (end(&edge.from), end(&edge.to));
        if tail != head {
            attrs.extend(tail.map(|c| format!("ltail={c}")));
            attrs.extend(head.map(|c| format!("lhead={c}")));
        }
        if edge.tls {
            attrs.push("penwidth=2".to_owned());
        }
        match edge.mark {
            Mark::Added => attrs.push("color=\"#1a7f37\", fontcolor=\"#1a7f37\"".to_owned()),
            Mark::Removed => attrs.push("color=\"#cf222e\", fontcolor=\"#cf222e\", style=dotted".to_owned()),
            Mark::Same => {}
        }
        let _ = writeln!(out, "  {} -> {} [{}];", dot_str(&from), dot_str(&to), attrs.join(", "));
    }
    out.push_str("}\n");
    out
}
