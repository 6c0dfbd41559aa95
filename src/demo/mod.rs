//! Synthetic data for `haresign demo`.

pub mod world;
