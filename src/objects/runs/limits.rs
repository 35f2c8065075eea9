//! What bounds a shard object's runs: attempts per run, bytes per stored value, days kept and
//! bytes per object. Each has a Worker variable so tests can make it small.

use serde_json::json;
use worker::Env;

use crate::platform::env_string;

/// The largest value (input, step record, reply) stored as is; larger ones are truncated with
/// their size noted. The platform caps a row at 2 MB; several values share a row.
pub const VALUE_CAP_BYTES: usize = 400 * 1024;
/// The largest run input stored as is. A request body that would make an input longer is kept
/// in pieces beside the row (`INLINE_INPUT_MAX`), and a larger polled record is a failed run
/// (`MAX_RECORD_INPUT_BYTES`): neither is ever cut.
pub const INPUT_CAP_BYTES: usize = 2 * VALUE_CAP_BYTES;
/// The largest run error stored as is (a message: larger ones are truncated like any value).
pub const ERROR_CAP_BYTES: usize = 64 * 1024;
/// Most bytes of values (input, steps, reply, error, sealed outputs) one run row holds: the
/// platform caps a row at 2 MB, and the row's other columns need a little room. Every value
/// but the sealed outputs fits at its cap; those are dropped when they would not.
pub const ROW_VALUES_MAX: usize = 1_900_000;
const _: () = assert!(INPUT_CAP_BYTES + 2 * VALUE_CAP_BYTES + ERROR_CAP_BYTES < ROW_VALUES_MAX);
/// The largest input of a run moved from D1 kept whole: what the row holds beside its steps,
/// reply and error at their caps. Earlier versions kept a polled record's input up to 1 000 000
/// bytes; a larger input moves as a failed run, never one that runs on a cut input.
pub const MOVED_INPUT_MAX: usize = ROW_VALUES_MAX - 2 * VALUE_CAP_BYTES - ERROR_CAP_BYTES;
const _: () = assert!(MOVED_INPUT_MAX >= 1_000_000);
const _: () = assert!(tripline_core::endpoint::runtime::INLINE_INPUT_MAX <= INPUT_CAP_BYTES);
const _: () = assert!(tripline_core::poll::state::MAX_RECORD_INPUT_BYTES <= INPUT_CAP_BYTES);

/// A Worker variable read as a positive number (`None`: unset, not a number, or not above 0;
/// a value set but not used says so in the log, once a minute).
pub(crate) fn env_number(env: &Env, name: &str) -> Option<f64> {
    let text = env_string(env, name)?;
    let n = tripline_core::kernel::json_parse::decimal(text.trim()).filter(|n| *n > 0.0);
    if n.is_none() {
        crate::platform::config_errors::log_config_error(&format!(
            "{name} is `{text}`, not a number above 0: its default is used"
        ));
    }
    n
}

/// `RUN_MAX_ATTEMPTS` (default 10): a claim past it fails the run instead of executing it.
pub fn max_attempts(env: &Env) -> i64 {
    env_number(env, "RUN_MAX_ATTEMPTS").map_or(10, |n| n.max(1.0) as i64)
}

/// `RUN_RETENTION_DAYS` (default 30, at least an hour, at most 36 500), in ms: finished runs
/// older than this are deleted. (A run's dedup key must outlive the retries that send it again,
/// a schedule's for an hour; the cap keeps times a retention from now within an `i64`.)
pub fn retention_ms(env: &Env) -> i64 {
    let days = env_number(env, "RUN_RETENTION_DAYS").unwrap_or(30.0);
    (days.clamp(1.0 / 24.0, 36_500.0) * 86_400_000.0) as i64
}

/// `RUN_IN_FLIGHT_BYTES` (default 24 MiB): most stored bytes (input and step records) of a
/// shard's runs executing at once. Each one's input is read and parsed and its answers are read
/// in memory, and an isolate has 128 MB; a run larger than this still executes, alone.
pub fn in_flight_bytes(env: &Env) -> i64 {
    env_number(env, "RUN_IN_FLIGHT_BYTES").map_or(24 * 1024 * 1024, |n| n as i64)
}

/// `RUN_WAKE_CALLS` (default 5 000): most outbound calls (`http` steps' attempts) one wake of
/// the executor makes. The platform counts an alarm's subrequests (10 000 per invocation on
/// Workers Paid), and a wake that drains a backlog alone could reach that count, failing every
/// later call; past this many, a wake starts no more steps that reach out, and the next wake, a
/// new invocation, goes on once its steps in flight have ended. Half the platform's count: room
/// for redirects the platform follows (which may count too) and the wake's other subrequests.
pub fn wake_calls(env: &Env) -> u64 {
    env_number(env, "RUN_WAKE_CALLS").map_or(5_000, |n| n.max(1.0) as u64)
}

