//! The shard object's executor, run by its alarm: claims due runs (queued, or whose lease
//! expired) and executes up to [`IN_FLIGHT`] at a time (a claim takes more, held for the
//! next free slots) until none is left or its wall time, outbound calls or runs are spent,
//! deletes expired runs in bounded batches, then re-arms the alarm for the earliest deadline.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use futures_util::future::{ready, select, Either, FutureExt, LocalBoxFuture};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{json, Map, Value};
use worker::{Delay, Env, Result, SqlStorage};

use super::instance::RunsInstance;
use super::limits::{self, ERROR_CAP_BYTES, VALUE_CAP_BYTES};
use super::sealed;
use super::table::{ClaimBudget, Claimed, Ended, Fence, Table};
use crate::engine::outputs::RawOutputs;
use crate::engine::{self, RunWriter};
use crate::platform::now_ms;
use crate::store::runs::RunRow;
use tripline_core::kernel::step_records::fit_step_records;
use tripline_core::kernel::time::{iso_millis, parse_millis};
use tripline_core::steps::response::PreparedResponse;

/// Runs executing at once (each has at most one outbound fetch: the platform allows 6).
pub const IN_FLIGHT: usize = 6;
/// Runs a claim takes beyond the free slots, held until slots free up: under a backlog one claim
/// statement, which costs more than a run's insert, serves many runs instead of one. (A run
/// held past its lease is renewed when its slot comes, see [`run`].)
const HELD: usize = 4 * IN_FLIGHT;
const _: () = assert!(IN_FLIGHT + HELD <= super::table::CLAIM_MOST);
/// Most bytes (stored input and step records) a claim takes when it takes runs to hold: held
/// runs wait in memory, and an isolate has 128 MB. Runs of a few KB are all held; runs near
/// the input limit fill only the free slots.
const HELD_BYTES: usize = 4 * 1024 * 1024;
/// Wall time after which the executor stops claiming (the alarm has 15 minutes): a step started
/// before it ends within [`WALL_MS`], as a step takes at most `MAX_STEP_MS` (5 minutes).
const BUDGET_MS: i64 = 9 * 60_000;
/// The part of the alarm's 15 minutes of wall time a wake uses: a step whose worst case would
/// end past it is not started, and its run stops there, due at once for the next wake.
pub const WALL_MS: i64 = 14 * 60_000;
const _: () = assert!(BUDGET_MS + tripline_core::steps::retry::MAX_STEP_MS as i64 <= WALL_MS);
/// How often a running executor looks for runs whose lease expired.
const RECHECK_MS: i64 = 1_000;
/// How long an idle executor waits for a new run before it stops.
const LINGER_MS: u64 = 1_000;
/// Finished runs deleted per wake.
const RETENTION_BATCH: u32 = 500;

/// Records one claimed run in the table, fenced by its attempt number.
struct ObjectWriter<'a> {
    env: &'a Env,
    sql: &'a SqlStorage,
    runs: &'a RunsInstance,
    id: &'a str,
    attempts: i64,
    /// The run may carry sealed secrets (only OAuth runs do), deleted when it ends.
    secrets: bool,
    /// The run's input in bytes, a body kept in pieces included.
    input_bytes: usize,
    /// `RunsInstance::emptied` when the execution began: once it moved, the workflow was
    /// deleted, and the run starts no step and writes nothing.
    generation: u64,
}

impl ObjectWriter<'_> {
    /// The workflow was deleted since the execution began (its storage emptied).
    fn deleted(&self) -> bool {
        self.runs.emptied.get() != self.generation
    }

    fn fence(&self) -> Fence<'_> {
        Fence {
            id: self.id,
            attempts: self.attempts,
            input_bytes: self.input_bytes,
        }
    }
}

/// Step records as stored: an array of records under the cap, each keeping what a resume reads
/// (see [`fit_step_records`]).
fn fit_steps(steps: &str) -> String {
    fit_step_records(steps, VALUE_CAP_BYTES)
}

