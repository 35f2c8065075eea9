//! Schedule workflows in the management API: the fire-time preview, and the schedule fields of
//! `GET /api/workflows/{id}` (`next_run_at`, `last_run_at`, `skipped_slots`, `last_misfire`).

use crate::store::workflows::WorkflowStatus;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Map, Value};
use tripline_core::kernel::ids::WorkflowId;
use tripline_core::kernel::json_parse;
use worker::{Env, Request};

use super::catalog::load;
use super::problem::{ApiError, ApiResult};
use super::reply::json_response;
use super::request::{query_pairs, query_param};
use crate::platform::now_ms;
use crate::store::workflows::WorkflowRow;
use tripline_core::definition::{Definition, Trigger, TriggerKind};
use tripline_core::kernel::time::{
    from_millis, iso_millis, parse_millis, parse_query_instant, writable, LAST_WRITABLE_MS,
};
use tripline_core::schedule::preview::parse_preview_query;
use tripline_core::schedule::timer::projected_next;
use tripline_core::schedule::zone::{offset_changes, Tz};

/// `GET /api/workflows/{id}/schedule/preview?count=N[&after=…]`: the next N fire times of the
/// draft's schedule (the draft, so a change can be checked before it is deployed); of the
/// deployed one while the draft has another trigger.
pub async fn preview(req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let row = load(env, id).await?;
    let q = query_pairs(&req);
    let (count, after) = parse_preview_query(query_param(&q, "count"), query_param(&q, "after"))
        .map_err(|(location, message)| ApiError::field(location, message))?;
    let draft: Value = json_parse::from_str(&row.draft).unwrap_or(Value::Null);
    let definition = Definition::parse(&draft).map_err(|errors| {
        ApiError::new(
            409,
            "Conflict",
            "the workflow's draft no longer validates; fix it with PUT before previewing",
        )
        .with_errors(errors)
    })?;
    // The deployed schedule: the one that fires while the draft has another trigger, and the
    // one whose days a draft of the same schedule goes on counting from.
    // (Read only when needed: a draft's schedule that does not count days is its own answer.)
    let needs_live = match &definition.trigger {
        Trigger::Schedule(t) => t.counts_days(),
        _ => true,
    };
    let deployed = match (row.live(), row.deployed_version) {
        (Some(TriggerKind::Schedule), Some(version))
            if needs_live && row.status == WorkflowStatus::Deployed =>
        {
            crate::engine::version(&crate::store::db(env)?, id.as_str(), version)
                .await?
                .ok()
        }
        _ => None,
    };
    let live = match deployed.as_deref().map(|d| &d.trigger) {
        Some(Trigger::Schedule(t)) => Some(t),
        _ => None,
    };
    let trigger = match (&definition.trigger, live) {
        (Trigger::Schedule(t), _) => t,
        (_, Some(t)) => t,
        _ => match &definition.trigger {
            Trigger::Schedule(t) => t,
            _ => {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!(
                        "workflow {id} is started by its `{}` trigger; only `schedule` workflows have fire times to preview",
                        definition.trigger.kind()
                    ),
                ))
            }
        },
    };
    let now = now_ms();
    // `daily` with `every > 1` counts days from its anchor: the live schedule's (the workflow's
    // object keeps it; the deploy date should it not answer) while the schedule and zone
    // previewed are the live ones, as a deploy keeps it; else today (a deploy now).
    let anchor = match live {
        // Only a schedule that counts days reads it (`keeps_anchor_of`).
        Some(l) if trigger.keeps_anchor_of(l) => {
            let kept = match crate::objects::status(env, &row.id).await {
                Ok(status) => status["schedule"]["anchor_ms"]
                    .as_i64()
                    .filter(|_| status["schedule"]["version"].as_i64() == row.deployed_version),
                Err(e) => {
                    worker::console_error!("schedule preview {id}: reading the anchor: {e}");
                    None
                }
            };
            kept.or_else(|| row.deployed_at.as_deref().and_then(parse_millis))
                .unwrap_or(now)
        }
        _ => now,
    };
    let after = after.unwrap_or_else(|| from_millis(now));
    let fire_times = trigger.preview(after, from_millis(anchor), count);
    json_response(
        200,
        &json!({
            "timezone": trigger.timezone.name(),
            "after": iso_millis(after.timestamp_millis()),
            "fire_times": fire_times,
        }),
    )
}

