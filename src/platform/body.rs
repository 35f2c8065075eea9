//! Reading a whole request body through the runtime in one piece. The `worker` crate's `text()`
//! pulls the body's stream through wasm chunk by chunk, which costs a large share of a short
//! call. Answers are read whole in `binding` (an object's, the PostgreSQL Worker's) and
//! outbound ones in `fetch.js`.

use tripline_core::kernel::json_parse;
use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Request, Result};

#[wasm_bindgen(module = "/src/platform/body.js")]
extern "C" {
    #[wasm_bindgen(js_name = readCapped)]
    fn read_capped_js(request: &JsValue, max: f64, max_drain: f64) -> js_sys::Promise;
}

/// What reading a body with a cap gave.
pub enum CappedBody {
    Whole(Vec<u8>),
    /// Over the cap (the rest was read, up to a bound, and dropped).
    TooLarge,
    /// Broken off by the sender, or otherwise unreadable: never to be taken for the body. (The
    /// `worker` crate's body stream ends quietly when the sender aborts, which would take the
    /// part that arrived for the whole.)
    Failed(String),
}

/// Reads the body of a request without a Content-Length (chunked), at most `max` bytes; past
/// that, reads up to `max_drain` more so that the sender reads the answer.
pub async fn read_capped(req: &Request, max: usize, max_drain: usize) -> Result<CappedBody> {
    let answer: js_sys::Array =
        JsFuture::from(read_capped_js(req.inner(), max as f64, max_drain as f64))
            .await?
            .into();
    Ok(match answer.get(0).as_string().as_deref() {
        Some("ok") => CappedBody::Whole(js_sys::Uint8Array::new(&answer.get(1)).to_vec()),
        Some("too_large") => CappedBody::TooLarge,
        _ => CappedBody::Failed(answer.get(1).as_string().unwrap_or_default()),
    })
}

/// A request's JSON body, parsed natively: one text read instead of walking a JavaScript
/// object field by field (an object action's body).
pub async fn request_json<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T> {
    let text = JsFuture::from(req.inner().text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    json_parse::from_str(&text).map_err(|e| worker::Error::RustError(e.to_string()))
}
