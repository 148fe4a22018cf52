//! Coadd images as inputs: HDU selection (single image, LSST IMAGE/MASK/VARIANCE, HST SCI/ERR/DQ, weight maps:
//! `planes.rs`), WCS, footprint, and reading pixel regions by byte range with blanking mask bits, zero weights and
//! blanks turned into NaN.
//!
//! Opening a coadd reads headers only; pixels are read per region when a tile needs them, so memory does not grow
//! with the number of inputs and a cutout never fetches a whole file.

use std::sync::Arc;

use crate::fits::{self, ByteSource, FitsError, Hdu};
use crate::wcs::{self, Frame, Wcs, WcsError};

mod planes;

pub use planes::{parse_bits, sibling_weight_location, Noise, PlaneOptions, SiblingWeight};

/// Errors opening or reading a coadd; every message names the file and, where relevant, the HDU.
#[derive(Debug, thiserror::Error)]
pub enum CoaddError {
    /// The FITS layer failed (I/O, truncation, bad header).
    #[error(transparent)]
    Fits(#[from] FitsError),
    /// The image HDU has no usable celestial WCS.
    #[error("{file}: HDU {hdu}: {source}")]
    Wcs {
        /// The file or URL.
        file: String,
        /// HDU index (and EXTNAME when present).
        hdu: String,
        /// The WCS problem.
        #[source]
        source: WcsError,
    },
    /// No HDU holds a 2-D image.
    #[error("{file}: no HDU holds a 2-D image{detail}")]
    NoImage {
        /// The file or URL.
        file: String,
        /// Extra explanation (e.g. the requested --hdu).
        detail: String,
    },
    /// The requested HDU does not exist or is not an image.
    #[error("{file}: HDU {hdu} requested by --hdu {reason}")]
    BadHdu {
        /// The file or URL.
        file: String,
        /// What was asked.
        hdu: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// `--mask-planes` names a plane the mask header does not define.
    #[error("{file}: HDU {hdu} (MASK) defines no mask plane {plane} (MP_{plane}); it defines: {defined}")]
    MaskPlane {
        /// The file or URL.
        file: String,
        /// The mask HDU.
        hdu: usize,
        /// The plane asked for.
        plane: String,
        /// The planes the header defines.
        defined: String,
    },
    /// MASK and VARIANCE planes must have the image's size.
    #[error("{file}: HDU {hdu} ({plane}) is {got:?} but the image is {want:?}")]
    PlaneSize {
        /// The file or URL.
        file: String,
        /// The plane's HDU.
        hdu: usize,
        /// MASK or VARIANCE.
        plane: &'static str,
        /// Its size.
        got: (usize, usize),
        /// The image size.
        want: (usize, usize),
    },
}

/// Which HDU to use as the image, from `--hdu N|NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HduSelector {
    /// Zero-based HDU index (0 = primary).
    Index(usize),
    /// EXTNAME (or EXTTYPE), case-insensitive.
    Name(String),
}

impl std::str::FromStr for HduSelector {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(s.parse::<usize>().map_or_else(|_| HduSelector::Name(s.to_string()), HduSelector::Index))
    }
}

/// An opened coadd: headers, WCS and the HDUs holding its planes. Cheap to keep thousands of.
#[derive(Debug, Clone)]
pub struct Coadd {
    /// The path or URL it was opened from.
    pub name: String,
    /// Random access to its bytes.
    pub source: Arc<dyn ByteSource>,
    /// The image HDU.
    pub image: Hdu,
    /// The mask HDU (LSST MASK, HST DQ), if any.
    pub mask: Option<Hdu>,
    /// The noise HDU of this file (LSST VARIANCE, HST ERR, a WEIGHT/WHT map), if any; what it holds is `noise`.
    pub variance: Option<Hdu>,
    /// What the noise plane (`variance`, or `weight_file`) holds.
    pub noise: Noise,
    /// A weight map in a sibling file (`x.weight.fits`), when this file has no noise plane.
    pub weight_file: Option<SiblingWeight>,
    /// Mask bits that blank a pixel (NO_DATA and `--mask-planes` of an LSST MASK, `--bad-bits` of a DQ), 0 for none.
    pub blank_bits: i64,
    /// Celestial WCS of the image.
    pub wcs: Wcs,
    /// Image width (NAXIS1).
    pub width: usize,
    /// Image height (NAXIS2).
    pub height: usize,
    /// Band from FILTER/BAND keywords, if present.
    pub band: Option<String>,
}

