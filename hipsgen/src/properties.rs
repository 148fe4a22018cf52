//! The HiPS `properties` file: hips-core's one parser and writer ([`hips_core::layout::Properties`]).

pub use hips_core::layout::Properties;