/// Adds the schedule fields to a workflow resource, from what the workflow's object keeps
/// (`objects::status`).
pub async fn add_status(env: &Env, row: &WorkflowRow, resource: &mut Value) -> ApiResult<()> {
    let status = crate::objects::status(env, &row.id)
        .await
        .map_err(ApiError::object_unavailable)?;
    let s = &status["schedule"];
    let Some(obj) = resource.as_object_mut() else {
        return Ok(());
    };
    let deployed = row.status == WorkflowStatus::Deployed;
    // Only a slot armed for the live version counts.
    let next = s["next_ms"]
        .as_i64()
        .filter(|_| deployed && s["version"].as_i64() == row.deployed_version)
        .map(|next_ms| iso_millis(projected_next(next_ms, s["interval_ms"].as_i64(), now_ms())));
    let mut fields = Map::new();
    fields.insert("next_run_at".into(), json!(next));
    fields.insert("last_run_at".into(), s["last_run_at"].clone());
    fields.insert(
        "skipped_slots".into(),
        json!(s["skipped_slots"].as_i64().unwrap_or(0)),
    );
    fields.insert("last_misfire".into(), s["last_misfire"].clone());
    obj.extend(fields);
    Ok(())
}

/// The longest window `GET /api/timezones` answers for one zone, and for every zone (each zone
/// costs about four `Intl` calls per day of window).
const TIMEZONES_MAX_DAYS: i64 = 3660;
const TIMEZONES_ALL_MAX_DAYS: i64 = 31;

/// `GET /api/timezones[?zone=…][&from=…][&to=…]`: the time zones schedules accept and, for each
/// (or the one named), its UTC offset at `from` (default now) and every change of it up to `to`
/// (one zone: default `from` + 366 days, at most 3660; every zone: default and at most 31 days;
/// a later `to` is cut to that, one before `from` gives an empty window),
/// from the zone rules the Worker uses (the platform's `Intl`).
pub async fn timezones(req: Request) -> ApiResult {
    let q = query_pairs(&req);
    let instant = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        query_param(&q, name)
            .map(|s| {
                parse_query_instant(s)
                    .map(|t| t.timestamp_millis())
                    .filter(|ms| writable(*ms))
                    .map(from_millis)
                    .ok_or_else(|| {
                        ApiError::field(
                            &format!("query.{name}"),
                            format!(
                                "`{s}` is not an RFC 3339 instant within the years 0000 to 9999 in UTC"
                            ),
                        )
                    })
            })
            .transpose()
    };
    let zones: Vec<Tz> = match query_param(&q, "zone") {
        Some(name) => vec![Tz::from_name(name)
            .ok_or_else(|| ApiError::field("query.zone", format!("unknown time zone `{name}`")))?],
        None => Tz::all().collect(),
    };
    let (default_days, max_days) = if zones.len() == 1 {
        (366, TIMEZONES_MAX_DAYS)
    } else {
        (TIMEZONES_ALL_MAX_DAYS, TIMEZONES_ALL_MAX_DAYS)
    };
    let from = instant("from")?.unwrap_or_else(|| from_millis(now_ms()));
    // Any `to` is answered: one past the longest window is cut to it, one before `from` is an
    // empty window (every date-time the document admits is a valid request).
    let after = |days: i64| {
        from.checked_add_signed(TimeDelta::days(days))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    // Nor past the last instant RFC 3339 can write: every instant answered can be sent back.
    let to = instant("to")?
        .unwrap_or_else(|| after(default_days))
        .min(after(max_days))
        .min(from_millis(LAST_WRITABLE_MS))
        .max(from);
    let mut out = Vec::with_capacity(zones.len());
    for tz in zones {
        let (offset, changes) = offset_changes(tz, from, to).ok_or_else(|| {
            ApiError::internal(format!("no offset for {} in the window", tz.name()))
        })?;
        let changes: Vec<Value> = changes
            .iter()
            .map(|c| json!({"at": iso_millis(c.at.timestamp_millis()), "offset_seconds": c.offset}))
            .collect();
        out.push(json!({"name": tz.name(), "offset_seconds": offset, "changes": changes}));
    }
    json_response(
        200,
        &json!({
            "from": iso_millis(from.timestamp_millis()),
            "to": iso_millis(to.timestamp_millis()),
            "zones": out,
        }),
    )
}
