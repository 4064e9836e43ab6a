//! A terminal: messages printed as a person would read them.

use std::io::Write as _;

use async_trait::async_trait;

use super::{Outgoing, Sink, SinkError};
use crate::risk::RiskLevel;

pub struct ConsoleSink {
    min_level: RiskLevel,
}

impl ConsoleSink {
    pub fn new(min_level: RiskLevel) -> Self {
        Self { min_level }
    }
}

#[async_trait]
impl Sink for ConsoleSink {
    fn name(&self) -> &str {
        "console"
    }

    fn min_level(&self) -> &RiskLevel {
        &self.min_level
    }

    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError> {
        let text = crate::render::console::text(&message.view);
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}").map_err(|e| SinkError::Permanent {
            sink: "console".into(),
            class: super::FailureClass::Local,
            detail: e.to_string(),
        })
    }
}
