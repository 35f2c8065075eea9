//! Workflow files: JSON or YAML, read into a JSON value together with where every value sits in
//! the text, so that a problem at a definition location (`steps[1].url`) is reported as
//! `file:line:col`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};
use tripline_core::kernel::json_budget::{MAX_DEPTH, MAX_VALUES};
use tripline_core::kernel::problem::{index, join};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Where each value of a document is, by JSON pointer (`""` is the root, `/steps/1/url`). For an
/// object member it is the position of its key; for an array element or the root, its value.
#[derive(Debug, Clone, Default)]
pub struct Positions(HashMap<String, Pos>);

impl Positions {
    pub fn get(&self, pointer: &str) -> Option<Pos> {
        self.0.get(pointer).copied()
    }
}

/// The formats a workflow file can be written in, by extension.
pub const EXTENSIONS: [&str; 3] = ["json", "yaml", "yml"];

/// A workflow file, parsed.
#[derive(Debug, Clone)]
pub struct Document {
    pub path: PathBuf,
    pub value: Value,
    pub positions: Positions,
}

/// A file that could not be read or is not well-formed JSON/YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    /// The definition location the error is at (`trigger.type` for a member given twice),
    /// `None` for the whole file.
    pub location: Option<String>,
}

/// Parses `text` as JSON or YAML, chosen by the extension of `path`.
pub fn parse(path: &Path, text: &str) -> Result<Document, SyntaxError> {
    // A byte order mark (Notepad, PowerShell's `Out-File -Encoding utf8`) is no content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (value, positions) = match extension(path).as_deref() {
        Some("yaml" | "yml") => parse_yaml(text)?,
        _ => parse_json(text)?,
    };
    Ok(Document {
        path: path.to_path_buf(),
        value,
        positions,
    })
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

/// Whether `path` names a workflow file (by extension).
pub fn is_workflow_file(path: &Path) -> bool {
    extension(path).is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
}

/// Escapes a member name for a JSON pointer (RFC 6901).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Parses JSON with serde_json (its errors carry line and column), then walks the text once to
/// record where each value is. A member name given twice in one object is an error at its second
/// occurrence (serde_json would keep the last silently), as a YAML key given twice is.
pub fn parse_json(text: &str) -> Result<(Value, Positions), SyntaxError> {
    let value: Value = serde_json::from_str(text).map_err(|e| SyntaxError {
        pos: Pos {
            line: e.line().max(1),
            col: e.column().max(1),
        },
        message: format!("not valid JSON: {e}"),
        location: None,
    })?;
    let mut scan = JsonScan {
        text: text.as_bytes(),
        at: 0,
        line: 1,
        col: 1,
        out: HashMap::new(),
        duplicate: None,
    };
    scan.value(String::new(), String::new(), None);
    if let Some(e) = scan.duplicate {
        return Err(e);
    }
    Ok((value, Positions(scan.out)))
}

/// A position-recording walk over JSON text that serde_json has already accepted.
struct JsonScan<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
    col: usize,
    out: HashMap<String, Pos>,
    /// The first member name given twice in one object.
    duplicate: Option<SyntaxError>,
}

impl JsonScan<'_> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn bump(&mut self) {
        if let Some(b) = self.peek() {
            self.at += 1;
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                // Columns count characters: continuation bytes of UTF-8 do not advance.
                self.col += 1;
            }
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.bump();
        }
    }

    /// The raw text of a string token, quotes included; the cursor ends after it.
    fn string(&mut self) -> String {
        let start = self.at;
        self.bump(); // opening quote
        while let Some(b) = self.peek() {
            self.bump();
            match b {
                b'\\' => self.bump(),
                b'"' => break,
                _ => {}
            }
        }
        let raw = String::from_utf8_lossy(&self.text[start..self.at]).into_owned();
        serde_json::from_str::<String>(&raw).unwrap_or(raw)
    }

    /// The value at `pointer`, whose definition location is `location` (`steps[0].url`).
    fn value(&mut self, pointer: String, location: String, key_pos: Option<Pos>) {
        self.ws();
        self.out
            .insert(pointer.clone(), key_pos.unwrap_or(self.pos()));
        match self.peek() {
            Some(b'{') => {
                self.bump();
                let mut names = std::collections::HashSet::new();
                loop {
                    self.ws();
                    match self.peek() {
                        Some(b'"') => {
                            let at = self.pos();
                            let key = self.string();
                            let member = join(&location, &key);
                            if !names.insert(key.clone()) && self.duplicate.is_none() {
                                self.duplicate = Some(SyntaxError {
                                    pos: at,
                                    message: format!("member `{key}` appears twice in this object"),
                                    location: Some(member.clone()),
                                });
                            }
                            self.ws();
                            self.bump(); // ':'
                            self.value(format!("{pointer}/{}", escape(&key)), member, Some(at));
                            self.ws();
                            if self.peek() == Some(b',') {
                                self.bump();
                            }
                        }
                        Some(_) => {
                            self.bump(); // '}'
                            return;
                        }
                        None => return,
                    }
                }
            }
            Some(b'[') => {
                self.bump();
                let mut i = 0;
                loop {
                    self.ws();
                    match self.peek() {
                        Some(b']') => {
                            self.bump();
                            return;
                        }
                        Some(_) => {
                            self.value(format!("{pointer}/{i}"), index(&location, i), None);
                            i += 1;
                            self.ws();
                            if self.peek() == Some(b',') {
                                self.bump();
                            }
                        }
                        None => return,
                    }
                }
            }
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n')
                ) {
                    self.bump();
                }
            }
            None => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// YAML

