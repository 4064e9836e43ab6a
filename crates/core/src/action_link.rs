//! Action links: the signed URLs behind an alert's "Confirm compromised", "Dismiss user risk",
//! "Revoke sessions" and "Snooze 7 days" buttons, and a workload identity's "Confirm compromised",
//! "Dismiss risk", "Confirm safe" (agents), "Disable service principal" and "Snooze 7 days".
//!
//! A link names what it is for (tenant, user or workload identity, the alert it came from, the
//! action) and until when
//! it is good, and carries an HMAC-SHA256 of that under the deployment's `action_link_key`. It
//! grants nothing by itself: opening one only shows a page, and acting needs the analyst's own
//! Entra sign-in (see `riskrelay::actions`). The signature only stops a link from being made up or
//! pointed at another user.
//!
//! Format: `v1.<base64url(JSON claims)>.<base64url(HMAC)>`, the MAC over `v1.<claims>`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use secrecy::ExposeSecret as _;

use crate::config::{ConfigError, Env, SecretSource, optional_secret};
use crate::ids::{TenantId, UserId};
use crate::workload::WorkloadKind;

/// What an analyst can do from an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionKind {
    Confirm,
    Dismiss,
    Revoke,
    Snooze,
    /// A workload identity's service principal disabled (`accountEnabled: false`).
    Disable,
    /// An agent confirmed safe (Graph has the action for agents; riskrelay offers it there).
    ConfirmSafe,
}

impl ActionKind {
    pub const ALL: [ActionKind; 6] = [
        Self::Confirm,
        Self::Dismiss,
        Self::Revoke,
        Self::Snooze,
        Self::Disable,
        Self::ConfirmSafe,
    ];

    /// The actions an alert about a user (`None`) or a workload identity offers, of those
    /// configured. Revoking sessions is a user's; a service principal can be disabled; an agent
    /// confirmed safe. An agent is not offered "disable": its id may name an agent user rather
    /// than a service principal, and Graph's agent-identity API differs.
    pub fn offered(workload: Option<WorkloadKind>) -> &'static [ActionKind] {
        match workload {
            None => &[Self::Confirm, Self::Dismiss, Self::Revoke, Self::Snooze],
            Some(WorkloadKind::ServicePrincipal) => {
                &[Self::Confirm, Self::Dismiss, Self::Disable, Self::Snooze]
            }
            Some(WorkloadKind::Agent) => &[
                Self::Confirm,
                Self::ConfirmSafe,
                Self::Dismiss,
                Self::Snooze,
            ],
        }
    }

    /// The name in `RISKRELAY_ACTIONS`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Dismiss => "dismiss",
            Self::Revoke => "revoke",
            Self::Snooze => "snooze",
            Self::Disable => "disable",
            Self::ConfirmSafe => "confirmSafe",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The button's text on a user's alert.
    pub fn label(self) -> &'static str {
        self.label_on(None)
    }

    /// The button's text on an alert about a user (`None`) or a workload identity.
    pub fn label_on(self, workload: Option<WorkloadKind>) -> &'static str {
        match (self, workload) {
            (Self::Confirm, _) => "Confirm compromised",
            (Self::Dismiss, None) => "Dismiss user risk",
            (Self::Dismiss, Some(_)) => "Dismiss risk",
            (Self::Revoke, _) => "Revoke sessions",
            (Self::Snooze, _) => "Snooze 7 days",
            (Self::Disable, _) => "Disable service principal",
            (Self::ConfirmSafe, _) => "Confirm safe",
        }
    }

    /// What was done, for the follow-up message and the done page ("Confirmed compromised by …").
    pub fn done(self) -> &'static str {
        self.done_on(None)
    }

    pub fn done_on(self, workload: Option<WorkloadKind>) -> &'static str {
        match (self, workload) {
            (Self::Confirm, _) => "Confirmed compromised",
            (Self::Dismiss, None) => "User risk dismissed",
            (Self::Dismiss, Some(_)) => "Risk dismissed",
            (Self::Revoke, _) => "Sessions revoked",
            (Self::Snooze, _) => "Snoozed for 7 days",
            (Self::Disable, _) => "Service principal disabled",
            (Self::ConfirmSafe, _) => "Confirmed safe",
        }
    }
}

