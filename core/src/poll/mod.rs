//! The event-based (polling) trigger: its definition, validation, and the SQL and HTTP request it
//! needs. Pure: the runtime (`src/sources/`) does the I/O and keeps the cursor (see `cursor.rs`).
//!
//! ```json
//! {"type":"poll","interval_seconds":60,"start":"now",
//!  "source":{"kind":"postgres","connection_env":"PG_URL","table":"public.users","cursor":"id"}}
//! {"type":"poll","source":{"kind":"http","url":"https://api.example.com/items",
//!  "headers":{"authorization":"Bearer {{secrets.API_TOKEN}}"},"items":"/data","id":"/id"}}
//! ```
//!
//! How a poll goes (the runtime's part):
//! - **First poll** = no stored cursor. With `start: "now"` it only records where the source is
//!   (PostgreSQL: run [`PgSource::latest_sql`]; HTTP: `select_new` then `advance` with everything)
//!   and starts no run. With `start: "beginning"` every existing record is new.
//! - **PostgreSQL**: learn the column types once per connection with [`PgSource::column_type_sql`]
//!   and [`PgSource::column_type_params`] → [`PgSource::column_types`]; then
//!   [`PgSource::select_sql`] → for each row [`PgSource::read_row`]; commit the runs; then store
//!   the last row's `position` as the cursor. A full batch (`batch_size` rows) means more may be
//!   waiting: poll again soon.
//! - **HTTP**: [`HttpSource::request`] (fills in `{{secrets.NAME}}`), fetch, then
//!   [`HttpSource::select_new`]; commit the runs; then [`crate::poll::cursor::HttpCursor::advance`].
//! - A failed poll waits [`next_poll_delay_seconds`].
//!
//! SQL identifiers are validated (`[A-Za-z_][A-Za-z0-9_$]*`, at most 63 bytes) and always emitted
//! double-quoted, so they match the catalog exactly (case-sensitive: unquoted names in PostgreSQL
//! are stored lower-case). Values are always bind parameters, sent as text and cast in SQL.
//! Rows whose cursor (or tiebreak) is NULL are never selected: they have no place in the order.

pub mod cursor;
pub mod state;

use std::fmt;

use serde_json::Value;

pub use crate::kernel::names::is_env_name;
use crate::kernel::problem::{join, Errors};
use crate::kernel::reader::{type_name, ObjectReader};
use crate::poll::cursor::{dedup_key, NewRecord, PgCursor};

/// Smallest, default and largest poll interval in seconds.
pub const MIN_INTERVAL_SECONDS: u32 = 5;
pub const DEFAULT_INTERVAL_SECONDS: u32 = 60;
pub const MAX_INTERVAL_SECONDS: u32 = 86_400;
/// Default and largest number of rows one PostgreSQL poll reads.
pub const DEFAULT_BATCH_SIZE: u32 = 500;
pub const MAX_BATCH_SIZE: u32 = 5_000;
/// Default and largest size of the recently-seen id set of an HTTP source in `unique` mode.
pub const DEFAULT_UNIQUE_CAPACITY: usize = 10_000;
pub const MAX_UNIQUE_CAPACITY: usize = 100_000;
/// The longest a failing source waits between polls (unless its interval is longer).
pub const MAX_BACKOFF_SECONDS: u32 = 3_600;
/// PostgreSQL's identifier length limit (NAMEDATALEN - 1).
const MAX_IDENTIFIER_BYTES: usize = 63;
/// Longest type name accepted from the catalog.
const MAX_TYPE_NAME_BYTES: usize = 200;

/// A validated `{"type":"poll", …}` trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollTrigger {
    pub interval_seconds: u32,
    pub start: PollStart,
    pub source: PollSource,
}

/// Where a new deployment starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStart {
    /// Only records that appear after the first poll start runs (the default).
    Now,
    /// Every record already in the source starts a run.
    Beginning,
}

/// What is polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollSource {
    Postgres(PgSource),
    Http(HttpSource),
}

/// A PostgreSQL table read in cursor order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSource {
    pub connection: PgConnection,
    /// `None` = resolved by the connection's `search_path`.
    pub schema: Option<String>,
    pub table: String,
    /// Column whose value only grows for new rows (serial id, `created_at`, …).
    pub cursor: String,
    /// Unique column that orders rows sharing a cursor value (needed for timestamp cursors).
    pub tiebreak: Option<String>,
    /// Columns of the record; `None` = all (`*`). The cursor and tiebreak are always included.
    pub columns: Option<Vec<String>>,
    pub batch_size: u32,
}

