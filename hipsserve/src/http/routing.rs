//! Request routing: turns a raw request path into a [`Route`], rejecting anything that could escape a HiPS root.
//!
//! This is the one place that knows the URL layout, so on-demand services (SODA cutouts, progenitor queries) are added
//! here as new [`Route`] variants. Path safety is by whitelist, not by blacklist: every segment must be made of
//! `[A-Za-z0-9_.+-]`, must not start with a dot, and percent-escapes, backslashes, NUL and empty segments are refused
//! before any lookup, so `..`, `%2e%2e`, `\`, absolute or overlong paths never reach storage. Within a HiPS only the
//! files of the HiPS layout are served (no directory listings, no arbitrary keys).

pub use crate::catalog::layout::HipsFile;
use crate::catalog::layout::{is_content_segment, safe_segment};

/// What a request path designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/health`: liveness.
    Health,
    /// `/ready`: storage reachable.
    Ready,
    /// `/metrics`: Prometheus text.
    Metrics,
    /// `/hipslist`: the HiPS-node list of public HiPS.
    HipsList,
    /// `/` : a short plain-text index of the node.
    Root,
    /// `/hips2fits?...`: an image of any WCS from a HiPS ([`crate::services::hips2fits`]).
    Hips2Fits,
    /// `/<name>` without trailing slash: redirect to `/<name>/`.
    HipsDirRedirect(String),
    /// `/<name>/progenitors?...`: which source coadds are behind a position or tile ([`crate::services::progenitors`]).
    Progenitors(String),
    /// `/<hips>/soda/sync`: SODA cutouts of the HiPS's coadds.
    Soda(String),
    /// `/vo/...`: the server-wide IVOA services ([`crate::services::vo`]).
    Vo(crate::services::vo::Service),
    /// A file of a HiPS.
    Hips {
        /// The HiPS name (its folder path relative to the storage root, possibly with slashes).
        name: String,
        /// Which file.
        file: HipsFile,
    },
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Longer than the configured limit (414).
    #[error("request path longer than {0} bytes")]
    TooLong(usize),
    /// Unsafe or malformed (400).
    #[error("malformed path: {0}")]
    BadPath(&'static str),
    /// Well-formed but not something this server serves (404).
    #[error("not found")]
    NotFound,
}

/// Parse a request path (without query string). `is_hips(name)` says whether a HiPS of that name exists, so
/// names containing slashes resolve to the longest existing prefix.
///
/// # Errors
/// [`RouteError::TooLong`], [`RouteError::BadPath`] or [`RouteError::NotFound`].
pub fn route(path: &str, max_len: usize, is_hips: impl Fn(&str) -> bool) -> Result<Route, RouteError> {
    if path.len() > max_len {
        return Err(RouteError::TooLong(max_len));
    }
    let Some(rest) = path.strip_prefix('/') else { return Err(RouteError::BadPath("path must start with /")) };
    if path.bytes().any(|b| b == b'%' || b == b'\\' || b == 0 || b.is_ascii_control() || b >= 0x80) {
        return Err(RouteError::BadPath("escapes, backslashes and control characters are not allowed"));
    }
    match rest {
        "" => return Ok(Route::Root),
        "health" => return Ok(Route::Health),
        "ready" => return Ok(Route::Ready),
        "metrics" => return Ok(Route::Metrics),
        "hipslist" => return Ok(Route::HipsList),
        "hips2fits" => return Ok(Route::Hips2Fits),
        _ => {}
    }
    if let Some(service) = rest.strip_prefix("vo/").and_then(crate::services::vo::Service::from_path) {
        return Ok(Route::Vo(service));
    }
    let trailing_slash = rest.ends_with('/');
    let body = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = body.split('/').collect();
    if !segs.iter().all(|s| safe_segment(s)) {
        return Err(RouteError::BadPath("empty, hidden or non-portable path segment"));
    }
    // Longest prefix that names a HiPS (segments are separated by single slashes, so the first n segments joined
    // are the body up to the end of segment n: no allocation per candidate). A name never holds a `NorderK` or
    // `HpxFinder` segment ([`crate::catalog::layout::valid_hips_name`]), so only prefixes ending before the first one
    // are looked up (one lookup for a tile path instead of one per segment).
    let max_n = segs.iter().position(|s| is_content_segment(s)).unwrap_or(segs.len());
    let mut end = body.len();
    for n in (1..=segs.len()).rev() {
        if n < segs.len() {
            end -= segs[n].len() + 1;
        }
        if n > max_n {
            continue;
        }
        let name = &body[..end];
        if !is_hips(name) {
            continue;
        }
        let name = name.to_string();
        let tail = &segs[n..];
        if tail.is_empty() {
            return Ok(if trailing_slash {
                Route::Hips { name, file: HipsFile::IndexHtml }
            } else {
                Route::HipsDirRedirect(name)
            });
        }
        if trailing_slash {
            return Err(RouteError::NotFound); // no directory listings
        }
        match tail {
            ["progenitors"] => return Ok(Route::Progenitors(name)),
            ["soda", "sync"] => return Ok(Route::Soda(name)),
            _ => {}
        }
        return Ok(Route::Hips { name, file: parse_file(tail)? });
    }
    Err(RouteError::NotFound)
}

