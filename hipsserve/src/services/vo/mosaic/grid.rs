//! The output grid of a mosaic: one gnomonic (TAN) projection centred on the region's bounding-cone centre, North
//! up and East left (`CD1_1 = -scale`, `CD2_2 = +scale`), just large enough to hold the region's projection
//! (symmetric about the centre, an odd number of pixels along each axis so the centre is a pixel centre). Each output
//! pixel's sky direction is computed exactly (the tangent-plane point normalised), never interpolated.

use hips_core::cutout::Shape;
use hips_core::fits::Card;

type V3 = [f64; 3];

/// Largest bounding-cone radius of a region, degrees: beyond it one TAN grid distorts too much to be useful.
pub const MAX_RADIUS_DEG: f64 = 60.0;

/// The TAN grid of a mosaic.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Centre (CRVAL), ICRS degrees.
    pub centre: (f64, f64),
    /// Pixel size, degrees.
    pub scale_deg: f64,
    /// Columns (NAXIS1).
    pub width: usize,
    /// Rows (NAXIS2).
    pub height: usize,
    c: V3,
    east: V3,
    north: V3,
}

fn unit((ra, dec): (f64, f64)) -> V3 {
    let (a, d) = (ra.to_radians(), dec.to_radians());
    [d.cos() * a.cos(), d.cos() * a.sin(), d.sin()]
}

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Points on the region's edge whose tangent-plane projection bounds the region's (TAN maps great circles to straight
/// lines: polygon vertices suffice; RANGE's constant-declination edges are sampled every 0.25 degree at most).
fn edge_points(shape: &Shape) -> Vec<(f64, f64)> {
    match shape {
        Shape::Polygon(pts) => pts.clone(),
        Shape::Range { ra_min, ra_max, dec_min, dec_max } => {
            let span = if ra_max - ra_min >= 360.0 { 360.0 } else { (ra_max - ra_min).rem_euclid(360.0) };
            let n = ((span / 0.25).ceil() as usize).max(1);
            let mut out = Vec::with_capacity(2 * n + 2);
            for i in 0..=n {
                let ra = ra_min + span * i as f64 / n as f64;
                out.push((ra, *dec_min));
                out.push((ra, *dec_max));
            }
            out
        }
        Shape::Circle { .. } => Vec::new(),
    }
}

impl Grid {
    /// The grid of `shape` at `scale_deg` degrees per pixel.
    ///
    /// # Errors
    /// A message (for a `POS` fault) when the region is too large for one TAN grid.
    pub fn new(shape: &Shape, scale_deg: f64) -> Result<Grid, String> {
        let (ra, dec, radius) = shape.bounding_cone();
        if radius > MAX_RADIUS_DEG {
            return Err(format!(
                "the region reaches {radius:.1} degrees from its centre, more than {MAX_RADIUS_DEG} for one TAN grid"
            ));
        }
        let c = unit((ra, dec));
        let (a, d) = (ra.to_radians(), dec.to_radians());
        let east = [-a.sin(), a.cos(), 0.0];
        let north = [-d.sin() * a.cos(), -d.sin() * a.sin(), d.cos()];
        let (half_x, half_y) = match shape {
            Shape::Circle { radius, .. } => (radius.to_radians().tan(), radius.to_radians().tan()),
            _ => edge_points(shape).into_iter().fold((0.0f64, 0.0f64), |(hx, hy), p| {
                let v = unit(p);
                let z = dot(v, c).max(1e-9);
                (hx.max((dot(v, east) / z).abs()), hy.max((dot(v, north) / z).abs()))
            }),
        };
        let s = scale_deg.to_radians();
        // (a region edge beyond the last pixel centre by less than 0.001 pixel does not add a pixel)
        let side = |half: f64| 2 * ((half / s - 1e-3).ceil().max(0.0) as usize) + 1;
        Ok(Grid { centre: (ra, dec), scale_deg, width: side(half_x), height: side(half_y), c, east, north })
    }

    /// Pixels per plane.
    #[must_use]
    pub fn pixels(&self) -> u64 {
        self.width as u64 * self.height as u64
    }

    /// The WCS cards (astropy reads them): CTYPE RA---TAN/DEC--TAN, CRVAL, CRPIX (1-based centre pixel), CD, ICRS.
    #[must_use]
    pub fn cards(&self) -> Vec<Card> {
        let crpix = (f64::midpoint(self.width as f64, 1.0), f64::midpoint(self.height as f64, 1.0));
        let mut cards = hips_core::wcs::tan_cards(self.centre, crpix, self.scale_deg);
        cards.push(Card::str("CUNIT1", "deg", ""));
        cards.push(Card::str("CUNIT2", "deg", ""));
        cards
    }

    /// The unit vectors (ICRS) of the centres of pixels (x, y), x = `x0 .. x0 + out.len()`, 0-based.
    pub fn row(&self, y: usize, x0: usize, out: &mut [V3]) {
        let s = self.scale_deg.to_radians();
        let (cx, cy) = ((self.width as f64 - 1.0) / 2.0, (self.height as f64 - 1.0) / 2.0);
        let eta = (y as f64 - cy) * s;
        for (i, o) in out.iter_mut().enumerate() {
            let xi = -((x0 + i) as f64 - cx) * s;
            let p: V3 = std::array::from_fn(|k| self.c[k] + xi * self.east[k] + eta * self.north[k]);
            let n = dot(p, p).sqrt();
            *o = [p[0] / n, p[1] / n, p[2] / n];
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn radec(v: V3) -> (f64, f64) {
        (v[1].atan2(v[0]).to_degrees().rem_euclid(360.0), v[2].asin().to_degrees())
    }

    #[test]
    fn grids_are_centred_north_up_and_hold_the_region() {
        let g = Grid::new(&Shape::Circle { ra: 150.0, dec: 2.0, radius: 0.01 }, 0.2 / 3600.0).unwrap();
        assert_eq!((g.width, g.height), (361, 361));
        let mut v = [[0.0; 3]; 3];
        g.row(180, 179, &mut v);
        let ((ra0, _), (ra1, dec1), (ra2, _)) = (radec(v[0]), radec(v[1]), radec(v[2]));
        assert!((ra1 - 150.0).abs() < 1e-12 && (dec1 - 2.0).abs() < 1e-12);
        assert!(ra0 > ra1 && ra2 < ra1, "East left: RA falls as x grows");
        g.row(181, 180, &mut v[..1]);
        assert!(radec(v[0]).1 > dec1, "North up");
        let r = Grid::new(&Shape::parse_pos("RANGE 10 11 -1 1").unwrap(), 1.0 / 60.0).unwrap();
        assert!(r.width >= 61 && r.height >= 121 && r.height <= 125, "{} x {}", r.width, r.height);
        assert!(Grid::new(&Shape::Circle { ra: 0.0, dec: 0.0, radius: 70.0 }, 0.1).is_err());
    }
}