/// How the runtime reaches the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgConnection {
    /// Name of a Worker secret/variable holding a `postgres://` URL.
    Env(String),
    /// Name of a Hyperdrive binding.
    Hyperdrive(String),
}

/// An HTTP JSON API returning a list of items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSource {
    /// `http(s)://…`, may contain `{{secrets.NAME}}`.
    pub url: String,
    /// Header name (as written) and value template, in definition order.
    pub headers: Vec<(String, String)>,
    /// JSON pointer to the array of items in the response; `""` = the response itself.
    pub items: String,
    /// JSON pointer to the id inside each item; `""` = the item itself.
    pub id: String,
    pub dedupe: Dedupe,
    /// JSON pointer to an ordering value inside each item (`/updated_at`, `/created`). With
    /// `greatest` it is the high-water mark (default: the id); with `unique` it only sorts.
    pub greatest: Option<String>,
}

/// How an HTTP source tells new items from seen ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedupe {
    /// Remember the last `capacity` ids; an id not among them is new.
    Unique { capacity: usize },
    /// Keep the greatest value seen; items above it (or equal to it with an unseen id) are new.
    Greatest,
}

/// Why a poll could not proceed: a message a person can act on (`Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollError {
    /// The response has no array where `items` points.
    ItemsNotArray { pointer: String, found: String },
    /// An item lacks a usable value at a pointer (`id` or `greatest`).
    BadItem {
        index: usize,
        pointer: String,
        problem: String,
    },
    /// A column type from the catalog that is not safe to put in SQL.
    UnsafeType { name: String, reason: String },
    /// A column the definition names is not in the table.
    MissingColumn { column: String, relation: String },
    /// A row from the select query that does not have the expected shape.
    BadRow { problem: String },
    /// A `{{secrets.NAME}}` the Worker does not have.
    MissingSecret { name: String },
    /// A URL or header template that does not parse (only when built without `parse`).
    BadTemplate { problem: String },
}

impl fmt::Display for PollError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PollError::ItemsNotArray { pointer, found } => write!(
                f,
                "the response has no array at items pointer \"{pointer}\" (found {found})"
            ),
            PollError::BadItem {
                index,
                pointer,
                problem,
            } => write!(f, "item [{index}] at pointer \"{pointer}\": {problem}"),
            PollError::UnsafeType { name, reason } => {
                write!(f, "column type `{name}` is not accepted: {reason}")
            }
            PollError::MissingColumn { column, relation } => {
                write!(f, "column \"{column}\" does not exist in {relation}")
            }
            PollError::BadRow { problem } => write!(f, "unexpected row from the source: {problem}"),
            PollError::BadTemplate { problem } => write!(f, "bad template: {problem}"),
            PollError::MissingSecret { name } => write!(
                f,
                "secret `{name}` is not set on the Worker (wrangler secret put {name})"
            ),
        }
    }
}

impl std::error::Error for PollError {}

impl PollTrigger {
    /// Parses and validates a poll trigger at `location` (usually `"trigger"`), reporting every
    /// problem to `errors`. The caller has already dispatched on `"type"`.
    pub fn parse(value: &Value, location: &str, errors: &mut Errors) -> Option<PollTrigger> {
        let before = errors.len();
        let mut r = ObjectReader::new(value, location, errors);
        if !r.is_object() {
            return None;
        }
        r.raw("type");
        let interval_seconds = r
            .opt_int(
                "interval_seconds",
                i64::from(MIN_INTERVAL_SECONDS),
                i64::from(MAX_INTERVAL_SECONDS),
                errors,
            )
            .map_or(DEFAULT_INTERVAL_SECONDS, |n| n as u32);
        let start = match r.opt_str("start", errors).as_deref() {
            None | Some("now") => PollStart::Now,
            Some("beginning") => PollStart::Beginning,
            Some(other) => {
                errors.push(
                    r.loc("start"),
                    format!("must be \"now\" or \"beginning\", got \"{other}\""),
                );
                PollStart::Now
            }
        };
        let source_loc = r.loc("source");
        let source = r
            .required("source", errors)
            .and_then(|v| parse_source(v, &source_loc, errors));
        r.finish(errors);
        if errors.len() > before {
            return None;
        }
        Some(PollTrigger {
            interval_seconds,
            start,
            source: source?,
        })
    }
}

