//! The lower orders of a HiPS: each tile is the 2x2 mean of its four children, as hipsgen builds its pyramid and as
//! hipsserve rebuilds a tile that is not stored (an order between the stored order and `hips_order`, or a lost object).

/// The parent tile from its four children (child q covers ix >= W/2 when bit 0 of q is set, iy >= W/2 when bit 1
/// is): each parent pixel is the mean of the non-blank pixels of its 2x2 children block, NaN when all are blank.
#[must_use]
pub fn parent_from_children(children: &[Option<Vec<f32>>; 4], width: usize) -> Vec<f32> {
    let h = width / 2;
    let mut out = vec![f32::NAN; width * width];
    for (q, child) in children.iter().enumerate() {
        let Some(child) = child else { continue };
        let (ox, oy) = (if q & 1 == 1 { h } else { 0 }, if q & 2 == 2 { h } else { 0 });
        for px in 0..h {
            // Child pixels (2px, 2py ..) and (2px + 1, 2py ..) are FITS rows W-1-2px and W-2-2px; the parent pixels
            // (ox + px, oy + py ..) are one row of the parent. Blank pixels add nothing (branch-free).
            let r0 = &child[(width - 1 - 2 * px) * width..][..width];
            let r1 = &child[(width - 2 - 2 * px) * width..][..width];
            let row = &mut out[(width - 1 - (ox + px)) * width + oy..][..h];
            for ((o, a), b) in row.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
                let (mut s, mut n) = (0.0f64, 0u32);
                for v in [a[0], b[0], a[1], b[1]] {
                    let ok = !v.is_nan();
                    s += if ok { f64::from(v) } else { 0.0 };
                    n += u32::from(ok);
                }
                if n > 0 {
                    *o = (s * RECIPROCAL[n as usize]) as f32;
                }
            }
        }
    }
    out
}

/// 1 / n for the number of non-blank pixels of a 2x2 block (a product is several times cheaper than a division).
const RECIPROCAL: [f64; 5] = [0.0, 1.0, 0.5, 1.0 / 3.0, 0.25];
