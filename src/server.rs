//! The local HTTP server, on hyper: it hosts the webhook outside Lambda (`riskrelay serve` and
//! `riskrelay run`) and the simulated tenant.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::api_error::{ApiError, MAX_BODY_BYTES};

/// An application the server can host: whole request in, whole response out.
#[async_trait::async_trait]
pub trait HttpApp: Send + Sync + 'static {
    async fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes>;
}

/// Per-connection limit on reading the request head and body, so an idle or trickling client
/// cannot hold a connection open forever.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn handle<A: HttpApp>(
    app: Arc<A>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let res = if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        ApiError::PayloadTooLarge.into_response()
    } else {
        let (parts, body) = req.into_parts();
        match tokio::time::timeout(READ_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect()).await
        {
            Ok(Ok(collected)) => {
                app.handle(http::Request::from_parts(parts, collected.to_bytes()))
                    .await
            }
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                ApiError::PayloadTooLarge.into_response()
            }
            Ok(Err(_)) | Err(_) => ApiError::BadRequest.into_response(),
        }
    };
    Ok(res.map(Full::new))
}

/// Binds `addr`. Separate from [`serve`] so a caller learns the real port (for `:0`) first.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    use anyhow::Context as _;
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("could not listen on {addr}"))
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve<A: HttpApp>(
    listener: TcpListener,
    app: Arc<A>,
    shutdown: impl Future<Output = ()>,
) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let app = app.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(app.clone(), req));
                    let conn = http1::Builder::new()
                        .header_read_timeout(READ_TIMEOUT)
                        .timer(hyper_util::rt::TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service);
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}
