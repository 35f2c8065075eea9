//! A token response's `expires_in` sent as a numeric string (`"3600"`, as Azure AD v1 and ADFS
//! send it): RFC 6749 asks for a number, and the `oauth2` crate refuses anything else, which
//! would fail every sign-in with such a provider. The body is rewritten with the number before
//! the crate reads it.

/// The token response `body` with a numeric-string `expires_in` written as a number; `None`
/// when there is nothing to rewrite (a number already, no `expires_in`, not JSON) or the text
/// is not a whole number of seconds (the crate then refuses it, saying which field is wrong).
pub fn with_numeric_expires_in(body: &[u8]) -> Option<Vec<u8>> {
    // Most providers send a number: look for the key before parsing anything.
    const KEY: &[u8] = b"\"expires_in\"";
    if !body.windows(KEY.len()).any(|w| w == KEY) {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = v.get("expires_in")?.as_str()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: u64 = text.parse().ok()?;
    v["expires_in"] = seconds.into();
    serde_json::to_vec(&v).ok()
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
        let fixed = with_numeric_expires_in(body).expect("rewritten");
        let set = token_set(&parse_token_response(&fixed).unwrap(), &[], 1_000);
        assert_eq!(set.expires_at_ms, Some(1_000 + 3_600_000));
        assert_eq!(set.refresh_token.as_deref(), Some("rt"));
        let spaced = br#"{"access_token":"at","token_type":"Bearer","expires_in":" 60 "}"#;
        let fixed = with_numeric_expires_in(spaced).expect("rewritten");
        assert_eq!(
            token_set(&parse_token_response(&fixed).unwrap(), &[], 0).expires_at_ms,
            Some(60_000)
        );
    }

    #[test]
    fn anything_else_is_left_as_sent() {
        for body in [
            &br#"{"access_token":"at","token_type":"Bearer","expires_in":3600}"#[..],
            br#"{"access_token":"at","token_type":"Bearer"}"#,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":"soon"}"#,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":"-5"}"#,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":"99999999999999999999999"}"#,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":""}"#,
            b"<html>expires_in</html>",
        ] {
            assert_eq!(with_numeric_expires_in(body), None, "{}", String::from_utf8_lossy(body));
        }
    }
}