impl RunWriter for ObjectWriter<'_> {
    fn progress<'a>(
        &'a self,
        steps: &'a str,
        lease_until: i64,
        response: Option<&'a str>,
        raw: RawOutputs<'a>,
    ) -> LocalBoxFuture<'a, Result<bool>> {
        // The object's SQLite answers synchronously.
        Box::pin(ready(self.save(steps, lease_until, response, raw)))
    }

    fn finish<'a>(
        &'a self,
        status: &'a str,
        steps: &'a str,
        error: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<bool>> {
        Box::pin(ready(self.end(status, steps, error)))
    }

    fn reply(&self, reply: &PreparedResponse) {
        self.runs.notify(self.id, Some(reply_json(reply)));
    }

    fn reaches_out(&self, worst_case_ms: i64) -> bool {
        if self.deleted() {
            return false;
        }
        self.runs.reaches_out(worst_case_ms);
        now_ms() + worst_case_ms <= self.runs.wake_started.get() + wake_ms(self.env).wall
            && self.runs.take_call()
    }

    fn retrying(&self) {
        self.runs.count_call();
    }

    fn stop_for_next_wake<'a>(
        &'a self,
        steps: &'a str,
        raw: RawOutputs<'a>,
    ) -> LocalBoxFuture<'a, Result<bool>> {
        Box::pin(ready(self.save(steps, now_ms(), None, raw).and_then(
            |saved| match saved {
                true => Table { sql: self.sql }.hand_back(self.fence(), now_ms()),
                false => Ok(false),
            },
        )))
    }
}

/// The time a wake of the executor takes: it claims for `budget`, and starts no step whose
/// worst case would end past `wall` (both from the wake's start).
struct WakeTime {
    budget: i64,
    wall: i64,
}

/// [`BUDGET_MS`] and [`WALL_MS`]; with the dev fault `short-wakes`, 3 s and 8 s, so that a test
/// sees runs stop at a wake's end.
fn wake_ms(env: &Env) -> WakeTime {
    match crate::platform::dev_fault::listed(env, "short-wakes") {
        true => WakeTime {
            budget: 3_000,
            wall: 8_000,
        },
        false => WakeTime {
            budget: BUDGET_MS,
            wall: WALL_MS,
        },
    }
}

/// A Response step's reply as handed to a waiting request: `{status, headers: [[k, v]], body}`.
fn reply_json(reply: &PreparedResponse) -> Value {
    let headers: Vec<Value> = reply.headers.iter().map(|(k, v)| json!([k, v])).collect();
    json!({ "status": reply.status, "headers": headers, "body": reply.body })
}

/// How a run executed before its insert ended, as it is stored (see [`execute_before_insert`]).
pub struct Executed {
    pub status: String,
    pub steps: String,
    pub error: Option<String>,
    pub response: Option<String>,
    pub finished_at: String,
    /// The Response step's reply (`null` without one).
    pub reply: Value,
}

impl Executed {
    /// How it is stored.
    pub fn ended(&self) -> Ended<'_> {
        Ended {
            status: &self.status,
            steps: &self.steps,
            error: self.error.as_deref(),
            response: self.response.as_deref(),
            finished_at: &self.finished_at,
        }
    }
}

/// Keeps in memory what an execution writes (see [`execute_before_insert`]).
#[derive(Default)]
struct Recorder {
    response: RefCell<Option<String>>,
    reply: RefCell<Option<Value>>,
    end: RefCell<Option<(String, String, Option<String>)>>,
}

impl RunWriter for Recorder {
    fn progress<'a>(
        &'a self,
        _steps: &'a str,
        _lease_until: i64,
        response: Option<&'a str>,
        _raw: RawOutputs<'a>,
    ) -> LocalBoxFuture<'a, Result<bool>> {
        if let Some(r) = response {
            self.response
                .replace(Some(limits::fit_text(r.to_string(), VALUE_CAP_BYTES)));
        }
        Box::pin(ready(Ok(true)))
    }

    fn finish<'a>(
        &'a self,
        status: &'a str,
        steps: &'a str,
        error: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<bool>> {
        let error = error.map(|e| limits::fit_error(e.to_string(), ERROR_CAP_BYTES));
        self.end
            .replace(Some((status.to_string(), fit_steps(steps), error)));
        Box::pin(ready(Ok(true)))
    }

    fn reply(&self, reply: &PreparedResponse) {
        self.reply.replace(Some(reply_json(reply)));
    }
}

