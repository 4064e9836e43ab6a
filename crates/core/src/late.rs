//! Late detections: what an alert that would list no detection waits for. Pure; the worker does
//! the reads and keeps the book in the store (one document per tenant).
//!
//! A poll window attaches the detections updated inside it, but offline detections surface up
//! to 48 hours late with an older `lastUpdatedDateTime`, so a user can turn risky in the window
//! with their detections outside it. Reading a user's open detections costs one
//! identity-protection request — a second of the tenant's shared budget — so the reads are capped
//! per poll cycle (`RISKRELAY_LATE_DETECTION_READS`) and made *after* the cycle's pages are
//! handed on: the alerts that wait for them are held back in this book until the cycle's last
//! work item (`WorkItem::LateDetections`) asks for them, and a burst's other alerts never wait
//! behind the reads. Past the cap, an alert goes out at once, saying where the detections are.
//!
//! Each cycle's entry says whether its reads have begun ("closed"): an alert of that cycle that
//! arrives later (a queue delivers out of order) is read at once, within what is left of the
//! cycle's cap, instead of waiting for a read that has already run.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::UserId;
use crate::observation::Fetched;

/// How long a cycle's entry is kept: a cycle's work is long done by then, and a waiting user left
/// behind by a crash is taken by any later cycle's reads well before.
const KEEP: time::Duration = time::Duration::hours(24);

/// One poll cycle's late reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cycle {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The cycle's reads have begun: its later alerts are read at once.
    pub closed: bool,
    /// Reads promised from the cycle's cap: waiting, or made.
    pub spent: usize,
    /// Users whose alert waits for the read, with what the poll saw of them.
    #[serde(default)]
    pub waiting: Vec<Fetched>,
}

/// Every tenant's book of late reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LateReads {
    #[serde(default)]
    pub cycles: Vec<Cycle>,
}

/// What happens to one alert that would list no detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Held back until the cycle's reads (its user is in the book).
    Wait,
    /// Read now: the cycle's reads have begun.
    ReadNow,
    /// Sent now, saying where the detections are: the cycle's cap is spent.
    Note,
}

impl LateReads {
    fn cycle(&mut self, id: &str, now: OffsetDateTime) -> &mut Cycle {
        let at = match self.cycles.iter().position(|c| c.id == id) {
            Some(i) => i,
            None => {
                self.cycles.push(Cycle {
                    id: id.to_string(),
                    at: now,
                    closed: false,
                    spent: 0,
                    waiting: Vec::new(),
                });
                self.cycles.len() - 1
            }
        };
        &mut self.cycles[at]
    }

    fn prune(&mut self, now: OffsetDateTime) {
        self.cycles
            .retain(|c| now - c.at < KEEP || !c.waiting.is_empty());
    }

    /// Decides for the users of one cycle whose alert would list no detection, in order: within
    /// the cycle's `cap`, each waits (the cycle's reads have not begun) or is read now (they
    /// have); past it, each goes out with a note. The users who wait are recorded.
    pub fn plan(
        &mut self,
        cycle: &str,
        users: &[Fetched],
        cap: usize,
        now: OffsetDateTime,
    ) -> Vec<Plan> {
        self.prune(now);
        let c = self.cycle(cycle, now);
        users
            .iter()
            .map(|u| {
                if c.waiting.iter().any(|w| w.risky_user.id == u.risky_user.id) {
                    return Plan::Wait;
                }
                if c.spent >= cap {
                    return Plan::Note;
                }
                c.spent += 1;
                if c.closed {
                    Plan::ReadNow
                } else {
                    c.waiting.push(u.clone());
                    Plan::Wait
                }
            })
            .collect()
    }

    /// The cycle's reads begin: later alerts of it are read at once. Returns every user waiting,
    /// of this cycle and of any earlier one left behind.
    pub fn close(&mut self, cycle: &str, now: OffsetDateTime) -> Vec<Fetched> {
        self.prune(now);
        self.cycle(cycle, now).closed = true;
        self.cycles
            .iter()
            .flat_map(|c| c.waiting.iter().cloned())
            .collect()
    }

    /// Forgets the users whose alert went out.
    pub fn done(&mut self, users: &[UserId]) {
        for c in &mut self.cycles {
            c.waiting.retain(|w| !users.contains(&w.risky_user.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 10:00 UTC);

    fn user(n: u128) -> Fetched {
        serde_json::from_value(serde_json::json!({
            "riskyUser": {
                "id": uuid::Uuid::from_u128(n).to_string(),
                "riskLevel": "high", "riskState": "atRisk", "riskDetail": "none",
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_cycle_holds_back_up_to_its_cap_and_notes_the_rest() {
        let mut book = LateReads::default();
        let first: Vec<Fetched> = (1..=3).map(user).collect();
        assert_eq!(book.plan("c1", &first, 4, NOW), [Plan::Wait; 3]);
        // Another page of the same cycle: one left in the cap.
        let second: Vec<Fetched> = (4..=6).map(user).collect();
        assert_eq!(
            book.plan("c1", &second, 4, NOW),
            [Plan::Wait, Plan::Note, Plan::Note]
        );
        // The same user again (a redelivered page) waits once.
        assert_eq!(book.plan("c1", &first[..1], 4, NOW), [Plan::Wait]);
        let waiting = book.close("c1", NOW);
        assert_eq!(waiting.len(), 4);
        book.done(&waiting.iter().map(|w| w.risky_user.id).collect::<Vec<_>>());
        assert!(book.close("c1", NOW).is_empty());
    }

    #[test]
    fn after_the_reads_began_a_late_page_is_read_at_once_within_the_cap() {
        let mut book = LateReads::default();
        assert!(book.close("c1", NOW).is_empty());
        let page: Vec<Fetched> = (1..=3).map(user).collect();
        assert_eq!(
            book.plan("c1", &page, 2, NOW),
            [Plan::ReadNow, Plan::ReadNow, Plan::Note]
        );
        // Another cycle has its own cap.
        assert_eq!(book.plan("c2", &page[..1], 2, NOW), [Plan::Wait]);
    }

    #[test]
    fn users_left_waiting_by_an_earlier_cycle_are_taken_by_the_next_and_old_cycles_go() {
        let mut book = LateReads::default();
        book.plan("c1", &[user(1)], 10, NOW);
        let later = NOW + time::Duration::hours(30);
        let waiting = book.close("c2", later);
        assert_eq!(waiting.len(), 1, "a user waiting is never dropped");
        book.done(&[waiting[0].risky_user.id]);
        book.close("c3", later + time::Duration::hours(25));
        assert_eq!(
            book.cycles
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            ["c3"]
        );
    }
}
