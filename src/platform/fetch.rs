//! Outbound HTTP with a deadline: the one place a request leaves the Worker, for `http` steps,
//! polled HTTP sources and OAuth token and userinfo calls. The request is aborted when the
//! deadline passes, so a slow upstream never holds the isolate.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{AbortController, Delay, Fetch, Headers, Request};

/// An answer, its body read up to a cap.
pub struct Fetched {
    pub status: u16,
    pub headers: Headers,
    /// At most the cap's bytes of the body.
    pub body: Vec<u8>,
    /// Set when the body was larger than the cap: reading stopped there (or, when
    /// `content-length` already said so, never started) and the request was aborted.
    pub truncated: Option<Truncated>,
}

/// A body cut at the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// The cap, in bytes.
    pub limit: usize,
    /// The length the answer declared (`content-length`), when it did.
    pub declared: Option<u64>,
}

impl Truncated {
    /// For a person: how large the answer was and what was kept.
    pub fn describe(&self) -> String {
        match self.declared {
            Some(n) => format!(
                "the response is {n} bytes (content-length); at most {} are read",
                self.limit
            ),
            None => format!(
                "the response is larger than {} bytes; reading stopped there",
                self.limit
            ),
        }
    }
}

/// Why no answer came.
pub enum FetchFailure {
    /// The request could not be sent or its body could not be read.
    Network(String),
    /// No full answer within the deadline (the request was aborted).
    TimedOut,
}

/// Runs `fut` until `limit` passes: `None` when time ran out first.
pub async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    let fut = std::pin::pin!(fut);
    let delay = std::pin::pin!(Delay::from(limit));
    match select(fut, delay).await {
        Either::Left((r, _)) => Some(r),
        Either::Right(_) => None,
    }
}

/// Sends `request` and reads the answer's body up to `max_body` bytes, aborting the request
/// after `timeout`. A `content-length` above the cap is refused before any byte is read; a body
/// without one is streamed and cut at the cap. Either way the request is aborted (the rest is
/// never buffered) and [`Fetched::truncated`] says so.
pub async fn send(
    request: Request,
    timeout: Duration,
    max_body: usize,
) -> Result<Fetched, FetchFailure> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let call = async {
        let resp = Fetch::Request(request).send_with_signal(&signal).await?;
        let status = resp.status_code();
        let headers = resp.headers().clone();
        let declared = headers
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_body as u64) {
            return Ok::<_, worker::Error>((
                Fetched {
                    status,
                    headers,
                    body: Vec::new(),
                    truncated: Some(Truncated {
                        limit: max_body,
                        declared,
                    }),
                },
                true,
            ));
        }
        if declared.is_some() {
            // Its whole length is known and within the cap: read in one piece.
            let body = super::body::bytes(resp).await?;
            return Ok((
                Fetched {
                    status,
                    headers,
                    body,
                    truncated: None,
                },
                false,
            ));
        }
        let (body, cut) = super::body::bytes_up_to(resp, max_body).await?;
        let truncated = cut.then_some(Truncated {
            limit: max_body,
            declared,
        });
        Ok((
            Fetched {
                status,
                headers,
                body,
                truncated,
            },
            cut,
        ))
    };
    match within(timeout, call).await {
        Some(Ok((fetched, cut))) => {
            if cut {
                // Stop the transfer: the rest of the body is never read.
                controller.abort();
            }
            Ok(fetched)
        }
        Some(Err(e)) => Err(FetchFailure::Network(e.to_string())),
        None => {
            controller.abort();
            Err(FetchFailure::TimedOut)
        }
    }
}
