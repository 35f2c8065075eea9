//! One read of a PostgreSQL source: a connection (over the Worker's TCP socket, or through a
//! Hyperdrive binding), the catalog query for the cursor's column types, then the read-only
//! SELECTs built by `tripline_core::poll::PgSource`. Values are always bound. Every failure is a
//! message a person can act on, shown as the poll's `last_poll_error`.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::TryStreamExt;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, Config, GenericClient, IsolationLevel, Transaction};
use worker::{postgres_tls::PassthroughTls, Delay, Env, SecureTransport, Socket};

use tripline_core::poll::batch_budget::{row_weight, BatchBudget};
use tripline_core::poll::cursor::PgCursor;
use tripline_core::poll::horizon::{Bound, Horizon, Reading, TxSnapshot};
use tripline_core::poll::pg_service::{PgCall, PgOutcome, PgRead, PgRow, PgTarget};
use tripline_core::poll::{PgColumnTypes, PgSource};

/// Longest wait for the connection (TCP + startup + authentication).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the server to see the connection closed after a read.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Sent to the server so DBAs can tell these sessions apart (`pg_stat_activity`).
const APPLICATION_NAME: &str = "tripline-poll";

/// Why a read failed: the text the user sees.
struct ReadError(String);

impl From<tripline_core::poll::PollError> for ReadError {
    fn from(e: tripline_core::poll::PollError) -> Self {
        ReadError(e.to_string())
    }
}

/// Runs `call` on a connection of its own and says what it gave.
pub async fn run(env: &Env, call: PgCall) -> PgOutcome {
    let result = async {
        let (client, connection) = connect(env, &call.target).await?;
        let read = std::pin::pin!(read(client, call));
        let connection = std::pin::pin!(connection);
        match select(read, connection).await {
            // The read dropped the client: the connection says goodbye to the server (Terminate,
            // then a clean close) instead of being cut when this request ends.
            Either::Left((result, connection)) => {
                let closing = Delay::from(CLOSE_TIMEOUT);
                let _ = select(connection, std::pin::pin!(closing)).await;
                result
            }
            // The connection ended first: the read fails at once with the driver's error.
            Either::Right((ended, read)) => {
                if let Err(e) = ended {
                    worker::console_log!("postgres connection ended: {}", describe(&e));
                }
                read.await
            }
        }
    }
    .await;
    result.unwrap_or_else(|ReadError(error)| PgOutcome::Failed { error })
}

/// The read itself; `client` is dropped at the end, which ends the connection.
async fn read(mut client: Client, call: PgCall) -> Result<PgOutcome, ReadError> {
    let types = column_types(&client, &call.source).await?;
    match call.read {
        PgRead::Latest => {
            let tx = begin(&mut client, IsolationLevel::ReadCommitted).await?;
            Ok(PgOutcome::Latest {
                latest: read_latest(&tx, &call.source).await?,
            })
        }
        PgRead::SettledBatch {
            cursor,
            mut horizon,
            now_ms,
        } => {
            let (rows, cut) = settled_batch(
                &mut client,
                &call.source,
                &types,
                &cursor,
                &mut horizon,
                now_ms,
            )
            .await?;
            Ok(PgOutcome::Batch { rows, horizon, cut })
        }
    }
}

/// Runs `fut`, or fails with "`what` timed out after N s".
async fn with_timeout<T>(
    what: &str,
    limit: Duration,
    fut: impl Future<Output = Result<T, ReadError>>,
) -> Result<T, ReadError> {
    let fut = std::pin::pin!(fut);
    let delay = std::pin::pin!(Delay::from(limit));
    match select(fut, delay).await {
        Either::Left((r, _)) => r,
        Either::Right(_) => Err(ReadError(format!(
            "{what} timed out after {} s",
            limit.as_secs()
        ))),
    }
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
    // The driver's text already ends with its cause's; a deeper cause is added only when it
    // says something new.
    let mut s = format!("PostgreSQL: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(&format!(": {text}"));
        }
        source = inner.source();
    }
    s
}

