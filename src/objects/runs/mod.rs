//! Runs live in their workflow's shard objects: `{workflow_id}/{k}` (k in 0..shards) of the
//! same class as the workflow's timer object, each with a `runs` table in its own SQLite, its
//! own executor (alarm-driven) and its own retention. A run's shard is chosen by its dedup key,
//! so deduplication stays inside one object; its id names the workflow and the shard.
//!
//! One exception: a schedule's run whose steps all end inside the object (no `http` step) is
//! created and executed by the timer object itself, right after the fire's storage write, and
//! stays there (its "shard" is `TIMER_SHARD`, see `schedule`). Listing, reading and deleting a
//! workflow's runs ask that object too.

pub mod batch;
pub mod client;
pub mod dev;
pub mod executor;
pub mod handler;
pub mod instance;
pub mod legacy;
pub mod limits;
pub mod schema;
pub mod sealed;
pub mod table;

use tripline_core::definition::Definition;
use tripline_core::kernel::json_parse;
pub use tripline_core::kernel::shard::TIMER_SHARD;

/// The shard count of callers that do not hold the definition (a schedule's timer object).
pub const DEFAULT_SHARDS: u8 = 1;

/// The shard count a run of `trigger` is placed by, in a version of `shards`: endpoint and poll
/// runs spread over them; schedule, OAuth sign-in and replay runs always go to shard 0 (their
/// rate is bounded by the schedule or by people, and a fixed shard keeps the deduplication of a
/// retried slot or callback exact across a redeploy that changes `shards`).
pub fn spread_for(trigger: &str, shards: u8) -> u8 {
    match trigger {
        "endpoint" | "poll" => shards,
        _ => DEFAULT_SHARDS,
    }
}

/// How many shard objects a deployed version spreads its runs over (its `shards` field).
pub fn shards_of(def: &Definition) -> u8 {
    def.shards().max(1)
}

