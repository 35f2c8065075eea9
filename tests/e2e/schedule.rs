//! Scheduler trigger end to end: Durable Object alarms under a real `wrangler dev`, the arm
//! outbox the Cron pass (`/__scheduled`) retries, restarts on the same state, and the
//! fire-time preview.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::upstream::Upstream;
use crate::harness::*;
use serde_json::{json, Value};
use tripline_core::kernel::ids::RunId;
use tripline_core::kernel::shard::TIMER_SHARD;
use tripline_core::kernel::time::parse_millis;

fn schedule_def(name: &str, schedule: Value, misfire: &str) -> Value {
    json!({
        "name": name,
        "trigger": {"type": "schedule", "schedule": schedule, "misfire": misfire},
        "steps": [{"type": "log", "name": "tick", "message": "slot {{schedule.scheduled_at}}"}]
    })
}

fn every(seconds: u32) -> Value {
    json!({"kind": "seconds", "every": seconds})
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

fn ms(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    parse_millis(s).unwrap_or_else(|| panic!("not RFC 3339: {s}"))
}

/// A scheduled run as the test sees it.
#[derive(Debug, Clone)]
struct Slot {
    run_id: String,
    version: i64,
    slot: i64,
    fired: i64,
    late: bool,
    created: i64,
}

/// Every run of the workflow, oldest slot first, checked for the schedule run shape.
fn slots(dev: &Dev, id: &str) -> Vec<Slot> {
    let mut out: Vec<Slot> = runs(dev, id)
        .iter()
        .map(|r| {
            assert_eq!(r["trigger"], "schedule", "{r}");
            let s = &r["input"]["schedule"];
            let slot = ms(&s["scheduled_at"]);
            // The dedup key is the slot's UTC instant.
            assert_eq!(ms(&r["dedup_key"]), slot, "{r}");
            assert_eq!(slot % 1000, 0, "slots are whole seconds: {r}");
            Slot {
                run_id: r["id"].as_str().expect("run id").to_string(),
                version: r["version"].as_i64().expect("version"),
                slot,
                fired: ms(&s["fired_at"]),
                late: s["late"].as_bool().expect("late flag"),
                created: ms(&r["created_at"]),
            }
        })
        .collect();
    out.sort_by_key(|s| s.slot);
    out
}

fn assert_unique(slots: &[Slot]) {
    let distinct: BTreeSet<i64> = slots.iter().map(|s| s.slot).collect();
    assert_eq!(distinct.len(), slots.len(), "a slot ran twice: {slots:?}");
}

fn deploy(dev: &Dev, id: &str) -> Value {
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn workflow(dev: &Dev, id: &str) -> Value {
    let r = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn outbox_rows(dev: &Dev, id: &str) -> Vec<Value> {
    dev.d1(&format!(
        "SELECT action, attempts, next_try_at, last_error FROM arm_outbox WHERE workflow_id = '{id}'"
    ))
}

#[test]
fn every_two_seconds_runs_each_slot_once_two_seconds_apart() {
    let dev = shared();
    let id = create(dev, &schedule_def("every 2 s", every(2), "skip"));
    // Not deployed: no timer, no next run.
    let wf = workflow(dev, &id);
    assert_eq!(wf["next_run_at"], Value::Null);
    assert_eq!(wf["last_run_at"], Value::Null);
    assert_eq!(wf["skipped_slots"], 0);

    let deployed_at = now_ms();
    deploy(dev, &id);
    let wf = workflow(dev, &id);
    let next = ms(&wf["next_run_at"]);
    assert_eq!(next % 2000, 0, "{wf}");
    assert!(next > deployed_at, "{wf}");

    std::thread::sleep(Duration::from_millis(
        (deployed_at + 11_000 - now_ms()).max(0) as u64,
    ));
    let got = slots(dev, &id);
    assert!(got.len() >= 4, "fewer than 4 runs in 11 s: {got:?}");
    assert_unique(&got);
    for pair in got.windows(2) {
        assert_eq!(pair[1].slot - pair[0].slot, 2000, "{got:?}");
    }
    for s in &got {
        assert_eq!(s.slot % 2000, 0);
        assert!(
            s.slot > deployed_at - 1000,
            "a slot from before the deploy ran: {s:?}"
        );
        assert!(s.fired >= s.slot, "fired before its slot: {s:?}");
        assert!(!s.late);
        assert_eq!(s.version, 1);
    }
    // The runs execute: each reached its end and its log step saw the slot.
    let run = wait_run(dev, &got[0].run_id, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["steps"][0]["output"]["message"],
        format!(
            "slot {}",
            run["input"]["schedule"]["scheduled_at"].as_str().unwrap()
        )
    );
    let wf = workflow(dev, &id);
    assert!(wf["last_run_at"].is_string(), "{wf}");
    assert!(ms(&wf["next_run_at"]) > got.last().unwrap().slot, "{wf}");
    assert_eq!(wf["skipped_slots"], 0, "{wf}");
    api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
}

#[test]
fn undeploy_stops_the_schedule_at_once() {
    let dev = shared();
    let id = create_deployed(dev, &schedule_def("every 1 s", every(1), "skip"));
    eventually(60, "two runs", || slots(dev, &id).len() >= 2);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let undeployed_at = now_ms();
    let at_response = slots(dev, &id);
    assert_eq!(r.json()["status"], "draft");
    assert_eq!(workflow(dev, &id)["next_run_at"], Value::Null);

    std::thread::sleep(Duration::from_secs(4));
    // Also a Cron pass must not bring it back.
    dev.fire_cron();
    std::thread::sleep(Duration::from_secs(1));
    let later = slots(dev, &id);
    assert_eq!(
        later.len(),
        at_response.len(),
        "a run was created after the undeploy answered: {later:?}"
    );
    for s in &later {
        assert!(
            s.created <= undeployed_at,
            "{s:?} created after {undeployed_at}"
        );
    }
}

/// Undeployed, the timer object's alarm serves its stored runs (retention), and its executor
/// waits a moment for new ones; a deploy in that moment arms the schedule again, and the
/// executor's end must not put its own alarm over the schedule's: the schedule fires again.
#[test]
fn a_deploy_right_after_an_undeploy_keeps_the_schedule_firing() {
    let dev = shared();
    let id = create_deployed(dev, &schedule_def("every 1 s", every(1), "skip"));
    eventually(60, "two runs", || slots(dev, &id).len() >= 2);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    std::thread::sleep(Duration::from_millis(200));
    deploy(dev, &id);
    let redeployed_at = now_ms();
    eventually(30, "three runs after the deploy", || {
        slots(dev, &id)
            .iter()
            .filter(|s| s.created > redeployed_at)
            .count()
            >= 3
    });
    api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
}

/// An undeploy whose call to the object is slow, and a deploy sent right after it that reaches
/// the object first: the object ends up matching the catalog (deployed), and the schedule
/// keeps firing. (Before, the late undeploy disarmed it while the catalog said deployed, and
/// nothing ever armed it again.)
#[test]
fn a_late_undeploy_call_does_not_stop_a_schedule_deployed_after_it() {
    // `undeploy-late`: the object waits 2 s before it handles an API request's undeploy call.
    let dev = Dev::start(
        "schedule-undeploy-late",
        &[("TRIPLINE_DEV_FAULTS", "undeploy-late")],
    );
    let dev = &dev;
    let id = create_deployed(
        dev,
        &schedule_def("every 1 s, late undeploy", every(1), "skip"),
    );
    eventually(60, "two runs", || slots(dev, &id).len() >= 2);
    let undeploy = {
        let url = dev.url(&format!("/api/workflows/{id}/undeploy"));
        std::thread::spawn(move || {
            let auth = format!("Bearer {ADMIN_TOKEN}");
            send("POST", &url, &[("authorization", &auth)], None).status
        })
    };
    // The undeploy is in the catalog, its object call is waiting: deploy again.
    eventually(10, "the undeploy in the catalog", || {
        api(dev, "GET", &format!("/api/workflows/{id}"), None).json()["status"] == "draft"
    });
    deploy(dev, &id);
    assert_eq!(undeploy.join().expect("undeploy thread"), 200);
    let after = now_ms();
    eventually(30, "three runs after both calls ended", || {
        slots(dev, &id).iter().filter(|s| s.created > after).count() >= 3
    });
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(wf["status"], "deployed", "{wf}");
    api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
}

#[test]
fn redeploy_with_a_new_interval_changes_the_spacing() {
    let dev = shared();
    let id = create_deployed(dev, &schedule_def("every 1 s", every(1), "skip"));
    eventually(60, "three runs of version 1", || slots(dev, &id).len() >= 3);

    let r = api(
        dev,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(&schedule_def("every 3 s", every(3), "skip")),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let v2 = deploy(dev, &id);
    let redeployed_at = now_ms();
    assert_eq!(v2["deployed_version"], 2);
    eventually(60, "three runs of version 2", || {
        slots(dev, &id).iter().filter(|s| s.version == 2).count() >= 3
    });
    api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);

    let got = slots(dev, &id);
    assert_unique(&got);
    let v1: Vec<&Slot> = got.iter().filter(|s| s.version == 1).collect();
    let v2: Vec<&Slot> = got.iter().filter(|s| s.version == 2).collect();
    // Each version's slots lie on its own grid. An alarm that comes late on a loaded machine
    // runs the newest due slot and counts the others as skipped, so a gap may span several.
    for pair in v1.windows(2) {
        let gap = pair[1].slot - pair[0].slot;
        assert!(gap > 0 && gap % 1000 == 0, "{v1:?}");
    }
    assert!(
        v1.windows(2).any(|p| p[1].slot - p[0].slot == 1000),
        "never one second apart: {v1:?}"
    );
    for pair in v2.windows(2) {
        let gap = pair[1].slot - pair[0].slot;
        assert!(gap > 0 && gap % 3000 == 0, "{v2:?}");
    }
    for s in &v2 {
        assert_eq!(s.slot % 3000, 0, "{s:?}");
    }
    // The old schedule stopped with the redeploy: no version-1 slot after it.
    for s in &v1 {
        assert!(
            s.slot <= redeployed_at,
            "version 1 ran after the redeploy: {s:?}"
        );
    }
    assert!(v1.last().unwrap().slot < v2[0].slot);
}

#[test]
fn deleting_a_scheduled_workflow_stops_it_and_removes_its_rows() {
    let dev = shared();
    let id = create_deployed(
        dev,
        &schedule_def("deleted while running", every(1), "skip"),
    );
    eventually(60, "a run", || !slots(dev, &id).is_empty());
    let r = api(dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 204, "{}", r.text);
    std::thread::sleep(Duration::from_secs(3));
    let q = |table: &str| {
        dev.d1(&format!(
            "SELECT count(*) AS n FROM {table} WHERE workflow_id = '{id}'"
        ))[0]["n"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(q("runs"), 0, "a run was created after the delete");
}

/// A delete of a workflow whose undeploy call failed (it waits in the outbox) and whose timer
/// object cannot be emptied deletes nothing: the workflow stays, and a retry deletes it and stops the
/// schedule. (Deleting the row first left an object firing for ever: its alarm reads only its
/// own storage, and the outbox row went with the workflow.)
#[test]
fn a_delete_that_cannot_stop_the_timer_deletes_nothing_and_its_retry_stops_it() {
    let mut dev = Dev::start(
        "schedule-delete-unreachable",
        &[(
            "TRIPLINE_DEV_FAULTS",
            "arm,forget-once,status-once,forget-shard-once,test-forget-once",
        )],
    );
    let id = create(&dev, &schedule_def("deleted twice", every(1), "skip"));
    // `status-once`: the object refuses its first status call, as when it cannot be reached;
    // the workflow's GET then says so and may be retried (it answered 500 before).
    let r = api(&dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["type"], "urn:tripline:problem:unavailable");
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("may be retried"));
    let r = api(&dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["next_run_at"], Value::Null, "{}", r.text);
    deploy(&dev, &id);
    dev.fire_cron();
    eventually(60, "a run", || !slots(&dev, &id).is_empty());
    // The undeploy call fails: the object goes on firing until the outbox retries the call.
    let r = api(&dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(outbox_rows(&dev, &id).len(), 1);
    let r = api(&dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("nothing was deleted"));
    let r = api(&dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        outbox_rows(&dev, &id).len(),
        1,
        "the undeploy call still waits"
    );
    // `forget-shard-once`: the shard object that holds its runs refuses to be emptied once;
    // the workflow stays for a retry (its row was deleted first before, leaving a 500 and
    // runs no listing reached).
    let r = api(&dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("shard objects could not be reached"));
    // (Read from D1: the emptied timer object forgot that `status-once` refused it once.)
    let kept = dev.d1(&format!("SELECT status FROM workflows WHERE id = '{id}'"));
    assert_eq!(kept.len(), 1, "the workflow stays: {kept:?}");
    // `test-forget-once`: the delete's last call, made after the row is gone (it empties the
    // object again, should a deploy have armed it in between), fails. The workflow is deleted
    // all the same (it answered 500 before, and a retry 404), and the call waits in the outbox.
    let r = api(&dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 204, "{}", r.text);
    let r = api(&dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 404, "{}", r.text);
    let rows = outbox_rows(&dev, &id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "undeploy", "{rows:?}");
    dev.fire_cron();
    eventually(30, "the outbox's call made", || {
        outbox_rows(&dev, &id).is_empty()
    });
    // No object keeps firing: a fire under way when the object was emptied may land, and
    // after it none.
    std::thread::sleep(Duration::from_secs(2));
    dev.kill();
    let count = |dev: &Dev| {
        dev.objects_query(&format!("SELECT id FROM runs WHERE workflow_id = '{id}'"))
            .len()
    };
    let settled = count(&dev);
    assert!(settled <= 1, "{settled} runs kept after the delete");
    dev.restart();
    std::thread::sleep(Duration::from_secs(4));
    dev.kill();
    assert_eq!(
        count(&dev),
        settled,
        "the deleted workflow's schedule still fires"
    );
}

#[test]
fn outbox_retries_racing_the_alarm_create_no_duplicates() {
    // `arm`: every deploy call of an API request fails and lands in the outbox, as a failed
    // deploy call leaves it; the Cron pass retries it while the alarm keeps firing, so every
    // retry re-arms the object mid-schedule. (Its own instance: no other test's Cron pass
    // takes the entries first.)
    let dev = Dev::start("schedule-outbox-race", &[("TRIPLINE_DEV_FAULTS", "arm")]);
    let dev = &dev;
    let id = create(dev, &schedule_def("every 1 s, raced", every(1), "run_once"));
    deploy(dev, &id);
    dev.fire_cron();
    eventually(60, "a first run", || !slots(dev, &id).is_empty());
    for _ in 0..4 {
        // Deploying the same version again: the catalog is unchanged, the object call fails.
        let wf = deploy(dev, &id);
        assert_eq!(wf["status"], "deployed", "{wf}");
        let rows = outbox_rows(dev, &id);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["action"], "deploy");
        dev.fire_cron();
        assert!(outbox_rows(dev, &id).is_empty(), "the retried entry stays");
    }
    let before = slots(dev, &id).len();
    eventually(60, "more runs after the retries", || {
        slots(dev, &id).len() >= before + 8
    });
    // The undeploy call fails too: the outbox disarms the object.
    api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    dev.fire_cron();
    assert!(outbox_rows(dev, &id).is_empty(), "the undeploy entry stays");
    // A fire already under way may still land.
    std::thread::sleep(Duration::from_secs(2));
    let got = slots(dev, &id);
    assert_unique(&got);
    // Nothing was lost: every slot from the first to the last ran once or, when its alarm came
    // more than a slot late (a loaded machine), was counted as skipped.
    let skipped = workflow(dev, &id)["skipped_slots"].as_u64().unwrap() as usize;
    let span = ((got.last().unwrap().slot - got[0].slot) / 1000 + 1) as usize;
    assert_eq!(got.len() + skipped, span, "skipped {skipped}: {got:?}");
}

#[test]
fn a_failed_object_call_goes_to_the_outbox_and_the_cron_completes_it() {
    // `arm`: the object refuses the deploy and undeploy calls of API requests (local only).
    let dev = Dev::start("schedule-outbox", &[("TRIPLINE_DEV_FAULTS", "arm")]);
    // The migrations replaced the tables the sweep read with the outbox.
    let tables: Vec<String> = dev
        .d1("SELECT name FROM sqlite_master WHERE type = 'table'")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert!(tables.contains(&"arm_outbox".to_string()), "{tables:?}");
    for gone in ["timers", "schedules", "poll_status"] {
        assert!(!tables.contains(&gone.to_string()), "{gone}: {tables:?}");
    }

    let id = create(&dev, &schedule_def("armed by the outbox", every(1), "skip"));
    let wf = deploy(&dev, &id);
    assert_eq!(wf["status"], "deployed", "{wf}");
    assert_eq!(wf["deployed_version"], 1, "{wf}");
    let rows = outbox_rows(&dev, &id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "deploy");
    assert_eq!(rows[0]["attempts"], 0);
    let error = rows[0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("injected fault `arm`"), "{error}");
    // The object was never armed: no run, no next run.
    std::thread::sleep(Duration::from_secs(3));
    assert!(slots(&dev, &id).is_empty());
    assert_eq!(workflow(&dev, &id)["next_run_at"], Value::Null);

    dev.fire_cron();
    assert!(outbox_rows(&dev, &id).is_empty(), "the armed entry stays");
    eventually(60, "two runs", || slots(&dev, &id).len() >= 2);
    assert!(workflow(&dev, &id)["next_run_at"].is_string());

    // Undeploy: the catalog says so at once; the object's disarm waits in the outbox for the
    // Cron pass (the object decides alone when to fire: until the pass reaches it, it goes on).
    let r = api(&dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "draft");
    let rows = outbox_rows(&dev, &id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "undeploy");
    std::thread::sleep(Duration::from_secs(3));
    dev.fire_cron();
    assert!(
        outbox_rows(&dev, &id).is_empty(),
        "the undeploy entry stays"
    );
    // A fire already under way may still land; after that, none.
    std::thread::sleep(Duration::from_secs(2));
    let settled = slots(&dev, &id);
    std::thread::sleep(Duration::from_secs(3));
    let got = slots(&dev, &id);
    assert_unique(&got);
    assert_eq!(got.len(), settled.len(), "a run after the disarm: {got:?}");
    assert_eq!(workflow(&dev, &id)["next_run_at"], Value::Null);
}

/// A deploy whose object call failed and whose outbox entry was lost too (D1 refused both writes
/// in a row) leaves the catalog deployed and the object never armed: the Cron pass's alarm check,
/// which asks the deployed schedules, arms it from the catalog.
#[test]
fn a_deployed_schedule_whose_object_was_never_armed_is_armed_by_the_alarm_check() {
    let dev = Dev::start("schedule-never-armed", &[("TRIPLINE_DEV_FAULTS", "arm")]);
    let id = create(&dev, &schedule_def("never armed", every(1), "skip"));
    assert_eq!(deploy(&dev, &id)["status"], "deployed");
    assert_eq!(outbox_rows(&dev, &id).len(), 1);
    dev.d1_write(&format!(
        "DELETE FROM arm_outbox WHERE workflow_id = '{id}'"
    ));
    std::thread::sleep(Duration::from_secs(3));
    assert!(slots(&dev, &id).is_empty());
    assert_eq!(workflow(&dev, &id)["next_run_at"], Value::Null);

    dev.fire_cron();
    eventually(60, "two runs", || slots(&dev, &id).len() >= 2);
    assert!(dev.logs().contains(&format!(
        "workflow {id}: its trigger's alarm was lost; armed again from the catalog"
    )));
    assert!(workflow(&dev, &id)["next_run_at"].is_string());
    assert_unique(&slots(&dev, &id));
}

/// Kills `wrangler dev` right after a slot ran, keeps it down for 15 s, starts it again on
/// the same state and fires the Cron Trigger until the schedule has caught up (a misfire is
/// recorded) and run two more slots. Returns the last slot before the kill, the runs, the
/// workflow resource and when the object woke (`last_misfire.at`).
fn crash_and_recover(dev: &mut Dev, id: &str) -> (i64, Vec<Slot>, Value, i64) {
    let n = slots(dev, id).len();
    eventually(60, "a run", || slots(dev, id).len() > n);
    dev.kill();
    let killed_at = now_ms();
    // Down for at least 15 s. workerd fires the overdue alarm about 2–3 s after it starts;
    // starting 1.5 s past a slot makes the newest missed slot most likely past the 2 s grace
    // (on time means less than 3 s late: the grace counts whole seconds) when the object wakes,
    // so that the policy (not "on time") decides it. The assertions hold either way: they
    // follow the rules from what the object recorded.
    let restart_at = (killed_at + 15_000 - 1500).div_euclid(5000) * 5000 + 5000 + 1500;
    std::thread::sleep(Duration::from_millis((restart_at - now_ms()).max(0) as u64));
    dev.spawn();
    // The alarm may already have fired again: the runs from before are those created before
    // the kill (a run being recorded at the kill is either there or not; both are fine).
    let last_before = slots(dev, id)
        .iter()
        .filter(|s| s.created < killed_at)
        .map(|s| s.slot)
        .max()
        .expect("a run before the crash");
    // The alarm is durable: workerd fires it when it comes back (the Cron pass has nothing to
    // do with it, and firing it here shows that it does not disturb the schedule).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        dev.fire_cron();
        let wf = workflow(dev, id);
        let after = slots(dev, id);
        if let Some(at) = wf["last_misfire"]["at"].as_str() {
            let woke = parse_millis(at).expect("misfire instant");
            if after.iter().filter(|s| s.slot > woke).count() >= 2 {
                return (last_before, after, wf, woke);
            }
        }
        assert!(
            Instant::now() < deadline,
            "the schedule did not continue: {wf} {after:?}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// With `SCHEDULE_MISFIRE_GRACE_SECONDS=2`, a slot is on time when its alarm starts less than
/// 3 s after it (the grace counts whole seconds of lateness).
const ON_TIME_MS: i64 = 3000;

/// The slots (multiples of 5 s) in `(after, through]`.
fn slots_between(after: i64, through: i64) -> Vec<i64> {
    ((after / 5000 + 1)..=(through / 5000))
        .map(|k| k * 5000)
        .collect()
}

#[test]
fn after_a_crash_skip_drops_the_missed_slots() {
    let mut dev = Dev::start("schedule-skip", &[("SCHEDULE_MISFIRE_GRACE_SECONDS", "2")]);
    let id = create_deployed(&dev, &schedule_def("every 5 s, skip", every(5), "skip"));
    let (last_before, got, wf, woke) = crash_and_recover(&mut dev, &id);
    assert_unique(&got);
    let misfire = &wf["last_misfire"];
    assert_eq!(misfire["policy"], "skip", "{wf}");
    let missed = slots_between(last_before, woke);
    assert!(
        missed.len() >= 3,
        "15 s down at every 5 s misses 3 slots: {missed:?}"
    );
    let ran: Vec<&Slot> = got.iter().filter(|s| missed.contains(&s.slot)).collect();
    // Skip runs nothing late; only the newest slot may run, and only if it was on time
    // (within the 2 s grace, whole seconds: under 3 s late) when the object woke.
    assert!(ran.len() <= 1, "{ran:?}");
    for s in &ran {
        assert_eq!(s.slot, *missed.last().unwrap(), "{ran:?}");
        assert!(!s.late && s.fired - s.slot < ON_TIME_MS, "{s:?}");
    }
    assert_eq!(
        wf["skipped_slots"].as_u64().unwrap() as usize,
        missed.len() - ran.len(),
        "{wf} missed {missed:?} ran {ran:?}"
    );
    assert_eq!(misfire["skipped"], wf["skipped_slots"]);
    // The schedule continues on its 5 s grid.
    let after: Vec<&Slot> = got.iter().filter(|s| s.slot > woke).collect();
    assert!(after.len() >= 2, "{got:?}");
    for pair in after.windows(2) {
        assert_eq!(pair[1].slot - pair[0].slot, 5000, "{after:?}");
    }
    assert!(got.iter().all(|s| s.slot % 5000 == 0));
}

#[test]
fn after_a_crash_run_once_runs_the_newest_missed_slot() {
    let mut dev = Dev::start(
        "schedule-run-once",
        &[("SCHEDULE_MISFIRE_GRACE_SECONDS", "2")],
    );
    let id = create_deployed(
        &dev,
        &schedule_def("every 5 s, run once", every(5), "run_once"),
    );
    let (last_before, got, wf, woke) = crash_and_recover(&mut dev, &id);
    assert_unique(&got);
    let misfire = &wf["last_misfire"];
    assert_eq!(misfire["policy"], "run_once", "{wf}");
    let missed = slots_between(last_before, woke);
    assert!(missed.len() >= 3, "{missed:?}");
    let ran: Vec<&Slot> = got.iter().filter(|s| missed.contains(&s.slot)).collect();
    // Exactly one run for the missed slots: the newest one.
    assert_eq!(ran.len(), 1, "missed {missed:?} ran {ran:?}");
    assert_eq!(ran[0].slot, *missed.last().unwrap());
    assert_eq!(
        ran[0].late,
        ran[0].fired - ran[0].slot >= ON_TIME_MS,
        "{:?}",
        ran[0]
    );
    assert_eq!(
        wf["skipped_slots"].as_u64().unwrap() as usize,
        missed.len() - 1,
        "{wf}"
    );
    let after: Vec<&Slot> = got.iter().filter(|s| s.slot > woke).collect();
    assert!(after.len() >= 2, "{got:?}");
    for pair in after.windows(2) {
        assert_eq!(pair[1].slot - pair[0].slot, 5000, "{after:?}");
    }
    let run = wait_run(&dev, &ran[0].run_id, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
}

#[test]
fn preview_follows_new_york_across_both_changes() {
    let dev = shared();
    let def = json!({
        "name": "daily 02:30 New York",
        "trigger": {"type": "schedule", "timezone": "America/New_York",
                    "schedule": {"kind": "daily", "at": "02:30"}},
        "steps": [{"type": "log", "name": "tick", "message": "hi"}]
    });
    let id = create(dev, &def); // a draft: the preview works before any deploy
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/schedule/preview?count=4&after=2027-03-12T12:00:00Z"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["timezone"], "America/New_York");
    assert_eq!(
        v["fire_times"],
        json!([
            {"at": "2027-03-13T02:30:00-05:00", "utc": "2027-03-13T07:30:00Z", "dst_shifted": false},
            {"at": "2027-03-14T03:00:00-04:00", "utc": "2027-03-14T07:00:00Z", "dst_shifted": true},
            {"at": "2027-03-15T02:30:00-04:00", "utc": "2027-03-15T06:30:00Z", "dst_shifted": false},
            {"at": "2027-03-16T02:30:00-04:00", "utc": "2027-03-16T06:30:00Z", "dst_shifted": false},
        ])
    );
    // And in November: clocks fall back from 02:00 EDT to 01:00 EST, so 02:30 comes once, at
    // the new offset (marked: the spacing from the previous fire is 25 h).
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/schedule/preview?count=2&after=2027-11-06T12:00:00Z"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["fire_times"],
        json!([
            {"at": "2027-11-07T02:30:00-05:00", "utc": "2027-11-07T07:30:00Z", "dst_shifted": true},
            {"at": "2027-11-08T02:30:00-05:00", "utc": "2027-11-08T07:30:00Z", "dst_shifted": false},
        ])
    );
    // Every 15 minutes follows the clock through both passes of the repeated hour (01:00–01:59
    // EDT, then EST): no hour without a fire.
    let quarter = create(
        dev,
        &json!({
            "name": "every 15 minutes New York",
            "trigger": {"type": "schedule", "timezone": "America/New_York",
                        "schedule": {"kind": "cron", "expression": "*/15 * * * *"}},
            "steps": [{"type": "log", "name": "tick", "message": "hi"}]
        }),
    );
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{quarter}/schedule/preview?count=7&after=2027-11-07T05:40:00Z"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["fire_times"],
        json!([
            {"at": "2027-11-07T01:45:00-04:00", "utc": "2027-11-07T05:45:00Z", "dst_shifted": false},
            {"at": "2027-11-07T01:00:00-05:00", "utc": "2027-11-07T06:00:00Z", "dst_shifted": true},
            {"at": "2027-11-07T01:15:00-05:00", "utc": "2027-11-07T06:15:00Z", "dst_shifted": false},
            {"at": "2027-11-07T01:30:00-05:00", "utc": "2027-11-07T06:30:00Z", "dst_shifted": false},
            {"at": "2027-11-07T01:45:00-05:00", "utc": "2027-11-07T06:45:00Z", "dst_shifted": false},
            {"at": "2027-11-07T02:00:00-05:00", "utc": "2027-11-07T07:00:00Z", "dst_shifted": false},
            {"at": "2027-11-07T02:15:00-05:00", "utc": "2027-11-07T07:15:00Z", "dst_shifted": false},
        ])
    );

    // Defaults: ten fire times from now, in order.
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/schedule/preview"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let times = r.json()["fire_times"].as_array().unwrap().clone();
    assert_eq!(times.len(), 10);
    assert!(ms(&times[0]["utc"]) > now_ms() - 5_000);
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/schedule/preview?count=100"),
        None,
    );
    assert_eq!(r.json()["fire_times"].as_array().unwrap().len(), 100);
}

#[test]
fn preview_rejects_bad_input_with_a_problem() {
    let dev = shared();
    let id = create(dev, &schedule_def("preview errors", every(10), "skip"));
    for bad in ["0", "101", "ten", "-1", "2.5"] {
        let r = api(
            dev,
            "GET",
            &format!("/api/workflows/{id}/schedule/preview?count={bad}"),
            None,
        );
        assert_eq!(r.status, 400, "count={bad}: {}", r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.locations(), ["query.count"], "{}", r.text);
    }
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/schedule/preview?after=tomorrow"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.locations(), ["query.after"]);
    // An offset's `+` sent unencoded arrives as a space: read as the `+` it was.
    for (after, utc) in [
        ("2027-03-12T12:00:00+05:00", "2027-03-12T07:00:00.000Z"),
        ("2027-03-12T12:00:00%2B05:00", "2027-03-12T07:00:00.000Z"),
    ] {
        let r = api(
            dev,
            "GET",
            &format!("/api/workflows/{id}/schedule/preview?count=1&after={after}"),
            None,
        );
        assert_eq!(r.status, 200, "{after}: {}", r.text);
        assert_eq!(r.json()["after"], utc, "{}", r.text);
    }
    let r = api(
        dev,
        "GET",
        "/api/timezones?zone=UTC&from=2027-03-12T12:00:00+05:00&to=2027-03-13T00:00:00Z",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);

    let hook = create(
        dev,
        &json!({"name": "a webhook", "trigger": {"type": "endpoint"},
                "steps": [{"type": "log", "name": "l", "message": "m"}]}),
    );
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{hook}/schedule/preview"),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        r.json()["detail"],
        format!(
            "workflow {hook} is started by its `endpoint` trigger; only `schedule` workflows \
             have fire times to preview"
        ),
        "{}",
        r.text
    );

    let r = api(
        dev,
        "GET",
        "/api/workflows/wf_aaaaaaaaaaaaaaaaaaaaaaaa/schedule/preview",
        None,
    );
    assert_eq!(r.status, 404, "{}", r.text);
    let r = send(
        "GET",
        &dev.url(&format!("/api/workflows/{id}/schedule/preview")),
        &[],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text);
}

/// The Worker runs schedules on the platform's time-zone rules (`Intl`, ICU's tz database); the
/// native build and the unit tests run on the tz database compiled into chrono-tz. For every zone
/// a schedule accepts, both give the same UTC offset at the start of the next ten years and the
/// same offset changes in them, to the second (`GET /api/timezones` samples every 6 hours and
/// bisects each change; the same code runs natively here on chrono-tz).
#[test]
fn platform_zone_rules_agree_with_chrono_tz_for_every_zone() {
    use tripline_core::kernel::time::from_millis;
    use tripline_core::schedule::zone::{offset_changes, Tz};

    let dev = shared();
    let (from, to) = ("2026-01-01T00:00:00Z", "2036-01-01T00:00:00Z");
    let (from_t, to_t) = (from_millis(ms(&json!(from))), from_millis(ms(&json!(to))));
    let started = Instant::now();
    let mut zones = 0;
    let mut changes_seen = 0;
    let mut disagree = Vec::new();
    for tz in Tz::all() {
        let name = tz.name();
        let path = format!(
            "/api/timezones?zone={}&from={from}&to={to}",
            name.replace('+', "%2B")
        );
        let r = api(dev, "GET", &path, None);
        assert_eq!(r.status, 200, "{name}: {}", r.text);
        let zone = &r.json()["zones"][0];
        assert_eq!(zone["name"], name);
        let (offset, changes) = offset_changes(tz, from_t, to_t).expect("chrono-tz knows the zone");
        let native = json!({
            "name": name,
            "offset_seconds": offset,
            "changes": changes
                .iter()
                .map(|c| json!({
                    "at": tripline_core::kernel::time::iso_millis(c.at.timestamp_millis()),
                    "offset_seconds": c.offset
                }))
                .collect::<Vec<_>>(),
        });
        if *zone != native {
            disagree.push(format!("{name}:\n  platform {zone}\n  chrono-tz {native}"));
        }
        zones += 1;
        changes_seen += changes.len();
    }
    assert_eq!(zones, 597);
    assert!(changes_seen > 1000, "{changes_seen} offset changes");
    assert!(
        disagree.is_empty(),
        "{} of {zones} zones disagree:\n{}",
        disagree.len(),
        disagree.join("\n")
    );
    eprintln!(
        "{zones} zones, {changes_seen} offset changes in {from}..{to} agree ({:?})",
        started.elapsed()
    );

    // The route's own checks: every zone at once over a month; windows too long; unknown zones.
    let r = api(
        dev,
        "GET",
        "/api/timezones?from=2026-03-01T00:00:00Z&to=2026-03-31T00:00:00Z",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let all = r.json();
    let all = all["zones"].as_array().expect("zones");
    assert_eq!(all.len(), 597);
    let london = all
        .iter()
        .find(|z| z["name"] == "Europe/London")
        .expect("London");
    assert_eq!(
        london["changes"],
        json!([{"at": "2026-03-29T01:00:00.000Z", "offset_seconds": 3600}])
    );
    let r = api(dev, "GET", "/api/timezones?zone=Mars/Olympus", None);
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.locations(), vec!["query.zone"]);
    // A window longer than allowed is cut to the longest; one that ends before it starts is empty.
    let r = api(
        dev,
        "GET",
        "/api/timezones?from=2026-01-01T00:00:00Z&to=2040-01-01T00:00:00Z",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["to"], "2026-02-01T00:00:00.000Z");
    let r = api(
        dev,
        "GET",
        "/api/timezones?zone=Europe/London&from=2026-06-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["to"], "2026-06-01T00:00:00.000Z");
    assert_eq!(r.json()["zones"][0]["changes"], json!([]));
    assert_eq!(r.json()["zones"][0]["offset_seconds"], 3600);
    // Nor past the last instant RFC 3339 can write: the answer's `to` can be sent back.
    let r = api(
        dev,
        "GET",
        "/api/timezones?zone=Europe/London&from=9999-12-01T00:00:00Z",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let to = r.json()["to"].as_str().unwrap().to_string();
    assert_eq!(to, "9999-12-31T23:59:59.999Z");
    let r = api(
        dev,
        "GET",
        &format!("/api/timezones?zone=Europe/London&from={to}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // An instant it could not give back is refused where it is named.
    let r = api(
        dev,
        "GET",
        "/api/timezones?zone=Europe/London&from=9999-12-31T23:59:59-23:59",
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.locations(), vec!["query.from"]);
}

/// A run of `log` steps is created, executed and kept by the schedule's own timer object (its
/// id names that object); a run with an `http` step goes to the workflow's shard object. Both
/// are listed, read, replayed and deleted through the same API.
#[test]
fn runs_that_end_in_the_timer_object_are_kept_there_and_read_like_any_run() {
    let dev = shared();
    let up = Upstream::start();
    let local = create_deployed(dev, &schedule_def("kept in place", every(1), "skip"));
    let mut remote_def = schedule_def("kept in its shard", every(1), "skip");
    remote_def["steps"] = json!([{"type": "http", "name": "ping",
                                  "url": up.url("/echo/kept-in-shard"), "retries": 0}]);
    let remote = create_deployed(dev, &remote_def);
    eventually(60, "3 runs of each workflow", || {
        slots(dev, &local).len() >= 3 && slots(dev, &remote).len() >= 3
    });
    for id in [&local, &remote] {
        let r = api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let shard = |run_id: &str| RunId::parse(run_id).expect("a run id").shard;

    let here = slots(dev, &local);
    assert_unique(&here);
    for s in &here {
        assert_eq!(shard(&s.run_id), TIMER_SHARD, "{s:?}");
        // Stored as it ended: the whole record is final when it is first listed.
        let run = api(dev, "GET", &format!("/api/runs/{}", s.run_id), None);
        assert_eq!(run.status, 200, "{}", run.text);
        let run = run.json();
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["attempts"], 1, "{run}");
        assert_eq!(run["workflow_id"], local.as_str(), "{run}");
        assert_eq!(
            run["steps"][0]["output"]["message"],
            format!(
                "slot {}",
                run["input"]["schedule"]["scheduled_at"].as_str().unwrap()
            ),
            "{run}"
        );
        assert!(ms(&run["finished_at"]) >= ms(&run["created_at"]), "{run}");
    }
    // `last_run_at` is the newest run's creation.
    let wf = workflow(dev, &local);
    let newest = here.iter().map(|s| s.created).max().unwrap();
    assert!(ms(&wf["last_run_at"]) >= newest, "{wf} vs {newest}");
    // The status filter reads the timer object too.
    let page = api(
        dev,
        "GET",
        &format!("/api/workflows/{local}/runs?status=succeeded&limit=100"),
        None,
    );
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(
        page.json()["runs"].as_array().map(Vec::len),
        Some(here.len())
    );

    let there = slots(dev, &remote);
    for s in &there {
        assert_eq!(shard(&s.run_id), 0, "{s:?}");
        let run = wait_run(dev, &s.run_id, 60);
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["steps"][0]["output"]["status"], 200, "{run}");
    }
    assert!(up.received("/echo/kept-in-shard").len() >= there.len());

    // A replay of a run kept in the timer object: a new run in the shard, same input.
    let api_deploy = api(dev, "POST", &format!("/api/workflows/{local}/deploy"), None);
    assert_eq!(api_deploy.status, 200, "{}", api_deploy.text);
    let original = &here[0].run_id;
    let r = api(dev, "POST", &format!("/api/runs/{original}/replay"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    let replay_id = r.json()["run_id"].as_str().expect("run_id").to_string();
    assert_eq!(shard(&replay_id), 0);
    let replay = wait_run(dev, &replay_id, 60);
    assert_eq!(replay["status"], "succeeded", "{replay}");
    assert_eq!(replay["trigger"], "replay", "{replay}");
    let first = api(dev, "GET", &format!("/api/runs/{original}"), None).json();
    assert_eq!(replay["input"], first["input"]);

    // Deleting the workflow deletes the runs its timer object kept.
    for id in [&local, &remote] {
        let r = api(dev, "DELETE", &format!("/api/workflows/{id}"), None);
        assert_eq!(r.status, 204, "{}", r.text);
    }
    for run_id in [original, &here[1].run_id, &there[0].run_id] {
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None);
        assert_eq!(r.status, 404, "{run_id}: {}", r.text);
    }
}

/// A run created in the workflow's shard object leaves the timer object's stored record as
/// soon as the shard answered, not at the next wake of the same isolate: a restarted object
/// finds nothing recorded left to send again (sent after retention had deleted its run, it would
/// run the slot twice).
#[test]
fn a_run_recorded_in_its_shard_leaves_the_stored_record_at_once() {
    let mut dev = Dev::start("schedule-pending", &[]);
    let up = Upstream::start();
    let mut def = schedule_def("recorded at once", every(1), "skip");
    def["steps"] = json!([{"type": "http", "name": "ping",
                           "url": up.url("/echo/recorded-at-once"), "retries": 0}]);
    let id = create_deployed(&dev, &def);
    eventually(60, "4 runs", || slots(&dev, &id).len() >= 4);
    dev.kill();
    let record = dev.objects_query("SELECT value FROM _cf_KV WHERE key = 'schedule'");
    assert_eq!(record.len(), 1, "{record:?}");
    let text = record[0][0].as_str().expect("the record's bytes");
    let record: Value =
        serde_json::from_str(&text[text.find('{').expect("JSON in the record")..]).unwrap();
    let keys = dev.objects_query(&format!(
        "SELECT dedup_key FROM runs WHERE workflow_id = '{id}' AND trigger = 'schedule'"
    ));
    let recorded: BTreeSet<i64> = keys.iter().map(|k| ms(&k[0])).collect();
    assert!(recorded.len() >= 4, "{keys:?}");
    let pending = record["pending"].as_array().expect("pending runs");
    for p in pending {
        let slot = p["slot_ms"].as_i64().unwrap();
        assert!(
            !recorded.contains(&slot),
            "slot {slot} has its run in the shard but is still pending: {record}"
        );
    }
}

/// Runs kept in a timer object expire like any other: the schedule's alarm deletes those past
/// the retention window, and keeps the others.
#[test]
fn retention_deletes_old_runs_kept_in_the_timer_object() {
    let mut dev = Dev::start("schedule-retention", &[("RUN_RETENTION_DAYS", "1")]);
    let id = create_deployed(&dev, &schedule_def("retained", every(1), "skip"));
    eventually(60, "3 runs", || slots(&dev, &id).len() >= 3);
    let r = api(&dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let old: BTreeSet<String> = slots(&dev, &id).into_iter().map(|s| s.run_id).collect();
    assert!(old
        .iter()
        .all(|r| RunId::parse(r).unwrap().shard == TIMER_SHARD));

    // Stopped, the runs are made two days old (created and ended); the redeployed schedule's
    // alarm deletes them.
    dev.kill();
    let two_days_ago = "2000-01-01T00:00:00.000Z";
    let changed = dev.objects_exec(
        "UPDATE runs SET created_at = ?, finished_at = ? WHERE workflow_id = ?",
        &[json!(two_days_ago), json!(two_days_ago), json!(id)],
    );
    assert_eq!(changed, old.len());
    dev.spawn();
    deploy(&dev, &id);
    eventually(60, "the old runs deleted, new ones kept", || {
        let now: BTreeSet<String> = slots(&dev, &id).into_iter().map(|s| s.run_id).collect();
        now.is_disjoint(&old) && now.len() >= 2
    });
    for run_id in old.iter().take(2) {
        let r = api(&dev, "GET", &format!("/api/runs/{run_id}"), None);
        assert_eq!(r.status, 404, "{run_id}: {}", r.text);
    }
    assert!(dev.logs().contains(&format!(
        "runs retention: deleted {} finished runs",
        old.len()
    )));
}

/// A schedule whose alarm the platform lost (a handler that failed every retry, or an alarm
/// dropped) is armed again: by the Cron pass, which asks a sample of objects each minute, and
/// by a read of the workflow. Until then nothing fires: the missed slots count as skipped.
#[test]
fn a_lost_alarm_is_set_again_by_the_cron_pass_and_by_a_status_read() {
    let dev = Dev::start(
        "schedule-lost-alarm",
        &[
            ("TRIPLINE_DEV_ACTIONS", "1"),
            ("SCHEDULE_MISFIRE_GRACE_SECONDS", "2"),
        ],
    );
    let id = create_deployed(&dev, &schedule_def("every 2 s", every(2), "skip"));
    let quiet = |what: &str| {
        // A fire under way when the alarm went may still record its run.
        std::thread::sleep(Duration::from_secs(3));
        let n = slots(&dev, &id).len();
        std::thread::sleep(Duration::from_secs(6));
        assert_eq!(
            slots(&dev, &id).len(),
            n,
            "{what}: nothing fires without an alarm"
        );
        n
    };

    eventually(30, "two runs", || slots(&dev, &id).len() >= 2);
    lose_alarm(&dev, &id);
    let n = quiet("before the Cron pass");
    dev.fire_cron();
    eventually(30, "runs again after the Cron pass", || {
        slots(&dev, &id).len() >= n + 2
    });
    let wf = workflow(&dev, &id);
    assert_eq!(wf["last_misfire"]["cause"], "reconcile", "{wf}");
    assert!(wf["skipped_slots"].as_u64().unwrap() >= 3, "{wf}");
    assert!(dev.logs().contains(&format!(
        "workflow {id}: its trigger's alarm was lost; armed again from the catalog"
    )));

    lose_alarm(&dev, &id);
    let n = quiet("before the status read");
    let skipped = workflow(&dev, &id)["skipped_slots"].as_u64().unwrap();
    eventually(30, "runs again after the status read", || {
        slots(&dev, &id).len() >= n + 2
    });
    let wf = workflow(&dev, &id);
    assert!(wf["next_run_at"].is_string(), "{wf}");
    assert!(wf["skipped_slots"].as_u64().unwrap() >= skipped, "{wf}");
    assert_unique(&slots(&dev, &id));
}

/// A deployed schedule whose draft was saved with another trigger (not deployed) is still a
/// schedule in everything that runs: its status shows the schedule (not the draft's endpoint
/// counters), and the Cron pass's alarm check still asks it and arms a lost alarm again. (Both
/// followed the draft's trigger: the alarm stayed lost until the next deploy.)
#[test]
fn a_schedule_whose_draft_is_now_an_endpoint_stays_a_schedule_until_deployed() {
    let dev = Dev::start("schedule-draft-kind", &[("TRIPLINE_DEV_ACTIONS", "1")]);
    let id = create_deployed(&dev, &schedule_def("kind change", every(1), "skip"));
    eventually(30, "two runs", || slots(&dev, &id).len() >= 2);
    assert_eq!(workflow(&dev, &id)["live_trigger_type"], "schedule");
    let r = api(
        &dev,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(
            &json!({"name": "kind change", "trigger": {"type": "endpoint"},
                     "steps": [{"type": "log", "name": "tick", "message": "hi"}]}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let wf = workflow(&dev, &id);
    assert_eq!(wf["trigger_type"], "endpoint", "{wf}");
    assert_eq!(wf["live_trigger_type"], "schedule", "{wf}");
    assert_eq!(wf["deployed_definition"]["trigger"]["type"], "schedule");
    // The preview shows the schedule that fires.
    let r = api(
        &dev,
        "GET",
        &format!("/api/workflows/{id}/schedule/preview?count=3"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["fire_times"].as_array().map(Vec::len), Some(3));
    let listed = api(&dev, "GET", "/api/workflows?limit=100", None).json();
    let row = listed["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (&row["trigger_type"], &row["live_trigger_type"]),
        (&json!("endpoint"), &json!("schedule")),
        "{row}"
    );
    assert!(wf["next_run_at"].is_string(), "{wf}");
    assert!(wf.get("endpoint").is_none(), "{wf}");
    // No production URL until the endpoint is deployed; the test URL follows the draft.
    assert!(wf["urls"].get("endpoint").is_none(), "{wf}");
    assert!(wf["urls"]["test"].is_string(), "{wf}");

    // A fire under way when the alarm went records its run and may arm the next slot (the
    // object sets its alarm when a fire ends): lost again until nothing fires.
    let mut n = 0;
    for attempt in 1..=3 {
        lose_alarm(&dev, &id);
        std::thread::sleep(Duration::from_secs(3));
        n = slots(&dev, &id).len();
        std::thread::sleep(Duration::from_secs(4));
        if slots(&dev, &id).len() == n {
            break;
        }
        assert!(attempt < 3, "the alarm could not be lost");
    }
    // Nothing fired without an alarm; after the Cron pass the slots run again. (Which wake
    // arms it is not asserted: under load, an alarm the object's runs set for their retention
    // may wake it first and arm the slot, without the Cron pass's log line.)
    dev.fire_cron();
    eventually(30, "runs again after the Cron pass", || {
        slots(&dev, &id).len() >= n + 2
    });
    assert_unique(&slots(&dev, &id));
    // Undeployed, nothing runs: no live kind.
    let r = api(&dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(workflow(&dev, &id)["live_trigger_type"], Value::Null);
}

/// The object's call of a deploy or undeploy is written to the outbox with the catalog's
/// change: when the API request ends before it is made (fault `catalog-only`, as when the
/// Worker is stopped right after the catalog's write), the Cron pass makes it 15 s later, so a
/// deploy fires and an undeploy stops. (Nothing recorded the call: an undeployed schedule
/// fired on, while its workflow read `draft`.)
#[test]
fn a_deploy_or_undeploy_cut_off_after_the_catalog_reaches_the_object_through_the_outbox() {
    let dev = Dev::start(
        "schedule-catalog-only",
        &[("TRIPLINE_DEV_FAULTS", "catalog-only")],
    );
    let id = create(&dev, &schedule_def("cut off", every(1), "skip"));
    let r = api(&dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 500, "{}", r.text);
    let deployed_at = Instant::now();
    assert_eq!(workflow(&dev, &id)["status"], "deployed");
    let rows = outbox_rows(&dev, &id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "deploy");
    std::thread::sleep(Duration::from_secs(3));
    assert!(slots(&dev, &id).is_empty());

    std::thread::sleep(Duration::from_secs(16).saturating_sub(deployed_at.elapsed()));
    dev.fire_cron();
    eventually(30, "two runs", || slots(&dev, &id).len() >= 2);
    assert!(outbox_rows(&dev, &id).is_empty());

    let r = api(&dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 500, "{}", r.text);
    let undeployed_at = Instant::now();
    assert_eq!(workflow(&dev, &id)["status"], "draft");
    assert_eq!(outbox_rows(&dev, &id)[0]["action"], "undeploy");
    std::thread::sleep(Duration::from_secs(16).saturating_sub(undeployed_at.elapsed()));
    dev.fire_cron();
    eventually(30, "the outbox entry done", || {
        outbox_rows(&dev, &id).is_empty()
    });
    // A fire already under way may still land; after that, none.
    std::thread::sleep(Duration::from_secs(2));
    let settled = slots(&dev, &id).len();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(slots(&dev, &id).len(), settled, "a run after the undeploy");
    assert_unique(&slots(&dev, &id));
}

/// A deployed version this release cannot read (as after a rollback to a release older than one
/// of its fields) is an error when the object arms from the catalog, not "not deployed": the
/// object stays a schedule, each Cron pass tries again, and once the version reads again the
/// schedule fires by itself. (It was disarmed, and the Cron pass's check then passed it by.)
#[test]
fn a_version_this_release_cannot_read_is_tried_again_not_disarmed() {
    let mut dev = Dev::start(
        "schedule-unreadable-version",
        &[("TRIPLINE_DEV_ACTIONS", "1")],
    );
    let id = create_deployed(&dev, &schedule_def("unreadable", every(2), "skip"));
    eventually(30, "a run", || !slots(&dev, &id).is_empty());
    // A field this release does not know, as a later release may have stored.
    let edit = |dev: &mut Dev, sql: &str| {
        dev.kill();
        dev.d1_write(&format!(
            "UPDATE workflow_versions SET definition = {sql} WHERE workflow_id = '{id}'"
        ));
        dev.restart();
    };
    // Its alarm deleted before the restart: an alarm at the restart would parse the version
    // from the object's own copy, which a later release would have written too. Deleted until
    // no slot fires for longer than the schedule's interval (a handler running at the deletion
    // sets it again).
    let mut seen = slots(&dev, &id).len();
    eventually(60, "the alarm deleted", || {
        lose_alarm(&dev, &id);
        std::thread::sleep(Duration::from_secs(4));
        let now = slots(&dev, &id).len();
        let quiet = now == seen;
        seen = now;
        quiet
    });
    edit(&mut dev, "json_set(definition, '$.later_field', 1)");
    dev.fire_cron();
    eventually(30, "the failed arm logged", || {
        dev.logs().contains(&format!(
            "workflow {id}: the deployed definition no longer validates"
        ))
    });
    std::thread::sleep(Duration::from_secs(2));
    let n = slots(&dev, &id).len();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(slots(&dev, &id).len(), n, "nothing fires without an alarm");
    // Readable again: the next Cron pass arms it.
    edit(&mut dev, "json_remove(definition, '$.later_field')");
    dev.fire_cron();
    eventually(30, "runs again", || slots(&dev, &id).len() >= n + 2);
    assert_unique(&slots(&dev, &id));
}

/// A slot whose run its shard had not recorded when the schedule was redeployed (here the
/// shard is full: every create answers 507, and the slots stay pending) is given up with its
/// version, and counted: `skipped_slots` and `last_misfire` (cause `not_recorded`) say so. It
/// vanished from the status before. Meanwhile a wake whose create fails sends no other pending
/// run: one refused create a wake, not one for every pending run.
#[test]
fn a_pending_run_of_a_redeployed_version_counts_as_skipped() {
    let dev = Dev::start(
        "schedule-pending-redeploy",
        &[
            ("RUN_STORAGE_LIMIT_BYTES", "1"),
            // No slot misfires here, however loaded the machine: every skip is a given-up run.
            ("SCHEDULE_MISFIRE_GRACE_SECONDS", "300"),
        ],
    );
    let up = Upstream::start();
    let mut def = schedule_def("pending at redeploy", every(1), "skip");
    def["steps"] = json!([{"type": "http", "name": "ping",
                           "url": up.url("/echo/pending-at-redeploy"), "retries": 0}]);
    let deployed = Instant::now();
    let id = create_deployed(&dev, &def);
    eventually(60, "creates refused as full", || {
        dev.logs().matches("recording the run of").count() >= 2
    });
    // A 1-second schedule wakes at most once a second: 20 s of refusals, each wake's pending
    // runs sent again, would be over a hundred refused creates.
    std::thread::sleep(Duration::from_secs(20));
    let refused = dev.logs().matches("recording the run of").count() as u64;
    let wakes = deployed.elapsed().as_secs() + 2;
    assert!(
        (5..=wakes).contains(&refused),
        "{refused} refused creates in {wakes} s"
    );
    let wf = workflow(&dev, &id);
    assert_eq!(wf["skipped_slots"], 0, "{wf}");
    def["name"] = json!("pending at redeploy, v2");
    redeploy(&dev, &id, &def);
    eventually(60, "the first version's pending runs given up", || {
        workflow(&dev, &id)["last_misfire"]["cause"] == "not_recorded"
    });
    let wf = workflow(&dev, &id);
    assert!(wf["skipped_slots"].as_i64().unwrap() >= 1, "{wf}");
    assert_eq!(wf["last_misfire"]["skipped"], 1, "{wf}");
    assert_eq!(wf["last_misfire"]["policy"], "skip", "{wf}");
    // Nothing ran, and nothing called out.
    assert_eq!(runs(&dev, &id).len(), 0);
    assert!(up.received("/echo/pending-at-redeploy").is_empty());
}

/// Runs their shard could not record (here it is full: every create answers 507) are retried
/// while their slot is at most a minute old (or the misfire grace, if longer); after that their
/// slot has misfired like any other: `skip` gives it up (counted in `skipped_slots`), and
/// `run_once` keeps only the newest, to run late. (They were all retried for an hour and would
/// have run in a burst once the shard took them.)
#[test]
fn pending_runs_older_than_a_minute_follow_the_misfire_policy() {
    let mut dev = Dev::start(
        "schedule-pending-misfire",
        &[
            ("RUN_STORAGE_LIMIT_BYTES", "1"),
            ("SCHEDULE_MISFIRE_GRACE_SECONDS", "2"),
        ],
    );
    let up = Upstream::start();
    let mut ids = Vec::new();
    for policy in ["skip", "run_once"] {
        let mut def = schedule_def(&format!("pending, {policy}"), every(3), policy);
        def["steps"] = json!([{"type": "http", "name": "ping",
                               "url": up.url("/echo/pending-misfire"), "retries": 0}]);
        ids.push((policy, create_deployed(&dev, &def)));
    }
    eventually(150, "slots given up after a minute", || {
        ids.iter().all(|(_, id)| {
            let wf = workflow(&dev, id);
            wf["skipped_slots"].as_i64().unwrap_or(0) >= 3
                && wf["last_misfire"]["cause"] == "not_recorded"
        })
    });
    for (policy, id) in &ids {
        let wf = workflow(&dev, id);
        assert_eq!(wf["last_misfire"]["policy"], *policy, "{wf}");
    }
    let now = now_ms();
    dev.kill();
    let records = dev.objects_query("SELECT value FROM _cf_KV WHERE key = 'schedule'");
    assert_eq!(records.len(), 2, "{records:?}");
    // The pending runs: none older than a minute (with a margin for the wakes' spacing) but,
    // under `run_once`, the newest of those that were, marked late.
    let mut pendings: Vec<Vec<Value>> = records
        .iter()
        .map(|r| {
            let text = r[0].as_str().expect("the record's bytes");
            let record: Value =
                serde_json::from_str(&text[text.find('{').expect("JSON in the record")..]).unwrap();
            record["pending"].as_array().expect("pending runs").clone()
        })
        .collect();
    let age = |p: &Value| now - p["slot_ms"].as_i64().unwrap();
    pendings.sort_by_key(|p| p.iter().filter(|p| p["late"] == true).count());
    let (skip, once) = (&pendings[0], &pendings[1]);
    assert!(
        !skip.is_empty() && skip.iter().all(|p| p["late"] == false && age(p) < 75_000),
        "{skip:?}"
    );
    let late: Vec<&Value> = once.iter().filter(|p| p["late"] == true).collect();
    assert_eq!(late.len(), 1, "{once:?}");
    assert!(age(late[0]) > 60_000, "{once:?}");
    assert!(
        once.iter().all(|p| p["late"] == true || age(p) < 75_000),
        "{once:?}"
    );
    assert!(up.received("/echo/pending-misfire").is_empty());
}
