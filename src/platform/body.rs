//! Reading a whole body through the runtime in one piece. The `worker` crate's `text()` pulls
//! the body's stream through wasm chunk by chunk, which costs a large share of a short call (an
//! object's answer, the PostgreSQL Worker's). Outbound answers are read in `fetch.js`.

use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Request, Response, Result};

/// The body as text (invalid UTF-8 replaced, as the platform's `text()` does).
pub async fn text(resp: Response) -> Result<String> {
    let js: web_sys::Response = resp.into();
    Ok(JsFuture::from(js.text()?)
        .await?
        .as_string()
        .unwrap_or_default())
}

/// A request's JSON body, parsed natively: one text read instead of walking a JavaScript
/// object field by field (an object action's body).
pub async fn request_json<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T> {
    let text = JsFuture::from(req.inner().text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| worker::Error::RustError(e.to_string()))
}
