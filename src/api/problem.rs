//! Every error answer is `application/problem+json` (RFC 9457) with the fields at fault.

use serde_json::json;
use worker::{Headers, Response};

use tripline_core::kernel::problem::Errors;

/// Most characters of a request's text (an id, a path) a detail repeats.
pub const MAX_ECHOED_CHARS: usize = 100;

/// `text` as a detail repeats it: whole up to [`MAX_ECHOED_CHARS`] characters, else its first
/// ones and `…`.
pub fn echoed(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_ECHOED_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
        None => text.into(),
    }
}

/// An error a handler answers with.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub title: &'static str,
    pub detail: String,
    pub errors: Errors,
    pub headers: Vec<(&'static str, String)>,
    /// Extension members of the problem object (RFC 9457 §3.2), e.g. `run_id`.
    pub extra: Vec<(&'static str, serde_json::Value)>,
}

impl ApiError {
    pub fn new(status: u16, title: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            title,
            detail: detail.into(),
            errors: Errors::new(),
            headers: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Adds an extension member to the problem object.
    pub fn with_field(mut self, name: &'static str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_errors(mut self, errors: Errors) -> Self {
        self.errors = errors;
        self
    }

    /// 400 with every validation error.
    pub fn validation(detail: impl Into<String>, errors: Errors) -> Self {
        ApiError::new(400, "Invalid request", detail).with_errors(errors)
    }

    /// 400 about one field.
    pub fn field(location: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut errors = Errors::new();
        errors.push(location, message.clone());
        ApiError::new(400, "Invalid request", format!("{location}: {message}")).with_errors(errors)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(404, "Not found", detail)
    }

    /// 404 for an id that names no `kind` (`run`, `workflow`): `no run with id …`, the id
    /// [`echoed`] (a URL may carry thousands of characters).
    pub fn not_found_id(kind: &str, id: &str) -> Self {
        ApiError::not_found(format!("no {kind} with id {}", echoed(id)))
    }

    pub fn method_not_allowed(allow: &[&str]) -> Self {
        let allow = allow.join(", ");
        ApiError::new(
            405,
            "Method not allowed",
            format!("this URL accepts: {allow}"),
        )
        .with_header("allow", allow)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::new(500, "Internal error", detail)
    }

    /// 503 for a workflow's object that did not answer (it is being moved or restarted, or its
    /// storage failed): the catalog is fine and the request may be sent again.
    pub fn object_unavailable(e: worker::Error) -> Self {
        worker::console_error!("object call failed: {e}");
        ApiError::new(
            503,
            "Workflow object unavailable",
            "the workflow's object did not answer; the request changed nothing and may be retried",
        )
        .with_header("retry-after", "1")
    }

    /// 503 for a saved draft whose copy in the workflow's object, which the test URL follows,
    /// could not be updated: the save stands (its `ETag` is the saved `draft`'s, for the next
    /// `If-Match`), and saving the same draft again updates it.
    pub fn object_unavailable_after_save(e: worker::Error, draft: &str) -> Self {
        worker::console_error!("draft copy not handed to the object: {e}");
        ApiError::new(
            503,
            "Draft saved, test URL not updated",
            "the draft was saved, but the workflow's object, whose copy of the draft the test \
             URL follows, could not be told; save the same draft again to update it",
        )
        .with_header("retry-after", "1")
        .with_header("etag", tripline_core::kernel::revision::draft_tag(draft))
    }

    fn type_uri(&self) -> String {
        let slug = match self.status {
            400 if !self.errors.is_empty() => "validation",
            400 => "bad-request",
            401 => "unauthorized",
            404 => "not-found",
            405 => "method-not-allowed",
            409 => "conflict",
            413 => "payload-too-large",
            415 => "unsupported-media-type",
            422 => "unprocessable",
            // A run that failed before its Response step could answer.
            502 if self.title == "Run failed" => "run-failed",
            502 => "bad-gateway",
            // Passing trouble, worth a retry (most say when, with Retry-After).
            503 if self.title == "Not deleted"
                || self
                    .headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("retry-after")) =>
            {
                "unavailable"
            }
            503 => "not-configured",
            507 => "insufficient-storage",
            _ => "error",
        };
        format!("urn:tripline:problem:{slug}")
    }

    pub fn into_response(self) -> Response {
        let mut body = json!({
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "errors": self.errors,
        });
        for (k, v) in self.extra {
            body[k] = v;
        }
        let headers = Headers::new();
        let _ = headers.set("content-type", "application/problem+json");
        for (k, v) in &self.headers {
            let _ = headers.set(k, v);
        }
        Response::from_bytes(body.to_string().into_bytes())
            .unwrap_or_else(|_| Response::empty().expect("empty response"))
            .with_status(self.status)
            .with_headers(headers)
    }
}

impl From<crate::objects::runs::client::CreateError> for ApiError {
    fn from(e: crate::objects::runs::client::CreateError) -> Self {
        use crate::objects::runs::client::CreateError;
        match e {
            CreateError::Full(detail) => ApiError::new(507, "Insufficient storage", detail),
            CreateError::Deleted(detail) => ApiError::not_found(detail),
            CreateError::TooLarge(message) => {
                let mut errors = Errors::new();
                errors.push("body", message.clone());
                ApiError::new(413, "Payload too large", message).with_errors(errors)
            }
            CreateError::Failed(e) => {
                worker::console_error!("run shard call failed: {e}");
                ApiError::new(
                    503,
                    "Run shard unavailable",
                    "the workflow's run shard did not answer, so whether the run was stored is \
                     not known; a request sent again with the same dedup key (an \
                     Idempotency-Key, a signed webhook's id) makes no second run",
                )
                .with_header("retry-after", "1")
            }
        }
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        worker::console_error!("internal error: {e}");
        ApiError::internal(
            "the request could not be completed (the Worker's log has the error); a read may be \
             sent again, and a write may have been applied in part: read what it changes first",
        )
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;
