//! An HTTP JSON API as a polled source: its definition, the request a poll sends (secrets and
//! the cursor filled in), where the items are in the answer, and where the next page is
//! (see `pages.rs`).
//!
//! The URL and header templates may use `{{secrets.NAME}}` and, with `dedupe: "greatest"`,
//! `{{cursor.greatest}}`: the greatest ordering value taken so far (a string as is, a number as
//! its JSON text; `""` before anything was taken). In the URL it is percent-encoded (everything
//! but `A-Z a-z 0-9 - . _ ~`), so it can be a query value; in a header it is written as is.

use super::*;
use crate::poll::pages::{
    encode_component, next_value, parse_pagination, resolve_same_origin, with_query_param,
    NextPage, NextRequest, Pagination,
};

/// The template root of the cursor, and its one field.
pub const CURSOR_ROOT: &str = "cursor";
pub const CURSOR_GREATEST: &str = "cursor.greatest";

/// An HTTP JSON API returning a list of items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSource {
    /// `http(s)://…`, may contain `{{secrets.NAME}}`.
    pub url: String,
    /// Header name (as written) and value template, in definition order.
    pub headers: Vec<(String, String)>,
    /// JSON pointer to the array of items in the response; `""` = the response itself.
    pub items: String,
    /// JSON pointer to the id inside each item; `""` = the item itself.
    pub id: String,
    pub dedupe: Dedupe,
    /// JSON pointer to an ordering value inside each item (`/updated_at`, `/created`). With
    /// `greatest` it is the high-water mark (default: the id); with `unique` it only sorts.
    pub greatest: Option<String>,
    /// How pages are followed (by default: `Link` headers, read to the end, 10 pages a poll).
    pub pagination: Pagination,
}

/// How an HTTP source tells new items from seen ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedupe {
    /// Remember the last `capacity` ids; an id not among them is new.
    Unique { capacity: usize },
    /// Keep the greatest value seen; items above it (or equal to it with an unseen id) are new.
    Greatest,
}

pub(super) fn parse_http(mut r: ObjectReader<'_>, errors: &mut Errors) -> Option<HttpSource> {
    let before = errors.len();
    let url_loc = r.loc("url");
    let url = r.req_str("url", errors);
    if let Some(u) = &url {
        check_url(u, &url_loc, errors);
    }
    let headers_loc = r.loc("headers");
    let headers = match r.raw("headers") {
        None => Vec::new(),
        Some(Value::Object(map)) => {
            let mut out = Vec::new();
            for (name, v) in map {
                let loc = join(&headers_loc, name);
                if !is_header_name(name) {
                    errors.push(
                        loc.clone(),
                        format!("`{name}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"),
                    );
                }
                if out
                    .iter()
                    .any(|(n, _): &(String, String)| n.eq_ignore_ascii_case(name))
                {
                    errors.push(
                        loc.clone(),
                        format!("header `{name}` is given twice (names are case-insensitive)"),
                    );
                }
                match v {
                    Value::String(s) => {
                        if s.contains(['\r', '\n', '\0']) {
                            errors.push(loc.clone(), "must not contain line breaks");
                        }
                        check_template(s, &loc, errors);
                        out.push((name.clone(), s.clone()));
                    }
                    other => {
                        errors.push(loc, format!("must be a string, got {}", type_name(other)))
                    }
                }
            }
            out
        }
        Some(other) => {
            errors.push(
                headers_loc.clone(),
                format!(
                    "must be an object of header name to value, got {}",
                    type_name(other)
                ),
            );
            Vec::new()
        }
    };
    let pagination_loc = r.loc("pagination");
    let pagination = parse_pagination(r.raw("pagination"), &pagination_loc, errors);
    let items = read_pointer(&mut r, "items", "", errors);
    let id = read_pointer(&mut r, "id", "/id", errors);
    let dedupe_loc = r.loc("dedupe");
    let dedupe = r.opt_str("dedupe", errors);
    let capacity_loc = r.loc("unique_capacity");
    let capacity = r.opt_int("unique_capacity", 1, MAX_UNIQUE_CAPACITY as i64, errors);
    let greatest = r
        .raw("greatest")
        .is_some()
        .then(|| read_pointer(&mut r, "greatest", "", errors));
    let dedupe = match dedupe.as_deref() {
        None | Some("unique") => Dedupe::Unique {
            capacity: capacity.map_or(DEFAULT_UNIQUE_CAPACITY, |n| n as usize),
        },
        Some("greatest") => {
            if capacity.is_some() {
                errors.push(capacity_loc, "only applies when `dedupe` is \"unique\"");
            }
            Dedupe::Greatest
        }
        Some(other) => {
            errors.push(
                dedupe_loc,
                format!("must be \"unique\" or \"greatest\", got \"{other}\""),
            );
            Dedupe::Greatest
        }
    };
    // The cursor's greatest value only exists for a `greatest` cursor.
    if dedupe != Dedupe::Greatest {
        let templates = url
            .iter()
            .map(|u| (url_loc.clone(), u))
            .chain(headers.iter().map(|(n, v)| (join(&headers_loc, n), v)));
        for (loc, t) in templates {
            if uses_cursor(t) {
                errors.push(
                    loc,
                    "`{{cursor.greatest}}` needs `\"dedupe\": \"greatest\"` (with `unique` the \
                     cursor keeps ids, not a greatest value)",
                );
            }
        }
    }
    r.finish(errors);
    if errors.len() > before {
        return None;
    }
    Some(HttpSource {
        url: url?,
        headers,
        items,
        id,
        dedupe,
        greatest,
        pagination,
    })
}

