//! SODA cutouts of coadds (IVOA SODA 1.0 `POS`, `CIRCLE`, `POLYGON`): the sky region is turned into the smallest pixel
//! box of the coadd holding every pixel that touches it, and the box is copied out of the image, mask and variance
//! planes by byte range, pixels exactly as stored (BITPIX, BSCALE/BZERO/BLANK unchanged). Headers are copied with the
//! reference pixels moved (CRPIXn and alternates, LTVn, DSS CNPIXn), so every WCS keeps placing each pixel where it was.

use std::f64::consts::PI;

use crate::coadd::Coadd;
use crate::fits::read::read_region_raw_into;
use crate::fits::{self, append_image_hdu, empty_primary, Card, FitsError, Hdu, PixelData, Value};
use crate::wcs::{convert, Frame};

/// Why a cutout cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum CutoutError {
    /// The region misses the coadd.
    #[error("{name}: the region does not overlap the image ({width} x {height} pixels)")]
    NoOverlap {
        /// The coadd.
        name: String,
        /// Image width.
        width: usize,
        /// Image height.
        height: usize,
    },
    /// The box holds more pixels than allowed.
    #[error("{name}: the cutout would be {width} x {height} pixels per plane, more than the limit of {limit}")]
    TooLarge {
        /// The coadd.
        name: String,
        /// Box width.
        width: usize,
        /// Box height.
        height: usize,
        /// The limit, in pixels.
        limit: u64,
    },
    /// Reading the coadd failed.
    #[error(transparent)]
    Fits(#[from] FitsError),
}

/// A sky region, ICRS degrees.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A cone: centre and radius.
    Circle {
        /// Centre right ascension.
        ra: f64,
        /// Centre declination.
        dec: f64,
        /// Radius, degrees (0 < r <= 180).
        radius: f64,
    },
    /// A coordinate range: RA from `ra_min` eastwards to `ra_max` (across 0 when `ra_min > ra_max`), Dec between.
    Range {
        /// Start of the RA range.
        ra_min: f64,
        /// End of the RA range.
        ra_max: f64,
        /// Lower declination.
        dec_min: f64,
        /// Upper declination.
        dec_max: f64,
    },
    /// A polygon with great-circle edges, smaller than a hemisphere, either orientation.
    Polygon(Vec<(f64, f64)>),
}

fn numbers(text: &str, what: &str) -> Result<Vec<f64>, String> {
    text.split_whitespace()
        .map(|w| {
            let v = match w.to_ascii_lowercase().as_str() {
                "inf" | "+inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                _ => w.parse::<f64>().map_err(|_| format!("{what}: {w:?} is not a number"))?,
            };
            if v.is_nan() {
                return Err(format!("{what}: NaN is not a coordinate"));
            }
            Ok(v)
        })
        .collect()
}

fn check_lat(lat: f64, what: &str) -> Result<f64, String> {
    if (-90.0..=90.0).contains(&lat) {
        Ok(lat)
    } else {
        Err(format!("{what}: declination {lat} is outside [-90, 90]"))
    }
}

fn finite(v: f64, what: &str) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{what}: infinite values are only allowed in RANGE"))
    }
}

