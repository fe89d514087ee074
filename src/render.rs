//! Tera setup: one `Tera` instance per output language, the literal filters shared by all of
//! them, the embedded `templates/` tree with `--templates DIR` overrides, and a lint over the
//! templates that catches escaping mistakes before they ship.
//!
//! Why one instance per language: Tera has a single escape function per instance, and an
//! autoescaped `{{ x }}` must be escaped for the language of the file it lands in (HCL, YAML,
//! compose, `redis.conf`, `postgresql.conf`). The language of a template comes only from its
//! name ([`lang_for`]), and each template is loaded into exactly one instance, so "which escaper
//! applies" can never disagree with "which language is this".
//!
//! Ansible delimiters: playbooks and `group_vars` contain Ansible's own Jinja (`{{ item }}`,
//! `{% if %}`), which must reach the output untouched. The Ansible instance therefore uses
//! different Tera delimiters:
//!
//! | Tera syntax | default (all other languages) | Ansible YAML templates |
//! |-------------|-------------------------------|------------------------|
//! | variable    | `{{ x }}`                     | `<< x >>`              |
//! | block       | `{% if %}`                    | `<% if %>`             |
//! | comment     | `{# note #}`                  | `<# note #>`           |
//!
//! Templates put the quotes themselves for an autoescaped value (`name = "{{ api.name }}"`), or
//! use a literal filter that emits the whole quoted literal (`name = {{ api.name | hcl }}`). Text
//! templates (Markdown, shell, `pg_hba.conf`, ...) are never autoescaped: every value in them
//! must go through an explicit filter such as `shell`.

use std::any::type_name;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use tera::{Delimiters, Kwargs, State, Tera, TeraResult, Value};

use crate::escape;
use crate::fast_hash::FastMap;

mod syntax;
use syntax::Syntax;

// The default templates, compiled into the binary: `BUILTIN_TEMPLATES`.
include!(concat!(env!("OUT_DIR"), "/templates.rs"));

/// Prefix under which embedded templates are registered; user overrides use the bare name.
const BUILTIN_PREFIX: &str = "builtin/";

/// Only files with this suffix are templates; anything else (e.g. `README.md`) is ignored.
const TEMPLATE_SUFFIX: &str = ".tera";

/// The output language of a template, which decides its escaper and delimiters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lang {
    /// Terraform / HCL: `"…"` content escaped with [`escape::hcl`].
    Hcl,
    /// Generic YAML: double-quoted content escaped with [`escape::yaml_dq`].
    Yaml,
    /// docker-compose YAML: [`escape::compose`] (`$` → `$$`, then YAML).
    Compose,
    /// Ansible YAML: [`escape::yaml_dq`], with `<< >>` / `<% %>` / `<# #>` Tera delimiters.
    Ansible,
    /// `redis.conf` / `sentinel.conf`: [`escape::redis_conf`] inside `"…"`.
    RedisConf,
    /// `postgresql.conf`: [`escape::pg_conf`] inside `'…'`.
    PgConf,
    /// Everything else: no autoescaping, values only through explicit filters.
    Text,
}

impl Lang {
    /// The escape function for autoescaped `{{ x }}`, or `None` for no autoescaping.
    fn escaper(self) -> Option<escape::EscapeFn> {
        match self {
            Lang::Hcl => Some(escape::hcl),
            Lang::Yaml | Lang::Ansible => Some(escape::yaml_dq),
            Lang::Compose => Some(escape::compose),
            Lang::RedisConf => Some(escape::redis_conf),
            Lang::PgConf => Some(escape::pg_conf),
            Lang::Text => None,
        }
    }

    fn delimiters(self) -> Delimiters {
        let [variable_start, block_start, comment_start] = syntax::ANSIBLE_STARTS;
        match self {
            Lang::Ansible => Delimiters {
                block_start: block_start.into(),
                block_end: "%>".into(),
                variable_start: variable_start.into(),
                variable_end: ">>".into(),
                comment_start: comment_start.into(),
                comment_end: "#>".into(),
            },
            _ => Delimiters::default(),
        }
    }

    /// Which of [`Syntax`]'s two scans applies: `0` for Tera's default delimiters, `1` for the
    /// Ansible ones.
    fn delimiter_set(self) -> usize {
        usize::from(self == Lang::Ansible)
    }
}

/// The language of a template, from its name relative to `templates/` (e.g.
/// `config/redis.conf.tera`). The `.tera` suffix is ignored; then, first match wins:
///
/// 1. `*.tf`, `*.hcl`, `*.tfvars`, `*.tfvars.*` → [`Lang::Hcl`]
/// 2. `*.yaml`/`*.yml` under `compose/` → [`Lang::Compose`], under `ansible/` →
///    [`Lang::Ansible`], elsewhere → [`Lang::Yaml`]
/// 3. `redis.conf`, `sentinel.conf`, or any `*.conf` whose file name contains `redis` or
///    `sentinel` → [`Lang::RedisConf`]
/// 4. `postgresql.conf`, `*.pg.conf` → [`Lang::PgConf`]
/// 5. anything else (`.md`, `.sh`, `.txt`, `.js`, `pg_hba.conf`, `haproxy.cfg`, …) → [`Lang::Text`]
pub fn lang_for(name: &str) -> Lang {
    let path = name.strip_suffix(TEMPLATE_SUFFIX).unwrap_or(name);
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    let top = dir.split('/').next().unwrap_or("");
    let conf = file.ends_with(".conf");
    if file.ends_with(".tf") || file.ends_with(".hcl") || file.ends_with(".tfvars") || file.contains(".tfvars.") {
        Lang::Hcl
    } else if file.ends_with(".yaml") || file.ends_with(".yml") {
        match top {
            "compose" => Lang::Compose,
            "ansible" => Lang::Ansible,
            _ => Lang::Yaml,
        }
    } else if conf && (file.contains("redis") || file.contains("sentinel")) {
        Lang::RedisConf
    } else if file == "postgresql.conf" || file.ends_with(".pg.conf") {
        Lang::PgConf
    } else {
        Lang::Text
    }
}

/// The override templates under `--templates DIR`, by relative path.
fn user_templates(overrides: Option<&Path>) -> anyhow::Result<Vec<(String, String)>> {
    match overrides {
        Some(dir) => templates_on_disk(dir).with_context(|| format!("reading templates from {}", dir.display())),
        None => Ok(Vec::new()),
    }
}

/// All templates of one run, in Tera instances.
///
/// There is one instance per top folder (`config`, `docs`, `ansible`, ...) and language: it
/// parses its templates when one of them is first rendered (or [`Renderer::warm`] builds it), so
/// a run pays only for the folders it renders: `render -t config` never parses a template of
/// the Ansible project, not even its plain-text ones. A template includes only templates of its
/// own instance. With `--templates`, every instance is built at once, so a mistake in any
/// override is reported before anything renders.
pub struct Renderer {
    /// Sorted by folder, then language.
    engines: Vec<Engine>,
}

/// An engine, or the error building it gave.
type Built = Result<Tera, String>;

