//! `explain --format text`: the explanation as plain tables, for a terminal or a merge-request
//! comment (it is Markdown-safe: no line starts with a Markdown marker).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Changes, Explanation, LinkView, MachineView, by_tier, engine_title};

/// `peer:port` lists with runs of numbered machines folded: `gateway-1..3:6379`.
pub(super) fn fold(items: &[String]) -> String {
    // (prefix, port) -> indices; anything else verbatim, in first-seen order.
    let mut order: Vec<(String, String)> = Vec::new();
    let mut runs: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    let mut plain: Vec<String> = Vec::new();
    for item in items {
        let (peer, port) = item.rsplit_once(':').unwrap_or((item.as_str(), ""));
        match peer.rsplit_once('-').and_then(|(p, i)| i.parse::<u32>().ok().map(|i| (p, i))) {
            Some((prefix, index)) => {
                let key = (prefix.to_owned(), port.to_owned());
                if !runs.contains_key(&key) {
                    order.push(key.clone());
                }
                runs.entry(key).or_default().push(index);
            }
            None if !plain.contains(item) => plain.push(item.clone()),
            None => {}
        }
    }
    let mut parts = plain;
    for key in order {
        let mut indices = runs.remove(&key).unwrap_or_default();
        indices.sort_unstable();
        indices.dedup();
        let (prefix, port) = key;
        let mut spans: Vec<String> = Vec::new();
        let mut i = 0;
        while i < indices.len() {
            let mut j = i;
            while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
                j += 1;
            }
            spans.push(if i == j { indices[i].to_string() } else { format!("{}..{}", indices[i], indices[j]) });
            i = j + 1;
        }
        parts.push(format!("{prefix}-{}:{port}", spans.join(",")));
    }
    parts.join(" ")
}

/// A table with a header row, columns padded to their widest cell.
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::from("  ");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let pad = w - cell.chars().count();
                let _ = write!(l, "{cell}{}  ", " ".repeat(pad));
            }
        }
        l.trim_end().to_owned() + "\n"
    };
    out.push_str(&line(header.to_vec()));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
}

fn machine_row(m: &MachineView) -> Vec<String> {
    let listens: Vec<String> =
        m.listens.iter().map(|p| format!("{} {}{}", p.port, p.service, if p.tls { " (TLS)" } else { "" })).collect();
    let role = if m.replication.is_empty() || m.replication == m.role {
        m.role.clone()
    } else {
        format!("{} ({})", m.role, m.replication)
    };
    vec![
        m.name.clone(),
        role,
        m.address.clone().unwrap_or_else(|| m.host.clone()),
        m.zone_slot.to_string(),
        listens.join(", "),
        fold(&m.links_in),
        fold(&m.links_out),
        m.secrets.join(", "),
    ]
}

fn link_line(l: &LinkView) -> String {
    format!("{} -> {}:{} {}{}", l.from, l.to, l.port, l.service, if l.tls { " (TLS)" } else { "" })
}

fn changes_text(out: &mut String, c: &Changes) {
    let _ = writeln!(out, "\nChanges against {}:", c.against);
    if c.is_empty() {
        out.push_str("  none\n");
        return;
    }
    let list = |out: &mut String, title: &str, sign: char, items: Vec<String>| {
        if !items.is_empty() {
            let _ = writeln!(out, "  {title} ({}):", items.len());
            for i in items {
                let _ = writeln!(out, "    {sign} {i}");
            }
        }
    };
    list(out, "machines added", '+', c.machines_added.clone());
    list(out, "machines removed", '-', c.machines_removed.clone());
    list(out, "links added", '+', c.links_added.iter().map(link_line).collect());
    list(out, "links removed", '-', c.links_removed.iter().map(link_line).collect());
    list(
        out,
        "versions changed",
        '~',
        c.versions_changed.iter().map(|v| format!("{}: {} -> {}", v.key, v.old, v.new)).collect(),
    );
}