impl Shape {
    /// Parse a SODA `POS` value: `CIRCLE ra dec r`, `RANGE ra1 ra2 dec1 dec2` (`-Inf`/`+Inf` allowed) or
    /// `POLYGON ra1 dec1 ra2 dec2 ra3 dec3 ...`.
    ///
    /// # Errors
    /// A message saying what is wrong with the value.
    pub fn parse_pos(pos: &str) -> Result<Shape, String> {
        let t = pos.trim();
        let (kind, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        match kind.to_ascii_uppercase().as_str() {
            "CIRCLE" => Shape::parse_circle(rest),
            "POLYGON" => Shape::parse_polygon(rest),
            "RANGE" => {
                let v = numbers(rest, "POS=RANGE")?;
                let [r1, r2, d1, d2] = v[..] else {
                    return Err(format!("POS=RANGE needs 4 numbers (ra1 ra2 dec1 dec2), got {}", v.len()));
                };
                let (d1, d2) = (d1.max(-90.0), d2.min(90.0));
                if d1 > d2 || r1.is_nan() || r2.is_nan() {
                    return Err(format!("POS=RANGE: dec1 {d1} is above dec2 {d2}"));
                }
                let (ra_min, ra_max) = if r1 == f64::NEG_INFINITY || r2 == f64::INFINITY || r2 - r1 >= 360.0 {
                    (0.0, 360.0)
                } else {
                    (finite(r1, "POS=RANGE")?.rem_euclid(360.0), finite(r2, "POS=RANGE")?.rem_euclid(360.0))
                };
                Ok(Shape::Range { ra_min, ra_max, dec_min: d1, dec_max: d2 })
            }
            _ => Err(format!("POS {t:?}: the shape must be CIRCLE, RANGE or POLYGON")),
        }
    }

    /// Parse a SODA `CIRCLE` value: `ra dec radius`, degrees.
    ///
    /// # Errors
    /// A message saying what is wrong with the value.
    pub fn parse_circle(v: &str) -> Result<Shape, String> {
        let n = numbers(v, "CIRCLE")?;
        let [ra, dec, radius] = n[..] else {
            return Err(format!("CIRCLE needs 3 numbers (ra dec radius), got {}", n.len()));
        };
        let (ra, dec, radius) = (finite(ra, "CIRCLE")?, check_lat(finite(dec, "CIRCLE")?, "CIRCLE")?, radius);
        if !(radius > 0.0 && radius <= 180.0) {
            return Err(format!("CIRCLE: radius {radius} must be above 0 and at most 180 degrees"));
        }
        Ok(Shape::Circle { ra: ra.rem_euclid(360.0), dec, radius })
    }

    /// Parse a SODA `POLYGON` value: `ra1 dec1 ra2 dec2 ra3 dec3 ...`, degrees.
    ///
    /// # Errors
    /// A message saying what is wrong with the value.
    pub fn parse_polygon(v: &str) -> Result<Shape, String> {
        Shape::polygon(&numbers(v, "POLYGON")?)
    }

    /// A polygon from its vertices' coordinates `ra1 dec1 ra2 dec2 ...` (ICRS degrees), checked as
    /// [`Shape::parse_polygon`] checks them.
    ///
    /// # Errors
    /// A message saying what is wrong with the vertices.
    pub fn polygon(n: &[f64]) -> Result<Shape, String> {
        if n.len() < 6 || !n.len().is_multiple_of(2) {
            return Err(format!("POLYGON needs at least 3 (ra, dec) pairs, got {} numbers", n.len()));
        }
        let mut pts = Vec::with_capacity(n.len() / 2);
        for c in n.chunks(2) {
            pts.push((finite(c[0], "POLYGON")?.rem_euclid(360.0), check_lat(finite(c[1], "POLYGON")?, "POLYGON")?));
        }
        let centre = mean_direction(&pts);
        if norm(centre) < 1e-9 || pts.iter().any(|p| dot(unit(*p), centre) <= 0.0) {
            return Err("POLYGON: the polygon must be smaller than a hemisphere".into());
        }
        Ok(Shape::Polygon(pts))
    }

    /// Whether the region holds (ra, dec) (ICRS degrees).
    #[must_use]
    pub fn contains(&self, ra: f64, dec: f64) -> bool {
        match self {
            Shape::Circle { ra: r0, dec: d0, radius } => {
                dot(unit((ra, dec)), unit((*r0, *d0))) >= radius.to_radians().cos()
            }
            Shape::Range { ra_min, ra_max, dec_min, dec_max } => {
                let ra = ra.rem_euclid(360.0);
                let in_ra = if ra_max - ra_min >= 360.0 {
                    true
                } else if ra_min <= ra_max {
                    (*ra_min..=*ra_max).contains(&ra)
                } else {
                    ra >= *ra_min || ra <= *ra_max
                };
                in_ra && (*dec_min..=*dec_max).contains(&dec)
            }
            Shape::Polygon(pts) => {
                // Gnomonic projection about the vertices' mean direction, then the even-odd rule: great circles
                // project to straight lines, so this is exact for polygons smaller than a hemisphere.
                let c = normalize(mean_direction(pts));
                let p = unit((ra, dec));
                if dot(p, c) <= 0.0 {
                    return false;
                }
                let (e, n) = tangent_basis(c);
                let proj = |v: [f64; 3]| {
                    let d = dot(v, c);
                    (dot(v, e) / d, dot(v, n) / d)
                };
                let (px, py) = proj(p);
                let q: Vec<(f64, f64)> = pts.iter().map(|v| proj(unit(*v))).collect();
                let mut inside = false;
                for i in 0..q.len() {
                    let (a, b) = (q[i], q[(i + 1) % q.len()]);
                    if (a.1 > py) != (b.1 > py) && px < a.0 + (py - a.1) * (b.0 - a.0) / (b.1 - a.1) {
                        inside = !inside;
                    }
                }
                inside
            }
        }
    }

    /// A cone holding the region: (ra, dec, radius), degrees.
    #[must_use]
    pub fn bounding_cone(&self) -> (f64, f64, f64) {
        if let Shape::Circle { ra, dec, radius } = self {
            return (*ra, *dec, *radius);
        }
        let pts = self.outline();
        let c = mean_direction(&pts);
        if norm(c) < 1e-9 {
            return (0.0, 90.0, 180.0);
        }
        let c = normalize(c);
        let widest = pts.iter().map(|p| dot(unit(*p), c)).fold(1.0f64, f64::min);
        let (ra, dec) = lonlat(c);
        // A little margin for the outline's sampling of RANGE edges (small circles, not great circles).
        (ra, dec, (widest.clamp(-1.0, 1.0).acos().to_degrees() * 1.01 + 1e-6).min(180.0))
    }

    /// Points on the region's outline and its centre, ICRS degrees (for projecting onto a coadd's pixel grid).
    fn outline(&self) -> Vec<(f64, f64)> {
        match self {
            Shape::Circle { ra, dec, radius } => {
                let c = unit((*ra, *dec));
                let (e, n) = tangent_basis(c);
                let (s, k) = radius.to_radians().sin_cos();
                // 720 points: the outline's extent in pixels is short by at most 1e-5 of the radius.
                let mut pts: Vec<(f64, f64)> = (0..720)
                    .map(|i| {
                        let (sa, ca) = (f64::from(i) * PI / 360.0).sin_cos();
                        lonlat(add(scale(c, k), add(scale(e, s * ca), scale(n, s * sa))))
                    })
                    .collect();
                pts.push((*ra, *dec));
                pts
            }
            Shape::Range { ra_min, ra_max, dec_min, dec_max } => {
                let span = if ra_min <= ra_max { ra_max - ra_min } else { ra_max + 360.0 - ra_min };
                let mut pts = Vec::new();
                for i in 0..=64 {
                    let t = f64::from(i) / 64.0;
                    let ra = ra_min + span * t;
                    pts.push((ra.rem_euclid(360.0), *dec_min));
                    pts.push((ra.rem_euclid(360.0), *dec_max));
                    pts.push((*ra_min, dec_min + (dec_max - dec_min) * t));
                    pts.push((ra_max.rem_euclid(360.0), dec_min + (dec_max - dec_min) * t));
                }
                pts
            }
            Shape::Polygon(v) => {
                let mut pts = Vec::new();
                for i in 0..v.len() {
                    let (a, b) = (unit(v[i]), unit(v[(i + 1) % v.len()]));
                    for k in 0..32 {
                        let t = f64::from(k) / 32.0;
                        pts.push(lonlat(add(scale(a, 1.0 - t), scale(b, t))));
                    }
                }
                pts.push(lonlat(mean_direction(v)));
                pts
            }
        }
    }
}

fn unit((lon, lat): (f64, f64)) -> [f64; 3] {
    let (l, b) = (lon.to_radians(), lat.to_radians());
    [b.cos() * l.cos(), b.cos() * l.sin(), b.sin()]
}

fn lonlat(v: [f64; 3]) -> (f64, f64) {
    let v = normalize(v);
    (v[1].atan2(v[0]).to_degrees().rem_euclid(360.0), v[2].clamp(-1.0, 1.0).asin().to_degrees())
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

fn normalize(a: [f64; 3]) -> [f64; 3] {
    scale(a, 1.0 / norm(a))
}

fn mean_direction(pts: &[(f64, f64)]) -> [f64; 3] {
    pts.iter().fold([0.0; 3], |acc, p| add(acc, unit(*p)))
}

/// East and north unit vectors of the tangent plane at `c` (any orthonormal pair at the poles).
fn tangent_basis(c: [f64; 3]) -> ([f64; 3], [f64; 3]) {
    let z = [0.0, 0.0, 1.0];
    let e = [z[1] * c[2] - z[2] * c[1], z[2] * c[0] - z[0] * c[2], z[0] * c[1] - z[1] * c[0]];
    let e = if norm(e) < 1e-12 { [1.0, 0.0, 0.0] } else { normalize(e) };
    let n = [c[1] * e[2] - c[2] * e[1], c[2] * e[0] - c[0] * e[2], c[0] * e[1] - c[1] * e[0]];
    (e, n)
}

/// A pixel box of an image: columns `x0..x0+width`, rows `y0..y0+height` (0-based, row 0 first in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBox {
    /// First column.
    pub x0: usize,
    /// First row.
    pub y0: usize,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

/// Grid steps per image axis at which points inside a region are tested.
const GRID: usize = 64;

/// The smallest box of the coadd's pixels holding every pixel the region touches: the bounds of the region's outline
/// projected onto the pixel grid, and of the points of a 65 x 65 grid over the image that lie in the region (so a
/// region holding an image edge or the whole image reaches it; padded by a grid step when part of the outline is
/// where the projection is undefined). `None` when they do not overlap.
#[must_use]
pub fn pixel_box(coadd: &Coadd, shape: &Shape) -> Option<PixelBox> {
    let (w, h) = (coadd.width as f64, coadd.height as f64);
    let frame = coadd.wcs.frame();
    let (mut lo_x, mut lo_y, mut hi_x, mut hi_y) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut hit = false;
    let mut take = |x: f64, y: f64, pad: f64| {
        lo_x = lo_x.min(x - pad);
        hi_x = hi_x.max(x + pad);
        lo_y = lo_y.min(y - pad);
        hi_y = hi_y.max(y + pad);
    };
    let mut whole_outline = true;
    for (ra, dec) in shape.outline() {
        let (lon, lat) = convert(ra, dec, Frame::Equatorial, frame);
        match coadd.wcs.world_to_pix(lon, lat).filter(|(x, y)| x.is_finite() && y.is_finite()) {
            Some((x, y)) => {
                hit |= (-0.5..w - 0.5).contains(&x) && (-0.5..h - 0.5).contains(&y);
                take(x, y, 0.0);
            }
            None => whole_outline = false,
        }
    }
    // Grid points inside the region: they matter when the region holds an image edge or corner (the box then
    // reaches it) and, padded by a grid step, when part of the outline lies where the projection is undefined.
    let (sx, sy) = ((w - 1.0).max(1.0) / GRID as f64, (h - 1.0).max(1.0) / GRID as f64);
    let pad = if whole_outline { 0.0 } else { sx.max(sy) };
    for j in 0..=GRID {
        for i in 0..=GRID {
            let (x, y) = (i as f64 * sx, j as f64 * sy);
            let Some((lon, lat)) = coadd.wcs.pix_to_world(x, y) else { continue };
            let (ra, dec) = convert(lon, lat, frame, Frame::Equatorial);
            if shape.contains(ra, dec) {
                hit = true;
                take(x, y, pad);
            }
        }
    }
    if !hit {
        return None;
    }
    // Pixel i covers [i - 0.5, i + 0.5).
    let first = |v: f64| (v + 0.5).floor().max(0.0);
    let last = |v: f64, n: f64| (v + 0.5).floor().min(n - 1.0);
    let (x0, x1, y0, y1) = (first(lo_x), last(hi_x, w), first(lo_y), last(hi_y, h));
    if x0 > x1 || y0 > y1 {
        return None;
    }
    Some(PixelBox { x0: x0 as usize, y0: y0 as usize, width: (x1 - x0) as usize + 1, height: (y1 - y0) as usize + 1 })
}

/// Whether a header card is written by the HDU assembler itself or describes axes beyond the two kept.
fn structural(key: &str) -> bool {
    key.starts_with("NAXIS") || matches!(key, "SIMPLE" | "XTENSION" | "EXTEND" | "PCOUNT" | "GCOUNT")
}

/// A copy of `hdu`'s cards for the cutout at `b`: reference pixels moved by the box origin, no structure keys.
fn moved_cards(hdu: &Hdu, b: PixelBox, with_data: bool) -> Vec<Card> {
    let shift = |v: &Option<Value>, by: f64| match v {
        Some(Value::Float(f)) => Some(Value::Float(f + by)),
        Some(Value::Int(i)) => Some(Value::Float(*i as f64 + by)),
        other => other.clone(),
    };
    let (dx, dy) = (b.x0 as f64, b.y0 as f64);
    let mut out = Vec::with_capacity(hdu.header.cards.len() + 1);
    for c in &hdu.header.cards {
        let k = c.key.as_str();
        if structural(k) || (!with_data && matches!(k, "BSCALE" | "BZERO" | "BLANK" | "BUNIT")) {
            continue;
        }
        let alt = |prefix: &str| {
            k.strip_prefix(prefix).is_some_and(|r| r.len() <= 1 && r.bytes().all(|b| b.is_ascii_uppercase()))
        };
        let value = if alt("CRPIX1") || k == "LTV1" {
            shift(&c.value, -dx)
        } else if alt("CRPIX2") || k == "LTV2" {
            shift(&c.value, -dy)
        } else if k == "CNPIX1" {
            shift(&c.value, dx)
        } else if k == "CNPIX2" {
            shift(&c.value, dy)
        } else {
            c.value.clone()
        };
        out.push(Card { key: c.key.clone(), value, comment: c.comment.clone() });
    }
    out
}

/// A cutout: the box and the FITS file holding it.
#[derive(Debug, Clone)]
pub struct Cutout {
    /// Where the box lies in the coadd.
    pub pixels: PixelBox,
    /// The FITS bytes: the image's HDU (primary when the image is the primary), preceded by a copy of the primary
    /// header otherwise, then the mask and variance planes as extensions, in file order.
    pub fits: Vec<u8>,
}

/// Cut the region out of the coadd's image, mask and variance planes, reading only the rows of the box.
///
/// # Errors
/// [`CutoutError::NoOverlap`], [`CutoutError::TooLarge`] when the box has more than `max_pixels` pixels, or a read
/// error naming the file and HDU.
pub fn cutout(coadd: &Coadd, shape: &Shape, max_pixels: u64, history: &str) -> Result<Cutout, CutoutError> {
    let b = pixel_box(coadd, shape).ok_or_else(|| CutoutError::NoOverlap {
        name: coadd.name.clone(),
        width: coadd.width,
        height: coadd.height,
    })?;
    if (b.width as u64) * (b.height as u64) > max_pixels {
        return Err(CutoutError::TooLarge {
            name: coadd.name.clone(),
            width: b.width,
            height: b.height,
            limit: max_pixels,
        });
    }
    let mut planes: Vec<&Hdu> =
        [Some(&coadd.image), coadd.mask.as_ref(), coadd.variance.as_ref()].into_iter().flatten().collect();
    planes.sort_by_key(|h| h.index);
    let note = Card::history(&format!(
        "{history}: pixels x {}..{}, y {}..{} (0-based) of {}",
        b.x0,
        b.x0 + b.width - 1,
        b.y0,
        b.y0 + b.height - 1,
        coadd.name
    ));
    // One buffer for the whole file and one for the rows read: each pixel is copied once after it is read.
    let data_bytes: usize = planes.iter().map(|h| b.width * b.height * (h.bitpix.unsigned_abs() / 8) as usize).sum();
    let mut out = Vec::with_capacity(data_bytes + (planes.len() + 1) * 4 * 2880);
    if planes[0].index != 0 {
        let hdus = fits::scan_hdus(coadd.source.as_ref())?;
        let mut cards = hdus.first().map(|p| moved_cards(p, b, false)).unwrap_or_default();
        cards.push(note.clone());
        out.extend_from_slice(&empty_primary(&cards));
    }
    let mut raw = Vec::new();
    for hdu in planes {
        read_region_raw_into(coadd.source.as_ref(), hdu, (b.x0, b.y0, b.width, b.height), &mut raw)?;
        let mut cards = moved_cards(hdu, b, true);
        cards.push(note.clone());
        let data = PixelData::Raw { bitpix: i64::from(hdu.bitpix), bytes: &raw };
        append_image_hdu(&mut out, hdu.index == 0, b.width, b.height, data, &cards);
    }
    Ok(Cutout { pixels: b, fits: out })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pos_values_parse_or_name_the_fault() {
        assert_eq!(Shape::parse_pos("CIRCLE -10 5 0.1"), Ok(Shape::Circle { ra: 350.0, dec: 5.0, radius: 0.1 }));
        assert_eq!(
            Shape::parse_pos("range 350 10 -Inf +Inf"),
            Ok(Shape::Range { ra_min: 350.0, ra_max: 10.0, dec_min: -90.0, dec_max: 90.0 })
        );
        assert!(matches!(Shape::parse_pos("POLYGON 10 0 11 0 11 1"), Ok(Shape::Polygon(p)) if p.len() == 3));
        for (bad, word) in [
            ("BOX 1 2 3 4", "CIRCLE, RANGE or POLYGON"),
            ("CIRCLE 1 2", "3 numbers"),
            ("CIRCLE 1 95 1", "declination 95"),
            ("CIRCLE 1 2 0", "radius"),
            ("CIRCLE 1 x 1", "\"x\""),
            ("CIRCLE 1 nan 1", "NaN"),
            ("CIRCLE inf 0 1", "infinite"),
            ("POLYGON 1 2 3 4", "3 (ra, dec) pairs"),
            ("POLYGON 0 0 120 0 240 0", "hemisphere"),
            ("RANGE 1 2 5 4", "above"),
        ] {
            let e = Shape::parse_pos(bad).unwrap_err();
            assert!(e.contains(word), "{bad}: {e}");
        }
    }

    #[test]
    fn shapes_contain_their_inside() {
        let c = Shape::Circle { ra: 359.9, dec: 0.0, radius: 0.5 };
        assert!(c.contains(0.3, 0.0) && !c.contains(0.5, 0.0) && !c.contains(179.9, 0.0));
        let r = Shape::parse_pos("RANGE 359 1 -1 1").unwrap();
        assert!(r.contains(0.5, 0.5) && r.contains(359.5, -0.9) && !r.contains(2.0, 0.0) && !r.contains(0.0, 1.5));
        let p = Shape::parse_pos("POLYGON 10 -1 12 -1 12 1 10 1").unwrap();
        assert!(p.contains(11.0, 0.0) && !p.contains(12.5, 0.0) && !p.contains(191.0, 0.0));
        let rev = Shape::parse_pos("POLYGON 10 1 12 1 12 -1 10 -1").unwrap();
        assert!(rev.contains(11.0, 0.5));
        let pole = Shape::parse_pos("POLYGON 0 85 120 85 240 85").unwrap();
        assert!(pole.contains(33.0, 89.0) && !pole.contains(33.0, 80.0));
    }

    #[test]
    fn circle_outline_lies_at_the_radius() {
        let c = Shape::Circle { ra: 45.0, dec: 60.0, radius: 2.0 };
        let centre = unit((45.0, 60.0));
        for p in c.outline().iter().take(720) {
            let d = dot(unit(*p), centre).clamp(-1.0, 1.0).acos().to_degrees();
            assert!((d - 2.0).abs() < 1e-9, "{p:?} at {d}");
        }
    }
}
