//! Graph access tokens.
//!
//! Client secret and certificate credentials go through `azure_identity`, which caches tokens and
//! refreshes them five minutes before expiry. The certificate's client assertion is signed here
//! with aws-lc-rs (through jsonwebtoken), so no openssl is needed. A static token from the
//! environment is for trying riskrelay with a token obtained elsewhere.

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{
    ClientMethodOptions, ClientOptions, ExponentialRetryOptions, RetryOptions, Transport,
};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions,
};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::graph::GraphError;
use crate::graph::config::{AppSecret, GraphConfig, GraphCredential};

/// Stands in for a loopback authority: azure_identity refuses any authority that is not https,
/// so a local token endpoint (the simulator, a test fake) is reached through this host name and a
/// transport that rewrites it to the loopback address.
const LOOPBACK_AUTHORITY: &str = "https://login.loopback.riskrelay.invalid";

/// Rewrites every request to the loopback authority's real scheme, host and port.
#[derive(Debug)]
struct LoopbackTransport {
    target: Url,
    client: reqwest::Client,
}

#[async_trait::async_trait]
impl azure_core::http::HttpClient for LoopbackTransport {
    async fn execute_request(
        &self,
        request: &azure_core::http::Request,
    ) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
        let mut req = request.clone();
        let url = req.url_mut();
        let _ = url.set_scheme(self.target.scheme());
        let _ = url.set_host(self.target.host_str());
        let _ = url.set_port(self.target.port_or_known_default());
        self.client.execute_request(&req).await
    }
}

/// A client assertion signed with the app certificate's private key (RS256), with the
/// certificate's thumbprints in the header so Entra can pick the registered certificate.
struct CertificateAssertion {
    client_id: String,
    audience: String,
    key: jsonwebtoken::EncodingKey,
    x5t: String,
    x5t_s256: String,
}

impl std::fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Assertions are short-lived; Entra accepts up to ten minutes.
const ASSERTION_LIFETIME_SECS: i64 = 600;

impl CertificateAssertion {
    fn new(
        client_id: &str,
        audience: String,
        pem_bundle: &SecretString,
    ) -> Result<Self, GraphError> {
        let blocks = pem::parse_many(pem_bundle.expose_secret().as_bytes())
            .map_err(|_| GraphError::Auth("the Graph certificate is not valid PEM".into()))?;
        let cert = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| {
                GraphError::Auth("the Graph certificate PEM holds no CERTIFICATE block".into())
            })?;
        let key = blocks
            .iter()
            .find(|b| b.tag() == "PRIVATE KEY" || b.tag() == "RSA PRIVATE KEY")
            .ok_or_else(|| {
                GraphError::Auth("the Graph certificate PEM holds no PRIVATE KEY block".into())
            })?;
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(pem::encode(key).as_bytes()).map_err(|_| {
                GraphError::Auth("the Graph certificate's private key is not an RSA key".into())
            })?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let sha1 = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            cert.contents(),
        );
        let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.contents());
        Ok(Self {
            client_id: client_id.to_string(),
            audience,
            key,
            x5t: b64.encode(sha1.as_ref()),
            x5t_s256: b64.encode(sha256.as_ref()),
        })
    }

    fn sign(&self) -> Result<String, jsonwebtoken::errors::Error> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.x5t = Some(self.x5t.clone());
        header.x5t_s256 = Some(self.x5t_s256.clone());
        let claims = serde_json::json!({
            "aud": self.audience,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.sign().map_err(|e| {
            azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                format!("could not sign the client assertion: {e}"),
            )
        })
    }
}

/// How the app proves itself when riskrelay calls the token endpoint itself: the action pages
/// redeem an analyst's authorization code as a confidential client (the same app registration).
pub struct ClientAuth {
    pub client_id: String,
    proof: Proof,
}

