//! Graph change notifications and lifecycle notifications, and what a notification's `resource`
//! may point at.
//!
//! A POST from Graph is a `changeNotificationCollection`. Each item is parsed on its own, so one
//! odd item (an unknown `changeType`, a missing field, a hostile `resource`) never fails its
//! neighbours. Items are [`Unverified`] until their `clientState` and `tenantId` have been checked;
//! only a [`Verified`] item can become work for the queue.

use std::fmt;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::client_state::ClientStates;
use crate::ids::{NotAGuid, SecurityAlertId, SubscriptionId, TenantId, UserId};

/// `changeType`. Graph may add members; an unknown one is kept, not a parse failure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
    #[serde(untagged)]
    Unknown(String),
}

impl ChangeType {
    fn from_wire(s: &str) -> Self {
        match s {
            "created" => Self::Created,
            "updated" => Self::Updated,
            "deleted" => Self::Deleted,
            other => Self::Unknown(other.to_string()),
        }
    }
}

/// `lifecycleEvent`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LifecycleKind {
    ReauthorizationRequired,
    SubscriptionRemoved,
    Missed,
    #[serde(untagged)]
    Unknown(String),
}

impl LifecycleKind {
    fn from_wire(s: &str) -> Self {
        match s {
            "reauthorizationRequired" => Self::ReauthorizationRequired,
            "subscriptionRemoved" => Self::SubscriptionRemoved,
            "missed" => Self::Missed,
            other => Self::Unknown(other.to_string()),
        }
    }
}

/// What a notification's `resource` points at, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceTarget {
    RiskyUser(UserId),
    User(UserId),
    SecurityAlert(SecurityAlertId),
}

/// Why a `resource` is not something riskrelay acts on. Never carries the raw path: it is
/// attacker-controlled text and ends up in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedTarget {
    #[error(
        "the resource path contains characters or sequences that are never in a Graph resource path"
    )]
    Hostile,
    #[error("the resource path names a resource riskrelay does not handle")]
    UnknownResource,
    #[error("the resource id is malformed")]
    BadId,
}

impl UnsupportedTarget {
    /// A short, fixed name for counting.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hostile => "hostile resource path",
            Self::UnknownResource => "resource not handled",
            Self::BadId => "malformed resource id",
        }
    }
}

impl From<NotAGuid> for UnsupportedTarget {
    fn from(_: NotAGuid) -> Self {
        Self::BadId
    }
}

/// Longest `resource` value considered at all.
const MAX_RESOURCE_LEN: usize = 512;

impl ResourceTarget {
    /// Parses a `resource` value (relative to the Graph root, e.g. `Users/{id}`). Only the three
    /// shapes riskrelay understands are accepted; everything else, in particular anything that
    /// could steer a later Graph request elsewhere (`..`, a scheme or host, a query, escapes), is
    /// refused before it is looked at further.
    pub fn parse(resource: &str) -> Result<Self, UnsupportedTarget> {
        if resource.is_empty()
            || resource.len() > MAX_RESOURCE_LEN
            || resource.contains("..")
            || resource.contains("//")
            || resource.contains(':')
            || resource.chars().any(|c| {
                matches!(c, '?' | '#' | '%' | '\\' | '@' | '&' | '=' | '$')
                    || c.is_whitespace()
                    || c.is_control()
            })
        {
            return Err(UnsupportedTarget::Hostile);
        }
        let path = resource.strip_prefix('/').unwrap_or(resource);
        let segments: Vec<&str> = path.split('/').collect();
        match segments.as_slice() {
            [a, b, id]
                if a.eq_ignore_ascii_case("identityProtection")
                    && b.eq_ignore_ascii_case("riskyUsers") =>
            {
                Ok(Self::RiskyUser(UserId::parse(id)?))
            }
            [a, id] if a.eq_ignore_ascii_case("users") => Ok(Self::User(UserId::parse(id)?)),
            [a, b, id]
                if a.eq_ignore_ascii_case("security") && b.eq_ignore_ascii_case("alerts") =>
            {
                SecurityAlertId::parse(id)
                    .map(Self::SecurityAlert)
                    .ok_or(UnsupportedTarget::BadId)
            }
            _ => Err(UnsupportedTarget::UnknownResource),
        }
    }
}

