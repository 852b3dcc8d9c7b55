//! The host crate's dependency rule (design.md, issue 15), checked on the
//! source itself:
//!
//! - `commands/` may use anything; nothing else imports `commands/`;
//! - only `commands/` imports `engine/`;
//! - `support/` imports nothing of the crate, and `error` only `support`;
//! - no cycles between top-level modules;
//! - only `commands/` and `cli/` say `Error::Usage(...)`: every other
//!   module returns a typed error of its own (`OpError`), never a string.
//!
//! An edge is any `crate::NAME` path outside comments (`use crate::x`,
//! `use crate::{x, y}`, or a path in code), charged to the top-level
//! module of the file it stands in. The fixtures under
//! `tests/fixtures/architecture/` show that a forbidden import and a cycle
//! are caught.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One `crate::` reference: which top-level module uses which, and where.
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    file: PathBuf,
    line: usize,
}

/// The top-level module a file under `src/` belongs to (`None` for the
/// crate roots, which only declare modules).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// The `.rs` files under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for e in entries {
            let p = e.expect("a readable directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `line` without its `//` comment (doc comments included) and without
/// the contents of string literals, so neither can fake or hide an edge.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_str = false;
                    out.push('"');
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push('"');
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level modules `code` names after `crate::`: one for
/// `crate::x::y`, each of `crate::{x, y::z}`.
fn crate_refs(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(is_ident) {
            continue; // `kharness_crate::`, not the crate root
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|&c| is_ident(c)).collect();
                if !name.is_empty() && name != "self" {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// Every edge between two different top-level modules under `src`.
fn edges(src: &Path) -> Vec<Edge> {
    let mut out = Vec::new();
    for file in rust_files(src) {
        let Some(from) = module_of(src, &file) else {
            continue;
        };
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (i, line) in text.lines().enumerate() {
            for to in crate_refs(&code_of(line)) {
                if to != from {
                    out.push(Edge {
                        from: from.clone(),
                        to,
                        file: file.clone(),
                        line: i + 1,
                    });
                }
            }
        }
    }
    out
}

/// Why an edge breaks the rule, if it does.
fn forbidden(e: &Edge) -> Option<&'static str> {
    match (e.from.as_str(), e.to.as_str()) {
        (_, "commands") => Some("nothing imports commands/"),
        ("commands", "engine") => None,
        (_, "engine") => Some("only commands/ imports engine/"),
        ("support", _) => Some("support/ imports nothing of the crate"),
        ("error", "support") => None,
        ("error", _) => Some("error imports nothing of the crate but support/"),
        _ => None,
    }
}

/// A cycle between top-level modules, as the modules along it (first ==
/// last), if there is one.
fn find_cycle(edges: &[Edge]) -> Option<Vec<String>> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in edges {
        graph.entry(&e.from).or_default().insert(&e.to);
        graph.entry(&e.to).or_default();
    }
    // Depth-first search; a grey node met again closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        White,
        Grey,
        Black,
    }
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        marks.insert(n, Mark::Grey);
        path.push(n);
        for &m in &graph[n] {
            match marks[m] {
                Mark::Grey => {
                    let start = path
                        .iter()
                        .position(|&p| p == m)
                        .expect("grey is on the path");
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(m.to_owned());
                    return Some(cycle);
                }
                Mark::White => {
                    if let Some(c) = visit(m, graph, marks, path) {
                        return Some(c);
                    }
                }
                Mark::Black => {}
            }
        }
        path.pop();
        marks.insert(n, Mark::Black);
        None
    }
    let mut marks: BTreeMap<&str, Mark> = graph.keys().map(|&k| (k, Mark::White)).collect();
    for &n in graph.keys() {
        if marks[n] == Mark::White {
            if let Some(c) = visit(n, &graph, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Where a module other than `commands/`, `cli/` (and `error`, which
/// defines it) builds a string
/// error (`Error::Usage(`) instead of an `OpError` enum of its own.
fn stringly_errors(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in rust_files(src) {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        if matches!(module.as_str(), "commands" | "cli" | "error") {
            continue;
        }
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (i, line) in text.lines().enumerate() {
            if code_of(line).contains("Error::Usage(") {
                out.push(format!(
                    "{}:{}: {module} builds Error::Usage: return a typed error (OpError) instead",
                    file.display(),
                    i + 1
                ));
            }
        }
    }
    out
}

/// Everything wrong with the tree under `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    let all = edges(src);
    let mut out: Vec<String> = stringly_errors(src);
    out.extend(all.iter().filter_map(|e| {
        forbidden(e).map(|why| {
            format!(
                "{}:{}: {} -> {}: {why}",
                e.file.display(),
                e.line,
                e.from,
                e.to
            )
        })
    }));
    if let Some(cycle) = find_cycle(&all) {
        let mut line = format!("cycle: {}", cycle.join(" -> "));
        for pair in cycle.windows(2) {
            if let Some(e) = all.iter().find(|e| e.from == pair[0] && e.to == pair[1]) {
                line.push_str(&format!(
                    "\n  {} -> {} at {}:{}",
                    e.from,
                    e.to,
                    e.file.display(),
                    e.line
                ));
            }
        }
        out.push(line);
    }
    out
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/architecture")
        .join(name)
}

#[test]
fn the_host_crate_keeps_the_rule() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let v = violations(&src);
    assert!(v.is_empty(), "the layout rule is broken:\n{}", v.join("\n"));
    // The check saw the layout at all: the edges the design names exist.
    let all = edges(&src);
    for (from, to) in [
        ("commands", "engine"),
        ("engine", "vm"),
        ("results", "plan"),
    ] {
        assert!(
            all.iter().any(|e| e.from == from && e.to == to),
            "no {from} -> {to} edge found: is the parser blind?"
        );
    }
}

#[test]
fn a_clean_fixture_passes() {
    let v = violations(&fixture("clean/src"));
    assert!(v.is_empty(), "{}", v.join("\n"));
}

#[test]
fn an_added_forbidden_import_is_caught_with_file_and_line() {
    let v = violations(&fixture("forbidden/src"));
    let text = v.join("\n");
    // vm/boot.rs: `use crate::engine::Ctx;`; support/text.rs: `crate::{plan, vm}`.
    assert!(
        text.contains("vm/boot.rs:3: vm -> engine: only commands/ imports engine/"),
        "{text}"
    );
    assert!(
        text.contains("support/text.rs:2: support -> plan: support/ imports nothing"),
        "{text}"
    );
    assert!(text.contains("support/text.rs:2: support -> vm:"), "{text}");
    assert!(
        text.contains("plan.rs:5: plan -> commands: nothing imports commands/"),
        "{text}"
    );
    // A comment or a string naming a module is no edge.
    assert!(!text.contains("results"), "{text}");
    // A stage module flattening its error into a string.
    assert!(
        text.contains("vm/qemu.rs:4: vm builds Error::Usage"),
        "{text}"
    );
}

#[test]
fn a_cycle_between_stage_modules_is_caught() {
    let v = violations(&fixture("cycle/src"));
    let text = v.join("\n");
    assert!(text.contains("cycle: "), "{text}");
    for m in ["plan", "vm"] {
        assert!(text.contains(m), "{text}");
    }
    assert!(text.contains("plan.rs:1"), "{text}");
}

#[test]
fn references_are_read_from_code_only() {
    assert_eq!(
        crate_refs("use crate::{plan::Plan, vm, self};"),
        ["plan", "vm"]
    );
    assert_eq!(
        crate_refs("let x = crate::support::text::slug(a);"),
        ["support"]
    );
    assert!(crate_refs("use kharness_crate::x;").is_empty());
    assert_eq!(
        code_of("let s = \"crate::engine\"; // crate::commands"),
        "let s = \"\"; "
    );
}
