//! Templating: `{{path.to.value}}` placeholders in step fields, filled from the run context.
//!
//! The run context is a JSON object whose roots are `request`, `schedule`, `oauth`, `event`,
//! `steps`, `workflow` and `run` (docs/definitions.md lists them). `{{secrets.NAME}}`
//! is not in the context: it is read through a callback (a Worker secret), and every secret value
//! used by a render is reported back so the engine can scrub it from what it stores.
//!
//! Syntax:
//! - `{{ path }}` — whitespace inside the braces is allowed. A path is a name followed by
//!   `.key` or `[index]` segments: `steps.fetch.body.items[0].sku` and
//!   `steps.fetch.body.items.0.sku` are the same. A key is any run of characters other than
//!   whitespace, `.`, `[`, `]`, `{`, `}`, quotes and `\` (so `request.headers.x-api-key` works).
//! - A string that is exactly one placeholder (`"{{steps.a.body.id}}"`) becomes the value itself,
//!   with its JSON type (number, object, …). Placeholders inside a longer string are written as
//!   text: strings as they are, anything else as compact JSON (`null` → `null`).
//! - `\{{` is a literal `{{` (the backslash is dropped); no other escapes exist and a backslash
//!   anywhere else is an ordinary character (so a backslash directly before a placeholder cannot
//!   be written). A `{{` without a closing `}}` is an error; a lone `}}` is ordinary text.
//! - Only strings are templated; object keys never are. Values read from the context are not
//!   templated again, so data cannot inject placeholders.
//! - A path that does not exist is an error naming the path and the part that is missing;
//!   an existing `null` is a value.

use crate::kernel::trigger_kind::TriggerKind;
use serde_json::Value;

pub use crate::kernel::names::is_env_name;
use crate::kernel::names::is_platform_secret;

/// Why `{{secrets.NAME}}` cannot read a platform secret.
fn platform_secret_message(name: &str) -> String {
    format!(
        "`{{{{secrets.{name}}}}}`: `{name}` is Tripline's own configuration and is never readable \
         by templates (`ADMIN_TOKEN` and names starting with `ADMIN_TOKEN_` or `TRIPLINE_` are \
         reserved); store the value a step needs under another name"
    )
}
use crate::kernel::problem::{index, join, Errors};
use crate::kernel::reader::type_name;
use crate::kernel::redact::{is_sensitive_key, looks_like_secret, must_hide};

/// The root under which secrets are read: `{{secrets.NAME}}`. Always allowed.
pub const SECRETS_ROOT: &str = "secrets";

/// Every root the run context can have.
pub const ALL_ROOTS: [&str; 7] = [
    "request", "schedule", "oauth", "event", "steps", "workflow", "run",
];

/// The fields of an `http` or `response` step's result: `steps.<name>.status|headers|body`.
pub const STEP_RESULT_FIELDS: [&str; 3] = ["status", "headers", "body"];
/// The fields of a `log` step's result: `steps.<name>.message`.
pub const LOG_RESULT_FIELDS: [&str; 1] = ["message"];

/// A step that later steps' templates may read: its name and the fields of its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierStep {
    pub name: String,
    pub fields: &'static [&'static str],
}

impl EarlierStep {
    /// A step named `name` of kind `kind` (its `type`; an unknown or missing one reads as an
    /// `http` step, whose own errors are reported where it is defined).
    pub fn new(name: &str, kind: Option<&str>) -> Self {
        let fields: &'static [&'static str] = match kind {
            Some("log") => &LOG_RESULT_FIELDS,
            _ => &STEP_RESULT_FIELDS,
        };
        EarlierStep {
            name: name.to_string(),
            fields,
        }
    }
}

/// The fields the engine puts under each fixed root (docs/definitions.md lists them).
/// `steps` is not here: its fields are step names.
pub fn root_fields(root: &str) -> Option<&'static [&'static str]> {
    Some(match root {
        "request" => &["method", "path", "query", "headers", "body"],
        "schedule" => &["scheduled_at", "fired_at", "late"],
        "oauth" => &[
            "user_id",
            "scopes",
            "expires_at",
            "access_token",
            "userinfo",
        ],
        "event" => &["record"],
        "workflow" => &["id", "version"],
        "run" => &["id"],
        // A polled HTTP source's own templates (URL and headers), not steps'.
        "cursor" => &["greatest"],
        _ => return None,
    })
}

