//! The spherical rotation between native (φ, θ) and celestial (lon, lat) coordinates (paper II, section 2.3-2.4).
//!
//! `native_pole` resolves the celestial coordinates of the native pole from CRVAL, the fiducial point (φ0, θ0)
//! and LONPOLE/LATPOLE, with the paper II defaults and the same choices (and tolerances) as wcslib's `celset`,
//! including the non-zenithal cases where two native-pole latitudes are possible and LATPOLE picks one.

/// Resolved rotation parameters, degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NativePole {
    /// Celestial longitude of the native pole (α_p).
    pub lon: f64,
    /// Celestial latitude of the native pole (δ_p), i.e. the LATPOLE actually used.
    pub lat: f64,
    /// Native longitude of the celestial pole (φ_p), i.e. the LONPOLE actually used.
    pub phi_p: f64,
}

const TOL: f64 = 1e-10;

fn sincosd(d: f64) -> (f64, f64) {
    d.to_radians().sin_cos()
}

/// Resolve the native pole. `lonpole`/`latpole` are `None` when absent from the header.
pub(crate) fn native_pole(
    crval: [f64; 2],
    phi0: f64,
    theta0: f64,
    lonpole: Option<f64>,
    latpole: Option<f64>,
) -> Result<NativePole, String> {
    let [lng0, lat0] = crval;
    let mut phip = if let Some(v) = lonpole {
        v
    } else {
        let mut p = if lat0 < theta0 { 180.0 } else { 0.0 } + phi0;
        if p < -180.0 {
            p += 360.0;
        } else if p > 180.0 {
            p -= 360.0;
        }
        p
    };
    if !phip.is_finite() {
        return Err(format!("LONPOLE = {phip} is not finite"));
    }
    let mut latp = latpole.unwrap_or(90.0);
    let lngp;
    if theta0 == 90.0 {
        lngp = lng0;
        latp = lat0;
    } else {
        let (slat0, clat0) = sincosd(lat0);
        let (sthe0, cthe0) = sincosd(theta0);
        let (sphip, u, v, latp_fixed);
        if phip == phi0 {
            sphip = 0.0;
            u = theta0;
            v = 90.0 - lat0;
            latp_fixed = false;
        } else {
            let (s, c) = sincosd(phip - phi0);
            sphip = s;
            let x = cthe0 * c;
            let y = sthe0;
            let z = x.hypot(y);
            if z == 0.0 {
                if slat0 != 0.0 {
                    return Err(format!(
                        "cannot compute the native pole latitude (CRVAL2 = {lat0}, θ0 = {theta0}, LONPOLE = {phip})"
                    ));
                }
                latp = latp.clamp(-90.0, 90.0);
                u = 0.0;
                v = 0.0;
                latp_fixed = true;
            } else {
                let mut slz = slat0 / z;
                if slz.abs() > 1.0 {
                    if slz.abs() - 1.0 < TOL {
                        slz = slz.signum();
                    } else {
                        return Err(format!(
                            "cannot compute the native pole latitude (CRVAL2 = {lat0}, θ0 = {theta0}, LONPOLE = {phip})"
                        ));
                    }
                }
                u = y.atan2(x).to_degrees();
                v = slz.acos().to_degrees();
                latp_fixed = false;
            }
        }
        if !latp_fixed {
            let wrap = |mut a: f64| {
                if a > 180.0 {
                    a -= 360.0;
                } else if a < -180.0 {
                    a += 360.0;
                }
                a
            };
            let latp1 = wrap(u + v);
            let latp2 = wrap(u - v);
            latp = if (latp - latp1).abs() < (latp - latp2).abs() {
                if latp1.abs() < 90.0 + TOL {
                    latp1
                } else {
                    latp2
                }
            } else if latp2.abs() < 90.0 + TOL {
                latp2
            } else {
                latp1
            };
            if latp.abs() < 90.0 + TOL {
                latp = latp.clamp(-90.0, 90.0);
            }
        }
        let z = latp.to_radians().cos() * clat0;
        let mut l = if z.abs() < TOL {
            if clat0.abs() < TOL {
                lng0
            } else if latp > 0.0 {
                lng0 + phip - phi0 - 180.0
            } else {
                lng0 - phip + phi0
            }
        } else {
            let x = (sthe0 - latp.to_radians().sin() * slat0) / z;
            let y = sphip * cthe0 / clat0;
            if x == 0.0 && y == 0.0 {
                return Err("cannot compute the native pole longitude".to_string());
            }
            lng0 - y.atan2(x).to_degrees()
        };
        if lng0 >= 0.0 {
            if l < 0.0 {
                l += 360.0;
            } else if l > 360.0 {
                l -= 360.0;
            }
        } else if l > 0.0 {
            l -= 360.0;
        } else if l < -360.0 {
            l += 360.0;
        }
        lngp = l;
    }
    if latp.abs() > 90.0 + TOL {
        return Err(format!("ill-conditioned parameters: native pole latitude {latp}"));
    }
    if phip < -180.0 {
        phip += 360.0;
    }
    Ok(NativePole { lon: lngp, lat: latp, phi_p: phip })
}

fn mat_mul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, out) in row.iter_mut().enumerate() {
            *out = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// Native unit vector -> celestial unit vector: `Rz(α_p) · B(δ_p) · Rz(-φ_p)` where `B` maps the native frame
/// (measured from φ_p) to one with the celestial pole on z.
pub(crate) fn native_to_celestial(p: &NativePole) -> [[f64; 3]; 3] {
    let (sa, ca) = sincosd(p.lon);
    let (sd, cd) = sincosd(p.lat);
    let (sp, cp) = sincosd(p.phi_p);
    let rz_a = [[ca, -sa, 0.0], [sa, ca, 0.0], [0.0, 0.0, 1.0]];
    let b = [[-sd, 0.0, cd], [0.0, -1.0, 0.0], [cd, 0.0, sd]];
    let rz_p = [[cp, sp, 0.0], [-sp, cp, 0.0], [0.0, 0.0, 1.0]];
    mat_mul(&rz_a, &mat_mul(&b, &rz_p))
}
