//! Snoozes: a user the team is already handling stops producing alerts for a while, with a reason.
//!
//! What a snooze holds back and what breaks through (pure decisions; the worker applies them):
//! - held back: new detections, a lower level, a rise that stays at or below the level the user
//!   had when snoozed;
//! - posted, saying who snoozed the user and why: an escalation above that level, a confirmed
//!   compromise, and the end of the risk (it closes pages and tells the team the handling worked).
//!
//! Every snooze, un-snooze and expiry is posted once, so the channel keeps the audit trail; an
//! expiry with the user still at risk is the reminder. The snoozes of a tenant are one stored
//! document (`riskrelay::store::keys::SNOOZES`): a team snoozes a handful of users, not thousands.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::ids::{UserId, UserRef};
use crate::risk::RiskLevel;

/// The longest snooze: a month is long enough to handle anything; a longer silence is an
/// exclusion, which belongs in the configuration where it is reviewed.
pub const MAX: Duration = Duration::days(30);
/// Longest reason kept.
pub const REASON_MAX: usize = 300;
/// The longest user argument: a user principal name is at most 113 characters in Entra, a GUID 36.
pub const USER_MAX: usize = 256;
/// The longest `--by`: a name or a user principal name.
pub const BY_MAX: usize = 128;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snooze {
    pub user: UserRef,
    /// The user's id once known (given, or learnt from the first alert held back).
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// The level the user had when snoozed; an escalation above it breaks through. Learnt from
    /// the first alert about the user when the snooze named a user riskrelay had not seen.
    #[serde(default)]
    pub level: Option<RiskLevel>,
    pub by: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    /// Alerts held back so far.
    #[serde(default)]
    pub held: u32,
    /// Whether the snooze itself has been handed over to be posted.
    #[serde(default)]
    pub announced: bool,
}

/// How a snooze ended, waiting to be posted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ended {
    pub snooze: Snooze,
    /// Who lifted it; `None` when it ran out.
    #[serde(default)]
    pub cleared_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A tenant's snoozes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snoozes {
    #[serde(default)]
    pub active: Vec<Snooze>,
    /// Ended snoozes not yet posted.
    #[serde(default)]
    pub ended: Vec<Ended>,
}

/// Parses `30m`, `12h`, `7d` or `2w`, at most [`MAX`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let expected = "a number followed by m, h, d or w, such as 12h or 7d";
    let unit = s.chars().last().ok_or_else(|| expected.to_string())?;
    let n: i64 = s[..s.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| format!("\"{s}\" is not {expected}"))?;
    let d = match unit {
        'm' => Duration::minutes(n),
        'h' => Duration::hours(n),
        'd' => Duration::days(n),
        'w' => Duration::weeks(n),
        _ => return Err(format!("\"{s}\" is not {expected}")),
    };
    if d <= Duration::ZERO {
        return Err("a snooze must last longer than zero".into());
    }
    if d > MAX {
        return Err(format!(
            "{s} is longer than {} days, the longest snooze; exclude the user (RISKRELAY_EXCLUDE) instead",
            MAX.whole_days()
        ));
    }
    Ok(d)
}

/// A snooze as the command line asks for it, checked.
pub fn new(
    user: &str,
    duration: Duration,
    reason: &str,
    by: &str,
    level: Option<RiskLevel>,
    now: OffsetDateTime,
) -> Result<Snooze, String> {
    if user.chars().count() > USER_MAX {
        return Err(format!("the user is longer than {USER_MAX} characters"));
    }
    let user = UserRef::parse(user).ok_or_else(|| {
        format!(
            "\"{}\" is neither a user principal name (name@domain) nor a user id (GUID)",
            crate::render::escape::terminal(user)
        )
    })?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err("a snooze needs a reason (--reason), so the team knows why".into());
    }
    if reason.chars().count() > REASON_MAX {
        return Err(format!("the reason is longer than {REASON_MAX} characters"));
    }
    if duration > MAX {
        return Err(format!("a snooze lasts at most {} days", MAX.whole_days()));
    }
    let by = by.trim();
    if by.chars().count() > BY_MAX {
        return Err(format!("--by is longer than {BY_MAX} characters"));
    }
    Ok(Snooze {
        user_id: match &user {
            UserRef::Id(id) => Some(*id),
            UserRef::Upn(_) => None,
        },
        user,
        level,
        by: by.to_string(),
        reason: reason.to_string(),
        at: now,
        until: now + duration,
        held: 0,
        announced: false,
    })
}

impl Snooze {
    pub fn names(&self, id: UserId, upn: Option<&str>) -> bool {
        self.user_id == Some(id) || self.user.names(id, upn)
    }

    /// Whether a user at `level` is above the level they were snoozed at. A level without a rank
    /// (hidden, or one Graph added later) is not judged: it counts as above, and is posted. While
    /// the snoozed level is not known yet it is learnt from this alert, so nothing is above it.
    pub fn is_above(&self, level: &RiskLevel) -> bool {
        match (level.rank(), self.level.as_ref().map(RiskLevel::rank)) {
            (Some(l), Some(Some(s))) => l > s,
            (None, _) | (_, Some(None)) => true,
            (Some(_), None) => false,
        }
    }
}