/// The roots a workflow's steps may use for a trigger kind: the trigger's own root plus `steps`,
/// `workflow` and `run`. When the kind is unknown (a trigger that is missing or of no known
/// type, reported already) every trigger's root is allowed, so that its steps get no follow-on
/// problem. `secrets` is always allowed.
pub fn roots_for_trigger(kind: Option<TriggerKind>) -> Vec<&'static str> {
    let own = match kind {
        Some(TriggerKind::Endpoint) => &["request"][..],
        Some(TriggerKind::Schedule) => &["schedule"],
        Some(TriggerKind::OAuth) => &["oauth"],
        Some(TriggerKind::Poll) => &["event"],
        None => &["request", "schedule", "oauth", "event"],
    };
    own.iter()
        .copied()
        .chain(["steps", "workflow", "run"])
        .collect()
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Where in the templated value, relative to what was rendered: `""` (the value itself),
    /// `email`, `items[0]`; callers prefix it (`json.email`).
    pub location: String,
    /// The placeholder path concerned, as written (`steps.a.body.id`), when there is one.
    pub path: Option<String>,
    /// What is wrong, for a person. Never contains a secret value.
    pub message: String,
}

impl TemplateError {
    fn new(location: &str, path: Option<&str>, message: impl Into<String>) -> Self {
        TemplateError {
            location: location.to_string(),
            path: path.map(str::to_string),
            message: message.into(),
        }
    }

    /// The same error, located under `parent` (`json` + `email` → `json.email`).
    pub fn under(mut self, parent: &str) -> Self {
        self.location = if self.location.is_empty() {
            parent.to_string()
        } else if self.location.starts_with('[') {
            format!("{parent}{}", self.location)
        } else {
            join(parent, &self.location)
        };
        self
    }
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

impl std::error::Error for TemplateError {}

/// A rendered value and the sensitive values that went into it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOutput {
    pub value: Value,
    /// Every secret value used (from `{{secrets.…}}`), plus string values read from sensitive
    /// places of the context (`oauth.access_token`, `request.headers.authorization`, anything under
    /// a key like `*token*`, `*secret*`, …), without duplicates. Pass it to `redact::redact`.
    pub secrets_used: Vec<String>,
}

