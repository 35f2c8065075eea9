//! The pure rules of the Cron pass's refreshes: when a token is due, how long a failing
//! connection waits before its next attempt, and which trigger configuration a connection
//! refreshes with.

use crate::definition::{Definition, Trigger};
use crate::kernel::json_parse;
use crate::oauth::flow::REFRESH_WINDOW_MS;
use crate::oauth::OAuthTrigger;
use serde_json::Value;

/// The wait after a connection's first failed refresh (not a dead grant).
pub const FIRST_RETRY_MS: i64 = 60_000;
/// The longest wait between two attempts of a failing connection.
pub const MAX_RETRY_MS: i64 = 60 * 60_000;

/// How long to wait before the next refresh attempt after `failures` failures in a row
/// (1 for the first): 1 minute, doubling to at most an hour. Failing connections then stay
/// out of the Cron pass's batch between attempts, so they cannot crowd out the others.
pub fn retry_delay_ms(failures: i64) -> i64 {
    let doublings = failures.saturating_sub(1).clamp(0, 32) as u32;
    FIRST_RETRY_MS
        .saturating_mul(1i64 << doublings)
        .min(MAX_RETRY_MS)
}

/// When a failing connection is tried again: at `backoff` (its retry delay after the pass that
/// failed), but while its token is still valid no later than [`REFRESH_MIN_WINDOW_MS`] before
/// it expires (`expires_at_ms`), the last pass that can refresh it in time, unless that is
/// before `soonest` (the next pass). A provider that recovers a few minutes before the expiry
/// then keeps the runs that read the connection from failing until the backoff's next try.
pub fn retry_at(backoff: i64, soonest: i64, expires_at_ms: Option<i64>) -> i64 {
    match expires_at_ms.map(|e| e.saturating_sub(REFRESH_MIN_WINDOW_MS)) {
        Some(last) if last >= soonest => backoff.min(last),
        _ => backoff,
    }
}

/// The least time before expiry a token is due at: the Cron pass runs once a minute, so a
/// token due later than a minute and a half before its expiry could see its last pass come
/// too close to it.
pub const REFRESH_MIN_WINDOW_MS: i64 = 90_000;

/// When the Cron pass refreshes a token obtained at `obtained_ms` that expires at
/// `expires_at_ms`: [`REFRESH_WINDOW_MS`] (10 minutes) before it expires, or halfway through
/// its lifetime when that comes later, but never less than [`REFRESH_MIN_WINDOW_MS`] before
/// it expires. A 5-minute token is refreshed after about 2.5 minutes, not on every pass; one
/// that lives 90 seconds or less on every pass; one that never expires never ahead of time.
pub fn refresh_at(obtained_ms: i64, expires_at_ms: Option<i64>) -> Option<i64> {
    let expires = expires_at_ms?;
    let lifetime = expires.saturating_sub(obtained_ms).max(0);
    let window = (lifetime / 2).clamp(REFRESH_MIN_WINDOW_MS, REFRESH_WINDOW_MS);
    Some(expires.saturating_sub(window))
}

/// The lifetime taken for a refreshed token whose provider gave the token it replaces an
/// expiry but left `expires_in` out of the refresh's answer, when the earlier lifetime is not
/// known: an hour, the most common.
pub const ASSUMED_LIFETIME_MS: i64 = 60 * 60_000;

/// When a refreshed token expires: as answered (`answered`), or, when the answer has no
/// `expires_in` (the standard only recommends it) but the token it replaces expires at
/// `earlier_expires_at_ms`, after the earlier token's lifetime (from `earlier_obtained_ms`,
/// when known) or [`ASSUMED_LIFETIME_MS`]. Otherwise such a connection would look as if its
/// token never expires, and would never be refreshed again.
pub fn refreshed_expiry(
    answered: Option<i64>,
    earlier_expires_at_ms: Option<i64>,
    earlier_obtained_ms: Option<i64>,
    now_ms: i64,
) -> Option<i64> {
    if answered.is_some() {
        return answered;
    }
    let earlier = earlier_expires_at_ms?;
    let lifetime = earlier_obtained_ms
        .map(|obtained| earlier.saturating_sub(obtained))
        .filter(|lifetime| *lifetime > 0)
        .unwrap_or(ASSUMED_LIFETIME_MS);
    Some(now_ms.saturating_add(lifetime))
}

