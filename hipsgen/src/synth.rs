//! LSST-like synthetic coadds for demos, tests and benchmarks: one tract with a TAN WCS cut into overlapping patches,
//! each patch a FITS file per band with an empty primary and IMAGE / MASK / VARIANCE extensions, plus a truth catalog.
//!
//! Everything is a deterministic function of the configuration: stars are generated per 256-pixel tract cell from the
//! seed (so memory stays bounded however many patches there are), and the background, noise and NO_DATA regions are
//! functions of the tract pixel, so the pixels two neighbouring patches share are bit-identical, as in a real coadd.
//! The noise is approximately Gaussian (Irwin-Hall sum of four uniforms, bounded at +-3.46 sigma) because it is cheap
//! and exactly reproducible.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use hips_core::fits::{empty_primary, image_hdu, Card, PixelData};
use rayon::prelude::*;

/// Size of the tract cells stars are generated in, pixels.
const CELL: usize = 256;
/// Most stars one cell holds (the id space per cell is 100000).
const MAX_STARS_PER_CELL: usize = 20_000;
/// Star density, stars per square arcminute.
const STARS_PER_ARCMIN2: f64 = 20.0;
/// PSF full width at half maximum, arcseconds.
const PSF_FWHM_ARCSEC: f64 = 0.7;
/// Faintest star flux and the power-law index of N(>f) ~ f^-ALPHA.
const FLUX_MIN: f64 = 200.0;
const FLUX_MAX: f64 = 2.0e6;
const FLUX_ALPHA: f64 = 1.2;
/// Sky variance per pixel (counts^2) and the level above which a pixel is flagged SAT.
const SKY_VARIANCE: f64 = 100.0;
const SATURATION: f32 = 5.0e4;

/// LSST mask planes (bit numbers), written as `HIERARCH MP_<NAME> = <bit>` cards on the MASK HDU.
pub const MASK_PLANES: &[(&str, u32)] = &[
    ("BAD", 0),
    ("SAT", 1),
    ("INTRP", 2),
    ("CR", 3),
    ("EDGE", 4),
    ("DETECTED", 5),
    ("DETECTED_NEGATIVE", 6),
    ("SUSPECT", 7),
    ("NO_DATA", 8),
    ("CROSSTALK", 9),
    ("NOT_DEBLENDED", 10),
    ("UNMASKEDNAN", 11),
];
const BIT_SAT: i32 = 1 << 1;
const BIT_DETECTED: i32 = 1 << 5;
/// The NO_DATA mask bit value (bit number 8).
pub const BIT_NO_DATA: i32 = 1 << 8;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Band names (directory and file names, `FILTER` keyword), e.g. `["g", "r", "i"]`.
    pub bands: Vec<String>,
    /// Number of patches per band, laid out on a grid of `ceil(sqrt(patches))` columns.
    pub patches: usize,
    /// Patch width and height, pixels.
    pub patch_size: usize,
    /// Random seed: the same configuration gives byte-identical files.
    pub seed: u64,
    /// Pixel scale, arcseconds (LSST coadds: 0.2).
    pub pixel_scale_arcsec: f64,
    /// Pixels shared by neighbouring patches (LSST skymaps: 100).
    pub overlap: usize,
    /// Tract centre right ascension (CRVAL1), degrees.
    pub ra: f64,
    /// Tract centre declination (CRVAL2), degrees.
    pub dec: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            bands: vec!["g".into(), "r".into(), "i".into()],
            patches: 4,
            patch_size: 1024,
            seed: 1,
            pixel_scale_arcsec: 0.2,
            overlap: 100,
            ra: 150.0,
            dec: 2.0,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSummary {
    /// Every FITS file, band by band, patch by patch.
    pub files: Vec<PathBuf>,
    /// The truth catalog (`id,ra,dec,flux_<band>...`).
    pub truth_csv: PathBuf,
    /// Number of stars in the catalog.
    pub stars: usize,
}

/// Errors from [`generate`].
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The configuration cannot be generated.
    #[error("invalid synth configuration: {0}")]
    Config(String),
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The tract geometry: a TAN projection centred on (ra, dec) and the patch grid.
#[derive(Debug, Clone, Copy)]
pub struct Tract {
    /// CRVAL1, CRVAL2 in degrees.
    pub crval: (f64, f64),
    /// Tract CRPIX1, CRPIX2 (1-based, tract pixel frame).
    pub crpix: (f64, f64),
    /// Pixel scale in degrees.
    pub scale_deg: f64,
    /// Tract width and height, pixels.
    pub size: (usize, usize),
    /// Patch grid columns and rows.
    pub grid: (usize, usize),
    /// Distance between patch origins, pixels (`patch_size - overlap`).
    pub step: usize,
    /// Patch width and height.
    pub patch_size: usize,
}

