//! D1 access, one file per table family. Values are bound as JS values; epoch-ms numbers stay
//! below 2^53 so they travel as doubles without loss.

pub mod arm_outbox;
pub mod connections;
pub mod last_runs;
mod row;
pub mod runs;
pub mod workflows;

use wasm_bindgen::JsValue;
use worker::{D1Database, Env, Result};

/// The D1 binding (counting its statements in local mode, see `platform::d1_stats`).
pub fn db(env: &Env) -> Result<D1Database> {
    Ok(crate::platform::d1_stats::counted(env, env.d1("DB")?))
}

/// A text parameter.
pub fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

/// A numeric parameter (integers below 2^53).
pub fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// An optional text parameter (`NULL` when `None`).
pub fn opt_text(s: Option<&str>) -> JsValue {
    s.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}
