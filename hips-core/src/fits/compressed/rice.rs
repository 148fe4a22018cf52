//! RICE_1 decoding (FITS 4.0 section 10.4.1; Rice, Yeh & Miller's coding as cfitsio's `ricecomp.c` writes it).
//!
//! The stream holds the first value raw (BYTEPIX bytes, big-endian), then blocks of BLOCKSIZE differences: each block
//! starts with a FSBITS-bit code `fs + 1`. Code 0: every difference is zero; code `FSMAX + 1`: each difference is
//! written raw on `8 * BYTEPIX` bits; otherwise each difference is a unary count of high bits followed by `fs` low
//! bits. Differences are zig-zag mapped (`d >= 0 -> 2d`, `d < 0 -> -2d - 1`) and accumulate modulo 2^(8 * BYTEPIX).

/// A big-endian bit reader over a byte slice, a 64-bit buffer refilled byte by byte.
struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to load.
    pos: usize,
    /// Valid bits, left-aligned.
    buf: u64,
    /// Number of valid bits in `buf`.
    n: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        let mut b = Bits { data, pos: 0, buf: 0, n: 0 };
        b.refill();
        b
    }

    /// Fill the buffer to at least 57 bits; past the end zeros are loaded (the overrun is detected by [`Bits::over`]).
    #[inline]
    fn refill(&mut self) {
        if self.n > 56 {
            return;
        }
        // Fast path: take as many whole bytes as fit from one 8-byte big-endian load.
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let w = u64::from_be_bytes(chunk.try_into().unwrap_or([0; 8]));
            let take = (64 - self.n) / 8;
            let bytes = if take == 8 { w } else { w >> (64 - 8 * take) };
            self.buf |= bytes << (64 - self.n - 8 * take);
            self.pos += take as usize;
            self.n += 8 * take;
            return;
        }
        while self.n <= 56 {
            let byte = self.data.get(self.pos).copied().unwrap_or(0);
            self.pos += 1;
            self.buf |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
    }

    /// Whether more bits were consumed than the stream holds.
    fn over(&self) -> bool {
        (self.pos * 8).saturating_sub(self.n as usize) > self.data.len() * 8
    }

    /// The next `k` bits (`k <= 32`).
    #[inline]
    fn read(&mut self, k: u32) -> u64 {
        if k == 0 {
            return 0;
        }
        if self.n < k {
            self.refill();
        }
        let v = self.buf >> (64 - k);
        self.buf <<= k;
        self.n -= k;
        v
    }

    /// Count zero bits up to and including the next one bit; `None` past the end of the stream.
    #[inline]
    fn unary(&mut self) -> Option<u64> {
        let mut zeros = 0u64;
        loop {
            if self.n < 57 {
                self.refill();
            }
            let lz = self.buf.leading_zeros();
            if lz < self.n {
                self.buf <<= lz + 1;
                self.n -= lz + 1;
                return Some(zeros + u64::from(lz));
            }
            zeros += u64::from(self.n);
            self.buf = 0;
            self.n = 0;
            if self.over() {
                return None;
            }
        }
    }
}

/// Decode `out.len()` values of `bytepix` bytes (1, 2 or 4) coded in blocks of `blocksize`, into `out` as i32
/// (bytes unsigned, 16-bit values signed, as cfitsio returns them).
///
/// # Errors
/// A message saying where the stream ends too early or holds an impossible code.
pub fn decode(data: &[u8], blocksize: usize, bytepix: usize, out: &mut [i32]) -> Result<(), String> {
    let (fsbits, fsmax, bbits): (u32, u64, u32) = match bytepix {
        1 => (3, 6, 8),
        2 => (4, 14, 16),
        4 => (5, 25, 32),
        _ => return Err(format!("BYTEPIX {bytepix} is not 1, 2 or 4")),
    };
    if out.is_empty() {
        return Ok(());
    }
    if data.len() < bytepix {
        return Err(format!("the stream has {} bytes, fewer than the first value's {bytepix}", data.len()));
    }
    let mask: u64 = if bbits == 32 { u64::from(u32::MAX) } else { (1u64 << bbits) - 1 };
    let mut last: u64 = data[..bytepix].iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
    let mut bits = Bits::new(&data[bytepix..]);
    let widen = |v: u64| -> i32 {
        match bytepix {
            1 => i32::from(v as u8),
            2 => i32::from(v as u16 as i16),
            _ => v as u32 as i32,
        }
    };
    let unzig = |d: u64| if d & 1 == 0 { d >> 1 } else { !(d >> 1) };
    for (b, block) in out.chunks_mut(blocksize.max(1)).enumerate() {
        let code = bits.read(fsbits);
        if code == 0 {
            block.fill(widen(last));
        } else if code - 1 == fsmax {
            for o in block.iter_mut() {
                let d = bits.read(bbits);
                last = last.wrapping_add(unzig(d)) & mask;
                *o = widen(last);
            }
        } else if code - 1 < fsmax {
            let fs = (code - 1) as u32;
            for o in block.iter_mut() {
                let high = bits.unary().ok_or_else(|| format!("stream ends in block {b}"))?;
                let d = (high << fs) | bits.read(fs);
                last = last.wrapping_add(unzig(d)) & mask;
                *o = widen(last);
            }
        } else {
            return Err(format!("block {b} has code {code}, above the largest ({})", fsmax + 1));
        }
        if bits.over() {
            return Err(format!("stream of {} bytes ends in block {b}", data.len()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn empty_or_short_streams_are_errors_not_panics() {
        let mut out = [0i32; 64];
        assert!(decode(&[], 32, 4, &mut out).is_err());
        assert!(decode(&[0, 0, 0, 1], 32, 4, &mut out).is_err());
        assert!(decode(&[0, 0, 0, 1, 0xff, 0xff], 32, 4, &mut out).is_err());
        // Code 0 (5 zero bits) twice: all differences zero, every value the first one.
        assert_eq!(decode(&[0, 0, 0, 7, 0, 0], 32, 4, &mut out), Ok(()));
        assert!(out.iter().all(|&v| v == 7));
    }
}
