//! The API's two JSON documents: the OpenAPI description and the definition schema. Their
//! sources are `src/api/openapi.json` and `src/api/definition.schema.json`; `scripts/build`
//! copies them (compacted) into the static assets, and the Worker answers from there, so the
//! ~15 KiB gzip they weigh stay out of the wasm (docs/size.md).

use wasm_bindgen::prelude::*;
use worker::{Env, Response};

use super::problem::ApiError;

/// One document: where it sits among the assets and how it is labelled.
pub struct Document {
    pub asset_path: &'static str,
    pub content_type: &'static str,
    /// Editors and validators on other origins fetch the schema; the description is same-origin.
    pub any_origin: bool,
}

pub const OPENAPI: Document = Document {
    asset_path: "/api/openapi.json",
    content_type: "application/json",
    any_origin: false,
};

pub const DEFINITION_SCHEMA: Document = Document {
    asset_path: "/api/definition.schema.json",
    content_type: "application/schema+json",
    any_origin: true,
};

#[wasm_bindgen(module = "/src/platform/assets.js")]
extern "C" {
    #[wasm_bindgen(js_name = serveAsset)]
    fn serve_asset(
        env: &JsValue,
        path: &str,
        content_type: &str,
        any_origin: bool,
    ) -> js_sys::Promise;
}

/// Reads the document from the `ASSETS` binding and answers it with its own headers (built on
/// the JavaScript side: `src/platform/assets.js`).
pub async fn serve(env: &Env, doc: Document) -> Result<Response, ApiError> {
    let promise = serve_asset(env, doc.asset_path, doc.content_type, doc.any_origin);
    match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(found) if !found.is_null() => Ok(Response::from(
            found.unchecked_into::<worker::web_sys::Response>(),
        )),
        _ => Err(ApiError::new(
            503,
            "Not available",
            format!(
                "{} is not among this deployment's static assets; build with scripts/build",
                doc.asset_path
            ),
        )),
    }
}
