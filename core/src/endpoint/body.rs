//! Request bodies of the endpoint trigger, read by their Content-Type into JSON so that
//! steps can reach into them (`{{request.body.email}}`) whatever the sender posted.
//!
//! | Content-Type | becomes |
//! |---|---|
//! | `application/json`, `application/*+json` | the JSON value |
//! | `application/x-www-form-urlencoded` | object of strings; a repeated key → array of strings |
//! | `multipart/form-data` | object of text fields (strings, repeated → array); a file part → `{filename, content_type, size}` (content not kept) |
//! | `text/*` | a JSON string |
//! | none | JSON if it parses, else text if UTF-8 |
//! | anything else | [`BodyError::Unsupported`] (the caller answers 415) |
//!
//! An empty body is always [`BodyKind::Empty`] with `null`, whatever the Content-Type.
//! Text is read as UTF-8 (a `charset` parameter is not converted); a UTF-8 byte-order mark
//! before JSON is skipped. Every function here is total: any bytes give `Ok` or `Err`.

use crate::kernel::hex;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// The media types a body can have, for the 415 answer (`Accept`-like list).
pub const SUPPORTED_CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "application/*+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/*",
];

/// The longest boundary RFC 2046 allows.
const MAX_BOUNDARY_LEN: usize = 70;
/// The values a multipart file part becomes: `{filename, content_type, size}`.
const FILE_PART_VALUES: usize = 4;

/// Which reading produced the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyKind {
    Json,
    Form,
    Multipart,
    Text,
    Empty,
}

impl BodyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BodyKind::Json => "json",
            BodyKind::Form => "form",
            BodyKind::Multipart => "multipart",
            BodyKind::Text => "text",
            BodyKind::Empty => "empty",
        }
    }
}

/// A request body as JSON, with how it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBody {
    pub kind: BodyKind,
    pub value: Value,
}

/// Why a body could not be read. All but `Unsupported` are the sender's malformed body
/// (400 at location `body`); `Unsupported` is a Content-Type we do not read (415).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not valid JSON; `line` and `column` are 1-based, as serde_json counts them.
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
    },
    /// A urlencoded form that does not decode to UTF-8.
    InvalidForm { message: String },
    /// A form with more values than a JSON body may have (413): a urlencoded field is one value
    /// (such a form is never parsed), a multipart text field one and a file part four (parsing
    /// stops there).
    TooManyFields { limit: usize },
    /// A multipart body that does not follow RFC 7578 (or its Content-Type lacks a boundary).
    InvalidMultipart { message: String },
    /// A text body that is not UTF-8.
    InvalidText { message: String },
    /// A JSON body over the parsing budget (see `kernel::json_budget`): too many values (413)
    /// or nested too deep (400). It is never parsed.
    OverBudget(crate::kernel::json_budget::OverBudget),
    /// A Content-Type we do not read; `None` when there was none and the bytes are neither
    /// JSON nor UTF-8 text.
    Unsupported { content_type: Option<String> },
    /// Text (a text body, form values) that grows past [`MAX_BODY_AS_JSON`] when written as
    /// JSON, as a run keeps it: a control character takes six bytes there (`\u0001`). (413)
    TooLargeAsJson { bytes: usize },
    /// A body sent compressed (`Content-Encoding: gzip`, …): bodies are read as sent. (415)
    Encoded { encoding: String },
}

/// Most bytes a body that is not JSON may take written as JSON. Its copies while a run is
/// recorded must fit the isolate's 128 MB: ten MiB of control characters would be 60 MiB as
/// JSON, several times over.
pub const MAX_BODY_AS_JSON: usize = 12 * 1024 * 1024;

/// An upper bound of `value`'s size written as compact JSON, counted without writing it.
fn size_as_json(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + escapes(s) + 2,
        Value::Array(a) => a.iter().map(|v| size_as_json(v) + 1).sum::<usize>() + 2,
        Value::Object(m) => {
            m.iter()
                .map(|(k, v)| k.len() + escapes(k) + 4 + size_as_json(v))
                .sum::<usize>()
                + 2
        }
        // A number, a boolean or null.
        _ => 24,
    }
}

/// The bytes JSON's escapes add to `s`.
fn escapes(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum()
}

