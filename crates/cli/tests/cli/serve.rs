//! `riskrelay serve`, the webhook alone, as a process at its limits.

use riskrelay_sim::testkit::*;

/// At its file-descriptor limit the server backs off instead of spinning: a few log lines, not
/// millions, and it answers again once connections close.
#[tokio::test]
async fn at_the_file_descriptor_limit_the_server_backs_off_and_recovers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tempfile::NamedTempFile::new().unwrap();
    // A low limit the test can reach: the process needs a few dozen descriptors of its own.
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 48 && exec '{}' serve --listen 127.0.0.1:{port}",
            env!("CARGO_BIN_EXE_riskrelay")
        ))
        .env_clear()
        .env("RISKRELAY_TENANT_ID", TENANT)
        .env("RISKRELAY_CLIENT_STATE", CLIENT_STATE)
        .env("RISKRELAY_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(log.reopen().unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let health = || async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.ok()?;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut buf = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(2), s.read_to_end(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"))
    };
    let up = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while health().await != Some(true) {
        assert!(std::time::Instant::now() < up, "the server did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Far more idle connections than the limit allows: the kernel completes them into the
    // backlog, and every accept beyond the limit fails with EMFILE.
    let mut idle = Vec::new();
    for _ in 0..120 {
        if let Ok(s) = tokio::net::TcpStream::connect(&addr).await {
            idle.push(s);
        }
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let text = std::fs::read_to_string(log.path()).unwrap();
    let lines = text.lines().filter(|l| l.contains("accept failed")).count();
    assert!(
        (1..=6).contains(&lines),
        "{lines} accept-failure lines in 3 s (one a second at most, and the limit was reached): {text}"
    );

    drop(idle);
    let back = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while health().await != Some(true) {
        assert!(
            std::time::Instant::now() < back,
            "the server did not recover"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.start_kill().unwrap();
}