/// What a link is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLink {
    #[serde(rename = "t")]
    pub tenant: TenantId,
    /// The user's object id; the workload identity's when `workload` is set.
    #[serde(rename = "u")]
    pub user: UserId,
    /// The key of the alert the link was on.
    #[serde(rename = "k")]
    pub alert_key: String,
    #[serde(rename = "a")]
    pub action: ActionKind,
    /// Unix seconds after which the link is refused.
    #[serde(rename = "e")]
    pub expires: i64,
    /// Set for a workload identity's alert. Left out for a user, so a user's link reads (and is
    /// signed) as it always was.
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadKind>,
}

impl ActionLink {
    /// The button's text for this link's subject.
    pub fn label(&self) -> &'static str {
        self.action.label_on(self.workload)
    }
}

/// Links last this long unless configured otherwise: an alert's buttons stay useful through a
/// week of handling, and a link found in an old channel later does nothing.
pub const DEFAULT_TTL: time::Duration = time::Duration::days(7);

/// The key links are signed with (`action_link_key`). Debug never shows it.
#[derive(Clone)]
pub struct LinkKey(crate::mac::HmacSha256);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

/// The least key material accepted: 128 bits.
pub const MIN_KEY_BYTES: usize = 16;

impl LinkKey {
    pub fn new(secret: &[u8]) -> Option<Self> {
        (secret.len() >= MIN_KEY_BYTES).then(|| Self(crate::mac::keyed(secret)))
    }

    /// 32 bytes of key material for another use, bound to `purpose` (HMAC-SHA256 of it under
    /// this key), so one secret serves several keys that cannot stand in for one another.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        crate::mac::tag(&self.0, purpose.as_bytes())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not one riskrelay made, or it was changed")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

const VERSION: &str = "v1";

impl ActionLink {
    pub fn sign(&self, key: &LinkKey) -> String {
        let claims = B64.encode(serde_json::to_vec(self).unwrap_or_default());
        let signed = format!("{VERSION}.{claims}");
        let mac = crate::mac::tag(&key.0, signed.as_bytes());
        format!("{signed}.{}", B64.encode(mac))
    }

    /// The link's claims if `token` carries a valid signature and has not expired. The MAC is
    /// checked (in constant time) before the claims are read.
    pub fn verify(token: &str, key: &LinkKey, now: OffsetDateTime) -> Result<Self, LinkError> {
        let (signed, mac) = token.rsplit_once('.').ok_or(LinkError::Invalid)?;
        let mac = B64.decode(mac).map_err(|_| LinkError::Invalid)?;
        if !crate::mac::verify(&key.0, signed.as_bytes(), &mac) {
            return Err(LinkError::Invalid);
        }
        let claims = signed
            .strip_prefix(VERSION)
            .and_then(|c| c.strip_prefix('.'))
            .ok_or(LinkError::Invalid)?;
        let bytes = B64.decode(claims).map_err(|_| LinkError::Invalid)?;
        let link: Self = serde_json::from_slice(&bytes).map_err(|_| LinkError::Invalid)?;
        if now.unix_timestamp() >= link.expires {
            return Err(LinkError::Expired);
        }
        Ok(link)
    }
}

/// A button on an alert: the action and its signed URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionButton {
    pub action: ActionKind,
    pub url: String,
    /// Set on a workload identity's alert (its wording differs: "Dismiss risk").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadKind>,
}

impl ActionButton {
    pub fn label(&self) -> &'static str {
        self.action.label_on(self.workload)
    }
}

/// Which actions alerts offer and how their links are made (`RISKRELAY_ACTIONS`,
/// `RISKRELAY_ACTIONS_URL` or else `RISKRELAY_PUBLIC_URL`, the `action_link_key` secret,
/// `RISKRELAY_ACTION_LINK_DAYS`, `RISKRELAY_ACTION_GROUP`).
#[derive(Debug, Clone)]
pub struct ActionsConfig {
    /// Where riskrelay's action pages are reached from a browser.
    pub public_url: url::Url,
    pub actions: Vec<ActionKind>,
    pub key: LinkKey,
    pub ttl: time::Duration,
    /// When set, only members of this Entra group may act (checked with the analyst's token).
    pub group: Option<uuid::Uuid>,
    /// When set, members of this Entra group may read the status page; without it, a
    /// reader-level security role decides (see [`READER_ROLES`]).
    pub status_group: Option<uuid::Uuid>,
}

