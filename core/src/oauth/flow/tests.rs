use super::*;
use crate::kernel::problem::Errors;
use serde_json::json;

/// [`super::classify`] of a request that sent no credential to scrub.
fn classify<RE: std::error::Error + 'static>(
    err: &RequestTokenError<RE, BasicErrorResponse>,
    status: Option<u16>,
) -> TokenFailure {
    super::classify(err, status, &[])
}

fn trigger(extra: serde_json::Value) -> OAuthTrigger {
    let mut v = json!({"type":"oauth","authorize_url":"https://p.example/authorize?tenant=x",
        "token_url":"https://p.example/token","client_id":"cid","client_secret_env":"P_SECRET",
        "scopes":["read","write"],"success_url":"https://app.example/done",
        "extra_authorize_params":{"access_type":"offline"}});
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    let mut e = Errors::new();
    let t = OAuthTrigger::parse(&v, "trigger", &mut e);
    assert!(e.is_empty(), "{e:?}");
    t.unwrap()
}

#[test]
fn pkce_matches_rfc7636_appendix_b() {
    let bytes: [u8; 32] = [
        116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37,
        77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ];
    let (verifier, challenge) = pkce_pair(&bytes);
    assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

#[test]
fn states_are_long_and_hashed() {
    let s = new_state(&[0xab; 32]);
    assert_eq!(s.len(), 43);
    assert!(is_state_shaped(&s));
    assert!(!is_state_shaped("short"));
    assert!(!is_state_shaped(&format!("{}!", &s[..42])));
    let h = state_hash(&s);
    assert_eq!(h.len(), 64);
    assert_ne!(h, state_hash(&new_state(&[0xac; 32])));
}

#[test]
fn authorize_url_has_everything() {
    let t = trigger(json!({}));
    let url = authorize_url(
        &t,
        "https://tripline.example/oauth/wf_1/callback",
        "STATE123",
        Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    )
    .unwrap();
    let parsed = oauth2::url::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(parsed.path(), "/authorize");
    assert_eq!(q["tenant"], "x");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "cid");
    assert_eq!(
        q["redirect_uri"],
        "https://tripline.example/oauth/wf_1/callback"
    );
    assert_eq!(q["scope"], "read write");
    assert_eq!(q["state"], "STATE123");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["code_challenge"],
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_eq!(q["access_type"], "offline");
    let no_pkce = authorize_url(&t, "https://t.example/cb", "S", None).unwrap();
    assert!(!no_pkce.contains("code_challenge"));
}

