//! Shared fixtures for the preview and color tests: small synthetic FITS HiPS written with hips_core's FITS writer,
//! and the Python interpreter the oracle checks run under.
#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};

use hips_core::fits::{image_hdu, Card, PixelData};
use hips_core::healpix::{tile_key, ALLSKY_COLUMNS, ALLSKY_ROWS};
use hips_core::storage::Store;

/// The Python interpreter for oracle checks: $HIPS_PYTHON, else `<workspace>/.venv/bin/python`; panics if missing.
pub(crate) fn python() -> PathBuf {
    let p = std::env::var_os("HIPS_PYTHON")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"), PathBuf::from);
    assert!(p.exists(), "Python for oracle tests not found at {} (set HIPS_PYTHON)", p.display());
    p
}

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Run a Python script file with arguments; panics with its output when it fails.
pub(crate) fn run_python(script: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(python()).arg(script).args(args).output().expect("run python");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "python {} {:?} failed:\n{text}", script.display(), args);
    text
}

/// A FITS tile (primary HDU, BITPIX -32).
pub(crate) fn fits_bytes(width: usize, height: usize, data: &[f32]) -> Vec<u8> {
    image_hdu(true, width, height, PixelData::F32(data), &[Card::str("ORIGIN", "test", "")])
}

/// Deterministic tile content: a smooth pattern depending on (seed, r, c), a bright "star", NaN in a corner.
pub(crate) fn tile_data(width: usize, seed: u64) -> Vec<f32> {
    let mut v = Vec::with_capacity(width * width);
    for r in 0..width {
        for c in 0..width {
            let x =
                (r as f32 * 0.37 + c as f32 * 0.11 + seed as f32 * 1.3).sin() * 40.0 + 50.0 + (r * 3 + c) as f32 * 0.5;
            let val = if r + c < width / 4 {
                f32::NAN
            } else if r == width / 2 && c == width / 3 {
                1.0e5
            } else {
                x - 10.0
            };
            v.push(val);
        }
    }
    v
}

/// Write a FITS HiPS of tile width `width`, orders 0..=`order`, holding the given tiles at each order
/// (`tiles(order)` lists npix), plus Allsky.fits (from `tile_data` blocks) and properties.
pub(crate) fn write_fits_hips(
    dir: &Path,
    width: usize,
    order: u8,
    tiles: &dyn Fn(u8) -> Vec<u64>,
    extra_props: &str,
    seed: u64,
) -> Store {
    let store = Store::open(dir.to_str().expect("utf8 path")).expect("open store");
    for o in 0..=order {
        for n in tiles(o) {
            let data = tile_data(width, seed * 1000 + u64::from(o) * 100 + n);
            store.put(&tile_key(o, n, "fits"), fits_bytes(width, width, &data)).expect("put tile");
        }
    }
    let b = (width / 8).max(1);
    let (aw, ah) = (ALLSKY_COLUMNS * b, ALLSKY_ROWS * b);
    let mut allsky = vec![f32::NAN; aw * ah];
    for (i, v) in allsky.iter_mut().enumerate() {
        let (r, c) = (i / aw, i % aw);
        if !(r / b + c / b).is_multiple_of(3) {
            *v = ((r * 7 + c * 3 + seed as usize) % 97) as f32;
        }
    }
    store.put("Norder3/Allsky.fits", fits_bytes(aw, ah, &allsky)).expect("put allsky");
    let props = format!(
        "creator_did = ivo://test/P/synthetic{seed}\nobs_title = synthetic {seed}\ndataproduct_type = image\n\
         hips_version = 1.4\nhips_release_date = 2026-11-23T00:00Z\nhips_status = public master clonableOnce\n\
         hips_tile_format = fits\nhips_order = {order}\nhips_order_min = 0\nhips_tile_width = {width}\n\
         hips_frame = equatorial\nhips_initial_ra = 10\nhips_initial_dec = 20\nhips_initial_fov = 30\n{extra_props}"
    );
    store.put("properties", props).expect("put properties");
    store
}

/// Decode a FITS tile written by the fixtures (or hipsgen) into (width, height, data).
pub(crate) fn read_fits(store: &Store, key: &str) -> (usize, usize, Vec<f32>) {
    let bytes = store.get(key).expect("get").expect("exists");
    hipsgen::preview::step::decode_fits(key, bytes).expect("decode")
}
