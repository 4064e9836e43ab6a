//! Phase 6, deliver: the alerts and the batch's notices to every destination once
//! (`crate::deliver`), and, in `riskrelay run`, what a destination will not take parked
//! (`crate::parking`) so the rest moves on.

use std::collections::HashSet;

use time::OffsetDateTime;

use super::Worker;
use crate::alert::{Message, UserAlert};
use crate::deliver::Report;
use crate::parking;

/// What the deliver phase hands on.
pub(super) struct Delivered {
    /// Every message of the batch, alerts first.
    pub(super) messages: Vec<Message>,
    pub(super) report: Report,
    /// The keys of messages that did not reach every destination (and were not parked).
    pub(super) failed: HashSet<String>,
    /// (message key, destination) set aside.
    pub(super) parked: Vec<(String, String)>,
}

impl Delivered {
    /// Why `key` did not reach every destination, by destination.
    pub(super) fn failures_of(&self, key: &str) -> super::DeliveryFailures {
        super::DeliveryFailures(
            self.report
                .failures
                .iter()
                .filter(|f| f.keys.iter().any(|k| k == key))
                .map(|f| (f.sink.clone(), f.error.clone()))
                .collect(),
        )
    }
}

impl Worker {
    pub(super) async fn send(
        &self,
        alerts: &[UserAlert],
        workloads: &[crate::workload::WorkloadAlert],
        notices: &[(usize, Message)],
        now: OffsetDateTime,
    ) -> Delivered {
        let mut messages: Vec<Message> = alerts
            .iter()
            .cloned()
            .map(|a| Message::User(Box::new(a)))
            .collect();
        messages.extend(
            workloads
                .iter()
                .cloned()
                .map(|a| Message::Workload(Box::new(a))),
        );
        messages.extend(notices.iter().map(|(_, m)| m.clone()));
        let report = if messages.is_empty() {
            Report::default()
        } else {
            self.delivery.deliver(&messages, now).await
        };
        // A stop fails what it interrupted; that says nothing about the message.
        let (failed, parked) = if self.parking && !crate::http::stopping() {
            self.park(&report, &messages, now).await
        } else {
            (report.failed_keys(), Vec::new())
        };
        Delivered {
            messages,
            report,
            failed,
            parked,
        }
    }

    /// Parks what failed for good or too often; returns the keys still failed, and what was
    /// parked. When the store cannot say, nothing is parked and every failure stands.
    async fn park(
        &self,
        report: &Report,
        messages: &[Message],
        now: OffsetDateTime,
    ) -> (HashSet<String>, Vec<(String, String)>) {
        let failed: Vec<parking::Failed<'_>> = report
            .failures
            .iter()
            .flat_map(|f| {
                f.keys.iter().filter_map(move |k| {
                    messages
                        .iter()
                        .find(|m| m.key() == k)
                        .map(|message| parking::Failed {
                            message,
                            sink: &f.sink,
                            error: &f.error,
                        })
                })
            })
            .collect();
        let settled = match parking::settle(
            self.store.as_ref(),
            self.tenant,
            &failed,
            &report.posted,
            now,
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not update the parked messages; the failures stand");
                return (report.failed_keys(), Vec::new());
            }
        };
        if let Some(notice) = &settled.notice {
            let r = self
                .delivery
                .deliver(std::slice::from_ref(notice), now)
                .await;
            for f in r.failures {
                tracing::error!(sink = %f.sink, error = %f.error, "the notice about parked messages did not reach this destination");
            }
        }
        let parked: HashSet<(&str, &str)> = settled
            .parked
            .iter()
            .map(|(k, s)| (k.as_str(), s.as_str()))
            .collect();
        let still: HashSet<String> = report
            .failures
            .iter()
            .flat_map(|f| f.keys.iter().map(move |k| (k, f.sink.as_str())))
            .filter(|(k, sink)| !parked.contains(&(k.as_str(), *sink)))
            .map(|(k, _)| k.clone())
            .collect();
        for (_, sink) in &settled.parked {
            crate::metrics::global().alerts(sink, crate::metrics::Outcome::Parked, 1);
        }
        (still, settled.parked)
    }
}
