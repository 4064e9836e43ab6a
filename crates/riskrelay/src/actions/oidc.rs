//! Entra sign-in for the action pages: the OpenID Connect authorization code flow with PKCE,
//! `state` and `nonce`, redeemed as a confidential client (riskrelay's own app registration),
//! and the ID token checked against the tenant's published keys.
//!
//! Tokens live only in the request that redeems them: the access token is used for that
//! request's Graph calls and dropped; nothing here logs or stores one.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::graph::auth::{ClientAuth, scrub};
use crate::graph::config::GraphConfig;
use crate::ids::TenantId;

/// Random text of `bytes` bytes, URL-safe: session ids, CSRF tokens, `state`, `nonce`, PKCE.
pub fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // aws-lc-rs's system random; it fails only if the OS has no entropy source.
    if aws_lc_rs::rand::fill(&mut buf).is_err() {
        buf = uuid::Uuid::new_v4().as_bytes().repeat(bytes.div_ceil(16));
        buf.truncate(bytes);
    }
    B64.encode(buf)
}

/// SHA-256 of `text`, hex: how session cookies and `state` values are keyed in the store, so a
/// read of the store reveals none of them.
pub fn digest(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The PKCE challenge (S256) of a verifier.
pub fn challenge(verifier: &str) -> String {
    B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// Who signed in, from a validated ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analyst {
    pub oid: uuid::Uuid,
    /// `preferred_username`: the user principal name, which Entra's audit log shows too.
    pub upn: String,
    pub name: String,
    /// Directory role template ids from the ID token's `wids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<uuid::Uuid>,
}

/// Why an ID token was refused. The page says only that sign-in failed; the log says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("not a signed JWT")]
    Malformed,
    #[error("signed with an algorithm other than RS256")]
    Algorithm,
    #[error("signed with a key the tenant does not publish")]
    UnknownKey,
    #[error("the signature does not verify")]
    Signature,
    #[error("expired or not yet valid")]
    Expired,
    #[error("issued by someone else")]
    Issuer,
    #[error("issued to another application")]
    Audience,
    #[error("issued in another tenant")]
    Tenant,
    #[error("its nonce is not this sign-in's")]
    Nonce,
}

/// What an ID token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub tenant: TenantId,
    pub nonce: &'a str,
}

/// Allowed clock difference between Entra and this host.
const LEEWAY_SECS: u64 = 120;

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    tid: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    oid: uuid::Uuid,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// The directory roles' template ids, when the app registration asks for them
    /// (`groupMembershipClaims` including `DirectoryRole`).
    #[serde(default)]
    wids: Vec<uuid::Uuid>,
}