/// Pixels of a rectangular region of a coadd, with NaN for blank and NO_DATA.
#[derive(Debug, Clone)]
pub struct CoaddPixels {
    /// Column of the region's first pixel in the full image (0-based).
    pub x0: usize,
    /// Row of the region's first pixel in the full image (0-based).
    pub y0: usize,
    /// Region width.
    pub width: usize,
    /// Region height.
    pub height: usize,
    /// Image values, row-major.
    pub image: Vec<f32>,
    /// Variance values, row-major, when the coadd has a variance plane.
    pub variance: Option<Vec<f32>>,
}

fn hdu_label(h: &Hdu) -> String {
    match &h.extname {
        Some(n) => format!("{} ({n})", h.index),
        None => h.index.to_string(),
    }
}

/// The role of an HDU from EXTNAME or EXTTYPE, upper case.
fn role(h: &Hdu) -> Option<String> {
    h.extname.clone().or_else(|| h.header.get_str("EXTTYPE")).map(|s| s.trim().to_ascii_uppercase())
}

fn is_image(h: &Hdu) -> bool {
    h.naxes.len() >= 2
        && h.naxes[0] > 0
        && h.naxes[1] > 0
        && h.naxes[2..].iter().all(|&n| n == 1)
        && h.xtension.as_deref().is_none_or(|x| x.trim() == "IMAGE")
}

impl Coadd {
    /// Open a coadd from a path or URL, reading only headers.
    ///
    /// Without `select`, an HDU named IMAGE (EXTNAME or EXTTYPE) is the image and MASK / VARIANCE planes are used
    /// when present; otherwise the first HDU holding a 2-D image is used.
    ///
    /// # Errors
    /// When the file cannot be read, holds no image, or the image has no usable celestial WCS.
    pub fn open(location: &str, select: Option<&HduSelector>) -> Result<Coadd, CoaddError> {
        Self::open_with(location, select, &PlaneOptions::default())
    }

    /// [`Coadd::open`] with quality-plane options; without a noise plane in the file, a sibling weight map
    /// (`x.weight.fits`) is used when there is one (unless `opts.no_sibling_weight`).
    ///
    /// # Errors
    /// As [`Coadd::open`]; also a mask plane the mask header does not define, or a sibling weight map that exists
    /// but cannot be used.
    pub fn open_with(location: &str, select: Option<&HduSelector>, opts: &PlaneOptions) -> Result<Coadd, CoaddError> {
        let mut c = Self::from_source_with(location, fits::open_source(location)?, select, opts)?;
        c.use_sibling_weight(location, opts, fits::open_source)?;
        Ok(c)
    }

    /// Without a noise plane of its own (and unless `opts.no_sibling_weight`), use the weight map beside the file at
    /// `location` (`x.weight.fits`), opened with `open`; a missing sibling is no weight map.
    ///
    /// # Errors
    /// When the sibling exists but cannot be read, holds no 2-D image, or its size differs from the image's.
    pub fn use_sibling_weight(
        &mut self,
        location: &str,
        opts: &PlaneOptions,
        open: impl Fn(&str) -> Result<Arc<dyn ByteSource>, FitsError>,
    ) -> Result<(), CoaddError> {
        if self.variance.is_some() || opts.no_sibling_weight {
            return Ok(());
        }
        self.weight_file = planes::open_sibling_weight(location, (self.width, self.height), open)?;
        if self.weight_file.is_some() {
            self.noise = Noise::Weight;
        }
        Ok(())
    }

    /// Open a coadd from an already opened byte source.
    ///
    /// # Errors
    /// As [`Coadd::open`].
    pub fn from_source(
        location: &str,
        source: Arc<dyn ByteSource>,
        select: Option<&HduSelector>,
    ) -> Result<Coadd, CoaddError> {
        Self::from_source_with(location, source, select, &PlaneOptions::default())
    }