#[test]
fn token_responses_become_token_sets() {
    let r = parse_token_response(
        br#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","scope":"read"}"#,
    )
    .unwrap();
    let t = token_set(&r, &["read".into(), "write".into()], 1_000);
    assert_eq!(t.access_token, "at");
    assert_eq!(t.refresh_token.as_deref(), Some("rt"));
    assert_eq!(t.expires_at_ms, Some(3_601_000));
    assert_eq!(t.refresh_at_ms, Some(3_001_000));
    assert_eq!(t.scopes, ["read"]);
    let r = parse_token_response(br#"{"access_token":"at","token_type":"bearer"}"#).unwrap();
    let t = token_set(&r, &["a".into()], 0);
    assert_eq!(t.expires_at_ms, None);
    assert_eq!(t.refresh_at_ms, None);
    assert_eq!(t.refresh_token, None);
    assert_eq!(t.scopes, ["a"]);
    // An empty refresh token is none: it must not replace a working one.
    let r =
        parse_token_response(br#"{"access_token":"at","token_type":"bearer","refresh_token":" "}"#)
            .unwrap();
    assert_eq!(token_set(&r, &[], 0).refresh_token, None);
    // GitHub's comma-separated scopes, and its empty `scope` for a GitHub App's token.
    let scoped = |scope: &str| {
        let body = format!(r#"{{"access_token":"at","token_type":"bearer","scope":"{scope}"}}"#);
        token_set(
            &parse_token_response(body.as_bytes()).unwrap(),
            &["req".into()],
            0,
        )
        .scopes
    };
    assert_eq!(scoped("read:user,user:email"), ["read:user", "user:email"]);
    assert_eq!(scoped("repo, gist"), ["repo", "gist"]);
    assert_eq!(scoped("openid email"), ["openid", "email"]);
    assert_eq!(scoped(""), ["req"]);
    assert!(parse_token_response(b"<html>").is_err());
    assert!(parse_token_response(br#"{"token_type":"Bearer"}"#).is_err());
}

/// An `expires_in` meaning "never" (some providers send 2^53 - 1 or 10^13 seconds) is a token
/// without expiry, not an epoch-ms value beyond what D1 stores exactly.
#[test]
fn a_huge_expires_in_means_no_expiry() {
    let now = 1_750_000_000_000;
    let at = |expires_in: &str| {
        let body =
            format!(r#"{{"access_token":"at","token_type":"Bearer","expires_in":{expires_in}}}"#);
        token_set(&parse_token_response(body.as_bytes()).unwrap(), &[], now).expires_at_ms
    };
    for never in ["10000000000000", "9007199254740991", "18446744073709551615"] {
        assert_eq!(at(never), None, "{never}");
    }
    let limit = MAX_EXPIRES_IN_SECONDS as i64;
    assert_eq!(at(&limit.to_string()), Some(now + limit * 1000));
    assert_eq!(at(&(limit + 1).to_string()), None);
    assert!(now + limit * 1000 < 1 << 53);
    assert_eq!(at("0"), Some(now));
}

#[test]
fn failures_are_classified() {
    type E = RequestTokenError<std::io::Error, BasicErrorResponse>;
    let invalid: BasicErrorResponse =
        serde_json::from_str(r#"{"error":"invalid_grant","error_description":"revoked"}"#).unwrap();
    let f = classify(&E::ServerResponse(invalid), Some(400));
    assert!(f.invalid_grant);
    assert!(f.message.contains("HTTP 400"), "{}", f.message);
    assert_eq!(f.code.as_deref(), Some("invalid_grant"));
    assert!(f.message.contains("revoked"));
    let other: BasicErrorResponse = serde_json::from_str(r#"{"error":"invalid_client"}"#).unwrap();
    assert!(!classify(&E::ServerResponse(other), Some(401)).invalid_grant);
    let f = classify(
        &E::Other("server returned empty error response".into()),
        None,
    );
    assert!(!f.invalid_grant && f.message.contains("empty"));
    let parse_err = serde_path_to_error::deserialize::<_, BasicTokenResponse>(
        &mut serde_json::Deserializer::from_slice(b"oops"),
    )
    .unwrap_err();
    let f = classify(
        &E::Parse(parse_err, b"internal server error".to_vec()),
        Some(500),
    );
    assert_eq!(
        f.message,
        "the token endpoint failed (HTTP 500); its answer (21 bytes) is not an OAuth error \
         response and is not shown"
    );
    let f = classify(
        &E::Request(std::io::Error::other("connection refused")),
        None,
    );
    assert!(f.message.contains("connection refused"));
}

#[test]
fn redirects_and_user_ids() {
    assert!(check_redirect("https://app.example/after?x=1", "https://app.example/done").is_ok());
    assert!(check_redirect("https://APP.example/x", "https://app.example/done").is_ok());
    assert!(check_redirect("https://evil.example/x", "https://app.example/done").is_err());
    assert!(check_redirect("https://app.example.evil.example/", "https://app.example/").is_err());
    assert!(check_redirect("http://app.example/x", "https://app.example/done").is_err());
    assert!(check_redirect("/relative", "https://app.example/done").is_err());
    assert_eq!(check_user_id(Some("u-42")).unwrap(), "u-42");
    assert!(check_user_id(None).is_err());
    assert!(check_user_id(Some("")).is_err());
    assert!(check_user_id(Some("a\nb")).is_err());
    assert!(check_user_id(Some(&"x".repeat(257))).is_err());
    // Dot segments are removed from URL paths: their connection could not be addressed.
    assert!(check_user_id(Some(".")).is_err());
    assert!(check_user_id(Some("..")).is_err());
    assert_eq!(check_user_id(Some("...")).unwrap(), "...");
    assert_eq!(check_user_id(Some(".a")).unwrap(), ".a");
}

#[test]
fn query_helpers() {
    assert_eq!(
        with_query("https://a.example/f", &[("error", "access_denied")]),
        "https://a.example/f?error=access_denied"
    );
    assert_eq!(
        with_query("https://a.example/f?x=1#top", &[("error", "a b&c")]),
        "https://a.example/f?x=1&error=a+b%26c#top"
    );
    assert_eq!(
        with_query("https://a.example/f", &[]),
        "https://a.example/f"
    );
    assert_eq!(percent_decode("a%40b%20c").as_deref(), Some("a@b c"));
    assert_eq!(percent_decode("%zz"), None);
    assert_eq!(percent_decode("%4"), None);
    assert_eq!(sanitize_error("bad\"\\\nerror"), "baderror");
    assert_eq!(state_ttl_ms(None), 600_000);
    assert_eq!(state_ttl_ms(Some("2")), 2_000);
    assert_eq!(state_ttl_ms(Some("0")), 600_000);
}

/// A 2xx token body is never quoted (it may hold tokens); of an error response only `error`
/// and `error_description` are.
#[test]
fn token_bodies_are_never_quoted() {
    type E = RequestTokenError<std::io::Error, BasicErrorResponse>;
    let leaky: [&[u8]; 3] = [
        br#"{"access_token":"at-SECRET-123","refresh_token":"rt-SECRET-456"}"#,
        br#"{"access_token":"at-SECRET-123","token_type":"bearer","expires_in":"rt-SECRET-456"}"#,
        b"access_token=at-SECRET-123&refresh_token=rt-SECRET-456",
    ];
    for body in leaky {
        let parse_err = serde_path_to_error::deserialize::<_, BasicTokenResponse>(
            &mut serde_json::Deserializer::from_slice(body),
        )
        .unwrap_err();
        for status in [Some(200), None, Some(500)] {
            let f = classify(&E::Parse(parse_err_clone(body), body.to_vec()), status);
            assert!(
                !f.message.contains("SECRET"),
                "{status:?}: {} quotes the body",
                f.message
            );
        }
        let _ = parse_err;
    }
    let error = br#"{"error":"invalid_grant","error_description":"code expired","access_token":"at-SECRET-1"}"#;
    let f = classify(&E::Parse(parse_err_clone(error), error.to_vec()), Some(400));
    assert_eq!(f.code.as_deref(), Some("invalid_grant"));
    assert!(f.invalid_grant);
    assert!(f.message.contains("code expired"), "{}", f.message);
    assert!(!f.message.contains("SECRET"), "{}", f.message);
}

/// What the provider puts in `error` and `error_description` is passed on (in the failure URL,
/// the connection's `needs_reauth.reason`, logs) as printable ASCII of at most 300 characters,
/// whichever way the error response was read.
#[test]
fn provider_error_texts_are_printable_ascii() {
    type E = RequestTokenError<std::io::Error, BasicErrorResponse>;
    let huge = "x".repeat(1 << 20);
    let bodies = [
        json!({"error": "invalid_grant\r\nSet-Cookie: a=b",
               "error_description": "line one\r\nline two"}),
        json!({"error": "caf\u{e9}\u{202e}",
               "error_description": "\u{1F600} gone \u{0}\u{7f}\"quoted\" \\ back"}),
        json!({"error": huge, "error_description": huge}),
    ];
    let clean = |s: &str| s.chars().all(|c| (' '..='~').contains(&c));
    for body in &bodies {
        let bytes = serde_json::to_vec(body).unwrap();
        let parsed: BasicErrorResponse = serde_json::from_slice(&bytes).unwrap();
        for f in [
            classify(&E::ServerResponse(parsed), Some(400)),
            classify(&E::Parse(parse_err_clone(&bytes), bytes.clone()), Some(400)),
        ] {
            let code = f.code.as_deref().unwrap();
            assert!(clean(code) && code.len() <= 300, "{code:?}");
            assert!(
                clean(&f.message) && f.message.len() < 700,
                "{:?}",
                f.message
            );
        }
    }
    let f = classify(
        &E::ServerResponse(serde_json::from_value(bodies[0].clone()).unwrap()),
        Some(400),
    );
    assert_eq!(f.code.as_deref(), Some("invalid_grantSet-Cookie: a=b"));
    assert_eq!(
        f.message,
        "the token endpoint answered `invalid_grantSet-Cookie: a=b` (HTTP 400): line oneline two"
    );
    let f = classify(
        &E::ServerResponse(serde_json::from_value(bodies[1].clone()).unwrap()),
        Some(400),
    );
    assert_eq!(f.code.as_deref(), Some("caf"));
    assert!(
        f.message.ends_with("):  gone quoted  back"),
        "{}",
        f.message
    );
    let f = classify(
        &E::ServerResponse(serde_json::from_value(bodies[2].clone()).unwrap()),
        Some(400),
    );
    assert_eq!(
        f.code.as_deref(),
        Some(format!("{}...", "x".repeat(297)).as_str())
    );
}

/// A refused userinfo call quotes the start of the answer: printable ASCII, never the token.
#[test]
fn a_refused_userinfo_call_is_quoted_briefly() {
    let token = "at-SECRET-0123456789";
    let body =
        format!("{{\"error\":\"invalid_token\",\"token\":\"{token}\"}}\r\n\u{202e}caf\u{e9}");
    assert_eq!(
        userinfo_refused(401, body.as_bytes(), token),
        "the userinfo endpoint answered 401: {error:invalid_token,token:[redacted]}caf"
    );
    let m = userinfo_refused(500, &vec![b'\n'; 1 << 20], token);
    assert_eq!(m, "the userinfo endpoint answered 500: ");
    let m = userinfo_refused(500, "\u{e9}y".repeat(1 << 20).as_bytes(), token);
    assert!(m.ends_with(&format!(": {}...", "y".repeat(197))), "{m}");
}

fn parse_err_clone(body: &[u8]) -> serde_path_to_error::Error<serde_json::Error> {
    serde_path_to_error::deserialize::<_, BasicTokenResponse>(
        &mut serde_json::Deserializer::from_slice(body),
    )
    .unwrap_err()
}

/// The Sign-in URL's cookie comes back from the browser that got it, for that state only, and
/// only this deployment's key makes its value.
#[test]
fn a_sign_in_is_tied_to_the_browser_that_started_it() {
    let key =
        crate::kernel::crypto::parse_key(Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
            .unwrap();
    let other_key =
        crate::kernel::crypto::parse_key(Some("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="))
            .unwrap();
    let state = new_state(&[7; 32]);
    let other = new_state(&[8; 32]);
    let set = browser_cookie(&key, &state, "/oauth/", 600_000, true);
    assert!(
        set.ends_with("; Path=/oauth/; Max-Age=4200; HttpOnly; SameSite=Lax; Secure"),
        "{set}"
    );
    assert!(!browser_cookie(&key, &state, "/p", 1000, false).contains("Secure"));
    // Removed under the same name and path once the callback spent the state.
    let name = set.split('=').next().unwrap();
    assert_eq!(
        spent_browser_cookie(&state, "/oauth/", true),
        format!("{name}=; Path=/oauth/; Max-Age=0; HttpOnly; SameSite=Lax; Secure")
    );
    // What a browser sends back: the name and value, among its other cookies.
    let pair = set.split(';').next().unwrap();
    assert!(started_in_this_browser(&key, Some(pair), &state));
    assert!(started_in_this_browser(
        &key,
        Some(&format!("a=b; {pair}; c=d")),
        &state
    ));
    assert!(!started_in_this_browser(&key, Some(pair), &other));
    assert!(!started_in_this_browser(&other_key, Some(pair), &state));
    assert!(!started_in_this_browser(&key, None, &state));
    assert!(!started_in_this_browser(
        &key,
        Some(&format!("{pair}0")),
        &state
    ));
    // The name alone, with any other value, is not the cookie.
    let name = pair.split('=').next().unwrap();
    assert!(!started_in_this_browser(
        &key,
        Some(&format!("{name}=1")),
        &state
    ));
}

/// GitHub answers `200 OK` with an error response (`bad_refresh_token` for a dead refresh token,
/// `bad_verification_code` for an expired code); others send `invalid_grant` with a 200. Those
/// are read like any error response, and a dead grant is permanent.
#[test]
fn error_responses_with_a_2xx_status_are_refusals() {
    type E = RequestTokenError<std::io::Error, BasicErrorResponse>;
    let github = br#"{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired.","error_uri":"https://docs.github.com"}"#;
    let f = classify(
        &E::Parse(parse_err_clone(github), github.to_vec()),
        Some(200),
    );
    assert!(f.invalid_grant, "{f:?}");
    assert_eq!(f.code.as_deref(), Some("bad_refresh_token"));
    assert_eq!(
        f.message,
        "the token endpoint answered `bad_refresh_token` (HTTP 200): The refresh token passed \
         is incorrect or expired."
    );
    let grant = br#"{"error":"invalid_grant","error_description":"revoked"}"#;
    let f = classify(&E::Parse(parse_err_clone(grant), grant.to_vec()), Some(200));
    assert!(f.invalid_grant && f.message.contains("revoked"), "{f:?}");
    // An expired code at the sign-in: its description is passed on; it is not a dead
    // refresh token, and a code exchange is never retried anyway.
    let code = br#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#;
    let f = classify(&E::Parse(parse_err_clone(code), code.to_vec()), Some(200));
    assert!(!f.invalid_grant);
    assert_eq!(f.code.as_deref(), Some("bad_verification_code"));
    assert!(f.message.contains("incorrect or expired"), "{}", f.message);
    // A non-2xx `bad_refresh_token` that parses as an error response is dead too.
    let dead: BasicErrorResponse = serde_json::from_slice(github).unwrap();
    assert!(classify(&E::ServerResponse(dead), Some(400)).invalid_grant);
    // A 2xx body with an access token is a broken token response, never quoted.
    let both = br#"{"error":"x","access_token":"at-SECRET-9"}"#;
    let f = classify(&E::Parse(parse_err_clone(both), both.to_vec()), Some(200));
    assert!(f.code.is_none() && !f.message.contains("SECRET"), "{f:?}");
}

#[test]
fn credentials_the_request_sent_are_scrubbed_from_a_provider_s_error() {
    type E = RequestTokenError<std::io::Error, BasicErrorResponse>;
    let refresh = "rt_9f2c1d7e5b3a".to_string();
    let secret = "client secret+1/2".to_string();
    let sent = [
        refresh.clone(),
        secret.clone(),
        "pkce-verifier-0123456789".into(),
    ];
    let quoting = json!({
        "error": "invalid_grant rt_9f2c1d7e5b3a",
        "error_description": "Invalid refresh token: rt_9f2c1d7e5b3a (client client+secret%2B1%2F2, \
                              verifier pkce-verifier-0123456789)",
    });
    let bytes = serde_json::to_vec(&quoting).unwrap();
    for f in [
        super::classify(
            &E::ServerResponse(serde_json::from_value(quoting.clone()).unwrap()),
            Some(400),
            &sent,
        ),
        super::classify(
            &E::Parse(parse_err_clone(&bytes), bytes.clone()),
            Some(400),
            &sent,
        ),
    ] {
        let text = format!("{} {}", f.message, f.code.clone().unwrap_or_default());
        for leaked in [
            "rt_9f2c1d7e5b3a",
            "client+secret%2B1%2F2",
            "pkce-verifier-0123456789",
        ] {
            assert!(!text.contains(leaked), "{text}");
        }
        assert!(
            f.message.contains("Invalid refresh token: [redacted]"),
            "{}",
            f.message
        );
    }
}
