//! The `Link` response header (RFC 8288): where an API says its next page is.
//!
//! `Link: <https://api.example.com/items?page=2>; rel="next", <…?page=9>; rel="last"`.
//! A header holds comma-separated links; each is a target in `<…>` followed by `;`-separated
//! parameters whose values are tokens or quoted strings (which may contain `,` and `;`, and `\`
//! escapes). `rel` is a space-separated list of relation types, compared case-insensitively.
//! Several `Link` headers arrive joined with `, `, which is the same grammar. A link with an
//! `anchor` parameter is about another resource than the page and is ignored. Targets are
//! returned as written (relative ones are resolved by the caller against the page's URL).

/// One link of a `Link` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The target as written between `<` and `>`.
    pub target: String,
    /// The relation types, lower-case.
    pub rels: Vec<String>,
    /// Whether the link had an `anchor` parameter (its context is not the page).
    pub anchored: bool,
}

/// Parses a `Link` header value. Malformed parts are skipped up to the next link: a header an
/// API got slightly wrong should not hide the links it got right.
pub fn parse_links(header: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    loop {
        p.skip(|b| b == b',' || b.is_ascii_whitespace());
        if p.done() {
            break;
        }
        if p.peek() != Some(b'<') {
            p.skip_to_next_link();
            continue;
        }
        p.i += 1;
        let start = p.i;
        while !p.done() && p.peek() != Some(b'>') {
            p.i += 1;
        }
        if p.done() {
            break;
        }
        let target = String::from_utf8_lossy(&p.s[start..p.i]).trim().to_string();
        p.i += 1;
        let mut link = Link {
            target,
            rels: Vec::new(),
            anchored: false,
        };
        // Parameters: `; name[=value]` until `,` or the end.
        loop {
            p.skip(|b| b == b' ' || b == b'\t');
            match p.peek() {
                Some(b';') => p.i += 1,
                _ => break,
            }
            p.skip(|b| b == b' ' || b == b'\t');
            let name = p.token().to_ascii_lowercase();
            p.skip(|b| b == b' ' || b == b'\t');
            let value = if p.peek() == Some(b'=') {
                p.i += 1;
                p.skip(|b| b == b' ' || b == b'\t');
                if p.peek() == Some(b'"') {
                    p.quoted()
                } else {
                    p.token()
                }
            } else {
                String::new()
            };
            match name.as_str() {
                // Only the first `rel` counts (RFC 8288 §3.3).
                "rel" if link.rels.is_empty() => {
                    link.rels = value
                        .split_ascii_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect()
                }
                "anchor" => link.anchored = true,
                _ => {}
            }
        }
        p.skip(|b| b == b' ' || b == b'\t');
        if !p.done() && p.peek() != Some(b',') {
            p.skip_to_next_link();
        }
        links.push(link);
    }
    links
}

/// The target of the first `rel="next"` link about the page itself, if any.
pub fn next_link(header: &str) -> Option<String> {
    parse_links(header)
        .into_iter()
        .find(|l| !l.anchored && !l.target.is_empty() && l.rels.iter().any(|r| r == "next"))
        .map(|l| l.target)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }
    /// A token: up to whitespace or a delimiter.
    fn token(&mut self) -> String {
        let start = self.i;
        self.skip(|b| !(b.is_ascii_whitespace() || b"=;,\"<>".contains(&b)));
        String::from_utf8_lossy(&self.s[start..self.i]).to_string()
    }
    /// A quoted string starting at `"`, with `\` escapes; an unclosed one runs to the end.
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        self.i += 1;
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.i += 1;
                    }
                }
                other => out.push(other),
            }
        }
        String::from_utf8_lossy(&out).to_string()
    }
    /// Skips to the `,` that ends this link, stepping over quoted strings and `<…>`.
    fn skip_to_next_link(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b',' => return,
                b'"' => {
                    self.quoted();
                }
                b'<' => {
                    self.skip(|b| b != b'>');
                    self.i += 1;
                }
                _ => self.i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_style_header() {
        let h = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
        let links = parse_links(h);
        assert_eq!(links.len(), 2);
        assert_eq!(links[1].rels, ["last"]);
    }

    #[test]
    fn next_is_found_anywhere_among_several_links_and_rel_lists() {
        let h = r#"</a?page=1>; rel="first prev", </a?page=3>; title="Page, the third; ok"; REL="Last NEXT""#;
        assert_eq!(next_link(h).as_deref(), Some("/a?page=3"));
    }

    #[test]
    fn commas_and_semicolons_inside_targets_and_quotes_do_not_split() {
        let h = r#"<https://x/a?f=1,2;3>; title="a, b; c \"q\""; rel=next"#;
        let links = parse_links(h);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].target, "https://x/a?f=1,2;3");
        assert_eq!(links[0].rels, ["next"]);
    }

    #[test]
    fn unquoted_rel_and_extra_whitespace() {
        assert_eq!(
            next_link("  < /p/2 > ;rel = next ,</p/9>;rel=last").as_deref(),
            Some("/p/2")
        );
    }

    #[test]
    fn only_the_first_rel_counts_and_anchored_links_are_ignored() {
        assert_eq!(next_link(r#"</x>; rel="prev"; rel="next""#), None);
        assert_eq!(next_link(r#"</x>; rel="next"; anchor="/other""#), None);
        assert_eq!(
            next_link(r#"</x>; rel="next"; anchor="/o", </y>; rel="next""#).as_deref(),
            Some("/y")
        );
    }

    #[test]
    fn no_next_or_garbage_gives_none_and_never_panics() {
        for h in [
            "",
            "garbage",
            r#"<https://x/2>; rel="prev""#,
            "<unclosed; rel=next",
            r#"<>; rel="next""#,
            r#"</a>; rel="nextpage""#,
            ";;;,,,<<>>",
            "<a>; rel=\"unterminated",
        ] {
            assert_eq!(next_link(h), None, "{h}");
        }
    }

    #[test]
    fn a_malformed_link_does_not_hide_the_next_one() {
        assert_eq!(
            next_link(r#"junk "with, comma", </b>; rel=next"#).as_deref(),
            Some("/b")
        );
    }
}
