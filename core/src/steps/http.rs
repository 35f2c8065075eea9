//! The `http` step: calls an HTTP API. Its result (`steps.<name>.status|headers|body`) is what
//! later steps read.
//!
//! ```json
//! { "type": "http", "name": "notify", "method": "POST", "url": "https://example.com/hook",
//!   "headers": { "authorization": "Bearer {{secrets.HOOK_TOKEN}}" },
//!   "query": { "source": "{{request.query.source}}" },
//!   "json": { "email": "{{request.body.email}}" },
//!   "timeout_ms": 10000, "retries": 3, "allow_error": false }
//! ```
//!
//! - `method` defaults to `POST` when there is a `json`/`body`, else `GET`; `GET` and `HEAD`
//!   cannot have a body (the Fetch API refuses one). Any letter case is accepted.
//! - `url` must be `http://` or `https://`; a templated URL is checked once filled in. Past a
//!   literal host, a value a template places in it is written as data
//!   ([`render_url`](crate::template::render_url)): it cannot end the path or add a parameter.
//!   Put values in `query` to have each encoded whole.
//! - `query` values may be strings (templates), numbers, booleans, or arrays of those (the
//!   parameter is repeated). A value that renders to `null` is left out; objects are sent as
//!   compact JSON.
//! - `retries` counts retries after the first attempt (on network errors, 408, 429 and 5xx; see
//!   `retry`). `allow_error: true` lets the run go on after a final 4xx/5xx instead of failing.

use crate::kernel::json_parse;
use serde_json::{Map, Value};

use super::fields::{header, merge, read_body, read_headers, render_headers, Body};
use super::Scope;
use crate::kernel::problem::{index, join, Errors};
use crate::kernel::reader::{type_name, ObjectReader};
use crate::kernel::redact::{
    carries_credentials, is_sensitive_key, looks_like_secret, must_hide, redact, redact_url,
};
use crate::template::{
    is_templated, literal_prefix, reads_credentials, render_tracked, render_url, TemplateError,
};

/// Methods an `http` step may use.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const MIN_TIMEOUT_MS: u32 = 100;
/// Below the 60 s a Worker may wait on a subrequest, leaving time to record the result.
pub const MAX_TIMEOUT_MS: u32 = 55_000;
pub const DEFAULT_RETRIES: u32 = 3;
pub const MAX_RETRIES: u32 = 10;

/// A parsed `http` step; string fields are templates.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpStep {
    pub name: String,
    /// Upper case, one of [`METHODS`].
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Parameter name → template (string, number, boolean, or array of those).
    pub query: Vec<(String, Value)>,
    pub body: Body,
    pub timeout_ms: u32,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Go on with the run when the final response is a 4xx/5xx.
    pub allow_error: bool,
    /// `scheme://host[:port]` (lower case) written literally in `url`, for a step that carries a
    /// secret or token: the only origin it may send to (or be redirected within).
    pub pinned_origin: Option<String>,
    /// A credential written into the URL's own text while its host comes from a template: a
    /// definition saved so is refused (`Definition::parse`); one stored before that rule reads.
    pub unpinned_url_credential: bool,
}

/// A request ready to send: every template filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRequest {
    pub method: String,
    /// With the query parameters appended, percent-encoded.
    pub url: String,
    /// In the order written; `content-type` added when there is a body and none was set.
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout_ms: u32,
    /// Sensitive values that went into the request (see `template::RenderOutput`).
    pub secrets_used: Vec<String>,
    /// For a step carrying a secret or token: the one origin it may talk to. Redirects to
    /// another origin are not followed.
    pub pinned_origin: Option<String>,
}

impl PreparedRequest {
    /// What may be stored about this request in a run record: method, URL, headers (as an
    /// object) and body (parsed back when it is JSON), with credentials and secrets redacted.
    pub fn to_record(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            headers.insert(name.clone(), Value::String(value.clone()));
        }
        let body = self.body.as_ref().map(|b| {
            let is_json = header(&self.headers, "content-type")
                .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
            match is_json.then(|| json_parse::within_budget::<Value>(b)) {
                Some(Some(v)) => v,
                _ => Value::String(b.clone()),
            }
        });
        let mut record = serde_json::json!({
            "method": self.method,
            "url": redact_url(&self.url, &self.secrets_used),
            "headers": headers,
            "body": body,
        });
        redact(&mut record, &self.secrets_used);
        record
    }
}

