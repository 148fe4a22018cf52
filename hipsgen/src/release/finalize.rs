//! Finalize: a band HiPS once every shard marker exists (the orders above the shard order, Allsky, MOC, properties,
//! HpxFinder metadata, index, by the `tiles` job resuming from the shards' checkpoints, then the tile count checked
//! against the MOC and the markers); a colour HiPS once its bands are finalized; and the release (its `hipslist` and
//! `manifest.json`, every object with size and XXH3) once every HiPS is. Each writes a create-only marker last, so a
//! finalize that is run again does nothing.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use hips_core::storage::Store;
use serde::{Deserialize, Serialize};

use super::shards::{finalized_key, marker_key, read_marker};
use super::{config::join, key, root_store, xxh3_hex, ReleaseConfig, ReleaseError};
use crate::NoProgress;

/// One object of the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Key relative to `<out>/<id>/`.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// XXH3-64, hex.
    pub xxh3: String,
}

/// `<out>/<id>/manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// The release id.
    pub release: String,
    /// Every object of the release but the manifest, sorted by key.
    pub objects: Vec<ManifestEntry>,
}

/// Parse a `properties` text into its key/value pairs (in order).
#[must_use]
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn missing_shards(cfg: &ReleaseConfig, store: &Store, hips: &str) -> Result<Vec<usize>, ReleaseError> {
    let n = cfg.release.shards;
    let mut missing = Vec::new();
    for i in 0..n {
        if !store.exists(&marker_key(cfg, hips, i, n))? {
            missing.push(i);
        }
    }
    Ok(missing)
}

/// Finalize band HiPS `hips`; `Ok(false)` when it was already finalized.
///
/// # Errors
/// [`ReleaseError::ShardsMissing`] until every marker exists; [`ReleaseError::Check`] when the tiles disagree with
/// the MOC or the markers; job and storage failures.
pub fn finalize_band(cfg: &ReleaseConfig, hips: &str) -> Result<bool, ReleaseError> {
    let store = root_store(cfg)?;
    if store.exists(&finalized_key(cfg, hips))? {
        return Ok(false);
    }
    let n = cfg.release.shards;
    let missing = missing_shards(cfg, &store, hips)?;
    if !missing.is_empty() {
        return Err(ReleaseError::ShardsMissing {
            hips: hips.to_string(),
            missing,
            of: n,
            prefix: join(&cfg.release.out, &key(cfg, &format!("_shards/{hips}/"))),
        });
    }
    let job = cfg.tiles_job(hips, None)?;
    let report = crate::run::run_tiles(&job, &NoProgress).map_err(|e| ReleaseError::job(hips, e))?;
    let mut shard_tiles = 0u64;
    for i in 0..n {
        let k = marker_key(cfg, hips, i, n);
        shard_tiles += read_marker(&store, &k)?.map_or(0, |m| m.tiles);
    }
    check_tiles(&Store::open(&job.out)?, hips, report.order, shard_tiles)?;
    store.put_create(&finalized_key(cfg, hips), format!("{}\n", report.tiles))?;
    Ok(true)
}

/// The FITS tiles per order of a HiPS.
fn tiles_per_order(store: &Store) -> Result<BTreeMap<u8, u64>, ReleaseError> {
    let mut per = BTreeMap::new();
    for k in store.list("")? {
        let Some(rest) = k.strip_prefix("Norder") else { continue };
        let Some((o, tail)) = rest.split_once('/') else { continue };
        if tail.starts_with("Dir") && std::path::Path::new(&k).extension().is_some_and(|e| e == "fits") {
            if let Ok(o) = o.parse::<u8>() {
                *per.entry(o).or_insert(0u64) += 1;
            }
        }
    }
    Ok(per)
}

/// Check a finalized band HiPS: its deepest tiles are exactly as many as the MOC's cells at that order, and its
/// tiles from order 3 down are as many as the shard markers say.
fn check_tiles(store: &Store, hips: &str, order: u8, shard_tiles: u64) -> Result<(), ReleaseError> {
    let fail = |message: String| ReleaseError::Check { hips: hips.to_string(), message };
    let per = tiles_per_order(store)?;
    let moc_bytes = store.get("Moc.fits")?.ok_or_else(|| fail("no Moc.fits after finalize".into()))?;
    let (moc, _) = moc_tools::from_fits_bytes(&moc_bytes).map_err(|e| fail(format!("Moc.fits: {e}")))?;
    let degraded = moc_tools::degrade(&moc, order);
    let shift = 2 * (29 - u32::from(order));
    let cells: u64 = moc_tools::ranges(&degraded).iter().map(|r| (r.end - r.start) >> shift).sum();
    let deepest = per.get(&order).copied().unwrap_or(0);
    if cells != deepest {
        return Err(fail(format!("{deepest} order-{order} tiles but the MOC covers {cells} order-{order} cells")));
    }
    let from3: u64 = per.range(3.min(order)..).map(|(_, n)| n).sum();
    if from3 != shard_tiles {
        return Err(fail(format!("{from3} tiles of orders >= 3 but the shard markers count {shard_tiles}")));
    }
    Ok(())
}

