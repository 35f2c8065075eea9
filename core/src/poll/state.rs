//! What the poll runtime keeps between polls, and small pure helpers around it: which source a
//! stored cursor belongs to (its fingerprint), how an HTTP cursor is split into a small header
//! and a list of ids (stored one row per id, because the set can outgrow a 128 KiB value), the
//! run input of a record, run-id randomness that keeps a batch in cursor order, what the API
//! shows as the cursor, and the body of `POST /api/workflows/{id}/poll/reset`.

use crate::kernel::json_parse;
use serde_json::{json, Value};

use crate::kernel::problem::Errors;
use crate::poll::cursor::{HttpCursor, NewRecord, PgCursor, RecentIds};
use crate::poll::{PollSource, PollStart, DEFAULT_UNIQUE_CAPACITY};

/// Identifies the source a cursor was read from. A redeploy with the same fingerprint keeps
/// the cursor; a different one (another table, cursor column, URL, items or id pointer) starts
/// over as `start` says. Connection names, headers, columns, tiebreak, batch size and interval
/// are not part of it: changing them keeps the cursor (a changed tiebreak keeps its cursor value
/// only, see `PgSource::select_sql`).
pub fn source_fingerprint(source: &PollSource) -> String {
    match source {
        PollSource::Postgres(s) => json!(["postgres", s.relation(), s.cursor]).to_string(),
        PollSource::Http(s) => json!(["http", s.url, s.items, s.id]).to_string(),
    }
}

/// What a PostgreSQL source's transaction marks (`poll::horizon`) belong to: the source's
/// fingerprint and the connection they were read over. Transaction ids of one cluster say
/// nothing of another's, so a changed `connection_env` or `hyperdrive` starts without marks:
/// the rows they covered wait until a poll proves them again, and none is skipped for a mark
/// taken elsewhere.
pub fn horizon_fingerprint(fingerprint: &str, source: &PollSource) -> String {
    use crate::poll::postgres::PgConnection;
    let connection = match source {
        PollSource::Postgres(s) => match &s.connection {
            PgConnection::Env(name) => json!(["env", name]),
            PgConnection::Hyperdrive(name) => json!(["hyperdrive", name]),
        },
        PollSource::Http(_) => Value::Null,
    };
    json!([fingerprint, connection]).to_string()
}

/// An HTTP cursor as stored: a header (mode, capacity or mark) and the remembered ids, oldest
/// first (the recent ids for `unique`, the ids at the mark for `greatest`).
pub fn split_http(cursor: &HttpCursor) -> (Value, Vec<String>) {
    let v = serde_json::to_value(cursor).unwrap_or(Value::Null);
    let ids_of = |v: &Value| -> Vec<String> {
        v["ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    match cursor {
        HttpCursor::Unique(ids) => (
            json!({"mode": "unique", "capacity": ids.capacity()}),
            ids_of(&v),
        ),
        HttpCursor::Greatest { mark, by, .. } => (
            match by {
                Some(by) => json!({"mode": "greatest", "mark": mark, "by": by}),
                None => json!({"mode": "greatest", "mark": mark}),
            },
            ids_of(&v["at_mark"]),
        ),
    }
}

/// The inverse of [`split_http`]; `None` when the header is not one it wrote. (Built by hand:
/// deserialising the cursor from a JSON value costs the Worker kilobytes.)
pub fn join_http(header: &Value, ids: Vec<String>) -> Option<HttpCursor> {
    let remembered = |capacity: usize| {
        let mut r = RecentIds::new(capacity);
        for id in ids {
            r.insert(id);
        }
        r
    };
    match header["mode"].as_str()? {
        "unique" => {
            let capacity = usize::try_from(header["capacity"].as_u64()?).ok()?;
            Some(HttpCursor::Unique(remembered(capacity)))
        }
        "greatest" => Some(HttpCursor::Greatest {
            mark: Some(header["mark"].clone()).filter(|m| !m.is_null()),
            at_mark: remembered(DEFAULT_UNIQUE_CAPACITY),
            by: header["by"].as_str().map(String::from),
        }),
        _ => None,
    }
}

/// What the API shows as a PostgreSQL cursor.
pub fn pg_summary(cursor: &PgCursor) -> Value {
    serde_json::to_value(cursor).unwrap_or(Value::Null)
}

/// What the API shows as an HTTP cursor (counts, not the ids themselves).
pub fn http_summary(cursor: &HttpCursor) -> Value {
    let (header, ids) = split_http(cursor);
    match cursor {
        HttpCursor::Unique(_) => json!({"mode": "unique", "capacity": header["capacity"],
            "remembered_ids": ids.len()}),
        HttpCursor::Greatest { mark, .. } => {
            json!({"mode": "greatest", "mark": mark, "ids_at_mark": ids.len()})
        }
    }
}

/// The input of the run a record starts: `{"event": {"record": …}}`, redacted like every stored
/// input: fields under credential names and values that look like credentials become
/// `[redacted]` (steps see the same).
pub fn run_input(record: &NewRecord) -> Value {
    let mut input = json!({"event": {"record": record.record}});
    crate::kernel::redact::redact(&mut input, &[]);
    crate::kernel::redact::redact_credential_values(&mut input);
    input
}

/// Largest run input (compact JSON bytes) a polled record may have: a row holds at most 2 MB,
/// and the run row also gets the steps' results. A shard object stores an input of 800 KiB as
/// it is; 4 KiB of that is left for a gap mark (`mark_gap`). A larger record is a failed run
/// that says so, never a cut one.
pub const MAX_RECORD_INPUT_BYTES: usize = 796 * 1024;

/// What is stored for a polled record.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredRecord {
    /// A queued run with this input (JSON text).
    Run(String),
    /// A record that cannot be run (unreadable, or too large to store): a run recorded `failed`
    /// at once, with a stub input (its dedup key, and its size when too large) and this error
    /// (JSON text), so the poll moves on.
    Failed { input: String, error: String },
}