impl HttpStep {
    /// Reads the fields of an `http` step from `r` (`type` and `name` are already read).
    pub fn parse(
        name: String,
        r: &mut ObjectReader<'_>,
        scope: &Scope<'_>,
        errors: &mut Errors,
    ) -> Option<HttpStep> {
        let method = r.opt_str("method", errors);
        let method_loc = r.loc("method");
        let url = r.req_str("url", errors);
        if let Some(url) = &url {
            let loc = r.loc("url");
            scope.validate(&Value::String(url.clone()), &loc, errors);
            if let Some(problem) = literal_url_problem(url) {
                errors.push(loc, problem);
            }
        }
        let headers = read_headers(r, scope, errors);
        let query = read_query(r, scope, errors);
        let body = read_body(r, scope, errors);
        let method = match method {
            Some(m) => {
                let upper = m.to_ascii_uppercase();
                if !METHODS.contains(&upper.as_str()) {
                    errors.push(
                        &method_loc,
                        format!(
                            "unknown method `{m}`; expected one of: {}",
                            METHODS.join(", ")
                        ),
                    );
                }
                upper
            }
            None if body.is_none() => "GET".to_string(),
            None => "POST".to_string(),
        };
        if (method == "GET" || method == "HEAD") && !body.is_none() {
            errors.push(
                &method_loc,
                format!("a {method} request cannot have a body; use POST, PUT or PATCH, or remove `json`/`body`"),
            );
        }
        let timeout_ms = r
            .opt_int(
                "timeout_ms",
                MIN_TIMEOUT_MS.into(),
                MAX_TIMEOUT_MS.into(),
                errors,
            )
            .map_or(DEFAULT_TIMEOUT_MS, |n| n as u32);
        let retries = r
            .opt_int("retries", 0, MAX_RETRIES.into(), errors)
            .map_or(DEFAULT_RETRIES, |n| n as u32);
        let allow_error = r.opt_bool("allow_error", errors).unwrap_or(false);
        // A step that sends a secret or token must say literally where to: the host can never
        // come from request data.
        let carrier = credential_field(url.as_deref(), &headers, &query, &body);
        let mut pinned_origin = None;
        let mut unpinned_url_credential = false;
        if let (None, Some(url)) = (&carrier, &url) {
            if url_holds_credential(url) {
                match literal_origin(url) {
                    Ok(origin) => pinned_origin = Some(origin),
                    Err(_) => unpinned_url_credential = true,
                }
            }
        }
        if let (Some(field), Some(url)) = (carrier, &url) {
            match literal_origin(url) {
                Ok(origin) => pinned_origin = Some(origin),
                Err(why) => errors.push(
                    r.loc("url"),
                    format!(
                        "this step sends a secret or token (in `{field}`), so its URL must start \
                         with a literal scheme and host, such as `https://api.example.com/…`: {why}"
                    ),
                ),
            }
        }
        Some(HttpStep {
            name,
            method,
            url: url?,
            headers,
            query,
            body,
            timeout_ms,
            retries,
            allow_error,
            pinned_origin,
            unpinned_url_credential,
        })
    }

