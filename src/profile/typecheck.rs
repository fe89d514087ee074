//! Checks a YAML tree against the profile's JSON Schema and converts it to JSON.
//!
//! The schema is generated from the serde types (`types.rs`), so the types stay the one source of
//! truth. Walking the tree ourselves, rather than letting serde stop at the first problem, lets us
//! report every problem at once with its location and a did-you-mean for misspelt keys and values.
//! Only the subset of JSON Schema that schemars emits for our types is understood.

use std::collections::BTreeMap;

// regex-lite: a profile meets a dozen short patterns once per run, where building a full `regex`
// engine cost more than all the rest of the type check.
use regex_lite::Regex;
use serde_json::{Map, Value as Json};

use super::schema::Schema;

use super::yaml::{Node, Value};
use crate::diagnostic::{Diagnostic, Loc, did_you_mean};

/// Where each key path of the profile was written (`redis.tls.enabled` -> its key's location).
pub type Spans = BTreeMap<String, Loc>;

/// The result of checking a tree.
pub(crate) struct Checked {
    /// The tree as JSON, with plain numbers turned into strings where the schema wants a string.
    pub(crate) json: Json,
    /// The location of every key path.
    pub(crate) spans: Spans,
}

/// Checks `root` against `schema` (the profile's root schema).
///
/// # Errors
/// Every problem found, each with its location.
pub(crate) fn check(root: &Node, schema: &'static Schema) -> Result<Checked, Vec<Diagnostic>> {
    let mut walker = Walker { root_schema: schema, errors: Vec::new(), spans: Spans::new(), regexes: BTreeMap::new() };
    let json = walker.walk(root, schema, "", &root.loc);
    if walker.errors.is_empty() { Ok(Checked { json, spans: walker.spans }) } else { Err(walker.errors) }
}

struct Walker<'s> {
    root_schema: &'s Schema,
    errors: Vec<Diagnostic>,
    spans: Spans,
    regexes: BTreeMap<&'s str, Option<Regex>>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn shown(path: &str) -> String {
    if path.is_empty() { "the top level".to_owned() } else { format!("`{path}`") }
}