/// Whether two configurations are the same provider and client: the same `token_url` (its
/// origin and path: on one host the path often names the issuer, as a Keycloak realm, an Entra
/// tenant or an Okta authorization server do) and `client_id`. A refresh token is only ever
/// sent where it was issued.
pub fn same_provider(a: &OAuthTrigger, b: &OAuthTrigger) -> bool {
    a.client_id == b.client_id
        && token_endpoint(&a.token_url).is_some()
        && token_endpoint(&a.token_url) == token_endpoint(&b.token_url)
}

/// A token URL as an endpoint: scheme, host, port (the scheme's default when none is
/// written), path without a trailing `/`, and query (Azure AD B2C names its policy there);
/// `None` when it does not parse.
fn token_endpoint(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(format!(
        "{}://{}:{}{}?{}",
        u.scheme(),
        u.host_str()?,
        u.port_or_known_default()?,
        u.path().trim_end_matches('/'),
        u.query().unwrap_or("")
    ))
}

/// The OAuth trigger of a stored version's definition (JSON text): `None` when the definition
/// no longer validates (a version stored by a release that checked less) or is not OAuth.
/// Such a version's provider is unknown, so no token of it is ever sent anywhere.
pub fn oauth_trigger_of(definition: &str) -> Option<OAuthTrigger> {
    let value = json_parse::from_str::<serde_json::Value>(definition).ok()?;
    match Definition::parse_stored(&value).ok()?.trigger {
        Trigger::OAuth(t) => Some(*t),
        _ => None,
    }
}

/// Whether a sign-in that got no refresh token keeps the one of the user's earlier connection
/// (Google, for one, issues a refresh token only at the first consent): only while the
/// provider has not refused it (`earlier_status` is `active`, not `needs_reauth`), and only
/// when it was issued to the same provider and client as this sign-in's `trigger`, so that a
/// refresh never sends it elsewhere. `earlier` is the trigger of the version the earlier
/// connection was made with: `None` when that version is gone, no longer validates or is not
/// OAuth, and then nothing is kept.
pub fn keeps_earlier_refresh_token(
    earlier_status: &str,
    earlier: Option<&OAuthTrigger>,
    trigger: &OAuthTrigger,
) -> bool {
    earlier_status == "active" && earlier.is_some_and(|e| same_provider(e, trigger))
}

/// Whether two sign-ins' userinfo answers may be the same account at the provider: `false` only
/// when both name an account (`sub`, `id` or `user_id`; else `email`) and the names differ.
/// A refresh token kept from another account would, at the next refresh, silently switch the
/// connection to that account.
pub fn may_be_same_account(earlier: Option<&Value>, userinfo: Option<&Value>) -> bool {
    named_accounts(earlier, userinfo).is_none_or(|(a, b)| a == b)
}

/// Whether two userinfo answers both name an account and it is the same one: what a refresh
/// token kept without knowing its account must show before it is kept (an answer naming no
/// account, like `{"ok": false}` for a dead token, tells nothing).
pub fn is_same_named_account(earlier: &Value, userinfo: &Value) -> bool {
    named_accounts(Some(earlier), Some(userinfo)).is_some_and(|(a, b)| a == b)
}

