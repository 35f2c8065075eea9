//! Writing an answer: JSON with a status (errors are `problem::ApiError`).

use serde::Serialize;
use worker::{Headers, Response};

use super::problem::{ApiError, ApiResult};

/// A JSON answer with `status`.
pub fn json_response<T: Serialize>(status: u16, value: &T) -> ApiResult {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(e.to_string()))?;
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::from_bytes(body)?
        .with_status(status)
        .with_headers(headers))
}