fn parse_source(value: &Value, location: &str, errors: &mut Errors) -> Option<PollSource> {
    let mut r = ObjectReader::new(value, location, errors);
    if !r.is_object() {
        return None;
    }
    match r.req_str("kind", errors)?.as_str() {
        "postgres" => parse_pg(r, errors).map(PollSource::Postgres),
        "http" => parse_http(r, errors).map(PollSource::Http),
        other => {
            errors.push(
                r.loc("kind"),
                format!("must be \"postgres\" or \"http\", got \"{other}\""),
            );
            None
        }
    }
}

fn parse_pg(mut r: ObjectReader<'_>, errors: &mut Errors) -> Option<PgSource> {
    let before = errors.len();
    let env = r.opt_str("connection_env", errors);
    let hyperdrive = r.opt_str("hyperdrive", errors);
    let connection = match (env, hyperdrive) {
        (Some(name), None) => check_env_name(&name, &r.loc("connection_env"), errors)
            .then_some(PgConnection::Env(name)),
        (None, Some(name)) => check_env_name(&name, &r.loc("hyperdrive"), errors)
            .then_some(PgConnection::Hyperdrive(name)),
        (Some(_), Some(_)) => {
            errors.push(
                r.loc("hyperdrive"),
                "give either `connection_env` or `hyperdrive`, not both",
            );
            None
        }
        (None, None) => {
            errors.push(
                r.loc("connection_env"),
                "is required: the name of a Worker secret holding a postgres:// URL \
                 (or give `hyperdrive`: the name of a Hyperdrive binding)",
            );
            None
        }
    };

    let table_loc = r.loc("table");
    let relation = r
        .req_str("table", errors)
        .and_then(|t| parse_relation(&t, &table_loc, errors));
    let cursor_loc = r.loc("cursor");
    let cursor = r
        .req_str("cursor", errors)
        .filter(|c| check_identifier(c, &cursor_loc, errors));
    let tiebreak_loc = r.loc("tiebreak");
    let tiebreak = r
        .opt_str("tiebreak", errors)
        .filter(|t| check_identifier(t, &tiebreak_loc, errors));
    if let (Some(c), Some(t)) = (&cursor, &tiebreak) {
        if c == t {
            errors.push(
                tiebreak_loc,
                "must be a different column than `cursor` (or leave it out)",
            );
        }
    }
    let columns_loc = r.loc("columns");
    let columns = r.opt_str_list("columns", errors);
    if let Some(cols) = &columns {
        if cols.is_empty() {
            errors.push(
                columns_loc.clone(),
                "must name at least one column (leave it out for all columns)",
            );
        }
        for (i, c) in cols.iter().enumerate() {
            let loc = format!("{columns_loc}[{i}]");
            if check_identifier(c, &loc, errors) && cols[..i].contains(c) {
                errors.push(loc, format!("column \"{c}\" is listed twice"));
            }
        }
    }
    let batch_size = r
        .opt_int("batch_size", 1, i64::from(MAX_BATCH_SIZE), errors)
        .map_or(DEFAULT_BATCH_SIZE, |n| n as u32);
    r.finish(errors);
    if errors.len() > before {
        return None;
    }
    let (schema, table) = relation?;
    Some(PgSource {
        connection: connection?,
        schema,
        table,
        cursor: cursor?,
        tiebreak,
        columns,
        batch_size,
    })
}

