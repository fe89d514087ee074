//! What a template's source holds of Tera syntax, found by scanning its text. `render` scans
//! `--templates` overrides at run time; `build.rs` includes this file and scans the built-in
//! templates at build time, so a run never scans their 255 KB again (see `render::Engine`).

/// The start delimiters (variable, block, comment) of Tera's default delimiter set.
pub(crate) const DEFAULT_STARTS: [&str; 3] = ["{{", "{%", "{#"];

/// The start delimiters of the Ansible YAML templates (see `render`): `<< >>`, `<% %>`, `<# #>`.
pub(crate) const ANSIBLE_STARTS: [&str; 3] = ["<<", "<%", "<#"];

/// What a scan of one source found, for each delimiter set: `[default, ansible]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Syntax {
    /// Whether the source holds any start delimiter. Without one, Tera's lexer reads the whole
    /// source as text, which rendering copies unchanged.
    pub(crate) any: [bool; 2],
    /// Whether a block tag of the source includes, extends or imports another template.
    pub(crate) names_another: [bool; 2],
}

impl Syntax {
    /// Scans `src` for both delimiter sets.
    pub(crate) fn of(src: &str) -> Self {
        let any = |starts: [&str; 3]| starts.iter().any(|start| src.contains(start));
        Self {
            any: [any(DEFAULT_STARTS), any(ANSIBLE_STARTS)],
            names_another: [names_another(src, DEFAULT_STARTS[1]), names_another(src, ANSIBLE_STARTS[1])],
        }
    }
}

/// Whether a block tag of `src` (opened by `block_start`) includes, extends or imports another
/// template. Looks for the word first (most sources have none of the three), then at what
/// precedes it: the block start, an optional `-`/`+` and spaces.
pub(crate) fn names_another(src: &str, block_start: &str) -> bool {
    ["include", "extends", "import"].iter().any(|word| {
        src.contains(word)
            && src.match_indices(word).any(|(at, _)| {
                let before = src[..at].trim_end().trim_end_matches(['-', '+']);
                let after = &src[at + word.len()..];
                before.ends_with(block_start) && !after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
    })
}
