//! SODA cutouts (IVOA SODA 1.0, synchronous): `GET /<hips>/soda/sync?ID=<coadd>&POS=CIRCLE ra dec r` (or
//! `POS=RANGE ...`, `POS=POLYGON ...`, `CIRCLE=...`, `POLYGON=...`) answers a FITS file holding the pixels of one
//! source coadd of the HiPS that touch the region: image, mask and variance planes, as stored, with their WCS moved
//! to the cutout (`hips_core::cutout`). Only the rows of the box are read, by byte range.
//!
//! The ID is the coadd's identifier as `/<hips>/progenitors` gives it (`<HiPS creator_did>?<path under its coadd
//! root>`, [`crate::catalog::public`]); its path relative to its coadd root, or the path the progenitor index
//! records, are accepted too. It is accepted only
//! when the index lists it in a tile the region overlaps, and when it lies under `on_demand.coadd_roots`, so a cutout
//! reaches exactly the coadds behind the HiPS the caller may read (the HiPS's access rules apply). Cutouts share the
//! on-demand renderers' bounds (`on_demand.max_concurrent`, `on_demand.timeout_ms`) and are limited to
//! `on_demand.max_cutout_pixels` per plane. `CUTOUTDETAIL=Image` gives the image plane only, `MaskedImage` (the
//! default) image, mask and variance; a region that misses the coadd's pixels gives 204; BAND and TIME are accepted
//! (checked against the coadd by `/vo/soda/sync`, [`super::vo::soda`]). The box's bytes are reserved in the
//! uncached-bytes budget (`limits.max_uncached_bytes`) before the cutout is built and held until it is sent (a request
//! waits for room at most `on_demand.timeout_ms`, then 503), so cutouts being built or sent, stalled readers
//! included, hold at most that much. Errors are `text/plain` starting with SODA's error words: `UsageError` (400),
//! `MultiValuedParamNotSupported` (400), `NotFoundError` (404), `Error` (502/503).

use std::ops::ControlFlow;
use std::time::Duration;

use bytes::Bytes;
use hips_core::coadd::CoaddError;
use hips_core::cutout::{cutout, pixel_box, CutoutError, Shape};
use hips_core::error_chain;
use hips_core::wcs::{convert, Frame};
use http::header::{self, HeaderValue};
use http::StatusCode;

use super::failure::storage_failure;
use super::ondemand::{bounded, open_coadd, progenitors, under_roots, Unfinished};
use super::progenitors::{index_keys, visit_index_files, MAX_INDEX_TILES};
use crate::catalog::Hips;
use crate::reply::{hv, Reply};
use crate::state::State;

/// Which planes a cutout holds (`CUTOUTDETAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// The image plane only.
    Image,
    /// Image, mask and variance (the default).
    #[default]
    MaskedImage,
}

/// A parsed cutout request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The coadd: its identifier (or a name [`crate::catalog::public::PublicNames::names`] accepts).
    pub id: String,
    /// The region (`None`: the whole coadd, for `/vo/soda/sync`).
    pub shape: Option<Shape>,
    /// The planes.
    pub detail: Detail,
    /// BAND intervals, metres.
    pub band: Vec<(f64, f64)>,
    /// TIME intervals, MJD.
    pub time: Vec<(f64, f64)>,
}