impl ObjectWriter<'_> {
    fn save(
        &self,
        steps: &str,
        lease_until: i64,
        response: Option<&str>,
        raw: RawOutputs<'_>,
    ) -> Result<bool> {
        // Deleted: nothing is left to write to, as for a run fenced out.
        if self.deleted() {
            return Ok(false);
        }
        let private = sealed::seal_outputs(self.env, self.id, raw);
        let response = response.map(|r| limits::fit_text(r.to_string(), VALUE_CAP_BYTES));
        self.runs.grew(
            steps.len()
                + response.as_ref().map_or(0, String::len)
                + private.as_ref().map_or(0, String::len),
        );
        Table { sql: self.sql }.progress(
            self.fence(),
            &fit_steps(steps),
            lease_until,
            response.as_deref(),
            private.as_deref(),
        )
    }

    fn end(&self, status: &str, steps: &str, error: Option<&str>) -> Result<bool> {
        if self.deleted() {
            return Ok(false);
        }
        let error = error.map(|e| limits::fit_error(e.to_string(), ERROR_CAP_BYTES));
        self.runs
            .grew(steps.len() + error.as_ref().map_or(0, String::len));
        let done = Table { sql: self.sql }.finish(
            self.fence(),
            status,
            &fit_steps(steps),
            error.as_deref(),
            &iso_millis(now_ms()),
        )?;
        if done && self.secrets {
            Table { sql: self.sql }.forget_secrets(self.id)?;
        }
        // Fenced out (another claim holds the run): that claim's end is the news, not this.
        if done {
            self.runs.notify(self.id, None);
        }
        Ok(done)
    }
}

/// What every run of one wake shares, read once per wake rather than per run.
struct Shared<'a> {
    env: &'a Env,
    sql: &'a SqlStorage,
    runs: &'a RunsInstance,
    max_attempts: i64,
    /// `RunsInstance::emptied` when the wake began.
    generation: u64,
}

impl<'a> Shared<'a> {
    fn new(env: &'a Env, sql: &'a SqlStorage, runs: &'a RunsInstance) -> Result<Self> {
        Ok(Shared {
            env,
            sql,
            runs,
            max_attempts: limits::max_attempts(env),
            generation: runs.emptied.get(),
        })
    }

    /// The workflow was deleted since the wake began (its storage emptied).
    fn deleted(&self) -> bool {
        self.runs.emptied.get() != self.generation
    }
}

/// Executes one claimed run (or fails it when it has had its attempts); errors are logged.
/// Returns the run's stored bytes, for the executor's count of bytes in flight, and whether it
/// went without an error (one that did not may be due again once its lease passes).
async fn execute_one(shared: &Shared<'_>, claimed: Claimed) -> (i64, bool) {
    let Shared {
        env,
        sql,
        runs,
        max_attempts: max,
        generation,
    } = *shared;
    let run = &claimed.row;
    let writer = ObjectWriter {
        env,
        sql,
        runs,
        id: &run.id,
        attempts: run.attempts,
        secrets: run.trigger == "oauth",
        input_bytes: run.input.len(),
        generation,
    };
    let result = if run.attempts > max {
        let error = json!({ "message": format!("gave up after {max} attempts") }).to_string();
        writer
            .finish("failed", &run.steps, Some(&error))
            .await
            .map(|_| ())
    } else if let Some(why) = &claimed.unreadable {
        // Tried again once its lease passes, as after a crash: one more attempt.
        Err(worker::Error::RustError(format!(
            "its stored parts could not be read: {why}"
        )))
    } else {
        let raw = sealed::open_outputs(env, &run.id, claimed.private.as_deref());
        let secrets = sealed::open_secrets(env, &run.id, claimed.secrets.as_deref());
        // The live version's definition comes from the workflow's object, not D1 (older
        // versions, still executing after a redeploy, are read from D1 once per isolate).
        if !engine::is_cached(&run.workflow_id, run.version) {
            if let Ok(Some(live)) = crate::objects::live(env, &run.workflow_id).await {
                if let (Some(v), Some(text)) =
                    (live["version"].as_i64(), live["definition"].as_str())
                {
                    if v == run.version {
                        engine::remember(&run.workflow_id, v, text);
                    }
                }
            }
        }
        engine::execute_claimed(env, run, secrets, raw, &writer).await
    };
    if let Err(e) = &result {
        worker::console_error!("run {}: {e}", run.id);
    }
    (claimed.bytes, result.is_ok())
}