/// The account both answers name, by the first of `sub`/`id`/`user_id`, else `email`, that both
/// hold.
fn named_accounts(a: Option<&Value>, b: Option<&Value>) -> Option<(String, String)> {
    let account = |v: Option<&Value>, fields: &[&str]| {
        let v = v?;
        fields.iter().find_map(|f| match &v[*f] {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    [&["sub", "id", "user_id"][..], &["email"][..]]
        .into_iter()
        .find_map(|fields| account(a, fields).zip(account(b, fields)))
}

/// The configuration a connection refreshes with: the deployed version's (`live`, when it is
/// an OAuth trigger) while it is the same provider and client as the version the connection
/// was made with (`own`), so that a changed secret name is followed; else the
/// connection's own version's, so that a redeploy onto another provider never receives this
/// provider's refresh tokens. `None` when the connection's own version cannot be read.
pub fn refresh_config(
    live: Option<OAuthTrigger>,
    own: Option<OAuthTrigger>,
) -> Option<OAuthTrigger> {
    let own = own?;
    match live {
        Some(live) if same_provider(&live, &own) => Some(live),
        _ => Some(own),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::problem::Errors;
    use serde_json::json;

    #[test]
    fn a_refresh_answer_without_expires_in_keeps_the_earlier_lifetime() {
        let now = 1_800_000_000_000;
        let min = 60_000;
        // Answered: as answered, whatever came before.
        assert_eq!(
            refreshed_expiry(Some(now + 5 * min), Some(now), Some(now - min), now),
            Some(now + 5 * min)
        );
        // Not answered, the earlier token lived 5 minutes: so does this one.
        assert_eq!(
            refreshed_expiry(None, Some(now + 2 * min), Some(now - 3 * min), now),
            Some(now + 5 * min)
        );
        // When the earlier one was obtained is unknown (or makes no sense): an hour.
        for obtained in [None, Some(now + 2 * min), Some(now + 3 * min)] {
            assert_eq!(
                refreshed_expiry(None, Some(now + 2 * min), obtained, now),
                Some(now + ASSUMED_LIFETIME_MS),
                "{obtained:?}"
            );
        }
        // A token that never expired as far as we knew: neither does this one.
        assert_eq!(refreshed_expiry(None, None, Some(now - min), now), None);
        // Far-off values do not overflow.
        assert_eq!(
            refreshed_expiry(None, Some(i64::MAX), Some(i64::MIN), i64::MAX),
            Some(i64::MAX)
        );
    }

    #[test]
    fn a_token_is_due_ten_minutes_before_it_expires_or_halfway_when_it_lives_less() {
        let t0 = 1_800_000_000_000;
        let min = 60_000;
        // An hour-long token: 10 minutes before.
        assert_eq!(refresh_at(t0, Some(t0 + 60 * min)), Some(t0 + 50 * min));
        // 20 minutes: both rules agree.
        assert_eq!(refresh_at(t0, Some(t0 + 20 * min)), Some(t0 + 10 * min));
        // 5 minutes: halfway, not at once.
        assert_eq!(refresh_at(t0, Some(t0 + 5 * min)), Some(t0 + 150_000));
        // 2 minutes: a minute and a half before expiry, so that a pass comes in time.
        assert_eq!(refresh_at(t0, Some(t0 + 2 * min)), Some(t0 + 30_000));
        // A minute: due at once (every pass), as is one already expired when obtained.
        assert_eq!(refresh_at(t0, Some(t0 + min)), Some(t0 - 30_000));
        assert_eq!(refresh_at(t0, Some(t0)), Some(t0 - REFRESH_MIN_WINDOW_MS));
        // Never expires: never due.
        assert_eq!(refresh_at(t0, None), None);
        // Far-off values do not overflow.
        assert_eq!(
            refresh_at(i64::MIN, Some(i64::MAX)),
            Some(i64::MAX - REFRESH_WINDOW_MS)
        );
    }

    #[test]
    fn a_failing_refresh_is_tried_again_before_its_token_expires() {
        let min = 60_000;
        let e = 1_800_000_000_000;
        // The fourth failure, 3 minutes before the expiry, would wait 8: tried again 1.5
        // minutes before it instead.
        let pass = e - 3 * min;
        assert_eq!(
            retry_at(pass + 8 * min, pass + min, Some(e)),
            e - REFRESH_MIN_WINDOW_MS
        );
        // A backoff that comes first stays.
        assert_eq!(retry_at(pass + min, pass + min, Some(e)), pass + min);
        // Too close to the expiry for another pass before it, expired, or never expiring: the
        // backoff.
        let pass = e - min;
        assert_eq!(
            retry_at(pass + 2 * min, pass + min, Some(e)),
            pass + 2 * min
        );
        assert_eq!(retry_at(e + 8 * min, e + min, Some(e)), e + 8 * min);
        assert_eq!(retry_at(e + 8 * min, e + min, None), e + 8 * min);
    }

    #[test]
    fn failing_refreshes_back_off_to_an_hour() {
        let minutes: Vec<i64> = (1..=9).map(|n| retry_delay_ms(n) / 60_000).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_delay_ms(0), FIRST_RETRY_MS);
        assert_eq!(retry_delay_ms(i64::MAX), MAX_RETRY_MS);
        assert_eq!(retry_delay_ms(-5), FIRST_RETRY_MS);
    }

    fn trigger(token_url: &str, client_id: &str, secret_env: &str) -> OAuthTrigger {
        OAuthTrigger::parse(
            &json!({"type":"oauth","authorize_url":"https://p.example/auth","token_url":token_url,
                    "client_id":client_id,"client_secret_env":secret_env,
                    "success_url":"https://app.example/done"}),
            "trigger",
            &mut Errors::new(),
        )
        .unwrap()
    }

    #[test]
    fn a_connection_refreshes_only_with_its_own_provider() {
        let own = trigger("https://p.example/token", "client-1", "OLD_SECRET");
        // Same token URL and client: the live config (a new secret name) is used.
        for url in [
            "https://P.example/token",
            "https://p.example/token/",
            "https://p.example:443/token",
            "https://p.example/./token",
        ] {
            let live = trigger(url, "client-1", "NEW_SECRET");
            let chosen = refresh_config(Some(live), Some(own.clone())).unwrap();
            assert_eq!(chosen.client_secret_env, "NEW_SECRET");
            assert_eq!(chosen.token_url, url);
        }
        // Another provider, or another client: the connection's own version. On one host the
        // path names the issuer (a Keycloak realm, an Entra tenant).
        for live in [
            trigger("https://other.example/token", "client-1", "NEW_SECRET"),
            trigger("https://p.example:8443/token", "client-1", "NEW_SECRET"),
            trigger("http://p.example/token", "client-1", "NEW_SECRET"),
            trigger("https://p.example/token", "client-2", "NEW_SECRET"),
            trigger("https://p.example/v2/token", "client-1", "NEW_SECRET"),
            trigger(
                "https://p.example/token?p=B2C_1_other",
                "client-1",
                "NEW_SECRET",
            ),
            trigger(
                "https://p.example/realms/prod/protocol/openid-connect/token",
                "client-1",
                "NEW_SECRET",
            ),
        ] {
            let chosen = refresh_config(Some(live.clone()), Some(own.clone())).unwrap();
            assert_eq!(chosen.token_url, own.token_url, "{}", live.token_url);
            assert_eq!(chosen.client_id, own.client_id);
            assert_eq!(chosen.client_secret_env, "OLD_SECRET");
        }
        // Not deployed as OAuth any more: the connection's own version.
        assert_eq!(
            refresh_config(None, Some(own.clone())).unwrap().token_url,
            own.token_url
        );
        // Without the connection's own version nothing is sent anywhere.
        assert!(refresh_config(Some(own), None).is_none());
    }

    fn definition(trigger: serde_json::Value) -> String {
        json!({"name": "w", "trigger": trigger,
               "steps": [{"type": "log", "name": "l", "message": "hi"}]})
        .to_string()
    }

    #[test]
    fn a_version_that_no_longer_validates_has_no_provider() {
        let oauth = json!({"type":"oauth","authorize_url":"https://p.example/auth",
            "token_url":"https://p.example/token","client_id":"client-1",
            "client_secret_env":"SECRET","success_url":"https://app.example/done"});
        let t = oauth_trigger_of(&definition(oauth.clone())).expect("an OAuth version");
        assert_eq!(t.client_id, "client-1");
        let endpoint = definition(json!({"type": "endpoint", "method": "POST"}));
        assert!(Definition::parse(&serde_json::from_str(&endpoint).unwrap()).is_ok());
        let mut stricter = oauth.clone();
        stricter["token_url"] = json!("https://p.example:99999/token");
        for def in [
            definition(stricter),
            definition(json!({"type": "endpoint", "method": "POST"})),
            r#"{"name": "w"}"#.to_string(),
            "not json".to_string(),
        ] {
            assert!(oauth_trigger_of(&def).is_none(), "{def}");
        }
    }

    #[test]
    fn an_earlier_refresh_token_is_kept_only_when_it_can_still_be_used() {
        let now = trigger("https://p.example/token", "client-1", "SECRET");
        let same = trigger("https://p.example/token/", "client-1", "OTHER_SECRET");
        let other = trigger("https://p.example/token", "client-2", "SECRET");
        let other_realm = trigger("https://p.example/v2/token", "client-1", "SECRET");
        assert!(keeps_earlier_refresh_token("active", Some(&now), &now));
        assert!(keeps_earlier_refresh_token("active", Some(&same), &now));
        assert!(!keeps_earlier_refresh_token("active", Some(&other), &now));
        assert!(!keeps_earlier_refresh_token(
            "active",
            Some(&other_realm),
            &now
        ));
        // The earlier version is gone or no longer validates: its provider is unknown.
        assert!(!keeps_earlier_refresh_token("active", None, &now));
        // The provider already refused it.
        assert!(!keeps_earlier_refresh_token(
            "needs_reauth",
            Some(&now),
            &now
        ));
    }

    #[test]
    fn another_account_is_told_apart_by_its_userinfo() {
        let same = |a: Value, b: Value| may_be_same_account(Some(&a), Some(&b));
        assert!(same(
            json!({"sub": "alice"}),
            json!({"sub": "alice", "name": "A"})
        ));
        assert!(!same(json!({"sub": "alice"}), json!({"sub": "bob"})));
        // GitHub's numeric id, then e-mail when no id is given.
        assert!(same(
            json!({"id": 7, "login": "a"}),
            json!({"id": 7, "login": "b"})
        ));
        assert!(!same(json!({"id": 7}), json!({"id": 8})));
        assert!(!same(json!({"email": "a@x"}), json!({"email": "b@x"})));
        assert!(same(
            json!({"sub": "alice", "email": "a@x"}),
            json!({"sub": "alice", "email": "b@x"})
        ));
        // Without a userinfo on either side, or no account named: nothing tells them apart.
        assert!(may_be_same_account(None, Some(&json!({"sub": "bob"}))));
        assert!(may_be_same_account(Some(&json!({"sub": "alice"})), None));
        assert!(same(json!({"name": "A"}), json!({"name": "B"})));
    }

    #[test]
    fn a_kept_token_shows_its_account_only_by_naming_the_same_one() {
        let named = |a: Value, b: Value| is_same_named_account(&a, &b);
        assert!(named(json!({"sub": "alice"}), json!({"sub": "alice"})));
        assert!(named(json!({"id": 7}), json!({"id": 7, "email": "a@x"})));
        assert!(!named(json!({"sub": "alice"}), json!({"sub": "bob"})));
        // An answer that names no account tells nothing.
        assert!(!named(json!({"ok": false}), json!({"sub": "alice"})));
        assert!(!named(json!({"name": "A"}), json!({"name": "A"})));
    }
}
