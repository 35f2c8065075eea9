//! A PostgreSQL source: one connection per poll (over the Worker's TCP socket, or through a
//! Hyperdrive binding), the catalog query for the cursor's column types once per connection,
//! then read-only SELECTs built by `tripline_core::poll::PgSource`. Values are always bound.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, GenericClient, IsolationLevel};
use worker::{postgres_tls::PassthroughTls, Env, SecureTransport, Socket};

use super::{with_timeout, SourceError};
use crate::platform::env_string;
use tripline_core::poll::cursor::PgCursor;
use tripline_core::poll::horizon::{Bound, Horizon, TxSnapshot};
use tripline_core::poll::{PgColumnTypes, PgConnection, PgRecord, PgSource};

/// Longest wait for the connection (TCP + startup + authentication).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Sent to the server so DBAs can tell these sessions apart (`pg_stat_activity`).
const APPLICATION_NAME: &str = "tripline-poll";

/// An open connection, with the column types once learned.
pub struct PgSession {
    client: Client,
    types: Option<PgColumnTypes>,
}

/// Text of a driver error, with the server's message, detail and hint when there are any.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("PostgreSQL: {}", db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        return s;
    }
    let mut s = format!("PostgreSQL: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    s
}

fn pg_err(e: tokio_postgres::Error) -> SourceError {
    SourceError(describe(&e))
}

/// Opens a connection for `source`.
pub async fn connect(env: &Env, source: &PgSource) -> Result<PgSession, SourceError> {
    with_timeout("connecting to PostgreSQL", CONNECT_TIMEOUT, async {
        let (config, host, port, tls) = match &source.connection {
            PgConnection::Env(name) => {
                let url = env_string(env, name).ok_or_else(|| {
                    SourceError(format!(
                        "secret `{name}` is not set on the Worker (wrangler secret put {name}): \
                         it should hold a postgres:// connection URL"
                    ))
                })?;
                let config = Config::from_str(&url).map_err(|e| {
                    SourceError(format!(
                        "secret `{name}` is not a valid PostgreSQL connection URL ({e})"
                    ))
                })?;
                // `Host::Unix` exists only on Unix targets: not on wasm32.
                #[allow(unreachable_patterns)]
                let host = match config.get_hosts().first() {
                    Some(Host::Tcp(h)) => h.clone(),
                    Some(_) => {
                        return Err(SourceError(format!(
                            "the URL in `{name}` names a Unix socket; a Worker can only use TCP (host:port)"
                        )))
                    }
                    None => "localhost".to_string(),
                };
                let port = config.get_ports().first().copied().unwrap_or(5432);
                let tls = config.get_ssl_mode() != SslMode::Disable;
                (config, host, port, tls)
            }
            PgConnection::Hyperdrive(name) => {
                let hd = env.hyperdrive(name).map_err(|_| {
                    SourceError(format!(
                        "Hyperdrive binding `{name}` is not configured on the Worker (wrangler.toml [[hyperdrive]])"
                    ))
                })?;
                let mut config = Config::new();
                config
                    .user(hd.user())
                    .password(hd.password())
                    .dbname(hd.database())
                    .ssl_mode(SslMode::Disable);
                (config, hd.host(), hd.port(), false)
            }
        };
        let mut config = config;
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        let socket = Socket::builder()
            .secure_transport(if tls {
                SecureTransport::StartTls
            } else {
                SecureTransport::Off
            })
            .connect(host.clone(), port)
            .map_err(|e| SourceError(format!("cannot open a connection to {host}:{port}: {e}")))?;
        let (client, connection) = config
            .connect_raw(socket, PassthroughTls)
            .await
            .map_err(|e| SourceError(format!("{} (connecting to {host}:{port})", describe(&e))))?;
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = connection.await {
                worker::console_log!("postgres connection ended: {}", describe(&e));
            }
        });
        Ok(PgSession {
            client,
            types: None,
        })
    })
    .await
}

