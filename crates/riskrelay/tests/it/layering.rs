//! The house stays in order: the library's modules import one another without a cycle, and no
//! module imports one of a higher layer (the pure core knows no adapter; adapters know no pipeline;
//! nothing below the wiring knows the wiring). The core is a package of its own
//! (`crates/core`), so Cargo keeps it from importing the application; this test reads both
//! packages as one graph, under the names the application re-exports the core by, and checks that
//! the core's manifest names no runtime, HTTP, AWS, SQLite or Lambda crate and that no package a
//! Lambda function is built from depends on the simulator.
//!
//! The graph is read from the source text: every `crate::` path (also inside `use` groups) and
//! every `super::` path outside `#[cfg(test)]` code and comments, resolved to the longest module
//! path that exists. A module declaring its children (`pub mod slack;`) is not an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers from the bottom, by top-level module. A module may import its own layer and below.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "core",
        &[
            "ids",
            "risk",
            "catalogue",
            "context",
            "posture",
            "activity",
            "notification",
            "observation",
            "reconcile",
            "verdict",
            "admin_center",
            "workload",
            "alert",
            "baseline",
            "exclusions",
            "coalesce",
            "late",
            "mac",
            "snooze",
            "action_link",
            "summary",
            "drift",
            "poll_health",
            "tenancy",
            "onboarding",
            "render",
            "client_state",
            "slack_signature",
            "redact",
            "clock",
            "config",
        ],
    ),
    (
        "shared",
        &[
            "http",
            "limiter",
            "api_error",
            "telemetry",
            "aws",
            "secrets",
        ],
    ),
    (
        "adapters",
        &[
            "graph", "store", "queue", "sink", "server", "metrics", "sim",
        ],
    ),
    (
        "pipeline",
        &[
            "deliver", "parking", "worker", "source", "features", "checks", "actions", "status",
        ],
    ),
    ("wiring", &["app", "fleet", "lambda", "service"]),
];

/// Module path (`sink::slack`) → source text, for every file of the library under `src`.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, src, out);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts[0] == "bin" || parts == ["main"] || parts == ["lib"] {
                continue;
            }
            if parts.last().map(String::as_str) == Some("mod") {
                parts.pop();
            }
            out.insert(parts.join("::"), std::fs::read_to_string(&path).unwrap());
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// The text that counts: no unit tests, no comment lines.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path written after `crate::` or `super::`, with `use` groups expanded:
/// `crate::a::{b, c::d}` gives `a::b` and `a::c::d`.
fn paths_after(text: &str, prefix: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> usize {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    }
    fn expand(rest: &str, base: Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut segs = base;
        let mut rest = rest;
        let mut at_start = true;
        loop {
            let group = if at_start {
                rest.strip_prefix('{')
            } else {
                None
            };
            at_start = false;
            let n = ident(rest);
            if n == 0 && group.is_none() {
                break;
            }
            if group.is_none() {
                segs.push(rest[..n].to_string());
                rest = &rest[n..];
            }
            if let Some(r) = group.map(|_| rest).or_else(|| rest.strip_prefix("::")) {
                rest = r;
                if let Some(group) = rest.strip_prefix('{') {
                    // Split the group at top-level commas.
                    let (mut depth, mut start) = (0, 0);
                    for (i, c) in group.char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => {
                                expand(group[start..i].trim(), segs.clone(), out);
                                return;
                            }
                            '}' => depth -= 1,
                            ',' if depth == 0 => {
                                expand(group[start..i].trim(), segs.clone(), out);
                                start = i + 1;
                            }
                            _ => {}
                        }
                    }
                    return;
                }
            } else {
                break;
            }
        }
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        // Part of a longer name, or of a path already read (`super::super::`).
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        expand(rest, Vec::new(), &mut out);
    }
    out
}

