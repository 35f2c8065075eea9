//! What a run keeps sealed while it is unfinished, with the key of the OAuth tokens:
//!
//! - its secrets: values its input needs that the stored (redacted) input shows as
//!   "[redacted]", e.g. the access token of the sign-in that started it, so executing it reads
//!   nothing else (see `engine::put_back_secrets`);
//! - the raw (unredacted) outputs of its finished steps, so that a resumed run hands later
//!   steps what earlier steps really returned, while they take at most
//!   [`OUTPUTS_CAP_BYTES`] sealed (their length is known before they are written out: larger
//!   ones are neither written out nor sealed).
//!
//! Without the key nothing is kept: the run then reads the connection, and a resumed run sees
//! the stored, redacted outputs.

use serde_json::{Map, Value};
use tripline_core::kernel::json_parse;
use worker::Env;

use crate::engine::oauth::{seal, seal_key};
use crate::engine::outputs::RawOutputs;
use tripline_core::kernel::crypto;

fn outputs_aad(run_id: &str) -> String {
    format!("run-outputs:{run_id}")
}

fn secrets_aad(run_id: &str) -> String {
    format!("run-secrets:{run_id}")
}

fn seal_json(env: &Env, aad: &str, value: &impl serde::Serialize) -> Option<String> {
    let key = seal_key(env).ok()?;
    let text = serde_json::to_string(value).ok()?;
    seal(&key, aad, &text).ok()
}

fn open_json<T: serde::de::DeserializeOwned>(
    env: &Env,
    aad: &str,
    sealed: Option<&str>,
) -> Option<T> {
    // The key is looked for only when there is something to open.
    let sealed = sealed?;
    let key = seal_key(env).ok()?;
    crypto::open(&key, aad, sealed)
        .ok()
        .and_then(|t| json_parse::from_str(&t).ok())
}

/// The largest sealed raw outputs kept for a resume.
pub const OUTPUTS_CAP_BYTES: usize = 1_000_000;

/// Whether outputs whose JSON takes `json_bytes` fit [`OUTPUTS_CAP_BYTES`] once sealed.
fn outputs_fit(json_bytes: usize) -> bool {
    crypto::sealed_len(json_bytes) <= OUTPUTS_CAP_BYTES
}

/// `outputs` sealed for `run_id`; `None` when they would not fit [`OUTPUTS_CAP_BYTES`] sealed,
/// no key is configured or sealing fails.
pub fn seal_outputs(env: &Env, run_id: &str, outputs: RawOutputs<'_>) -> Option<String> {
    let map = outputs.map()?;
    if !outputs_fit(outputs.json_bytes()) {
        return None;
    }
    seal_json(env, &outputs_aad(run_id), map).filter(|s| s.len() <= OUTPUTS_CAP_BYTES)
}

/// The outputs sealed for `run_id`; empty when absent or unreadable (a rotated key).
pub fn open_outputs(env: &Env, run_id: &str, sealed: Option<&str>) -> Map<String, Value> {
    open_json(env, &outputs_aad(run_id), sealed).unwrap_or_default()
}

/// A run's secrets (a JSON object laid over its input) sealed for `run_id`; `None` when no key
/// is configured or sealing fails.
pub fn seal_secrets(env: &Env, run_id: &str, secrets: &Value) -> Option<String> {
    seal_json(env, &secrets_aad(run_id), secrets)
}

/// The secrets sealed for `run_id`; `None` when absent or unreadable (a rotated key).
pub fn open_secrets(env: &Env, run_id: &str, sealed: Option<&str>) -> Option<Value> {
    open_json::<Value>(env, &secrets_aad(run_id), sealed).filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_fit_by_their_length_once_sealed() {
        // Sealed, JSON grows by a third (base64) and a fixed envelope.
        assert!(outputs_fit(0));
        assert!(outputs_fit(740_000));
        assert!(!outputs_fit(760_000));
        let largest = (0..OUTPUTS_CAP_BYTES)
            .rev()
            .find(|n| outputs_fit(*n))
            .unwrap();
        assert!(crypto::sealed_len(largest) <= OUTPUTS_CAP_BYTES);
        assert!(crypto::sealed_len(largest + 1) > OUTPUTS_CAP_BYTES);
        // Three answers near the 8 MiB cap are not sealed.
        assert!(!outputs_fit(3 * 8 * 1024 * 1024));
    }
}
