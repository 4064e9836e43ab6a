//! The dead-man message: when no poll of a tenant has succeeded for a while, riskrelay cannot see
//! risk change there, and a team that hears nothing believes nothing happened. One operations
//! message says so when failures have lasted `RISKRELAY_STALE_AFTER_MINUTES`, and one more when a
//! poll succeeds again; the state between them is stored, so a restart repeats neither.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::alert::OperationsNotice;
use crate::config::{ConfigError, Env};
use crate::ids::TenantId;

/// How long polls may fail before the team is told, unless `RISKRELAY_STALE_AFTER_MINUTES` says
/// otherwise: a few missed cycles at the default 5-minute interval, not one blip.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(30 * 60);

/// The last error as the message quotes it: scrubbed, one line, at most this many characters.
const ERROR_CHARS: usize = 300;

pub fn stale_after(env: &Env) -> Result<Duration, ConfigError> {
    env.or(
        "RISKRELAY_STALE_AFTER_MINUTES",
        "whole minutes, 5 to 1440",
        DEFAULT_STALE_AFTER,
        crate::config::minutes(5..=1440),
    )
}

/// A tenant's run of failed polls, while there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollHealth {
    /// The first failed poll since the last one that worked.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    /// The last failure's error, scrubbed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the team was told, while the failures last.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub told_at: Option<OffsetDateTime>,
}

/// Whom the message is about.
#[derive(Debug, Clone, Copy)]
pub struct Tenant<'a> {
    pub id: TenantId,
    /// Its registered name (many tenants), if any.
    pub name: Option<&'a str>,
}

impl Tenant<'_> {
    fn line(&self) -> String {
        match self.name {
            Some(n) => format!("Tenant: {n} ({})", self.id),
            None => format!("Tenant: {}", self.id),
        }
    }
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