enum Proof {
    Secret(SecretString),
    Certificate(CertificateAssertion),
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ClientAuth {
    /// `None` for a static access token, which cannot redeem anything.
    pub fn new(config: &GraphConfig, token_endpoint: &str) -> Result<Option<Self>, GraphError> {
        let GraphCredential::App { client_id, secret } = &config.credential else {
            return Ok(None);
        };
        let proof = match secret {
            AppSecret::ClientSecret(s) => Proof::Secret(s.clone()),
            AppSecret::Certificate(pem) => Proof::Certificate(CertificateAssertion::new(
                &client_id.to_string(),
                token_endpoint.to_string(),
                pem,
            )?),
        };
        Ok(Some(Self {
            client_id: client_id.to_string(),
            proof,
        }))
    }

    /// The form fields that authenticate the app: its secret, or a fresh signed assertion.
    pub fn form(&self) -> Result<Vec<(&'static str, SecretString)>, GraphError> {
        Ok(match &self.proof {
            Proof::Secret(s) => vec![("client_secret", s.clone())],
            Proof::Certificate(c) => vec![
                (
                    "client_assertion_type",
                    SecretString::from("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ),
                (
                    "client_assertion",
                    SecretString::from(c.sign().map_err(|e| {
                        GraphError::Auth(format!("could not sign the client assertion: {e}"))
                    })?),
                ),
            ],
        })
    }

    /// The secret, to scrub from error text.
    pub fn secret(&self) -> Option<&SecretString> {
        match &self.proof {
            Proof::Secret(s) => Some(s),
            Proof::Certificate(_) => None,
        }
    }
}

enum Kind {
    Azure(Arc<dyn TokenCredential>),
    Static(SecretString),
}

/// Supplies bearer tokens for Graph.
pub struct TokenSource {
    kind: Kind,
    scope: String,
    /// The client secret, to scrub from error text: a token endpoint may echo the request.
    secret: Option<SecretString>,
}

/// `text` with every secret riskrelay holds replaced, in any encoding (see [`crate::redact`]), and
/// `secret` too (held already when it came from the configuration; a caller may pass one that did
/// not), so an upstream that echoes the request cannot put it into a log.
pub fn scrub(text: &str, secret: Option<&SecretString>) -> String {
    if let Some(s) = secret {
        crate::redact::hold(s.expose_secret());
    }
    crate::redact::scrub(text)
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Azure(_) => "azure_identity",
            Kind::Static(_) => "static token",
        };
        f.debug_struct("TokenSource")
            .field("kind", &kind)
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenSource {
    pub fn new(config: &GraphConfig, http: reqwest::Client) -> Result<Self, GraphError> {
        let scope = format!(
            "{}/.default",
            config.graph_root.as_str().trim_end_matches('/')
        );
        let (client_id, app_secret) = match &config.credential {
            GraphCredential::AccessToken(token) => {
                return Ok(Self {
                    kind: Kind::Static(token.clone()),
                    scope,
                    secret: None,
                });
            }
            GraphCredential::App { client_id, secret } => (client_id.to_string(), secret),
        };
        let authority = config
            .authority_host
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let (authority_for_azure, transport): (String, Arc<dyn azure_core::http::HttpClient>) =
            if config.authority_host.scheme() == "http" {
                (
                    LOOPBACK_AUTHORITY.to_string(),
                    Arc::new(LoopbackTransport {
                        target: config.authority_host.clone(),
                        client: http,
                    }),
                )
            } else {
                (authority.clone(), Arc::new(http))
            };
        let mut cloud = CustomConfiguration::default();
        cloud.authority_host = authority_for_azure.clone();
        let client_options = ClientOptions {
            cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
            transport: Some(Transport::new(transport)),
            retry: token_retry(),
            ..Default::default()
        };
        let tenant = config.tenant_id.to_string();
        let secret = match app_secret {
            AppSecret::ClientSecret(s) => Some(s.clone()),
            AppSecret::Certificate(_) => None,
        };
        let credential: Arc<dyn TokenCredential> = match app_secret {
            AppSecret::ClientSecret(secret) => ClientSecretCredential::new(
                &tenant,
                client_id,
                Secret::new(secret.expose_secret().to_string()),
                Some(ClientSecretCredentialOptions { client_options }),
            )
            .map_err(|e| GraphError::Auth(scrub(&e.to_string(), Some(secret))))?,
            AppSecret::Certificate(pem) => {
                let audience = format!("{authority_for_azure}/{tenant}/oauth2/v2.0/token");
                let assertion = CertificateAssertion::new(&client_id, audience, pem)?;
                ClientAssertionCredential::new(
                    tenant,
                    client_id,
                    assertion,
                    Some(ClientAssertionCredentialOptions { client_options }),
                )
                .map_err(|e| GraphError::Auth(e.to_string()))?
            }
        };
        Ok(Self {
            kind: Kind::Azure(credential),
            scope,
            secret,
        })
    }

    /// A bearer token, from the credential's cache when it is still fresh.
    pub async fn token(&self) -> Result<SecretString, GraphError> {
        match &self.kind {
            Kind::Static(t) => Ok(t.clone()),
            Kind::Azure(cred) => {
                let token = cred
                    .get_token(&[self.scope.as_str()], None)
                    .await
                    // `{}` and not `{:?}`: azure_core's Debug prints a whole backtrace.
                    .map_err(|e| GraphError::Auth(scrub(&e.to_string(), self.secret.as_ref())))?;
                Ok(SecretString::from(token.token.secret().to_string()))
            }
        }
    }
}

/// azure_identity's default retry gives up after about a minute (82 s against an unreachable
/// host was measured); a poll cycle or a Lambda invocation should fail faster and try again on
/// its next run.
fn token_retry() -> RetryOptions {
    RetryOptions::exponential(ExponentialRetryOptions {
        initial_delay: azure_core::time::Duration::milliseconds(250),
        max_retries: 2,
        max_total_elapsed: azure_core::time::Duration::seconds(10),
        max_delay: azure_core::time::Duration::seconds(2),
    })
}
