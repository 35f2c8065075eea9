//! Time-zone rules from the platform: `Intl.DateTimeFormat` carries the IANA tz database (ICU's
//! copy, updated with the runtime), so the Worker does not ship its own (docs/size.md).
//! Installed as the zone source of `tripline_core::schedule::zone` by every entry point (the
//! first call wins; the rest are a load of a set `OnceLock`).

use tripline_core::schedule::zone::{install_source, Tz, ZoneSource};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/platform/zone.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = zoneOffset)]
    fn zone_offset(zone: &str, ms: f64) -> Result<f64, JsValue>;
}

/// The JavaScript `Date` range: ±8.64e15 ms around the epoch.
const DATE_LIMIT_SECONDS: i64 = 8_640_000_000_000;

/// The zone rules of the platform's `Intl`.
pub struct IntlZones;

impl ZoneSource for IntlZones {
    fn offset_at(&self, zone: Tz, unix_seconds: i64) -> Option<i32> {
        if unix_seconds.abs() > DATE_LIMIT_SECONDS {
            return None;
        }
        let offset = zone_offset(zone.name(), unix_seconds as f64 * 1000.0).ok()?;
        // Offsets are whole seconds within a day of UTC; anything else is not an answer.
        (offset.fract() == 0.0 && offset.abs() < 86_400.0).then_some(offset as i32)
    }
}

/// Makes the platform's `Intl` the zone rules for this isolate (idempotent, cheap).
pub fn install() {
    let _ = install_source(&IntlZones);
}
