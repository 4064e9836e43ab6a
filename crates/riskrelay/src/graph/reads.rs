//! The reads and writes riskrelay makes, each with a typed result.
//!
//! The poll reads are per *page*, never per user: a cycle costs one request per 500 changed users
//! plus one per 500 changed detections against the tenant's 1 request per second.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Call, Feature, GraphClient, GraphError, Pages};
use crate::ids::SecurityAlertId;
use crate::ids::{SubscriptionId, UserId};
use crate::posture::{
    CA_POLICY_SELECT, CaPolicy, IdentityProtectionPolicy, ORGANIZATION_SELECT, Organization,
    SETTING,
};
use crate::risk::{RISK_DETECTION_SELECT, RISKY_USER_SELECT, RiskDetection, RiskyUser};

/// Graph's largest page for riskyUsers and riskDetections.
pub const PAGE_SIZE: u32 = 500;

/// `2026-11-25T10:00:00Z`, the form `$filter` compares DateTimeOffset values with. Sub-second
/// precision is dropped (rounding down), which only widens the window.
/// `field ge since`, and `le until` when given (a window cut short, see the poll cycle).
fn between(field: &str, since: OffsetDateTime, until: Option<OffsetDateTime>) -> String {
    match until {
        None => format!("{field} ge {}", odata_time(since)),
        Some(u) => format!(
            "{field} ge {} and {field} le {}",
            odata_time(since),
            odata_time(u)
        ),
    }
}

pub fn odata_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A DateTimeOffset for a request body as Graph's own examples write it: UTC, `Z`, and at most
/// seven fractional digits (`2026-11-26T08:00:00.1234567Z`). `time`'s RFC 3339 would write nine.
pub fn graph_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}.{:07}Z",
        odata_time(t).trim_end_matches('Z'),
        t.nanosecond() / 100
    )
}

/// A Graph change-notification subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphSubscription {
    pub id: SubscriptionId,
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub change_type: String,
    #[serde(default)]
    pub notification_url: String,
    #[serde(default)]
    pub lifecycle_notification_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expiration_date_time: OffsetDateTime,
}

impl GraphClient {
    /// Risky users whose risk changed at or after `since`.
    pub async fn risky_users_changed_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<RiskyUser>, GraphError> {
        self.risky_users_changed_pages(since, None).all().await
    }

    /// The same, a page at a time, and up to `until` when given.
    pub fn risky_users_changed_pages(
        &self,
        since: OffsetDateTime,
        until: Option<OffsetDateTime>,
    ) -> Pages<RiskyUser> {
        let query = format!(
            "$filter={}&$top={PAGE_SIZE}&$select={RISKY_USER_SELECT}",
            between("riskLastUpdatedDateTime", since, until)
        );
        self.pages(
            self.url("v1.0", "identityProtection/riskyUsers", Some(&query)),
            Feature::RiskyUsers,
        )
    }

    /// Every user currently at risk or confirmed compromised: the baseline on a first run.
    pub async fn risky_users_at_risk(&self) -> Result<Vec<RiskyUser>, GraphError> {
        self.risky_users_at_risk_pages().all().await
    }

    /// The same, a page at a time.
    pub fn risky_users_at_risk_pages(&self) -> Pages<RiskyUser> {
        let query = format!(
            "$filter=riskState eq 'atRisk' or riskState eq 'confirmedCompromised'&$top={PAGE_SIZE}&$select={RISKY_USER_SELECT}"
        );
        self.pages(
            self.url("v1.0", "identityProtection/riskyUsers", Some(&query)),
            Feature::RiskyUsers,
        )
    }

    /// Risk detections updated at or after `since`.
    pub async fn risk_detections_changed_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<RiskDetection>, GraphError> {
        self.risk_detections_changed_pages(since, None).all().await
    }

    /// The same, a page at a time, and up to `until` when given.
    pub fn risk_detections_changed_pages(
        &self,
        since: OffsetDateTime,
        until: Option<OffsetDateTime>,
    ) -> Pages<RiskDetection> {
        let query = format!(
            "$filter={}&$top={PAGE_SIZE}&$select={RISK_DETECTION_SELECT}",
            between("lastUpdatedDateTime", since, until)
        );
        self.pages(
            self.url("v1.0", "identityProtection/riskDetections", Some(&query)),
            Feature::RiskDetections,
        )
    }

