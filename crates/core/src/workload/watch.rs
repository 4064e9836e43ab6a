//! The tenant's watch over workload identities' risk, per kind: how far it has read, and whether
//! Graph lets it read at all. Without the Workload ID Premium licence or the permission, Graph
//! refuses the lists; that is said once as a posture finding (and once when it can read again),
//! tried again hourly, and never fails the users' poll cycle.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::WorkloadKind;
use crate::alert::{AlertKind, PostureAlert};
use crate::ids::TenantId;

/// How long a refused kind rests before it is tried again: a licence or a grant changes on a
/// person's time, and each try costs an identity-protection request.
pub const RETRY_REFUSED_AFTER: time::Duration = time::Duration::hours(1);

/// Why a kind cannot be read, in the words the finding uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Unavailable {
    /// Graph's code says the tenant lacks the licence.
    Licence,
    /// Graph's code says the app lacks the permission (it names it).
    Permission { permission: String },
    /// A 403 whose code says neither.
    Forbidden { permission: String },
    /// The endpoint is not there (a beta API not offered in this cloud).
    NotOffered,
}

impl Unavailable {
    /// Whether someone can fix it here (grant a permission), as against a fact of the tenant or
    /// the cloud (no licence, no endpoint).
    pub fn needs_action(&self) -> bool {
        matches!(self, Self::Permission { .. } | Self::Forbidden { .. })
    }

    pub fn words(&self, kind: WorkloadKind) -> String {
        let licence = match kind {
            WorkloadKind::ServicePrincipal => "Microsoft Entra Workload ID Premium",
            WorkloadKind::Agent => "the licence Entra Agent ID's risk needs",
        };
        match self {
            Self::Licence => format!("Graph says the tenant lacks {licence}"),
            Self::Permission { permission } => {
                format!("Graph says the app lacks the {permission} permission")
            }
            Self::Forbidden { permission } => format!(
                "Graph refused the read (403): the tenant lacks {licence}, or the app lacks {permission}"
            ),
            Self::NotOffered => {
                "Graph does not offer the endpoint here (it is beta, and not in every cloud)".into()
            }
        }
    }

    fn action(&self, kind: WorkloadKind) -> String {
        match self {
            Self::Licence => format!(
                "Nothing to do unless the tenant should have it: then assign the licence; riskrelay tries again every hour. To stop trying, leave {} out of RISKRELAY_WORKLOAD_RISK.",
                kind.name()
            ),
            Self::Permission { permission } | Self::Forbidden { permission } => format!(
                "Grant {permission} (application) to riskrelay's app and consent again, or leave {} out of RISKRELAY_WORKLOAD_RISK; riskrelay tries again every hour.",
                kind.name()
            ),
            Self::NotOffered => format!(
                "Leave {} out of RISKRELAY_WORKLOAD_RISK in this cloud.",
                kind.name()
            ),
        }
    }
}

/// One kind's watch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindWatch {
    /// Everything changed before this (minus the poll's overlap) has been handed on.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub checkpoint: Option<OffsetDateTime>,
    /// Why it cannot be read, since when, and when it was last tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Unavailable>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub tried_at: Option<OffsetDateTime>,
}

/// The `workload-risk` document: one watch per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadWatch {
    #[serde(default)]
    pub kinds: BTreeMap<WorkloadKind, KindWatch>,
}

impl WorkloadWatch {
    /// Whether this cycle reads `kind`: always, unless it was refused less than an hour ago.
    pub fn should_read(&self, kind: WorkloadKind, now: OffsetDateTime) -> bool {
        match self.kinds.get(&kind) {
            Some(KindWatch {
                unavailable: Some(_),
                tried_at: Some(t),
                ..
            }) => now - *t >= RETRY_REFUSED_AFTER,
            _ => true,
        }
    }

    /// A read went through up to `checkpoint`; the finding that it can be read again, when it
    /// could not before.
    pub fn read(
        &mut self,
        tenant: TenantId,
        kind: WorkloadKind,
        checkpoint: OffsetDateTime,
    ) -> Option<PostureAlert> {
        let w = self.kinds.entry(kind).or_default();
        w.checkpoint = Some(checkpoint);
        w.tried_at = Some(checkpoint);
        let was = w.unavailable.take()?;
        Some(finding(tenant, kind, &was, true, checkpoint))
    }