impl BodyError {
    /// Whether this is a 415 (unsupported media type) rather than a 400.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            BodyError::Unsupported { .. } | BodyError::Encoded { .. }
        )
    }

    /// The HTTP status to answer: 415 unsupported, 413 too many values, else 400.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::Unsupported { .. } | BodyError::Encoded { .. } => 415,
            BodyError::OverBudget(crate::kernel::json_budget::OverBudget::TooManyValues {
                ..
            })
            | BodyError::TooManyFields { .. }
            | BodyError::TooLargeAsJson { .. } => 413,
            _ => 400,
        }
    }

    /// The problem+json location: the header of a 415, `body` otherwise.
    pub fn location(&self) -> &'static str {
        match self {
            BodyError::Encoded { .. } => "header.content-encoding",
            BodyError::Unsupported { .. } => "header.content-type",
            _ => "body",
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::InvalidJson {
                line,
                column,
                message,
            } => write!(f, "invalid JSON at line {line}, column {column}: {message}"),
            BodyError::OverBudget(e) => write!(f, "{e}"),
            BodyError::TooManyFields { limit } => write!(
                f,
                "the form has more than {limit} values (a field counts one, a file part \
                 {FILE_PART_VALUES}); send fewer per request"
            ),
            BodyError::TooLargeAsJson { bytes } => write!(
                f,
                "the body is about {bytes} bytes written as JSON, as a run keeps it (a control \
                 character takes six); at most {MAX_BODY_AS_JSON} are taken"
            ),
            BodyError::InvalidForm { message }
            | BodyError::InvalidMultipart { message }
            | BodyError::InvalidText { message } => f.write_str(message),
            BodyError::Unsupported {
                content_type: Some(ct),
            } => write!(
                f,
                "Content-Type `{ct}` is not supported; send one of: {}",
                SUPPORTED_CONTENT_TYPES.join(", ")
            ),
            BodyError::Encoded { encoding } => write!(
                f,
                "Content-Encoding `{encoding}` is not decoded: bodies are read as sent; send \
                 the body uncompressed, without Content-Encoding"
            ),
            BodyError::Unsupported { content_type: None } => write!(
                f,
                "the body has no Content-Type and is neither JSON nor UTF-8 text; \
                 send a Content-Type, one of: {}",
                SUPPORTED_CONTENT_TYPES.join(", ")
            ),
        }
    }
}

impl std::error::Error for BodyError {}

/// The content codings a body may be compressed with (RFC 9110's registry and the common ones).
const COMPRESSIONS: [&str; 7] = [
    "gzip",
    "x-gzip",
    "deflate",
    "br",
    "zstd",
    "compress",
    "x-compress",
];

/// Refuses a body sent compressed: a `Content-Encoding` naming a compression on a body that is
/// not empty (its bytes would be read as the Content-Type's, and fail or, as text, be kept as
/// garbage). Other values (`identity`, or a charset some senders put there, `UTF-8`) say
/// nothing of the bytes and are let through.
pub fn refuse_encoded(content_encoding: Option<&str>, raw: &[u8]) -> Result<(), BodyError> {
    let Some(header) = content_encoding.filter(|_| !raw.is_empty()) else {
        return Ok(());
    };
    let compressed = header
        .split(',')
        .map(str::trim)
        .any(|c| COMPRESSIONS.iter().any(|k| c.eq_ignore_ascii_case(k)));
    if compressed {
        return Err(BodyError::Encoded {
            encoding: header.trim().to_string(),
        });
    }
    Ok(())
}

/// Reads `raw` according to `content_type` (the request's Content-Type header, if any).
pub fn parse_body(content_type: Option<&str>, raw: &[u8]) -> Result<ParsedBody, BodyError> {
    let parsed = read_body(content_type, raw)?;
    // JSON comes written as JSON already; text and form values may grow.
    if parsed.kind != BodyKind::Json {
        let bytes = size_as_json(&parsed.value);
        if bytes > MAX_BODY_AS_JSON {
            return Err(BodyError::TooLargeAsJson { bytes });
        }
    }
    Ok(parsed)
}

fn read_body(content_type: Option<&str>, raw: &[u8]) -> Result<ParsedBody, BodyError> {
    if raw.is_empty() {
        return Ok(ParsedBody {
            kind: BodyKind::Empty,
            value: Value::Null,
        });
    }
    let content_type = content_type.map(str::trim).filter(|ct| !ct.is_empty());
    let Some(header) = content_type else {
        return sniff(raw);
    };
    let unsupported = || BodyError::Unsupported {
        content_type: Some(header.to_string()),
    };
    let media = MediaType::parse(header).ok_or_else(unsupported)?;
    let essence = media.essence.as_str();
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok(ParsedBody {
            kind: BodyKind::Json,
            value: parse_json(raw)?,
        });
    }
    match essence {
        "application/x-www-form-urlencoded" => Ok(ParsedBody {
            kind: BodyKind::Form,
            value: parse_form(raw)?,
        }),
        "multipart/form-data" => {
            let boundary = media
                .param("boundary")
                .ok_or_else(|| BodyError::InvalidMultipart {
                    message: "Content-Type multipart/form-data has no `boundary` parameter"
                        .to_string(),
                })?;
            Ok(ParsedBody {
                kind: BodyKind::Multipart,
                value: parse_multipart(raw, boundary)?,
            })
        }
        _ if essence.starts_with("text/") => Ok(ParsedBody {
            kind: BodyKind::Text,
            value: Value::String(utf8_text(raw)?),
        }),
        _ => Err(unsupported()),
    }
}

