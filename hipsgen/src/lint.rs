//! `hipsgen lint`: our own HiPS conformance check (properties, orders, tiles, Allsky, MOC), in the spirit of CDS
//! Hipsgen's LINT, usable on any HiPS (ours or not) in a directory or object store.

use std::collections::{BTreeMap, BTreeSet};

use hips_core::fits::{self, MemSource};
use hips_core::healpix::{parse_tile_key, ALLSKY_COLUMNS, ALLSKY_ROWS};
use hips_core::storage::Store;

use crate::properties::Properties;
use crate::Error;

/// A validated `lint` job.
#[derive(Debug, Clone)]
pub struct LintJob {
    /// The HiPS: a local directory or an object-store URL.
    pub location: String,
    /// Decode and check at most this many tiles (all tiles are always listed and placed).
    pub max_decoded: usize,
}

/// Problems found: errors break clients or the standard, warnings are recommendations.
#[derive(Debug, Default)]
pub struct LintReport {
    /// Non-conformities.
    pub errors: Vec<String>,
    /// Recommendations not followed.
    pub warnings: Vec<String>,
    /// Tiles seen per order.
    pub tiles_per_order: BTreeMap<u8, usize>,
}

/// The properties keys HiPS 1.0 makes mandatory (section 4.4).
pub const MANDATORY: [&str; 9] = [
    "creator_did",
    "obs_title",
    "dataproduct_type",
    "hips_version",
    "hips_release_date",
    "hips_status",
    "hips_tile_format",
    "hips_order",
    "hips_frame",
];
/// The properties keys HiPS 1.0 recommends, that our lint expects.
pub const RECOMMENDED: [&str; 8] = [
    "obs_description",
    "prov_progenitor",
    "hips_creation_date",
    "hips_initial_ra",
    "hips_initial_dec",
    "hips_initial_fov",
    "hips_tile_width",
    "hips_order_min",
];

fn is_hips_date(s: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%MZ").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").is_ok()
}

/// Run a `lint` job: check the HiPS at `job.location`.
///
/// # Errors
/// When the location cannot be opened or listed at all.
pub fn run_lint(job: &LintJob) -> Result<LintReport, Error> {
    let store = Store::open(&job.location)?;
    lint(&store, job.max_decoded)
}