impl Tract {
    /// The tract of a configuration.
    ///
    /// # Errors
    /// When the configuration is inconsistent (no bands, overlap >= patch size, bad coordinates...).
    pub fn new(cfg: &SynthConfig) -> Result<Tract, SynthError> {
        let bad = |s: &str| Err(SynthError::Config(s.into()));
        if cfg.bands.is_empty() {
            return bad("no bands");
        }
        for b in &cfg.bands {
            if b.is_empty() || !b.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(SynthError::Config(format!("band name {b:?} must be letters, digits, '_' or '-'")));
            }
        }
        if cfg.patches == 0 || cfg.patches > 99_999 {
            return bad("patches must be 1..=99999");
        }
        if cfg.patch_size < 16 || cfg.patch_size > 1 << 16 {
            return bad("patch size must be 16..=65536");
        }
        if cfg.overlap * 2 >= cfg.patch_size {
            return bad("overlap must be less than half the patch size");
        }
        if !(cfg.pixel_scale_arcsec > 0.0 && cfg.pixel_scale_arcsec < 3600.0) {
            return bad("pixel scale must be in (0, 3600) arcsec");
        }
        if !(cfg.dec.abs() < 90.0 && cfg.ra.is_finite()) {
            return bad("dec must be in (-90, 90) and ra finite");
        }
        let cols = (cfg.patches as f64).sqrt().ceil() as usize;
        let rows = cfg.patches.div_ceil(cols);
        let step = cfg.patch_size - cfg.overlap;
        let size = (cols * step + cfg.overlap, rows * step + cfg.overlap);
        let scale_deg = cfg.pixel_scale_arcsec / 3600.0;
        if (size.0.max(size.1) as f64) * scale_deg > 60.0 {
            return bad("the tract would span more than 60 degrees; a TAN tract cannot");
        }
        Ok(Tract {
            crval: (cfg.ra.rem_euclid(360.0), cfg.dec),
            crpix: (f64::midpoint(size.0 as f64, 1.0), f64::midpoint(size.1 as f64, 1.0)),
            scale_deg,
            size,
            grid: (cols, rows),
            step,
            patch_size: cfg.patch_size,
        })
    }

    /// Tract pixel origin (0-based x0, y0) of patch `index` (row-major over the grid).
    #[must_use]
    pub fn patch_origin(&self, index: usize) -> (usize, usize) {
        ((index % self.grid.0) * self.step, (index / self.grid.0) * self.step)
    }

    /// Sky (ra, dec) degrees of 1-based tract pixel coordinates (FITS convention) by the gnomonic projection.
    #[must_use]
    pub fn pix_to_sky(&self, p1: f64, p2: f64) -> (f64, f64) {
        let xi = (-(p1 - self.crpix.0) * self.scale_deg).to_radians();
        let eta = ((p2 - self.crpix.1) * self.scale_deg).to_radians();
        let (a0, d0) = (self.crval.0.to_radians(), self.crval.1.to_radians());
        let den = d0.cos() - eta * d0.sin();
        let ra = a0 + xi.atan2(den);
        let dec = (d0.sin() + eta * d0.cos()).atan2(xi.hypot(den));
        (ra.to_degrees().rem_euclid(360.0), dec.to_degrees())
    }

    /// 1-based tract pixel coordinates of (ra, dec) degrees; `None` on the far hemisphere.
    #[must_use]
    pub fn sky_to_pix(&self, ra: f64, dec: f64) -> Option<(f64, f64)> {
        let (a, d) = (ra.to_radians(), dec.to_radians());
        let (a0, d0) = (self.crval.0.to_radians(), self.crval.1.to_radians());
        let cosc = d0.sin() * d.sin() + d0.cos() * d.cos() * (a - a0).cos();
        if cosc <= 0.0 {
            return None;
        }
        let xi = (d.cos() * (a - a0).sin() / cosc).to_degrees();
        let eta = ((d0.cos() * d.sin() - d0.sin() * d.cos() * (a - a0).cos()) / cosc).to_degrees();
        Some((self.crpix.0 - xi / self.scale_deg, self.crpix.1 + eta / self.scale_deg))
    }

    fn cells(&self) -> (usize, usize) {
        (self.size.0.div_ceil(CELL), self.size.1.div_ceil(CELL))
    }
}