fn parse_order(s: &str) -> Result<u8, RouteError> {
    let digits = s.strip_prefix("Norder").ok_or(RouteError::NotFound)?;
    let order: u8 = parse_num(digits)?.try_into().map_err(|_| RouteError::BadPath("order out of range"))?;
    if order > 29 {
        return Err(RouteError::BadPath("order out of range"));
    }
    Ok(order)
}

fn parse_num(s: &str) -> Result<u64, RouteError> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return Err(RouteError::BadPath("bad number"));
    }
    s.parse().map_err(|_| RouteError::BadPath("bad number"))
}

fn parse_file(tail: &[&str]) -> Result<HipsFile, RouteError> {
    match tail {
        ["properties"] => Ok(HipsFile::Properties),
        ["Moc.fits"] => Ok(HipsFile::Moc),
        ["index.html"] => Ok(HipsFile::IndexHtml),
        [f @ ("preview.jpg" | "preview.png")] => Ok(HipsFile::Preview((*f).to_string())),
        [f @ ("Metadata.xml" | "Moc.json" | "Moc.txt")] => Ok(HipsFile::Meta((*f).to_string())),
        ["HpxFinder", rest @ ..] => parse_hpxfinder(rest),
        [norder, file] => {
            let order = parse_order(norder)?;
            let (stem, ext) = file.rsplit_once('.').ok_or(RouteError::NotFound)?;
            let ext = tile_ext(ext)?;
            if stem == "Allsky" {
                return Ok(HipsFile::Allsky { order, ext });
            }
            Err(RouteError::NotFound)
        }
        [norder, dir, file] => {
            let order = parse_order(norder)?;
            let (order, npix, ext) = parse_tile(order, dir, file)?;
            Ok(HipsFile::Tile { order, npix, ext: tile_ext(ext)? })
        }
        _ => Err(RouteError::NotFound),
    }
}

fn tile_ext(ext: &str) -> Result<String, RouteError> {
    match ext {
        "fits" | "png" | "jpg" | "webp" => Ok(ext.to_string()),
        _ => Err(RouteError::NotFound),
    }
}

/// Parse `DirD` and `NpixN[.ext]`, checking D against N and N against the order.
fn parse_tile<'a>(order: u8, dir: &str, file: &'a str) -> Result<(u8, u64, &'a str), RouteError> {
    let d = parse_num(dir.strip_prefix("Dir").ok_or(RouteError::NotFound)?)?;
    let rest = file.strip_prefix("Npix").ok_or(RouteError::NotFound)?;
    let (num, ext) = rest.split_once('.').unwrap_or((rest, ""));
    let npix = parse_num(num)?;
    if npix >= hips_core::healpix::n_tiles(order) {
        return Err(RouteError::BadPath("tile index beyond the order's 12*4^order cells"));
    }
    if d != hips_core::layout::tile_dir(npix) {
        return Err(RouteError::BadPath("DirD does not match NpixN (D must be N/10000*10000)"));
    }
    Ok((order, npix, ext))
}

