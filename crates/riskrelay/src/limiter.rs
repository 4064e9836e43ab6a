//! A request spacer: hands out slots one interval apart, in order, and can hold every caller back
//! at once.
//!
//! Used for Graph's identity-protection endpoints (1 request per second per tenant, shared with
//! every app in the tenant, 429s without Retry-After: when Graph still says 429, every caller
//! waits, not only the one refused) and for Slack webhooks (about 1 message per second).

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Slots shared with other processes: the poller and worker functions of one tenant each hold a
/// [`Limiter`], and this keeps their requests apart too. Wall-clock times, as processes on
/// different hosts share no monotonic clock.
#[async_trait]
pub trait SharedSlots: Send + Sync {
    /// Reserves the first slot at or after `earliest` that is `interval` after every slot
    /// reserved before, and returns it.
    async fn reserve(
        &self,
        earliest: OffsetDateTime,
        interval: Duration,
    ) -> Result<OffsetDateTime, SlotsError>;

    /// Holds every process back until `until` (a throttled answer).
    async fn hold(&self, until: OffsetDateTime) -> Result<(), SlotsError>;
}

/// Why the shared slots could not be read or moved.
#[derive(Debug, thiserror::Error)]
pub enum SlotsError {
    #[error("the shared identity-protection slot could not be read or written: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the shared identity-protection slot changed {0} times while being reserved")]
    Contended(usize),
}

#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Limiter {
    pub fn per_second(rate: f64) -> Self {
        Self::with_interval(Duration::from_secs_f64(1.0 / rate))
    }

    pub fn with_interval(interval: Duration) -> Self {
        Self {
            interval,
            next: Mutex::new(None),
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for this caller's slot. Slots are handed out in order, one per interval. A stop
    /// (see [`crate::http::stoppable`]) ends the wait early; the caller checks
    /// [`crate::http::stopping`] before sending.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        crate::http::sleep_unless_stopped(slot.saturating_duration_since(Instant::now())).await;
    }

    /// Pushes the next slot at least `delay` into the future, for every caller.
    pub async fn pause(&self, delay: Duration) {
        let mut next = self.next.lock().await;
        let until = Instant::now() + delay;
        *next = Some(next.map_or(until, |n| n.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_one_interval_apart() {
        let l = Limiter::per_second(1.0);
        let start = Instant::now();
        for _ in 0..8 {
            l.acquire().await;
        }
        // 8 requests: the first at once, then one per second.
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lower_rate_and_a_pause_hold_everyone_back() {
        let l = std::sync::Arc::new(Limiter::per_second(0.5));
        let start = Instant::now();
        l.acquire().await;
        l.pause(Duration::from_secs(10)).await;
        let (a, b) = (l.clone(), l.clone());
        let (ta, tb) = tokio::join!(
            async move {
                a.acquire().await;
                Instant::now()
            },
            async move {
                b.acquire().await;
                Instant::now()
            }
        );
        let mut t = [ta - start, tb - start];
        t.sort();
        assert_eq!(t, [Duration::from_secs(10), Duration::from_secs(12)]);
    }
}
