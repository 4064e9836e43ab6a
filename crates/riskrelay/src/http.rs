//! What every outbound HTTP caller shares: the one reqwest client set-up (one connection pool and
//! one TLS stack, rustls), the one reading of `Retry-After`, and the one retry policy used by the
//! Graph client, `$batch`, the Slack and Teams sinks and the in-process queue.
//!
//! The retry policy is a small helper of our own rather than a crate such as `backon`: callers
//! need to act *between* deciding on a wait and sleeping it (the identity-protection limiter holds
//! every caller back for the same wait; Slack's pacer does too), and a loop with an [`Attempts`]
//! value keeps that visible at the call site without wrapping each attempt in a closure.
//!
//! A job run under [`stoppable`] has every retry wait cut short when the process is asked to
//! stop: the operation then gives up (nothing half-done: a wait is always *between* attempts), so
//! a SIGTERM during a long `Retry-After` ends the job in moments and the next start redoes it.

use std::fmt;
use std::time::Duration;

use http::HeaderMap;
use tokio::sync::watch;
use tokio::time::Instant;

tokio::task_local! {
    static STOP: watch::Receiver<bool>;
}

/// Runs `job` so that its retry waits end early once `stop` turns true.
pub async fn stoppable<F: std::future::Future>(stop: watch::Receiver<bool>, job: F) -> F::Output {
    STOP.scope(stop, job).await
}

/// Whether the job running this code is being stopped (see [`stoppable`]).
pub fn stopping() -> bool {
    STOP.try_with(|s| *s.borrow()).unwrap_or(false)
}

/// Sleeps `delay`, or less when the job is being stopped. Returns false when it was stopped.
pub async fn sleep_unless_stopped(delay: Duration) -> bool {
    let Ok(mut stop) = STOP.try_with(watch::Receiver::clone) else {
        tokio::time::sleep(delay).await;
        return true;
    };
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        r = stop.wait_for(|v| *v) => r.is_err(),
    }
}

/// Longest wait for a TCP and TLS connection to any upstream.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout of a chat post (set per request: the client is shared with Graph): a
/// webhook that has not answered by then is failed and retried later by the queue.
pub const CHAT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the HTTP client could not be set up: {0}")]
pub struct SetupError(String);

/// The HTTP client every adapter uses, with a default whole-request `timeout` (a caller sharing
/// it sets its own per request). It follows no redirect: reqwest would turn a POST answered with
/// 301, 302 or 303 into a GET without a body, and a 2xx to that GET would count as a delivered
/// alert that never arrived (Standard Webhooks: a 3xx is a failure, the URL is to be updated).
/// No API riskrelay calls answers with a redirect, so a 3xx is an error wherever it comes from.
pub fn client(timeout: Duration) -> Result<reqwest::Client, SetupError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("riskrelay/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SetupError(e.to_string()))
}

/// How a request failed on the way, without the URL: a chat webhook's URL is a credential, and a
/// Graph URL says nothing the caller does not already know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportFailure {
    Timeout,
    Connect,
    Other(String),
}

impl TransportFailure {
    pub fn of(e: reqwest::Error) -> Self {
        let e = e.without_url();
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Connect
        } else {
            Self::Other(crate::redact::scrub(&e.to_string()))
        }
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("the request timed out"),
            Self::Connect => f.write_str("could not connect"),
            Self::Other(e) => write!(f, "the request failed: {e}"),
        }
    }
}

/// `Retry-After` from response headers.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(http::header::RETRY_AFTER)?.to_str().ok()?)
}

/// The longest `Retry-After` ever taken as given: an upstream asking for more is read as asking for
/// this. Every retry policy gives up long before (its `max_retry_after` is minutes), and a bounded
/// value keeps every later `now + wait` far from overflowing, whatever number an upstream sends.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(24 * 3600);

/// A `Retry-After` value: delta-seconds (fractions rounded up) or an HTTP date, at most
/// [`RETRY_AFTER_CAP`]. Never panics, whatever the text.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(RETRY_AFTER_CAP));
    }
    if let Ok(secs) = v.parse::<f64>() {
        // Compared before converting: `Duration::from_secs_f64` panics on a value past
        // `u64::MAX` seconds (`1e20`).
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.ceil().min(RETRY_AFTER_CAP.as_secs_f64())));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(RETRY_AFTER_CAP),
    )
}

/// When and how often to try again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with jitter, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts once this much time would have passed since the first attempt.
    pub budget: Duration,
    /// The longest `Retry-After` honoured; an upstream asking for more fails this attempt for
    /// good, and whatever called later (the queue, the next cycle) tries again.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// Exponential backoff with jitter: a random delay between half and all of `base · 2ⁿ⁻¹`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let full = exp.min(self.max_delay);
        let half = full / 2;
        half + full
            .saturating_sub(half)
            .mul_f64(rand::random_range(0.0..=1.0))
    }

    /// Starts counting attempts at something named `what` (it appears in every log line).
    pub fn start(&self, what: impl fmt::Display) -> Attempts<'_> {
        Attempts {
            policy: self,
            what: what.to_string(),
            attempt: 1,
            started: Instant::now(),
        }
    }
}

