//! `riskrelay tenants` and `run --simulate --tenants N` as the operator runs them.

use serde_json::json;

/// `riskrelay` as a process with a clean environment.
fn riskrelay(dir: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_riskrelay"));
    cmd.env_clear()
        .env("RISKRELAY_SQLITE_PATH", dir.join("riskrelay.sqlite"))
        .env(
            "RISKRELAY_CLIENT_ID",
            "11111111-2222-4333-8444-555555555555",
        )
        .env("RISKRELAY_PUBLIC_URL", "https://riskrelay.example.net")
        .env("RISKRELAY_SINKS", "msp:slack,contoso:teams")
        .kill_on_drop(true);
    cmd
}

async fn out(cmd: &mut tokio::process::Command) -> (i32, String, String) {
    let o = cmd.output().await.unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_tenants_command_registers_lists_and_removes_and_refuses_bad_input() {
    const CONTOSO: &str = "8d6a3c1e-2f4b-4c5d-9e6f-7a8b9c0d1e2f";
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = out(riskrelay(dir.path()).args([
        "tenants",
        "add",
        CONTOSO,
        "--name",
        "Contoso Ltd",
        "--sinks",
        "Contoso",
        "--drift-mode",
        "enforce",
        "--exclude",
        "breakglass@contoso.com",
        "--summary",
        "mon 08:00",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Added Contoso Ltd"), "{stdout}");
    let url = stdout
        .lines()
        .find(|l| l.starts_with("https://"))
        .expect("the admin-consent URL");
    let url = url::Url::parse(url).unwrap();
    assert_eq!(url.path(), format!("/{CONTOSO}/v2.0/adminconsent"));
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "11111111-2222-4333-8444-555555555555");
    assert_eq!(q["scope"], "https://graph.microsoft.com/.default");
    assert_eq!(q["redirect_uri"], "https://riskrelay.example.net/consent");

    // Bad input: a clear error, exit 2, and nothing registered.
    let (code, _, stderr) = out(riskrelay(dir.path()).args([
        "tenants",
        "add",
        "contoso.onmicrosoft.com",
        "--name",
        "X",
    ]))
    .await;
    assert_eq!(code, 2);
    assert!(stderr.contains("the tenant must be its id"), "{stderr}");
    let (code, _, stderr) = out(riskrelay(dir.path()).args([
        "tenants",
        "add",
        "00000000-0000-0000-0000-000000000000",
        "--name",
        "X",
    ]))
    .await;
    assert_eq!(code, 2);
    assert!(stderr.contains("not the nil GUID"), "{stderr}");
    for (extra, says) in [
        (
            ["--sinks", "nope"],
            "\"nope\" is not a destination of RISKRELAY_SINKS",
        ),
        (["--drift-mode", "loud"], "the drift mode must be one of"),
        (["--exclude", "nobody"], "exclusions:"),
        (
            ["--summary", "daily"],
            "the summary schedule: \"daily\" is not",
        ),
        (["--name", " "], "the tenant name is empty"),
        (
            ["--name", "Contoso\u{202E}dtL"],
            "bidi or invisible character",
        ),
    ] {
        let (code, _, stderr) = out(riskrelay(dir.path())
            .args(["tenants", "add", "0a6a3c1e-2f4b-4c5d-9e6f-7a8b9c0d1e2f"])
            .args(extra)
            .args(if extra[0] == "--name" {
                &[][..]
            } else {
                &["--name", "X"][..]
            }))
        .await;
        assert_eq!(code, 2, "{extra:?}");
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
    }
    let (code, _, stderr) = out(riskrelay(dir.path())
        .env_remove("RISKRELAY_PUBLIC_URL")
        .args([
            "tenants",
            "add",
            "0a6a3c1e-2f4b-4c5d-9e6f-7a8b9c0d1e2f",
            "--name",
            "X",
        ]))
    .await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("RISKRELAY_CONSENT_REDIRECT_URI"),
        "{stderr}"
    );

    let (code, stdout, _) = out(riskrelay(dir.path()).args(["tenants", "list", "--json"])).await;
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], CONTOSO);
    assert_eq!(list[0]["consent"], "pending");
    assert_eq!(list[0]["sinks"], json!(["contoso"]));
    assert_eq!(list[0]["driftMode"], "enforce");
    assert_eq!(list[0]["summary"], "mon 08:00");
    let (_, stdout, _) = out(riskrelay(dir.path()).args(["tenants", "list"])).await;
    assert!(stdout.contains("Contoso Ltd\tpending"), "{stdout}");

    let (code, stdout, _) = out(riskrelay(dir.path()).args(["tenants", "remove", CONTOSO])).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("Removed Contoso Ltd"));
    let (code, _, stderr) = out(riskrelay(dir.path()).args(["tenants", "remove", CONTOSO])).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("is not registered"));
    let (_, stdout, _) = out(riskrelay(dir.path()).args(["tenants", "list"])).await;
    assert!(stdout.contains("no tenant is registered"), "{stdout}");
}

