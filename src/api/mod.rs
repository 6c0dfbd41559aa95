pub mod json;
pub mod query;
