//! Poll triggers in the workflow's object (filled in by the event-based trigger issue).

use worker::{Request, Response, Result};

use super::{Deployed, WorkflowObject};

/// Arms the alarm at the next poll.
pub async fn arm(obj: &WorkflowObject, deployed: &Deployed, _reconcile: bool) -> Result<()> {
    let _ = (obj, deployed);
    Ok(())
}

/// The alarm fired: poll, create runs, re-arm.
pub async fn on_alarm(obj: &WorkflowObject) -> Result<()> {
    let _ = obj;
    Ok(())
}

/// Poll-specific actions.
pub async fn handle(_obj: &WorkflowObject, _req: Request) -> Result<Response> {
    Response::error("unknown poll action", 404)
}