/// No Content-Type: JSON if it parses, else UTF-8 text, else unsupported. An array or object
/// over the JSON budget is refused as JSON would be, not taken as text.
fn sniff(raw: &[u8]) -> Result<ParsedBody, BodyError> {
    match parse_json(raw) {
        Ok(value) => {
            return Ok(ParsedBody {
                kind: BodyKind::Json,
                value,
            })
        }
        Err(e @ BodyError::OverBudget(_)) => {
            let bytes = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
            if matches!(
                bytes.iter().find(|b| !b.is_ascii_whitespace()),
                Some(b'[' | b'{')
            ) {
                return Err(e);
            }
        }
        Err(_) => {}
    }
    match std::str::from_utf8(raw) {
        Ok(text) => Ok(ParsedBody {
            kind: BodyKind::Text,
            value: Value::String(text.to_string()),
        }),
        Err(_) => Err(BodyError::Unsupported { content_type: None }),
    }
}

fn parse_json(raw: &[u8]) -> Result<Value, BodyError> {
    let bytes = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    crate::kernel::json_budget::check(bytes).map_err(BodyError::OverBudget)?;
    // A sender's string cut inside an emoji (`"\ud83d"`, as JavaScript writes it) would refuse
    // the whole delivery, which the sender then retries in vain: it is kept, the half character
    // written as U+FFFD. Each escape keeps its length, so error positions do not move.
    let bytes = crate::kernel::lone_surrogates::replace_lone_surrogates(bytes);
    serde_json::from_slice(&bytes).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        BodyError::InvalidJson {
            line,
            column,
            message,
        }
    })
}

fn utf8_text(raw: &[u8]) -> Result<String, BodyError> {
    std::str::from_utf8(raw)
        .map(str::to_string)
        .map_err(|e| BodyError::InvalidText {
            message: format!(
                "is not valid UTF-8 (first invalid byte at offset {}): a text body is read as \
                 UTF-8, whatever charset its Content-Type names",
                e.valid_up_to()
            ),
        })
}

// ---------------------------------------------------------------------------------------
// Media types and header parameters
// ---------------------------------------------------------------------------------------

/// A parsed Content-Type: lowercase `type/subtype` and its parameters (names lowercase).
#[derive(Debug, Clone, PartialEq, Eq)]
struct MediaType {
    essence: String,
    params: Vec<(String, String)>,
}

impl MediaType {
    /// `None` when the value is not `type/subtype` made of token characters.
    fn parse(header: &str) -> Option<MediaType> {
        let (first, params) = split_header_value(header);
        let (ty, sub) = first.split_once('/')?;
        if !is_token(ty) || !is_token(sub) {
            return None;
        }
        Some(MediaType {
            essence: first.to_ascii_lowercase(),
            params,
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// RFC 9110 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Splits `first; a=b; c="d;e"` into `first` (trimmed) and its parameters, names lowercased.
/// Quoted values may contain `;`; inside them `\"` and `\\` are escapes and any other
/// backslash is kept (browsers send Windows paths unescaped). Never fails: junk is skipped.
fn split_header_value(value: &str) -> (String, Vec<(String, String)>) {
    let mut chars = value.chars().peekable();
    let mut first = String::new();
    while let Some(&c) = chars.peek() {
        if c == ';' {
            break;
        }
        first.push(c);
        chars.next();
    }
    let mut params = Vec::new();
    loop {
        // Skip separators and whitespace before a name.
        while matches!(chars.peek(), Some(';' | ' ' | '\t')) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let name = name.trim().to_ascii_lowercase();
        let mut val = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while matches!(chars.peek(), Some(' ' | '\t')) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\')) => {
                            if let Some(escaped) = chars.next() {
                                val.push(escaped);
                            }
                        }
                        other => val.push(other),
                    }
                }
                // Anything between the closing quote and the next `;` is ignored.
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    chars.next();
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
                val = val.trim().to_string();
            }
        }
        if !name.is_empty() {
            params.push((name, val));
        }
    }
    (first.trim().to_string(), params)
}