/// The templates of one top folder and language and, once built, their engine (or the error that
/// building it gave, as text: the error is reported by every render that needs it).
///
/// A template with no Tera syntax at all (none of its language's start delimiters) renders as its
/// source, byte for byte: such a template is *verbatim*, never parsed and never run through Tera
/// (about half the built-in templates are: most of the Ansible roles' files). Unless a template
/// of the engine includes, extends or imports another, which Tera must then hold: in such an
/// engine every template goes through Tera.
struct Engine {
    folder: String,
    lang: Lang,
    sources: Sources,
    /// Whether a template of this engine names another (`include`, `extends`, `import`), from
    /// the scanned syntax of its templates when the renderer is built.
    names_others: bool,
    built: OnceLock<Built>,
}

/// The top folder of a template name (`ansible` for `ansible/roles/x.yml.tera`).
fn top_folder(name: &str) -> &str {
    name.split_once('/').map_or("", |(top, _)| top)
}

/// The templates of one engine: `(name, source, syntax)`, built-in and override.
struct Sources {
    /// The embedded templates, borrowed from the binary (not copied at each start).
    builtin: Vec<(&'static str, &'static str, Syntax)>,
    user: Vec<(String, String, Syntax)>,
    /// The `--templates` folder, for messages.
    overrides: Option<PathBuf>,
}

impl Renderer {
    /// Embedded templates, optionally overridden by files under `overrides` (same relative path).
    pub fn new(overrides: Option<&Path>) -> anyhow::Result<Self> {
        let builtin = BUILTIN_TEMPLATES;
        let user = user_templates(overrides)?;
        // An override replaces the built-in of the same path; one that replaces nothing is a typo
        // (`compose.yml.tera`), unless it is a partial for `{% include %}` (its file name starts
        // with `_`).
        for (name, _) in &user {
            let partial = name.rsplit('/').next().is_some_and(|f| f.starts_with('_'));
            if !partial && builtin.binary_search_by(|(b, ..)| (*b).cmp(name)).is_err() {
                let dir = overrides.map(|d| d.display().to_string()).unwrap_or_default();
                let hint = crate::diagnostic::did_you_mean(name, builtin.iter().map(|(b, ..)| *b))
                    .map_or_else(String::new, |b| format!(" (did you mean `{b}`?)"));
                anyhow::bail!(
                    "`{dir}/{name}` replaces no built-in template{hint}; an override must have a built-in's relative path (`tykgen render --help`), and a partial for `{{% include %}}` a file name starting with `_`"
                );
            }
        }
        Self::build(builtin.iter().copied(), user, overrides)
    }

    /// Like [`Renderer::new`] with other built-in templates, `(name, source)` sorted by name
    /// (tests pass their own).
    pub fn new_with_embedded(
        builtin: &'static [(&'static str, &'static str)],
        overrides: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let builtin = builtin.iter().map(|&(name, src)| (name, src, Syntax::of(src)));
        Self::build(builtin, user_templates(overrides)?, overrides)
    }

    fn build(
        builtin: impl Iterator<Item = (&'static str, &'static str, Syntax)>,
        user: Vec<(String, String)>,
        overrides: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let has_user = !user.is_empty();
        let mut engines: BTreeMap<(String, Lang), Sources> = BTreeMap::new();
        let new = || Sources { builtin: Vec::new(), user: Vec::new(), overrides: overrides.map(Path::to_path_buf) };
        let key = |name: &str| (top_folder(name).to_owned(), lang_for(name));
        for (name, src, syntax) in builtin {
            engines.entry(key(name)).or_insert_with(new).builtin.push((name, src, syntax));
        }
        for (name, src) in user {
            let syntax = Syntax::of(&src);
            engines.entry(key(&name)).or_insert_with(new).user.push((name, src, syntax));
        }
        let engines = engines
            .into_iter()
            .map(|((folder, lang), sources)| {
                let names_others = sources.syntaxes().any(|s| s.names_another[lang.delimiter_set()]);
                Engine { folder, lang, sources, names_others, built: OnceLock::new() }
            })
            .collect();
        let renderer = Self { engines };
        if has_user {
            for engine in &renderer.engines {
                engine.get()?;
            }
        }
        Ok(renderer)
    }

    /// The engine holding the template `name`.
    fn engine(&self, name: &str) -> anyhow::Result<&Engine> {
        let (folder, lang) = (top_folder(name), lang_for(name));
        match self.engines.iter().find(|e| e.lang == lang && e.folder == folder) {
            Some(engine) => Ok(engine),
            None => anyhow::bail!("there is no template `{name}`"),
        }
    }

    /// Builds the engines of the templates under `folders` that are not built yet, on this
    /// thread, and returns when they are built: `config`'s first (the configuration bundle, the
    /// first thing a render makes, renders them; built here, they are ready before it starts),
    /// then the largest first. A render needing one meanwhile waits for it, or builds it itself if
    /// this thread has not started it: so the renders build the small engines they need first
    /// while this thread builds the large ones (a second warming thread only took turns on the
    /// cores with the others).
    pub fn warm(&self, folders: &[&str]) {
        let mut order: Vec<&Engine> = self.engines.iter().filter(|e| folders.contains(&e.folder.as_str())).collect();
        order.sort_by_key(|e| (e.folder != "config", std::cmp::Reverse(e.sources.len())));
        for engine in order {
            let _ = engine.get();
        }
    }

    /// Render `templates/<name>` (e.g. `config/redis.conf.tera`) with `ctx`; the language, and
    /// so the escaper, comes from the name (see [`lang_for`]).
    pub fn render(&self, name: &str, ctx: &impl serde::Serialize) -> anyhow::Result<String> {
        let engine = self.engine(name)?;
        if let Some(text) = engine.verbatim(name) {
            return Ok(text.to_owned());
        }
        let context = Prepared::new(ctx).with_context(|| format!("building the context for template `{name}`"))?;
        engine.render(name, &context)
    }

    /// Like [`Renderer::render`], with a context converted once for many templates (the
    /// conversion costs as much as rendering a small template).
    pub fn render_prepared(&self, name: &str, ctx: &Prepared) -> anyhow::Result<String> {
        let engine = self.engine(name)?;
        match engine.verbatim(name) {
            Some(text) => Ok(text.to_owned()),
            None => engine.render(name, ctx),
        }
    }

    /// Every template name (built-in and override), without the `builtin/` prefix, sorted.
    pub fn template_names(&self) -> Vec<String> {
        let sources = self.engines.iter().map(|e| &e.sources);
        let names: BTreeSet<&str> = sources
            .flat_map(|s| s.builtin.iter().map(|(n, ..)| *n).chain(s.user.iter().map(|(n, ..)| n.as_str())))
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }
}

/// A template context converted to Tera's values once, for [`Renderer::render_prepared`].
pub struct Prepared(tera::Context);

impl Prepared {
    /// Converts `ctx` (a struct or map). Equal values of the fields marked with [`shared`] are
    /// converted into one Tera value that all of them share.
    ///
    /// # Errors
    /// A value Tera cannot hold, or a `ctx` that is not a struct or map.
    pub fn new(ctx: &impl serde::Serialize) -> anyhow::Result<Self> {
        Ok(Self(sharing(|| tera::Context::from_serialize(ctx))?))
    }

    /// A context built key by key in one conversion, so equal [`shared`] values share across
    /// keys as in [`Prepared::new`]; [`Builder::list`] lets the largest list go item by item.
    ///
    /// # Errors
    /// A value Tera cannot hold.
    pub fn build(fill: impl FnOnce(&mut Builder) -> anyhow::Result<()>) -> anyhow::Result<Self> {
        sharing(|| {
            let mut builder = Builder(tera::Context::new());
            fill(&mut builder)?;
            Ok(Self(builder.0))
        })
    }