fn parse_http(mut r: ObjectReader<'_>, errors: &mut Errors) -> Option<HttpSource> {
    let before = errors.len();
    let url_loc = r.loc("url");
    let url = r.req_str("url", errors);
    if let Some(u) = &url {
        check_url(u, &url_loc, errors);
    }
    let headers_loc = r.loc("headers");
    let headers = match r.raw("headers") {
        None => Vec::new(),
        Some(Value::Object(map)) => {
            let mut out = Vec::new();
            for (name, v) in map {
                let loc = join(&headers_loc, name);
                if !is_header_name(name) {
                    errors.push(
                        loc.clone(),
                        format!("`{name}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"),
                    );
                }
                if out
                    .iter()
                    .any(|(n, _): &(String, String)| n.eq_ignore_ascii_case(name))
                {
                    errors.push(
                        loc.clone(),
                        format!("header `{name}` is given twice (names are case-insensitive)"),
                    );
                }
                match v {
                    Value::String(s) => {
                        if s.contains(['\r', '\n', '\0']) {
                            errors.push(loc.clone(), "must not contain line breaks");
                        }
                        check_template(s, &loc, errors);
                        out.push((name.clone(), s.clone()));
                    }
                    other => {
                        errors.push(loc, format!("must be a string, got {}", type_name(other)))
                    }
                }
            }
            out
        }
        Some(other) => {
            errors.push(
                headers_loc,
                format!(
                    "must be an object of header name to value, got {}",
                    type_name(other)
                ),
            );
            Vec::new()
        }
    };
    let items = read_pointer(&mut r, "items", "", errors);
    let id = read_pointer(&mut r, "id", "/id", errors);
    let dedupe_loc = r.loc("dedupe");
    let dedupe = r.opt_str("dedupe", errors);
    let capacity_loc = r.loc("unique_capacity");
    let capacity = r.opt_int("unique_capacity", 1, MAX_UNIQUE_CAPACITY as i64, errors);
    let greatest = r
        .raw("greatest")
        .is_some()
        .then(|| read_pointer(&mut r, "greatest", "", errors));
    let dedupe = match dedupe.as_deref() {
        None | Some("unique") => Dedupe::Unique {
            capacity: capacity.map_or(DEFAULT_UNIQUE_CAPACITY, |n| n as usize),
        },
        Some("greatest") => {
            if capacity.is_some() {
                errors.push(capacity_loc, "only applies when `dedupe` is \"unique\"");
            }
            Dedupe::Greatest
        }
        Some(other) => {
            errors.push(
                dedupe_loc,
                format!("must be \"unique\" or \"greatest\", got \"{other}\""),
            );
            Dedupe::Greatest
        }
    };
    r.finish(errors);
    if errors.len() > before {
        return None;
    }
    Some(HttpSource {
        url: url?,
        headers,
        items,
        id,
        dedupe,
        greatest,
    })
}

/// Reads an optional JSON pointer field (default `default`), reporting an invalid one.
fn read_pointer(
    r: &mut ObjectReader<'_>,
    key: &'static str,
    default: &str,
    errors: &mut Errors,
) -> String {
    let loc = r.loc(key);
    match r.opt_str(key, errors) {
        None => default.to_string(),
        Some(p) => {
            if let Err(why) = check_json_pointer(&p) {
                errors.push(loc, why);
            }
            p
        }
    }
}

/// Checks RFC 6901 syntax: `""`, or `/`-separated tokens where `~` is only `~0` or `~1`.
pub fn check_json_pointer(pointer: &str) -> Result<(), String> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(format!(
            "\"{pointer}\" is not a JSON pointer: it must start with `/` (like \"/data/items\"), \
             or be \"\" for the whole value"
        ));
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!(
                "\"{pointer}\" is not a JSON pointer: `~` must be written `~0` and `/` inside a name `~1`"
            ));
        }
    }
    Ok(())
}

fn check_env_name(name: &str, loc: &str, errors: &mut Errors) -> bool {
    let ok = is_env_name(name);
    if !ok {
        errors.push(
            loc,
            format!(
                "`{name}` is not a secret/binding name: use letters, digits and `_`, \
                 not starting with a digit (like PG_URL)"
            ),
        );
    }
    ok
}

/// Checks a SQL identifier: `[A-Za-z_][A-Za-z0-9_$]*`, at most 63 bytes.
pub fn check_sql_identifier(name: &str) -> Result<(), String> {
    let hint = "use letters, digits, `_` and `$`, starting with a letter or `_`";
    let Some(first) = name.chars().next() else {
        return Err(format!("must not be empty; {hint}"));
    };
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '$'))
    {
        let shown = match bad {
            ' ' => "a space".to_string(),
            c if c.is_control() => format!("control character U+{:04X}", c as u32),
            c => format!("`{c}`"),
        };
        return Err(format!(
            "\"{name}\" is not a plain column/table name: it contains {shown}; {hint}"
        ));
    }
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(format!(
            "\"{name}\" must start with a letter or `_`; {hint}"
        ));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(format!(
            "\"{name}\" is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte limit for names"
        ));
    }
    Ok(())
}

