//! Logging set-up shared by every binary: readable text on a terminal, JSON lines when asked
//! (`RISKRELAY_LOG_FORMAT=json`, the default in Lambda where CloudWatch parses JSON). Logs go to
//! stderr so stdout stays free for a command's own output, each line scrubbed of every secret
//! riskrelay holds on its way out ([`crate::redact`]): upstream text is scrubbed where it enters,
//! and this is the net behind that.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected text or json".into()),
        }
    }
}

impl LogFormat {
    /// `RISKRELAY_LOG_FORMAT`, else JSON inside Lambda and text elsewhere.
    pub fn from_env() -> Self {
        match std::env::var("RISKRELAY_LOG_FORMAT")
            .ok()
            .map(|v| v.parse())
        {
            Some(Ok(f)) => f,
            _ if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() => Self::Json,
            _ => Self::Text,
        }
    }
}

/// Installs the global subscriber. The filter comes from `RISKRELAY_LOG` (same syntax as
/// `RUST_LOG`), default `info`. Calling it twice is harmless.
pub fn init(format: LogFormat) {
    init_at(format, "info");
}

/// The same with another default level (the demo tells its story on stdout and keeps stderr
/// for warnings unless `RISKRELAY_LOG` asks for more).
pub fn init_at(format: LogFormat, default: &str) {
    let filter =
        EnvFilter::try_from_env("RISKRELAY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Scrubbed::new(std::io::stderr()));
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}

/// At most `per_window` log lines about one thing in each `window`, and how many were held back
/// meanwhile: for lines that unauthenticated input could otherwise make without bound (rejected
/// notifications, a full queue answering 503 to every request).
pub struct LogBudget {
    per_window: u32,
    window: std::time::Duration,
    state: std::sync::Mutex<Option<(std::time::Instant, u32, u64)>>,
}

impl LogBudget {
    pub const fn new(per_window: u32, window: std::time::Duration) -> Self {
        Self {
            per_window,
            window,
            state: std::sync::Mutex::new(None),
        }
    }

    /// `Some(held back since the last line let through)` when a line may be written now.
    pub fn allow(&self) -> Option<u64> {
        let Ok(mut state) = self.state.lock() else {
            return None;
        };
        let now = std::time::Instant::now();
        let (start, used, held) = state.get_or_insert((now, 0, 0));
        if now.duration_since(*start) >= self.window {
            *start = now;
            *used = 0;
        }
        if *used < self.per_window {
            *used += 1;
            Some(std::mem::take(held))
        } else {
            *held += 1;
            None
        }
    }
}

/// A log writer that scrubs each event's text before writing it. The formatter writes one event
/// through one writer, then drops it: the event is gathered here and written, scrubbed, on drop.
pub struct Scrubbed<W: std::io::Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: std::io::Write> Scrubbed<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            buf: Vec::new(),
        }
    }
}

impl<W: std::io::Write> std::io::Write for Scrubbed<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return self.inner.flush();
        }
        let text = crate::redact::scrub(&String::from_utf8_lossy(&self.buf));
        self.buf.clear();
        self.inner.write_all(text.as_bytes())?;
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for Scrubbed<W> {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_log_budget_lets_a_few_lines_through_and_counts_the_rest() {
        let budget = LogBudget::new(2, std::time::Duration::from_secs(3600));
        assert_eq!(budget.allow(), Some(0));
        assert_eq!(budget.allow(), Some(0));
        for _ in 0..1000 {
            assert_eq!(budget.allow(), None);
        }
        let fresh = LogBudget::new(1, std::time::Duration::ZERO);
        assert_eq!(fresh.allow(), Some(0));
        assert_eq!(
            fresh.allow(),
            Some(0),
            "a new window lets a line through again"
        );
    }

    #[test]
    fn a_log_line_loses_every_held_secret() {
        crate::redact::hold_url("https://hooks.slack.com/services/T1/B1/tElEmEtRyLeAkTeStToKeN");
        let mut out = Vec::new();
        {
            let mut w = Scrubbed::new(&mut out);
            w.write_all(b"WARN delivery failed error=\"Slack answered 404: no_service for ")
                .unwrap();
            w.write_all(
                b"https%3A%2F%2Fhooks.slack.com%2Fservices%2FT1%2FB1%2FtElEmEtRyLeAkTeStToKeN\"\n",
            )
            .unwrap();
        }
        let line = String::from_utf8(out).unwrap();
        assert!(!line.contains("tElEmEtRy"), "{line}");
        assert!(
            line.contains("Slack answered 404") && line.ends_with("[redacted]\"\n"),
            "{line}"
        );
    }
}
