//! A YAML tree that remembers where every value came from.
//!
//! Profiles are parsed with `saphyr-parser` (the event parser under `serde-saphyr`) into `Node`s
//! that carry their location, so that every later problem (unknown key, wrong type, impossible
//! topology) can name the file, line and column. Plain scalars resolve by the YAML 1.2 core
//! schema: `yes`/`no`/`on`/`off` stay strings, and the original text of numbers is kept.

use std::collections::BTreeMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::diagnostic::{Diagnostic, Loc, Source};

/// A YAML value with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it starts.
    pub loc: Loc,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float, with the text it was written as.
    Float(f64, String),
    /// A string; `plain` when it was written without quotes.
    Str {
        /// The string.
        text: String,
        /// Written without quotes (so a number-like text could have been meant as a string).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with string keys, in source order.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key.
    pub name: String,
    /// Where it is.
    pub loc: Loc,
}

impl Node {
    /// A short description of the value's type, for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "null".into(),
            Value::Bool(b) => format!("the boolean `{b}`"),
            Value::Int(i) => format!("the integer `{i}`"),
            Value::Float(_, t) => format!("the number `{t}`"),
            Value::Str { text, .. } => format!("the string {text:?}"),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
        }
    }

    /// The entry `name` of a mapping.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Most values one document may hold, counting every value an alias repeats (a 390-byte
/// "billion laughs" expands to 10^7 values and gigabytes otherwise). The largest built-in
/// profile has a few hundred.
pub const MAX_NODES: usize = 100_000;
/// Most aliases (`*name`) in one document.
pub const MAX_ALIASES: usize = 1_000;
/// Deepest nesting of lists and mappings (the parser recurses once per level).
pub const MAX_DEPTH: usize = 64;

/// Parses one YAML document from `source`.
///
/// # Errors
/// A YAML syntax error, a duplicate key, a non-string key, an unknown tag, a second document,
/// an integer outside 64 bits, or a document past [`MAX_NODES`], [`MAX_ALIASES`] or [`MAX_DEPTH`].
pub fn parse(source: &Arc<Source>) -> Result<Node, Diagnostic> {
    let mut builder = Builder { source: source.clone(), anchors: BTreeMap::new(), nodes: 0, aliases: 0, depth: 0 };
    let mut parser = Parser::new_from_str(&source.text);
    let mut root: Option<Node> = None;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            let loc = builder.loc_at(m.line(), m.col() + 1, 1);
            Diagnostic::error(format!("YAML syntax error: {}", e.info()), Some(loc))
        })?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                if root.is_some() {
                    return Err(Diagnostic::error(
                        "a profile is one YAML document, but this file has another `---`",
                        Some(builder.loc(span)),
                    ));
                }
                let node = builder.node(&mut parser)?;
                root = Some(node.unwrap_or_else(|| Node { value: Value::Null, loc: builder.loc_at(1, 1, 1) }));
            }
            other => {
                return Err(Diagnostic::error(format!("unexpected YAML event {other:?}"), Some(builder.loc(span))));
            }
        }
    }
    Ok(root.unwrap_or_else(|| Node { value: Value::Null, loc: builder.loc_at(1, 1, 1) }))
}

struct Builder {
    source: Arc<Source>,
    /// Each anchor's value and how many values it holds.
    anchors: BTreeMap<usize, (Node, usize)>,
    /// Values built so far, aliases counted with everything they repeat.
    nodes: usize,
    aliases: usize,
    depth: usize,
}

impl Builder {
    fn loc_at(&self, line: usize, col: usize, len: usize) -> Loc {
        Loc { source: self.source.clone(), line: line.max(1), col: col.max(1), len: len.max(1) }
    }

    fn loc(&self, span: Span) -> Loc {
        let (s, e) = (span.start, span.end);
        let len = if e.line() == s.line() { e.col().saturating_sub(s.col()) } else { 1 };
        self.loc_at(s.line(), s.col() + 1, len)
    }

