//! Schedule triggers in the workflow's object (filled in by the scheduler issue).

use worker::{Request, Response, Result};

use super::{Deployed, WorkflowObject};

/// Arms the alarm at the next fire time of the deployed schedule.
pub async fn arm(obj: &WorkflowObject, deployed: &Deployed, _reconcile: bool) -> Result<()> {
    let _ = (obj, deployed);
    Ok(())
}

/// The alarm fired: create the slot's run, re-arm.
pub async fn on_alarm(obj: &WorkflowObject) -> Result<()> {
    let _ = obj;
    Ok(())
}

/// Schedule-specific actions.
pub async fn handle(_obj: &WorkflowObject, _req: Request) -> Result<Response> {
    Response::error("unknown schedule action", 404)
}