/// SplitMix64 finaliser: a good 64-bit mixing function.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64 generator.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// One truth star.
#[derive(Debug, Clone)]
struct Star {
    id: u64,
    ra: f64,
    dec: f64,
    /// 1-based tract pixel position recomputed from (ra, dec) through the TAN projection.
    pix: (f64, f64),
    /// Flux per band (sum of the PSF over the plane).
    flux: Vec<f64>,
}

/// The stars of tract cell (cx, cy), in id order.
fn cell_stars(cfg: &SynthConfig, tract: &Tract, cx: usize, cy: usize) -> Vec<Star> {
    let (ncx, _) = tract.cells();
    let cell_index = (cy * ncx + cx) as u64;
    let mut rng = SplitMix(mix64(cfg.seed ^ mix64(cell_index.wrapping_add(0x5eed))));
    let x_lo = (cx * CELL) as f64;
    let y_lo = (cy * CELL) as f64;
    let w = (CELL.min(tract.size.0 - cx * CELL)) as f64;
    let h = (CELL.min(tract.size.1 - cy * CELL)) as f64;
    let arcmin2 = w * h * (cfg.pixel_scale_arcsec / 60.0).powi(2);
    let lambda = STARS_PER_ARCMIN2 * arcmin2;
    // Poisson count (Knuth for small means, rounded normal approximation above).
    let n = if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0usize;
        let mut p = rng.uniform();
        while p > limit && k < 1000 {
            k += 1;
            p *= rng.uniform();
        }
        k
    } else {
        let g = (rng.uniform() + rng.uniform() + rng.uniform() + rng.uniform() - 2.0) * 3f64.sqrt();
        (lambda + g * lambda.sqrt()).round().max(0.0) as usize
    };
    // Ids are cell * 100000 + k; coarse pixel scales would otherwise ask for billions of stars.
    let n = n.min(MAX_STARS_PER_CELL);
    let nb = cfg.bands.len();
    (0..n)
        .map(|k| {
            // 0-based pixel centres sit at integers; a cell spans [lo - 0.5, lo + w - 0.5).
            let x0 = x_lo - 0.5 + rng.uniform() * w;
            let y0 = y_lo - 0.5 + rng.uniform() * h;
            let (ra, dec) = tract.pix_to_sky(x0 + 1.0, y0 + 1.0);
            let pix = tract.sky_to_pix(ra, dec).unwrap_or((x0 + 1.0, y0 + 1.0));
            let f = FLUX_MIN * rng.uniform().max(1e-12).powf(-1.0 / FLUX_ALPHA);
            let f = f.min(FLUX_MAX);
            let color = rng.uniform() * 1.5 - 0.5;
            let flux = (0..nb).map(|b| f * 10f64.powf(-0.4 * color * (b as f64 - (nb as f64 - 1.0) / 2.0))).collect();
            Star { id: cell_index * 100_000 + k as u64, ra, dec, pix, flux }
        })
        .collect()
}

/// Deterministic approximately-Gaussian deviate (mean 0, sd 1) for a tract pixel and band.
#[inline]
fn pixel_noise(seed: u64, band: usize, x: usize, y: usize) -> f32 {
    let h = mix64(mix64(mix64(seed ^ 0xa076_1d64_78bd_642f ^ (band as u64)) ^ y as u64) ^ x as u64);
    let s = (h & 0xffff) + ((h >> 16) & 0xffff) + ((h >> 32) & 0xffff) + (h >> 48);
    // Sum of four U(0,1): mean 2, variance 1/3.
    ((s as f32 + 2.0) / 65536.0 - 2.0) * 1.732_050_8
}

/// Smooth residual background of a tract pixel (a few counts, varying across the tract).
#[inline]
fn background(tract: &Tract, band: usize, x: usize, y: usize) -> f32 {
    let u = x as f32 / tract.size.0 as f32;
    let v = y as f32 / tract.size.1 as f32;
    2.0 + band as f32 + 3.0 * (u * 3.1 + v * 1.7).sin()
}

/// Corners of the NO_DATA wedges: the origin of every fourth patch (indices 3, 7, ...); a tract pixel has no data when
/// it lies in the triangle of side `patch_size / 4` right of and above a corner.
fn no_data_wedges(tract: &Tract, patches: usize) -> Vec<(usize, usize)> {
    (0..patches).filter(|i| i % 4 == 3).map(|i| tract.patch_origin(i)).collect()
}

