//! SIA 2.0 queries (`GET|POST /vo/sia/query`) over the coadds of every HiPS the caller may read: one ObsCore row per
//! coadd whose footprint meets the region, with the DataLink and SODA service descriptors and the `this`
//! self-descriptor. Parameters (names case-insensitive): POS (CIRCLE, RANGE, POLYGON), BAND (metres), TIME (MJD),
//! EXPTIME (s), FOV (deg), SPATRES (arcsec) as intervals (`lo hi`, `-Inf`/`+Inf`/`inf` allowed, or one value); ID,
//! COLLECTION, DPTYPE, CALIB, FACILITY, INSTRUMENT as values. A repeated parameter is an OR, different ones an AND.
//! MAXREC (default [`DEFAULT_MAXREC`], at most [`MAX_MAXREC`]) bounds the rows; more matches add DALI's
//! `QUERY_STATUS=OVERFLOW` after the table; MAXREC=0 answers the metadata only. Unknown parameters are ignored
//! (DALI). Errors are VOTables with `QUERY_STATUS=ERROR` and `UsageFault: ...`.

use std::fmt::Write as _;

use hips_core::cutout::Shape;
use http::header::HeaderMap;
use http::StatusCode;

use super::region::Region;
use super::votable::{Cell, Field};
use super::Visible;
use crate::catalog::coadds::CoaddEntry;
use crate::reply::Reply;
use crate::state::State;

/// Rows returned without MAXREC.
pub const DEFAULT_MAXREC: usize = 1000;
/// The most rows one query returns.
pub const MAX_MAXREC: usize = 10_000;

/// A parsed SIA query.
#[derive(Debug, Default)]
pub struct Query {
    /// Regions (OR).
    pub pos: Vec<Shape>,
    /// Wavelength intervals, metres.
    pub band: Vec<(f64, f64)>,
    /// Time intervals, MJD.
    pub time: Vec<(f64, f64)>,
    /// Exposure time intervals, seconds.
    pub exptime: Vec<(f64, f64)>,
    /// Field-of-view intervals, degrees.
    pub fov: Vec<(f64, f64)>,
    /// Resolution intervals, arcsec.
    pub spatres: Vec<(f64, f64)>,
    /// Publisher DIDs.
    pub id: Vec<String>,
    /// Collections (HiPS names).
    pub collection: Vec<String>,
    /// Data product types.
    pub dptype: Vec<String>,
    /// Calibration levels.
    pub calib: Vec<i64>,
    /// Facilities.
    pub facility: Vec<String>,
    /// Instruments.
    pub instrument: Vec<String>,
    /// Rows wanted.
    pub maxrec: usize,
}

/// Why a query is refused (`UsageFault`), naming the parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UsageFault {
    /// A value that does not parse.
    #[error("{param}={value:?}: {why}")]
    Bad {
        /// The parameter.
        param: String,
        /// Its value.
        value: String,
        /// What is wrong.
        why: String,
    },
}

fn bad(param: &str, value: &str, why: impl Into<String>) -> UsageFault {
    UsageFault::Bad { param: param.to_string(), value: value.to_string(), why: why.into() }
}

/// Parse a DALI interval: `lo hi` or one value (`inf`, `+Inf`, `-Inf` allowed).
///
/// # Errors
/// When it is not one or two numbers with lo <= hi.
pub fn interval(param: &str, v: &str) -> Result<(f64, f64), UsageFault> {
    let nums: Result<Vec<f64>, UsageFault> = v
        .split_whitespace()
        .map(|w| match w.to_ascii_lowercase().as_str() {
            "inf" | "+inf" | "infinity" | "+infinity" => Ok(f64::INFINITY),
            "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
            _ => w
                .parse::<f64>()
                .ok()
                .filter(|x| !x.is_nan())
                .ok_or_else(|| bad(param, v, format!("{w:?} is not a number"))),
        })
        .collect();
    match nums?[..] {
        [x] if x.is_finite() => Ok((x, x)),
        [lo, hi] if lo <= hi => Ok((lo, hi)),
        [_, _] => Err(bad(param, v, "the lower bound is above the upper one")),
        _ => Err(bad(param, v, "give one value or two (lo hi)")),
    }
}