/// The longest module that `segs` names, if any.
fn resolve(modules: &BTreeMap<String, String>, segs: &[String]) -> Option<String> {
    (1..=segs.len())
        .rev()
        .map(|n| segs[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

/// (importer, imported) for every import between two different modules.
fn edges(modules: &BTreeMap<String, String>) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (name, text) in modules {
        let text = code(text);
        let parent: Vec<String> = name.split("::").map(String::from).collect();
        let parent = parent[..parent.len() - 1].to_vec();
        let mut targets: Vec<Option<String>> = paths_after(&text, "crate::")
            .iter()
            .map(|p| resolve(modules, p))
            .collect();
        for p in paths_after(&text, "super::") {
            let ups = p.iter().take_while(|s| *s == "super").count();
            let mut full = parent.clone();
            full.truncate(full.len().saturating_sub(ups));
            full.extend(p.into_iter().skip(ups));
            targets.push(resolve(modules, &full).or_else(|| {
                // `super::Item` names an item of the parent module itself.
                (!parent.is_empty()).then(|| parent.join("::"))
            }));
        }
        for target in targets.into_iter().flatten() {
            // A module using its own children is its facade, not an import.
            if target != *name && !target.starts_with(&format!("{name}::")) {
                out.insert((name.clone(), target));
            }
        }
    }
    out
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(nodes: &BTreeSet<String>, edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    struct State<'a> {
        adj: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(v: &'a str, s: &mut State<'a>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.adj.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(w) {
                visit(w, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        adj: BTreeMap::new(),
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for (a, b) in edges {
        s.adj.entry(a.as_str()).or_default().push(b.as_str());
    }
    for n in nodes {
        if !s.index.contains_key(n.as_str()) {
            visit(n, &mut s);
        }
    }
    s.out
}

fn layer(module: &str) -> Option<(usize, &'static str)> {
    let top = module.split("::").next().unwrap_or_default();
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, members))| members.contains(&top))
        .map(|(i, (name, _))| (i, *name))
}

fn crates_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The application's modules and the core's, one map (their top-level names do not overlap).
fn library() -> BTreeMap<String, String> {
    let app = modules(&crates_dir().join("riskrelay/src"));
    let core = modules(&crates_dir().join("core/src"));
    let clash: Vec<&String> = core.keys().filter(|m| app.contains_key(*m)).collect();
    assert!(clash.is_empty(), "a module in both packages: {clash:?}");
    app.into_iter().chain(core).collect()
}

/// The names of the `[dependencies]` a package's manifest lists.
fn dependencies(package: &str) -> Vec<String> {
    let manifest = std::fs::read_to_string(crates_dir().join(package).join("Cargo.toml")).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            out.push(name.to_string());
        }
    }
    out
}

#[test]
fn the_core_depends_on_no_runtime_and_no_lambda_function_on_the_simulator() {
    let core = dependencies("core");
    assert!(
        core.contains(&"serde".to_string()),
        "the manifest reader is broken: {core:?}"
    );
    let heavy: Vec<&String> = core
        .iter()
        .filter(|d| {
            [
                "tokio", "reqwest", "hyper", "rusqlite", "lambda", "aws", "azure", "maud",
            ]
            .iter()
            .any(|h| d.starts_with(h))
        })
        .collect();
    assert!(heavy.is_empty(), "the pure core depends on {heavy:?}");
    let app = dependencies("riskrelay");
    assert!(app.contains(&"riskrelay-core".to_string()), "{app:?}");
    assert!(
        !app.iter()
            .any(|d| d.starts_with("riskrelay-sim") || d == "clap"),
        "the Lambda functions' package depends on the simulator or the command line: {app:?}"
    );
}

#[test]
fn the_library_has_no_import_cycle_and_no_upward_import() {
    let modules = library();
    let nodes: BTreeSet<String> = modules.keys().cloned().collect();
    let edges = edges(&modules);
    assert!(
        edges.len() > 100,
        "the graph reader found only {} imports: it is broken",
        edges.len()
    );
    let cycles = cycles(&nodes, &edges);
    assert!(cycles.is_empty(), "import cycles: {cycles:?}");

    let unplaced: Vec<&String> = nodes.iter().filter(|m| layer(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules without a layer (add them to LAYERS): {unplaced:?}"
    );
    let upward: Vec<String> = edges
        .iter()
        .filter_map(|(a, b)| {
            let (la, na) = layer(a)?;
            let (lb, nb) = layer(b)?;
            (lb > la).then(|| format!("{a} ({na}) imports {b} ({nb})"))
        })
        .collect();
    assert!(upward.is_empty(), "upward imports: {upward:#?}");
    println!(
        "{} modules, {} imports, no cycle, no upward import",
        nodes.len(),
        edges.len()
    );
}

/// The reader itself can fail: a cycle through a `use` group, a `super::` path and an inline
/// path is found, and comments and unit tests do not count.
#[test]
fn a_reverse_import_is_reported_as_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod d;\n");
    write("a.rs", "use crate::{ids, b::Thing};\n");
    write("b/mod.rs", "pub mod inner;\nuse inner::X;\n");
    write("b/inner.rs", "fn f() -> super::super::c::C { todo!() }\n");
    write("c.rs", "fn g() { crate::a::h() }\n");
    write(
        "d.rs",
        "// crate::a::h is only mentioned\n#[cfg(test)]\nmod tests { use crate::a; }\n",
    );
    write("ids.rs", "");

    let found = modules(dir.path());
    let imports = edges(&found);
    let nodes: BTreeSet<String> = found.keys().cloned().collect();
    assert!(imports.contains(&("a".into(), "b".into())), "{imports:?}");
    assert!(imports.contains(&("a".into(), "ids".into())), "{imports:?}");
    assert!(
        imports.contains(&("b::inner".into(), "c".into())),
        "{imports:?}"
    );
    assert!(imports.contains(&("c".into(), "a".into())), "{imports:?}");
    assert!(
        !imports.iter().any(|(from, _)| from == "d"),
        "comments and unit tests are not imports: {imports:?}"
    );
    assert!(
        !imports.contains(&("b".into(), "b::inner".into())),
        "a facade using its child is not an import: {imports:?}"
    );
    // a → b → … nothing yet: no cycle. The reverse import b → c closes a → b → c → a.
    assert!(
        cycles(&nodes, &imports).is_empty(),
        "{:?}",
        cycles(&nodes, &imports)
    );
    write("b/mod.rs", "pub mod inner;\nuse crate::c::C;\n");
    let imports = edges(&modules(dir.path()));
    assert_eq!(
        cycles(&nodes, &imports),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
}

/// The import reader skips everything after a file's first `#[cfg(test)]`, so no production item
/// may follow its unit tests: an import there would be invisible to the layering check.
#[test]
fn no_production_item_follows_the_unit_tests() {
    let mut hidden = Vec::new();
    for (name, text) in library() {
        let Some((_, after)) = text.split_once("#[cfg(test)]") else {
            continue;
        };
        // The test module's own lines are indented; its closing brace is the only line at the
        // margin. Anything else at the margin is an item the reader would not see.
        let items: Vec<&str> = after
            .lines()
            .skip(1)
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with(char::is_whitespace)
                    && *l != "}"
                    && !l.starts_with("//")
                    && !l.starts_with("mod tests")
                    && !l.starts_with("#[cfg(test)]")
            })
            .collect();
        if !items.is_empty() {
            hidden.push(format!("{name}: {items:?}"));
        }
    }
    assert!(hidden.is_empty(), "items after the unit tests: {hidden:#?}");
}
