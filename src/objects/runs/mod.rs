//! Runs live in their workflow's shard objects: `{workflow_id}/{k}` (k in 0..shards) of the
//! same class as the workflow's timer object, each with a `runs` table in its own SQLite, its
//! own executor (alarm-driven) and its own retention. A run's shard is chosen by its dedup key,
//! so deduplication stays inside one object; its id names the workflow and the shard.
//!
//! One exception: a schedule's run whose steps all end inside the object (no `http` step) is
//! created and executed by the timer object itself, in the same storage write as the fire, and
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
pub use tripline_core::kernel::shard::TIMER_SHARD;

/// The shard count of callers that do not hold the definition (a schedule's timer object).
pub const DEFAULT_SHARDS: u8 = 1;

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

/// The shard counts other than `current` in a live version's `earlier_shards` (the JSON array
/// `store::workflows::live_version_since` reads).
/// A count written as `4.0` (stored so by an earlier release) is read as 4: one such count
/// must not hide the others.
pub fn parse_earlier_shards(text: Option<&str>, current: u8) -> Vec<u8> {
    let counts = text
        .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(t).ok())
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
    fn earlier_counts_written_as_floats_are_read() {
        assert_eq!(parse_earlier_shards(Some("[1.0,4]"), 2), vec![1, 4]);
        assert_eq!(parse_earlier_shards(Some("[2,2.0,4]"), 4), vec![2]);
        assert!(parse_earlier_shards(Some("[1.5,0,65,\"x\"]"), 2).is_empty());
        assert!(parse_earlier_shards(None, 2).is_empty());
    }
}