    /// One risky user. `None` when Graph has no riskyUser for the id: a user who was never
    /// risky gets a 404, which is an answer, not an error. Without `$select`: Graph documents no
    /// OData query option for this request (v1.0 `riskyuser-get`).
    pub async fn risky_user(&self, id: UserId) -> Result<Option<RiskyUser>, GraphError> {
        let url = self.url("v1.0", &format!("identityProtection/riskyUsers/{id}"), None);
        match self.get_json(url, Feature::RiskyUsers).await {
            Ok(u) => Ok(Some(u)),
            Err(GraphError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One user's detections still at risk, whenever they were updated: for a new-risk alert whose
    /// detections surfaced before the poll window.
    pub async fn open_detections(&self, id: UserId) -> Result<Vec<RiskDetection>, GraphError> {
        let query = format!(
            "$filter=userId eq '{id}' and riskState eq 'atRisk'&$top={PAGE_SIZE}&$select={RISK_DETECTION_SELECT}"
        );
        self.get_all(
            self.url("v1.0", "identityProtection/riskDetections", Some(&query)),
            Feature::RiskDetections,
        )
        .await
    }

    /// One user's detections updated at or after `since`.
    pub async fn user_detections(
        &self,
        id: UserId,
        since: OffsetDateTime,
    ) -> Result<Vec<RiskDetection>, GraphError> {
        let query = format!(
            "$filter=userId eq '{id}' and lastUpdatedDateTime ge {}&$top={PAGE_SIZE}&$select={RISK_DETECTION_SELECT}",
            odata_time(since)
        );
        self.get_all(
            self.url("v1.0", "identityProtection/riskDetections", Some(&query)),
            Feature::RiskDetections,
        )
        .await
    }

    /// The organization's on-premises sync state. `onPremisesLastPasswordSyncDateTime` is
    /// documented on beta only, hence the beta endpoint.
    pub async fn organization(&self) -> Result<Organization, GraphError> {
        #[derive(Deserialize)]
        struct Orgs {
            #[serde(default)]
            value: Vec<Organization>,
        }
        let url = self.url(
            "beta",
            "organization",
            Some(&format!("$select={ORGANIZATION_SELECT}")),
        );
        let orgs: Orgs = self.get_json(url, Feature::PasswordSync).await?;
        orgs.value.into_iter().next().ok_or(GraphError::Malformed {
            feature: Feature::PasswordSync,
            detail: "no organization in the answer".into(),
        })
    }

    pub async fn conditional_access_policies(&self) -> Result<Vec<CaPolicy>, GraphError> {
        let url = self.url(
            "v1.0",
            "identity/conditionalAccess/policies",
            Some(&format!("$select={CA_POLICY_SELECT}")),
        );
        self.get_all(url, Feature::ConditionalAccess).await
    }

    /// The undocumented beta identity protection policy.
    pub async fn identity_protection_policy(&self) -> Result<IdentityProtectionPolicy, GraphError> {
        self.get_json(
            self.url("beta", "identityProtection/policy", None),
            Feature::PolicyRead,
        )
        .await
    }

    /// Turns the on-premises reset setting on. Sends that one member only: the object has others
    /// (unified risk signals, at least), and replaying a read would overwrite them.
    pub async fn enable_on_prem_reset(&self) -> Result<(), GraphError> {
        let mut body = serde_json::Map::new();
        body.insert(SETTING.to_string(), serde_json::Value::Bool(true));
        let call = Call {
            method: http::Method::PATCH,
            url: self.url("beta", "identityProtection/policy", None),
            feature: Feature::PolicyWrite,
            body: Some(serde_json::Value::Object(body)),
            as_user: None,
        };
        self.send(&call).await.map(|_| ())
    }

    /// The user ids a legacy security alert names in `userStates`.
    pub async fn security_alert_users(
        &self,
        id: &SecurityAlertId,
    ) -> Result<Vec<UserId>, GraphError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct UserState {
            #[serde(default)]
            aad_user_id: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Alert {
            #[serde(default)]
            user_states: Vec<UserState>,
        }
        let url = self.url(
            "v1.0",
            &format!("security/alerts/{id}"),
            Some("$select=id,userStates"),
        );
        let alert: Alert = self.get_json(url, Feature::SecurityAlerts).await?;
        Ok(alert
            .user_states
            .into_iter()
            .filter_map(|s| s.aad_user_id.and_then(|id| UserId::parse(&id).ok()))
            .collect())
    }

    pub async fn subscriptions(&self) -> Result<Vec<GraphSubscription>, GraphError> {
        self.get_all(
            self.url("v1.0", "subscriptions", None),
            Feature::Subscriptions,
        )
        .await
    }

    pub async fn create_subscription(
        &self,
        body: serde_json::Value,
    ) -> Result<GraphSubscription, GraphError> {
        let call = Call {
            method: http::Method::POST,
            url: self.url("v1.0", "subscriptions", None),
            feature: Feature::Subscriptions,
            body: Some(body),
            as_user: None,
        };
        self.send(&call).await?.json(Feature::Subscriptions)
    }

    pub async fn renew_subscription(
        &self,
        id: SubscriptionId,
        expires: OffsetDateTime,
    ) -> Result<GraphSubscription, GraphError> {
        let body = serde_json::json!({ "expirationDateTime": graph_time(expires) });
        let call = Call {
            method: http::Method::PATCH,
            url: self.url("v1.0", &format!("subscriptions/{id}"), None),
            feature: Feature::Subscriptions,
            body: Some(body),
            as_user: None,
        };
        self.send(&call).await?.json(Feature::Subscriptions)
    }

    pub async fn delete_subscription(&self, id: SubscriptionId) -> Result<(), GraphError> {
        let call = Call {
            method: http::Method::DELETE,
            url: self.url("v1.0", &format!("subscriptions/{id}"), None),
            feature: Feature::Subscriptions,
            body: None,
            as_user: None,
        };
        match self.send(&call).await {
            Ok(_) | Err(GraphError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_time_is_utc_seconds() {
        let t = time::macros::datetime!(2026-11-25 10:11:12.987 +02:00);
        assert_eq!(odata_time(t), "2026-11-25T08:11:12Z");
    }
}