/// The stored form of `record`'s run: its (redacted) input, or a failed stub when the record
/// could not be read or the input is larger than `max` bytes.
pub fn stored_record(record: &NewRecord, max: usize) -> StoredRecord {
    // A record withheld by the read (too large to be sent) counts as the input it would make.
    let (input, bytes) = match record.withheld {
        Some(n) => (String::new(), n as usize + r#"{"event":{"record":}}"#.len()),
        None => {
            let input = run_input(record).to_string();
            let n = input.len();
            (input, n)
        }
    };
    let mut stub = json!({"record": null, "record_key": record.dedup_key});
    let error = match &record.unreadable {
        Some(problem) => json!({"message": problem, "code": "record_unreadable"}),
        None if bytes <= max && record.withheld.is_none() => return StoredRecord::Run(input),
        None => {
            stub["record_bytes"] = bytes.into();
            let message = format!(
                "the record is {bytes} bytes as JSON; at most {max} bytes are kept, so this \
                 record was not run"
            );
            json!({"message": message, "code": "record_too_large", "bytes": bytes,
                   "limit": max})
        }
    };
    StoredRecord::Failed {
        input: json!({ "event": stub }).to_string(),
        error: error.to_string(),
    }
}

/// Marks the oldest run of a poll that reported a gap: its input gets `event.gap` (the gap as
/// the poll status shows it), so the run history itself says where records may be missing.
pub fn mark_gap(stored: &mut StoredRecord, gap: &Value) {
    let input = match stored {
        StoredRecord::Run(input) | StoredRecord::Failed { input, .. } => input,
    };
    if let Ok(mut v) = json_parse::from_str::<Value>(input) {
        v["event"]["gap"] = gap.clone();
        *input = v.to_string();
    }
}

/// A poll run's dedup key: the record's key scoped to the source it was read from (its
/// [`source_fingerprint`]), so that a redeploy onto another table, cursor column or URL never
/// mistakes its records for ones seen under the old source.
pub fn scoped_dedup_key(fingerprint: &str, record_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(fingerprint.as_bytes());
    format!(
        "src:{}:{record_key}",
        &crate::kernel::hex::encode(&digest)[..16]
    )
}

/// The scope of a poll's dedup keys (see [`scoped_dedup_key`]): its source's fingerprint while
/// the column its record keys are read from (a PostgreSQL tiebreak, else the cursor) is the
/// one its source's first poll used (`first_key_column`); after a redeploy onto another key
/// column, the fingerprint and that column. Two key columns may share values (`id` and `seq`,
/// both counting from 1): a row keyed by the new column must not be taken for the row of the
/// old one that had the same key and ran. Going back to the first column gives back its keys.
pub fn dedup_scope(fingerprint: &str, first_key_column: &str, key_column: &str) -> String {
    match first_key_column == key_column {
        true => fingerprint.to_string(),
        false => json!([fingerprint, key_column]).to_string(),
    }
}

/// The 10 random bytes of a run id for the `seq`-th record of a batch: `seq` (3 bytes,
/// big-endian) then 7 random bytes. Run ids start with their creation time in ms, so the runs
/// of one batch, created in the same millisecond, still sort in cursor order.
pub fn batch_run_random(seq: u32, random: [u8; 7]) -> [u8; 10] {
    let s = seq.min(0x00ff_ffff).to_be_bytes();
    let mut out = [0u8; 10];
    out[..3].copy_from_slice(&s[1..]);
    out[3..].copy_from_slice(&random);
    out
}

/// Parses the body of `POST /api/workflows/{id}/poll/reset`: `{"start": "now" | "beginning"}`.
pub fn parse_reset(body: &Value) -> Result<PollStart, Errors> {
    let mut errors = Errors::new();
    let Some(obj) = body.as_object() else {
        errors.push("body", "must be a JSON object like {\"start\": \"now\"}");
        return Err(errors);
    };
    for key in obj.keys() {
        if key != "start" {
            errors.push(
                format!("body.{key}"),
                format!("unknown field `{key}`; the only field is `start`"),
            );
        }
    }
    let start = match obj.get("start") {
        Some(Value::String(s)) if s == "now" => Some(PollStart::Now),
        Some(Value::String(s)) if s == "beginning" => Some(PollStart::Beginning),
        None => {
            errors.push(
                "body.start",
                "is required: \"now\" (skip what the source has now) or \"beginning\" \
                 (start a run for every record that has none yet)",
            );
            None
        }
        Some(other) => {
            errors.push(
                "body.start",
                format!("must be \"now\" or \"beginning\", got {other}"),
            );
            None
        }
    };
    match start {
        Some(s) if errors.is_empty() => Ok(s),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests;
