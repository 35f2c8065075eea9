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
//!   the last row's `position` as the cursor. A full batch (`batch_size` rows, or its byte
//!   budget, [`batch_budget`]) means more may be waiting: poll again soon.
//! - **HTTP**: [`HttpSource::request`] (fills in `{{secrets.NAME}}`), fetch, then
//!   [`HttpSource::select_new`]; commit the runs; then [`crate::poll::cursor::HttpCursor::advance`].
//! - A failed poll waits [`next_poll_delay_seconds`], or longer when the source asked
//!   ([`failed_poll_delay_seconds`]).
//!
//! SQL identifiers are validated (`[A-Za-z_][A-Za-z0-9_$]*`, at most 63 bytes) and always emitted
//! double-quoted, so they match the catalog exactly (case-sensitive: unquoted names in PostgreSQL
//! are stored lower-case). Values are always bind parameters, sent as text and cast in SQL.
//! Rows whose cursor (or tiebreak) is NULL are never selected: they have no place in the order.

pub mod batch_budget;
pub mod cursor;
pub mod horizon;
pub mod http;
pub mod link;
pub mod pages;
pub mod pg_service;
pub mod postgres;
pub mod state;
pub mod status;

pub use http::{items_at, Dedupe, HttpPollRequest, HttpSource};
pub use postgres::{
    check_sql_identifier, validate_pg_type, PgColumnTypes, PgConnection, PgRecord, PgSource, PgType,
};

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
/// Default and largest `settle_seconds` of a PostgreSQL source (see [`horizon`]).
pub const DEFAULT_SETTLE_SECONDS: u32 = 2;
pub const MAX_SETTLE_SECONDS: u32 = 300;
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
    /// A cursor without a tiebreak whose values can repeat (no unique index shows otherwise), or
    /// (`tiebreak`) a tiebreak of a table with no unique index on it alone.
    CursorNotUnique {
        column: String,
        relation: String,
        tiebreak: bool,
    },
    /// A row from the select query that does not have the expected shape.
    BadRow { problem: String },
    /// A `{{secrets.NAME}}` the Worker does not have.
    MissingSecret { name: String },
    /// A URL or header template that does not parse (only when built without `parse`).
    BadTemplate { problem: String },
    /// A next page that cannot be read (a bad URL or token in the answer).
    BadNextPage { problem: String },
    /// A next page on another origin than the page linking to it: not followed.
    OtherOrigin { origin: String },
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
            PollError::CursorNotUnique {
                column,
                relation,
                tiebreak,
            } => {
                let why = match tiebreak {
                    true => "no primary key or unique index has it as a key",
                    false => "no primary key or unique index on it alone",
                };
                write!(
                    f,
                    "column \"{column}\" is not unique in {relation} ({why}): rows sharing a \
                     value would "
                )?;
                match tiebreak {
                    true => f.write_str(
                        "share one run (a record's key is its tiebreak value); set \
                         `trigger.source.tiebreak` to a unique column such as the primary key",
                    ),
                    false => write!(
                        f,
                        "be missed; set `trigger.source.tiebreak` to a unique column such as the \
                         primary key (or to \"{column}\" itself if its values never repeat)"
                    ),
                }
            }
            PollError::BadRow { problem } => write!(f, "unexpected row from the source: {problem}"),
            PollError::BadTemplate { problem } => write!(f, "bad template: {problem}"),
            PollError::BadNextPage { problem } => write!(f, "next page: {problem}"),
            PollError::OtherOrigin { origin } => write!(
                f,
                "the next page is on another origin ({origin}); pages are only followed on the \
                 source's own origin, so its headers and secrets are never sent elsewhere"
            ),
            PollError::MissingSecret { name } => write!(
                f,
                "secret `{name}` is not set on the Worker (wrangler secret put {name})"
            ),
        }
    }
}

impl std::error::Error for PollError {}

/// A name the source needs from the Worker's configuration that the Worker does not have: the
/// definition's field that names it and what to do. A person fixes this by configuring the
/// Worker (or the definition), so it is no upstream failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingConfiguration {
    /// The definition field, e.g. `trigger.source.connection_env`.
    pub location: String,
    pub message: String,
}

