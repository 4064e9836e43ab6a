//! Who never gets a user alert (`RISKRELAY_EXCLUDE`): break-glass, test and service accounts,
//! named by user principal name, user id, or `group:<object id>` (transitive membership); and
//! which service principals and agents never get one, as `app:<app id or object id>`.
//!
//! Excluding changes what is said, never what is known: an excluded user's state is still
//! recorded, so removing the exclusion later does not flood the channel with old news.

use std::collections::BTreeSet;

use crate::config::{ConfigError, Env};
use crate::ids::{UserId, UserRef, parse_app_ref, parse_guid};
use crate::posture::Membership;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusions {
    ids: BTreeSet<UserId>,
    /// Lower case: Entra compares user principal names without regard to case.
    upns: BTreeSet<String>,
    /// Group object ids, lower case (as membership reads give them).
    groups: BTreeSet<String>,
    /// Workload identities' app ids and object ids, lower case.
    workloads: BTreeSet<String>,
}

/// What `RISKRELAY_EXCLUDE` looks like.
pub const EXPECTED: &str = "a comma-separated list of user principal names, user ids, group:<group object id> and app:<app id or service principal object id>";

impl Exclusions {
    /// `RISKRELAY_EXCLUDE`; an entry that is none of the three stops start-up, naming it.
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        env.or("RISKRELAY_EXCLUDE", EXPECTED, Self::default(), Self::parse)
    }

    pub fn parse(list: &str) -> Result<Self, String> {
        let mut out = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some(app) = entry.strip_prefix("app:") {
                let app = parse_app_ref(app).ok_or_else(|| {
                    format!("\"{entry}\": a workload identity is app:<its app id or object id>")
                })?;
                out.workloads.insert(app);
            } else if let Some(group) = entry.strip_prefix("group:") {
                let id = parse_guid(group.trim()).map_err(|_| {
                    format!("\"{entry}\": a group is group:<its object id, a GUID>")
                })?;
                out.groups.insert(id.to_string());
            } else if let Some(user) = UserRef::parse(entry) {
                match user {
                    UserRef::Id(id) => out.ids.insert(id),
                    UserRef::Upn(upn) => out.upns.insert(upn),
                };
            } else {
                return Err(format!(
                    "\"{entry}\" is neither a user principal name (name@domain), a user id (GUID), group:<group object id> nor app:<app id or object id>"
                ));
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
            && self.upns.is_empty()
            && self.groups.is_empty()
            && self.workloads.is_empty()
    }

    /// Whether deciding needs each user's group memberships.
    pub fn needs_membership(&self) -> bool {
        !self.groups.is_empty()
    }

    /// Whether the user is excluded by id or user principal name alone.
    pub fn names(&self, id: UserId, upn: Option<&str>) -> bool {
        self.ids.contains(&id) || upn.is_some_and(|u| self.upns.contains(&u.to_lowercase()))
    }

    /// Whether a service principal or agent is excluded, by its object id or its app id.
    pub fn names_workload(&self, id: &str, app_id: Option<&str>) -> bool {
        let named = |v: &str| self.workloads.contains(&v.trim().to_ascii_lowercase());
        named(id) || app_id.is_some_and(named)
    }

    /// Whether the user is excluded. When group exclusions are configured and the user's
    /// memberships could not be read, the user is *not* excluded: an alert too many beats a
    /// compromise nobody hears of.
    pub fn excludes(&self, id: UserId, upn: Option<&str>, membership: Option<&Membership>) -> bool {
        self.names(id, upn)
            || membership.is_some_and(|m| m.groups.iter().any(|g| self.groups.contains(g)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: &str = "0f0e0d0c-0b0a-4909-8807-060504030201";

    #[test]
    fn workload_identities_are_excluded_by_app_id_or_object_id_only_with_app() {
        let e = Exclusions::parse("app:AAAA-1, app:sp-9, alice@contoso.com").unwrap();
        assert!(e.names_workload("x", Some("aaaa-1")));
        assert!(e.names_workload("SP-9", None));
        assert!(!e.names_workload("alice@contoso.com", None));
        assert!(
            Exclusions::parse("app:")
                .unwrap_err()
                .contains("app:<its app id")
        );
    }

    #[test]
    fn entries_by_upn_id_and_group() {
        let e = Exclusions::parse(&format!(
            " BreakGlass@Contoso.com , 6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b, group:{}",
            GROUP.to_uppercase()
        ))
        .unwrap();
        let id = UserId::parse("6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b").unwrap();
        let other = UserId::parse("0b9e8d7c-6f5a-4b3c-9d2e-1f0a9b8c7d6e").unwrap();
        assert!(e.excludes(id, None, None));
        assert!(e.excludes(other, Some("breakglass@contoso.COM"), None));
        assert!(!e.excludes(other, Some("someone@contoso.com"), None));
        let member = Membership {
            groups: [GROUP.to_string()].into(),
            roles: Default::default(),
        };
        assert!(e.needs_membership());
        assert!(e.excludes(other, None, Some(&member)));
        assert!(
            !e.excludes(other, None, None),
            "memberships unknown: not excluded"
        );
        assert!(Exclusions::parse("").unwrap().is_empty());
    }

    #[test]
    fn an_invalid_entry_is_named() {
        for (bad, says) in [
            ("alice", "\"alice\" is neither"),
            (
                "a@b.com, group:not-a-guid",
                "\"group:not-a-guid\": a group is",
            ),
            ("two words@contoso.com", "\"two words@contoso.com\""),
            ("a@@b.com", "\"a@@b.com\""),
        ] {
            let err = Exclusions::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let env = Env::default().with("RISKRELAY_EXCLUDE", "alice");
        let err = Exclusions::load(&env).unwrap_err().to_string();
        assert!(
            err.contains("RISKRELAY_EXCLUDE") && err.contains("alice"),
            "{err}"
        );
    }
}
