use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
    date(y, mo, d)
        .and_hms_opt(h, mi, s)
        .expect("valid test time")
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid test time")
}

#[test]
fn times_of_day_first_after_is_strict() {
    let t = TimesOfDay::at(hm(9, 30));
    assert_eq!(t.first_after(None), Some(hm(9, 30)));
    assert_eq!(t.first_after(Some(hm(9, 29))), Some(hm(9, 30)));
    assert_eq!(t.first_after(Some(hm(9, 30))), None);
    assert_eq!(
        t.first_after(NaiveTime::from_hms_opt(9, 29, 59)),
        Some(hm(9, 30))
    );
    let h = TimesOfDay::hourly(15);
    assert_eq!(
        h.first_after(NaiveTime::from_hms_opt(10, 15, 1)),
        Some(hm(11, 15))
    );
    assert_eq!(h.first_after(Some(hm(23, 15))), None);
    assert_eq!(h.last_at_or_before(Some(hm(10, 14))), Some(hm(9, 15)));
    assert_eq!(h.last_at_or_before(Some(hm(10, 15))), Some(hm(10, 15)));
    assert_eq!(h.last_at_or_before(Some(hm(0, 14))), None);
    assert_eq!(h.last_at_or_before(None), Some(hm(23, 15)));
}

#[test]
fn every_nth_day_counts_from_anchor_in_both_directions() {
    let days = Days::EveryNth {
        anchor: date(2026, 2, 27),
        every: 3,
    };
    assert_eq!(
        days.first_on_or_after(date(2026, 2, 28)),
        Some(date(2026, 3, 2))
    );
    assert_eq!(
        days.first_on_or_after(date(2026, 3, 2)),
        Some(date(2026, 3, 2))
    );
    assert_eq!(
        days.last_on_or_before(date(2026, 2, 26)),
        Some(date(2026, 2, 24))
    );
    assert!(days.matches(date(2026, 2, 21)));
    assert!(!days.matches(date(2026, 2, 22)));
}

#[test]
fn plan_crosses_month_and_year_ends() {
    let plan = WallClockPlan {
        days: Days::All,
        times: TimesOfDay::at(hm(0, 0)),
        both_passes: false,
    };
    assert_eq!(
        plan.next_after(dt(2026, 12, 31, 0, 0, 0)),
        Some(dt(2027, 1, 1, 0, 0, 0))
    );
    assert_eq!(
        plan.last_at_or_before(dt(2027, 1, 1, 0, 0, 0)),
        Some(dt(2027, 1, 1, 0, 0, 0))
    );
    assert_eq!(
        plan.last_at_or_before(dt(2026, 12, 31, 23, 59, 59)),
        Some(dt(2026, 12, 31, 0, 0, 0))
    );
    assert_eq!(
        plan.first_at_or_after(dt(2027, 1, 1, 0, 0, 0)),
        Some(dt(2027, 1, 1, 0, 0, 0))
    );
}

#[test]
fn cron_days_or_rule_and_month_skip() {
    // "0 0 13 * 5": the 13th OR any Friday (both restricted).
    let or = CronDays {
        months: 0b1_1111_1111_1110,
        days_of_month: 1 << 13,
        days_of_week: 1 << 5,
        dom_star: false,
        dow_star: false,
    };
    assert!(or.matches(date(2026, 1, 13))); // a Tuesday
    assert!(or.matches(date(2026, 1, 2))); // a Friday
    assert!(!or.matches(date(2026, 1, 3)));
    // "0 0 29 2 *": leap days only, found across the 2100 non-leap year.
    let leap = Days::Cron(CronDays {
        months: 1 << 2,
        days_of_month: 1 << 29,
        days_of_week: 0x7f,
        dom_star: false,
        dow_star: true,
    });
    assert_eq!(
        leap.first_on_or_after(date(2097, 1, 1)),
        Some(date(2104, 2, 29))
    );
    assert_eq!(
        leap.last_on_or_before(date(2103, 12, 31)),
        Some(date(2096, 2, 29))
    );
}

#[test]
fn searches_at_the_end_of_time_do_not_panic() {
    let plan = WallClockPlan {
        days: Days::Weekdays(1),
        times: TimesOfDay::at(hm(0, 0)),
        both_passes: false,
    };
    assert_eq!(plan.next_after(NaiveDateTime::MAX), None);
    assert_eq!(plan.last_at_or_before(NaiveDateTime::MIN), None);
    let nth = Days::EveryNth {
        anchor: NaiveDate::MIN,
        every: 365,
    };
    assert_eq!(nth.first_on_or_after(NaiveDate::MAX), None);
}