    /// Fills in every template from `context` (and `secrets`): the request to send.
    /// Errors are located by field: `url`, `query.page`, `headers.authorization`, `json.email`.
    /// `hidden`: the run's secrets, in their forms; one that the request holds (an upstream
    /// echoed it to an earlier step, whose answer this one reads) counts as one it sends.
    pub fn prepare(
        &self,
        context: &Value,
        secrets: &dyn Fn(&str) -> Option<String>,
        hidden: &[String],
    ) -> Result<PreparedRequest, TemplateError> {
        let mut used = Vec::new();
        let url = render_url(&self.url, context, secrets, &mut used).map_err(|e| e.under("url"))?;
        let url = url.trim();
        if let Some(problem) = rendered_url_problem(url) {
            return Err(TemplateError {
                location: "url".to_string(),
                path: None,
                message: problem,
            });
        }
        if let Some(pinned) = &self.pinned_origin {
            if origin_of(url, false).ok().as_ref() != Some(pinned) {
                return Err(TemplateError {
                    location: "url".to_string(),
                    path: None,
                    message: format!(
                        "once filled in, the URL no longer points at {pinned}; a step that sends \
                         a secret or token only calls its literal host"
                    ),
                });
            }
        }
        let mut pairs = Vec::new();
        for (name, template) in &self.query {
            let loc = join("query", name);
            let out = render_tracked(template, context, secrets).map_err(|e| e.under(&loc))?;
            merge(&mut used, out.secrets_used);
            push_query_values(&mut pairs, name, &out.value);
        }
        let url = append_query(url, &pairs);
        let mut headers = render_headers(&self.headers, context, secrets, &mut used)?;
        let body = match self.body.render(context, secrets, &mut used)? {
            Some((text, content_type)) => {
                if header(&headers, "content-type").is_none() {
                    headers.push(("content-type".to_string(), content_type.to_string()));
                }
                Some(text)
            }
            None => None,
        };
        let holds = |s: &str| {
            url.contains(s)
                || headers.iter().any(|(_, v)| v.contains(s))
                || body.as_deref().is_some_and(|b| b.contains(s))
        };
        for s in hidden {
            if holds(s) {
                used.push(s.clone());
            }
        }
        // A credential can also come inside data a template reads whole (`{{oauth}}`,
        // `{{steps.login.body}}`): the request then goes only to the URL's literal host too.
        let pinned_origin = match &self.pinned_origin {
            Some(pinned) => Some(pinned.clone()),
            None if carries_credentials(&used) => {
                Some(literal_origin(&self.url).map_err(|why| TemplateError {
                    location: "url".to_string(),
                    path: None,
                    message: format!(
                        "this step would send a secret or token found in the data it reads, so \
                         its URL must start with a literal scheme and host: {why}"
                    ),
                })?)
            }
            None => None,
        };
        Ok(PreparedRequest {
            method: self.method.clone(),
            url,
            headers,
            body,
            timeout_ms: self.timeout_ms,
            secrets_used: used,
            pinned_origin,
        })
    }
}

/// Reads `query`: parameter name → string template, number, boolean, or an array of those.
fn read_query(
    r: &mut ObjectReader<'_>,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> Vec<(String, Value)> {
    let Some(value) = r.raw("query") else {
        return Vec::new();
    };
    let location = r.loc("query");
    let Value::Object(map) = value else {
        errors.push(
            location,
            format!(
                "must be an object of parameter names to values, got {}",
                type_name(value)
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, v) in map {
        let loc = join(&location, name);
        let ok = match v {
            Value::Array(items) => items.iter().enumerate().all(|(i, item)| {
                let scalar = is_query_scalar(item);
                if !scalar {
                    errors.push(
                        index(&loc, i),
                        format!(
                            "must be a string, number or boolean, got {}",
                            type_name(item)
                        ),
                    );
                }
                scalar
            }),
            other if is_query_scalar(other) || other.is_null() => true,
            other => {
                errors.push(
                    &loc,
                    format!(
                        "must be a string, number, boolean or an array of those, got {}",
                        type_name(other)
                    ),
                );
                false
            }
        };
        if ok {
            scope.validate(v, &loc, errors);
            out.push((name.clone(), v.clone()));
        }
    }
    out
}

fn is_query_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// Adds the parameters a rendered query value stands for: none for `null`, one per element of an
/// array, else one (strings as they are, other values as compact JSON).
fn push_query_values(pairs: &mut Vec<(String, String)>, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Null => {}
                    Value::String(s) => pairs.push((name.to_string(), s.clone())),
                    other => pairs.push((name.to_string(), other.to_string())),
                }
            }
        }
        Value::String(s) => pairs.push((name.to_string(), s.clone())),
        other => pairs.push((name.to_string(), other.to_string())),
    }
}

/// Appends `pairs` to `url`'s query (before any `#fragment`), percent-encoded.
pub fn append_query(url: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return url.to_string();
    }
    let (base, fragment) = match url.find('#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    let separator = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!("{base}{separator}{}{fragment}", encoded.join("&"))
}

pub use crate::kernel::percent::encode as percent_encode;

