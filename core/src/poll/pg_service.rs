//! What the Worker and the PostgreSQL Worker (`pg/`, crate `tripline-pg`) say to each other over
//! the service binding `PG`: one JSON request per PostgreSQL read, one JSON answer.
//!
//! The PostgreSQL client lives in its own Worker so that the main Worker does not carry it
//! (docs/size.md). The poll logic stays where it was: the main Worker keeps the cursor and the
//! transaction marks ([`Horizon`]) in the workflow's object, sends them with each read, and gets
//! the marks back with the rows; the PostgreSQL Worker runs exactly the reads of
//! [`PgSource`] (the catalog query, then `latest` or the transaction-safe `settled_batch`) on one
//! connection and keeps nothing between calls.
//!
//! Both sides check the exchange: the request carries [`PG_SERVICE_VERSION`] and the source in
//! its definition form, which the PostgreSQL Worker validates again with the definition parser (so
//! it never builds SQL from names the parser would refuse); the answer carries the version too.
//! A failure is an answer with the message the user reads in the poll status, unchanged.

use crate::kernel::columns::{Bad, Columns};
use crate::kernel::json_parse;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::cursor::PgCursor;
use super::horizon::Horizon;
use super::{parse_source, PgConnection, PgSource, PollSource};
use crate::kernel::problem::Errors;

/// The version of this exchange; both Workers must speak the same one (deploy them together).
pub const PG_SERVICE_VERSION: u32 = 6;
/// The path the main Worker posts to (the host part of a service binding's URL is ignored).
pub const PG_SERVICE_URL: &str = "https://tripline-pg/v1/read";
/// The name of the service binding in the main Worker's `wrangler.toml`.
pub const PG_BINDING: &str = "PG";

/// One read, as sent over the binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgServiceRequest {
    pub version: u32,
    /// The source as written in the definition (`{"kind":"postgres", …}`).
    pub source: Value,
    /// The `postgres://` URL read from the source's `connection_env` secret on the main Worker
    /// (absent for a `hyperdrive` source: that binding is on the PostgreSQL Worker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub read: PgRead,
}

/// Which read. (One is built per read and sent at once: its size in memory does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum PgRead {
    /// Where the table ends now (`start: now`).
    Latest,
    /// The next batch after `cursor` that no transaction in progress can still join below
    /// (see [`crate::poll::horizon`]); `horizon` is the object's marks, `now_ms` dates a newly
    /// seen blocking transaction.
    SettledBatch {
        cursor: PgCursor,
        horizon: Horizon,
        now_ms: i64,
    },
}

/// A request checked by the PostgreSQL Worker: what to connect to and what to read.
#[derive(Debug, Clone, PartialEq)]
pub struct PgCall {
    pub source: PgSource,
    pub target: PgTarget,
    pub read: PgRead,
}

/// Where the PostgreSQL Worker connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgTarget {
    /// A `postgres://` URL, from the secret named `env` on the main Worker.
    Url { env: String, url: String },
    /// A Hyperdrive binding of the PostgreSQL Worker.
    Hyperdrive(String),
}

/// One row of a batch as PostgreSQL printed it: `row_to_json(r.*)::text`, the cursor and the
/// tiebreak as text. The main Worker turns it into a run with [`PgSource::read_row`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PgRow {
    /// `None`: the record is over what a run may hold, and only its size (`bytes`) is sent.
    pub record: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub bytes: u64,
    pub cursor: Option<String>,
    pub tiebreak: Option<String>,
}

impl PgRow {
    /// A row as sent (no other field; `bytes` 0 when missing).
    fn from_json(v: Value) -> Result<PgRow, Bad> {
        let mut c = Columns::of(v, "rows")?;
        let row = PgRow {
            record: c.opt_text("record")?,
            bytes: c.uint_or_zero("bytes")?,
            cursor: c.opt_text("cursor")?,
            tiebreak: c.opt_text("tiebreak")?,
        };
        c.finish()?;
        Ok(row)
    }
}

/// The answer to one read: `{"version": 6, "outcome": {"batch": {…}}}`. The outcome is named
/// by its one key, not by a tag among its fields (nor flattened into the answer), so that the
/// main Worker reads it in one pass: a tag would have serde buffer the whole answer, and each
/// type read from that buffer costs the main Worker's size again (docs/size.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgServiceReply {
    pub version: u32,
    pub outcome: PgOutcome,
}

/// What a read gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PgOutcome {
    /// Answer to [`PgRead::Latest`].
    Latest { latest: PgCursor },
    /// Answer to [`PgRead::SettledBatch`]: the rows (oldest first), the updated marks, and
    /// whether the batch ended at its byte budget with rows left ([`super::batch_budget`]).
    Batch {
        rows: Vec<PgRow>,
        horizon: Horizon,
        /// `false` when missing.
        cut: bool,
    },
    /// The read failed: the message shown as the poll's `last_poll_error`.
    Failed { error: String },
}