    /// Reads the next node; `None` at the end of the document.
    fn node<'i>(&mut self, parser: &mut Parser<'i, saphyr_parser::StrInput<'i>>) -> Result<Option<Node>, Diagnostic> {
        let (event, span) = self.next(parser)?;
        self.node_from(event, span, parser)
    }

    fn next<'i>(&self, parser: &mut Parser<'i, saphyr_parser::StrInput<'i>>) -> Result<(Event<'i>, Span), Diagnostic> {
        match parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => {
                let m = e.marker();
                Err(Diagnostic::error(
                    format!("YAML syntax error: {}", e.info()),
                    Some(self.loc_at(m.line(), m.col() + 1, 1)),
                ))
            }
            None => Err(Diagnostic::error("unexpected end of the YAML document", None)),
        }
    }

    fn node_from<'i>(
        &mut self,
        event: Event<'i>,
        span: Span,
        parser: &mut Parser<'i, saphyr_parser::StrInput<'i>>,
    ) -> Result<Option<Node>, Diagnostic> {
        let loc = self.loc(span);
        let before = self.nodes;
        let (node, anchor) = match event {
            Event::DocumentEnd | Event::StreamEnd | Event::MappingEnd | Event::SequenceEnd => {
                return Ok(None);
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((n, size)) => {
                    self.aliases += 1;
                    self.nodes += size;
                    if self.aliases > MAX_ALIASES {
                        return Err(Diagnostic::error(
                            format!("more than {MAX_ALIASES} aliases in one profile"),
                            Some(loc),
                        ));
                    }
                    if self.nodes > MAX_NODES {
                        return Err(Diagnostic::error(
                            format!(
                                "this alias makes the profile hold more than {MAX_NODES} values \
                                 (each alias repeats its anchor's whole value)"
                            ),
                            Some(loc),
                        )
                        .with_help("write the values out, or use fewer nested aliases"));
                    }
                    return Ok(Some(Node { value: n.value.clone(), loc }));
                }
                None => return Err(Diagnostic::error("alias to an unknown anchor", Some(loc))),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let value =
                    scalar(&text, style, tag.as_deref()).map_err(|msg| Diagnostic::error(msg, Some(loc.clone())))?;
                (Node { value, loc }, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(&loc)?;
                let mut items = Vec::new();
                while let Some(item) = self.node(parser)? {
                    items.push(item);
                }
                self.depth -= 1;
                (Node { value: Value::Seq(items), loc }, anchor)
            }
            Event::MappingStart(anchor, _) => {
                self.enter(&loc)?;
                let mut entries: Vec<(Key, Node)> = Vec::new();
                while let Some(key) = self.node(parser)? {
                    let name = match &key.value {
                        Value::Str { text, .. } => text.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(_, t) => t.clone(),
                        _ => {
                            return Err(Diagnostic::error(
                                format!("keys must be plain names, found {}", key.describe()),
                                Some(key.loc),
                            ));
                        }
                    };
                    let key_loc = Loc { len: name.chars().count().max(1), ..key.loc };
                    let Some(value) = self.node(parser)? else {
                        return Err(Diagnostic::error("a key without a value", Some(key_loc)));
                    };
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == name) {
                        return Err(Diagnostic::error(
                            format!("duplicate key `{name}` (first at line {})", first.loc.line),
                            Some(key_loc),
                        ));
                    }
                    entries.push((Key { name, loc: key_loc }, value));
                }
                self.depth -= 1;
                (Node { value: Value::Map(entries), loc }, anchor)
            }
            other => {
                return Err(Diagnostic::error(format!("unexpected YAML event {other:?}"), Some(loc)));
            }
        };
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::error(format!("a profile holds at most {MAX_NODES} values"), Some(node.loc)));
        }
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), self.nodes - before));
        }
        Ok(Some(node))
    }

    /// One level deeper into lists and mappings.
    fn enter(&mut self, loc: &Loc) -> Result<(), Diagnostic> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::error(
                format!("lists and mappings nest more than {MAX_DEPTH} levels deep"),
                Some(loc.clone()),
            ));
        }
        Ok(())
    }
}

