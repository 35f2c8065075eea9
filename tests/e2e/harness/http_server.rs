//! The HTTP/1.1 server under the test upstream, the OAuth provider and the feeds: one thread
//! per connection, keep-alive, bodies by length or chunked.
//!
//! One thread per connection, not a pool: the Worker keeps its connections open, so a pool that
//! serves a connection until it closes can leave a new connection waiting behind the open ones
//! (tiny_http's did, for bursts of 5 or more new connections: its calls hung until their step
//! timed out).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// A request as a test server sees it: header names in lower case.
pub struct Request {
    pub method: String,
    /// The request target: the path and the query string.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An answer: sent with its length, or chunked.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub chunked: bool,
    /// The head only (an answer to HEAD): the length is the body's, the body is not sent.
    pub omit_body: bool,
}

impl Reply {
    /// `status` with `body` of `content_type`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            chunked: false,
            omit_body: false,
        }
    }

    /// `status` with a JSON body.
    pub fn json(status: u16, body: impl ToString) -> Reply {
        Reply::new(status, "application/json", body.to_string())
    }

    /// `status` with an HTML page.
    pub fn html(status: u16, body: String) -> Reply {
        Reply::new(status, "text/html; charset=utf-8", body)
    }

    /// A 302 to `to`.
    pub fn redirect(to: &str) -> Reply {
        Reply::new(302, "text/plain", "").with_header("location", to)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sent with `transfer-encoding: chunked`, no length.
    pub fn chunked(mut self) -> Reply {
        self.chunked = true;
        self
    }
}

/// A bound server, not yet serving (its address is known before its handler is built).
pub struct Server {
    listener: TcpListener,
    pub port: u16,
}

impl Server {
    pub fn bind() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test server");
        let port = listener.local_addr().expect("address").port();
        Server { listener, port }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Serves every connection on a thread of its own, each request answered by `handler`.
    pub fn serve(self, handler: impl Fn(Request) -> Reply + Send + Sync + 'static) {
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in self.listener.incoming().flatten() {
                let handler = handler.clone();
                std::thread::spawn(move || {
                    let _ = connection(stream, &*handler);
                });
            }
        });
    }
}

/// Answers the requests of one connection until it closes.
fn connection(stream: TcpStream, handler: &dyn Fn(Request) -> Reply) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader)? {
        let close = request
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        // A HEAD is answered with the headers a GET gets (its length too), without the body.
        let head = request.method.eq_ignore_ascii_case("HEAD");
        let mut reply = handler(request);
        if head {
            reply.omit_body = true;
        }
        write_reply(&mut writer, &reply, close)?;
        if close {
            break;
        }
    }
    Ok(())
}

fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

fn bad(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

/// The next request, `None` when the peer closed the connection.
fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(url)) = (parts.next(), parts.next()) else {
        return Err(bad("request line"));
    };
    let (method, url) = (method.to_string(), url.to_string());
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| bad("headers"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| bad("header"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        url,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size = read_line(reader)?.ok_or_else(|| bad("chunk"))?;
            let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while read_line(reader)?.is_some_and(|l| !l.is_empty()) {}
                break;
            }
            let start = request.body.len();
            request.body.resize(start + size, 0);
            reader.read_exact(&mut request.body[start..])?;
            read_line(reader)?;
        }
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().map_err(|_| bad("content-length"))?;
        request.body = vec![0; length];
        reader.read_exact(&mut request.body)?;
    }
    Ok(Some(request))
}

fn write_reply(out: &mut impl Write, reply: &Reply, close: bool) -> std::io::Result<()> {
    let reason = match reply.status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.chunked {
        head.push_str("transfer-encoding: chunked\r\n");
    } else {
        head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
    }
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if reply.omit_body {
        // The head only.
    } else if reply.chunked {
        for chunk in reply.body.chunks(16 * 1024) {
            bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            bytes.extend_from_slice(chunk);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n\r\n");
    } else {
        bytes.extend_from_slice(&reply.body);
    }
    out.write_all(&bytes)?;
    out.flush()
}
