//! Shared helpers of the FITS tests: the real data files and the astropy oracle (a Python with astropy).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python with astropy: `HIPS_PYTHON`, else `<root>/.venv/bin/python`. The test fails if it is absent.
pub(crate) fn python() -> PathBuf {
    let p = std::env::var_os("HIPS_PYTHON").map_or_else(|| root().join(".venv/bin/python"), PathBuf::from);
    assert!(p.exists(), "Python for the astropy oracle not found at {} (set HIPS_PYTHON)", p.display());
    p
}

/// Run a Python script with arguments; returns stdout, fails the test on a non-zero exit.
pub(crate) fn run_python(script: &str, args: &[&str]) -> String {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

/// The shared real-data directory: `HIPS_SHARED_DATA`, else `<workspace>/../shared/data` (one convention for every
/// test of the workspace).
pub(crate) fn data_dir() -> PathBuf {
    let d = std::env::var_os("HIPS_SHARED_DATA").map_or_else(|| root().join("../shared/data"), PathBuf::from);
    assert!(d.is_dir(), "shared test data not found at {} (set HIPS_SHARED_DATA)", d.display());
    d
}

/// Every `.fits` file under the real data directory, sorted.
pub(crate) fn real_fits_files() -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "fits") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&data_dir(), &mut v);
    v.sort();
    assert!(v.len() >= 10, "expected the real FITS files under {}, found {}", data_dir().display(), v.len());
    v
}

/// A deterministic xorshift generator for the fuzz harnesses (same seed, same cases on every machine).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The memory any one fuzz input may make a reader allocate: the source itself (it sits in a `MemSource`) twice over
/// (a whole-image read as f32 of 32-bit data, or a spool) plus 16 MiB of fixed buffers. A reader that believes a
/// header's NAXISn or PCOUNT before checking them against the source length breaks it at once.
pub(crate) fn memory_bound(source_len: usize) -> usize {
    2 * source_len + (16 << 20)
}

/// Run `f` and return its result with the peak bytes allocated (above what was live when it started) while it ran,
/// as `alloc` (the test binary's global allocator) counts them.
pub(crate) fn peak_during<R>(alloc: peak_alloc::PeakAlloc, f: impl FnOnce() -> R) -> (R, usize) {
    alloc.reset_peak_usage();
    let base = alloc.current_usage();
    let r = f();
    (r, alloc.peak_usage().saturating_sub(base))
}
