//! Parses JSON text with `serde_json`'s byte reader. The OAuth client reads token answers with
//! that reader, so reading text through it too keeps a single copy of the parser in the Worker
//! (`serde_json::from_str` would add a second one, for its text reader; docs/size.md). The result
//! is the same for any text.

/// `serde_json::from_str`, through the byte reader.
pub fn from_str<'a, T: serde::Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    serde_json::from_slice(text.as_bytes())
}

/// [`from_str`], only for a text within the parse budget ([`super::json_budget::check`]): a
/// larger one is not parsed at all (its values would take many times its size in memory), and
/// reads as not JSON.
pub fn within_budget<'a, T: serde::Deserialize<'a>>(text: &'a str) -> Option<T> {
    super::json_budget::check(text.as_bytes()).ok()?;
    from_str(text).ok()
}