fn parse_hpxfinder(rest: &[&str]) -> Result<HipsFile, RouteError> {
    match rest {
        [f @ ("properties" | "index.html" | "Metadata.xml" | "Moc.fits")] => Ok(HipsFile::HpxFinder((*f).to_string())),
        [norder, dir, file] => {
            let order = parse_order(norder)?;
            let (_, _, ext) = parse_tile(order, dir, file)?;
            if !ext.is_empty() && ext != "json" {
                return Err(RouteError::NotFound);
            }
            Ok(HipsFile::HpxFinder(format!("{norder}/{dir}/{file}")))
        }
        _ => Err(RouteError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(p: &str) -> Result<Route, RouteError> {
        route(p, 1024, |n| n == "CFHT" || n == "dr1/g")
    }

    #[test]
    fn routes_hips_files() {
        assert_eq!(
            r("/CFHT/Norder5/Dir0/Npix3380.png"),
            Ok(Route::Hips { name: "CFHT".into(), file: HipsFile::Tile { order: 5, npix: 3380, ext: "png".into() } })
        );
        assert_eq!(r("/dr1/g/properties"), Ok(Route::Hips { name: "dr1/g".into(), file: HipsFile::Properties }));
        assert_eq!(r("/CFHT"), Ok(Route::HipsDirRedirect("CFHT".into())));
        assert_eq!(r("/dr1/g/progenitors"), Ok(Route::Progenitors("dr1/g".into())));
        assert_eq!(r("/dr1/g/soda/sync"), Ok(Route::Soda("dr1/g".into())));
        assert_eq!(r("/vo/sia/query"), Ok(Route::Vo(crate::services::vo::Service::SiaQuery)));
        assert_eq!(r("/vo/capabilities"), Ok(Route::Vo(crate::services::vo::Service::Capabilities)));
        assert_eq!(r("/vo/other"), Err(RouteError::NotFound));
        let job = Ok(Route::Vo(crate::services::vo::Service::SodaAsync));
        assert_eq!(r("/vo/soda/async"), job);
        assert_eq!(r("/vo/soda/async/0123abcd/results/0"), job);
        assert_eq!(r("/vo/soda/asyncx"), Err(RouteError::NotFound));
        assert_eq!(r("/CFHT/"), Ok(Route::Hips { name: "CFHT".into(), file: HipsFile::IndexHtml }));
        assert_eq!(
            r("/CFHT/Norder3/Allsky.png"),
            Ok(Route::Hips { name: "CFHT".into(), file: HipsFile::Allsky { order: 3, ext: "png".into() } })
        );
        assert!(matches!(
            r("/CFHT/HpxFinder/Norder9/Dir1740000/Npix1744410"),
            Ok(Route::Hips { file: HipsFile::HpxFinder(_), .. })
        ));
        let t = HipsFile::Tile { order: 9, npix: 1_744_410, ext: "fits".into() };
        assert_eq!(t.key(), "Norder9/Dir1740000/Npix1744410.fits");
        assert_eq!(t.key_in("dr1/g"), "dr1/g/Norder9/Dir1740000/Npix1744410.fits");
        assert_eq!(t.key_in(""), t.key());
        assert_eq!(HipsFile::Properties.key_in("CFHT"), "CFHT/properties");
    }

    #[test]
    fn refuses_traversal_and_junk() {
        for p in [
            "/CFHT/../etc/passwd",
            "/CFHT/%2e%2e/x",
            "/CFHT/..%2fx",
            "/CFHT\\..\\x",
            "/CFHT//properties",
            "/CFHT/.properties",
            "/CFHT/Norder5/Dir0/Npix3380.png\0",
            "CFHT/properties",
            "/CFHT/Norder5/Dir10000/Npix3380.png",
            "/CFHT/Norder1/Dir0/Npix48.png",
            "/CFHT/Norder30/Dir0/Npix1.png",
            "/CFHT/Norder5/Dir0/Npix0033.png",
        ] {
            assert!(matches!(r(p), Err(RouteError::BadPath(_))), "{p:?} -> {:?}", r(p));
        }
        assert_eq!(r(&format!("/CFHT/{}", "a".repeat(2000))), Err(RouteError::TooLong(1024)));
        for p in ["/CFHT/Norder5/", "/CFHT/secret.txt", "/other/properties", "/CFHT/Norder5/Dir0/Npix1.exe"] {
            assert_eq!(r(p), Err(RouteError::NotFound), "{p}");
        }
    }
}