/// Parses a YAML file of one document into a JSON value (YAML 1.2 core schema for plain scalars:
/// `null`/`~`, `true`/`false`, integers and floats; everything quoted is a string; the core
/// schema's tags `!!str`, `!!int`, `!!float`, `!!bool` and `!!null` say which a scalar is, and
/// any other tag is an error), recording the position of each key and value. A second document (after `---`) is an error: one workflow
/// per file, and nothing in a file is left unread. Lists and mappings nested more than
/// [`MAX_DEPTH`] levels deep, or more than [`MAX_VALUES`] values, are an error where they go
/// over, as the server refuses them; an alias counts as deep and as many as what it copies, so a
/// few lines of aliases of aliases cannot grow into gigabytes.
pub fn parse_yaml(text: &str) -> Result<(Value, Positions), SyntaxError> {
    let mut b = YamlBuilder::default();
    let mut parser = Parser::new_from_str(text);
    // Event by event rather than with `Parser::load`, which recurses once per level of nesting
    // (200 000 nested lists overflow the stack): the builder's first error ends the reading.
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line().max(1),
                col: e.marker().col() + 1,
            },
            message: format!("not valid YAML: {}", e.info()),
            location: None,
        })?;
        let end = ev == Event::StreamEnd;
        b.on_event(ev, mark);
        if let Some(message) = b.error.take() {
            return Err(SyntaxError {
                pos: b.error_pos,
                message,
                location: b.error_location.take(),
            });
        }
        if end {
            return Ok((b.root.unwrap_or(Value::Null), Positions(b.positions)));
        }
    }
}

/// The error for more values than [`MAX_VALUES`].
fn too_many(alias: Option<usize>) -> String {
    let copies = alias.map_or(String::new(), |n| {
        format!("this alias copies {n} values, making ")
    });
    format!(
        "{copies}more than {MAX_VALUES} values (list items and mapping values, aliases \
         expanded); the server refuses larger definitions"
    )
}

/// The error for nesting past [`MAX_DEPTH`].
fn too_deep() -> String {
    format!(
        "nested more than {MAX_DEPTH} levels deep (lists and mappings inside each other, the \
         file's top level included); the server refuses deeper definitions"
    )
}

/// One open collection while building.
enum Frame {
    Seq {
        pointer: String,
        items: Vec<Value>,
        anchor: usize,
        /// The most levels of lists and mappings in one item so far.
        below: usize,
        /// The count of values read when this one began (itself included).
        first: usize,
    },
    Map {
        pointer: String,
        map: Map<String, Value>,
        /// The key read, waiting for its value (with where it was).
        key: Option<(String, Pos)>,
        anchor: usize,
        below: usize,
        first: usize,
    },
}

/// A value an anchor names, with its levels of lists and mappings (0 for a scalar) and how many
/// values it holds (itself included).
struct Anchored {
    value: Value,
    levels: usize,
    values: usize,
}

#[derive(Default)]
struct YamlBuilder {
    stack: Vec<Frame>,
    root: Option<Value>,
    anchors: HashMap<usize, Anchored>,
    positions: HashMap<String, Pos>,
    /// Documents begun so far.
    documents: usize,
    /// Values read so far (scalars, lists and mappings; an alias as many as it copies).
    values: usize,
    error: Option<String>,
    error_pos: Pos,
    /// The definition location of the error, when it is at one.
    error_location: Option<String>,
}

