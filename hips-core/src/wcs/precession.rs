//! The rotations between astropy's equatorial, ecliptic and galactic frames: frame bias, IAU 2006 and Newcomb
//! precession, the FK4 -> FK5 matrix, the E-terms of aberration and the galactic poles, as astropy 8 computes them.
//!
//! Each function names the astropy (`astropy/coordinates/builtin_frames/*.py`) or ERFA (`erfa/src/*.c`, the C
//! library behind pyerfa) routine it restates. Matrices follow both libraries' convention: `rot_z(a)` rotates the
//! *frame* by `a` about z (`[[c, s, 0], [-s, c, 0], [0, 0, 1]]`), and a matrix `M` maps a unit vector `v` of the
//! source frame to `M v` in the target frame.
//!
//! Epochs are handled as astropy's `Time` does for these frames: a Julian epoch (`format='jyear'`) or a Besselian
//! epoch (`format='byear'`), both on the TT scale, turned into Julian dates by ERFA's `epj2jd` / `epb2jd`.

/// A 3x3 rotation matrix, row major.
pub(crate) type Mat = [[f64; 3]; 3];

/// Arcseconds to radians.
const AS2R: f64 = std::f64::consts::PI / (180.0 * 3600.0);
/// The Julian date of J2000.0 (ERFA `ERFA_DJ00`).
const DJ00: f64 = 2451545.0;
/// Days per Julian century (ERFA `ERFA_DJC`).
const DJC: f64 = 36525.0;

/// Julian epoch (e.g. 2000.0) -> Julian date, TT (ERFA `epj2jd.c`).
pub(crate) fn jyear_to_jd(epoch: f64) -> f64 {
    DJ00 + (epoch - 2000.0) * 365.25
}

/// Besselian epoch (e.g. 1950.0) -> Julian date, TT (ERFA `epb2jd.c`).
pub(crate) fn byear_to_jd(epoch: f64) -> f64 {
    2400000.5 + 15019.81352 + (epoch - 1900.0) * 365.242198781
}

/// Julian date -> Julian epoch (ERFA `epj.c`; astropy `Time.jyear`).
pub(crate) fn jd_to_jyear(jd: f64) -> f64 {
    2000.0 + (jd - DJ00) / 365.25
}

pub(crate) fn mul(a: &Mat, b: &Mat) -> Mat {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, out) in row.iter_mut().enumerate() {
            *out = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
        }
    }
    m
}

pub(crate) fn rot_x(a: f64) -> Mat {
    let (s, c) = a.sin_cos();
    [[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]]
}

pub(crate) fn rot_y(a: f64) -> Mat {
    let (s, c) = a.sin_cos();
    [[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]]
}

pub(crate) fn rot_z(a: f64) -> Mat {
    let (s, c) = a.sin_cos();
    [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]
}

/// ICRS -> FK5 J2000 frame bias (astropy `icrs_fk5_transforms._icrs_to_fk5_matrix`, the B matrix of USNO
/// Circular 179: η0 = -19.9 mas, ξ0 = 9.1 mas, dα0 = -22.9 mas). Not ERFA's IAU 2006 bias, which differs by ~0.1 mas.
pub(crate) fn icrs_to_fk5_j2000() -> Mat {
    let mas = AS2R / 1000.0;
    let (eta0, xi0, da0) = (-19.9 * mas, 9.1 * mas, -22.9 * mas);
    mul(&mul(&rot_x(-eta0), &rot_y(xi0)), &rot_z(da0))
}

/// Fukushima-Williams angles (γ̄, φ̄, ψ̄, ε_A) of IAU 2006 precession-bias at `jd` TT (ERFA `pfw06.c`, `obl06.c`).
fn pfw06(jd: f64) -> [f64; 4] {
    let t = (jd - DJ00) / DJC;
    let poly = |c: [f64; 6]| c.iter().rev().fold(0.0, |acc, &k| acc * t + k) * AS2R;
    [
        poly([-0.052928, 10.556378, 0.4932044, -0.00031238, -0.000002788, 0.0000000260]),
        poly([84381.412819, -46.811016, 0.0511268, 0.00053289, -0.000000440, -0.0000000176]),
        poly([-0.041775, 5038.481484, 1.5584175, -0.00018522, -0.000026452, -0.0000000148]),
        obl06(jd),
    ]
}

