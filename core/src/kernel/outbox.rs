//! When the Cron pass tries a failed deploy or undeploy call to a workflow's object again (the
//! `arm_outbox` table): a minute after the first failure, then doubling, at most an hour apart.

/// The first retry's delay, and the longest.
pub const FIRST_RETRY_MS: i64 = 60_000;
pub const MAX_RETRY_MS: i64 = 3_600_000;

/// The delay before the next try, after `attempts` failed tries by the Cron pass.
pub fn retry_delay_ms(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(10);
    (FIRST_RETRY_MS << doublings).min(MAX_RETRY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_a_minute_to_an_hour() {
        assert_eq!(retry_delay_ms(0), 60_000);
        assert_eq!(retry_delay_ms(1), 60_000);
        assert_eq!(retry_delay_ms(2), 120_000);
        assert_eq!(retry_delay_ms(3), 240_000);
        assert_eq!(retry_delay_ms(6), 1_920_000);
        assert_eq!(retry_delay_ms(7), MAX_RETRY_MS);
        assert_eq!(retry_delay_ms(u32::MAX), MAX_RETRY_MS);
    }
}
