//! `haresign demo`: the synthetic England written as publisher files and imported.

pub mod build;
