//! The OAuth trigger's configuration: the provider's endpoints, the client, scopes, PKCE and
//! where to send the end user afterwards.

pub mod expires_in;
pub mod flow;
pub mod refresh;
pub mod run_token;
pub mod signin_link;

use serde_json::Value;

pub use crate::kernel::names::is_env_name;
use crate::kernel::problem::Errors;
use crate::kernel::reader::ObjectReader;

/// A parsed `{"type": "oauth", …}` trigger.
#[derive(Debug, Clone)]
pub struct OAuthTrigger {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    /// The Worker secret holding the client secret (secrets never live in D1).
    pub client_secret_env: String,
    pub scopes: Vec<String>,
    pub pkce: bool,
    pub extra_authorize_params: Vec<(String, String)>,
    pub success_url: String,
    pub failure_url: Option<String>,
    pub userinfo_url: Option<String>,
    /// How the client authenticates at the token endpoint: `client_secret_basic` (HTTP Basic,
    /// the default, which RFC 6749 requires servers to support) or `client_secret_post`
    /// (`client_id`/`client_secret` in the form body).
    pub token_auth_method: String,
}

/// Rules for an OAuth trigger being saved (`trigger`, as written), which one saved before them
/// still passes (it was accepted then): a `client_id` that is empty, a URL with a user name or
/// password (a browser or the token call would send it, or drop it), an extra parameter without
/// a name. Read from the JSON as written, so that they are checked also when another field of
/// the trigger has a problem; a field with a problem of its own already gets none here.
pub fn refuse_at_save(trigger: &Value, errors: &mut Errors) {
    let text = |field: &str| trigger.get(field).and_then(Value::as_str);
    if text("client_id").is_some_and(|id| id.trim().is_empty()) && !errors.has("trigger.client_id")
    {
        errors.push("trigger.client_id", "must not be empty");
    }
    for field in [
        "authorize_url",
        "token_url",
        "success_url",
        "failure_url",
        "userinfo_url",
    ] {
        let at = format!("trigger.{field}");
        let credentials = text(field)
            .and_then(|u| oauth2::url::Url::parse(u).ok())
            .is_some_and(|u| !u.username().is_empty() || u.password().is_some());
        if credentials && !errors.has(&at) {
            errors.push(
                at,
                "must not hold a user name or password (`https://user:password@…`)",
            );
        }
    }
    // Kept in the authorization request before Tripline's own: a provider reading the first
    // of two would take the written `state` or `redirect_uri`. A `scope` there is one only
    // while `scopes` is empty (Tripline then sends none).
    let scopes = trigger["scopes"].as_array().is_some_and(|s| !s.is_empty());
    let sent_by_tripline =
        |k: &str| RESERVED_AUTHORIZE_PARAMS[..6].contains(&k) || (k == "scope" && scopes);
    let authorize = text("authorize_url").and_then(|u| oauth2::url::Url::parse(u).ok());
    let set = authorize
        .as_ref()
        .and_then(|u| u.query_pairs().find(|(k, _)| sent_by_tripline(k)));
    if let Some((k, _)) = set.filter(|_| !errors.has("trigger.authorize_url")) {
        errors.push(
            "trigger.authorize_url",
            format!("its query sets `{k}`, which Tripline sets: remove it (scopes go in `scopes`)"),
        );
    }
    let params = trigger
        .get("extra_authorize_params")
        .and_then(Value::as_object);
    if params.is_some_and(|p| p.keys().any(String::is_empty))
        && !errors.has("trigger.extra_authorize_params")
    {
        errors.push(
            "trigger.extra_authorize_params",
            "a parameter's name must not be empty",
        );
    }
}

/// The authorization request's parameters a definition may not set: the first six Tripline
/// always sets.
const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "state",
    "code_challenge",
    "code_challenge_method",
    "redirect_uri",
    "client_id",
    "response_type",
    // The callback reads the code from its query string: a `form_post` or `fragment` answer
    // would never reach it.
    "response_mode",
    "scope",
];

/// The accepted `token_auth_method` values.
pub const TOKEN_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post"];

/// Checks an absolute http(s) URL with a host; returns an error message otherwise. The URL
/// must also parse with the parser the `oauth2` client and the Worker use (`url`), so that a
/// URL refused there (a port over 65535, a malformed IPv6 host, …) is refused when the
/// definition is saved, not at a sign-in.
pub fn check_url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| "must be an absolute http:// or https:// URL".to_string())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || s.contains(char::is_whitespace) {
        return Err("must be an absolute URL with a host and no spaces".into());
    }
    if s.contains(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if !host.is_ascii() {
        // The Worker's URL parser carries no Unicode IDNA tables (docs/size.md).
        return Err(
            "the host must be written in ASCII: give an international domain name in its xn-- form"
                .into(),
        );
    }
    oauth2::url::Url::parse(s).map_err(|e| format!("is not a valid URL: {e}"))?;
    Ok(())
}

