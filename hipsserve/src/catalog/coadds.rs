//! The coadd catalogue the VO services (`/vo/sia/query`, `/vo/links`, `/vo/soda/sync`) search: one entry per source
//! coadd (file and image HDU) of each HiPS, with its footprint and the header values ObsCore needs.
//!
//! Entries come from the HiPS's progenitor index (`HpxFinder/NorderK/DirD/NpixN`, one JSON record per coadd and index
//! tile, as hipsgen writes it from each coadd's header: `stc` outline of its four corners in ICRS, centre, size,
//! band, MJD-OBS, EXPTIME, pixel scale). The index files are listed and read once per HiPS, on the first VO request
//! that needs that HiPS (a failed build is retried by the next request), and kept in memory: a few hundred bytes per
//! coadd. Each entry keeps the coadd's server path for the cutout service only; answers name it by its identifier
//! ([`super::public`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hips_core::layout::ProgenitorRecord;
use tokio::sync::OnceCell;

use super::public::PublicNames;
use super::Hips;
use crate::store::{Root, ServeError, StoreError};

/// One source coadd of a HiPS.
#[derive(Debug, Clone)]
pub struct CoaddEntry {
    /// Its identifier (`<HiPS creator_did>?<path under its coadd root>`), the ObsCore `obs_publisher_did`.
    pub id: String,
    /// Its path under its coadd root (`obs_id`).
    pub rel: String,
    /// Its path on this server (never in an answer).
    pub path: String,
    /// Its image HDU (0-based).
    pub hdu: usize,
    /// Its four corners, ICRS degrees, in outline order.
    pub footprint: Vec<(f64, f64)>,
    /// Its centre, ICRS degrees.
    pub centre: (f64, f64),
    /// Unit vector of the centre.
    pub centre_vec: [f64; 3],
    /// The largest centre-corner distance, degrees.
    pub radius: f64,
    /// Image width and height, pixels.
    pub size: Option<(usize, usize)>,
    /// Band name as the coadd gave it.
    pub band: Option<String>,
    /// MJD-OBS.
    pub mjd: Option<f64>,
    /// EXPTIME, seconds.
    pub exptime: Option<f64>,
    /// Pixel scale, arcsec.
    pub pixel_scale: Option<f64>,
    /// The file's size in bytes: a local coadd's on disk, else the size hipsgen recorded in the index (`bytes`).
    pub file_bytes: Option<u64>,
}

/// Why a HiPS's coadd catalogue could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Listing the index folder failed.
    #[error("cannot list the progenitor index {dir:?} of HiPS {hips}")]
    List {
        /// The HiPS.
        hips: String,
        /// The folder listed.
        dir: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// Reading an index file failed.
    #[error("cannot read progenitor index file {key:?} of HiPS {hips}")]
    Read {
        /// The HiPS.
        hips: String,
        /// The file.
        key: String,
        /// Why.
        #[source]
        source: ServeError,
    },
}

/// The catalogues of every HiPS, each built on first use.
#[derive(Debug, Default)]
pub struct Catalogue {
    cells: HashMap<String, OnceCell<Arc<Vec<CoaddEntry>>>>,
}

impl Catalogue {
    /// One empty cell per HiPS name.
    #[must_use]
    pub fn new<'a>(names: impl IntoIterator<Item = &'a String>) -> Catalogue {
        Catalogue { cells: names.into_iter().map(|n| (n.clone(), OnceCell::new())).collect() }
    }

    /// The coadds of HiPS `h` (built from its index on first use; empty when it has none).
    ///
    /// # Errors
    /// When its index cannot be listed or read (nothing is kept: the next call tries again).
    pub async fn of(
        &self,
        h: &Hips,
        root: &Root,
        public: &PublicNames,
        timeout: Duration,
    ) -> Result<Arc<Vec<CoaddEntry>>, Arc<CatalogueError>> {
        let Some(cell) = self.cells.get(&h.name) else { return Ok(Arc::new(Vec::new())) };
        cell.get_or_try_init(|| async { build(h, root, public, timeout).await.map(Arc::new).map_err(Arc::new) })
            .await
            .cloned()
    }
}

