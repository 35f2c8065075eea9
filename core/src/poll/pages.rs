//! Following an HTTP source's pages: the `pagination` option, where the next page is, and when
//! a poll stops reading.
//!
//! ```json
//! "pagination": {"order": "newest_first", "max_pages": 10}                      (Link headers)
//! "pagination": {"next_url": "/links/next"}                               (a URL in the body)
//! "pagination": {"cursor": "/meta/next_cursor", "param": "starting_after"}  (a token in the body)
//! ```
//!
//! - **Where the next page is.** By default an RFC 8288 `Link: <…>; rel="next"` header (resolved
//!   against the page's URL). `next_url`: a JSON pointer to the next page's URL in the body.
//!   `cursor` + `param`: a JSON pointer to a token in the body, sent back as the query parameter
//!   `param` of the source's URL. No next page (no link, a missing/`null`/empty value), or an
//!   empty page, ends the list.
//! - **Same origin only.** A next page on another origin (scheme, host, port) than the page
//!   that links to it is refused: the poll fails, so the source's headers and secrets are never
//!   sent elsewhere.
//! - **Order.** `newest_first`: the poll stops at the first page holding an item seen before
//!   (every later page is older), ties at a `greatest` mark excepted (the next page may hold
//!   more ties). `oldest_first` (the default, right for either order): it reads to the end.
//! - **Page bound.** At most `max_pages` pages per poll (default 10, 1 to 100; 1 = one
//!   page a poll). A poll that hits it keeps where it stopped ([`PageWalk`]) and the next poll goes on
//!   from there. The records taken on the way are remembered by the walk, not by the cursor,
//!   until the walk reaches its end: on a newest-first list the cursor must not move past the
//!   older pages not read yet, and "seen before" must keep meaning "before this walk began".
//! - **Byte bound.** A poll also stops before the next page once the new records it holds reach
//!   [`MAX_BATCH_BYTES`] (pages of up to 10 MiB, ten of them, would not fit an isolate's
//!   memory): their runs are created, the walk is kept as at the page bound, and the next poll
//!   follows at once.
//! - **Time bound.** A poll that has read pages for its time (the shell's budget; a deploy
//!   waiting for it counts as out of time) pauses the same way, so a walk over slow pages keeps
//!   its progress instead of depending on one invocation to outlive it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kernel::columns::{self, read_with, Bad, Columns};
use crate::kernel::problem::Errors;
use crate::kernel::reader::{type_name, ObjectReader};
use crate::poll::batch_budget::MAX_BATCH_BYTES;
use crate::poll::cursor::{NewRecord, Seen};
use crate::poll::{check_json_pointer, PollError};

/// Default and largest number of pages one poll reads.
pub const DEFAULT_MAX_PAGES: u32 = 10;
pub const MAX_MAX_PAGES: u32 = 100;

/// How an HTTP source's pages are followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pagination {
    pub next: NextPage,
    pub order: Order,
    pub max_pages: u32,
}

impl Default for Pagination {
    fn default() -> Self {
        Pagination {
            next: NextPage::Link,
            order: Order::OldestFirst,
            max_pages: DEFAULT_MAX_PAGES,
        }
    }
}

/// Where the next page is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextPage {
    /// A `Link: <…>; rel="next"` response header.
    Link,
    /// A JSON pointer to the next page's URL in the body.
    NextUrl(String),
    /// A JSON pointer to a token in the body, sent back as the query parameter `param`.
    Cursor { pointer: String, param: String },
}

/// The order in which the API lists items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest items on the first page: stop at the first page that reaches a seen item.
    NewestFirst,
    /// Oldest items first (or unknown): read to the end.
    OldestFirst,
}

