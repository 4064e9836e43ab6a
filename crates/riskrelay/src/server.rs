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

/// Several applications on one listener, chosen by path prefix; the rest goes to the fallback
/// (the webhook), or gets a 404.
#[derive(Default)]
pub struct Routes {
    prefixes: Vec<(&'static str, Arc<dyn HttpApp>)>,
    fallback: Option<Arc<dyn HttpApp>>,
}

impl Routes {
    pub fn prefix(mut self, prefix: &'static str, app: Arc<dyn HttpApp>) -> Self {
        self.prefixes.push((prefix, app));
        self
    }

    pub fn fallback(mut self, app: Arc<dyn HttpApp>) -> Self {
        self.fallback = Some(app);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty() && self.fallback.is_none()
    }
}

#[async_trait::async_trait]
impl HttpApp for Routes {
    async fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        let path = req.uri().path();
        let app = self
            .prefixes
            .iter()
            .find(|(p, _)| path.starts_with(p))
            .map(|(_, a)| a)
            .or(self.fallback.as_ref());
        match app {
            Some(a) => a.handle(req).await,
            None => ApiError::NotFound.into_response(),
        }
    }
}

/// How long a stop waits for requests in flight (Graph wants an answer within a few seconds
/// anyway); connections still open then are closed.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Per-connection limit on reading the request head and body, so an idle or trickling client
/// cannot hold a connection open forever.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The address a request came from, in its extensions (an endpoint that answers loopback only
/// reads it).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

async fn handle<A: HttpApp>(
    app: Arc<A>,
    peer: SocketAddr,
    mut req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    req.extensions_mut().insert(Peer(peer));
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let res = if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        // Answer at once, but keep reading (and discarding) what the client is still sending for
        // a moment: closing on unread data makes the kernel reset the connection, and the client
        // would see a reset instead of the 413.
        tokio::spawn(linger(req.into_body()));
        let mut res = ApiError::PayloadTooLarge.into_response();
        res.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        res
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

/// Connections served at once at most; each holds a file descriptor and a small buffer.
const MAX_CONNECTIONS: usize = 512;
/// The longest pause after failed accepts, and how often their log line is written at most.
const ACCEPT_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// Consecutive accept failures: a pause that doubles from 10 ms to [`ACCEPT_BACKOFF_MAX`], and one
/// log line per [`ACCEPT_BACKOFF_MAX`] with how many failed since the last one.
#[derive(Default)]
struct AcceptFailures {
    consecutive: u32,
    unlogged: u64,
    last_logged: Option<tokio::time::Instant>,
}

impl AcceptFailures {
    fn record(&mut self, e: &std::io::Error) -> std::time::Duration {
        self.consecutive = self.consecutive.saturating_add(1);
        self.unlogged += 1;
        let now = tokio::time::Instant::now();
        if self
            .last_logged
            .is_none_or(|t| now.duration_since(t) >= ACCEPT_BACKOFF_MAX)
        {
            tracing::warn!(error = %e, failures = self.unlogged, "accept failed; backing off");
            self.unlogged = 0;
            self.last_logged = Some(now);
        }
        (std::time::Duration::from_millis(10) * 2u32.saturating_pow(self.consecutive.min(7)))
            .min(ACCEPT_BACKOFF_MAX)
    }

    fn reset(&mut self) {
        self.consecutive = 0;
    }
}

/// How much of a refused body is read and discarded, and for how long, before the connection
/// closes.
const LINGER_BYTES: usize = 16 * 1024 * 1024;
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);

async fn linger(mut body: Incoming) {
    let _ = tokio::time::timeout(LINGER_TIME, async {
        let mut read = 0usize;
        while read < LINGER_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    })
    .await;
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
    let mut failures = AcceptFailures::default();
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        // At the cap, finish a connection before accepting another: the backlog waits in the
        // kernel instead of in memory.
        if connections.len() >= MAX_CONNECTIONS {
            tokio::select! {
                () = &mut shutdown => break,
                _ = connections.join_next() => continue,
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => {
                        failures.reset();
                        a
                    }
                    Err(e) => {
                        // Out of file descriptors, most often: retrying at once only spins.
                        let pause = failures.record(&e);
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(pause) => {}
                        }
                        continue;
                    }
                };
                let app = app.clone();
                let mut stopping = stopping_rx.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(app.clone(), peer, req));
                    let conn = http1::Builder::new()
                        .header_read_timeout(READ_TIMEOUT)
                        .timer(hyper_util::rt::TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    // On a stop, an idle keep-alive connection closes at once and a busy one
                    // after its response.
                    let result = tokio::select! {
                        r = conn.as_mut() => r,
                        _ = stopping.changed() => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // In-flight requests get a moment to finish; idle keep-alive connections close at once.
    let _ = stopping_tx.send(());
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            open = connections.len(),
            "closing connections still open after the grace period"
        );
        connections.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failed_accepts_back_off_and_log_once_a_second() {
        let mut f = AcceptFailures::default();
        let e = std::io::Error::other("Too many open files");
        let pauses: Vec<u64> = (0..10).map(|_| f.record(&e).as_millis() as u64).collect();
        assert_eq!(pauses, [20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]);
        assert_eq!(
            f.unlogged, 9,
            "one line for the first failure, the rest counted"
        );
        tokio::time::advance(ACCEPT_BACKOFF_MAX).await;
        f.record(&e);
        assert_eq!(f.unlogged, 0, "a second later the count is logged");
        f.reset();
        assert_eq!(f.record(&e).as_millis(), 20);
    }
}