/// Executes a new run before it is stored, for a run that never leaves the object (see
/// `handler::create`): its record is kept in memory and the run is then inserted as it ended,
/// one statement for its whole life. `None` when it did not end (an error was logged): it is
/// then stored queued, for the executor.
pub(super) async fn execute_before_insert(env: &Env, run: &RunRow) -> Option<Executed> {
    let recorder = Recorder::default();
    let result = engine::execute_claimed(env, run, None, Map::new(), &recorder).await;
    if let Err(e) = result {
        worker::console_error!("run {}: {e}", run.id);
    }
    let (status, steps, error) = recorder.end.into_inner()?;
    Some(Executed {
        status,
        steps,
        error,
        response: recorder.response.into_inner(),
        finished_at: iso_millis(now_ms()),
        reply: recorder.reply.into_inner().unwrap_or(Value::Null),
    })
}

/// Deletes finished runs past the retention window, a bounded batch; returns when the next
/// batch is due (`None`: no finished run to wait for).
pub(crate) fn retention(table: &Table, env: &Env, now: i64) -> Result<Option<i64>> {
    let keep = limits::retention_ms(env);
    let cutoff = iso_millis(now - keep);
    let deleted = table.delete_older_than(&cutoff, RETENTION_BATCH)?;
    if deleted > 0 {
        worker::console_log!("runs retention: deleted {deleted} finished runs in one pass");
    }
    Ok(if deleted as u32 == RETENTION_BATCH {
        Some(now)
    } else {
        table
            .oldest_finished(&cutoff)?
            .and_then(|at| parse_millis(&at))
            .map(|at| at + keep)
    })
}

/// `result`'s value, or `fallback` with the error logged: a statement that fails inside the
/// executor's loop must not drop the runs executing (their calls may be out already). The
/// fallbacks take nothing new and hand nothing over; the next check, a second later, tries again.
fn logged<T>(result: Result<T>, fallback: T) -> T {
    result.unwrap_or_else(|e| {
        worker::console_error!("runs executor: {e}");
        fallback
    })
}

/// Takes no more runs by hand once the executor stops, however it stops.
struct CloseHandOver<'a>(&'a RunsInstance);

impl Drop for CloseHandOver<'_> {
    fn drop(&mut self) {
        self.0.set_room(0, 0, 0);
    }
}