/// The explanation as text.
#[must_use]
pub fn text(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Profile {}: {}", e.profile, e.description);
    let versions: Vec<String> = e.versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(out, "Versions: {}", versions.join(", "));

    let _ = writeln!(out, "\nMachines ({}), by tier:", e.machines.len());
    let rows: Vec<Vec<String>> = by_tier(&e.machines).into_iter().flat_map(|(_, ms)| ms).map(machine_row).collect();
    table(&mut out, &["MACHINE", "ROLE", "HOST", "ZONE", "LISTENS ON", "LINKS IN", "LINKS OUT", "SECRETS"], &rows);
    out.push_str("  (ZONE: the Terraform zone slot, taken modulo `az_count`; LINKS: peer:port)\n");

    for r in &e.redis {
        let _ = writeln!(out, "\nRedis `{}`: {} {}", r.key, r.mode, r.version);
        if let Some((primary, replicas)) = r.nodes.split_first().filter(|_| r.mode == "sentinel") {
            let _ = writeln!(out, "  primary:     {primary} (Sentinel promotes a replica when it fails)");
            let _ = writeln!(out, "  replicas:    {}", replicas.join(", "));
        } else if r.mode == "cluster" {
            let _ = writeln!(
                out,
                "  nodes:       {} ({} shards x (1 primary + {} replicas), assigned at cluster creation)",
                r.nodes.join(", "),
                r.shards.unwrap_or_default(),
                r.replicas_per_shard.unwrap_or_default()
            );
        } else {
            let _ = writeln!(out, "  node:        {} (no failover)", r.nodes.join(", "));
        }
        if !r.sentinels.is_empty() {
            let _ = writeln!(
                out,
                "  sentinels:   {} (master name `{}`, quorum {})",
                r.sentinels.join(", "),
                r.master_name.as_deref().unwrap_or_default(),
                r.quorum.unwrap_or_default()
            );
        }
        let _ = writeln!(out, "  TLS:         {}", r.tls);
        let _ = writeln!(out, "  persistence: {}", r.persistence);
        let parts: Vec<String> = r
            .budget
            .clients
            .iter()
            .map(|c| {
                let pools = if c.pools == 1 { String::new() } else { format!(" x {} pools", c.pools) };
                format!("{} {}{pools} x {}", c.machines, c.role, c.max_active)
            })
            .collect();
        let verdict = if r.budget.fits() { "fits" } else { "OVER the limit" };
        let _ = writeln!(
            out,
            "  connections: {} = {} of maxclients {} ({verdict})",
            if parts.is_empty() { "none".to_owned() } else { parts.join(" + ") },
            r.budget.total,
            r.budget.maxclients
        );
    }

    if let Some(db) = &e.database {
        let _ = writeln!(out, "\nDatabase: {} {}", engine_title(&db.engine), db.version);
        for m in &db.members {
            let _ = writeln!(out, "  {:<12} {}", m.name, m.replication);
        }
        if let Some(rs) = &db.replica_set {
            let _ = writeln!(out, "  replica set: {rs}");
        }
        let _ = writeln!(out, "  TLS:         {}", db.tls);
    }

    out.push_str("\nWhat each target creates:\n");
    for t in &e.targets {
        let _ = writeln!(out, "  {}/ ({} files)", t.folder, t.files);
        for c in &t.creates {
            let _ = writeln!(out, "    {c}");
        }
    }

    let count = |s: &str| e.findings.iter().filter(|f| f.severity == s && f.accepted.is_none()).count();
    let accepted = e.findings.iter().filter(|f| f.accepted.is_some()).count();
    let _ = writeln!(
        out,
        "\ntykgen check: {} errors, {} warnings, {} notes{}",
        count("error"),
        count("warning"),
        count("note"),
        if accepted > 0 { format!(", {accepted} accepted") } else { String::new() }
    );
    for f in &e.findings {
        match &f.accepted {
            None => _ = writeln!(out, "  {} {}: {}", f.severity, f.rule, f.message),
            Some(why) => {
                _ = writeln!(out, "  accepted {} {}: {} (the profile says: {why})", f.severity, f.rule, f.message)
            }
        }
    }
    if let Some(c) = &e.changes {
        changes_text(&mut out, c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn runs_of_machines_are_folded() {
        let items: Vec<String> =
            ["gateway-1:6379", "gateway-2:6379", "gateway-3:6379", "gateway-5:6379", "admins:3000", "pump-1:6379"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        assert_eq!(fold(&items), "admins:3000 gateway-1..3,5:6379 pump-1:6379");
    }
}
