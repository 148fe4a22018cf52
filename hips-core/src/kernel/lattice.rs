//! Input positions of a tile's pixels: exact at the nodes of a coarse lattice, bilinear inside each cell, with a
//! per-cell check against the exact transform and an exact fallback (see the kernel module documentation).

use super::{exact_position, tile_sky, to_input, TileSpec, LATTICE, POSITION_TOLERANCE};
use crate::wcs::Wcs;

/// Marks a lattice cell whose interpolated positions are within tolerance.
const INTERPOLATED: u32 = u32::MAX;

/// The lattice of one tile in one coadd's WCS. Reusable: [`Lattice::build`] refills it for another tile.
#[derive(Debug, Clone, Default)]
pub struct Lattice {
    /// Lattice step (tile pixels).
    step: usize,
    /// Cells per side.
    cells: usize,
    /// Exact input positions at the nodes (pixel-edge coordinates k * step - 0.5), `(cells + 1)^2`, k-major;
    /// NaN where the WCS cannot map the point.
    nodes: Vec<(f64, f64)>,
    /// Per cell: [`INTERPOLATED`], or the offset into `exact` of its `step^2` exact positions (a-major).
    cell: Vec<u32>,
    /// Exact positions of the cells that failed the check.
    exact: Vec<(f64, f64)>,
}

impl Lattice {
    /// Compute the lattice of `spec` in `wcs`, reusing this value's memory.
    pub fn build(&mut self, spec: &TileSpec, wcs: &Wcs) {
        let w = spec.width;
        let s = LATTICE.min(w);
        let cells = w / s;
        let nan = (f64::NAN, f64::NAN);
        self.step = s;
        self.cells = cells;
        self.nodes.clear();
        for k in 0..=cells {
            for l in 0..=cells {
                let (u, v) = ((k * s) as f64 - 0.5, (l * s) as f64 - 0.5);
                self.nodes.push(to_input(wcs, spec.frame, tile_sky(spec, u, v)).unwrap_or(nan));
            }
        }
        self.cell.clear();
        self.exact.clear();
        let sf = s as f64;
        for k in 0..cells {
            for l in 0..cells {
                let [p00, p10, p01, p11] = self.corners(k, l);
                let corners_ok = [p00, p10, p01, p11].iter().all(|p| p.0.is_finite() && p.1.is_finite());
                let ok = corners_ok && {
                    let c = ((k * s) as f64 + (sf - 1.0) / 2.0, (l * s) as f64 + (sf - 1.0) / 2.0);
                    match to_input(wcs, spec.frame, tile_sky(spec, c.0, c.1)) {
                        Some(exact) => {
                            let ax = (p00.0 + p10.0 + p01.0 + p11.0) / 4.0;
                            let ay = (p00.1 + p10.1 + p01.1 + p11.1) / 4.0;
                            (ax - exact.0).hypot(ay - exact.1) <= POSITION_TOLERANCE
                        }
                        None => false,
                    }
                };
                if ok {
                    self.cell.push(INTERPOLATED);
                } else {
                    self.cell.push(self.exact.len() as u32);
                    for a in 0..s {
                        for b in 0..s {
                            self.exact.push(exact_position(spec, wcs, k * s + a, l * s + b).unwrap_or(nan));
                        }
                    }
                }
            }
        }
    }

    /// The four node positions of cell (k, l): (k, l), (k + 1, l), (k, l + 1), (k + 1, l + 1).
    #[inline]
    fn corners(&self, k: usize, l: usize) -> [(f64, f64); 4] {
        let n = self.cells + 1;
        [self.nodes[k * n + l], self.nodes[(k + 1) * n + l], self.nodes[k * n + l + 1], self.nodes[(k + 1) * n + l + 1]]
    }

    /// Bounding box (x0, y0, x1, y1) of every finite input position of the tile, `None` when there is none.
    /// Interpolated positions are convex combinations of their cell's nodes, so the nodes of interpolated cells and
    /// the exact positions of the others bound them all.
    #[must_use]
    pub fn bbox(&self) -> Option<(f64, f64, f64, f64)> {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
        let mut add = |p: (f64, f64)| {
            if p.0.is_finite() && p.1.is_finite() {
                x0 = x0.min(p.0);
                y0 = y0.min(p.1);
                x1 = x1.max(p.0);
                y1 = y1.max(p.1);
            }
        };
        for k in 0..self.cells {
            for l in 0..self.cells {
                if self.cell[k * self.cells + l] == INTERPOLATED {
                    self.corners(k, l).into_iter().for_each(&mut add);
                }
            }
        }
        self.exact.iter().copied().for_each(&mut add);
        x0.is_finite().then_some((x0, y0, x1, y1))
    }

    /// Call `row(ix, iy0, positions)` with the input positions (x, y) of tile pixels (ix, iy0 .. iy0 + n), NaN where
    /// the WCS cannot map a point, for every tile pixel: one row of a lattice cell (n = the lattice step) at a time.
    #[inline]
    pub fn visit_rows(&self, mut row: impl FnMut(usize, usize, &[(f64, f64)])) {
        for k in 0..self.cells {
            self.visit_cell_row(k, &mut row);
        }
    }

    /// Lattice step (tile pixels per cell side).
    #[must_use]
    pub fn step(&self) -> usize {
        self.step
    }

    /// Cells per tile side.
    #[must_use]
    pub fn cells(&self) -> usize {
        self.cells
    }

    /// [`Lattice::visit_rows`] for the tile rows `k * step .. (k + 1) * step` only (cell row `k`), in the same order.
    #[inline]
    pub fn visit_cell_row(&self, k: usize, mut row: impl FnMut(usize, usize, &[(f64, f64)])) {
        let (s, cells) = (self.step, self.cells);
        let sf = s as f64;
        let mut buf = [(f64::NAN, f64::NAN); LATTICE];
        let frac: [f64; LATTICE] = std::array::from_fn(|b| (b as f64 + 0.5) / sf);
        for l in 0..cells {
            let base = self.cell[k * cells + l];
            if base == INTERPOLATED {
                let [p00, p10, p01, p11] = self.corners(k, l);
                for (a, &fa) in frac.iter().enumerate().take(s) {
                    // Positions along the cell's l-edges at this a; linear in b between them.
                    let (lx, ly) = (p00.0 + (p10.0 - p00.0) * fa, p00.1 + (p10.1 - p00.1) * fa);
                    let (rx, ry) = (p01.0 + (p11.0 - p01.0) * fa, p01.1 + (p11.1 - p01.1) * fa);
                    let (dx, dy) = (rx - lx, ry - ly);
                    for (p, &fb) in buf.iter_mut().zip(&frac).take(s) {
                        *p = (lx + dx * fb, ly + dy * fb);
                    }
                    row(k * s + a, l * s, &buf[..s]);
                }
            } else {
                let cell = &self.exact[base as usize..base as usize + s * s];
                for (a, positions) in cell.chunks_exact(s).enumerate() {
                    row(k * s + a, l * s, positions);
                }
            }
        }
    }
}