/// Parses `pagination` (absent: Link headers, `oldest_first`, 10 pages).
pub(super) fn parse_pagination(
    value: Option<&Value>,
    location: &str,
    errors: &mut Errors,
) -> Pagination {
    let Some(value) = value else {
        return Pagination::default();
    };
    let mut r = ObjectReader::new(value, location, errors);
    if !r.is_object() {
        return Pagination::default();
    }
    let pointer = |r: &mut ObjectReader<'_>, key: &'static str, errors: &mut Errors| {
        let loc = r.loc(key);
        let p = r.opt_str(key, errors)?;
        if let Err(why) = check_json_pointer(&p) {
            errors.push(loc, why);
        } else if p.is_empty() {
            errors.push(loc, "must point inside the body, like \"/links/next\"");
        }
        Some(p)
    };
    let next_url = pointer(&mut r, "next_url", errors);
    let cursor_loc = r.loc("cursor");
    let cursor = pointer(&mut r, "cursor", errors);
    let param_loc = r.loc("param");
    let param = r.opt_str("param", errors);
    let order = match r.opt_str("order", errors).as_deref() {
        None | Some("oldest_first") => Order::OldestFirst,
        Some("newest_first") => Order::NewestFirst,
        Some(other) => {
            errors.push(
                r.loc("order"),
                format!("must be \"newest_first\" or \"oldest_first\", got \"{other}\""),
            );
            Order::OldestFirst
        }
    };
    let max_pages = r
        .opt_int("max_pages", 1, i64::from(MAX_MAX_PAGES), errors)
        .map_or(DEFAULT_MAX_PAGES, |n| n as u32);
    if let Some(p) = &param {
        if !is_query_name(p) {
            errors.push(
                param_loc.clone(),
                format!(
                    "`{p}` is not a query parameter name: use letters, digits and -._~[] \
                     (like \"starting_after\" or \"page[after]\")"
                ),
            );
        }
    }
    let next = match (next_url, cursor, param) {
        (Some(_), Some(_), _) => {
            errors.push(
                cursor_loc,
                "give `next_url` (a URL in the body) or `cursor` (a token in the body), not both",
            );
            NextPage::Link
        }
        (Some(_), None, Some(_)) => {
            errors.push(param_loc, "only applies with `cursor`");
            NextPage::Link
        }
        (Some(url), None, None) => NextPage::NextUrl(url),
        (None, Some(_), None) => {
            errors.push(
                param_loc,
                "is required with `cursor`: the query parameter that sends the token back, \
                 like \"starting_after\"",
            );
            NextPage::Link
        }
        (None, Some(pointer), Some(param)) => NextPage::Cursor { pointer, param },
        (None, None, Some(_)) => {
            errors.push(param_loc, "only applies with `cursor`");
            NextPage::Link
        }
        (None, None, None) => NextPage::Link,
    };
    r.finish(errors);
    Pagination {
        next,
        order,
        max_pages,
    }
}

/// Why a poll stops before the end of the list, the walk kept for the next poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    /// It read `max_pages` pages: the next poll comes after the interval.
    MaxPages,
    /// The next poll comes at once: the new records it holds reached [`MAX_BATCH_BYTES`], a
    /// positioning walk read [`MAX_MAX_PAGES`] pages, or the poll has read for its time
    /// (`out_of_time`).
    AtOnce,
}

impl Pagination {
    /// After a page that names a next one: `None` to read it in this poll, else why the poll
    /// stops there. `pages_read`: pages read by this poll; `pages_before`: pages read by the
    /// polls before it that went on at once ([`PageWalk::pages_at_once`]): `max_pages` bounds
    /// the pages read per interval, however many polls read them. `held_bytes`: what the new
    /// records it holds weigh (`batch_budget::record_weight`: their JSON size, or their values). A positioning walk (`start: "now"`) is not bound by
    /// `max_pages`: what it has not read when the deploy answers would be taken as seen, records
    /// added meanwhile included. `out_of_time`: the poll has read pages for as long as one poll
    /// may (slow pages, a deploy waiting for it): unless the page bound stops it anyway, it keeps
    /// what it read and goes on at once, so a walk over slow pages makes progress that outlives
    /// its invocation.
    pub fn pause_after(
        &self,
        pages_read: u32,
        pages_before: u32,
        held_bytes: usize,
        positioning: bool,
        out_of_time: bool,
    ) -> Option<Pause> {
        if held_bytes >= MAX_BATCH_BYTES || (positioning && pages_read >= MAX_MAX_PAGES) {
            Some(Pause::AtOnce)
        } else if !positioning && pages_before.saturating_add(pages_read) >= self.max_pages {
            Some(Pause::MaxPages)
        } else if out_of_time {
            Some(Pause::AtOnce)
        } else {
            None
        }
    }
}