/// Resolves a scalar by the YAML 1.2 core schema.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    let quoted = !matches!(style, ScalarStyle::Plain);
    match tag {
        None => {}
        Some("tag:yaml.org,2002:str" | "!!str") => {
            return Ok(Value::Str { text: text.to_owned(), plain: false });
        }
        Some(t) if t == "!" && quoted => {}
        Some(other) => return Err(format!("YAML tag `{other}` is not supported in a profile")),
    }
    if quoted {
        return Ok(Value::Str { text: text.to_owned(), plain: false });
    }
    let value = resolve_plain(text);
    if let Value::Float(_, t) = &value
        && is_integer_text(t)
    {
        return Err(format!(
            "the integer `{t}` is outside the 64-bit range ({} to {}); quote it if it is text",
            i64::MIN,
            i64::MAX
        ));
    }
    Ok(value)
}

/// Decimal, `0x` or `0o` integer text (whatever its size).
fn is_integer_text(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let all = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    all(digits, 10)
        || text.strip_prefix("0x").is_some_and(|h| all(h, 16))
        || text.strip_prefix("0o").is_some_and(|o| all(o, 8))
}

/// The value of a plain (unquoted) scalar.
#[must_use]
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Beyond i64 it is still a number, just one that no field can hold.
        return text.parse::<i64>().map_or_else(|_| Value::Float(f64::MAX, text.to_owned()), Value::Int);
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8)] {
        if let Some(digits) = text.strip_prefix(prefix)
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_digit(radix))
        {
            // Beyond i64: a number no field can hold (`scalar` reports it).
            return i64::from_str_radix(digits, radix)
                .map_or_else(|_| Value::Float(f64::MAX, text.to_owned()), Value::Int);
        }
    }
    let is_float = {
        let t = digits;
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        };
        let mantissa_ok = {
            let mut parts = mantissa.splitn(2, '.');
            let int = parts.next().unwrap_or("");
            let frac = parts.next();
            let int_ok = int.bytes().all(|b| b.is_ascii_digit());
            match frac {
                Some(f) => int_ok && f.bytes().all(|b| b.is_ascii_digit()) && !(int.is_empty() && f.is_empty()),
                None => int_ok && !int.is_empty(),
            }
        };
        let exp_ok = exp.is_none_or(|e| {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
        });
        mantissa_ok && exp_ok && (mantissa.contains('.') || exp.is_some())
    };
    if is_float && let Ok(f) = text.parse::<f64>() {
        return Value::Float(f, text.to_owned());
    }
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" => Value::Float(f64::INFINITY, text.into()),
        "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY, text.into()),
        ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN, text.into()),
        _ => Value::Str { text: text.to_owned(), plain: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Node, Diagnostic> {
        parse(&Arc::new(Source { name: "t.yaml".into(), text: text.into() }))
    }

    #[test]
    fn core_schema_scalars() {
        assert_eq!(resolve_plain("yes"), Value::Str { text: "yes".into(), plain: true });
        assert_eq!(resolve_plain("10"), Value::Int(10));
        assert!(matches!(resolve_plain("7.2"), Value::Float(_, t) if t == "7.2"));
        assert_eq!(resolve_plain("5.8.2"), Value::Str { text: "5.8.2".into(), plain: true });
        assert_eq!(resolve_plain("~"), Value::Null);
    }

    #[test]
    fn keeps_locations() {
        let n = parse_str("name: x\nredis:\n  mode: sentinel\n").unwrap();
        let mode = n.get("redis").and_then(|r| r.get("mode")).unwrap();
        assert_eq!((mode.loc.line, mode.loc.col), (3, 9));
        let Value::Map(entries) = &n.get("redis").unwrap().value else { panic!() };
        assert_eq!((entries[0].0.loc.line, entries[0].0.loc.col, entries[0].0.loc.len), (3, 3, 4));
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let err = parse_str("name: x\nredis: [a,\n").unwrap_err();
        assert!(err.message.starts_with("YAML syntax error"), "{}", err.message);
        assert!(err.loc.is_some());
    }

    #[test]
    fn rejects_duplicate_keys() {
        let err = parse_str("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicate key `a`"));
        assert_eq!(err.loc.unwrap().line, 2);
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let n = parse_str("v: \"7.2\"\nw: 'true'\n").unwrap();
        assert_eq!(n.get("v").unwrap().value, Value::Str { text: "7.2".into(), plain: false });
        assert_eq!(n.get("w").unwrap().value, Value::Str { text: "true".into(), plain: false });
    }
}