/// Mean obliquity of the ecliptic, IAU 2006, radians (ERFA `obl06.c`).
fn obl06(jd: f64) -> f64 {
    let t = (jd - DJ00) / DJC;
    let c = [84381.406, -46.836769, -0.0001831, 0.00200340, -0.000000576, -0.0000000434];
    c.iter().rev().fold(0.0, |acc, &k| acc * t + k) * AS2R
}

/// Mean obliquity of the ecliptic, IAU 1980, radians (ERFA `obl80.c`).
fn obl80(jd: f64) -> f64 {
    let t = (jd - DJ00) / DJC;
    AS2R * (84381.448 + (-46.8150 + (-0.00059 + 0.001813 * t) * t) * t)
}

/// Fukushima-Williams angles -> rotation matrix (ERFA `fw2m.c`): `Rx(-ε) Rz(-ψ) Rx(φ) Rz(γ)`.
fn fw2m([gamb, phib, psib, eps]: [f64; 4]) -> Mat {
    mul(&mul(&rot_x(-eps), &rot_z(-psib)), &mul(&rot_x(phib), &rot_z(gamb)))
}

/// IAU 2006 precession matrix *without* bias, mean J2000 -> mean of date (the `rp` of ERFA `bp06.c`: the
/// precession-bias matrix of date times the transposed bias).
fn rp06(jd: f64) -> Mat {
    let rb = fw2m(pfw06(DJ00));
    let rbp = fw2m(pfw06(jd));
    mul(&rbp, &transpose(&rb))
}

/// FK5 precession from Julian epoch `from` to `to` (astropy `FK5._precession_matrix`: ERFA `bp06`'s `rp` through
/// J2000, at TT).
pub(crate) fn fk5_precession(from: f64, to: f64) -> Mat {
    mul(&rp06(jyear_to_jd(to)), &transpose(&rp06(jyear_to_jd(from))))
}

/// ICRS -> mean ecliptic and equinox of the Julian epoch (astropy `BarycentricMeanEcliptic`:
/// `_mean_ecliptic_rotation_matrix` = ERFA `ecm06.c`, `Rx(ε_A) · pmat06`).
pub(crate) fn icrs_to_ecliptic(equinox: f64) -> Mat {
    let jd = jyear_to_jd(equinox);
    mul(&rot_x(obl06(jd)), &fw2m(pfw06(jd)))
}

/// FK4 precession (Newcomb) between Besselian epochs (astropy `FK4NoETerms._precession_matrix`).
pub(crate) fn fk4_precession(from: f64, to: f64) -> Mat {
    let t1 = (from - 1850.0) / 1000.0;
    let dt = (to - 1850.0) / 1000.0 - t1;
    let zeta1 = (0.060 * t1 + 139.720) * t1 + 23035.545;
    let zeta = ((17.995 * dt + (-0.27 * t1 + 30.240)) * dt + zeta1) * dt;
    let z = ((18.325 * dt + (109.480 + 0.39 * t1)) * dt + zeta1) * dt;
    let theta1 = (-0.37 * t1 - 85.29) * t1 + 20051.12;
    let theta = ((-41.8 * dt + (-0.37 * t1 - 42.65)) * dt + theta1) * dt;
    mul(&mul(&rot_z(-z * AS2R), &rot_y(theta * AS2R)), &rot_z(-zeta * AS2R))
}

/// FK4 (no E-terms, B1950) -> FK5 (J2000) at an observation epoch (astropy `fk4_fk5_transforms._fk4_B_matrix`:
/// Murray 1989 eq. 28, plus eq. 29's correction for FK4 being a rotating system, linear in Julian centuries
/// since 1950).
pub(crate) fn fk4_to_fk5_b(obstime_jyear: f64) -> Mat {
    const M: Mat = [
        [0.9999256794956877, -0.0111814832204662, -0.0048590038153592],
        [0.0111814832391717, 0.9999374848933135, -0.0000271625947142],
        [0.0048590037723143, -0.0000271702937440, 0.9999881946023742],
    ];
    const CORR: Mat = [
        [-0.0026455262, -1.1539918689, 2.1111346190],
        [1.1540628161, -0.0129042997, 0.0236021478],
        [-2.1112979048, -0.0056024448, 0.0102587734],
    ];
    let t = (obstime_jyear - 1950.0) / 100.0;
    let mut b = M;
    for (row, corr) in b.iter_mut().zip(CORR) {
        for (x, c) in row.iter_mut().zip(corr) {
            *x += c * 1e-6 * t;
        }
    }
    b
}

