//! Overlays (`-f FILE`) and `--set key.path=value` on a profile tree.
//!
//! Rules: mappings deep-merge, lists replace, and an explicit `null` in an overlay removes the
//! key (so the default applies again). Every merged node keeps the location it came from.

use std::sync::Arc;

use super::yaml::{self, Key, Node, Value};
use crate::diagnostic::{Diagnostic, Loc, Source};

/// Merges `overlay` into `base`.
pub(crate) fn merge(base: &mut Node, overlay: Node) {
    match (&mut base.value, overlay.value) {
        (Value::Map(entries), Value::Map(over)) => {
            for (key, value) in over {
                let existing = entries.iter().position(|(k, _)| k.name == key.name);
                match (existing, &value.value) {
                    (Some(i), Value::Null) => {
                        entries.remove(i);
                    }
                    (None, Value::Null) => {}
                    (Some(i), _) => {
                        entries[i].0 = key;
                        merge(&mut entries[i].1, value);
                    }
                    (None, _) => entries.push((key, value)),
                }
            }
        }
        (_, value) => {
            base.value = value;
            base.loc = overlay.loc;
        }
    }
}

/// Turns one `--set key.path=value` argument into an overlay tree.
///
/// The value is parsed as YAML, so `--set gateway.nodes=3` gives an integer and
/// `--set redis.version='"7.2"'` a string; the profile's types then check it like any other value.
///
/// # Errors
/// A missing `=`, an empty or malformed key path, or a value that is not valid YAML.
pub(crate) fn set_overlay(arg: &str) -> Result<Node, Diagnostic> {
    let source = Arc::new(Source { name: "--set".to_owned(), text: arg.to_owned() });
    let at = |col: usize, len: usize| Loc { source: source.clone(), line: 1, col, len };
    let Some((path, value_text)) = arg.split_once('=') else {
        return Err(Diagnostic::error("`--set` takes key.path=value", Some(at(1, arg.chars().count())))
            .with_help("for example `--set gateway.nodes=3`"));
    };
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|s| s.is_empty() || s.contains(char::is_whitespace)) {
        return Err(Diagnostic::error(
            format!("`{path}` is not a key path like `redis.tls.enabled`"),
            Some(at(1, path.chars().count())),
        ));
    }
    let value_col = path.chars().count() + 2;
    let value_source = Arc::new(Source { name: "--set".to_owned(), text: value_text.to_owned() });
    let mut value = yaml::parse(&value_source).map_err(|mut d| {
        d.loc = Some(at(value_col, value_text.chars().count()));
        d
    })?;
    relocate(&mut value, &at(value_col, value_text.chars().count().max(1)));

    // Build the nested mapping from the innermost key outwards; each key points at its segment.
    let mut col = 1;
    let key_locs: Vec<Loc> = segments
        .iter()
        .map(|s| {
            let loc = at(col, s.chars().count());
            col += s.chars().count() + 1;
            loc
        })
        .collect();
    let mut node = value;
    for (segment, loc) in segments.iter().zip(key_locs).rev() {
        node = Node { value: Value::Map(vec![(Key { name: (*segment).to_owned(), loc: loc.clone() }, node)]), loc };
    }
    Ok(node)
}

/// Points every node of a `--set` value at the value's place in the argument.
fn relocate(node: &mut Node, loc: &Loc) {
    node.loc = loc.clone();
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| relocate(n, loc)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            k.loc = loc.clone();
            relocate(v, loc);
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::typecheck::to_json;

    fn parse(text: &str) -> Node {
        yaml::parse(&Arc::new(Source { name: "t".into(), text: text.into() })).unwrap()
    }

    #[test]
    fn maps_merge_lists_replace_null_removes() {
        let mut base = parse("a: {x: 1, y: 2}\nl: [1, 2]\nz: 3\n");
        merge(&mut base, parse("a: {y: 5}\nl: [9]\nz: null\n"));
        let expected = parse("a: {x: 1, y: 5}\nl: [9]\n");
        assert_eq!(to_json(&base), to_json(&expected));
    }

    #[test]
    fn set_builds_typed_nested_values() {
        let n = set_overlay("redis.tls.enabled=true").unwrap();
        let v = n.get("redis").and_then(|r| r.get("tls")).and_then(|t| t.get("enabled")).unwrap();
        assert_eq!(v.value, Value::Bool(true));
        assert_eq!(v.loc.col, 19);
        let n = set_overlay("gateway.nodes=3").unwrap();
        assert_eq!(n.get("gateway").and_then(|g| g.get("nodes")).unwrap().value, Value::Int(3));
    }

    #[test]
    fn set_rejects_malformed_arguments() {
        assert!(set_overlay("gateway.nodes").is_err());
        assert!(set_overlay("gateway..nodes=1").is_err());
    }
}