/// Read every index file of HiPS `h` (16 at a time) and make one entry per coadd under a coadd root.
async fn build(
    h: &Hips,
    root: &Root,
    public: &PublicNames,
    timeout: Duration,
) -> Result<Vec<CoaddEntry>, CatalogueError> {
    let Some(k) = h.max_order else { return Ok(Vec::new()) };
    let top = h.key(&format!("HpxFinder/Norder{k}"));
    let list_err = |dir: &str, source| CatalogueError::List { hips: h.name.clone(), dir: dir.to_string(), source };
    let (dirs, _) = root.list(&top).await.map_err(|e| list_err(&top, e))?;
    let mut keys = Vec::new();
    for d in dirs.iter().filter(|d| d.starts_with("Dir")) {
        let dir = format!("{top}/{d}");
        let (_, files) = root.list(&dir).await.map_err(|e| list_err(&dir, e))?;
        keys.extend(files.into_iter().filter(|f| f.starts_with("Npix")).map(|f| format!("{dir}/{f}")));
    }
    keys.sort();
    let mut reads = futures::stream::iter(keys)
        .map(|key| async move {
            let r = root.read(&key, timeout).await;
            (key, r)
        })
        .buffered(16);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while let Some((key, r)) = reads.next().await {
        let body = match r {
            Ok(Some((body, _))) => body,
            Ok(None) => continue,
            Err(source) => return Err(CatalogueError::Read { hips: h.name.clone(), key, source }),
        };
        for rec in ProgenitorRecord::parse_lines(&body) {
            if !seen.insert((rec.path.clone(), rec.hdu)) {
                continue;
            }
            if let Some(e) = entry(&h.did, public, &rec) {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// Unit vector of (ra, dec) degrees.
#[must_use]
pub fn unit((ra, dec): (f64, f64)) -> [f64; 3] {
    let (a, d) = (ra.to_radians(), dec.to_radians());
    [d.cos() * a.cos(), d.cos() * a.sin(), d.sin()]
}

/// Angle between two unit vectors, degrees.
#[must_use]
pub fn angle(a: [f64; 3], b: [f64; 3]) -> f64 {
    (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]).clamp(-1.0, 1.0).acos().to_degrees()
}

/// The corners of an `stc` outline (`POLYGON <frame> lon lat ...`), at least three.
fn outline(stc: &str) -> Option<Vec<(f64, f64)>> {
    let mut words = stc.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("polygon") {
        return None;
    }
    let n: Vec<f64> = words.filter_map(|w| w.parse().ok()).filter(|v: &f64| v.is_finite()).collect();
    if n.len() < 6 || !n.len().is_multiple_of(2) {
        return None;
    }
    Some(n.chunks(2).map(|p| (p[0].rem_euclid(360.0), p[1])).collect())
}

/// The entry of one index record (none when the coadd lies under no coadd root or has no outline).
#[must_use]
pub fn entry(did: &str, public: &PublicNames, rec: &ProgenitorRecord) -> Option<CoaddEntry> {
    let rel = public.relative(&rec.path)?.to_string();
    let id = public.coadd_id(did, &rec.path)?;
    let footprint = outline(rec.stc.as_deref()?)?;
    let num = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<f64>().ok()).filter(|x| x.is_finite());
    let vecs: Vec<[f64; 3]> = footprint.iter().map(|p| unit(*p)).collect();
    let sum = vecs.iter().fold([0.0; 3], |a, v| [a[0] + v[0], a[1] + v[1], a[2] + v[2]]);
    let norm = (sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]).sqrt();
    let centre_vec = match (num(&rec.ra), num(&rec.dec)) {
        (Some(ra), Some(dec)) => unit((ra, dec)),
        _ if norm > 0.0 => [sum[0] / norm, sum[1] / norm, sum[2] / norm],
        _ => return None,
    };
    let centre = (centre_vec[1].atan2(centre_vec[0]).to_degrees().rem_euclid(360.0), centre_vec[2].asin().to_degrees());
    let radius = vecs.iter().map(|v| angle(*v, centre_vec)).fold(0.0, f64::max);
    let file_bytes = std::path::Path::new(&rec.path)
        .is_absolute()
        .then(|| std::fs::symlink_metadata(&rec.path).ok().filter(std::fs::Metadata::is_file).map(|m| m.len()))
        .flatten()
        .or(rec.bytes);
    Some(CoaddEntry {
        id,
        rel,
        path: rec.path.clone(),
        hdu: rec.hdu.unwrap_or(0),
        footprint,
        centre,
        centre_vec,
        radius,
        size: rec.width.zip(rec.height),
        band: rec.band.clone().filter(|b| !b.trim().is_empty()),
        mjd: num(&rec.mjd_obs),
        exptime: num(&rec.exptime),
        pixel_scale: num(&rec.pixel_scale_arcsec),
        file_bytes,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn records_become_entries_with_their_footprint() {
        let names = PublicNames::new(&["/c".into()], &[]);
        let line = br#"{"path":"/c/g/a.fits","hdu":1,"band":"g","MJD-OBS":"60000.5","EXPTIME":"30","ra":"10.5","dec":"0.0","stc":"POLYGON J2000 10 -0.5 11 -0.5 11 0.5 10 0.5","width":100,"height":100,"pixel_scale_arcsec":"0.2"}
{"path":"/elsewhere/b.fits","stc":"POLYGON J2000 10 -0.5 11 -0.5 11 0.5 10 0.5"}
{"path":"/c/g/c.fits"}
"#;
        let recs: Vec<_> = ProgenitorRecord::parse_lines(line).collect();
        let e = entry("ivo://x/P", &names, &recs[0]).unwrap();
        assert_eq!((e.id.as_str(), e.rel.as_str(), e.hdu), ("ivo://x/P?g/a.fits", "g/a.fits", 1));
        assert_eq!(e.footprint.len(), 4);
        assert!((e.centre.0 - 10.5).abs() < 1e-9 && e.centre.1.abs() < 1e-9);
        assert!((e.radius - 0.707).abs() < 0.01, "{}", e.radius);
        assert_eq!((e.mjd, e.exptime, e.pixel_scale, e.size), (Some(60000.5), Some(30.0), Some(0.2), Some((100, 100))));
        assert!(entry("ivo://x/P", &names, &recs[1]).is_none(), "under no coadd root");
        assert!(entry("ivo://x/P", &names, &recs[2]).is_none(), "no outline");
    }
}