/// Validates an ID token: RS256 only (no `none`, no HMAC with a public key), a key from the
/// tenant's set, issuer, audience, expiry, tenant and nonce.
pub fn validate_id_token(
    token: &str,
    keys: &JwkSet,
    expected: &Expected<'_>,
) -> Result<Analyst, IdTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(IdTokenError::Algorithm);
    }
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid))
        .ok_or(IdTokenError::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| IdTokenError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_audience(&[expected.audience]);
    validation.set_issuer(&[expected.issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => IdTokenError::Signature,
            K::ExpiredSignature | K::ImmatureSignature => IdTokenError::Expired,
            K::InvalidIssuer => IdTokenError::Issuer,
            K::InvalidAudience => IdTokenError::Audience,
            K::InvalidAlgorithm => IdTokenError::Algorithm,
            _ => IdTokenError::Malformed,
        }
    })?;
    let claims = data.claims;
    if claims.tid.as_deref() != Some(expected.tenant.to_string().as_str()) {
        return Err(IdTokenError::Tenant);
    }
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| {
        use subtle::ConstantTimeEq as _;
        bool::from(n.as_bytes().ct_eq(expected.nonce.as_bytes()))
    });
    if !nonce_ok {
        return Err(IdTokenError::Nonce);
    }
    Ok(Analyst {
        oid: claims.oid,
        upn: claims.preferred_username.unwrap_or_default(),
        name: claims.name.unwrap_or_default(),
        roles: claims.wids,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the token endpoint refused the code: {0}")]
    Refused(String),
    #[error("could not reach the token endpoint: {0}")]
    Transport(String),
    #[error("the ID token was refused: {0}")]
    IdToken(#[from] IdTokenError),
    #[error("the tenant's signing keys could not be read: {0}")]
    Keys(String),
    #[error("{0}")]
    Setup(String),
}

/// What redeeming a code gives: who signed in, and a token for this request's calls.
pub struct SignedIn {
    pub analyst: Analyst,
    pub access_token: SecretString,
}

/// The tenant's signing keys are fetched again at most this often (on an unknown `kid`).
const KEYS_REFRESH: Duration = Duration::from_secs(300);

pub struct Oidc {
    authority: String,
    tenant: TenantId,
    client: ClientAuth,
    graph_root: String,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<Option<(JwkSet, Instant)>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("authority", &self.authority)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    pub fn new(graph: &GraphConfig, http: reqwest::Client) -> Result<Self, SignInError> {
        let authority = graph
            .authority_host
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let token_endpoint = format!("{authority}/{}/oauth2/v2.0/token", graph.tenant_id);
        let client = ClientAuth::new(graph, &token_endpoint)
            .map_err(|e| SignInError::Setup(e.to_string()))?
            .ok_or_else(|| {
                SignInError::Setup(
                    "actions need the app's client secret or certificate to sign analysts in; a static Graph access token cannot".into(),
                )
            })?;
        Ok(Self {
            authority,
            tenant: graph.tenant_id,
            client,
            graph_root: graph.graph_root.as_str().trim_end_matches('/').to_string(),
            http,
            keys: tokio::sync::Mutex::new(None),
        })
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.authority, self.tenant)
    }

    /// The issuer Entra puts in v2.0 ID tokens for this tenant.
    pub fn issuer(&self) -> String {
        self.endpoint("v2.0")
    }

    /// The origin of the sign-in pages (for the Content-Security-Policy's `form-action`).
    pub fn authority_origin(&self) -> String {
        Url::parse(&self.authority)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    /// Delegated scopes for `names` (`IdentityRiskyUser.ReadWrite.All`, …) on the configured
    /// Graph, with `openid profile`.
    pub fn scopes(&self, names: &[&str]) -> String {
        let mut s = String::from("openid profile");
        for n in names {
            s.push(' ');
            s.push_str(&format!("{}/{n}", self.graph_root));
        }
        s
    }

    /// Where to send the browser to sign in. `login_hint` asks for a silent answer
    /// (`prompt=none`) for the analyst already signed in.
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        scope: &str,
        state: &str,
        nonce: &str,
        verifier: &str,
        login_hint: Option<&str>,
    ) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &self.client.client_id)
            .append_pair("response_type", "code")
            .append_pair("response_mode", "query")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &challenge(verifier))
            .append_pair("code_challenge_method", "S256");
        if let Some(hint) = login_hint {
            q.append_pair("prompt", "none")
                .append_pair("login_hint", hint);
        }
        format!("{}?{}", self.endpoint("oauth2/v2.0/authorize"), q.finish())
    }

    /// Redeems a code and validates the ID token that comes with it.
    pub async fn redeem(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        scope: &str,
        nonce: &str,
    ) -> Result<SignedIn, SignInError> {
        #[derive(Deserialize)]
        struct TokenReply {
            access_token: String,
            id_token: String,
        }
        #[derive(Deserialize, Default)]
        struct TokenError {
            #[serde(default)]
            error: String,
            #[serde(default)]
            error_description: String,
        }
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("client_id", self.client.client_id.clone()),
            ("code", code.into()),
            ("redirect_uri", redirect_uri.into()),
            ("code_verifier", verifier.into()),
            ("scope", scope.into()),
        ];
        for (k, v) in self
            .client
            .form()
            .map_err(|e| SignInError::Setup(e.to_string()))?
        {
            form.push((k, v.expose_secret().to_string()));
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let res = self
            .http
            .post(self.endpoint("oauth2/v2.0/token"))
            .timeout(Duration::from_secs(15))
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| {
                SignInError::Transport(crate::http::TransportFailure::of(e).to_string())
            })?;
        let status = res.status();
        let body = res.bytes().await.unwrap_or_default();
        if !status.is_success() {
            let e: TokenError = serde_json::from_slice(&body).unwrap_or_default();
            // Entra's descriptions name AADSTS codes, never the secret; scrub anyway (before
            // cutting it short) in case an endpoint echoes the request, a client assertion
            // included.
            let text = scrub(
                &format!("{status} {}: {}", e.error, e.error_description),
                self.client.secret(),
            );
            return Err(SignInError::Refused(crate::render::escape::truncate(
                &text, 300,
            )));
        }
        let reply: TokenReply = serde_json::from_slice(&body)
            .map_err(|_| SignInError::Refused("the token response could not be read".into()))?;
        let issuer = self.issuer();
        let expected = Expected {
            issuer: &issuer,
            audience: &self.client.client_id,
            tenant: self.tenant,
            nonce,
        };
        let analyst = self.validate(&reply.id_token, &expected).await?;
        Ok(SignedIn {
            analyst,
            access_token: SecretString::from(reply.access_token),
        })
    }

    async fn validate(&self, token: &str, expected: &Expected<'_>) -> Result<Analyst, SignInError> {
        let keys = self.keys(false).await?;
        match validate_id_token(token, &keys, expected) {
            // Entra rolls its keys: an unknown key is worth one fresh read of the set.
            Err(IdTokenError::UnknownKey) => {
                let keys = self.keys(true).await?;
                Ok(validate_id_token(token, &keys, expected)?)
            }
            other => Ok(other?),
        }
    }

    async fn keys(&self, refresh: bool) -> Result<JwkSet, SignInError> {
        let mut cached = self.keys.lock().await;
        if let Some((keys, at)) = cached.as_ref()
            && (!refresh || at.elapsed() < KEYS_REFRESH)
        {
            return Ok(keys.clone());
        }
        let res = self
            .http
            .get(self.endpoint("discovery/v2.0/keys"))
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| SignInError::Keys(crate::http::TransportFailure::of(e).to_string()))?;
        if !res.status().is_success() {
            return Err(SignInError::Keys(format!("HTTP {}", res.status())));
        }
        let keys: JwkSet = res
            .json()
            .await
            .map_err(|_| SignInError::Keys("the key set could not be read".into()))?;
        *cached = Some((keys.clone(), Instant::now()));
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riskrelay_sim::signin::SigningKey;
    use serde_json::json;

    const ISSUER: &str =
        "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0";
    const CLIENT: &str = "22222222-2222-2222-2222-222222222222";

    fn tenant() -> TenantId {
        TenantId::parse("11111111-1111-1111-1111-111111111111").unwrap()
    }

    fn claims() -> serde_json::Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        json!({
            "iss": ISSUER, "aud": CLIENT, "tid": tenant().to_string(), "nonce": "n-123",
            "oid": "33333333-3333-3333-3333-333333333333", "preferred_username": "secops@contoso.com",
            "name": "Sam", "iat": now, "nbf": now, "exp": now + 3600,
        })
    }

    fn expected() -> Expected<'static> {
        Expected {
            issuer: ISSUER,
            audience: CLIENT,
            tenant: tenant(),
            nonce: "n-123",
        }
    }

    fn keys(k: &SigningKey) -> JwkSet {
        serde_json::from_value(k.jwks()).unwrap()
    }

    fn with(field: &str, value: serde_json::Value) -> serde_json::Value {
        let mut c = claims();
        c[field] = value;
        c
    }

    #[test]
    fn id_tokens_are_checked_claim_by_claim() {
        let key = SigningKey::generate().unwrap();
        let set = keys(&key);
        let ok = validate_id_token(&key.sign(&claims()).unwrap(), &set, &expected()).unwrap();
        assert_eq!(ok.upn, "secops@contoso.com");
        let past = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
        for (claims, error) in [
            (
                with("iss", json!("https://login.microsoftonline.com/other/v2.0")),
                IdTokenError::Issuer,
            ),
            (with("aud", json!("another-app")), IdTokenError::Audience),
            (
                with("tid", json!("44444444-4444-4444-4444-444444444444")),
                IdTokenError::Tenant,
            ),
            (with("nonce", json!("n-124")), IdTokenError::Nonce),
            (with("exp", json!(past)), IdTokenError::Expired),
            (
                with("nbf", json!(past + 7200 + 3600)),
                IdTokenError::Expired,
            ),
        ] {
            let token = key.sign(&claims).unwrap();
            assert_eq!(validate_id_token(&token, &set, &expected()), Err(error));
        }
        let mut no_nonce = claims();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert_eq!(
            validate_id_token(&key.sign(&no_nonce).unwrap(), &set, &expected()),
            Err(IdTokenError::Nonce)
        );
    }

    #[test]
    fn unsigned_foreign_and_hmac_tokens_are_refused() {
        let key = SigningKey::generate().unwrap();
        let set = keys(&key);
        let b64 = |v: &serde_json::Value| B64.encode(v.to_string());
        // `alg: none`, no signature.
        let none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims())
        );
        assert_eq!(
            validate_id_token(&none, &set, &expected()),
            Err(IdTokenError::Malformed)
        );
        // HS256 keyed with the public key's modulus: the classic confusion.
        let kid = set.keys[0].common.key_id.clone();
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = kid;
        let hs = jsonwebtoken::encode(
            &header,
            &claims(),
            &jsonwebtoken::EncodingKey::from_secret(b"n"),
        )
        .unwrap();
        assert_eq!(
            validate_id_token(&hs, &set, &expected()),
            Err(IdTokenError::Algorithm)
        );
        // Signed by another key: unknown kid, and the same kid with another key.
        let other = SigningKey::generate().unwrap();
        let foreign = other.sign(&claims()).unwrap();
        assert_eq!(
            validate_id_token(&foreign, &set, &expected()),
            Err(IdTokenError::UnknownKey)
        );
        let mut disguised = keys(&other);
        disguised.keys[0].common.key_id = set.keys[0].common.key_id.clone();
        let genuine_kid_token = key.sign(&claims()).unwrap();
        assert_eq!(
            validate_id_token(&genuine_kid_token, &disguised, &expected()),
            Err(IdTokenError::Signature)
        );
        // A changed claim under a valid signature.
        let token = key.sign(&claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(&with("preferred_username", json!("ceo@contoso.com"))),
            parts[2]
        );
        assert_eq!(
            validate_id_token(&forged, &set, &expected()),
            Err(IdTokenError::Signature)
        );
        assert_eq!(
            validate_id_token("garbage", &set, &expected()),
            Err(IdTokenError::Malformed)
        );
    }

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let a = random(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random(32));
    }
}