impl PollSource {
    /// The first secret or binding this source names that the Worker lacks: `has_secret(NAME)`
    /// tells whether a secret (or var) is set, `has_binding(NAME)` whether a Hyperdrive binding
    /// is configured (on the PostgreSQL Worker, which has them).
    pub fn missing_configuration(
        &self,
        has_secret: impl Fn(&str) -> bool,
        has_binding: impl Fn(&str) -> bool,
    ) -> Option<MissingConfiguration> {
        let missing =
            |location: String, message: String| MissingConfiguration { location, message };
        let secret_message = |name: &str| {
            format!("secret `{name}` is not set on the Worker (wrangler secret put {name})")
        };
        match self {
            PollSource::Postgres(pg) => match &pg.connection {
                postgres::PgConnection::Env(name) if !has_secret(name) => Some(missing(
                    "trigger.source.connection_env".into(),
                    format!("{}: it should hold a postgres:// connection URL", secret_message(name)),
                )),
                postgres::PgConnection::Hyperdrive(name) if !has_binding(name) => Some(missing(
                    "trigger.source.hyperdrive".into(),
                    format!(
                        "Hyperdrive binding `{name}` is not configured on the PostgreSQL Worker (pg/wrangler.toml [[hyperdrive]])"
                    ),
                )),
                _ => None,
            },
            PollSource::Http(source) => {
                let fields = std::iter::once(("trigger.source.url".to_string(), &source.url)).chain(
                    source
                        .headers
                        .iter()
                        .map(|(name, value)| (join("trigger.source.headers", name), value)),
                );
                for (location, template) in fields {
                    for path in crate::template::referenced_paths(&Value::String(template.clone())) {
                        if let Some(name) = path.strip_prefix("secrets.") {
                            if !has_secret(name) {
                                return Some(missing(location, secret_message(name)));
                            }
                        }
                    }
                }
                None
            }
        }
    }
}

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
        "postgres" => postgres::parse_pg(r, errors).map(PollSource::Postgres),
        "http" => http::parse_http(r, errors).map(PollSource::Http),
        other => {
            errors.push(
                r.loc("kind"),
                format!("must be \"postgres\" or \"http\", got \"{other}\""),
            );
            None
        }
    }
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

/// Seconds until the next poll after `consecutive_failures` failed polls in a row: the interval,
/// doubled per failure, capped at an hour — but never less than the interval itself.
pub fn next_poll_delay_seconds(interval: u32, consecutive_failures: u32) -> u32 {
    let cap = u64::from(interval.max(MAX_BACKOFF_SECONDS));
    let factor = 1u64 << consecutive_failures.min(32);
    let delay = u64::from(interval).saturating_mul(factor).min(cap);
    u32::try_from(delay).unwrap_or(u32::MAX)
}

/// Longest wait a source's `Retry-After` may ask for (a day): a larger or hostile value must
/// not stop a poll for good.
pub const MAX_RETRY_AFTER_SECONDS: u32 = 86_400;

/// The wait in seconds that a `Retry-After` header asks for at `now_ms` (RFC 9110: a number of
/// seconds, or an HTTP date in its usual RFC 1123 form), at most [`MAX_RETRY_AFTER_SECONDS`];
/// `None` when it reads as neither.
pub fn retry_after_seconds(value: &str, now_ms: i64) -> Option<u32> {
    let value = value.trim();
    let secs = match value.parse::<u64>() {
        Ok(secs) => secs,
        // Digits past what a u64 holds: far more than the cap.
        Err(_) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => u64::MAX,
        Err(_) => {
            let at = crate::kernel::rfc2822::parse_rfc2822(value)?;
            u64::try_from((at.timestamp_millis() - now_ms).div_euclid(1000)).unwrap_or(0)
        }
    };
    Some(u32::try_from(secs.min(u64::from(MAX_RETRY_AFTER_SECONDS))).unwrap_or(0))
}

/// The wait after a failed poll: the backoff of [`next_poll_delay_seconds`], or what the
/// source asked for (`Retry-After` on a 429 or 503), whichever is longer.
pub fn failed_poll_delay_seconds(
    interval: u32,
    consecutive_failures: u32,
    asked: Option<u32>,
) -> u32 {
    next_poll_delay_seconds(interval, consecutive_failures).max(asked.unwrap_or(0))
}

#[cfg(test)]
mod tests;