/// The attempts at one operation under a [`RetryPolicy`]. Use it in a loop: make attempt
/// [`Attempts::number`], and after a failure ask [`Attempts::again`] (or, to act on the wait
/// first, [`Attempts::next_delay`] then [`Attempts::wait`]).
pub struct Attempts<'a> {
    policy: &'a RetryPolicy,
    what: String,
    attempt: u32,
    started: Instant,
}

impl Attempts<'_> {
    /// The attempt being made, from 1.
    pub fn number(&self) -> u32 {
        self.attempt
    }

    /// The wait before the next attempt: the upstream's `Retry-After` when it gave one, else
    /// the policy's backoff. `None` when the policy is spent (attempts, time budget, or a
    /// `Retry-After` longer than the policy honours); the caller then gives up.
    pub fn next_delay(&self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.attempt >= self.policy.max_attempts {
            return None;
        }
        let delay = match retry_after {
            Some(d) if d > self.policy.max_retry_after => return None,
            Some(d) => d,
            None => self.policy.backoff(self.attempt),
        };
        (self.started.elapsed() + delay <= self.policy.budget).then_some(delay)
    }

    /// Logs the failure and sleeps `delay` before the next attempt. Returns false, having logged
    /// that it gives up, when the process is stopping (see [`stoppable`]).
    #[must_use]
    pub async fn wait(&mut self, delay: Duration, error: &(dyn fmt::Display + Sync)) -> bool {
        tracing::info!(what = %self.what, attempt = self.attempt, delay_ms = delay.as_millis() as u64, error = %error, "failed; retrying");
        if !sleep_unless_stopped(delay).await {
            tracing::warn!(what = %self.what, attempt = self.attempt, error = %error, "stopping; not retrying");
            return false;
        }
        self.attempt += 1;
        true
    }

    /// Logs that the operation failed for good.
    pub fn give_up(&self, error: &(dyn fmt::Display + Sync)) {
        tracing::warn!(what = %self.what, attempt = self.attempt, error = %error, "failed; giving up");
    }

    /// After a failed attempt: waits and returns true when another attempt may be made, or logs
    /// the failure and returns false.
    pub async fn again(
        &mut self,
        error: &(dyn fmt::Display + Sync),
        retry_after: Option<Duration>,
    ) -> bool {
        match self.next_delay(retry_after) {
            Some(delay) => self.wait(delay, error).await,
            None => {
                self.give_up(error);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            budget: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(30),
        }
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(http::header::RETRY_AFTER, "1.2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn any_upstream_number_is_capped_never_a_panic() {
        for huge in [
            "1e20",
            "18446744073709551616",
            "18446744073709551615",
            "1.8446744073709552e19",
            "9999999999999999999999999",
            "1e308",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(parse_retry_after(huge), Some(RETRY_AFTER_CAP), "{huge}");
        }
        for odd in ["inf", "NaN", "-0.5", "1e-400", "", "0x10"] {
            let d = parse_retry_after(odd);
            assert!(
                d.is_none_or(|d| d <= Duration::from_secs(1)),
                "{odd}: {d:?}"
            );
        }
        // A capped wait is still longer than any policy honours: the caller gives up at once.
        let p = policy();
        assert_eq!(p.start("x").next_delay(parse_retry_after("1e20")), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            ..policy()
        };
        for attempt in 1..=8 {
            let d = p.backoff(attempt);
            let full = Duration::from_secs(1 << (attempt - 1)).min(Duration::from_secs(8));
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_up_to_its_cap_and_stops_after_the_last_attempt() {
        let p = policy();
        let mut a = p.start("test");
        assert_eq!(
            a.next_delay(Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(a.next_delay(Some(Duration::from_secs(31))), None);
        assert!(a.again(&"boom", Some(Duration::from_secs(2))).await);
        assert_eq!(a.number(), 2);
        assert!(a.again(&"boom", None).await);
        assert_eq!(a.number(), 3);
        assert!(!a.again(&"boom", Some(Duration::ZERO)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_time_budget_is_not_started() {
        let p = RetryPolicy {
            max_attempts: 10,
            budget: Duration::from_secs(10),
            ..policy()
        };
        let mut a = p.start("test");
        assert!(a.again(&"boom", Some(Duration::from_secs(9))).await);
        assert_eq!(a.next_delay(Some(Duration::from_secs(2))), None);
        assert_eq!(
            a.next_delay(Some(Duration::from_secs(1))),
            Some(Duration::from_secs(1))
        );
    }
}
