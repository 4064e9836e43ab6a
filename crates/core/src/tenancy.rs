//! Many tenants from one deployment (the MSP mode): the tenant registry, each tenant's consent
//! state and what it decides, and the admin-consent URL. Pure; `riskrelay::fleet` does the I/O.
//!
//! The registry is one document (definitions only, changed by `riskrelay tenants`), so a poll of
//! one tenant never contends with another's: each tenant's status (consent, last poll, last
//! error) is a document in that tenant's own partition. At about 250 bytes a tenant the registry
//! stays far below DynamoDB's 400 KB item limit for the few hundred tenants an MSP watches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::alert::OperationsNotice;
use crate::config::{ConfigError, Env};
use crate::drift::DriftMode;
use crate::ids::TenantId;

/// Which tenants a deployment watches (`RISKRELAY_TENANTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The one tenant of `RISKRELAY_TENANT_ID`, configured by the environment alone.
    #[default]
    Config,
    /// Every tenant in the registry (`riskrelay tenants add`), each with its own consent.
    Registry,
}

impl Mode {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        env.or(
            "RISKRELAY_TENANTS",
            "config (the one tenant of RISKRELAY_TENANT_ID) or registry (the tenants added with riskrelay tenants add)",
            Self::Config,
            |v| match v.to_ascii_lowercase().as_str() {
                "config" => Ok(Self::Config),
                "registry" => Ok(Self::Registry),
                _ => Err("it must be config or registry"),
            },
        )
    }
}

/// The partition of deployment-wide documents (the registry), which belongs to no tenant.
pub fn deployment() -> TenantId {
    TenantId::from_uuid(uuid::Uuid::nil())
}

/// The registry's document key, in the [`deployment`] partition.
pub const REGISTRY: &str = "tenant-registry";
/// Each tenant's status document, in its own partition.
pub const STATUS: &str = "tenant-status";

/// Longest tenant name: it appears in every message about the tenant.
pub const NAME_MAX: usize = 64;

/// A watched tenant as the operator described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantRecord {
    pub id: TenantId,
    pub name: String,
    /// Destination names (from `RISKRELAY_SINKS`) that are this tenant's own. Empty: the shared
    /// destinations, those no tenant claims.
    #[serde(default)]
    pub sinks: Vec<String>,
    /// The drift guard for this tenant; `None`: the deployment's `RISKRELAY_DRIFT_MODE`.
    #[serde(default)]
    pub drift_mode: Option<DriftMode>,
    /// This tenant's `RISKRELAY_EXCLUDE` list; `None`: the deployment's.
    #[serde(default)]
    pub exclude: Option<String>,
    /// When this tenant's standing summary is posted, as `RISKRELAY_SUMMARY` takes it (checked
    /// when the record is written); `None`: the deployment's schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

impl TenantRecord {
    /// A name fit for every message: one line, bounded, not empty.
    pub fn check_name(name: &str) -> Result<String, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("the tenant name is empty".into());
        }
        if crate::render::escape::has_hidden(name) {
            return Err("the tenant name contains a control, bidi or invisible character".into());
        }
        if name.chars().count() > NAME_MAX {
            return Err(format!(
                "the tenant name is longer than {NAME_MAX} characters"
            ));
        }
        Ok(name.to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    #[serde(default)]
    pub tenants: BTreeMap<TenantId, TenantRecord>,
}

impl Registry {
    /// Destination names some tenant claims as its own: the shared destinations are the rest.
    pub fn claimed_sinks(&self) -> std::collections::BTreeSet<String> {
        self.tenants
            .values()
            .flat_map(|t| t.sinks.iter().map(|s| s.to_ascii_lowercase()))
            .collect()
    }

    /// The destinations of one tenant among those configured: its own when it names any, else
    /// the shared ones. Never another tenant's own destination, so one customer's channel only
    /// ever hears about that customer.
    pub fn sinks_of<'a>(&self, record: &TenantRecord, configured: &'a [String]) -> Vec<&'a str> {
        if record.sinks.is_empty() {
            let claimed = self.claimed_sinks();
            configured
                .iter()
                .filter(|n| !claimed.contains(&n.to_ascii_lowercase()))
                .map(String::as_str)
                .collect()
        } else {
            configured
                .iter()
                .filter(|n| record.sinks.iter().any(|s| s.eq_ignore_ascii_case(n)))
                .map(String::as_str)
                .collect()
        }
    }
}

/// Whether the tenant's administrator has granted riskrelay's app access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Consent {
    /// Added, and no token or Graph call has worked yet.
    #[default]
    Pending,
    /// The last attempt worked.
    Granted,
    /// It worked once and now the token endpoint or Graph refuses: consent was revoked or a
    /// permission removed. Tried again every cycle, alone, until it works.
    Lost,
}

