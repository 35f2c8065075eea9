//! `GET /__dev/stats[?workflow=ID][&writes=1]`: the D1 statement counts of local mode,
//! `{kind: count}`, of every workflow or of one, every statement or only writes
//! (`platform::d1_stats`). Only when the Worker var `TRIPLINE_DEV_STATS` is `1` (404
//! otherwise, as if the route did not exist) and with the admin token. Not in the OpenAPI
//! document: production never serves it.

use worker::{Env, Request};

use super::auth::require_admin;
use super::problem::{ApiError, ApiResult};
use crate::api::routes::{match_route, Op, RouteMatch};
use crate::platform::d1_stats::{self, Kind};

/// Where the counts are served.
pub const PATH: &str = "/__dev/stats";

/// Serves the counts.
pub fn serve(req: &Request, env: &Env) -> ApiResult {
    if !d1_stats::enabled(env) {
        return Err(ApiError::not_found(format!("no route for {PATH}")));
    }
    require_admin(req, env)?;
    let url = req.url()?;
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let workflow = param("workflow");
    let writes = param("writes").as_deref() == Some("1");
    let json = d1_stats::snapshot(workflow.as_deref().unwrap_or(""), writes);
    let mut resp = worker::Response::ok(json)?;
    resp.headers_mut().set("content-type", "application/json")?;
    Ok(resp)
}

/// What a request to the Worker is counted as, and for which workflow.
pub fn invocation(method: &str, path: &str) -> (Kind, Option<String>) {
    let RouteMatch::Found { route, params } = match_route(method, path) else {
        return (Kind::Api, None);
    };
    let kind = match route.op {
        Op::EndpointTrigger => Kind::Ingest,
        Op::EndpointTest => Kind::TestIngest,
        Op::OAuthSignin | Op::OAuthCallback => Kind::OAuth,
        _ => Kind::Api,
    };
    // The first parameter is a workflow id except on these.
    let workflow = match route.op {
        Op::GetRun | Op::ReplayRun => None,
        _ => params.first().map(|w| w.to_string()),
    };
    (kind, workflow)
}
