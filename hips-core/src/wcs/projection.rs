//! Spherical projections of paper II: projection plane (x, y) degrees <-> native spherical coordinates.
//!
//! Native directions are carried as unit vectors `(cos θ cos φ, cos θ sin φ, sin θ)` so zenithal projections need
//! no trigonometry in the world -> pixel direction.

/// A supported projection and its parameters (PVi_m on the latitude axis).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Projection {
    /// Gnomonic.
    Tan,
}

impl Projection {
    /// Projection plane (degrees) -> native unit vector, `None` outside the valid region.
    pub(crate) fn plane_to_native_vec(&self, _x: f64, _y: f64) -> Option<[f64; 3]> {
        None
    }

    /// Native unit vector -> projection plane (degrees), `None` outside the valid domain.
    pub(crate) fn native_vec_to_plane(&self, _n: &[f64; 3]) -> Option<(f64, f64)> {
        None
    }
}