/// Finalize colour HiPS `hips` (its bands must be finalized); `Ok(false)` when it was already.
///
/// # Errors
/// [`ReleaseError::NotReady`] before its bands; job and storage failures.
pub fn finalize_color(cfg: &ReleaseConfig, hips: &str) -> Result<bool, ReleaseError> {
    let store = root_store(cfg)?;
    if store.exists(&finalized_key(cfg, hips))? {
        return Ok(false);
    }
    let c = cfg.hips.get(hips).and_then(|h| h.color.clone()).ok_or_else(|| ReleaseError::Config {
        key: format!("hips.{hips}.color"),
        message: "not a colour HiPS".into(),
    })?;
    for b in [&c.red, &c.green, &c.blue] {
        if !store.exists(&finalized_key(cfg, b))? {
            return Err(ReleaseError::NotReady {
                what: hips.to_string(),
                message: format!("band HiPS {b} is not finalized yet"),
            });
        }
    }
    let report = crate::color::run_color(&cfg.color_job(hips)?).map_err(|e| ReleaseError::job(hips, e.into()))?;
    if let Some(f) = report.failures.first() {
        return Err(ReleaseError::Check {
            hips: hips.to_string(),
            message: format!("{} tile(s) failed, first: {f}", report.failures.len()),
        });
    }
    store.put_create(&finalized_key(cfg, hips), format!("{}\n", report.tiles))?;
    Ok(true)
}

/// Finalize one HiPS, band or colour.
///
/// # Errors
/// As [`finalize_band`] and [`finalize_color`].
pub fn finalize_hips(cfg: &ReleaseConfig, hips: &str) -> Result<bool, ReleaseError> {
    match cfg.hips.get(hips) {
        Some(h) if h.is_color() => finalize_color(cfg, hips),
        Some(_) => finalize_band(cfg, hips),
        None => Err(ReleaseError::Config { key: format!("hips.{hips}"), message: "no such HiPS".into() }),
    }
}

/// The `hipslist` of a release: each HiPS's properties with `hips_service_url = <public_url>/<id>/<name>`, and
/// `hips_progenitor_url = <that>/HpxFinder` where the HiPS has a progenitor index.
///
/// # Errors
/// When a properties file is missing or storage fails.
pub fn release_hipslist(cfg: &ReleaseConfig, store: &Store) -> Result<String, ReleaseError> {
    let mut out = String::from("# HiPS list of release ");
    out.push_str(&cfg.release.id);
    out.push('\n');
    for name in cfg.hips.keys() {
        let k = key(cfg, &format!("{name}/properties"));
        let text = store.get(&k)?.ok_or_else(|| ReleaseError::NotReady {
            what: name.clone(),
            message: format!("{k} is missing: finalize it first"),
        })?;
        out.push('\n');
        let url = join(&join(&cfg.release.public_url, &cfg.release.id), name);
        for (k, v) in parse_properties(&String::from_utf8_lossy(&text)) {
            if k != "hips_service_url" && k != "hips_progenitor_url" {
                let _ = writeln!(out, "{k:<20} = {v}");
            }
        }
        let _ = writeln!(out, "{:<20} = {url}", "hips_service_url");
        if store.get(&key(cfg, &format!("{name}/HpxFinder/properties")))?.is_some() {
            let _ = writeln!(out, "{:<20} = {}", "hips_progenitor_url", join(&url, "HpxFinder"));
        }
    }
    Ok(out)
}

/// Finalize the release (every HiPS finalized): write `<id>/hipslist`, then `<id>/manifest.json` (create-only, so a
/// finalized release is never rewritten). `Ok(false)` when the manifest already existed.
///
/// # Errors
/// [`ReleaseError::NotReady`] while a HiPS is not finalized; storage failures.
pub fn finalize_release(cfg: &ReleaseConfig) -> Result<bool, ReleaseError> {
    let store = root_store(cfg)?;
    let mk = key(cfg, "manifest.json");
    if store.exists(&mk)? {
        return Ok(false);
    }
    for name in cfg.hips.keys() {
        if !store.exists(&finalized_key(cfg, name))? {
            return Err(ReleaseError::NotReady {
                what: format!("release {}", cfg.release.id),
                message: format!("HiPS {name} is not finalized"),
            });
        }
    }
    store.put(&key(cfg, "hipslist"), release_hipslist(cfg, &store)?)?;
    let manifest = build_manifest(&store, &cfg.release.id)?;
    let bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ReleaseError::Corrupt { key: mk.clone(), message: e.to_string() })?;
    store.put_create(&mk, bytes)?;
    Ok(true)
}

/// The manifest of everything under `<id>/` (the manifest itself excepted).
///
/// # Errors
/// When storage fails.
pub fn build_manifest(store: &Store, id: &str) -> Result<Manifest, ReleaseError> {
    let prefix = format!("{id}/");
    let mut objects = Vec::new();
    for k in store.list(&prefix)? {
        let rel = k.strip_prefix(&prefix).unwrap_or(&k).to_string();
        if rel == "manifest.json" {
            continue;
        }
        let b = store.get(&k)?.ok_or_else(|| ReleaseError::Corrupt {
            key: k.clone(),
            message: "listed but gone while the manifest was written".into(),
        })?;
        objects.push(ManifestEntry { key: rel, size: b.len() as u64, xxh3: xxh3_hex(&b) });
    }
    Ok(Manifest { release: id.to_string(), objects })
}

/// Finalize everything that can be: every band HiPS, then every colour HiPS, then the release.
///
/// # Errors
/// As the steps.
pub fn finalize_all(cfg: &ReleaseConfig) -> Result<(), ReleaseError> {
    for b in cfg.bands() {
        finalize_band(cfg, b)?;
    }
    for c in cfg.colors() {
        finalize_color(cfg, c)?;
    }
    finalize_release(cfg)?;
    Ok(())
}
