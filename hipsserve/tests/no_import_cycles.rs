//! The crate's modules import each other one way only: no circle of `use crate::...` / `use super::...` lines among the
//! files of `src/`, nor among its top-level folders and modules (`http` -> `services` -> `state`/`reply` -> `catalog`
//! -> `store` -> `config`/`metrics`). Test code (after `#[cfg(test)]`) is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every module of `src/` (`a::b`, the crate root as ``) and its file.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("src readable").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|f| {
            let rel = f.strip_prefix(src).expect("under src").with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            (parts.join("::"), f)
        })
        .collect()
}

/// The module a `use` path names (the longest existing prefix), seen from module `cur`.
fn resolve(mods: &BTreeMap<String, PathBuf>, cur: &str, path: &str) -> Option<String> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<&str> = if cur.is_empty() { Vec::new() } else { cur.split("::").collect() };
    match segs.first().copied() {
        Some("crate") => base.clear(),
        Some("self" | "super") => {}
        _ => return None,
    }
    if segs[0] == "crate" || segs[0] == "self" {
        segs.remove(0);
    }
    // The parent module, for a folder's mod.rs as for a file.
    while segs.first() == Some(&"super") {
        base.pop();
        segs.remove(0);
    }
    (0..=segs.len()).rev().find_map(|n| {
        let m: Vec<&str> =
            base.iter().copied().chain(segs[..n].iter().map(|s| s.trim_matches(|c| c == '{' || c == ' '))).collect();
        let m = m.join("::");
        mods.contains_key(&m).then_some(m)
    })
}

/// Depth-first search from `n` for a circle through the nodes on `stack`.
fn dfs<'a>(
    n: &'a str,
    next: &BTreeMap<&'a str, Vec<&'a str>>,
    stack: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(i) = stack.iter().position(|s| *s == n) {
        return Some(stack[i..].iter().chain(std::iter::once(&n)).map(|s| (*s).to_string()).collect());
    }
    if !done.insert(n) {
        return None;
    }
    stack.push(n);
    for m in next.get(n).into_iter().flatten() {
        if let Some(c) = dfs(m, next, stack, done) {
            return Some(c);
        }
    }
    stack.pop();
    None
}

/// A circle in `edges`, if there is one (as the list of its nodes).
fn circle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    let mut done = BTreeSet::new();
    next.keys().find_map(|n| dfs(n, &next, &mut Vec::new(), &mut done))
}

#[test]
fn modules_and_folders_import_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    let mut files = BTreeSet::new();
    for (m, f) in &mods {
        let text = std::fs::read_to_string(f).expect("readable");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for line in code.lines() {
            let l = line.trim_start();
            let l = l.strip_prefix("pub(crate) ").or_else(|| l.strip_prefix("pub ")).unwrap_or(l);
            let Some(path) = l.strip_prefix("use ") else { continue };
            let path: String = path.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            if let Some(t) = resolve(&mods, m, &path).filter(|t| t != m) {
                files.insert((m.clone(), t));
            }
        }
    }
    assert!(files.len() > 20, "the `use` lines were found: {files:?}");
    let top = |m: &str| m.split("::").next().unwrap_or("").to_string();
    let folders: BTreeSet<(String, String)> =
        files.iter().map(|(a, b)| (top(a), top(b))).filter(|(a, b)| a != b && !a.is_empty() && !b.is_empty()).collect();
    assert_eq!(circle(&files), None, "modules importing each other in a circle");
    assert_eq!(circle(&folders), None, "top-level folders and modules importing each other in a circle");
}