/// At parse time: a literal URL must be a full http(s) URL; a templated one is checked on what
/// is known — a scheme written before the first template must be http or https.
fn literal_url_problem(url: &str) -> Option<String> {
    if !is_templated(url) {
        return rendered_url_problem(url.trim())
            .map(|_| format!("must be an http:// or https:// URL with a host, got `{url}`"));
    }
    // Leading whitespace is trimmed from the rendered URL, so it is no part of the scheme.
    let prefix = literal_prefix(url.trim_start());
    let (scheme, _) = prefix.split_once(':')?;
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
        None
    } else {
        Some(format!(
            "must be an http:// or https:// URL, not `{scheme}:`"
        ))
    }
}

/// The first field of a step that reads a credential (`url`, `headers.authorization`,
/// `query.key`, `json`, `body`), if any.
fn credential_field(
    url: Option<&str>,
    headers: &[(String, String)],
    query: &[(String, Value)],
    body: &Body,
) -> Option<String> {
    if url.is_some_and(|u| reads_credentials(&Value::String(u.to_string()))) {
        return Some("url".to_string());
    }
    for (name, template) in headers {
        if reads_credentials(&Value::String(template.clone())) {
            return Some(join("headers", name));
        }
    }
    for (name, template) in query {
        if reads_credentials(template) {
            return Some(join("query", name));
        }
    }
    match body {
        Body::Json(t) if reads_credentials(t) => return Some("json".to_string()),
        Body::Text(t) if reads_credentials(&Value::String(t.clone())) => {
            return Some("body".to_string())
        }
        _ => {}
    }
    literal_credential_field(headers, query, body)
}

/// Why a step with [`HttpStep::unpinned_url_credential`] is refused when it is saved.
pub const UNPINNED_URL_CREDENTIAL: &str = "this step sends a secret or token written into its \
    URL (a credential-named query parameter, a token, user information), so its URL must start \
    with a literal scheme and host, such as `https://api.example.com/…`";

/// Whether the URL's text has user information (`https://user:pass@host/…`). `fetch` never
/// sends it (the platform drops it), so a step is told to use an `Authorization` header.
pub fn url_has_user_info(url: &str) -> bool {
    let text = crate::template::literal_text(url);
    let text = text.split(['#', '?']).next().unwrap_or("");
    text.split_once("://")
        .is_some_and(|(_, rest)| rest.split('/').next().unwrap_or("").contains('@'))
}

/// Why a step's URL written without templates does not parse as a URL (`http://[::1`, a port
/// past 65535): refused when it is saved, since every run would fail. A URL outside ASCII is
/// left to the platform, and so is a host name percent-encoded outside ASCII, which it maps (the
/// Worker's URL parser carries no IDNA tables).
pub fn literal_url_unparsable(url: &str) -> Option<String> {
    let url = url.trim();
    if !url.is_ascii() || crate::template::is_templated(url) {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // A host name percent-encoded outside ASCII (`b%C3%BCcher.example`) is the platform's to
    // map: the rest of the URL (the port, the path) is checked with a stand-in for it.
    let (name, port) = match authority.rsplit_once(':') {
        Some((name, port)) if !name.starts_with('[') => (name, Some(port)),
        _ => (authority, None),
    };
    let decoded = crate::kernel::percent::decode(name.as_bytes());
    let checked = match std::str::from_utf8(&decoded) {
        Ok(text) if !text.is_ascii() => {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{scheme}://x.invalid{port}{}", &rest[authority.len()..])
        }
        _ => url.to_string(),
    };
    url::Url::parse(&checked)
        .err()
        .map(|e| format!("is not a valid URL: {e} (`{url}`)"))
}

/// Why a step whose URL has user information is refused when it is saved.
pub const URL_USER_INFO: &str = "user information in a URL (`https://user:password@…`) is never \
    sent; send the credentials in an `Authorization` header instead, such as \
    `\"Authorization\": \"Basic {{secrets.API_BASIC}}\"` (user:password in base64)";

/// A credential written into the URL itself: user information (`https://user:pass@…`), a
/// query parameter with a credential name (`?api_key=…`), or a part of the path or query that
/// looks like one (`sk_live_…`).
fn url_holds_credential(url: &str) -> bool {
    use crate::kernel::redact::decode_lossy;
    if url_has_user_info(url) {
        return true;
    }
    let text = crate::template::literal_text(url);
    let text = text.split('#').next().unwrap_or("");
    let (before_query, query) = text.split_once('?').unwrap_or((text, ""));
    if before_query
        .split(['/', ' ', ';'])
        .any(|segment| looks_like_secret(&decode_lossy(segment)))
    {
        return true;
    }
    query.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode_lossy(name.trim());
        is_sensitive_key(&name)
            || value
                .split(' ')
                .any(|v| looks_like_secret(&decode_lossy(v)))
    })
}