/// Entra built-in role template ids (the ID token's `wids`) that may read the status page: the
/// roles that may read a tenant's security information. From Microsoft's permissions reference
/// for built-in roles.
pub const READER_ROLES: [(uuid::Uuid, &str); 5] = [
    (
        uuid::uuid!("5d6b6bb7-de71-4623-b4af-96380a352509"),
        "Security Reader",
    ),
    (
        uuid::uuid!("5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"),
        "Security Operator",
    ),
    (
        uuid::uuid!("194ae4cb-b126-40b2-bd5b-6091b380977d"),
        "Security Administrator",
    ),
    (
        uuid::uuid!("f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
        "Global Reader",
    ),
    (
        uuid::uuid!("62e90394-69f5-4237-9190-012177145e10"),
        "Global Administrator",
    ),
];

impl ActionsConfig {
    /// `None` when no action is configured (the default).
    pub fn load(env: &Env, secrets: &dyn SecretSource) -> Result<Option<Self>, ConfigError> {
        let expected =
            "a comma-separated list of confirm, dismiss, revoke, snooze, disable and confirmSafe";
        let actions = env.or("RISKRELAY_ACTIONS", expected, Vec::new(), |v| {
            let mut out = Vec::new();
            for name in v.split(',').filter(|n| !n.trim().is_empty()) {
                let a = ActionKind::parse(name)
                    .ok_or_else(|| format!("\"{}\" is not an action", name.trim()))?;
                if !out.contains(&a) {
                    out.push(a);
                }
            }
            Ok::<_, String>(out)
        })?;
        if actions.is_empty() {
            return Ok(None);
        }
        // In one process the webhook and the action pages share an address
        // (`RISKRELAY_PUBLIC_URL`); in AWS the actions function has its own Function URL.
        let expected = "the https root address the action pages are reached at, such as https://riskrelay.contoso.com (RISKRELAY_ACTIONS is set)";
        let public_url = match env.optional(
            "RISKRELAY_ACTIONS_URL",
            expected,
            crate::config::endpoint_root,
        )? {
            Some(u) => u,
            None => env.required(
                "RISKRELAY_PUBLIC_URL",
                expected,
                crate::config::endpoint_root,
            )?,
        };
        let key_expected = "at least 16 bytes of random text, such as 32 bytes in hex";
        let key = match optional_secret(secrets, "action_link_key", key_expected, |v| {
            if v.len() < MIN_KEY_BYTES {
                Err(format!("it has {} bytes", v.len()))
            } else {
                Ok(())
            }
        })? {
            Some(k) => LinkKey::new(k.expose_secret().as_bytes()),
            // The deployment's generated `client_state` is secret material already: a key is
            // derived from it (so a template that generates one secret value needs no second),
            // under a label of its own so the two never coincide. Rotating `client_state` then
            // retires the links; set `action_link_key` to rotate them apart.
            None => secrets.get("client_state").and_then(|cs| {
                LinkKey::new(&crate::client_state::derive(
                    cs.expose_secret(),
                    b"riskrelay action-link key v1",
                ))
            }),
        }
        .ok_or_else(|| ConfigError::Missing {
            var: secrets.describe("action_link_key"),
            expected: format!("{key_expected} (RISKRELAY_ACTIONS is set and there is no client_state to derive one from)"),
        })?;
        let days = env.or(
            "RISKRELAY_ACTION_LINK_DAYS",
            "days, 1 to 30",
            DEFAULT_TTL.whole_days(),
            crate::config::count(1..=30),
        )?;
        let group = env.optional(
            "RISKRELAY_ACTION_GROUP",
            "the object id (GUID) of the Entra group whose members may act",
            crate::ids::parse_guid,
        )?;
        let status_group = env.optional(
            "RISKRELAY_STATUS_GROUP",
            "the object id (GUID) of the Entra group whose members may read the status page",
            crate::ids::parse_guid,
        )?;
        Ok(Some(Self {
            public_url,
            actions,
            key,
            ttl: time::Duration::days(days),
            group,
            status_group,
        }))
    }

    /// A signed button for `action` on a user's alert.
    pub fn button(
        &self,
        tenant: TenantId,
        user: UserId,
        alert_key: &str,
        action: ActionKind,
        now: OffsetDateTime,
    ) -> ActionButton {
        self.button_on(tenant, user, None, alert_key, action, now)
    }

    /// A signed button for `action` on an alert about `id`: a user (`workload` `None`) or a
    /// workload identity.
    pub fn button_on(
        &self,
        tenant: TenantId,
        id: UserId,
        workload: Option<WorkloadKind>,
        alert_key: &str,
        action: ActionKind,
        now: OffsetDateTime,
    ) -> ActionButton {
        let token = ActionLink {
            tenant,
            user: id,
            alert_key: alert_key.to_string(),
            action,
            expires: (now + self.ttl).unix_timestamp(),
            workload,
        }
        .sign(&self.key);
        ActionButton {
            action,
            url: self.url(&format!("actions/{token}")),
            workload,
        }
    }

    /// The buttons an ongoing alert carries: the configured actions its subject offers, but
    /// not "Confirm compromised" on a compromise already confirmed.
    pub fn buttons(
        &self,
        tenant: TenantId,
        id: UserId,
        workload: Option<WorkloadKind>,
        alert_key: &str,
        confirmed: bool,
        now: OffsetDateTime,
    ) -> Vec<ActionButton> {
        self.actions
            .iter()
            .filter(|k| ActionKind::offered(workload).contains(k))
            .filter(|k| !(confirmed && **k == ActionKind::Confirm))
            .map(|k| self.button_on(tenant, id, workload, alert_key, *k, now))
            .collect()
    }

    /// The action pages' address joined with `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.public_url.as_str().trim_end_matches('/'))
    }

    /// Where Entra sends the analyst back after signing in (register it on the app).
    pub fn redirect_uri(&self) -> String {
        self.url("actions/callback")
    }
}

