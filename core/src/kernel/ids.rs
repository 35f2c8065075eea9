//! Identifiers. Workflow ids go into public trigger URLs, so they carry 120 random bits;
//! run ids start with the creation time so that sorting by id is sorting by age.

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// `wf_` + 24 base32 characters from 15 random bytes (120 bits): not guessable.
pub fn new_workflow_id(random: &[u8; 15]) -> String {
    format!("wf_{}", base32(random))
}

fn time_prefix(now_ms: u64) -> String {
    let mut time = String::with_capacity(10);
    for i in (0..10).rev() {
        time.push(ALPHABET[((now_ms >> (i * 5)) & 31) as usize] as char);
    }
    time
}

/// A legacy run id (runs kept in D1): `run_` + 10 characters of creation time (ms,
/// big-endian base32) + 16 random characters.
pub fn new_legacy_run_id(now_ms: u64, random: &[u8; 10]) -> String {
    format!("run_{}{}", time_prefix(now_ms), base32(random))
}

/// A run id that names where the run lives: the legacy form (creation time first, so sorting
/// by id is sorting by age), `_`, the 24-character body of the workflow id and the shard in
/// two base32 characters.
pub fn new_run_id(now_ms: u64, random: &[u8; 10], workflow_id: &WorkflowId, shard: u8) -> String {
    format!(
        "{}_{}{}{}",
        new_legacy_run_id(now_ms, random),
        &workflow_id.as_str()[3..],
        ALPHABET[usize::from(shard >> 5) & 31] as char,
        ALPHABET[usize::from(shard & 31)] as char,
    )
}

const LEGACY_RUN_ID_LEN: usize = 30;
const RUN_ID_LEN: usize = LEGACY_RUN_ID_LEN + 1 + 24 + 2;

/// Where a run lives, read from its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    /// The workflow whose shard object holds the run; `None` for a legacy id (a D1 row).
    pub workflow_id: Option<WorkflowId>,
    pub shard: u8,
}

impl RunRef {
    pub fn is_legacy(&self) -> bool {
        self.workflow_id.is_none()
    }
}

/// A run id, checked for shape.
pub struct RunId;

impl RunId {
    /// Where the run with id `text` lives, if `text` has the shape of a run id (either form).
    pub fn parse(text: &str) -> Option<RunRef> {
        let base32 = |s: &str| s.bytes().all(|b| ALPHABET.contains(&b));
        if !text.is_ascii() || !text.starts_with("run_") {
            return None;
        }
        match text.len() {
            LEGACY_RUN_ID_LEN if base32(&text[4..]) => Some(RunRef {
                workflow_id: None,
                shard: 0,
            }),
            RUN_ID_LEN if base32(&text[4..30]) && &text[30..31] == "_" => {
                let workflow_id = WorkflowId::parse(&format!("wf_{}", &text[31..55]))?;
                let digit = |b: u8| ALPHABET.iter().position(|&a| a == b);
                let (hi, lo) = (digit(text.as_bytes()[55])?, digit(text.as_bytes()[56])?);
                let shard = hi * 32 + lo;
                let known = shard < usize::from(super::shard::MAX_SHARDS)
                    || shard == usize::from(super::shard::TIMER_SHARD);
                known.then_some(RunRef {
                    workflow_id: Some(workflow_id),
                    shard: shard as u8,
                })
            }
            _ => None,
        }
    }
}

/// Whether `s` has the shape of a workflow id (cheap check before touching storage).
pub fn is_workflow_id(s: &str) -> bool {
    s.len() == 27 && s.starts_with("wf_") && s[3..].bytes().all(|b| ALPHABET.contains(&b))
}

/// A workflow id, checked once where it enters (a URL) and carried as this type after.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct WorkflowId(String);

