//! What the Worker asks a workflow's object to do. On the wire an action is
//! `POST https://workflow/<path>?workflow=<id>` (plus an action's own parameters); in code it is
//! this enum, so a caller cannot send an action the object does not know.

/// An action of the workflow object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Arm from the deployed version (a new deploy).
    Deploy,
    /// Re-arm if the alarm is missing, overdue or for an older version.
    Reconcile,
    /// Clear the timers at once.
    Undeploy,
    /// Move the poll cursor (body `{"start": "now" | "beginning"}`).
    PollReset,
    /// Drop the poll's cursor and seen ids (the workflow is deleted).
    PollForget,
    /// The schedule's armed state (diagnostics).
    ScheduleState,
    /// Shard object: create a run (body: `runs::handler::CreateRun`).
    RunCreate,
    /// Shard object: create many runs in one pass (body: `runs::batch`).
    RunCreateMany,
    /// Shard object: one run (`run=<id>`).
    RunGet,
    /// Shard object: a page of runs (`limit`, optional `status`, `before`).
    RunList,
}

impl Action {
    const ALL: [Action; 10] = [
        Action::Deploy,
        Action::Reconcile,
        Action::Undeploy,
        Action::PollReset,
        Action::PollForget,
        Action::ScheduleState,
        Action::RunCreate,
        Action::RunCreateMany,
        Action::RunGet,
        Action::RunList,
    ];

    /// The URL path the action travels under.
    pub fn path(self) -> &'static str {
        match self {
            Action::Deploy => "/deploy",
            Action::Reconcile => "/reconcile",
            Action::Undeploy => "/undeploy",
            Action::PollReset => "/poll/reset",
            Action::PollForget => "/poll/forget",
            Action::ScheduleState => "/schedule/state",
            Action::RunCreate => "/runs/create",
            Action::RunCreateMany => "/runs/create-many",
            Action::RunGet => "/runs/get",
            Action::RunList => "/runs/list",
        }
    }

    /// The action sent under `path`, if any.
    pub fn parse(path: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.path() == path)
    }

    /// The request URL for `workflow_id`.
    pub fn url(self, workflow_id: &str) -> String {
        format!("https://workflow{}?workflow={workflow_id}", self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_path() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.path()), Some(a));
        }
        assert_eq!(Action::parse("/nope"), None);
        assert_eq!(
            Action::PollReset.url("wf_1"),
            "https://workflow/poll/reset?workflow=wf_1"
        );
    }
}
