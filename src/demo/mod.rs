//! `haresign demo`: a deterministic synthetic England and the files it publishes.

pub mod build;
pub mod world;