/// Parse the parameters (already decoded pairs).
///
/// # Errors
/// [`UsageFault`] naming the parameter at fault.
pub fn parse(params: &[(String, String)]) -> Result<Query, UsageFault> {
    let mut q = Query { maxrec: DEFAULT_MAXREC, ..Query::default() };
    for (k, v) in params {
        let key = k.to_ascii_uppercase();
        let v = v.trim();
        match key.as_str() {
            "POS" => q.pos.push(Shape::parse_pos(v).map_err(|e| bad("POS", v, e))?),
            "BAND" => q.band.push(interval("BAND", v)?),
            "TIME" => q.time.push(interval("TIME", v)?),
            "EXPTIME" => q.exptime.push(interval("EXPTIME", v)?),
            "FOV" => q.fov.push(interval("FOV", v)?),
            "SPATRES" => q.spatres.push(interval("SPATRES", v)?),
            "ID" => q.id.push(v.to_string()),
            "COLLECTION" => q.collection.push(v.to_string()),
            "DPTYPE" => q.dptype.push(v.to_string()),
            "CALIB" => q.calib.push(v.parse().map_err(|_| bad("CALIB", v, "not an integer level"))?),
            "FACILITY" => q.facility.push(v.to_string()),
            "INSTRUMENT" => q.instrument.push(v.to_string()),
            "MAXREC" => {
                let n: usize = v.parse().map_err(|_| bad("MAXREC", v, "not a non-negative integer"))?;
                q.maxrec = n.min(MAX_MAXREC);
            }
            "RESPONSEFORMAT" => {
                let f = v.to_ascii_lowercase();
                if !(f.is_empty() || f == "votable" || f.starts_with("application/x-votable+xml") || f == "text/xml") {
                    return Err(bad("RESPONSEFORMAT", v, "only VOTable (application/x-votable+xml) is offered"));
                }
            }
            _ => {}
        }
    }
    Ok(q)
}

/// Wavelength range (metres) of a band name: LSST/HSC filters by their last letter (u g r i z y).
#[must_use]
pub fn band_range(band: &str) -> Option<(f64, f64)> {
    let c = band.trim().chars().last()?.to_ascii_lowercase();
    let (lo, hi) = match c {
        'u' => (320e-9, 400e-9),
        'g' => (400e-9, 552e-9),
        'r' => (552e-9, 691e-9),
        'i' => (691e-9, 818e-9),
        'z' => (818e-9, 922e-9),
        'y' => (949e-9, 1060e-9),
        _ => return None,
    };
    Some((lo, hi))
}

/// Time range (MJD) of a coadd: MJD-OBS to MJD-OBS + EXPTIME.
fn time_range(e: &CoaddEntry) -> Option<(f64, f64)> {
    e.mjd.map(|t| (t, t + e.exptime.unwrap_or(0.0) / 86400.0))
}

fn overlaps(want: &[(f64, f64)], have: Option<(f64, f64)>) -> bool {
    want.is_empty() || have.is_some_and(|(a, b)| want.iter().any(|(lo, hi)| *lo <= b && a <= *hi))
}

fn any_eq(want: &[String], have: Option<&str>) -> bool {
    want.is_empty() || have.is_some_and(|h| want.iter().any(|w| w.eq_ignore_ascii_case(h)))
}

/// Regions prepared once per query.
#[derive(Debug)]
pub struct Prepared<'q> {
    q: &'q Query,
    regions: Vec<Region>,
}