/// The wire shape of one item, every member optional so that parsing never fails on content.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireItem {
    subscription_id: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    subscription_expiration_date_time: Option<OffsetDateTime>,
    client_state: Option<String>,
    change_type: Option<String>,
    lifecycle_event: Option<String>,
    resource: Option<String>,
    tenant_id: Option<String>,
}

/// What an item is about, before authentication.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemKind {
    Change {
        change_type: ChangeType,
        target: Result<ResourceTarget, UnsupportedTarget>,
    },
    Lifecycle(LifecycleKind),
}

/// One parsed but not yet authenticated notification.
#[derive(Clone, PartialEq)]
pub struct Unverified {
    pub subscription_id: SubscriptionId,
    pub tenant_id: Option<TenantId>,
    pub subscription_expires: Option<OffsetDateTime>,
    client_state: Option<String>,
    pub kind: ItemKind,
}

impl fmt::Debug for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The presented clientState may be the real secret: never print it.
        f.debug_struct("Unverified")
            .field("subscription_id", &self.subscription_id)
            .field("tenant_id", &self.tenant_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// An item that passed authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub subscription_id: SubscriptionId,
    pub tenant_id: TenantId,
    pub subscription_expires: Option<OffsetDateTime>,
    pub kind: ItemKind,
}

/// Why an item was not accepted. Logged with the subscription id, never with the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the item is not a JSON object")]
    NotAnObject,
    #[error("the item has no valid subscriptionId")]
    NoSubscription,
    #[error("a member of the item has the wrong type")]
    WrongType,
    #[error("the item has neither a changeType nor a lifecycleEvent")]
    NoKind,
    #[error("clientState is missing")]
    ClientStateMissing,
    #[error("clientState does not match")]
    ClientStateMismatch,
    #[error("tenantId is missing or is not the configured tenant")]
    WrongTenant,
}

impl Rejection {
    /// A short, fixed name for counting.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NotAnObject => "not an object",
            Self::NoSubscription => "no subscription",
            Self::WrongType => "wrong member type",
            Self::NoKind => "no change type",
            Self::ClientStateMissing => "clientState missing",
            Self::ClientStateMismatch => "clientState mismatch",
            Self::WrongTenant => "wrong tenant",
        }
    }
}

impl Unverified {
    /// Parses one element of `value[]`.
    pub fn parse(item: &serde_json::Value) -> Result<Self, Rejection> {
        if !item.is_object() {
            return Err(Rejection::NotAnObject);
        }
        // Members of the wrong type (a number for clientState, a bad date) make the item unusable
        // rather than the batch: deserialise a clone of this one item only.
        let wire: WireItem =
            serde_json::from_value(item.clone()).map_err(|_| Rejection::WrongType)?;
        let subscription_id = wire
            .subscription_id
            .as_deref()
            .and_then(|s| SubscriptionId::parse(s).ok())
            .ok_or(Rejection::NoSubscription)?;
        let kind = match (wire.lifecycle_event.as_deref(), wire.change_type.as_deref()) {
            (Some(ev), _) => ItemKind::Lifecycle(LifecycleKind::from_wire(ev)),
            (None, Some(ct)) => ItemKind::Change {
                change_type: ChangeType::from_wire(ct),
                target: wire.resource.as_deref().map_or(
                    Err(UnsupportedTarget::UnknownResource),
                    ResourceTarget::parse,
                ),
            },
            (None, None) => return Err(Rejection::NoKind),
        };
        Ok(Self {
            subscription_id,
            tenant_id: wire
                .tenant_id
                .as_deref()
                .and_then(|t| TenantId::parse(t).ok()),
            subscription_expires: wire.subscription_expiration_date_time,
            client_state: wire.client_state,
            kind,
        })
    }

