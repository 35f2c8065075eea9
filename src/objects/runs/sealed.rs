//! The raw (unredacted) outputs of a run's finished steps, kept sealed while the run is
//! unfinished so that a resumed run hands later steps what earlier steps really returned. Sealed
//! with the key of the OAuth tokens; without that key nothing is kept (a resumed run then sees
//! the stored, redacted outputs).

use serde_json::{Map, Value};
use worker::Env;

use crate::engine::oauth::{seal, seal_key};
use tripline_core::kernel::crypto;

fn aad(run_id: &str) -> String {
    format!("run-outputs:{run_id}")
}

/// `outputs` sealed for `run_id`, `None` when no key is configured or sealing fails.
pub fn seal_outputs(env: &Env, run_id: &str, outputs: &Map<String, Value>) -> Option<String> {
    let key = seal_key(env).ok()?;
    let text = serde_json::to_string(outputs).ok()?;
    seal(&key, &aad(run_id), &text).ok()
}

/// The outputs sealed for `run_id`; empty when absent or unreadable (a rotated key).
pub fn open_outputs(env: &Env, run_id: &str, sealed: Option<&str>) -> Map<String, Value> {
    // The key is read only for a run that has sealed outputs.
    let Some((sealed, key)) = sealed.and_then(|s| Some((s, seal_key(env).ok()?))) else {
        return Map::new();
    };
    crypto::open(&key, &aad(run_id), sealed)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}