impl Default for Pos {
    fn default() -> Self {
        Pos { line: 1, col: 1 }
    }
}

fn pos_of(mark: Marker) -> Pos {
    Pos {
        line: mark.line().max(1),
        col: mark.col() + 1,
    }
}

impl YamlBuilder {
    fn fail(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
            self.error_pos = pos;
        }
    }

    /// The definition location of the key `key` in the mapping on top (`steps[1].headers.a`).
    fn key_location(&self, key: &str) -> String {
        let mut location = String::new();
        for (parent, child) in self.stack.iter().zip(self.stack.iter().skip(1)) {
            let child = match child {
                Frame::Seq { pointer, .. } | Frame::Map { pointer, .. } => pointer,
            };
            let segment = child.rsplit('/').next().unwrap_or_default();
            location = match parent {
                Frame::Seq { .. } => format!("{location}[{segment}]"),
                Frame::Map { .. } => {
                    join(&location, &segment.replace("~1", "/").replace("~0", "~"))
                }
            };
        }
        join(&location, key)
    }

    /// The pointer of the next value and, for a mapping, takes its pending key. `None` when the
    /// next scalar is a mapping key rather than a value.
    fn next_pointer(&mut self, pos: Pos) -> Option<String> {
        match self.stack.last_mut() {
            None => {
                self.positions.insert(String::new(), pos);
                Some(String::new())
            }
            Some(Frame::Seq { pointer, items, .. }) => {
                let p = format!("{pointer}/{}", items.len());
                self.positions.insert(p.clone(), pos);
                Some(p)
            }
            Some(Frame::Map { pointer, key, .. }) => {
                let (k, _) = key.as_ref()?;
                Some(format!("{pointer}/{}", escape(k)))
            }
        }
    }

    /// Adds a finished value of `levels` levels of lists and mappings to the collection on top
    /// (or makes it the root).
    fn push(&mut self, value: Value, levels: usize) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(value);
                }
            }
            Some(Frame::Seq { items, below, .. }) => {
                *below = (*below).max(levels);
                items.push(value);
            }
            Some(Frame::Map {
                map, key, below, ..
            }) => {
                *below = (*below).max(levels);
                if let Some((k, _)) = key.take() {
                    map.insert(k, value);
                }
            }
        }
    }

    /// Counts `n` more values; false (after failing) when that is more than the server takes.
    /// The server counts each list and mapping and each item after the first, which is at least
    /// every value but the top one.
    fn count(&mut self, n: usize, pos: Pos, alias: bool) -> bool {
        self.values = self.values.saturating_add(n);
        if self.values - 1 > MAX_VALUES {
            self.fail(pos, too_many(alias.then_some(n)));
            return false;
        }
        true
    }

    /// Whether the top is a mapping waiting for a key.
    fn wants_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

/// What `!!name` stands for: the tags of the YAML core schema.
const CORE_SCHEMA: &str = "tag:yaml.org,2002:";

