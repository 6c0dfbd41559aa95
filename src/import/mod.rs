//! Import runs: publisher files → source tables → served tables, atomically, with provenance.

pub mod dates;
pub mod error;
pub mod record;
pub mod run;
pub mod source;