/// A failed connection's error. The platform words a failed TLS handshake (most often a
/// certificate it does not trust) as a bare "internal error; reference = …": said so, with what
/// to do.
fn connect_failed(error: &str, host: &str, port: u16, tls: bool) -> String {
    let hint = match tls && error.contains("internal error") {
        true => {
            "; over TLS this is most often a server certificate the platform does not trust \
             (self-signed or from a private CA, as PostgreSQL's default one is): it verifies \
             every certificate, whatever `sslmode` asks but `disable`. Use a publicly trusted \
             certificate, Hyperdrive, or `sslmode=disable` on a private network"
        }
        false => "",
    };
    format!("{error} (connecting to {host}:{port}){hint}")
}

fn pg_err(e: tokio_postgres::Error) -> ReadError {
    ReadError(describe(&e))
}

/// Opens a connection to `target`: the client, and the connection's own task (poll it while
/// the client is used; it ends once the client is dropped).
async fn connect(
    env: &Env,
    target: &PgTarget,
) -> Result<
    (
        Client,
        impl Future<Output = Result<(), tokio_postgres::Error>>,
    ),
    ReadError,
> {
    with_timeout("connecting to PostgreSQL", CONNECT_TIMEOUT, async {
        let (config, host, port, tls) = match target {
            PgTarget::Url { env: name, url } => {
                // The URL's user part ends at its first `@`: a password holding another one
                // unencoded leaves the rest of it in the host or the database name, which an
                // error must not quote.
                let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
                let before_query = url.split('?').next().unwrap_or_default();
                if is_url && before_query.matches('@').count() > 1 {
                    return Err(ReadError(format!(
                        "the URL in secret `{name}` holds more than one `@`, as when a password \
                         with an `@` is not percent-encoded: write it `%40` in the URL"
                    )));
                }
                // Two options the Worker cannot honour as written, said as such (the parser
                // refuses the first as if the URL were malformed; the second fails later as
                // if the server had done wrong).
                let options = url.split_once('?').map_or("", |(_, q)| q);
                for option in options.split('&') {
                    let refusal = match option {
                        "sslmode=verify-full" | "sslmode=verify-ca" => {
                            "asks for `sslmode=verify-full` or `verify-ca`: write \
                             `sslmode=require`, with which the platform verifies the server's \
                             certificate and name"
                        }
                        "channel_binding=require" => {
                            "asks for `channel_binding=require`, which a Worker's TLS cannot \
                             give (it exposes no channel-binding data): leave it out, or write \
                             `channel_binding=prefer`"
                        }
                        _ => continue,
                    };
                    return Err(ReadError(format!("the URL in secret `{name}` {refusal}")));
                }
                // The parser's own words are left out: they quote the option or text they
                // could not read, which can be a piece of the password.
                let config = Config::from_str(url).map_err(|_| {
                    ReadError(format!(
                        "secret `{name}` is not a valid PostgreSQL connection URL \
                         (postgres://user:password@host:port/database?sslmode=require, with \
                         `@ : / ? # % &` and spaces in the user or password percent-encoded)"
                    ))
                })?;
                let tcp = |h: &Host| match h {
                    Host::Tcp(h) if !h.starts_with('/') => Some(h.clone()),
                    // `Host::Unix` exists only on Unix targets: on wasm32 a socket path is a
                    // `Tcp` host starting with `/`.
                    #[allow(unreachable_patterns)]
                    _ => None,
                };
                let hosts: Option<Vec<String>> = config.get_hosts().iter().map(tcp).collect();
                let Some(hosts) = hosts else {
                    return Err(ReadError(format!(
                        "the URL in `{name}` names a Unix socket; a Worker can only use TCP (host:port)"
                    )));
                };
                // A password with `?` before its `@` escapes the count above: its rest is then
                // a host, and a host or database name holding an `@` is never quoted either.
                let at_in = |v: &str| v.contains('@');
                if hosts.iter().any(|h| at_in(h)) || config.get_dbname().is_some_and(at_in) {
                    return Err(ReadError(format!(
                        "the host or database in secret `{name}` holds an `@`, as when a \
                         password with an `@` is not percent-encoded: write it `%40`"
                    )));
                }
                let host = hosts.first().cloned().unwrap_or_else(|| "localhost".into());
                let port = config.get_ports().first().copied().unwrap_or(5432);
                let tls = config.get_ssl_mode() != SslMode::Disable;
                (config, host, port, tls)
            }
            PgTarget::Hyperdrive(name) => {
                let hd = env.hyperdrive(name).map_err(|_| {
                    ReadError(format!(
                        "Hyperdrive binding `{name}` is not configured on the PostgreSQL Worker \
                         (pg/wrangler.toml [[hyperdrive]])"
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
            .map_err(|e| ReadError(format!("cannot open a connection to {host}:{port}: {e}")))?;
        let (client, connection) = config
            .connect_raw(socket, PassthroughTls)
            .await
            .map_err(|e| ReadError(connect_failed(&describe(&e), &host, port, tls)))?;
        Ok((client, connection))
    })
    .await
}

/// The cursor's column types, from the catalog. Checks the table and columns first, and that
/// a cursor without a tiebreak is unique, so a bad definition fails here with a clear message
/// before any row is read.
async fn column_types(client: &Client, source: &PgSource) -> Result<PgColumnTypes, ReadError> {
    let params = source.column_type_params();
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
                r.try_get::<_, Option<bool>>(2).map_err(pg_err)?,
            ))
        })
        .collect::<Result<Vec<_>, ReadError>>()?;
    Ok(source.column_types(&pairs)?)
}

/// The next batch after `cursor` (oldest first, at most `batch_size` rows and its byte budget)
/// that no transaction in progress can still join below: the snapshot's transaction ids, the
/// greatest position and the rows are read in one repeatable-read, read-only transaction, and
/// `horizon` (see `tripline_core::poll::horizon`) says how far the rows are final. `true` with
/// the rows: the batch ended at its byte budget with rows left.
async fn settled_batch(
    client: &mut Client,
    source: &PgSource,
    types: &PgColumnTypes,
    cursor: &PgCursor,
    horizon: &mut Horizon,
    now_ms: i64,
) -> Result<(Vec<PgRow>, bool), ReadError> {
    let tx = begin(client, IsolationLevel::RepeatableRead).await?;
    let row = with_timeout("reading the transaction snapshot", QUERY_TIMEOUT, async {
        tx.query_one(PgSource::snapshot_sql(), &[])
            .await
            .map_err(pg_err)
    })
    .await?;
    let xmin: String = row.try_get(0).map_err(pg_err)?;
    let xmax: String = row.try_get(1).map_err(pg_err)?;
    let clock: String = row.try_get(2).map_err(pg_err)?;
    let snapshot = TxSnapshot::parse(&xmin, &xmax).ok_or_else(|| {
        ReadError(format!(
            "PostgreSQL answered an unexpected snapshot ({xmin}, {xmax})"
        ))
    })?;
    let db_ms = clock
        .trim()
        .parse::<i64>()
        .map_err(|_| ReadError(format!("PostgreSQL answered an unexpected clock ({clock})")))?;
    let latest = read_latest(&tx, source).await?;
    let reading = Reading {
        snapshot,
        db_ms,
        latest,
    };
    let settle_ms = i64::from(source.settle_seconds) * 1000;
    let up_to = match horizon.settle(&reading, settle_ms, now_ms) {
        Bound::All => None,
        Bound::UpTo(PgCursor::Beginning) => return Ok((Vec::new(), false)),
        Bound::UpTo(position) => Some(position),
    };
    let batch = read_batch(&tx, source, types, cursor, up_to.as_ref()).await?;
    // Read-only: ending it changes nothing; a failure or a stall here (bounded like every
    // other call) loses nothing already read.
    let _ = with_timeout("ending the read", CLOSE_TIMEOUT, async {
        tx.commit().await.map_err(|e| ReadError(describe(&e)))
    })
    .await;
    Ok(batch)
}

/// Starts a read-only transaction whose values print so that they read back as the same
/// values: a cursor goes back to PostgreSQL as text, whatever the database, the role or the
/// connection sets (`DateStyle = 'SQL, DMY'` prints a zone's abbreviation, which may read back
/// as another zone's: `IST`; `extra_float_digits` below 1 rounds a `float8`). Set for this
/// transaction only (a pooled connection keeps its own settings). A statement ends on the
/// server when the Worker stops waiting for it (`statement_timeout`, under the Worker's own
/// limit), and one waiting for a lock (a migration's) gives up sooner (`lock_timeout`): neither
/// is left running after the poll gave up, holding a connection and the table's vacuum back.
async fn begin(client: &mut Client, level: IsolationLevel) -> Result<Transaction<'_>, ReadError> {
    with_timeout("starting a read-only transaction", QUERY_TIMEOUT, async {
        let tx = client
            .build_transaction()
            .isolation_level(level)
            .read_only(true)
            .start()
            .await
            .map_err(pg_err)?;
        tx.batch_execute(
            "SELECT pg_catalog.set_config('DateStyle', 'ISO', true), \
             pg_catalog.set_config('IntervalStyle', 'postgres', true), \
             pg_catalog.set_config('extra_float_digits', '3', true), \
             pg_catalog.set_config('statement_timeout', '25s', true), \
             pg_catalog.set_config('lock_timeout', '10s', true)",
        )
        .await
        .map_err(pg_err)?;
        Ok(tx)
    })
    .await
}

/// The greatest cursor (and tiebreak) visible to `client`.
async fn read_latest(
    client: &impl GenericClient,
    source: &PgSource,
) -> Result<PgCursor, ReadError> {
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
    Ok(source.position(cursor, tiebreak))
}

/// A record's text as PostgreSQL sent it, with bytes that are not UTF-8 (a `SQL_ASCII` database
/// keeps any bytes) read as U+FFFD: one such row must not fail every batch it is in.
struct LossyText(String);

impl<'a> FromSql<'a> for LossyText {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(LossyText(String::from_utf8_lossy(raw).into_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TEXT
    }
}

/// The batch after `cursor`, up to `up_to` when given, as PostgreSQL printed it (the main
/// Worker reads each row with `PgSource::read_row`), and whether it ended at its byte budget
/// with rows left. The rows are asked for through a portal a few at a time
/// (`tripline_core::poll::batch_budget`), so the server sends little past the budget.
async fn read_batch(
    tx: &Transaction<'_>,
    source: &PgSource,
    types: &PgColumnTypes,
    cursor: &PgCursor,
    up_to: Option<&PgCursor>,
) -> Result<(Vec<PgRow>, bool), ReadError> {
    let (sql, params) = source.select_sql(cursor, types, up_to);
    let with_tiebreak = source.tiebreak.is_some();
    with_timeout("reading new rows", QUERY_TIMEOUT, async {
        let portal = tx.bind_raw(sql.as_str(), &params).await.map_err(pg_err)?;
        let mut budget = BatchBudget::new(source.batch_size);
        let mut rows = Vec::new();
        loop {
            let want = budget.next_fetch();
            if want == 0 {
                return Ok((rows, false));
            }
            let fetched = tx
                .query_portal_raw(&portal, i32::try_from(want).unwrap_or(i32::MAX))
                .await
                .map_err(pg_err)?;
            let mut fetched = std::pin::pin!(fetched);
            let mut got = 0;
            while let Some(r) = fetched.try_next().await.map_err(pg_err)? {
                got += 1;
                let record = r
                    .try_get::<_, Option<LossyText>>(0)
                    .map_err(pg_err)?
                    .map(|t| t.0);
                // A record over what a run may hold was left out by the query: its size only.
                let bytes = match record {
                    Some(_) => None,
                    None => r.try_get::<_, Option<i32>>(1).map_err(pg_err)?,
                };
                let row = PgRow {
                    record,
                    bytes: bytes.map_or(0, |n| n.max(0) as u64),
                    cursor: r.try_get(2).map_err(pg_err)?,
                    tiebreak: if with_tiebreak {
                        r.try_get(3).map_err(pg_err)?
                    } else {
                        None
                    },
                };
                // Weighed by what the record takes once parsed, or by its size when left out.
                let weight = row_weight(row.record.as_deref(), row.bytes);
                if !budget.take(weight) {
                    return Ok((rows, true));
                }
                rows.push(row);
            }
            if got < want {
                return Ok((rows, false));
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::connect_failed;

    #[test]
    fn a_failed_tls_handshake_says_what_to_do() {
        let platform = "PostgreSQL: error communicating with the server: Error: internal error; reference = f88k";
        let e = connect_failed(platform, "db.internal", 5432, true);
        assert!(
            e.starts_with(&format!(
                "{platform} (connecting to db.internal:5432); over TLS"
            )),
            "{e}"
        );
        assert!(e.contains("`sslmode=disable`"), "{e}");
        // Without TLS, or another error: as it was.
        assert_eq!(
            connect_failed(platform, "h", 1, false),
            format!("{platform} (connecting to h:1)")
        );
        let refused = "PostgreSQL: error connecting to server: connection refused";
        assert_eq!(
            connect_failed(refused, "h", 1, true),
            format!("{refused} (connecting to h:1)")
        );
    }
}
