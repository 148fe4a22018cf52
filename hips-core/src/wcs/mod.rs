//! World Coordinate System: celestial FITS WCS (all common projections, SIP) between pixels and sky.
