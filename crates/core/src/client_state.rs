//! The `clientState` secret Graph echoes in every change and lifecycle notification: how it is
//! loaded, and the one constant-time comparison that decides whether a notification is ours.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::config::{ConfigError, SecretSource, optional_secret, required_secret};

/// Graph documents `clientState` as at most 128 characters on the subscription resource.
pub const CLIENT_STATE_MAX_CHARS: usize = 128;

fn check(v: &str) -> Result<(), String> {
    let n = v.chars().count();
    if n > CLIENT_STATE_MAX_CHARS {
        return Err(format!("it has {n} characters"));
    }
    if v.chars().any(char::is_control) {
        // Most often a trailing newline from a secrets file: Graph would echo it verbatim and no
        // notification would ever match.
        return Err("it contains a control character such as a newline".into());
    }
    Ok(())
}

/// The shared secret Graph echoes in every notification, plus the previous value while rotating.
#[derive(Clone)]
pub struct ClientStates {
    current: SecretString,
    previous: Option<SecretString>,
}

impl fmt::Debug for ClientStates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientStates")
            .field("current", &"[redacted]")
            .field("previous", &self.previous.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ClientStates {
    pub const EXPECTED: &'static str =
        "the subscription clientState, 1 to 128 characters without control characters";

    pub fn load(secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        Ok(Self {
            current: required_secret(secrets, "client_state", Self::EXPECTED, check)?,
            previous: optional_secret(secrets, "client_state_previous", Self::EXPECTED, check)?,
        })
    }

    /// One tenant's own `clientState` in the MSP mode, derived from this one (and the previous
    /// from the previous, so a rotation carries over): a notification signed with tenant A's value
    /// never passes for tenant B's, and no per-tenant secret has to be stored or rotated.
    pub fn for_tenant(&self, tenant: crate::ids::TenantId) -> Self {
        let label = format!("riskrelay tenant clientState v1 {tenant}");
        let derive = |s: &SecretString| {
            use base64::Engine as _;
            SecretString::from(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(derive(s.expose_secret(), label.as_bytes())),
            )
        };
        Self {
            current: derive(&self.current),
            previous: self.previous.as_ref().map(derive),
        }
    }

    /// The value new subscriptions are created with.
    pub fn current(&self) -> &SecretString {
        &self.current
    }

    /// Constant-time comparison against the current and the previous value. Both comparisons always
    /// run, so timing does not reveal which one matched; only the length of the secret can leak.
    pub fn matches(&self, presented: &str) -> bool {
        let p = presented.as_bytes();
        let current = self.current.expose_secret().as_bytes().ct_eq(p);
        let previous = match &self.previous {
            Some(prev) => prev.expose_secret().as_bytes().ct_eq(p),
            None => subtle::Choice::from(0),
        };
        bool::from(current | previous)
    }
}

/// HMAC-SHA256 of `label` under `secret`: key material of its own derived from a secret, so the
/// two never coincide and the secret cannot be recovered from what is derived.
pub fn derive(secret: &str, label: &[u8]) -> Vec<u8> {
    crate::mac::tag(&crate::mac::keyed(secret.as_bytes()), label).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Env, EnvSecrets};

    fn env() -> Env {
        Env::default()
            .with("RISKRELAY_CLIENT_STATE", "s3cret-current-value")
            .with("RISKRELAY_CLIENT_STATE_PREVIOUS", "s3cret-previous-value")
    }

    #[test]
    fn matches_current_and_previous_only_exactly() {
        let e = env();
        let states = ClientStates::load(&EnvSecrets(&e)).unwrap();
        assert!(states.matches("s3cret-current-value"));
        assert!(states.matches("s3cret-previous-value"));
        for near in [
            "",
            "s3cret-current-valu",
            "s3cret-current-value ",
            " s3cret-current-value",
            "S3cret-current-value",
            "s3cret-current-valuе", // Cyrillic е
            "s3cret-previous-value\0",
        ] {
            assert!(!states.matches(near), "{near:?} matched");
        }

        let e = Env::default().with("RISKRELAY_CLIENT_STATE", "new");
        let states = ClientStates::load(&EnvSecrets(&e)).unwrap();
        assert!(states.matches("new"));
        assert!(!states.matches("s3cret-previous-value"));
    }

    #[test]
    fn each_tenant_has_its_own_derived_value() {
        let e = env();
        let states = ClientStates::load(&EnvSecrets(&e)).unwrap();
        let a = crate::ids::TenantId::from_uuid(uuid::Uuid::from_u128(1));
        let b = crate::ids::TenantId::from_uuid(uuid::Uuid::from_u128(2));
        let (sa, sb) = (states.for_tenant(a), states.for_tenant(b));
        let a_value = sa.current().expose_secret().to_string();
        assert!(sa.matches(&a_value));
        assert!(!sb.matches(&a_value), "tenant A's value passes for B");
        assert!(
            !sa.matches("s3cret-current-value"),
            "the base value passes for a tenant"
        );
        assert!(a_value.len() <= CLIENT_STATE_MAX_CHARS && !a_value.contains("s3cret"));
        // Deterministic: every process derives the same value; the previous carries over.
        assert!(states.for_tenant(a).matches(&a_value));
        let rotated = Env::default()
            .with("RISKRELAY_CLIENT_STATE", "next")
            .with("RISKRELAY_CLIENT_STATE_PREVIOUS", "s3cret-current-value");
        let rotated = ClientStates::load(&EnvSecrets(&rotated)).unwrap();
        assert!(rotated.for_tenant(a).matches(&a_value));
    }
}
