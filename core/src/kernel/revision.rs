//! A workflow draft's revision tag: the `ETag` of its resource. A client that read one draft
//! saves over it or deploys it only while it is still that draft (`If-Match`), rather than
//! acting on a draft saved elsewhere meanwhile (another tab, the CLI).

use sha2::{Digest, Sha256};

/// The strong entity tag of a draft as stored: `"` + 32 hex digits of its SHA-256 + `"`.
pub fn draft_tag(draft: &str) -> String {
    let digest = Sha256::digest(draft.as_bytes());
    format!("\"{}\"", super::hex::encode(&digest[..16]))
}

/// Whether an `If-Match` value lets a request act on the draft tagged `tag`: `*`, or a list
/// naming it. A weak tag (`W/"…"`) names it too: Cloudflare makes an answer's strong tag weak
/// when it compresses the answer, and the tag is of the draft's text, whatever bytes carried
/// it, so the weak comparison is as exact here.
pub fn if_match_allows(header: &str, tag: &str) -> bool {
    let header = header.trim();
    header == "*"
        || header.split(',').any(|t| {
            let t = t.trim();
            t.strip_prefix("W/").unwrap_or(t) == tag
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_tag_is_strong_and_follows_the_text() {
        let tag = draft_tag(r#"{"name":"a"}"#);
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag, draft_tag(r#"{"name":"a"}"#));
        assert_ne!(tag, draft_tag(r#"{"name":"b"}"#));
    }

    #[test]
    fn if_match_takes_star_or_a_list_naming_the_tag_strong_or_weak() {
        let tag = draft_tag("x");
        assert!(if_match_allows("*", &tag));
        assert!(if_match_allows(&format!(" {tag} "), &tag));
        assert!(if_match_allows(&format!("\"0\", {tag}"), &tag));
        assert!(!if_match_allows("\"0\"", &tag));
        assert!(if_match_allows(&format!("W/{tag}"), &tag));
        assert!(!if_match_allows("W/\"0\"", &tag));
        assert!(!if_match_allows("", &tag));
        assert!(!if_match_allows(tag.trim_matches('"'), &tag));
    }
}
