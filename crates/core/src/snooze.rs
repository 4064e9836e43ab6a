//! Snoozes: a user or workload identity the team is already handling stops producing alerts for a
//! while, with a reason. A workload identity is named `app:<app id or object id>`, as exclusions
//! name it.
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

use crate::ids::{UserId, UserRef, parse_app_ref};
use crate::risk::RiskLevel;
use crate::workload::WorkloadKind;

/// The longest snooze: a month is long enough to handle anything; a longer silence is an
/// exclusion, which belongs in the configuration where it is reviewed.
pub const MAX: Duration = Duration::days(30);
/// Longest reason kept.
pub const REASON_MAX: usize = 300;
/// The longest user argument: a user principal name is at most 113 characters in Entra, a GUID 36.
pub const USER_MAX: usize = 256;
/// What a snooze's subject looks like, for errors.
pub const EXPECTED: &str =
    "a user principal name (name@domain), a user id (GUID) or app:<app id or object id>";

/// Whom a snooze silences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Subject {
    /// A service principal or agent, by its app id or object id (lower case).
    App(String),
    /// Stored as the bare user reference (`{"upn": …}` or `{"id": …}`), the shape snoozes had
    /// before workload identities could be snoozed, so stored snoozes still read.
    #[serde(untagged)]
    User(UserRef),
}

impl Subject {
    /// `app:<id>`, a GUID or `name@domain`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.chars().count() > USER_MAX {
            return None;
        }
        match s.strip_prefix("app:") {
            Some(app) => parse_app_ref(app).map(Self::App),
            None => UserRef::parse(s).map(Self::User),
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(u) => u.fmt(f),
            Self::App(a) => write!(f, "app:{a}"),
        }
    }
}

/// The longest `--by`: a name or a user principal name.
pub const BY_MAX: usize = 128;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snooze {
    /// Stored as `user`, its name before workload identities could be snoozed.
    #[serde(rename = "user")]
    pub subject: Subject,
    /// The user's id once known (given, or learnt from the first alert held back).
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// A workload identity's kind and object id once known (from the alert it was snoozed from,
    /// or learnt from the first alert held back): where the reminder reads whether it is still
    /// at risk, and what names it in messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<(WorkloadKind, String)>,
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
            "{s} is longer than {} days, the longest snooze; exclude it (RISKRELAY_EXCLUDE) instead",
            MAX.whole_days()
        ));
    }
    Ok(d)
}

