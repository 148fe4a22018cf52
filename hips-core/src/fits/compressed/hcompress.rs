//! HCOMPRESS_1 decoding (FITS 4.0 section 10.4.3; R. White's H-transform coder as cfitsio's `fits_hdecompress.c`
//! reads it): a header (magic `DD 99`, the tile's two dimensions, the scale, the sum of all pixels, the number of bit
//! planes of the three coefficient quadrants), then the coefficients' bit planes, each quadtree-coded (with a fixed
//! Huffman code for the 4-bit 2x2 masks) or written directly, then one sign bit per non-zero coefficient. The
//! coefficients are multiplied by the scale and the inverse H-transform (optionally smoothed) gives the pixels.
//!
//! Written from the published algorithm; all arithmetic is on i64 with wrapping, so a corrupt stream gives wrong
//! pixels or an error, never a panic.

/// An MSB-first bit reader that can realign to the next byte; reading past the end is an error.
struct BitIn<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u32,
    left: u32,
}

impl BitIn<'_> {
    fn byte(&mut self) -> Result<u32, String> {
        let b = self.data.get(self.pos).copied().ok_or_else(|| format!("stream ends at byte {}", self.data.len()))?;
        self.pos += 1;
        Ok(u32::from(b))
    }

    fn bits(&mut self, n: u32) -> Result<u32, String> {
        while self.left < n {
            self.buf = (self.buf << 8) | self.byte()?;
            self.left += 8;
        }
        self.left -= n;
        Ok((self.buf >> self.left) & ((1 << n) - 1))
    }

    /// Drop the bits left in the current byte.
    fn align(&mut self) {
        self.left = 0;
    }

    /// One of the fixed Huffman codes of a 2x2 mask (0..=15).
    fn huffman(&mut self) -> Result<u8, String> {
        let mut c = self.bits(3)?;
        if c < 4 {
            return Ok(1 << c);
        }
        c = (c << 1) | self.bits(1)?;
        match c {
            8 => return Ok(3),
            9 => return Ok(5),
            10 => return Ok(10),
            11 => return Ok(12),
            12 => return Ok(15),
            _ => {}
        }
        c = (c << 1) | self.bits(1)?;
        match c {
            26 => return Ok(6),
            27 => return Ok(7),
            28 => return Ok(9),
            29 => return Ok(11),
            30 => return Ok(13),
            _ => {}
        }
        c = (c << 1) | self.bits(1)?;
        Ok(if c == 62 { 0 } else { 14 })
    }
}

/// The bit of a 2x2 mask for the pixel at row parity `di`, column parity `dj`.
fn mask_bit(v: u8, di: usize, dj: usize) -> bool {
    (v >> (3 - (2 * di + dj))) & 1 == 1
}

