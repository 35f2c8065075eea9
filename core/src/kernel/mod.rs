//! What every trigger shares: validation problems and the JSON reader that collects them, names of
//! Worker configuration, ids, API time stamps, redaction of stored records, and encryption at rest.

pub mod columns;
pub mod crypto;
pub mod hex;
pub mod ids;
pub mod json_budget;
pub mod json_len;
pub mod json_parse;
pub mod lone_surrogates;
pub mod names;
pub mod outbox;
pub mod percent;
pub mod problem;
pub mod reader;
pub mod redact;
pub mod revision;
pub mod rfc2822;
pub mod shard;
pub mod small_sort;
pub mod spelling;
pub mod step_records;
pub mod time;
pub mod trigger_kind;
