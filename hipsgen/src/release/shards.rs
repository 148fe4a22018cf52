//! One shard of a band HiPS and its completion marker, and the release's status read back from the markers.
//!
//! A shard builds only its own order-3 subtrees (the pure split of [`crate::shard`]), resuming whatever an earlier
//! attempt left (every tile is a pure function of the inputs, written whole), and writes, last, its marker
//! `<id>/_shards/<hips>/<i>-of-<N>` by a create-only write. The marker holds the shard's tile count and a digest
//! (XXH3 of its subtrees' checkpoints: the statistics of every tile under each root). A shard whose marker exists
//! is done and is not run again; two copies at once both build the same tiles and one marker wins.

use serde::{Deserialize, Serialize};

use super::{key, root_store, xxh3_hex, ReleaseConfig, ReleaseError};
use crate::build::{CHECKPOINT_ORDER, STATE_DIR};
use crate::NoProgress;
use hips_core::storage::Swap;

/// Retries of a marker write that failed in transit.
const MARKER_RETRIES: u32 = 4;

/// The content of a shard's completion marker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Marker {
    /// The HiPS.
    pub hips: String,
    /// Shard index.
    pub shard: usize,
    /// Shard count.
    pub of: usize,
    /// Tiles of the shard (all orders from 3 to the deepest).
    pub tiles: u64,
    /// The shard's order-3 roots.
    pub roots: Vec<u64>,
    /// XXH3-64 (hex) of the roots and their checkpoints.
    pub digest: String,
}

/// What [`run_shard`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardOutcome {
    /// The marker already existed: nothing was run.
    AlreadyDone(Marker),
    /// The shard ran and its marker was written (or an identical run wrote it first).
    Done(Marker),
}

/// Key of a shard's marker.
#[must_use]
pub fn marker_key(cfg: &ReleaseConfig, hips: &str, shard: usize, of: usize) -> String {
    key(cfg, &format!("_shards/{hips}/{shard}-of-{of}"))
}

/// Key of a HiPS's finalized marker.
#[must_use]
pub fn finalized_key(cfg: &ReleaseConfig, hips: &str) -> String {
    key(cfg, &format!("_shards/{hips}/finalized"))
}

/// Read a marker.
///
/// # Errors
/// When storage fails or the marker is not one.
pub fn read_marker(store: &hips_core::storage::Store, k: &str) -> Result<Option<Marker>, ReleaseError> {
    let Some(b) = store.get(k)? else { return Ok(None) };
    serde_json::from_slice(&b)
        .map(Some)
        .map_err(|e| ReleaseError::Corrupt { key: k.to_string(), message: e.to_string() })
}

/// Run shard `shard` of band HiPS `hips` (of `release.shards`), unless its marker exists.
///
/// # Errors
/// Configuration, input or storage failures (the HiPS is named).
pub fn run_shard(cfg: &ReleaseConfig, hips: &str, shard: usize) -> Result<ShardOutcome, ReleaseError> {
    let n = cfg.release.shards;
    if shard >= n {
        return Err(ReleaseError::Config {
            key: "--index".into(),
            message: format!("shard {shard} of {n}: need 0 <= index < release.shards"),
        });
    }
    let store = root_store(cfg)?;
    let mk = marker_key(cfg, hips, shard, n);
    if let Some(m) = read_marker(&store, &mk)? {
        return Ok(ShardOutcome::AlreadyDone(m));
    }
    let job = cfg.tiles_job(hips, Some((shard, n)))?;
    let report = crate::run::run_tiles(&job, &NoProgress).map_err(|e| ReleaseError::job(hips, e))?;
    let hips_store = hips_core::storage::Store::open(&job.out)?;
    let mut h = Vec::new();
    for r in &report.roots {
        h.extend_from_slice(&r.to_le_bytes());
        let ck = format!("{STATE_DIR}/Norder{CHECKPOINT_ORDER}/Npix{r}.json");
        if let Some(b) = hips_store.get(&ck)? {
            h.extend_from_slice(&b);
        }
    }
    let marker = Marker {
        hips: hips.to_string(),
        shard,
        of: n,
        tiles: report.tiles,
        roots: report.roots.clone(),
        digest: xxh3_hex(&h),
    };
    let bytes = serde_json::to_vec_pretty(&marker)
        .map_err(|e| ReleaseError::Corrupt { key: mk.clone(), message: e.to_string() })?;
    // A create-only write is not retried by the client once its request went out (it may have been applied): try it
    // again here; an existing marker equal to ours is then ours.
    let mut attempt = 0;
    let outcome = loop {
        match store.put_create(&mk, bytes.clone()) {
            Ok(o) => break o,
            Err(e) if attempt < MARKER_RETRIES => {
                tracing::warn!("{mk}: {e}; retrying the marker write");
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(200 << attempt));
            }
            Err(e) => return Err(e.into()),
        }
    };
    match outcome {
        Swap::Written => Ok(ShardOutcome::Done(marker)),
        Swap::Conflict => {
            // Another run of the same shard (or our own first attempt) finished first: it must have built the same.
            let there = read_marker(&store, &mk)?.unwrap_or_else(|| marker.clone());
            if there.digest != marker.digest || there.tiles != marker.tiles {
                return Err(ReleaseError::Check {
                    hips: hips.to_string(),
                    message: format!(
                        "{mk} says {} tiles, digest {}, but this run of the shard built {} tiles, digest {}: the inputs \
                         or the configuration changed between runs",
                        there.tiles, there.digest, marker.tiles, marker.digest
                    ),
                });
            }
            Ok(ShardOutcome::Done(there))
        }
    }
}

/// The state of one HiPS of the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HipsStatus {
    /// The HiPS.
    pub hips: String,
    /// Shards with a marker (band HiPS; a colour HiPS has none).
    pub done: Vec<usize>,
    /// Shard count (0 for a colour HiPS).
    pub of: usize,
    /// Whether it is finalized.
    pub finalized: bool,
}

/// The status of the release: per HiPS, the shards done and whether it is finalized; and the published release.
///
/// # Errors
/// When storage fails.
pub fn status(cfg: &ReleaseConfig) -> Result<(Vec<HipsStatus>, bool, Option<String>), ReleaseError> {
    let store = root_store(cfg)?;
    let n = cfg.release.shards;
    let mut out = Vec::new();
    for (name, h) in &cfg.hips {
        let listed = store.list(&key(cfg, &format!("_shards/{name}/")))?;
        let of = if h.is_color() { 0 } else { n };
        let done = (0..of).filter(|i| listed.iter().any(|k| k.ends_with(&format!("/{i}-of-{n}")))).collect();
        let finalized = listed.iter().any(|k| k.ends_with("/finalized"));
        out.push(HipsStatus { hips: name.clone(), done, of, finalized });
    }
    let release_done = store.exists(&key(cfg, "manifest.json"))?;
    let current = store.get("current")?.map(|b| String::from_utf8_lossy(&b).trim().to_string());
    Ok((out, release_done, current))
}
