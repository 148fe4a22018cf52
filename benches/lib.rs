//! Benchmark support crate: the criterion benches live in `benches/benches/`, peer comparisons in `benches/*.sh`.
