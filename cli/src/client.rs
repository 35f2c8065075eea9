//! The management API over HTTP, one blocking call at a time.

use std::io::Read;
use std::time::Duration;

use serde_json::Value;

use crate::Failure;

pub struct Client {
    pub base: String,
    token: String,
    agent: ureq::Agent,
}

/// An answer with any status.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    /// Where a redirect points (redirects are not followed: see [`Client::new`]).
    pub location: Option<String>,
    /// The revision tag of a workflow answer (its draft's), sent back as `If-Match`.
    pub etag: Option<String>,
}

/// The most of an answer's body that is read (64 MiB).
const MAX_ANSWER_BYTES: u64 = 64 << 20;

impl Answer {
    /// The body as JSON; `null` when it is empty or not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// A 2xx page without its list: not a Tripline answer.
pub fn not_a_list(base: &str, path: &str, field: &str) -> Failure {
    Failure::Server(format!(
        "GET {path} answered without a `{field}` list: is {base} a Tripline?"
    ))
}

/// A page whose `next_cursor` is the one just sent.
pub fn repeated_cursor(base: &str, path: &str) -> Failure {
    Failure::Server(format!(
        "GET {path} answered with the cursor it was sent: something between here and {base} \
         caches it ignoring the query string"
    ))
}

impl Client {
    /// A client of the Tripline at `base` (`--url`), checked before any request: a malformed
    /// URL is a usage error naming the option, not a server that cannot be reached.
    pub fn new(base: &str, token: &str) -> Result<Client, Failure> {
        // Never echoed: what it holds would go to logs.
        let authority = base.split_once("://").map_or("", |(_, rest)| {
            rest.split(['/', '?', '#']).next().unwrap_or("")
        });
        let parsed_credentials =
            url::Url::parse(base).is_ok_and(|u| !u.username().is_empty() || u.password().is_some());
        if authority.contains('@') || parsed_credentials {
            return Err(Failure::Usage(
                "--url / TRIPLINE_URL holds a user name or password, which is never sent: give \
                 the URL without it, and the admin token with --token or TRIPLINE_TOKEN"
                    .into(),
            ));
        }
        // A URL with an `@` anywhere is not quoted: it may hold a password in a form not read above.
        let shown = match base.contains('@') {
            true => String::new(),
            false => format!(" `{base}`"),
        };
        check_base(base)
            .map_err(|why| Failure::Usage(format!("--url / TRIPLINE_URL{shown}: {why}")))?;
        // Read from a file, a token may end with a line break; one holding any other character
        // a header cannot carry is refused here, never quoted (the HTTP client's own error
        // would print the whole header, token and all).
        let token = token.trim();
        if !token.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            return Err(Failure::Usage(
                "the admin token (--token / TRIPLINE_TOKEN / .dev.vars) holds a line break, a \
                 control character or a character outside ASCII, which a header cannot carry: \
                 check how it was copied"
                    .into(),
            ));
        }
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(60))
                .build(),
        })
    }

    /// Any request; `Err` only when the server could not be reached.
    pub fn raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<Answer, Failure> {
        let mut req = self.agent.request(method, url);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = match body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(Failure::Network(format!("cannot reach {}: {e}", self.base))),
        };
        let status = resp.status();
        let content_type = resp.header("content-type").unwrap_or("").to_string();
        let location = resp.header("location").map(str::to_string);
        let etag = resp.header("etag").map(str::to_string);
        // Bytes, then text: an answer that is not UTF-8 (a hook's Latin-1 page) keeps its status.
        let mut bytes = Vec::new();
        resp.into_reader()
            .take(MAX_ANSWER_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::Network(format!("reading the answer from {url}: {e}")))?;
        if bytes.len() as u64 > MAX_ANSWER_BYTES {
            return Err(Failure::Server(format!(
                "{method} {url} answered {status} with more than {} MiB: not read",
                MAX_ANSWER_BYTES >> 20
            )));
        }
        Ok(Answer {
            status,
            content_type,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            location,
            etag,
        })
    }

    /// A management API call: JSON in, JSON out; a non-2xx answer becomes a [`Failure`].
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let answer = self.answer(method, path, body)?;
        self.checked(method, path, &answer)
    }

    /// A management API answer as [`Client::api`] returns it: its JSON, or a [`Failure`].
    pub fn checked(&self, method: &str, path: &str, answer: &Answer) -> Result<Value, Failure> {
        if (200..300).contains(&answer.status) {
            // A success that is not JSON comes from something else at that URL (a page
            // answering every path): taken as an answer, it would read as an empty catalog.
            // Only a 204 (a delete) has no body.
            if answer.status == 204 {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&answer.text).map_err(|_| {
                Failure::Server(format!(
                    "{method} {path} answered {} with {}, not JSON: is {} a Tripline?",
                    answer.status,
                    match answer.content_type.as_str() {
                        "" => "no content type".to_string(),
                        t => format!("`{t}`"),
                    },
                    self.base
                ))
            });
        }
        Err(match Failure::from_problem(method, path, answer) {
            // Tripline answers at its root: a `--url` with a path reaches no route.
            Failure::Invalid(text)
                if answer.status == 404
                    && answer.json()["detail"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("no route for "))
                    && url::Url::parse(&self.base).is_ok_and(|u| u.path() != "/") =>
            {
                Failure::Invalid(format!(
                    "{text}\n  --url {} has a path: Tripline answers at the Worker's root URL",
                    self.base
                ))
            }
            other => other,
        })
    }

    /// A management API call with the token, answered with any status; `Err` only when the
    /// server could not be reached.
    pub fn answer(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, Failure> {
        self.answer_if(method, path, body, None)
    }

    /// As [`Client::answer`], acting only on the revision `if_match` names (a workflow's
    /// `ETag`) when one is given: another is answered `412`.
    pub fn answer_if(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Answer, Failure> {
        let url = format!("{}{path}", self.base);
        let mut headers = vec![(
            "authorization".to_string(),
            format!("Bearer {}", self.token),
        )];
        if let Some(tag) = if_match {
            headers.push(("if-match".into(), tag.into()));
        }
        let bytes = body.map(|b| b.to_string().into_bytes());
        if bytes.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        self.raw(method, &url, &headers, bytes.as_deref())
    }

    /// Every workflow (all pages).
    pub fn workflows(&self) -> Result<Vec<Value>, Failure> {
        self.pages("/api/workflows", "", "workflows", usize::MAX)
    }

    /// The first `want` items of the list at `path` (`query`: more parameters, each as
    /// `&name=value`), in its answers' `field`: a page may end early (one of large items), so
    /// each page's cursor is followed until there are `want` or none is left.
    pub fn pages(
        &self,
        path: &str,
        query: &str,
        field: &str,
        want: usize,
    ) -> Result<Vec<Value>, Failure> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        while out.len() < want {
            let mut page_path = format!("{path}?limit={}{query}", (want - out.len()).min(100));
            if let Some(c) = &cursor {
                page_path.push_str(&format!(
                    "&cursor={}",
                    tripline_core::kernel::percent::encode(c)
                ));
            }
            let page = self.api("GET", &page_path, None)?;
            let Some(items) = page[field].as_array() else {
                return Err(not_a_list(&self.base, &page_path, field));
            };
            out.extend(items.iter().cloned());
            match page["next_cursor"].as_str() {
                // A cursor answered twice (a cache in between) would page forever.
                Some(c) if cursor.as_deref() == Some(c) => {
                    return Err(repeated_cursor(&self.base, &page_path))
                }
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        Ok(out)
    }

    /// The workflow with `key` (one indexed lookup on the server).
    pub fn by_key(&self, key: &str) -> Result<Value, Failure> {
        if !tripline_core::definition::is_workflow_key(key) {
            return Err(Failure::Invalid(tripline_core::definition::key_rule(key)));
        }
        let page = self.api("GET", &format!("/api/workflows?key={key}"), None)?;
        page["workflows"].get(0).cloned().ok_or_else(|| {
            Failure::Invalid(format!("no workflow with key `{key}` on {}", self.base))
        })
    }
}

/// The host of `base` when requests to it travel in plain text off this machine: an `http` URL
/// whose host is not a loopback one (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`, or the
/// unspecified address, which reaches this machine too).
pub fn plain_http_off_this_machine(base: &str) -> Option<String> {
    let url = url::Url::parse(base).ok()?;
    if url.scheme() != "http" || on_this_machine(base) {
        return None;
    }
    Some(url.host_str().unwrap_or_default().to_string())
}

/// Whether `base`'s host is a loopback one (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`,
/// or the unspecified address, which reaches this machine too).
pub fn on_this_machine(base: &str) -> bool {
    let Some(url) = url::Url::parse(base).ok() else {
        return false;
    };
    let Some(host) = url.host() else {
        return false;
    };
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback() || ip.is_unspecified(),
        url::Host::Ipv6(ip) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Why `base` cannot be a Tripline's base URL: it must be an absolute `http` or `https` URL with
/// a host, and no query or fragment (paths are appended to it).
fn check_base(base: &str) -> Result<(), String> {
    let example = "write it like http://localhost:8787 or https://tripline.example.workers.dev";
    let url = url::Url::parse(base).map_err(|e| format!("not a URL ({e}); {example}"))?;
    if !matches!(url.scheme(), "http" | "https") || !base.contains("://") {
        return Err(format!("not an http or https URL; {example}"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("has no host; {example}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_base_url_is_reached_over_tls() {
        use std::io::Read as _;
        use std::net::TcpListener;
        // A server that reads what the client sends first, then hangs up.
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        let port = listener.local_addr().expect("its address").port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("a connection");
            let mut first = [0u8; 1];
            conn.read_exact(&mut first).expect("a first byte");
            first[0]
        });
        let client = Client::new(&format!("https://127.0.0.1:{port}"), "t").expect("a client");
        let Err(f) = client.api("GET", "/api/workflows", None) else {
            panic!("a server that hangs up answered");
        };
        assert_eq!(f.code(), 3, "{}", f.message());
        assert!(!f.message().contains("TLS backend"), "{}", f.message());
        // 0x16: a TLS handshake record (the ClientHello), not a plain-text request.
        assert_eq!(server.join().expect("the server"), 0x16);
    }

    #[test]
    fn plain_http_is_noticed_only_off_this_machine() {
        for local in [
            "http://localhost:8787",
            "http://LOCALHOST",
            "http://tripline.localhost:8787/",
            "http://127.0.0.1:9000/prefix",
            "http://127.1.2.3",
            "http://[::1]:8787",
            "http://[::ffff:127.0.0.1]",
            "http://0.0.0.0:8787",
            "https://tripline.example.workers.dev",
            "https://192.168.1.10",
        ] {
            assert_eq!(plain_http_off_this_machine(local), None, "{local}");
        }
        for (remote, host) in [
            ("http://tripline.example.com", "tripline.example.com"),
            ("HTTP://Tripline.Example.com:8787/x", "tripline.example.com"),
            ("http://192.168.1.10:8787", "192.168.1.10"),
            ("http://[2001:db8::1]", "[2001:db8::1]"),
            ("http://localhost.example.com", "localhost.example.com"),
        ] {
            assert_eq!(
                plain_http_off_this_machine(remote).as_deref(),
                Some(host),
                "{remote}"
            );
        }
    }

    #[test]
    fn a_malformed_base_url_is_a_usage_error_naming_the_option() {
        for good in [
            "http://localhost:8787",
            "https://tripline.example.workers.dev/",
            "http://127.0.0.1:9000/prefix",
            "HTTP://LOCALHOST",
        ] {
            assert!(Client::new(good, "t").is_ok(), "{good}");
        }
        for bad in [
            "localhost:8787",
            "",
            "localhost",
            "http://",
            "http:/localhost",
            "ftp://localhost",
            "http://localhost/?x=1",
            "http://localhost/#top",
        ] {
            let Err(f) = Client::new(bad, "t") else {
                panic!("{bad:?} was taken");
            };
            assert_eq!(f.code(), 2, "{bad:?}");
            assert!(
                f.message().starts_with("--url / TRIPLINE_URL"),
                "{}",
                f.message()
            );
        }
    }
}
