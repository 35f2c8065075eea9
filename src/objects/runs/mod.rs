//! Runs live in their workflow's shard objects: `{workflow_id}/{k}` (k in 0..shards) of the
//! same class as the workflow's timer object, each with a `runs` table in its own SQLite, its
//! own executor (alarm-driven) and its own retention. A run's shard is chosen by its dedup key,
//! so deduplication stays inside one object; its id names the workflow and the shard.

pub mod batch;
pub mod client;
pub mod executor;
pub mod handler;
pub mod instance;
pub mod legacy;
pub mod limits;
pub mod schema;
pub mod sealed;
pub mod table;

use tripline_core::definition::Definition;

/// The shard count of callers that do not hold the definition (a schedule's timer object).
pub const DEFAULT_SHARDS: u8 = 1;

/// How many shard objects a deployed version spreads its runs over.
pub fn shards_of(_def: &Definition) -> u8 {
    1
}

/// The name of a workflow's shard object `shard`.
pub fn shard_name(workflow_id: &str, shard: u8) -> String {
    format!("{workflow_id}/{shard}")
}
