//! Many tenants from one deployment (the MSP mode): the tenant registry, each tenant's consent
//! state and what it decides, and the admin-consent URL. Pure; [`crate::fleet`] does the I/O.
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
}

/// How one tenant's job went, as far as its consent is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A poll cycle worked.
    Polled,
    /// Another job (posture, subscriptions) or a token worked.
    Worked,
    /// The token endpoint or Graph refused the app (consent revoked, a permission removed).
    Refused(String),
    /// Anything else (network, throttling, a server error): consent unchanged.
    Failed(String),
}

/// What a change of consent says, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentChange {
    Lost(String),
    Restored,
}

impl TenantStatus {
    /// Records an outcome; returns the change to announce, at most one per transition. A tenant
    /// still pending says nothing when refused: its administrator has not consented yet.
    pub fn record(&mut self, outcome: &Outcome, now: OffsetDateTime) -> Option<ConsentChange> {
        let before = self.consent;
        match outcome {
            Outcome::Polled | Outcome::Worked => {
                self.consent = Consent::Granted;
                if *outcome == Outcome::Polled {
                    self.last_poll = Some(now);
                }
                self.last_error = None;
            }
            Outcome::Refused(reason) => {
                if before == Consent::Granted {
                    self.consent = Consent::Lost;
                }
                self.last_error = Some(reason.clone());
            }
            Outcome::Failed(reason) => self.last_error = Some(reason.clone()),
        }
        if self.consent != before {
            self.since = Some(now);
        }
        match (before, self.consent, outcome) {
            (Consent::Granted, Consent::Lost, Outcome::Refused(reason)) => {
                Some(ConsentChange::Lost(reason.clone()))
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
    match change {
        ConsentChange::Lost(reason) => OperationsNotice {
            key: format!("consent/{}/lost/{stamp}", record.id),
            tenant_id: record.id,
            title: "riskrelay lost access to a tenant".into(),
            lines: vec![
                format!("Tenant: {} ({})", record.name, record.id),
                format!("Refused: {reason}"),
                "Its alerts stop until access works again; the other tenants are not affected."
                    .into(),
            ],
            action: "Ask the tenant's administrator to grant consent again (riskrelay tenants consent-url prints the link), or remove the tenant with riskrelay tenants remove.".into(),
            at: now,
        },
        ConsentChange::Restored => OperationsNotice {
            key: format!("consent/{}/restored/{stamp}", record.id),
            tenant_id: record.id,
            title: "riskrelay has access to a tenant again".into(),
            lines: vec![format!("Tenant: {} ({})", record.name, record.id)],
            action: "Nothing to do: its next cycle catches up from where it stopped.".into(),
            at: now,
        },
    }
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
            s.record(&Outcome::Refused("AADSTS700016".into()), now),
            None
        );
        assert_eq!(s.consent, Consent::Pending);
        assert_eq!(s.record(&Outcome::Worked, now), None);
        assert_eq!(s.consent, Consent::Granted);
        assert_eq!(s.last_poll, None, "a posture check is not a poll");
        assert_eq!(s.record(&Outcome::Polled, now), None);
        assert_eq!(s.last_poll, Some(now));
        // A network failure changes nothing about consent.
        assert_eq!(s.record(&Outcome::Failed("timeout".into()), now), None);
        assert_eq!(s.consent, Consent::Granted);
        let lost = s.record(&Outcome::Refused("403".into()), now);
        assert_eq!(lost, Some(ConsentChange::Lost("403".into())));
        assert!(!s.is_usable());
        assert_eq!(s.record(&Outcome::Refused("403".into()), now), None);
        assert_eq!(
            s.record(&Outcome::Worked, now),
            Some(ConsentChange::Restored)
        );
        assert_eq!(s.last_error, None);
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