    /// This context plus `key` (its values are shared, not copied).
    ///
    /// # Errors
    /// A value Tera cannot hold.
    pub fn with(&self, key: &'static str, value: &impl serde::Serialize) -> anyhow::Result<Self> {
        let mut context = self.0.clone();
        context.insert_value(key, sharing(|| tera::Value::try_from_serializable(value))?);
        Ok(Self(context))
    }
}

/// The keys of a context being built by [`Prepared::build`].
pub struct Builder(tera::Context);

impl Builder {
    /// Converts `value` as the value of `key`.
    ///
    /// # Errors
    /// A value Tera cannot hold.
    pub fn insert(&mut self, key: &'static str, value: &(impl serde::Serialize + ?Sized)) -> anyhow::Result<()> {
        self.0.insert_value(key, tera::Value::try_from_serializable(value)?);
        Ok(())
    }

    /// `items` as the list of `key`, each item dropped as soon as it is converted: the list is
    /// never held twice, as Rust values and as Tera values (the compose services at thousands of
    /// machines are the largest context of any render).
    ///
    /// # Errors
    /// A value Tera cannot hold.
    pub fn list<T: serde::Serialize>(&mut self, key: &'static str, items: Vec<T>) -> anyhow::Result<()> {
        let values =
            items.into_iter().map(|item| tera::Value::try_from_serializable(&item)).collect::<Result<Vec<_>, _>>()?;
        self.0.insert_value(key, tera::Value::from(values));
        Ok(())
    }
}

thread_local! {
    /// The values [`shared`] has converted during the conversion running on this thread (see
    /// [`sharing`]); `None` when no conversion runs.
    static SHARED: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

/// What one conversion has converted so far (see [`sharing`]).
#[derive(Default)]
struct Seen {
    /// The values of [`shared`] fields, by [`share_key`].
    values: FastMap<Box<[u8]>, tera::Value>,
    /// The buffer each key is written into, kept for the next.
    key: Vec<u8>,
    /// The texts of [`shared_text`] fields, by allocation (address and length): the text is
    /// borrowed by the context being converted, so the allocation outlives the conversion.
    texts: FastMap<(usize, usize), tera::Value>,
}

/// Runs one conversion to Tera values with its own set of [`shared`] values, dropped at the end
/// (the values themselves live on in the converted context, which is all that holds them).
fn sharing<R>(convert: impl FnOnce() -> R) -> R {
    struct Restore(Option<Seen>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            SHARED.with(|s| *s.borrow_mut() = outer);
        }
    }
    let _restore = Restore(SHARED.with(|s| s.borrow_mut().replace(Seen::default())));
    convert()
}

/// For `#[serde(serialize_with = "crate::render::shared")]` on a field that many values of a
/// template context hold equal (every Gateway service's `environment` and `depends_on`): while
/// a [`Prepared`] context is converted, the first such value is converted and every equal one
/// (of the same type, with the same [`share_key`]) shares it, so a large context does not hold
/// thousands of copies, nor are they converted. Tera values are immutable, so sharing is
/// invisible to templates. Anywhere else (serde_json, ...) the field serializes as usual.
///
/// # Errors
/// Those of serializing the value.
pub fn shared<T: serde::Serialize + ?Sized, S: serde::Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    let Some(mut key) = with_seen(|seen| std::mem::take(&mut seen.key)) else {
        return value.serialize(serializer);
    };
    let convert = || tera::Value::try_from_serializable(value).map_err(serde::ser::Error::custom);
    // No borrow of `SHARED` is held while the value serializes: a field of it may be shared too.
    share_key(value, &mut key).map_err(serde::ser::Error::custom)?;
    let one = match with_seen(|seen| seen.values.get(&*key).cloned()).flatten() {
        Some(same) => {
            // Tests (debug builds) prove the key: what it finds is exactly what converting gives.
            if cfg!(debug_assertions) {
                let converted = convert()?;
                assert!(
                    exact_eq(&converted, &same),
                    "two values of {} share a key but convert apart",
                    type_name::<T>()
                );
            }
            same
        }
        None => {
            let converted = convert()?;
            with_seen(|seen| seen.values.insert(key.as_slice().into(), converted.clone()));
            converted
        }
    };
    with_seen(|seen| seen.key = key);
    // Inside Tera's converter a `tera::Value` is taken as it is (shared), not converted again.
    serde::Serialize::serialize(&one, serializer)
}

/// Runs `f` on what the conversion running on this thread has converted, if one runs.
fn with_seen<R>(f: impl FnOnce(&mut Seen) -> R) -> Option<R> {
    SHARED.with(|s| s.borrow_mut().as_mut().map(f))
}

/// The key under which [`shared`] keeps the conversion of `value`: its type's name, a NUL (which
/// neither a type name nor JSON holds), and its JSON. Writing and comparing JSON costs a fraction
/// of converting the value and comparing Tera values. For the types shared (strings, integers,
/// booleans, options, lists, structs and tagged enums of them), equal JSON means equal serde
/// output and so an equal conversion: JSON keeps a `1` apart from a `1.0` and a string from a
/// number, and one type serializes a field the same way each time. A type to be shared must
/// hold none of what JSON writes alike though Tera converts it apart: non-finite floats (all
/// `null`), untagged enums of two number kinds, a `tera::Value` (its safe mark). Debug builds
/// check every key that is found. (`type_name` is unique for the types of one build in
/// practice, which the same check covers.)
fn share_key<T: serde::Serialize + ?Sized>(value: &T, key: &mut Vec<u8>) -> serde_json::Result<()> {
    key.clear();
    key.extend_from_slice(type_name::<T>().as_bytes());
    key.push(0);
    serde_json::to_writer(&mut *key, value)
}

/// Like [`shared`], for each item of a list (`Topology::machines`, which every machine's
/// configuration in the bundle holds again).
///
/// # Errors
/// Those of serializing the items.
pub fn shared_each<T: serde::Serialize, S: serde::Serializer>(items: &[T], serializer: S) -> Result<S::Ok, S::Error> {
    struct One<'a, T>(&'a T);
    impl<T: serde::Serialize> serde::Serialize for One<'_, T> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            shared(self.0, serializer)
        }
    }
    serializer.collect_seq(items.iter().map(One))
}

/// For `#[serde(serialize_with = "crate::render::shared_text")]` on an `Arc<str>` that many
/// values share by allocation (a configuration file's bytes, the same `tyk.conf` for every
/// Gateway): while a [`Prepared`] context is converted, each allocation is converted once and
/// every field that holds it shares that one Tera string, without comparing texts. Anywhere
/// else the field serializes as a plain string.
///
/// # Errors
/// Those of serializing the value.
pub fn shared_text<S: serde::Serializer>(text: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    let key = (text.as_ptr() as usize, text.len());
    let one = with_seen(|seen| seen.texts.entry(key).or_insert_with(|| tera::Value::from(&**text)).clone());
    match one {
        Some(value) => serde::Serialize::serialize(&value, serializer),
        None => serializer.serialize_str(text),
    }
}

