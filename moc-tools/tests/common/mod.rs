//! Shared helpers of the moc-tools integration tests: the Python oracle runner, a small deterministic PRNG,
//! random MOCs and the CLI binary.
#![allow(dead_code)]

use moc_tools::{from_cells, ops, SMoc};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python interpreter with mocpy: $HIPS_PYTHON or <root>/.venv/bin/python. Panics (fails the test) when
/// missing: the oracle is required.
pub(crate) fn python() -> PathBuf {
    let p = std::env::var_os("HIPS_PYTHON").map_or_else(|| root().join(".venv/bin/python"), PathBuf::from);
    assert!(p.exists(), "Python with mocpy not found at {} (set HIPS_PYTHON)", p.display());
    p
}

/// Shared read-only test images.
pub(crate) fn data_dir() -> PathBuf {
    let d = std::env::var_os("HIPS_SHARED_DATA").map_or_else(|| root().join("../shared/data"), PathBuf::from);
    assert!(d.is_dir(), "shared test data not found at {} (set HIPS_SHARED_DATA)", d.display());
    d
}

/// One oracle verdict.
#[derive(Debug)]
pub(crate) struct Verdict {
    /// Check name.
    pub name: String,
    /// Passed?
    pub ok: bool,
    /// Explanation.
    pub detail: String,
}

/// Run the mocpy oracle on a list of checks (JSON objects with a "kind").
pub(crate) fn oracle(dir: &Path, checks: Vec<serde_json::Value>) -> Vec<Verdict> {
    let job = dir.join(format!("job-{}.json", checks.len()));
    std::fs::write(&job, serde_json::json!({ "checks": checks }).to_string()).expect("write job");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/mocpy_oracle.py");
    let out = Command::new(python()).arg(&script).arg(&job).output().expect("run python oracle");
    assert!(
        out.status.success(),
        "oracle failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| Verdict {
            name: r["name"].as_str().unwrap_or("").to_string(),
            ok: r["ok"].as_bool().unwrap_or(false),
            detail: r["detail"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

/// Assert every verdict passed, listing all failures.
pub(crate) fn assert_all_ok(v: &[Verdict]) {
    let bad: Vec<String> = v.iter().filter(|x| !x.ok).map(|x| format!("{}: {}", x.name, x.detail)).collect();
    assert!(!v.is_empty(), "no oracle verdicts");
    assert!(bad.is_empty(), "{} of {} oracle checks failed:\n{}", bad.len(), v.len(), bad.join("\n"));
}

/// splitmix64.
pub(crate) struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random MOC at `order`: clusters of cells around a few random centres (so MOCs overlap), plus a few
/// coarse cells, so that several orders appear in its NUNIQ form.
pub(crate) fn random_moc(rng: &mut Rng, order: u8) -> SMoc {
    let n = 12u64 << (2 * u32::from(order));
    let mut cells = Vec::new();
    // clusters in a small part of the sky (face 4) so that MOCs overlap
    let base_order = order.min(3);
    let base = 4 * (1u64 << (2 * u32::from(base_order))) + rng.below(1u64 << (2 * u32::from(base_order)));
    let sh = 2 * u32::from(order - base_order);
    for _ in 0..=rng.below(6) {
        let start = (base << sh) + rng.below(1u64 << sh);
        let len = 1 + rng.below(4u64.pow(u32::from(order.min(8))).min(5000));
        for c in start..(start + len).min(n) {
            if rng.below(5) != 0 {
                cells.push(c);
            }
        }
    }
    let mut m = from_cells(order, cells);
    // a few coarse cells
    for _ in 0..rng.below(3) {
        let o = rng.below(u64::from(order) + 1) as u8;
        let c = rng.below(12u64 << (2 * u32::from(o)));
        m = ops::union(&m, &moc_tools::with_depth_max(&from_cells(o, [c]), order));
    }
    m
}

/// The moc-tools binary.
pub(crate) fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_moc-tools"))
}

/// Order-29 ranges as JSON pairs.
pub(crate) fn ranges_json(m: &SMoc) -> serde_json::Value {
    serde_json::Value::from(moc_tools::ranges(m).iter().map(|r| vec![r.start, r.end]).collect::<Vec<_>>())
}