fn check_identifier(name: &str, loc: &str, errors: &mut Errors) -> bool {
    match check_sql_identifier(name) {
        Ok(()) => true,
        Err(why) => {
            errors.push(loc, why);
            false
        }
    }
}

/// `"table"` or `"schema.table"` → (schema, table), each a valid identifier.
fn parse_relation(text: &str, loc: &str, errors: &mut Errors) -> Option<(Option<String>, String)> {
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        [table] => check_identifier(table, loc, errors).then(|| (None, table.to_string())),
        [schema, table] => {
            let ok_schema = check_identifier(schema, loc, errors);
            let ok_table = check_identifier(table, loc, errors);
            (ok_schema && ok_table).then(|| (Some(schema.to_string()), table.to_string()))
        }
        _ => {
            errors.push(loc, format!("\"{text}\" must be `table` or `schema.table`"));
            None
        }
    }
}

fn check_url(url: &str, loc: &str, errors: &mut Errors) {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        None => errors.push(loc, "must start with https:// (or http://)"),
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?', '#']) => {
            errors.push(loc, "must have a host after the scheme")
        }
        Some(_) if url.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            errors.push(loc, "must not contain spaces or control characters")
        }
        Some(_) => check_template(url, loc, errors),
    }
}

/// RFC 9110 token characters.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A piece of a URL or header template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Secret(&'a str),
}

/// Splits a template into text and `{{secrets.NAME}}` pieces (spaces inside the braces allowed).
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err("has `{{` without a closing `}}`".to_string());
        };
        let inner = after[..close].trim();
        match inner.strip_prefix("secrets.") {
            Some(name) if is_env_name(name) => out.push(Piece::Secret(name)),
            Some(name) => {
                return Err(format!(
                "`{{{{secrets.{name}}}}}`: `{name}` is not a secret name (letters, digits and `_`)"
            ))
            }
            None => {
                return Err(format!(
                    "`{{{{{inner}}}}}` is not available here: a poll source can only use \
                     `{{{{secrets.NAME}}}}` (a Worker secret)"
                ))
            }
        }
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn check_template(template: &str, loc: &str, errors: &mut Errors) {
    if let Err(why) = pieces(template) {
        errors.push(loc, why);
    }
}

/// Fills `{{secrets.NAME}}` in a template validated at parse time.
fn render(template: &str, secret: &dyn Fn(&str) -> Option<String>) -> Result<String, PollError> {
    let parts = pieces(template).map_err(|problem| PollError::BadTemplate { problem })?;
    let mut out = String::with_capacity(template.len());
    for p in parts {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Secret(name) => match secret(name) {
                Some(v) => out.push_str(&v),
                None => {
                    return Err(PollError::MissingSecret {
                        name: name.to_string(),
                    })
                }
            },
        }
    }
    Ok(out)
}

/// The request to send for an HTTP source, secrets filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPollRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

impl HttpSource {
    /// The GET request to send, with every `{{secrets.NAME}}` replaced by `secret(NAME)`.
    pub fn request(
        &self,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Result<HttpPollRequest, PollError> {
        let url = render(&self.url, &secret)?;
        let headers = self
            .headers
            .iter()
            .map(|(n, v)| Ok((n.clone(), render(v, &secret)?)))
            .collect::<Result<_, PollError>>()?;
        Ok(HttpPollRequest { url, headers })
    }

    /// Every secret name the URL and headers use, once each, in order of appearance.
    pub fn secret_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let templates = std::iter::once(&self.url).chain(self.headers.iter().map(|(_, v)| v));
        for t in templates {
            for p in pieces(t).unwrap_or_default() {
                if let Piece::Secret(n) = p {
                    if !names.iter().any(|x| x == n) {
                        names.push(n.to_string());
                    }
                }
            }
        }
        names
    }

    /// The pointer whose value orders items and, with `greatest`, is the high-water mark.
    pub fn greatest_pointer(&self) -> Option<&str> {
        match self.dedupe {
            Dedupe::Greatest => Some(self.greatest.as_deref().unwrap_or(&self.id)),
            Dedupe::Unique { .. } => self.greatest.as_deref(),
        }
    }