/// Renders `template` against `context`; see the module docs for the rules.
/// Use [`render_tracked`] when the result may be stored: it also returns the secrets used.
pub fn render(
    template: &Value,
    context: &Value,
    secrets: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, TemplateError> {
    render_tracked(template, context, secrets).map(|out| out.value)
}

/// Renders `template` against `context` and reports the sensitive values used.
pub fn render_tracked(
    template: &Value,
    context: &Value,
    secrets: &dyn Fn(&str) -> Option<String>,
) -> Result<RenderOutput, TemplateError> {
    let mut renderer = Renderer {
        context,
        secrets,
        used: Vec::new(),
    };
    let value = renderer.value(template, "")?;
    Ok(RenderOutput {
        value,
        secrets_used: renderer.used,
    })
}

/// Renders a string template to a string: an exactly-one placeholder that yields a non-string is
/// written as compact JSON (so `"{{steps.a.status}}"` → `"200"`).
pub fn render_string(
    template: &str,
    context: &Value,
    secrets: &dyn Fn(&str) -> Option<String>,
    used: &mut Vec<String>,
) -> Result<String, TemplateError> {
    let mut renderer = Renderer {
        context,
        secrets,
        used: std::mem::take(used),
    };
    let result = renderer
        .string(template, "")
        .map(|v| stringify(&v).into_owned());
    *used = renderer.used;
    result
}

/// Renders a URL template. Past the URL's literal scheme and host, a value read from the
/// context is written as data ([`percent::encode_url_data`](crate::kernel::percent)): what a
/// request, an answer or a record holds cannot end the path, climb out of it with a `.` or `..`
/// segment (an error) or add a query parameter; a `/` in it stays (`{{…full_name}}` fills
/// `owner/repo`). A secret is written as it is, as the definition's author chose it, and so is
/// every value of a URL that starts with a template (`{{request.body.callback}}`, which sends no
/// secret).
pub fn render_url(
    template: &str,
    context: &Value,
    secrets: &dyn Fn(&str) -> Option<String>,
    used: &mut Vec<String>,
) -> Result<String, TemplateError> {
    let pieces = parse(template).map_err(|m| TemplateError::new("", None, m))?;
    let mut renderer = Renderer {
        context,
        secrets,
        used: std::mem::take(used),
    };
    let result = renderer.url(&pieces);
    *used = renderer.used;
    result
}

/// Where URL text so far ends: 0 before its host has ended (or with no `http(s)://`), 1 in the
/// path, 2 in the query or fragment.
fn url_part(text: &str) -> u8 {
    // A URL is sent trimmed, and checked so.
    let literal = text.trim_start();
    let lower = literal.get(..8).unwrap_or(literal).to_ascii_lowercase();
    let scheme = match () {
        _ if lower.starts_with("https://") => 8,
        _ if lower.starts_with("http://") => 7,
        _ => return 0,
    };
    match literal[scheme..].find(['/', '?', '#']) {
        None => 0,
        Some(i) if literal[scheme + i..].contains(['?', '#']) => 2,
        Some(_) => 1,
    }
}

/// Every placeholder path in `template` (strings anywhere inside it), as written, in order,
/// without duplicates. Strings that do not parse contribute nothing.
pub fn referenced_paths(template: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for_each_string(template, "", &mut |s, _| {
        if let Ok(pieces) = parse(s) {
            for piece in pieces {
                if let Piece::Placeholder(path) = piece {
                    if !out.contains(&path.text) {
                        out.push(path.text);
                    }
                }
            }
        }
    });
    out
}

/// Calls `f` with (the string's location, NAME) for every `{{secrets.NAME}}` in the strings of
/// `template` (at `location`), in order. Strings that do not parse give none.
pub fn each_secret_reference(template: &Value, location: &str, f: &mut dyn FnMut(&str, &str)) {
    for_each_string(template, location, &mut |s, loc| {
        for piece in parse(s).unwrap_or_default() {
            if let Piece::Placeholder(path) = piece {
                if let [Segment::Key(root), Segment::Key(name)] = path.segments.as_slice() {
                    if root == SECRETS_ROOT {
                        f(loc, name);
                    }
                }
            }
        }
    });
}

/// Whether the string contains at least one placeholder (an escaped `\{{` is not one).
pub fn is_templated(s: &str) -> bool {
    match parse(s) {
        Ok(pieces) => pieces.iter().any(|p| matches!(p, Piece::Placeholder(_))),
        Err(_) => true,
    }
}

/// Whether any string in `template` reads a credential: `{{secrets.NAME}}`, the OAuth
/// `{{oauth.access_token}}`, or any path through a credential-looking key
/// (`steps.login.body.access_token`, `request.headers.authorization`).
pub fn reads_credentials(template: &Value) -> bool {
    let mut found = false;
    for_each_string(template, "", &mut |s, _| {
        if let Ok(pieces) = parse(s) {
            for piece in pieces {
                if let Piece::Placeholder(path) = piece {
                    let secret = matches!(path.segments.first(),
                        Some(Segment::Key(r)) if r == SECRETS_ROOT);
                    found |= secret || path.names_credential();
                }
            }
        }
    });
    found
}

/// The text before the first placeholder, with escapes applied (`"https://{{x}}/a"` → `"https://"`).
pub fn literal_prefix(s: &str) -> String {
    match parse(s) {
        Ok(pieces) => match pieces.first() {
            Some(Piece::Text(t)) => t.clone(),
            _ => String::new(),
        },
        Err(_) => String::new(),
    }
}

/// Checks every string in `template` (at `location`, e.g. `steps[1].json`): placeholders are
/// closed and well formed, their root is one of `allowed_roots` or `secrets`, known roots use
/// known fields, `steps.X` names one of `earlier_steps` and reads a field of its result,
/// and `secrets.NAME` has an environment-variable-like NAME. Errors point at the string's
/// location (`steps[1].json.email`).
pub fn validate(
    template: &Value,
    location: &str,
    allowed_roots: &[&str],
    earlier_steps: &[EarlierStep],
    errors: &mut Errors,
) {
    for_each_string(template, location, &mut |s, loc| match parse(s) {
        Err(message) => errors.push(loc, message),
        Ok(pieces) => {
            for piece in pieces {
                if let Piece::Placeholder(path) = piece {
                    if let Err(message) = check_path(&path, allowed_roots, earlier_steps) {
                        errors.push(loc, message);
                    }
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// One segment of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `.key` (also the first name). A key of digits also indexes arrays.
    Key(String),
    /// `[n]`. On an object it reads the key `"n"`.
    Index(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Path {
    /// As written, without the surrounding whitespace.
    text: String,
    segments: Vec<Segment>,
}

impl Path {
    /// Whether a key this path names looks like a credential's (`request.headers.authorization`,
    /// `steps.login.body.access_token`). The root is no such key, nor a step's name when a key
    /// of its output is named (`steps.get_token.body.id`); `steps.get_token.body` read whole
    /// counts.
    fn names_credential(&self) -> bool {
        let skip = match self.segments.first() {
            Some(Segment::Key(r)) if r == "steps" && self.segments.len() > 3 => 2,
            _ => 1,
        };
        self.segments
            .iter()
            .skip(skip)
            .any(|s| matches!(s, Segment::Key(k) if is_sensitive_key(k)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Placeholder(Path),
}

/// Splits a string into text and placeholders; the error is a message for a person.
fn parse(s: &str) -> Result<Vec<Piece>, String> {
    let bytes = s.as_bytes();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut literal_start = 0;
    let mut i = 0;
    // Every position where we slice holds an ASCII byte (`\`, `{`, `}`), so it is a char boundary.
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes[i + 1..].starts_with(b"{{") {
            text.push_str(&s[literal_start..i]);
            text.push_str("{{");
            i += 3;
            literal_start = i;
        } else if bytes[i..].starts_with(b"{{") {
            text.push_str(&s[literal_start..i]);
            let inner_start = i + 2;
            let Some(len) = find(&bytes[inner_start..], b"}}") else {
                // Counted from 1, as a person counts.
                let at = s[..i].chars().count() + 1;
                return Err(format!(
                    "unclosed `{{{{` at character {at}; close it with `}}}}`, or write `\\{{{{` for a \
                     literal `{{{{` (in JSON and in a double-quoted YAML string: `\\\\{{{{`)"
                ));
            };
            let path = parse_path(&s[inner_start..inner_start + len])?;
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Placeholder(path));
            i = inner_start + len + 2;
            literal_start = i;
        } else {
            i += 1;
        }
    }
    text.push_str(&s[literal_start..]);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn is_key_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '.' | '[' | ']' | '{' | '}' | '"' | '\'' | '\\')
}

const PATH_EXAMPLE: &str = "paths look like `steps.fetch.body.items[0].id`";

fn parse_path(inner: &str) -> Result<Path, String> {
    let text = inner.trim();
    if text.is_empty() {
        return Err(
            "empty placeholder `{{}}`; write a path such as `{{request.body.email}}`".to_string(),
        );
    }
    let mut segments = Vec::new();
    let mut chars = text.chars().peekable();
    let first = take_key(&mut chars);
    if first.is_empty() {
        return Err(format!(
            "`{{{{{text}}}}}` must start with a name such as `request` or `steps`; {PATH_EXAMPLE}"
        ));
    }
    segments.push(Segment::Key(first));
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let key = take_key(&mut chars);
                if key.is_empty() {
                    return Err(format!(
                        "`{{{{{text}}}}}` has an empty segment after a `.`; {PATH_EXAMPLE}"
                    ));
                }
                segments.push(Segment::Key(key));
            }
            '[' => {
                let mut digits = String::new();
                let mut closed = false;
                for d in chars.by_ref() {
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    digits.push(d);
                }
                // At most u32: the same on the Worker (32-bit `usize`) as in native tools.
                let index = digits.trim().parse::<u32>().ok().map(|n| n as usize);
                match (closed, index) {
                    (true, Some(n)) if !digits.trim().starts_with('+') => {
                        segments.push(Segment::Index(n))
                    }
                    _ => {
                        return Err(format!(
                            "`{{{{{text}}}}}`: `[` must hold an index and be closed, as in `[0]`; {PATH_EXAMPLE}"
                        ))
                    }
                }
            }
            other => {
                return Err(format!(
                    "`{{{{{text}}}}}` has an unexpected `{other}`; {PATH_EXAMPLE}"
                ))
            }
        }
    }
    Ok(Path {
        text: text.to_string(),
        segments,
    })
}

fn take_key(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut key = String::new();
    while let Some(&c) = chars.peek() {
        if !is_key_char(c) {
            break;
        }
        key.push(c);
        chars.next();
    }
    key
}

fn segment_text(seg: &Segment) -> String {
    match seg {
        Segment::Key(k) => k.clone(),
        Segment::Index(n) => n.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

fn check_path(
    path: &Path,
    allowed_roots: &[&str],
    earlier_steps: &[EarlierStep],
) -> Result<(), String> {
    let text = &path.text;
    let root = match path.segments.first() {
        Some(Segment::Key(k)) => k.as_str(),
        _ => return Err(format!("`{{{{{text}}}}}` must start with a name")),
    };
    let second = path.segments.get(1);
    let third = path.segments.get(2);
    if root == SECRETS_ROOT {
        return match (path.segments.len(), second) {
            (2, Some(Segment::Key(name))) if is_platform_secret(name) => {
                Err(platform_secret_message(name))
            }
            (2, Some(Segment::Key(name))) if is_env_name(name) => Ok(()),
            _ => Err(format!(
                "`{{{{{text}}}}}`: secrets are read as `{{{{secrets.NAME}}}}`, where NAME is letters, digits and `_`, not starting with a digit"
            )),
        };
    }
    if !allowed_roots.contains(&root) {
        let mut available: Vec<&str> = allowed_roots.to_vec();
        available.push(SECRETS_ROOT);
        let available = available.join(", ");
        return Err(if ALL_ROOTS.contains(&root) {
            format!("`{{{{{text}}}}}`: `{root}` is not available to this workflow's trigger; available here: {available}")
        } else {
            format!("`{{{{{text}}}}}`: unknown variable `{root}`; available here: {available}")
        });
    }
    if root == "steps" {
        let Some(step) = second else { return Ok(()) };
        let Segment::Key(step) = step else {
            return Err(format!(
                "`{{{{{text}}}}}`: steps are read by name, as in `steps.<name>.body`"
            ));
        };
        let Some(earlier_step) = earlier_steps.iter().find(|s| &s.name == step) else {
            let earlier = if earlier_steps.is_empty() {
                "there are none before this one".to_string()
            } else {
                let names: Vec<&str> = earlier_steps.iter().map(|s| s.name.as_str()).collect();
                format!("earlier steps: {}", names.join(", "))
            };
            return Err(format!(
                "`{{{{{text}}}}}`: `{step}` is not an earlier step; a step can only read the results of steps before it ({earlier})"
            ));
        };
        if let Some(field) = third {
            let field = segment_text(field);
            if !earlier_step.fields.contains(&field.as_str()) {
                let kind = if earlier_step.fields == LOG_RESULT_FIELDS {
                    "a `log` step's"
                } else {
                    "a step's"
                };
                return Err(format!(
                    "`{{{{{text}}}}}`: {kind} result has {}; not `{field}`",
                    earlier_step.fields.join(", ")
                ));
            }
        }
        return Ok(());
    }
    if let (Some(fields), Some(field)) = (root_fields(root), second) {
        let field = segment_text(field);
        if !fields.contains(&field.as_str()) {
            return Err(format!(
                "`{{{{{text}}}}}`: `{root}` has {}; not `{field}`",
                fields.join(", ")
            ));
        }
    }
    Ok(())
}

/// Calls `f` with every string inside `value` and its location.
fn for_each_string(value: &Value, location: &str, f: &mut dyn FnMut(&str, &str)) {
    match value {
        Value::String(s) => f(s, location),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                for_each_string(item, &index(location, i), f);
            }
        }
        Value::Object(map) => {
            for (key, v) in map {
                for_each_string(v, &join(location, key), f);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

struct Renderer<'a> {
    context: &'a Value,
    secrets: &'a dyn Fn(&str) -> Option<String>,
    used: Vec<String>,
}

impl Renderer<'_> {
    fn value(&mut self, template: &Value, location: &str) -> Result<Value, TemplateError> {
        Ok(match template {
            Value::String(s) => self.string(s, location)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.value(item, &index(location, i)))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.value(v, &join(location, k))?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => other.clone(),
        })
    }

    fn string(&mut self, s: &str, location: &str) -> Result<Value, TemplateError> {
        let pieces = parse(s).map_err(|m| TemplateError::new(location, None, m))?;
        if let [Piece::Placeholder(path)] = pieces.as_slice() {
            return self.lookup(path, location);
        }
        let mut out = String::new();
        for piece in &pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Placeholder(path) => {
                    let v = self.lookup(path, location)?;
                    out.push_str(&stringify(&v));
                }
            }
        }
        Ok(Value::String(out))
    }

    /// See [`render_url`].
    fn url(&mut self, pieces: &[Piece]) -> Result<String, TemplateError> {
        let literal_host = matches!(pieces.first(), Some(Piece::Text(t)) if url_part(t) > 0);
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Placeholder(path) => {
                    let first = self.used.len();
                    let value = self.lookup(path, "")?;
                    let text = stringify(&value);
                    let secret =
                        matches!(path.segments.first(), Some(Segment::Key(r)) if r == SECRETS_ROOT);
                    if !literal_host || secret {
                        out.push_str(&text);
                        continue;
                    }
                    // Where the URL written so far ends (a secret may have ended its path).
                    let in_query = url_part(&out) == 2;
                    if !in_query && text.split('/').any(|s| s == "." || s == "..") {
                        return Err(TemplateError::new(
                            "",
                            Some(&path.text),
                            format!(
                                "`{{{{{}}}}}` puts a `.` or `..` segment in the URL's path, which \
                                 would take the request to another path",
                                path.text
                            ),
                        ));
                    }
                    // A credential read here is sent in this form: it is scrubbed in it too.
                    for i in first..self.used.len() {
                        let sent = crate::kernel::percent::encode_url_data(&self.used[i], in_query);
                        if sent != self.used[i] {
                            self.note(&sent);
                        }
                    }
                    out.push_str(&crate::kernel::percent::encode_url_data(&text, in_query));
                }
            }
        }
        Ok(out)
    }

    fn lookup(&mut self, path: &Path, location: &str) -> Result<Value, TemplateError> {
        let err = |m: String| TemplateError::new(location, Some(&path.text), m);
        if let Some(Segment::Key(root)) = path.segments.first() {
            if root == SECRETS_ROOT {
                let name = match path.segments.as_slice() {
                    [_, Segment::Key(name)] => name,
                    _ => {
                        return Err(err(format!(
                            "`{{{{{}}}}}`: secrets are read as `{{{{secrets.NAME}}}}`",
                            path.text
                        )))
                    }
                };
                if is_platform_secret(name) {
                    return Err(err(platform_secret_message(name)));
                }
                let Some(secret) = (self.secrets)(name) else {
                    return Err(err(format!(
                        "secret `{name}` is not set; add it with `wrangler secret put {name}`"
                    )));
                };
                let mut forms = Vec::new();
                push_forms(&secret, &mut forms);
                for form in forms {
                    self.note(&form);
                }
                return Ok(Value::String(secret));
            }
        }
        let value = resolve(path, self.context).map_err(err)?;
        let sensitive_path = path.names_credential();
        // Earlier steps' outputs and the OAuth connection are kept as they were: a value there
        // may be a credential under any name (`{"jwt": "eyJ…"}`). Trigger inputs are stored
        // with such values already redacted.
        let raw =
            matches!(path.segments.first(), Some(Segment::Key(r)) if r == "steps" || r == "oauth");
        let mut found = Vec::new();
        // A number is hidden as the record hides it: directly under the first credential name
        // of the value's own keys by that name's rule, anywhere deeper always (the whole value
        // under it is hidden). The root and a step's name are no keys of a stored value.
        let own = match path.segments.first() {
            Some(Segment::Key(r)) if r == "steps" => 2,
            _ => 1,
        };
        let keys = path.segments.get(own..).unwrap_or_default();
        let numbers = match keys
            .iter()
            .position(|s| matches!(s, Segment::Key(k) if is_sensitive_key(k)))
        {
            None => Numbers::Kept,
            Some(i) if i + 1 < keys.len() => Numbers::Hidden,
            Some(i) => match &keys[i] {
                Segment::Key(k) => Numbers::Under(k),
                _ => Numbers::Kept,
            },
        };
        collect_sensitive(value, numbers, sensitive_path, raw, &mut found);
        for s in found {
            self.note(&s);
        }
        Ok(value.clone())
    }

    /// Kept in order of use, repeats too (they are dropped when the list is used): checking
    /// the list for each would cost its length, and a value's look-alikes are as many as its
    /// data has.
    fn note(&mut self, secret: &str) {
        if !secret.is_empty() {
            self.used.push(secret.to_string());
        }
    }
}

/// Strings as they are, everything else as compact JSON.
fn stringify(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

/// Where a value stands for the record's rule on numbers ([`must_hide`]).
#[derive(Clone, Copy)]
enum Numbers<'a> {
    /// Under no credential name: kept.
    Kept,
    /// Directly under the credential name given: hidden by its rule (`client_secret: 12345678`
    /// is, `total_tokens: 1234` is not).
    Under(&'a str),
    /// Inside a value under a credential name: hidden, as the whole value is.
    Hidden,
}

/// A sensitive string as written and in the forms a request may carry it in, when they differ:
/// as JSON writes it (escaped: an object placed in a text, a `json` body sent as text) and
/// percent-encoded (a query parameter), so that each is scrubbed wherever it is echoed.
pub fn push_forms(s: &str, out: &mut Vec<String>) {
    // This value's forms start here: only they are checked for a repeat (`out` may hold the
    // forms of tens of thousands of values).
    let first = out.len();
    out.push(s.to_string());
    // What the stored input already shows redacted is no credential in any form, and a value
    // too short to be scrubbed stays so in its longer forms (`a b` is `a%20b` in a query).
    if s == crate::kernel::redact::REDACTED || s.len() < crate::kernel::redact::MIN_SECRET_LEN {
        return;
    }
    let written = Value::String(s.to_string()).to_string();
    let escaped = &written[1..written.len() - 1];
    if escaped != s {
        out.push(escaped.to_string());
    }
    let encoded = crate::kernel::percent::encode(s);
    if encoded != s && encoded != escaped {
        out.push(encoded.clone());
    }
    // As a URL parser writes it, rendered into a URL's path or query as written (`p@ss word`
    // is sent `p@ss%20word`).
    // As a template writes a value into a URL past its host (`render_url`), too.
    for in_query in [false, true] {
        for sent in [
            crate::kernel::percent::encode_as_url_parser(s, in_query),
            crate::kernel::percent::encode_url_data(s, in_query),
        ] {
            if sent != s && sent != escaped && sent != encoded && !out[first..].contains(&sent) {
                out.push(sent);
            }
        }
    }
    // Without the space or line break around it (`echo … | wrangler secret put` keeps the
    // line break): a URL or header value is sent trimmed, and so holds the secret that way.
    let trimmed = s.trim();
    if trimmed != s && trimmed.len() >= crate::kernel::redact::MIN_SECRET_LEN {
        push_forms(trimmed, out);
    }
}

/// The text of `s` outside its placeholders, each placeholder written as a space (which no
/// URL holds literally), escapes applied: what the definition itself says.
pub fn literal_text(s: &str) -> String {
    match parse(s) {
        Ok(pieces) => pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Placeholder(_) => " ",
            })
            .collect(),
        Err(_) => s.to_string(),
    }
}

/// Values that are credentials: all strings when `sensitive`, else those under sensitive keys,
/// and, with `look_alikes`, strings that look like one whatever their key
/// ([`looks_like_secret`]); numbers where the stored record hides them too (`numbers`). A
/// string is given in each of its forms ([`push_forms`]).
fn collect_sensitive(
    value: &Value,
    numbers: Numbers<'_>,
    sensitive: bool,
    look_alikes: bool,
    out: &mut Vec<String>,
) {
    // Below a value under a credential name, everything is hidden.
    let below = match numbers {
        Numbers::Kept => Numbers::Kept,
        Numbers::Under(_) | Numbers::Hidden => Numbers::Hidden,
    };
    match value {
        Value::String(s) if sensitive || (look_alikes && looks_like_secret(s)) => {
            push_forms(s, out);
        }
        Value::Number(n) => {
            let hidden = match numbers {
                Numbers::Kept => false,
                Numbers::Under(k) => must_hide(k, value),
                Numbers::Hidden => true,
            };
            if hidden {
                out.push(n.to_string());
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_sensitive(item, below, sensitive, look_alikes, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let numbers = match below {
                    Numbers::Kept if is_sensitive_key(k) => Numbers::Under(k),
                    other => other,
                };
                collect_sensitive(
                    v,
                    numbers,
                    sensitive || is_sensitive_key(k),
                    look_alikes,
                    out,
                );
            }
        }
        _ => {}
    }
}

/// Whether segment `i` of `path` names a header in a map of headers (`request.headers.NAME`,
/// `steps.STEP.headers.NAME`), whose names are read in any letter case.
fn in_header_map(path: &Path, i: usize) -> bool {
    let key = |n: usize| match path.segments.get(n) {
        Some(Segment::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    match key(0) {
        Some("request") => i == 2 && key(1) == Some("headers"),
        Some("steps") => i == 3 && key(2) == Some("headers"),
        _ => false,
    }
}

/// Follows `path` in `context`; the error says which part is missing.
fn resolve<'v>(path: &Path, context: &'v Value) -> Result<&'v Value, String> {
    let mut current = context;
    let mut walked = String::new();
    for (i, segment) in path.segments.iter().enumerate() {
        let next = match (current, segment) {
            (Value::Object(map), seg) => map
                .get(&segment_text(seg))
                // Header names are read in any letter case: `request.headers.X-Api-Key` too.
                .or_else(|| {
                    let name = segment_text(seg);
                    in_header_map(path, i)
                        .then(|| {
                            map.iter()
                                .find(|(k, _)| k.eq_ignore_ascii_case(&name))
                                .map(|(_, v)| v)
                        })
                        .flatten()
                })
                .ok_or_else(|| {
                    let key = segment_text(seg);
                    if i == 0 {
                        let roots: Vec<&str> = map.keys().map(String::as_str).collect();
                        format!(
                        "cannot resolve `{}`: `{key}` is not available in this run (available: {})",
                        path.text,
                        roots.join(", ")
                    )
                    } else {
                        format!(
                            "cannot resolve `{}`: `{walked}` has no field `{key}`{}",
                            path.text,
                            field_hint(map)
                        )
                    }
                })?,
            (Value::Array(items), seg) => {
                let n = match seg {
                    Segment::Index(n) => Some(*n),
                    Segment::Key(k) => k.parse::<usize>().ok(),
                };
                let Some(n) = n else {
                    return Err(format!(
                        "cannot resolve `{}`: `{walked}` is an array, so `{}` must be an index such as `{walked}[0]`",
                        path.text,
                        segment_text(segment)
                    ));
                };
                items.get(n).ok_or_else(|| {
                    format!(
                        "cannot resolve `{}`: `{walked}` has {} item{}, so there is no index {n}",
                        path.text,
                        items.len(),
                        if items.len() == 1 { "" } else { "s" }
                    )
                })?
            }
            (other, seg) => {
                let what = if walked.is_empty() {
                    "the run context".to_string()
                } else {
                    format!("`{walked}`")
                };
                return Err(format!(
                    "cannot resolve `{}`: {what} is {}, so it has no `{}`",
                    path.text,
                    match other {
                        Value::Null => "null".to_string(),
                        v => with_article(type_name(v)),
                    },
                    segment_text(seg)
                ));
            }
        };
        match (current, segment) {
            (Value::Array(_), seg) => walked.push_str(&format!("[{}]", segment_text(seg))),
            (_, seg) if walked.is_empty() => walked.push_str(&segment_text(seg)),
            (_, seg) => {
                walked.push('.');
                walked.push_str(&segment_text(seg));
            }
        }
        current = next;
    }
    Ok(current)
}

/// `a string`, `an integer`.
fn with_article(name: &str) -> String {
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

/// ` (it has: a, b, c)` — up to 10 field names — or ` (it is empty)`.
fn field_hint(map: &serde_json::Map<String, Value>) -> String {
    if map.is_empty() {
        return " (it is empty)".to_string();
    }
    let mut names: Vec<&str> = map.keys().take(10).map(String::as_str).collect();
    if map.len() > 10 {
        names.push("…");
    }
    format!(" (it has: {})", names.join(", "))
}

#[cfg(test)]
mod tests;