fn in_wedge(wedges: &[(usize, usize)], size: usize, x: usize, y: usize) -> bool {
    wedges.iter().any(|&(wx, wy)| x >= wx && y >= wy && (x - wx) + (y - wy) < size)
}

/// A validated `synth` job: a tract configuration and the output directory.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthJob {
    /// What to generate.
    pub config: SynthConfig,
    /// Output directory (created).
    pub out: PathBuf,
}

/// Run a `synth` job ([`generate`] into `job.out`).
///
/// # Errors
/// As [`generate`].
pub fn run_synth(job: &SynthJob) -> Result<SynthSummary, SynthError> {
    generate(&job.config, &job.out)
}

/// Generate the tract: `out_dir/<band>/patch_<band>_<NNNN>.fits` for every band and patch, and `out_dir/truth.csv`.
///
/// Patches are generated in parallel (rayon), one patch per task, so memory stays at a few planes per thread.
///
/// # Errors
/// When the configuration is invalid or a file cannot be written.
pub fn generate(cfg: &SynthConfig, out_dir: &Path) -> Result<SynthSummary, SynthError> {
    let tract = Tract::new(cfg)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SynthError::Io { path, source }
    };
    for b in &cfg.bands {
        let d = out_dir.join(b);
        std::fs::create_dir_all(&d).map_err(io(&d))?;
    }
    let truth_csv = out_dir.join("truth.csv");
    let stars = write_truth(cfg, &tract, &truth_csv)?;
    let files: Vec<Vec<PathBuf>> =
        (0..cfg.patches).into_par_iter().map(|i| write_patch(cfg, &tract, out_dir, i)).collect::<Result<_, _>>()?;
    // Band-major order.
    let mut ordered = Vec::with_capacity(cfg.patches * cfg.bands.len());
    for b in 0..cfg.bands.len() {
        ordered.extend(files.iter().filter_map(|f| f.get(b).cloned()));
    }
    Ok(SynthSummary { files: ordered, truth_csv, stars })
}

/// Write the truth catalog, streaming cell by cell; returns the number of stars.
fn write_truth(cfg: &SynthConfig, tract: &Tract, path: &Path) -> Result<usize, SynthError> {
    let err = |source| SynthError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::create(path).map_err(err)?;
    let mut w = std::io::BufWriter::new(file);
    let mut line = String::from("id,ra,dec");
    for b in &cfg.bands {
        let _ = write!(line, ",flux_{b}");
    }
    writeln!(w, "{line}").map_err(err)?;
    let (ncx, ncy) = tract.cells();
    let mut count = 0;
    for cy in 0..ncy {
        // Cells of a row in parallel, written in order.
        let rows: Vec<String> = (0..ncx)
            .into_par_iter()
            .map(|cx| {
                let mut s = String::new();
                for st in cell_stars(cfg, tract, cx, cy) {
                    let _ = write!(s, "{},{},{}", st.id, st.ra, st.dec);
                    for f in &st.flux {
                        let _ = write!(s, ",{f}");
                    }
                    s.push('\n');
                }
                s
            })
            .collect();
        for r in rows {
            count += r.bytes().filter(|&c| c == b'\n').count();
            w.write_all(r.as_bytes()).map_err(err)?;
        }
    }
    w.flush().map_err(err)?;
    Ok(count)
}

/// The stars whose PSF stamp can touch the rectangle [x0 - r, x1 + r) x [y0 - r, y1 + r) (tract pixels), id order.
fn stars_near(cfg: &SynthConfig, tract: &Tract, x0: usize, y0: usize, size: usize, r: usize) -> Vec<Star> {
    let (ncx, ncy) = tract.cells();
    let cx0 = x0.saturating_sub(r + 1) / CELL;
    let cy0 = y0.saturating_sub(r + 1) / CELL;
    let cx1 = ((x0 + size + r + 1) / CELL).min(ncx - 1);
    let cy1 = ((y0 + size + r + 1) / CELL).min(ncy - 1);
    let mut out = Vec::new();
    for cy in cy0..=cy1 {
        for cx in cx0..=cx1 {
            out.extend(cell_stars(cfg, tract, cx, cy));
        }
    }
    out.sort_by_key(|s| s.id);
    out
}

