//! Colour maps of `/hips2fits` PNG/JPEG images, by matplotlib's names: `Greys_r` (the default) and `gray`, the grey
//! levels as the cut and stretch make them; `Greys` (ColorBrewer's white-to-black ramp), and the perceptually uniform maps `viridis`, `magma`, `inferno`, `plasma`, `cividis` and `turbo`
//! (from the `colorous` crate, d3's versions of matplotlib's maps), each also reversed with `_r`.

/// A colour map: grey (no colour), or a 256-entry RGB table applied to the grey level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cmap {
    /// Grey levels as they are (`Greys_r`, `gray`, `grey`).
    Grey,
    /// A table of 256 RGB colours indexed by the grey level.
    Table(Box<[[u8; 3]; 256]>),
}

/// The names accepted, for error messages.
pub(super) const NAMES: &str =
    "Greys_r (default), Greys, gray, viridis, magma, inferno, plasma, cividis, turbo (and *_r)";

impl Cmap {
    /// The map called `name` (case-insensitive), `None` when unknown.
    #[must_use]
    pub(super) fn named(name: &str) -> Option<Cmap> {
        let lower = name.trim().to_ascii_lowercase();
        let (base, reversed) = match lower.strip_suffix("_r") {
            Some(b) => (b, true),
            None => (lower.as_str(), false),
        };
        let gradient = match base {
            // Plain grey levels (the default, as the cut and stretch make them), or inverted.
            "gray" | "grey" => return Some(if reversed { Cmap::table(|t| grey(1.0 - t)) } else { Cmap::Grey }),
            // matplotlib's Greys (ColorBrewer's white-to-black ramp); `Greys_r` is the default, plain grey levels.
            "greys" if reversed => return Some(Cmap::Grey),
            "greys" => colorous::GREYS,
            "viridis" => colorous::VIRIDIS,
            "magma" => colorous::MAGMA,
            "inferno" => colorous::INFERNO,
            "plasma" => colorous::PLASMA,
            "cividis" => colorous::CIVIDIS,
            "turbo" => colorous::TURBO,
            _ => return None,
        };
        Some(Cmap::table(|t| {
            let c = gradient.eval_continuous(if reversed { 1.0 - t } else { t });
            [c.r, c.g, c.b]
        }))
    }

    fn table(colour: impl Fn(f64) -> [u8; 3]) -> Cmap {
        Cmap::Table(Box::new(std::array::from_fn(|i| colour(i as f64 / 255.0))))
    }

    /// Colour grey-level pixels: `grey` holds one byte per pixel, or two (level, alpha) when `alpha`; the result has
    /// three bytes per pixel (RGB), or four (RGBA) when `alpha`.
    #[must_use]
    pub(super) fn colour(table: &[[u8; 3]; 256], grey: &[u8], alpha: bool) -> Vec<u8> {
        let step = if alpha { 2 } else { 1 };
        let mut out = Vec::with_capacity(grey.len() / step * (3 + usize::from(alpha)));
        for px in grey.chunks_exact(step) {
            out.extend_from_slice(&table[usize::from(px[0])]);
            if alpha {
                out.push(px[1]);
            }
        }
        out
    }
}

fn grey(t: f64) -> [u8; 3] {
    let v = (t.clamp(0.0, 1.0) * 255.0).round() as u8;
    [v, v, v]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Cmap::named("Greys_r"), Some(Cmap::Grey));
        assert_eq!(Cmap::named("gray"), Some(Cmap::Grey));
        let Some(Cmap::Table(t)) = Cmap::named("Greys") else { panic!("Greys is a table") };
        assert!(t[0][0] > 250 && t[255][0] < 5, "{:?} {:?}", t[0], t[255]);
        let Some(Cmap::Table(g)) = Cmap::named("gray_r") else { panic!("gray_r") };
        assert_eq!((g[0], g[255]), ([255; 3], [0; 3]));
        let Some(Cmap::Table(v)) = Cmap::named("viridis") else { panic!("viridis") };
        let Some(Cmap::Table(r)) = Cmap::named("VIRIDIS_r") else { panic!("viridis_r") };
        assert_eq!(v[0], r[255]);
        // matplotlib's viridis starts dark purple (68, 1, 84) and ends yellow (253, 231, 37).
        assert!(v[0][2] > v[0][1] && v[255][0] > 200 && v[255][2] < 80, "{:?} {:?}", v[0], v[255]);
        assert_eq!(Cmap::named("jet"), None);
    }

    #[test]
    fn colouring_keeps_alpha() {
        let Some(Cmap::Table(t)) = Cmap::named("magma") else { panic!("magma") };
        let out = Cmap::colour(&t, &[0, 255, 255, 0], true);
        assert_eq!(out.len(), 8);
        assert_eq!((out[3], out[7]), (255, 0));
    }
}