impl Snoozes {
    /// Adds a snooze, replacing any the user already has (the new one is announced).
    pub fn add(&mut self, snooze: Snooze) {
        self.active.retain(|s| s.user != snooze.user);
        self.active.push(snooze);
    }

    /// Lifts the user's snooze; false when the user has none.
    pub fn clear(&mut self, user: &UserRef, by: &str, now: OffsetDateTime) -> bool {
        let Some(i) = self.active.iter().position(|s| {
            &s.user == user || matches!(user, UserRef::Id(id) if s.user_id == Some(*id))
        }) else {
            return false;
        };
        let snooze = self.active.remove(i);
        self.ended.push(Ended {
            snooze,
            cleared_by: Some(by.trim().to_string()),
            at: now,
        });
        true
    }

    /// The running snooze of a user, if any.
    pub fn of(
        &mut self,
        id: UserId,
        upn: Option<&str>,
        now: OffsetDateTime,
    ) -> Option<&mut Snooze> {
        self.active
            .iter_mut()
            .find(|s| s.until > now && s.names(id, upn))
    }

    /// Moves the snoozes that ran out to the ended list.
    pub fn expire(&mut self, now: OffsetDateTime) {
        let (over, running): (Vec<Snooze>, Vec<Snooze>) = std::mem::take(&mut self.active)
            .into_iter()
            .partition(|s| s.until <= now);
        self.active = running;
        self.ended.extend(over.into_iter().map(|snooze| Ended {
            at: snooze.until,
            snooze,
            cleared_by: None,
        }));
    }
}

/// What an alert that broke through a snooze says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnoozedNote {
    pub by: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

impl From<&Snooze> for SnoozedNote {
    fn from(s: &Snooze) -> Self {
        Self {
            by: s.by.clone(),
            reason: s.reason.clone(),
            until: s.until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

    #[test]
    fn durations_and_their_limit() {
        assert_eq!(parse_duration("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_duration("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse_duration("30d"), Ok(MAX));
        for (bad, says) in [
            ("31d", "longer than 30 days"),
            ("5w", "longer than 30 days"),
            ("0h", "longer than zero"),
            ("7", "not a number followed by"),
            ("d", "not a number followed by"),
            ("7y", "not a number followed by"),
            ("", "a number followed by"),
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn a_snooze_needs_a_user_and_a_reason() {
        let ok = new(
            "Ada@Contoso.com",
            Duration::days(7),
            " on it ",
            "alice",
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(ok.user, UserRef::Upn("ada@contoso.com".into()));
        assert_eq!(
            (ok.reason.as_str(), ok.until),
            ("on it", NOW + Duration::days(7))
        );
        for (user, reason, says) in [
            ("ada@contoso.com", "  ", "needs a reason"),
            ("ada", "x", "neither a user principal name"),
        ] {
            let err = new(user, Duration::days(1), reason, "alice", None, NOW).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
        let long = "x".repeat(REASON_MAX + 1);
        assert!(new("ada@contoso.com", Duration::days(1), &long, "a", None, NOW).is_err());
    }

    #[test]
    fn above_the_snoozed_level() {
        let mut s = new("ada@contoso.com", Duration::days(1), "r", "a", None, NOW).unwrap();
        assert!(!s.is_above(&RiskLevel::High), "not known yet: learnt first");
        s.level = Some(RiskLevel::Medium);
        assert!(s.is_above(&RiskLevel::High));
        assert!(!s.is_above(&RiskLevel::Medium) && !s.is_above(&RiskLevel::Low));
        assert!(
            s.is_above(&RiskLevel::Hidden),
            "an unranked level is posted"
        );
    }

    #[test]
    fn re_snoozing_replaces_clearing_and_expiry_move_to_ended() {
        let mut book = Snoozes::default();
        let s =
            |user: &str, days| new(user, Duration::days(days), "r", "alice", None, NOW).unwrap();
        book.add(s("ada@contoso.com", 1));
        book.add(s("ada@contoso.com", 7));
        book.add(s("bob@contoso.com", 2));
        assert_eq!(book.active.len(), 2);
        let id = UserId::parse("6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b").unwrap();
        assert!(book.of(id, Some("ADA@contoso.com"), NOW).is_some());
        assert!(book.clear(&UserRef::Upn("bob@contoso.com".into()), "carol", NOW));
        assert!(!book.clear(&UserRef::Upn("bob@contoso.com".into()), "carol", NOW));
        book.expire(NOW + Duration::days(8));
        assert!(book.active.is_empty());
        let ended: Vec<_> = book
            .ended
            .iter()
            .map(|e| (e.snooze.user.to_string(), e.cleared_by.clone()))
            .collect();
        assert_eq!(
            ended,
            [
                ("bob@contoso.com".to_string(), Some("carol".to_string())),
                ("ada@contoso.com".to_string(), None)
            ]
        );
    }
}
