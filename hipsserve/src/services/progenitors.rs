//! Progenitor queries: which source coadds are behind a position or a tile of a HiPS (DMS-REQ-0381, "HiPS
//! Progenitor"), answered from the HiPS's progenitor index (`HpxFinder/NorderK/DirD/NpixN`, one JSON object per line and
//! per source image, as hipsgen and CDS Hipsgen's INDEX write it at the deepest tile order K):
//! - `GET /<hips>/progenitors?ra=RA&dec=DEC` (ICRS degrees): the records of the index tile holding the point whose
//!   outline (`stc`, `POLYGON ... ra1 dec1 ...`) contains it;
//! - `GET /<hips>/progenitors?order=N&ipix=I` (the HiPS's own frame and NESTED numbering; `ipix` is the URL's name of
//!   the tile index, `npix` in the code): every record of the index tiles under that tile (at most 4^5 of them), or
//!   of the one above it when N is deeper than K.
//!
//! The answer is JSON: `{"hips", "index_order", "index_tiles", "progenitors": [records]}`, records deduplicated by
//! coadd and HDU in first-seen order. Each record is the index's, with `ra` and `dec` as numbers and the coadd named
//! by its identifier `id` (`<HiPS creator_did>?<path under its coadd root>`, SODA's ID; see
//! [`crate::catalog::public`]) instead of its `path` on this server; a coadd under no coadd root has no `id`.
//! Access rules are the HiPS's own.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use hips_core::cutout::Shape;
use hips_core::layout::ProgenitorRecord;
use hips_core::wcs::{convert, Frame};
use http::header::{self, HeaderValue};
use http::StatusCode;

use super::failure::storage_failure;
use crate::catalog::layout::HipsFile;
use crate::catalog::public::{coadd_url, links_url};
use crate::catalog::Hips;
use crate::reply::{hv, Reply};
use crate::state::State;
use crate::store::{Object, ServeError};

/// At most this many index tiles are read for one tile query (a tile 5 orders above the index).
pub const MAX_INDEX_TILES: u64 = 1 << 10;

/// A parsed progenitor query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Query {
    /// A sky position, ICRS degrees.
    Position {
        /// Right ascension.
        ra: f64,
        /// Declination.
        dec: f64,
    },
    /// A HEALPix tile of the HiPS.
    Tile {
        /// Order.
        order: u8,
        /// NESTED index.
        npix: u64,
    },
}

/// Why a progenitor query is refused (400); each names the parameter at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// A parameter other than `ra`, `dec`, `order` and `ipix`.
    #[error("unknown parameter {0:?} (use ra and dec, or order and ipix)")]
    Unknown(String),
    /// A parameter given twice.
    #[error("parameter {0:?} given twice")]
    Twice(String),
    /// `ra` or `dec` is not a finite number.
    #[error("{name}={value:?} is not a number")]
    NotANumber {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// `dec` outside [-90, 90].
    #[error("dec={0} is outside [-90, 90]")]
    DecOutside(f64),
    /// `order` is not 0 to 29.
    #[error("order must be 0 to 29")]
    Order,
    /// `ipix` is not a number.
    #[error("ipix={0:?} is not a tile index")]
    NotATile(String),
    /// `ipix` is beyond the tiles of its order.
    #[error("ipix={npix} is beyond the 12*4^{order} tiles of order {order}")]
    Beyond {
        /// The tile index.
        npix: u64,
        /// Its order.
        order: u8,
    },
    /// Neither `ra`+`dec` nor `order`+`ipix`.
    #[error("give ra and dec (ICRS degrees), or order and ipix")]
    Missing,
    /// A tile query would read more than [`MAX_INDEX_TILES`] index tiles.
    #[error(
        "a tile of order {order} covers {tiles} index tiles of order {index_order}; ask at order {deeper} or deeper"
    )]
    TooManyTiles {
        /// The tile's order.
        order: u8,
        /// The index tiles under it.
        tiles: u64,
        /// The index order.
        index_order: u8,
        /// The shallowest order that may be asked.
        deeper: u8,
    },
}

