//! The simulated tenant's interactive sign-in: a few analysts, authorization codes bound to a
//! PKCE challenge, delegated access tokens that remember who they were issued to, and ID tokens
//! signed with a key the simulator publishes. Enough for the actions from an alert to be driven
//! end to end, in tests and in a real browser, with no account.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use riskrelay::ids::UserId;

/// The Entra role that may confirm and dismiss user risk (Security Administrator and Global
/// Administrator may too; the simulator models the least one).
pub const SECURITY_OPERATOR: &str = "Security Operator";
/// The roles that may revoke a user's sessions, as the simulator models them.
pub const USER_ADMINISTRATOR: &str = "User Administrator";
/// A role that may read user risk but not change it.
pub const SECURITY_READER: &str = "Security Reader";
/// The least privileged role Graph names for changing a service principal's or agent's risk.
pub const SECURITY_ADMINISTRATOR: &str = "Security Administrator";
/// A role that may update (disable) a multi-tenant app's service principal.
pub const CLOUD_APPLICATION_ADMINISTRATOR: &str = "Cloud Application Administrator";

/// Someone who can sign in to the simulated tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAnalyst {
    pub oid: uuid::Uuid,
    pub upn: String,
    pub name: String,
    pub roles: Vec<&'static str>,
    /// Groups the analyst is a member of (for `RISKRELAY_ACTION_GROUP`).
    pub groups: Vec<uuid::Uuid>,
}

impl SimAnalyst {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(&role)
    }

    /// The ID token's `wids`: the template ids of the analyst's roles.
    pub fn wids(&self) -> Vec<String> {
        // Template ids of the roles that are not reader roles, from Microsoft's permissions
        // reference.
        const OTHER_ROLES: [(&str, &str); 2] = [
            (USER_ADMINISTRATOR, "fe930be7-5e62-47db-91af-98c3a49a38b1"),
            (
                CLOUD_APPLICATION_ADMINISTRATOR,
                "158c047a-c907-4556-b7ef-446551a6b5f7",
            ),
        ];
        self.roles
            .iter()
            .filter_map(|r| {
                riskrelay::action_link::READER_ROLES
                    .iter()
                    .find(|(_, name)| name == r)
                    .map(|(id, _)| id.to_string())
                    .or_else(|| {
                        OTHER_ROLES
                            .iter()
                            .find(|(name, _)| name == r)
                            .map(|(_, id)| id.to_string())
                    })
            })
            .collect()
    }
}

/// The default analysts' places on the simulated sign-in page ([`default_analysts`]).
pub const ANALYST_SECURITY_OPERATOR: usize = 0;
pub const ANALYST_NO_ROLE: usize = 1;
pub const ANALYST_SECURITY_READER: usize = 2;
pub const ANALYST_SECURITY_ADMINISTRATOR: usize = 3;

/// The group the simulated Security Operator is a member of.
pub const SOC_GROUP: uuid::Uuid = uuid::Uuid::from_u128(0x5a5a_5a5a_0000_4000_8000_0000_00b0_0001);

/// One Security Operator (in [`SOC_GROUP`]), one analyst with no directory role and no group,
/// one Security Reader (may read user risk, not change it), and one Security Administrator who
/// is also a Cloud Application Administrator (may act on workload identities' risk and disable
/// their service principals; in [`SOC_GROUP`]).
pub fn default_analysts() -> Vec<SimAnalyst> {
    vec![
        SimAnalyst {
            oid: uuid::Uuid::from_u128(0x5a5a_5a5a_0000_4000_8000_0000_00a0_0001),
            upn: "secops@contoso.com".into(),
            name: "Sam Rivera (Security Operator)".into(),
            roles: vec![SECURITY_OPERATOR],
            groups: vec![SOC_GROUP],
        },
        SimAnalyst {
            oid: uuid::Uuid::from_u128(0x5a5a_5a5a_0000_4000_8000_0000_00a0_0002),
            upn: "helpdesk@contoso.com".into(),
            name: "Hal Ortiz (no admin role)".into(),
            roles: Vec::new(),
            groups: Vec::new(),
        },
        SimAnalyst {
            oid: uuid::Uuid::from_u128(0x5a5a_5a5a_0000_4000_8000_0000_00a0_0003),
            upn: "reader@contoso.com".into(),
            name: "Rae Kim (Security Reader)".into(),
            roles: vec![SECURITY_READER],
            groups: vec![SOC_GROUP],
        },
        SimAnalyst {
            oid: uuid::Uuid::from_u128(0x5a5a_5a5a_0000_4000_8000_0000_00a0_0004),
            upn: "appsec@contoso.com".into(),
            name: "Ada Novak (Security Administrator, Cloud Application Administrator)".into(),
            roles: vec![SECURITY_ADMINISTRATOR, CLOUD_APPLICATION_ADMINISTRATOR],
            groups: vec![SOC_GROUP],
        },
    ]
}

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone)]
pub(super) struct Code {
    pub analyst: usize,
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
}

/// What a delegated token carries.
#[derive(Debug, Clone)]
pub(super) struct Delegated {
    pub analyst: usize,
    pub scopes: Vec<String>,
}

/// The key ID tokens are signed with, published as a JSON Web Key Set like Entra's
/// `discovery/v2.0/keys`. Public so tests can sign tokens the way Entra would.
pub struct SigningKey {
    kid: String,
    key: jsonwebtoken::EncodingKey,
    jwk: Value,
}

impl SigningKey {
    /// A token signed RS256 with this key, its `kid` in the header.
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.key)?)
    }

    /// `{"keys": [the public key]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    pub fn generate() -> anyhow::Result<Self> {
        use aws_lc_rs::encoding::AsDer as _;
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| anyhow::anyhow!("could not generate the simulator's signing key"))?;
        let der = pair
            .as_der()
            .map_err(|_| anyhow::anyhow!("could not encode the simulator's signing key"))?;
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())?;
        let public = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let kid = format!("sim-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": B64.encode(&public.n),
            "e": B64.encode(&public.e),
        });
        Ok(Self { kid, key, jwk })
    }
}

#[derive(Default)]
pub(super) struct SignIn {
    pub analysts: Vec<SimAnalyst>,
    key: Option<Arc<SigningKey>>,
    pub codes: HashMap<String, Code>,
    /// Redeemed codes: a second redemption is refused, as Entra does.
    pub redeemed: HashSet<String>,
    pub tokens: HashMap<String, Delegated>,
    /// Actions taken through Graph: (analyst upn, action path, user).
    pub actions: Vec<(String, String, UserId)>,
    /// The tenant's administrator has not granted the app's delegated permissions: a sign-in
    /// that asks for a Graph permission is answered with AADSTS65001.
    pub delegated_withheld: bool,
    /// The `tid` ID tokens carry in place of this tenant's (a token of another tenant).
    pub tid: Option<String>,
}

impl SignIn {
    pub fn with_default_analysts() -> Self {
        Self {
            analysts: default_analysts(),
            ..Self::default()
        }
    }

    /// The signing key, made on first use (RSA key generation takes a moment; most simulated
    /// tenants never sign anyone in).
    pub fn key(&mut self) -> anyhow::Result<Arc<SigningKey>> {
        if let Some(k) = &self.key {
            return Ok(k.clone());
        }
        let k = Arc::new(SigningKey::generate()?);
        self.key = Some(k.clone());
        Ok(k)
    }
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("analysts", &self.analysts)
            .field("codes", &self.codes.len())
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}