/// Check a HiPS in a store.
///
/// # Errors
/// When the store cannot be listed.
pub fn lint(store: &Store, max_decoded: usize) -> Result<LintReport, Error> {
    let mut r = LintReport::default();
    let Some(text) = store.get("properties")? else {
        r.errors.push("properties: missing".into());
        return Ok(r);
    };
    let Ok(text) = String::from_utf8(text.to_vec()) else {
        r.errors.push("properties: not UTF-8".into());
        return Ok(r);
    };
    let p = Properties::parse(&text);
    for k in MANDATORY {
        if p.get(k).is_none_or(str::is_empty) {
            r.errors.push(format!("properties: mandatory key {k} missing"));
        }
    }
    for k in RECOMMENDED {
        if p.get(k).is_none() {
            r.warnings.push(format!("properties: recommended key {k} missing"));
        }
    }
    if let Some(did) = p.get("creator_did") {
        if !did.starts_with("ivo://") || did.len() < 8 {
            r.errors.push(format!("properties: creator_did {did:?} is not an IVOID (ivo://...)"));
        }
    }
    for k in ["hips_release_date", "hips_creation_date"] {
        if let Some(d) = p.get(k) {
            if !is_hips_date(d) {
                r.errors.push(format!("properties: {k} {d:?} is not YYYY-mm-ddTHH:MMZ"));
            }
        }
    }
    let frame = p.get("hips_frame").unwrap_or("equatorial");
    if !["equatorial", "galactic", "ecliptic"].contains(&frame) {
        r.errors.push(format!("properties: hips_frame {frame:?} is not equatorial, galactic or ecliptic"));
    }
    let order: u8 = match p.get("hips_order").map(str::parse) {
        Some(Ok(o)) if o <= 29 => o,
        _ => {
            r.errors.push("properties: hips_order is not an integer 0..29".into());
            return Ok(r);
        }
    };
    let order_min: u8 = p.get("hips_order_min").and_then(|s| s.parse().ok()).unwrap_or(0);
    let width: usize = p.get("hips_tile_width").and_then(|s| s.parse().ok()).unwrap_or(512);
    if !width.is_power_of_two() {
        r.errors.push(format!("properties: hips_tile_width {width} is not a power of two"));
    }
    let formats: Vec<String> = p.get("hips_tile_format").unwrap_or("").split_whitespace().map(str::to_string).collect();
    let exts: Vec<&str> = formats
        .iter()
        .filter_map(|f| match f.as_str() {
            "fits" => Some("fits"),
            "png" => Some("png"),
            "jpeg" | "jpg" => Some("jpg"),
            "webp" => Some("webp"),
            other => {
                r.errors.push(format!("properties: unknown tile format {other:?}"));
                None
            }
        })
        .collect();
    let is_fits = exts.contains(&"fits");
    if is_fits && p.get("hips_pixel_bitpix").is_none() {
        r.errors.push("properties: hips_pixel_bitpix missing (Aladin Lite needs it for FITS tiles)".into());
    }
    for (k, n) in [("hips_pixel_cut", 2), ("hips_data_range", 2)] {
        if let Some(v) = p.get(k) {
            let nums: Vec<f64> = v.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            if nums.len() != n || nums[0] > nums[1] {
                r.errors.push(format!("properties: {k} {v:?} is not two increasing numbers"));
            }
        } else if is_fits {
            r.warnings.push(format!("properties: {k} missing"));
        }
    }

    // MOC.
    let moc = match store.get("Moc.fits")? {
        None => {
            r.warnings.push("Moc.fits: missing (clients then request tiles everywhere)".into());
            None
        }
        Some(b) => {
            for d in moc_tools::check_fits_bytes(&b) {
                r.errors.push(format!("Moc.fits: {d}"));
            }
            match moc_tools::from_fits_bytes(&b) {
                Ok((m, sys)) => {
                    let want =
                        if frame == "galactic" { moc_tools::CoordSys::Galactic } else { moc_tools::CoordSys::Icrs };
                    if sys != want {
                        r.errors.push(format!("Moc.fits: COORDSYS {sys:?} does not match hips_frame {frame}"));
                    }
                    // A fraction below the MOC's is legitimate (computed from a finer coverage than the stored
                    // MOC, as CDS Hipsgen does); one above it cannot be true. CDS's LINT accepts both: a warning.
                    if let Some(f) = p.get("moc_sky_fraction").and_then(|s| s.parse::<f64>().ok()) {
                        let real = moc_tools::sky_fraction(&m);
                        if f > real * 1.01 + 1e-9 {
                            r.warnings.push(format!(
                                "properties: moc_sky_fraction {f} is larger than the Moc.fits coverage {real:.6E}"
                            ));
                        }
                    }
                    Some(m)
                }
                Err(e) => {
                    r.errors.push(format!("Moc.fits: {e}"));
                    None
                }
            }
        }
    };

    // Tiles.
    let mut tiles: BTreeMap<(u8, &str), BTreeSet<u64>> = BTreeMap::new();
    let keys = store.list("")?;
    for key in &keys {
        if !key.starts_with("Norder") || key.ends_with("/Allsky.fits") || key.contains("/Allsky.") {
            continue;
        }
        match parse_tile_key(key) {
            Some((o, n, ext)) => {
                let ext = exts.iter().find(|e| **e == ext).copied();
                match ext {
                    Some(e) => {
                        tiles.entry((o, e)).or_default().insert(n);
                    }
                    None => r.warnings.push(format!("{key}: tile format not listed in hips_tile_format")),
                }
                if o > order {
                    r.errors.push(format!("{key}: order {o} above hips_order {order}"));
                }
            }
            None => r.errors.push(format!("{key}: not a well-formed tile path (NorderK/DirD/NpixN.ext)")),
        }
    }
    for &ext in &exts {
        for o in order_min..=order {
            let n = tiles.get(&(o, ext)).map_or(0, BTreeSet::len);
            *r.tiles_per_order.entry(o).or_default() = n.max(*r.tiles_per_order.get(&o).unwrap_or(&0));
            if n == 0 {
                r.errors.push(format!(
                    "Norder{o}: no .{ext} tile (clients need every order from hips_order_min to hips_order)"
                ));
            }
        }
        for o in order_min + 1..=order {
            let (Some(kids), Some(parents)) = (tiles.get(&(o, ext)), tiles.get(&(o - 1, ext))) else { continue };
            let orphans: Vec<u64> = kids.iter().filter(|n| !parents.contains(&(*n >> 2))).copied().take(5).collect();
            if !orphans.is_empty() {
                r.errors.push(format!("Norder{o}: .{ext} tiles without a parent at order {}: {orphans:?}", o - 1));
            }
        }
        if let Some(m) = &moc {
            for o in order_min..=order {
                if let Some(ts) = tiles.get(&(o, ext)) {
                    let outside: Vec<u64> =
                        ts.iter().filter(|n| !moc_tools::intersects_cell(m, o, **n)).copied().take(5).collect();
                    if !outside.is_empty() {
                        r.errors.push(format!("Norder{o}: .{ext} tiles outside Moc.fits: {outside:?}"));
                    }
                }
            }
        }
        if order >= 3 {
            let key = format!("Norder3/Allsky.{ext}");
            if !keys.contains(&key) {
                r.warnings.push(format!("{key}: missing"));
            } else if ext == "fits" {
                check_allsky_fits(store, &key, width, &mut r)?;
            }
        }
    }
    // Decode FITS tiles: size and ORDER/NPIX.
    let mut decoded = 0usize;
    'outer: for ((o, ext), ts) in &tiles {
        if *ext != "fits" {
            continue;
        }
        for n in ts {
            if decoded >= max_decoded {
                break 'outer;
            }
            decoded += 1;
            let key = hips_core::healpix::tile_key(*o, *n, "fits");
            let Some(b) = store.get(&key)? else { continue };
            let src = MemSource::new(key.clone(), b);
            match fits::scan_hdus(&src) {
                Ok(h) if !h.is_empty() => {
                    let h0 = &h[0];
                    if h0.naxes.len() < 2 || h0.naxes[0] != width || h0.naxes[1] != width {
                        r.errors.push(format!("{key}: size {:?}, expected {width}x{width}", h0.naxes));
                    }
                    for (k, want) in [("ORDER", i64::from(*o)), ("NPIX", *n as i64)] {
                        if let Some(v) = h0.header.get_i64(k) {
                            if v != want {
                                r.errors.push(format!("{key}: {k} = {v}, expected {want}"));
                            }
                        }
                    }
                }
                Ok(_) => r.errors.push(format!("{key}: no HDU")),
                // the FITS error names the object already
                Err(e) => r.errors.push(e.to_string()),
            }
        }
    }
    Ok(r)
}

fn check_allsky_fits(store: &Store, key: &str, width: usize, r: &mut LintReport) -> Result<(), Error> {
    let Some(b) = store.get(key)? else { return Ok(()) };
    let src = MemSource::new(key.to_string(), b);
    match fits::scan_hdus(&src) {
        Ok(h) if !h.is_empty() => {
            let b = (width / 8).max(1);
            let want = [ALLSKY_COLUMNS * b, ALLSKY_ROWS * b];
            if h[0].naxes.len() < 2 || h[0].naxes[..2] != want {
                r.errors.push(format!("{key}: size {:?}, expected {}x{}", h[0].naxes, want[0], want[1]));
            }
        }
        Ok(_) => r.errors.push(format!("{key}: no HDU")),
        Err(e) => r.errors.push(e.to_string()),
    }
    Ok(())
}