/// A snooze as the command line asks for it, checked.
pub fn new(
    subject: &str,
    duration: Duration,
    reason: &str,
    by: &str,
    level: Option<RiskLevel>,
    now: OffsetDateTime,
) -> Result<Snooze, String> {
    if subject.chars().count() > USER_MAX {
        return Err(format!("the name is longer than {USER_MAX} characters"));
    }
    let subject = Subject::parse(subject).ok_or_else(|| {
        format!(
            "\"{}\" is not {EXPECTED}",
            crate::render::escape::terminal(subject)
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
        user_id: match &subject {
            Subject::User(UserRef::Id(id)) => Some(*id),
            _ => None,
        },
        workload: None,
        subject,
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
    /// Whether this snoozes the user with that id or user principal name.
    pub fn names(&self, id: UserId, upn: Option<&str>) -> bool {
        match &self.subject {
            Subject::User(u) => self.user_id == Some(id) || u.names(id, upn),
            Subject::App(_) => false,
        }
    }

    /// Whether this snoozes the workload identity with that object id (or app id).
    pub fn names_workload(&self, kind: WorkloadKind, id: &str, app_id: Option<&str>) -> bool {
        let Subject::App(a) = &self.subject else {
            return false;
        };
        self.workload
            .as_ref()
            .is_some_and(|(k, i)| *k == kind && i.eq_ignore_ascii_case(id))
            || a.eq_ignore_ascii_case(id)
            || app_id.is_some_and(|x| a.eq_ignore_ascii_case(x))
    }

    /// What the snoozed subject is, for sentences: "user", "service principal", "agent", or
    /// "workload identity" while riskrelay has not seen which one an `app:` names.
    pub fn noun(&self) -> &'static str {
        match (&self.subject, &self.workload) {
            (Subject::User(_), _) => "user",
            (Subject::App(_), Some((kind, _))) => kind.noun(),
            (Subject::App(_), None) => "workload identity",
        }
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
    /// Adds a snooze, replacing any its subject already has (the new one is announced).
    pub fn add(&mut self, snooze: Snooze) {
        self.active.retain(|s| s.subject != snooze.subject);
        self.active.push(snooze);
    }

    /// Lifts the subject's snooze; false when it has none.
    pub fn clear(&mut self, subject: &Subject, by: &str, now: OffsetDateTime) -> bool {
        let Some(i) = self.active.iter().position(|s| {
            &s.subject == subject
                || match subject {
                    Subject::User(UserRef::Id(id)) => s.user_id == Some(*id),
                    Subject::App(a) => s.workload.as_ref().is_some_and(|(_, i)| i == a),
                    Subject::User(UserRef::Upn(_)) => false,
                }
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

    /// The running snooze of a workload identity, if any.
    pub fn of_workload(
        &mut self,
        kind: WorkloadKind,
        id: &str,
        app_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Option<&mut Snooze> {
        self.active
            .iter_mut()
            .find(|s| s.until > now && s.names_workload(kind, id, app_id))
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
        assert_eq!(
            ok.subject,
            Subject::User(UserRef::Upn("ada@contoso.com".into()))
        );
        assert_eq!(
            (ok.reason.as_str(), ok.until),
            ("on it", NOW + Duration::days(7))
        );
        for (user, reason, says) in [
            ("ada@contoso.com", "  ", "needs a reason"),
            ("ada", "x", "is not a user principal name"),
            ("app:", "x", "or app:<app id or object id>"),
            ("app:has space", "x", "or app:<app id or object id>"),
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
        let bob = Subject::User(UserRef::Upn("bob@contoso.com".into()));
        assert!(book.clear(&bob, "carol", NOW));
        assert!(!book.clear(&bob, "carol", NOW));
        book.expire(NOW + Duration::days(8));
        assert!(book.active.is_empty());
        let ended: Vec<_> = book
            .ended
            .iter()
            .map(|e| (e.snooze.subject.to_string(), e.cleared_by.clone()))
            .collect();
        assert_eq!(
            ended,
            [
                ("bob@contoso.com".to_string(), Some("carol".to_string())),
                ("ada@contoso.com".to_string(), None)
            ]
        );
    }

    #[test]
    fn a_workload_identity_is_snoozed_by_app_id_or_object_id() {
        let mut book = Snoozes::default();
        let s = new(
            "app:APP-1",
            Duration::days(7),
            "rotating",
            "alice",
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(s.subject, Subject::App("app-1".into()));
        assert_eq!(
            (s.to_owned().subject.to_string(), s.noun()),
            ("app:app-1".into(), "workload identity")
        );
        book.add(s);
        let sp = WorkloadKind::ServicePrincipal;
        let id = "0d1c2b3a-4f5e-4d6c-8b7a-695847362514";
        assert!(
            book.of_workload(sp, id, Some("App-1"), NOW).is_some(),
            "by app id"
        );
        assert!(book.of_workload(sp, id, Some("app-2"), NOW).is_none());
        let uid = UserId::parse(id).unwrap();
        assert!(
            book.of(uid, None, NOW).is_none(),
            "a user is never a workload identity"
        );
        // Once seen, the object id names it too, and it is lifted by either name.
        book.active[0].workload = Some((sp, id.to_string()));
        assert_eq!(book.active[0].noun(), "service principal");
        assert!(book.of_workload(sp, id, None, NOW).is_some());
        assert!(
            book.of_workload(WorkloadKind::Agent, id, None, NOW)
                .is_none()
        );
        assert!(book.clear(&Subject::App(id.into()), "bob", NOW));
        assert!(book.active.is_empty());
    }

    #[test]
    fn stored_snoozes_of_users_still_read_and_apps_round_trip() {
        let old = r#"{"user":{"upn":"ada@contoso.com"},"by":"a","reason":"r","at":"2026-11-26T10:00:00Z","until":"2026-11-27T10:00:00Z"}"#;
        let s: Snooze = serde_json::from_str(old).unwrap();
        assert_eq!(
            s.subject,
            Subject::User(UserRef::Upn("ada@contoso.com".into()))
        );
        let app = new("app:sp-9", Duration::days(1), "r", "a", None, NOW).unwrap();
        let json = serde_json::to_value(&app).unwrap();
        assert_eq!(json["user"], serde_json::json!({"app": "sp-9"}));
        assert_eq!(serde_json::from_value::<Snooze>(json).unwrap(), app);
    }
}
