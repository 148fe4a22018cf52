//! Release roots written by `hipsgen release`: `<out>/current` names the current release, `<out>/<id>/` holds each
//! finalized release (its HiPS folders, its `hipslist` and a create-only `manifest.json` listing every object with
//! its size and XXH3-64), and `<out>/hipslist` is the published HiPS list. Here: release ids (one safe URL segment,
//! so that no id can reach outside the root), the manifest as the server keeps it (which objects exist and the ETag of
//! each, known without reading the object), and loading the HiPS of one release.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use super::layout::{safe_segment, valid_hips_name};
use super::{load_hips, resolve_colors, Hips};
use crate::config::Config;
use crate::store::{Root, ServeError};

/// The pointer to the current release (its id).
pub const CURRENT: &str = "current";
/// The published HiPS list at the top of a release root.
pub const HIPSLIST: &str = "hipslist";
/// A finalized release's manifest, `<id>/manifest.json`.
pub const MANIFEST: &str = "manifest.json";

/// Why a release (or the pointer to it) cannot be served; each names the object at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The storage failed.
    #[error(transparent)]
    Read(#[from] ServeError),
    /// `current` or a folder name is not a usable release id.
    #[error("{key}: {value:?} is not a release id (one path segment of [A-Za-z0-9_.+-], not a reserved name)")]
    BadId {
        /// The object or folder.
        key: String,
        /// What it held.
        value: String,
    },
    /// A manifest that does not parse or does not describe its release.
    #[error("{key}: {message}")]
    Manifest {
        /// The manifest's key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
struct ManifestFile {
    release: String,
    objects: Vec<EntryFile>,
}

#[derive(Deserialize)]
struct EntryFile {
    key: String,
    size: u64,
    xxh3: String,
}

/// A release's manifest: its id and, for each object (key relative to `<id>/`), its size and XXH3-64.
#[derive(Debug)]
pub struct Manifest {
    /// The release id.
    pub id: String,
    objects: HashMap<Box<str>, (u64, u64)>,
}

impl Manifest {
    /// Parse `manifest.json` of release `id` (`key` names it in errors).
    ///
    /// # Errors
    /// [`ReleaseError::Manifest`] when it is not JSON of the manifest's form, names another release or holds a digest
    /// that is not 16 hex digits.
    pub fn parse(id: &str, key: &str, bytes: &[u8]) -> Result<Manifest, ReleaseError> {
        let bad = |message: String| ReleaseError::Manifest { key: key.to_string(), message };
        let file: ManifestFile = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if file.release != id {
            return Err(bad(format!("describes release {:?}, not {id:?}", file.release)));
        }
        let mut objects = HashMap::with_capacity(file.objects.len());
        for e in file.objects {
            let digest = (e.xxh3.len() == 16).then(|| u64::from_str_radix(&e.xxh3, 16).ok()).flatten();
            let Some(digest) = digest else {
                return Err(bad(format!("object {:?}: xxh3 {:?} is not 16 hex digits", e.key, e.xxh3)));
            };
            objects.insert(e.key.into_boxed_str(), (e.size, digest));
        }
        Ok(Manifest { id: id.to_string(), objects })
    }

    /// Size and XXH3-64 of the object at `key` (relative to the release root, `<id>/...`), when the release has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<(u64, u64)> {
        let rel = key.strip_prefix(self.id.as_str())?.strip_prefix('/')?;
        self.objects.get(rel).copied()
    }

    /// The strong ETag of the object at `key` (relative to the release root): its XXH3-64 from the manifest, in hex
    /// and quotes, as `hipsgen release` wrote it. The same content has the same ETag in every release, changed content
    /// another.
    #[must_use]
    pub fn etag(&self, key: &str) -> Option<String> {
        self.get(key).map(|(_, d)| format!("\"{d:016x}\""))
    }

    /// The names of the release's HiPS: the folders `<name>/properties` of its objects.
    #[must_use]
    pub fn hips_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .objects
            .keys()
            .filter_map(|k| k.strip_suffix("/properties"))
            .filter(|n| !n.contains('/') && valid_hips_name(n))
            .map(str::to_string)
            .collect();
        names.sort_unstable();
        names
    }
}

/// Whether `id` can name a release: one safe path segment, not a reserved endpoint and not a HiPS content folder.
#[must_use]
pub fn valid_id(id: &str) -> bool {
    safe_segment(id) && valid_hips_name(id) && !["vo", "hips2fits", CURRENT, "publish.lock"].contains(&id)
}

/// One finalized release: its manifest and its HiPS, named `<id>/<hips>`.
#[derive(Debug)]
pub struct Release {
    /// Its manifest.
    pub manifest: Arc<Manifest>,
    /// Its HiPS, each named `<id>/<hips>`, stored under `<id>/<hips>/`.
    pub hips: Vec<Hips>,
}

impl Release {
    /// The release id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.manifest.id
    }
}

