//! Polled sources: the I/O around the pure poll logic in `tripline_core::poll`.
//! `postgres` reads a table through the PostgreSQL Worker (`pg/`); `http` fetches a JSON
//! API. Both report failures as a message a person can act on ([`SourceError`]).

pub mod http;
pub mod postgres;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::platform::fetch::within;

/// Why a source could not be read: shown as `last_poll_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError(pub String);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<tripline_core::poll::PollError> for SourceError {
    fn from(e: tripline_core::poll::PollError) -> Self {
        SourceError(e.to_string())
    }
}

impl From<worker::Error> for SourceError {
    fn from(e: worker::Error) -> Self {
        SourceError(e.to_string())
    }
}

/// Runs `fut`, or fails with "`what` timed out after N s".
pub async fn with_timeout<T>(
    what: &str,
    limit: Duration,
    fut: impl Future<Output = Result<T, SourceError>>,
) -> Result<T, SourceError> {
    within(limit, fut).await.unwrap_or_else(|| {
        Err(SourceError(format!(
            "{what} timed out after {} s",
            limit.as_secs()
        )))
    })
}
