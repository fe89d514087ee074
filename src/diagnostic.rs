//! Problems found in a profile, with where they are and how to show them.
//!
//! Loading, validation and `check` all report `Diagnostic`s. Each points at a place in one of the
//! profile's sources (a file, an overlay or a `--set` argument), so the message can show the file,
//! line and column and the offending line itself, the way compilers do.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Note,
    /// Works, but goes against Tyk's guidance.
    Warning,
    /// Cannot work; rendering stops.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Note => "note",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One source text of a profile: a file, or a `--set` argument.
#[derive(Debug)]
pub struct Source {
    /// The name shown in messages (the path as the user gave it, or `--set`).
    pub name: String,
    /// The whole text.
    pub text: String,
}

/// A place in a source: 1-based line and column, and the length to underline (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    /// The source this place is in.
    pub source: Arc<Source>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Characters to underline (at least 1).
    pub len: usize,
}

impl PartialEq for Source {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Source {}

impl Loc {
    /// `file:line:col`.
    #[must_use]
    pub fn position(&self) -> String {
        format!("{}:{}:{}", self.source.name, self.line, self.col)
    }
}

/// One problem or finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// A stable rule id for `check` findings (e.g. `TYK-AVAIL-001`), none for load errors.
    pub id: Option<&'static str>,
    /// What is wrong, in one line.
    pub message: String,
    /// Where it is, when known.
    pub loc: Option<Loc>,
    /// What to do about it (e.g. "did you mean `gateway`?").
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `loc`.
    #[must_use]
    pub fn error(message: impl Into<String>, loc: Option<Loc>) -> Self {
        Self { severity: Severity::Error, id: None, message: message.into(), loc, help: None }
    }

    /// Adds a help line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders the diagnostic with a snippet of the source line.
    #[must_use]
    pub fn render(&self, color: bool) -> String {
        let paint = |code: &str, s: &str| {
            if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
        };
        let sev_color = match self.severity {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Note => "1;36",
        };
        let mut out = String::new();
        let head = match self.id {
            Some(id) => format!("{}[{id}]", self.severity),
            None => self.severity.to_string(),
        };
        let _ = writeln!(out, "{}: {}", paint(sev_color, &head), paint("1", &shorten(&self.message)));
        if let Some(loc) = &self.loc {
            let line_no = loc.line.to_string();
            let pad = " ".repeat(line_no.len());
            let _ = writeln!(out, "{pad}{} {}", paint("1;34", "-->"), loc.position());
            if let Some(text) = loc.source.text.lines().nth(loc.line.saturating_sub(1)) {
                // A long line is shown as a window around the caret, so a megabyte-long value
                // cannot flood the terminal.
                let chars: Vec<char> = text.chars().collect();
                let col = loc.col.saturating_sub(1).min(chars.len());
                let (start, end) = if chars.len() <= SNIPPET_WIDTH {
                    (0, chars.len())
                } else {
                    let start = col.saturating_sub(SNIPPET_WIDTH / 3);
                    (start, (start + SNIPPET_WIDTH).min(chars.len()))
                };
                let visible = |c: &char| if c.is_control() && *c != '\t' { '\u{fffd}' } else { *c };
                let mut shown: String = chars[start..end].iter().map(visible).collect();
                let mut lead: String = if start > 0 { " ".repeat(ELLIPSIS.chars().count()) } else { String::new() };
                if start > 0 {
                    shown.insert_str(0, ELLIPSIS);
                }
                if end < chars.len() {
                    shown.push_str(ELLIPSIS);
                }
                let bar = paint("1;34", "|");
                let _ = writeln!(out, "{pad} {bar}");
                let _ = writeln!(out, "{} {bar} {shown}", paint("1;34", &line_no));
                lead.extend(chars[start..col].iter().map(|c| if *c == '\t' { '\t' } else { ' ' }));
                let marks = "^".repeat(loc.len.clamp(1, end.saturating_sub(col).max(1)));
                let _ = writeln!(out, "{pad} {bar} {lead}{}", paint(sev_color, &marks));
            }
        }
        if let Some(help) = &self.help {
            // Align `=` under the snippet's `|`, as compilers do.
            let pad = self.loc.as_ref().map_or(0, |l| l.line.to_string().len());
            let pad = " ".repeat(pad);
            for (i, line) in help.lines().enumerate() {
                let lead = if i == 0 { "= help: " } else { "" };
                let _ = writeln!(out, "{pad} {lead}{line}");
            }
        }
        out
    }
}

/// When to colour what tykgen prints (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set or `TERM` is `dumb`; `CLICOLOR_FORCE` forces it.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

static COLOR: std::sync::OnceLock<ColorWhen> = std::sync::OnceLock::new();

/// Sets the `--color` choice for the rest of the process (the first call wins).
pub fn set_color(when: ColorWhen) {
    let _ = COLOR.set(when);
}

/// Whether to colour output going to a stream that is (`terminal`) or is not a terminal: the
/// `--color` choice, then `CLICOLOR_FORCE`, `NO_COLOR` and `TERM=dumb` (the conventions of
/// no-color.org and bixense.com/clicolors).
#[must_use]
pub fn color(terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    match COLOR.get().copied().unwrap_or_default() {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto if set("CLICOLOR_FORCE") => true,
        ColorWhen::Auto if set("NO_COLOR") || std::env::var_os("TERM").is_some_and(|t| t == "dumb") => false,
        ColorWhen::Auto => terminal,
    }
}

/// How many characters of a source line a snippet shows at most.
const SNIPPET_WIDTH: usize = 120;
/// How many characters of a message are shown at most.
const MESSAGE_WIDTH: usize = 400;
const ELLIPSIS: &str = "…";

/// `text`, cut to [`MESSAGE_WIDTH`] characters with a note of how much was left out.
fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    let count = text.chars().count();
    if count <= MESSAGE_WIDTH {
        return text.into();
    }
    let kept: String = text.chars().take(MESSAGE_WIDTH).collect();
    format!("{kept}{ELLIPSIS} ({} more characters)", count - MESSAGE_WIDTH).into()
}

/// Several diagnostics, reported together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// True when any diagnostic is an error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// Renders every diagnostic, then a summary line.
    #[must_use]
    pub fn render(&self, color: bool) -> String {
        let mut out: String = self.0.iter().map(|d| d.render(color) + "\n").collect();
        let errors = self.0.iter().filter(|d| d.severity == Severity::Error).count();
        if errors > 0 {
            let s = if errors == 1 { "" } else { "s" };
            let _ = writeln!(out, "{errors} error{s}; nothing was written");
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.render(false).trim_end())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest candidate to `word`, if any is close enough to be a likely typo.
#[must_use]
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["gateway", "dashboard", "pump"];
        assert_eq!(did_you_mean("gatway", keys), Some("gateway"));
        assert_eq!(did_you_mean("dashbaord", keys), Some("dashboard"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }

    #[test]
    fn renders_snippet_with_caret() {
        let source = Arc::new(Source { name: "p.yaml".into(), text: "name: x\ngatway: {}\n".into() });
        let d = Diagnostic::error("unknown key `gatway`", Some(Loc { source, line: 2, col: 1, len: 6 }))
            .with_help("did you mean `gateway`?");
        let text = d.render(false);
        assert!(text.contains("--> p.yaml:2:1"), "{text}");
        assert!(text.contains("2 | gatway: {}"), "{text}");
        assert!(text.contains("  | ^^^^^^"), "{text}");
    }
}
