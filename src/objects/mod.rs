//! The per-workflow Durable Object: owns a workflow's timers (schedule alarms, polls) and
//! cursors, so they scale out with the number of workflows.

use worker::*;

/// One object per workflow, addressed by the workflow id.
#[durable_object]
pub struct WorkflowObject {
    state: State,
    env: Env,
}

impl DurableObject for WorkflowObject {
    fn new(state: State, env: Env) -> Self {
        Self { state, env }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let _ = (&self.state, &self.env);
        match req.path().as_str() {
            "/deploy" | "/undeploy" => Response::ok("ok"),
            _ => Response::error("unknown object route", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        Response::ok("ok")
    }
}

/// Tells a workflow's object that it was deployed or undeployed, so it arms or clears its timers.
pub async fn notify(env: &Env, workflow_id: &str, what: &str) -> Result<()> {
    let stub = env.durable_object("WORKFLOW")?.get_by_name(workflow_id)?;
    let mut resp = stub
        .fetch_with_str(&format!("https://workflow/{what}"))
        .await?;
    if resp.status_code() >= 400 {
        let body = resp.text().await.unwrap_or_default();
        return Err(Error::RustError(format!(
            "{what} failed in the workflow object: {body}"
        )));
    }
    Ok(())
}
