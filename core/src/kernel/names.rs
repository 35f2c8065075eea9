//! Names that point at Worker configuration: secrets and vars (`secret_env`,
//! `client_secret_env`, `connection_env`, `{{secrets.NAME}}`).

/// Whether `name` can name a Worker secret or var: a letter or `_`, then letters, digits or
/// `_`, at most 128 bytes.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 128
}

/// Whether `name` is the platform's own configuration, which no template may read through
/// `{{secrets.NAME}}`: `ADMIN_TOKEN` (and `ADMIN_TOKEN_PREVIOUS`) and every name starting with
/// `TRIPLINE_` (the encryption key, the sign-in link key, settings). Compared ignoring case.
pub fn is_platform_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper == "ADMIN_TOKEN" || upper.starts_with("ADMIN_TOKEN_") || upper.starts_with("TRIPLINE_")
}

/// Why a definition may not name `name` as the secret a trigger uses (`None`: it may): the keys
/// Tripline itself holds (the admin token, the encryption key, the sign-in link key, each with
/// its `_PREVIOUS` rotation) are never handed to a workflow. Other `TRIPLINE_*` names stay
/// usable here (a secret of one's own may be named so), unlike in templates.
pub fn platform_secret_refusal(name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    let held = [
        "ADMIN_TOKEN",
        "TRIPLINE_ENCRYPTION_KEY",
        "TRIPLINE_SIGNIN_KEY",
    ]
    .iter()
    .any(|k| upper == *k || upper.strip_prefix(k).is_some_and(|r| r.starts_with('_')));
    held.then(|| {
        format!("`{name}` is a key Tripline itself holds, which no workflow may use; name a secret of its own")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        for ok in ["API_KEY", "_x1", "githubSecret", "A"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in ["", "1X", "A-B", "a b", "ä", &"A".repeat(129)] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }

    #[test]
    fn platform_secrets() {
        for name in [
            "ADMIN_TOKEN",
            "admin_token",
            "ADMIN_TOKEN_PREVIOUS",
            "TRIPLINE_ENCRYPTION_KEY",
            "TRIPLINE_SIGNIN_KEY",
            "tripline_anything",
        ] {
            assert!(is_platform_secret(name), "{name}");
        }
        for name in ["API_TOKEN", "HOOK_TOKEN", "ADMIN", "MY_TRIPLINE_KEY"] {
            assert!(!is_platform_secret(name), "{name}");
        }
    }
}
