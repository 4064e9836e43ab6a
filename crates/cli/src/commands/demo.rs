//! `riskrelay demo`: the story against simulated tenants (the chapters are in [`crate::demo`]).

use riskrelay::config::check_webhook_url;
use secrecy::SecretString;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn webhook_arg(name: &str, url: Option<String>) -> anyhow::Result<Option<SecretString>> {
    url.map(|u| {
        // The reason never quotes the URL: it is a credential.
        check_webhook_url(&u).map_err(|r| anyhow::anyhow!("--{name}: {r}"))?;
        Ok(SecretString::from(u))
    })
    .transpose()
}

pub async fn demo(
    out: PathBuf,
    enforce: bool,
    slack: Option<String>,
    teams: Option<String>,
    tenants: usize,
) -> anyhow::Result<ExitCode> {
    let options = crate::demo::DemoOptions {
        out,
        enforce,
        slack_webhook: webhook_arg("slack-webhook", slack)?,
        teams_webhook: webhook_arg("teams-webhook", teams)?,
        print: true,
        tenants,
    };
    crate::demo::run(options).await?;
    Ok(ExitCode::SUCCESS)
}