/// The id in `current` (`Ok(None)`: nothing published yet).
///
/// # Errors
/// When storage fails or the pointer holds no valid id.
pub async fn read_current(root: &Root, timeout: Duration) -> Result<Option<String>, ReleaseError> {
    let Some((b, _)) = root.read(CURRENT, timeout).await? else { return Ok(None) };
    let id = String::from_utf8_lossy(&b).trim().to_string();
    if !valid_id(&id) {
        return Err(ReleaseError::BadId { key: CURRENT.into(), value: id.chars().take(80).collect() });
    }
    Ok(Some(id))
}

/// The published HiPS list (`<out>/hipslist`), empty when there is none.
///
/// # Errors
/// When storage fails.
pub async fn read_hipslist(root: &Root, timeout: Duration) -> Result<Bytes, ReleaseError> {
    Ok(root.read(HIPSLIST, timeout).await?.map(|(b, _)| b).unwrap_or_default())
}

/// The folders at the top of the root that may be releases (valid ids).
///
/// # Errors
/// When the listing fails.
pub async fn release_dirs(root: &Root) -> Result<Vec<String>, ReleaseError> {
    let (dirs, _) = root.list("").await.map_err(ServeError::from)?;
    Ok(dirs.into_iter().filter(|d| valid_id(d)).collect())
}

/// Load release `id` (root index 0 of the snapshot): `Ok(None)` when it has no manifest yet (not finalized).
/// Its HiPS are named `<id>/<hips>` with their settings from `[hips.<hips>]`.
///
/// # Errors
/// When storage fails or the manifest is unusable.
pub async fn load_release(
    cfg: &Config,
    root: &Root,
    id: &str,
    timeout: Duration,
) -> Result<Option<Release>, ReleaseError> {
    if !valid_id(id) {
        return Err(ReleaseError::BadId { key: id.to_string(), value: id.to_string() });
    }
    let key = format!("{id}/{MANIFEST}");
    let Some((bytes, _)) = root.read(&key, timeout).await? else { return Ok(None) };
    let manifest = Arc::new(Manifest::parse(id, &key, &bytes)?);
    let mut hips = Vec::new();
    for name in manifest.hips_names() {
        let mut settings = cfg.settings_for(&name);
        if !settings.enabled {
            continue;
        }
        if settings.access == crate::config::Access::Public {
            settings.cache_control.clone_from(&cfg.release.versioned_cache_control);
        }
        let full = format!("{id}/{name}");
        if let Some(mut h) = load_hips(cfg, root, 0, full.clone(), full, settings, timeout).await? {
            h.release = Some(manifest.clone());
            hips.push(h);
        }
    }
    resolve_colors(&mut hips);
    Ok(Some(Release { manifest, hips }))
}

/// The HiPS of the current release as served at `/<hips>/`: each of `release`'s HiPS named by its short name, with
/// the current release's Cache-Control (it changes on publish).
#[must_use]
pub fn current_aliases(cfg: &Config, release: &Release) -> Vec<Hips> {
    let prefix = format!("{}/", release.id());
    release
        .hips
        .iter()
        .map(|h| {
            let mut a = h.clone();
            a.name = h.name.strip_prefix(&prefix).unwrap_or(&h.name).to_string();
            if a.settings.access == crate::config::Access::Public {
                a.settings.cache_control.clone_from(&cfg.release.current_cache_control);
            }
            if let Some(c) = &mut a.color {
                for b in &mut c.bands {
                    *b = b.strip_prefix(&prefix).unwrap_or(b).to_string();
                }
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_gives_etags_and_hips() {
        let m = br#"{"release":"dr1","objects":[
            {"key":"g/properties","size":10,"xxh3":"00000000000000ff"},
            {"key":"g/Norder3/Dir0/Npix5.fits","size":2880,"xxh3":"0123456789abcdef"},
            {"key":"g/HpxFinder/properties","size":3,"xxh3":"0000000000000001"},
            {"key":"hipslist","size":3,"xxh3":"0000000000000002"}]}"#;
        let m = Manifest::parse("dr1", "dr1/manifest.json", m).expect("parses");
        assert_eq!(m.etag("dr1/g/Norder3/Dir0/Npix5.fits").as_deref(), Some("\"0123456789abcdef\""));
        assert_eq!(m.get("dr1/g/properties"), Some((10, 255)));
        assert_eq!(m.etag("dr2/g/properties"), None);
        assert_eq!(m.etag("dr1/g/Norder3/Dir0/Npix6.fits"), None);
        assert_eq!(m.hips_names(), ["g"]);
        let e =
            Manifest::parse("dr2", "dr2/manifest.json", br#"{"release":"dr1","objects":[]}"#).expect_err("other id");
        assert!(e.to_string().contains("dr2/manifest.json"), "{e}");
        let bad = br#"{"release":"dr1","objects":[{"key":"a","size":1,"xxh3":"zz"}]}"#;
        assert!(Manifest::parse("dr1", "k", bad).is_err());
    }

    #[test]
    fn release_ids_are_single_safe_segments() {
        for ok in ["dr1", "DR2_v1.0", "r-3"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in
            ["", "..", ".hidden", "a/b", "hipslist", "metrics", "Norder3", "HpxFinder", "a b", "x%2f", "vo", "current"]
        {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
