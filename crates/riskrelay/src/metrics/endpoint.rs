//! `GET /metrics` on `riskrelay run`: the process's figures for Prometheus. With
//! `RISKRELAY_METRICS_TOKEN` set, a request must carry it as a bearer token (from anywhere);
//! without one it answers loopback clients only, unless `RISKRELAY_METRICS_FROM=any` says the
//! network in front of it is trusted (a sidecar, a private scrape network).

use async_trait::async_trait;
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;

use crate::api_error::ApiError;
use crate::config::{ConfigError, Env, SecretSource};
use crate::server::{HttpApp, Peer};

/// Who may read `/metrics`.
#[derive(Clone)]
pub struct Access {
    token: Option<SecretString>,
    anywhere: bool,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("anywhere", &self.anywhere)
            .finish()
    }
}

/// A token shorter than this is guessable by a scraper left running.
const MIN_TOKEN_CHARS: usize = 16;

impl Access {
    pub fn load(env: &Env, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        let token = crate::config::optional_secret(
            secrets,
            "metrics_token",
            "a bearer token of at least 16 characters",
            |v| {
                if v.chars().count() >= MIN_TOKEN_CHARS {
                    Ok(())
                } else {
                    Err(format!("shorter than {MIN_TOKEN_CHARS} characters"))
                }
            },
        )?;
        let anywhere = env.or(
            "RISKRELAY_METRICS_FROM",
            "loopback or any",
            false,
            |v| match v {
                "loopback" => Ok(false),
                "any" => Ok(true),
                _ => Err("neither loopback nor any"),
            },
        )?;
        Ok(Self { token, anywhere })
    }

    /// Loopback only, no token: what `riskrelay run` does unless told otherwise.
    pub fn loopback() -> Self {
        Self {
            token: None,
            anywhere: false,
        }
    }

    fn allows(&self, req: &http::Request<Bytes>) -> Result<(), ApiError> {
        if let Some(token) = &self.token {
            let given = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            let expected = token.expose_secret().as_bytes();
            return if bool::from(given.as_bytes().ct_eq(expected)) {
                Ok(())
            } else {
                Err(ApiError::Unauthorized)
            };
        }
        let loopback = req
            .extensions()
            .get::<Peer>()
            .is_some_and(|p| p.0.ip().is_loopback());
        if self.anywhere || loopback {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

pub struct Endpoint(pub Access);

#[async_trait]
impl HttpApp for Endpoint {
    async fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        if req.uri().path() != "/metrics" {
            return ApiError::NotFound.into_response();
        }
        if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
            return ApiError::MethodNotAllowed.into_response();
        }
        if let Err(e) = self.0.allows(&req) {
            return e.into_response();
        }
        let mut res = http::Response::new(Bytes::from(super::global().encode()));
        let headers = res.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(super::CONTENT_TYPE),
        );
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(peer: &str, auth: Option<&str>) -> http::Request<Bytes> {
        let mut b = http::Request::get("/metrics");
        if let Some(a) = auth {
            b = b.header(http::header::AUTHORIZATION, a);
        }
        let mut req = b.body(Bytes::new()).unwrap();
        req.extensions_mut().insert(Peer(peer.parse().unwrap()));
        req
    }

    async fn status(access: Access, req: http::Request<Bytes>) -> u16 {
        Endpoint(access).handle(req).await.status().as_u16()
    }

    #[tokio::test]
    async fn without_a_token_only_loopback_reads_unless_any_is_allowed() {
        assert_eq!(
            status(Access::loopback(), get("127.0.0.1:5000", None)).await,
            200
        );
        assert_eq!(
            status(Access::loopback(), get("[::1]:5000", None)).await,
            200
        );
        assert_eq!(
            status(Access::loopback(), get("10.0.0.8:5000", None)).await,
            403
        );
        let env = Env::default().with("RISKRELAY_METRICS_FROM", "any");
        let any = Access::load(&env, &crate::config::EnvSecrets(&env)).unwrap();
        assert_eq!(status(any, get("10.0.0.8:5000", None)).await, 200);
    }

    #[tokio::test]
    async fn with_a_token_every_request_must_carry_it_and_the_token_never_prints() {
        let env = Env::default().with("RISKRELAY_METRICS_TOKEN", "scrape-me-0123456789");
        let access = Access::load(&env, &crate::config::EnvSecrets(&env)).unwrap();
        assert!(!format!("{access:?}").contains("scrape-me"));
        for (peer, auth, want) in [
            ("127.0.0.1:1", None, 401),
            ("127.0.0.1:1", Some("Bearer wrong-token-0123456789"), 401),
            ("127.0.0.1:1", Some("Basic c2NyYXBl"), 401),
            ("10.0.0.8:1", Some("Bearer scrape-me-0123456789"), 200),
        ] {
            assert_eq!(
                status(access.clone(), get(peer, auth)).await,
                want,
                "{peer} {auth:?}"
            );
        }
        let short = Env::default().with("RISKRELAY_METRICS_TOKEN", "short");
        let err = Access::load(&short, &crate::config::EnvSecrets(&short)).unwrap_err();
        assert!(err.to_string().contains("RISKRELAY_METRICS_TOKEN"), "{err}");
        assert!(!err.to_string().contains("short\""), "{err}");
    }

    #[tokio::test]
    async fn the_text_is_openmetrics_and_not_cached() {
        super::super::global().batch_request();
        let res = Endpoint(Access::loopback())
            .handle(get("127.0.0.1:1", None))
            .await;
        assert_eq!(
            res.headers()[http::header::CONTENT_TYPE],
            super::super::CONTENT_TYPE
        );
        assert_eq!(res.headers()[http::header::CACHE_CONTROL], "no-store");
        let body = String::from_utf8(res.body().to_vec()).unwrap();
        assert!(
            body.contains("riskrelay_graph_batch_requests_total"),
            "{body}"
        );
    }
}
