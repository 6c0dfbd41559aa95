//! Import runs: publisher files → source tables → served tables, atomically, with provenance.

pub mod record;
pub mod run;
mod runner;