impl Consent {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Granted => "granted",
            Self::Lost => "lost",
        }
    }
}

/// Why a tenant refuses riskrelay, told apart by error code (an AADSTS code of the token
/// endpoint, Graph's `error.code`), never by message text: Microsoft warns that apps reacting to
/// error text "will be broken over time".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Refusal {
    /// The app is not (or no longer) consented: the token endpoint's AADSTS700016, 65001,
    /// 7000112, `unauthorized_client`, or a token Graph no longer takes (401).
    Consent,
    /// Graph says access was denied (403 `Authorization_RequestDenied`, `accessDenied`): a
    /// permission was removed.
    Permission,
    /// Graph says the tenant lacks a licence (403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`,
    /// `NoLicense`): risky users need Microsoft Entra ID P2.
    Licence,
    /// A 403 whose code says neither (`Forbidden`): a licence or a permission is missing.
    Forbidden,
    /// AADSTS90002: the tenant was not found (deleted, or in another cloud).
    TenantNotFound,
    /// AADSTS53003: the tenant's Conditional Access blocks the app.
    ConditionalAccess,
}

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::Permission => "permission",
            Self::Licence => "licence",
            Self::Forbidden => "forbidden",
            Self::TenantNotFound => "tenant not found",
            Self::ConditionalAccess => "conditional access",
        }
    }

    /// Whether Graph itself refused, after the tenant's token endpoint gave a token: the tenant
    /// has consented, whatever else is missing.
    fn after_a_token(self) -> bool {
        matches!(self, Self::Permission | Self::Licence | Self::Forbidden)
    }
}

/// One tenant's state as the scheduler saw it last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    pub consent: Consent,
    /// When the consent state last changed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// The end of the last poll cycle that worked.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_poll: Option<OffsetDateTime>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Why access was lost, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
}

/// How one tenant's job went, as far as its consent is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A poll cycle worked.
    Polled,
    /// Another job (posture, subscriptions) or a token worked.
    Worked,
    /// The token endpoint or Graph refused the app, for this reason (the text says how).
    Refused(Refusal, String),
    /// Something about the deployment, not the tenant (AADSTS500011: Graph's resource is not in
    /// the tenant, which a wrong cloud or Graph root causes for every tenant): consent unchanged.
    Deployment(String),
    /// Anything else (network, throttling, a server error): consent unchanged.
    Failed(String),
}

/// What a change of consent says, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentChange {
    Lost(Refusal, String),
    Restored,
}

impl TenantStatus {
    /// Records an outcome; returns the change to announce, at most one per transition (and one
    /// more when the reason changes while access is lost). A tenant still pending says nothing
    /// when its token is refused: its administrator has not consented yet. Refused by Graph after
    /// a token, it has consented, and what is missing is said.
    pub fn record(&mut self, outcome: &Outcome, now: OffsetDateTime) -> Option<ConsentChange> {
        let before = self.consent;
        let reason_before = self.refusal;
        match outcome {
            Outcome::Polled | Outcome::Worked => {
                self.consent = Consent::Granted;
                self.refusal = None;
                if *outcome == Outcome::Polled {
                    self.last_poll = Some(now);
                }
                self.last_error = None;
            }
            Outcome::Refused(refusal, reason) => {
                if before == Consent::Granted
                    || (before == Consent::Pending && refusal.after_a_token())
                {
                    self.consent = Consent::Lost;
                }
                if self.consent == Consent::Lost {
                    self.refusal = Some(*refusal);
                }
                self.last_error = Some(reason.clone());
            }
            Outcome::Deployment(reason) | Outcome::Failed(reason) => {
                self.last_error = Some(reason.clone())
            }
        }
        if self.consent != before {
            self.since = Some(now);
        }
        match (before, self.consent, outcome) {
            (_, Consent::Lost, Outcome::Refused(refusal, reason))
                if before != Consent::Lost || reason_before != Some(*refusal) =>
            {
                Some(ConsentChange::Lost(*refusal, reason.clone()))
            }
            (Consent::Lost, Consent::Granted, _) => Some(ConsentChange::Restored),
            _ => None,
        }
    }

    /// Whether the tenant is polled in full this cycle; otherwise only its token is tried.
    pub fn is_usable(&self) -> bool {
        self.consent == Consent::Granted
    }
}