// ---------------------------------------------------------------------------------------
// application/x-www-form-urlencoded
// ---------------------------------------------------------------------------------------

/// WHATWG urlencoded parsing: `&`-separated pairs, `+` is a space, `%XX` a byte; a `%` not
/// followed by two hex digits stays literal (as browsers and servers do). Keys are kept as
/// sent (`tags[]` stays `tags[]`). The decoded bytes must be UTF-8.
fn parse_form(raw: &[u8]) -> Result<Value, BodyError> {
    let limit = crate::kernel::json_budget::MAX_VALUES;
    if raw.split(|b| *b == b'&').filter(|p| !p.is_empty()).count() > limit {
        return Err(BodyError::TooManyFields { limit });
    }
    let mut fields = Map::new();
    for (i, pair) in raw.split(|b| *b == b'&').enumerate() {
        if pair.is_empty() {
            continue;
        }
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or_default(),
                pair.get(eq + 1..).unwrap_or_default(),
            ),
            None => (pair, &[][..]),
        };
        let key = String::from_utf8(crate::kernel::percent::decode_form(key)).map_err(|_| {
            BodyError::InvalidForm {
                message: format!(
                    "form field #{} has a name that is not valid UTF-8 after percent-decoding",
                    i + 1
                ),
            }
        })?;
        let value =
            String::from_utf8(crate::kernel::percent::decode_form(value)).map_err(|_| {
                BodyError::InvalidForm {
                    message: format!(
                    "form field `{key}` has a value that is not valid UTF-8 after percent-decoding"
                ),
                }
            })?;
        insert_repeated(&mut fields, key, Value::String(value));
    }
    Ok(Value::Object(fields))
}