/// A tag as written in the file (`!!str`, `!custom`).
fn written(tag: &Tag) -> String {
    if tag.handle == CORE_SCHEMA {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// Whether `tag` is none or the core schema's `!!name`.
fn untagged_or(tag: &Option<Tag>, name: &str) -> bool {
    tag.as_ref()
        .is_none_or(|t| t.handle == CORE_SCHEMA && t.suffix == name)
}

/// The error for a tag that is not taken where it is.
fn unsupported(tag: &Tag, here: &str) -> String {
    format!(
        "tag `{}` is not supported {here}: a workflow file takes the YAML core schema's `!!str`, \
         `!!int`, `!!float`, `!!bool` and `!!null` on scalars (and `!!seq` on lists, `!!map` on \
         mappings)",
        written(tag)
    )
}

/// A scalar's value: by its tag when it has one (an error when the text is not of that type),
/// else by the core schema's rules for plain scalars.
fn tagged_scalar(text: &str, style: TScalarStyle, tag: &Option<Tag>) -> Result<Value, String> {
    let Some(tag) = tag else {
        return Ok(scalar(text, style));
    };
    let name = if tag.handle == CORE_SCHEMA {
        tag.suffix.as_str()
    } else {
        ""
    };
    let not = |what: &str| format!("`{text}` is not {what} (tagged `!!{name}`)");
    match name {
        "str" => Ok(Value::String(text.to_string())),
        "int" => integer(text)
            .map(Value::Number)
            .ok_or_else(|| not("an integer")),
        "float" => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| not("a finite number")),
        "bool" => match boolean(text) {
            Some(b) => Ok(Value::Bool(b)),
            None => Err(not("true or false")),
        },
        "null" if is_null(text) => Ok(Value::Null),
        "null" => Err(not("null")),
        _ => Err(unsupported(tag, "on a scalar")),
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A decimal integer: signed when it fits 64 bits, else unsigned up to `u64::MAX` (as a JSON
/// file's would be read).
fn integer(text: &str) -> Option<Number> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(n.into());
    }
    text.parse::<u64>().ok().map(Number::from)
}

fn scalar(text: &str, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    if is_null(text) {
        return Value::Null;
    }
    if let Some(b) = boolean(text) {
        return Value::Bool(b);
    }
    if let Some(n) = integer(text) {
        return Value::Number(n);
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if numeric {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

impl MarkedEventReceiver for YamlBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = pos_of(mark);
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(
                        pos,
                        "a second YAML document starts here; a file holds one workflow".into(),
                    );
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if self.wants_key() {
                    if let Some(tag) = tag.as_ref().filter(|_| !untagged_or(&tag, "str")) {
                        let message = format!(
                            "tag `{}` is not taken on a mapping key: a key is a string, only \
                             `!!str` may tag it",
                            written(tag)
                        );
                        self.fail(pos, message);
                        return;
                    }
                    if text == "<<" && style == TScalarStyle::Plain && tag.is_none() {
                        let message = "merge keys (`<<: *name`) are not read: write the fields \
                                       out in this mapping"
                            .to_string();
                        self.fail(pos, message);
                        return;
                    }
                    if let Some(Frame::Map {
                        pointer, map, key, ..
                    }) = self.stack.last_mut()
                    {
                        if map.contains_key(&text) {
                            let message = format!("key `{text}` appears twice in this mapping");
                            if self.error.is_none() {
                                self.error_location = Some(self.key_location(&text));
                            }
                            self.fail(pos, message);
                            return;
                        }
                        // A block mapping's start is reported late; its first key is where it begins.
                        if map.is_empty() {
                            let start = self.positions.entry(pointer.clone()).or_insert(pos);
                            if (start.line, start.col) > (pos.line, pos.col) {
                                *start = pos;
                            }
                        }
                        let p = format!("{pointer}/{}", escape(&text));
                        self.positions.insert(p, pos);
                        *key = Some((text, pos));
                    }
                    return;
                }
                if !self.count(1, pos, false) {
                    return;
                }
                let value = match tagged_scalar(&text, style, &tag) {
                    Ok(value) => value,
                    Err(message) => return self.fail(pos, message),
                };
                if anchor > 0 {
                    let value = value.clone();
                    let anchored = Anchored {
                        value,
                        levels: 0,
                        values: 1,
                    };
                    self.anchors.insert(anchor, anchored);
                }
                self.next_pointer(pos);
                self.push(value, 0);
            }
            Event::Alias(id) => {
                if self.wants_key() {
                    self.fail(pos, "an alias cannot be a mapping key here".into());
                    return;
                }
                let (levels, values) = self
                    .anchors
                    .get(&id)
                    .map_or((0, 1), |a| (a.levels, a.values));
                if self.stack.len() + levels > MAX_DEPTH {
                    self.fail(pos, too_deep());
                    return;
                }
                if !self.count(values, pos, true) {
                    return;
                }
                let value = self
                    .anchors
                    .get(&id)
                    .map_or(Value::Null, |a| a.value.clone());
                self.next_pointer(pos);
                self.push(value, levels);
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                let (name, here) = match ev {
                    Event::SequenceStart(..) => ("seq", "on a list"),
                    _ => ("map", "on a mapping"),
                };
                if let Some(tag) = tag.as_ref().filter(|_| !untagged_or(tag, name)) {
                    self.fail(pos, unsupported(tag, here));
                    return;
                }
                if self.wants_key() {
                    // `message: {{run.id}}` unquoted: `{{` opens a mapping whose first key is
                    // another mapping.
                    let depth = self.stack.len();
                    let message = match (&ev, self.stack.last()) {
                        (Event::MappingStart(..), Some(Frame::Map { pointer, map, .. }))
                            if map.is_empty() =>
                        {
                            // Written as it stands: a list item, a field, or the whole file.
                            let quoted = "\"{{…}}\"";
                            let written = match depth.checked_sub(2).map(|i| &self.stack[i]) {
                                Some(Frame::Seq { .. }) => format!("- {quoted}"),
                                Some(Frame::Map { .. }) => {
                                    let field = pointer.rsplit('/').next().unwrap_or_default();
                                    let field = field.replace("~1", "/").replace("~0", "~");
                                    format!("{field}: {quoted}")
                                }
                                None => quoted.to_string(),
                            };
                            format!(
                                "`{{{{` starts a YAML mapping here: a template is text, so quote \
                                 it (`{written}`)"
                            )
                        }
                        _ => "a mapping key must be a plain string, not a list or mapping".into(),
                    };
                    self.fail(pos, message);
                    return;
                }
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(pos, too_deep());
                    return;
                }
                if !self.count(1, pos, false) {
                    return;
                }
                let first = self.values;
                let pointer = self.next_pointer(pos).unwrap_or_default();
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        pointer,
                        items: Vec::new(),
                        anchor,
                        below: 0,
                        first,
                    }
                } else {
                    Frame::Map {
                        pointer,
                        map: Map::new(),
                        key: None,
                        anchor,
                        below: 0,
                        first,
                    }
                };
                self.stack.push(frame);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, below, first) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        anchor,
                        below,
                        first,
                        ..
                    }) => (Value::Array(items), anchor, below, first),
                    Some(Frame::Map {
                        map,
                        anchor,
                        below,
                        first,
                        ..
                    }) => (Value::Object(map), anchor, below, first),
                    None => return,
                };
                let levels = below + 1;
                if anchor > 0 {
                    let anchored = Anchored {
                        value: value.clone(),
                        levels,
                        values: self.values - first + 1,
                    };
                    self.anchors.insert(anchor, anchored);
                }
                self.push(value, levels);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Definition locations → JSON pointers