/// The operations message for a change of consent. `since` is when the state it leaves began:
/// its key is the same on every attempt to announce one change (delivery records then post it
/// once) and differs for the next change.
pub fn consent_notice(
    record: &TenantRecord,
    change: &ConsentChange,
    since: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> OperationsNotice {
    let stamp = since.map_or(0, OffsetDateTime::unix_timestamp);
    let tenant = format!("Tenant: {} ({})", record.name, record.id);
    let stops =
        "Its alerts stop until access works again; the other tenants are not affected.".to_string();
    match change {
        ConsentChange::Lost(refusal, reason) => {
            let (title, action) = match refusal {
                Refusal::Consent => (
                    "riskrelay lost access to a tenant",
                    "Ask the tenant's administrator to grant consent again (riskrelay tenants consent-url prints the link), or remove the tenant with riskrelay tenants remove.",
                ),
                Refusal::Permission => (
                    "riskrelay lost a permission in a tenant",
                    "A permission riskrelay's app needs was removed in that tenant. Ask its administrator to grant consent again (riskrelay tenants consent-url prints the link): consent grants every permission the app asks for.",
                ),
                Refusal::Licence => (
                    "riskrelay cannot read a tenant's risk: a licence is missing",
                    "The risky-user API needs Microsoft Entra ID P2 (or a suite that includes it) in that tenant. Restore the licence; no new consent is needed, and riskrelay resumes on its own.",
                ),
                Refusal::Forbidden => (
                    "Graph refused riskrelay in a tenant",
                    "Check that the tenant has Microsoft Entra ID P2 (the risky-user API needs it) and that riskrelay's app still holds its permissions there (riskrelay tenants consent-url prints the consent link).",
                ),
                Refusal::TenantNotFound => (
                    "A tenant was not found",
                    "The tenant was deleted, or is in another cloud than RISKRELAY_AUTHORITY_HOST: remove it with riskrelay tenants remove, or check the setting.",
                ),
                Refusal::ConditionalAccess => (
                    "A tenant's Conditional Access blocks riskrelay",
                    "A Conditional Access policy for workload identities in that tenant blocks riskrelay's app. Ask its administrator to exclude the app from the policy.",
                ),
            };
            OperationsNotice {
                key: format!(
                    "consent/{}/lost-{}/{stamp}",
                    record.id,
                    refusal.name().replace(' ', "-")
                ),
                tenant_id: record.id,
                title: title.into(),
                lines: vec![tenant, format!("Refused: {reason}"), stops],
                action: action.into(),
                at: now,
                incident: None,
                resolves: false,
            }
        }
        ConsentChange::Restored => OperationsNotice {
            key: format!("consent/{}/restored/{stamp}", record.id),
            tenant_id: record.id,
            title: "riskrelay has access to a tenant again".into(),
            lines: vec![tenant],
            action: "Nothing to do: its next cycle catches up from where it stopped.".into(),
            at: now,
            incident: None,
            resolves: false,
        },
    }
}

/// A problem every tenant shares, so it is the deployment's: said once to the shared
/// destinations, never as each tenant's lost access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    #[serde(default)]
    pub problem: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
}

/// The deployment status document, in the [`deployment`] partition.
pub const DEPLOYMENT_STATUS: &str = "deployment-status";

impl DeploymentStatus {
    /// Records what one job found across the tenants: `Some(problem)` when it is the
    /// deployment's, `None` when a tenant worked. Returns the notice to post when that changes.
    pub fn record(
        &mut self,
        problem: Option<&str>,
        now: OffsetDateTime,
    ) -> Option<OperationsNotice> {
        let stamp = self.since.map_or(0, OffsetDateTime::unix_timestamp);
        match (problem, &self.problem) {
            (Some(p), None) => {
                self.problem = Some(p.to_string());
                self.since = Some(now);
                Some(OperationsNotice {
                    key: format!("deployment/problem/{}", now.unix_timestamp()),
                    tenant_id: deployment(),
                    title: "riskrelay's setting fails for every tenant".into(),
                    lines: vec![
                        format!("Every tenant answered: {p}"),
                        "No tenant's access was changed: the cause is this deployment's.".into(),
                    ],
                    action: "AADSTS500011 (Graph's resource not found in the tenant) and the same refusal from every tenant usually mean RISKRELAY_GRAPH_ROOT or RISKRELAY_AUTHORITY_HOST names another cloud than the tenants', or the app registration itself changed. Check them.".into(),
                    at: now,
                    incident: None,
                    resolves: false,
                })
            }
            (None, Some(_)) => {
                self.problem = None;
                self.since = Some(now);
                Some(OperationsNotice {
                    key: format!("deployment/resolved/{stamp}"),
                    tenant_id: deployment(),
                    title: "riskrelay's tenants answer again".into(),
                    lines: vec!["The problem every tenant shared is gone.".into()],
                    action: "Nothing to do.".into(),
                    at: now,
                    incident: None,
                    resolves: false,
                })
            }
            _ => None,
        }
    }
}