    /// [`Coadd::from_source`] with quality-plane options (no sibling weight map is looked for: the caller opens it
    /// and sets [`Coadd::weight_file`] and [`Coadd::noise`]).
    ///
    /// # Errors
    /// As [`Coadd::open_with`].
    pub fn from_source_with(
        location: &str,
        source: Arc<dyn ByteSource>,
        select: Option<&HduSelector>,
        opts: &PlaneOptions,
    ) -> Result<Coadd, CoaddError> {
        let hdus = fits::scan_hdus(source.as_ref())?;
        let file = location.to_string();
        let by_role = |want: &dyn Fn(&str) -> bool| {
            hdus.iter().find(|h| role(h).is_some_and(|r| want(&r)) && is_image(h)).cloned()
        };
        let image = match select {
            Some(HduSelector::Index(i)) => {
                let h = hdus.get(*i).ok_or_else(|| CoaddError::BadHdu {
                    file: file.clone(),
                    hdu: i.to_string(),
                    reason: format!("does not exist (the file has {} HDUs)", hdus.len()),
                })?;
                if !is_image(h) {
                    return Err(CoaddError::BadHdu {
                        file,
                        hdu: i.to_string(),
                        reason: format!("is not a 2-D image (NAXIS = {:?})", h.naxes),
                    });
                }
                h.clone()
            }
            Some(HduSelector::Name(n)) => {
                let want = n.to_ascii_uppercase();
                hdus.iter().find(|h| role(h).as_deref() == Some(want.as_str()) && is_image(h)).cloned().ok_or_else(
                    || CoaddError::BadHdu {
                        file: file.clone(),
                        hdu: n.clone(),
                        reason: "matches no image HDU by EXTNAME or EXTTYPE".into(),
                    },
                )?
            }
            None => match by_role(&|r| planes::IMAGE_ROLES.contains(&r)) {
                Some(h) => h,
                None => hdus.iter().find(|h| is_image(h)).cloned().ok_or_else(|| CoaddError::NoImage {
                    file: file.clone(),
                    detail: format!(" ({} HDUs scanned)", hdus.len()),
                })?,
            },
        };
        let (width, height) = (image.naxes[0], image.naxes[1]);
        let plane = |want: &dyn Fn(&str) -> bool, name: &'static str| -> Result<Option<Hdu>, CoaddError> {
            match by_role(want) {
                Some(h) if h.index != image.index => {
                    if (h.naxes[0], h.naxes[1]) != (width, height) {
                        return Err(CoaddError::PlaneSize {
                            file: file.clone(),
                            hdu: h.index,
                            plane: name,
                            got: (h.naxes[0], h.naxes[1]),
                            want: (width, height),
                        });
                    }
                    Ok(Some(h))
                }
                _ => Ok(None),
            }
        };
        let mask = plane(&planes::mask_role, "MASK")?;
        let variance = plane(&|r| planes::noise_role(r).is_some(), "VARIANCE")?;
        let noise = variance.as_ref().and_then(role).and_then(|r| planes::noise_role(&r)).unwrap_or_default();
        let blank_bits = match &mask {
            Some(m) => planes::blank_bits(&file, m, &role(m).unwrap_or_default(), opts)?,
            None => 0,
        };
        let wcs = match Wcs::from_header(&image.header) {
            Ok(w) => w,
            Err(e) => {
                // Some writers keep the WCS in the primary header only (INHERIT = T).
                let primary = hdus.first().filter(|p| p.index != image.index);
                match primary.map(|p| Wcs::from_header(&p.header)) {
                    Some(Ok(w)) => w,
                    _ => return Err(CoaddError::Wcs { file, hdu: hdu_label(&image), source: e }),
                }
            }
        };
        let band = ["BAND", "FILTER", "FILTNAM"]
            .iter()
            .find_map(|k| image.header.get_str(k).or_else(|| hdus.first().and_then(|p| p.header.get_str(k))))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        Ok(Coadd {
            name: file,
            source,
            image,
            mask,
            variance,
            noise,
            weight_file: None,
            blank_bits,
            wcs,
            width,
            height,
            band,
        })
    }

    /// Read a region (clipped to the image) with blanks and NO_DATA pixels as NaN. `None` when the clipped region is
    /// empty.
    ///
    /// # Errors
    /// When the bytes cannot be read or decoded.
    pub fn read_region(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> Result<Option<CoaddPixels>, CoaddError> {
        let Some(mut px) = self.read_region_image(x0, y0, x1, y1)? else { return Ok(None) };
        self.read_variance(&mut px)?;
        Ok(Some(px))
    }

    /// [`Coadd::read_region`] without the variance plane (`variance` is `None`; [`Coadd::read_variance`] adds it):
    /// a region that only one coadd reaches is sampled without it.
    ///
    /// # Errors
    /// When the bytes cannot be read or decoded.
    pub fn read_region_image(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> Result<Option<CoaddPixels>, CoaddError> {
        let cx0 = x0.max(0) as usize;
        let cy0 = y0.max(0) as usize;
        let cx1 = (x1.min(self.width as i64 - 1)).max(-1);
        let cy1 = (y1.min(self.height as i64 - 1)).max(-1);
        if cx1 < cx0 as i64 || cy1 < cy0 as i64 {
            return Ok(None);
        }
        let (w, h) = (cx1 as usize - cx0 + 1, cy1 as usize - cy0 + 1);
        let src = self.source.as_ref();
        let mut image = fits::read_region_f32(src, &self.image, cx0, cy0, w, h)?.data;
        if let (Some(m), true) = (&self.mask, self.blank_bits != 0) {
            // The mask test runs as the mask is decoded (no widened copy of the mask is kept).
            fits::blank_masked_region(src, m, (cx0, cy0, w, h), self.blank_bits, &mut image)?;
        }
        let mut px = CoaddPixels { x0: cx0, y0: cy0, width: w, height: h, image, variance: None };
        if self.noise == Noise::Weight {
            // Zero (or missing) weight means no data: the weights are read with the image, and kept as variances.
            self.read_variance(&mut px)?;
        }
        Ok(Some(px))
    }

    /// The noise plane and the source it is read from (this file, or the sibling weight map).
    fn noise_plane(&self) -> Option<(&dyn ByteSource, &Hdu)> {
        match (&self.variance, &self.weight_file) {
            (Some(v), _) => Some((self.source.as_ref(), v)),
            (None, Some(w)) => Some((w.source.as_ref(), &w.hdu)),
            (None, None) => None,
        }
    }

    /// Read the variance of the region of `px` (from [`Coadd::read_region_image`]) into `px.variance` (ERR squared,
    /// weights inverted), NaN where it is not positive and finite or the image is NaN; nothing when the coadd has no
    /// noise plane or `px` has its variance already. A zero or missing weight blanks the image pixel too.
    ///
    /// # Errors
    /// When the bytes cannot be read or decoded.
    pub fn read_variance(&self, px: &mut CoaddPixels) -> Result<(), CoaddError> {
        if px.variance.is_some() {
            return Ok(());
        }
        let Some((src, v)) = self.noise_plane() else { return Ok(()) };
        let mut var = fits::read_region_f32(src, v, px.x0, px.y0, px.width, px.height)?.data;
        let weight = self.noise == Noise::Weight;
        for (x, img) in var.iter_mut().zip(px.image.iter_mut()) {
            *x = self.noise.variance(*x);
            if x.is_nan() && weight {
                *img = f32::NAN;
            } else if img.is_nan() {
                *x = f32::NAN;
            }
        }
        px.variance = Some(var);
        Ok(())
    }

    /// The image outline in `frame` as (lon, lat) degrees: points along the pixel-edge border, `per_side` per side,
    /// counter-clockwise in pixel space. Points the WCS cannot map are skipped.
    #[must_use]
    pub fn footprint(&self, frame: Frame, per_side: usize) -> Vec<(f64, f64)> {
        let (w, h) = (self.width as f64, self.height as f64);
        let n = per_side.max(1);
        let mut pts = Vec::with_capacity(4 * n);
        let edges = [((-0.5, -0.5), (w - 0.5, -0.5)), ((w - 0.5, -0.5), (w - 0.5, h - 0.5))];
        let edges2 = [((w - 0.5, h - 0.5), (-0.5, h - 0.5)), ((-0.5, h - 0.5), (-0.5, -0.5))];
        for ((ax, ay), (bx, by)) in edges.into_iter().chain(edges2) {
            for i in 0..n {
                let t = i as f64 / n as f64;
                if let Some((lon, lat)) = self.wcs.pix_to_world(ax + (bx - ax) * t, ay + (by - ay) * t) {
                    pts.push(wcs::convert(lon, lat, self.wcs.frame(), frame));
                }
            }
        }
        pts
    }

    /// The sky position of the image centre, in `frame`, degrees.
    #[must_use]
    pub fn centre(&self, frame: Frame) -> Option<(f64, f64)> {
        let (lon, lat) = self.wcs.pix_to_world((self.width as f64 - 1.0) / 2.0, (self.height as f64 - 1.0) / 2.0)?;
        Some(wcs::convert(lon, lat, self.wcs.frame(), frame))
    }

    /// The four corners (pixel-edge) in `frame`, degrees, for STC polygons.
    #[must_use]
    pub fn corners(&self, frame: Frame) -> Vec<(f64, f64)> {
        let (w, h) = (self.width as f64 - 0.5, self.height as f64 - 0.5);
        [(-0.5, -0.5), (w, -0.5), (w, h), (-0.5, h)]
            .iter()
            .filter_map(|&(x, y)| self.wcs.pix_to_world(x, y))
            .map(|(lon, lat)| wcs::convert(lon, lat, self.wcs.frame(), frame))
            .collect()
    }

    /// Bits per pixel of the image as stored (for `data_pixel_bitpix`).
    #[must_use]
    pub fn bitpix(&self) -> i32 {
        self.image.bitpix
    }
}