impl PgSession {
    /// The cursor's column types, learned from the catalog on first use.
    async fn types(&mut self, source: &PgSource) -> Result<PgColumnTypes, SourceError> {
        if let Some(t) = &self.types {
            return Ok(t.clone());
        }
        let params = source.column_type_params();
        let client = &self.client;
        let rows = with_timeout("reading the table's columns", QUERY_TIMEOUT, async {
            client
                .query(
                    &PgSource::column_type_sql(),
                    &[&params[0].as_str(), &params[1].as_str()],
                )
                .await
                .map_err(pg_err)
        })
        .await?;
        let pairs = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, String>(0).map_err(pg_err)?,
                    r.try_get::<_, String>(1).map_err(pg_err)?,
                ))
            })
            .collect::<Result<Vec<_>, SourceError>>()?;
        let types = source.column_types(&pairs)?;
        self.types = Some(types.clone());
        Ok(types)
    }

    /// Where the table ends now (`start: now`): the greatest cursor (and tiebreak).
    pub async fn latest(&mut self, source: &PgSource) -> Result<PgCursor, SourceError> {
        // Checks the table and columns first, so a bad definition fails here with a clear message.
        self.types(source).await?;
        read_latest(&self.client, source).await
    }

    /// The next batch after `cursor` (oldest first, at most `batch_size` rows) that no
    /// transaction in progress can still join below: the snapshot's transaction ids, the greatest
    /// position and the rows are read in one repeatable-read, read-only transaction, and
    /// `horizon` (see `tripline_core::poll::horizon`) says how far the rows are final.
    pub async fn settled_batch(
        &mut self,
        source: &PgSource,
        cursor: &PgCursor,
        horizon: &mut Horizon,
        now_ms: i64,
    ) -> Result<Vec<PgRecord>, SourceError> {
        let types = self.types(source).await?;
        let tx = with_timeout("starting a read-only transaction", QUERY_TIMEOUT, async {
            self.client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(pg_err)
        })
        .await?;
        let row = with_timeout("reading the transaction snapshot", QUERY_TIMEOUT, async {
            tx.query_one(PgSource::snapshot_sql(), &[])
                .await
                .map_err(pg_err)
        })
        .await?;
        let xmin: String = row.try_get(0).map_err(pg_err)?;
        let xmax: String = row.try_get(1).map_err(pg_err)?;
        let snapshot = TxSnapshot::parse(&xmin, &xmax).ok_or_else(|| {
            SourceError(format!(
                "PostgreSQL answered an unexpected snapshot ({xmin}, {xmax})"
            ))
        })?;
        let latest = read_latest(&tx, source).await?;
        let up_to = match horizon.settle(snapshot, &latest, now_ms) {
            Bound::All => None,
            Bound::UpTo(PgCursor::Beginning) => return Ok(Vec::new()),
            Bound::UpTo(position) => Some(position),
        };
        let rows = read_batch(&tx, source, &types, cursor, up_to.as_ref()).await?;
        // Read-only: ending it changes nothing; a failure here loses nothing already read.
        let _ = tx.commit().await;
        Ok(rows)
    }
}

/// The greatest cursor (and tiebreak) visible to `client`.
async fn read_latest(
    client: &impl GenericClient,
    source: &PgSource,
) -> Result<PgCursor, SourceError> {
    let row = with_timeout("reading the latest row", QUERY_TIMEOUT, async {
        client
            .query_opt(&source.latest_sql(), &[])
            .await
            .map_err(pg_err)
    })
    .await?;
    let Some(row) = row else {
        return Ok(PgCursor::Beginning);
    };
    let cursor = row.try_get::<_, Option<String>>(0).map_err(pg_err)?;
    let tiebreak = if source.tiebreak.is_some() {
        row.try_get::<_, Option<String>>(1).map_err(pg_err)?
    } else {
        None
    };
    Ok(PgCursor::from_latest(cursor, tiebreak))
}

/// The batch after `cursor`, up to `up_to` when given.
async fn read_batch(
    client: &impl GenericClient,
    source: &PgSource,
    types: &PgColumnTypes,
    cursor: &PgCursor,
    up_to: Option<&PgCursor>,
) -> Result<Vec<PgRecord>, SourceError> {
    let (sql, params) = source.select_sql(cursor, types, up_to);
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let rows = with_timeout("reading new rows", QUERY_TIMEOUT, async {
        client.query(&sql, &refs).await.map_err(pg_err)
    })
    .await?;
    let with_tiebreak = source.tiebreak.is_some();
    rows.iter()
        .map(|r| {
            let record: Option<String> = r.try_get(0).map_err(pg_err)?;
            let cursor: Option<String> = r.try_get(1).map_err(pg_err)?;
            let tiebreak: Option<String> = if with_tiebreak {
                r.try_get(2).map_err(pg_err)?
            } else {
                None
            };
            Ok(source.read_row(
                record.as_deref().unwrap_or("null"),
                cursor.as_deref(),
                tiebreak.as_deref(),
            )?)
        })
        .collect()
}
