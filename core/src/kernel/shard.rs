//! Which shard object of a workflow holds a run: a stable hash of the run's dedup key, so every
//! repeat of a cause reaches the same object and deduplication stays inside one object.

/// The most shards a workflow may spread its runs over.
pub const MAX_SHARDS: u8 = 64;

/// The "shard" of a run held by its workflow's own (timer) object rather than by a shard
/// object: a schedule's run whose steps all end inside the object is created and executed
/// there, in the same storage write as the fire. Outside 0..MAX_SHARDS, so no hash picks it.
pub const TIMER_SHARD: u8 = 255;

/// 64-bit FNV-1a of `bytes` (stable across builds and platforms, unlike the std hasher).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The shard (0..shards) of a run with this dedup key. `shards` outside 1..=64 is clamped.
pub fn shard_for(dedup_key: &str, shards: u8) -> u8 {
    let shards = shards.clamp(1, MAX_SHARDS);
    (fnv1a64(dedup_key.as_bytes()) % u64::from(shards)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn one_shard_is_always_zero_and_keys_spread() {
        assert_eq!(shard_for("anything", 1), 0);
        assert_eq!(shard_for("anything", 0), 0, "0 is clamped to 1");
        let mut seen = [0u32; 4];
        for i in 0..4000 {
            let s = shard_for(&format!("key-{i}"), 4);
            assert!(s < 4);
            seen[s as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
        assert!(shard_for("k", 200) < MAX_SHARDS);
        assert_eq!(shard_for("stable", 16), shard_for("stable", 16));
    }
}