fn is_query_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~[]".contains(&b))
}

/// The page to read next, as kept between polls (`{"kind": "url", "url"}` or
/// `{"kind": "token", "token"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NextRequest {
    /// GET this absolute URL (from a `Link` header or `next_url`).
    Url { url: String },
    /// GET the source's URL with the token as its pagination parameter.
    Token { token: String },
}

/// Read through a JSON value: serde's derived reading of an internally tagged enum buffers
/// its fields in code of its own, several KiB of the Worker for this one small value.
impl<'de> Deserialize<'de> for NextRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NextRequest::of(&Value::deserialize(d)?).ok_or_else(|| {
            serde::de::Error::custom(
                "a next page is {\"kind\": \"url\", \"url\": …} or {\"kind\": \"token\", \"token\": …}",
            )
        })
    }
}

impl NextRequest {
    /// The page as kept, if `v` is one.
    pub fn of(v: &Value) -> Option<NextRequest> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        match v.get("kind").and_then(Value::as_str) {
            Some("url") => text("url").map(|url| NextRequest::Url { url }),
            Some("token") => text("token").map(|token| NextRequest::Token { token }),
            _ => None,
        }
    }
}

/// A record taken by a walk: its dedup key and ordering value, all the cursor needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Taken {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greatest: Option<Value>,
}

/// One walk over the pages, from the first page to the end of the list (or, newest first, to
/// the first page with a seen item: with `greatest`, one below the mark). It may span several
/// polls when the page bound is hit. Every field may be missing when read (its default).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PageWalk {
    /// The page to read next; `None`: the first page (the source's URL).
    pub next: Option<NextRequest>,
    /// Pages read since the walk began.
    pub pages: u32,
    /// Records taken since the walk began, oldest first; the cursor moves over them when it
    /// ends.
    pub taken: Vec<Taken>,
    /// Whether the walk's first page held only new items (an oldest-first list's boundary).
    pub first_page_all_new: bool,
    /// Whether a page of the walk held an item seen before the walk began.
    pub reached_seen: bool,
    /// Positioning (`start: "now"`): records are only remembered as seen, none runs.
    pub positioning: bool,
    /// Polls in a row that could not read the kept page (`next`).
    #[serde(skip_serializing_if = "is_zero")]
    pub kept_page_failures: u32,
    /// The pages this walk read (a hash of each page's URL or token, at most [`MAX_VISITED`],
    /// then it starts again): a list whose links come back to one of them ends there, rather
    /// than going round for ever.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub visited: Vec<String>,
    /// Pages read by the polls of this walk that went on at once (a time or byte pause) since
    /// it last waited for an interval: they count toward the next poll's `max_pages`.
    #[serde(skip_serializing_if = "is_zero")]
    pub pages_at_once: u32,
}

/// Read field by field (see [`Columns`]).
impl<'de> Deserialize<'de> for PageWalk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read_with(d, PageWalk::from_columns)
    }
}