/// One wake of the executor; returns when the alarm should fire next (`None`: no deadline).
pub async fn run(env: &Env, sql: &SqlStorage, runs: &RunsInstance) -> Result<Option<i64>> {
    let table = Table { sql };
    let started = now_ms();
    runs.wake_started.set(started);
    runs.begin_wake(limits::wake_calls(env), limits::wake_runs(env));
    let budget = wake_ms(env).budget;
    let lease = engine::lease_ms(env);
    let shared = Shared::new(env, sql, runs)?;
    let mut in_flight = FuturesUnordered::new();
    // Whether a claim may find something: at the start, after runs were created, while the
    // last claim filled every free slot, and every `RECHECK_MS` (a lease may have expired).
    let mut claim_due = true;
    let mut recheck_at = started + RECHECK_MS;
    // Claimed runs waiting for a slot, in claim order.
    let mut held: VecDeque<Claimed> = VecDeque::new();
    // The stored bytes of the runs executing, and their budget (`limits::in_flight_bytes`).
    let mut flight_bytes: i64 = 0;
    let flight_budget = limits::in_flight_bytes(env);
    // A run this large frees room when it ends that a claim cut short by the budget may have
    // left: the executor claims again then. (With the default budget a cut needs more than
    // 24 MiB minus the largest run, about 12 MB, in flight: a run of 2 MB or more. Any other
    // case waits for the next check, a second.)
    let large_run = flight_budget / 24;
    // Until when no stored run is due, as of the last claim: only until then are new runs
    // handed over (a run stored queued, or one whose lease expired, is claimed before newer
    // runs pass it): the earliest stored lease, whose run may be due from then on. 0: one is due.
    let mut none_due_until = 0;
    let _closed = CloseHandOver(runs);
    loop {
        let now = now_ms();
        if runs.take_created() {
            claim_due = true;
            none_due_until = 0;
        }
        claim_due |= now >= recheck_at;
        // Runs handed over at their create wait with the claimed ones, after them.
        for handed in runs.take_handed() {
            held.push_back(handed);
        }
        // The workflow was deleted meanwhile: the runs held go with it, none is started or
        // claimed, and the wake ends once those executing have stopped.
        let deleted = shared.deleted();
        if deleted {
            held.clear();
        }
        // A wake whose outbound calls or runs are spent starts no held run (with no call left,
        // one would stop before its first): they go back to the queue, due at once, for the
        // next wake.
        if runs.spent() {
            for claimed in held.drain(..) {
                let fence = Fence {
                    id: &claimed.row.id,
                    attempts: claimed.row.attempts,
                    input_bytes: claimed.row.input.len(),
                };
                logged(table.hand_back(fence, now), false);
            }
        }
        // Free slots take held runs first, while their bytes fit. One whose lease has passed is
        // not started: it may be claimed again, and the next claim takes it.
        while in_flight.len() < IN_FLIGHT && !runs.spent() {
            let Some(claimed) = held.front() else {
                break;
            };
            if !in_flight.is_empty() && flight_bytes + claimed.bytes > flight_budget {
                break;
            }
            let mut claimed = held.pop_front().expect("a held run");
            // A run held past its lease has not started, and no claim took it meanwhile (the
            // executor claims only once it holds no run): its lease is renewed, fenced by its
            // attempt number, rather than left for a claim that would count an attempt it
            // never made. Only another instance's claim makes the renewal fail. So is one
            // with less than half its lease left: before its first step it may wait (its
            // version read, an OAuth connection's), and a lease running out then would let a
            // claim start it a second time.
            if claimed.row.lease_until <= now + lease / 2 {
                let until = now + lease + runs.step_lease(lease);
                if !logged(
                    table.renew(&claimed.row.id, claimed.row.attempts, until),
                    false,
                ) {
                    claim_due = true;
                    none_due_until = 0;
                    continue;
                }
                runs.renewals.set(runs.renewals.get() + 1);
                claimed.row.lease_until = until;
            }
            flight_bytes += claimed.bytes;
            runs.count_run();
            in_flight.push(execute_one(&shared, claimed));
        }
        runs.flight_bytes_max
            .set(runs.flight_bytes_max.get().max(flight_bytes));
        // The free slots are filled by one claim, which also takes up to `HELD` more.
        // A wake whose time, outbound calls or runs are spent takes no more runs: the next wake
        // goes on once the runs in flight have ended.
        let taking = !deleted && now - started < budget && !runs.spent();
        // Never more than the wake may still start.
        let runs_left = usize::try_from(runs.runs_left()).unwrap_or(usize::MAX);
        if claim_due && held.is_empty() && in_flight.len() < IN_FLIGHT && taking {
            let limit = (IN_FLIGHT - in_flight.len() + HELD).min(runs_left);
            // The lease covers the slowest step seen here, so that a first execution can send
            // it without extending the lease first.
            let until = now + lease + runs.step_lease(lease);
            let free = IN_FLIGHT - in_flight.len();
            let budget = ClaimBudget {
                first: in_flight.is_empty(),
                free,
                free_bytes: (flight_budget - flight_bytes).max(0),
                held_bytes: HELD_BYTES as i64,
            };
            let claimed = logged(
                table.claim(now, until, &iso_millis(now), limit, budget),
                Vec::new(),
            );
            runs.claims.set(runs.claims.get() + 1);
            // A claim short of its count may have been cut by its byte budget: asked.
            let next_due = match claimed.len() < limit {
                true => logged(table.next_due(), Some(now)),
                false => Some(now),
            };
            none_due_until = next_due.unwrap_or(i64::MAX);
            // A claim that filled every free slot may have left runs due (its count or its byte
            // budget cut it short): the next free slot claims again.
            claim_due = claimed.len() >= free;
            recheck_at = now + RECHECK_MS;
            for claimed in claimed {
                if in_flight.len() < IN_FLIGHT
                    && (in_flight.is_empty() || flight_bytes + claimed.bytes <= flight_budget)
                {
                    flight_bytes += claimed.bytes;
                    runs.count_run();
                    in_flight.push(execute_one(&shared, claimed));
                } else {
                    held.push_back(claimed);
                }
            }
            runs.flight_bytes_max
                .set(runs.flight_bytes_max.get().max(flight_bytes));
        }
        let held_bytes = held.iter().map(|c| c.bytes).sum::<i64>();
        runs.held_bytes_max
            .set(runs.held_bytes_max.get().max(held_bytes));
        // New runs are handed over while no stored run is due, up to what a claim would take
        // and what the wake may still start besides the runs it holds.
        let room_runs = usize::try_from(runs.runs_left())
            .unwrap_or(usize::MAX)
            .saturating_sub(held.len());
        if now < none_due_until && taking && room_runs > 0 {
            let taken = in_flight.len() + held.len();
            runs.set_room(
                (IN_FLIGHT + HELD).saturating_sub(taken).min(room_runs),
                HELD_BYTES as i64 - held_bytes,
                none_due_until,
            );
        } else {
            runs.set_room(0, 0, 0);
        }
        let wake = runs.wake_receiver(in_flight.len() < IN_FLIGHT && held.is_empty());
        if in_flight.is_empty() {
            // Nothing to do: wait a little for a new run rather than stopping (a busy object
            // would otherwise start an executor, with its alarms, for nearly every run).
            if !taking {
                break;
            }
            let linger = Delay::from(Duration::from_millis(LINGER_MS));
            match select(wake, linger).await {
                Either::Left(_) => continue,
                Either::Right(_) => break,
            }
        }
        // A finished run frees a slot; a new run may fill one. Every other run already done
        // frees its slot too, so the next claim fills them all.
        let mut ended = match select(in_flight.next(), wake).await {
            Either::Left((Some(end), _)) => vec![end],
            _ => Vec::new(),
        };
        while let Some(Some(end)) = in_flight.next().now_or_never() {
            ended.push(end);
        }
        for (bytes, ok) in ended {
            flight_bytes -= bytes;
            claim_due |= bytes >= large_run;
            if !ok {
                // Left unfinished, it is due when its lease passes: until a claim has looked,
                // no new run is handed over ahead of it.
                claim_due = true;
                none_due_until = 0;
            }
        }
    }

    runs.set_room(0, 0, 0);
    // The storage was emptied meanwhile (the workflow was deleted): nothing is left to keep,
    // unless a request made the tables again since (a create after a delete cut short, then a
    // redeploy): a run it stored may be waiting, and the next wake looks at once.
    if !runs.ready.get() {
        return Ok(None);
    }
    if shared.deleted() {
        return Ok(Some(now_ms()));
    }
    let now = now_ms();
    let retention_due = match runs.retention_due.get() {
        // Known and not yet due: a run finished since expires later, no need to look again.
        Some(at) if at > now => Some(at),
        _ => {
            let due = retention(&table, env, now)?;
            runs.retention_due.set(due);
            due
        }
    };
    let next = match (table.next_due()?, retention_due) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(next.map(|n| n.max(now)))
}
