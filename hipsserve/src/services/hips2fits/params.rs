//! The parameters of a hips2fits request, validated: the output WCS as FITS header cards (from `wcs`, or from
//! `width`/`height`/`projection`/`fov`/`ra`/`dec`/`coordsys`/`rotation_angle`), the format and the display cut.

use hips_core::fits::Card;
use hips_core::preview::Stretch;

use super::cmap::Cmap;

use super::Failure;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// FITS, BITPIX -32, NaN blank, with the WCS.
    Fits,
    /// 8-bit grey PNG.
    Png,
    /// 8-bit grey JPEG.
    Jpeg,
}

/// One end of the display cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cut {
    /// A data value.
    Value(f64),
    /// A percentile (0-100) of the finite output values.
    Percentile(f64),
}

/// A validated request.
#[derive(Debug, Clone)]
pub struct Params {
    /// The HiPS (name or creator_did).
    pub hips: String,
    /// Output width and height.
    pub width: usize,
    /// Output height.
    pub height: usize,
    /// Header cards of the output WCS (without NAXIS*).
    pub cards: Vec<Card>,
    /// Output format.
    pub format: Format,
    /// Display cut (PNG/JPEG).
    pub cut: (Cut, Cut),
    /// Transfer function (PNG/JPEG).
    pub stretch: Stretch,
    /// Colour map (PNG/JPEG).
    pub(super) cmap: Cmap,
}

fn number(param: &str, v: &str) -> Result<f64, Failure> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| Failure::bad(param, format!("{v:?} is not a finite number")))
}

fn cut(param: &str, v: &str) -> Result<Cut, Failure> {
    match v.trim().strip_suffix('%') {
        Some(p) => {
            let p = number(param, p)?;
            if (0.0..=100.0).contains(&p) {
                Ok(Cut::Percentile(p))
            } else {
                Err(Failure::bad(param, format!("percentile {p} is not in 0..100")))
            }
        }
        None => Ok(Cut::Value(number(param, v)?)),
    }
}

fn size(param: &str, v: Option<&str>) -> Result<usize, Failure> {
    let v = v.ok_or_else(|| Failure::bad(param, "missing (or give wcs)"))?;
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Failure::bad(param, format!("{v:?} is not a positive integer")))
}

/// Cards of a JSON header object (`{"CTYPE1": "RA---TAN", "NAXIS1": 300, ...}`): strings, numbers and booleans.
fn json_cards(text: &str) -> Result<(Vec<Card>, usize, usize), Failure> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| Failure::bad("wcs", format!("not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| Failure::bad("wcs", "must be a JSON object of header keywords"))?;
    let (mut cards, mut w, mut h) = (Vec::new(), None, None);
    for (k, v) in obj {
        let key = k.trim().to_ascii_uppercase();
        if key.len() > 8 || key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Failure::bad("wcs", format!("{k:?} is not a FITS keyword")));
        }
        match (key.as_str(), v) {
            ("NAXIS1", v) => w = v.as_u64(),
            ("NAXIS2", v) => h = v.as_u64(),
            ("NAXIS" | "SIMPLE" | "BITPIX" | "EXTEND" | "END", _) => {}
            (_, serde_json::Value::String(s)) => cards.push(Card::str(&key, s, "")),
            (_, serde_json::Value::Bool(b)) => cards.push(Card::logical(&key, *b, "")),
            (_, serde_json::Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => cards.push(Card::int(&key, i, "")),
                (None, Some(f)) => cards.push(Card::float(&key, f, "")),
                _ => return Err(Failure::bad("wcs", format!("{k}: unusable number"))),
            },
            _ => return Err(Failure::bad("wcs", format!("{k}: only strings, numbers and booleans"))),
        }
    }
    let dim = |n: Option<u64>, k: &str| {
        n.and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| Failure::bad("wcs", format!("{k} missing")))
    };
    Ok((cards, dim(w, "NAXIS1")?, dim(h, "NAXIS2")?))
}

