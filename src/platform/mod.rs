//! What the pure domain code gets passed in: the clock, randomness and configuration.

use worker::Env;

pub mod binding;
pub mod body;
pub mod config_errors;
pub mod d1_stats;
pub mod dev_fault;
pub mod zone;

/// Milliseconds since the Unix epoch, from the runtime's clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// `N` bytes from the platform's CSPRNG; an error (never zeroed bytes) when it fails, so an id,
/// nonce or state is never made from predictable bytes.
pub fn random_bytes<const N: usize>() -> worker::Result<[u8; N]> {
    tripline_core::kernel::ids::random_array::<N, _>(getrandom::getrandom)
        .map_err(|e| worker::Error::RustError(e.to_string()))
}

/// A uniformly distributed number in `[0, 1)` (jitter only: the middle when randomness fails).
pub fn random_unit() -> f64 {
    match random_bytes::<8>() {
        Ok(b) => (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

thread_local! {
    /// Secrets and vars already looked up: they are fixed for an isolate's life (a changed
    /// secret or var is a new deployment), and a lookup of an unset name costs a thrown error.
    static ENV_STRINGS: std::cell::RefCell<std::collections::HashMap<String, Option<String>>> =
        Default::default();
}

/// A var written unquoted in `wrangler.toml` (`RUN_RETENTION_DAYS = 7`) reaches the Worker as
/// a number (or a boolean), not a string: read as its text.
fn unquoted_var(env: &Env, name: &str) -> Option<String> {
    let raw = js_sys::Reflect::get(env, &wasm_bindgen::JsValue::from_str(name)).ok()?;
    raw.as_f64()
        .map(|n| n.to_string())
        .or_else(|| raw.as_bool().map(|b| b.to_string()))
}

/// A secret or a plain var by name (a `[vars]` number or boolean as its text); `None` when unset or empty.
pub fn env_string(env: &Env, name: &str) -> Option<String> {
    if let Some(hit) = ENV_STRINGS.with(|m| m.borrow().get(name).cloned()) {
        return hit;
    }
    let value = env
        .secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .or_else(|| unquoted_var(env, name))
        .filter(|s| !s.is_empty());
    ENV_STRINGS.with(|m| {
        let mut m = m.borrow_mut();
        // Names come from deployed definitions too (secrets in templates): kept bounded.
        if m.len() >= 256 {
            m.clear();
        }
        m.insert(name.to_string(), value.clone());
    });
    value
}

/// A webhook signing secret with its rotation: `NAME` (one secret, or one per line) followed by
/// the lines of `NAME_PREVIOUS` when that is set. Never split on spaces or commas.
pub fn signing_secret(env: &Env, name: &str) -> Option<String> {
    let current = env_string(env, name);
    let previous = env_string(env, &format!("{name}_PREVIOUS"));
    match (current, previous) {
        (Some(c), Some(p)) => Some(format!("{c}\n{p}")),
        (c, p) => c.or(p),
    }
}

pub mod fetch;
