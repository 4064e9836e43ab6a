//! Identifiers that Graph spells as GUIDs, parsed once at the edge.
//!
//! A value of one of these types is always a well-formed, lower-case, hyphenated GUID, so the
//! rest of the code can put it into a Graph URL path without further checks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a string is not a GUID. Carries no copy of the input: the input may be hostile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a GUID such as 00000000-0000-0000-0000-000000000000")]
pub struct NotAGuid;

/// Parses the 36-character hyphenated form only. `Uuid::try_parse` also takes braces, `urn:uuid:`
/// and the simple form, none of which Graph produces, so accepting them would only widen what a
/// forged notification can smuggle into a path.
pub fn parse_guid(s: &str) -> Result<Uuid, NotAGuid> {
    if s.len() != 36 {
        return Err(NotAGuid);
    }
    Uuid::try_parse(s).map_err(|_| NotAGuid)
}

macro_rules! guid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, NotAGuid> {
                parse_guid(s).map(Self)
            }

            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl FromStr for $name {
            type Err = NotAGuid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

guid_id!(
    /// The Entra tenant (directory) id.
    TenantId
);
guid_id!(
    /// A user's object id, which is also the id of their riskyUser record.
    UserId
);
guid_id!(
    /// The id of a Graph change-notification subscription.
    SubscriptionId
);

/// A legacy security alert id. Graph does not document their format (seen: digits, hex, `_`, `-`),
/// so this allows those characters only, at a bounded length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecurityAlertId(String);

impl SecurityAlertId {
    pub const MAX_LEN: usize = 256;

    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SecurityAlertId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or_else(|| "not a security alert id".to_string())
    }
}

impl From<SecurityAlertId> for String {
    fn from(a: SecurityAlertId) -> Self {
        a.0
    }
}

impl fmt::Display for SecurityAlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id after `app:` in a workload identity's name (`RISKRELAY_EXCLUDE`, `riskrelay snooze`):
/// an app id or object id, lower case. Graph's ids are GUIDs, but its own examples are not, so any
/// short run of visible characters is taken.
pub fn parse_app_ref(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_graphic()))
        .then(|| s.to_ascii_lowercase())
}

/// A user as a person names them: by object id or by user principal name (kept in lower case:
/// Entra compares user principal names without regard to case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserRef {
    Id(UserId),
    Upn(String),
}

impl UserRef {
    /// A GUID or `name@domain` (no spaces); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(id) = UserId::parse(s) {
            return Some(Self::Id(id));
        }
        let mut parts = s.split('@');
        let upn = matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some(name), Some(domain), None)
                if !name.is_empty()
                    && domain.contains('.')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        );
        upn.then(|| Self::Upn(s.to_lowercase()))
    }

    /// Whether this names the user with that id or user principal name.
    pub fn names(&self, id: UserId, upn: Option<&str>) -> bool {
        match self {
            Self::Id(i) => *i == id,
            Self::Upn(u) => upn.is_some_and(|x| x.eq_ignore_ascii_case(u)),
        }
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => fmt::Display::fmt(id, f),
            Self::Upn(u) => f.write_str(u),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hyphenated_guids_in_any_case_and_prints_lower_case() {
        let id = UserId::parse("6A5D0C2B-16F5-4A8F-9B0B-3C1D2E3F4A5B").unwrap();
        assert_eq!(id.to_string(), "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b");
    }

    #[test]
    fn rejects_other_spellings_and_junk() {
        for s in [
            "",
            "6a5d0c2b16f54a8f9b0b3c1d2e3f4a5b",
            "{6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b}",
            "urn:uuid:6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b",
            "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5g",
            "../../6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3",
            "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b ",
        ] {
            assert!(UserId::parse(s).is_err(), "{s:?} was accepted");
        }
    }

    #[test]
    fn serde_round_trip_and_rejection() {
        let id: TenantId =
            serde_json::from_str("\"11111111-2222-3333-4444-555555555555\"").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"11111111-2222-3333-4444-555555555555\""
        );
        assert!(serde_json::from_str::<TenantId>("\"contoso.onmicrosoft.com\"").is_err());
    }
}
