//! Whether a coadd's footprint (a spherical polygon with great-circle edges, its four corners) meets an SIA/SODA
//! region (`CIRCLE`, `RANGE`, `POLYGON`, ICRS degrees): a bounding-cone test first (cheap, rejects almost every coadd
//! of a large catalogue), then an exact one: a vertex of either inside the other, an edge crossing, or for circles the
//! distance from the centre to the outline. `RANGE` edges of constant declination are small circles: they are
//! sampled every degree at most (ranges are cut into pieces at most 90 degrees wide in RA, and at the equator).

use hips_core::cutout::Shape;

use crate::catalog::coadds::{angle, unit, CoaddEntry};

type V3 = [f64; 3];

fn cross(a: V3, b: V3) -> V3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalize(a: V3) -> Option<V3> {
    let n = dot(a, a).sqrt();
    (n > 1e-15).then(|| [a[0] / n, a[1] / n, a[2] / n])
}

/// Whether `x` (on the great circle through p and q, normal `n`) lies on the short arc p..q.
fn on_arc(p: V3, q: V3, n: V3, x: V3) -> bool {
    dot(cross(p, x), n) >= -1e-12 && dot(cross(x, q), n) >= -1e-12
}

/// Whether the short arcs a1..a2 and b1..b2 cross.
fn arcs_cross(a1: V3, a2: V3, b1: V3, b2: V3) -> bool {
    let (Some(na), Some(nb)) = (normalize(cross(a1, a2)), normalize(cross(b1, b2))) else { return false };
    let Some(l) = normalize(cross(na, nb)) else { return false };
    [l, [-l[0], -l[1], -l[2]]].into_iter().any(|x| on_arc(a1, a2, na, x) && on_arc(b1, b2, nb, x))
}

/// Distance (degrees) from `c` to the short arc p..q.
fn arc_distance(c: V3, p: V3, q: V3) -> f64 {
    if let Some(n) = normalize(cross(p, q)) {
        let d = dot(c, n);
        if let Some(foot) = normalize([c[0] - d * n[0], c[1] - d * n[1], c[2] - d * n[2]]) {
            if on_arc(p, q, n, foot) {
                return d.abs().clamp(0.0, 1.0).asin().to_degrees();
            }
        }
    }
    angle(c, p).min(angle(c, q))
}

/// A polygon as corners (degrees) and unit vectors.
#[derive(Debug)]
struct Poly {
    shape: Option<Shape>,
    verts: Vec<(f64, f64)>,
    vecs: Vec<V3>,
}

impl Poly {
    fn new(verts: Vec<(f64, f64)>) -> Poly {
        let flat: Vec<f64> = verts.iter().flat_map(|(a, b)| [*a, *b]).collect();
        let vecs = verts.iter().map(|p| unit(*p)).collect();
        Poly { shape: Shape::polygon(&flat).ok(), verts, vecs }
    }

    fn contains(&self, p: (f64, f64)) -> bool {
        self.shape.as_ref().is_some_and(|s| s.contains(p.0, p.1))
    }

    fn edges(&self) -> impl Iterator<Item = (V3, V3)> + '_ {
        (0..self.vecs.len()).map(|i| (self.vecs[i], self.vecs[(i + 1) % self.vecs.len()]))
    }

    fn meets(&self, other: &Poly) -> bool {
        self.verts.iter().any(|v| other.contains(*v))
            || other.verts.iter().any(|v| self.contains(*v))
            || self.edges().any(|(a1, a2)| other.edges().any(|(b1, b2)| arcs_cross(a1, a2, b1, b2)))
    }
}

/// The pieces of a RANGE as polygons (each at most 90 degrees of RA; small-circle edges sampled every degree).
fn range_pieces(ra_min: f64, ra_max: f64, dec_min: f64, dec_max: f64) -> Vec<Poly> {
    let span = if ra_max - ra_min >= 360.0 { 360.0 } else { (ra_max - ra_min).rem_euclid(360.0) };
    let span = if span == 0.0 && ra_max != ra_min { 360.0 } else { span };
    let pieces = (span / 90.0).ceil().max(1.0) as usize;
    let step = span / pieces as f64;
    (0..pieces)
        .map(|i| {
            let (a, b) = (ra_min + step * i as f64, ra_min + step * (i + 1) as f64);
            let n = (step.ceil() as usize).max(1);
            let mut verts = Vec::new();
            let edge = |dec: f64, forward: bool, verts: &mut Vec<(f64, f64)>| {
                if dec.abs() >= 90.0 {
                    verts.push((0.0, dec.signum() * 90.0));
                    return;
                }
                for j in 0..=n {
                    let t = j as f64 / n as f64;
                    let ra = if forward { a + (b - a) * t } else { b - (b - a) * t };
                    verts.push((ra.rem_euclid(360.0), dec));
                }
            };
            edge(dec_min, true, &mut verts);
            edge(dec_max, false, &mut verts);
            Poly::new(verts)
        })
        .collect()
}