    /// Graph refused the read; the finding when the reason is new (said once, not every cycle).
    pub fn refused(
        &mut self,
        tenant: TenantId,
        kind: WorkloadKind,
        why: Unavailable,
        now: OffsetDateTime,
    ) -> Option<PostureAlert> {
        let w = self.kinds.entry(kind).or_default();
        w.tried_at = Some(now);
        if w.unavailable.as_ref() == Some(&why) {
            return None;
        }
        let alert = finding(tenant, kind, &why, false, now);
        w.unavailable = Some(why);
        Some(alert)
    }

    /// Whether `kind` has been read and was not refused since: the tenant has what its risk
    /// needs (for service principals, Workload ID Premium).
    pub fn readable(&self, kind: WorkloadKind) -> bool {
        self.kinds
            .get(&kind)
            .is_some_and(|w| w.checkpoint.is_some() && w.unavailable.is_none())
    }

    /// Each kind watched in a few words, for `riskrelay status` and the status page:
    /// "service principals: read", "agents: cannot be read (…)".
    pub fn describe(&self) -> Vec<String> {
        self.kinds
            .iter()
            .map(|(k, w)| {
                let plural = format!("{}s", k.noun());
                match (&w.unavailable, w.checkpoint) {
                    (Some(u), _) => format!("{plural}: cannot be read ({})", u.words(*k)),
                    (None, Some(_)) => format!("{plural}: read"),
                    (None, None) => format!("{plural}: not read yet"),
                }
            })
            .collect()
    }
}

fn finding(
    tenant: TenantId,
    kind: WorkloadKind,
    why: &Unavailable,
    resolved: bool,
    at: OffsetDateTime,
) -> PostureAlert {
    let plural = match kind {
        WorkloadKind::ServicePrincipal => "service principals",
        WorkloadKind::Agent => "agents",
    };
    PostureAlert {
        key: format!(
            "posture/{tenant}/workloadRiskUnavailable/{}/{}",
            kind.name(),
            at.unix_timestamp()
        ),
        tenant_id: tenant,
        kind: AlertKind::WorkloadRiskUnavailable,
        title: if resolved {
            format!("Risky {plural} can be read again")
        } else {
            format!("Risky {plural} cannot be read")
        },
        detail: if resolved {
            format!("riskrelay reads ID Protection's risky {plural} again; their alerts resume.")
        } else {
            format!(
                "{}. Users are watched as before; risky {plural} are not.",
                why.words(kind)
            )
        },
        why: format!(
            "An attacker holding a {}'s credential acts without a person's sign-in, MFA or password change; ID Protection's risk is often the only early sign.",
            kind.noun()
        ),
        action: (!resolved).then(|| why.action(kind)),
        resolved,
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_refusal_is_said_once_retried_hourly_and_its_end_said_once() {
        let t = TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap();
        let k = WorkloadKind::ServicePrincipal;
        let t0 = datetime!(2026-12-01 10:00 UTC);
        let mut w = WorkloadWatch::default();
        assert!(w.should_read(k, t0));
        let f = w.refused(t, k, Unavailable::Licence, t0).unwrap();
        assert!(f.detail.contains("Workload ID Premium"), "{}", f.detail);
        assert!(!f.resolved);
        assert!(!w.should_read(k, t0 + time::Duration::minutes(59)));
        assert!(w.should_read(k, t0 + time::Duration::minutes(60)));
        assert_eq!(
            w.refused(t, k, Unavailable::Licence, t0 + time::Duration::hours(1)),
            None
        );
        // A different reason is news.
        let why = Unavailable::Permission {
            permission: "IdentityRiskyServicePrincipal.Read.All".into(),
        };
        assert!(
            w.refused(t, k, why, t0 + time::Duration::hours(2))
                .unwrap()
                .action
                .unwrap()
                .contains("Grant IdentityRiskyServicePrincipal.Read.All")
        );
        assert_eq!(
            w.describe(),
            [
                "service principals: cannot be read (Graph says the app lacks the IdentityRiskyServicePrincipal.Read.All permission)"
            ]
        );
        let back = w.read(t, k, t0 + time::Duration::hours(3)).unwrap();
        assert!(back.resolved);
        assert_eq!(w.read(t, k, t0 + time::Duration::hours(4)), None);
        assert_eq!(w.describe(), ["service principals: read"]);
        // Agents are watched apart.
        assert!(w.should_read(WorkloadKind::Agent, t0));
    }
}
