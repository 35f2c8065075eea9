//! Configuration errors met by requests anyone can send (a missing signing or client secret):
//! written to the Worker's log for its administrator, at most once a minute each per isolate.

use super::now_ms;

/// How often one configuration error is written to the log at most, per isolate.
const CONFIG_ERROR_LOG_MS: i64 = 60_000;

thread_local! {
    /// The configuration errors last written to the log, with when (a few at most).
    static CONFIG_ERRORS_LOGGED: std::cell::RefCell<Vec<(String, i64)>> = Default::default();
}

/// Writes a configuration error (a missing secret) to the log, once a minute at most per isolate:
/// the request that meets it comes from anyone, and must not add a log line each time.
pub fn log_config_error(message: &str) {
    let now = now_ms();
    let fresh = CONFIG_ERRORS_LOGGED.with(|m| {
        let mut m = m.borrow_mut();
        m.retain(|(_, at)| now - at < CONFIG_ERROR_LOG_MS);
        if m.iter().any(|(logged, _)| logged == message) {
            return false;
        }
        // Bounded: past that many distinct errors a minute, the oldest is forgotten first.
        if m.len() >= 256 {
            m.remove(0);
        }
        m.push((message.to_string(), now));
        true
    });
    if fresh {
        worker::console_error!("{message}");
    }
}