/// What an analyst did from an alert (see `riskrelay::actions`): posted once to every destination,
/// whatever kinds are configured, and recalled in the alert about the change it causes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionNotice {
    pub key: String,
    pub tenant_id: TenantId,
    /// The user's object id; the workload identity's when `workload` is set.
    pub user_id: UserId,
    /// The user's principal name or display name (the workload identity's name), as the alert
    /// showed it.
    pub user: String,
    pub action: ActionKind,
    /// The analyst, as Entra signed them in (their user principal name).
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The alert the action was taken from.
    pub alert_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadKind>,
}

impl ActionNotice {
    /// Whether this is about the identity an alert is about.
    pub fn about(&self, id: &str, workload: Option<WorkloadKind>) -> bool {
        self.workload == workload && self.user_id.to_string() == id
    }

    /// What was done, in the subject's words.
    pub fn done(&self) -> &'static str {
        self.action.done_on(self.workload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> LinkKey {
        LinkKey::new(&[b; 32]).unwrap()
    }

    fn link() -> ActionLink {
        ActionLink {
            tenant: TenantId::parse("11111111-1111-1111-1111-111111111111").unwrap(),
            user: UserId::parse("22222222-2222-2222-2222-222222222222").unwrap(),
            alert_key: "user/t/u/newRisk/abc".into(),
            action: ActionKind::Confirm,
            expires: 2_000_000_000,
            workload: None,
        }
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let token = link().sign(&key(1));
        assert!(token.starts_with("v1."), "{token}");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "URL-safe: {token}"
        );
        assert_eq!(
            ActionLink::verify(&token, &key(1), at(1_999_999_999)),
            Ok(link())
        );
        assert_eq!(
            ActionLink::verify(&token, &key(1), at(2_000_000_000)),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn another_key_or_any_change_is_refused() {
        let token = link().sign(&key(1));
        assert_eq!(
            ActionLink::verify(&token, &key(2), at(0)),
            Err(LinkError::Invalid)
        );
        // Another user or action in the claims, with the old signature.
        let (_, claims, mac) = {
            let mut p = token.split('.');
            (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
        };
        let mut other = link();
        other.action = ActionKind::Dismiss;
        let forged_claims = B64.encode(serde_json::to_vec(&other).unwrap());
        assert_ne!(forged_claims, claims);
        let forged = format!("v1.{forged_claims}.{mac}");
        assert_eq!(
            ActionLink::verify(&forged, &key(1), at(0)),
            Err(LinkError::Invalid)
        );
        // A longer expiry with the old signature.
        let mut later = link();
        later.expires += 86_400;
        let stretched = format!(
            "v1.{}.{mac}",
            B64.encode(serde_json::to_vec(&later).unwrap())
        );
        assert_eq!(
            ActionLink::verify(&stretched, &key(1), at(0)),
            Err(LinkError::Invalid)
        );
        // A flipped bit in the signature, a truncated token, garbage, no signature.
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        for bad in [
            String::from_utf8(flipped).unwrap(),
            token[..token.len() - 5].to_string(),
            "v1.e30.AAAA".to_string(),
            "not a link".to_string(),
            format!("v1.{claims}"),
            format!("v1.{claims}."),
        ] {
            assert_eq!(
                ActionLink::verify(&bad, &key(1), at(0)),
                Err(LinkError::Invalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_short_key_is_refused_and_debug_hides_it() {
        assert!(LinkKey::new(&[7; 15]).is_none());
        assert_eq!(format!("{:?}", key(9)), "LinkKey(…)");
    }

    #[test]
    fn actions_parse_by_name() {
        for a in ActionKind::ALL {
            assert_eq!(ActionKind::parse(a.name()), Some(a));
        }
        assert_eq!(ActionKind::parse(" Confirm "), Some(ActionKind::Confirm));
        assert_eq!(ActionKind::parse("delete"), None);
    }

    #[test]
    fn a_users_link_reads_as_before_and_a_workloads_names_its_kind() {
        // A user's claims carry no `w`: links already in channels keep verifying.
        let claims = serde_json::to_value(link()).unwrap();
        assert!(claims.get("w").is_none(), "{claims}");
        let mut sp = link();
        sp.workload = Some(WorkloadKind::ServicePrincipal);
        sp.action = ActionKind::Disable;
        let token = sp.sign(&key(1));
        let back = ActionLink::verify(&token, &key(1), at(0)).unwrap();
        assert_eq!(back.workload, Some(WorkloadKind::ServicePrincipal));
        assert_eq!(back.label(), "Disable service principal");
        // The same claims without the kind are another link: the signature does not carry over.
        let (_, _, mac) = {
            let mut p = token.split('.');
            (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
        };
        let mut user = sp.clone();
        user.workload = None;
        let forged = format!(
            "v1.{}.{mac}",
            B64.encode(serde_json::to_vec(&user).unwrap())
        );
        assert_eq!(
            ActionLink::verify(&forged, &key(1), at(0)),
            Err(LinkError::Invalid)
        );
    }

    #[test]
    fn each_subject_is_offered_only_its_own_actions() {
        let config = ActionsConfig {
            public_url: url::Url::parse("https://rr.example.com").unwrap(),
            actions: ActionKind::ALL.to_vec(),
            key: key(1),
            ttl: DEFAULT_TTL,
            group: None,
            status_group: None,
        };
        let tenant = link().tenant;
        let id = link().user;
        let labels = |w, confirmed| -> Vec<&'static str> {
            config
                .buttons(tenant, id, w, "k", confirmed, at(0))
                .iter()
                .map(ActionButton::label)
                .collect()
        };
        assert_eq!(
            labels(None, false),
            [
                "Confirm compromised",
                "Dismiss user risk",
                "Revoke sessions",
                "Snooze 7 days"
            ]
        );
        assert_eq!(
            labels(Some(WorkloadKind::ServicePrincipal), true),
            ["Dismiss risk", "Snooze 7 days", "Disable service principal"]
        );
        assert_eq!(
            labels(Some(WorkloadKind::Agent), false),
            [
                "Confirm compromised",
                "Dismiss risk",
                "Snooze 7 days",
                "Confirm safe"
            ]
        );
        assert_eq!(
            ActionKind::parse("confirmsafe"),
            Some(ActionKind::ConfirmSafe)
        );
    }
}
