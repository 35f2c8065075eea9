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
}