impl<'q> Prepared<'q> {
    /// Prepare `q`.
    #[must_use]
    pub fn new(q: &'q Query) -> Prepared<'q> {
        Prepared { q, regions: q.pos.iter().map(Region::new).collect() }
    }

    /// Whether coadd `e` of HiPS `v` matches every constraint.
    #[must_use]
    pub fn matches(&self, v: &Visible, e: &CoaddEntry) -> bool {
        let q = self.q;
        (q.regions_empty() || self.regions.iter().any(|r| r.meets(e)))
            && (q.id.is_empty() || q.id.iter().any(|i| i.eq_ignore_ascii_case(&e.id)))
            && any_eq(&q.collection, Some(&v.hips.name))
            && any_eq(&q.dptype, Some("image"))
            && (q.calib.is_empty() || q.calib.contains(&3))
            && any_eq(&q.facility, v.facility.as_deref())
            && any_eq(&q.instrument, v.instrument.as_deref())
            && overlaps(&q.band, e.band.as_deref().and_then(band_range))
            && overlaps(&q.time, time_range(e))
            && overlaps(&q.exptime, e.exptime.map(|x| (x, x)))
            && overlaps(&q.fov, Some((2.0 * e.radius, 2.0 * e.radius)))
            && overlaps(&q.spatres, e.pixel_scale.map(|x| (x, x)))
    }
}

impl Query {
    fn regions_empty(&self) -> bool {
        self.pos.is_empty()
    }
}

/// The ObsCore columns of SIA's answer, in row order: name, datatype (`char` = a text of any length), unit ("" for
/// none), UCD and utype.
const OBSCORE: [(&str, &str, &str, &str, &str); 22] = [
    ("obs_publisher_did", "char", "", "meta.ref.ivoid", "obscore:Curation.PublisherDID"),
    ("obs_id", "char", "", "meta.id", "obscore:DataID.observationID"),
    ("obs_collection", "char", "", "meta.id", "obscore:DataID.Collection"),
    ("dataproduct_type", "char", "", "meta.code.class", "obscore:ObsDataset.dataProductType"),
    ("calib_level", "int", "", "meta.code;obs.calib", "obscore:ObsDataset.calibLevel"),
    ("access_url", "char", "", "meta.ref.url", "obscore:Access.Reference"),
    ("access_format", "char", "", "meta.code.mime", "obscore:Access.Format"),
    ("access_estsize", "long", "kbyte", "phys.size;meta.file", "obscore:Access.Size"),
    ("s_ra", "double", "deg", "pos.eq.ra", "obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1"),
    ("s_dec", "double", "deg", "pos.eq.dec", "obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2"),
    ("s_fov", "double", "deg", "phys.angSize;instr.fov", "obscore:Char.SpatialAxis.Coverage.Bounds.Extent.diameter"),
    ("s_region", "char", "", "pos.outline;obs.field", "obscore:Char.SpatialAxis.Coverage.Support.Area"),
    ("s_resolution", "double", "arcsec", "pos.angResolution", "obscore:Char.SpatialAxis.Resolution.Refval.value"),
    ("s_xel1", "long", "", "meta.number", "obscore:Char.SpatialAxis.numBins1"),
    ("s_xel2", "long", "", "meta.number", "obscore:Char.SpatialAxis.numBins2"),
    ("em_min", "double", "m", "em.wl;stat.min", "obscore:Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit"),
    ("em_max", "double", "m", "em.wl;stat.max", "obscore:Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit"),
    ("t_min", "double", "d", "time.start;obs.exposure", "obscore:Char.TimeAxis.Coverage.Bounds.Limits.StartTime"),
    ("t_max", "double", "d", "time.end;obs.exposure", "obscore:Char.TimeAxis.Coverage.Bounds.Limits.StopTime"),
    ("t_exptime", "double", "s", "time.duration;obs.exposure", "obscore:Char.TimeAxis.Coverage.Support.Extent"),
    ("facility_name", "char", "", "meta.id;instr.tel", "obscore:Provenance.ObsConfig.Facility.name"),
    ("instrument_name", "char", "", "meta.id;instr", "obscore:Provenance.ObsConfig.Instrument.name"),
];

/// The ObsCore columns, in row order ([`OBSCORE`]; the publisher DID has an XML ID, `s_region` the ADQL xtype).
#[must_use]
pub fn fields() -> Vec<Field> {
    OBSCORE
        .iter()
        .map(|&(name, datatype, unit, ucd, utype)| {
            let mut f = if datatype == "char" { Field::text(name) } else { Field::scalar(name, datatype) };
            if !unit.is_empty() {
                f = f.unit(unit);
            }
            f = f.ucd(ucd).utype(utype);
            match name {
                "obs_publisher_did" => f.id("obs_publisher_did"),
                "s_region" => f.xtype("adql:REGION"),
                _ => f,
            }
        })
        .collect()
}

/// The STC-S outline of a footprint.
#[must_use]
pub fn stc(e: &CoaddEntry) -> String {
    let mut s = String::from("POLYGON ICRS");
    for (ra, dec) in &e.footprint {
        let _ = write!(s, " {ra:.7} {dec:.7}");
    }
    s
}

/// The row of coadd `e` of HiPS `v` (`base`: the server's base URL).
#[must_use]
pub fn row(base: &str, v: &Visible, e: &CoaddEntry) -> Vec<Cell> {
    let em = e.band.as_deref().and_then(band_range);
    let t = time_range(e);
    let n = |x: Option<usize>| x.map_or(Cell::Null, |x| Cell::Long(i64::try_from(x).unwrap_or(i64::MAX)));
    vec![
        Cell::Text(e.id.clone()),
        Cell::Text(e.rel.clone()),
        Cell::Text(v.hips.name.clone()),
        Cell::Text("image".into()),
        Cell::Long(3),
        Cell::Text(super::links_url(base, &e.id)),
        Cell::Text(super::DATALINK_FORMAT.into()),
        e.file_bytes.map_or(Cell::Null, |b| Cell::Long(i64::try_from(b.div_ceil(1024)).unwrap_or(i64::MAX))),
        Cell::Double(e.centre.0),
        Cell::Double(e.centre.1),
        Cell::Double(2.0 * e.radius),
        Cell::Text(stc(e)),
        Cell::opt(e.pixel_scale),
        n(e.size.map(|s| s.0)),
        n(e.size.map(|s| s.1)),
        Cell::opt(em.map(|x| x.0)),
        Cell::opt(em.map(|x| x.1)),
        Cell::opt(t.map(|x| x.0)),
        Cell::opt(t.map(|x| x.1)),
        Cell::opt(e.exptime),
        Cell::opt_text(v.facility.as_deref()),
        Cell::opt_text(v.instrument.as_deref()),
    ]
}

/// Answer `/vo/sia/query`.
pub async fn answer(state: &State, headers: &HeaderMap, base: &str, p: &[(String, String)], request_id: &str) -> Reply {
    use super::votable::{end, end_table, info, row, start, start_table};
    let q = match parse(p) {
        Ok(q) => q,
        Err(e) => return super::error_reply(StatusCode::BAD_REQUEST, &format!("UsageFault: {e}")),
    };
    let mut out = String::with_capacity(4096);
    start(&mut out);
    out.push_str("<RESOURCE type=\"results\">\n");
    info(&mut out, "QUERY_STATUS", "OK", None);
    info(&mut out, "standardID", "ivo://ivoa.net/std/SIA#query-2.0", None);
    start_table(&mut out, "results", &fields());
    let mut overflow = false;
    if q.maxrec > 0 {
        let prepared = Prepared::new(&q);
        let mut n = 0;
        'all: for v in super::visible(state, headers) {
            let coadds = match super::coadds_of(state, &v.hips, request_id).await {
                Ok(c) => c,
                Err(r) => return r,
            };
            for e in coadds.iter().filter(|e| prepared.matches(&v, e)) {
                if n == q.maxrec {
                    overflow = true;
                    break 'all;
                }
                row(&mut out, &self::row(base, &v, e));
                n += 1;
            }
        }
    }
    end_table(&mut out);
    if overflow {
        info(&mut out, "QUERY_STATUS", "OVERFLOW", None);
    }
    out.push_str("</RESOURCE>\n");
    super::links::datalink_descriptor(&mut out, base, "datalink");
    super::soda::descriptor(&mut out, base, "soda", None);
    super::capabilities::sia_self_descriptor(&mut out, base);
    end(&mut out);
    super::votable_reply(StatusCode::OK, out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(q: &str) -> Result<Query, UsageFault> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        parse(&pairs)
    }

