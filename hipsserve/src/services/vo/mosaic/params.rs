//! The parameters of `GET /vo/mosaic` (names case-insensitive, as SIA's): POS (one DALI CIRCLE, RANGE or POLYGON,
//! ICRS degrees), BAND (metres, as SIA's: chooses the band's coadds; repeated = OR), COLLECTION (HiPS names, repeated
//! = OR), SCALE (output pixel size, arcsec; default the finest coadd's), CUTOUTDETAIL (`Image` or `MaskedImage`, the
//! default) and RESPONSEFORMAT (FITS only). Other parameters are ignored (DALI). Every fault names its parameter.

use hips_core::cutout::Shape;

use super::super::sia::interval;
use crate::services::soda::Detail;

/// A parsed mosaic request.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// The region the mosaic covers (its bounding box on the TAN grid).
    pub shape: Shape,
    /// Wavelength intervals, metres (empty: any, as long as the coadds there share one band).
    pub band: Vec<(f64, f64)>,
    /// HiPS names (empty: every HiPS the caller may read).
    pub collection: Vec<String>,
    /// Output pixel size, arcsec (`None`: the finest pixel scale of the coadds used).
    pub scale_arcsec: Option<f64>,
    /// The planes written.
    pub detail: Detail,
}

/// Why a request is refused (400, `UsageFault`), naming the parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamFault {
    /// A value that does not parse or is out of range.
    #[error("{param}={value:?}: {why}")]
    Bad {
        /// The parameter.
        param: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// A parameter given twice where one is allowed.
    #[error("{0} given more than once: one per request")]
    Repeated(&'static str),
    /// POS is missing.
    #[error("POS is required (CIRCLE ra dec r, RANGE ra1 ra2 dec1 dec2 or POLYGON ra dec ..., ICRS degrees)")]
    NoPos,
}

fn bad(param: &'static str, value: &str, why: impl Into<String>) -> ParamFault {
    ParamFault::Bad { param, value: value.to_string(), why: why.into() }
}

/// Parse decoded parameters.
///
/// # Errors
/// [`ParamFault`] naming the parameter at fault.
pub fn parse(pairs: &[(String, String)]) -> Result<Params, ParamFault> {
    let (mut shape, mut scale, mut detail) = (None, None, None);
    let (mut band, mut collection) = (Vec::new(), Vec::new());
    for (k, v) in pairs {
        let v = v.trim();
        match k.to_ascii_uppercase().as_str() {
            "POS" => {
                let s = Shape::parse_pos(v).map_err(|e| bad("POS", v, e))?;
                if shape.replace(s).is_some() {
                    return Err(ParamFault::Repeated("POS"));
                }
            }
            "BAND" => band.push(interval("BAND", v).map_err(|e| bad("BAND", v, e.to_string()))?),
            "COLLECTION" => collection.push(v.to_string()),
            "SCALE" => {
                let s = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| bad("SCALE", v, "give the output pixel size in arcsec, a positive number"))?;
                if scale.replace(s).is_some() {
                    return Err(ParamFault::Repeated("SCALE"));
                }
            }
            "CUTOUTDETAIL" => {
                let d = match v.to_ascii_lowercase().as_str() {
                    "image" => Detail::Image,
                    "maskedimage" => Detail::MaskedImage,
                    _ => return Err(bad("CUTOUTDETAIL", v, "use Image or MaskedImage")),
                };
                if detail.replace(d).is_some() {
                    return Err(ParamFault::Repeated("CUTOUTDETAIL"));
                }
            }
            "RESPONSEFORMAT" if matches!(v, "" | "fits" | "application/fits") => {}
            "RESPONSEFORMAT" => return Err(bad("RESPONSEFORMAT", v, "only application/fits is offered")),
            _ => {}
        }
    }
    Ok(Params {
        shape: shape.ok_or(ParamFault::NoPos)?,
        band,
        collection,
        scale_arcsec: scale,
        detail: detail.unwrap_or_default(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(q: &str) -> Result<Params, ParamFault> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        parse(&pairs)
    }

    #[test]
    fn parameters_parse_or_name_the_fault() {
        let r = p("pos=CIRCLE+10+20+0.1&band=4e-7+5e-7&scale=0.5&cutoutdetail=image&COLLECTION=g&foo=1").unwrap();
        assert_eq!(r.shape, Shape::Circle { ra: 10.0, dec: 20.0, radius: 0.1 });
        assert_eq!((r.band, r.scale_arcsec, r.detail), (vec![(4e-7, 5e-7)], Some(0.5), Detail::Image));
        assert_eq!(r.collection, vec!["g".to_string()]);
        assert_eq!(p("POS=RANGE+1+2+3+4").unwrap().detail, Detail::MaskedImage);
        crate::testing::assert_refused(
            p,
            &[
                ("BAND=4e-7", "POS is required"),
                ("POS=BOX+1+2+3+4", "POS="),
                ("POS=CIRCLE+1+2+0.1&POS=CIRCLE+1+2+0.1", "POS given more"),
                ("POS=CIRCLE+1+2+0.1&BAND=5+4", "BAND="),
                ("POS=CIRCLE+1+2+0.1&SCALE=0", "SCALE="),
                ("POS=CIRCLE+1+2+0.1&SCALE=x", "SCALE="),
                ("POS=CIRCLE+1+2+0.1&CUTOUTDETAIL=Mask", "CUTOUTDETAIL="),
                ("POS=CIRCLE+1+2+0.1&RESPONSEFORMAT=votable", "RESPONSEFORMAT="),
            ],
        );
    }
}