/// A query region made ready for many footprint tests.
#[derive(Debug)]
pub struct Region {
    cone: (V3, f64),
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Circle { c: V3, r: f64 },
    Polys(Vec<Poly>),
}

impl Region {
    /// Prepare `shape`.
    #[must_use]
    pub fn new(shape: &Shape) -> Region {
        let (ra, dec, r) = shape.bounding_cone();
        let kind = match shape {
            Shape::Circle { ra, dec, radius } => Kind::Circle { c: unit((*ra, *dec)), r: *radius },
            Shape::Polygon(pts) => Kind::Polys(vec![Poly::new(pts.clone())]),
            // Cut at the equator too, so that no piece reaches both poles.
            Shape::Range { ra_min, ra_max, dec_min, dec_max } if *dec_min < 0.0 && *dec_max > 0.0 => {
                let mut p = range_pieces(*ra_min, *ra_max, *dec_min, 0.0);
                p.extend(range_pieces(*ra_min, *ra_max, 0.0, *dec_max));
                Kind::Polys(p)
            }
            Shape::Range { ra_min, ra_max, dec_min, dec_max } => {
                Kind::Polys(range_pieces(*ra_min, *ra_max, *dec_min, *dec_max))
            }
        };
        Region { cone: (unit((ra, dec)), r), kind }
    }

    /// Whether the coadd's footprint meets the region.
    #[must_use]
    pub fn meets(&self, e: &CoaddEntry) -> bool {
        if angle(self.cone.0, e.centre_vec) > self.cone.1 + e.radius + 1e-9 {
            return false;
        }
        let fp = Poly::new(e.footprint.clone());
        match &self.kind {
            Kind::Circle { c, r } => {
                let ll = (c[1].atan2(c[0]).to_degrees().rem_euclid(360.0), c[2].clamp(-1.0, 1.0).asin().to_degrees());
                fp.contains(ll) || fp.edges().any(|(p, q)| arc_distance(*c, p, q) <= *r)
            }
            Kind::Polys(polys) => polys.iter().any(|p| p.meets(&fp)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::coadds::entry;
    use crate::catalog::public::PublicNames;
    use hips_core::layout::ProgenitorRecord;

    fn square() -> CoaddEntry {
        let names = PublicNames::new(&["/c".into()], &[]);
        let line = br#"{"path":"/c/a.fits","stc":"POLYGON J2000 10 -1 12 -1 12 1 10 1"}"#;
        entry("ivo://x/P", &names, &ProgenitorRecord::parse_lines(line).next().unwrap()).unwrap()
    }

    fn meets(pos: &str) -> bool {
        Region::new(&Shape::parse_pos(pos).unwrap()).meets(&square())
    }

    #[test]
    fn regions_meet_footprints_where_they_overlap() {
        assert!(meets("CIRCLE 11 0 0.1"), "inside");
        assert!(meets("CIRCLE 12.5 0 0.6"), "overlapping an edge");
        assert!(!meets("CIRCLE 12.5 0 0.4"), "beside an edge");
        assert!(meets("CIRCLE 11 0 30"), "holding it");
        assert!(!meets("CIRCLE 191 0 10"), "far away");
        assert!(meets("POLYGON 11.5 -3 11.8 -3 11.8 3 11.5 3"), "a bar across, no vertex inside");
        assert!(!meets("POLYGON 12.5 -3 13 -3 13 3"), "a triangle beside it");
        assert!(meets("RANGE 11.9 20 -0.5 0.5"), "a range overlapping");
        assert!(!meets("RANGE 13 20 -Inf +Inf"), "a range beside it");
        assert!(meets("RANGE 0 360 -Inf +Inf"), "the whole sky");
        assert!(meets("RANGE 300 11 -0.1 0.1"), "a range across RA 0, wider than 90 degrees");
        assert!(!meets("RANGE 0 360 2 90"), "a cap above it");
    }
}
