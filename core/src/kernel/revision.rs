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

/// Whether an `If-Match` value is `*` or a list of entity tags (`"…"` or `W/"…"`, visible
/// characters but `"` inside the quotes): one that is not (a tag without its quotes) names no
/// draft, and is a mistake to say, not a draft saved since.
pub fn if_match_is_well_formed(header: &str) -> bool {
    let header = header.trim();
    header == "*"
        || header
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .all(|t| {
                let t = t.strip_prefix("W/").unwrap_or(t);
                t.len() >= 2
                    && t.starts_with('"')
                    && t.ends_with('"')
                    && t[1..t.len() - 1]
                        .bytes()
                        .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
            })
            && header.split(',').any(|t| !t.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_is_a_star_or_a_list_of_quoted_tags() {
        let tag = draft_tag("x");
        for good in [
            "*",
            " * ",
            &tag,
            &format!("W/{tag}"),
            &format!("\"0\", {tag},"),
        ] {
            assert!(if_match_is_well_formed(good), "{good}");
        }
        for bad in [
            "",
            " ",
            ",",
            tag.trim_matches('"'),
            "\"",
            "\"a\"b\"",
            "W/abc",
            "\"a b\"",
            "*, \"a\"",
        ] {
            assert!(!if_match_is_well_formed(bad), "{bad}");
        }
    }

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