/// Cards of the view the simple parameters describe: `projection` centred on (`ra`, `dec`) in `coordsys`, `fov`
/// degrees across `width` pixels, turned by `rotation_angle`.
fn view_cards<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<(Vec<Card>, usize, usize), Failure> {
    let (width, height) = (size("width", get("width"))?, size("height", get("height"))?);
    let proj = get("projection").unwrap_or("TAN").trim().to_ascii_uppercase();
    if proj.len() != 3 || !proj.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Failure::bad("projection", format!("{proj:?} is not a 3-letter projection code")));
    }
    let fov = number("fov", get("fov").ok_or_else(|| Failure::bad("fov", "missing (or give wcs)"))?)?;
    if !(fov > 0.0 && fov <= 360.0) {
        return Err(Failure::bad("fov", format!("{fov} is not in (0, 360] degrees")));
    }
    let ra = number("ra", get("ra").ok_or_else(|| Failure::bad("ra", "missing (or give wcs)"))?)?;
    let dec = number("dec", get("dec").ok_or_else(|| Failure::bad("dec", "missing (or give wcs)"))?)?;
    if !(-90.0..=90.0).contains(&dec) {
        return Err(Failure::bad("dec", format!("{dec} is not in -90..90")));
    }
    let rot = get("rotation_angle").map_or(Ok(0.0), |v| number("rotation_angle", v))?.to_radians();
    let (x, y) = match get("coordsys").unwrap_or("icrs").trim().to_ascii_lowercase().as_str() {
        "icrs" => ("RA--", "DEC-"),
        "galactic" => ("GLON", "GLAT"),
        other => return Err(Failure::bad("coordsys", format!("{other:?}: use icrs or galactic"))),
    };
    let scale = fov / width as f64;
    let mut cards = vec![
        Card::str("CTYPE1", &format!("{x}-{proj}"), ""),
        Card::str("CTYPE2", &format!("{y}-{proj}"), ""),
        Card::float("CRPIX1", width as f64 / 2.0 + 0.5, ""),
        Card::float("CRPIX2", height as f64 / 2.0 + 0.5, ""),
        Card::float("CRVAL1", ra, ""),
        Card::float("CRVAL2", dec, ""),
        Card::float("CDELT1", -scale, ""),
        Card::float("CDELT2", scale, ""),
        Card::float("PC1_1", rot.cos(), ""),
        Card::float("PC1_2", -rot.sin(), ""),
        Card::float("PC2_1", rot.sin(), ""),
        Card::float("PC2_2", rot.cos(), ""),
        Card::str("CUNIT1", "deg", ""),
        Card::str("CUNIT2", "deg", ""),
    ];
    if x == "RA--" {
        cards.push(Card::str("RADESYS", "ICRS", ""));
    }
    Ok((cards, width, height))
}

impl Params {
    /// Parse and check a query string; `max_pixels` bounds `width * height`.
    ///
    /// # Errors
    /// A [`Failure`] (400) naming the parameter.
    pub fn parse(query: &str, max_pixels: u64) -> Result<Params, Failure> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let hips = get("hips").filter(|s| !s.trim().is_empty()).ok_or_else(|| Failure::bad("hips", "missing"))?;
        let (cards, width, height) = match get("wcs") {
            Some(w) => json_cards(w)?,
            None => view_cards(&get)?,
        };
        if (width as u64).saturating_mul(height as u64) > max_pixels {
            return Err(Failure::bad(
                "width/height",
                format!("{width} x {height} is more than the {max_pixels} pixels this server makes at once"),
            ));
        }
        let format = match get("format").unwrap_or("fits").trim().to_ascii_lowercase().as_str() {
            "fits" => Format::Fits,
            "png" => Format::Png,
            "jpg" | "jpeg" => Format::Jpeg,
            other => return Err(Failure::bad("format", format!("{other:?}: use fits, png or jpg"))),
        };
        let lo = cut("min_cut", get("min_cut").unwrap_or("0.5%"))?;
        let hi = cut("max_cut", get("max_cut").unwrap_or("99.5%"))?;
        let stretch = match get("stretch").unwrap_or("linear").trim().to_ascii_lowercase().as_str() {
            "power" => Stretch::Pow2,
            s => s
                .parse()
                .map_err(|e: hips_core::preview::stretch::UnknownStretch| Failure::bad("stretch", e.to_string()))?,
        };
        let name = get("cmap").unwrap_or("Greys_r");
        let cmap = Cmap::named(name).ok_or_else(|| {
            Failure::bad("cmap", format!("{name:?} is not a colour map here ({})", super::cmap::NAMES))
        })?;
        Ok(Params { hips: hips.to_string(), width, height, cards, format, cut: (lo, hi), stretch, cmap })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_by_name() {
        let ok = Params::parse(
            "hips=x&width=10&height=20&fov=0.1&ra=150&dec=2&projection=SIN&format=png&min_cut=1&max_cut=99%25",
            1000,
        )
        .expect("valid");
        assert_eq!((ok.width, ok.height, ok.format), (10, 20, Format::Png));
        assert_eq!(ok.cut, (Cut::Value(1.0), Cut::Percentile(99.0)));
        for (q, param) in [
            ("width=10&height=20&fov=1&ra=1&dec=1", "hips"),
            ("hips=x&width=0&height=20&fov=1&ra=1&dec=1", "width"),
            ("hips=x&width=100&height=20&fov=1&ra=1&dec=1", "width/height"),
            ("hips=x&width=10&height=20&fov=1&ra=1&dec=91", "dec"),
            ("hips=x&width=10&height=20&fov=1&ra=1&dec=1&format=gif", "format"),
            ("hips=x&width=10&height=20&fov=1&ra=1&dec=1&stretch=cubic", "stretch"),
            ("hips=x&width=10&height=20&fov=1&ra=1&dec=1&cmap=jet", "cmap"),
            ("hips=x&wcs={\"CTYPE1\":\"RA---TAN\"}", "wcs"),
        ] {
            let e = Params::parse(q, 1000).expect_err(q);
            assert_eq!((e.status, e.title.as_str()), (400, format!("Invalid parameter {param}").as_str()), "{q}");
        }
    }
}
