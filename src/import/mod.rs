pub mod dates;
pub mod error;
pub mod source;
