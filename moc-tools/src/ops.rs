//! Set operations on many MOCs, release differences, and the summary printed by `moc-tools info`.

use crate::{area_deg2, cells, degrade, from_ranges29, from_sorted_ranges29, ranges, sky_fraction, SMoc};
use rayon::prelude::*;
use std::ops::Range;

/// Union of any number of MOCs: all ranges gathered, sorted once (in parallel) and merged. The order of the
/// result is the deepest order of the inputs.
pub fn union_many(mocs: &[SMoc]) -> SMoc {
    let depth = mocs.iter().map(moc::moc::range::RangeMOC::depth_max).max().unwrap_or(0);
    let total: usize = mocs.iter().map(|m| ranges(m).len()).sum();
    let mut all: Vec<Range<u64>> = Vec::with_capacity(total);
    for m in mocs {
        all.extend_from_slice(ranges(m));
    }
    from_ranges29(depth, all)
}

/// Union of two MOCs (order: the deeper of the two).
pub fn union(a: &SMoc, b: &SMoc) -> SMoc {
    let (ra, rb) = (ranges(a), ranges(b));
    let mut v = Vec::with_capacity(ra.len() + rb.len());
    let (mut i, mut j) = (0, 0);
    while i < ra.len() || j < rb.len() {
        if j >= rb.len() || (i < ra.len() && ra[i].start <= rb[j].start) {
            v.push(ra[i].clone());
            i += 1;
        } else {
            v.push(rb[j].clone());
            j += 1;
        }
    }
    from_sorted_ranges29(a.depth_max().max(b.depth_max()), v)
}