    /// Checks `clientState` (constant time, current or previous value) and `tenantId`.
    pub fn verify(self, states: &ClientStates, tenant: &TenantId) -> Result<Verified, Rejection> {
        let presented = self
            .client_state
            .as_deref()
            .ok_or(Rejection::ClientStateMissing)?;
        if !states.matches(presented) {
            return Err(Rejection::ClientStateMismatch);
        }
        match self.tenant_id {
            Some(t) if t == *tenant => Ok(Verified {
                subscription_id: self.subscription_id,
                tenant_id: t,
                subscription_expires: self.subscription_expires,
                kind: self.kind,
            }),
            _ => Err(Rejection::WrongTenant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USER: &str = "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b";

    #[test]
    fn supported_targets() {
        let u = UserId::parse(USER).unwrap();
        assert_eq!(
            ResourceTarget::parse(&format!("Users/{USER}")),
            Ok(ResourceTarget::User(u))
        );
        assert_eq!(
            ResourceTarget::parse(&format!("users/{USER}")),
            Ok(ResourceTarget::User(u))
        );
        assert_eq!(
            ResourceTarget::parse(&format!("/users/{USER}")),
            Ok(ResourceTarget::User(u))
        );
        assert_eq!(
            ResourceTarget::parse(&format!("identityProtection/riskyUsers/{USER}")),
            Ok(ResourceTarget::RiskyUser(u))
        );
        assert_eq!(
            ResourceTarget::parse("security/alerts/2517343765581040000_-1234aBc"),
            Ok(ResourceTarget::SecurityAlert(
                SecurityAlertId::parse("2517343765581040000_-1234aBc").unwrap()
            ))
        );
    }

    #[test]
    fn hostile_and_unsupported_targets() {
        let hostile = [
            format!("users/../../admin/{USER}"),
            "users/..".to_string(),
            format!("https://evil.example/users/{USER}"),
            format!("//evil.example/users/{USER}"),
            format!("users/{USER}?$expand=manager"),
            format!("users/{USER}#x"),
            format!("users/{USER}%2F.."),
            format!("users\\{USER}"),
            format!("users/{USER} "),
            format!("users/{USER}\n"),
            format!("users/{USER}@evil.example"),
            "x".repeat(600),
        ];
        for r in &hostile {
            assert_eq!(
                ResourceTarget::parse(r),
                Err(UnsupportedTarget::Hostile),
                "{r:?}"
            );
        }
        for r in [
            "groups/abc",
            "users",
            "me",
            "users/x/manager",
            "identityProtection/riskDetections/abc",
            "",
        ] {
            assert!(ResourceTarget::parse(r).is_err(), "{r:?}");
        }
        assert_eq!(
            ResourceTarget::parse("users/not-a-guid"),
            Err(UnsupportedTarget::BadId)
        );
        assert_eq!(
            ResourceTarget::parse("users/me"),
            Err(UnsupportedTarget::BadId)
        );
        assert_eq!(
            ResourceTarget::parse("security/alerts/a.b"),
            Err(UnsupportedTarget::BadId)
        );
    }

    #[test]
    fn unknown_change_types_and_lifecycle_events_are_kept() {
        let n = Unverified::parse(&json!({
            "subscriptionId": "aaaaaaaa-0000-0000-0000-000000000001",
            "changeType": "softDeleted",
            "resource": format!("Users/{USER}"),
            "brandNewField": [1, 2, 3],
        }))
        .unwrap();
        assert!(
            matches!(n.kind, ItemKind::Change { change_type: ChangeType::Unknown(ref s), .. } if s == "softDeleted")
        );

        let n = Unverified::parse(&json!({
            "subscriptionId": "aaaaaaaa-0000-0000-0000-000000000001",
            "lifecycleEvent": "somethingElse",
        }))
        .unwrap();
        assert_eq!(
            n.kind,
            ItemKind::Lifecycle(LifecycleKind::Unknown("somethingElse".into()))
        );
    }

    #[test]
    fn malformed_items_are_rejected_individually() {
        assert_eq!(Unverified::parse(&json!([1])), Err(Rejection::NotAnObject));
        assert_eq!(
            Unverified::parse(&json!({"changeType": "updated"})),
            Err(Rejection::NoSubscription)
        );
        assert_eq!(
            Unverified::parse(
                &json!({"subscriptionId": "aaaaaaaa-0000-0000-0000-000000000001", "clientState": 5, "changeType": "updated"})
            ),
            Err(Rejection::WrongType)
        );
        assert_eq!(
            Unverified::parse(&json!({"subscriptionId": "aaaaaaaa-0000-0000-0000-000000000001"})),
            Err(Rejection::NoKind)
        );
    }

    #[test]
    fn debug_never_shows_the_presented_client_state() {
        let n = Unverified::parse(&json!({
            "subscriptionId": "aaaaaaaa-0000-0000-0000-000000000001",
            "clientState": "the-real-secret",
            "changeType": "updated",
            "resource": format!("Users/{USER}"),
        }))
        .unwrap();
        assert!(!format!("{n:?}").contains("the-real-secret"));
    }

    mod properties {
        //! Untrusted input: arbitrary text and structured mutations of valid input never panic,
        //! and only the three well-formed shapes are accepted. `PROPTEST_CASES` sets the depth
        //! (the default in the test command; far more in `scripts/fuzz-parsers.sh`).
        use super::super::*;
        use proptest::prelude::*;

        const ID: &str = "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b";

        fn well_formed(t: &ResourceTarget) -> String {
            match t {
                ResourceTarget::RiskyUser(u) => format!("identityProtection/riskyUsers/{u}"),
                ResourceTarget::User(u) => format!("users/{u}"),
                ResourceTarget::SecurityAlert(a) => format!("security/alerts/{a}"),
            }
        }

        proptest! {
            #[test]
            fn any_text_is_refused_or_one_of_three_safe_shapes(s in any::<String>()) {
                if let Ok(t) = ResourceTarget::parse(&s) {
                    let path = well_formed(&t);
                    prop_assert!(path.chars().all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c)));
                    prop_assert!(s.trim_start_matches('/').eq_ignore_ascii_case(&path));
                }
            }

            #[test]
            fn a_mutated_resource_never_smuggles_anything(
                base in prop::sample::select(vec![
                    format!("Users/{ID}"),
                    format!("identityProtection/riskyUsers/{ID}"),
                    "security/alerts/2517343765581040000_-1234".to_string(),
                ]),
                at in 0usize..60,
                insert in prop::sample::select(vec!["..", "/", "?x=1", "%2e", "@evil", ":", "#", " ", "\\", "\u{202e}", "//h"]),
            ) {
                let at = at.min(base.len());
                let mutated = format!("{}{insert}{}", &base[..at], &base[at..]);
                if let Ok(t) = ResourceTarget::parse(&mutated) {
                    prop_assert!(mutated.trim_start_matches('/').eq_ignore_ascii_case(&well_formed(&t)), "{mutated}");
                }
            }

            #[test]
            fn any_json_item_parses_or_is_rejected_without_panicking(
                sub in prop::option::of(any::<String>()),
                state in prop::option::of(any::<String>()),
                resource in prop::option::of(any::<String>()),
                change in prop::option::of(any::<String>()),
                lifecycle in prop::option::of(any::<String>()),
                tenant in prop::option::of(any::<String>()),
                expires in prop::option::of(any::<String>()),
            ) {
                let item = serde_json::json!({
                    "subscriptionId": sub, "clientState": state, "resource": resource,
                    "changeType": change, "lifecycleEvent": lifecycle, "tenantId": tenant,
                    "subscriptionExpirationDateTime": expires,
                });
                if let Ok(u) = Unverified::parse(&item) {
                    prop_assert_eq!(Some(u.subscription_id.to_string()), sub.map(|s| s.to_ascii_lowercase()));
                }
            }
        }
    }
}