/// Smallest `k` with `2^k >= n` (0 for n <= 1).
fn log2_ceil(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// Set bit `bit` of `a[off + i * n + j]` for the `nqx x nqy` pixels whose 2x2 mask in `masks` has it.
fn bit_insert(masks: &[u8], (nqx, nqy): (usize, usize), a: &mut [i64], off: usize, n: usize, bit: u32) {
    let ny2 = nqy.div_ceil(2);
    for i in 0..nqx {
        for j in 0..nqy {
            if mask_bit(masks[(i / 2) * ny2 + j / 2], i % 2, j % 2) {
                a[off + i * n + j] |= 1i64 << bit;
            }
        }
    }
}

/// Decode the bit planes of one quadrant (`nqx x nqy` at `off`, rows `n` apart).
fn quadrant(
    input: &mut BitIn<'_>,
    a: &mut [i64],
    off: usize,
    n: usize,
    (nqx, nqy): (usize, usize),
    planes: u8,
) -> Result<(), String> {
    let log2n = log2_ceil(nqx.max(nqy));
    let size = nqx.div_ceil(2) * nqy.div_ceil(2);
    let mut scratch = vec![0u8; size.max(1)];
    for bit in (0..u32::from(planes)).rev() {
        match input.bits(4)? {
            0 => {
                for s in &mut scratch[..size] {
                    *s = input.bits(4)? as u8;
                }
            }
            0xf => {
                scratch[0] = input.huffman()?;
                let (mut nx, mut ny, mut nfx, mut nfy) = (1usize, 1usize, nqx, nqy);
                let mut c = 1usize << log2n;
                for _ in 1..log2n {
                    c >>= 1;
                    nx <<= 1;
                    ny <<= 1;
                    if nfx <= c {
                        nx -= 1;
                    } else {
                        nfx -= c;
                    }
                    if nfy <= c {
                        ny -= 1;
                    } else {
                        nfy -= c;
                    }
                    // Expand the (nx+1)/2 x (ny+1)/2 masks to nx x ny bits, then read a new mask for each set bit
                    // (in reverse order, as the coder wrote them).
                    let ny2 = ny.div_ceil(2);
                    let prev = scratch[..nx.div_ceil(2) * ny2].to_vec();
                    for i in 0..nx {
                        for j in 0..ny {
                            scratch[i * ny + j] = u8::from(mask_bit(prev[(i / 2) * ny2 + j / 2], i % 2, j % 2));
                        }
                    }
                    for k in (0..nx * ny).rev() {
                        if scratch[k] != 0 {
                            scratch[k] = input.huffman()?;
                        }
                    }
                }
            }
            code => return Err(format!("bit plane {bit} has format code {code}")),
        }
        bit_insert(&scratch, (nqx, nqy), a, off, n, bit);
    }
    Ok(())
}

/// Interleave the first and second halves of the `n` elements `a[start + i * stride]`.
fn unshuffle(a: &mut [i64], start: usize, n: usize, stride: usize, tmp: &mut Vec<i64>) {
    tmp.clear();
    tmp.extend((0..n).map(|i| a[start + i * stride]));
    let half = n.div_ceil(2);
    for i in 0..n {
        a[start + i * stride] = if i % 2 == 0 { tmp[i / 2] } else { tmp[half + i / 2] };
    }
}

/// Decode a tile of `rows x cols` pixels (row-major) into `out`.
///
/// # Errors
/// A message naming what in the stream is invalid.
pub fn decode(data: &[u8], rows: usize, cols: usize, smooth: bool, out: &mut Vec<i64>) -> Result<(), String> {
    if data.len() < 25 || data[..2] != [0xDD, 0x99] {
        return Err("no HCOMPRESS header (magic DD 99)".into());
    }
    let int = |k: usize| i32::from_be_bytes([data[k], data[k + 1], data[k + 2], data[k + 3]]);
    let (nx, ny, scale) = (int(2), int(6), int(10));
    if usize::try_from(nx).ok() != Some(rows) || usize::try_from(ny).ok() != Some(cols) {
        return Err(format!("the stream is {nx} x {ny} pixels, the tile {rows} x {cols}"));
    }
    let sum = i64::from_be_bytes(data[14..22].try_into().unwrap_or([0; 8]));
    let planes = [data[22], data[23], data[24]];
    if let Some(p) = planes.iter().find(|&&p| p > 62) {
        return Err(format!("{p} bit planes"));
    }
    let (nx, ny) = (rows, cols);
    out.clear();
    out.resize(nx * ny, 0);
    let a = out.as_mut_slice();
    let mut input = BitIn { data, pos: 25, buf: 0, left: 0 };
    let (nx2, ny2) = (nx.div_ceil(2), ny.div_ceil(2));
    quadrant(&mut input, a, 0, ny, (nx2, ny2), planes[0])?;
    quadrant(&mut input, a, ny2, ny, (nx2, ny / 2), planes[1])?;
    quadrant(&mut input, a, ny * nx2, ny, (nx / 2, ny2), planes[1])?;
    quadrant(&mut input, a, ny * nx2 + ny2, ny, (nx / 2, ny / 2), planes[2])?;
    if input.bits(4)? != 0 {
        return Err("no end code after the bit planes".into());
    }
    input.align();
    for v in a.iter_mut() {
        if *v != 0 && input.bits(1)? == 1 {
            *v = v.wrapping_neg();
        }
    }
    a[0] = sum;
    if scale > 1 {
        for v in a.iter_mut() {
            *v = v.wrapping_mul(i64::from(scale));
        }
    }
    inverse(a, nx, ny, smooth, i64::from(scale));
    Ok(())
}

/// Round `v` to a multiple of the mask's step, half away from zero as the coder did.
fn round(v: i64, prnd: i64, nrnd: i64, mask: i64) -> i64 {
    v.wrapping_add(if v >= 0 { prnd } else { nrnd }) & mask
}

/// The inverse H-transform of the `nx x ny` coefficients in place.
fn inverse(a: &mut [i64], nx: usize, ny: usize, smooth: bool, scale: i64) {
    let log2n = log2_ceil(nx.max(ny));
    if log2n == 0 {
        return;
    }
    let mut tmp = Vec::new();
    let mut shift = 1;
    let mut bit0: i64 = 1 << (log2n - 1);
    let mut bit1 = bit0 << 1;
    let bit2 = bit0 << 2;
    let mut mask0 = -bit0;
    let mut mask1 = mask0 << 1;
    let mask2 = mask0 << 2;
    let mut prnd0 = bit0 >> 1;
    let mut prnd1 = bit1 >> 1;
    let prnd2 = bit2 >> 1;
    let mut nrnd0 = prnd0 - 1;
    let mut nrnd1 = prnd1 - 1;
    let nrnd2 = prnd2 - 1;
    a[0] = round(a[0], prnd2, nrnd2, mask2);
    let (mut nxtop, mut nytop, mut nxf, mut nyf) = (1usize, 1usize, nx, ny);
    let mut c = 1usize << log2n;
    for k in (0..log2n).rev() {
        c >>= 1;
        nxtop <<= 1;
        nytop <<= 1;
        if nxf <= c {
            nxtop -= 1;
        } else {
            nxf -= c;
        }
        if nyf <= c {
            nytop -= 1;
        } else {
            nyf -= c;
        }
        if k == 0 {
            nrnd0 = 0;
            shift = 2;
        }
        for i in 0..nxtop {
            unshuffle(a, ny * i, nytop, 1, &mut tmp);
        }
        for j in 0..nytop {
            unshuffle(a, j, nxtop, ny, &mut tmp);
        }
        if smooth {
            hsmooth(a, nxtop, nytop, ny, scale);
        }
        let (oddx, oddy) = (nxtop % 2, nytop % 2);
        let mut i = 0;
        while i + oddx < nxtop {
            let (mut s00, mut s10) = (ny * i, ny * i + ny);
            let mut j = 0;
            while j + oddy < nytop {
                let h0 = a[s00];
                let mut hx = round(a[s10], prnd1, nrnd1, mask1);
                let mut hy = round(a[s00 + 1], prnd1, nrnd1, mask1);
                let hc = round(a[s10 + 1], prnd0, nrnd0, mask0);
                let low0 = hc & bit0;
                hx = if hx >= 0 { hx.wrapping_sub(low0) } else { hx.wrapping_add(low0) };
                hy = if hy >= 0 { hy.wrapping_sub(low0) } else { hy.wrapping_add(low0) };
                let low1 = (hc ^ hx ^ hy) & bit1;
                let h0 = if h0 >= 0 {
                    h0.wrapping_add(low0).wrapping_sub(low1)
                } else if low0 == 0 {
                    h0.wrapping_add(low1)
                } else {
                    h0.wrapping_add(low0.wrapping_sub(low1))
                };
                a[s10 + 1] = h0.wrapping_add(hx).wrapping_add(hy).wrapping_add(hc) >> shift;
                a[s10] = h0.wrapping_add(hx).wrapping_sub(hy).wrapping_sub(hc) >> shift;
                a[s00 + 1] = h0.wrapping_sub(hx).wrapping_add(hy).wrapping_sub(hc) >> shift;
                a[s00] = h0.wrapping_sub(hx).wrapping_sub(hy).wrapping_add(hc) >> shift;
                s00 += 2;
                s10 += 2;
                j += 2;
            }
            if oddy == 1 {
                let h0 = a[s00];
                let hx = round(a[s10], prnd1, nrnd1, mask1);
                let low1 = hx & bit1;
                let h0 = if h0 >= 0 { h0.wrapping_sub(low1) } else { h0.wrapping_add(low1) };
                a[s10] = h0.wrapping_add(hx) >> shift;
                a[s00] = h0.wrapping_sub(hx) >> shift;
            }
            i += 2;
        }
        if oddx == 1 {
            let mut s00 = ny * i;
            let mut j = 0;
            while j + oddy < nytop {
                let h0 = a[s00];
                let hy = round(a[s00 + 1], prnd1, nrnd1, mask1);
                let low1 = hy & bit1;
                let h0 = if h0 >= 0 { h0.wrapping_sub(low1) } else { h0.wrapping_add(low1) };
                a[s00 + 1] = h0.wrapping_add(hy) >> shift;
                a[s00] = h0.wrapping_sub(hy) >> shift;
                s00 += 2;
                j += 2;
            }
            if oddy == 1 {
                a[s00] >>= shift;
            }
        }
        bit1 = bit0;
        bit0 >>= 1;
        mask1 = mask0;
        mask0 >>= 1;
        prnd1 = prnd0;
        prnd0 >>= 1;
        nrnd1 = nrnd0;
        nrnd0 = prnd0 - 1;
    }
}

/// Move the x, y and curvature differences toward values interpolated from neighbouring zones, by at most
/// `scale / 2` (HCOMPRESS_1 with SMOOTH). Computed on i128 so no coefficient of a corrupt stream can overflow.
fn hsmooth(a: &mut [i64], nxtop: usize, nytop: usize, ny: usize, scale: i64) {
    let smax = i128::from(scale >> 1);
    if smax <= 0 {
        return;
    }
    let ny2 = ny << 1;
    let g = |a: &[i64], k: usize| i128::from(a[k]);
    // The change of a coefficient `cur` toward `d / 2^k`, limited by the monotonicity bounds and by smax.
    let limit = |d: i128, dmax: i128, dmin: i128, cur: i128, k: u32| -> Option<i64> {
        if dmin < dmax {
            let s = d.min(dmax).max(dmin) - (cur << k);
            let s = if s >= 0 { s >> k } else { (s + (1 << k) - 1) >> k };
            Some(s.min(smax).max(-smax) as i64)
        } else {
            None
        }
    };
    let mut i = 2;
    while i + 2 < nxtop {
        let (mut s00, mut s10) = (ny * i, ny * i + ny);
        let mut j = 0;
        while j < nytop {
            let (hm, h0, hp) = (g(a, s00 - ny2), g(a, s00), g(a, s00 + ny2));
            let dmax = (hp - h0).min(h0 - hm).max(0) << 2;
            let dmin = (hp - h0).max(h0 - hm).min(0) << 2;
            if let Some(s) = limit(hp - hm, dmax, dmin, g(a, s10), 3) {
                a[s10] = a[s10].wrapping_add(s);
            }
            s00 += 2;
            s10 += 2;
            j += 2;
        }
        i += 2;
    }
    let mut i = 0;
    while i < nxtop {
        let mut s00 = ny * i + 2;
        let mut j = 2;
        while j + 2 < nytop {
            let (hm, h0, hp) = (g(a, s00 - 2), g(a, s00), g(a, s00 + 2));
            let dmax = (hp - h0).min(h0 - hm).max(0) << 2;
            let dmin = (hp - h0).max(h0 - hm).min(0) << 2;
            if let Some(s) = limit(hp - hm, dmax, dmin, g(a, s00 + 1), 3) {
                a[s00 + 1] = a[s00 + 1].wrapping_add(s);
            }
            s00 += 2;
            j += 2;
        }
        i += 2;
    }
    let mut i = 2;
    while i + 2 < nxtop {
        let (mut s00, mut s10) = (ny * i + 2, ny * i + 2 + ny);
        let mut j = 2;
        while j + 2 < nytop {
            let (hmm, hpm, hmp, hpp, h0) =
                (g(a, s00 - ny2 - 2), g(a, s00 + ny2 - 2), g(a, s00 - ny2 + 2), g(a, s00 + ny2 + 2), g(a, s00));
            let diff = hpp + hmm - hmp - hpm;
            let (hx2, hy2) = (g(a, s10) << 1, g(a, s00 + 1) << 1);
            let m1 = ((hpp - h0).max(0) - hx2 - hy2).min((h0 - hpm).max(0) + hx2 - hy2);
            let m2 = ((h0 - hmp).max(0) - hx2 + hy2).min((hmm - h0).max(0) + hx2 + hy2);
            let dmax = m1.min(m2) << 4;
            let m1 = ((hpp - h0).min(0) - hx2 - hy2).max((h0 - hpm).min(0) + hx2 - hy2);
            let m2 = ((h0 - hmp).min(0) - hx2 + hy2).max((hmm - h0).min(0) + hx2 + hy2);
            let dmin = m1.max(m2) << 4;
            if let Some(s) = limit(diff, dmax, dmin, g(a, s10 + 1), 6) {
                a[s10 + 1] = a[s10 + 1].wrapping_add(s);
            }
            s00 += 2;
            s10 += 2;
            j += 2;
        }
        i += 2;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bad_headers_are_errors() {
        let mut out = Vec::new();
        assert!(super::decode(&[], 2, 2, false, &mut out).is_err());
        assert!(super::decode(&[0xDD, 0x99, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0], 2, 2, false, &mut out).is_err());
        assert_eq!(super::log2_ceil(5), 3);
        assert_eq!(super::log2_ceil(4), 2);
        assert_eq!(super::log2_ceil(1), 0);
    }
}
