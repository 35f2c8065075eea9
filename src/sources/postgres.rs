//! A PostgreSQL source, read through the PostgreSQL Worker (`pg/`, crate `tripline-pg`) over the
//! service binding `PG`: this Worker does not carry a PostgreSQL client (docs/size.md). Each
//! read is one call (`tripline_core::poll::pg_service`); the PostgreSQL Worker opens a
//! connection (the Worker's TCP socket, or its Hyperdrive binding), learns the cursor's column
//! types, runs the read-only SELECTs built by `tripline_core::poll::PgSource`, and answers.
//! The cursor and the transaction marks stay in the workflow's object, as before.

use std::time::Duration;

use worker::Env;

use super::{with_timeout, SourceError};
use crate::platform::binding::{self, Binding};
use crate::platform::env_string;
use tripline_core::poll::cursor::PgCursor;
use tripline_core::poll::horizon::Horizon;
use tripline_core::poll::pg_service::{
    PgOutcome, PgRead, PgServiceReply, PgServiceRequest, PG_BINDING, PG_SERVICE_URL,
};
use tripline_core::poll::{PgConnection, PgRecord, PgSource};

/// Longest wait for one read: the PostgreSQL Worker's own deadlines (10 s to connect, 30 s per
/// query, at most five queries) and a margin.
const READ_TIMEOUT: Duration = Duration::from_secs(180);

/// The way to a source: the PostgreSQL Worker, and the URL from the source's secret.
pub struct PgSession {
    service: Binding,
    url: Option<String>,
}

/// Checks that the PostgreSQL Worker is bound and the source's secret is set (no I/O).
pub async fn connect(env: &Env, source: &PgSource) -> Result<PgSession, SourceError> {
    let url = match &source.connection {
        PgConnection::Env(name) => Some(env_string(env, name).ok_or_else(|| {
            SourceError(format!(
                "secret `{name}` is not set on the Worker (wrangler secret put {name}): \
                 it should hold a postgres:// connection URL"
            ))
        })?),
        PgConnection::Hyperdrive(_) => None,
    };
    let service = env.service(PG_BINDING).map_err(|_| {
        SourceError(format!(
            "the PostgreSQL Worker is not bound to this Worker: PostgreSQL sources are read by \
             the Worker in pg/ (deploy it with `wrangler deploy -c pg/wrangler.toml`) through \
             the service binding `{PG_BINDING}` in wrangler.toml ([[services]] binding = \
             \"{PG_BINDING}\", service = \"tripline-pg\")"
        ))
    })?;
    Ok(PgSession {
        service: service.into_rpc(),
        url,
    })
}

impl PgSession {
    /// Where the table ends now (`start: now`): the greatest cursor (and tiebreak).
    pub async fn latest(&mut self, source: &PgSource) -> Result<PgCursor, SourceError> {
        match self.call(source, PgRead::Latest).await? {
            PgOutcome::Latest { latest } => Ok(latest),
            other => Err(unexpected(&other)),
        }
    }

    /// The next batch after `cursor` (oldest first, at most `batch_size` rows and its byte
    /// budget) that no transaction in progress can still join below: the PostgreSQL Worker
    /// reads the snapshot's transaction ids, the greatest position and the rows in one
    /// repeatable-read, read-only transaction, and `horizon` (see
    /// `tripline_core::poll::horizon`) comes back updated. `true` with the rows: the batch
    /// ended at its byte budget with rows left.
    pub async fn settled_batch(
        &mut self,
        source: &PgSource,
        cursor: &PgCursor,
        horizon: &mut Horizon,
        now_ms: i64,
    ) -> Result<(Vec<PgRecord>, bool), SourceError> {
        let read = PgRead::SettledBatch {
            cursor: cursor.clone(),
            horizon: horizon.clone(),
            now_ms,
        };
        match self.call(source, read).await? {
            PgOutcome::Batch {
                rows,
                horizon: settled,
                cut,
            } => {
                let records = rows
                    .iter()
                    .map(|r| {
                        let mut row = source.read_row(
                            r.record.as_deref().unwrap_or("null"),
                            r.cursor.as_deref(),
                            r.tiebreak.as_deref(),
                        )?;
                        // Too large to run: left out of the read, its run a failed stub.
                        if r.record.is_none() {
                            row.new.withheld = Some(r.bytes);
                        }
                        Ok(row)
                    })
                    .collect::<Result<Vec<_>, tripline_core::poll::PollError>>()?;
                *horizon = settled;
                Ok((records, cut))
            }
            other => Err(unexpected(&other)),
        }
    }

    /// One read over the binding; a failed read's message comes back as it was written.
    async fn call(&self, source: &PgSource, read: PgRead) -> Result<PgOutcome, SourceError> {
        let body = serde_json::to_string(&PgServiceRequest::new(source, self.url.clone(), read))
            .map_err(|e| SourceError(format!("cannot encode the read: {e}")))?;
        let outcome = with_timeout("reading from PostgreSQL", READ_TIMEOUT, async {
            let (status, text) = binding::post(&self.service, PG_SERVICE_URL, Some(body))
                .await
                .map_err(|e| {
                    SourceError(format!(
                        "the PostgreSQL Worker (binding `{PG_BINDING}`) could not be reached: {e}"
                    ))
                })?;
            PgServiceReply::parse(status, &text).map_err(SourceError)
        })
        .await?;
        match outcome {
            PgOutcome::Failed { error } => Err(SourceError(error)),
            other => Ok(other),
        }
    }
}

fn unexpected(outcome: &PgOutcome) -> SourceError {
    let what = match outcome {
        PgOutcome::Latest { .. } => "the latest row",
        PgOutcome::Batch { .. } => "a batch",
        PgOutcome::Failed { .. } => "a failure",
    };
    SourceError(format!(
        "the PostgreSQL Worker answered {what}, not what was asked"
    ))
}
