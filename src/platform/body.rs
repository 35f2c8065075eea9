//! Reading a whole response body through the runtime in one piece. The `worker` crate's
//! `text()` and `bytes()` pull the body's stream through wasm chunk by chunk, which costs a
//! large share of a short call (an object's answer, a small upstream reply).

use worker::wasm_bindgen_futures::JsFuture;
use worker::{js_sys, web_sys, Request, Response, Result};

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

/// The body's bytes.
pub async fn bytes(resp: Response) -> Result<Vec<u8>> {
    let js: web_sys::Response = resp.into();
    let buffer = JsFuture::from(js.array_buffer()?).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