/// The E-terms of aberration vector for a Besselian equinox (astropy `fk4.fk4_e_terms`: aberration constant
/// 0.0056932 deg, eccentricity and longitude of perihelion of the Earth's orbit in Julian centuries from B1950,
/// IAU 1980 obliquity).
pub(crate) fn fk4_e_terms(equinox_byear: f64) -> [f64; 3] {
    let jd = byear_to_jd(equinox_byear);
    let t = (jd - byear_to_jd(1950.0)) / 36525.0;
    let ek = 0.0056932f64.to_radians() * ((-0.000000126 * t - 0.00004193) * t + 0.01673011);
    let g = ((((0.012 * t + 1.65) * t + 6190.67) * t + 1015489.951) / 3600.0).to_radians();
    let o = obl80(jd);
    let (sg, cg) = g.sin_cos();
    [ek * sg, -ek * cg * o.cos(), -ek * cg * o.sin()]
}

/// Removes the E-terms `a` from a unit vector of FK4 (astropy `fk4_to_fk4_no_e`: `r - a + (a·r) r`, renormalised).
#[inline]
pub(crate) fn remove_e_terms(r: &[f64; 3], a: &[f64; 3]) -> [f64; 3] {
    let d = a[0] * r[0] + a[1] * r[1] + a[2] * r[2];
    normalise(&[r[0] - a[0] + d * r[0], r[1] - a[1] + d * r[1], r[2] - a[2] + d * r[2]])
}

/// Adds the E-terms `a` to a unit vector of FK4-no-E (astropy `fk4_no_e_to_fk4`): the fixed point of
/// `r = (a + r0) / (1 + a·r)`. astropy iterates 10 times; each iteration shrinks the error by |a| ~ 1.6e-6, so
/// after 3 it is below 1e-17 and the result is the same to the last bit that matters.
#[inline]
pub(crate) fn add_e_terms(r0: &[f64; 3], a: &[f64; 3]) -> [f64; 3] {
    let s = [a[0] + r0[0], a[1] + r0[1], a[2] + r0[2]];
    let mut r = s;
    for _ in 0..3 {
        let k = 1.0 / (1.0 + a[0] * r[0] + a[1] * r[1] + a[2] * r[2]);
        r = [s[0] * k, s[1] * k, s[2] * k];
    }
    normalise(&r)
}

#[inline]
fn normalise(v: &[f64; 3]) -> [f64; 3] {
    let k = 1.0 / (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    [v[0] * k, v[1] * k, v[2] * k]
}

/// Equatorial -> galactic for a north galactic pole (α, δ) and the galactic longitude of the celestial pole
/// (astropy `galactic_transforms`: `Rz(180° - l0) Ry(90° - δ) Rz(α)`), angles in degrees.
fn galactic_from_pole(ra: f64, dec: f64, lon0: f64) -> Mat {
    mul(&mul(&rot_z((180.0 - lon0).to_radians()), &rot_y((90.0 - dec).to_radians())), &rot_z(ra.to_radians()))
}

/// FK5 J2000 -> Galactic (astropy `Galactic._ngp_J2000`, `_lon0_J2000`).
pub(crate) fn fk5_j2000_to_galactic() -> Mat {
    galactic_from_pole(192.8594812065348, 27.12825118085622, 122.9319185680026)
}

/// FK4-no-E B1950 -> Galactic (astropy `Galactic._ngp_B1950`, `_lon0_B1950`: the IAU 1958 definition).
pub(crate) fn fk4_b1950_to_galactic() -> Mat {
    galactic_from_pole(192.25, 27.4, 123.0)
}

pub(crate) fn transpose(m: &Mat) -> Mat {
    [[m[0][0], m[1][0], m[2][0]], [m[0][1], m[1][1], m[2][1]], [m[0][2], m[1][2], m[2][2]]]
}
