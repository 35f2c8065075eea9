//! The HTTP surface: route, authenticate, dispatch, and turn every error into problem+json.

pub mod auth;
pub mod catalog;
mod dev;
pub mod dev_stats;
mod documents;
pub mod endpoint;
pub mod oauth;
pub mod paging;
pub mod poll;
pub mod problem;
pub mod reply;
pub mod request;
pub mod routes;
pub mod runs;
pub mod schedule;
pub mod workflows;

use worker::{Context, Env, Method, Request, Response};

use crate::api::routes::{match_route, Op, RouteMatch};
use crate::platform::d1_stats;
use problem::{ApiError, ApiResult};
use tripline_core::kernel::ids::WorkflowId;

/// Serves one request. Never fails: errors become problem+json answers.
pub async fn handle(req: Request, env: Env, _ctx: Context) -> Response {
    let path = req.path();
    let answer = if path == dev_stats::PATH {
        dev_stats::serve(&req, &env)
    } else {
        // Local mode counts D1 statements per kind of request (`platform::d1_stats`).
        d1_stats::enabled(&env);
        let (kind, workflow) =
            dev_stats::invocation(&req.inner().method().to_ascii_uppercase(), &path);
        d1_stats::scope(kind, workflow.as_deref(), route(req, &env, &path)).await
    };
    let mut resp = match answer {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    };
    if path.starts_with("/oauth/") {
        oauth::harden(&mut resp);
    } else if path.starts_with("/api/") && !resp.headers().has("cache-control").unwrap_or(true) {
        // Workflows, runs and connections are the admin's: no cache keeps a copy.
        let _ = resp.headers_mut().set("cache-control", "no-store");
    }
    resp
}

async fn route(req: Request, env: &Env, path: &str) -> ApiResult {
    // The method as sent: `worker::Method` folds ones it does not know (e.g. QUERY) into GET.
    let method = req.inner().method().to_ascii_uppercase();
    if let Some(answer) = dev::route(&req, env, &method, path).await {
        return answer;
    }
    let (route, params) = match match_route(&method, path) {
        RouteMatch::Found { route, params } => (
            route,
            params.into_iter().map(String::from).collect::<Vec<_>>(),
        ),
        RouteMatch::MethodNotAllowed { allow } => return Err(ApiError::method_not_allowed(&allow)),
        RouteMatch::NotFound => {
            let path = problem::echoed(path);
            return Err(ApiError::not_found(format!("no route for {path}")));
        }
    };
    if route.admin {
        auth::require_admin(&req, env)?;
    }
    let p = |i: usize| params.get(i).map(String::as_str).unwrap_or("");
    // A workflow id in the URL is checked once, here: a malformed one names no workflow.
    let wf = || WorkflowId::parse(p(0)).ok_or_else(|| ApiError::not_found_id("workflow", p(0)));
    let resp = match route.op {
        Op::Healthz => reply::json_response(200, &serde_json::json!({"ok": true}))?,
        Op::OpenApi => documents::serve(env, documents::OPENAPI).await?,
        Op::DefinitionSchema => documents::serve(env, documents::DEFINITION_SCHEMA).await?,
        Op::ListWorkflows => workflows::list(req, env).await?,
        Op::CreateWorkflow => workflows::create(req, env).await?,
        Op::GetWorkflow => workflows::get(req, env, &wf()?).await?,
        Op::ReplaceWorkflow => workflows::replace(req, env, &wf()?).await?,
        Op::DeleteWorkflow => workflows::delete(req, env, &wf()?).await?,
        Op::Deploy => workflows::deploy(req, env, &wf()?).await?,
        Op::Undeploy => workflows::undeploy(req, env, &wf()?).await?,
        Op::ListRuns => runs::list(req, env, &wf()?).await?,
        Op::GetRun => runs::get(env, p(0)).await?,
        Op::ReplayRun => runs::replay(req, env, p(0)).await?,
        Op::PollReset => poll::reset(req, env, &wf()?).await?,
        Op::EndpointTrigger => endpoint::trigger(req, env, &wf()?).await?,
        Op::OAuthSignin => oauth::signin(req, env, &wf()?).await?,
        Op::OAuthCallback => oauth::callback(req, env, &wf()?).await?,
        Op::CreateSigninLink => oauth::create_link(req, env, &wf()?).await?,
        Op::ListConnections => oauth::list(req, env, &wf()?).await?,
        Op::DeleteConnection => oauth::delete(env, &wf()?, p(1)).await?,
        Op::EndpointTest => endpoint::test_requests::capture(req, env, &wf()?).await?,
        Op::ListTestRequests => endpoint::test_requests::list(env, &wf()?).await?,
        Op::DetectSchema => endpoint::test_requests::detect(req, env, &wf()?).await?,
        Op::SchedulePreview => schedule::preview(req, env, &wf()?).await?,
        Op::TimeZones => schedule::timezones(req).await?,
    };
    if method == Method::Head.to_string() {
        return Ok(Response::empty()?
            .with_status(resp.status_code())
            .with_headers(resp.headers().clone()));
    }
    Ok(resp)
}