/// `RUN_WAKE_RUNS` (default 5 000): most runs one wake of the executor starts. The platform
/// limits an alarm invocation's CPU time (30 s by default), and runs that never reach out
/// (`log` steps, replies) are bounded by the wake's 9 minutes of claiming but not by its calls:
/// a backlog of them drained by one wake could pass 30 s of CPU, and the platform would end
/// the invocation.
/// Past this many, the wake starts no more runs, and the next wake goes on once its runs in
/// flight have ended (at ~1 ms of CPU a run, 5 s of the 30).
pub fn wake_runs(env: &Env) -> u64 {
    env_number(env, "RUN_WAKE_RUNS").map_or(5_000, |n| n.max(1.0) as u64)
}

/// `RUN_STORAGE_LIMIT_BYTES` (default 9.5 GB, at most 9.9 GB): past it, the object refuses
/// new runs (507). Above the platform's 10 GB an object would fail its writes instead.
pub fn storage_limit(env: &Env) -> f64 {
    env_number(env, "RUN_STORAGE_LIMIT_BYTES").map_or(9.5e9, |n| n.min(STORAGE_LIMIT_MAX))
}

/// The largest `RUN_STORAGE_LIMIT_BYTES` used: below the platform's 10 GB per object.
const STORAGE_LIMIT_MAX: f64 = 9.9e9;

/// The size of the object's SQLite in bytes (read as a number: it may pass 4 GiB, which a
/// wasm `usize` cannot hold).
pub fn database_size(sql: &worker::SqlStorage) -> f64 {
    worker::js_sys::Reflect::get(sql.as_ref(), &"databaseSize".into())
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}

/// A run's error (the JSON of `{"message", …}`) as it is when at most `cap` bytes, else with
/// its message cut (a value quoted whole in it can be long): still `{"message", "code"?, …}`,
/// with `"truncated": true` and the `size` it had. An error of another shape is cut as
/// [`fit_text`] cuts.
pub fn fit_error(text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let parsed = tripline_core::kernel::json_parse::from_str::<serde_json::Value>(&text).ok();
    let Some(message) = parsed.as_ref().and_then(|v| v["message"].as_str()) else {
        return fit_text(text, cap);
    };
    let kept = tripline_core::kernel::redact::prefix_at_char_boundary(message, ERROR_MESSAGE_KEPT);
    let mut cut = json!({
        "message": format!("{kept}… (cut: the message was {} bytes)", message.len()),
        "truncated": true,
        "size": text.len(),
    });
    if let Some(code) = parsed.as_ref().and_then(|v| v["code"].as_str()) {
        if code.len() <= 64 {
            cut["code"] = json!(code);
        }
    }
    fit_text(cut.to_string(), cap)
}

/// How much of a cut error's message is kept.
const ERROR_MESSAGE_KEPT: usize = 4096;

/// JSON text (already serialised) as it is when at most `cap` bytes, else the JSON of
/// `{"truncated": true, "size": N, "preview": "…"}`.
pub fn fit_text(text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let preview = tripline_core::kernel::redact::prefix_at_char_boundary(&text, 2048);
    json!({ "truncated": true, "size": text.len(), "preview": preview }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_error_keeps_a_message() {
        let long = "é".repeat(50_000);
        let error = json!({"message": format!("step `s`: {long}"), "code": "c"}).to_string();
        let cut: serde_json::Value =
            serde_json::from_str(&fit_error(error.clone(), 64 * 1024)).unwrap();
        let message = cut["message"].as_str().unwrap();
        assert!(message.starts_with("step `s`: éé"), "{message}");
        assert!(
            message.ends_with("(cut: the message was 100010 bytes)"),
            "{message}"
        );
        assert!(message.len() < 4200);
        assert_eq!(cut["code"], "c");
        assert_eq!(cut["truncated"], true);
        assert_eq!(cut["size"], error.len());
        // Short ones and other shapes are as before.
        let short = json!({"message": "m"}).to_string();
        assert_eq!(fit_error(short.clone(), 64), short);
        let other = json!({"detail": "x".repeat(100)}).to_string();
        assert_eq!(fit_error(other.clone(), 64), fit_text(other, 64));
    }
}