/// Parse the query string (`ra`+`dec` or `order`+`ipix`, names case-insensitive).
///
/// # Errors
/// [`QueryError`], naming the parameter at fault.
pub fn parse_query(q: &str) -> Result<Query, QueryError> {
    let (mut ra, mut dec, mut order, mut npix) = (None, None, None, None);
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        let slot = match k.to_ascii_lowercase().as_str() {
            "ra" => &mut ra,
            "dec" => &mut dec,
            "order" => &mut order,
            "ipix" => &mut npix,
            other => return Err(QueryError::Unknown(other.to_string())),
        };
        if slot.replace(v.to_string()).is_some() {
            return Err(QueryError::Twice(k.to_string()));
        }
    }
    let num = |name: &'static str, v: &str| -> Result<f64, QueryError> {
        let not_a_number = || QueryError::NotANumber { name, value: v.to_string() };
        v.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(not_a_number)
    };
    match (ra, dec, order, npix) {
        (Some(ra), Some(dec), None, None) => {
            let (ra, dec) = (num("ra", &ra)?, num("dec", &dec)?);
            if !(-90.0..=90.0).contains(&dec) {
                return Err(QueryError::DecOutside(dec));
            }
            Ok(Query::Position { ra: ra.rem_euclid(360.0), dec })
        }
        (None, None, Some(order), Some(npix)) => {
            let order: u8 = order.trim().parse().ok().filter(|o| *o <= 29).ok_or(QueryError::Order)?;
            let npix: u64 = npix.trim().parse().map_err(|_| QueryError::NotATile(npix.clone()))?;
            if npix >= hips_core::healpix::n_tiles(order) {
                return Err(QueryError::Beyond { npix, order });
            }
            Ok(Query::Tile { order, npix })
        }
        _ => Err(QueryError::Missing),
    }
}

/// The index tiles (at order `k`) a query reads, inside the HiPS's coverage.
///
/// # Errors
/// When a tile query would read more than [`MAX_INDEX_TILES`] index tiles.
pub fn index_tiles(h: &Hips, k: u8, q: Query) -> Result<Vec<u64>, QueryError> {
    let tiles: Vec<u64> = match q {
        Query::Position { ra, dec } => {
            let (lon, lat) = convert(ra, dec, Frame::Equatorial, h.frame());
            vec![cdshealpix::nested::hash(k, lon.to_radians(), lat.to_radians())]
        }
        Query::Tile { order, npix } if order >= k => vec![npix >> (2 * u32::from(order - k))],
        Query::Tile { order, npix } => {
            let d = 2 * u32::from(k - order);
            if 1u64 << d > MAX_INDEX_TILES {
                return Err(QueryError::TooManyTiles {
                    order,
                    tiles: 1u64 << d,
                    index_order: k,
                    deeper: k.saturating_sub(5),
                });
            }
            (npix << d..(npix + 1) << d).collect()
        }
    };
    Ok(tiles.into_iter().filter(|t| h.covers(k, *t)).collect())
}

/// Whether the spherical polygon of an `stc` string (`POLYGON <frame> lon1 lat1 ...`, great-circle edges, either
/// orientation, smaller than a hemisphere) contains (ra, dec), by the cutout service's own test
/// ([`Shape::contains`]). `None` when the string is not such a polygon (the caller keeps such records).
#[must_use]
pub fn polygon_contains(stc: &str, ra: f64, dec: f64) -> Option<bool> {
    let mut words = stc.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("polygon") {
        return None;
    }
    let numbers: Vec<f64> = words.filter_map(|w| w.parse().ok()).collect();
    Some(Shape::polygon(&numbers).ok()?.contains(ra, dec))
}

/// Collect the records of index files (their text, in tile order) for a query: each line a JSON object
/// ([`ProgenitorRecord`]); positions keep the records whose outline contains the point (records without a readable
/// outline are kept); duplicates (same `path` and `hdu`) are dropped.
#[must_use]
pub fn select(files: &[&[u8]], q: Query) -> Vec<ProgenitorRecord> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for rec in files.iter().flat_map(|text| ProgenitorRecord::parse_lines(text)) {
        if let Query::Position { ra, dec } = q {
            if polygon_contains(rec.stc.as_deref().unwrap_or(""), ra, dec) == Some(false) {
                continue;
            }
        }
        if seen.insert((rec.path.clone(), rec.hdu)) {
            out.push(rec);
        }
    }
    out
}

