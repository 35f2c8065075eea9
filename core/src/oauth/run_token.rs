//! Which access token a run's steps use. A run started by a sign-in carries that sign-in's
//! token (sealed in its shard object), so executing it reads no connection. Once that token
//! is inside the refresh window the connection may already hold a newer one, and the run
//! reads the connection instead, as does a run that carries no token (a replay, or a run
//! created by an earlier version).

use serde_json::Value;

use super::flow::REFRESH_WINDOW_MS;
use crate::kernel::redact::REDACTED;
use crate::kernel::time::parse_millis;

/// Whether a run's `oauth` variables (its input with its carried secrets put back) hold a token
/// to use as is at `now_ms`: a real `access_token` that never expires (`expires_at: null`) or
/// expires after the refresh window.
pub fn carried_token_usable(oauth: &Value, now_ms: i64) -> bool {
    lasts_through(oauth, now_ms, REFRESH_WINDOW_MS)
}

/// Whether a run's `oauth` variables hold a real token still valid `ms` after `now_ms` (one
/// without `expires_at` never expires): a step whose worst case ends within that may send it.
pub fn lasts_through(oauth: &Value, now_ms: i64, ms: i64) -> bool {
    let real = oauth
        .get("access_token")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty() && t != REDACTED);
    real && match oauth.get("expires_at") {
        None | Some(Value::Null) => true,
        Some(Value::String(at)) => parse_millis(at).is_some_and(|at| at - now_ms > ms),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;

    fn at(ms: i64) -> Value {
        json!(crate::kernel::time::iso_millis(ms))
    }

    #[test]
    fn a_carried_token_is_used_until_the_refresh_window() {
        let hour = json!({"access_token": "at_1", "expires_at": at(NOW + 3_600_000)});
        assert!(carried_token_usable(&hour, NOW));
        let edge = json!({"access_token": "at_1", "expires_at": at(NOW + REFRESH_WINDOW_MS + 1)});
        assert!(carried_token_usable(&edge, NOW));
        let inside = json!({"access_token": "at_1", "expires_at": at(NOW + REFRESH_WINDOW_MS)});
        assert!(!carried_token_usable(&inside, NOW));
        let expired = json!({"access_token": "at_1", "expires_at": at(NOW - 1)});
        assert!(!carried_token_usable(&expired, NOW));
    }

    #[test]
    fn a_token_without_expiry_is_used() {
        assert!(carried_token_usable(
            &json!({"access_token": "at_1", "expires_at": null}),
            NOW
        ));
        assert!(carried_token_usable(&json!({"access_token": "at_1"}), NOW));
    }

    #[test]
    fn a_run_without_a_real_token_reads_the_connection() {
        let far = at(NOW + 3_600_000);
        for oauth in [
            json!({"access_token": "[redacted]", "expires_at": far}),
            json!({"access_token": "", "expires_at": far}),
            json!({"access_token": 7, "expires_at": far}),
            json!({"expires_at": far}),
            json!({"access_token": "at_1", "expires_at": "soon"}),
            json!({"access_token": "at_1", "expires_at": 5}),
        ] {
            assert!(!carried_token_usable(&oauth, NOW), "{oauth}");
        }
    }

    #[test]
    fn a_token_lasts_through_a_step_when_it_expires_after_its_worst_case() {
        let oauth = |at: Value| json!({"access_token": "t", "expires_at": at});
        assert!(lasts_through(&oauth(at(NOW + 120_001)), NOW, 120_000));
        assert!(!lasts_through(&oauth(at(NOW + 120_000)), NOW, 120_000));
        assert!(lasts_through(&oauth(Value::Null), NOW, i64::MAX / 2));
        assert!(!lasts_through(&json!({"access_token": REDACTED}), NOW, 0));
        assert!(!lasts_through(&oauth(json!("not a time")), NOW, 0));
    }
}
