//! Reading a request: bounded bodies, JSON bodies, query strings, the origin trigger URLs are built on.

use serde_json::Value;
use worker::Request;

use super::problem::{ApiError, ApiResult};

/// Management API bodies are capped at 1 MiB.
pub const MAX_API_BODY: usize = 1024 * 1024;

/// Past a body's cap, how much more of a chunked body is read (and dropped) before answering.
const MAX_DRAIN: usize = 16 * 1024 * 1024;

/// Reads the raw body, refusing more than `max` bytes with 413 (by Content-Length first).
pub async fn read_body(req: &mut Request, max: usize) -> ApiResult<Vec<u8>> {
    let too_large = || {
        let message = format!("the body must be at most {max} bytes");
        let mut errors = tripline_core::kernel::problem::Errors::new();
        errors.push("body", message.clone());
        ApiError::new(413, "Payload too large", message).with_errors(errors)
    };
    // A Content-Length that is absent (a chunked body) or not one number caps nothing: the
    // body is read piece by piece and stopped at the cap, rather than buffering whatever
    // the sender streams; a body the sender broke off is refused.
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|len| len.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > max as u64 => return Err(too_large()),
        Some(_) => {}
        None => {
            use crate::platform::body::{read_capped, CappedBody};
            return match read_capped(req, max, MAX_DRAIN).await? {
                CappedBody::Whole(bytes) => Ok(bytes),
                CappedBody::TooLarge => Err(too_large()),
                CappedBody::Failed(e) => Err(ApiError::field(
                    "body",
                    format!("could not be read in full ({e}); send it again"),
                )),
            };
        }
    }
    // A body that cannot be read in full (the sender stopped before its Content-Length) is
    // refused: an empty or partial body must never be taken for the request.
    let bytes = req.bytes().await.map_err(|e| {
        ApiError::field(
            "body",
            format!(
                "could not be read in full ({e}); send the whole body as its Content-Length says"
            ),
        )
    })?;
    if bytes.len() > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads a JSON body: 415 for another content type, 413 when too large, 400 with the
/// parser's line and column when malformed. A UTF-8 byte order mark before it is skipped.
pub async fn read_json(req: &mut Request) -> ApiResult<Value> {
    read_optional_json(req)
        .await?
        .ok_or_else(|| ApiError::field("body", "is required: send a JSON object"))
}

/// As [`read_json`] for a body that may be left out: `None` for an empty (or blank) one.
pub async fn read_optional_json(req: &mut Request) -> ApiResult<Option<Value>> {
    if let Some(ct) = req.headers().get("content-type")? {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" && !mime.ends_with("+json") {
            let mut errors = tripline_core::kernel::problem::Errors::new();
            errors.push(
                "header.content-type",
                format!("must be application/json (got {mime})"),
            );
            return Err(ApiError::new(
                415,
                "Unsupported media type",
                format!("send the body as application/json (got {mime})"),
            )
            .with_errors(errors));
        }
    }
    let body = read_body(req, MAX_API_BODY).await?;
    // A compressed body would read as malformed JSON: say what is wrong with it instead.
    let encoding = req.headers().get("content-encoding")?;
    if let Err(e) = tripline_core::endpoint::body::refuse_encoded(encoding.as_deref(), &body) {
        let mut errors = tripline_core::kernel::problem::Errors::new();
        errors.push(e.location(), e.to_string());
        return Err(ApiError::new(415, "Unsupported media type", e.to_string()).with_errors(errors));
    }
    // A UTF-8 byte order mark (Notepad, PowerShell's `Out-File -Encoding utf8`) is no content,
    // as at the trigger URLs and in `tripline` files.
    let bytes = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // Parsed within a budget, like every JSON body from outside.
    use tripline_core::kernel::json_budget::{check, counted_in, OverBudget};
    let counted = check(bytes).map_err(|over| {
        let status = match over {
            OverBudget::TooManyValues { .. } => 413,
            OverBudget::TooDeep { .. } => 400,
        };
        let mut errors = tripline_core::kernel::problem::Errors::new();
        errors.push("body", over.to_string());
        ApiError::new(status, "JSON over budget", over.to_string()).with_errors(errors)
    })?;
    let value = serde_json::from_slice(bytes).map_err(|e| {
        // Half of a UTF-16 surrogate pair (`"\ud83d"`, an emoji cut in two) is no text.
        let pair = match e.to_string().contains("hex escape") {
            true => "; an escape from \\ud800 to \\udbff must be followed by one from \\udc00 to \\udfff (the two halves of a surrogate pair)",
            false => "",
        };
        // The parser's message ends with the line and column ("… at line 1 column 2").
        ApiError::field("body", format!("is not valid JSON: {e}{pair}"))
    })?;
    // The parser keeps the last of a key written twice: a typo must not pass silently.
    if counted_in(&value) != counted {
        return Err(ApiError::field(
            "body",
            "writes a key twice in one object (only the last would be kept): write each key once",
        ));
    }
    Ok(Some(value))
}

/// The decoded query string as ordered pairs.
pub fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.url()
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The decoded query string as ordered pairs, refused (`400` at `query.<name>`) when a name or
/// value is not UTF-8 once decoded, rather than read with U+FFFD in it: for parameters that
/// must arrive exactly (the Sign-in URL's `redirect` and `user_id`).
pub fn exact_query_pairs(req: &Request) -> ApiResult<Vec<(String, String)>> {
    let url = req.url()?;
    tripline_core::kernel::percent::decode_query(url.query().unwrap_or("")).map_err(|name| {
        ApiError::field(
            &format!("query.{name}"),
            "is not valid UTF-8 once percent-decoded: encode the text as UTF-8 before percent-encoding it",
        )
    })
}

/// The first value of a query parameter.
pub fn query_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `scheme://host[:port]` of the request, for building absolute URLs.
pub fn origin(req: &Request) -> String {
    req.url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}