impl PageWalk {
    /// The walk as kept.
    pub fn from_columns(mut c: Columns) -> Result<PageWalk, Bad> {
        Ok(PageWalk {
            next: c.opt("next", |v| NextRequest::of(&v).ok_or(Bad("next", "a page")))?,
            pages: c.uint_or_zero("pages")?,
            taken: c.list("taken", true, |v| {
                let mut t = Columns::of(v, "taken")?;
                Ok(Taken {
                    key: t.text("key")?,
                    greatest: t.opt_value("greatest"),
                })
            })?,
            first_page_all_new: c.flag_or_false("first_page_all_new")?,
            reached_seen: c.flag_or_false("reached_seen")?,
            positioning: c.flag_or_false("positioning")?,
            kept_page_failures: c.uint_or_zero("kept_page_failures")?,
            visited: c.list("visited", true, columns::string)?,
            pages_at_once: c.uint_or_zero("pages_at_once")?,
        })
    }
}

/// Most pages a walk remembers having read.
pub const MAX_VISITED: usize = 1_000;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Polls in a row a kept page may fail before the walk starts again from the first page.
pub const KEPT_PAGE_TRIES: u32 = 2;

/// What a walk does after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterPage {
    /// Read this page next.
    Next(NextRequest),
    /// The walk is over. `reached_seen`: a page held an item seen before the walk began.
    /// `boundary_all_new`: the page where old items would meet new ones (the last page read of
    /// a newest-first list, the first of an oldest-first one) had items, all new.
    End {
        reached_seen: bool,
        boundary_all_new: bool,
    },
}

/// A page as the walk needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Items on the page.
    pub items: usize,
    /// Items seen before the walk began.
    pub seen: Seen,
    /// The next page, if the page names one.
    pub next: Option<NextRequest>,
}

impl PageWalk {
    pub fn new(positioning: bool) -> PageWalk {
        PageWalk {
            positioning,
            ..PageWalk::default()
        }
    }

    /// A poll could not read the kept page. After [`KEPT_PAGE_TRIES`] polls in a row the walk
    /// starts again from the first page, keeping what it took (so nothing runs twice): a page
    /// token that expired, or a URL that held a rotated secret, would otherwise fail for ever.
    /// Returns whether it starts again.
    pub fn kept_page_failed(&mut self) -> bool {
        self.kept_page_failures += 1;
        if self.kept_page_failures < KEPT_PAGE_TRIES {
            return false;
        }
        *self = PageWalk {
            taken: std::mem::take(&mut self.taken),
            ..PageWalk::new(self.positioning)
        };
        true
    }

    /// The walk stops for `pause` after `pages_read` pages of this poll: a poll that goes on at
    /// once carries them toward `max_pages`; one that waits for the interval starts the count
    /// again.
    pub fn paused(&mut self, pause: Pause, pages_read: u32) {
        self.pages_at_once = match pause {
            Pause::AtOnce => self.pages_at_once.saturating_add(pages_read),
            Pause::MaxPages => 0,
        };
    }

    /// The walk reads its first page, at `url` (the source's URL as sent): a link back to it
    /// ends the walk.
    pub fn first_page(&mut self, url: &str) {
        if self.next.is_none() {
            self.visit(url);
        }
    }

    /// Remembers a page by its URL or token; `false` when the walk has read it already.
    fn visit(&mut self, page: &str) -> bool {
        // FNV-1a: stable across builds, as the walk is kept between polls.
        let hash = page.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let hash = crate::kernel::hex::encode(&hash.to_be_bytes());
        if self.visited.contains(&hash) {
            return false;
        }
        // Full: the walk starts remembering again (a loop shorter than that is still seen).
        if self.visited.len() >= MAX_VISITED {
            self.visited.clear();
        }
        self.visited.push(hash);
        true
    }

    /// Of `new` (new to the cursor), the records this walk has not taken yet.
    pub fn not_taken(&self, new: Vec<NewRecord>) -> Vec<NewRecord> {
        if self.taken.is_empty() {
            return new;
        }
        let taken: std::collections::HashSet<&str> =
            self.taken.iter().map(|t| t.key.as_str()).collect();
        new.into_iter()
            .filter(|r| !taken.contains(r.dedup_key.as_str()))
            .collect()
    }