    #[test]
    fn parameters_parse_or_name_the_fault() {
        let q = p("pos=CIRCLE+1+2+0.1&POS=RANGE+0+1+-Inf+%2BInf&BAND=4e-7+inf&time=60000&MAXREC=99999&foo=1").unwrap();
        assert_eq!(
            (q.pos.len(), q.band, q.time, q.maxrec),
            (2, vec![(4e-7, f64::INFINITY)], vec![(6e4, 6e4)], MAX_MAXREC)
        );
        assert_eq!(p("BAND=-Inf+5e-7").unwrap().band, vec![(f64::NEG_INFINITY, 5e-7)]);
        crate::testing::assert_refused(
            p,
            &[
                ("POS=BOX+1+2+3+4", "POS="),
                ("BAND=5+4", "lower bound"),
                ("BAND=x", "\"x\""),
                ("MAXREC=-1", "MAXREC"),
                ("CALIB=x", "CALIB"),
                ("RESPONSEFORMAT=text/csv", "RESPONSEFORMAT"),
                ("TIME=1+2+3", "TIME"),
            ],
        );
    }

    #[test]
    fn bands_map_to_wavelengths() {
        assert_eq!(band_range("g"), Some((400e-9, 552e-9)));
        assert_eq!(band_range("HSC-I"), Some((691e-9, 818e-9)));
        assert_eq!(band_range("x"), None);
    }
}
