//! A call to a binding (a Durable Object's stub, the PostgreSQL Worker's service binding)
//! through the platform's own `fetch(url, init)` with a plain init object: no `Request` is built
//! and no `Response` converted through the `worker` crate's types (a few percent of a webhook's
//! CPU, and the conversion's code).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::Result;

#[wasm_bindgen]
extern "C" {
    /// A binding as the platform has it.
    pub type Binding;
    #[wasm_bindgen(method, catch)]
    fn fetch(
        this: &Binding,
        url: &str,
        init: &js_sys::Object,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// POSTs `url` (with an optional body) to `binding`: the answer's status and its body read
/// whole.
pub async fn post(binding: &Binding, url: &str, body: Option<String>) -> Result<(u16, String)> {
    let init = js_sys::Object::new();
    js_sys::Reflect::set(&init, &"method".into(), &"POST".into())?;
    if let Some(body) = body {
        js_sys::Reflect::set(&init, &"body".into(), &body.into())?;
    }
    let resp: worker::web_sys::Response =
        wasm_bindgen_futures::JsFuture::from(binding.fetch(url, &init)?)
            .await?
            .dyn_into()?;
    let status = resp.status();
    let text = wasm_bindgen_futures::JsFuture::from(resp.text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    Ok((status, text))
}
