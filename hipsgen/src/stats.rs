//! Statistics gathered from the deepest tiles: a value histogram (for hips_pixel_cut and hips_data_range, over all
//! the data) and the coverage cells (for Moc.fits). Mergeable and serializable, so sharded and resumed runs give the
//! same result as one uninterrupted run.
//!
//! The histogram bins the order-preserving bit pattern of each f32 (top 16 bits: sign, exponent and 7 mantissa
//! bits), so it needs no prior knowledge of the data range and its relative precision is better than 1%.

use serde::{Deserialize, Serialize};

use crate::tile;

/// Number of histogram bins.
const BINS: usize = 1 << 16;

/// Map an f32 to a key whose unsigned order is the numeric order.
#[inline]
fn sortable(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The smallest f32 of a bin (inverse of [`sortable`] on the bin's first key).
fn bin_low(bin: usize) -> f32 {
    let key = (bin as u32) << 16;
    let b = if key & 0x8000_0000 != 0 { key & 0x7FFF_FFFF } else { !key };
    f32::from_bits(b)
}

/// Smallest and largest non-NaN value (infinities when there is none), in eight independent lanes so that the
/// loop vectorises: NaN never compares smaller or greater, so it never wins.
fn extremes(data: &[f32]) -> (f32, f32) {
    const LANES: usize = 8;
    let (mut lo, mut hi) = ([f32::INFINITY; LANES], [f32::NEG_INFINITY; LANES]);
    let chunks = data.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            lo[j] = if c[j] < lo[j] { c[j] } else { lo[j] };
            hi[j] = if c[j] > hi[j] { c[j] } else { hi[j] };
        }
    }
    for (j, &v) in tail.iter().enumerate() {
        lo[j] = if v < lo[j] { v } else { lo[j] };
        hi[j] = if v > hi[j] { v } else { hi[j] };
    }
    (lo.into_iter().fold(f32::INFINITY, f32::min), hi.into_iter().fold(f32::NEG_INFINITY, f32::max))
}

/// Statistics of a set of tiles.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[allow(clippy::unsafe_derive_deserialize, reason = "the only unsafe code is inside std's thread_local! macro")]
pub struct Stats {
    /// Sparse histogram: (bin, count), sorted by bin.
    hist: Vec<(u32, u64)>,
    /// Number of non-blank values.
    pub count: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// HEALPix order of the coverage cells.
    pub moc_order: u8,
    /// Coverage as sorted, merged half-open ranges of cells at `moc_order`.
    pub moc_ranges: Vec<(u64, u64)>,
    /// Number of tiles (all orders) written.
    #[serde(default)]
    pub tiles: u64,
    /// Bytes of those tiles.
    #[serde(default)]
    pub bytes: u64,
}

impl Stats {
    /// Empty statistics with coverage at `moc_order`.
    #[must_use]
    pub fn new(moc_order: u8) -> Self {
        Stats {
            hist: Vec::new(),
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            moc_order,
            moc_ranges: Vec::new(),
            tiles: 0,
            bytes: 0,
        }
    }

    /// Statistics of one deepest tile (FITS order), its coverage at `moc_order` (>= the tile order).
    #[must_use]
    pub fn of_tile(data: &[f32], order: u8, npix: u64, width: usize, moc_order: u8) -> Self {
        thread_local! {
            // One dense histogram per worker thread (u32 counts: a tile has at most 4096^2 pixels); only the bins a
            // tile touched are read back and cleared.
            static DENSE: std::cell::RefCell<Vec<u32>> = std::cell::RefCell::new(vec![0u32; BINS]);
        }
        let mut s = Stats::new(moc_order);
        let (min, max) = extremes(data);
        DENSE.with(|d| {
            let mut dense = d.borrow_mut();
            let mut touched: Vec<u32> = Vec::new();
            let mut count = 0u64;
            for &v in data {
                if v.is_nan() {
                    continue;
                }
                let b = (sortable(v) >> 16) as usize;
                let c = &mut dense[b];
                if *c == 0 {
                    touched.push(b as u32);
                }
                *c += 1;
                count += 1;
            }
            s.count = count;
            if count > 0 {
                s.min = f64::from(min);
                s.max = f64::from(max);
            }
            touched.sort_unstable();
            s.hist = touched.iter().map(|&b| (b, u64::from(std::mem::take(&mut dense[b as usize])))).collect();
        });
        // Coverage cells: in-tile sub-cells of `sub` x `sub` pixels.
        let extra = moc_order.saturating_sub(order).min(hips_core::healpix::width_log2(width));
        let sub = width >> extra;
        let n = 1usize << extra;
        let mut cells = Vec::new();
        for cx in 0..n {
            for cy in 0..n {
                let any =
                    (0..sub).any(|a| (0..sub).any(|b| !tile::at(data, width, cx * sub + a, cy * sub + b).is_nan()));
                if any {
                    cells.push((npix << (2 * extra)) + hips_core::healpix::interleave(cx as u32, cy as u32));
                }
            }
        }
        cells.sort_unstable();
        // Cells at order + extra, expressed at moc_order (extra is the full distance unless capped by the width).
        let shift = 2 * u32::from(moc_order - order - extra);
        s.moc_ranges = merge_ranges(cells.into_iter().map(|c| (c << shift, (c + 1) << shift)).collect());
        s
    }