/// The storage keys of the index files of `tiles` (order `k`).
pub(crate) fn index_keys(h: &Hips, k: u8, tiles: &[u64]) -> Vec<String> {
    tiles.iter().map(|t| HipsFile::hpxfinder_tile(k, *t).key_in(&h.dir)).collect()
}

/// Reads of the index files `keys` through the object cache, 16 at a time, in order, each with its key.
fn index_reads<'a>(
    state: &'a State,
    h: &'a Hips,
    keys: &'a [String],
) -> impl futures::Stream<Item = (&'a str, Result<Option<Arc<Object>>, Arc<ServeError>>)> + 'a {
    let root = &state.roots[h.root_idx];
    futures::stream::iter(keys)
        .map(move |key| async move { (key.as_str(), state.cache.get(h.root_idx, root, key.clone()).await) })
        .buffered(16)
}

/// Read the index files `keys` ([`index_reads`]), handing the body of each that exists to `visit`, in order, until it
/// breaks.
///
/// # Errors
/// The first storage error in key order, with its key.
pub(crate) async fn visit_index_files<'a>(
    state: &'a State,
    h: &'a Hips,
    keys: &'a [String],
    mut visit: impl FnMut(&Bytes) -> ControlFlow<()>,
) -> Result<(), (&'a str, Arc<ServeError>)> {
    let mut reads = std::pin::pin!(index_reads(state, h, keys));
    while let Some((key, r)) = reads.next().await {
        match r {
            Ok(Some(obj)) => {
                if visit(&obj.body).is_break() {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => return Err((key, e)),
        }
    }
    Ok(())
}

/// A public progenitor record with the URLs that lead on from its identifier `id` (the coadd's publisher DID, as SIA's
/// `obs_publisher_did`): `links` (its DataLink document: the file, cutouts, preview) and `soda` (SODA sync with the ID
/// set; add `&CIRCLE=ra dec r` or `&POLYGON=...` for a cutout, or nothing for the whole coadd).
fn with_links(mut v: serde_json::Value, base: &str) -> serde_json::Value {
    let id = v.get("id").and_then(serde_json::Value::as_str).map(str::to_string);
    if let (Some(id), Some(o)) = (id, v.as_object_mut()) {
        o.insert("links".into(), links_url(base, &id).into());
        o.insert("soda".into(), coadd_url(base, &id).into());
    }
    v
}

/// Answer a progenitor query on HiPS `h` (access already checked): 400 for a bad query, 404 when the HiPS has no
/// progenitor index, 502/503 on storage errors, else the JSON document. Index files are read through the object cache,
/// 16 at a time.
pub async fn answer(state: &State, h: &Hips, query: Option<&str>, base: &str, id: &str) -> Reply {
    let q = match parse_query(query.unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return Reply::text(StatusCode::BAD_REQUEST, &format!("bad request: {e}")),
    };
    let Some(k) = h.max_order else {
        return Reply::text(StatusCode::NOT_FOUND, "not found: the HiPS has no hips_order, so no progenitor index");
    };
    let root = &state.roots[h.root_idx];
    let marker = HipsFile::HpxFinder("properties".into()).key_in(&h.dir);
    match state.cache.get(h.root_idx, root, marker.clone()).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Reply::text(StatusCode::NOT_FOUND, "not found: this HiPS has no progenitor index (HpxFinder)")
        }
        Err(e) => return storage_failure(state, id, h, &marker, &e),
    }
    let tiles = match index_tiles(h, k, q) {
        Ok(t) => t,
        Err(e) => return Reply::text(StatusCode::BAD_REQUEST, &format!("bad request: {e}")),
    };
    let keys = index_keys(h, k, &tiles);
    let mut bodies = Vec::with_capacity(keys.len());
    let read = visit_index_files(state, h, &keys, |body| {
        bodies.push(body.clone());
        ControlFlow::Continue(())
    });
    if let Err((key, e)) = read.await {
        return storage_failure(state, id, h, key, &e);
    }
    let files: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
    let doc = serde_json::json!({
        "hips": h.name,
        "index_order": k,
        "index_tiles": files.len(),
        "progenitors": select(&files, q).iter().map(|r| with_links(state.public.progenitor(&h.did, r), base)).collect::<Vec<_>>(),
    });
    let mut r = Reply::new(StatusCode::OK, Bytes::from(format!("{doc}\n")));
    let hd = r.headers_mut();
    hd.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    hd.insert(header::CACHE_CONTROL, hv(&h.settings.cache_control));
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_and_refuse_with_the_parameter_named() {
        assert_eq!(parse_query("ra=-10&dec=5.5"), Ok(Query::Position { ra: 350.0, dec: 5.5 }));
        assert_eq!(parse_query("ORDER=3&ipix=700"), Ok(Query::Tile { order: 3, npix: 700 }));
        crate::testing::assert_refused(
            parse_query,
            &[
                ("ra=1", "ra and dec"),
                ("ra=x&dec=1", "ra=\"x\""),
                ("ra=1&dec=91", "dec=91"),
                ("order=3&ipix=768", "ipix=768"),
                ("order=30&ipix=0", "order"),
                ("ra=1&dec=1&ra=2", "twice"),
                ("pos=1", "unknown parameter"),
                ("ra=1&dec=2&order=3&ipix=4", "ra and dec"),
            ],
        );
    }

    #[test]
    fn polygons_contain_their_inside_only() {
        let stc = "POLYGON J2000 10.0 -1.0 12.0 -1.0 12.0 1.0 10.0 1.0";
        assert_eq!(polygon_contains(stc, 11.0, 0.0), Some(true));
        assert_eq!(polygon_contains(stc, 12.5, 0.0), Some(false));
        assert_eq!(polygon_contains(stc, 191.0, 0.0), Some(false), "the antipode is outside");
        let reversed = "POLYGON ICRS 10 1 12 1 12 -1 10 -1";
        assert_eq!(polygon_contains(reversed, 11.0, 0.5), Some(true));
        // Across RA 0.
        assert_eq!(polygon_contains("POLYGON J2000 359 -1 1 -1 1 1 359 1", 0.2, 0.0), Some(true));
        assert_eq!(polygon_contains("CIRCLE 1 2 3", 1.0, 2.0), None);
        // Concave outlines: the notch of an L is outside, its arms inside.
        let l_shape = "POLYGON J2000 0 0 4 0 4 1 1 1 1 4 0 4";
        assert_eq!(polygon_contains(l_shape, 0.5, 3.0), Some(true));
        assert_eq!(polygon_contains(l_shape, 3.0, 0.5), Some(true));
        assert_eq!(polygon_contains(l_shape, 3.0, 3.0), Some(false), "the notch");
        // An outline as large as a hemisphere or more is no outline (its record is kept), nor is a short one.
        assert_eq!(polygon_contains("POLYGON J2000 0 0 120 0 240 0", 10.0, 10.0), None);
        assert_eq!(polygon_contains("POLYGON J2000 0 0 1 1", 0.5, 0.5), None);
    }

    #[test]
    fn records_are_filtered_and_deduplicated() {
        let a = br#"{"path":"a.fits","hdu":1,"stc":"POLYGON J2000 10 -1 12 -1 12 1 10 1"}
{"path":"b.fits","hdu":0,"stc":"POLYGON J2000 20 -1 22 -1 22 1 20 1"}
"#;
        let b = br#"{"path":"a.fits","hdu":1,"stc":"POLYGON J2000 10 -1 12 -1 12 1 10 1"}
not json
{"path":"c.fits","hdu":0}
"#;
        let at = select(&[a, b], Query::Position { ra: 11.0, dec: 0.0 });
        let paths: Vec<&str> = at.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["a.fits", "c.fits"], "c has no outline and is kept");
        assert_eq!(select(&[a, b], Query::Tile { order: 3, npix: 0 }).len(), 3);
    }
}
