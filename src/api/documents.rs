//! The API's two JSON documents: the OpenAPI description and the definition schema. Their
//! sources are `src/api/openapi.json` and `src/api/definition.schema.json`; `scripts/build`
//! copies them (compacted) into the static assets, and the Worker answers from there, so the
//! ~15 KiB gzip they weigh stay out of the wasm (docs/size.md).

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

/// Reads the document from the `ASSETS` binding and answers it with its own headers.
pub async fn serve(env: &Env, doc: Document) -> Result<Response, ApiError> {
    let missing = || {
        ApiError::new(
            503,
            "Not available",
            format!(
                "{} is not among this deployment's static assets; build with scripts/build",
                doc.asset_path
            ),
        )
    };
    let assets = env.assets("ASSETS").map_err(|_| missing())?;
    let url = format!("https://assets.invalid{}", doc.asset_path);
    let mut found = assets.fetch(url, None).await.map_err(|_| missing())?;
    if found.status_code() != 200 {
        return Err(missing());
    }
    let body = found.bytes().await.map_err(|_| missing())?;
    let mut r = Response::from_bytes(body)?;
    r.headers_mut().set("content-type", doc.content_type)?;
    if doc.any_origin {
        r.headers_mut().set("access-control-allow-origin", "*")?;
    }
    Ok(r)
}