/// Why a cutout request is refused (400, SODA's `UsageError` or `MultiValuedParamNotSupported`); each names the
/// parameter at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UsageError {
    /// ID given twice.
    #[error("one ID per request")]
    TwoIds,
    /// A response format other than FITS.
    #[error("RESPONSEFORMAT={0:?}: only application/fits is offered")]
    Format(String),
    /// A region (POS, CIRCLE, POLYGON) that does not parse (the parser's message).
    #[error("{0}")]
    Region(String),
    /// POL.
    #[error("{0} is not supported: these coadds have no polarization axis")]
    Unsupported(String),
    /// A BAND or TIME interval that does not parse.
    #[error("{0}")]
    Interval(String),
    /// CUTOUTDETAIL other than Image or MaskedImage.
    #[error("CUTOUTDETAIL={0:?}: use Image or MaskedImage")]
    Detail(String),
    /// Any other parameter.
    #[error("unknown parameter {0:?} (use ID with one of POS, CIRCLE, POLYGON)")]
    Unknown(String),
    /// More than one region.
    #[error("one region per request (POS, CIRCLE or POLYGON)")]
    TwoRegions,
    /// No ID or no region.
    #[error("give ID (a coadd listed by this HiPS's progenitors) and one of POS, CIRCLE, POLYGON")]
    Missing,
    /// The region's bounding cone covers too many progenitor-index tiles.
    #[error("the region spans {tiles} progenitor-index tiles of order {order}, more than {MAX_INDEX_TILES}: cut smaller regions")]
    TooManyTiles {
        /// Index tiles.
        tiles: usize,
        /// Index order.
        order: u8,
    },
}

impl UsageError {
    /// SODA's error word for it.
    #[must_use]
    pub fn word(&self) -> &'static str {
        match self {
            UsageError::TwoIds | UsageError::TwoRegions => "MultiValuedParamNotSupported",
            _ => "UsageError",
        }
    }
}

/// Why a cutout job gave no FITS file.
#[derive(Debug, thiserror::Error)]
enum CutoutFailure {
    /// No cutout worker became free within `on_demand.timeout_ms`.
    #[error("all cutout workers busy")]
    Busy,
    /// The job panicked (its message).
    #[error("the cutout job failed: {0}")]
    Panicked(String),
    /// The coadd could not be opened.
    #[error("cannot open coadd {path:?}")]
    Open {
        /// The coadd.
        path: String,
        /// Why.
        #[source]
        source: CoaddError,
    },
    /// The cutout itself failed: the region (no overlap, too large...) or reading the coadd.
    #[error(transparent)]
    Cutout(CutoutError),
}

fn unfinished(u: Unfinished) -> CutoutFailure {
    match u {
        Unfinished::Busy => CutoutFailure::Busy,
        Unfinished::Failed(reason) => CutoutFailure::Panicked(reason),
    }
}

/// Parse the query string (parameter names case-insensitive, as SODA's are); the region is required.
///
/// # Errors
/// [`UsageError`], naming the parameter at fault.
pub fn parse_query(q: &str) -> Result<Request, UsageError> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let r = parse_params(&pairs)?;
    if r.shape.is_none() {
        return Err(UsageError::Missing);
    }
    Ok(r)
}

/// Parse decoded parameters (names case-insensitive); the region may be absent (the whole coadd).
///
/// # Errors
/// [`UsageError`], naming the parameter at fault.
pub fn parse_params(pairs: &[(String, String)]) -> Result<Request, UsageError> {
    let (mut id, mut shape): (Option<String>, Option<Shape>) = (None, None);
    let (mut detail, mut band, mut time) = (Detail::default(), Vec::new(), Vec::new());
    for (k, v) in pairs {
        let key = k.to_ascii_uppercase();
        let parsed = match key.as_str() {
            "ID" => {
                if id.replace(v.trim().to_string()).is_some() {
                    return Err(UsageError::TwoIds);
                }
                continue;
            }
            "RESPONSEFORMAT" if matches!(v.trim(), "application/fits" | "fits") => continue,
            "RESPONSEFORMAT" => return Err(UsageError::Format(v.clone())),
            "CUTOUTDETAIL" => {
                detail = match v.trim().to_ascii_lowercase().as_str() {
                    "image" => Detail::Image,
                    "maskedimage" => Detail::MaskedImage,
                    _ => return Err(UsageError::Detail(v.clone())),
                };
                continue;
            }
            "BAND" | "TIME" => {
                let i = super::vo::sia::interval(&key, v).map_err(|e| UsageError::Interval(e.to_string()))?;
                if key == "BAND" {
                    band.push(i);
                } else {
                    time.push(i);
                }
                continue;
            }
            "POS" => Shape::parse_pos(v).map_err(UsageError::Region)?,
            "CIRCLE" => Shape::parse_circle(v).map_err(UsageError::Region)?,
            "POLYGON" => Shape::parse_polygon(v).map_err(UsageError::Region)?,
            "POL" => return Err(UsageError::Unsupported(key)),
            _ => return Err(UsageError::Unknown(k.clone())),
        };
        if shape.replace(parsed).is_some() {
            return Err(UsageError::TwoRegions);
        }
    }
    match id {
        Some(id) if !id.is_empty() => Ok(Request { id, shape, detail, band, time }),
        _ => Err(UsageError::Missing),
    }
}

