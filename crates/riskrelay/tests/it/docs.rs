//! The documentation keeps up with the code: every `RISKRELAY_*` variable the code reads is on
//! the configuration page (a secret may be listed by its key in the JSON secret, as the page's
//! `RISKRELAY_<KEY>` rule says), and every variable the test kit reads is on the development page.

use std::collections::BTreeSet;
use std::path::Path;

/// Every `RISKRELAY_…` name in the source files under `dir`, outside unit tests, except under the
/// files and folders named in `skip`.
fn names_read(dir: &Path, skip: &[&str], out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if skip.contains(&file.as_str()) {
            continue;
        }
        if path.is_dir() {
            names_read(&path, skip, out);
            continue;
        }
        if !file.ends_with(".rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        out.extend(names_in(code));
    }
}

/// The `RISKRELAY_[A-Z0-9_]+` names in `text`; a name built at run time (`RISKRELAY_{}_…`) is not
/// one.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("RISKRELAY_") {
        rest = &rest[i..];
        let n = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        let name = rest[..n].trim_end_matches('_');
        if name.len() > "RISKRELAY_".len() {
            out.insert(name.to_string());
        }
        rest = &rest[n.max(1)..];
    }
    out
}

fn documented(name: &str, page: &str) -> bool {
    let word = |w: &str| {
        page.match_indices(w).any(|(i, _)| {
            let after = page[i + w.len()..].chars().next();
            !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    // `RISKRELAY_<KEY>` stands for a key of the JSON secret: `"action_link_key"`.
    let key = format!(
        "\"{}\"",
        name.trim_start_matches("RISKRELAY_").to_ascii_lowercase()
    );
    word(name) || page.contains(&key)
}

#[test]
fn every_variable_the_code_reads_is_documented() {
    let root = riskrelay_sim::testkit::repo_root();
    let mut read = BTreeSet::new();
    for package in ["core", "riskrelay", "sim", "cli"] {
        names_read(
            &root.join("crates").join(package).join("src"),
            &["testkit"],
            &mut read,
        );
    }
    assert!(
        read.contains("RISKRELAY_TENANT_ID") && read.len() > 30,
        "the reader is broken: {read:?}"
    );
    let page = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    let missing: Vec<&String> = read.iter().filter(|n| !documented(n, &page)).collect();
    assert!(
        missing.is_empty(),
        "read by the code but not in docs/configuration.md: {missing:?}"
    );

    let mut kit = BTreeSet::new();
    names_read(&root.join("crates/sim/src/testkit"), &[], &mut kit);
    assert!(kit.contains("RISKRELAY_TEST_MOTO_URL"), "{kit:?}");
    let dev = std::fs::read_to_string(root.join("docs/development.md")).unwrap();
    let missing: Vec<&String> = kit
        .iter()
        .filter(|n| !documented(n, &dev) && !documented(n, &page))
        .collect();
    assert!(
        missing.is_empty(),
        "read by the test kit but documented nowhere: {missing:?}"
    );
}

/// The checker can fail: a name the page does not carry is found missing, a longer name does not
/// stand in for a shorter one, and a secret's key counts.
#[test]
fn the_checker_finds_an_undocumented_name() {
    let page = "| `RISKRELAY_POLL_INTERVAL_SECONDS` | … |\n  \"action_link_key\": \"…\"";
    assert!(documented("RISKRELAY_POLL_INTERVAL_SECONDS", page));
    assert!(!documented("RISKRELAY_POLL_INTERVAL", page));
    assert!(documented("RISKRELAY_ACTION_LINK_KEY", page));
    assert!(!documented("RISKRELAY_NEW_SETTING", page));
    assert_eq!(
        names_in("env.get(\"RISKRELAY_X_Y\"); format!(\"RISKRELAY_{}_URL\")"),
        BTreeSet::from(["RISKRELAY_X_Y".to_string()])
    );
}