/// Intersection of two MOCs (order: the deeper of the two).
pub fn intersection(a: &SMoc, b: &SMoc) -> SMoc {
    let (ra, rb) = (ranges(a), ranges(b));
    let mut v = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < ra.len() && j < rb.len() {
        let s = ra[i].start.max(rb[j].start);
        let e = ra[i].end.min(rb[j].end);
        if s < e {
            v.push(s..e);
        }
        if ra[i].end < rb[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    from_sorted_ranges29(a.depth_max().max(b.depth_max()), v)
}

/// Complement over the whole sky, at the MOC's order.
pub fn complement(a: &SMoc) -> SMoc {
    let mut v = Vec::new();
    let mut prev = 0u64;
    for r in ranges(a) {
        if r.start > prev {
            v.push(prev..r.start);
        }
        prev = r.end;
    }
    if prev < crate::N_CELLS_29 {
        v.push(prev..crate::N_CELLS_29);
    }
    from_sorted_ranges29(a.depth_max(), v)
}

/// `a` minus `b` (order: the deeper of the two).
///
/// Use this rather than `RangeMOC::minus`: in moc 0.19.3 (and so mocpy 0.21's `difference`) `minus` returns an
/// empty MOC when the operands are disjoint.
pub fn difference(a: &SMoc, b: &SMoc) -> SMoc {
    let c = complement(b);
    intersection(a, &c)
}

/// Intersection of many MOCs (empty input gives an empty MOC).
pub fn intersection_many(mocs: &[SMoc]) -> SMoc {
    match mocs.split_first() {
        None => SMoc::new_empty(0),
        Some((first, rest)) => rest.iter().fold(first.clone(), |acc, m| intersection(&acc, m)),
    }
}

/// Union of many MOCs in parallel chunks, for very large inputs (same result as [`union_many`]).
pub fn union_many_par(mocs: &[SMoc]) -> SMoc {
    if mocs.len() < 64 {
        return union_many(mocs);
    }
    let parts: Vec<SMoc> =
        mocs.par_chunks(mocs.len().div_ceil(rayon::current_num_threads() * 2)).map(union_many).collect();
    union_many(&parts)
}

/// What a new release adds and removes relative to an old one.
#[derive(Debug, Clone)]
pub struct ReleaseDiff {
    /// Covered by NEW and not by OLD.
    pub added: SMoc,
    /// Covered by OLD and not by NEW.
    pub removed: SMoc,
    /// Covered by both.
    pub kept: SMoc,
}

/// Compare two releases.
pub fn release_diff(old: &SMoc, new: &SMoc) -> ReleaseDiff {
    ReleaseDiff { added: difference(new, old), removed: difference(old, new), kept: intersection(old, new) }
}

/// Summary of a MOC for `moc-tools info`.
#[derive(Debug, Clone, PartialEq)]
pub struct MocInfo {
    /// MOCORD_S.
    pub order: u8,
    /// Number of cells in the canonical NUNIQ form.
    pub n_cells: usize,
    /// Number of order-29 ranges.
    pub n_ranges: usize,
    /// Covered fraction of the sky.
    pub sky_fraction: f64,
    /// Covered area, deg^2.
    pub area_deg2: f64,
    /// Bounding cone (centre lon, lat, radius, degrees), None for an empty MOC.
    pub bounding_cone: Option<(f64, f64, f64)>,
    /// Latitude range (min, max), degrees.
    pub lat_range: Option<(f64, f64)>,
}

/// Cells the bounding region is computed from, at most: a MOC with more cells at its own order is degraded until
/// it has fewer (about 1 s and 50 MB of vertices at this budget).
const BOUNDS_CELL_BUDGET: usize = 200_000;

/// Compute [`MocInfo`]. The bounding region comes from the MOC's cells at its own order (degraded only when it has
/// more than 200,000 cells): the vertices of every cell and points along its edges (cell edges bulge between
/// vertices; a cell coarser than the order used is sampled at that order's spacing, up to 64 points per edge), so it
/// encloses the MOC and is as tight as the sampling.
pub fn info(moc: &SMoc) -> MocInfo {
    let mut depth = moc.depth_max();
    let mut bound_cells = cells(moc);
    let n_cells = bound_cells.len();
    while depth > 0 && bound_cells.len() > BOUNDS_CELL_BUDGET {
        depth -= 1;
        bound_cells = cells(&degrade(moc, depth));
    }
    let mut verts: Vec<[f64; 3]> = Vec::new();
    let mut sum = [0.0f64; 3];
    for (o, i) in bound_cells {
        let w = 4f64.powi(-i32::from(o));
        let (lon, lat) = cdshealpix::nested::center(o, i);
        let c = xyz(lon, lat);
        for k in 0..3 {
            sum[k] += w * c[k];
        }
        let steps = 1u32 << (depth - o).clamp(1, 6);
        let edge = |t: f64| [(t, 0.0), (0.0, t), (1.0, t), (t, 1.0)];
        for k in 0..=steps {
            let t = f64::from(k) / f64::from(steps);
            for (dx, dy) in edge(t) {
                let (lon, lat) = cdshealpix::nested::sph_coo(o, i, dx.min(0.999_999_999), dy.min(0.999_999_999));
                verts.push(xyz(lon, lat));
            }
        }
    }
    let (bounding_cone, lat_range) = if verts.is_empty() {
        (None, None)
    } else {
        let n = (sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]).sqrt();
        let c = if n > 1e-12 { [sum[0] / n, sum[1] / n, sum[2] / n] } else { [1.0, 0.0, 0.0] };
        let mut r = 0.0f64;
        let (mut zmin, mut zmax) = (f64::MAX, f64::MIN);
        for v in &verts {
            let d = (c[0] * v[0] + c[1] * v[1] + c[2] * v[2]).clamp(-1.0, 1.0).acos();
            r = r.max(d);
            zmin = zmin.min(v[2]);
            zmax = zmax.max(v[2]);
        }
        let lon = c[1].atan2(c[0]).to_degrees().rem_euclid(360.0);
        let lat = c[2].clamp(-1.0, 1.0).asin().to_degrees();
        (
            Some((lon, lat, r.to_degrees().min(180.0))),
            Some((zmin.clamp(-1.0, 1.0).asin().to_degrees(), zmax.clamp(-1.0, 1.0).asin().to_degrees())),
        )
    };
    MocInfo {
        order: moc.depth_max(),
        n_cells,
        n_ranges: ranges(moc).len(),
        sky_fraction: sky_fraction(moc),
        area_deg2: area_deg2(moc),
        bounding_cone,
        lat_range,
    }
}

fn xyz(lon: f64, lat: f64) -> [f64; 3] {
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::from_cells;

    #[test]
    fn set_ops() {
        let a = from_cells(4, 0..100);
        let b = from_cells(5, 200..600);
        let u = union(&a, &b);
        assert_eq!(ranges(&u), ranges(&union_many(&[a.clone(), b.clone()])));
        assert_eq!(ranges(&u), ranges(&a.or(&b)));
        assert_eq!(ranges(&intersection(&a, &b)), ranges(&a.and(&b)));
        assert_eq!(ranges(&difference(&a, &b)), ranges(&a.minus(&b)));
        assert_eq!(ranges(&complement(&a)), ranges(&a.not()));
        let d = release_diff(&a, &b);
        assert_eq!(ranges(&union(&d.kept, &d.added)), ranges(&b));
        // disjoint operands: A - B = A (mocpy 0.21's difference() gets this wrong)
        let far = from_cells(4, [3000u64]);
        assert_eq!(ranges(&difference(&a, &far)), ranges(&a));
        // (moc 0.19.3's RangeMOC::minus returns an empty MOC here: see `difference`)
        let i = info(&a);
        assert_eq!(i.order, 4);
        assert!(i.bounding_cone.is_some());
    }

    #[test]
    fn info_bounds_are_tight_at_the_mocs_own_order() {
        use moc::moc::range::CellSelection;
        // a cone of 0.115 deg around (150, 2): the bounds must enclose it and exceed it by at most a cell diagonal
        for order in [13u8, 14, 20] {
            let cone = SMoc::from_cone(
                150f64.to_radians(),
                2f64.to_radians(),
                0.115f64.to_radians(),
                order,
                2,
                CellSelection::All,
            );
            let i = info(&cone);
            // a cell that touches the cone reaches out by up to its diagonal
            let cell = 58.6 / f64::from(1u32 << order) * 2.0;
            let (lo, hi) = i.lat_range.expect("lat range");
            assert!(lo <= 2.0 - 0.115 && lo >= 2.0 - 0.115 - cell, "order {order}: lat min {lo}");
            assert!(hi >= 2.0 + 0.115 && hi <= 2.0 + 0.115 + cell, "order {order}: lat max {hi}");
            let (lon, lat, r) = i.bounding_cone.expect("cone");
            assert!((lon - 150.0).abs() < 1e-3 && (lat - 2.0).abs() < 1e-3, "order {order}: centre {lon} {lat}");
            assert!(r >= 0.115 && r <= 0.115 + cell, "order {order}: radius {r}");
        }
    }
}