    /// Records a page: `taken` are its records to remember; returns what to do next.
    pub fn after_page(&mut self, order: Order, page: Page, taken: &[NewRecord]) -> AfterPage {
        let first = self.pages == 0;
        self.pages += 1;
        let entries = taken.iter().map(|r| Taken {
            key: r.dedup_key.clone(),
            greatest: r.greatest.clone(),
        });
        match order {
            // `taken` stays oldest first, so that what a long walk drops to stay small
            // (`HttpCursor::compact_taken`) is its oldest records: a newest-first list's later
            // pages hold older records. Within a page, records sorted by their ordering value
            // are oldest first already; others are in the list's order, newest first.
            Order::NewestFirst => {
                let mut older: Vec<Taken> = entries.collect();
                if !taken.iter().all(|r| r.greatest.is_some()) {
                    older.reverse();
                }
                older.append(&mut self.taken);
                self.taken = older;
            }
            Order::OldestFirst => self.taken.extend(entries),
        }
        let all_new = page.items > 0 && page.seen.before == 0;
        if first {
            self.first_page_all_new = all_new;
        }
        self.reached_seen |= page.seen.before > 0;
        let last_all_new = match order {
            // Ties at the mark go on: the next page may hold more of them.
            Order::NewestFirst if page.seen.before > page.seen.at_mark => Some(false),
            // Positioning a newest-first list: its first page holds the newest items.
            Order::NewestFirst if self.positioning => Some(all_new),
            _ => None,
        };
        // The next page, unless the list ends here (no link, an empty page, or a link to a
        // page this walk read: to itself, or back to an earlier one).
        let next = match (last_all_new, page.next) {
            (None, Some(next)) if page.items > 0 => {
                let seen = match &next {
                    NextRequest::Url { url } => url.clone(),
                    NextRequest::Token { token } => format!("\0{token}"),
                };
                self.visit(&seen).then_some(next)
            }
            _ => None,
        };
        if let Some(next) = next {
            self.next = Some(next.clone());
            return AfterPage::Next(next);
        }
        AfterPage::End {
            reached_seen: self.reached_seen,
            boundary_all_new: match order {
                Order::NewestFirst => last_all_new.unwrap_or(all_new),
                Order::OldestFirst => self.first_page_all_new,
            },
        }
    }
}

/// Resolves `target` (absolute or relative) against the URL of the page that named it, and
/// refuses one on another origin.
pub fn resolve_same_origin(page_url: &str, target: &str) -> Result<String, PollError> {
    let base = url::Url::parse(page_url).map_err(|e| PollError::BadNextPage {
        problem: format!("the page's URL does not parse ({e})"),
    })?;
    let next = base.join(target).map_err(|e| PollError::BadNextPage {
        problem: format!("the next page's URL does not parse ({e})"),
    })?;
    if next.origin() != base.origin() {
        return Err(PollError::OtherOrigin {
            origin: next.origin().ascii_serialization(),
        });
    }
    Ok(next.to_string())
}

/// `url` with its query parameter `name` set to `value` (replacing any), the rest as written.
pub fn with_query_param(url: &str, name: &str, value: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut pairs: Vec<&str> = query
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty() && p.split('=').next() != Some(name))
                .collect()
        })
        .unwrap_or_default();
    let pair = format!("{name}={}", encode_component(value));
    pairs.push(&pair);
    let mut out = format!("{path}?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

pub use crate::kernel::percent::encode as encode_component;

/// The text of a next-page value in a body: a non-empty string (or a number, for tokens);
/// missing, `null`, `false` or `""` means there is no next page.
pub fn next_value(body: &Value, pointer: &str, numbers: bool) -> Result<Option<String>, PollError> {
    match body.pointer(pointer) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if numbers => Ok(Some(n.to_string())),
        Some(other) => Err(PollError::BadNextPage {
            problem: format!(
                "the value at \"{pointer}\" must be a {}, got {}",
                if numbers {
                    "string or number"
                } else {
                    "string"
                },
                type_name(other)
            ),
        }),
    }
}

#[cfg(test)]
mod tests;
