//! Pure escaping functions, one per output language, with no knowledge of Tera.
//!
//! Each escaper writes the *content* of a quoted literal (the template or a literal filter
//! supplies the quotes) and comes in two forms: a streaming
//! `fn(&str, &mut dyn Write) -> io::Result<()>` usable directly as a Tera `EscapeFn`, and a
//! `-> String` convenience (`*_string`). Escapers that cannot represent some input (a newline in
//! a `postgresql.conf` value, NUL in a shell word) fail with [`io::ErrorKind::InvalidInput`]
//! instead of emitting something that a parser would read differently. The rules and the parsers
//! they were checked against are described in `docs/style-and-escaping.md`; the tests at the
//! bottom round-trip arbitrary strings through those parsers (or a faithful test-only copy).

use std::borrow::Cow;
use std::io::{self, Write};

/// An escaper in the shape Tera's `set_escape_fn` expects.
pub type EscapeFn = fn(&str, &mut dyn Write) -> io::Result<()>;

/// Runs a streaming escaper into a `String`.
fn to_string(escaper: EscapeFn, input: &str) -> io::Result<String> {
    literal(escaper, "", input, "")
}

/// `open`, the escaped `input`, `close`: a whole literal (`"…"`, `'…'`, `!unsafe "…"`) built in
/// one buffer (the literal filters call this for every value they quote).
pub fn literal(escaper: EscapeFn, open: &str, input: &str, close: &str) -> io::Result<String> {
    let mut out = Vec::with_capacity(open.len() + input.len() + close.len() + 8);
    out.extend_from_slice(open.as_bytes());
    escaper(input, &mut out)?;
    out.extend_from_slice(close.as_bytes());
    // Escapers only ever write whole UTF-8 characters or ASCII escape sequences.
    String::from_utf8(out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Copies `input` to `out`, replacing each character for which `replace` (given the character
/// and the text after it) returns a replacement; the text between replacements goes out in one
/// write, not a character at a time. Only characters with a byte for which `special` holds are
/// looked at (it must hold for some byte of every character `replace` replaces): the scan jumps
/// from one such byte to the next, so a long value with a few specials (a shell script of
/// many lines) costs a byte scan, not a call per character.
fn escape_with(
    input: &str,
    out: &mut dyn Write,
    special: impl Fn(u8) -> bool,
    replace: impl Fn(char, &str) -> io::Result<Option<Cow<'static, str>>>,
) -> io::Result<()> {
    let bytes = input.as_bytes();
    let (mut start, mut from) = (0, 0);
    while let Some(found) = bytes[from..].iter().position(|&b| special(b)) {
        // The character holding the byte (a byte after its first is special for some escapers).
        let mut at = from + found;
        while !input.is_char_boundary(at) {
            at -= 1;
        }
        let Some(c) = input[at..].chars().next() else { break };
        let after = at + c.len_utf8();
        if let Some(with) = replace(c, &input[after..])? {
            out.write_all(&bytes[start..at])?;
            out.write_all(with.as_bytes())?;
            start = after;
        }
        from = after;
    }
    out.write_all(&bytes[start..])
}

/// The backslash escapes HCL, YAML and `redis.conf` quoted strings share: `\\ \" \n \r \t`.
fn backslashed(c: char) -> Option<Cow<'static, str>> {
    match c {
        '\\' => Some("\\\\".into()),
        '"' => Some("\\\"".into()),
        '\n' => Some("\\n".into()),
        '\r' => Some("\\r".into()),
        '\t' => Some("\\t".into()),
        _ => None,
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

/// HCL quoted-string content (Terraform `"..."`).
///
/// `\\ \" \n \r \t` are backslash-escaped, other control characters become `\uXXXX`, and the
/// template sequences `${` and `%{` are doubled to `$${` and `%%{` so they stay literal text
/// instead of live interpolation or directives.
pub fn hcl(input: &str, out: &mut dyn Write) -> io::Result<()> {
    // Non-ASCII bytes: the C1 controls.
    let special = |b: u8| !(0x20..0x7f).contains(&b) || matches!(b, b'"' | b'\\' | b'$' | b'%');
    escape_with(input, out, special, |c, rest| {
        Ok(backslashed(c).or_else(|| match c {
            '$' if rest.starts_with('{') => Some("$$".into()),
            '%' if rest.starts_with('{') => Some("%%".into()),
            c if c.is_control() => Some(format!("\\u{:04X}", u32::from(c)).into()),
            _ => None,
        }))
    })
}

/// [`hcl`] into a `String`.
pub fn hcl_string(input: &str) -> String {
    // INVARIANT: `hcl` never fails on its own and writing to a Vec cannot fail.
    to_string(hcl, input).expect("hcl escaping is infallible")
}

fn yaml_needs_unicode_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}')
}

/// YAML double-quoted scalar content.
///
/// `\\ \" \n \r \t` are backslash-escaped; every control character plus U+2028, U+2029, U+0085,
/// U+FEFF, U+FFFE and U+FFFF becomes `\uXXXX`, because YAML 1.1 parsers (`PyYAML`, so Ansible)
/// fold raw U+0085/U+2028/U+2029 as line breaks.
pub fn yaml_dq(input: &str, out: &mut dyn Write) -> io::Result<()> {
    // Non-ASCII bytes: the C1 controls and the other characters YAML 1.1 folds or drops.
    let special = |b: u8| !(0x20..0x7f).contains(&b) || matches!(b, b'"' | b'\\');
    escape_with(input, out, special, |c, _| {
        Ok(backslashed(c).or_else(|| match c {
            c if yaml_needs_unicode_escape(c) => Some(format!("\\u{:04X}", u32::from(c)).into()),
            _ => None,
        }))
    })
}

/// [`yaml_dq`] into a `String`.
pub fn yaml_dq_string(input: &str) -> String {
    // INVARIANT: `yaml_dq` never fails on its own and writing to a Vec cannot fail.
    to_string(yaml_dq, input).expect("yaml escaping is infallible")
}

/// docker-compose YAML double-quoted content: `$` becomes `$$` (Compose interpolates `$VAR`
/// and `${VAR}` in every value), then [`yaml_dq`].
pub fn compose(input: &str, out: &mut dyn Write) -> io::Result<()> {
    if input.contains('$') { yaml_dq(&input.replace('$', "$$"), out) } else { yaml_dq(input, out) }
}

/// [`compose`] into a `String`.
pub fn compose_string(input: &str) -> String {
    // INVARIANT: `compose` never fails on its own and writing to a Vec cannot fail.
    to_string(compose, input).expect("compose escaping is infallible")
}

/// Content of a double-quoted argument in `redis.conf` / `sentinel.conf`, as Redis's
/// `sdssplitargs` reads it.
///
/// `\\`, `"`, `\n`, `\r`, `\t` are backslash-escaped and the other non-printable ASCII bytes
/// (C0 controls and DEL) become `\xHH`. Bytes of non-ASCII UTF-8 characters are copied as they
/// are: `sdssplitargs` copies any byte that is not `\` or `"` verbatim.
pub fn redis_conf(input: &str, out: &mut dyn Write) -> io::Result<()> {
    let special = |b: u8| b < 0x20 || b == 0x7f || matches!(b, b'"' | b'\\');
    escape_with(input, out, special, |c, _| {
        Ok(backslashed(c).or_else(|| match c {
            '\0'..='\u{1F}' | '\u{7F}' => Some(format!("\\x{:02x}", u32::from(c)).into()),
            _ => None,
        }))
    })
}

/// [`redis_conf`] into a `String`.
pub fn redis_conf_string(input: &str) -> String {
    // INVARIANT: `redis_conf` never fails on its own and writing to a Vec cannot fail.
    to_string(redis_conf, input).expect("redis escaping is infallible")
}

/// Content of a single-quoted `postgresql.conf` value, as the `guc-file.l` lexer of
/// `PostgreSQL` reads it.
///
/// `'` becomes `''`, `\` becomes `\\`, tab becomes `\t` and other control characters become a
/// three-digit octal escape `\ooo`. NUL, LF and CR are rejected with
/// [`io::ErrorKind::InvalidInput`]: the configuration is line-based, no setting we generate
/// takes a multi-line value, and a value that needs one is a profile error, not something to
/// smuggle through an escape sequence.
pub fn pg_conf(input: &str, out: &mut dyn Write) -> io::Result<()> {
    let special = |b: u8| b < 0x20 || b == 0x7f || matches!(b, b'\'' | b'\\');
    escape_with(input, out, special, |c, _| {
        Ok(match c {
            '\0' => return Err(invalid("a postgresql.conf value cannot contain NUL")),
            '\n' | '\r' => return Err(invalid("a postgresql.conf value cannot contain a line break")),
            '\'' => Some("''".into()),
            '\\' => Some("\\\\".into()),
            '\t' => Some("\\t".into()),
            c if c.is_ascii_control() => Some(format!("\\{:03o}", u32::from(c)).into()),
            _ => None,
        })
    })
}

/// [`pg_conf`] into a `String`.
pub fn pg_conf_string(input: &str) -> io::Result<String> {
    to_string(pg_conf, input)
}

/// POSIX shell single-quoted word content: `'` becomes `'\''` (close, escaped quote, reopen).
/// NUL is rejected with [`io::ErrorKind::InvalidInput`] because no shell word can hold it.
pub fn shell_single(input: &str, out: &mut dyn Write) -> io::Result<()> {
    if input.contains('\0') {
        return Err(invalid("a shell word cannot contain NUL"));
    }
    for (i, part) in input.split('\'').enumerate() {
        if i > 0 {
            out.write_all(b"'\\''")?;
        }
        out.write_all(part.as_bytes())?;
    }
    Ok(())
}

/// [`shell_single`] into a `String`.
pub fn shell_single_string(input: &str) -> io::Result<String> {
    to_string(shell_single, input)
}

/// Free text as one line of Markdown that cannot change the document's structure: Markdown's
/// punctuation is backslash-escaped (CommonMark: any ASCII punctuation may be), line breaks and
/// other control characters become spaces, and invisible or direction-changing characters (bidi
/// overrides and isolates, zero-width characters, BOM, line/paragraph separators) are shown as
/// `U+XXXX`, so a description cannot start a heading, a link, a table row or reorder text.
#[must_use]
pub fn markdown_inline(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '+' | '-' | '!' | '|'
            | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' => {
                out.push_str(&format!("U+{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    // What can only start a block at the start of a line: `1.` (an ordered list; `1)` is escaped
    // above) and a line of `=` (a heading underline).
    let digits = out.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && out[digits..].starts_with('.') {
        out.insert(digits, '\\');
    } else if out.trim_start().starts_with('=') && out.trim().bytes().all(|b| b == b'=') {
        let at = out.len() - out.trim_start().len();
        out.insert(at, '\\');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hostile strings every escaper must survive.
    const EDGE_CASES: &[&str] = &[
        "",
        "plain",
        "$${",
        "$$${x}",
        "%%%{x}",
        "${file(\"/etc/passwd\")}",
        "%{ if true }x%{ endif }",
        "\"\n}\nresource \"null_resource\" \"pwn\" {\n",
        "a\0b",
        "a\u{7f}b",
        "a\u{1b}[31mb",
        "line1\r\nline2",
        "a\u{2028}b\u{2029}c\u{85}d\u{feff}e",
        "\u{fffe}\u{ffff}",
        "'single' \"double\" \\back\\",
        "{{ lookup('pipe','id') }}",
        "$HOME ${HOME} $$HOME",
        "tab\there",
        "trailing backslash\\",
        "ünïcödé ✓ 𝄞",
        "# not a comment: - &a *a !!python/object",
    ];

    /// The escapers as they were written first, one character at a time: the fast ones above
    /// must give exactly their bytes (tykgen's output must not change by one byte).
    mod reference {
        use super::super::yaml_needs_unicode_escape;
        use std::io::{self, Write};

        fn write_char(out: &mut dyn Write, c: char) -> io::Result<()> {
            let mut buf = [0u8; 4];
            out.write_all(c.encode_utf8(&mut buf).as_bytes())
        }

        fn invalid(what: &str) -> io::Error {
            io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
        }

        pub(super) fn hcl(input: &str, out: &mut dyn Write) -> io::Result<()> {
            let mut chars = input.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.write_all(b"\\\\")?,
                    '"' => out.write_all(b"\\\"")?,
                    '\n' => out.write_all(b"\\n")?,
                    '\r' => out.write_all(b"\\r")?,
                    '\t' => out.write_all(b"\\t")?,
                    '$' | '%' if chars.peek() == Some(&'{') => {
                        write_char(out, c)?;
                        write_char(out, c)?;
                    }
                    c if c.is_control() => write!(out, "\\u{:04X}", u32::from(c))?,
                    c => write_char(out, c)?,
                }
            }
            Ok(())
        }

        pub(super) fn yaml_dq(input: &str, out: &mut dyn Write) -> io::Result<()> {
            for c in input.chars() {
                match c {
                    '\\' => out.write_all(b"\\\\")?,
                    '"' => out.write_all(b"\\\"")?,
                    '\n' => out.write_all(b"\\n")?,
                    '\r' => out.write_all(b"\\r")?,
                    '\t' => out.write_all(b"\\t")?,
                    c if yaml_needs_unicode_escape(c) => write!(out, "\\u{:04X}", u32::from(c))?,
                    c => write_char(out, c)?,
                }
            }
            Ok(())
        }

        pub(super) fn redis_conf(input: &str, out: &mut dyn Write) -> io::Result<()> {
            for &b in input.as_bytes() {
                match b {
                    b'\\' => out.write_all(b"\\\\")?,
                    b'"' => out.write_all(b"\\\"")?,
                    b'\n' => out.write_all(b"\\n")?,
                    b'\r' => out.write_all(b"\\r")?,
                    b'\t' => out.write_all(b"\\t")?,
                    0..=0x1F | 0x7F => write!(out, "\\x{b:02x}")?,
                    b => out.write_all(&[b])?,
                }
            }
            Ok(())
        }

        pub(super) fn pg_conf(input: &str, out: &mut dyn Write) -> io::Result<()> {
            for c in input.chars() {
                match c {
                    '\0' => return Err(invalid("a postgresql.conf value cannot contain NUL")),
                    '\n' | '\r' => {
                        return Err(invalid("a postgresql.conf value cannot contain a line break"));
                    }
                    '\'' => out.write_all(b"''")?,
                    '\\' => out.write_all(b"\\\\")?,
                    '\t' => out.write_all(b"\\t")?,
                    c if c.is_ascii_control() => write!(out, "\\{:03o}", u32::from(c))?,
                    c => write_char(out, c)?,
                }
            }
            Ok(())
        }
    }

    fn same_bytes(fast: EscapeFn, slow: EscapeFn, s: &str) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let (ra, rb) = (fast(s, &mut a), slow(s, &mut b));
        assert_eq!(ra.is_ok(), rb.is_ok(), "{s:?}");
        if ra.is_ok() {
            assert_eq!(a, b, "{s:?}");
        }
    }

    #[test]
    fn escapers_give_the_reference_bytes_on_edge_cases() {
        for s in EDGE_CASES {
            same_bytes(hcl, reference::hcl, s);
            same_bytes(yaml_dq, reference::yaml_dq, s);
            same_bytes(redis_conf, reference::redis_conf, s);
            same_bytes(pg_conf, reference::pg_conf, s);
        }
    }

    proptest! {
        #[test]
        fn escapers_give_the_reference_bytes(s in "\\PC*|[\\x00-\\x7f\u{80}-\u{9f}\u{2028}\u{2029}\u{feff}\u{fffe}\u{ffff}$%{}]*") {
            same_bytes(hcl, reference::hcl, &s);
            same_bytes(yaml_dq, reference::yaml_dq, &s);
            same_bytes(redis_conf, reference::redis_conf, &s);
            same_bytes(pg_conf, reference::pg_conf, &s);
        }
    }

    // ---- HCL -------------------------------------------------------------------------------

    fn hcl_roundtrip(s: &str) -> String {
        use hcl::eval::{Context, Evaluate};
        let src = format!("x = \"{}\"\n", hcl_string(s));
        let body: hcl::Body = hcl::from_str(&src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        let attr = body.attributes().next().expect("one attribute");
        // Evaluating with an empty context turns `$${` back into `${`; a live interpolation
        // would fail here (unknown variable/function), which is exactly what must not happen.
        let value = attr.expr().evaluate(&Context::new()).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        value.as_str().expect("a string").to_owned()
    }

    #[test]
    fn hcl_edge_cases_roundtrip() {
        for s in EDGE_CASES {
            assert_eq!(hcl_roundtrip(s), *s, "input {s:?}");
        }
    }

    #[test]
    fn hcl_exact_output() {
        assert_eq!(hcl_string("${x}"), "$${x}");
        assert_eq!(hcl_string("%{x}"), "%%{x}");
        assert_eq!(hcl_string("$${"), "$$${");
        assert_eq!(hcl_string("$$${x}"), "$$$${x}");
        assert_eq!(hcl_string("%%%{x}"), "%%%%{x}");
        assert_eq!(hcl_string("$ % {"), "$ % {");
        assert_eq!(hcl_string("a\"b\\c\n\r\t"), "a\\\"b\\\\c\\n\\r\\t");
        assert_eq!(hcl_string("\0\u{7f}\u{1b}\u{85}"), "\\u0000\\u007F\\u001B\\u0085");
    }

    // ---- YAML / compose --------------------------------------------------------------------

    fn yaml_parse(escaped: &str) -> String {
        let src = format!("\"{escaped}\"");
        serde_saphyr::from_str::<String>(&src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
    }

    #[test]
    fn yaml_edge_cases_roundtrip() {
        for s in EDGE_CASES {
            assert_eq!(yaml_parse(&yaml_dq_string(s)), *s, "input {s:?}");
        }
    }

    #[test]
    fn yaml_exact_output() {
        assert_eq!(
            yaml_dq_string("a\u{2028}b\u{2029}c\u{85}d\u{feff}\u{fffe}\u{ffff}"),
            "a\\u2028b\\u2029c\\u0085d\\uFEFF\\uFFFE\\uFFFF"
        );
        assert_eq!(yaml_dq_string("\r\n\0\u{1b}"), "\\r\\n\\u0000\\u001B");
        assert_eq!(yaml_dq_string("${x} #a"), "${x} #a");
    }

    #[test]
    fn compose_edge_cases_roundtrip() {
        for s in EDGE_CASES {
            let parsed = yaml_parse(&compose_string(s));
            assert_eq!(parsed.replace("$$", "$"), *s, "input {s:?}");
        }
    }

    #[test]
    fn compose_doubles_every_dollar() {
        assert_eq!(compose_string("$HOME ${HOME}"), "$$HOME $${HOME}");
        assert_eq!(compose_string("$$"), "$$$$");
        assert_eq!(compose_string("\"$\""), "\\\"$$\\\"");
    }

    // ---- Redis -----------------------------------------------------------------------------

    /// A test-only copy of the double-quoted branch of Redis's `sdssplitargs` (src/sds.c):
    /// `\xHH` (two hex digits) is a byte, `\n \r \t \b \a` are controls, `\` before anything
    /// else is that character, the closing quote must be followed by a space or the end.
    fn redis_parse_dq(line: &[u8]) -> Result<Vec<u8>, String> {
        let Some((b'"', mut p)) = line.split_first() else {
            return Err("no opening quote".into());
        };
        let mut out = Vec::new();
        loop {
            match p {
                [b'\\', b'x', h, l, rest @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    let hex = std::str::from_utf8(&[*h, *l]).map_err(|e| e.to_string())?.to_owned();
                    out.push(u8::from_str_radix(&hex, 16).map_err(|e| e.to_string())?);
                    p = rest;
                }
                [b'\\', c, rest @ ..] => {
                    out.push(match c {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => *c,
                    });
                    p = rest;
                }
                [b'"', rest @ ..] => {
                    if rest.first().is_some_and(|c| !c.is_ascii_whitespace()) {
                        return Err("closing quote must be followed by a space".into());
                    }
                    return Ok(out);
                }
                [c, rest @ ..] => {
                    out.push(*c);
                    p = rest;
                }
                [] => return Err("unterminated quotes".into()),
            }
        }
    }

    #[test]
    fn redis_edge_cases_roundtrip() {
        for s in EDGE_CASES {
            let line = format!("\"{}\"", redis_conf_string(s));
            assert_eq!(redis_parse_dq(line.as_bytes()).unwrap(), s.as_bytes(), "input {s:?}");
        }
    }

    #[test]
    fn redis_exact_output() {
        assert_eq!(redis_conf_string("a\0b\u{7f}\u{1b}"), "a\\x00b\\x7f\\x1b");
        assert_eq!(redis_conf_string("\"\\\n\r\t"), "\\\"\\\\\\n\\r\\t");
        assert_eq!(redis_conf_string("ü ok"), "ü ok");
        // Escaped output never contains a raw line break, so it cannot start a new directive.
        assert!(!redis_conf_string("x\nrequirepass \"\"").contains('\n'));
    }

    // ---- PostgreSQL ------------------------------------------------------------------------

    /// A test-only copy of `postgresql.conf` quoting (guc-file.l): the lexer accepts
    /// `'([^'\\\n]|\\.|'')*'` and `DeescapeQuotedString` maps `\b \f \n \r \t`, up to three
    /// octal digits, `''` to `'`, and `\` before anything else to that character.
    fn pg_parse(quoted: &str) -> Result<String, String> {
        let b = quoted.as_bytes();
        if b.len() < 2 || b[0] != b'\'' {
            return Err("no opening quote".into());
        }
        let mut out = Vec::new();
        let mut i = 1;
        loop {
            match b.get(i) {
                None | Some(b'\n') => return Err("unterminated or multi-line string".into()),
                Some(b'\'') if b.get(i + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    i += 2;
                }
                Some(b'\'') => {
                    if i + 1 != b.len() {
                        return Err("text after closing quote".into());
                    }
                    return String::from_utf8(out).map_err(|e| e.to_string());
                }
                Some(b'\\') => {
                    let c = *b.get(i + 1).ok_or("dangling backslash")?;
                    if c == b'\n' {
                        return Err("backslash-newline".into());
                    }
                    i += 2;
                    match c {
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'0'..=b'7' => {
                            let mut v = u32::from(c - b'0');
                            let mut k = 1;
                            while k < 3 && matches!(b.get(i), Some(b'0'..=b'7')) {
                                v = (v << 3) + u32::from(b[i] - b'0');
                                i += 1;
                                k += 1;
                            }
                            out.push(u8::try_from(v & 0xFF).map_err(|e| e.to_string())?);
                        }
                        c => out.push(c),
                    }
                }
                Some(&c) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    #[test]
    fn pg_edge_cases_roundtrip_or_reject() {
        for s in EDGE_CASES {
            match pg_conf_string(s) {
                Ok(e) => assert_eq!(pg_parse(&format!("'{e}'")).unwrap(), *s, "input {s:?}"),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
                    assert!(s.contains(['\0', '\n', '\r']), "rejected {s:?}");
                }
            }
        }
    }

    #[test]
    fn pg_exact_output() {
        assert_eq!(pg_conf_string("it's a\\b").unwrap(), "it''s a\\\\b");
        assert_eq!(pg_conf_string("\u{1b}7\u{7f}\t").unwrap(), "\\0337\\177\\t");
        for bad in ["a\nb", "a\0b", "a\r\nb"] {
            let err = pg_conf_string(bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    // ---- shell -----------------------------------------------------------------------------

    /// Test-only reading of a word made of single-quoted runs and `\'`, as POSIX sh reads it.
    fn sh_parse(word: &str) -> String {
        let mut out = String::new();
        let mut chars = word.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => out.extend(chars.by_ref().take_while(|&c| c != '\'')),
                '\\' => out.extend(chars.next()),
                c => panic!("unquoted {c:?} in {word:?}"),
            }
        }
        out
    }

    #[test]
    fn shell_edge_cases_roundtrip() {
        for s in EDGE_CASES {
            match shell_single_string(s) {
                Ok(e) => assert_eq!(sh_parse(&format!("'{e}'")), *s, "input {s:?}"),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
                    assert!(s.contains('\0'));
                }
            }
        }
        assert_eq!(shell_single_string("it's").unwrap(), "it'\\''s");
    }

    // ---- property tests --------------------------------------------------------------------

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn prop_hcl_roundtrip(s in any::<String>()) {
            prop_assert_eq!(hcl_roundtrip(&s), s);
        }

        #[test]
        fn prop_hcl_roundtrip_template_heavy(s in "[$%{}\\\\\"a\n]{0,24}") {
            prop_assert_eq!(hcl_roundtrip(&s), s);
        }

        #[test]
        fn prop_yaml_roundtrip(s in any::<String>()) {
            prop_assert_eq!(yaml_parse(&yaml_dq_string(&s)), s);
        }

        #[test]
        fn prop_compose_roundtrip(s in any::<String>()) {
            let parsed = yaml_parse(&compose_string(&s));
            prop_assert_eq!(parsed.replace("$$", "$"), s);
        }

        #[test]
        fn prop_redis_roundtrip(s in any::<String>()) {
            let line = format!("\"{}\"", redis_conf_string(&s));
            prop_assert_eq!(redis_parse_dq(line.as_bytes()).unwrap(), s.as_bytes());
        }

        #[test]
        fn prop_pg_roundtrip(s in any::<String>()) {
            match pg_conf_string(&s) {
                Ok(e) => prop_assert_eq!(pg_parse(&format!("'{e}'")).unwrap(), s),
                Err(_) => prop_assert!(s.contains(['\0', '\n', '\r'])),
            }
        }

        #[test]
        fn prop_shell_roundtrip(s in any::<String>()) {
            match shell_single_string(&s) {
                Ok(e) => prop_assert_eq!(sh_parse(&format!("'{e}'")), s),
                Err(_) => prop_assert!(s.contains('\0')),
            }
        }
    }

    #[test]
    fn markdown_text_cannot_make_structure() {
        let hostile = "ok\n# Heading\n| a | b |\n[x](javascript:alert(1)) <b>\u{202E}txt\0`code`";
        let md = markdown_inline(hostile);
        assert!(!md.contains('\n') && !md.contains('\0') && !md.contains('\u{202E}'), "{md}");
        assert!(md.contains("U+202E") && md.contains("\\# Heading") && md.contains("\\[x\\]"), "{md}");
        assert_eq!(markdown_inline("Tyk's layout: 2 Gateways, v5.8"), "Tyk's layout: 2 Gateways, v5.8");
        assert_eq!(markdown_inline("1. first"), "1\\. first");
        assert_eq!(markdown_inline("==="), "\\===");
    }
}