impl PollHealth {
    /// A poll ended, with `error` when it failed. `last_success` is when the last poll that worked
    /// began (the checkpoint). Returns the message to send now, if any: the caller keeps the new
    /// state only once it is sent, so that a message that did not go out is tried again.
    pub fn record(
        &mut self,
        tenant: Tenant<'_>,
        error: Option<&str>,
        last_success: Option<OffsetDateTime>,
        now: OffsetDateTime,
        stale_after: Duration,
    ) -> Option<OperationsNotice> {
        let incident = format!("poll-stale/{}", tenant.id);
        let Some(error) = error else {
            let before = std::mem::take(self);
            // Only a stall the team was told of is said to be over.
            let (Some(since), Some(_)) = (before.failing_since, before.told_at) else {
                return None;
            };
            let from = last_success.filter(|l| *l < since).unwrap_or(since);
            return Some(OperationsNotice {
                key: format!("poll-recovered/{}/{}", tenant.id, since.unix_timestamp()),
                tenant_id: tenant.id,
                title: "riskrelay: polls succeed again".into(),
                lines: vec![
                    tenant.line(),
                    format!(
                        "Polls failed from {} until this one ({} minutes without a successful poll).",
                        stamp(since),
                        (now - from).whole_minutes()
                    ),
                ],
                action: "Nothing to do: this poll read everything that changed since the last one that worked, and its alerts follow.".into(),
                at: now,
                incident: Some(incident),
                resolves: true,
            });
        };
        let since = *self.failing_since.get_or_insert(now);
        self.last_error = Some(crate::redact::excerpt(error, ERROR_CHARS));
        if self.told_at.is_some() || now - since < stale_after {
            return None;
        }
        self.told_at = Some(now);
        let from = last_success.filter(|l| *l < since).unwrap_or(since);
        Some(OperationsNotice {
            key: format!("poll-stale/{}/{}", tenant.id, since.unix_timestamp()),
            tenant_id: tenant.id,
            title: format!(
                "riskrelay: no successful poll for {} minutes",
                (now - from).whole_minutes()
            ),
            lines: vec![
                tenant.line(),
                match last_success {
                    Some(l) => format!("Last successful poll: {}", stamp(l)),
                    None => "No successful poll is recorded.".into(),
                },
                format!("Failing since: {}", stamp(since)),
                format!(
                    "Last error: {}",
                    self.last_error.as_deref().unwrap_or_default()
                ),
            ],
            action: "Until a poll succeeds riskrelay cannot see risk change in this tenant, so no news is not good news. Check riskrelay's log and its access (riskrelay check). Nothing is lost: the first poll that works reads everything since the last one, and a message here says when.".into(),
            at: now,
            incident: Some(incident),
            resolves: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_secs(30 * 60);

    fn tenant() -> Tenant<'static> {
        Tenant {
            id: TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap(),
            name: Some("Contoso"),
        }
    }

    fn t(minutes: i64) -> OffsetDateTime {
        time::macros::datetime!(2026-12-01 09:00 UTC) + time::Duration::minutes(minutes)
    }

    /// Polls every 5 minutes from `from` to `to` (minutes), each failing or not; the messages.
    fn polls(
        h: &mut PollHealth,
        from: i64,
        to: i64,
        fail: bool,
        last_success: Option<OffsetDateTime>,
    ) -> Vec<OperationsNotice> {
        (from..=to)
            .step_by(5)
            .filter_map(|m| {
                h.record(
                    tenant(),
                    fail.then_some("Graph answered 503"),
                    last_success,
                    t(m),
                    AFTER,
                )
            })
            .collect()
    }

    #[test]
    fn hours_of_failures_say_so_once_and_the_first_success_once_more() {
        let mut h = PollHealth::default();
        assert!(polls(&mut h, 0, 0, false, None).is_empty());
        let stale = polls(&mut h, 5, 240, true, Some(t(0)));
        assert_eq!(stale.len(), 1, "{stale:#?}");
        let s = &stale[0];
        assert_eq!(s.at, t(35), "told once failures lasted 30 minutes");
        assert_eq!(s.title, "riskrelay: no successful poll for 35 minutes");
        assert!(
            s.lines
                .iter()
                .any(|l| l == "Tenant: Contoso (11111111-2222-3333-4444-555555555555)")
        );
        assert!(
            s.lines
                .iter()
                .any(|l| l == "Last error: Graph answered 503")
        );
        assert_eq!(
            s.incident.as_deref(),
            Some("poll-stale/11111111-2222-3333-4444-555555555555")
        );
        assert!(!s.resolves);

        let back = polls(&mut h, 245, 300, false, Some(t(245)));
        assert_eq!(back.len(), 1, "{back:#?}");
        assert!(back[0].resolves);
        assert_eq!(back[0].incident, s.incident);
        assert_ne!(back[0].key, s.key);
        assert_eq!(h, PollHealth::default(), "nothing left to store");
    }

    #[test]
    fn failures_shorter_than_the_threshold_say_nothing_either_way() {
        let mut h = PollHealth::default();
        assert!(polls(&mut h, 0, 25, true, None).is_empty());
        assert!(polls(&mut h, 30, 30, false, Some(t(30))).is_empty());
        assert_eq!(h, PollHealth::default());
    }

    #[test]
    fn the_stored_state_carries_over_a_restart_and_the_key_is_stable() {
        let mut h = PollHealth::default();
        polls(&mut h, 0, 30, true, None);
        let stored = serde_json::to_string(&h).unwrap();
        let mut again: PollHealth = serde_json::from_str(&stored).unwrap();
        assert!(
            polls(&mut again, 35, 120, true, None).is_empty(),
            "told before the restart"
        );

        // A message that did not go out is recomposed with the same key next time.
        let mut first = PollHealth::default();
        polls(&mut first, 0, 25, true, None);
        let mut retry = first.clone();
        let a = first
            .record(tenant(), Some("x"), None, t(30), AFTER)
            .unwrap();
        let b = retry
            .record(tenant(), Some("y"), None, t(35), AFTER)
            .unwrap();
        assert_eq!(a.key, b.key);
    }

    #[test]
    fn the_quoted_error_is_scrubbed_and_one_line() {
        crate::redact::hold("whsec_pollhealthsecret0123456789");
        let mut h = PollHealth::default();
        h.record(
            tenant(),
            Some("boom\nwhsec_pollhealthsecret0123456789"),
            None,
            t(0),
            AFTER,
        );
        let n = h
            .record(
                tenant(),
                Some("boom\nwhsec_pollhealthsecret0123456789"),
                None,
                t(30),
                AFTER,
            )
            .unwrap();
        let text = n.lines.join("\n");
        assert!(!text.contains("pollhealthsecret"), "{text}");
        assert!(!n.lines[3].contains('\n'));
    }
}