/// The shards a repeat of `dedup_key` must ask before creating its run in `current` (its
/// shard under `shards`): the one it had under each earlier shard count whose runs may still
/// exist (`earlier`), when that is another shard. Empty unless a redeploy changed the count
/// within the retention window, so ingest then makes one extra object call per such count.
pub fn earlier_shards(dedup_key: &str, shards: u8, earlier: &[u8]) -> Vec<u8> {
    use tripline_core::kernel::shard::shard_for;
    let current = shard_for(dedup_key, shards);
    let mut out: Vec<u8> = Vec::new();
    for &n in earlier {
        let k = shard_for(dedup_key, n.max(1));
        if k != current && !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// How long after a version that changed `shards` went live its keyed runs are still created
/// in the shard the previous count gives their key. An isolate reuses the version it read for
/// up to 3 s (`api::endpoint`): a request it serves meanwhile creates the key's run where the
/// previous version puts it, and both isolates must insert into the same object, whose unique
/// dedup index keeps one run. Repeats after this look in the earlier counts' shards first. (A
/// version an isolate keeps using while its object does not answer places no keyed run once
/// read longer ago than this.)
pub const SHARDS_SETTLE_MS: i64 = 10_000;

/// Where a new run of `dedup_key` is created, and the shards to ask for the key first:
/// within `SHARDS_SETTLE_MS` of `live_since_ms` after a change from `previous` shards, the
/// shard that count gives the key (the current count's shard is then asked first); else its
/// shard under `shards`, after the shards of the `earlier` counts. Only while `previous` is one
/// of the `earlier` counts (whose shards a repeat asks while their runs may be kept): a run
/// created in its shard is found by every later repeat, however late the window opens.
pub fn placement(
    dedup_key: &str,
    shards: u8,
    earlier: &[u8],
    previous: Option<u8>,
    live_since_ms: i64,
    now_ms: i64,
) -> (u8, Vec<u8>) {
    use tripline_core::kernel::shard::shard_for;
    match previous.map(|p| p.max(1)) {
        Some(p) if earlier.contains(&p) && now_ms - live_since_ms < SHARDS_SETTLE_MS => {
            let mut counts = earlier.to_vec();
            counts.push(shards);
            (
                shard_for(dedup_key, p),
                earlier_shards(dedup_key, p, &counts),
            )
        }
        _ => (
            shard_for(dedup_key, shards),
            earlier_shards(dedup_key, shards, earlier),
        ),
    }
}

/// How much longer than the retention period an earlier `shards` is looked in (runs finish a
/// while after they are created, and retention deletes in bounded batches).
pub const EARLIER_SHARDS_SLACK_MS: i64 = 2 * 86_400_000;

/// The earlier shard counts a repeat still asks at `now_ms`: those of `earlier` (see
/// [`parse_earlier_shards`]) until `until_ms`, when the runs they placed are past retention, and
/// none after (one object call per keyed request again).
pub fn earlier_in_force(earlier: Option<&str>, current: u8, until_ms: i64, now_ms: i64) -> Vec<u8> {
    if now_ms >= until_ms {
        return Vec::new();
    }
    parse_earlier_shards(earlier, current)
}

/// How a version about to go live, with `shards`, settles a change of `shards`
/// (`previous_shards` and `live_since_ms` of its live record): from what this object served
/// until now (`served`, its live record), since the isolates that still hold a version read it
/// here, whatever D1 says was deployed just before (`catalog_previous`, a deploy whose call
/// never reached this object). The same version armed again keeps its settling as it was, and
/// so does another version of the same count deployed while it settles (a deploy retried, a
/// quick fix): the isolates holding the version before it still place keys by the previous
/// count until its window ends.
pub fn settling(
    served: Option<&serde_json::Value>,
    version: i64,
    shards: f64,
    catalog_previous: Option<f64>,
    now_ms: i64,
) -> (Option<f64>, i64) {
    let Some(served) = served.filter(|s| s["version"].is_i64()) else {
        return (catalog_previous, now_ms);
    };
    if served["version"].as_i64() == Some(version) {
        return (
            served["previous_shards"].as_f64(),
            served["live_since_ms"].as_i64().unwrap_or(now_ms),
        );
    }
    let served_shards = served["definition"]
        .as_str()
        .and_then(|t| json_parse::from_str::<serde_json::Value>(t).ok())
        .map(|d| shards_in(&d));
    let still_settling = served["previous_shards"]
        .as_f64()
        .zip(served["live_since_ms"].as_i64())
        .filter(|(_, since)| now_ms - since < SHARDS_SETTLE_MS);
    match (served_shards, still_settling) {
        (Some(n), Some((previous, since))) if n == shards => (Some(previous), since),
        (Some(n), _) => (Some(n), now_ms),
        (None, _) => (catalog_previous, now_ms),
    }
}

/// A definition's `shards` as its live record keeps it (no `shards`: one).
pub fn shards_in(definition: &serde_json::Value) -> f64 {
    definition["shards"].as_f64().unwrap_or(1.0)
}

/// The shard counts other than `current` in a live version's `earlier_shards` (the JSON array
/// `store::workflows::live_version_since` reads).
/// A count written as `4.0` (stored so by an earlier release) is read as 4: one such count
/// must not hide the others.
pub fn parse_earlier_shards(text: Option<&str>, current: u8) -> Vec<u8> {
    let counts = text
        .and_then(|t| json_parse::from_str::<Vec<serde_json::Value>>(t).ok())
        .unwrap_or_default();
    let mut out: Vec<u8> = Vec::new();
    for n in counts.iter().filter_map(serde_json::Value::as_f64) {
        if n.fract() == 0.0 && (1.0..=64.0).contains(&n) {
            let n = n as u8;
            if n != current && !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// The name of a workflow's shard object `shard` (`TIMER_SHARD`: the timer object).
pub fn shard_name(workflow_id: &str, shard: u8) -> String {
    match shard {
        TIMER_SHARD => workflow_id.to_string(),
        _ => format!("{workflow_id}/{shard}"),
    }
}

/// Every object that may hold runs of a workflow whose versions used at most `shards` shards:
/// its shard objects and its timer object.
pub fn holders(shards: u8) -> impl Iterator<Item = u8> {
    (0..shards.max(1)).chain(std::iter::once(TIMER_SHARD))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripline_core::kernel::shard::shard_for;

    #[test]
    fn the_timer_shard_is_the_workflows_own_object() {
        assert_eq!(shard_name("wf_x", 3), "wf_x/3");
        assert_eq!(shard_name("wf_x", TIMER_SHARD), "wf_x");
        assert_eq!(holders(2).collect::<Vec<_>>(), vec![0, 1, TIMER_SHARD]);
        assert_eq!(holders(0).collect::<Vec<_>>(), vec![0, TIMER_SHARD]);
    }

    #[test]
    fn an_unchanged_count_asks_no_other_shard() {
        assert!(earlier_shards("key-1", 4, &[]).is_empty());
        assert!(earlier_shards("key-1", 4, &[4]).is_empty());
        // Every key lives in shard 0 of a 1-shard workflow, and is asked there after 1 → 4
        // only when its new shard is another one.
        for i in 0..64 {
            let key = format!("key-{i}");
            let asked = earlier_shards(&key, 4, &[1]);
            if shard_for(&key, 4) == 0 {
                assert!(asked.is_empty(), "{key}");
            } else {
                assert_eq!(asked, vec![0], "{key}");
            }
        }
    }

    #[test]
    fn each_earlier_count_is_asked_once_in_the_shard_the_key_had() {
        for i in 0..64 {
            let key = format!("k{i}");
            let asked = earlier_shards(&key, 2, &[1, 4, 4]);
            let now = shard_for(&key, 2);
            assert!(
                !asked.contains(&now),
                "{key}: its current shard is not asked first"
            );
            for n in [1, 4] {
                let had = shard_for(&key, n);
                assert!(had == now || asked.contains(&had), "{key} under {n}");
            }
            let mut unique = asked.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), asked.len());
            assert!(asked.len() <= 2);
        }
    }

    #[test]
    fn right_after_a_change_of_shards_a_key_is_created_where_the_previous_count_puts_it() {
        let deployed = 1_000_000;
        for i in 0..64 {
            let key = format!("key-{i}");
            // 1 → 4: an isolate still on the 1-shard version creates in shard 0; so does the
            // new version until the change settled, having asked the key's 4-shard shard.
            let (create, ask) = placement(&key, 4, &[1], Some(1), deployed, deployed + 2_999);
            assert_eq!(create, 0, "{key}");
            let now = shard_for(&key, 4);
            assert_eq!(ask, if now == 0 { vec![] } else { vec![now] }, "{key}");
            // Settled: the key's shard under 4, after its shard under 1.
            let (create, ask) = placement(&key, 4, &[1], Some(1), deployed, deployed + 10_000);
            assert_eq!((create, ask), (now, earlier_shards(&key, 4, &[1])), "{key}");
            // 4 → 2: the stale isolate's shard is the key's under 4.
            let (create, ask) = placement(&key, 2, &[4], Some(4), deployed, deployed + 500);
            assert_eq!(create, shard_for(&key, 4), "{key}");
            assert!(!ask.contains(&create), "{key}");
            let two = shard_for(&key, 2);
            assert!(two == create || ask.contains(&two), "{key}");
        }
        // A previous count whose runs are no longer kept is not used.
        assert_eq!(
            placement("k", 4, &[], Some(1), deployed, deployed),
            (shard_for("k", 4), vec![])
        );
        // No change of count, or a first version: the current count at once.
        assert_eq!(
            placement("k", 4, &[], Some(4), deployed, deployed),
            (shard_for("k", 4), vec![])
        );
        assert_eq!(
            placement("k", 4, &[], None, deployed, deployed),
            (shard_for("k", 4), vec![])
        );
    }

    #[test]
    fn only_endpoint_and_poll_runs_spread_over_the_shards() {
        assert_eq!(spread_for("endpoint", 8), 8);
        assert_eq!(spread_for("poll", 8), 8);
        for trigger in ["schedule", "oauth", "replay"] {
            assert_eq!(spread_for(trigger, 8), DEFAULT_SHARDS, "{trigger}");
        }
    }

    #[test]
    fn earlier_counts_are_asked_until_their_runs_are_past_retention() {
        assert_eq!(earlier_in_force(Some("[1,4]"), 2, 1_000, 999), vec![1, 4]);
        assert!(earlier_in_force(Some("[1,4]"), 2, 1_000, 1_000).is_empty());
        // A live record kept before the bound was written: asked as before.
        assert_eq!(earlier_in_force(Some("[1]"), 4, i64::MAX, 5), vec![1]);
    }

    #[test]
    fn a_change_of_shards_settles_from_the_version_the_object_served() {
        use serde_json::json;
        let def = |shards: u8| json!({"name": "w", "shards": shards}).to_string();
        // The object served version 1 (1 shard); D1's previous version is 2 (4 shards), whose
        // deploy never reached the object: the settling starts from 1 shard.
        let served = json!({"version": 1, "definition": def(1), "previous_shards": null,
                            "live_since_ms": 10});
        assert_eq!(
            settling(Some(&served), 3, 4.0, Some(4.0), 500),
            (Some(1.0), 500)
        );
        // No `shards`: one.
        let served = json!({"version": 1, "definition": "{\"name\": \"w\"}"});
        assert_eq!(
            settling(Some(&served), 2, 8.0, Some(8.0), 500),
            (Some(1.0), 500)
        );
        // The same version armed again keeps its window.
        let served = json!({"version": 3, "definition": def(4), "previous_shards": 1.0,
                            "live_since_ms": 10});
        assert_eq!(
            settling(Some(&served), 3, 4.0, Some(4.0), 500),
            (Some(1.0), 10)
        );
        // So does another version of the same count deployed within the window (version 2
        // went from 1 shard to 4 at 10; version 3, 4 shards again, at 500); after it, or with
        // another count, the new version settles from the one served.
        let served = json!({"version": 2, "definition": def(4), "previous_shards": 1.0,
                            "live_since_ms": 10});
        assert_eq!(
            settling(Some(&served), 3, 4.0, Some(4.0), 500),
            (Some(1.0), 10)
        );
        let late = SHARDS_SETTLE_MS + 10;
        assert_eq!(
            settling(Some(&served), 3, 4.0, Some(4.0), late),
            (Some(4.0), late)
        );
        assert_eq!(
            settling(Some(&served), 3, 8.0, Some(4.0), 500),
            (Some(4.0), 500)
        );
        // Nothing served (a first arming, or undeployed): what D1 says.
        assert_eq!(settling(None, 3, 4.0, Some(4.0), 500), (Some(4.0), 500));
        let undeployed = json!({"version": null});
        assert_eq!(settling(Some(&undeployed), 3, 1.0, None, 500), (None, 500));
    }

    #[test]
    fn earlier_counts_written_as_floats_are_read() {
        assert_eq!(parse_earlier_shards(Some("[1.0,4]"), 2), vec![1, 4]);
        assert_eq!(parse_earlier_shards(Some("[2,2.0,4]"), 4), vec![2]);
        assert!(parse_earlier_shards(Some("[1.5,0,65,\"x\"]"), 2).is_empty());
        assert!(parse_earlier_shards(None, 2).is_empty());
    }
}
