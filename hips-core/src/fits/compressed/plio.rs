//! PLIO_1 decoding (FITS 4.0 section 10.4.4): IRAF's pixel-list "line list", a sequence of 16-bit instructions
//! (opcode in the top 4 bits, 12 bits of data) that set runs of zeros, runs of a value, or single pixels, and change
//! the current value. Read the way IRAF's `pl_l2pi` (and cfitsio's `pliocomp.c`) reads it, for a whole tile.

/// Decode the big-endian 16-bit line list `data` into `out` (the pixels of one tile; unset pixels are zero).
///
/// # Errors
/// A message naming the header word or instruction that is invalid.
pub fn decode(data: &[u8], out: &mut [i32]) -> Result<(), String> {
    let words: Vec<i32> = data.chunks_exact(2).map(|c| i32::from(i16::from_be_bytes([c[0], c[1]]))).collect();
    // 1-based in the reference: word k is words[k - 1].
    let word = |k: usize| words.get(k.wrapping_sub(1)).copied();
    let short = || format!("the line list has {} words, shorter than its header", words.len());
    let (len, first) = if word(3).ok_or_else(short)? > 0 {
        (i64::from(word(3).ok_or_else(short)?), 4usize)
    } else {
        let len = (i64::from(word(5).ok_or_else(short)?) << 15) + i64::from(word(4).ok_or_else(short)?);
        (len, usize::try_from(word(2).ok_or_else(short)? + 1).map_err(|_| "negative header length".to_string())?)
    };
    let npix = out.len() as i64;
    out.fill(0);
    if npix == 0 || len <= 0 {
        return Ok(());
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > words.len() {
        return Err(format!("the header says {len} words but the list has {}", words.len()));
    }
    let (xs, xe) = (1i64, npix);
    let (mut op, mut x1, mut pv) = (0usize, 1i64, 1i64);
    let mut ip = first;
    while ip <= len {
        let w = word(ip).unwrap_or(0) as u16;
        let (opcode, d) = (w >> 12, i64::from(w & 4095));
        match opcode {
            0 | 4 | 5 => {
                let x2 = x1 + d - 1;
                let (i1, i2) = (x1.max(xs), x2.min(xe));
                let np = i2 - i1 + 1;
                if np > 0 {
                    let np = np as usize;
                    let end = (op + np).min(out.len());
                    if opcode == 4 {
                        out[op..end].fill(pv as i32);
                    } else {
                        out[op..end].fill(0);
                        if opcode == 5 && i2 == x2 && end > 0 {
                            out[end - 1] = pv as i32;
                        }
                    }
                    op = end;
                }
                x1 = x2 + 1;
            }
            1 => {
                let next = word(ip + 1).ok_or_else(|| format!("instruction {ip} needs a second word"))?;
                pv = (i64::from(next) << 12) + d;
                ip += 1;
            }
            2 => pv += d,
            3 => pv -= d,
            6 | 7 => {
                pv += if opcode == 6 { d } else { -d };
                if x1 >= xs && x1 <= xe && op < out.len() {
                    out[op] = pv as i32;
                    op += 1;
                }
                x1 += 1;
            }
            _ => return Err(format!("instruction {ip} has opcode {opcode}")),
        }
        if x1 > xe {
            break;
        }
        ip += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_lists_are_errors() {
        let mut out = [0i32; 8];
        assert!(super::decode(&[], &mut out).is_err());
        assert!(super::decode(&[0, 0, 0, 7, 0, 100], &mut out).is_err());
    }
}
