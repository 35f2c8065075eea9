//! Opaque page cursors: the position after the last item of a page, base64url-encoded so
//! callers treat it as a token rather than build it themselves.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use tripline_core::oauth::flow::MAX_USER_ID_CHARS;

use super::problem::ApiError;
use super::request::query_param;

/// A list request's page: how many items, and the position after which to start (keyset paging:
/// the store reads `limit + 1` rows after it, newest or smallest first).
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

impl PageRequest {
    /// Reads `limit` (1..=`max`, default `default`) and `cursor` from a query string. A cursor
    /// whose position fails `valid` is refused like one that does not decode.
    pub fn from_query(
        query: &[(String, String)],
        default: u32,
        max: u32,
        valid: impl Fn(&str) -> bool,
    ) -> Result<PageRequest, ApiError> {
        let limit = parse_limit(query_param(query, "limit"), default, max)
            .map_err(|m| ApiError::field("query.limit", m))?;
        let after =
            match query_param(query, "cursor") {
                // An empty cursor is the first page, as no cursor is.
                None | Some("") => None,
                Some(c) => Some(decode_cursor(c).filter(|p| valid(p)).ok_or_else(|| {
                    ApiError::field("query.cursor", "is not a cursor from this API")
                })?),
            };
        Ok(PageRequest { limit, after })
    }

    /// How many rows to read: one more than a page tells whether another page follows.
    pub fn rows_to_read(&self) -> u32 {
        self.limit + 1
    }

    /// The page out of the rows read, and the cursor of the next page (`None` on the last).
    pub fn page<'a, T>(
        &self,
        rows: &'a [T],
        position: impl Fn(&T) -> String,
    ) -> (&'a [T], Option<String>) {
        let limit = self.limit as usize;
        let page = &rows[..rows.len().min(limit)];
        let next = (rows.len() > limit)
            .then(|| page.last())
            .flatten()
            .map(|r| encode_cursor(&position(r)));
        (page, next)
    }

    /// [`page`](Self::page) of rows a query may have ended early (`cut`: by their bytes): then
    /// the next page starts after the last row read.
    pub fn page_or_cut<'a, T>(
        &self,
        rows: &'a [T],
        cut: bool,
        position: impl Fn(&T) -> String,
    ) -> (&'a [T], Option<String>) {
        let (page, next) = self.page(rows, &position);
        let next = next.or_else(|| {
            cut.then(|| page.last())
                .flatten()
                .map(|r| encode_cursor(&position(r)))
        });
        (page, next)
    }
}

/// Encodes a position (e.g. a run id, or `created_at|id`).
pub fn encode_cursor(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position.as_bytes())
}

/// Reads any base64url text without padding (the OpenAPI document gives its exact pattern), so
/// that every cursor the document admits decodes to a position.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Longest position, in bytes: a connection page ends on a user id, up to
/// `MAX_USER_ID_CHARS` characters of up to 4 bytes each; run ids and workflow positions are
/// shorter.
pub const MAX_POSITION_BYTES: usize = MAX_USER_ID_CHARS * 4;

/// Longest cursor: the longest position in base64url without padding (the OpenAPI document's
/// `maxLength` of a cursor).
pub const MAX_CURSOR_LEN: usize = (MAX_POSITION_BYTES * 4).div_ceil(3);

/// Decodes a cursor: the position it holds (a bound the next page starts after). `None` when it
/// is not base64url text of a position of 1 to `MAX_POSITION_BYTES` bytes.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    // Longer text cannot hold a position: refused before it is decoded.
    if cursor.len() > MAX_CURSOR_LEN {
        return None;
    }
    let bytes = LENIENT.decode(cursor.as_bytes()).ok()?;
    let s = String::from_utf8_lossy(&bytes).into_owned();
    (!s.is_empty() && bytes.len() <= MAX_POSITION_BYTES).then_some(s)
}

/// Reads `limit` from a query string value: 1..=max, default `default`.
pub fn parse_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, String> {
    match raw {
        None => Ok(default),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!("must be an integer between 1 and {max}, got {s:?}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_rejects_junk() {
        let c = encode_cursor("run_abc|x");
        assert_eq!(decode_cursor(&c).as_deref(), Some("run_abc|x"));
        assert_eq!(decode_cursor("%%%"), None);
        assert_eq!(
            decode_cursor("A"),
            None,
            "no base64 text has 4n+1 characters"
        );
        assert!(
            decode_cursor("wr7DpRoR").is_some(),
            "any base64url text is a position"
        );
        assert_eq!(decode_cursor(""), None);
    }

    #[test]
    fn a_connection_page_ending_on_the_longest_user_id_has_a_cursor_the_api_takes() {
        let user_id = "😀".repeat(MAX_USER_ID_CHARS);
        assert_eq!(user_id.len(), MAX_POSITION_BYTES);
        let cursor = encode_cursor(&user_id);
        assert_eq!(cursor.len(), MAX_CURSOR_LEN);
        let query = [("cursor".to_string(), cursor)];
        let paging = PageRequest::from_query(&query, 50, 100, |_| true)
            .ok()
            .unwrap();
        assert_eq!(paging.after.as_deref(), Some(user_id.as_str()));
        assert_eq!(decode_cursor(&encode_cursor(&format!("{user_id}x"))), None);
    }

    #[test]
    fn the_documented_cursor_length_is_the_longest_cursor() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("openapi.json parses");
        let mut cursors = 0;
        for item in doc["paths"].as_object().expect("paths").values() {
            let operations = item.as_object().expect("path item").values();
            for parameter in std::iter::once(&item["parameters"])
                .chain(operations.map(|o| &o["parameters"]))
                .filter_map(|p| p.as_array())
                .flatten()
                .filter(|p| p["name"] == "cursor")
            {
                assert_eq!(
                    parameter["schema"]["maxLength"], MAX_CURSOR_LEN,
                    "{parameter}"
                );
                cursors += 1;
            }
        }
        assert_eq!(cursors, 3, "the workflow, run and connection lists");
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None, 20, 100), Ok(20));
        assert_eq!(parse_limit(Some("5"), 20, 100), Ok(5));
        assert!(parse_limit(Some("0"), 20, 100).is_err());
        assert!(parse_limit(Some("101"), 20, 100).is_err());
        assert!(parse_limit(Some("x"), 20, 100).is_err());
    }
}