/// A credential written into the step itself: a header or query parameter with a credential
/// name, a `json` field with one (holding what redaction would hide), or a value that looks
/// like one (`Bearer …`, a JWT, `sk_live_…`).
pub(crate) fn literal_credential_field(
    headers: &[(String, String)],
    query: &[(String, Value)],
    body: &Body,
) -> Option<String> {
    let looks = |v: &Value| matches!(v, Value::String(s) if looks_like_secret(s));
    for (name, template) in headers {
        if is_sensitive_key(name) || looks_like_secret(template) {
            return Some(join("headers", name));
        }
    }
    for (name, template) in query {
        let values = match template {
            Value::Array(items) => items.iter().any(looks),
            other => looks(other),
        };
        if is_sensitive_key(name) || values {
            return Some(join("query", name));
        }
    }
    match body {
        Body::Json(t) => json_credential(t, "json"),
        Body::Text(t) if looks_like_secret(t) => Some("body".to_string()),
        _ => None,
    }
}

/// The location of the first credential in a `json` template (see [`literal_credential_field`]).
fn json_credential(value: &Value, at: &str) -> Option<String> {
    match value {
        Value::String(s) if looks_like_secret(s) => Some(at.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| json_credential(v, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = join(at, k);
            match is_sensitive_key(k) && must_hide(k, v) {
                true => Some(here),
                false => json_credential(v, &here),
            }
        }),
        _ => None,
    }
}

/// `scheme://host[:port]` (lower case) when `url` writes it literally, up to a `/`, `?` or `#`
/// (or the end of a URL without templates): a template can then only change the path and query.
/// A user-info part (`user@`) or a backslash in the host is refused.
pub fn literal_origin(url: &str) -> Result<String, String> {
    let url = url.trim();
    origin_of(url, is_templated(url))
}

/// The origin a URL names; with `templated`, of its literal part before the first template. A
/// URL once filled in is read as it is (`templated` false): what a value put in it looks like is
/// not a template.
fn origin_of(url: &str, templated: bool) -> Result<String, String> {
    let text = if templated {
        literal_prefix(url)
    } else {
        url.to_string()
    };
    let lower = text.to_ascii_lowercase();
    let scheme_len = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return Err("the scheme (`https://`) is not written literally".to_string());
    };
    let rest = &lower[scheme_len..];
    let end = rest.find(['/', '?', '#']);
    let authority = match end {
        Some(i) => &rest[..i],
        None if !templated => rest,
        None => {
            return Err(
                "the host is not followed by a literal `/` before the first template".to_string(),
            )
        }
    };
    if authority.is_empty() {
        return Err("the host is not written literally".to_string());
    }
    if authority.contains(['@', '\\']) || authority.contains(|c: char| c.is_whitespace()) {
        return Err("the host part may not contain `@`, `\\` or spaces".to_string());
    }
    Ok(format!("{}{authority}", &lower[..scheme_len]))
}

/// A rendered URL must start with `http://` or `https://` followed by a host. The message does
/// not repeat the URL (it may hold a secret).
fn rendered_url_problem(url: &str) -> Option<String> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Some(
            "must be an http:// or https:// URL once its templates are filled in".to_string(),
        );
    };
    let host_ok = rest
        .chars()
        .next()
        .is_some_and(|c| !matches!(c, '/' | '?' | '#') && !c.is_whitespace());
    if !host_ok {
        return Some("must have a host after `://`".to_string());
    }
    if url.contains(|c: char| c.is_ascii_control()) {
        return Some("must not contain control characters such as line breaks".to_string());
    }
    None
}

#[cfg(test)]
mod tests;