/// Turns a definition location (`steps[1].url`, `trigger.request.headers[0].name`, `$`) into the
/// JSON pointer of the deepest part of `value` it reaches. A location whose last part does not
/// exist (a required field that is missing) gives its parent, where the field belongs. Member
/// names with dots (`headers.x.y`) are matched against the actual keys.
pub fn location_to_pointer(value: &Value, location: &str) -> String {
    let mut pointer = String::new();
    if location.is_empty() || location == "$" {
        return pointer;
    }
    let parts = split_location(location);
    let mut current = value;
    let mut i = 0;
    while i < parts.len() {
        match (&parts[i], current) {
            (Part::Index(n), Value::Array(items)) => match items.get(*n) {
                Some(next) => {
                    pointer.push_str(&format!("/{n}"));
                    current = next;
                    i += 1;
                }
                None => break,
            },
            (Part::Key(_), Value::Object(map)) => {
                // The longest run of dot-separated names that is a member (names may hold dots).
                let mut found = None;
                let mut name = String::new();
                for (j, part) in parts.iter().enumerate().skip(i) {
                    let Part::Key(k) = part else { break };
                    if j > i {
                        name.push('.');
                    }
                    name.push_str(k);
                    if map.contains_key(&name) {
                        found = Some((j, name.clone()));
                    }
                }
                match found {
                    Some((j, name)) => {
                        pointer.push('/');
                        pointer.push_str(&escape(&name));
                        current = &map[&name];
                        i = j + 1;
                    }
                    None => break,
                }
            }
            _ => break,
        }
    }
    pointer
}

#[derive(Debug, PartialEq)]
enum Part {
    Key(String),
    Index(usize),
}

fn split_location(location: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    for segment in location.split('.') {
        let mut rest = segment;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                parts.push(Part::Key(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else {
                    break;
                };
                match stripped[..close].parse() {
                    Ok(n) => parts.push(Part::Index(n)),
                    Err(_) => parts.push(Part::Key(stripped[..close].to_string())),
                }
                rest = &stripped[close + 1..];
            }
        } else {
            parts.push(Part::Key(rest.to_string()));
        }
    }
    parts
}

/// Where a definition location is in a document: the pointer it resolves to and its position.
pub fn locate(doc: &Document, location: &str) -> Pos {
    let pointer = location_to_pointer(&doc.value, location);
    doc.positions.get(&pointer).unwrap_or_default()
}

#[cfg(test)]
mod tests;
