//! A run's step records as a run row stores them: a JSON array with one record per step, kept
//! under a cap. A resume reads each record's `name` and `status` to skip the steps that already
//! succeeded, so however hard the records are cut, they stay an array of records that say so
//! (only when even those fields do not fit are the last records dropped).

use crate::kernel::json_parse;
use serde_json::{json, Value};

use super::redact::{prefix_at_char_boundary, truncate_output, PREVIEW_MAX_BYTES};

/// The fields of a step record kept whole whatever the cap: what a resume reads (`name`,
/// `status`) and the step's small facts. The engine writes them short.
pub const KEPT_FIELDS: [&str; 6] = [
    "name",
    "type",
    "status",
    "attempts",
    "started_at",
    "finished_at",
];

/// Below this share of the cap, the fields not kept are dropped rather than cut further.
const MIN_FIELD_BYTES: usize = 128;

/// `steps` (the JSON text of an array of step records) in at most `cap` bytes: as it is when it
/// fits; else still an array with one record per step, each keeping its [`KEPT_FIELDS`], its
/// other fields cut to `{"truncated": true, "size": N, "preview": "…"}` ([`truncate_output`])
/// until the whole fits:
/// 1. `request` alone, to half of a record's share of the cap (a later step may read an
///    earlier one's `output` when its run resumes without the sealed outputs);
/// 2. then `request` and `output`, each to that share;
/// 3. then every field not kept, to that share, then to half of it, and so on;
/// 4. then the fields not kept are dropped (the record gets `"truncated": true`);
/// 5. then, only when the kept fields alone do not fit, the last records are dropped.
///
/// Text that is not a JSON array (the engine never writes one) becomes
/// `{"truncated": true, "size": N, "preview": "…"}`.
pub fn fit_step_records(steps: &str, cap: usize) -> String {
    if steps.len() <= cap {
        return steps.to_string();
    }
    let Ok(records) = json_parse::from_str::<Vec<Value>>(steps) else {
        let preview = prefix_at_char_boundary(steps, PREVIEW_MAX_BYTES.min(cap / 8));
        return json!({"truncated": true, "size": steps.len(), "preview": preview}).to_string();
    };
    let share = (cap / records.len().max(1) / 2).max(512);
    for fields in [Fields::Request, Fields::RequestAndOutput] {
        let text = cut(&records, fields, share);
        if text.len() <= cap {
            return text;
        }
    }
    let mut field = share;
    while field >= MIN_FIELD_BYTES {
        let text = cut(&records, Fields::NotKept, field);
        if text.len() <= cap {
            return text;
        }
        field /= 2;
    }
    let mut kept: Vec<Value> = records.iter().map(kept_only).collect();
    loop {
        let text = serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into());
        if text.len() <= cap || kept.is_empty() {
            return text;
        }
        kept.pop();
    }
}

/// Which fields of a record [`cut`] cuts.
#[derive(Clone, Copy)]
enum Fields {
    Request,
    RequestAndOutput,
    /// Every field not in [`KEPT_FIELDS`].
    NotKept,
}

/// The records' JSON text with the fields `which` names cut to `field_cap` bytes each (a record
/// that is not an object is cut whole).
fn cut(records: &[Value], which: Fields, field_cap: usize) -> String {
    let cut: Vec<Value> = records
        .iter()
        .map(|record| match record {
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| match cuts(k, which) {
                        true => (k.clone(), truncate_output(v.clone(), field_cap)),
                        false => (k.clone(), v.clone()),
                    })
                    .collect(),
            ),
            other => truncate_output(other.clone(), field_cap),
        })
        .collect();
    serde_json::to_string(&cut).unwrap_or_else(|_| "[]".into())
}

/// Whether `which` names the field `key`.
fn cuts(key: &str, which: Fields) -> bool {
    match which {
        Fields::Request => key == "request",
        Fields::RequestAndOutput => key == "request" || key == "output",
        Fields::NotKept => !KEPT_FIELDS.contains(&key),
    }
}

/// A record with its [`KEPT_FIELDS`] only, marked `"truncated": true`.
fn kept_only(record: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Value::Object(fields) = record {
        for (k, v) in fields {
            if KEPT_FIELDS.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.insert("truncated".into(), Value::Bool(true));
    Value::Object(out)
}

#[cfg(test)]
mod tests;
