//! Tripline's PostgreSQL Worker. The main Worker's poll source sends each PostgreSQL read here
//! over the service binding `PG` (`tripline_core::poll::pg_service`); this Worker opens one
//! connection, runs the read (`read`) and answers JSON. It keeps nothing between calls and has
//! no public URL: the binding is the only way in (SECURITY.md).

mod read;

use tripline_core::poll::pg_service::{PgOutcome, PgServiceReply, PgServiceRequest};
use worker::{event, Context, Env, Method, Request, Response, Result};

/// Largest request accepted: a source, a cursor and at most 64 transaction marks.
const MAX_REQUEST_BYTES: usize = 256 * 1024;

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    if req.method() != Method::Post {
        return answer(
            405,
            PgOutcome::Failed {
                error: "the PostgreSQL Worker only answers POST reads from the main Worker".into(),
            },
        );
    }
    let body = req.text().await.unwrap_or_default();
    if body.len() > MAX_REQUEST_BYTES {
        return answer(
            413,
            PgOutcome::Failed {
                error: format!("the read request is over {MAX_REQUEST_BYTES} bytes"),
            },
        );
    }
    match PgServiceRequest::check(&body) {
        Ok(call) => answer(200, read::run(&env, call).await),
        Err(error) => answer(400, PgOutcome::Failed { error }),
    }
}

fn answer(status: u16, outcome: PgOutcome) -> Result<Response> {
    Ok(Response::from_json(&PgServiceReply::new(outcome))?.with_status(status))
}
