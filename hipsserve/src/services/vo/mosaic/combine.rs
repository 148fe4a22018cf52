//! Combining the coadds' samples of a band of output rows: the inverse-variance weighted mean (variance 1/sum(1/v))
//! where every contributor of a pixel has a usable variance, the plain mean otherwise (variance sum(v)/n^2 when each
//! contributor has one, NaN when one has none), as the tile kernel combines coadds. Mask bits of every contributing
//! input are OR-ed; a pixel no input reaches is NaN with the NO_DATA bit (when the inputs' masks define one).

/// Per-pixel sums of one band of output rows (`len` pixels).
#[derive(Debug, Default)]
pub struct Band {
    ivw_sum: Vec<f64>,
    ivw_w: Vec<f64>,
    sum: Vec<f64>,
    var_sum: Vec<f64>,
    n: Vec<u32>,
    n_novar: Vec<u32>,
    mask: Vec<i32>,
}

impl Band {
    /// Empty sums for `len` pixels, reusing the memory.
    pub fn reset(&mut self, len: usize) {
        for v in [&mut self.ivw_sum, &mut self.ivw_w, &mut self.sum, &mut self.var_sum] {
            v.clear();
            v.resize(len, 0.0);
        }
        for v in [&mut self.n, &mut self.n_novar] {
            v.clear();
            v.resize(len, 0);
        }
        self.mask.clear();
        self.mask.resize(len, 0);
    }

    /// Add one input's sample at pixel `i` (value not NaN; `var` NaN when it has no usable variance), with the mask
    /// bits under it.
    #[inline]
    pub fn add(&mut self, i: usize, val: f64, var: f64, bits: i32) {
        self.sum[i] += val;
        self.n[i] += 1;
        self.mask[i] |= bits;
        if var.is_nan() {
            self.n_novar[i] += 1;
        } else {
            self.ivw_sum[i] += val / var;
            self.ivw_w[i] += 1.0 / var;
            self.var_sum[i] += var;
        }
    }

    /// The combined image, mask and variance of the band (`no_data`: the bits of pixels nothing reaches).
    pub fn finish(&self, image: &mut [f32], mask: &mut [i32], variance: &mut [f32], no_data: i32) {
        for i in 0..self.n.len() {
            let n = self.n[i];
            let (v, var) = if n == 0 {
                (f64::NAN, f64::NAN)
            } else if self.n_novar[i] == 0 && self.ivw_w[i] > 0.0 {
                (self.ivw_sum[i] / self.ivw_w[i], 1.0 / self.ivw_w[i])
            } else if self.n_novar[i] == 0 {
                (self.sum[i] / f64::from(n), self.var_sum[i] / f64::from(n * n))
            } else {
                (self.sum[i] / f64::from(n), f64::NAN)
            };
            image[i] = v as f32;
            variance[i] = var as f32;
            mask[i] = if n == 0 { self.mask[i] | no_data } else { self.mask[i] };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_variance_where_all_have_one_plain_mean_otherwise() {
        let mut b = Band::default();
        b.reset(3);
        b.add(0, 1.0, 1.0, 1);
        b.add(0, 4.0, 2.0, 4);
        b.add(1, 1.0, 1.0, 0);
        b.add(1, 3.0, f64::NAN, 2);
        let (mut img, mut m, mut var) = ([0f32; 3], [0i32; 3], [0f32; 3]);
        b.finish(&mut img, &mut m, &mut var, 256);
        assert!((img[0] - 2.0).abs() < 1e-6 && (var[0] - 2.0 / 3.0).abs() < 1e-6, "{img:?} {var:?}");
        assert!((img[1] - 2.0).abs() < 1e-6 && var[1].is_nan());
        assert!(img[2].is_nan() && var[2].is_nan());
        assert_eq!(m, [5, 2, 256]);
    }
}