impl<'s> Walker<'s> {
    fn resolve(&self, schema: &'s Schema) -> &'s Schema {
        let mut s = schema;
        for _ in 0..16 {
            // schemars wraps a described reference as `allOf: [{$ref}]`.
            if let Some([only]) = s.get("allOf").and_then(Schema::as_array) {
                s = only;
                continue;
            }
            let Some(r) = s.get("$ref").and_then(Schema::as_str) else { break };
            let Some(name) = r.strip_prefix("#/definitions/").or_else(|| r.strip_prefix("#/$defs/")) else { break };
            let defs = self.root_schema.get("definitions").or_else(|| self.root_schema.get("$defs"));
            match defs.and_then(|d| d.get(name)) {
                Some(t) => s = t,
                None => break,
            }
        }
        s
    }

    fn error(&mut self, loc: &Loc, message: String, help: Option<String>) {
        let mut d = Diagnostic::error(message, Some(loc.clone()));
        d.help = help;
        self.errors.push(d);
    }

    fn walk(&mut self, node: &Node, schema: &'s Schema, path: &str, key_loc: &Loc) -> Json {
        let schema = self.resolve(schema);
        if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Schema::as_array) {
            return self.walk_branches(node, branches, path, key_loc);
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Schema::String(t)) => vec![t],
            Some(Schema::Array(ts)) => ts.iter().filter_map(Schema::as_str).collect(),
            _ => Vec::new(),
        };
        if types.is_empty() && schema.get("enum").is_none() && schema.get("const").is_none() {
            return to_json(node); // any value
        }
        let value = match self.typed(node, schema, &types, path) {
            Ok(v) => v,
            Err(()) => return Json::Null,
        };
        self.constraints(node, schema, &value, path);
        value
    }

    /// A value of one of `types`, or an error.
    fn typed(&mut self, node: &Node, schema: &'s Schema, types: &[&str], path: &str) -> Result<Json, ()> {
        let wants = |t: &str| types.contains(&t);
        match &node.value {
            Value::Null if wants("null") => Ok(Json::Null),
            Value::Bool(b) if wants("boolean") => Ok(Json::Bool(*b)),
            Value::Int(i) if wants("integer") || wants("number") => Ok(Json::from(*i)),
            Value::Float(f, _) if wants("number") => {
                Ok(serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number))
            }
            // A bare `7.2` or `16` where a string (a version) is expected: keep the text as written.
            Value::Int(_) | Value::Float(..) if wants("string") => Ok(Json::String(plain_text(node))),
            Value::Str { text, .. } if wants("string") => Ok(Json::String(text.clone())),
            Value::Map(entries) if wants("object") => Ok(self.object(node, entries, schema, path)),
            Value::Seq(items) if wants("array") => {
                let item_schema = schema.get("items").unwrap_or(&Schema::Bool(true));
                Ok(Json::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| self.walk(item, item_schema, &format!("{path}[{i}]"), &item.loc))
                        .collect(),
                ))
            }
            _ if types.is_empty() => Ok(to_json(node)),
            _ => {
                let expected = expected_types(types, schema);
                let help = match (&node.value, wants("string")) {
                    (Value::Bool(_), true) => Some("put the value in quotes to make it a string".to_owned()),
                    _ => None,
                };
                self.error(&node.loc, format!("{} must be {expected}, found {}", shown(path), node.describe()), help);
                Err(())
            }
        }
    }

    fn object(&mut self, node: &Node, entries: &[(super::yaml::Key, Node)], schema: &'s Schema, path: &str) -> Json {
        let properties = schema.get("properties");
        let props = properties.and_then(Schema::as_object).unwrap_or_default();
        let prop = |name: &str| properties.and_then(|p| p.get(name));
        let additional = schema.get("additionalProperties");
        let mut out = Map::new();
        for (key, value) in entries {
            let child_path = join(path, &key.name);
            self.spans.insert(child_path.clone(), key.loc.clone());
            let child_schema = match (prop(&key.name), additional) {
                (Some(s), _) => s,
                (None, Some(Schema::Bool(false))) => {
                    let help = did_you_mean(&key.name, props.iter().map(|(k, _)| *k))
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| {
                            let mut keys: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
                            keys.sort_unstable();
                            Some(format!("{} takes: {}", shown(path), keys.join(", ")))
                        });
                    self.error(&key.loc, format!("unknown key `{}` in {}", key.name, shown(path)), help);
                    continue;
                }
                (None, Some(s @ Schema::Object(_))) => s,
                (None, _) => {
                    out.insert(key.name.clone(), to_json(value));
                    continue;
                }
            };
            let v = self.walk(value, child_schema, &child_path, &key.loc);
            out.insert(key.name.clone(), v);
        }
        if let Some(required) = schema.get("required").and_then(Schema::as_array) {
            for name in required.iter().filter_map(Schema::as_str) {
                if !out.contains_key(name) && !entries.iter().any(|(k, _)| k.name == name) {
                    let what = prop(name)
                        .map(|s| self.resolve(s))
                        .and_then(|s| s.get("description"))
                        .and_then(Schema::as_str)
                        .map(|d| format!(" ({})", d.trim_end_matches('.')))
                        .unwrap_or_default();
                    self.error(&node.loc, format!("missing key `{}`{what}", join(path, name)), None);
                }
            }
        }
        Json::Object(out)
    }

    fn walk_branches(&mut self, node: &Node, branches: &'s [Schema], path: &str, key_loc: &Loc) -> Json {
        // Try each branch quietly; keep the first that fits.
        let saved = std::mem::take(&mut self.errors);
        let mut best: Option<(Vec<Diagnostic>, Json, Spans)> = None;
        let mut best_deeper = false;
        for branch in branches {
            let spans_before = self.spans.clone();
            let v = self.walk(node, branch, path, key_loc);
            let errs = std::mem::take(&mut self.errors);
            if errs.is_empty() {
                self.errors = saved;
                return v;
            }
            let spans = std::mem::replace(&mut self.spans, spans_before);
            // Prefer the branch whose type matched (its errors are deeper than a type mismatch).
            let mismatch = format!("{} must be", shown(path));
            let deeper = !errs.iter().any(|e| e.loc.as_ref() == Some(&node.loc) && e.message.starts_with(&mismatch));
            if best.is_none() || (deeper && !best_deeper) {
                best_deeper = deeper;
                best = Some((errs, v, spans));
            }
        }
        self.errors = saved;
        let consts: Vec<&str> =
            branches.iter().map(|b| self.resolve(b)).filter_map(|b| b.get("const").and_then(Schema::as_str)).collect();
        if consts.len() == branches.len() {
            return self.one_of(node, &consts, path);
        }
        if let Some((errs, v, spans)) = best {
            self.errors.extend(errs);
            self.spans = spans;
            return v;
        }
        Json::Null
    }

    fn one_of(&mut self, node: &Node, allowed: &[&str], path: &str) -> Json {
        let text = match &node.value {
            Value::Str { text, .. } => text.clone(),
            Value::Int(_) | Value::Float(..) => plain_text(node),
            _ => String::new(),
        };
        if allowed.contains(&text.as_str()) {
            return Json::String(text);
        }
        let list = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
        let help = did_you_mean(&text, allowed.iter().copied()).map(|s| format!("did you mean `{s}`?"));
        self.error(&node.loc, format!("{} must be one of {list}, found {}", shown(path), node.describe()), help);
        Json::Null
    }

    fn constraints(&mut self, node: &Node, schema: &'s Schema, value: &Json, path: &str) {
        if let Some(allowed) = schema.get("enum").and_then(Schema::as_array)
            && !allowed.iter().any(|a| a.equals(value))
        {
            let names: Vec<&str> = allowed.iter().filter_map(Schema::as_str).collect();
            self.one_of(node, &names, path);
            return;
        }
        if let Some(c) = schema.get("const")
            && !c.equals(value)
        {
            let c = c.to_json();
            self.error(&node.loc, format!("{} must be {c}, found {}", shown(path), node.describe()), None);
        }
        if let Some(n) = value.as_f64().filter(|_| value.is_number()) {
            let min = schema.get("minimum").and_then(Schema::as_f64);
            let max = schema.get("maximum").and_then(Schema::as_f64);
            let max = max.or_else(|| match schema.get("format").and_then(Schema::as_str) {
                Some("uint32") => Some(f64::from(u32::MAX)),
                Some("uint8") => Some(255.0),
                Some("uint16") => Some(65535.0),
                _ => None,
            });
            let min = min.or_else(|| {
                schema.get("format").and_then(Schema::as_str).filter(|f| f.starts_with("uint")).map(|_| 0.0)
            });
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                let range = match (min, max) {
                    (Some(a), Some(b)) => format!("between {a} and {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => String::new(),
                };
                self.error(&node.loc, format!("{} must be {range}, found {}", shown(path), node.describe()), None);
            }
        }
        if let (Some(pattern), Json::String(s)) = (schema.get("pattern").and_then(Schema::as_str), value) {
            let re = self.regexes.entry(pattern).or_insert_with(|| Regex::new(pattern).ok());
            if re.as_ref().is_some_and(|re| !re.is_match(s)) {
                let what = schema
                    .get("x-expected")
                    .and_then(Schema::as_str)
                    .map_or_else(|| format!("match `{pattern}`"), |e| format!("be {e}"));
                self.error(&node.loc, format!("{} must {what}, found {}", shown(path), node.describe()), None);
            }
        }
    }
}

fn plain_text(node: &Node) -> String {
    match &node.value {
        Value::Int(i) => i.to_string(),
        Value::Float(_, t) => t.clone(),
        Value::Str { text, .. } => text.clone(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn expected_types(types: &[&str], schema: &Schema) -> String {
    let mut words: Vec<String> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| match *t {
            "integer" => "a whole number".to_owned(),
            "number" => "a number".to_owned(),
            "boolean" => "`true` or `false`".to_owned(),
            "object" => "a mapping".to_owned(),
            "array" => "a list".to_owned(),
            "string" => schema.get("x-expected").and_then(Schema::as_str).unwrap_or("a string").to_owned(),
            other => other.to_owned(),
        })
        .collect();
    words.dedup();
    words.join(" or ")
}

/// The tree as JSON, with no checks.
#[must_use]
pub(crate) fn to_json(node: &Node) -> Json {
    match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f, t) => serde_json::Number::from_f64(*f).map_or_else(|| Json::String(t.clone()), Json::Number),
        Value::Str { text, .. } => Json::String(text.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(entries.iter().map(|(k, v)| (k.name.clone(), to_json(v))).collect()),
    }
}