    /// Add another set of statistics (commutative and associative, so merge order does not matter).
    pub fn merge(&mut self, other: &Stats) {
        let mut merged = Vec::with_capacity(self.hist.len() + other.hist.len());
        let (mut i, mut j) = (0, 0);
        while i < self.hist.len() || j < other.hist.len() {
            match (self.hist.get(i), other.hist.get(j)) {
                (Some(a), Some(b)) if a.0 == b.0 => {
                    merged.push((a.0, a.1 + b.1));
                    i += 1;
                    j += 1;
                }
                (Some(a), Some(b)) if a.0 < b.0 => {
                    merged.push(*a);
                    i += 1;
                }
                (Some(_) | None, Some(b)) => {
                    merged.push(*b);
                    j += 1;
                }
                (Some(a), None) => {
                    merged.push(*a);
                    i += 1;
                }
                (None, None) => break,
            }
        }
        self.hist = merged;
        self.count += other.count;
        self.tiles += other.tiles;
        self.bytes += other.bytes;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        let mut r = std::mem::take(&mut self.moc_ranges);
        r.extend_from_slice(&other.moc_ranges);
        self.moc_ranges = merge_ranges(r);
    }

    /// The value below which a fraction `q` (0..1) of the data lies (bin resolution, < 1% relative).
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let target = (q.clamp(0.0, 1.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut acc = 0u64;
        for &(b, c) in &self.hist {
            acc += c;
            if acc >= target {
                let lo = f64::from(bin_low(b as usize));
                return Some(lo.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Number of coverage cells at `moc_order`.
    #[must_use]
    pub fn n_cells(&self) -> u64 {
        self.moc_ranges.iter().map(|(a, b)| b - a).sum()
    }
}

/// Sort and merge overlapping or touching half-open ranges.
#[must_use]
pub fn merge_ranges(mut r: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    r.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_preserves_order() {
        let vals = [-1e30f32, -2.0, -1.0, -0.0, 0.0, 1e-30, 1.0, 2.0, 1e30];
        for w in vals.windows(2) {
            assert!(sortable(w[0]) <= sortable(w[1]), "{w:?}");
        }
        for v in [-3.5f32, 0.25, 1234.0] {
            let lo = bin_low((sortable(v) >> 16) as usize);
            assert!(lo <= v && (v - lo).abs() <= v.abs() * 0.01, "{v} {lo}");
        }
    }

    #[test]
    fn quantiles_and_merge() {
        let w = 8;
        let a: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let mut s = Stats::of_tile(&a, 3, 10, w, 4);
        assert_eq!(s.count, 64);
        let med = s.quantile(0.5).expect("q");
        assert!((med - 31.0).abs() <= 1.0, "{med}");
        assert_eq!((s.min, s.max), (0.0, 63.0));
        let mut odd: Vec<f32> = (0..67).map(|i| (i as f32 - 30.0).powi(3)).collect();
        odd[5] = f32::NAN;
        assert_eq!(extremes(&odd), ((-30.0f32).powi(3), 36.0f32.powi(3)));
        assert_eq!(extremes(&[f32::NAN; 9]), (f32::INFINITY, f32::NEG_INFINITY));
        let b: Vec<f32> = vec![f32::NAN; 64];
        let t = Stats::of_tile(&b, 3, 11, w, 4);
        s.merge(&t);
        assert_eq!(s.count, 64);
        assert_eq!(s.moc_ranges, vec![(40, 44)]);
    }
}
