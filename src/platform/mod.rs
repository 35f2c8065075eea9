//! What the pure domain code gets passed in: the clock, randomness and configuration.

use worker::Env;

pub mod zone;

/// Milliseconds since the Unix epoch, from the runtime's clock.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// `N` bytes from the platform's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // getrandom on wasm32 uses crypto.getRandomValues, which does not fail in Workers.
    let _ = getrandom::getrandom(&mut buf);
    buf
}

/// A uniformly distributed number in `[0, 1)` (jitter).
pub fn random_unit() -> f64 {
    let b = random_bytes::<8>();
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// A secret or a plain var by name (secrets and `[vars]` are both strings); `None` when unset or empty.
pub fn env_string(env: &Env, name: &str) -> Option<String> {
    let s = env
        .secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()?;
    (!s.is_empty()).then_some(s)
}

pub mod fetch;
