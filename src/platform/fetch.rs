//! Outbound HTTP with a deadline: the one place a request leaves the Worker, for `http` steps,
//! polled HTTP sources and OAuth token and userinfo calls. The request is aborted when the
//! deadline passes, so a slow upstream never holds the isolate.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{AbortController, Delay, Fetch, Headers, Request};

/// An answer read in full.
pub struct Fetched {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
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

/// Sends `request` and reads the whole answer, aborting it after `timeout`.
pub async fn send(request: Request, timeout: Duration) -> Result<Fetched, FetchFailure> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let call = async {
        let mut resp = Fetch::Request(request).send_with_signal(&signal).await?;
        let body = resp.bytes().await?;
        Ok::<_, worker::Error>(Fetched {
            status: resp.status_code(),
            headers: resp.headers().clone(),
            body,
        })
    };
    match within(timeout, call).await {
        Some(Ok(fetched)) => Ok(fetched),
        Some(Err(e)) => Err(FetchFailure::Network(e.to_string())),
        None => {
            controller.abort();
            Err(FetchFailure::TimedOut)
        }
    }
}