/// Adds a field; a second value for the same name turns it into an array of all values.
fn insert_repeated(fields: &mut Map<String, Value>, key: String, value: Value) {
    match fields.get_mut(&key) {
        None => {
            fields.insert(key, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// multipart/form-data
// ---------------------------------------------------------------------------------------

fn multipart_error(message: impl Into<String>) -> BodyError {
    BodyError::InvalidMultipart {
        message: message.into(),
    }
}

/// First index of `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// RFC 7578 / RFC 2046. Delimiter lines are `--boundary` at the start of the body or of a
/// line; lines may end in CRLF or (leniently) bare LF; preamble and epilogue are ignored.
fn parse_multipart(raw: &[u8], boundary: &str) -> Result<Value, BodyError> {
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN {
        return Err(multipart_error(format!(
            "the multipart boundary must be 1 to {MAX_BOUNDARY_LEN} characters, got {}",
            boundary.len()
        )));
    }
    let delimiter = [b"--", boundary.as_bytes()].concat();
    let line_delimiter = [b"\n", delimiter.as_slice()].concat();
    let first = if raw.starts_with(&delimiter) {
        0
    } else {
        find(raw, &line_delimiter, 0)
            .map(|nl| nl + 1)
            .ok_or_else(|| {
                multipart_error(format!(
                    "the multipart body has no boundary line `--{boundary}`"
                ))
            })?
    };
    let mut cursor = first + delimiter.len();
    let mut fields = Map::new();
    let mut number = 0usize;
    // Held to the JSON body's value budget, like a urlencoded form: a text field is one value,
    // a file part four (its object and three members). Counted before a part is built.
    let limit = crate::kernel::json_budget::MAX_VALUES;
    let mut values = 0usize;
    loop {
        let rest = raw.get(cursor..).unwrap_or_default();
        if rest.starts_with(b"--") {
            return Ok(Value::Object(fields));
        }
        let padding = rest
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        let after_padding = rest.get(padding..).unwrap_or_default();
        let eol = if after_padding.starts_with(b"\r\n") {
            2
        } else if after_padding.starts_with(b"\n") {
            1
        } else if after_padding.is_empty() {
            return Err(multipart_error(format!(
                "the multipart body ends without the closing boundary `--{boundary}--`"
            )));
        } else {
            return Err(multipart_error(format!(
                "boundary line `--{boundary}` must be followed by a line break or `--`"
            )));
        };
        number += 1;
        let part_start = cursor + padding + eol;
        if raw
            .get(part_start..)
            .is_some_and(|r| r.starts_with(&delimiter))
        {
            return Err(multipart_error(format!(
                "part {number} is empty; each part needs `Content-Disposition: form-data; name=\"…\"`"
            )));
        }
        let nl = find(raw, &line_delimiter, part_start).ok_or_else(|| {
            multipart_error(format!(
                "part {number} is not followed by a boundary line; the body must end with `--{boundary}--`"
            ))
        })?;
        let mut part_end = nl;
        if part_end > part_start && raw.get(part_end - 1) == Some(&b'\r') {
            part_end -= 1;
        }
        let part = raw.get(part_start..part_end).unwrap_or_default();
        values += 1;
        if values > limit {
            return Err(BodyError::TooManyFields { limit });
        }
        let (name, value) = parse_part(part, number)?;
        if value.is_object() {
            values += FILE_PART_VALUES - 1;
            if values > limit {
                return Err(BodyError::TooManyFields { limit });
            }
        }
        insert_repeated(&mut fields, name, value);
        cursor = nl + line_delimiter.len();
    }
}

/// Splits a part into its header block and content at the first empty line. A part that
/// has no empty line is all headers with empty content.
fn split_part(part: &[u8]) -> (&[u8], &[u8]) {
    if let Some(rest) = part.strip_prefix(b"\r\n") {
        return (&[], rest);
    }
    if let Some(rest) = part.strip_prefix(b"\n") {
        return (&[], rest);
    }
    let crlf = find(part, b"\r\n\r\n", 0).map(|i| (i, i + 4));
    let lf = find(part, b"\n\n", 0).map(|i| (i, i + 2));
    let split = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match split {
        Some((head_end, body_start)) => (
            part.get(..head_end).unwrap_or_default(),
            part.get(body_start..).unwrap_or_default(),
        ),
        None => (part, &[]),
    }
}

/// One part → (field name, value). Text fields become strings; a part with a `filename`
/// becomes `{filename, content_type, size}` and its content is dropped.
fn parse_part(part: &[u8], number: usize) -> Result<(String, Value), BodyError> {
    let (head, content) = split_part(part);
    let head = String::from_utf8_lossy(head);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: continue the previous header's value.
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(multipart_error(format!(
                "part {number} has a header line without `:`: `{}`",
                truncate(line, 60)
            )));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let disposition = header("content-disposition").ok_or_else(|| {
        multipart_error(format!(
            "part {number} has no Content-Disposition header; each part needs \
             `Content-Disposition: form-data; name=\"…\"`"
        ))
    })?;
    let (kind, params) = split_header_value(disposition);
    if !kind.eq_ignore_ascii_case("form-data") {
        return Err(multipart_error(format!(
            "part {number} has Content-Disposition `{}`; expected `form-data`",
            truncate(&kind, 60)
        )));
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let name = param("name").ok_or_else(|| {
        multipart_error(format!(
            "part {number} has no `name` in its Content-Disposition"
        ))
    })?;
    let filename = param("filename*")
        .and_then(decode_ext_value)
        .or_else(|| param("filename").map(str::to_string));
    let value = match filename {
        Some(filename) => {
            let content_type = header("content-type").unwrap_or("application/octet-stream");
            let mut file = Map::new();
            file.insert("filename".into(), Value::String(filename));
            file.insert(
                "content_type".into(),
                Value::String(content_type.to_string()),
            );
            file.insert("size".into(), Value::from(content.len() as u64));
            Value::Object(file)
        }
        None => {
            let text = std::str::from_utf8(content).map_err(|e| {
                multipart_error(format!(
                    "field `{name}` (part {number}) is not valid UTF-8 (first invalid byte at offset {}); \
                     send binary content as a file part with a filename",
                    e.valid_up_to()
                ))
            })?;
            Value::String(text.to_string())
        }
    };
    Ok((name.to_string(), value))
}

/// RFC 8187 extended value `charset'lang'pct-encoded` (as in `filename*=UTF-8''%E2%82%AC.txt`).
/// UTF-8 and ISO-8859-1 are understood; anything else is ignored (the plain `filename` wins).
fn decode_ext_value(value: &str) -> Option<String> {
    let (charset, rest) = value.split_once('\'')?;
    let (_lang, encoded) = rest.split_once('\'')?;
    let bytes = percent_decode_strict(encoded.as_bytes());
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
        Some(bytes.into_iter().map(char::from).collect())
    } else {
        None
    }
}

/// Percent-decoding without the form rule that `+` is a space.
fn percent_decode_strict(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%' {
            let hi = input.get(i + 1).and_then(|h| hex::digit(*h));
            let lo = input.get(i + 2).and_then(|l| hex::digit(*l));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// At most `max` characters of `s`, for quoting sender input in messages.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", s.get(..at).unwrap_or(s)),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests;