/// The `scheme://host[:port]` of an absolute URL.
pub fn url_origin(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| {
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        )
    })
}

impl OAuthTrigger {
    pub fn parse(value: &Value, location: &str, errors: &mut Errors) -> Option<OAuthTrigger> {
        let before = errors.len();
        let mut r = ObjectReader::new(value, location, errors);
        r.raw("type");
        let url = |r: &mut ObjectReader, key: &'static str, required: bool, errors: &mut Errors| {
            let v = if required {
                r.req_str(key, errors)
            } else {
                r.opt_str(key, errors)
            }?;
            if let Err(m) = check_url(&v) {
                errors.push(r.loc(key), m);
            }
            Some(v)
        };
        let authorize_url = url(&mut r, "authorize_url", true, errors);
        let token_url = url(&mut r, "token_url", true, errors);
        let client_id = r.req_str("client_id", errors);
        let client_secret_env = r.req_str("client_secret_env", errors);
        if let Some(name) = &client_secret_env {
            if !is_env_name(name) {
                errors.push(
                    r.loc("client_secret_env"),
                    "must name a Worker secret, like GITHUB_CLIENT_SECRET (letters, digits and _)",
                );
            } else if let Some(refusal) = crate::kernel::names::platform_secret_refusal(name) {
                errors.push(r.loc("client_secret_env"), refusal);
            }
        }
        let scopes = r.opt_str_list("scopes", errors).unwrap_or_default();
        for (i, s) in &scopes {
            if s.is_empty() || s.contains(char::is_whitespace) {
                errors.push(
                    format!("{}[{i}]", r.loc("scopes")),
                    "a scope must be non-empty without spaces",
                );
            }
        }
        let pkce = r.opt_bool("pkce", errors).unwrap_or(true);
        let mut extra = Vec::new();
        if let Some(v) = r.raw("extra_authorize_params") {
            let loc = r.loc("extra_authorize_params");
            match v {
                Value::Object(map) => {
                    for (k, v) in map {
                        if RESERVED_AUTHORIZE_PARAMS.contains(&k.as_str()) {
                            errors.push(
                                format!("{loc}.{k}"),
                                "is set by Tripline and cannot be overridden",
                            );
                        } else if let Some(s) = v.as_str() {
                            extra.push((k.clone(), s.to_string()));
                        } else {
                            errors.push(format!("{loc}.{k}"), "must be a string");
                        }
                    }
                }
                _ => errors.push(loc, "must be an object of string values"),
            }
        }
        let success_url = url(&mut r, "success_url", true, errors);
        let failure_url = url(&mut r, "failure_url", false, errors);
        let userinfo_url = url(&mut r, "userinfo_url", false, errors);
        let token_auth_method = r
            .opt_str("token_auth_method", errors)
            .unwrap_or_else(|| TOKEN_AUTH_METHODS[0].to_string());
        if !TOKEN_AUTH_METHODS.contains(&token_auth_method.as_str()) {
            errors.push(
                r.loc("token_auth_method"),
                format!("must be one of: {}", TOKEN_AUTH_METHODS.join(", ")),
            );
        }
        r.finish(errors);
        if errors.len() > before {
            return None;
        }
        Some(OAuthTrigger {
            authorize_url: authorize_url?,
            token_url: token_url?,
            client_id: client_id?,
            client_secret_env: client_secret_env?,
            scopes: scopes.into_iter().map(|(_, s)| s).collect(),
            pkce,
            extra_authorize_params: extra,
            success_url: success_url?,
            failure_url,
            userinfo_url,
            token_auth_method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hosts_are_ascii() {
        assert!(check_url("https://xn--bcher-kva.example/auth").is_ok());
        let err = check_url("https://bücher.example/auth").unwrap_err();
        assert!(err.contains("xn--"), "{err}");
        // Non-ASCII after the host is the URL parser's to encode.
        assert!(check_url("https://p.example/ä?q=ü").is_ok());
        // No header could carry a control character.
        for bad in ["https://p.example/a\0b", "https://p.example/\u{7f}"] {
            assert_eq!(
                check_url(bad).unwrap_err(),
                "must not contain control characters"
            );
        }
    }

    /// Whatever the definition accepts, the oauth2 client accepts too: a URL its parser
    /// refuses is located at its field when the definition is saved.
    #[test]
    fn urls_the_client_cannot_parse_are_refused() {
        for bad in [
            "https://auth.example.com:99999/authorize",
            "https://[::1/authorize",
            "https://a b.example/x",
            "http://exa%mple.com/",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_url("https://auth.example.com:99999/authorize").unwrap_err(),
            "is not a valid URL: invalid port number"
        );
        for good in [
            "https://auth.example.com:8443/authorize?x=1",
            "http://127.0.0.1:9000/token",
            "https://[::1]:443/t",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for field in [
            "authorize_url",
            "token_url",
            "success_url",
            "failure_url",
            "userinfo_url",
        ] {
            let mut def = json!({"type":"oauth","authorize_url":"https://p.example/auth",
                "token_url":"https://p.example/token","client_id":"abc","client_secret_env":"P_SECRET",
                "success_url":"https://app.example/done"});
            def[field] = json!("https://p.example:70000/x");
            let mut e = Errors::new();
            assert!(OAuthTrigger::parse(&def, "trigger", &mut e).is_none());
            let locs: Vec<_> = e.0.iter().map(|e| e.location.clone()).collect();
            assert_eq!(locs, [format!("trigger.{field}")]);
            // Every accepted trigger builds its client.
            def[field] = json!("https://p.example:7000/x");
            let t = OAuthTrigger::parse(&def, "trigger", &mut Errors::new()).unwrap();
            assert!(flow::client(&t, "s", Some("https://w.example/cb")).is_ok());
        }
    }

    #[test]
    fn parses_and_defaults() {
        let mut e = Errors::new();
        let t = OAuthTrigger::parse(
            &json!({"type":"oauth","authorize_url":"https://p.example/auth","token_url":"https://p.example/token",
                    "client_id":"abc","client_secret_env":"P_SECRET","scopes":["read","write"],
                    "success_url":"https://app.example/done","extra_authorize_params":{"access_type":"offline"}}),
            "trigger",
            &mut e,
        )
        .unwrap();
        assert!(e.is_empty());
        assert!(t.pkce);
        assert_eq!(t.token_auth_method, "client_secret_basic");
        assert_eq!(t.scopes, ["read", "write"]);
        assert_eq!(
            t.extra_authorize_params,
            [("access_type".into(), "offline".into())]
        );
    }

    /// Refused when saved, still read when stored: an empty client id, credentials in a URL,
    /// an extra parameter without a name.
    #[test]
    fn save_rules_refuse_what_cannot_work_and_spare_stored_triggers() {
        let def = serde_json::json!({"name": "n", "steps": [], "trigger": {"type": "oauth",
            "authorize_url": "https://user:pw@p.example/authorize", "token_url": "https://p.example/token",
            "client_id": " ", "client_secret_env": "P_SECRET", "success_url": "https://app.example/done",
            "extra_authorize_params": {"": "x", "prompt": "consent"}}});
        let errors = crate::definition::Definition::parse(&def).unwrap_err();
        let found: Vec<(&str, &str)> = errors
            .0
            .iter()
            .map(|e| (e.location.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("trigger.client_id", "must not be empty"),
                (
                    "trigger.authorize_url",
                    "must not hold a user name or password (`https://user:password@…`)"
                ),
                (
                    "trigger.extra_authorize_params",
                    "a parameter's name must not be empty"
                ),
            ]
        );
        assert!(crate::definition::Definition::parse_stored(&def).is_ok());
    }

    #[test]
    fn every_error_located() {
        let mut e = Errors::new();
        let t = OAuthTrigger::parse(
            &json!({"type":"oauth","authorize_url":"ftp://x","client_id":"abc","client_secret_env":"lower case",
                    "success_url":"https://a","extra_authorize_params":{"state":"x","response_mode":"form_post"},"scopes":["a b"],
                    "token_auth_method":"private_key_jwt"}),
            "trigger",
            &mut e,
        );
        assert!(t.is_none());
        let locs: Vec<_> = e.0.iter().map(|e| e.location.as_str()).collect();
        assert_eq!(
            locs,
            [
                "trigger.authorize_url",
                "trigger.token_url",
                "trigger.client_secret_env",
                "trigger.scopes[0]",
                "trigger.extra_authorize_params.state",
                "trigger.extra_authorize_params.response_mode",
                "trigger.token_auth_method"
            ]
        );
    }

    #[test]
    fn origins() {
        assert_eq!(
            url_origin("https://App.example:8443/x?y").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(url_origin("nope"), None);
    }
}
