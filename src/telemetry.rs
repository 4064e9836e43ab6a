//! Logging set-up shared by every binary: readable text on a terminal, JSON lines when asked
//! (`RISKRELAY_LOG_FORMAT=json`, the default in Lambda where CloudWatch parses JSON). Logs go to
//! stderr so stdout stays free for a command's own output.

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
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}
