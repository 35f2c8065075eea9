//! Reading a whole response body through the runtime in one piece. The `worker` crate's
//! `text()` and `bytes()` pull the body's stream through wasm chunk by chunk, which costs a
//! large share of a short call (an object's answer, a small upstream reply).

use worker::wasm_bindgen::JsValue;
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

/// A body of unknown length, read up to `max` bytes straight from the platform's reader (the
/// `worker` crate's stream adapter costs several times more per chunk). `cut` is true when the
/// body went past `max`: the rest is cancelled, never read.
pub async fn bytes_up_to(resp: Response, max: usize) -> Result<(Vec<u8>, bool)> {
    use worker::wasm_bindgen::JsCast;
    let js: web_sys::Response = resp.into();
    let Some(stream) = js.body() else {
        return Ok((Vec::new(), false));
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let (done, value) = (JsValue::from_str("done"), JsValue::from_str("value"));
    let mut body = Vec::new();
    loop {
        let result = JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&result, &done)?.is_truthy() {
            return Ok((body, false));
        }
        let chunk = js_sys::Uint8Array::new(&js_sys::Reflect::get(&result, &value)?);
        let room = max - body.len();
        let len = chunk.length() as usize;
        if len > room {
            body.extend(chunk.subarray(0, room as u32).to_vec());
            let _ = reader.cancel();
            return Ok((body, true));
        }
        let start = body.len();
        body.resize(start + len, 0);
        chunk.copy_to(&mut body[start..]);
    }
}
