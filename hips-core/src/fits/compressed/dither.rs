//! Restoring quantized floating-point tiles (FITS 4.0 section 10.2): `value = (q - r + 0.5) * ZSCALE + ZZERO` with
//! `r` taken from the standard's sequence of 10000 random numbers (Park & Miller's generator, stored as 32-bit floats,
//! as cfitsio's `fits_init_randoms` builds it), starting at an offset fixed by the tile number and ZDITHER0.

use std::sync::OnceLock;

use super::table::{Dither, ZERO_VALUE};

/// Length of the random sequence.
const N_RANDOM: usize = 10_000;

/// The standard random sequence: `seed <- 16807 * seed mod (2^31 - 1)` from 1, each `seed / (2^31 - 1)` kept as f32.
fn randoms() -> &'static [f32] {
    static R: OnceLock<Vec<f32>> = OnceLock::new();
    R.get_or_init(|| {
        let (a, m) = (16807.0f64, 2_147_483_647.0f64);
        let mut seed = 1.0f64;
        let mut r = vec![0f32; N_RANDOM];
        for v in &mut r {
            let temp = a * seed;
            seed = temp - m * (temp / m).trunc();
            *v = (seed / m) as f32;
        }
        debug_assert_eq!(seed as i64, 1_043_618_065, "the 10000th seed the standard gives");
        r
    })
}

/// Restore one tile's values into `out` (f32 or f64 through `put`), `tile` being the 0-based tile number.
///
/// `blank`: the quantized value of null pixels (NaN out). Under SUBTRACTIVE_DITHER_2 [`ZERO_VALUE`] gives 0.0.
pub fn unquantize(
    q: &[i32],
    tile: usize,
    dither: Dither,
    dither0: i64,
    (scale, zero): (f64, f64),
    blank: Option<i64>,
    mut put: impl FnMut(usize, f64),
) {
    let blank = blank.and_then(|b| i32::try_from(b).ok());
    if dither == Dither::None {
        for (i, &v) in q.iter().enumerate() {
            put(i, if Some(v) == blank { f64::NAN } else { f64::from(v) * scale + zero });
        }
        return;
    }
    let r = randoms();
    // cfitsio: iseed = (row - 1) % N_RANDOM with row = tile + ZDITHER0 (1-based tile number + ZDITHER0 - 1).
    let row = tile as i64 + dither0;
    let mut iseed = (row - 1).rem_euclid(N_RANDOM as i64) as usize;
    let mut next = (r[iseed] * 500.0) as usize;
    let zero_value = if dither == Dither::Subtractive2 { Some(ZERO_VALUE as i32) } else { None };
    for (i, &v) in q.iter().enumerate() {
        let out = if Some(v) == blank {
            f64::NAN
        } else if Some(v) == zero_value {
            0.0
        } else {
            (f64::from(v) - f64::from(r[next]) + 0.5) * scale + zero
        };
        put(i, out);
        next += 1;
        if next == N_RANDOM {
            iseed += 1;
            if iseed == N_RANDOM {
                iseed = 0;
            }
            next = (r[iseed] * 500.0) as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sequence_is_the_standards() {
        let r = super::randoms();
        // The first value: 16807 / (2^31 - 1).
        assert_eq!(r[0], (16807.0f64 / 2_147_483_647.0) as f32);
        assert!(r.iter().all(|&v| v > 0.0 && v < 1.0));
    }
}
