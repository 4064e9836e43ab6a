//! The standing summary: once a day (or a week) one message per destination listing who is still
//! at risk, at what level, for how long, whether they can fix it themselves, and who is snoozed.
//! Entra mails a weekly digest; this is the daily view in the team's channel.
//!
//! `RISKRELAY_SUMMARY`: `HH:MM` (every day, UTC), `<weekday> HH:MM` (once a week, such as
//! `mon 08:00`), or `off`. Default: every day at 08:00 UTC. The poll cycle asks for a summary when
//! a scheduled time has passed since the last one; the worker builds and posts it.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, Time, Weekday};

use crate::config::{ConfigError, Env};
use crate::risk::{RiskLevel, RiskState};
use crate::snooze::SnoozedNote;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Off,
    Daily(Time),
    Weekly(Weekday, Time),
}

pub const EXPECTED: &str = "HH:MM (daily, UTC), a weekday and HH:MM such as mon 08:00, or off";

impl Default for Schedule {
    fn default() -> Self {
        Self::Daily(Time::from_hms(8, 0, 0).unwrap_or(Time::MIDNIGHT))
    }
}

fn weekday(s: &str) -> Option<Weekday> {
    use Weekday::*;
    let all = [
        Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
    ];
    let s = s.to_ascii_lowercase();
    all.into_iter()
        .find(|d| s.len() >= 3 && d.to_string().to_ascii_lowercase().starts_with(&s))
}

fn hh_mm(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

impl Schedule {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        env.or("RISKRELAY_SUMMARY", EXPECTED, Self::default(), Self::parse)
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        let parts: Vec<&str> = s.split_whitespace().collect();
        let parsed = match parts.as_slice() {
            [t] => hh_mm(t).map(Self::Daily),
            [d, t] => weekday(d).zip(hh_mm(t)).map(|(d, t)| Self::Weekly(d, t)),
            _ => None,
        };
        parsed.ok_or_else(|| format!("\"{s}\" is not {EXPECTED}"))
    }

    /// The latest scheduled time at or before `now`; `None` when off.
    pub fn last_slot(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let now = now.to_offset(time::UtcOffset::UTC);
        let (time, period, on) = match *self {
            Self::Off => return None,
            Self::Daily(t) => (t, 1, None),
            Self::Weekly(d, t) => (t, 7, Some(d)),
        };
        let mut day = now.date();
        for _ in 0..=period {
            let slot = day.with_time(time).assume_utc();
            if slot <= now && on.is_none_or(|d| day.weekday() == d) {
                return Some(slot);
            }
            day = day.previous_day()?;
        }
        None
    }
}

/// When the last summary was asked for (stored per tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSummary {
    #[serde(with = "time::serde::rfc3339")]
    pub slot: OffsetDateTime,
}

/// Whether a summary is due: a slot passed since the last one. With none recorded (a new
/// deployment), the first summary is the next slot, not one at installation time; the slot to
/// record is returned either way.
pub fn due(
    schedule: Schedule,
    last: Option<&LastSummary>,
    now: OffsetDateTime,
) -> (bool, Option<OffsetDateTime>) {
    let Some(slot) = schedule.last_slot(now) else {
        return (false, None);
    };
    match last {
        Some(l) if l.slot >= slot => (false, None),
        Some(_) => (true, Some(slot)),
        None => (false, Some(slot)),
    }
}

/// One user in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryEntry {
    pub display_name: String,
    pub upn: Option<String>,
    pub level: RiskLevel,
    pub state: RiskState,
    /// Graph's `riskLastUpdatedDateTime`: the last change to the user's risk.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// When the risk episode began, when riskrelay recorded it (see
    /// [`crate::reconcile::UserState::episode_start`]).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub at_risk_since: Option<OffsetDateTime>,
    /// The verdict's headline: whether the user can self-remediate.
    pub remediation: Option<String>,
    #[serde(default)]
    pub snoozed: Option<SnoozedNote>,
}

/// A workload identity still at risk, in the standing summary: listed apart from the users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadEntry {
    pub kind: crate::workload::WorkloadKind,
    pub name: String,
    pub level: RiskLevel,
    pub state: RiskState,
    /// Graph's last change to its risk.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
}

impl WorkloadEntry {
    pub fn of(w: &crate::workload::RiskyWorkload) -> Self {
        Self {
            kind: w.kind,
            name: w.name(),
            level: w.risk_level.clone(),
            state: w.risk_state.clone(),
            since: w.risk_last_updated,
        }
    }
}

/// How long ago, in the largest whole unit: "3 days", "5 hours", "12 minutes".
pub fn age(since: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = now - since;
    let (n, unit) = if d >= Duration::days(1) {
        (d.whole_days(), "day")
    } else if d >= Duration::hours(1) {
        (d.whole_hours(), "hour")
    } else {
        (d.whole_minutes().max(0), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn schedules_parse_and_find_their_last_slot() {
        let now = datetime!(2026-11-26 10:00 UTC); // a Thursday
        let daily = Schedule::parse("08:00").unwrap();
        assert_eq!(daily, Schedule::default());
        assert_eq!(daily.last_slot(now), Some(datetime!(2026-11-26 08:00 UTC)));
        assert_eq!(
            Schedule::parse("9:30")
                .unwrap()
                .last_slot(datetime!(2026-11-26 09:00 UTC)),
            Some(datetime!(2026-11-25 09:30 UTC))
        );
        let weekly = Schedule::parse("Mon 07:15").unwrap();
        assert_eq!(weekly.last_slot(now), Some(datetime!(2026-11-23 07:15 UTC)));
        assert_eq!(
            weekly.last_slot(datetime!(2026-11-23 07:15 UTC)),
            Some(datetime!(2026-11-23 07:15 UTC))
        );
        assert_eq!(Schedule::parse("OFF").unwrap().last_slot(now), None);
        for bad in [
            "25:00",
            "8",
            "daily",
            "mo 08:00",
            "mon 8:0",
            "mon tue 08:00",
        ] {
            assert!(Schedule::parse(bad).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn a_summary_is_due_once_per_slot_and_not_at_installation() {
        let s = Schedule::default();
        let at = |t| LastSummary { slot: t };
        let now = datetime!(2026-11-26 10:00 UTC);
        assert_eq!(
            due(s, None, now),
            (false, Some(datetime!(2026-11-26 08:00 UTC)))
        );
        let last = at(datetime!(2026-11-25 08:00 UTC));
        assert_eq!(
            due(s, Some(&last), now),
            (true, Some(datetime!(2026-11-26 08:00 UTC)))
        );
        let last = at(datetime!(2026-11-26 08:00 UTC));
        assert_eq!(due(s, Some(&last), now), (false, None));
        assert_eq!(due(Schedule::Off, Some(&last), now), (false, None));
    }

    #[test]
    fn ages_read_naturally() {
        let now = datetime!(2026-11-26 10:00 UTC);
        assert_eq!(age(datetime!(2026-11-23 09:00 UTC), now), "3 days");
        assert_eq!(age(datetime!(2026-11-26 09:00 UTC), now), "1 hour");
        assert_eq!(age(datetime!(2026-11-26 09:48 UTC), now), "12 minutes");
    }
}