fn check_url(url: &str, loc: &str, errors: &mut Errors) {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        None => errors.push(loc, "must start with https:// (or http://)"),
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?', '#']) => {
            errors.push(loc, "must have a host after the scheme")
        }
        Some(_) if url.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            errors.push(loc, "must not contain spaces or control characters")
        }
        Some(_) => check_template(url, loc, errors),
    }
}

/// RFC 9110 token characters.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Checks a URL or header template: a poll source may use `{{secrets.NAME}}` and
/// `{{cursor.greatest}}`.
fn check_template(template: &str, loc: &str, errors: &mut Errors) {
    crate::template::validate(
        &Value::String(template.to_string()),
        loc,
        &[CURSOR_ROOT],
        &[],
        errors,
    );
}

/// Whether a template reads the cursor (`{{cursor.greatest}}`, `{{cursor}}`); a named field
/// other than `greatest` is not counted, being refused by its own check.
fn uses_cursor(template: &str) -> bool {
    crate::template::referenced_paths(&Value::String(template.to_string()))
        .iter()
        .any(|p| match p.strip_prefix(CURSOR_ROOT) {
            Some(rest) => match rest.strip_prefix('.') {
                Some(field) => field.split(['.', '[']).next() == Some("greatest"),
                None => rest.is_empty() || rest.starts_with('['),
            },
            None => false,
        })
}

