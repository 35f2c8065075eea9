//! What the Worker asks a workflow's object to do. On the wire an action is
//! `POST https://workflow/<path>?workflow=<id>` (plus `&run=<id>` to resume a run); in code it is
//! this enum, so a caller cannot send an action the object does not know. The object's alarm
//! keeps itself armed: these calls are all it needs from outside.

/// An action of the workflow object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Arm from the deployed version (a new deploy).
    Deploy,
    /// Arm or disarm to match the catalog as it is now (the arm outbox's retry of a failed
    /// deploy or undeploy): re-arms only if the alarm is missing, overdue or for an older version.
    Reconcile,
    /// Clear the timers at once.
    Undeploy,
    /// Set the trigger's alarm again if it is lost (a schedule or poll armed with no alarm,
    /// or a poll's long overdue): the Cron pass asks a few objects each minute.
    CheckAlarm,
    /// Dev only: delete the object's alarm (a lost alarm, for the tests of [`Self::CheckAlarm`]).
    DevLoseAlarm,
    /// Dev only: how many wakes the poll made in this instance and the most outbound calls one
    /// made (`{"wakes", "wake_calls_max"}`, see `poll::WakeCalls`).
    DevPollCalls,
    /// Move the poll cursor (body `{"start": "now" | "beginning"}`).
    PollReset,
    /// The schedule's armed state (diagnostics).
    ScheduleState,
    /// What `GET /api/workflows/{id}` shows of the trigger (`{"schedule": …, "poll": …}`),
    /// kept in the object's storage.
    Status,
    /// Keep a saved draft for the test URL (body: `test_shelf::Draft`).
    TestDraft,
    /// The draft the test URL follows (404: no such workflow).
    TestDraftGet,
    /// Put a captured request on the test shelf (body: `test_shelf::TestRequestRow`).
    TestPut,
    /// The test shelf, newest first.
    TestList,
    /// One shelved request: `id=<tr_…>`, or the newest without it (404: none).
    TestGet,
    /// Drop the test shelf, the draft copy and the endpoint counters (the workflow is deleted).
    TestForget,
    /// Count a rejected signature (body: the ISO time).
    SignatureFailure,
    /// The endpoint counters.
    EndpointStats,
    /// The live version and definition the object keeps for the trigger URL (404: unknown).
    Live,
    /// Shard object: drop every run (the workflow is deleted).
    RunForget,
    /// Shard object: create many runs in one pass (body: `runs::batch`). One run is created
    /// through the object's `createRun` method instead (`WorkflowObject::create_run_entry`).
    RunCreateMany,
    /// Shard object: the same, for runs of earlier versions that had ended (`Moved::ended`):
    /// a path of its own, which an object of an earlier release refuses (404) instead of
    /// taking the runs for unfinished ones and executing them again.
    RunMoveEnded,
    /// Shard object: one run (`run=<id>`).
    RunGet,
    /// Shard object: a page of run summaries (`limit`, optional `status`, `before`).
    RunList,
    /// Shard object: the records of some runs (body: JSON array of run ids).
    RunGetMany,
    /// Shard object: the run a dedup key made (body: the key).
    RunFind,
    /// Shard object: which of these dedup keys it holds (body: JSON array of keys).
    RunHeldKeys,
    /// Shard object, dev only: a stale executor's writes of run `run=<id>` (see `runs::dev`).
    DevStaleWrite,
    /// Shard object, dev only: the query plans of its run table (see `runs::dev::plans`).
    DevPlans,
    /// Shard object, dev only: the claim statements its executor ran (see `runs::dev`).
    DevClaims,
}

impl Action {
    const ALL: [Action; 29] = [
        Action::Deploy,
        Action::Reconcile,
        Action::Undeploy,
        Action::CheckAlarm,
        Action::DevLoseAlarm,
        Action::DevPollCalls,
        Action::PollReset,
        Action::ScheduleState,
        Action::Status,
        Action::TestDraft,
        Action::TestDraftGet,
        Action::TestPut,
        Action::TestList,
        Action::TestGet,
        Action::TestForget,
        Action::SignatureFailure,
        Action::EndpointStats,
        Action::Live,
        Action::RunForget,
        Action::RunCreateMany,
        Action::RunMoveEnded,
        Action::RunGet,
        Action::RunList,
        Action::RunGetMany,
        Action::RunFind,
        Action::RunHeldKeys,
        Action::DevStaleWrite,
        Action::DevPlans,
        Action::DevClaims,
    ];

    /// The URL path the action travels under.
    pub fn path(self) -> &'static str {
        match self {
            Action::Deploy => "/deploy",
            Action::Reconcile => "/reconcile",
            Action::Undeploy => "/undeploy",
            Action::CheckAlarm => "/alarm/check",
            Action::DevLoseAlarm => "/dev/lose-alarm",
            Action::DevPollCalls => "/dev/poll-calls",
            Action::PollReset => "/poll/reset",
            Action::ScheduleState => "/schedule/state",
            Action::Status => "/status",
            Action::TestDraft => "/test/draft",
            Action::TestDraftGet => "/test/draft/get",
            Action::TestPut => "/test/put",
            Action::TestList => "/test/list",
            Action::TestGet => "/test/get",
            Action::TestForget => "/test/forget",
            Action::SignatureFailure => "/endpoint/signature-failure",
            Action::EndpointStats => "/endpoint/stats",
            Action::Live => "/live",
            Action::RunForget => "/runs/forget",
            Action::RunCreateMany => "/runs/create-many",
            Action::RunMoveEnded => "/runs/move-ended",
            Action::RunGet => "/runs/get",
            Action::RunList => "/runs/list",
            Action::RunGetMany => "/runs/get-many",
            Action::RunFind => "/runs/find",
            Action::RunHeldKeys => "/runs/held-keys",
            Action::DevStaleWrite => "/runs/dev/stale-write",
            Action::DevPlans => "/runs/dev/plans",
            Action::DevClaims => "/runs/dev/claims",
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
