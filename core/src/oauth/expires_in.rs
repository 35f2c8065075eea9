//! Token responses the `oauth2` crate would refuse, failing every sign-in with such a
//! provider: `expires_in` sent as a numeric string (`"3600"`, as Azure AD v1 and ADFS send it;
//! RFC 6749 asks for a number) or with a fraction (`3600.0`), no `token_type` (or `null`), or
//! `scope` as a list (Twitch). The body is rewritten before the crate reads it.

/// The token response `body` as the `oauth2` crate reads it: a numeric-string `expires_in`
/// written as a number, one with a fraction or an exponent (`3600.0`, `1e30`) as its whole
/// seconds (a negative one as none), and a missing or `null` `token_type` next to an
/// `access_token` written as `Bearer` (some providers leave it out of refresh answers, Duende
/// IdentityServer for one; refused, the answer's rotated refresh token would be lost), and a
/// `scope` sent as a list of texts written as one space-separated text. `None` when there is
/// nothing to rewrite (not JSON, nothing to change) or `expires_in` is text that is not a whole
/// number of seconds (the crate then refuses it, saying which field is wrong).
pub fn readable_token_response(body: &[u8]) -> Option<Vec<u8>> {
    let has = |key: &[u8]| body.windows(key.len()).any(|w| w == key);
    // Most providers send all three as the crate reads them: look before parsing anything.
    if !has(b"\"expires_in\"") && !has(b"\"scope\"") && has(b"\"token_type\"") && !has(b"null") {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = v.as_object_mut()?;
    let mut changed = false;
    if let Some(text) = object.get("expires_in").and_then(|e| e.as_str()) {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let seconds: u64 = text.parse().ok()?;
        object.insert("expires_in".into(), seconds.into());
        changed = true;
    }
    let fraction = object
        .get("expires_in")
        .filter(|e| e.is_number() && !e.is_u64())
        .and_then(serde_json::Value::as_f64);
    if let Some(seconds) = fraction {
        // `as` saturates: past u64 it is the largest, read as a token that never expires. A
        // negative one says nothing: read as none.
        match seconds < 0.0 {
            true => object.remove("expires_in"),
            false => object.insert("expires_in".into(), (seconds as u64).into()),
        };
        changed = true;
    }
    // A list of scopes (Twitch sends `["chat:read", …]`): the crate reads a text only.
    if let Some(list) = object.get("scope").and_then(|s| s.as_array()) {
        let words: Vec<&str> = list.iter().filter_map(|w| w.as_str()).collect();
        object.insert("scope".into(), words.join(" ").into());
        changed = true;
    }
    if !object.get("token_type").is_some_and(|t| t.is_string())
        && !object.contains_key("error")
        && object
            .get("access_token")
            .and_then(|a| a.as_str())
            .is_some_and(|a| !a.is_empty())
    {
        object.insert("token_type".into(), "Bearer".into());
        changed = true;
    }
    changed.then(|| serde_json::to_vec(&v).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::flow::{parse_token_response, token_set};

    #[test]
    fn a_numeric_string_is_read_as_seconds() {
        let body = br#"{"access_token":"at","token_type":"Bearer","expires_in":"3600","refresh_token":"rt"}"#;
        assert!(
            parse_token_response(body).is_err(),
            "the crate alone refuses it"
        );
        let fixed = readable_token_response(body).expect("rewritten");
        let set = token_set(&parse_token_response(&fixed).unwrap(), &[], 1_000);
        assert_eq!(set.expires_at_ms, Some(1_000 + 3_600_000));
        assert_eq!(set.refresh_token.as_deref(), Some("rt"));
        let spaced = br#"{"access_token":"at","token_type":"Bearer","expires_in":" 60 "}"#;
        let fixed = readable_token_response(spaced).expect("rewritten");
        assert_eq!(
            token_set(&parse_token_response(&fixed).unwrap(), &[], 0).expires_at_ms,
            Some(60_000)
        );
    }

    #[test]
    fn a_missing_token_type_is_read_as_bearer() {
        // A refresh answer without `token_type`, rotating the refresh token.
        let body = br#"{"access_token":"at2","expires_in":3600,"refresh_token":"rt2"}"#;
        assert!(
            parse_token_response(body).is_err(),
            "the crate alone refuses it"
        );
        let fixed = readable_token_response(body).expect("rewritten");
        let set = token_set(&parse_token_response(&fixed).unwrap(), &[], 0);
        assert_eq!(set.refresh_token.as_deref(), Some("rt2"));
        assert_eq!(set.token_type, "bearer");
        // Both at once.
        let both = br#"{"access_token":"at","expires_in":"60"}"#;
        let fixed = readable_token_response(both).expect("rewritten");
        assert_eq!(
            token_set(&parse_token_response(&fixed).unwrap(), &[], 0).expires_at_ms,
            Some(60_000)
        );
        // An error answer, or one without a token, is left as sent.
        for body in [
            &br#"{"error":"invalid_grant"}"#[..],
            br#"{"error":"invalid_grant","access_token":"x"}"#,
            br#"{"access_token":""}"#,
        ] {
            assert_eq!(readable_token_response(body), None);
        }
    }

    #[test]
    fn a_fractional_expires_in_and_a_null_token_type_are_read() {
        // A refresh answer the crate alone refuses, rotating the refresh token: refused, the
        // rotated token would be lost and the connection would need a new sign-in.
        let body = br#"{"access_token":"at","token_type":null,"expires_in":119.5,"refresh_token":"rt_new"}"#;
        assert!(
            parse_token_response(body).is_err(),
            "the crate alone refuses it"
        );
        let fixed = readable_token_response(body).expect("rewritten");
        let set = token_set(&parse_token_response(&fixed).unwrap(), &[], 0);
        assert_eq!(set.expires_at_ms, Some(119_000));
        assert_eq!(set.refresh_token.as_deref(), Some("rt_new"));
        assert_eq!(set.token_type, "bearer");
        let bare = br#"{"access_token":"at","token_type":null,"refresh_token":"rt"}"#;
        let fixed = readable_token_response(bare).expect("rewritten");
        assert_eq!(
            token_set(&parse_token_response(&fixed).unwrap(), &[], 0).token_type,
            "bearer"
        );
        let cases: [(&[u8], Option<i64>); 4] = [
            (
                br#"{"access_token":"at","token_type":"Bearer","expires_in":3600.0}"#,
                Some(3_600_000),
            ),
            (
                br#"{"access_token":"at","token_type":"Bearer","expires_in":2e2}"#,
                Some(200_000),
            ),
            (
                br#"{"access_token":"at","token_type":"Bearer","expires_in":-5}"#,
                None,
            ),
            // Past 100 years: never expires.
            (
                br#"{"access_token":"at","token_type":"Bearer","expires_in":1e30}"#,
                None,
            ),
        ];
        for (body, expires) in cases {
            let fixed = readable_token_response(body).expect("rewritten");
            let set = token_set(&parse_token_response(&fixed).unwrap(), &[], 0);
            assert_eq!(
                set.expires_at_ms,
                expires,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_list_of_scopes_is_read_as_one_text() {
        let body = br#"{"access_token":"at","token_type":"bearer","expires_in":3600,"refresh_token":"rt","scope":["chat:read","user:read:email"]}"#;
        assert!(
            parse_token_response(body).is_err(),
            "the crate alone refuses it"
        );
        let fixed = readable_token_response(body).expect("rewritten");
        let set = token_set(&parse_token_response(&fixed).unwrap(), &[], 0);
        assert_eq!(set.scopes, ["chat:read", "user:read:email"]);
        assert_eq!(set.refresh_token.as_deref(), Some("rt"));
        // An empty list grants what was asked for, as an empty text does.
        let empty = br#"{"access_token":"at","token_type":"bearer","scope":[]}"#;
        let fixed = readable_token_response(empty).expect("rewritten");
        let asked = ["read".to_string()];
        let set = token_set(&parse_token_response(&fixed).unwrap(), &asked, 0);
        assert_eq!(set.scopes, asked);
    }

    #[test]
    fn anything_else_is_left_as_sent() {
        for body in [
            &br#"{"access_token":"at","token_type":"Bearer","expires_in":3600}"#[..],
            br#"{"access_token":"at","token_type":"Bearer"}"#,
            br#"{"access_token":"at","token_type":"Bearer","scope":"read write"}"#,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":"soon"}"#,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":"-5"}"#,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":"99999999999999999999999"}"#,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":""}"#,
            b"<html>expires_in</html>",
        ] {
            assert_eq!(readable_token_response(body), None, "{}", String::from_utf8_lossy(body));
        }
    }
}
