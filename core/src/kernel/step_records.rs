//! A run's step records as a run row stores them: a JSON array with one record per step, kept
//! under a cap. A resume reads each record's `name` and `status` to skip the steps that already
//! succeeded, so however hard the records are cut, they stay an array of records that say so.

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
/// 1. `request` and `output`, each to an equal share of the cap (half of a record's share);
/// 2. then every field not kept, to that share, then to half of it, and so on;
/// 3. then the fields not kept are dropped (the record gets `"truncated": true`);
/// 4. then, only when the kept fields alone do not fit, the last records are dropped.
///
/// Text that is not a JSON array (the engine never writes one) becomes
/// `{"truncated": true, "size": N, "preview": "…"}`.
pub fn fit_step_records(steps: &str, cap: usize) -> String {
    if steps.len() <= cap {
        return steps.to_string();
    }
    let Ok(records) = serde_json::from_str::<Vec<Value>>(steps) else {
        let preview = prefix_at_char_boundary(steps, PREVIEW_MAX_BYTES.min(cap / 8));
        return json!({"truncated": true, "size": steps.len(), "preview": preview}).to_string();
    };
    let share = (cap / records.len().max(1) / 2).max(512);
    let text = cut(&records, false, share);
    if text.len() <= cap {
        return text;
    }
    let mut field = share;
    while field >= MIN_FIELD_BYTES {
        let text = cut(&records, true, field);
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

/// The records' JSON text with their `request` and `output` cut to `field_cap` bytes each, or
/// with `all`, every field not kept (a record that is not an object is cut whole).
fn cut(records: &[Value], all: bool, field_cap: usize) -> String {
    let cut: Vec<Value> = records
        .iter()
        .map(|record| match record {
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| match cuts(k, all) {
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

/// Whether `cut` cuts the field `key`.
fn cuts(key: &str, all: bool) -> bool {
    match all {
        true => !KEPT_FIELDS.contains(&key),
        false => key == "request" || key == "output",
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
