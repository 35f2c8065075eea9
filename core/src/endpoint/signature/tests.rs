use super::*;
use proptest::prelude::*;
use serde_json::json;

// Independent of the code under test: HMAC computed directly in each test.
fn mac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("any key length");
    m.update(message);
    m.finalize().into_bytes().to_vec()
}
fn mac_hex(key: &[u8], message: &[u8]) -> String {
    crate::kernel::hex::encode(&mac(key, message))
}
fn mac_b64(key: &[u8], message: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac(key, message))
}

fn headers(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

fn config(scheme: Scheme) -> VerifyConfig {
    VerifyConfig {
        scheme,
        secret_env: "SECRET".into(),
        tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
        header: (scheme == Scheme::HmacSha256).then(|| DEFAULT_HMAC_HEADER.to_string()),
    }
}

fn no_match(header: &str) -> SignatureError {
    SignatureError::NoSignatureMatched {
        header: header.into(),
    }
}
fn missing(header: &str) -> SignatureError {
    SignatureError::MissingHeader {
        header: header.into(),
    }
}
fn malformed_at(e: Result<Verified, SignatureError>, header: &str) -> String {
    match e {
        Err(SignatureError::MalformedHeader { header: h, problem }) if h == header => problem,
        other => panic!("expected malformed `{header}`, got {other:?}"),
    }
}
fn outside(e: Result<Verified, SignatureError>) -> (String, i64) {
    match e {
        Err(SignatureError::TimestampOutsideTolerance {
            header,
            age_seconds,
            tolerance_seconds,
        }) => {
            assert_eq!(tolerance_seconds, DEFAULT_TOLERANCE_SECONDS);
            (header, age_seconds)
        }
        other => panic!("expected a tolerance error, got {other:?}"),
    }
}

// --- standard-webhooks ----------------------------------------------------------

// Test vector of the Standard Webhooks specification / Svix libraries.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TS: i64 = 1_614_265_330;
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn sw_headers(id: &str, ts: i64, sig: &str) -> Map<String, Value> {
    headers(&[
        ("webhook-id", id),
        ("webhook-timestamp", &ts.to_string()),
        ("webhook-signature", sig),
    ])
}

/// Signs like a Standard Webhooks sender, from raw key bytes.
fn sw_sign(key: &[u8], id: &str, ts: i64, body: &[u8]) -> String {
    let content = [format!("{id}.{ts}.").as_bytes(), body].concat();
    format!("v1,{}", mac_b64(key, &content))
}

#[test]
fn standard_webhooks_spec_vector() {
    let cfg = config(Scheme::StandardWebhooks);
    let v = verify(
        &cfg,
        SW_SECRET,
        &sw_headers(SW_ID, SW_TS, SW_SIG),
        SW_BODY,
        SW_TS + 10,
    )
    .unwrap();
    assert_eq!(
        v,
        Verified {
            scheme: Scheme::StandardWebhooks,
            message_id: Some(SW_ID.into()),
            timestamp: Some(SW_TS),
            secret_index: 0,
        }
    );
    assert_eq!(
        sign_standard_webhooks(SW_SECRET, SW_ID, SW_TS, SW_BODY),
        SW_SIG
    );
    // The same secret pasted without its prefix.
    let bare = SW_SECRET.trim_start_matches("whsec_");
    assert!(verify(
        &cfg,
        bare,
        &sw_headers(SW_ID, SW_TS, SW_SIG),
        SW_BODY,
        SW_TS
    )
    .is_ok());
}

#[test]
fn standard_webhooks_valid_tampered_wrong_secret() {
    let cfg = config(Scheme::StandardWebhooks);
    let key = b"0123456789abcdef0123456789abcdef";
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    let now = 1_700_000_000;
    let body = br#"{"type":"invoice.paid"}"#;
    let sig = sw_sign(key, "msg_1", now, body);
    let h = sw_headers("msg_1", now, &sig);
    assert_eq!(
        verify(&cfg, &secret, &h, body, now)
            .unwrap()
            .message_id
            .as_deref(),
        Some("msg_1")
    );
    assert_eq!(
        verify(&cfg, &secret, &h, br#"{"type":"invoice.unpaid"}"#, now),
        Err(no_match("webhook-signature"))
    );
    // The id and timestamp are signed too.
    let other_id = sw_headers("msg_2", now, &sig);
    assert_eq!(
        verify(&cfg, &secret, &other_id, body, now),
        Err(no_match("webhook-signature"))
    );
    let other_ts = sw_headers("msg_1", now + 1, &sig);
    assert_eq!(
        verify(&cfg, &secret, &other_ts, body, now),
        Err(no_match("webhook-signature"))
    );
    assert_eq!(
        verify(&cfg, "whsec_d3Jvbmcgc2VjcmV0", &h, body, now),
        Err(no_match("webhook-signature"))
    );
    // The header sent twice arrives joined by `, `: the valid signature first still passes.
    let stale = sw_sign(b"another key, another key, 32 B!!", "msg_1", now, body);
    for joined in [format!("{sig}, {stale}"), format!("{stale}, {sig}")] {
        let h = sw_headers("msg_1", now, &joined);
        assert!(verify(&cfg, &secret, &h, body, now).is_ok(), "{joined}");
    }
}

#[test]
fn standard_webhooks_stale_and_future_timestamps() {
    let cfg = config(Scheme::StandardWebhooks);
    let h = sw_headers(SW_ID, SW_TS, SW_SIG);
    assert!(verify(&cfg, SW_SECRET, &h, SW_BODY, SW_TS + 300).is_ok());
    assert!(verify(&cfg, SW_SECRET, &h, SW_BODY, SW_TS - 300).is_ok());
    let stale = verify(&cfg, SW_SECRET, &h, SW_BODY, SW_TS + 301);
    assert_eq!(
        stale.as_ref().unwrap_err().to_string(),
        "the timestamp in `webhook-timestamp` is 301 seconds old; at most 300 seconds either \
         way are accepted (a replayed request, or the sender's clock is off)"
    );
    assert_eq!(outside(stale), ("webhook-timestamp".into(), 301));
    let future = verify(&cfg, SW_SECRET, &h, SW_BODY, SW_TS - 3_600);
    assert!(future
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("3600 seconds in the future"));
    assert_eq!(outside(future), ("webhook-timestamp".into(), -3_600));
    // A forged request with a stale timestamp is reported as unsigned, not as late.
    let forged = sw_headers(
        SW_ID,
        SW_TS,
        "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    assert_eq!(
        verify(&cfg, SW_SECRET, &forged, SW_BODY, SW_TS + 10_000),
        Err(no_match("webhook-signature"))
    );
    let narrow = VerifyConfig {
        tolerance_seconds: 5,
        ..cfg
    };
    assert!(verify(&narrow, SW_SECRET, &h, SW_BODY, SW_TS + 6).is_err());
}

#[test]
fn standard_webhooks_sender_rotation_sends_several_signatures() {
    let cfg = config(Scheme::StandardWebhooks);
    let old_key = b"old key old key old key old key!";
    let stale_sig = sw_sign(old_key, SW_ID, SW_TS, SW_BODY);
    let header = format!("v1a,bm90IGNoZWNrZWQ= {stale_sig} v2,abc {SW_SIG}");
    let h = sw_headers(SW_ID, SW_TS, &header);
    assert!(verify(&cfg, SW_SECRET, &h, SW_BODY, SW_TS).is_ok());
    // Only the first (invalid) one: rejected.
    let h = sw_headers(SW_ID, SW_TS, &stale_sig);
    assert_eq!(
        verify(&cfg, SW_SECRET, &h, SW_BODY, SW_TS),
        Err(no_match("webhook-signature"))
    );
}

#[test]
fn standard_webhooks_our_rotation_accepts_any_of_our_secrets() {
    let cfg = config(Scheme::StandardWebhooks);
    let h = sw_headers(SW_ID, SW_TS, SW_SIG);
    for secrets in [
        format!("whsec_b2xkIHNlY3JldA==\n{SW_SECRET}"),
        format!("whsec_b2xkIHNlY3JldA==\r\n{SW_SECRET}\n"),
        format!("  whsec_b2xkIHNlY3JldA== \n\n {SW_SECRET} "),
    ] {
        let v = verify(&cfg, &secrets, &h, SW_BODY, SW_TS).unwrap();
        assert_eq!(v.secret_index, 1, "{secrets}");
    }
    let v = verify(
        &cfg,
        &format!("{SW_SECRET}\nwhsec_b2xkIHNlY3JldA=="),
        &h,
        SW_BODY,
        SW_TS,
    )
    .unwrap();
    assert_eq!(v.secret_index, 0);
}

#[test]
fn standard_webhooks_secret_fallbacks() {
    let cfg = config(Scheme::StandardWebhooks);
    // Not base64 (has `!`): the raw bytes are the key.
    let raw = "my plain secret!";
    let sig = sw_sign(raw.as_bytes(), "m", SW_TS, b"x");
    assert!(verify(&cfg, raw, &sw_headers("m", SW_TS, &sig), b"x", SW_TS).is_ok());
    // Valid base64 without prefix: the decoded bytes work, and so do the raw bytes.
    let b64 = "c2VjcmV0";
    for key in [&b"secret"[..], b64.as_bytes()] {
        let sig = sw_sign(key, "m", SW_TS, b"x");
        assert!(verify(&cfg, b64, &sw_headers("m", SW_TS, &sig), b"x", SW_TS).is_ok());
    }
    // `whsec_` with a broken base64 tail: the whole string's bytes.
    let broken = "whsec_not*base64";
    let sig = sw_sign(broken.as_bytes(), "m", SW_TS, b"x");
    assert!(verify(&cfg, broken, &sw_headers("m", SW_TS, &sig), b"x", SW_TS).is_ok());
    assert_eq!(sign_standard_webhooks(broken, "m", SW_TS, b"x"), sig);
}

#[test]
fn standard_webhooks_accepts_svix_headers() {
    let cfg = config(Scheme::StandardWebhooks);
    let h = headers(&[
        ("svix-id", SW_ID),
        ("svix-timestamp", "1614265330"),
        ("svix-signature", SW_SIG),
    ]);
    let v = verify(&cfg, SW_SECRET, &h, SW_BODY, SW_TS).unwrap();
    assert_eq!(v.message_id.as_deref(), Some(SW_ID));
    let h = headers(&[("svix-id", SW_ID), ("svix-timestamp", "1614265330")]);
    assert_eq!(
        verify(&cfg, SW_SECRET, &h, SW_BODY, SW_TS),
        Err(missing("svix-signature"))
    );
}

#[test]
fn standard_webhooks_malformed_headers() {
    let cfg = config(Scheme::StandardWebhooks);
    let run = |h: &Map<String, Value>| verify(&cfg, SW_SECRET, h, SW_BODY, SW_TS);
    assert_eq!(run(&headers(&[])), Err(missing("webhook-id")));
    assert_eq!(
        run(&headers(&[
            ("webhook-id", SW_ID),
            ("webhook-signature", SW_SIG)
        ])),
        Err(missing("webhook-timestamp"))
    );
    assert_eq!(
        run(&headers(&[
            ("webhook-id", SW_ID),
            ("webhook-timestamp", "1614265330")
        ])),
        Err(missing("webhook-signature"))
    );
    for ts in ["abc", "-5", "1.5", "+1614265330", "99999999999999999999999"] {
        let mut h = sw_headers(SW_ID, SW_TS, SW_SIG);
        h.insert("webhook-timestamp".into(), json!(ts));
        assert_eq!(
            malformed_at(run(&h), "webhook-timestamp"),
            "must be a Unix timestamp in seconds"
        );
    }
    for (sig, problem) in [
        (
            "v1",
            "it has no `v1,<base64>` signature (space-separated entries)",
        ),
        (
            "v2,abc v1a,abc",
            "it has no `v1,<base64>` signature (space-separated entries)",
        ),
        (
            "v1,!!!",
            "its `v1,` signatures are not base64 of an HMAC-SHA256",
        ),
        (
            "v1,c2hvcnQ=",
            "its `v1,` signatures are not base64 of an HMAC-SHA256",
        ),
        ("   ", "it is empty"),
    ] {
        let h = sw_headers(SW_ID, SW_TS, sig);
        assert_eq!(malformed_at(run(&h), "webhook-signature"), problem, "{sig}");
    }
    let mut h = sw_headers(SW_ID, SW_TS, SW_SIG);
    h.insert("webhook-signature".into(), json!([SW_SIG]));
    assert_eq!(
        malformed_at(run(&h), "webhook-signature"),
        "it must be a single string value"
    );
}

// --- github ---------------------------------------------------------------------

#[test]
fn github_docs_vector() {
    // docs.github.com, "Validating webhook deliveries".
    let secret = "It's a Secret to Everybody";
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(sign_github(secret, b"Hello, World!"), sig);
    let h = headers(&[
        ("x-hub-signature-256", sig),
        ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ]);
    let v = verify(&config(Scheme::Github), secret, &h, b"Hello, World!", 0).unwrap();
    assert_eq!(
        v,
        Verified {
            scheme: Scheme::Github,
            message_id: Some("72d3162e-cc78-11e3-81ab-4c9367dc0958".into()),
            timestamp: None,
            secret_index: 0,
        }
    );
}

#[test]
fn github_valid_tampered_wrong_secret_rotation() {
    let cfg = config(Scheme::Github);
    let body = br#"{"action":"opened"}"#;
    let sig = format!("sha256={}", mac_hex(b"gh-secret-0123456", body));
    let h = headers(&[("x-hub-signature-256", &sig)]);
    let v = verify(&cfg, "gh-secret-0123456", &h, body, i64::MAX).unwrap();
    assert_eq!((v.message_id, v.timestamp), (None, None));
    assert_eq!(
        verify(&cfg, "gh-secret-0123456", &h, br#"{"action":"closed"}"#, 0),
        Err(no_match("x-hub-signature-256"))
    );
    assert_eq!(
        verify(&cfg, "other", &h, body, 0),
        Err(no_match("x-hub-signature-256"))
    );
    let v = verify(&cfg, "old-secret-0123456\ngh-secret-0123456", &h, body, 0).unwrap();
    assert_eq!(v.secret_index, 1);
    // Upper-case hex is the same signature.
    let upper = headers(&[("x-hub-signature-256", &sig.to_uppercase())]);
    assert!(verify(&cfg, "gh-secret-0123456", &upper, body, 0).is_ok());
}

#[test]
fn github_malformed_headers() {
    let cfg = config(Scheme::Github);
    assert_eq!(
        verify(
            &cfg,
            "s",
            &headers(&[("x-hub-signature", "sha1=abc")]),
            b"",
            0
        ),
        Err(missing("x-hub-signature-256"))
    );
    for value in [
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea",
        "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=é7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
    ] {
        let h = headers(&[("x-hub-signature-256", value)]);
        assert_eq!(
            malformed_at(verify(&cfg, "s", &h, b"", 0), "x-hub-signature-256"),
            "must be `sha256=` followed by 64 hex digits"
        );
    }
}

// --- stripe ---------------------------------------------------------------------

const STRIPE_SECRET: &str = "whsec_test_9a8b7c";
const STRIPE_BODY: &[u8] = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event"}"#;

fn stripe_v1(secret: &str, ts: i64, body: &[u8]) -> String {
    // Stripe's key is the whole secret string, `whsec_` included.
    mac_hex(
        secret.as_bytes(),
        &[format!("{ts}.").as_bytes(), body].concat(),
    )
}

#[test]
fn stripe_valid_carries_the_event_id() {
    let cfg = config(Scheme::Stripe);
    let ts = 1_700_000_000;
    let value = format!("t={ts},v1={}", stripe_v1(STRIPE_SECRET, ts, STRIPE_BODY));
    assert_eq!(sign_stripe(STRIPE_SECRET, ts, STRIPE_BODY), value);
    let h = headers(&[("stripe-signature", &value)]);
    let v = verify(&cfg, STRIPE_SECRET, &h, STRIPE_BODY, ts + 60).unwrap();
    assert_eq!(
        v,
        Verified {
            scheme: Scheme::Stripe,
            message_id: Some("evt_1NG8Du2eZvKYlo2CUI79vXWy".into()),
            timestamp: Some(ts),
            secret_index: 0,
        }
    );
    // A body that is not an event object still verifies, without an id.
    let value = format!("t={ts},v1={}", stripe_v1(STRIPE_SECRET, ts, b"[1]"));
    let v = verify(
        &cfg,
        STRIPE_SECRET,
        &headers(&[("stripe-signature", &value)]),
        b"[1]",
        ts,
    )
    .unwrap();
    assert_eq!(v.message_id, None);
}

#[test]
fn stripe_tampered_wrong_secret_and_timestamps() {
    let cfg = config(Scheme::Stripe);
    let ts = 1_700_000_000;
    let value = format!("t={ts},v1={}", stripe_v1(STRIPE_SECRET, ts, STRIPE_BODY));
    let h = headers(&[("stripe-signature", &value)]);
    assert_eq!(
        verify(&cfg, STRIPE_SECRET, &h, br#"{"id":"evt_2"}"#, ts),
        Err(no_match("stripe-signature"))
    );
    assert_eq!(
        verify(&cfg, "whsec_other", &h, STRIPE_BODY, ts),
        Err(no_match("stripe-signature"))
    );
    // Changing `t` breaks the signature.
    let moved = value.replacen(&format!("t={ts}"), &format!("t={}", ts + 1), 1);
    assert_eq!(
        verify(
            &cfg,
            STRIPE_SECRET,
            &headers(&[("stripe-signature", &moved)]),
            STRIPE_BODY,
            ts
        ),
        Err(no_match("stripe-signature"))
    );
    assert_eq!(
        outside(verify(&cfg, STRIPE_SECRET, &h, STRIPE_BODY, ts + 301)),
        ("stripe-signature".into(), 301)
    );
    assert_eq!(
        outside(verify(&cfg, STRIPE_SECRET, &h, STRIPE_BODY, ts - 301)),
        ("stripe-signature".into(), -301)
    );
}

#[test]
fn stripe_rotation_both_sides() {
    let cfg = config(Scheme::Stripe);
    let ts = 1_700_000_000;
    let old = stripe_v1("whsec_old", ts, STRIPE_BODY);
    let new = stripe_v1(STRIPE_SECRET, ts, STRIPE_BODY);
    // Stripe sends one v1 per active secret (plus a v0 in test mode).
    let value = format!("t={ts},v1={old},v1={new},v0={}", "0".repeat(64));
    let h = headers(&[("stripe-signature", &value)]);
    assert!(verify(&cfg, STRIPE_SECRET, &h, STRIPE_BODY, ts).is_ok());
    let only_old = headers(&[("stripe-signature", &format!("t={ts},v1={old}"))]);
    assert_eq!(
        verify(&cfg, STRIPE_SECRET, &only_old, STRIPE_BODY, ts),
        Err(no_match("stripe-signature"))
    );
    let v = verify(
        &cfg,
        &format!("whsec_unused_0123456\n{STRIPE_SECRET}"),
        &h,
        STRIPE_BODY,
        ts,
    )
    .unwrap();
    assert_eq!(v.secret_index, 1);
}

#[test]
fn stripe_malformed_headers() {
    let cfg = config(Scheme::Stripe);
    let good = "a".repeat(64);
    let run = |value: &str| {
        verify(
            &cfg,
            STRIPE_SECRET,
            &headers(&[("stripe-signature", value)]),
            b"{}",
            0,
        )
    };
    assert_eq!(
        verify(&cfg, STRIPE_SECRET, &headers(&[]), b"{}", 0),
        Err(missing("stripe-signature"))
    );
    assert_eq!(
        malformed_at(run(&format!("v1={good}")), "stripe-signature"),
        "it has no `t=<timestamp>`"
    );
    assert_eq!(
        malformed_at(run(&format!("t=yesterday,v1={good}")), "stripe-signature"),
        "`t` must be a Unix timestamp in seconds"
    );
    for value in ["t=1", "t=1,v0=abc", "t=1,v1=xyz", "t=1,garbage"] {
        assert_eq!(
            malformed_at(run(value), "stripe-signature"),
            "it has no `v1=<64 hex digits>` signature",
            "{value}"
        );
    }
}

// --- slack ----------------------------------------------------------------------

// The worked example of api.slack.com/authentication/verifying-requests-from-slack.
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TS: i64 = 1_531_420_618;
const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn slack_headers(ts: &str, sig: &str) -> Map<String, Value> {
    headers(&[
        ("x-slack-request-timestamp", ts),
        ("x-slack-signature", sig),
    ])
}

#[test]
fn slack_docs_vector() {
    assert_eq!(sign_slack(SLACK_SECRET, SLACK_TS, SLACK_BODY), SLACK_SIG);
    let h = slack_headers("1531420618", SLACK_SIG);
    let v = verify(
        &config(Scheme::Slack),
        SLACK_SECRET,
        &h,
        SLACK_BODY,
        SLACK_TS + 1,
    )
    .unwrap();
    assert_eq!(
        v,
        Verified {
            scheme: Scheme::Slack,
            message_id: None,
            timestamp: Some(SLACK_TS),
            secret_index: 0,
        }
    );
}

/// A Slack Events API callback carries its `event_id` as the message id (the body is signed);
/// Slack's retries are signed again with a new timestamp, and keep it.
#[test]
fn slack_event_callback_carries_the_event_id() {
    let cfg = config(Scheme::Slack);
    let body =
        br#"{"type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"app_mention"}}"#;
    for ts in [1_700_000_000, 1_700_000_060] {
        let sig = sign_slack("slack-signing-secret", ts, body);
        let h = slack_headers(&ts.to_string(), &sig);
        let v = verify(&cfg, "slack-signing-secret", &h, body, ts).unwrap();
        assert_eq!(
            (v.message_id.as_deref(), v.timestamp),
            (Some("Ev08MFMKH6"), Some(ts))
        );
    }
    // A body with half a surrogate pair (a message cut inside an emoji) still has its id.
    let body = br#"{"type":"event_callback","event_id":"Ev08MFMKH7","event":{"text":"hi \ud83d"}}"#;
    let sig = sign_slack("slack-signing-secret", 1_700_000_000, body);
    let h = slack_headers("1700000000", &sig);
    let v = verify(&cfg, "slack-signing-secret", &h, body, 1_700_000_000).unwrap();
    assert_eq!(v.message_id.as_deref(), Some("Ev08MFMKH7"));
    // No string `event_id` (a URL verification, a number): no message id.
    for body in [
        &br#"{"type":"url_verification"}"#[..],
        br#"{"event_id":7}"#,
        br#"{"event_id":""}"#,
    ] {
        let sig = sign_slack("slack-signing-secret", 1_700_000_000, body);
        let h = slack_headers("1700000000", &sig);
        let v = verify(&cfg, "slack-signing-secret", &h, body, 1_700_000_000).unwrap();
        assert_eq!(v.message_id, None);
    }
}

#[test]
fn slack_valid_tampered_wrong_secret_timestamps_rotation() {
    let cfg = config(Scheme::Slack);
    let ts = 1_700_000_000;
    let body = br#"{"type":"event_callback"}"#;
    let sig = format!(
        "v0={}",
        mac_hex(
            b"slack-signing-secret",
            &[format!("v0:{ts}:").as_bytes(), body].concat()
        )
    );
    let h = slack_headers(&ts.to_string(), &sig);
    assert!(verify(&cfg, "slack-signing-secret", &h, body, ts).is_ok());
    assert_eq!(
        verify(&cfg, "slack-signing-secret", &h, b"{}", ts),
        Err(no_match("x-slack-signature"))
    );
    assert_eq!(
        verify(&cfg, "nope", &h, body, ts),
        Err(no_match("x-slack-signature"))
    );
    assert_eq!(
        outside(verify(&cfg, "slack-signing-secret", &h, body, ts + 1_000)),
        ("x-slack-request-timestamp".into(), 1_000)
    );
    assert_eq!(
        outside(verify(&cfg, "slack-signing-secret", &h, body, ts - 301)),
        ("x-slack-request-timestamp".into(), -301)
    );
    let v = verify(
        &cfg,
        "retired-signing-secret\nslack-signing-secret",
        &h,
        body,
        ts,
    )
    .unwrap();
    assert_eq!(v.secret_index, 1);
    // The timestamp is part of the signed content.
    let moved = slack_headers(&(ts + 1).to_string(), &sig);
    assert_eq!(
        verify(&cfg, "slack-signing-secret", &moved, body, ts),
        Err(no_match("x-slack-signature"))
    );
}

#[test]
fn slack_malformed_headers() {
    let cfg = config(Scheme::Slack);
    let run = |h: &Map<String, Value>| verify(&cfg, SLACK_SECRET, h, SLACK_BODY, SLACK_TS);
    assert_eq!(
        run(&headers(&[("x-slack-signature", SLACK_SIG)])),
        Err(missing("x-slack-request-timestamp"))
    );
    assert_eq!(
        run(&headers(&[("x-slack-request-timestamp", "1531420618")])),
        Err(missing("x-slack-signature"))
    );
    assert_eq!(
        malformed_at(
            run(&slack_headers("soon", SLACK_SIG)),
            "x-slack-request-timestamp"
        ),
        "must be a Unix timestamp in seconds"
    );
    for sig in [
        &SLACK_SIG[3..],
        "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "v0=abc",
    ] {
        assert_eq!(
            malformed_at(run(&slack_headers("1531420618", sig)), "x-slack-signature"),
            "must be `v0=` followed by 64 hex digits"
        );
    }
}

// --- hmac-sha256 ----------------------------------------------------------------

#[test]
fn hmac_sha256_accepts_hex_base64_and_prefix() {
    let cfg = config(Scheme::HmacSha256);
    let body = b"payload";
    let raw = mac(b"k", body);
    let hex = mac_hex(b"k", body);
    let b64 = mac_b64(b"k", body);
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
    for value in [
        hex.clone(),
        hex.to_uppercase(),
        format!("sha256={hex}"),
        format!("SHA256={hex}"),
        b64.clone(),
        format!("sha256={b64}"),
        b64url,
    ] {
        let h = headers(&[("x-signature", &value)]);
        let v = verify(&cfg, "k", &h, body, 0).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(
            (v.scheme, v.message_id, v.timestamp),
            (Scheme::HmacSha256, None, None)
        );
    }
    assert_eq!(sign_hmac_sha256("k", body), format!("sha256={hex}"));
}

#[test]
fn hmac_sha256_custom_header_tampered_wrong_secret_rotation() {
    let cfg = VerifyConfig {
        header: Some("x-acme-signature".into()),
        ..config(Scheme::HmacSha256)
    };
    let body = b"{\"n\":1}";
    let h = headers(&[("x-acme-signature", &mac_hex(b"acme", body))]);
    assert!(verify(&cfg, "acme", &h, body, 0).is_ok());
    assert_eq!(
        verify(&cfg, "acme", &h, b"{\"n\":2}", 0),
        Err(no_match("x-acme-signature"))
    );
    assert_eq!(
        verify(&cfg, "emca", &h, body, 0),
        Err(no_match("x-acme-signature"))
    );
    let long = headers(&[("x-acme-signature", &mac_hex(b"acme-signing-secret", body))]);
    assert_eq!(
        verify(
            &cfg,
            "old-acme-signing-secret\nacme-signing-secret",
            &long,
            body,
            0
        )
        .unwrap()
        .secret_index,
        1
    );
    assert_eq!(
        verify(&cfg, "acme", &headers(&[("x-signature", "00")]), body, 0),
        Err(missing("x-acme-signature"))
    );
    let bad = headers(&[("x-acme-signature", "sha256=deadbeef")]);
    let e = verify(&cfg, "acme", &bad, body, 0).unwrap_err();
    assert_eq!(e.location(), "header.x-acme-signature");
    assert_eq!(
        e.to_string(),
        "header `x-acme-signature` is malformed: must be the HMAC-SHA256 of the body as 64 hex \
         digits or as base64, optionally prefixed `sha256=`"
    );
}

// --- common ---------------------------------------------------------------------

#[test]
fn empty_secret_is_our_configuration_error() {
    for secret in ["", "  ", " \n \n"] {
        let e = verify(&config(Scheme::Github), secret, &headers(&[]), b"", 0).unwrap_err();
        assert_eq!(e, SignatureError::NoSecret);
        assert_eq!(e.location(), "trigger.verify.secret_env");
    }
}

#[test]
fn messages_never_reveal_the_expected_signature() {
    let body = b"secret stuff";
    let expected_hex = mac_hex(b"k", body);
    let expected_b64 = mac_b64(b"k", body);
    let h = headers(&[("x-hub-signature-256", &format!("sha256={}", "0".repeat(64)))]);
    let e = verify(&config(Scheme::Github), "k", &h, body, 0).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains(&expected_hex) && !text.contains(&expected_b64),
        "{text}"
    );
    assert_eq!(
        e.to_string(),
        "no signature in `x-hub-signature-256` matches this request; check the signing \
         secret, and that the body is sent unchanged"
    );
    assert_eq!(e.location(), "header.x-hub-signature-256");
    assert_eq!(
        missing("webhook-id").to_string(),
        "header `webhook-id` is missing; this endpoint only accepts signed requests"
    );
}

#[test]
fn extreme_clock_values_do_not_overflow() {
    let cfg = config(Scheme::Slack);
    let ts = i64::MAX;
    let sig = sign_slack("s", ts, b"");
    let h = slack_headers(&ts.to_string(), &sig);
    assert_eq!(outside(verify(&cfg, "s", &h, b"", i64::MIN)).1, i64::MIN);
    assert!(verify(&cfg, "s", &h, b"", i64::MAX).is_ok());
}

// --- config ---------------------------------------------------------------------

fn parse(v: Value) -> (Option<VerifyConfig>, Vec<(String, String)>) {
    let mut errors = Errors::new();
    let c = VerifyConfig::parse(&v, "trigger.verify", &mut errors);
    let list = errors
        .0
        .into_iter()
        .map(|e| (e.location, e.message))
        .collect();
    (c, list)
}

#[test]
fn config_parses_with_defaults() {
    let (c, errs) = parse(json!({"scheme": "github", "secret_env": "GITHUB_SECRET"}));
    assert!(errs.is_empty(), "{errs:?}");
    let c = c.unwrap();
    assert_eq!(
        c,
        VerifyConfig {
            scheme: Scheme::Github,
            secret_env: "GITHUB_SECRET".into(),
            tolerance_seconds: 300,
            header: None,
        }
    );
    assert_eq!(c.signature_header(), "x-hub-signature-256");

    let (c, _) = parse(json!({"scheme": "hmac-sha256", "secret_env": "_S1"}));
    let c = c.unwrap();
    assert_eq!(c.header.as_deref(), Some("x-signature"));
    assert_eq!(c.signature_header(), "x-signature");

    let (c, errs) =
        parse(json!({"scheme": "hmac-sha256", "secret_env": "S", "header": "X-Acme-Sig"}));
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(c.unwrap().signature_header(), "x-acme-sig");

    let (c, errs) =
        parse(json!({"scheme": "stripe", "secret_env": "S", "tolerance_seconds": 86400}));
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(c.unwrap().tolerance_seconds, 86_400);

    let (c, _) =
        parse(json!({"scheme": "standard-webhooks", "secret_env": "S", "tolerance_seconds": null}));
    assert_eq!(c.unwrap().signature_header(), "webhook-signature");
}

#[test]
fn config_reports_every_problem() {
    let (c, errs) = parse(json!({
        "scheme": "gitlab",
        "secret_env": "my-secret",
        "tolerance_seconds": 0,
        "header": "bad header",
        "secret": "oops"
    }));
    assert!(c.is_none());
    let locs: Vec<&str> = errs.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        locs,
        [
            "trigger.verify.scheme",
            "trigger.verify.secret_env",
            "trigger.verify.tolerance_seconds",
            "trigger.verify.header",
            "trigger.verify.secret",
        ]
    );
    assert_eq!(
        errs[0].1,
        "unknown scheme `gitlab`; allowed: standard-webhooks, github, stripe, slack, hmac-sha256"
    );
    assert_eq!(
        errs[1].1,
        "must name a Worker secret: uppercase letters, digits and `_`, not starting with a \
         digit (like `WEBHOOK_SECRET`), got `my-secret`"
    );
    assert_eq!(errs[2].1, "must be between 1 and 86400, got 0");
    assert!(
        errs[4].1.starts_with("unknown field `secret`"),
        "{}",
        errs[4].1
    );
}

#[test]
fn config_rejects_settings_that_do_not_apply() {
    let (c, errs) = parse(
        json!({"scheme": "github", "secret_env": "S", "tolerance_seconds": 60, "header": "x-sig"}),
    );
    assert!(c.is_none());
    assert_eq!(
        errs,
        vec![
            (
                "trigger.verify.tolerance_seconds".to_string(),
                "does not apply: scheme `github` signs no timestamp; it applies to \
                 standard-webhooks, stripe and slack"
                    .to_string()
            ),
            (
                "trigger.verify.header".to_string(),
                "does not apply: scheme `github` always reads `x-hub-signature-256`; \
                 `header` is only for scheme `hmac-sha256`"
                    .to_string()
            ),
        ]
    );
    let (_, errs) =
        parse(json!({"scheme": "hmac-sha256", "secret_env": "S", "tolerance_seconds": 60}));
    assert_eq!(errs.len(), 1);
    let (_, errs) = parse(json!({"scheme": "slack", "secret_env": "S", "header": "x"}));
    assert_eq!(errs[0].0, "trigger.verify.header");
}

#[test]
fn config_missing_fields_and_wrong_types() {
    let (c, errs) = parse(json!({}));
    assert!(c.is_none());
    assert_eq!(
        errs,
        vec![
            (
                "trigger.verify.scheme".to_string(),
                "is required".to_string()
            ),
            (
                "trigger.verify.secret_env".to_string(),
                "is required".to_string()
            ),
        ]
    );
    let (_, errs) = parse(json!({"scheme": 1, "secret_env": "S", "tolerance_seconds": "300"}));
    assert_eq!(
        errs[0],
        (
            "trigger.verify.scheme".to_string(),
            "must be a string, got integer".to_string()
        )
    );
    assert_eq!(errs[1].0, "trigger.verify.tolerance_seconds");
    let (c, errs) = parse(json!("github"));
    assert!(c.is_none());
    assert_eq!(
        errs[0],
        (
            "trigger.verify".to_string(),
            "must be an object, got string".to_string()
        )
    );
    for bad in ["1ABC", "", "lower case", "A-B", "ÄB"] {
        let (c, errs) = parse(json!({"scheme": "github", "secret_env": bad}));
        assert!(c.is_none(), "{bad}");
        assert_eq!(errs[0].0, "trigger.verify.secret_env");
    }
}

// --- never panic ----------------------------------------------------------------

proptest! {
    #[test]
    fn never_panics_on_arbitrary_headers(
        a in ".{0,90}", b in ".{0,90}", c in ".{0,90}",
        secret in ".{0,40}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
        now in any::<i64>(),
    ) {
        let h = headers(&[
            ("webhook-id", &a), ("webhook-timestamp", &b), ("webhook-signature", &c),
            ("svix-id", &a),
            ("x-hub-signature-256", &c),
            ("stripe-signature", &format!("t={b},v1={c},{a}")),
            ("x-slack-request-timestamp", &b), ("x-slack-signature", &c),
            ("x-signature", &a),
        ]);
        for scheme in Scheme::ALL {
            let _ = verify(&config(scheme), &secret, &h, &body, now);
        }
    }

    #[test]
    fn signers_and_verifier_agree(
        secret in "[A-Za-z0-9_+/=]{1,40}",
        id in "[a-z0-9_]{1,20}",
        ts in 0i64..4_000_000_000,
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let sw = headers(&[
            ("webhook-id", &id), ("webhook-timestamp", &ts.to_string()),
            ("webhook-signature", &sign_standard_webhooks(&secret, &id, ts, &body)),
        ]);
        prop_assert!(verify(&config(Scheme::StandardWebhooks), &secret, &sw, &body, ts).is_ok());
        let gh = headers(&[("x-hub-signature-256", &sign_github(&secret, &body))]);
        prop_assert!(verify(&config(Scheme::Github), &secret, &gh, &body, ts).is_ok());
        let st = headers(&[("stripe-signature", &sign_stripe(&secret, ts, &body))]);
        prop_assert!(verify(&config(Scheme::Stripe), &secret, &st, &body, ts).is_ok());
        let sl = slack_headers(&ts.to_string(), &sign_slack(&secret, ts, &body));
        prop_assert!(verify(&config(Scheme::Slack), &secret, &sl, &body, ts).is_ok());
        let hm = headers(&[("x-signature", &sign_hmac_sha256(&secret, &body))]);
        prop_assert!(verify(&config(Scheme::HmacSha256), &secret, &hm, &body, ts).is_ok());
    }
}

#[test]
fn a_word_of_a_multi_word_secret_is_not_a_key() {
    // GitHub's documented example secret has spaces: it is one secret, used whole.
    let cfg = config(Scheme::Github);
    let secret = "It's a Secret to Everybody";
    let body = b"Hello, World!";
    for word in ["a", "It's", "Secret", "to", "Everybody"] {
        let sig = format!("sha256={}", mac_hex(word.as_bytes(), body));
        let h = headers(&[("x-hub-signature-256", &sig)]);
        assert_eq!(
            verify(&cfg, secret, &h, body, 0),
            Err(no_match("x-hub-signature-256")),
            "`{word}` must not be a key"
        );
    }
    // GitHub's published signature for this secret and body.
    let h = headers(&[(
        "x-hub-signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    )]);
    assert_eq!(verify(&cfg, secret, &h, body, 0).unwrap().secret_index, 0);
    // Commas do not split either.
    let hm = config(Scheme::HmacSha256);
    let h = headers(&[("x-signature", &mac_hex(b"old", body))]);
    assert_eq!(
        verify(&hm, "old,new-signing-secret", &h, body, 0),
        Err(no_match("x-signature"))
    );
}

#[test]
fn a_rotation_list_with_a_short_secret_accepts_nothing() {
    let cfg = config(Scheme::HmacSha256);
    let body = b"{}";
    let h = headers(&[("x-signature", &mac_hex(b"long-enough-secret-1", body))]);
    let e = verify(&cfg, "short\nlong-enough-secret-1", &h, body, 0).unwrap_err();
    assert_eq!(e, SignatureError::ShortRotationSecret { line: 1, bytes: 5 });
    assert_eq!(e.location(), "trigger.verify.secret_env");
    assert!(rotation_problem("short\nlong-enough-secret-1").is_some());
    assert!(
        rotation_problem("short").is_none(),
        "a single secret is not a rotation list"
    );
    assert!(rotation_problem("long-enough-secret-0\nlong-enough-secret-1").is_none());
    assert_eq!(
        verify(
            &cfg,
            "long-enough-secret-0\nlong-enough-secret-1",
            &h,
            body,
            0
        )
        .unwrap()
        .secret_index,
        1
    );
}

/// A run input keeps no signature header of its scheme; other headers stay.
#[test]
fn the_signature_headers_are_hidden() {
    let headers = || {
        json!({"x-hub-signature-256": "sha256=ab", "x-hub-signature": "sha1=ab",
               "webhook-signature": "v1,x",
               "svix-signature": "v1,y", "x-acme-sig": "cd", "x-github-event": "push"})
        .as_object()
        .unwrap()
        .clone()
    };
    let hidden = |c: VerifyConfig| {
        let mut h = headers();
        c.hide_signature(&mut h);
        let mut names: Vec<String> = h
            .iter()
            .filter(|(_, v)| *v == "[redacted]")
            .map(|(k, _)| k.clone())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        hidden(config(Scheme::Github)),
        ["x-hub-signature", "x-hub-signature-256"]
    );
    assert_eq!(
        hidden(config(Scheme::StandardWebhooks)),
        ["svix-signature", "webhook-signature"]
    );
    let (c, _) = parse(json!({"scheme": "hmac-sha256", "secret_env": "S", "header": "X-Acme-Sig"}));
    assert_eq!(hidden(c.unwrap()), ["x-acme-sig"]);
}