/// The problem a job's outcomes say is the deployment's, not the tenants': any outcome that is
/// the deployment's by its code, or — with two tenants or more — every tenant refused for the
/// same reason at once (an app registration deleted at home looks, tenant by tenant, like each
/// one revoking consent).
pub fn deployment_problem(outcomes: &[&Outcome]) -> Option<String> {
    if let Some(Outcome::Deployment(p)) = outcomes
        .iter()
        .find(|o| matches!(o, Outcome::Deployment(_)))
    {
        return Some(p.clone());
    }
    let mut refusals = outcomes.iter().map(|o| match o {
        Outcome::Refused(r, text) => Some((*r, text)),
        _ => None,
    });
    let first = refusals.next()??;
    (outcomes.len() >= 2 && refusals.all(|r| r.is_some_and(|(k, _)| k == first.0)))
        .then(|| format!("{} ({})", first.1, first.0.name()))
}

/// The admin-consent URL of Microsoft's identity platform v2.0 for one tenant: its administrator
/// opens it, signs in and grants riskrelay's multi-tenant app the application permissions it
/// was registered with (`{graph root}/.default`), then lands on `redirect`, which must be one of
/// the app's redirect URIs.
pub fn consent_url(
    authority: &url::Url,
    tenant: TenantId,
    client_id: uuid::Uuid,
    graph_root: &url::Url,
    redirect: &url::Url,
) -> url::Url {
    let mut url = authority.clone();
    url.set_path(&format!("/{tenant}/v2.0/adminconsent"));
    url.query_pairs_mut()
        .append_pair("client_id", &client_id.to_string())
        .append_pair(
            "scope",
            &format!("{}/.default", graph_root.as_str().trim_end_matches('/')),
        )
        .append_pair("redirect_uri", redirect.as_str())
        .append_pair("state", &tenant.to_string());
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: u128) -> TenantId {
        TenantId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn record(n: u128, sinks: &[&str]) -> TenantRecord {
        TenantRecord {
            id: t(n),
            name: format!("Tenant {n}"),
            sinks: sinks.iter().map(|s| s.to_string()).collect(),
            drift_mode: None,
            exclude: None,
            summary: None,
            added_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_tenant_gets_its_own_sinks_or_the_shared_ones_never_anothers() {
        let mut reg = Registry::default();
        for r in [
            record(1, &["contoso"]),
            record(2, &[]),
            record(3, &["Fabrikam", "msp"]),
        ] {
            reg.tenants.insert(r.id, r);
        }
        let configured: Vec<String> = ["msp", "contoso", "fabrikam", "oncall"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(reg.sinks_of(&reg.tenants[&t(1)], &configured), ["contoso"]);
        // Shared: neither contoso's nor fabrikam's own; msp is named by tenant 3 too, so it is
        // claimed and not shared.
        assert_eq!(reg.sinks_of(&reg.tenants[&t(2)], &configured), ["oncall"]);
        assert_eq!(
            reg.sinks_of(&reg.tenants[&t(3)], &configured),
            ["msp", "fabrikam"]
        );
    }

    #[test]
    fn consent_is_announced_once_when_lost_and_once_when_back() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut s = TenantStatus::default();
        // Pending and refused: the administrator has not consented yet; nothing to announce.
        assert_eq!(
            s.record(
                &Outcome::Refused(Refusal::Consent, "AADSTS700016".into()),
                now
            ),
            None
        );
        assert_eq!(s.consent, Consent::Pending);
        assert_eq!(s.record(&Outcome::Worked, now), None);
        assert_eq!(s.consent, Consent::Granted);
        assert_eq!(s.last_poll, None, "a posture check is not a poll");
        assert_eq!(s.record(&Outcome::Polled, now), None);
        assert_eq!(s.last_poll, Some(now));
        // A network failure changes nothing about consent, nor does the deployment's problem.
        assert_eq!(s.record(&Outcome::Failed("timeout".into()), now), None);
        assert_eq!(
            s.record(&Outcome::Deployment("AADSTS500011".into()), now),
            None
        );
        assert_eq!(s.consent, Consent::Granted);
        let refused = Outcome::Refused(Refusal::Permission, "403".into());
        let lost = s.record(&refused, now);
        assert_eq!(
            lost,
            Some(ConsentChange::Lost(Refusal::Permission, "403".into()))
        );
        assert!(!s.is_usable());
        assert_eq!(s.record(&refused, now), None);
        // The reason changes while access is lost: said once more, with the new reason.
        let licence = Outcome::Refused(Refusal::Licence, "403 NoLicense".into());
        assert!(matches!(
            s.record(&licence, now),
            Some(ConsentChange::Lost(Refusal::Licence, _))
        ));
        assert_eq!(s.record(&licence, now), None);
        assert_eq!(
            s.record(&Outcome::Worked, now),
            Some(ConsentChange::Restored)
        );
        assert_eq!((s.last_error, s.refusal), (None, None));
    }

    #[test]
    fn a_pending_tenant_refused_by_graph_after_a_token_has_consented_and_is_told() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut s = TenantStatus::default();
        let change = s.record(&Outcome::Refused(Refusal::Licence, "403".into()), now);
        assert!(matches!(
            change,
            Some(ConsentChange::Lost(Refusal::Licence, _))
        ));
        assert_eq!(s.consent, Consent::Lost);
    }

    #[test]
    fn each_refusal_says_its_own_cause_and_a_licence_asks_for_no_consent() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let r = record(1, &[]);
        let text = |refusal| {
            let n = consent_notice(&r, &ConsentChange::Lost(refusal, "x".into()), None, now);
            format!("{} {}", n.title, n.action)
        };
        assert!(
            text(Refusal::Licence).contains("Entra ID P2")
                && text(Refusal::Licence).contains("no new consent")
        );
        assert!(text(Refusal::Consent).contains("grant consent again"));
        assert!(text(Refusal::TenantNotFound).contains("not found"));
        assert!(text(Refusal::ConditionalAccess).contains("Conditional Access"));
        let keys: std::collections::BTreeSet<String> = [
            Refusal::Consent,
            Refusal::Permission,
            Refusal::Licence,
            Refusal::Forbidden,
            Refusal::TenantNotFound,
            Refusal::ConditionalAccess,
        ]
        .into_iter()
        .map(|k| consent_notice(&r, &ConsentChange::Lost(k, "x".into()), None, now).key)
        .collect();
        assert_eq!(keys.len(), 6, "one notice per cause");
    }

    #[test]
    fn the_same_refusal_from_every_tenant_is_the_deployments_problem() {
        let consent = Outcome::Refused(Refusal::Consent, "AADSTS700016".into());
        let polled = Outcome::Polled;
        assert!(deployment_problem(&[&consent, &consent, &consent]).is_some());
        assert_eq!(
            deployment_problem(&[&consent]),
            None,
            "one tenant is one tenant"
        );
        assert_eq!(deployment_problem(&[&consent, &polled]), None);
        let other = Outcome::Refused(Refusal::Licence, "403".into());
        assert_eq!(deployment_problem(&[&consent, &other]), None);
        let wrong_cloud = Outcome::Deployment("AADSTS500011".into());
        assert_eq!(
            deployment_problem(&[&wrong_cloud]).as_deref(),
            Some("AADSTS500011")
        );
        let mut d = DeploymentStatus::default();
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(d.record(Some("AADSTS500011"), now).is_some());
        assert!(d.record(Some("AADSTS500011"), now).is_none(), "said once");
        assert!(
            d.record(None, now)
                .is_some_and(|n| n.title.contains("answer again"))
        );
        assert!(d.record(None, now).is_none());
    }

    #[test]
    fn the_consent_url_names_the_tenant_app_scope_and_redirect() {
        let url = consent_url(
            &url::Url::parse("https://login.microsoftonline.com").unwrap(),
            t(7),
            uuid::Uuid::from_u128(9),
            &url::Url::parse("https://graph.microsoft.com").unwrap(),
            &url::Url::parse("https://riskrelay.example/consent").unwrap(),
        );
        assert_eq!(
            url.as_str(),
            "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000007/v2.0/adminconsent?client_id=00000000-0000-0000-0000-000000000009&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&redirect_uri=https%3A%2F%2Friskrelay.example%2Fconsent&state=00000000-0000-0000-0000-000000000007"
        );
    }

    #[test]
    fn names_are_one_bounded_line() {
        assert_eq!(TenantRecord::check_name("  Contoso  ").unwrap(), "Contoso");
        assert!(TenantRecord::check_name("").is_err());
        assert!(TenantRecord::check_name("a\nb").is_err());
        assert!(TenantRecord::check_name("Contoso\u{202E}lasrever").is_err());
        assert!(TenantRecord::check_name("Con\u{200B}toso").is_err());
        assert!(TenantRecord::check_name(&"x".repeat(NAME_MAX + 1)).is_err());
    }
}
