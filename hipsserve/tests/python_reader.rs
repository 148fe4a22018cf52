//! An independent reader (astropy + astropy-healpix, tests/py/hips_reader.py) draws an image through hipsserve from a
//! FITS HiPS built by reproject from a real image, and it must match both the input image and the same drawing made
//! from the files on disk. Needs the project's Python (HIPS_PYTHON or <workspace>/.venv/bin/python): fails if missing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    let p = std::env::var_os("HIPS_PYTHON")
        .map_or_else(|| common::workspace_root().join(".venv/bin/python"), PathBuf::from);
    assert!(p.exists(), "Python not found at {} (set HIPS_PYTHON or create <workspace>/.venv)", p.display());
    p
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/hips_reader.py")
}

#[test]
fn astropy_reader_draws_the_input_image_through_the_server() {
    let py = python();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let hips = root.join("horsehead");
    let out = Command::new(&py).arg(script()).arg("build").arg(&hips).output().unwrap();
    assert!(out.status.success(), "building the FITS HiPS failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let cfg = common::suite_config("");
    let srv = common::Server::start(tmp.path(), &cfg, &[root.to_str().unwrap()], &[]);
    // FITS tiles are served as application/fits.
    let (status, head, _) = common::raw(srv.addr, "GET /horsehead/properties HTTP/1.1");
    assert_eq!(status, 200, "{head}");
    let out = Command::new(&py)
        .arg(script())
        .arg("read")
        .arg(srv.url("/horsehead"))
        .arg(&hips)
        .env("XDG_CACHE_HOME", tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "reader failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        srv.log()
    );
    assert!(stdout.contains("\"same_as_local\": true"), "{stdout}");
}
