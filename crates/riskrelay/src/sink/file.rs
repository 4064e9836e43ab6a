//! Each message's exact Slack and Teams payloads written to a folder, numbered in the order they
//! were posted (`01-<title>.slack.json`, `01-<title>.teams.json`, …). The demo uses it so that a
//! reader can look at, or replay, every payload without a chat account.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Outgoing, Sink, SinkError};
use crate::render::{self, View};
use crate::risk::RiskLevel;

/// A message written to files.
#[derive(Debug, Clone)]
pub struct Written {
    /// 1 for the first message written.
    pub seq: usize,
    pub view: View,
    pub slack_file: PathBuf,
    pub teams_file: PathBuf,
}

pub struct FileSink {
    dir: PathBuf,
    written: Mutex<Vec<Written>>,
}

impl FileSink {
    /// Writes into `dir`, which must exist; payload files of an earlier run there are removed
    /// first, so the folder holds exactly this run's messages.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.ends_with(".slack.json") || name.ends_with(".teams.json") {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            written: Mutex::new(Vec::new()),
        })
    }

    /// What was written so far, in order.
    pub fn written(&self) -> Vec<Written> {
        self.written.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

/// A file-name-safe form of a title: lower-case letters and digits joined by single dashes.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(60).collect()
}

#[async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        "files"
    }

    fn min_level(&self) -> &RiskLevel {
        &RiskLevel::Low
    }

    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError> {
        let fail = |detail: String| SinkError::Permanent {
            sink: "files".into(),
            class: super::FailureClass::Local,
            detail,
        };
        let mut written = self
            .written
            .lock()
            .map_err(|_| fail("an earlier write panicked".into()))?;
        let view = &message.view;
        let seq = written.len() + 1;
        let base = format!("{seq:02}-{}", slug(&view.title));
        let slack_file = self.dir.join(format!("{base}.slack.json"));
        let teams_file = self.dir.join(format!("{base}.teams.json"));
        for (file, payload) in [
            (&slack_file, render::slack::payload(view)),
            (&teams_file, render::teams::payload(view)),
        ] {
            let bytes = serde_json::to_vec_pretty(&payload).map_err(|e| fail(e.to_string()))?;
            std::fs::write(file, bytes).map_err(|e| fail(e.to_string()))?;
        }
        written.push(Written {
            seq,
            view: view.clone(),
            slack_file,
            teams_file,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(
            slug("New risk: Adsync User 2 (high)"),
            "new-risk-adsync-user-2-high"
        );
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug(&"x".repeat(100)).len(), 60);
    }
}
