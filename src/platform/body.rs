//! Reading a whole request body through the runtime in one piece. The `worker` crate's `text()`
//! pulls the body's stream through wasm chunk by chunk, which costs a large share of a short
//! call. Answers are read whole in `binding` (an object's, the PostgreSQL Worker's) and
//! outbound ones in `fetch.js`.

use worker::wasm_bindgen_futures::JsFuture;
use worker::{Request, Result};

/// A request's JSON body, parsed natively: one text read instead of walking a JavaScript
/// object field by field (an object action's body).
pub async fn request_json<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T> {
    let text = JsFuture::from(req.inner().text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| worker::Error::RustError(e.to_string()))
}