impl WorkflowId {
    /// `text` as a workflow id, if it has the shape of one.
    pub fn parse(text: &str) -> Option<WorkflowId> {
        is_workflow_id(text).then(|| WorkflowId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for WorkflowId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` has the shape of a run id.
pub fn is_run_id(s: &str) -> bool {
    RunId::parse(s).is_some()
}

/// A random token (state, secrets) of `bytes.len() * 8` bits, URL-safe.
pub fn token(bytes: &[u8]) -> String {
    base32(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_ids_have_shape_and_entropy() {
        let a = new_workflow_id(&[0u8; 15]);
        let b = new_workflow_id(&[255u8; 15]);
        assert_eq!(a, "wf_000000000000000000000000");
        assert_eq!(b, "wf_zzzzzzzzzzzzzzzzzzzzzzzz");
        assert!(is_workflow_id(&a) && is_workflow_id(&b));
        assert!(!is_workflow_id("wf_../../etc"));
        assert!(!is_workflow_id("wf_"));
    }

    #[test]
    fn legacy_run_ids_sort_by_time() {
        let r = [7u8; 10];
        let earlier = new_legacy_run_id(1_700_000_000_000, &r);
        let later = new_legacy_run_id(1_700_000_000_001, &[0u8; 10]);
        assert!(earlier < later);
        assert!(is_run_id(&earlier), "{earlier}");
        assert_eq!(earlier.len(), 30);
        assert_eq!(RunId::parse(&earlier).map(|r| r.is_legacy()), Some(true));
    }

    #[test]
    fn run_ids_name_their_workflow_and_shard() {
        let wf = WorkflowId::parse(&new_workflow_id(&[9u8; 15])).unwrap();
        let timer = crate::kernel::shard::TIMER_SHARD;
        for shard in [0u8, 1, 31, 32, 63, timer] {
            let id = new_run_id(1_700_000_000_000, &[3u8; 10], &wf, shard);
            assert_eq!(id.len(), 57, "{id}");
            assert!(is_run_id(&id));
            let r = RunId::parse(&id).unwrap();
            assert_eq!(r.workflow_id.as_ref(), Some(&wf));
            assert_eq!(r.shard, shard);
            assert!(!r.is_legacy());
        }
        let good = new_run_id(1, &[0u8; 10], &wf, 5);
        // Wrong separator, bad workflow body, shard past 63, non-ASCII, wrong lengths.
        assert!(RunId::parse(&good.replacen('_', "-", 2)).is_none());
        assert!(RunId::parse(&format!("{}u5", &good[..55])).is_none());
        assert!(RunId::parse(&format!("{}20", &good[..55])).is_none());
        // 64 and 254: past the last shard, and not the timer's.
        assert!(RunId::parse(&new_run_id(1, &[0u8; 10], &wf, 64)).is_none());
        assert!(RunId::parse(&new_run_id(1, &[0u8; 10], &wf, 254)).is_none());
        assert!(RunId::parse(&format!("{}é", &good[..55])).is_none());
        assert!(RunId::parse(&good[..56]).is_none());
        assert!(RunId::parse("run_").is_none());
    }

    #[test]
    fn sorting_by_id_is_sorting_by_age_across_both_forms() {
        let wf = WorkflowId::parse(&new_workflow_id(&[200u8; 15])).unwrap();
        let mut ids = [
            new_run_id(1_700_000_000_003, &[0u8; 10], &wf, 63),
            new_legacy_run_id(1_700_000_000_002, &[255u8; 10]),
            new_run_id(1_700_000_000_001, &[255u8; 10], &wf, 0),
            new_legacy_run_id(1_700_000_000_000, &[1u8; 10]),
        ];
        let by_age: Vec<String> = ids.iter().rev().cloned().collect();
        ids.sort();
        assert_eq!(ids.to_vec(), by_age);
    }
}

/// The platform's random number generator failed. Nothing that needs randomness (an id, a
/// nonce, an OAuth state, a sign-in link) may be made with fewer or predictable bytes instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomUnavailable(pub String);

impl std::fmt::Display for RandomUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the random number generator failed ({}); nothing was created",
            self.0
        )
    }
}

impl std::error::Error for RandomUnavailable {}

/// `N` bytes from `fill` (the platform's CSPRNG), or `Err` when it fails: fails closed, never
/// hands out the zeroed buffer.
pub fn random_array<const N: usize, E: std::fmt::Display>(
    fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
) -> Result<[u8; N], RandomUnavailable> {
    let mut buf = [0u8; N];
    fill(&mut buf).map_err(|e| RandomUnavailable(e.to_string()))?;
    Ok(buf)
}

#[cfg(test)]
mod random_tests {
    use super::*;

    #[test]
    fn a_failing_random_source_fails_closed() {
        let out = random_array::<32, _>(|_| Err("crypto.getRandomValues threw"));
        let err = out.expect_err("a failed source must not yield bytes");
        assert!(err.to_string().contains("getRandomValues"), "{err}");
        let ok = random_array::<4, &str>(|b| {
            b.copy_from_slice(&[1, 2, 3, 4]);
            Ok(())
        });
        assert_eq!(ok, Ok([1, 2, 3, 4]));
    }
}