#[tokio::test]
async fn a_csv_import_checks_every_row_first_then_adds_and_updates_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    let id = |n: usize| format!("{n:08x}-1111-4222-8333-444444444444");
    // Two bad rows among good ones: both reported by line, nothing written.
    std::fs::write(
        &file,
        format!(
            "id,name,sinks,driftMode,exclude\n{},Contoso,contoso,enforce,\n{},Fabrikam,teams,,\n{},Northwind,,sometimes,\n",
            id(1),
            id(2),
            id(3)
        ),
    )
    .unwrap();
    let csv = file.to_str().unwrap();
    let (code, _, stderr) = out(riskrelay(dir.path()).args(["tenants", "import", csv])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("line 3: \"teams\" is not a destination"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4: the drift mode must be"),
        "{stderr}"
    );
    assert!(stderr.contains("2 bad rows"), "{stderr}");
    let (_, stdout, _) = out(riskrelay(dir.path()).args(["tenants", "list"])).await;
    assert!(stdout.contains("no tenant is registered"), "{stdout}");

    // One added by hand first, then 300 from the file: the known one is updated.
    let (code, _, stderr) =
        out(riskrelay(dir.path()).args(["tenants", "add", &id(1), "--name", "Old name"])).await;
    assert_eq!(code, 0, "{stderr}");
    let mut rows = String::from("Tenant ID,Name,Destinations\n");
    for n in 1..=300 {
        rows.push_str(&format!(
            "{},\"Customer {n}, Ltd\",{}\n",
            id(n),
            if n % 2 == 0 { "\"msp;contoso\"" } else { "" }
        ));
    }
    std::fs::write(&file, rows).unwrap();
    let (code, stdout, stderr) = out(riskrelay(dir.path()).args(["tenants", "import", csv])).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("Imported 300 tenants: 299 added, 1 updated."),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("/v2.0/adminconsent").count(),
        300,
        "a consent link each"
    );
    let (_, stdout, _) = out(riskrelay(dir.path()).args(["tenants", "list", "--json"])).await;
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 300);
    let first = list.iter().find(|t| t["id"] == id(1)).unwrap();
    assert_eq!(first["name"], "Customer 1, Ltd");
    let second = list.iter().find(|t| t["id"] == id(2)).unwrap();
    assert_eq!(second["sinks"], json!(["msp", "contoso"]));
}