/// Common WCS and provenance cards of a patch HDU.
fn wcs_cards(cfg: &SynthConfig, tract: &Tract, x0: usize, y0: usize) -> Vec<Card> {
    vec![
        Card::str("RADESYS", "ICRS", ""),
        Card::float("EQUINOX", 2000.0, ""),
        Card::str("CTYPE1", "RA---TAN", ""),
        Card::str("CTYPE2", "DEC--TAN", ""),
        Card::str("CUNIT1", "deg", ""),
        Card::str("CUNIT2", "deg", ""),
        Card::float("CRVAL1", tract.crval.0, "tract centre RA"),
        Card::float("CRVAL2", tract.crval.1, "tract centre Dec"),
        Card::float("CRPIX1", tract.crpix.0 - x0 as f64, "tract CRPIX1 - patch x0"),
        Card::float("CRPIX2", tract.crpix.1 - y0 as f64, "tract CRPIX2 - patch y0"),
        Card::float("CD1_1", -tract.scale_deg, ""),
        Card::float("CD1_2", 0.0, ""),
        Card::float("CD2_1", 0.0, ""),
        Card::float("CD2_2", tract.scale_deg, ""),
        Card::float("LTV1", -(x0 as f64), "patch origin in the tract (LSST afw)"),
        Card::float("LTV2", -(y0 as f64), ""),
        Card::str("CTYPE1A", "LINEAR", "tract pixel frame"),
        Card::str("CTYPE2A", "LINEAR", ""),
        Card::float("CRPIX1A", 1.0, ""),
        Card::float("CRPIX2A", 1.0, ""),
        Card::float("CRVAL1A", x0 as f64, ""),
        Card::float("CRVAL2A", y0 as f64, ""),
        Card::str("CUNIT1A", "PIXEL", ""),
        Card::str("CUNIT2A", "PIXEL", ""),
        Card::logical("INHERIT", true, ""),
        Card::int("SEED", cfg.seed as i64, "hipsgen synth seed"),
    ]
}

/// Render and write one patch in every band; returns the files in band order.
fn write_patch(cfg: &SynthConfig, tract: &Tract, out_dir: &Path, index: usize) -> Result<Vec<PathBuf>, SynthError> {
    let n = tract.patch_size;
    let (x0, y0) = tract.patch_origin(index);
    let sigma_pix = PSF_FWHM_ARCSEC / cfg.pixel_scale_arcsec / (8f64 * 2f64.ln()).sqrt();
    let r = (5.5 * sigma_pix).ceil().max(2.0) as usize;
    let stars = stars_near(cfg, tract, x0, y0, n, r);
    let wedge_size = n / 4;
    // Only the wedges that reach this patch (a wedge spans wedge_size pixels right of and above its corner).
    let wedges: Vec<(usize, usize)> = no_data_wedges(tract, cfg.patches)
        .into_iter()
        .filter(|&(wx, wy)| wx < x0 + n && wx + wedge_size > x0 && wy < y0 + n && wy + wedge_size > y0)
        .collect();
    let sky_sd = SKY_VARIANCE.sqrt() as f32;
    let mut files = Vec::with_capacity(cfg.bands.len());
    let mut model = vec![0f32; n * n];
    let mut image = vec![0f32; n * n];
    let mut variance = vec![0f32; n * n];
    let mut mask = vec![0i32; n * n];
    let inv2s2 = 1.0 / (2.0 * sigma_pix * sigma_pix);
    let norm = 1.0 / (2.0 * std::f64::consts::PI * sigma_pix * sigma_pix);
    for (b, band) in cfg.bands.iter().enumerate() {
        model.fill(0.0);
        for s in &stars {
            // Tract 0-based position of the star (pixel centres at integers), then patch-local.
            let (sx, sy) = (s.pix.0 - 1.0 - x0 as f64, s.pix.1 - 1.0 - y0 as f64);
            let amp = s.flux[b] * norm;
            let (ix, iy) = (sx.round() as i64, sy.round() as i64);
            let ri = r as i64;
            let (lx, hx) = ((ix - ri).max(0), (ix + ri).min(n as i64 - 1));
            let (ly, hy) = ((iy - ri).max(0), (iy + ri).min(n as i64 - 1));
            for py in ly..=hy {
                let dy = py as f64 - sy;
                let row = &mut model[py as usize * n..(py as usize + 1) * n];
                for px in lx..=hx {
                    let dx = px as f64 - sx;
                    row[px as usize] += (amp * (-(dx * dx + dy * dy) * inv2s2).exp()) as f32;
                }
            }
        }
        image.par_chunks_mut(n).zip(variance.par_chunks_mut(n)).zip(mask.par_chunks_mut(n)).enumerate().for_each(
            |(ly, ((img, var), msk))| {
                let ty = y0 + ly;
                for lx in 0..n {
                    let tx = x0 + lx;
                    let m = model[ly * n + lx];
                    if in_wedge(&wedges, wedge_size, tx, ty) {
                        img[lx] = if ((tx / 16) + (ty / 16)) % 2 == 0 { 0.0 } else { 1.0e4 };
                        var[lx] = f32::NAN;
                        msk[lx] = BIT_NO_DATA;
                        continue;
                    }
                    let v = SKY_VARIANCE as f32 + m.max(0.0);
                    let value = m + background(tract, b, tx, ty) + v.sqrt() * pixel_noise(cfg.seed, b, tx, ty);
                    img[lx] = value;
                    var[lx] = v;
                    let mut bits = 0;
                    if value > SATURATION {
                        bits |= BIT_SAT;
                    }
                    if m > 5.0 * sky_sd {
                        bits |= BIT_DETECTED;
                    }
                    msk[lx] = bits;
                }
            },
        );
        let path = out_dir.join(band).join(format!("patch_{band}_{index:04}.fits"));
        write_file(cfg, tract, &path, band, index, (x0, y0), &image, &mask, &variance)?;
        files.push(path);
    }
    Ok(files)
}

