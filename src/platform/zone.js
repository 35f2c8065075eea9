// Time-zone rules from the platform's tz database (ICU, behind Intl.DateTimeFormat), for
// src/platform/zone.rs. One formatter per zone, made on first use and kept for the isolate's life.
const formats = new Map();

// The UTC offset of `zone` at `ms` (epoch milliseconds, a whole second), in seconds east of UTC.
// Throws a RangeError for an unknown zone or an instant outside the Date range.
export function zoneOffset(zone, ms) {
  let format = formats.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formats.set(zone, format);
  }
  let era = "AD", year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  for (const { type, value } of format.formatToParts(ms)) {
    switch (type) {
      case "era": era = value; break;
      case "year": year = Number(value); break;
      case "month": month = Number(value); break;
      case "day": day = Number(value); break;
      case "hour": hour = Number(value) % 24; break;
      case "minute": minute = Number(value); break;
      case "second": second = Number(value); break;
    }
  }
  const local = new Date(0);
  local.setUTCFullYear(era === "BC" ? 1 - year : year, month - 1, day);
  local.setUTCHours(hour, minute, second, 0);
  return (local.getTime() - ms) / 1000;
}