fn soda_error(status: StatusCode, word: &str, msg: &str) -> Reply {
    Reply::text(status, &format!("{word}: {msg}"))
}

/// The index tiles (order `k`) the region overlaps, inside the HiPS's coverage.
fn index_tiles(h: &Hips, k: u8, shape: &Shape) -> Result<Vec<u64>, UsageError> {
    let (ra, dec, radius) = shape.bounding_cone();
    let (lon, lat) = convert(ra, dec, Frame::Equatorial, h.frame());
    let bmoc = cdshealpix::nested::cone_coverage_approx(k, lon.to_radians(), lat.to_radians(), radius.to_radians());
    let n = bmoc.deep_size();
    if n as u64 > MAX_INDEX_TILES {
        return Err(UsageError::TooManyTiles { tiles: n, order: k });
    }
    Ok(bmoc.flat_iter().filter(|t| h.covers(k, *t)).collect())
}

/// The coadd path and image HDU the index records for the coadd `names` accepts, when an index file lists it.
fn listed(index: &[u8], names: impl Fn(&str) -> bool) -> Option<(String, usize)> {
    progenitors(index).into_iter().find(|(path, _)| names(path))
}

/// Answer a cutout request on HiPS `h` (access already checked).
pub async fn answer(state: &State, h: &Hips, query: Option<&str>, id: &str) -> Reply {
    let req = match parse_query(query.unwrap_or("")) {
        Ok(r) => r,
        Err(e) => return soda_error(StatusCode::BAD_REQUEST, e.word(), &e.to_string()),
    };
    let roots = &state.cfg.on_demand.coadd_roots;
    if roots.is_empty() {
        return soda_error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            "cutouts are not enabled on this server (it was started without --coadd-root)",
        );
    }
    let Some(k) = h.max_order else {
        return soda_error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            "this HiPS has no hips_order, so no progenitor index",
        );
    };
    let Some(shape) = req.shape.clone() else {
        return soda_error(StatusCode::BAD_REQUEST, "UsageError", &UsageError::Missing.to_string());
    };
    let tiles = match index_tiles(h, k, &shape) {
        Ok(t) => t,
        Err(e) => return soda_error(StatusCode::BAD_REQUEST, "UsageError", &e.to_string()),
    };
    let keys = index_keys(h, k, &tiles);
    let mut found = None;
    let read = visit_index_files(state, h, &keys, |body| {
        found = listed(body, |path| state.public.names(&h.did, path, &req.id));
        if found.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if let Err((key, e)) = read.await {
        return storage_failure(state, id, h, key, &e);
    }
    let Some((path, hdu)) = found else {
        let msg = format!("{:?} is not a progenitor of {} where the region lies", req.id, h.name);
        return soda_error(StatusCode::NOT_FOUND, "NotFoundError", &msg);
    };
    cut(state, h, CoaddRef { path, hdu, label: req.id }, shape, req.detail, id).await
}

/// The coadd a cutout is taken from.
#[derive(Debug, Clone)]
pub(crate) struct CoaddRef {
    /// Its server path.
    pub path: String,
    /// Its image HDU.
    pub hdu: usize,
    /// How the request named it (for logs).
    pub label: String,
}

/// Cut `shape` out of the coadd (found for HiPS `h`): the FITS reply, its body reserved in the uncached budget.
pub(crate) async fn cut(state: &State, h: &Hips, c: CoaddRef, shape: Shape, detail: Detail, id: &str) -> Reply {
    let roots = &state.cfg.on_demand.coadd_roots;
    let CoaddRef { path, hdu, label } = c;
    if !under_roots(&path, roots) {
        tracing::warn!(request_id = %id, hips = %h.name, coadd = %path, "progenitor index names a coadd outside on_demand.coadd_roots");
        return soda_error(
            StatusCode::BAD_GATEWAY,
            "Error",
            "this coadd is not served (outside on_demand.coadd_roots)",
        );
    }
    let max_pixels = state.cfg.on_demand.max_cutout_pixels;
    let retry = |mut r: Reply| {
        r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
        r
    };
    let failed = |e: CutoutFailure| match e {
        CutoutFailure::Busy => {
            retry(soda_error(StatusCode::SERVICE_UNAVAILABLE, "Error", "cutout workers busy, retry later"))
        }
        CutoutFailure::Cutout(CutoutError::NoOverlap { .. }) => {
            let mut r = Reply::new(StatusCode::NO_CONTENT, Bytes::new());
            r.headers_mut().insert(header::CACHE_CONTROL, hv(&h.settings.cache_control));
            r
        }
        e @ (CutoutFailure::Open { .. } | CutoutFailure::Panicked(_) | CutoutFailure::Cutout(CutoutError::Fits(_))) => {
            tracing::warn!(request_id = %id, hips = %h.name, coadd = %label, error = %error_chain(&e), "cutout failed");
            retry(soda_error(StatusCode::BAD_GATEWAY, "Error", "cannot read this coadd"))
        }
        CutoutFailure::Cutout(e) => soda_error(StatusCode::BAD_REQUEST, "UsageError", &e.to_string()),
    };
    let planes = h.planes.clone();
    let open = move |path: &str, beneath: &[String]| {
        // beneath its coadd root, through no symbolic link, regular files only (as on-demand tiles)
        let mut coadd = open_coadd(path, hdu, beneath, &planes)
            .map_err(|source| CutoutFailure::Open { path: path.to_string(), source })?;
        if detail == Detail::Image {
            coadd.mask = None;
            coadd.variance = None;
        }
        Ok::<_, CutoutFailure>(coadd)
    };
    // Room first: the box's bytes are reserved in the uncached budget (waiting at most on_demand.timeout_ms) before
    // the cutout is built, and held until it is sent, so cutouts being built or sent never exceed the budget.
    let (opened, beneath, probe, open_probe) = (path.clone(), roots.clone(), shape.clone(), open.clone());
    let size = bounded(state, move || {
        let coadd = open_probe(&opened, &beneath)?;
        let b = pixel_box(&coadd, &probe).ok_or_else(|| {
            CutoutFailure::Cutout(CutoutError::NoOverlap {
                name: coadd.name.clone(),
                width: coadd.width,
                height: coadd.height,
            })
        })?;
        let pixels = (b.width as u64) * (b.height as u64);
        if pixels > max_pixels {
            return Ok(0); // the cutout refuses it (TooLarge) without reading
        }
        let planes = [Some(&coadd.image), coadd.mask.as_ref(), coadd.variance.as_ref()];
        let data: u64 = planes.iter().flatten().map(|p| pixels * u64::from(p.bitpix.unsigned_abs() / 8)).sum();
        Ok(data + 4 * 2880 * 4)
    })
    .await
    .unwrap_or_else(|u| Err(unfinished(u)));
    let size = match size {
        Ok(n) => n,
        Err(e) => return failed(e),
    };
    let wait = Duration::from_millis(state.cfg.on_demand.timeout_ms);
    let Ok(Some(room)) = tokio::time::timeout(wait, state.cache.budget().reserve_generated(size)).await else {
        return retry(soda_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Error",
            "the server's memory for cutouts being built or sent is in use, retry later",
        ));
    };
    let (opened, beneath) = (path.clone(), roots.clone());
    let done = bounded(state, move || {
        let coadd = open(&opened, &beneath)?;
        cutout(&coadd, &shape, max_pixels, concat!("hipsserve ", env!("CARGO_PKG_VERSION"), " SODA cutout"))
            .map_err(CutoutFailure::Cutout)
    })
    .await
    .unwrap_or_else(|u| Err(unfinished(u)));
    let c = match done {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let body = room.hold(c.fits);
    let stem = path.rsplit('/').next().unwrap_or("coadd").trim_end_matches(".fits").trim_end_matches(".fz");
    let safe: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let mut r = Reply::new(StatusCode::OK, body);
    let hd = r.headers_mut();
    hd.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fits"));
    hd.insert(header::CONTENT_DISPOSITION, hv(&format!("inline; filename=\"{safe}_cutout.fits\"")));
    hd.insert(header::CACHE_CONTROL, hv(&h.settings.cache_control));
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_and_refuse_with_the_parameter_named() {
        let r = parse_query("ID=%2Fc%2Fa.fits&POS=CIRCLE+10+20+0.01").unwrap();
        assert_eq!(r.id, "/c/a.fits");
        assert_eq!(r.shape, Some(Shape::Circle { ra: 10.0, dec: 20.0, radius: 0.01 }));
        assert_eq!(r.detail, Detail::MaskedImage);
        assert!(parse_query("id=a&circle=1+2+0.1&responseformat=application/fits").is_ok());
        assert!(matches!(parse_query("ID=a&POLYGON=1+1+2+1+2+2").unwrap().shape, Some(Shape::Polygon(_))));
        let r = parse_query("ID=a&CIRCLE=1+2+0.1&cutoutdetail=image&BAND=4e-7+inf&TIME=60000+60001").unwrap();
        assert_eq!((r.detail, r.band, r.time), (Detail::Image, vec![(4e-7, f64::INFINITY)], vec![(6e4, 60001.0)]));
        assert_eq!(parse_query("ID=a&ID=b&POS=CIRCLE+1+2+0.1").unwrap_err().word(), "MultiValuedParamNotSupported");
        assert_eq!(
            parse_query("ID=a&CIRCLE=1+2+0.1&CIRCLE=1+2+0.2").unwrap_err().word(),
            "MultiValuedParamNotSupported"
        );
        crate::testing::assert_refused(
            parse_query,
            &[
                ("POS=CIRCLE+1+2+0.1", "give ID"),
                ("ID=a", "give ID"),
                ("ID=&POS=CIRCLE+1+2+0.1", "give ID"),
                ("ID=a&ID=b&POS=CIRCLE+1+2+0.1", "one ID"),
                ("ID=a&POS=CIRCLE+1+2+0.1&CIRCLE=1+2+0.1", "one region"),
                ("ID=a&POS=BOX+1+2+3+4", "CIRCLE, RANGE or POLYGON"),
                ("ID=a&BAND=600e-9+500e-9", "BAND"),
                ("ID=a&POS=CIRCLE+1+2+0.1&CUTOUTDETAIL=Mask", "CUTOUTDETAIL"),
                ("ID=a&POS=CIRCLE+1+2+0.1&POL=I", "POL"),
                ("ID=a&foo=1", "unknown parameter"),
                ("ID=a&POS=CIRCLE+1+2+0.1&RESPONSEFORMAT=votable", "RESPONSEFORMAT"),
            ],
        );
    }

    #[test]
    fn index_lines_name_the_hdu_of_an_id() {
        let idx = b"{\"path\":\"/c/a.fits\",\"hdu\":1}\n{\"path\":\"/c/b.fits\"}\nnot json\n";
        let names = crate::catalog::public::PublicNames::new(&["/c".into()], &[]);
        let find = |id: &str| listed(idx, |p| names.names("ivo://x/P", p, id));
        assert_eq!(find("ivo://x/P?a.fits"), Some(("/c/a.fits".into(), 1)));
        assert_eq!(find("b.fits"), Some(("/c/b.fits".into(), 0)));
        assert_eq!(find("/c/a.fits"), Some(("/c/a.fits".into(), 1)));
        assert_eq!(find("ivo://x/P?c.fits"), None);
    }
}