#[tokio::test]
async fn status_parked_and_check_work_on_the_tenant_named_and_refuse_one_not_watched() {
    const CONTOSO: &str = "8d6a3c1e-2f4b-4c5d-9e6f-7a8b9c0d1e2f";
    const FABRIKAM: &str = "2c1b0a9f-8e7d-4c6b-9a49-382716051a2b";
    const STRANGER: &str = "0a6a3c1e-2f4b-4c5d-9e6f-7a8b9c0d1e2f";
    let dir = tempfile::tempdir().unwrap();
    let msp = |args: &[&str]| {
        let mut cmd = riskrelay(dir.path());
        cmd.env("RISKRELAY_TENANTS", "registry")
            .env(
                "RISKRELAY_TENANT_ID",
                "11111111-2222-4333-8444-555555555555",
            )
            .args(args);
        cmd
    };
    for (id, name) in [(CONTOSO, "Contoso"), (FABRIKAM, "Fabrikam")] {
        let (code, _, stderr) = out(&mut msp(&["tenants", "add", id, "--name", name])).await;
        assert_eq!(code, 0, "{stderr}");
    }
    let (code, stdout, stderr) = out(&mut msp(&["status", "--json", "--tenant", CONTOSO])).await;
    assert_eq!(code, 0, "{stderr}");
    let one: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let tenants = one["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 1, "{one}");
    assert_eq!(tenants[0]["name"], "Contoso");
    let (_, stdout, _) = out(&mut msp(&["status", "--json"])).await;
    let all: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        all["tenants"].as_array().unwrap().len(),
        2,
        "every tenant by default"
    );

    let db = dir.path().join("riskrelay.sqlite");
    let db = db.to_str().unwrap();
    for args in [
        vec!["status", "--tenant", STRANGER],
        vec!["parked", "--db", db, "--tenant", STRANGER],
        vec!["check", "--tenant", STRANGER],
    ] {
        let (code, _, stderr) = out(&mut msp(&args)).await;
        assert_eq!(code, 2, "{args:?}");
        assert!(
            stderr.contains("is not a registered tenant"),
            "{args:?}: {stderr}"
        );
    }
    // Parked messages belong to one tenant: with many, say which, or all.
    let (code, _, stderr) = out(&mut msp(&["parked", "--db", db])).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--tenant ID, or use --all-tenants"),
        "{stderr}"
    );
    for args in [
        vec!["parked", "--db", db, "--tenant", FABRIKAM],
        vec!["parked", "--db", db, "--all-tenants"],
    ] {
        let (code, stdout, stderr) = out(&mut msp(&args)).await;
        assert_eq!(
            (code, stdout.as_str()),
            (0, "nothing is parked\n"),
            "{args:?}: {stderr}"
        );
    }
    // One tenant's deployment: --tenant may only name it.
    let (code, _, stderr) = out(riskrelay(dir.path())
        .env("RISKRELAY_TENANT_ID", CONTOSO)
        .args(["status", "--tenant", FABRIKAM]))
    .await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("is not the tenant this deployment watches"),
        "{stderr}"
    );
}

#[tokio::test]
async fn run_simulate_watches_several_tenants_each_message_naming_its_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = out(riskrelay(dir.path()).env_remove("RISKRELAY_SINKS").args([
        "run",
        "--simulate",
        "--tenants",
        "3",
        "--once",
        "--console",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    for name in ["Contoso", "Fabrikam", "Northwind"] {
        assert!(
            stdout.contains(&format!("Tenant: {name}")),
            "no message names {name}: {stdout}"
        );
    }
    let (_, stdout, _) = out(riskrelay(dir.path()).args(["tenants", "list", "--json"])).await;
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t["consent"] == "granted"),
        "{list}"
    );
    // A snooze belongs to the tenant it names.
    let fabrikam = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Fabrikam")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, _, stderr) = out(riskrelay(dir.path()).args([
        "snooze",
        "bob@fabrikam.com",
        "--for",
        "1d",
        "--reason",
        "helpdesk ticket",
        "--by",
        "msp-analyst",
        "--tenant",
        &fabrikam,
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let listed = |tenant: String| {
        let mut cmd = riskrelay(dir.path());
        cmd.args(["snooze", "--list", "--tenant", &tenant]);
        async move { out(&mut cmd).await.1 }
    };
    assert!(listed(fabrikam).await.contains("bob@fabrikam.com"));
    let contoso = riskrelay_sim::SimConfig::tenant(0).tenant_id.to_string();
    assert!(listed(contoso).await.contains("nobody is snoozed"));
    // A tenant the deployment does not watch: refused, nothing kept where nothing reads it.
    let (code, _, stderr) = out(riskrelay(dir.path())
        .env("RISKRELAY_TENANTS", "registry")
        .args([
            "snooze",
            "bob@elsewhere.com",
            "--for",
            "1d",
            "--reason",
            "x",
            "--by",
            "msp-analyst",
            "--tenant",
            "99999999-2222-3333-4444-555555555555",
        ]))
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a registered tenant"), "{stderr}");
}