    /// The items array of a response body (at the `items` pointer).
    pub fn items_of<'a>(&self, body: &'a Value) -> Result<&'a [Value], PollError> {
        items_at(body, &self.items)
    }

    /// The new items of a response body, oldest first (see `HttpCursor::select_new`).
    pub fn select_new(
        &self,
        cursor: &crate::poll::cursor::HttpCursor,
        body: &Value,
    ) -> Result<Vec<NewRecord>, PollError> {
        cursor.select_new(self.items_of(body)?, &self.id, self.greatest_pointer())
    }
}

/// The array at `pointer` in `body`.
pub fn items_at<'a>(body: &'a Value, pointer: &str) -> Result<&'a [Value], PollError> {
    match body.pointer(pointer) {
        Some(Value::Array(items)) => Ok(items),
        other => Err(PollError::ItemsNotArray {
            pointer: pointer.to_string(),
            found: other.map_or("nothing", type_name).to_string(),
        }),
    }
}

/// A column type name from the catalog, checked safe to write into SQL as a cast target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgType(String);

impl PgType {
    /// Validates a `format_type(...)` result (see [`validate_pg_type`]).
    pub fn parse(name: &str) -> Result<PgType, PollError> {
        validate_pg_type(name).map(|n| PgType(n.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Words PostgreSQL prints unquoted in multi-word built-in type names.
const TYPE_WORDS: &[&str] = &[
    "bit",
    "character",
    "day",
    "double",
    "hour",
    "interval",
    "minute",
    "month",
    "precision",
    "second",
    "time",
    "timestamp",
    "to",
    "varying",
    "with",
    "without",
    "year",
    "zone",
];

/// Accepts only type names as `format_type` prints them: names (plain, or double-quoted with
/// `""` escapes) joined by `.`, a modifier like `(10,2)` holding only digits and commas, `[]`
/// suffixes, and multi-word built-ins (`timestamp(3) with time zone`, `character varying(20)[]`).
/// Anything else (`;`, `'`, `--`, `/*`, stray words such as `int UNION SELECT 1`) is refused, so
/// the name cannot change the statement it is cast in.
pub fn validate_pg_type(name: &str) -> Result<&str, PollError> {
    let fail = |reason: &str| {
        Err(PollError::UnsafeType {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() || name.len() > MAX_TYPE_NAME_BYTES {
        return fail("must be 1 to 200 bytes");
    }
    let chars: Vec<char> = name.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut has_space = false;
    let mut i = 0;
    // What may come next: a name part (at the start, after `.` or a space) or a separator.
    let mut expect_name = true;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            if !expect_name {
                return fail("a quoted name must follow a space or `.`");
            }
            let mut j = i + 1;
            let mut len = 0;
            loop {
                match chars.get(j) {
                    None => return fail("unterminated quoted name"),
                    Some('"') if chars.get(j + 1) == Some(&'"') => {
                        j += 2;
                        len += 1;
                    }
                    Some('"') => break,
                    Some(ch) if ch.is_control() => return fail("control character"),
                    Some(_) => {
                        j += 1;
                        len += 1;
                    }
                }
            }
            if len == 0 {
                return fail("empty quoted name");
            }
            i = j + 1;
            expect_name = false;
        } else if c.is_ascii_alphabetic() || c == '_' {
            if !expect_name {
                return fail("unexpected name");
            }
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            words.push(
                chars[start..i]
                    .iter()
                    .collect::<String>()
                    .to_ascii_lowercase(),
            );
            expect_name = false;
        } else if expect_name {
            return fail("expected a name");
        } else if c == '.' {
            expect_name = true;
            i += 1;
        } else if c == ' ' {
            has_space = true;
            expect_name = true;
            i += 1;
        } else if c == '(' {
            let mut j = i + 1;
            let mut digits = 0;
            while let Some(&ch) = chars.get(j) {
                match ch {
                    '0'..='9' => digits += 1,
                    ',' if digits > 0 => digits = 0,
                    ')' if digits > 0 => break,
                    _ => return fail("a type modifier may only hold numbers, like (10,2)"),
                }
                j += 1;
            }
            if chars.get(j) != Some(&')') {
                return fail("unclosed `(`");
            }
            i = j + 1;
        } else if c == '[' {
            let mut j = i + 1;
            while chars.get(j).is_some_and(char::is_ascii_digit) {
                j += 1;
            }
            if chars.get(j) != Some(&']') {
                return fail("`[` must be closed by `]`");
            }
            i = j + 1;
        } else {
            return fail("only names, `.`, spaces, (digits) and [] may appear");
        }
    }
    if expect_name {
        return fail("ends without a name");
    }
    if has_space && !words.iter().all(|w| TYPE_WORDS.contains(&w.as_str())) {
        return fail("only built-in types may have unquoted words separated by spaces");
    }
    Ok(name)
}

/// The cursor and tiebreak column types, learned from the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgColumnTypes {
    pub cursor: PgType,
    pub tiebreak: Option<PgType>,
}

/// `"name"` with inner quotes doubled (validated names have none; this is defence in depth).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PgSource {
    /// The quoted relation: `"schema"."table"` or `"table"`.
    pub fn relation(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.table)),
            None => quote(&self.table),
        }
    }