/// A map key as a kind and its text, or `None` for a kind this code does not know.
fn key_parts<'k>(key: &'k tera::value::Key<'_>) -> Option<(u8, Cow<'k, str>)> {
    use tera::value::Key;
    Some(match key {
        Key::String(_) | Key::Str(_) => (0, Cow::Borrowed(key.as_str()?)),
        Key::Bool(b) => (1, Cow::Owned(b.to_string())),
        Key::U64(n) => (2, Cow::Owned(n.to_string())),
        Key::I64(n) => (3, Cow::Owned(n.to_string())),
        Key::U128(n) => (4, Cow::Owned(n.to_string())),
        Key::I128(n) => (5, Cow::Owned(n.to_string())),
        _ => return None,
    })
}

/// Whether two Tera values are exactly equal: the same kinds (a `1` is not a `1.0`), the same
/// safe marks, the same keys in the same order. Tera's own `==` is looser (it compares numbers
/// by value), which would let sharing change what a template prints.
fn exact_eq(a: &tera::Value, b: &tera::Value) -> bool {
    use tera::value::ValueKind as K;
    if a.kind() != b.kind() {
        return false;
    }
    match a.kind() {
        K::Undefined | K::None => true,
        K::Bool => a.as_bool() == b.as_bool(),
        K::U64 | K::I64 | K::U128 | K::I128 => a.as_i128() == b.as_i128() && a.as_u128() == b.as_u128(),
        K::F64 => a.as_f64().map(f64::to_bits) == b.as_f64().map(f64::to_bits),
        K::String => a.is_safe() == b.is_safe() && a.as_str() == b.as_str(),
        K::Bytes => a.as_bytes() == b.as_bytes(),
        K::Array => match (a.as_array(), b.as_array()) {
            (Some(x), Some(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| exact_eq(x, y)),
            _ => false,
        },
        K::Map => match (a.as_map(), b.as_map()) {
            (Some(x), Some(y)) => {
                x.len() == y.len()
                    && x.iter().zip(y).all(|((kx, vx), (ky, vy))| {
                        key_parts(kx).is_some_and(|k| Some(k) == key_parts(ky)) && exact_eq(vx, vy)
                    })
            }
            _ => false,
        },
        // A kind this code does not know is never shared.
        _ => false,
    }
}

impl Engine {
    /// The Tera instance, built on first use.
    fn get(&self) -> anyhow::Result<&Tera> {
        self.built
            .get_or_init(|| self.build().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// `name` (not verbatim) rendered by Tera.
    fn render(&self, name: &str, ctx: &Prepared) -> anyhow::Result<String> {
        let lang = self.lang;
        self.get()?.render(name, &ctx.0).with_context(|| format!("rendering template `{name}` ({lang:?})"))
    }

    /// A Tera instance with the templates that are not verbatim (an override where there is one).
    fn build(&self) -> anyhow::Result<Tera> {
        let mut tera = engine(self.lang)?;
        let builtin = self.sources.builtin.iter().filter(|(.., syntax)| !self.is_verbatim(*syntax));
        let builtin = builtin.map(|(name, src, _)| (format!("{BUILTIN_PREFIX}{name}"), *src));
        tera.add_raw_templates(builtin).context("loading the built-in templates")?;
        if let (Some(dir), false) = (&self.sources.overrides, self.sources.user.is_empty()) {
            let user = self.sources.user.iter().filter(|(.., syntax)| !self.is_verbatim(*syntax));
            tera.add_raw_templates(user.map(|(n, s, _)| (n.as_str(), s.as_str())))
                .with_context(|| format!("loading templates from {}", dir.display()))?;
        }
        Ok(tera)
    }

    /// The source of the template `name` (its override, if it has one) when it renders as it is.
    fn verbatim(&self, name: &str) -> Option<&str> {
        self.sources.find(name).filter(|(_, syntax)| self.is_verbatim(*syntax)).map(|(src, _)| src)
    }

    /// Whether a template of this engine with the scanned `syntax` renders as it is (see [`Engine`]).
    fn is_verbatim(&self, syntax: Syntax) -> bool {
        !syntax.any[self.lang.delimiter_set()] && !self.names_others
    }
}

impl Sources {
    /// The bytes of its templates: how long its engine takes to build.
    fn len(&self) -> usize {
        self.builtin.iter().map(|(_, s, _)| s.len()).chain(self.user.iter().map(|(_, s, _)| s.len())).sum()
    }

    /// The source of the template `name` and its syntax: its override, else the built-in (both
    /// lists are sorted).
    fn find(&self, name: &str) -> Option<(&str, Syntax)> {
        let user = self.user.binary_search_by(|(n, ..)| n.as_str().cmp(name)).ok().map(|i| &self.user[i]);
        let user = user.map(|(_, src, syntax)| (src.as_str(), *syntax));
        user.or_else(|| {
            let i = self.builtin.binary_search_by(|(n, ..)| (*n).cmp(name)).ok()?;
            let (_, src, syntax) = self.builtin[i];
            Some((src, syntax))
        })
    }

    /// The scanned syntax of every template here, built-in and override.
    fn syntaxes(&self) -> impl Iterator<Item = &Syntax> {
        self.builtin.iter().map(|(.., s)| s).chain(self.user.iter().map(|(.., s)| s))
    }
}

/// A fresh Tera instance for one language: delimiters, fallback prefix, escaper, filters.
/// Delimiters and fallback prefixes must be set before any template is added.
fn engine(lang: Lang) -> anyhow::Result<Tera> {
    let mut tera = Tera::new();
    tera.set_delimiters(lang.delimiters()).context("setting template delimiters")?;
    tera.set_fallback_prefixes([BUILTIN_PREFIX]).context("setting the built-in template prefix")?;
    match lang.escaper() {
        Some(escaper) => {
            tera.set_escape_fn(escaper);
            // Every template in this instance is of this language (see `lang_for`), so all of
            // them are autoescaped.
            tera.autoescape_on([TEMPLATE_SUFFIX]);
        }
        None => tera.autoescape_on(Vec::<&str>::new()),
    }
    register_filters(&mut tera);
    Ok(tera)
}

/// The literal filters, the same in every instance. Each returns a complete literal of its
/// language, marked safe so autoescaping does not escape it a second time.
///
/// | filter    | emits                                   |
/// |-----------|-----------------------------------------|
/// | `hcl`     | `"…"` HCL quoted string                 |
/// | `yaml`    | `"…"` YAML double-quoted scalar         |
/// | `compose` | `"…"` YAML double-quoted, `$` as `$$`   |
/// | `ansible` | `"…"` YAML; `!unsafe "…"` when it has `{` |
/// | `redis`   | `"…"` redis.conf argument               |
/// | `pg`      | `'…'` postgresql.conf value             |
/// | `shell`   | `'…'` POSIX single-quoted word          |
/// | `json`    | compact JSON of any value               |
///
/// All but `json` take a string, number or boolean (numbers and booleans are quoted as their
/// text). Tera 2 already has `indent`.
fn register_filters(tera: &mut Tera) {
    tera.register_filter("hcl", |v: Value, _: Kwargs, _: &State| {
        literal(&v, "hcl", |s| escape::literal(escape::hcl, "\"", s, "\""))
    });
    tera.register_filter("yaml", |v: Value, _: Kwargs, _: &State| {
        literal(&v, "yaml", |s| escape::literal(escape::yaml_dq, "\"", s, "\""))
    });
    tera.register_filter("compose", |v: Value, _: Kwargs, _: &State| {
        literal(&v, "compose", |s| escape::literal(escape::compose, "\"", s, "\""))
    });
    // Ansible templates a string only when it holds a Jinja delimiter (`{{`, `{%`, `{#`, all
    // starting with `{`): such a string is tagged `!unsafe`, never templated. Any other string stays
    // untagged, because ansible-core 2.19 resolves a tagged scalar's type from its text (it reads
    // `!unsafe "7.2"` as the float 7.2 and `!unsafe "0644"` as the int 420), and a version, mode or
    // name must reach the roles as a string.
    tera.register_filter("ansible", |v: Value, _: Kwargs, _: &State| {
        literal(&v, "ansible", |s| {
            let open = if s.contains('{') { "!unsafe \"" } else { "\"" };
            escape::literal(escape::yaml_dq, open, s, "\"")
        })
    });
    tera.register_filter("redis", |v: Value, _: Kwargs, _: &State| {
        literal(&v, "redis", |s| escape::literal(escape::redis_conf, "\"", s, "\""))
    });
    tera.register_filter("pg", |v: Value, _: Kwargs, _: &State| {
        literal(&v, "pg", |s| escape::literal(escape::pg_conf, "'", s, "'"))
    });
    tera.register_filter("shell", |v: Value, _: Kwargs, _: &State| {
        literal(&v, "shell", |s| escape::literal(escape::shell_single, "'", s, "'"))
    });
    tera.register_filter("md", |v: Value, _: Kwargs, _: &State| literal(&v, "md", |s| Ok(escape::markdown_inline(s))));
    tera.register_filter("json", |v: Value, _: Kwargs, _: &State| -> TeraResult<Value> {
        let text = serde_json::to_string(&v).map_err(|e| tera::Error::message(format!("the `json` filter: {e}")))?;
        Ok(Value::safe_string(&text))
    });
}

/// Shared body of the quoting filters: take the text of a scalar, build the literal, mark it safe.
fn literal(value: &Value, filter: &str, build: impl FnOnce(&str) -> std::io::Result<String>) -> TeraResult<Value> {
    let text: Cow<'_, str> = if let Some(s) = value.as_str() {
        Cow::Borrowed(s)
    } else if value.is_number() || value.is_bool() {
        Cow::Owned(value.to_string())
    } else {
        return Err(tera::Error::message(format!(
            "the `{filter}` filter takes a string, number or boolean, not {}",
            value.name()
        )));
    };
    let lit = build(&text).map_err(|e| tera::Error::message(format!("the `{filter}` filter: {e} (in {text:?})")))?;
    Ok(Value::safe_string(&lit))
}

/// `(name, source)` of every `*.tera` file under `root` on disk, names relative and `/`-separated.
fn templates_on_disk(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .with_context(|| format!("{} is not under {}", path.display(), root.display()))?;
            let name = slash_name(rel);
            if name.ends_with(TEMPLATE_SUFFIX) {
                out.push((name, fs_err::read_to_string(&path)?));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn slash_name(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Lint the embedded templates; see [`lint_sources`]. Returns one message per finding.
/// Test-only for now (run by `embedded_templates_lint_clean`); drop the `cfg` to expose it.
#[cfg(test)]
pub fn lint_templates() -> Vec<String> {
    lint_sources(&BUILTIN_TEMPLATES.iter().map(|(name, src, _)| (name, src)).collect::<Vec<_>>())
}

/// Filters whose result is safe in an unquoted YAML value position: they emit a complete
/// quoted literal, or a number.
#[cfg(test)]
const YAML_VALUE_FILTERS: &[&str] = &["yaml", "compose", "ansible", "json", "int", "float", "length"];

/// Finds escaping mistakes in `(name, source)` templates:
/// - any `| safe` (it switches escaping off);
/// - in HCL templates, a Tera expression inside a heredoc (heredocs have no escapes);
/// - in YAML templates, an expression in an unquoted value position (`key: {{ x }}` or
///   `- {{ x }}`) whose last filter is not a literal filter from [`YAML_VALUE_FILTERS`].
#[cfg(test)]
pub fn lint_sources(templates: &[(impl AsRef<str>, impl AsRef<str>)]) -> Vec<String> {
    // INVARIANT: these patterns are constant and valid.
    let safe = regex::Regex::new(r"\|\s*safe\b").expect("valid regex");
    let heredoc = regex::Regex::new(r"<<-?([A-Za-z_][A-Za-z0-9_]*)\s*$").expect("valid regex");
    let yaml_default = regex::Regex::new(r"(?:^\s*-|:)\s*\{\{(.*?)\}\}").expect("valid regex");
    let yaml_ansible = regex::Regex::new(r"(?:^\s*-|:)\s*<<(.*?)>>").expect("valid regex");
    let mut findings = Vec::new();
    for (name, src) in templates {
        let name = name.as_ref();
        let lang = lang_for(name);
        let mut in_heredoc: Option<String> = None;
        for (i, line) in src.as_ref().lines().enumerate() {
            let at = format!("{name}:{}", i + 1);
            if safe.is_match(line) {
                findings.push(format!("{at}: `| safe` turns escaping off; use a literal filter"));
            }
            if lang == Lang::Hcl {
                if let Some(marker) = &in_heredoc {
                    if line.trim() == marker {
                        in_heredoc = None;
                    } else if line.contains("{{") {
                        findings.push(format!("{at}: template value inside a heredoc (heredocs cannot be escaped)"));
                    }
                } else if let Some(c) = heredoc.captures(line) {
                    in_heredoc = Some(c[1].to_owned());
                }
            }
            let value_re = match lang {
                Lang::Yaml | Lang::Compose => &yaml_default,
                Lang::Ansible => &yaml_ansible,
                _ => continue,
            };
            for c in value_re.captures_iter(line) {
                let (Some(whole), Some(expr)) = (c.get(0), c.get(1)) else {
                    continue;
                };
                let quotes_before =
                    line[..whole.start()].matches('"').count() - line[..whole.start()].matches("\\\"").count();
                if quotes_before % 2 == 1 {
                    continue; // inside a double-quoted scalar: autoescaped
                }
                let last_filter = expr.as_str().rsplit('|').next().unwrap_or("").trim();
                let last_filter = last_filter.split('(').next().unwrap_or("").trim();
                if !expr.as_str().contains('|') || !YAML_VALUE_FILTERS.contains(&last_filter) {
                    findings.push(format!(
                        "{at}: unquoted template value in a YAML value position; quote it or end with a literal filter ({})",
                        YAML_VALUE_FILTERS.join(", ")
                    ));
                }
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    struct Item {
        #[serde(serialize_with = "shared")]
        deps: Vec<String>,
        #[serde(serialize_with = "shared")]
        port: serde_json::Value,
    }

    #[test]
    fn shared_fields_share_equal_values_only_when_exactly_equal() {
        let long = "a string longer than twenty-one bytes".to_owned();
        let items = [
            Item { deps: vec![long.clone()], port: serde_json::json!(1) },
            Item { deps: vec![long.clone()], port: serde_json::json!(1.0) },
        ];
        let values = sharing(|| tera::Value::try_from_serializable(&items)).unwrap();
        let items_v = values.as_array().unwrap();
        let deps = |i: usize| items_v[i].as_map().unwrap().get(&tera::value::Key::Str("deps")).unwrap().clone();
        let port = |i: usize| items_v[i].as_map().unwrap().get(&tera::value::Key::Str("port")).unwrap().clone();
        // The same array, once: both items point at one allocation.
        assert!(std::ptr::eq(deps(0).as_array().unwrap().as_ptr(), deps(1).as_array().unwrap().as_ptr()));
        // `1` and `1.0` are equal to Tera, not to sharing: each keeps its kind.
        assert_eq!(port(0).kind(), tera::value::ValueKind::U64);
        assert_eq!(port(1).kind(), tera::value::ValueKind::F64);
        // Outside a conversion the field serializes as usual.
        assert_eq!(serde_json::to_value(&items[0]).unwrap(), serde_json::json!({"deps": [long], "port": 1}));
    }

    #[derive(serde::Serialize)]
    struct File {
        #[serde(serialize_with = "shared_text")]
        contents: Arc<str>,
    }

    #[derive(serde::Serialize)]
    struct Listed {
        #[serde(serialize_with = "shared_each")]
        items: Vec<Vec<String>>,
        again: Vec<Item>,
    }

    /// The string of a converted `{"contents": …}`, by address.
    fn text_of(v: &tera::Value) -> *const u8 {
        v.as_map().unwrap().get(&tera::value::Key::Str("contents")).unwrap().as_str().unwrap().as_ptr()
    }

    #[test]
    fn shared_text_converts_each_allocation_once_and_equal_texts_of_two_allocations_twice() {
        let one: Arc<str> = Arc::from("a configuration file longer than twenty-one bytes");
        let other: Arc<str> = Arc::from(&*one);
        let files =
            [File { contents: Arc::clone(&one) }, File { contents: Arc::clone(&one) }, File { contents: other }];
        let values = sharing(|| tera::Value::try_from_serializable(&files)).unwrap();
        let v = values.as_array().unwrap();
        assert_eq!(text_of(&v[0]), text_of(&v[1]));
        assert_ne!(text_of(&v[0]), text_of(&v[2]));
        assert_eq!(v[2].as_map().unwrap().get(&tera::value::Key::Str("contents")).unwrap().as_str(), Some(&*one));
        // Outside a conversion, a plain string.
        assert_eq!(serde_json::to_value(&files[0]).unwrap(), serde_json::json!({ "contents": &*one }));
    }

    #[test]
    fn shared_each_shares_equal_items_with_equal_shared_fields_elsewhere() {
        let long = vec!["a string longer than twenty-one bytes".to_owned()];
        let listed = Listed {
            items: vec![long.clone(), vec!["other".into()], long.clone()],
            again: vec![Item { deps: long.clone(), port: serde_json::json!(1) }],
        };
        let values = sharing(|| tera::Value::try_from_serializable(&listed)).unwrap();
        let map = values.as_map().unwrap();
        let items = map.get(&tera::value::Key::Str("items")).unwrap().as_array().unwrap();
        let again = map.get(&tera::value::Key::Str("again")).unwrap().as_array().unwrap();
        let deps = again[0].as_map().unwrap().get(&tera::value::Key::Str("deps")).unwrap();
        let ptr = |v: &tera::Value| v.as_array().unwrap().as_ptr();
        assert!(std::ptr::eq(ptr(&items[0]), ptr(&items[2])));
        assert!(std::ptr::eq(ptr(&items[0]), ptr(deps)));
        assert!(!std::ptr::eq(ptr(&items[0]), ptr(&items[1])));
        assert_eq!(serde_json::to_value(&listed.items).unwrap(), serde_json::json!([long, ["other"], long]));
    }

    /// A context built key by key (its list item by item) renders as the same struct converted
    /// whole, and shares across its keys.
    #[test]
    fn a_built_context_is_the_struct_converted_whole() {
        #[derive(serde::Serialize)]
        struct Whole {
            name: &'static str,
            items: Vec<Item>,
            more: Vec<Item>,
        }
        let long = "a string longer than twenty-one bytes".to_owned();
        let item = || Item { deps: vec![long.clone()], port: serde_json::json!(2) };
        let (_d, r) = renderer(&[(
            "docs/x.md.tera",
            "{{ name }}{% for i in items %} {{ i.deps | join(sep=\",\") }}:{{ i.port }}{% endfor %} {{ more | length }}",
        )]);
        let whole = Prepared::new(&Whole { name: "n", items: vec![item(), item()], more: vec![item()] }).unwrap();
        let built = Prepared::build(|c| {
            c.insert("name", "n")?;
            c.list("items", vec![item(), item()])?;
            c.insert("more", &vec![item()])
        })
        .unwrap();
        let out = r.render_prepared("docs/x.md.tera", &built).unwrap();
        assert_eq!(out, r.render_prepared("docs/x.md.tera", &whole).unwrap());
        assert_eq!(out, format!("n {long}:2 {long}:2 1"));
        let deps = |key: &str, i: usize| {
            let list = built.0.get(key).unwrap().as_array().unwrap();
            list[i].as_map().unwrap().get(&tera::value::Key::Str("deps")).unwrap().as_array().unwrap().as_ptr()
        };
        assert!(std::ptr::eq(deps("items", 0), deps("items", 1)));
        assert!(std::ptr::eq(deps("items", 0), deps("more", 0)));
    }

    const HOSTILE: &str = "a\"b\\c\n}\n${x} %{y} $HOME {{ lookup('pipe','id') }} 'q' \u{85}\u{2028}";

    static EMPTY: &[(&str, &str)] = &[];

    /// A renderer over an in-memory set of templates (written to a temp dir as overrides on top
    /// of an empty embedded tree).
    fn renderer(files: &[(&str, &str)]) -> (tempfile::TempDir, Renderer) {
        let dir = tempfile::tempdir().unwrap();
        for (name, src) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, src).unwrap();
        }
        let r = Renderer::new_with_embedded(EMPTY, Some(dir.path())).unwrap();
        (dir, r)
    }

    fn ctx(v: &str) -> BTreeMap<&'static str, String> {
        BTreeMap::from([("v", v.to_owned())])
    }

    /// A run pays only for the languages it renders; with overrides, every engine is built
    /// (and checked) at once.
    #[test]
    fn engines_are_built_on_first_use() {
        let built = |r: &Renderer| -> Vec<(String, Lang)> {
            r.engines.iter().filter(|e| e.built.get().is_some()).map(|e| (e.folder.clone(), e.lang)).collect()
        };
        let at = |folder: &str, lang| (folder.to_owned(), lang);
        let r = Renderer::new(None).unwrap();
        assert_eq!(built(&r), []);
        r.render("config/redis.conf.tera", &ctx("")).unwrap_err(); // a context it lacks: still built
        assert_eq!(built(&r), [at("config", Lang::RedisConf)]);
        // What `render -t config` builds: nothing of another target, not even its plain text.
        r.warm(&["config", "docs"]);
        let mut want = vec![
            at("config", Lang::RedisConf),
            at("config", Lang::PgConf),
            at("config", Lang::Text),
            at("docs", Lang::Text),
        ];
        want.sort();
        assert_eq!(built(&r), want);
        r.warm(&["terraform"]);
        want.extend([at("terraform", Lang::Hcl), at("terraform", Lang::Text)]);
        want.sort();
        assert_eq!(built(&r), want);
        assert!(r.render("nowhere/x.md.tera", &ctx("")).is_err());
        // One override, and every engine is built at once.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("docs/profile-README.md.tera"), "{{ v }}").unwrap();
        let over = Renderer::new(Some(dir.path())).unwrap();
        assert_eq!(built(&over).len(), r.engines.len());
    }

    /// What makes a verbatim template safe: Tera renders each built-in that has no Tera syntax
    /// to its source, byte for byte; and about half of them are verbatim.
    #[test]
    fn verbatim_templates_are_what_tera_renders_them_to() {
        let r = Renderer::new(None).unwrap();
        let mut verbatim = 0;
        for e in &r.engines {
            for (name, src, syntax) in &e.sources.builtin {
                if syntax.any[e.lang.delimiter_set()] {
                    continue;
                }
                verbatim += usize::from(e.verbatim(name).is_some());
                let mut tera = engine(e.lang).unwrap();
                tera.add_raw_template(name, src).unwrap();
                assert_eq!(tera.render(name, &tera::Context::new()).unwrap(), *src, "{name}");
            }
        }
        let all = r.template_names().len();
        assert!(verbatim * 3 > all, "only {verbatim} of {all} templates are verbatim");
    }

    /// A template without Tera syntax is not parsed; one with syntax is; and in an engine where a
    /// template includes another, every template goes through Tera (the included one must be there).
    #[test]
    fn only_templates_without_syntax_skip_tera() {
        let plain = "a: {{ not tera here }}\n";
        let (_d, r) = renderer(&[
            ("ansible/plain.yml.tera", plain),
            ("ansible/value.yml.tera", "v: << v | ansible >>\n"),
            ("ansible/comment.yml.tera", "<# c #>x\n"),
            ("terraform/_part.tf.tera", "x = 1\n"),
            ("terraform/main.tf.tera", "{%- include \"terraform/_part.tf.tera\" %}y = \"{{ v }}\"\n"),
        ]);
        let ansible = r.engine("ansible/plain.yml.tera").unwrap();
        assert_eq!(ansible.verbatim("ansible/plain.yml.tera"), Some(plain));
        assert_eq!(ansible.verbatim("ansible/value.yml.tera"), None);
        assert_eq!(ansible.verbatim("ansible/comment.yml.tera"), None);
        let names: Vec<&str> = ansible.get().unwrap().get_template_names().collect();
        assert!(!names.contains(&"ansible/plain.yml.tera"), "a verbatim template was parsed: {names:?}");
        assert!(names.contains(&"ansible/value.yml.tera"), "{names:?}");
        assert_eq!(r.render("ansible/plain.yml.tera", &ctx("1")).unwrap(), plain);
        assert_eq!(r.render("ansible/comment.yml.tera", &ctx("1")).unwrap(), "x\n");
        let terraform = r.engine("terraform/_part.tf.tera").unwrap();
        assert_eq!(terraform.verbatim("terraform/_part.tf.tera"), None);
        assert_eq!(r.render("terraform/main.tf.tera", &ctx("1")).unwrap(), "x = 1\ny = \"1\"\n");
        for (src, names) in [
            ("{% include \"x\" %}", true),
            ("{%-  extends \"x\" %}", true),
            ("{%+import \"x\" as m %}", true),
            ("{% if included %}{% endif %}", false),
            ("{% set includes = 1 %}", false),
            ("include_tasks: x.yml", false),
        ] {
            assert_eq!(syntax::names_another(src, "{%"), names, "{src}");
        }
    }

    /// The table `build.rs` writes is the `templates/` folder: every template, its bytes, sorted
    /// by name (lookups search it by halves).
    #[test]
    fn builtin_table_is_the_templates_folder_sorted() {
        let on_disk = templates_on_disk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")).unwrap();
        let table: Vec<(String, String)> =
            BUILTIN_TEMPLATES.iter().map(|(n, s, _)| ((*n).to_owned(), (*s).to_owned())).collect();
        assert_eq!(table, on_disk);
        assert!(BUILTIN_TEMPLATES.windows(2).all(|w| w[0].0 < w[1].0), "not sorted by name");
    }

    /// The syntax `build.rs` found in each built-in is what a scan at run time finds (the one an
    /// override gets), and the scans look for the delimiters the engines use.
    #[test]
    fn builtin_syntax_is_what_a_scan_finds() {
        for (name, src, syntax) in BUILTIN_TEMPLATES {
            assert_eq!(*syntax, Syntax::of(src), "{name}");
        }
        for lang in [Lang::Hcl, Lang::Ansible, Lang::Text] {
            let d = lang.delimiters();
            let starts = [&*d.variable_start, &*d.block_start, &*d.comment_start];
            let scanned = [syntax::DEFAULT_STARTS, syntax::ANSIBLE_STARTS][lang.delimiter_set()];
            assert_eq!(starts, scanned, "{lang:?}");
        }
        assert_eq!(Delimiters::default().variable_start, syntax::DEFAULT_STARTS[0]);
        // Each scan is of its own set: `<%` is text to the default delimiters, `{%` to Ansible's.
        let s = Syntax::of("<% if x %>{{ y }}");
        assert_eq!(s.any, [true, true]);
        assert_eq!(Syntax::of("a <% include \"x\" %>").names_another, [false, true]);
        assert_eq!(Syntax::of("{# c #}").any, [true, false]);
    }

    #[test]
    fn lang_mapping() {
        let cases = [
            ("terraform/main.tf.tera", Lang::Hcl),
            ("terraform/terraform.tfvars.example.tera", Lang::Hcl),
            ("terraform/prod.tfvars.tera", Lang::Hcl),
            ("terraform/x.hcl.tera", Lang::Hcl),
            ("compose/docker-compose.yml.tera", Lang::Compose),
            ("compose/sub/x.yaml.tera", Lang::Compose),
            ("ansible/playbooks/site.yml.tera", Lang::Ansible),
            ("ansible/group_vars/all.yaml.tera", Lang::Ansible),
            ("config/values.yaml.tera", Lang::Yaml),
            ("config/redis.conf.tera", Lang::RedisConf),
            ("config/sentinel.conf.tera", Lang::RedisConf),
            ("config/cache-redis.conf.tera", Lang::RedisConf),
            ("config/postgresql.conf.tera", Lang::PgConf),
            ("config/replica.pg.conf.tera", Lang::PgConf),
            ("config/pg_hba.conf.tera", Lang::Text),
            ("config/haproxy.cfg.tera", Lang::Text),
            ("docs/README.md.tera", Lang::Text),
            ("ansible/roles/x/files/run.sh.tera", Lang::Text),
            ("compose/init.js.tera", Lang::Text),
        ];
        for (name, lang) in cases {
            assert_eq!(lang_for(name), lang, "{name}");
        }
    }

    #[test]
    fn each_lang_escapes_hostile_input() {
        let (_d, r) = renderer(&[
            ("terraform/t.tf.tera", "x = \"{{ v }}\"\ny = {{ v | hcl }}\n"),
            ("config/y.yaml.tera", "x: \"{{ v }}\"\ny: {{ v | yaml }}\n"),
            ("compose/c.yml.tera", "x: \"{{ v }}\"\ny: {{ v | compose }}\n"),
            ("ansible/a.yml.tera", "x: !unsafe \"<< v >>\"\ny: << v | ansible >>\n"),
            ("config/redis.conf.tera", "x \"{{ v }}\"\ny {{ v | redis }}\n"),
            ("config/postgresql.conf.tera", "x = '{{ v }}'\n"),
            ("docs/run.sh.tera", "echo {{ v | shell }} {{ v | json }}\n"),
        ]);
        // HCL: both values evaluate back to the original.
        let out = r.render("terraform/t.tf.tera", &ctx(HOSTILE)).unwrap();
        let body: hcl::Body = hcl::from_str(&out).unwrap();
        for attr in body.attributes() {
            use hcl::eval::Evaluate;
            let v = attr.expr().evaluate(&hcl::eval::Context::new()).unwrap();
            assert_eq!(v.as_str(), Some(HOSTILE), "{out}");
        }
        // YAML and Ansible: two keys, both the original string.
        for name in ["config/y.yaml.tera", "ansible/a.yml.tera"] {
            let out = r.render(name, &ctx(HOSTILE)).unwrap();
            let m: BTreeMap<String, String> = serde_saphyr::from_str(&out).unwrap();
            assert_eq!(m.len(), 2, "{out}");
            assert!(m.values().all(|v| v == HOSTILE), "{name}: {out}");
        }
        // `ansible` tags only a string that could hold Jinja: a version stays a plain string.
        let ansible = r.render("ansible/a.yml.tera", &ctx("7.2")).unwrap();
        assert_eq!(ansible, "x: !unsafe \"7.2\"\ny: \"7.2\"\n");
        let ansible = r.render("ansible/a.yml.tera", &ctx("{{ x }}")).unwrap();
        assert_eq!(ansible, "x: !unsafe \"{{ x }}\"\ny: !unsafe \"{{ x }}\"\n");
        // Compose: after YAML parsing, `$` is doubled (compose un-doubles it).
        let out = r.render("compose/c.yml.tera", &ctx(HOSTILE)).unwrap();
        let m: BTreeMap<String, String> = serde_saphyr::from_str(&out).unwrap();
        assert!(m.values().all(|v| *v == HOSTILE.replace('$', "$$")), "{out}");
        // redis.conf: exactly two lines, no raw newline leaked.
        let out = r.render("config/redis.conf.tera", &ctx(HOSTILE)).unwrap();
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(out.starts_with("x \"a\\\"b\\\\c\\n}\\n"), "{out}");
        // postgresql.conf: quote doubled; a newline is an error, not a new line.
        let out = r.render("config/postgresql.conf.tera", &ctx("it's")).unwrap();
        assert_eq!(out, "x = 'it''s'\n");
        let err = r.render("config/postgresql.conf.tera", &ctx("a\nb")).unwrap_err();
        assert!(format!("{err:#}").contains("line break"), "{err:#}");
        // Text: nothing is autoescaped, filters do the quoting.
        let out = r.render("docs/run.sh.tera", &ctx("it's \"x\"")).unwrap();
        assert_eq!(out, "echo 'it'\\''s \"x\"' \"it's \\\"x\\\"\"\n");
    }

    #[test]
    fn ansible_delimiters_leave_jinja_intact() {
        let (_d, r) = renderer(&[(
            "ansible/site.yml.tera",
            "- hosts: << v | ansible >>\n  vars:\n    x: \"{{ ansible_host }}\"\n  tasks: <# hidden #>\n    <% if true %>- debug: msg=\"{% if a %}{{ item }}{% endif %}\"<% endif %>\n",
        )]);
        let out = r.render("ansible/site.yml.tera", &ctx("gw")).unwrap();
        assert_eq!(
            out,
            "- hosts: \"gw\"\n  vars:\n    x: \"{{ ansible_host }}\"\n  tasks: \n    - debug: msg=\"{% if a %}{{ item }}{% endif %}\"\n"
        );
    }

    #[test]
    fn override_replaces_exactly_one_template() {
        static EMBEDDED_TEST: &[(&str, &str)] = &[
            ("config/a.txt.tera", "builtin {{ v }}"),
            ("config/redis.conf.tera", "x \"{{ v }}\""),
            ("terraform/main.tf.tera", "x = \"{{ v }}\""),
        ];
        let base = Renderer::new_with_embedded(EMBEDDED_TEST, None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/a.txt.tera"), "user {{ v }}").unwrap();
        let over = Renderer::new_with_embedded(EMBEDDED_TEST, Some(dir.path())).unwrap();
        assert_eq!(base.template_names(), over.template_names());
        let names = base.template_names();
        assert!(names.contains(&"config/a.txt.tera".to_owned()), "{names:?}");
        for name in &names {
            let b = base.render(name, &ctx("1")).unwrap();
            let o = over.render(name, &ctx("1")).unwrap();
            if name == "config/a.txt.tera" {
                assert_eq!(o, "user 1");
                assert_ne!(b, o);
            } else {
                assert_eq!(b, o, "{name}");
            }
        }
    }

    #[test]
    fn syntax_error_names_template_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("terraform")).unwrap();
        std::fs::write(dir.path().join("terraform/bad.tf.tera"), "ok = 1\nx = {{ v \n").unwrap();
        let err = Renderer::new_with_embedded(EMPTY, Some(dir.path())).err().expect("syntax error");
        let msg = format!("{err:#}");
        assert!(msg.contains("terraform/bad.tf.tera:2:"), "{msg}");
        assert!(msg.contains("x = {{ v"), "{msg}");
    }

    #[test]
    fn render_error_names_template() {
        let (_d, r) = renderer(&[("docs/x.md.tera", "a\n{{ missing }}\n")]);
        let msg = format!("{:#}", r.render("docs/x.md.tera", &ctx("")).unwrap_err());
        assert!(msg.contains("docs/x.md.tera"), "{msg}");
        assert!(msg.contains(":2:"), "{msg}");
    }

    #[test]
    fn literal_filters_reject_maps() {
        let (_d, r) = renderer(&[("docs/x.md.tera", "{{ m | hcl }}")]);
        let c = BTreeMap::from([("m", BTreeMap::from([("a", 1)]))]);
        let msg = format!("{:#}", r.render("docs/x.md.tera", &c).unwrap_err());
        assert!(msg.contains("the `hcl` filter takes a string"), "{msg}");
    }

    #[test]
    fn lint_finds_each_mistake() {
        let t = |n: &str, s: &str| (n.to_owned(), s.to_owned());
        let findings = lint_sources(&[
            t("docs/a.md.tera", "{{ x | safe }}\n"),
            t("terraform/a.tf.tera", "a = <<EOT\n{{ x }}\nEOT\nb = \"{{ x }}\"\n"),
            t("config/a.yaml.tera", "a: {{ x }}\nb: \"{{ x }}\"\nc: {{ x | yaml }}\n- {{ y }}\n"),
            t("compose/a.yml.tera", "image: \"tyk:{{ v }}\"\nn: {{ n | int }}\n"),
            t("ansible/a.yml.tera", "a: << x >>\nb: \"{{ jinja }}\"\nc: << x | ansible >>\n"),
        ]);
        let expected = [
            "docs/a.md.tera:1:",
            "terraform/a.tf.tera:2:",
            "config/a.yaml.tera:1:",
            "config/a.yaml.tera:4:",
            "ansible/a.yml.tera:1:",
        ];
        assert_eq!(findings.len(), expected.len(), "{findings:#?}");
        for (f, e) in findings.iter().zip(expected) {
            assert!(f.starts_with(e), "{f} vs {e}");
        }
    }

    #[test]
    fn embedded_templates_lint_clean() {
        let findings = lint_templates();
        assert!(findings.is_empty(), "{findings:#?}");
    }
}