#[allow(clippy::too_many_arguments)]
fn write_file(
    cfg: &SynthConfig,
    tract: &Tract,
    path: &Path,
    band: &str,
    index: usize,
    (x0, y0): (usize, usize),
    image: &[f32],
    mask: &[i32],
    variance: &[f32],
) -> Result<(), SynthError> {
    let n = tract.patch_size;
    let tmp = path.with_extension("fits.tmp");
    let err = |source| SynthError::Io { path: path.to_path_buf(), source };
    let (col, row) = (index % tract.grid.0, index / tract.grid.0);
    let primary = empty_primary(&[
        Card::str("ORIGIN", "hipsgen synth", "synthetic LSST-like coadd"),
        Card::str("TELESCOP", "LSST-SYNTH", ""),
        Card::str("INSTRUME", "SYNTH", ""),
        Card::str("FILTER", band, "band"),
        Card::str("BAND", band, ""),
        Card::str("SKYMAP", "synth_tract", ""),
        Card::int("TRACT", 0, ""),
        Card::int("PATCH", index as i64, "patch index in the tract"),
        Card::int("PATCH_X", col as i64, "patch column"),
        Card::int("PATCH_Y", row as i64, "patch row"),
        Card::str("BUNIT", "nJy", ""),
        Card::float("PIXSCALE", cfg.pixel_scale_arcsec, "arcsec/pixel"),
        Card::float("PSF_FWHM", PSF_FWHM_ARCSEC, "arcsec"),
        Card::int("SEED", cfg.seed as i64, "hipsgen synth seed"),
    ]);
    let wcs = wcs_cards(cfg, tract, x0, y0);
    let with = |name: &str, extra: &[Card]| -> Vec<Card> {
        let mut v = vec![Card::str("EXTNAME", name, ""), Card::str("EXTTYPE", name, "")];
        v.extend(wcs.iter().cloned());
        v.extend(extra.iter().cloned());
        v
    };
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(&primary).map_err(err)?;
    let hdu = image_hdu(false, n, n, PixelData::F32(image), &with("IMAGE", &[Card::str("BUNIT", "nJy", "")]));
    file.write_all(&hdu).map_err(err)?;
    drop(hdu);
    let planes: Vec<Card> =
        MASK_PLANES.iter().map(|(name, bit)| Card::int(&format!("MP_{name}"), i64::from(*bit), "")).collect();
    let hdu = image_hdu(false, n, n, PixelData::I32(mask), &with("MASK", &planes));
    file.write_all(&hdu).map_err(err)?;
    drop(hdu);
    let hdu = image_hdu(false, n, n, PixelData::F32(variance), &with("VARIANCE", &[Card::str("BUNIT", "nJy2", "")]));
    file.write_all(&hdu).map_err(err)?;
    drop(hdu);
    drop(file); // no fsync: synthetic data, and the rename still hides partial files
    std::fs::rename(&tmp, path).map_err(err)
}