    /// Columns whose types/existence the runtime checks: cursor, tiebreak, then listed columns.
    fn needed_columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![&self.cursor];
        out.extend(self.tiebreak.as_deref());
        for c in self.columns.iter().flatten() {
            if !out.contains(&c.as_str()) {
                out.push(c);
            }
        }
        out
    }

    /// Catalog query returning `(column name, type name)` rows for the named columns.
    /// `$1` = the quoted relation as text, `$2` = comma-separated column names (see
    /// [`Self::column_type_params`]). A missing table fails in PostgreSQL with its own message.
    pub fn column_type_sql() -> String {
        "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod) \
         FROM pg_catalog.pg_attribute a \
         WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
         AND a.attname::text = ANY (pg_catalog.string_to_array($2::text, ','))"
            .to_string()
    }

    /// Parameters for [`Self::column_type_sql`].
    pub fn column_type_params(&self) -> Vec<String> {
        vec![self.relation(), self.needed_columns().join(",")]
    }

    /// Turns the rows of [`Self::column_type_sql`] into validated types; every named column must
    /// exist.
    pub fn column_types(&self, rows: &[(String, String)]) -> Result<PgColumnTypes, PollError> {
        let find = |col: &str| -> Result<&str, PollError> {
            rows.iter()
                .find(|(n, _)| n == col)
                .map(|(_, t)| t.as_str())
                .ok_or_else(|| PollError::MissingColumn {
                    column: col.to_string(),
                    relation: self.relation(),
                })
        };
        for col in self.needed_columns() {
            find(col)?;
        }
        Ok(PgColumnTypes {
            cursor: PgType::parse(find(&self.cursor)?)?,
            tiebreak: match &self.tiebreak {
                Some(t) => Some(PgType::parse(find(t)?)?),
                None => None,
            },
        })
    }

    /// The select list of the inner query: `*`, or the listed columns plus cursor and tiebreak.
    fn select_list(&self) -> String {
        match &self.columns {
            None => "*".to_string(),
            Some(cols) => {
                let mut all: Vec<&str> = cols.iter().map(String::as_str).collect();
                for key in std::iter::once(self.cursor.as_str()).chain(self.tiebreak.as_deref()) {
                    if !all.contains(&key) {
                        all.push(key);
                    }
                }
                all.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
            }
        }
    }

    /// The read-only query for the next batch after `cursor`, oldest first, and its text
    /// parameters. Each row is `(record json, cursor text, tiebreak text)` (the third column only
    /// with a tiebreak); pass it to [`Self::read_row`]. Rows with a NULL cursor or tiebreak are
    /// excluded. If the definition has a tiebreak but the stored cursor has none (the definition
    /// changed), rows with the cursor's value are read again (`>=`); run dedup keys absorb them.
    pub fn select_sql(&self, cursor: &PgCursor, types: &PgColumnTypes) -> (String, Vec<String>) {
        let c = quote(&self.cursor);
        let ct = types.cursor.as_str();
        let t = self.tiebreak.as_deref().map(quote);
        let tt = types.tiebreak.as_ref().map(|t| format!("::{}", t.as_str()));
        let tt = tt.as_deref().unwrap_or("");
        let (condition, params) = match (cursor, &t) {
            (PgCursor::Beginning, None) => (format!("{c} IS NOT NULL"), vec![]),
            (PgCursor::Beginning, Some(t)) => {
                (format!("{c} IS NOT NULL AND {t} IS NOT NULL"), vec![])
            }
            (PgCursor::At { cursor, .. }, None) => {
                (format!("{c} > $1::text::{ct}"), vec![cursor.clone()])
            }
            (
                PgCursor::At {
                    cursor,
                    tiebreak: Some(tv),
                },
                Some(t),
            ) => (
                format!("({c}, {t}) > ($1::text::{ct}, $2::text{tt}) AND {t} IS NOT NULL"),
                vec![cursor.clone(), tv.clone()],
            ),
            (
                PgCursor::At {
                    cursor,
                    tiebreak: None,
                },
                Some(t),
            ) => (
                format!("{c} >= $1::text::{ct} AND {t} IS NOT NULL"),
                vec![cursor.clone()],
            ),
        };
        let (inner_order, outer_cols, outer_order) = match &t {
            None => (c.clone(), format!("r.{c}::text"), format!("r.{c}")),
            Some(t) => (
                format!("{c}, {t}"),
                format!("r.{c}::text, r.{t}::text"),
                format!("r.{c}, r.{t}"),
            ),
        };
        let sql = format!(
            "SELECT row_to_json(r)::text, {outer_cols} FROM (SELECT {} FROM {} WHERE {condition} \
             ORDER BY {inner_order} LIMIT {}) r ORDER BY {outer_order}",
            self.select_list(),
            self.relation(),
            self.batch_size,
        );
        (sql, params)
    }

    /// For `start: now`: the greatest `(cursor text, tiebreak text)` now in the table, as one row
    /// (none when no row has a cursor value). Store it with [`PgCursor::from_latest`].
    pub fn latest_sql(&self) -> String {
        let c = quote(&self.cursor);
        match self.tiebreak.as_deref().map(quote) {
            None => format!(
                "SELECT r.{c}::text FROM {} r WHERE r.{c} IS NOT NULL ORDER BY r.{c} DESC LIMIT 1",
                self.relation()
            ),
            Some(t) => format!(
                "SELECT r.{c}::text, r.{t}::text FROM {} r WHERE r.{c} IS NOT NULL AND r.{t} IS NOT NULL \
                 ORDER BY r.{c} DESC, r.{t} DESC LIMIT 1",
                self.relation()
            ),
        }
    }

    /// One row of [`Self::select_sql`] → the record to start a run with, and the cursor position
    /// just after it (store the last row's position once the runs are committed).
    pub fn read_row(
        &self,
        record_json: &str,
        cursor_text: Option<&str>,
        tiebreak_text: Option<&str>,
    ) -> Result<PgRecord, PollError> {
        let record: Value = serde_json::from_str(record_json).map_err(|e| PollError::BadRow {
            problem: format!("record is not JSON: {e}"),
        })?;
        let Some(cursor) = cursor_text else {
            return Err(PollError::BadRow {
                problem: format!("cursor column \"{}\" is NULL", self.cursor),
            });
        };
        let tiebreak = match (&self.tiebreak, tiebreak_text) {
            (None, _) => None,
            (Some(_), Some(t)) => Some(t.to_string()),
            (Some(name), None) => {
                return Err(PollError::BadRow {
                    problem: format!("tiebreak column \"{name}\" is NULL"),
                })
            }
        };
        Ok(PgRecord {
            new: NewRecord {
                dedup_key: dedup_key(cursor, tiebreak.as_deref()),
                record,
                greatest: None,
            },
            position: PgCursor::At {
                cursor: cursor.to_string(),
                tiebreak,
            },
        })
    }
}

/// A row read from PostgreSQL: what starts a run, and where the cursor goes after it.
#[derive(Debug, Clone, PartialEq)]
pub struct PgRecord {
    pub new: NewRecord,
    pub position: PgCursor,
}

/// Seconds until the next poll after `consecutive_failures` failed polls in a row: the interval,
/// doubled per failure, capped at an hour — but never less than the interval itself.
pub fn next_poll_delay_seconds(interval: u32, consecutive_failures: u32) -> u32 {
    let cap = u64::from(interval.max(MAX_BACKOFF_SECONDS));
    let factor = 1u64 << consecutive_failures.min(32);
    let delay = u64::from(interval).saturating_mul(factor).min(cap);
    u32::try_from(delay).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