/// The text `{{cursor.greatest}}` stands for: the mark's text, `""` when there is none.
fn mark_text(mark: Option<&Value>) -> String {
    match mark {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Fills `{{secrets.NAME}}` and `{{cursor.greatest}}` in a template validated at parse time.
fn render(
    template: &str,
    context: &Value,
    secret: &dyn Fn(&str) -> Option<String>,
    used: &mut Vec<String>,
) -> Result<String, PollError> {
    crate::template::render_string(template, context, secret, used).map_err(|e| {
        match e.path.as_deref().and_then(|p| p.strip_prefix("secrets.")) {
            Some(name) => PollError::MissingSecret {
                name: name.to_string(),
            },
            None => PollError::BadTemplate { problem: e.message },
        }
    })
}

/// The request to send for an HTTP source, secrets filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPollRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// What an error about this request must not quote ([`HttpPollRequest::scrub`]).
    pub hidden: Vec<String>,
    /// What the records it reads must not hold ([`HttpPollRequest::scrub_records`]): as
    /// `hidden`, but of the secrets only those that can be keys (a word or an id kept in a
    /// secret is ordinary data there).
    pub credentials: Vec<String>,
}

/// Most characters of a refused answer an error quotes.
pub const ANSWER_QUOTED_CHARS: usize = 200;

impl HttpPollRequest {
    /// `text` (an error, a snippet of the answer) with nothing in it that this request sent as a
    /// credential: the secrets rendered into it, the values of its headers and of its URL's
    /// query parameters under credential names (`authorization`, `api_key`, …; a header's value
    /// also without its scheme, `Bearer …`), each as written, JSON-escaped, percent-encoded and
    /// as the URL parser sends it. An API that quotes the key it refused (`invalid API key
    /// sk_…`) has it shown redacted.
    pub fn scrub(&self, text: &str) -> String {
        crate::kernel::redact::redact_text(text, &self.hidden)
    }

    /// `records` with every credential this request sent replaced in their strings (an API
    /// that echoes the request's URL or headers in its items): runs and their stored inputs
    /// never hold the source's secrets.
    pub fn scrub_records(&self, records: &mut [NewRecord]) {
        if self.credentials.is_empty() {
            return;
        }
        for r in records {
            crate::kernel::redact::scrub_strings(&mut r.record, &self.credentials);
        }
    }

    /// The start of a refused answer for an error: scrubbed before it is cut, so that no part
    /// of a credential is left at the cut.
    pub fn quote_answer(&self, body: &[u8]) -> String {
        // Enough of the answer that what is cut off cannot hold a credential shown in the quote.
        const SCRUBBED_BYTES: usize = 16 * 1024;
        let head = &body[..body.len().min(SCRUBBED_BYTES)];
        self.scrub(&String::from_utf8_lossy(head))
            .chars()
            .take(ANSWER_QUOTED_CHARS)
            .collect()
    }
}

/// What an error about a request must not quote: the secrets rendered into it, in every form it
/// may be echoed in, and the credential headers and query parameters of the source's URL (its
/// pagination parameter is not one: it is added after).
fn hidden_values(secrets: &[String], headers: &[(String, String)], url: &str) -> Vec<String> {
    use crate::kernel::redact::{decode_lossy, is_sensitive_key};
    use crate::template::push_forms;
    let mut hidden: Vec<String> = Vec::new();
    for s in secrets {
        push_forms(s, &mut hidden);
    }
    for (name, value) in headers {
        if is_sensitive_key(name) {
            push_forms(value, &mut hidden);
            if let Some((_, credential)) = value.trim().rsplit_once(' ') {
                push_forms(credential, &mut hidden);
            }
        }
    }
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    for (name, value) in query.split('&').filter_map(|p| p.split_once('=')) {
        if is_sensitive_key(&decode_lossy(name)) {
            push_forms(value, &mut hidden);
            push_forms(&decode_lossy(value), &mut hidden);
        }
    }
    hidden
}

impl HttpSource {
    /// The pointer a `greatest` cursor's mark is read at: `greatest`, else the id.
    pub fn order_pointer(&self) -> &str {
        self.greatest.as_deref().unwrap_or(&self.id)
    }

    /// The GET request for the first page, with every `{{secrets.NAME}}` replaced by
    /// `secret(NAME)` and no cursor value (see [`HttpSource::page_request`]).
    pub fn request(
        &self,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Result<HttpPollRequest, PollError> {
        self.page_request(None, None, secret)
    }

    /// The GET request for a page: the first one (`next` is `None`: the source's URL), a URL the
    /// previous page named (on the first page's origin only), or the source's URL with a cursor
    /// token. `mark` is the cursor's greatest value, for `{{cursor.greatest}}`.
    pub fn page_request(
        &self,
        next: Option<&NextRequest>,
        mark: Option<&Value>,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Result<HttpPollRequest, PollError> {
        let text = mark_text(mark);
        let in_url = serde_json::json!({ CURSOR_ROOT: {"greatest": encode_component(&text)} });
        let in_header = serde_json::json!({ CURSOR_ROOT: {"greatest": text} });
        let mut secrets_used = Vec::new();
        let first = render(&self.url, &in_url, &secret, &mut secrets_used)?;
        let source_url = first.clone();
        let url = match (next, &self.pagination.next) {
            (None, _) => first,
            (Some(NextRequest::Url { url }), _) => resolve_same_origin(&first, url)?,
            (Some(NextRequest::Token { token }), NextPage::Cursor { param, .. }) => {
                with_query_param(&first, param, token)
            }
            (Some(NextRequest::Token { .. }), _) => first,
        };
        let headers = self
            .headers
            .iter()
            .map(|(n, v)| {
                Ok((
                    n.clone(),
                    render(v, &in_header, &secret, &mut secrets_used)?,
                ))
            })
            .collect::<Result<Vec<_>, PollError>>()?;
        let mut hidden = hidden_values(&secrets_used, &headers, &source_url);
        secrets_used.retain(|s| crate::kernel::redact::hidden_in_every_step(s));
        let mut credentials = hidden_values(&secrets_used, &headers, &source_url);
        // A page the API linked to may carry a credential of its own (`access_token=` in its
        // next links, or one kept from before a secret was rotated).
        if let Some(NextRequest::Url { .. }) = next {
            for value in hidden_values(&[], &[], &url) {
                if !hidden.contains(&value) {
                    hidden.push(value.clone());
                }
                if !credentials.contains(&value) {
                    credentials.push(value);
                }
            }
        }
        Ok(HttpPollRequest {
            url,
            headers,
            hidden,
            credentials,
        })
    }

    /// The page after the one read from `page_url`, from its `Link` header or body as the
    /// `pagination` option says; `None` at the end of the list. A URL is resolved against
    /// `page_url` and must be on its origin.
    pub fn next_request(
        &self,
        page_url: &str,
        link_header: Option<&str>,
        body: &Value,
    ) -> Result<Option<NextRequest>, PollError> {
        let url = match &self.pagination.next {
            NextPage::Link => link_header.and_then(crate::poll::link::next_link),
            NextPage::NextUrl(pointer) => next_value(body, pointer, false)?,
            NextPage::Cursor { pointer, .. } => {
                return Ok(
                    next_value(body, pointer, true)?.map(|token| NextRequest::Token { token })
                )
            }
        };
        url.map(|u| resolve_same_origin(page_url, &u).map(|url| NextRequest::Url { url }))
            .transpose()
    }

    /// Whether the URL or a header reads `{{cursor.greatest}}`: the API is asked only for what
    /// is after the cursor.
    pub fn is_incremental(&self) -> bool {
        uses_cursor(&self.url) || self.headers.iter().any(|(_, v)| uses_cursor(v))
    }

    /// Every secret name the URL and headers use, once each, in order of appearance.
    pub fn secret_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let templates = std::iter::once(&self.url).chain(self.headers.iter().map(|(_, v)| v));
        for t in templates {
            for path in crate::template::referenced_paths(&Value::String(t.clone())) {
                if let Some(name) = path.strip_prefix("secrets.") {
                    if !names.iter().any(|x| x == name) {
                        names.push(name.to_string());
                    }
                }
            }
        }
        names
    }

    /// Whether a request of this source sends a credential: a `{{secrets.NAME}}` in the URL or
    /// a header, or a header written in the definition that holds one, found as for an `http`
    /// step (a credential name, or a value that looks like one). Such a source follows
    /// redirects only within its origin (a redirect takes the headers along, not the URL).
    pub fn carries_credentials(&self) -> bool {
        !self.secret_names().is_empty()
            || crate::steps::http::literal_credential_field(
                &self.headers,
                &[],
                &crate::steps::fields::Body::None,
            )
            .is_some()
    }

    /// The pointer whose value orders items and, with `greatest`, is the high-water mark.
    pub fn greatest_pointer(&self) -> Option<&str> {
        match self.dedupe {
            Dedupe::Greatest => Some(self.greatest.as_deref().unwrap_or(&self.id)),
            Dedupe::Unique { .. } => self.greatest.as_deref(),
        }
    }

    /// The items array of a response body (at the `items` pointer).
    pub fn items_of<'a>(&self, body: &'a Value) -> Result<&'a [Value], PollError> {
        items_at(body, &self.items)
    }

    /// The new items of a response body, oldest first (see `HttpCursor::select_new`).
    pub fn select_new(
        &self,
        cursor: &crate::poll::cursor::HttpCursor,
        body: &Value,
    ) -> Result<Vec<NewRecord>, PollError> {
        cursor.select_new(self.items_of(body)?, &self.id, self.greatest_pointer())
    }
}

/// The array at `pointer` in `body`. An empty answer (`null`) and `null` at the pointer are
/// no items, as many APIs write an empty list.
pub fn items_at<'a>(body: &'a Value, pointer: &str) -> Result<&'a [Value], PollError> {
    if body.is_null() {
        return Ok(&[]);
    }
    match body.pointer(pointer) {
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Null) => Ok(&[]),
        other => Err(PollError::ItemsNotArray {
            pointer: pointer.to_string(),
            found: other.map_or("nothing", type_name).to_string(),
        }),
    }
}