impl PgOutcome {
    /// The outcome as sent: an object whose one key names it.
    fn from_json(v: Value) -> Result<PgOutcome, Bad> {
        let named = match v {
            Value::Object(map) if map.len() == 1 => map.into_iter().next(),
            _ => None,
        };
        let Some((name, v)) = named else {
            return Err(Bad("outcome", "an object of one key"));
        };
        let mut c = Columns::of(v, "outcome")?;
        Ok(match name.as_str() {
            "latest" => PgOutcome::Latest {
                latest: c.with("latest", PgCursor::in_field("latest"))?,
            },
            "batch" => PgOutcome::Batch {
                rows: c.list("rows", false, PgRow::from_json)?,
                horizon: c.with("horizon", |v| {
                    Horizon::from_columns(Columns::of(v, "horizon")?)
                })?,
                cut: c.flag_or_false("cut")?,
            },
            "failed" => PgOutcome::Failed {
                error: c.text("error")?,
            },
            _ => return Err(Bad("outcome", "latest, batch or failed")),
        })
    }
}

impl PgServiceReply {
    pub fn new(outcome: PgOutcome) -> PgServiceReply {
        PgServiceReply {
            version: PG_SERVICE_VERSION,
            outcome,
        }
    }

    /// Reads an answer (main Worker side): `Err` with a message for anything but a well-formed
    /// answer of this version. The version is read first: another version's answer may be
    /// shaped otherwise.
    pub fn parse(status: u16, body: &str) -> Result<PgOutcome, String> {
        let unexpected = |e: &dyn std::fmt::Display| {
            let start: String = body.chars().take(200).collect();
            if (200..300).contains(&status) {
                format!(
                    "the PostgreSQL Worker (binding `{PG_BINDING}`) answered something else \
                     than a read's answer ({e}): {start}"
                )
            } else {
                // E.g. locally, without the PostgreSQL Worker: `Worker "tripline-pg" not found`.
                format!("the PostgreSQL Worker (binding `{PG_BINDING}`) answered HTTP {status}: {start}")
            }
        };
        let reply = json_parse::from_str::<Value>(body).map_err(|e| unexpected(&e))?;
        let mut c = Columns::of(reply, "(answer)").map_err(|e| unexpected(&e))?;
        let version: u32 = c.uint("version").map_err(|e| unexpected(&e))?;
        if version != PG_SERVICE_VERSION {
            return Err(version_mismatch(version));
        }
        c.with("outcome", PgOutcome::from_json)
            .map_err(|e| unexpected(&e))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn version_mismatch(theirs: u32) -> String {
    format!(
        "the PostgreSQL Worker speaks version {theirs} of the exchange and this Worker version \
         {PG_SERVICE_VERSION}: deploy both Workers from the same release"
    )
}

impl PgServiceRequest {
    /// A request for `read` of `source`; `url` is the connection URL of a `connection_env`
    /// source (the caller read the secret).
    pub fn new(source: &PgSource, url: Option<String>, read: PgRead) -> PgServiceRequest {
        PgServiceRequest {
            version: PG_SERVICE_VERSION,
            source: source_definition(source),
            url,
            read,
        }
    }

    /// Checks a request (PostgreSQL Worker side): the version, the source as the definition
    /// parser sees it, and a URL exactly when the source names a secret.
    pub fn check(body: &str) -> Result<PgCall, String> {
        let request: PgServiceRequest = json_parse::from_str(body)
            .map_err(|e| format!("the PostgreSQL Worker could not read the request: {e}"))?;
        if request.version != PG_SERVICE_VERSION {
            return Err(version_mismatch(request.version));
        }
        let mut errors = Errors::default();
        let source = match parse_source(&request.source, "source", &mut errors) {
            Some(PollSource::Postgres(s)) if errors.is_empty() => s,
            _ => {
                return Err(format!(
                    "the PostgreSQL Worker refused the source: {}",
                    if errors.is_empty() {
                        "it is not a PostgreSQL source".to_string()
                    } else {
                        errors
                            .0
                            .iter()
                            .map(|e| format!("{}: {}", e.location, e.message))
                            .collect::<Vec<_>>()
                            .join("; ")
                    }
                ))
            }
        };
        let target = match (&source.connection, request.url) {
            (PgConnection::Env(env), Some(url)) => PgTarget::Url {
                env: env.clone(),
                url,
            },
            (PgConnection::Hyperdrive(name), None) => PgTarget::Hyperdrive(name.clone()),
            (PgConnection::Env(_), None) => {
                return Err("the request names a `connection_env` source but has no URL".into())
            }
            (PgConnection::Hyperdrive(_), Some(_)) => {
                return Err("the request names a `hyperdrive` source and also a URL".into())
            }
        };
        Ok(PgCall {
            source,
            target,
            read: request.read,
        })
    }
}

/// `source` as written in a definition: the parser reads it back to the same [`PgSource`].
pub fn source_definition(source: &PgSource) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), json!("postgres"));
    match &source.connection {
        PgConnection::Env(name) => m.insert("connection_env".into(), json!(name)),
        PgConnection::Hyperdrive(name) => m.insert("hyperdrive".into(), json!(name)),
    };
    let table = match &source.schema {
        Some(schema) => format!("{schema}.{}", source.table),
        None => source.table.clone(),
    };
    m.insert("table".into(), json!(table));
    m.insert("cursor".into(), json!(source.cursor));
    match &source.tiebreak {
        Some(t) => m.insert("tiebreak".into(), json!(t)),
        None if source.cursor_unique => m.insert("tiebreak".into(), json!(source.cursor)),
        None => None,
    };
    if let Some(c) = &source.columns {
        m.insert("columns".into(), json!(c));
    }
    m.insert("batch_size".into(), json!(source.batch_size));
    m.insert("settle_seconds".into(), json!(source.settle_seconds));
    Value::Object(m)
}

#[cfg(test)]
mod tests;
